//! Small helpers several S3 handlers share: the base64 engine of S3's
//! headers, ETag arithmetic, a part's checksum in the upload's algorithm, the
//! owner shown in listings, and the upload a request names. They live below
//! every handler, so no handler depends on another.

use crate::meta::{StoredChecksum, UploadId, UploadRecord, UploadRef};
use crate::pipeline::checksum::{hex, ChecksumAlgorithm};
use crate::s3::error::S3Error;
use crate::s3::gateway::Request;
use crate::s3::xml::response::{Checksums, Owner};

/// Base64 as S3 writes it in headers and XML (standard alphabet, padded).
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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

/// MD5 of `data` in lowercase hex.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex(&md5::Md5::digest(data))
}

/// A part's checksum in the upload's algorithm, as ListParts shows it.
pub fn part_checksums(algorithm: ChecksumAlgorithm, value: Option<String>) -> Checksums {
    let mut checksums = Checksums::default();
    let slot = match algorithm {
        ChecksumAlgorithm::Crc32 => &mut checksums.crc32,
        ChecksumAlgorithm::Crc32c => &mut checksums.crc32c,
        ChecksumAlgorithm::Crc64Nvme => &mut checksums.crc64nvme,
        ChecksumAlgorithm::Sha1 => &mut checksums.sha1,
        ChecksumAlgorithm::Sha256 => &mut checksums.sha256,
    };
    *slot = value;
    checksums
}

/// An object's stored checksum as responses show it, with its type
/// (`FULL_OBJECT`, or `COMPOSITE` for a checksum of part checksums, whose value
/// carries `-N` where `with_part_count` asks, as HEAD and completion do).
pub fn object_checksums(checksum: &StoredChecksum, with_part_count: bool) -> Checksums {
    let value = match checksum.composite_parts {
        Some(n) if with_part_count => format!("{}-{n}", checksum.value),
        _ => checksum.value.clone(),
    };
    let mut checksums = part_checksums(checksum.algorithm, Some(value));
    let kind = if checksum.composite_parts.is_some() {
        "COMPOSITE"
    } else {
        "FULL_OBJECT"
    };
    checksums.checksum_type = Some(kind.into());
    checksums
}

/// The upload a request names, or NoSuchUpload.
pub fn upload_ref(req: &Request) -> Result<UploadRef, S3Error> {
    let id = req.route.upload_id.as_deref().unwrap_or("");
    let upload_id = UploadId::from_hex(id).ok_or_else(|| S3Error::no_such_upload(id))?;
    Ok(UploadRef {
        project: req.project(),
        bucket: req.bucket().to_string(),
        key: req.key().to_string(),
        upload_id,
    })
}

/// The algorithm of a part's stored checksum: the upload's, else CRC64NVME,
/// which the pipeline computes on every write and which combines into a
/// whole-object CRC64NVME when the upload completes.
pub fn part_algorithm(upload: &UploadRecord) -> ChecksumAlgorithm {
    upload
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme)
}

/// The owner listings show: the bucket's project.
pub fn owner(req: &Request) -> Owner {
    Owner {
        id: req.project().to_hex(),
        display_name: None,
    }
}
