//! Object operations: PutObject, GetObject and HeadObject (ranges, conditions,
//! response overrides, checksums, versions and delete markers), DeleteObject
//! and DeleteObjects. The body of a write is received by `body::receive`,
//! shared with UploadPart.

use crate::auth::Action;
use crate::clock::unix_now_ms;
use crate::http::conn::Exchange;
use crate::meta::{
    FoundVersion, Mutation, MutationOutcome, ObjectRecord, Precondition, Version, VersionBody,
    WhichVersion,
};
use crate::object_io::ObjectReader;
use crate::pipeline::checksum::ChecksumAlgorithm;
use crate::s3::body::{read_small_body, receive};
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::gateway::{Gateway, Request};
use crate::s3::headers::{
    check_no_customer_key_on_read, check_read_conditions, check_write_encryption, checksum_headers,
    delete_condition, object_headers, tags_from_request, write_condition, ObjectHeaders, SSE_S3,
};
use crate::s3::lock::{lock_from_headers, lock_headers};
use crate::s3::map::io_error;
use crate::s3::versioning::{read_version_header, version_header};
use crate::s3::xml::quote_etag;
use crate::s3::xml::request::{parse_delete, ObjectIdentifier};
use crate::s3::xml::response::{DeleteOutcome, DeleteResult};
use crate::s3::{authz, extents, map, names, write};

/// Bodies larger than this are preceded by a check that the bucket exists
/// (and of the write's condition), so a doomed upload is refused before it is sent.
const PRECHECK_BYTES_MIN: u64 = 1 << 20;

pub async fn put_object(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    check_write_encryption(&ex.head)?;
    let headers = ObjectHeaders::from_request(&ex.head)?;
    let condition = authz::write_condition(req, write_condition(&ex.head)?)?;
    let lock = lock_from_headers(&ex.head, unix_now_ms())?;
    let tags = tags_from_request(&ex.head)?;
    // Fail fast, before a large body travels (the commit checks both again);
    // for a small body the extra metadata read would cost more than it saves.
    let large = ex.declared_length().is_none_or(|n| n > PRECHECK_BYTES_MIN);
    let existing = if condition.is_some() || large {
        gw.meta
            .object(
                req.project(),
                req.bucket().to_string(),
                req.key().to_string(),
            )
            .await
            .map_err(map::meta_error)?
    } else {
        None
    };
    match (&condition, &existing) {
        (Some(Precondition::IfNoneMatchStar), Some(_)) => {
            return Err(S3Error::new(C::PreconditionFailed))
        }
        (Some(Precondition::IfMatch(_)), None) => return Err(S3Error::no_such_key(req.key())),
        (Some(Precondition::IfMatch(etag)), Some(object)) if *etag != object.etag => {
            return Err(S3Error::new(C::PreconditionFailed))
        }
        _ => {}
    }
    drop(existing);
    // Opened before the body travels: no pieces are written for a key that
    // cannot seal them.
    req.caller.root_key().map_err(map::credential_error)?;
    let received = receive(gw, ex, req, None).await?;
    let checksum = received.checksum(ChecksumAlgorithm::Crc64Nvme);
    let identity = extents::object_identity(req.project(), req.bucket(), req.key());
    let size = received.stored.digest.plaintext_bytes;
    let (body, new_segments) = extents::seal(
        received.stored.extents,
        req.caller.root_key().map_err(map::credential_error)?,
        &identity,
    );
    let record = ObjectRecord {
        size,
        etag: received.etag.clone(),
        last_modified_ms: unix_now_ms(),
        checksum: Some(checksum.clone()),
        content_type: headers.content_type,
        headers: headers.headers,
        user_metadata: headers.user_metadata,
        part_sizes: Vec::new(),
        extents: body,
        tags,
    };
    let mutation = Mutation::PutObject {
        project: req.project(),
        bucket: req.bucket().to_string(),
        key: req.key().to_string(),
        record,
        new_segments,
        shared_segments: Vec::new(),
        condition,
        lock,
    };
    let outcome = write::commit_written(gw, mutation).await?;
    let etag = quote_etag(&received.etag);
    let mut response = vec![("etag", etag.as_str()), SSE_S3];
    let version = version_header(outcome.versioning, outcome.version);
    if let Some(version) = &version {
        response.push(("x-amz-version-id", version.as_str()));
    }
    let checksum_header = received
        .claims
        .algorithm
        .map(|a| format!("x-amz-checksum-{}", a.header_name()));
    if let Some(name) = &checksum_header {
        response.push((name.as_str(), checksum.value.as_str()));
    }
    ex.respond(200, &response, b"")
        .await
        .map_err(|e| S3Error::with_message(C::InternalError, e.to_string()))
}

/// A `Range` header resolved against an object's size.
#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    Whole,
    Part(std::ops::Range<u64>),
    Unsatisfiable,
}

/// RFC 9110 byte ranges, as S3 reads them: one range; a header S3 cannot
/// parse (or several ranges) is ignored and the whole object served.
fn parse_range(header: &str, size: u64) -> RangeSpec {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeSpec::Whole;
    };
    if spec.contains(',') {
        return RangeSpec::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeSpec::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => {
            if first >= size {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Part(first..last.saturating_add(1).min(size))
            }
        }
        (Ok(first), Err(_)) if last.is_empty() => {
            if first >= size {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Part(first..size)
            }
        }
        (Err(_), Ok(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Part(size.saturating_sub(suffix)..size)
            }
        }
        _ => RangeSpec::Whole,
    }
}

/// An object version as a GET or HEAD reads it.
pub struct ReadVersion {
    pub version: Version,
    /// The `x-amz-version-id` the response shows, if any.
    pub version_header: Option<String>,
    pub record: ObjectRecord,
    pub infos: Vec<crate::meta::SegmentInfo>,
}

/// The version a GET or HEAD reads: an object with its segments, or the
/// error S3 gives for a missing key or version, or a delete marker (404 when
/// it is the latest, 405 when named; both with `x-amz-delete-marker`).
pub async fn read_version(gw: &Gateway, req: &Request) -> Result<ReadVersion, S3Error> {
    let which = req.route.version_id.unwrap_or(WhichVersion::Latest);
    let found = gw
        .meta
        .object_version(
            req.project(),
            req.bucket().to_string(),
            req.key().to_string(),
            which,
        )
        .await
        .map_err(map::meta_error)?;
    match found {
        None if which == WhichVersion::Latest => Err(S3Error::no_such_key(req.key())),
        None => Err(S3Error::no_such_version(
            req.key(),
            req.query("versionId").unwrap_or(""),
        )),
        Some(FoundVersion {
            version,
            versioning,
            body: VersionBody::Object((record, infos)),
        }) => Ok(ReadVersion {
            version_header: read_version_header(
                versioning,
                &version,
                which != WhichVersion::Latest,
            ),
            version,
            record,
            infos,
        }),
        Some(FoundVersion {
            version,
            body: VersionBody::DeleteMarker { .. },
            ..
        }) => {
            let error = if which == WhichVersion::Latest {
                S3Error::no_such_key(req.key())
            } else {
                S3Error::new(C::MethodNotAllowed)
            };
            Err(error
                .header("x-amz-delete-marker", "true")
                .header("x-amz-version-id", version.display()))
        }
    }
}

pub async fn get_object(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let ReadVersion {
        version,
        version_header,
        record,
        infos,
    } = read_version(gw, req).await?;
    check_no_customer_key_on_read(&ex.head)?;
    let mut headers = object_headers(&record);
    if let Some(id) = version_header {
        headers.push(("x-amz-version-id".into(), id));
    }
    headers.extend(lock_headers(&version.lock));
    if let Some(status) = check_read_conditions(&ex.head, "", &record)? {
        let keep: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(n, _)| n == "etag" || n == "last-modified")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        return ex.respond(status, &keep, b"").await.map_err(io_error);
    }
    let (status, range) = response_range(ex, req, &record, &mut headers)?;
    add_response_headers(ex, req, &record, &range, &mut headers);
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let length = range.end - range.start;
    if ex.is_head_request() || length == 0 {
        return ex
            .start_response(status, &header_refs, length)
            .await
            .map_err(io_error);
    }
    let identity = extents::object_identity(req.project(), req.bucket(), req.key());
    let body = extents::open(
        &record.extents,
        &infos,
        req.caller.root_key().map_err(map::credential_error)?,
        &identity,
    )?;
    let mut reader =
        ObjectReader::new(&gw.pipeline, &gw.stores, &body, range).map_err(map::object_error)?;
    // The first window is decoded before the head goes out, so an object that
    // cannot be read at all gets an error rather than a cut-off body.
    let first = reader.next_chunk().await.map_err(map::object_error)?;
    ex.start_response(status, &header_refs, length)
        .await
        .map_err(io_error)?;
    // Each window goes to the socket while the next is read and decoded.
    let mut chunk = first;
    while let Some(data) = chunk {
        let (sent, next) =
            futures_lite::future::zip(ex.send_body(&data), reader.next_chunk()).await;
        sent.map_err(io_error)?;
        chunk = next.map_err(map::object_error)?;
    }
    record_read(gw, &reader);
    Ok(())
}

/// The status and byte range a GET or HEAD answers with (`partNumber` or
/// `Range`), adding the headers that describe them.
fn response_range(
    ex: &Exchange<'_>,
    req: &Request,
    record: &ObjectRecord,
    headers: &mut Vec<(String, String)>,
) -> Result<(u16, std::ops::Range<u64>), S3Error> {
    let size = record.size;
    let mut status = 200;
    let range = if let Some(part) = req.route.part_number {
        let (range, parts) = part_range(record, part)?;
        headers.push(("x-amz-mp-parts-count".into(), parts.to_string()));
        if parts > 1 || range.end - range.start != size {
            status = 206;
        }
        range
    } else {
        match ex.head.header_str("range").map(|r| parse_range(r, size)) {
            None | Some(RangeSpec::Whole) => 0..size,
            Some(RangeSpec::Part(range)) => {
                status = 206;
                range
            }
            Some(RangeSpec::Unsatisfiable) => {
                return Err(S3Error::invalid_range(
                    size,
                    ex.head.header_str("range").unwrap_or(""),
                ))
            }
        }
    };
    if status == 206 {
        headers.push((
            "content-range".into(),
            format!(
                "bytes {}-{}/{size}",
                range.start,
                range.end.saturating_sub(1).max(range.start)
            ),
        ));
    }
    Ok((status, range))
}

/// `Accept-Ranges`, the checksum of a whole-object read when asked for, and
/// the `response-*` overrides of the query.
fn add_response_headers(
    ex: &Exchange<'_>,
    req: &Request,
    record: &ObjectRecord,
    range: &std::ops::Range<u64>,
    headers: &mut Vec<(String, String)>,
) {
    headers.push(("accept-ranges".into(), "bytes".into()));
    let checksum_mode = ex
        .head
        .header_str("x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
    if let (true, Some(checksum), true) = (
        checksum_mode,
        &record.checksum,
        range.start == 0 && range.end == record.size,
    ) {
        headers.extend(checksum_headers(checksum));
    }
    for (param, header) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ] {
        if let Some(value) = req.query(param) {
            headers.retain(|(n, _)| n != header);
            headers.push((header.to_string(), value.to_string()));
        }
    }
}

/// Adds a read's piece transfers and time to this core's metrics.
fn record_read(gw: &Gateway, reader: &ObjectReader<'_>) {
    use crate::metrics::CoreMetrics;
    let counters = gw.counters();
    counters.stage(crate::metrics::Stage::Read, reader.read_time);
    CoreMetrics::add(&counters.piece_reads, reader.pieces_read);
    CoreMetrics::add(&counters.piece_reads_overtaken, reader.pieces_overtaken);
    CoreMetrics::add(
        &counters.piece_reads_failed,
        reader.piece_failures.len() as u64,
    );
    CoreMetrics::add(
        &counters.stripes_rebuilt,
        u64::from(reader.report.stripes_rebuilt),
    );
}

/// The byte range of part `part` of an object, and its part count.
fn part_range(record: &ObjectRecord, part: u32) -> Result<(std::ops::Range<u64>, usize), S3Error> {
    if record.part_sizes.is_empty() {
        return if part == 1 {
            Ok((0..record.size, 1))
        } else {
            Err(S3Error::new(C::InvalidPartNumber))
        };
    }
    let index = part as usize - 1;
    if index >= record.part_sizes.len() {
        return Err(S3Error::new(C::InvalidPartNumber));
    }
    let start: u64 = record.part_sizes[..index].iter().sum();
    Ok((
        start..start + record.part_sizes[index],
        record.part_sizes.len(),
    ))
}

/// What a delete's response says: `x-amz-delete-marker` when it created or
/// removed a marker, and the version it created or removed.
fn delete_headers(outcome: &MutationOutcome, which: WhichVersion) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if outcome.delete_marker {
        headers.push(("x-amz-delete-marker".into(), "true".into()));
    }
    let shown = match which {
        WhichVersion::Latest => version_header(outcome.versioning, outcome.version),
        // A named version is echoed back, deleted or not.
        _ => Some(
            outcome
                .version
                .map_or_else(|| which.text(), |v| v.display()),
        ),
    };
    if let Some(version) = shown {
        headers.push(("x-amz-version-id".into(), version));
    }
    headers
}

pub async fn delete_object(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let which = req.route.version_id.unwrap_or(WhichVersion::Latest);
    let condition = delete_condition(
        ex.head.header_str("if-match"),
        ex.head.header_str("x-amz-if-match-last-modified-time"),
        ex.head.header_str("x-amz-if-match-size"),
    )?;
    let outcome = gw
        .meta
        .commit(Mutation::DeleteObject {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: req.key().to_string(),
            which,
            now_ms: unix_now_ms(),
            bypass_governance: authz::bypass_governance(req, &ex.head)?,
            condition,
        })
        .await
        .map_err(map::meta_error)?;
    let headers = delete_headers(&outcome, which);
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    ex.respond(204, &refs, b"").await.map_err(io_error)
}

/// One key's `<Deleted>` entry: the version named, or the marker made or removed.
fn deleted(object: &ObjectIdentifier, outcome: Option<MutationOutcome>) -> DeleteOutcome {
    let marker = outcome
        .filter(|o| o.delete_marker)
        .and_then(|o| o.version)
        .map(|v| v.display());
    DeleteOutcome::Deleted {
        key: object.key.clone(),
        version_id: object.version_id.clone(),
        delete_marker_version_id: marker,
    }
}

pub async fn delete_objects(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let (body, claims) = read_small_body(ex, req, gw.config.limits.xml_body_bytes_max).await?;
    if claims.content_md5.is_none() && claims.algorithm.is_none() {
        return Err(S3Error::invalid_request(
            "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
        ));
    }
    let request = parse_delete(&body)?;
    let bypass_governance = authz::bypass_governance(req, &ex.head)?;
    // One mutation per key, submitted together so they share group commits.
    let mut results = Vec::with_capacity(request.objects.len());
    let mut mutations = Vec::new();
    for object in &request.objects {
        if let Err(e) = names::validate_key(&object.key) {
            let e = S3Error::from(e);
            results.push(Some(Err(e)));
            continue;
        }
        let which = match object.version_id.as_deref().map(WhichVersion::parse) {
            None => WhichVersion::Latest,
            Some(Some(which)) => which,
            Some(None) => {
                results.push(Some(Err(S3Error::no_such_version(
                    &object.key,
                    object.version_id.as_deref().unwrap_or(""),
                ))));
                continue;
            }
        };
        if let Err(e) = authz::allows(req, Action::Delete, req.bucket(), &object.key) {
            results.push(Some(Err(e)));
            continue;
        }
        let size = object.size.map(|s| s.to_string());
        let condition = match delete_condition(
            object.etag.as_deref(),
            object.last_modified_time.as_deref(),
            size.as_deref(),
        ) {
            Ok(condition) => condition,
            Err(e) => {
                results.push(Some(Err(e)));
                continue;
            }
        };
        results.push(None);
        mutations.push(Mutation::DeleteObject {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: object.key.clone(),
            which,
            now_ms: unix_now_ms(),
            bypass_governance,
            condition,
        });
    }
    let mut committed = gw.meta.commit_all(mutations).await.into_iter();
    let mut outcomes = Vec::with_capacity(request.objects.len());
    for (object, early) in request.objects.iter().zip(results) {
        let result = match early {
            Some(result) => result.map(|()| None),
            None => committed
                .next()
                .expect("one result per mutation")
                .map(Some)
                .map_err(map::meta_error),
        };
        outcomes.push(match result {
            Ok(outcome) => deleted(object, outcome),
            Err(e) => {
                if e.code() == C::NoSuchBucket {
                    return Err(e);
                }
                DeleteOutcome::Error {
                    key: object.key.clone(),
                    version_id: object.version_id.clone(),
                    code: e.code(),
                    message: e.message().to_string(),
                }
            }
        });
    }
    let xml = DeleteResult {
        quiet: request.quiet,
        outcomes,
    }
    .to_xml();
    ex.respond(200, &[("content-type", "application/xml")], &xml)
        .await
        .map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases = [
            ("bytes=0-9", 100, RangeSpec::Part(0..10)),
            ("bytes=90-200", 100, RangeSpec::Part(90..100)),
            ("bytes=10-", 100, RangeSpec::Part(10..100)),
            ("bytes=-10", 100, RangeSpec::Part(90..100)),
            ("bytes=-1000", 100, RangeSpec::Part(0..100)),
            ("bytes=100-", 100, RangeSpec::Unsatisfiable),
            ("bytes=100-200", 100, RangeSpec::Unsatisfiable),
            ("bytes=-0", 100, RangeSpec::Unsatisfiable),
            ("bytes=0-", 0, RangeSpec::Unsatisfiable),
            ("bytes=5-1", 100, RangeSpec::Whole),
            ("bytes=0-1,5-6", 100, RangeSpec::Whole),
            ("items=0-1", 100, RangeSpec::Whole),
            ("bytes=x-1", 100, RangeSpec::Whole),
        ];
        for (header, size, want) in cases {
            assert_eq!(parse_range(header, size), want, "{header} of {size}");
        }
    }
}
