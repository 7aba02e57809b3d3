//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload
//! and AbortMultipartUpload. A part is stored like an object (its own segments,
//! keys wrapped under the part's identity); completing an upload moves the
//! parts' segments into the object by rewrapping their keys — no data moves.

use base64::Engine as _;

use crate::clock::unix_now_ms;
use crate::http::conn::Exchange;
use crate::meta::{
    parts_digest, Extent, MetaError, Mutation, ObjectRecord, PartRecord, StoredChecksum, UploadId,
    UploadRecord, UploadRef, Version,
};
use crate::pipeline::checksum::{ChecksumAlgorithm, ChecksumState};
use crate::s3::body::{read_small_body, receive};
use crate::s3::bucket_config::tagging::TagSet;
use crate::s3::common::{
    etag_digest_input, md5_hex, object_checksums, part_algorithm, upload_ref, B64,
};
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::gateway::{Gateway, Request};
use crate::s3::headers::{
    check_customer_key, check_write_encryption, tags_from_request, write_condition, ObjectHeaders,
    SSE_S3, TAGGING,
};
use crate::s3::lock::{lock_from, lock_from_headers, LOCK_HEADERS};
use crate::s3::map::io_error;
use crate::s3::versioning::version_header;
use crate::s3::xml::quote_etag;
use crate::s3::xml::request::{parse_complete_multipart_upload, CompletedPart};
use crate::s3::xml::response::{CompleteMultipartUploadResult, InitiateMultipartUploadResult};
use crate::s3::{authz, extents, map, write};

const XML: (&str, &str) = ("content-type", "application/xml");
/// S3's smallest part, but for the last.
pub const PART_BYTES_MIN: u64 = 5 << 20;

pub async fn create(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    check_write_encryption(&ex.head)?;
    let headers = ObjectHeaders::from_request(&ex.head)?;
    let checksum_algorithm = match ex.head.header_str("x-amz-checksum-algorithm") {
        None => None,
        Some(name) => Some(ChecksumAlgorithm::from_name(name.trim()).ok_or_else(|| {
            S3Error::invalid_request(format!("Checksum algorithm {name} is not supported"))
        })?),
    };
    if let Some(kind) = ex.head.header_str("x-amz-checksum-type") {
        let supported = match (kind.trim(), checksum_algorithm) {
            ("COMPOSITE", Some(a)) => a != ChecksumAlgorithm::Crc64Nvme,
            ("FULL_OBJECT", Some(a)) => a == ChecksumAlgorithm::Crc64Nvme,
            _ => false,
        };
        if !supported {
            return Err(S3Error::not_implemented(format!(
                "x-amz-checksum-type {kind} with this algorithm: multipart checksums here are FULL_OBJECT for CRC64NVME and COMPOSITE for the others"
            )));
        }
    }
    // The lock and tags asked for are checked now and applied at completion:
    // their headers travel with the upload's stored headers.
    lock_from_headers(&ex.head, unix_now_ms())?;
    tags_from_request(&ex.head)?;
    let mut stored_headers = headers.headers;
    for name in LOCK_HEADERS.iter().chain([&TAGGING]) {
        if let Some(value) = ex.head.header_str(name) {
            stored_headers.push((name.to_string(), value.trim().to_string()));
        }
    }
    let upload_id = UploadId::random();
    gw.meta
        .commit(Mutation::CreateUpload {
            project: req.project(),
            bucket: req.bucket().to_string(),
            record: UploadRecord {
                upload_id,
                key: req.key().to_string(),
                initiated_ms: unix_now_ms(),
                content_type: headers.content_type,
                headers: stored_headers,
                user_metadata: headers.user_metadata,
                checksum_algorithm,
            },
        })
        .await
        .map_err(map::meta_error)?;
    let xml = InitiateMultipartUploadResult {
        bucket: req.bucket().to_string(),
        key: req.key().to_string(),
        upload_id: upload_id.to_hex(),
    }
    .to_xml();
    let algorithm = checksum_algorithm.map(|a| a.header_name().to_ascii_uppercase());
    let mut response = vec![XML, SSE_S3];
    if let Some(a) = &algorithm {
        response.push(("x-amz-checksum-algorithm", a.as_str()));
    }
    ex.respond(200, &response, &xml).await.map_err(io_error)
}

pub async fn upload_part(
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
        .expect("routed UploadPart has a part number");
    let algorithm = part_algorithm(&record);
    // Opened before the body travels: no pieces are written for a key that
    // cannot seal them.
    req.caller.root_key().map_err(map::credential_error)?;
    let received = receive(gw, ex, req, Some(algorithm)).await?;
    if let Some(claimed) = received.claims.algorithm.filter(|a| *a != algorithm) {
        if record.checksum_algorithm.is_some() {
            write::discard_written(gw, &received.stored.extents);
            return Err(S3Error::invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                algorithm.header_name(),
                claimed.header_name()
            )));
        }
    }
    let part_checksum = match &received.stored.digest.checksum {
        Some(value) if value.algorithm == algorithm => B64.encode(&value.bytes),
        _ => B64.encode(received.stored.digest.crc64nvme.to_be_bytes()),
    };
    let identity = extents::part_identity(
        req.project(),
        req.bucket(),
        req.key(),
        upload.upload_id,
        part_number,
    );
    let size = received.stored.digest.plaintext_bytes;
    let claimed_value = received.stored.digest.checksum.clone();
    let claimed_algorithm = received.claims.algorithm;
    let (body, new_segments) = extents::seal(
        received.stored.extents,
        req.caller.root_key().map_err(map::credential_error)?,
        &identity,
    );
    let mutation = Mutation::PutPart {
        upload,
        record: PartRecord {
            part_number,
            size,
            etag: received.etag.clone(),
            last_modified_ms: unix_now_ms(),
            checksum: Some(part_checksum),
            extents: body,
        },
        new_segments,
        shared_segments: Vec::new(),
        may_replace: authz::may_replace_part(req),
    };
    write::commit_written(gw, mutation).await?;
    let etag = quote_etag(&received.etag);
    let mut response = vec![
        ("etag".to_string(), etag),
        (SSE_S3.0.to_string(), SSE_S3.1.to_string()),
    ];
    if let (Some(a), Some(value)) = (claimed_algorithm, claimed_value) {
        response.push((
            format!("x-amz-checksum-{}", a.header_name()),
            B64.encode(&value.bytes),
        ));
    }
    let refs: Vec<(&str, &str)> = response
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    ex.respond(200, &refs, b"").await.map_err(io_error)
}

/// The checksum value a CompleteMultipartUpload request gives for a part, if any.
fn claimed_part_checksum(part: &CompletedPart, algorithm: ChecksumAlgorithm) -> Option<&str> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => part.checksum_crc32.as_deref(),
        ChecksumAlgorithm::Crc32c => part.checksum_crc32c.as_deref(),
        ChecksumAlgorithm::Crc64Nvme => part.checksum_crc64nvme.as_deref(),
        ChecksumAlgorithm::Sha1 => part.checksum_sha1.as_deref(),
        ChecksumAlgorithm::Sha256 => part.checksum_sha256.as_deref(),
    }
}

/// The object's checksum from its parts': CRC64NVME combined into the
/// checksum of the whole object (S3's FULL_OBJECT), the others as S3's
/// COMPOSITE checksum of checksums, `<base64>-<parts>`.
fn object_checksum(
    algorithm: ChecksumAlgorithm,
    parts: &[&PartRecord],
) -> Result<StoredChecksum, S3Error> {
    let decoded: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| {
            p.checksum
                .as_deref()
                .and_then(|c| B64.decode(c).ok())
                .filter(|b| b.len() == algorithm.digest_bytes())
                .ok_or_else(|| {
                    S3Error::with_message(C::InvalidPart, "a part has no stored checksum")
                        .field("PartNumber", p.part_number.to_string())
                })
        })
        .collect::<Result<_, _>>()?;
    if algorithm == ChecksumAlgorithm::Crc64Nvme {
        let mut crc = 0u64;
        for (i, (part, bytes)) in parts.iter().zip(&decoded).enumerate() {
            let value = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
            crc = if i == 0 {
                value
            } else {
                crc_fast::checksum_combine(crc_fast::CrcAlgorithm::Crc64Nvme, crc, value, part.size)
            };
        }
        return Ok(StoredChecksum {
            algorithm,
            value: B64.encode(crc.to_be_bytes()),
            composite_parts: None,
        });
    }
    let mut state = ChecksumState::new(algorithm);
    for bytes in &decoded {
        state.update(bytes);
    }
    Ok(StoredChecksum {
        algorithm,
        value: B64.encode(state.finish().bytes),
        composite_parts: Some(parts.len() as u32),
    })
}

pub async fn complete(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let upload = upload_ref(req)?;
    let condition = authz::write_condition(req, write_condition(&ex.head)?)?;
    let (body, _) = read_small_body(ex, req, gw.config.limits.xml_body_bytes_max).await?;
    let request = parse_complete_multipart_upload(&body)?;
    if request.parts.is_empty() {
        return Err(S3Error::with_message(
            C::MalformedXML,
            "You must specify at least one part",
        ));
    }
    request.check_part_order()?;
    let found = gw
        .meta
        .upload(upload.clone())
        .await
        .map_err(map::meta_error)?;
    let Some(record) = found else {
        return replay_completion(gw, ex, req, upload, &request.parts).await;
    };
    let page = gw
        .meta
        .list_parts(upload.clone(), 0, crate::meta::PART_NUMBER_MAX as usize)
        .await
        .map_err(map::meta_error)?;
    let algorithm = part_algorithm(&record);
    let used = parts_used(&upload, &request.parts, &page.parts, algorithm)?;
    let etag = multipart_etag(&used);
    let checksum = object_checksum(algorithm, &used)?;
    let (stashed, object_headers): (Vec<_>, Vec<_>) = record
        .headers
        .iter()
        .cloned()
        .partition(|(name, _)| LOCK_HEADERS.contains(&name.as_str()) || name == TAGGING);
    let find = |name: &str| {
        stashed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    // Checked against the clock when the upload was created.
    let lock = lock_from(find, 0)?;
    let tags = match find(TAGGING) {
        Some(value) => TagSet::from_header(value)?.into_pairs(),
        None => Vec::new(),
    };
    let object = ObjectRecord {
        size: used.iter().map(|p| p.size).sum(),
        etag: etag.clone(),
        last_modified_ms: unix_now_ms(),
        checksum: Some(checksum.clone()),
        content_type: record.content_type.clone(),
        headers: object_headers,
        user_metadata: record.user_metadata.clone(),
        part_sizes: used.iter().map(|p| p.size).collect(),
        extents: object_extents(req, &upload, &used)?,
        tags,
    };
    let parts_used = used
        .iter()
        .map(|p| (p.part_number, p.etag.clone()))
        .collect();
    let committed = gw
        .meta
        .commit(Mutation::CompleteUpload {
            upload: upload.clone(),
            parts_used,
            record: object,
            condition,
            lock,
        })
        .await;
    let outcome = match committed {
        // Another completion of this upload won the race.
        Err(MetaError::NoSuchUpload) => {
            return replay_completion(gw, ex, req, upload, &request.parts).await
        }
        other => other.map_err(map::meta_error)?,
    };
    let shown = record.checksum_algorithm.map(|_| &checksum);
    let xml = complete_result(gw, ex, req, shown, etag);
    let version = version_header(outcome.versioning, outcome.version);
    respond_completed(ex, &xml, version.as_deref()).await
}

/// The uploaded parts a completion names, checked: each exists with the
/// ETag (and checksum) the client gives, and all but the last are at least
/// `PART_BYTES_MIN`.
fn parts_used<'p>(
    upload: &UploadRef,
    asked_parts: &[CompletedPart],
    uploaded: &'p [PartRecord],
    algorithm: ChecksumAlgorithm,
) -> Result<Vec<&'p PartRecord>, S3Error> {
    let mut used: Vec<&PartRecord> = Vec::with_capacity(asked_parts.len());
    for (i, asked) in asked_parts.iter().enumerate() {
        let invalid = || {
            S3Error::new(C::InvalidPart)
                .field("UploadId", upload.upload_id.to_hex())
                .field("PartNumber", asked.part_number.to_string())
                .field("ETag", asked.etag.clone())
        };
        let part = uploaded
            .iter()
            .find(|p| p.part_number == asked.part_number)
            .filter(|p| p.etag == asked.etag)
            .ok_or_else(invalid)?;
        if let Some(claimed) = claimed_part_checksum(asked, algorithm) {
            if Some(claimed.trim()) != part.checksum.as_deref() {
                return Err(invalid());
            }
        }
        let last = i + 1 == asked_parts.len();
        if !last && part.size < PART_BYTES_MIN {
            return Err(S3Error::new(C::EntityTooSmall)
                .field("ProposedSize", part.size.to_string())
                .field("MinSizeAllowed", PART_BYTES_MIN.to_string())
                .field("PartNumber", part.part_number.to_string())
                .field("ETag", part.etag.clone()));
        }
        used.push(part);
    }
    Ok(used)
}

/// S3's multipart ETag: MD5 of the parts' MD5s, then `-` and the count.
fn multipart_etag(used: &[&PartRecord]) -> String {
    let mut etag_input = Vec::with_capacity(16 * used.len());
    for part in used {
        etag_input.extend_from_slice(&etag_digest_input(&part.etag));
    }
    format!("{}-{}", md5_hex(&etag_input), used.len())
}

/// The object's extents: every used part's, keys rewrapped from the part's
/// identity to the object's (no data moves).
fn object_extents(
    req: &Request,
    upload: &UploadRef,
    used: &[&PartRecord],
) -> Result<Vec<Extent>, S3Error> {
    let target = extents::object_identity(req.project(), req.bucket(), req.key());
    let mut body = Vec::new();
    for part in used {
        let from = extents::part_identity(
            req.project(),
            req.bucket(),
            req.key(),
            upload.upload_id,
            part.part_number,
        );
        body.extend(extents::rewrap(
            &part.extents,
            req.caller.root_key().map_err(map::credential_error)?,
            &from,
            &target,
        )?);
    }
    Ok(body)
}

/// The `CompleteMultipartUploadResult` document.
/// CompleteMultipartUpload's body; `shown` is the object's checksum when the
/// upload asked for one (the answer shows it then only).
fn complete_result(
    gw: &Gateway,
    ex: &Exchange<'_>,
    req: &Request,
    shown: Option<&StoredChecksum>,
    etag: String,
) -> Vec<u8> {
    let scheme = if gw.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = ex
        .head
        .header_str("host")
        .unwrap_or("localhost")
        .to_string();
    let checksums = shown.map_or_else(Default::default, |c| object_checksums(c, true));
    CompleteMultipartUploadResult {
        location: format!("{scheme}://{host}/{}/{}", req.bucket(), req.key()),
        bucket: req.bucket().to_string(),
        key: req.key().to_string(),
        etag,
        checksums,
    }
    .to_xml()
}

/// A completion whose upload is gone: if that upload was completed within
/// `COMPLETED_UPLOAD_MEMORY_MS` with the same parts (a client retrying after a
/// lost answer, or racing itself), the first completion's answer; else
/// NoSuchUpload, as for any unknown upload.
async fn replay_completion(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
    upload: UploadRef,
    asked: &[CompletedPart],
) -> Result<(), S3Error> {
    let id = upload.upload_id.to_hex();
    let digest = parts_digest(asked.iter().map(|p| (p.part_number, p.etag.as_str())));
    let answer = gw
        .meta
        .completed_upload(upload)
        .await
        .map_err(map::meta_error)?
        .filter(|c| c.parts_digest == digest && c.kept_at(unix_now_ms()))
        .ok_or_else(|| S3Error::no_such_upload(&id))?;
    let version = Version {
        id: answer.version,
        is_null: answer.version_is_null,
        lock: Default::default(),
    };
    let version = version_header(answer.versioning, Some(version));
    let xml = complete_result(gw, ex, req, answer.checksum.as_ref(), answer.etag);
    respond_completed(ex, &xml, version.as_deref()).await
}

async fn respond_completed(
    ex: &mut Exchange<'_>,
    xml: &[u8],
    version: Option<&str>,
) -> Result<(), S3Error> {
    let mut headers = vec![XML, SSE_S3];
    if let Some(version) = version {
        headers.push(("x-amz-version-id", version));
    }
    ex.respond(200, &headers, xml).await.map_err(io_error)
}

pub async fn abort(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let upload = upload_ref(req)?;
    let id = upload.upload_id.to_hex();
    gw.meta
        .commit(Mutation::AbortUpload { upload })
        .await
        .map_err(|e| match e {
            crate::meta::MetaError::NoSuchUpload => S3Error::no_such_upload(&id),
            other => map::meta_error(other),
        })?;
    ex.respond(204, &[], b"").await.map_err(io_error)
}
