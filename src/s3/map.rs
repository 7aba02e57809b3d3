//! The one place where every layer's errors become S3 errors: HTTP framing,
//! SigV4, authentication, metadata, access records and the registry, the
//! object pipeline, the request body and the payload checks. Handlers write
//! `.map_err(map::meta_error)?` and never pick codes for another layer.

use crate::auth::CredentialError;
use crate::http::conn::BodyError;
use crate::http::HttpError;
use crate::meta::MetaError;
use crate::object_io::ObjectError;
use crate::pipeline::checksum::ChecksumAlgorithm;
use crate::registry::RegistryError;
use crate::s3::authn::AuthnError;
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::payload::PayloadError;
use crate::sigv4::SigV4Error;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Errors met before a request reached a handler: bad heads and framings.
pub fn http_error(e: &HttpError) -> S3Error {
    let status = e.status();
    let code = match status {
        431 => C::RequestHeaderSectionTooLarge,
        414 => C::InvalidURI,
        501 => C::NotImplemented,
        505 => C::NotImplemented,
        411 => C::MissingContentLength,
        417 => C::InvalidRequest,
        _ => C::InvalidRequest,
    };
    S3Error::with_message(code, e.to_string())
}

/// The HTTP status to send for an early error: the parser's own where S3 has
/// no better one (431, 414, 417, 505), else the S3 code's.
pub fn http_error_status(e: &HttpError, s3: &S3Error) -> u16 {
    match e.status() {
        status @ (431 | 414 | 417 | 505) => status,
        _ => s3.status(),
    }
}

pub fn sigv4_error(e: SigV4Error) -> S3Error {
    let message = e.to_string();
    match e {
        SigV4Error::MalformedAuthorization(_) => {
            S3Error::with_message(C::AuthorizationHeaderMalformed, message)
        }
        SigV4Error::MalformedPresignedQuery(_) => {
            S3Error::with_message(C::AuthorizationQueryParametersError, message)
        }
        SigV4Error::UnsupportedAlgorithm { presigned, .. } => {
            if presigned {
                S3Error::with_message(
                    C::AuthorizationQueryParametersError,
                    "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
                )
            } else {
                S3Error::invalid_request(
                    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                )
            }
        }
        SigV4Error::MultipleAuthMechanisms => {
            S3Error::with_message(C::InvalidArgument, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
        }
        SigV4Error::MissingAmzDate | SigV4Error::InvalidAmzDate { .. } => S3Error::with_message(
            C::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        ),
        SigV4Error::WrongRegion {
            region,
            expected,
            presigned,
        } => {
            let code = if presigned {
                C::AuthorizationQueryParametersError
            } else {
                C::AuthorizationHeaderMalformed
            };
            S3Error::with_message(
                code,
                format!("The authorization header is malformed; the region '{region}' is wrong; expecting '{expected}'"),
            )
            .field("Region", expected)
        }
        SigV4Error::RequestTimeTooSkewed {
            request_time,
            server_time_unix,
        } => S3Error::new(C::RequestTimeTooSkewed)
            .field("RequestTime", request_time.to_string())
            .field(
                "ServerTime",
                crate::sigv4::AmzDateTime::from_unix_secs(server_time_unix)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            )
            .field("MaxAllowedSkewMilliseconds", "900000"),
        SigV4Error::RequestExpired { .. } => {
            S3Error::with_message(C::AccessDenied, "Request has expired")
        }
        SigV4Error::RequestNotYetValid { .. } => {
            S3Error::with_message(C::AccessDenied, "Request is not valid yet")
        }
        SigV4Error::MissingContentSha256 => S3Error::invalid_request(
            "Missing required header for this request: x-amz-content-sha256",
        ),
        SigV4Error::InvalidContentSha256 { .. } => S3Error::with_message(
            C::InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
        ),
        SigV4Error::UnsupportedPayloadMode { .. } => S3Error::not_implemented(message),
        SigV4Error::ContentSha256Mismatch {
            expected,
            calculated,
        } => S3Error::new(C::XAmzContentSHA256Mismatch)
            .field("ClientComputedContentSHA256", expected)
            .field("S3ComputedContentSHA256", calculated),
        SigV4Error::HeaderNotSigned { name } => S3Error::with_message(
            C::AccessDenied,
            "There were headers present in the request which were not signed",
        )
        .field("HeadersNotSigned", name),
        SigV4Error::SignatureDoesNotMatch { string_to_sign, .. } => {
            S3Error::new(C::SignatureDoesNotMatch).field("StringToSign", string_to_sign)
        }
        SigV4Error::ChunkSignatureDoesNotMatch { .. }
        | SigV4Error::TrailerSignatureDoesNotMatch
        | SigV4Error::MissingTrailerSignature => {
            S3Error::with_message(C::SignatureDoesNotMatch, message)
        }
        SigV4Error::MalformedTrailer { .. } => S3Error::invalid_request(message),
    }
}

pub fn meta_error(e: MetaError) -> S3Error {
    match e {
        MetaError::NoSuchBucket => S3Error::new(C::NoSuchBucket),
        MetaError::BucketAlreadyOwnedByYou => S3Error::new(C::BucketAlreadyOwnedByYou),
        MetaError::BucketNotEmpty => S3Error::new(C::BucketNotEmpty),
        MetaError::TooManyBuckets { .. } => S3Error::new(C::TooManyBuckets),
        MetaError::InvalidBucketName { reason } => {
            S3Error::with_message(C::InvalidBucketName, reason)
        }
        MetaError::InvalidObjectKey { reason } => S3Error::with_message(C::KeyTooLongError, reason),
        MetaError::NoSuchKey => S3Error::new(C::NoSuchKey),
        MetaError::NoSuchUpload => S3Error::new(C::NoSuchUpload),
        MetaError::InvalidPart { part_number } => {
            S3Error::new(C::InvalidPart).field("PartNumber", part_number.to_string())
        }
        MetaError::InvalidPartOrder => S3Error::new(C::InvalidPartOrder),
        MetaError::InvalidPartNumber(n) => S3Error::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            &n.to_string(),
        ),
        MetaError::PreconditionFailed => S3Error::new(C::PreconditionFailed),
        MetaError::NoSuchVersion => S3Error::new(C::NoSuchVersion),
        MetaError::DeleteMarker => {
            S3Error::new(C::MethodNotAllowed).header("x-amz-delete-marker", "true")
        }
        MetaError::ObjectLocked => S3Error::with_message(
            C::AccessDenied,
            "Access Denied because object protected by object lock.",
        ),
        MetaError::NoObjectLockConfiguration => {
            S3Error::invalid_request("Bucket is missing Object Lock Configuration")
        }
        MetaError::InvalidBucketState(reason) => {
            S3Error::with_message(C::InvalidBucketState, reason)
        }
        // A copy source released while the copy ran: S3 would have copied
        // first; asking the client to retry is the honest answer.
        MetaError::NoSuchSegment(_) => S3Error::new(C::OperationAborted),
        MetaError::NoSuchProject => S3Error::with_message(
            C::InvalidAccessKeyId,
            "The project of this access key no longer exists",
        ),
        other => S3Error::with_message(C::InternalError, format!("metadata: {other}")),
    }
}

/// An access record that does not open with the access key id that names it.
/// Its row is keyed by a hash of that very id, so the record is damaged, not
/// someone else's: the server's fault, not the client's.
pub fn credential_error(e: CredentialError) -> S3Error {
    S3Error::with_message(C::InternalError, format!("access record: {e}"))
}

/// The registry's errors on the S3 path (a project secret that does not open).
pub fn registry_error(e: RegistryError) -> S3Error {
    match e {
        RegistryError::Meta(e) => meta_error(e),
        other => S3Error::with_message(C::InternalError, other.to_string()),
    }
}

pub fn body_error(e: BodyError) -> S3Error {
    match e {
        BodyError::Incomplete { .. } => S3Error::with_message(C::IncompleteBody, e.to_string()),
        BodyError::Framing(_) => S3Error::invalid_request(e.to_string()),
        BodyError::Io(ref io) if io.kind() == std::io::ErrorKind::TimedOut => {
            S3Error::new(C::RequestTimeout)
        }
        BodyError::Io(_) => S3Error::with_message(C::IncompleteBody, e.to_string()),
    }
}

pub fn object_error(e: ObjectError) -> S3Error {
    match e {
        ObjectError::Range { len, start, end } => {
            S3Error::invalid_range(len, &format!("bytes={start}-{}", end.saturating_sub(1)))
        }
        // Too few piece stores answered, or a segment could not be decoded:
        // the service is degraded, the request may succeed later.
        ObjectError::Upload { .. } | ObjectError::TooFewStores { .. } => {
            S3Error::with_message(C::ServiceUnavailable, e.to_string())
        }
        other => S3Error::with_message(C::InternalError, other.to_string()),
    }
}

pub fn io_error(e: std::io::Error) -> S3Error {
    S3Error::with_message(C::InternalError, format!("connection: {e}"))
}

/// Authentication's refusals: S3 answers `AccessDenied` for a grant that does
/// not hold, `InvalidAccessKeyId` for a key (or its project) it does not know.
pub fn authn_error(e: AuthnError) -> S3Error {
    match e {
        AuthnError::Anonymous => S3Error::with_message(
            C::AccessDenied,
            "Anonymous requests are not allowed: sign the request with an access key",
        ),
        AuthnError::UnknownAccessKey { access_key_id } => {
            S3Error::new(C::InvalidAccessKeyId).field("AWSAccessKeyId", access_key_id)
        }
        AuthnError::SignatureDoesNotMatch {
            access_key_id,
            string_to_sign,
            signature_provided,
            canonical_request,
        } => S3Error::signature_does_not_match(
            &access_key_id,
            &string_to_sign,
            &signature_provided,
            &canonical_request,
        ),
        AuthnError::GrantDoesNotVerify => S3Error::with_message(
            C::AccessDenied,
            "The access grant of this key does not verify",
        ),
        AuthnError::Revoked => S3Error::with_message(
            C::AccessDenied,
            "The access grant of this key has been revoked",
        ),
        AuthnError::NotValidNow(denied) => S3Error::with_message(
            C::AccessDenied,
            format!("The access grant of this key is not valid now: {denied}"),
        ),
        AuthnError::ProjectGone => S3Error::with_message(
            C::InvalidAccessKeyId,
            "The project of this access key no longer exists",
        ),
        AuthnError::SigV4(e) => sigv4_error(e),
        AuthnError::Meta(e) => meta_error(e),
        AuthnError::Credential(e) => credential_error(e),
        AuthnError::Registry(e) => registry_error(e),
    }
}

/// A request's payload and the claims about it (`s3::payload`).
pub fn payload_error(e: PayloadError) -> S3Error {
    let message = e.to_string();
    match e {
        PayloadError::InvalidContentMd5 => S3Error::new(C::InvalidDigest),
        PayloadError::MultipleChecksums => S3Error::invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ),
        PayloadError::InvalidChecksumHeader { name } => {
            S3Error::invalid_request(format!("Value for {name} header is invalid."))
        }
        PayloadError::InvalidChecksumTrailer { name } => {
            S3Error::invalid_request(format!("Value for {name} trailer is invalid."))
        }
        PayloadError::UnsupportedTrailer { name } => S3Error::invalid_request(format!(
            "The value specified in the x-amz-trailer header is not supported: {name}"
        )),
        PayloadError::UnsupportedChecksumAlgorithm { name } => {
            S3Error::invalid_request(format!("Checksum algorithm {name} is not supported"))
        }
        PayloadError::MissingTrailer { name } => S3Error::invalid_request(format!(
            "The trailer {name} announced in x-amz-trailer was not sent"
        )),
        PayloadError::Md5Mismatch { claimed, computed } => {
            use base64::Engine as _;
            S3Error::bad_digest(&B64.encode(claimed), &B64.encode(computed))
        }
        PayloadError::ChecksumMismatch {
            algorithm,
            claimed,
            computed,
        } => checksum_mismatch(algorithm, &claimed, &computed),
        PayloadError::InvalidDecodedLength { value } => S3Error::invalid_argument(
            "x-amz-decoded-content-length is not a number",
            "x-amz-decoded-content-length",
            &value,
        ),
        PayloadError::MissingDecodedLength => S3Error::with_message(
            C::MissingContentLength,
            "aws-chunked uploads need x-amz-decoded-content-length",
        ),
        PayloadError::TooLarge {
            proposed,
            bytes_max,
        } => {
            let error = S3Error::new(C::EntityTooLarge);
            let error = match proposed {
                Some(proposed) => error.field("ProposedSize", proposed.to_string()),
                None => error,
            };
            error.field("MaxSizeAllowed", bytes_max.to_string())
        }
        PayloadError::LongerThanDeclared
        | PayloadError::LongerThanDecodedLength
        | PayloadError::DecodedLengthMismatch { .. } => {
            S3Error::with_message(C::IncompleteBody, message)
        }
        PayloadError::AwsChunked(e) => S3Error::invalid_request(format!("aws-chunked body: {e}")),
        PayloadError::AwsChunkedIncomplete(e) => {
            S3Error::with_message(C::IncompleteBody, format!("aws-chunked body: {e}"))
        }
        PayloadError::MissingChunkSignature => S3Error::new(C::SignatureDoesNotMatch),
        PayloadError::Signature(e) => sigv4_error(e),
        PayloadError::Body(e) => body_error(e),
    }
}

fn checksum_mismatch(algorithm: ChecksumAlgorithm, claimed: &[u8], computed: &[u8]) -> S3Error {
    use base64::Engine as _;
    S3Error::with_message(
        C::BadDigest,
        format!(
            "The {} you specified did not match the calculated checksum.",
            algorithm.header_name().to_ascii_uppercase()
        ),
    )
    .field("ExpectedDigest", B64.encode(claimed))
    .field("CalculatedDigest", B64.encode(computed))
}

/// A small (XML) body's payload: over its limit, S3 answers
/// `MaxMessageLengthExceeded`, not the object limit's `EntityTooLarge`.
pub fn small_body_error(e: PayloadError) -> S3Error {
    match e {
        PayloadError::TooLarge { .. } => S3Error::new(C::MaxMessageLengthExceeded),
        other => payload_error(other),
    }
}

/// This core's upload slots were closed (the core is shutting down).
pub fn upload_slot_error(e: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(C::InternalError, format!("upload slot: {e}"))
}
