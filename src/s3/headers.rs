//! Object headers in and out: what a write keeps (content type, the headers S3
//! stores, user metadata, tags), what GET, HEAD and copies answer with, and the
//! conditional headers of reads (`If-*`, `x-amz-copy-source-if-*`) and writes.

use crate::http::head::RequestHead;
use crate::meta::{DeleteCondition, ObjectRecord, Precondition, StoredChecksum};
use crate::s3::bucket_config::tagging::TagSet;
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::names;
use crate::s3::xml::{quote_etag, unquote_etag};

/// Headers S3 keeps with an object and returns on GET and HEAD.
pub const KEPT_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// Every object is encrypted at rest (AES-256-GCM, a key per segment), so
/// every object response says so, as S3 does since it encrypts every object
/// by default (SSE-S3).
pub const SSE_S3: (&str, &str) = ("x-amz-server-side-encryption", "AES256");

const SSE: &str = "x-amz-server-side-encryption";
const SSE_KMS_HEADERS: [&str; 2] = [
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
];
const SSE_C_HEADERS: [&str; 6] = [
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
];

/// The encryption a write asks for (PutObject, CreateMultipartUpload,
/// CopyObject). `AES256` is what every object gets anyway. SSE-KMS and SSE-C
/// are refused with `NotImplemented` rather than a write that ignores the key
/// the client meant its data to need; any other method is `InvalidArgument`,
/// as are KMS parameters without `aws:kms`.
pub fn check_write_encryption(head: &RequestHead) -> Result<(), S3Error> {
    check_customer_key(head)?;
    let method = head.header_str(SSE).map(str::trim);
    match method {
        None | Some("AES256") => {}
        Some("aws:kms") | Some("aws:kms:dsse") => {
            return Err(S3Error::not_implemented(
                "Server-side encryption with KMS keys is not supported yet",
            ))
        }
        Some(other) => {
            return Err(S3Error::invalid_argument(
                "The encryption method specified is not supported",
                SSE,
                other,
            ))
        }
    }
    match SSE_KMS_HEADERS.iter().find(|name| head.header(name).is_some()) {
        Some(name) => Err(S3Error::invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
            name,
            head.header_str(name).unwrap_or_default(),
        )),
        None => Ok(()),
    }
}

/// SSE-C headers on any write (UploadPart and UploadPartCopy included):
/// `NotImplemented`, never a write stored without the customer's key.
pub fn check_customer_key(head: &RequestHead) -> Result<(), S3Error> {
    if SSE_C_HEADERS.iter().any(|name| head.header(name).is_some()) {
        return Err(S3Error::not_implemented(
            "Server-side encryption with customer-provided keys (SSE-C) is not supported yet",
        ));
    }
    Ok(())
}

/// SSE-C headers on a read: no object here was written with a customer key,
/// so S3's answer for such an object, `InvalidRequest`.
pub fn check_no_customer_key_on_read(head: &RequestHead) -> Result<(), S3Error> {
    if SSE_C_HEADERS[..3]
        .iter()
        .any(|name| head.header(name).is_some())
    {
        return Err(S3Error::invalid_request(
            "The encryption parameters are not applicable to this object.",
        ));
    }
    Ok(())
}

/// Content type, kept headers and user metadata of a PUT or CreateMultipartUpload.
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub user_metadata: Vec<(String, String)>,
}

impl ObjectHeaders {
    pub fn from_request(head: &RequestHead) -> Result<Self, S3Error> {
        let text = |name: &str| -> Result<Option<String>, S3Error> {
            match head.header(name) {
                None => Ok(None),
                Some(value) => std::str::from_utf8(value)
                    .map(|v| Some(v.trim().to_string()))
                    .map_err(|_| S3Error::invalid_argument("header is not UTF-8", name, "")),
            }
        };
        let mut headers = Vec::new();
        for name in KEPT_HEADERS {
            let Some(mut value) = text(name)? else {
                continue;
            };
            if name == "content-encoding" {
                // aws-chunked describes the transfer, not the object.
                value = value
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
                    .collect::<Vec<_>>()
                    .join(",");
                if value.is_empty() {
                    continue;
                }
            }
            headers.push((name.to_string(), value));
        }
        let mut user_metadata = Vec::new();
        for (name, value) in head.headers() {
            if let Some(meta) = name.strip_prefix(names::USER_METADATA_PREFIX) {
                let value = String::from_utf8_lossy(value).trim().to_string();
                user_metadata.push((meta.to_string(), value));
            }
        }
        names::check_user_metadata_size(
            user_metadata.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        )?;
        Ok(Self {
            content_type: text("content-type")?,
            headers,
            user_metadata,
        })
    }
}

/// `If-None-Match: *` and `If-Match` on a write.
pub fn write_condition(head: &RequestHead) -> Result<Option<Precondition>, S3Error> {
    if let Some(value) = head.header_str("if-none-match") {
        if value.trim() == "*" {
            return Ok(Some(Precondition::IfNoneMatchStar));
        }
        return Err(S3Error::not_implemented(
            "If-None-Match on a write supports only *",
        ));
    }
    Ok(head
        .header_str("if-match")
        .map(|v| Precondition::IfMatch(unquote_etag(v.trim()).to_string())))
}

/// Whether an `If-Match`/`If-None-Match` list names `etag` (`*` names any).
fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || unquote_etag(t) == etag)
}

fn parse_http_date(value: &str) -> Option<u64> {
    httpdate::parse_http_date(value.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

/// A conditional delete's conditions from their texts (headers, or a
/// DeleteObjects entry): an ETag (quotes optional, `*` for any object), a
/// last-modified time (an HTTP date or RFC 3339) and a size.
pub fn delete_condition(
    etag: Option<&str>,
    last_modified: Option<&str>,
    size: Option<&str>,
) -> Result<Option<DeleteCondition>, S3Error> {
    if etag.is_none() && last_modified.is_none() && size.is_none() {
        return Ok(None);
    }
    let last_modified_ms = match last_modified {
        None => None,
        Some(text) => Some(
            parse_http_date(text)
                .or_else(|| {
                    let text = text.trim();
                    let rfc3339 = text.starts_with(|c: char| c.is_ascii_digit());
                    rfc3339
                        .then(|| crate::auth::parse_time(text, 0).ok())
                        .flatten()
                        .and_then(|secs| u64::try_from(secs).ok())
                })
                .map(|secs| secs * 1000)
                .ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Invalid last modified time",
                        "x-amz-if-match-last-modified-time",
                        text,
                    )
                })?,
        ),
    };
    let size =
        match size {
            None => None,
            Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
                S3Error::invalid_argument("Invalid size", "x-amz-if-match-size", text)
            })?),
        };
    Ok(Some(DeleteCondition {
        etag: etag.map(|e| unquote_etag(e.trim()).to_string()),
        last_modified_ms,
        size,
    }))
}

/// RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match,
/// If-Modified-Since. `Ok(Some(304))` to answer Not Modified.
pub fn check_read_conditions(
    head: &RequestHead,
    prefix: &str,
    record: &ObjectRecord,
) -> Result<Option<u16>, S3Error> {
    let get = |name: &str| {
        head.header_str(&format!("{prefix}{name}"))
            .map(str::to_string)
    };
    let modified_secs = record.last_modified_ms / 1000;
    let if_match = get("if-match");
    if let Some(list) = &if_match {
        if !etag_matches(list, &record.etag) {
            return Err(S3Error::new(C::PreconditionFailed).field("Condition", "If-Match"));
        }
    } else if let Some(since) = get("if-unmodified-since")
        .as_deref()
        .and_then(parse_http_date)
    {
        if modified_secs > since {
            return Err(
                S3Error::new(C::PreconditionFailed).field("Condition", "If-Unmodified-Since")
            );
        }
    }
    let if_none_match = get("if-none-match");
    if let Some(list) = &if_none_match {
        if etag_matches(list, &record.etag) {
            return Ok(Some(304));
        }
    } else if let Some(since) = get("if-modified-since")
        .as_deref()
        .and_then(parse_http_date)
    {
        if modified_secs <= since {
            return Ok(Some(304));
        }
    }
    Ok(None)
}

/// Whether a copy's `x-amz-copy-source-if-*` conditions refuse the source.
pub fn copy_conditions_fail(head: &RequestHead, record: &ObjectRecord) -> bool {
    !matches!(
        check_read_conditions(head, "x-amz-copy-source-", record),
        Ok(None)
    )
}

/// Response headers describing an object (shared by GET, HEAD and copies).
/// The header a write names its object's tags in (`k1=v1&k2=v2`).
pub const TAGGING: &str = "x-amz-tagging";

/// The tags a PutObject, CreateMultipartUpload or CopyObject asks for in
/// `x-amz-tagging` (none without it).
pub fn tags_from_request(head: &RequestHead) -> Result<Vec<(String, String)>, S3Error> {
    match head.header_str(TAGGING) {
        None => Ok(Vec::new()),
        Some(value) => Ok(TagSet::from_header(value)?.into_pairs()),
    }
}

/// An object's `Last-Modified` value (HTTP date, whole seconds).
pub fn last_modified(record: &ObjectRecord) -> String {
    httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(record.last_modified_ms),
    )
}

pub fn object_headers(record: &ObjectRecord) -> Vec<(String, String)> {
    let mut out = vec![
        ("etag".to_string(), quote_etag(&record.etag)),
        ("last-modified".to_string(), last_modified(record)),
        (
            "content-type".to_string(),
            record
                .content_type
                .clone()
                .unwrap_or_else(|| "binary/octet-stream".to_string()),
        ),
        (SSE_S3.0.to_string(), SSE_S3.1.to_string()),
    ];
    out.extend(record.headers.iter().cloned());
    for (name, value) in &record.user_metadata {
        out.push((
            format!("{}{name}", names::USER_METADATA_PREFIX),
            value.clone(),
        ));
    }
    if !record.tags.is_empty() {
        out.push((
            "x-amz-tagging-count".to_string(),
            record.tags.len().to_string(),
        ));
    }
    out
}

/// The checksum headers of a whole-object GET or HEAD.
pub fn checksum_headers(checksum: &StoredChecksum) -> Vec<(String, String)> {
    let name = format!("x-amz-checksum-{}", checksum.algorithm.header_name());
    match checksum.composite_parts {
        Some(parts) => vec![
            (name, format!("{}-{parts}", checksum.value)),
            ("x-amz-checksum-type".into(), "COMPOSITE".into()),
        ],
        None => vec![
            (name, checksum.value.clone()),
            ("x-amz-checksum-type".into(), "FULL_OBJECT".into()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_lists() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
