//! Entry points for the S3 fuzz targets: the XML request-body parsers and
//! `route`, over arbitrary bytes.
//!
//! Each `fuzz_*` function panics only when an invariant breaks: a parser
//! panicking or answering with an error code it does not document, a parsed
//! body that does not parse the same once written back, or a route that breaks
//! a promise of [`route`]'s documentation.

use crate::operation::Operation;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::names;
use crate::s3::route::{route, Addressing, RouteInput, UNSUPPORTED_SUBRESOURCES};
use crate::s3::xml::escape;
use crate::s3::xml::request::{
    parse_complete_multipart_upload, parse_create_bucket_configuration, parse_delete,
    CompleteMultipartUpload, DeleteRequest, DELETE_OBJECTS_MAX, PARTS_MAX,
};
use crate::sigv4::uri_encode;
use crate::target::query_pairs;

/// The three request-body parsers over `data`: each answers only its
/// documented errors, keeps its documented bounds, and what it accepts parses
/// the same once written back as a client would write it.
pub fn fuzz_xml(data: &[u8]) {
    use S3ErrorCode::*;
    match parse_create_bucket_configuration(data) {
        Ok(config) => {
            if let Some(location) = config.location_constraint.filter(|l| writable(l)) {
                let body = format!(
                    "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint>\
                     </CreateBucketConfiguration>",
                    escape(&location)
                );
                let again = parse_create_bucket_configuration(body.as_bytes()).expect("written");
                assert_eq!(again.location_constraint, Some(location));
            }
        }
        Err(e) => assert_code(&e, &[MalformedXML, NotImplemented]),
    }
    match parse_delete(data) {
        Ok(request) => {
            assert!((1..=DELETE_OBJECTS_MAX).contains(&request.objects.len()));
            if let Some(body) = write_delete(&request) {
                assert_eq!(parse_delete(body.as_bytes()), Ok(request));
            }
        }
        Err(e) => assert_code(&e, &[MalformedXML, MissingRequestBodyError]),
    }
    match parse_complete_multipart_upload(data) {
        Ok(complete) => {
            assert!((1..=PARTS_MAX).contains(&complete.parts.len()));
            for part in &complete.parts {
                assert!((1..=PARTS_MAX as u32).contains(&part.part_number));
            }
            let _ = complete.check_part_order();
            if let Some(body) = write_complete(&complete) {
                assert_eq!(
                    parse_complete_multipart_upload(body.as_bytes()),
                    Ok(complete)
                );
            }
        }
        Err(e) => assert_code(
            &e,
            &[
                MalformedXML,
                MissingRequestBodyError,
                InvalidPart,
                NotImplemented,
            ],
        ),
    }
}

fn assert_code(error: &S3Error, expected: &[S3ErrorCode]) {
    assert!(expected.contains(&error.code()), "{error:?}");
}

/// Text that survives [`escape`] and a parse: `escape` writes NUL as `&#x0;`,
/// which XML (and so the parser) refuses. S3 writes it so in responses; a
/// request never needs it.
fn writable(text: &str) -> bool {
    !text.contains('\0')
}

fn write_delete(request: &DeleteRequest) -> Option<String> {
    let mut body = String::from("<Delete>");
    if request.quiet {
        body.push_str("<Quiet>true</Quiet>");
    }
    for object in &request.objects {
        let texts = [Some(&object.key), object.version_id.as_ref()];
        let texts = texts.iter().flatten();
        let trimmed = [object.etag.as_ref(), object.last_modified_time.as_ref()];
        if !texts.chain(trimmed.iter().flatten()).all(|t| writable(t)) {
            return None;
        }
        body.push_str(&format!("<Object><Key>{}</Key>", escape(&object.key)));
        if let Some(version_id) = &object.version_id {
            body.push_str(&format!("<VersionId>{}</VersionId>", escape(version_id)));
        }
        if let Some(etag) = &object.etag {
            body.push_str(&format!("<ETag>\"{}\"</ETag>", escape(etag)));
        }
        if let Some(time) = &object.last_modified_time {
            let time = escape(time);
            body.push_str(&format!("<LastModifiedTime>{time}</LastModifiedTime>"));
        }
        if let Some(size) = object.size {
            body.push_str(&format!("<Size>{size}</Size>"));
        }
        body.push_str("</Object>");
    }
    body.push_str("</Delete>");
    Some(body)
}

fn write_complete(complete: &CompleteMultipartUpload) -> Option<String> {
    let mut body = String::from("<CompleteMultipartUpload>");
    for part in &complete.parts {
        body.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber>",
            part.part_number
        ));
        if !writable(&part.etag) {
            return None;
        }
        body.push_str(&format!("<ETag>\"{}\"</ETag>", escape(&part.etag)));
        let checksums = [
            ("ChecksumCRC32", &part.checksum_crc32),
            ("ChecksumCRC32C", &part.checksum_crc32c),
            ("ChecksumCRC64NVME", &part.checksum_crc64nvme),
            ("ChecksumSHA1", &part.checksum_sha1),
            ("ChecksumSHA256", &part.checksum_sha256),
        ];
        for (name, value) in checksums {
            if let Some(value) = value {
                if !writable(value) {
                    return None;
                }
                body.push_str(&format!("<{name}>{}</{name}>", escape(value)));
            }
        }
        body.push_str("</Part>");
    }
    body.push_str("</CompleteMultipartUpload>");
    Some(body)
}

/// `route` over a request made of `data`'s `\n`-separated fields: method,
/// target (`path?query`, the query decoded as the gateway decodes it), Host
/// (absent if empty), virtual-host domain (absent if empty), and a last field
/// whose presence means an `x-amz-copy-source` header.
///
/// A route keeps the promises of [`route`]'s documentation: a key exactly for
/// the operations that take one, 1 to 1024 bytes; a bucket for all but
/// ListBuckets, a valid name for CreateBucket; `partNumber` in 1..=10000;
/// `versionId` only `null`; an unsupported subresource never routes; and the
/// same request with its path written back from the route's bucket and key
/// routes the same. An error names its resource and writes a well-formed
/// error document.
pub fn fuzz_route(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.split('\n');
    let mut next = || fields.next().unwrap_or_default();
    let method = next();
    let target = next();
    let host = Some(next()).filter(|h| !h.is_empty());
    let domain = Some(next()).filter(|d| !d.is_empty());
    let has_copy_source = fields.next().is_some();
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let query = query_pairs(raw_query);
    let input = RouteInput {
        method,
        raw_path,
        query: &query,
        host,
        domain,
        has_copy_source,
    };
    let routed = match route(&input) {
        Ok(routed) => routed,
        Err(error) => {
            assert!(error.resource_value().is_some(), "{error:?}");
            check_error_document(&error);
            return;
        }
    };
    let unsupported = query
        .iter()
        .any(|(name, _)| UNSUPPORTED_SUBRESOURCES.contains(&name.as_str()));
    assert!(!unsupported, "unsupported subresource routed: {routed:?}");
    let operation = routed.operation;
    assert_eq!(routed.key.is_some(), operation.has_key(), "{routed:?}");
    assert_eq!(
        routed.bucket.is_none(),
        operation == Operation::ListBuckets,
        "{routed:?}"
    );
    if let Some(key) = &routed.key {
        assert!((1..=names::KEY_BYTES_MAX).contains(&key.len()));
    }
    if operation == Operation::CreateBucket {
        let bucket = routed.bucket.as_deref().unwrap_or_default();
        assert!(names::is_valid_bucket_name(bucket), "{routed:?}");
    }
    if let Some(part_number) = routed.part_number {
        assert!((1..=10_000).contains(&part_number));
    }
    if routed.addressing == Addressing::VirtualHosted {
        assert!(host.is_some() && domain.is_some());
    }
    let mut path = String::from("/");
    if routed.addressing == Addressing::Path {
        if let Some(bucket) = &routed.bucket {
            path.push_str(&uri_encode(bucket.as_bytes(), false));
            if routed.key.is_some() {
                path.push('/');
            }
        }
    }
    if let Some(key) = &routed.key {
        path.push_str(&uri_encode(key.as_bytes(), true));
    }
    let again = route(&RouteInput {
        raw_path: &path,
        ..input
    });
    assert_eq!(again.as_ref(), Ok(&routed), "{path:?}");
}

/// An error document must be well-formed XML with the error's code, whatever
/// the request put into its message and fields.
fn check_error_document(error: &S3Error) {
    let body = error.to_xml("REQUESTID");
    let mut reader = quick_xml::Reader::from_reader(&body[..]);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("error document is not XML ({e}): {error:?}"),
        }
    }
    assert_eq!(depth, 0);
    let code = format!("<Code>{}</Code>", error.code().as_str());
    assert!(body.windows(code.len()).any(|w| w == code.as_bytes()));
}
