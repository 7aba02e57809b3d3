//! `GrantError`: everything that can be wrong with a grant, an API key or
//! their inputs. Its own file because the grant, the macaroon and the time
//! parser all return it, and none of them may depend on another for it.

/// Everything that can be wrong with a grant, an API key or their inputs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("not a ringgate grant: it does not begin with \"rgg_\"")]
    Prefix,
    #[error("grant is not base64url without padding")]
    Base64,
    #[error("grant is about {len_bytes} bytes, more than 65536")]
    TooLong { len_bytes: usize },
    #[error("grant version {0} is not supported (this build reads version 1)")]
    Version(u8),
    #[error("grant checksum does not match: the grant was mistyped, cut short or altered")]
    Checksum,
    #[error("malformed grant at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("an API key carries at most 32 caveats")]
    TooManyCaveats,
    #[error("invalid caveat: {0}")]
    InvalidCaveat(&'static str),
    #[error("the API key does not verify under the project's secret")]
    BadMac,
    #[error("the API key has been revoked")]
    Revoked,
    #[error("not a head id: 32 hex digits expected")]
    HeadId,
    #[error("invalid time: {0}")]
    Time(&'static str),
}

impl GrantError {
    pub(crate) fn malformed(offset: usize, reason: &'static str) -> Self {
        GrantError::Malformed { offset, reason }
    }
}
