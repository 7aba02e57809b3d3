//! What a bucket configuration family is: its name, its errors and statuses,
//! and how a PUT body becomes the canonical document stored. Pure.

use crate::s3::error::{S3Error, S3ErrorCode};

/// One family of bucket configuration, as S3 defines its Put/Get/Delete trio.
pub trait ConfigFamily {
    /// The query subresource that selects the family (`?tagging`), also the
    /// name its document is stored under.
    const NAME: &'static str;
    /// What GET answers while the bucket has no document (`NoSuchTagSet`, …),
    /// unless the family has a [`ConfigFamily::default_document`].
    const MISSING: S3ErrorCode;
    /// PUT's success status: 200 for most families, 204 for some (tagging, policy).
    const PUT_STATUS: u16;
    /// The document's media type.
    const CONTENT_TYPE: &'static str = "application/xml";
    /// Whether PUT needs `Content-MD5` or an `x-amz-checksum-*` (S3 requires
    /// one for most configuration bodies).
    const DIGEST_REQUIRED: bool = true;

    /// Validates a PUT body into the canonical document to store, or `None`
    /// when the body means "no configuration" (the family's own rule).
    fn canonical(body: &[u8]) -> Result<Option<Vec<u8>>, S3Error>;

    /// What GET answers for a bucket without a document, for families S3
    /// gives every bucket (default encryption); `None` means `MISSING`.
    fn default_document() -> Option<Vec<u8>> {
        None
    }
}
