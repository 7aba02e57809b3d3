//! The access log: one line per S3 request, at info on the target
//! `ringgate::access`, written by `service` when the request ends. It names
//! the caller by project only, never by access key id (a key id is half a
//! credential and the registry's lookup handle); it gives the object key as
//! its length and a hash keyed per process, so a log shipped elsewhere says
//! which requests touched the same key without saying which key. When the
//! target is off, `service` asks [`enabled`] once per request and gathers,
//! formats and hashes nothing.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::time::Duration;

use crate::meta::ProjectId;
use crate::operation::Operation;
use crate::s3::error::S3ErrorCode;

/// What the service learns of a request as it goes: the operation for the
/// metrics, the rest for the access log (filled only when it is on).
#[derive(Default)]
pub struct RequestFacts {
    pub operation: Option<Operation>,
    pub project: Option<ProjectId>,
    pub bucket: Option<String>,
    pub key: Option<KeyDigest>,
    pub error: Option<S3ErrorCode>,
}

/// An object key as the access log shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyDigest {
    pub bytes: usize,
    /// SipHash keyed by a random key drawn once per process: equal keys hash
    /// equal within one process's log, and a guessed key cannot be checked
    /// against it without that key.
    pub hash: u64,
}

impl KeyDigest {
    pub fn of(key: &str) -> Self {
        static HASH_KEY: OnceLock<RandomState> = OnceLock::new();
        Self {
            bytes: key.len(),
            hash: HASH_KEY.get_or_init(RandomState::new).hash_one(key),
        }
    }
}

/// How the request ended, as the connection measured it.
pub struct Outcome {
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration: Duration,
    /// From the start of the handler to the response's first byte.
    pub first_byte: Option<Duration>,
}

/// Whether the access log is on; one cached callsite check.
pub fn enabled() -> bool {
    tracing::enabled!(target: "ringgate::access", tracing::Level::INFO)
}

/// Writes the request's access-log line (nothing if the target is off).
pub fn log(request_id: &str, facts: &RequestFacts, outcome: &Outcome) {
    tracing::info!(
        target: "ringgate::access",
        request_id,
        project = facts.project.map(|p| tracing::field::display(p.to_hex())),
        operation = facts.operation.map(Operation::name),
        bucket = facts.bucket.as_deref(),
        key_bytes = facts.key.map(|k| k.bytes as u64),
        key_hash = facts.key.map(|k| tracing::field::display(format!("{:016x}", k.hash))),
        status = outcome.status,
        error = facts.error.map(S3ErrorCode::as_str),
        bytes_in = outcome.bytes_in,
        bytes_out = outcome.bytes_out,
        duration_us = outcome.duration.as_micros() as u64,
        first_byte_us = outcome.first_byte.map(|d| d.as_micros() as u64),
        "request"
    );
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The subscriber's output, kept for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn captured_json(filter: &str, write: impl FnOnce()) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, write);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn facts() -> RequestFacts {
        RequestFacts {
            operation: Some(Operation::GetObject),
            project: Some(ProjectId([0xab; 16])),
            bucket: Some("photos".into()),
            key: Some(KeyDigest::of("2024/secret-name.jpg")),
            error: Some(S3ErrorCode::NoSuchKey),
        }
    }

    fn outcome() -> Outcome {
        Outcome {
            status: 404,
            bytes_in: 300,
            bytes_out: 250,
            duration: Duration::from_micros(1500),
            first_byte: Some(Duration::from_micros(1200)),
        }
    }

    #[test]
    fn the_line_carries_every_field_and_not_the_key() {
        let text = captured_json("info", || {
            assert!(enabled());
            log("0123456789ABCDEF", &facts(), &outcome());
        });
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let expected = [
            ("target", serde_json::json!("ringgate::access")),
            ("level", serde_json::json!("INFO")),
            ("request_id", serde_json::json!("0123456789ABCDEF")),
            ("project", serde_json::json!("ab".repeat(16))),
            ("operation", serde_json::json!("GetObject")),
            ("bucket", serde_json::json!("photos")),
            ("key_bytes", serde_json::json!(20)),
            ("status", serde_json::json!(404)),
            ("error", serde_json::json!("NoSuchKey")),
            ("bytes_in", serde_json::json!(300)),
            ("bytes_out", serde_json::json!(250)),
            ("duration_us", serde_json::json!(1500)),
            ("first_byte_us", serde_json::json!(1200)),
        ];
        for (field, value) in expected {
            assert_eq!(line[field], value, "{field} in {text}");
        }
        let hash = line["key_hash"].as_str().unwrap();
        assert_eq!(hash.len(), 16);
        assert_eq!(
            hash,
            format!("{:016x}", KeyDigest::of("2024/secret-name.jpg").hash)
        );
        assert!(!text.contains("secret-name"), "{text}");
    }

    #[test]
    fn off_means_no_line() {
        let text = captured_json("info,ringgate::access=off", || {
            assert!(!enabled());
            log("0123456789ABCDEF", &facts(), &outcome());
        });
        assert_eq!(text, "");
    }

    #[test]
    fn equal_keys_hash_equal_and_different_keys_differ() {
        assert_eq!(KeyDigest::of("a/b"), KeyDigest::of("a/b"));
        assert_ne!(KeyDigest::of("a/b").hash, KeyDigest::of("a/c").hash);
    }
}
