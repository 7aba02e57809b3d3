//! GetObjectAttributes: a version's ETag, checksum, parts, storage class and
//! size without its body, each as `x-amz-object-attributes` asks. The asking
//! headers are parsed and the answer built by pure functions; the handler
//! reads the version as GetObject does (delete markers answer as there).

use crate::http::conn::Exchange;
use crate::meta::ObjectRecord;
use crate::s3::common::object_checksums;
use crate::s3::error::S3Error;
use crate::s3::gateway::{Gateway, Request};
use crate::s3::headers::last_modified;
use crate::s3::map::io_error;
use crate::s3::object;
use crate::s3::xml::response::{ObjectAttributes, ObjectParts, STORAGE_CLASS_STANDARD};

const XML: (&str, &str) = ("content-type", "application/xml");
/// Parts one answer lists at most, and by default.
const MAX_PARTS: u32 = 1000;

/// The attributes a request asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    pub etag: bool,
    pub checksum: bool,
    pub object_parts: bool,
    pub storage_class: bool,
    pub object_size: bool,
}

/// Which page of parts a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartsPage {
    pub max_parts: u32,
    pub part_number_marker: u32,
}

/// `x-amz-object-attributes`: names separated by commas, at least one (a
/// request may also repeat the header: pass its values joined by commas).
pub fn parse_asked(header: Option<&str>) -> Result<Asked, S3Error> {
    let value = header.unwrap_or("");
    let mut asked = Asked::default();
    let mut any = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let slot = match name {
            "ETag" => &mut asked.etag,
            "Checksum" => &mut asked.checksum,
            "ObjectParts" => &mut asked.object_parts,
            "StorageClass" => &mut asked.storage_class,
            "ObjectSize" => &mut asked.object_size,
            _ => {
                return Err(S3Error::invalid_argument(
                    "Invalid attribute name specified.",
                    "x-amz-object-attributes",
                    name,
                ))
            }
        };
        *slot = true;
        any = true;
    }
    if !any {
        return Err(S3Error::invalid_argument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty.",
            "x-amz-object-attributes",
            value,
        ));
    }
    Ok(asked)
}

/// `x-amz-max-parts` (at most 1000, the default) and `x-amz-part-number-marker`.
pub fn parse_page(max_parts: Option<&str>, marker: Option<&str>) -> Result<PartsPage, S3Error> {
    let number = |name: &str, value: Option<&str>, default: u32| -> Result<u32, S3Error> {
        match value.map(str::trim) {
            None => Ok(default),
            Some(text) => text.parse::<u32>().map_err(|_| {
                S3Error::invalid_argument(format!("{name} must be a whole number"), name, text)
            }),
        }
    };
    Ok(PartsPage {
        max_parts: number("x-amz-max-parts", max_parts, MAX_PARTS)?.min(MAX_PARTS),
        part_number_marker: number("x-amz-part-number-marker", marker, 0)?,
    })
}

/// The answer for `record`. The checksum is the stored one (for a multipart
/// object with a composite checksum, the checksum of its parts' checksums,
/// without the `-N` a HEAD adds); parts are listed for multipart objects only,
/// by number and size (per-part checksums are not kept after completion).
pub fn attributes_of(record: &ObjectRecord, asked: Asked, page: PartsPage) -> ObjectAttributes {
    let checksum = record
        .checksum
        .as_ref()
        .filter(|_| asked.checksum)
        .map(|c| object_checksums(c, false));
    let parts = (asked.object_parts && !record.part_sizes.is_empty()).then(|| {
        let all = (1u32..).zip(record.part_sizes.iter().copied());
        let after: Vec<(u32, u64)> = all.filter(|(n, _)| *n > page.part_number_marker).collect();
        let shown: Vec<(u32, u64)> = after
            .iter()
            .copied()
            .take(page.max_parts as usize)
            .collect();
        ObjectParts {
            parts_count: record.part_sizes.len() as u32,
            part_number_marker: page.part_number_marker,
            next_part_number_marker: shown.last().map_or(0, |(n, _)| *n),
            max_parts: page.max_parts,
            is_truncated: after.len() > shown.len(),
            parts: shown,
        }
    });
    ObjectAttributes {
        etag: asked.etag.then(|| record.etag.clone()),
        checksum,
        parts,
        storage_class: asked
            .storage_class
            .then(|| STORAGE_CLASS_STANDARD.to_string()),
        object_size: asked.object_size.then_some(record.size),
    }
}

pub async fn get(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let values: Vec<&str> = ex
        .head
        .headers_all("x-amz-object-attributes")
        .map(|v| std::str::from_utf8(v).unwrap_or("\u{fffd}"))
        .collect();
    let asked = parse_asked((!values.is_empty()).then(|| values.join(",")).as_deref())?;
    let page = parse_page(
        ex.head.header_str("x-amz-max-parts"),
        ex.head.header_str("x-amz-part-number-marker"),
    )?;
    let read = object::read_version(gw, req).await?;
    let body = attributes_of(&read.record, asked, page).to_xml();
    let last_modified = last_modified(&read.record);
    let mut headers = vec![XML, ("last-modified", last_modified.as_str())];
    if let Some(id) = &read.version_header {
        headers.push(("x-amz-version-id", id.as_str()));
    }
    ex.respond(200, &headers, &body).await.map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::StoredChecksum;
    use crate::pipeline::checksum::ChecksumAlgorithm;

    fn record(part_sizes: Vec<u64>, composite: Option<u32>) -> ObjectRecord {
        ObjectRecord {
            size: part_sizes.iter().sum::<u64>().max(5),
            etag: "abc-3".into(),
            last_modified_ms: 0,
            checksum: Some(StoredChecksum {
                algorithm: ChecksumAlgorithm::Crc32c,
                value: "AAAAAA==".into(),
                composite_parts: composite,
            }),
            content_type: None,
            headers: Vec::new(),
            user_metadata: Vec::new(),
            part_sizes,
            extents: Vec::new(),
            tags: Vec::new(),
        }
    }

    const ALL: Asked = Asked {
        etag: true,
        checksum: true,
        object_parts: true,
        storage_class: true,
        object_size: true,
    };

    #[test]
    fn asked_attributes_parse() {
        assert_eq!(
            parse_asked(Some("ETag, ObjectSize")).unwrap(),
            Asked {
                etag: true,
                object_size: true,
                ..Asked::default()
            }
        );
        assert_eq!(
            parse_asked(Some("ETag,Checksum,ObjectParts,StorageClass,ObjectSize")).unwrap(),
            ALL
        );
        for bad in [None, Some(""), Some(" , "), Some("ETag,Size"), Some("etag")] {
            let e = parse_asked(bad).unwrap_err();
            assert_eq!(
                e.code(),
                crate::s3::error::S3ErrorCode::InvalidArgument,
                "{bad:?}"
            );
        }
        let page = parse_page(Some("5000"), Some("2")).unwrap();
        assert_eq!((page.max_parts, page.part_number_marker), (1000, 2));
        assert!(parse_page(Some("-1"), None).is_err());
        assert!(parse_page(None, Some("x")).is_err());
    }

    #[test]
    fn answers_page_parts_and_omit_what_was_not_asked() {
        let multipart = record(vec![10, 20, 5], Some(3));
        let page = PartsPage {
            max_parts: 2,
            part_number_marker: 0,
        };
        let a = attributes_of(&multipart, ALL, page);
        assert_eq!(a.etag.as_deref(), Some("abc-3"));
        assert_eq!(a.object_size, Some(35));
        let checksum = a.checksum.unwrap();
        assert_eq!(checksum.crc32c.as_deref(), Some("AAAAAA=="));
        assert_eq!(checksum.checksum_type.as_deref(), Some("COMPOSITE"));
        let parts = a.parts.unwrap();
        assert_eq!(parts.parts, [(1, 10), (2, 20)]);
        assert!(parts.is_truncated);
        assert_eq!((parts.parts_count, parts.next_part_number_marker), (3, 2));
        let rest = attributes_of(
            &multipart,
            ALL,
            PartsPage {
                max_parts: 2,
                part_number_marker: 2,
            },
        )
        .parts
        .unwrap();
        assert_eq!((rest.parts, rest.is_truncated), (vec![(3, 5)], false));

        let single = attributes_of(&record(Vec::new(), None), ALL, page);
        assert_eq!(single.parts, None);
        assert_eq!(
            single.checksum.unwrap().checksum_type.as_deref(),
            Some("FULL_OBJECT")
        );
        let size_only = attributes_of(
            &multipart,
            Asked {
                object_size: true,
                ..Asked::default()
            },
            page,
        );
        assert_eq!(
            size_only,
            ObjectAttributes {
                object_size: Some(35),
                ..ObjectAttributes::default()
            }
        );
        let text = String::from_utf8(attributes_of(&multipart, ALL, page).to_xml()).unwrap();
        let order = [
            "<ETag>abc-3</ETag>",
            "<Checksum>",
            "<ObjectParts><IsTruncated>true",
            "<PartsCount>3",
            "<StorageClass>STANDARD",
            "<ObjectSize>35",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|s| text.find(s).unwrap_or_else(|| panic!("{s} in {text}")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }
}
