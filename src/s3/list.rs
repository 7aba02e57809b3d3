//! Listing operations: ListObjects (v1 and v2), ListObjectVersions,
//! ListMultipartUploads and ListParts. The listing algorithm itself lives in
//! `meta`; this file turns S3's query parameters into its queries and its pages
//! into S3's XML.

use base64::Engine as _;

use crate::auth::ListScope;
use crate::http::conn::Exchange;
use crate::meta::{
    ListPage, ListQuery, ObjectSummary, UploadId, UploadListQuery, UploadPage, VersionBody,
    VersionEntry, VersionListQuery, VersionPage, WhichVersion, LIST_ENTRIES_MAX,
};
use crate::pipeline::checksum::ChecksumAlgorithm;
use crate::s3::common::{owner, part_checksums, upload_ref};
use crate::s3::error::S3Error;
use crate::s3::gateway::{Gateway, Request};
use crate::s3::map::io_error;
use crate::s3::xml::response::{
    Checksums, ListBucketResult, ListMultipartUploadsResult, ListPagination, ListPartsResult,
    ListVersionsResult, ObjectEntry, PartEntry, UploadEntry, VersionRow, STORAGE_CLASS_STANDARD,
};
use crate::s3::{authz, map};

const XML: (&str, &str) = ("content-type", "application/xml");
const TOKEN: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A non-negative count parameter (max-keys, max-uploads, max-parts), clamped.
fn count_param(req: &Request, name: &str, default: usize, max: usize) -> Result<usize, S3Error> {
    match req.query(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| (n as usize).min(max))
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    format!("Provided {name} not an integer or within integer range"),
                    name,
                    value,
                )
            }),
    }
}

fn encoding_url(req: &Request) -> Result<bool, S3Error> {
    match req.query("encoding-type") {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("url") => Ok(true),
        Some(e) => Err(S3Error::invalid_argument(
            "Invalid Encoding Method specified in Request",
            "encoding-type",
            e,
        )),
    }
}

fn delimiter(req: &Request) -> Option<String> {
    req.query("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

fn entry(
    key: String,
    summary: ObjectSummary,
    owner: Option<crate::s3::xml::response::Owner>,
) -> ObjectEntry {
    ObjectEntry {
        key,
        last_modified_ms: summary.last_modified_ms as i64,
        etag: summary.etag,
        size: summary.size,
        storage_class: STORAGE_CLASS_STANDARD.to_string(),
        owner,
        checksum_type: summary.checksum.as_ref().map(|c| {
            if c.composite_parts.is_some() {
                "COMPOSITE"
            } else {
                "FULL_OBJECT"
            }
            .to_string()
        }),
        checksum_algorithm: summary
            .checksum
            .map(|c| c.algorithm.header_name().to_ascii_uppercase()),
    }
}

pub async fn list_objects(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
    v2: bool,
) -> Result<(), S3Error> {
    let max_keys = count_param(req, "max-keys", LIST_ENTRIES_MAX, LIST_ENTRIES_MAX)?;
    let url = encoding_url(req)?;
    let prefix = req.query("prefix").unwrap_or("").to_string();
    let delimiter = delimiter(req);
    let continuation_token = req.query("continuation-token").map(str::to_string);
    let start_after = req.query("start-after").map(str::to_string);
    let marker = req.query("marker").unwrap_or("").to_string();
    let after = if v2 {
        match &continuation_token {
            Some(token) => TOKEN
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::invalid_argument(
                        "The continuation token provided is incorrect",
                        "continuation-token",
                        token,
                    )
                })?,
            None => start_after.clone().unwrap_or_default(),
        }
    } else {
        marker.clone()
    };
    let page = list_page(
        gw,
        req,
        ListQuery {
            prefix: prefix.clone(),
            delimiter: delimiter.clone(),
            start_after: after,
            max_keys,
        },
    )
    .await?;
    let fetch_owner = !v2 || req.query("fetch-owner").is_some_and(|v| v == "true");
    let owner = fetch_owner.then(|| owner(req));
    let pagination = if v2 {
        ListPagination::V2 {
            continuation_token,
            next_continuation_token: page
                .next_marker
                .as_ref()
                .filter(|_| page.is_truncated)
                .map(|m| TOKEN.encode(m)),
            start_after,
        }
    } else {
        ListPagination::V1 {
            marker,
            next_marker: page.next_marker.clone().filter(|_| page.is_truncated),
        }
    };
    let xml = ListBucketResult {
        name: req.bucket().to_string(),
        prefix,
        delimiter,
        max_keys: max_keys as u32,
        encoding_type_url: url,
        is_truncated: page.is_truncated,
        contents: page
            .entries
            .into_iter()
            .map(|(key, summary)| entry(key, summary, owner.clone()))
            .collect(),
        common_prefixes: page.common_prefixes,
        pagination,
    }
    .to_xml();
    ex.respond(200, &[XML], &xml).await.map_err(io_error)
}

pub async fn list_object_versions(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let max_keys = count_param(req, "max-keys", LIST_ENTRIES_MAX, LIST_ENTRIES_MAX)?;
    let url = encoding_url(req)?;
    let prefix = req.query("prefix").unwrap_or("").to_string();
    let delimiter = delimiter(req);
    let key_marker = req.query("key-marker").unwrap_or("").to_string();
    let version_id_marker = req.query("version-id-marker").unwrap_or("").to_string();
    let version_marker = match (version_id_marker.as_str(), key_marker.is_empty()) {
        ("", _) => None,
        (_, true) => {
            return Err(S3Error::invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                &version_id_marker,
            ))
        }
        (text, false) => Some(WhichVersion::parse(text).ok_or_else(|| {
            S3Error::invalid_argument("Invalid version id specified", "version-id-marker", text)
        })?),
    };
    let scope = authz::list_scope(req, &prefix)?;
    let query = VersionListQuery {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        key_marker: key_marker.clone(),
        version_id_marker: version_marker,
        max_keys,
    };
    let page = versions_within(gw, req, &scope, query).await?;
    let owner = owner(req);
    let xml = ListVersionsResult {
        name: req.bucket().to_string(),
        prefix,
        key_marker,
        version_id_marker,
        next_key_marker: page.next_key_marker.clone(),
        next_version_id_marker: page.next_version_id_marker.map(|v| v.display()),
        max_keys: max_keys as u32,
        delimiter,
        encoding_type_url: url,
        is_truncated: page.is_truncated,
        versions: page
            .entries
            .into_iter()
            .map(|entry| version_row(entry, &owner))
            .collect(),
        common_prefixes: page.common_prefixes,
    }
    .to_xml();
    ex.respond(200, &[XML], &xml).await.map_err(io_error)
}

fn version_row(entry: VersionEntry, owner: &crate::s3::xml::response::Owner) -> VersionRow {
    let version_id = entry.version.display();
    let (object, delete_marker) = match entry.body {
        VersionBody::Object(summary) => (summary, false),
        VersionBody::DeleteMarker { last_modified_ms } => (
            ObjectSummary {
                size: 0,
                etag: String::new(),
                last_modified_ms,
                checksum: None,
            },
            true,
        ),
    };
    VersionRow {
        entry: self::entry(entry.key, object, Some(owner.clone())),
        version_id,
        is_latest: entry.is_latest,
        delete_marker,
    }
}

/// A page of versions under the caller's grant: the bucket's page with what
/// the grant does not cover removed, paging on past pages left empty.
async fn versions_within(
    gw: &Gateway,
    req: &Request,
    scope: &ListScope,
    mut query: VersionListQuery,
) -> Result<VersionPage, S3Error> {
    loop {
        let mut page = gw
            .meta
            .list_versions(req.project(), req.bucket().to_string(), query.clone())
            .await
            .map_err(map::meta_error)?;
        if matches!(scope, ListScope::All) {
            return Ok(page);
        }
        page.entries.retain(|e| scope.includes(&e.key));
        page.common_prefixes.retain(|p| scope_overlaps(scope, p));
        let last_entry = page.entries.last().map(|e| (e.key.clone(), e.version));
        let last_prefix = page.common_prefixes.last().cloned();
        (page.next_key_marker, page.next_version_id_marker) = match (last_entry, last_prefix) {
            _ if !page.is_truncated => (None, None),
            (Some((key, _)), Some(prefix)) if prefix > key => (Some(prefix), None),
            (Some((key, version)), _) => (Some(key), Some(version)),
            (None, Some(prefix)) => (Some(prefix), None),
            (None, None) => match page.next_key_marker {
                Some(marker) => {
                    query.key_marker = marker;
                    query.version_id_marker = page.next_version_id_marker.map(|v| v.which());
                    continue;
                }
                None => {
                    page.is_truncated = false;
                    (None, None)
                }
            },
        };
        return Ok(page);
    }
}

pub async fn list_multipart_uploads(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let max_uploads = count_param(req, "max-uploads", LIST_ENTRIES_MAX, LIST_ENTRIES_MAX)?;
    let url = encoding_url(req)?;
    let prefix = req.query("prefix").unwrap_or("").to_string();
    let delimiter = delimiter(req);
    let key_marker = req.query("key-marker").unwrap_or("").to_string();
    let upload_id_marker = req.query("upload-id-marker").unwrap_or("").to_string();
    let upload_marker = if upload_id_marker.is_empty() || key_marker.is_empty() {
        None
    } else {
        Some(UploadId::from_hex(&upload_id_marker).ok_or_else(|| {
            S3Error::invalid_argument(
                "Invalid uploadId marker",
                "upload-id-marker",
                &upload_id_marker,
            )
        })?)
    };
    let scope = authz::list_scope(req, &prefix)?;
    let query = UploadListQuery {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        key_marker: key_marker.clone(),
        upload_id_marker: upload_marker,
        max_uploads,
    };
    let page = uploads_within(gw, req, &scope, query).await?;
    let owner = owner(req);
    let xml = ListMultipartUploadsResult {
        bucket: req.bucket().to_string(),
        key_marker,
        upload_id_marker,
        next_key_marker: page.next_key_marker.clone(),
        next_upload_id_marker: page.next_upload_id_marker.map(|id| id.to_hex()),
        delimiter,
        prefix: (!prefix.is_empty()).then_some(prefix),
        max_uploads: max_uploads as u32,
        encoding_type_url: url,
        is_truncated: page.is_truncated,
        uploads: page
            .uploads
            .into_iter()
            .map(|u| UploadEntry {
                key: u.key,
                upload_id: u.upload_id.to_hex(),
                initiator: owner.clone(),
                owner: owner.clone(),
                storage_class: STORAGE_CLASS_STANDARD.to_string(),
                initiated_ms: u.initiated_ms as i64,
                checksum_algorithm: u
                    .checksum_algorithm
                    .map(|a| a.header_name().to_ascii_uppercase()),
                checksum_type: None,
            })
            .collect(),
        common_prefixes: page.common_prefixes,
    }
    .to_xml();
    ex.respond(200, &[XML], &xml).await.map_err(io_error)
}

/// A page of uploads under the caller's grant. Uploads are few, so a page is
/// listed whole and filtered, rather than scanned range by range like
/// objects. The next markers then come from the last upload or common prefix
/// kept, never from the page's own end, which may be a key the grant does not
/// show; a page that keeps nothing reads on, so every answer makes progress
/// (at a cost that grows with the uploads the grant does not show).
async fn uploads_within(
    gw: &Gateway,
    req: &Request,
    scope: &ListScope,
    mut query: UploadListQuery,
) -> Result<UploadPage, S3Error> {
    loop {
        let mut page = gw
            .meta
            .list_uploads(req.project(), req.bucket().to_string(), query.clone())
            .await
            .map_err(map::meta_error)?;
        if matches!(scope, ListScope::All) {
            return Ok(page);
        }
        page.uploads.retain(|u| scope.includes(&u.key));
        page.common_prefixes.retain(|p| scope_overlaps(scope, p));
        let last_upload = page.uploads.last().map(|u| (u.key.clone(), u.upload_id));
        let last_prefix = page.common_prefixes.last().cloned();
        (page.next_key_marker, page.next_upload_id_marker) = match (last_upload, last_prefix) {
            (Some((key, _)), Some(prefix)) if prefix > key => (Some(prefix), None),
            (Some((key, id)), _) => (Some(key), Some(id)),
            (None, Some(prefix)) => (Some(prefix), None),
            (None, None) => match (page.is_truncated, page.next_key_marker) {
                (true, Some(marker)) => {
                    query.key_marker = marker;
                    query.upload_id_marker = page.next_upload_id_marker;
                    continue;
                }
                _ => {
                    page.is_truncated = false;
                    (None, None)
                }
            },
        };
        return Ok(page);
    }
}

/// A listing page under the caller's grant: the bucket's listing if the grant
/// allows the whole requested prefix, else the listing of a bucket holding
/// only the keys it allows.
async fn list_page(gw: &Gateway, req: &Request, query: ListQuery) -> Result<ListPage, S3Error> {
    match authz::list_scope(req, &query.prefix)? {
        ListScope::All => gw
            .meta
            .list_objects(req.project(), req.bucket().to_string(), query)
            .await
            .map_err(map::meta_error),
        ListScope::Within(allowed) => list_within(gw, req, query, &allowed)
            .await
            .map_err(map::meta_error),
    }
}

/// Whether a common prefix holds any key the scope includes.
fn scope_overlaps(scope: &ListScope, common_prefix: &str) -> bool {
    match scope {
        ListScope::All => true,
        ListScope::Within(allowed) => allowed
            .iter()
            .any(|a| a.starts_with(common_prefix) || common_prefix.starts_with(a.as_str())),
    }
}

/// S3 listing restricted to keys under `allowed` (sorted, disjoint prefixes,
/// each beginning with `query.prefix`): the ranges are scanned one after the
/// other, each with the request's delimiter. Common prefixes are relative to
/// the requested prefix: an allowed prefix that already contains the delimiter
/// past it collapses into one common prefix without a scan; otherwise the
/// grouping of its keys is the same whether counted from it or from the
/// requested prefix (exact for single-character delimiters such as "/"; a
/// longer one straddling the end of an allowed prefix is not grouped).
async fn list_within(
    gw: &Gateway,
    req: &Request,
    query: ListQuery,
    allowed: &[String],
) -> Result<ListPage, crate::meta::MetaError> {
    let mut page = ListPage::default();
    let max = query.max_keys;
    if max == 0 {
        return Ok(page);
    }
    let delimiter = query.delimiter.clone().filter(|d| !d.is_empty());
    let mut after = query.start_after.clone();
    let count = |page: &ListPage| page.entries.len() + page.common_prefixes.len();
    for scope in allowed {
        // Ranges wholly at or before the marker are done.
        if scope.as_str() < after.as_str() && !after.starts_with(scope.as_str()) {
            continue;
        }
        let full = count(&page) == max;
        if let Some(d) = &delimiter {
            if let Some(at) = scope[query.prefix.len()..].find(d.as_str()) {
                let common = &scope[..query.prefix.len() + at + d.len()];
                let new = common > after.as_str()
                    && page.common_prefixes.last().map(String::as_str) != Some(common);
                if new && full {
                    page.is_truncated = true;
                    break;
                }
                if new {
                    page.common_prefixes.push(common.to_string());
                    after = common.to_string();
                }
                continue;
            }
        }
        let sub = gw
            .meta
            .list_objects(
                req.project(),
                req.bucket().to_string(),
                ListQuery {
                    prefix: scope.clone(),
                    delimiter: delimiter.clone(),
                    start_after: after.clone(),
                    // A full page only asks whether anything follows.
                    max_keys: if full { 1 } else { max - count(&page) },
                },
            )
            .await?;
        if full {
            if !sub.entries.is_empty() || !sub.common_prefixes.is_empty() {
                page.is_truncated = true;
                break;
            }
            continue;
        }
        let last = [
            sub.entries.last().map(|(k, _)| k.clone()),
            sub.common_prefixes.last().cloned(),
        ]
        .into_iter()
        .flatten()
        .max();
        page.entries.extend(sub.entries);
        for common in sub.common_prefixes {
            if page.common_prefixes.last() != Some(&common) {
                page.common_prefixes.push(common);
            }
        }
        if let Some(last) = last {
            after = last;
        }
        if sub.is_truncated {
            page.is_truncated = true;
            break;
        }
    }
    if page.is_truncated {
        page.next_marker = Some(after);
    }
    Ok(page)
}

pub async fn list_parts(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let upload = upload_ref(req)?;
    let max_parts = count_param(req, "max-parts", 1000, 1000)?;
    let marker = match req.query("part-number-marker") {
        None => 0,
        Some(value) => value.trim().parse::<u32>().map_err(|_| {
            S3Error::invalid_argument("Invalid part-number-marker", "part-number-marker", value)
        })?,
    };
    let record = gw
        .meta
        .upload(upload.clone())
        .await
        .map_err(map::meta_error)?
        .ok_or_else(|| S3Error::no_such_upload(&upload.upload_id.to_hex()))?;
    let page = gw
        .meta
        .list_parts(upload.clone(), marker, max_parts)
        .await
        .map_err(map::meta_error)?;
    let algorithm = record
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let owner = owner(req);
    let xml = ListPartsResult {
        bucket: req.bucket().to_string(),
        key: req.key().to_string(),
        upload_id: upload.upload_id.to_hex(),
        initiator: owner.clone(),
        owner,
        storage_class: STORAGE_CLASS_STANDARD.to_string(),
        checksum_algorithm: record
            .checksum_algorithm
            .map(|a| a.header_name().to_ascii_uppercase()),
        checksum_type: None,
        part_number_marker: marker,
        next_part_number_marker: page.next_part_number_marker.unwrap_or(0),
        max_parts: max_parts as u32,
        is_truncated: page.is_truncated,
        parts: page
            .parts
            .into_iter()
            .map(|p| PartEntry {
                part_number: p.part_number,
                last_modified_ms: p.last_modified_ms as i64,
                etag: p.etag,
                size: p.size,
                checksums: if record.checksum_algorithm.is_some() {
                    part_checksums(algorithm, p.checksum)
                } else {
                    Checksums::default()
                },
            })
            .collect(),
    }
    .to_xml();
    ex.respond(200, &[XML], &xml).await.map_err(io_error)
}
