//! `OpError`: why one timed S3 operation failed, as the run's statistics
//! count it.

use crate::bench::client::HttpError;

/// Why an operation failed. `kind` is what the summary counts by.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("{request}: HTTP {status}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Http {
        request: &'static str,
        status: u16,
        code: Option<String>,
    },
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Corrupt(String),
}

impl OpError {
    /// `http 503 SlowDown`, `connect`, `io`, `timeout`, `protocol`, `corrupt`.
    pub fn kind(&self) -> String {
        match self {
            Self::Http { status, code, .. } => match code {
                Some(code) => format!("http {status} {code}"),
                None => format!("http {status}"),
            },
            Self::Connect(_) => "connect".into(),
            Self::Io(_) => "io".into(),
            Self::Timeout(_) => "timeout".into(),
            Self::Protocol(_) => "protocol".into(),
            Self::Corrupt(_) => "corrupt".into(),
        }
    }

    /// The same error, its message naming `what` (a key, a part).
    pub(super) fn about(self, what: &str) -> Self {
        match self {
            Self::Connect(m) => Self::Connect(format!("{what}: {m}")),
            Self::Io(m) => Self::Io(format!("{what}: {m}")),
            Self::Timeout(m) => Self::Timeout(format!("{what}: {m}")),
            Self::Protocol(m) => Self::Protocol(format!("{what}: {m}")),
            Self::Corrupt(m) => Self::Corrupt(format!("{what}: {m}")),
            http => http,
        }
    }
}

impl From<HttpError> for OpError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Connect { .. } => Self::Connect(e.to_string()),
            HttpError::Io { .. } => Self::Io(e.to_string()),
            HttpError::Timeout { .. } => Self::Timeout(e.to_string()),
            HttpError::Wire(_) => Self::Protocol(e.to_string()),
        }
    }
}
