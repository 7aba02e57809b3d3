//! `SigV4Error`, everything that can be wrong with a request's SigV4
//! authentication, and `Malformed`, the reasons an Authorization header or a
//! presigned query does not parse. The S3 code each becomes is `s3/map.rs`'s.

use super::date::{AmzDateTime, InvalidDate};

/// Everything that can be wrong with a request's SigV4 authentication. The S3
/// error code each variant becomes is decided in `s3/error.rs`; the table in
/// the module's report (and each variant's doc) says which one S3 uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// S3: `AuthorizationHeaderMalformed` (400).
    #[error("authorization header is malformed: {0}")]
    MalformedAuthorization(Malformed),
    /// S3: `AuthorizationQueryParametersError` (400).
    #[error("presigned query parameters are malformed: {0}")]
    MalformedPresignedQuery(Malformed),
    /// SigV2 (`AWS AKID:sig`, or `AWSAccessKeyId`/`Signature` query), SigV4a
    /// and anything else that is not `AWS4-HMAC-SHA256`. S3: `InvalidRequest`
    /// (400) "The authorization mechanism you have provided is not supported.
    /// Please use AWS4-HMAC-SHA256."; for a presigned URL S3 words it as
    /// `AuthorizationQueryParametersError` "X-Amz-Algorithm only supports
    /// \"AWS4-HMAC-SHA256\"".
    #[error("authorization algorithm {algorithm:?} is not supported")]
    UnsupportedAlgorithm { algorithm: String, presigned: bool },
    /// S3: `InvalidArgument` (400) "Only one auth mechanism allowed".
    #[error("request carries both an authorization header and presigned query parameters")]
    MultipleAuthMechanisms,
    /// S3: `AccessDenied` (403) "AWS authentication requires a valid Date or
    /// x-amz-date header".
    #[error("request has an authorization header but no x-amz-date header")]
    MissingAmzDate,
    /// S3: `AccessDenied` (403), the same message as [`Self::MissingAmzDate`].
    #[error("x-amz-date {value:?} is not a valid yyyymmddThhmmssZ time")]
    InvalidAmzDate { value: String },
    /// S3: `AuthorizationHeaderMalformed` (400), or
    /// `AuthorizationQueryParametersError` for presigned URLs: "the region
    /// 'x' is wrong; expecting 'y'".
    #[error("credential scope region {region:?} is not this server's region {expected:?}")]
    WrongRegion {
        region: String,
        expected: String,
        presigned: bool,
    },
    /// S3: `RequestTimeTooSkewed` (403).
    #[error("request time {request_time} is more than 15 minutes from the server's unix time {server_time_unix}")]
    RequestTimeTooSkewed {
        request_time: AmzDateTime,
        server_time_unix: i64,
    },
    /// S3: `AccessDenied` (403) "Request has expired".
    #[error("presigned request expired at unix time {expires_at_unix}")]
    RequestExpired { expires_at_unix: i64 },
    /// A presigned URL dated more than the allowed skew in the future. S3:
    /// `AccessDenied` (403) "Request is not valid yet".
    #[error("presigned request is not valid before unix time {valid_from_unix}")]
    RequestNotYetValid { valid_from_unix: i64 },
    /// S3: `InvalidRequest` (400) "Missing required header for this request:
    /// x-amz-content-sha256".
    #[error("request has no x-amz-content-sha256 header")]
    MissingContentSha256,
    /// Neither a hex SHA-256 nor a payload mode S3 knows. S3: `InvalidArgument`
    /// (400) "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-…, or a
    /// valid sha256 value".
    #[error("x-amz-content-sha256 {value:?} is neither a sha-256 digest nor a known payload mode")]
    InvalidContentSha256 { value: String },
    /// A payload mode S3 knows but this server does not implement (the SigV4a
    /// `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD[-TRAILER]`). S3 code to use:
    /// `NotImplemented` (501).
    #[error("payload signing mode {value:?} is not supported")]
    UnsupportedPayloadMode { value: String },
    /// The body's SHA-256 is not the one the client signed. S3:
    /// `XAmzContentSHA256Mismatch` (400).
    #[error("body sha-256 {calculated} differs from x-amz-content-sha256 {expected}")]
    ContentSha256Mismatch {
        expected: String,
        calculated: String,
    },
    /// An `x-amz-*` header the signature does not cover. S3: `AccessDenied`
    /// (403) "There were headers present in the request which were not signed".
    #[error("header {name} is present but not signed")]
    HeaderNotSigned { name: String },
    /// S3: `SignatureDoesNotMatch` (403), with `StringToSign` and (when known)
    /// `CanonicalRequest` in the error body.
    #[error("the request signature does not match the one calculated")]
    SignatureDoesNotMatch {
        canonical_request: Option<String>,
        string_to_sign: String,
    },
    /// S3: `SignatureDoesNotMatch` (403). Chunks count from 0.
    #[error("the signature of chunk {chunk_index} does not match the one calculated")]
    ChunkSignatureDoesNotMatch { chunk_index: u64 },
    /// S3: `MalformedTrailerError` (400).
    #[error("trailer is malformed: {reason}")]
    MalformedTrailer { reason: &'static str },
    /// A signed-trailer body whose trailer has no `x-amz-trailer-signature`.
    /// S3: `SignatureDoesNotMatch` (403).
    #[error("trailer has no x-amz-trailer-signature")]
    MissingTrailerSignature,
    /// S3: `SignatureDoesNotMatch` (403).
    #[error("the trailer signature does not match the one calculated")]
    TrailerSignatureDoesNotMatch,
}

/// What is wrong with an Authorization header or a presigned query; the same
/// reasons for both, so the two parsers share their checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{0} given more than once")]
    Duplicate(&'static str),
    #[error("unexpected {0:?}")]
    Unexpected(String),
    #[error("credential {0:?} is not <access key>/<yyyymmdd>/<region>/s3/aws4_request")]
    Credential(String),
    #[error("credential scope date {0:?} is not a valid yyyymmdd date")]
    ScopeDate(String),
    #[error("credential scope date {scope_date} differs from the request date {request_date}")]
    ScopeDateMismatch {
        scope_date: String,
        request_date: String,
    },
    #[error("credential service {0:?} is not s3")]
    Service(String),
    #[error("credential terminator {0:?} is not aws4_request")]
    Terminator(String),
    #[error("signed headers {0:?} are not a ;-separated list of distinct header names")]
    SignedHeaders(String),
    #[error("signed headers do not include host")]
    HostNotSigned,
    #[error("signature {0:?} is not 64 hex digits")]
    Signature(String),
    #[error("x-amz-date {0:?} is not a valid yyyymmddThhmmssZ time")]
    Date(String),
    #[error("x-amz-expires {0:?} is not a whole number of seconds in 1..=604800")]
    Expires(String),
}

impl From<InvalidDate> for SigV4Error {
    fn from(e: InvalidDate) -> Self {
        SigV4Error::InvalidAmzDate { value: e.value }
    }
}
