//! Object operations: PutObject, GetObject and HeadObject (ranges, conditions,
//! response overrides, checksums), DeleteObject and DeleteObjects. Also the
//! request-body path shared with UploadPart: payload → pipeline → pieces,
//! checked against every digest the client claimed before anything commits.

use base64::Engine as _;

use crate::auth::Action;
use crate::http::conn::Exchange;
use crate::http::head::RequestHead;
use crate::meta::{Mutation, ObjectRecord, Precondition, StoredChecksum};
use crate::object::{ObjectReader, ObjectWriter, StoredObject};
use crate::pipeline::checksum::{hex, ChecksumAlgorithm, DigestRequest, ObjectHasher};
use crate::pipeline::EtagMode;
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::gateway::{now_ms, Gateway, Request};
use crate::s3::payload::{DigestClaims, Payload};
use crate::s3::xml::request::parse_delete;
use crate::s3::xml::response::{DeleteOutcome, DeleteResult};
use crate::s3::xml::{quote_etag, unquote_etag};
use crate::s3::{authz, extents, map, names};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Bodies larger than this are preceded by a check that the bucket exists
/// (and of the write's condition), so a doomed upload is refused before it is sent.
const PRECHECK_BYTES_MIN: u64 = 1 << 20;

/// Headers S3 keeps with an object and returns on GET and HEAD.
pub const KEPT_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

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

/// A body received and stored on pieces, every claim about it checked.
pub struct Received {
    pub stored: StoredObject,
    pub claims: DigestClaims,
    pub etag: String,
}

impl Received {
    /// The checksum S3 keeps for the object: the one the client used, else
    /// CRC64NVME (S3's default), which the pipeline computes on every write.
    pub fn checksum(&self, default: ChecksumAlgorithm) -> StoredChecksum {
        match &self.stored.digest.checksum {
            Some(value) => StoredChecksum {
                algorithm: value.algorithm,
                value: B64.encode(&value.bytes),
                composite_parts: None,
            },
            None => {
                debug_assert_eq!(default, ChecksumAlgorithm::Crc64Nvme);
                StoredChecksum {
                    algorithm: ChecksumAlgorithm::Crc64Nvme,
                    value: B64.encode(self.stored.digest.crc64nvme.to_be_bytes()),
                    composite_parts: None,
                }
            }
        }
    }
}

/// Streams the request body through the pipeline onto the piece stores and
/// checks the signed payload hash, chunk signatures, length, Content-MD5 and
/// x-amz-checksum-*. On any failure the pieces written are deleted.
pub async fn receive(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
    checksum_algorithm: Option<ChecksumAlgorithm>,
) -> Result<Received, S3Error> {
    let mut claims = DigestClaims::from_headers(|name| ex.head.header_str(name).map(String::from))?;
    if claims.algorithm.is_none() {
        claims.algorithm = checksum_algorithm;
    }
    let decoded_length = ex
        .head
        .header_str("x-amz-decoded-content-length")
        .map(String::from);
    let mut payload = Payload::new(
        &req.caller.verified,
        &req.caller.signing_key,
        decoded_length.as_deref(),
        ex.declared_length(),
        gw.config.limits.object_bytes_max,
    )?;
    let md5 = gw.config.etag == EtagMode::Md5 || claims.content_md5.is_some();
    let digests = DigestRequest {
        md5,
        checksum: claims.algorithm,
    };
    // The body waits in the socket until this core has an upload slot: the
    // writer's buffers are what an upload costs in memory.
    let _slot = gw
        .uploads
        .acquire_permit(1)
        .await
        .map_err(|e| S3Error::with_message(C::InternalError, format!("upload slot: {e}")))?;
    let mut writer = ObjectWriter::new(gw.pipeline.clone(), gw.stores.clone(), digests)
        .map_err(map::object_error)?;
    loop {
        match payload.next(ex).await {
            Ok(Some(data)) => writer.write(data).await.map_err(map::object_error)?,
            Ok(None) => break,
            Err(e) => {
                writer.abort();
                return Err(e);
            }
        }
    }
    let stored = writer.finish().await.map_err(map::object_error)?;
    record_write(gw, &stored.stats);
    if let Err(e) = claims.check(&stored.digest, payload.trailers()) {
        extents::discard_written(&gw.stores, &stored.extents);
        return Err(e);
    }
    let etag = stored
        .digest
        .etag(if md5 { EtagMode::Md5 } else { EtagMode::Fast });
    Ok(Received {
        stored,
        claims,
        etag,
    })
}

/// Adds a write's stage times and piece transfers to this core's metrics.
pub fn record_write(gw: &Gateway, stats: &crate::object::WriteStats) {
    use crate::metrics::{CoreMetrics, Stage};
    let c = gw.counters();
    c.stage(Stage::Hash, stats.stages.hash);
    c.stage(Stage::Encrypt, stats.stages.encrypt);
    c.stage(Stage::Encode, stats.stages.encode);
    c.stage(Stage::PieceWrite, stats.piece_write);
    CoreMetrics::add(&c.pieces_started, stats.pieces_started);
    CoreMetrics::add(&c.pieces_committed, stats.pieces_committed);
    CoreMetrics::add(&c.pieces_cancelled, stats.pieces_cancelled);
    CoreMetrics::add(&c.pieces_failed, stats.pieces_failed);
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

pub async fn put_object(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let headers = ObjectHeaders::from_request(&ex.head)?;
    let condition = authz::write_condition(req, write_condition(&ex.head)?)?;
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
    req.caller.root_key()?;
    let received = receive(gw, ex, req, None).await?;
    let checksum = received.checksum(ChecksumAlgorithm::Crc64Nvme);
    let identity = extents::object_identity(req.project(), req.bucket(), req.key());
    let size = received.stored.digest.plaintext_bytes;
    let (body, new_segments) =
        extents::seal(received.stored.extents, req.caller.root_key()?, &identity);
    let record = ObjectRecord {
        size,
        etag: received.etag.clone(),
        last_modified_ms: now_ms(),
        checksum: Some(checksum.clone()),
        content_type: headers.content_type,
        headers: headers.headers,
        user_metadata: headers.user_metadata,
        part_sizes: Vec::new(),
        extents: body,
    };
    let outcome = gw
        .meta
        .commit(Mutation::PutObject {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: req.key().to_string(),
            record,
            new_segments: new_segments.clone(),
            shared_segments: Vec::new(),
            condition,
        })
        .await;
    if let Err(e) = outcome {
        if !matches!(e, crate::meta::MetaError::Closed) {
            extents::discard(&gw.stores, &new_segments);
        }
        return Err(map::meta_error(e));
    }
    let etag = quote_etag(&received.etag);
    let mut response = vec![("etag", etag.as_str())];
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

/// RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match,
/// If-Modified-Since. `Ok(Some(304))` to answer Not Modified.
fn check_read_conditions(
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
pub fn object_headers(record: &ObjectRecord) -> Vec<(String, String)> {
    let mut out = vec![
        ("etag".to_string(), quote_etag(&record.etag)),
        (
            "last-modified".to_string(),
            httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(record.last_modified_ms),
            ),
        ),
        (
            "content-type".to_string(),
            record
                .content_type
                .clone()
                .unwrap_or_else(|| "binary/octet-stream".to_string()),
        ),
    ];
    out.extend(record.headers.iter().cloned());
    for (name, value) in &record.user_metadata {
        out.push((
            format!("{}{name}", names::USER_METADATA_PREFIX),
            value.clone(),
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

pub async fn get_object(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let (record, infos) = gw
        .meta
        .object_with_segments(
            req.project(),
            req.bucket().to_string(),
            req.key().to_string(),
        )
        .await
        .map_err(map::meta_error)?
        .ok_or_else(|| S3Error::no_such_key(req.key()))?;
    let mut headers = object_headers(&record);
    if let Some(status) = check_read_conditions(&ex.head, "", &record)? {
        let keep: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(n, _)| n == "etag" || n == "last-modified")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        return ex.respond(status, &keep, b"").await.map_err(io_error);
    }
    let size = record.size;
    let mut status = 200;
    let range = if let Some(part) = req.route.part_number {
        let (range, parts) = part_range(&record, part)?;
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
    headers.push(("accept-ranges".into(), "bytes".into()));
    let checksum_mode = ex
        .head
        .header_str("x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
    if let (true, Some(checksum), true) = (
        checksum_mode,
        &record.checksum,
        range.start == 0 && range.end == size,
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
    let body = extents::open(&record.extents, &infos, req.caller.root_key()?, &identity)?;
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
    Ok(())
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

pub fn io_error(e: std::io::Error) -> S3Error {
    S3Error::with_message(C::InternalError, format!("connection: {e}"))
}

pub async fn delete_object(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    gw.meta
        .commit(Mutation::DeleteObject {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: req.key().to_string(),
        })
        .await
        .map_err(map::meta_error)?;
    ex.respond(204, &[], b"").await.map_err(io_error)
}

/// Reads a small request body (XML) whole, within `limit` bytes, with the
/// payload checks; returns it and the claims made about it.
pub async fn read_small_body(
    ex: &mut Exchange<'_>,
    req: &Request,
    limit: usize,
) -> Result<(Vec<u8>, DigestClaims), S3Error> {
    let claims = DigestClaims::from_headers(|name| ex.head.header_str(name).map(String::from))?;
    let decoded_length = ex
        .head
        .header_str("x-amz-decoded-content-length")
        .map(String::from);
    let mut payload = Payload::new(
        &req.caller.verified,
        &req.caller.signing_key,
        decoded_length.as_deref(),
        ex.declared_length(),
        limit as u64,
    )
    .map_err(|e| {
        if e.code == C::EntityTooLarge {
            S3Error::new(C::MaxMessageLengthExceeded)
        } else {
            e
        }
    })?;
    let mut body = Vec::new();
    while let Some(data) = payload.next(ex).await.map_err(|e| {
        if e.code == C::EntityTooLarge {
            S3Error::new(C::MaxMessageLengthExceeded)
        } else {
            e
        }
    })? {
        body.extend_from_slice(data);
    }
    let mut hasher = ObjectHasher::new(DigestRequest {
        md5: claims.content_md5.is_some(),
        checksum: claims.algorithm,
    });
    hasher.update(&body);
    let digest = hasher.finish(DigestRequest {
        md5: claims.content_md5.is_some(),
        checksum: claims.algorithm,
    });
    claims.check(&digest, payload.trailers())?;
    Ok((body, claims))
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
    // One mutation per key, submitted together so they share group commits.
    let mut results = Vec::with_capacity(request.objects.len());
    let mut mutations = Vec::new();
    for object in &request.objects {
        if let Err(e) = names::validate_key(&object.key) {
            let e = S3Error::from(e);
            results.push(Some(Err(e)));
            continue;
        }
        if object.version_id.as_deref().is_some_and(|v| v != "null") {
            results.push(Some(Err(S3Error::no_such_version(
                &object.key,
                object.version_id.as_deref().unwrap_or(""),
            ))));
            continue;
        }
        if let Err(e) = authz::allows(req, Action::Delete, req.bucket(), &object.key) {
            results.push(Some(Err(e)));
            continue;
        }
        if object.etag.is_some() || object.last_modified_time.is_some() || object.size.is_some() {
            results.push(Some(Err(S3Error::not_implemented(
                "conditional deletes (ETag, LastModifiedTime, Size) are not supported",
            ))));
            continue;
        }
        results.push(None);
        mutations.push(Mutation::DeleteObject {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: object.key.clone(),
        });
    }
    let mut committed = gw.meta.commit_all(mutations).await.into_iter();
    let mut outcomes = Vec::with_capacity(request.objects.len());
    for (object, early) in request.objects.iter().zip(results) {
        let result = match early {
            Some(result) => result,
            None => committed
                .next()
                .expect("one result per mutation")
                .map(|_| ())
                .map_err(map::meta_error),
        };
        outcomes.push(match result {
            Ok(()) => DeleteOutcome::Deleted {
                key: object.key.clone(),
                version_id: object.version_id.clone(),
            },
            Err(e) => {
                if e.code == C::NoSuchBucket {
                    return Err(e);
                }
                DeleteOutcome::Error {
                    key: object.key.clone(),
                    version_id: object.version_id.clone(),
                    code: e.code,
                    message: e.message.to_string(),
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

/// Hex of an MD5 ETag, or the bytes of any other ETag: the input of a
/// multipart ETag.
pub fn etag_digest_input(etag: &str) -> Vec<u8> {
    if etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..16)
            .map(|i| u8::from_str_radix(&etag[2 * i..2 * i + 2], 16).expect("hex"))
            .collect()
    } else {
        etag.as_bytes().to_vec()
    }
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex(&md5::Md5::digest(data))
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

    #[test]
    fn etag_lists() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
