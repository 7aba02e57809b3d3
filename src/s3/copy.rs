//! Server-side copies: CopyObject and UploadPartCopy. Within a project a copy
//! shares the source's segments and rewraps their content keys for the new
//! object, so no byte is read, decrypted or written again. Only a part copy of
//! a byte range that does not line up with the source's extents streams the
//! range through the pipeline.

use base64::Engine as _;

use crate::auth::Action;
use crate::clock::unix_now_ms;
use crate::http::conn::Exchange;
use crate::http::head::RequestHead;
use crate::meta::{
    segment_ids, FoundVersion, Mutation, ObjectRecord, PartRecord, SegmentInfo, Version,
    VersionBody, Versioning, WhichVersion,
};
use crate::object_io::{ObjectReader, ObjectWriter};
use crate::pieces::SegmentId;
use crate::pipeline::checksum::{ChecksumAlgorithm, DigestRequest};
use crate::pipeline::EtagMode;
use crate::s3::body::record_write;
use crate::s3::common::{object_checksums, part_algorithm, part_checksums, upload_ref, B64};
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::gateway::{Gateway, Request};
use crate::s3::headers::{
    check_customer_key, check_write_encryption, copy_conditions_fail, tags_from_request,
    write_condition, ObjectHeaders, SSE_S3,
};
use crate::s3::lock::lock_from_headers;
use crate::s3::map::io_error;
use crate::s3::versioning::{read_version_header, version_header};
use crate::s3::xml::response::{Checksums, CopyResult};
use crate::s3::{authz, extents, map, write};

const XML: (&str, &str) = ("content-type", "application/xml");

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, URL-encoded.
fn copy_source(ex: &Exchange<'_>) -> Result<(String, String, WhichVersion), S3Error> {
    let raw = ex.head.header_str("x-amz-copy-source").unwrap_or("");
    let bad = || {
        S3Error::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            raw,
        )
    };
    let (path, query) = match raw.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (raw, None),
    };
    let mut which = WhichVersion::Latest;
    if let Some(query) = query {
        for (name, value) in crate::target::query_pairs(query) {
            if name == "versionId" {
                which = WhichVersion::parse(&value).ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Invalid version id specified",
                        "x-amz-copy-source",
                        raw,
                    )
                })?;
            }
        }
    }
    let decoded = crate::target::decode_path(path).map_err(|_| bad())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/').ok_or_else(bad)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    crate::s3::names::validate_key(key)?;
    Ok((bucket.to_string(), key.to_string(), which))
}

/// A copy's source: one version of an object, with its segments.
struct Source {
    bucket: String,
    key: String,
    /// What the request named (`Latest` when it named no version).
    which: WhichVersion,
    version: Version,
    versioning: Versioning,
    record: ObjectRecord,
    infos: Vec<SegmentInfo>,
}

impl Source {
    /// `x-amz-copy-source-version-id`, when the source has or was named by a version.
    fn version_header(&self) -> Option<String> {
        read_version_header(
            self.versioning,
            &self.version,
            self.which != WhichVersion::Latest,
        )
    }
}

/// Reads the copy source and checks the `x-amz-copy-source-if-*` conditions
/// (each failing one is 412 for a copy, never 304).
async fn source(gw: &Gateway, ex: &Exchange<'_>, req: &Request) -> Result<Source, S3Error> {
    let (bucket, key, which) = copy_source(ex)?;
    authz::allows(req, Action::Read, &bucket, &key)?;
    let found = gw
        .meta
        .object_version(req.project(), bucket.clone(), key.clone(), which)
        .await
        .map_err(|e| match e {
            crate::meta::MetaError::NoSuchBucket => S3Error::no_such_bucket(&bucket),
            other => map::meta_error(other),
        })?;
    let (version, versioning, (record, infos)) = match found {
        Some(FoundVersion {
            version,
            versioning,
            body: VersionBody::Object(object),
        }) => (version, versioning, object),
        Some(_) if which != WhichVersion::Latest => {
            return Err(S3Error::invalid_request(
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            ))
        }
        None if which != WhichVersion::Latest => {
            return Err(S3Error::no_such_version(&key, &which.text()))
        }
        _ => return Err(S3Error::no_such_key(&key)),
    };
    if copy_conditions_fail(&ex.head, &record) {
        return Err(S3Error::new(C::PreconditionFailed));
    }
    Ok(Source {
        bucket,
        key,
        which,
        version,
        versioning,
        record,
        infos,
    })
}

fn checksums_of(record: &ObjectRecord) -> Checksums {
    match &record.checksum {
        Some(c) if c.composite_parts.is_none() => object_checksums(c, false),
        _ => Checksums::default(),
    }
}

/// The copy's tags, as `x-amz-tagging-directive` says: the source's (`COPY`,
/// the default) or those of `x-amz-tagging` (`REPLACE`).
fn copy_tags(head: &RequestHead, src: &ObjectRecord) -> Result<Vec<(String, String)>, S3Error> {
    match head.header_str("x-amz-tagging-directive").map(str::trim) {
        None | Some("COPY") => Ok(src.tags.clone()),
        Some("REPLACE") => tags_from_request(head),
        Some(other) => Err(S3Error::invalid_argument(
            "Unknown tagging directive.",
            "x-amz-tagging-directive",
            other,
        )),
    }
}

pub async fn copy_object(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    check_write_encryption(&ex.head)?;
    let source = source(gw, ex, req).await?;
    let (src_bucket, src_key, src) = (&source.bucket, &source.key, &source.record);
    let replace = match ex
        .head
        .header_str("x-amz-metadata-directive")
        .map(str::trim)
    {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(S3Error::invalid_argument(
                "Unknown metadata directive.",
                "x-amz-metadata-directive",
                other,
            ))
        }
    };
    // Naming an encryption method counts as changing it, as in S3: that is
    // how tools re-encrypt objects in place (`aws s3 cp --sse AES256`).
    let encryption_named = ex.head.header("x-amz-server-side-encryption").is_some();
    // Copying an older version over its key restores it: that changes the object.
    let same_object =
        src_bucket == req.bucket() && src_key == req.key() && source.which == WhichVersion::Latest;
    if !replace && !encryption_named && same_object {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let condition = authz::write_condition(req, write_condition(&ex.head)?)?;
    let lock = lock_from_headers(&ex.head, unix_now_ms())?;
    let tags = copy_tags(&ex.head, src)?;
    let from = extents::object_identity(req.project(), src_bucket, src_key);
    let to = extents::object_identity(req.project(), req.bucket(), req.key());
    let body = extents::rewrap(
        &src.extents,
        req.caller.root_key().map_err(map::credential_error)?,
        &from,
        &to,
    )?;
    let shared: Vec<_> = segment_ids(&src.extents).collect();
    let (content_type, headers, user_metadata) = if replace {
        let h = ObjectHeaders::from_request(&ex.head)?;
        (h.content_type, h.headers, h.user_metadata)
    } else {
        (
            src.content_type.clone(),
            src.headers.clone(),
            src.user_metadata.clone(),
        )
    };
    let record = ObjectRecord {
        size: src.size,
        etag: src.etag.clone(),
        last_modified_ms: unix_now_ms(),
        checksum: src.checksum.clone(),
        content_type,
        headers,
        user_metadata,
        part_sizes: src.part_sizes.clone(),
        extents: body,
        tags,
    };
    let last_modified_ms = record.last_modified_ms;
    let outcome = gw
        .meta
        .commit(Mutation::PutObject {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: req.key().to_string(),
            record,
            new_segments: Vec::new(),
            shared_segments: shared,
            condition,
            lock,
        })
        .await
        .map_err(map::meta_error)?;
    let xml = CopyResult {
        last_modified_ms: last_modified_ms as i64,
        etag: src.etag.clone(),
        checksums: checksums_of(src),
    }
    .to_copy_object_xml();
    let mut headers = vec![XML, SSE_S3];
    let source_version = source.version_header();
    if let Some(version) = &source_version {
        headers.push(("x-amz-copy-source-version-id", version.as_str()));
    }
    let version = version_header(outcome.versioning, outcome.version);
    if let Some(version) = &version {
        headers.push(("x-amz-version-id", version.as_str()));
    }
    ex.respond(200, &headers, &xml).await.map_err(io_error)
}

/// `x-amz-copy-source-range: bytes=first-last` against a source of `size` bytes.
fn copy_range(ex: &Exchange<'_>, size: u64) -> Result<Option<std::ops::Range<u64>>, S3Error> {
    let Some(raw) = ex.head.header_str("x-amz-copy-source-range") else {
        return Ok(None);
    };
    let bad = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            raw,
        )
    };
    let (first, last) = raw
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let first: u64 = first.trim().parse().map_err(|_| bad())?;
    let last: u64 = last.trim().parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    if last >= size {
        return Err(S3Error::with_message(
            C::InvalidRange,
            format!("Range specified is not valid for source object of size: {size}"),
        ));
    }
    Ok(Some(first..last + 1))
}

pub async fn upload_part_copy(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    check_customer_key(&ex.head)?;
    let upload = upload_ref(req)?;
    let record = gw
        .meta
        .upload(upload.clone())
        .await
        .map_err(map::meta_error)?
        .ok_or_else(|| S3Error::no_such_upload(&upload.upload_id.to_hex()))?;
    let part_number = req
        .route
        .part_number
        .expect("routed UploadPartCopy has a part number");
    let source = source(gw, ex, req).await?;
    let src = &source.record;
    let range = copy_range(ex, src.size)?.unwrap_or(0..src.size);
    let algorithm = part_algorithm(&record);
    let from = extents::object_identity(req.project(), &source.bucket, &source.key);
    let to = extents::part_identity(
        req.project(),
        req.bucket(),
        req.key(),
        upload.upload_id,
        part_number,
    );
    let whole = range.start == 0 && range.end == src.size;
    let reusable_checksum = src
        .checksum
        .as_ref()
        .filter(|c| c.algorithm == algorithm && c.composite_parts.is_none())
        .map(|c| c.value.clone());
    let copy = PartCopy {
        src,
        infos: &source.infos,
        from: &from,
        to: &to,
        part_number,
        algorithm,
    };
    let (part, new_segments, shared) = match (whole, reusable_checksum) {
        // The whole source: share its segments.
        (true, Some(checksum)) => {
            let shared: Vec<_> = segment_ids(&src.extents).collect();
            (shared_part(req, &copy, checksum)?, Vec::new(), shared)
        }
        // A range, or a checksum to compute: stream it through the pipeline.
        _ => {
            let (part, new_segments) = reencoded_part(gw, req, &copy, range).await?;
            (part, new_segments, Vec::new())
        }
    };
    let etag = part.etag.clone();
    let last_modified_ms = part.last_modified_ms;
    let checksum = part.checksum.clone();
    let mutation = Mutation::PutPart {
        upload,
        record: part,
        new_segments,
        shared_segments: shared,
        may_replace: authz::may_replace_part(req),
    };
    write::commit_written(gw, mutation).await?;
    let checksums = if record.checksum_algorithm.is_some() {
        part_checksums(algorithm, checksum)
    } else {
        Checksums::default()
    };
    let xml = CopyResult {
        last_modified_ms: last_modified_ms as i64,
        etag,
        checksums,
    }
    .to_copy_part_xml();
    let mut headers = vec![XML, SSE_S3];
    let source_version = source.version_header();
    if let Some(version) = &source_version {
        headers.push(("x-amz-copy-source-version-id", version.as_str()));
    }
    ex.respond(200, &headers, &xml).await.map_err(io_error)
}

/// What UploadPartCopy copies from and to.
struct PartCopy<'a> {
    src: &'a ObjectRecord,
    /// The segments of the source's extents, read with it.
    infos: &'a [SegmentInfo],
    /// The source's and the part's identities, which content keys are bound to.
    from: &'a [u8],
    to: &'a [u8],
    part_number: u32,
    algorithm: ChecksumAlgorithm,
}

/// A part that shares the whole source's segments: keys rewrapped, no data read.
fn shared_part(
    req: &Request,
    copy: &PartCopy<'_>,
    checksum: String,
) -> Result<PartRecord, S3Error> {
    let body = extents::rewrap(
        &copy.src.extents,
        req.caller.root_key().map_err(map::credential_error)?,
        copy.from,
        copy.to,
    )?;
    let part = PartRecord {
        part_number: copy.part_number,
        size: copy.src.size,
        etag: copy.src.etag.clone(),
        last_modified_ms: unix_now_ms(),
        checksum: Some(checksum),
        extents: body,
    };
    Ok(part)
}

/// A part made by reading `range` of the source and writing it as new
/// segments (a range, or a checksum the source does not have).
async fn reencoded_part(
    gw: &Gateway,
    req: &Request,
    copy: &PartCopy<'_>,
    range: std::ops::Range<u64>,
) -> Result<(PartRecord, Vec<(SegmentId, SegmentInfo)>), S3Error> {
    let body = extents::open(
        &copy.src.extents,
        copy.infos,
        req.caller.root_key().map_err(map::credential_error)?,
        copy.from,
    )?;
    let digests = DigestRequest {
        md5: true,
        checksum: Some(copy.algorithm),
    };
    let mut writer = ObjectWriter::new(gw.pipeline.clone(), gw.stores.clone(), digests)
        .map_err(map::object_error)?;
    let mut reader =
        ObjectReader::new(&gw.pipeline, &gw.stores, &body, range).map_err(map::object_error)?;
    loop {
        match reader.next_chunk().await {
            Ok(Some(chunk)) => writer.write(&chunk).await.map_err(map::object_error)?,
            Ok(None) => break,
            Err(e) => {
                writer.abort();
                return Err(map::object_error(e));
            }
        }
    }
    let stored = writer.finish().await.map_err(map::object_error)?;
    record_write(gw, &stored.stats);
    let checksum = stored
        .digest
        .checksum
        .as_ref()
        .map(|c| B64.encode(&c.bytes));
    let etag = stored.digest.etag(EtagMode::Md5);
    let size = stored.digest.plaintext_bytes;
    let (body, new_segments) = extents::seal(
        stored.extents,
        req.caller.root_key().map_err(map::credential_error)?,
        copy.to,
    );
    let part = PartRecord {
        part_number: copy.part_number,
        size,
        etag,
        last_modified_ms: unix_now_ms(),
        checksum,
        extents: body,
    };
    Ok((part, new_segments))
}
