//! AWS Signature Version 4 for S3: request times, Authorization header and
//! presigned-query parsing, canonical requests, signing keys, verification,
//! chunk and trailer signatures, and the client-side signer that reuses the
//! same canonicalisation. Pure code over bytes: no I/O, no glommio.
//!
//! Server flow, one function per step:
//!
//! 1. [`request_authorization`] finds the Authorization header or the presigned
//!    query and parses it into an [`Authorization`] (`None`: anonymous).
//! 2. The caller checks [`Authorization::check_region`], looks up the secret for
//!    `access_key_id` and derives (or takes from its cache) a [`SigningKey`] with
//!    [`signing_key`] for the scope's date and region.
//! 3. [`verify_request`] checks the time window, that every `x-amz-*` header is
//!    signed, builds the [`canonical_request`] and [`string_to_sign`], and
//!    compares signatures in constant time. Only it builds a [`Verified`].
//! 4. For `aws-chunked` bodies, [`Verified::chunk_signer`] seeds a
//!    [`ChunkSigner`] with the request's signature; the body decoder feeds it
//!    each chunk's SHA-256 and the raw trailer bytes.
//!
//! The client side ([`RequestSigner`]) signs and presigns through the same
//! canonicalisation code, so a disagreement between the two is impossible by
//! construction and the AWS test vectors check both at once.

mod auth;
mod canonical;
mod chunk;
mod client;
mod date;
pub mod fuzz;
mod key;
mod payload;
#[cfg(test)]
mod tests;

pub use auth::{
    parse_authorization, parse_presigned, request_authorization, Authorization, HeaderAuth, Scope,
    SignedHeaders,
};
pub use canonical::{
    canonical_query, canonical_request, canonical_uri, query_pairs, string_to_sign, uri_encode,
    CanonicalRequest, RequestParts,
};
pub use chunk::{canonical_trailer, ChunkSigner};
pub use client::{RequestSigner, SignedRequest};
pub use date::AmzDateTime;
pub use key::{
    sign, signing_key, verify, verify_request, verify_request_owned, SigningKey, Verified,
};
pub use payload::PayloadHash;

/// The only signing algorithm this server accepts (SigV4a's
/// `AWS4-ECDSA-P256-SHA256` is refused with [`SigV4Error::UnsupportedAlgorithm`]).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service in every credential scope this server accepts.
pub const SERVICE: &str = "s3";
/// The last element of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";
/// How far a request's time may be from the server's clock (S3: 15 minutes).
pub const CLOCK_SKEW_SECS_MAX: i64 = 15 * 60;
/// The longest `X-Amz-Expires` S3 accepts: seven days.
pub const PRESIGNED_EXPIRES_SECS_MAX: u32 = 7 * 24 * 60 * 60;
/// Hex SHA-256 of the empty string: the payload hash of a body-less request and
/// the fixed fifth line of every chunk string to sign.
pub const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Longest piece of client input an error keeps, so a hostile 16 KiB header
/// does not travel through logs and error bodies whole.
const EXCERPT_BYTES_MAX: usize = 128;

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

/// Lowercase hex, as SigV4 writes digests and signatures.
pub fn signature_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// 64 hex digits (either case) to 32 bytes: a signature, a chunk signature or
/// a payload digest. `None` for anything else.
pub fn signature_from_hex(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Client input kept in an error: lossy UTF-8, at most [`EXCERPT_BYTES_MAX`] bytes.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_BYTES_MAX)]).into_owned()
}

/// HTTP optional whitespace.
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}
