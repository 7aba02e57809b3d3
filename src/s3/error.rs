//! S3 error codes and the error document: the one table that maps each code to
//! its HTTP status and default message, and `S3Error`, the value every handler
//! returns to the client. The only place in the crate that knows S3 error codes.
//!
//! Codes, statuses and messages follow the S3 API reference ("Error responses",
//! List of error codes) and what S3 answers in practice where the reference is
//! silent or dated (`ConditionalRequestConflict`, `InvalidPartNumber`,
//! `RequestHeaderSectionTooLarge`, `XAmzContentSHA256Mismatch`).

use std::borrow::Cow;
use std::fmt;

/// One row of the error table: code, HTTP status, default message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    pub code: S3ErrorCode,
    /// The code as S3 writes it in `<Code>`.
    pub name: &'static str,
    pub status: u16,
    pub message: &'static str,
}

macro_rules! error_table {
    ($($code:ident => $status:literal, $message:literal;)*) => {
        /// The S3 error codes ringgate answers with. The variant order is the
        /// order of [`ERROR_TABLE`] (byte order of the names); a test keeps both so.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum S3ErrorCode {
            $($code,)*
        }

        /// Every S3 error code ringgate uses, sorted by name and unique.
        pub const ERROR_TABLE: &[ErrorInfo] = &[
            $(ErrorInfo {
                code: S3ErrorCode::$code,
                name: stringify!($code),
                status: $status,
                message: $message,
            },)*
        ];
    };
}

error_table! {
    AccessDenied => 403, "Access Denied";
    AuthorizationHeaderMalformed => 400, "The authorization header you provided is invalid.";
    AuthorizationQueryParametersError => 400, "The query-string authentication parameters are malformed.";
    BadDigest => 400, "The Content-MD5 you specified did not match what we received.";
    BadRequest => 400, "Bad Request";
    BucketAlreadyExists => 409, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.";
    BucketAlreadyOwnedByYou => 409, "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => 409, "The bucket you tried to delete is not empty";
    ConditionalRequestConflict => 409, "A conflicting operation occurred while this conditional request was being processed. Retry the request.";
    EntityTooLarge => 400, "Your proposed upload exceeds the maximum allowed size";
    EntityTooSmall => 400, "Your proposed upload is smaller than the minimum allowed object size.";
    IncompleteBody => 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InternalError => 500, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => 403, "The AWS Access Key Id you provided does not exist in our records.";
    InvalidArgument => 400, "Invalid Argument";
    InvalidBucketName => 400, "The specified bucket is not valid.";
    InvalidBucketState => 409, "The request is not valid with the current state of the bucket.";
    InvalidDigest => 400, "The Content-MD5 you specified is not valid.";
    InvalidLocationConstraint => 400, "The specified location-constraint is not valid";
    InvalidPart => 400, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.";
    InvalidPartNumber => 416, "The requested partnumber is not satisfiable";
    InvalidPartOrder => 400, "The list of parts was not in ascending order. The parts list must be specified in order by part number.";
    InvalidRange => 416, "The requested range is not satisfiable";
    InvalidRequest => 400, "Invalid Request";
    InvalidStorageClass => 400, "The storage class you specified is not valid";
    InvalidTag => 400, "The tag provided was not a valid tag.";
    InvalidURI => 400, "Couldn't parse the specified URI.";
    KeyTooLongError => 400, "Your key is too long";
    MalformedXML => 400, "The XML you provided was not well-formed or did not validate against our published schema";
    MaxMessageLengthExceeded => 400, "Your request was too big.";
    MetadataTooLarge => 400, "Your metadata headers exceed the maximum allowed metadata size";
    MethodNotAllowed => 405, "The specified method is not allowed against this resource.";
    MissingContentLength => 411, "You must provide the Content-Length HTTP header.";
    MissingRequestBodyError => 400, "Request Body is empty";
    MissingSecurityHeader => 400, "Your request is missing a required header.";
    NoSuchBucket => 404, "The specified bucket does not exist";
    NoSuchKey => 404, "The specified key does not exist.";
    NoSuchObjectLockConfiguration => 404, "The specified object does not have a ObjectLock configuration";
    NoSuchTagSet => 404, "The TagSet does not exist";
    NoSuchUpload => 404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.";
    NoSuchVersion => 404, "The specified version does not exist.";
    NotImplemented => 501, "A header you provided implies functionality that is not implemented";
    ObjectLockConfigurationNotFoundError => 404, "Object Lock configuration does not exist for this bucket";
    OperationAborted => 409, "A conflicting conditional operation is currently in progress against this resource. Please try again.";
    PreconditionFailed => 412, "At least one of the pre-conditions you specified did not hold";
    RequestHeaderSectionTooLarge => 400, "Your request header section exceeds the maximum allowed size.";
    RequestTimeTooSkewed => 403, "The difference between the request time and the current time is too large.";
    RequestTimeout => 400, "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.";
    ServerSideEncryptionConfigurationNotFoundError => 404, "The server side encryption configuration was not found";
    ServiceUnavailable => 503, "Service is unable to handle request.";
    SignatureDoesNotMatch => 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    SlowDown => 503, "Please reduce your request rate.";
    TooManyBuckets => 400, "You have attempted to create more buckets than allowed";
    XAmzContentSHA256Mismatch => 400, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

impl S3ErrorCode {
    /// This code's row of [`ERROR_TABLE`].
    pub fn info(self) -> &'static ErrorInfo {
        // The table is in variant order (tested), so the discriminant is the index.
        &ERROR_TABLE[self as usize]
    }

    /// The code as written in `<Code>`, e.g. `"NoSuchKey"`.
    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    /// The HTTP status S3 answers with for this code.
    pub fn status(self) -> u16 {
        self.info().status
    }

    pub fn default_message(self) -> &'static str {
        self.info().message
    }

    /// The code named `name` (exact, case-sensitive), if ringgate knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        ERROR_TABLE
            .binary_search_by(|row| row.name.cmp(name))
            .ok()
            .map(|index| ERROR_TABLE[index].code)
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 error response: code, message, the resource it concerns and the extra
/// elements some codes carry (`BucketName`, `Key`, `StringToSign`, ...).
///
/// Build it with [`S3Error::new`] and the chained setters, or one of the named
/// constructors; turn it into a response with [`S3Error::status`] and
/// [`S3Error::to_xml`] (HEAD responses carry no body, only the status).
///
/// The payload is boxed (as s3s does) so that `Result<_, S3Error>`, returned
/// by every handler and helper, is one pointer wide: an error is the rare
/// path, and the success path should not move 80 bytes around for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Error(Box<S3ErrorInner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct S3ErrorInner {
    code: S3ErrorCode,
    message: Cow<'static, str>,
    /// `<Resource>`: the bucket or object the request named, e.g. `/bucket/key`.
    resource: Option<String>,
    /// Extra elements written after `<Message>`, in this order.
    fields: Vec<(&'static str, String)>,
    /// Response headers the error carries (`x-amz-delete-marker`, ...).
    headers: Vec<(&'static str, String)>,
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for S3Error {}

impl S3Error {
    /// An error with the code's default message.
    pub fn new(code: S3ErrorCode) -> Self {
        S3Error(Box::new(S3ErrorInner {
            code,
            message: Cow::Borrowed(code.default_message()),
            resource: None,
            fields: Vec::new(),
            headers: Vec::new(),
        }))
    }

    pub fn with_message(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        let mut error = S3Error::new(code);
        error.0.message = message.into();
        error
    }

    /// Sets `<Resource>`, e.g. `.resource("/bucket/key")`.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.0.resource = Some(resource.into());
        self
    }

    /// Adds an extra element, e.g. `.field("BucketName", name)`.
    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.fields.push((name, value.into()));
        self
    }

    /// Adds a response header, e.g. `.header("x-amz-delete-marker", "true")`.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    /// The response headers the error carries.
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.0.headers
    }

    pub fn code(&self) -> S3ErrorCode {
        self.0.code
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// `<Resource>`, if set.
    pub fn resource_value(&self) -> Option<&str> {
        self.0.resource.as_deref()
    }

    /// The extra elements, in the order they are written.
    pub fn fields(&self) -> &[(&'static str, String)] {
        &self.0.fields
    }

    pub fn status(&self) -> u16 {
        self.0.code.status()
    }

    /// The value of the first extra element called `name`.
    pub fn field_value(&self, name: &str) -> Option<&str> {
        self.0
            .fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.as_str())
    }

    /// `NoSuchBucket` with `<BucketName>`, as S3 writes it.
    pub fn no_such_bucket(bucket: &str) -> Self {
        S3Error::new(S3ErrorCode::NoSuchBucket).field("BucketName", bucket)
    }

    /// `InvalidBucketName` with `<BucketName>`.
    pub fn invalid_bucket_name(bucket: &str) -> Self {
        S3Error::new(S3ErrorCode::InvalidBucketName).field("BucketName", bucket)
    }

    /// `NoSuchKey` with `<Key>`.
    pub fn no_such_key(key: &str) -> Self {
        S3Error::new(S3ErrorCode::NoSuchKey).field("Key", key)
    }

    /// `NoSuchUpload` with `<UploadId>`.
    pub fn no_such_upload(upload_id: &str) -> Self {
        S3Error::new(S3ErrorCode::NoSuchUpload).field("UploadId", upload_id)
    }

    /// `NoSuchVersion` with `<Key>` and `<VersionId>`.
    pub fn no_such_version(key: &str, version_id: &str) -> Self {
        S3Error::new(S3ErrorCode::NoSuchVersion)
            .field("Key", key)
            .field("VersionId", version_id)
    }

    /// `InvalidArgument` naming the argument and the value that was refused.
    pub fn invalid_argument(
        message: impl Into<Cow<'static, str>>,
        argument_name: &str,
        argument_value: &str,
    ) -> Self {
        S3Error::with_message(S3ErrorCode::InvalidArgument, message)
            .field("ArgumentName", argument_name)
            .field("ArgumentValue", argument_value)
    }

    /// `InvalidRequest` with a specific message.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        S3Error::with_message(S3ErrorCode::InvalidRequest, message)
    }

    /// `NotImplemented` with a specific message.
    pub fn not_implemented(message: impl Into<Cow<'static, str>>) -> Self {
        S3Error::with_message(S3ErrorCode::NotImplemented, message)
    }

    pub fn malformed_xml() -> Self {
        S3Error::new(S3ErrorCode::MalformedXML)
    }

    /// `BadDigest` with the digests compared, both base64 as in `Content-MD5`.
    pub fn bad_digest(expected_digest: &str, calculated_digest: &str) -> Self {
        S3Error::new(S3ErrorCode::BadDigest)
            .field("ExpectedDigest", expected_digest)
            .field("CalculatedDigest", calculated_digest)
    }

    /// `InvalidRange` with the object size and the `Range` header that missed it.
    pub fn invalid_range(actual_object_size: u64, range_requested: &str) -> Self {
        S3Error::new(S3ErrorCode::InvalidRange)
            .field("RangeRequested", range_requested)
            .field("ActualObjectSize", actual_object_size.to_string())
    }

    /// `MetadataTooLarge` with the size counted and the limit.
    pub fn metadata_too_large(size_bytes: usize, size_bytes_max: usize) -> Self {
        S3Error::new(S3ErrorCode::MetadataTooLarge)
            .field("Size", size_bytes.to_string())
            .field("MaxSizeAllowed", size_bytes_max.to_string())
    }

    /// `SignatureDoesNotMatch` with what S3 shows the client to debug its signer:
    /// the access key, the string to sign, the signature received and the
    /// canonical request, each also as space-separated hex bytes.
    pub fn signature_does_not_match(
        access_key_id: &str,
        string_to_sign: &str,
        signature_provided: &str,
        canonical_request: &str,
    ) -> Self {
        S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
            .field("AWSAccessKeyId", access_key_id)
            .field("StringToSign", string_to_sign)
            .field("SignatureProvided", signature_provided)
            .field("StringToSignBytes", hex_bytes(string_to_sign.as_bytes()))
            .field("CanonicalRequest", canonical_request)
            .field(
                "CanonicalRequestBytes",
                hex_bytes(canonical_request.as_bytes()),
            )
    }

    /// The error document:
    /// `<?xml ...?><Error><Code/><Message/>[fields]<Resource/><RequestId/></Error>`.
    /// Every text node is escaped; the `Error` root has no namespace, as in S3.
    pub fn to_xml(&self, request_id: &str) -> Vec<u8> {
        let mut xml = crate::s3::xml::XmlWriter::new();
        xml.start("Error");
        xml.element("Code", self.0.code.as_str());
        xml.element("Message", &self.0.message);
        for (name, value) in &self.0.fields {
            xml.element(name, value);
        }
        if let Some(resource) = &self.0.resource {
            xml.element("Resource", resource);
        }
        xml.element("RequestId", request_id);
        xml.end("Error");
        xml.finish()
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        S3Error::new(code)
    }
}

/// `"ab"` → `"61 62"`, the form of S3's `StringToSignBytes`.
fn hex_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (index, byte) in bytes.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_in_variant_order() {
        for pair in ERROR_TABLE.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} must sort before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for (index, row) in ERROR_TABLE.iter().enumerate() {
            assert_eq!(
                row.code as usize, index,
                "{} out of variant order",
                row.name
            );
            assert_eq!(row.code.as_str(), row.name);
            assert_eq!(S3ErrorCode::from_name(row.name), Some(row.code));
        }
        assert_eq!(S3ErrorCode::from_name("NoSuchThing"), None);
        assert_eq!(S3ErrorCode::from_name("nosuchkey"), None);
    }

    #[test]
    fn statuses_are_sane() {
        for row in ERROR_TABLE {
            assert!(
                matches!(row.status, 400..=599),
                "{} has status {}",
                row.name,
                row.status
            );
            assert!(!row.message.is_empty(), "{} has no message", row.name);
            // Server-side codes are exactly the 5xx ones: clients retry those.
            let server_side = matches!(
                row.code,
                S3ErrorCode::InternalError
                    | S3ErrorCode::NotImplemented
                    | S3ErrorCode::ServiceUnavailable
                    | S3ErrorCode::SlowDown
            );
            assert_eq!(server_side, row.status >= 500, "{}", row.name);
        }
    }

    #[test]
    fn statuses_match_the_reference() {
        let check = |code: S3ErrorCode, status: u16| assert_eq!(code.status(), status, "{code}");
        check(S3ErrorCode::AccessDenied, 403);
        check(S3ErrorCode::BucketAlreadyOwnedByYou, 409);
        check(S3ErrorCode::ConditionalRequestConflict, 409);
        check(S3ErrorCode::InvalidPartNumber, 416);
        check(S3ErrorCode::InvalidRange, 416);
        check(S3ErrorCode::MethodNotAllowed, 405);
        check(S3ErrorCode::MissingContentLength, 411);
        check(S3ErrorCode::NoSuchKey, 404);
        check(S3ErrorCode::NotImplemented, 501);
        check(S3ErrorCode::PreconditionFailed, 412);
        check(S3ErrorCode::RequestTimeTooSkewed, 403);
        check(S3ErrorCode::RequestTimeout, 400);
        check(S3ErrorCode::SlowDown, 503);
    }

    /// Every handler returns `Result<_, S3Error>`: boxed, the error costs the
    /// success path one pointer, not the 80 bytes it took inline.
    #[test]
    fn an_error_result_is_small() {
        assert!(std::mem::size_of::<Result<(), S3Error>>() <= 16);
        assert!(std::mem::size_of::<Result<u64, S3Error>>() <= 16);
    }

    #[test]
    fn error_document() {
        let error = S3Error::no_such_key("photos/a&b.jpg").resource("/bucket/photos/a&b.jpg");
        assert_eq!(error.status(), 404);
        assert_eq!(
            String::from_utf8(error.to_xml("4442587FB7D0A2F9")).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message>\
             <Key>photos/a&amp;b.jpg</Key><Resource>/bucket/photos/a&amp;b.jpg</Resource>\
             <RequestId>4442587FB7D0A2F9</RequestId></Error>"
        );
    }

    #[test]
    fn extra_fields() {
        let error = S3Error::invalid_range(1024, "bytes=2000-");
        assert_eq!(error.field_value("ActualObjectSize"), Some("1024"));
        assert_eq!(error.field_value("RangeRequested"), Some("bytes=2000-"));
        let error = S3Error::signature_does_not_match("AKID", "AWS4\nx", "sig", "GET\n/");
        assert_eq!(error.status(), 403);
        assert_eq!(
            error.field_value("StringToSignBytes"),
            Some("41 57 53 34 0a 78")
        );
        let xml = String::from_utf8(error.to_xml("r")).unwrap();
        assert!(
            xml.contains("<StringToSign>AWS4\nx</StringToSign>"),
            "{xml}"
        );
        assert!(
            xml.contains("<CanonicalRequest>GET\n/</CanonicalRequest>"),
            "{xml}"
        );
        let error = S3Error::invalid_argument("Invalid version id specified", "versionId", "x<y");
        let xml = String::from_utf8(error.to_xml("r")).unwrap();
        assert!(xml.contains(
            "<ArgumentName>versionId</ArgumentName><ArgumentValue>x&lt;y</ArgumentValue>"
        ));
        assert_eq!(
            S3Error::new(S3ErrorCode::SlowDown).to_string(),
            "SlowDown: Please reduce your request rate."
        );
    }
}
