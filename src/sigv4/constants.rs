//! The fixed words and limits of SigV4 for S3.

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
