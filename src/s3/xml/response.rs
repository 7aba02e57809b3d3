//! Writers for the XML response bodies, from plain structs the handlers fill.
//!
//! Element names, nesting and the namespace follow the S3 API reference;
//! element order follows what S3 sends (the reference's examples and recorded
//! S3 traffic), since a few clients read XML in document order. Conventions:
//! - every `*_ms` field is milliseconds since the Unix epoch, written as
//!   `2009-10-12T17:50:30.000Z`;
//! - ETags are given without quotes (quotes are tolerated) and written quoted;
//! - checksum values are base64, as in the `x-amz-checksum-*` headers;
//! - every text node is escaped; where the request asked for
//!   `encoding-type=url`, the fields S3 encodes are url-encoded first and
//!   `<EncodingType>url</EncodingType>` is written.
//!
//! Each writer returns the whole body, declaration included.

use crate::s3::error::S3ErrorCode;
use crate::s3::xml::{format_timestamp_ms, quote_etag, XmlWriter};

/// The storage class ringgate reports for every object, part and upload.
pub const STORAGE_CLASS_STANDARD: &str = "STANDARD";

/// `<Owner>` / `<Initiator>`: the canonical user ID and, optionally, a display
/// name (S3 has been dropping `DisplayName`; leave it `None` unless known).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub id: String,
    pub display_name: Option<String>,
}

/// The `x-amz-checksum-*` values of an object or part, base64, and the
/// checksum type (`FULL_OBJECT` or `COMPOSITE`) where S3 reports one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checksums {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub checksum_type: Option<String>,
}

/// One bucket of ListBuckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketEntry {
    pub name: String,
    pub creation_date_ms: i64,
    /// `<BucketRegion>`, written when set.
    pub region: Option<String>,
}

/// ListBuckets: `GET /`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListAllMyBucketsResult {
    pub owner: Owner,
    pub buckets: Vec<BucketEntry>,
    /// Set when the listing was cut at `max-buckets`; the next request's
    /// `continuation-token`.
    pub continuation_token: Option<String>,
    /// The `prefix` of the request, echoed when it had one.
    pub prefix: Option<String>,
}

/// One object of ListObjects (`<Contents>`) or ListObjectVersions (`<Version>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectEntry {
    pub key: String,
    pub last_modified_ms: i64,
    pub etag: String,
    pub size: u64,
    /// Usually [`STORAGE_CLASS_STANDARD`].
    pub storage_class: String,
    /// Written when set (ListObjectsV2 only lists owners for `fetch-owner=true`).
    pub owner: Option<Owner>,
    /// `<ChecksumAlgorithm>`, e.g. `CRC64NVME`, written when set.
    pub checksum_algorithm: Option<String>,
    /// `<ChecksumType>`, e.g. `FULL_OBJECT`, written when set.
    pub checksum_type: Option<String>,
}

/// The pagination elements that differ between ListObjects and ListObjectsV2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListPagination {
    /// ListObjects (v1).
    V1 {
        /// The request's `marker`, echoed (empty when none).
        marker: String,
        /// Written when set; S3 sets it only for truncated listings with a
        /// delimiter, but clients use it whenever present.
        next_marker: Option<String>,
    },
    /// ListObjectsV2 (`list-type=2`). `<KeyCount>` is computed: contents plus
    /// common prefixes.
    V2 {
        /// The request's `continuation-token`, echoed when it had one.
        continuation_token: Option<String>,
        /// Set when truncated: the token for the next page.
        next_continuation_token: Option<String>,
        /// The request's `start-after`, echoed when it had one.
        start_after: Option<String>,
    },
}

/// ListObjects and ListObjectsV2: `<ListBucketResult>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListBucketResult {
    pub name: String,
    /// The request's prefix (empty when none); always written.
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_keys: u32,
    /// The request had `encoding-type=url`: Key, Prefix, Delimiter, StartAfter,
    /// Marker, NextMarker and CommonPrefixes are url-encoded.
    pub encoding_type_url: bool,
    pub is_truncated: bool,
    pub contents: Vec<ObjectEntry>,
    /// The rolled-up prefixes, each written as `<CommonPrefixes><Prefix>`.
    pub common_prefixes: Vec<String>,
    pub pagination: ListPagination,
}

/// One row of ListObjectVersions, in key order, a key's versions newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    /// A delete marker's `etag`, `size` and checksums are not written.
    pub entry: ObjectEntry,
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
}

/// ListObjectVersions: versions and delete markers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListVersionsResult {
    pub name: String,
    pub prefix: String,
    /// The request's `key-marker` (empty when none).
    pub key_marker: String,
    /// The request's `version-id-marker` (empty when none).
    pub version_id_marker: String,
    /// Set when truncated.
    pub next_key_marker: Option<String>,
    /// Set when truncated on a version (not a common prefix).
    pub next_version_id_marker: Option<String>,
    pub max_keys: u32,
    pub delimiter: Option<String>,
    /// Url-encodes Key, Prefix, Delimiter, KeyMarker, NextKeyMarker, CommonPrefixes.
    pub encoding_type_url: bool,
    pub is_truncated: bool,
    pub versions: Vec<VersionRow>,
    pub common_prefixes: Vec<String>,
}

/// CreateMultipartUpload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitiateMultipartUploadResult {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
}

/// CompleteMultipartUpload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompleteMultipartUploadResult {
    /// The object's URL, e.g. `https://bucket.s3.example.com/key`.
    pub location: String,
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub checksums: Checksums,
}

/// CopyObject (`<CopyObjectResult>`) and UploadPartCopy (`<CopyPartResult>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyResult {
    pub last_modified_ms: i64,
    pub etag: String,
    pub checksums: Checksums,
}

/// One part of ListParts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartEntry {
    pub part_number: u32,
    pub last_modified_ms: i64,
    pub etag: String,
    pub size: u64,
    /// The part's checksums; `checksum_type` is not written per part.
    pub checksums: Checksums,
}

/// ListParts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPartsResult {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiator: Owner,
    pub owner: Owner,
    /// Usually [`STORAGE_CLASS_STANDARD`].
    pub storage_class: String,
    /// The upload's `x-amz-checksum-algorithm`, written when set.
    pub checksum_algorithm: Option<String>,
    /// The upload's checksum type, written when set.
    pub checksum_type: Option<String>,
    /// The request's `part-number-marker` (0 when none).
    pub part_number_marker: u32,
    /// The last part number listed (0 when none); written when truncated.
    pub next_part_number_marker: u32,
    pub max_parts: u32,
    pub is_truncated: bool,
    pub parts: Vec<PartEntry>,
}

/// GetObjectAttributes: each attribute written when asked for (and, for the
/// checksum and parts, when the object has them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectAttributes {
    /// Unquoted, as S3 writes it here.
    pub etag: Option<String>,
    pub checksum: Option<Checksums>,
    pub parts: Option<ObjectParts>,
    pub storage_class: Option<String>,
    pub object_size: Option<u64>,
}

/// GetObjectAttributes' `<ObjectParts>`: one page of a multipart object's parts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectParts {
    pub parts_count: u32,
    /// The request's `x-amz-part-number-marker` (0 when none).
    pub part_number_marker: u32,
    /// The last part number listed; written when truncated.
    pub next_part_number_marker: u32,
    pub max_parts: u32,
    pub is_truncated: bool,
    /// (part number, size).
    pub parts: Vec<(u32, u64)>,
}

/// One upload of ListMultipartUploads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadEntry {
    pub key: String,
    pub upload_id: String,
    pub initiator: Owner,
    pub owner: Owner,
    pub storage_class: String,
    pub initiated_ms: i64,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
}

/// ListMultipartUploads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListMultipartUploadsResult {
    pub bucket: String,
    /// The request's `key-marker` (empty when none).
    pub key_marker: String,
    /// The request's `upload-id-marker` (empty when none).
    pub upload_id_marker: String,
    /// Set when truncated, with `next_upload_id_marker`.
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
    pub delimiter: Option<String>,
    /// The request's prefix, echoed when it had one.
    pub prefix: Option<String>,
    pub max_uploads: u32,
    /// Url-encodes Key, Prefix, Delimiter, KeyMarker, NextKeyMarker, CommonPrefixes.
    pub encoding_type_url: bool,
    pub is_truncated: bool,
    pub uploads: Vec<UploadEntry>,
    pub common_prefixes: Vec<String>,
}

/// The outcome for one key of DeleteObjects, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Deleted, or not there to begin with (S3 reports both as deleted).
    Deleted {
        key: String,
        /// Echoes the request's `<VersionId>` when it had one.
        version_id: Option<String>,
        /// The delete created a delete marker, or removed one by version id:
        /// `<DeleteMarker>true</DeleteMarker>` and the marker's version.
        delete_marker_version_id: Option<String>,
    },
    Error {
        key: String,
        version_id: Option<String>,
        code: S3ErrorCode,
        /// Usually `code`'s default message.
        message: String,
    },
}

/// DeleteObjects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteResult {
    /// The request's `<Quiet>`: write only the errors.
    pub quiet: bool,
    pub outcomes: Vec<DeleteOutcome>,
}

fn owner(xml: &mut XmlWriter, element: &str, owner: &Owner) {
    xml.start(element);
    xml.element("ID", &owner.id);
    xml.element_opt("DisplayName", owner.display_name.as_deref());
    xml.end(element);
}

/// The checksum values, in S3's order, then `<ChecksumType>` if `with_type`.
fn checksums(xml: &mut XmlWriter, checksums: &Checksums, with_type: bool) {
    xml.element_opt("ChecksumCRC32", checksums.crc32.as_deref());
    xml.element_opt("ChecksumCRC32C", checksums.crc32c.as_deref());
    xml.element_opt("ChecksumCRC64NVME", checksums.crc64nvme.as_deref());
    xml.element_opt("ChecksumSHA1", checksums.sha1.as_deref());
    xml.element_opt("ChecksumSHA256", checksums.sha256.as_deref());
    if with_type {
        xml.element_opt("ChecksumType", checksums.checksum_type.as_deref());
    }
}

fn common_prefixes(xml: &mut XmlWriter, prefixes: &[String], url: bool) {
    for prefix in prefixes {
        xml.start("CommonPrefixes");
        xml.element_encoded("Prefix", prefix, url);
        xml.end("CommonPrefixes");
    }
}

fn encoding_type(xml: &mut XmlWriter, url: bool) {
    if url {
        xml.element("EncodingType", "url");
    }
}

impl ListAllMyBucketsResult {
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("ListAllMyBucketsResult");
        owner(&mut xml, "Owner", &self.owner);
        xml.start("Buckets");
        for bucket in &self.buckets {
            xml.start("Bucket");
            xml.element("Name", &bucket.name);
            xml.element(
                "CreationDate",
                &format_timestamp_ms(bucket.creation_date_ms),
            );
            xml.element_opt("BucketRegion", bucket.region.as_deref());
            xml.end("Bucket");
        }
        xml.end("Buckets");
        xml.element_opt("ContinuationToken", self.continuation_token.as_deref());
        xml.element_opt("Prefix", self.prefix.as_deref());
        xml.end("ListAllMyBucketsResult");
        xml.finish()
    }
}

/// `<Contents>` of ListObjects, in S3's order.
fn contents(xml: &mut XmlWriter, entry: &ObjectEntry, url: bool) {
    xml.start("Contents");
    xml.element_encoded("Key", &entry.key, url);
    xml.element("LastModified", &format_timestamp_ms(entry.last_modified_ms));
    xml.element("ETag", &quote_etag(&entry.etag));
    xml.element_opt("ChecksumAlgorithm", entry.checksum_algorithm.as_deref());
    xml.element_opt("ChecksumType", entry.checksum_type.as_deref());
    xml.element_display("Size", entry.size);
    if let Some(entry_owner) = &entry.owner {
        owner(xml, "Owner", entry_owner);
    }
    xml.element("StorageClass", &entry.storage_class);
    xml.end("Contents");
}

impl ListBucketResult {
    /// `<KeyCount>` of ListObjectsV2: keys plus common prefixes returned.
    pub fn key_count(&self) -> usize {
        self.contents.len() + self.common_prefixes.len()
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let url = self.encoding_type_url;
        let mut xml = XmlWriter::new();
        xml.start_root("ListBucketResult");
        xml.element("Name", &self.name);
        xml.element_encoded("Prefix", &self.prefix, url);
        match &self.pagination {
            ListPagination::V1 {
                marker,
                next_marker,
            } => {
                xml.element_encoded("Marker", marker, url);
                if let Some(next_marker) = next_marker {
                    xml.element_encoded("NextMarker", next_marker, url);
                }
            }
            ListPagination::V2 {
                continuation_token,
                next_continuation_token,
                start_after,
            } => {
                if let Some(start_after) = start_after {
                    xml.element_encoded("StartAfter", start_after, url);
                }
                xml.element_opt("ContinuationToken", continuation_token.as_deref());
                xml.element_opt("NextContinuationToken", next_continuation_token.as_deref());
                xml.element_display("KeyCount", self.key_count());
            }
        }
        xml.element_display("MaxKeys", self.max_keys);
        if let Some(delimiter) = &self.delimiter {
            xml.element_encoded("Delimiter", delimiter, url);
        }
        encoding_type(&mut xml, url);
        xml.element_display("IsTruncated", self.is_truncated);
        for entry in &self.contents {
            contents(&mut xml, entry, url);
        }
        common_prefixes(&mut xml, &self.common_prefixes, url);
        xml.end("ListBucketResult");
        xml.finish()
    }
}

impl ListVersionsResult {
    pub fn to_xml(&self) -> Vec<u8> {
        let url = self.encoding_type_url;
        let mut xml = XmlWriter::new();
        xml.start_root("ListVersionsResult");
        xml.element("Name", &self.name);
        xml.element_encoded("Prefix", &self.prefix, url);
        xml.element_encoded("KeyMarker", &self.key_marker, url);
        xml.element("VersionIdMarker", &self.version_id_marker);
        xml.element_display("MaxKeys", self.max_keys);
        if let Some(delimiter) = &self.delimiter {
            xml.element_encoded("Delimiter", delimiter, url);
        }
        encoding_type(&mut xml, url);
        if let Some(next_key_marker) = &self.next_key_marker {
            xml.element_encoded("NextKeyMarker", next_key_marker, url);
        }
        xml.element_opt(
            "NextVersionIdMarker",
            self.next_version_id_marker.as_deref(),
        );
        xml.element_display("IsTruncated", self.is_truncated);
        for row in &self.versions {
            version_row(&mut xml, row, url);
        }
        common_prefixes(&mut xml, &self.common_prefixes, url);
        xml.end("ListVersionsResult");
        xml.finish()
    }
}

/// A `<Version>` or `<DeleteMarker>` of ListObjectVersions.
fn version_row(xml: &mut XmlWriter, row: &VersionRow, url: bool) {
    let entry = &row.entry;
    let name = if row.delete_marker {
        "DeleteMarker"
    } else {
        "Version"
    };
    xml.start(name);
    xml.element_encoded("Key", &entry.key, url);
    xml.element("VersionId", &row.version_id);
    xml.element_display("IsLatest", row.is_latest);
    xml.element("LastModified", &format_timestamp_ms(entry.last_modified_ms));
    if !row.delete_marker {
        xml.element("ETag", &quote_etag(&entry.etag));
        xml.element_opt("ChecksumAlgorithm", entry.checksum_algorithm.as_deref());
        xml.element_opt("ChecksumType", entry.checksum_type.as_deref());
        xml.element_display("Size", entry.size);
        xml.element("StorageClass", &entry.storage_class);
    }
    if let Some(entry_owner) = &entry.owner {
        owner(xml, "Owner", entry_owner);
    }
    xml.end(name);
}

impl InitiateMultipartUploadResult {
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("InitiateMultipartUploadResult");
        xml.element("Bucket", &self.bucket);
        xml.element("Key", &self.key);
        xml.element("UploadId", &self.upload_id);
        xml.end("InitiateMultipartUploadResult");
        xml.finish()
    }
}

impl CompleteMultipartUploadResult {
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("CompleteMultipartUploadResult");
        xml.element("Location", &self.location);
        xml.element("Bucket", &self.bucket);
        xml.element("Key", &self.key);
        xml.element("ETag", &quote_etag(&self.etag));
        checksums(&mut xml, &self.checksums, true);
        xml.end("CompleteMultipartUploadResult");
        xml.finish()
    }
}

impl CopyResult {
    /// The CopyObject body, `<CopyObjectResult>`.
    pub fn to_copy_object_xml(&self) -> Vec<u8> {
        self.to_xml("CopyObjectResult", true)
    }

    /// The UploadPartCopy body, `<CopyPartResult>`.
    pub fn to_copy_part_xml(&self) -> Vec<u8> {
        self.to_xml("CopyPartResult", false)
    }

    fn to_xml(&self, root: &str, with_type: bool) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root(root);
        xml.element("LastModified", &format_timestamp_ms(self.last_modified_ms));
        xml.element("ETag", &quote_etag(&self.etag));
        checksums(&mut xml, &self.checksums, with_type);
        xml.end(root);
        xml.finish()
    }
}

impl ListPartsResult {
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("ListPartsResult");
        xml.element("Bucket", &self.bucket);
        xml.element("Key", &self.key);
        xml.element("UploadId", &self.upload_id);
        owner(&mut xml, "Initiator", &self.initiator);
        owner(&mut xml, "Owner", &self.owner);
        xml.element("StorageClass", &self.storage_class);
        xml.element_opt("ChecksumAlgorithm", self.checksum_algorithm.as_deref());
        xml.element_opt("ChecksumType", self.checksum_type.as_deref());
        xml.element_display("PartNumberMarker", self.part_number_marker);
        if self.is_truncated {
            xml.element_display("NextPartNumberMarker", self.next_part_number_marker);
        }
        xml.element_display("MaxParts", self.max_parts);
        xml.element_display("IsTruncated", self.is_truncated);
        for part in &self.parts {
            xml.start("Part");
            xml.element_display("PartNumber", part.part_number);
            xml.element("LastModified", &format_timestamp_ms(part.last_modified_ms));
            xml.element("ETag", &quote_etag(&part.etag));
            xml.element_display("Size", part.size);
            checksums(&mut xml, &part.checksums, false);
            xml.end("Part");
        }
        xml.end("ListPartsResult");
        xml.finish()
    }
}

impl ObjectAttributes {
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("GetObjectAttributesResponse");
        xml.element_opt("ETag", self.etag.as_deref());
        if let Some(c) = &self.checksum {
            xml.start("Checksum");
            checksums(&mut xml, c, true);
            xml.end("Checksum");
        }
        if let Some(parts) = &self.parts {
            xml.start("ObjectParts");
            xml.element_display("IsTruncated", parts.is_truncated);
            xml.element_display("MaxParts", parts.max_parts);
            if parts.is_truncated {
                xml.element_display("NextPartNumberMarker", parts.next_part_number_marker);
            }
            xml.element_display("PartNumberMarker", parts.part_number_marker);
            for (number, size) in &parts.parts {
                xml.start("Part");
                xml.element_display("PartNumber", number);
                xml.element_display("Size", size);
                xml.end("Part");
            }
            xml.element_display("PartsCount", parts.parts_count);
            xml.end("ObjectParts");
        }
        xml.element_opt("StorageClass", self.storage_class.as_deref());
        if let Some(size) = self.object_size {
            xml.element_display("ObjectSize", size);
        }
        xml.end("GetObjectAttributesResponse");
        xml.finish()
    }
}

impl ListMultipartUploadsResult {
    pub fn to_xml(&self) -> Vec<u8> {
        let url = self.encoding_type_url;
        let mut xml = XmlWriter::new();
        xml.start_root("ListMultipartUploadsResult");
        xml.element("Bucket", &self.bucket);
        xml.element_encoded("KeyMarker", &self.key_marker, url);
        xml.element("UploadIdMarker", &self.upload_id_marker);
        if let Some(next_key_marker) = &self.next_key_marker {
            xml.element_encoded("NextKeyMarker", next_key_marker, url);
        }
        xml.element_opt("NextUploadIdMarker", self.next_upload_id_marker.as_deref());
        if let Some(delimiter) = &self.delimiter {
            xml.element_encoded("Delimiter", delimiter, url);
        }
        if let Some(prefix) = &self.prefix {
            xml.element_encoded("Prefix", prefix, url);
        }
        xml.element_display("MaxUploads", self.max_uploads);
        encoding_type(&mut xml, url);
        xml.element_display("IsTruncated", self.is_truncated);
        for upload in &self.uploads {
            xml.start("Upload");
            xml.element_encoded("Key", &upload.key, url);
            xml.element("UploadId", &upload.upload_id);
            owner(&mut xml, "Initiator", &upload.initiator);
            owner(&mut xml, "Owner", &upload.owner);
            xml.element("StorageClass", &upload.storage_class);
            xml.element("Initiated", &format_timestamp_ms(upload.initiated_ms));
            xml.element_opt("ChecksumAlgorithm", upload.checksum_algorithm.as_deref());
            xml.element_opt("ChecksumType", upload.checksum_type.as_deref());
            xml.end("Upload");
        }
        common_prefixes(&mut xml, &self.common_prefixes, url);
        xml.end("ListMultipartUploadsResult");
        xml.finish()
    }
}

impl DeleteResult {
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("DeleteResult");
        for outcome in &self.outcomes {
            match outcome {
                DeleteOutcome::Deleted {
                    key,
                    version_id,
                    delete_marker_version_id,
                } => {
                    if self.quiet {
                        continue;
                    }
                    xml.start("Deleted");
                    xml.element("Key", key);
                    xml.element_opt("VersionId", version_id.as_deref());
                    if let Some(marker) = delete_marker_version_id {
                        xml.element("DeleteMarker", "true");
                        xml.element("DeleteMarkerVersionId", marker);
                    }
                    xml.end("Deleted");
                }
                DeleteOutcome::Error {
                    key,
                    version_id,
                    code,
                    message,
                } => {
                    xml.start("Error");
                    xml.element("Key", key);
                    xml.element_opt("VersionId", version_id.as_deref());
                    xml.element("Code", code.as_str());
                    xml.element("Message", message);
                    xml.end("Error");
                }
            }
        }
        xml.end("DeleteResult");
        xml.finish()
    }
}

/// GetBucketLocation: `<LocationConstraint>` holding the bucket's region, or
/// empty for us-east-1 (`None`), as S3 answers.
pub fn location_constraint_xml(region: Option<&str>) -> Vec<u8> {
    let mut xml = XmlWriter::new();
    match region {
        Some(region) if !region.is_empty() => {
            xml.start_root("LocationConstraint");
            xml.text(region);
            xml.end("LocationConstraint");
        }
        _ => xml.empty_root("LocationConstraint"),
    }
    xml.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

    fn text(body: Vec<u8>) -> String {
        String::from_utf8(body).unwrap()
    }

    /// Removes the indentation of a pretty-printed golden document.
    fn compact(pretty: &str) -> String {
        pretty.lines().map(str::trim).collect::<Vec<_>>().join("")
    }

    /// 2009-10-12T17:50:30.000Z, the timestamp of most reference examples.
    const OCT_2009: i64 = 1_255_369_830_000;

    fn object(key: &str, etag: &str, size: u64) -> ObjectEntry {
        ObjectEntry {
            key: key.into(),
            last_modified_ms: OCT_2009,
            etag: etag.into(),
            size,
            storage_class: STORAGE_CLASS_STANDARD.into(),
            ..ObjectEntry::default()
        }
    }

    #[test]
    fn list_all_my_buckets() {
        let result = ListAllMyBucketsResult {
            owner: Owner {
                id: "bcaf1ffd86f461ca5fb16fd081034f".into(),
                display_name: Some("webfile".into()),
            },
            buckets: vec![
                BucketEntry {
                    name: "quotes".into(),
                    creation_date_ms: 1_154_217_600_000, // 2006-07-30T00:00:00.000Z
                    region: None,
                },
                BucketEntry {
                    name: "samples".into(),
                    creation_date_ms: 1_156_550_400_000,
                    region: Some("us-east-1".into()),
                },
            ],
            continuation_token: None,
            prefix: None,
        };
        let expected = compact(&format!(
            r#"<ListAllMyBucketsResult {NS}>
                 <Owner><ID>bcaf1ffd86f461ca5fb16fd081034f</ID><DisplayName>webfile</DisplayName></Owner>
                 <Buckets>
                   <Bucket><Name>quotes</Name><CreationDate>2006-07-30T00:00:00.000Z</CreationDate></Bucket>
                   <Bucket><Name>samples</Name><CreationDate>2006-08-26T00:00:00.000Z</CreationDate><BucketRegion>us-east-1</BucketRegion></Bucket>
                 </Buckets>
               </ListAllMyBucketsResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));
    }

    #[test]
    fn list_objects_v1_as_s3_sends_it() {
        // Recorded S3 traffic (aws-sdk-s3's no_auth/list-objects.json), one entry.
        let result = ListBucketResult {
            name: "gdc-organoid-pancreatic-phs001611-2-open".into(),
            prefix: String::new(),
            delimiter: None,
            max_keys: 3,
            encoding_type_url: false,
            is_truncated: true,
            contents: vec![ObjectEntry {
                key: "0431cddc-a418-4a79-a34d-6c041394e8e4/a6ddcc84-8e4d-4c68-885c-2d51168eec97.FPKM-UQ.txt.gz".into(),
                last_modified_ms: 1_580_158_611_000,
                etag: "446fc665f99183cd0540d7656a79d3ed".into(),
                size: 386_910,
                storage_class: STORAGE_CLASS_STANDARD.into(),
                owner: Some(Owner {
                    id: "118c9f5f9e6a1a31d2f3be2a5e3aea8b3075cdc9dfbb29978656b42b7cad1c08".into(),
                    display_name: Some("dcfopen-buckets".into()),
                }),
                ..ObjectEntry::default()
            }],
            common_prefixes: vec![],
            pagination: ListPagination::V1 {
                marker: String::new(),
                next_marker: None,
            },
        };
        let expected = format!(
            "{DECL}<ListBucketResult {NS}><Name>gdc-organoid-pancreatic-phs001611-2-open</Name>\
             <Prefix></Prefix><Marker></Marker><MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>\
             <Contents><Key>0431cddc-a418-4a79-a34d-6c041394e8e4/a6ddcc84-8e4d-4c68-885c-2d51168eec97.FPKM-UQ.txt.gz</Key>\
             <LastModified>2020-01-27T20:56:51.000Z</LastModified>\
             <ETag>&quot;446fc665f99183cd0540d7656a79d3ed&quot;</ETag><Size>386910</Size>\
             <Owner><ID>118c9f5f9e6a1a31d2f3be2a5e3aea8b3075cdc9dfbb29978656b42b7cad1c08</ID>\
             <DisplayName>dcfopen-buckets</DisplayName></Owner><StorageClass>STANDARD</StorageClass>\
             </Contents></ListBucketResult>"
        );
        assert_eq!(text(result.to_xml()), expected);
    }

    #[test]
    fn list_objects_v2_as_s3_sends_it() {
        // Recorded S3 traffic (aws-sdk-s3's no_auth/list-objects-v2.json), one entry.
        let token = "1SL9nYFaimMAwnR9dJnF4M5NMfm3Em6/ClPUVLEH3GOSw5yjeI+wCBLj3THB8DuJSUFhKNy5cGK5QBb/SvE+MKMZurarr0ZhOhQae2SQ8B4QQPkqQHKp9MeJXsYe4UH8/okpqJUZNS2AQt7gXrz7mFdIJXPuSckj02e06tvxZAOkHu7ER4xTJ+odI774K2xB+pcD3H0pqTUt+TebzB83BzA==";
        let result = ListBucketResult {
            name: "gdc-organoid-pancreatic-phs001611-2-open".into(),
            prefix: String::new(),
            delimiter: None,
            max_keys: 3,
            encoding_type_url: false,
            is_truncated: true,
            contents: vec![ObjectEntry {
                last_modified_ms: 1_580_158_611_000,
                ..object(
                    "0431cddc-a418-4a79-a34d-6c041394e8e4/a6ddcc84-8e4d-4c68-885c-2d51168eec97.FPKM-UQ.txt.gz",
                    "446fc665f99183cd0540d7656a79d3ed",
                    386_910,
                )
            }],
            common_prefixes: vec![],
            pagination: ListPagination::V2 {
                continuation_token: None,
                next_continuation_token: Some(token.into()),
                start_after: None,
            },
        };
        let expected = format!(
            "{DECL}<ListBucketResult {NS}><Name>gdc-organoid-pancreatic-phs001611-2-open</Name>\
             <Prefix></Prefix><NextContinuationToken>{token}</NextContinuationToken>\
             <KeyCount>1</KeyCount><MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>\
             <Contents><Key>0431cddc-a418-4a79-a34d-6c041394e8e4/a6ddcc84-8e4d-4c68-885c-2d51168eec97.FPKM-UQ.txt.gz</Key>\
             <LastModified>2020-01-27T20:56:51.000Z</LastModified>\
             <ETag>&quot;446fc665f99183cd0540d7656a79d3ed&quot;</ETag><Size>386910</Size>\
             <StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
        );
        assert_eq!(text(result.to_xml()), expected);
    }

    #[test]
    fn list_objects_v2_reference_examples() {
        // ListObjectsV2 reference, "Listing keys using the start-after parameter".
        let result = ListBucketResult {
            name: "quotes".into(),
            prefix: "E".into(),
            delimiter: None,
            max_keys: 3,
            encoding_type_url: false,
            is_truncated: false,
            contents: vec![ObjectEntry {
                last_modified_ms: 1_379_441_273_000,
                storage_class: "REDUCED_REDUNDANCY".into(),
                ..object(
                    "ExampleObject.txt",
                    "\"599bab3ed2c697f1d26842727561fd94\"",
                    857,
                )
            }],
            common_prefixes: vec![],
            pagination: ListPagination::V2 {
                continuation_token: None,
                next_continuation_token: None,
                start_after: Some("ExampleGuide.pdf".into()),
            },
        };
        let expected = compact(&format!(
            r#"<ListBucketResult {NS}>
                 <Name>quotes</Name>
                 <Prefix>E</Prefix>
                 <StartAfter>ExampleGuide.pdf</StartAfter>
                 <KeyCount>1</KeyCount>
                 <MaxKeys>3</MaxKeys>
                 <IsTruncated>false</IsTruncated>
                 <Contents>
                   <Key>ExampleObject.txt</Key>
                   <LastModified>2013-09-17T18:07:53.000Z</LastModified>
                   <ETag>&quot;599bab3ed2c697f1d26842727561fd94&quot;</ETag>
                   <Size>857</Size>
                   <StorageClass>REDUCED_REDUNDANCY</StorageClass>
                 </Contents>
               </ListBucketResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));

        // "Listing keys using the prefix and delimiter parameters".
        let result = ListBucketResult {
            name: "example-bucket".into(),
            prefix: "photos/2006/".into(),
            delimiter: Some("/".into()),
            max_keys: 1000,
            encoding_type_url: false,
            is_truncated: false,
            contents: vec![ObjectEntry {
                last_modified_ms: 1_462_060_289_000,
                ..object("photos/2006/", "d41d8cd98f00b204e9800998ecf8427e", 0)
            }],
            common_prefixes: vec![
                "photos/2006/February/".into(),
                "photos/2006/January/".into(),
            ],
            pagination: ListPagination::V2 {
                continuation_token: None,
                next_continuation_token: None,
                start_after: None,
            },
        };
        let expected = compact(&format!(
            r#"<ListBucketResult {NS}>
                 <Name>example-bucket</Name>
                 <Prefix>photos/2006/</Prefix>
                 <KeyCount>3</KeyCount>
                 <MaxKeys>1000</MaxKeys>
                 <Delimiter>/</Delimiter>
                 <IsTruncated>false</IsTruncated>
                 <Contents>
                   <Key>photos/2006/</Key>
                   <LastModified>2016-04-30T23:51:29.000Z</LastModified>
                   <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>
                   <Size>0</Size>
                   <StorageClass>STANDARD</StorageClass>
                 </Contents>
                 <CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes>
                 <CommonPrefixes><Prefix>photos/2006/January/</Prefix></CommonPrefixes>
               </ListBucketResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));

        // A continuation request echoes its token before the next one.
        let continued = ListBucketResult {
            pagination: ListPagination::V2 {
                continuation_token: Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=".into()),
                next_continuation_token: Some("next".into()),
                start_after: None,
            },
            ..result
        };
        assert!(text(continued.to_xml()).contains(
            "<Prefix>photos/2006/</Prefix>\
             <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>\
             <NextContinuationToken>next</NextContinuationToken><KeyCount>3</KeyCount>"
        ));
    }

    #[test]
    fn list_objects_url_encoding() {
        let key = "dir one/a+b&c\u{1}.txt";
        let result = ListBucketResult {
            name: "b".into(),
            prefix: "dir one/".into(),
            delimiter: Some("/".into()),
            max_keys: 2,
            encoding_type_url: true,
            is_truncated: true,
            contents: vec![object(key, "e", 1)],
            common_prefixes: vec!["dir one/sub dir/".into()],
            pagination: ListPagination::V1 {
                marker: "dir one/0".into(),
                next_marker: Some("dir one/sub dir/".into()),
            },
        };
        let expected = format!(
            "{DECL}<ListBucketResult {NS}><Name>b</Name><Prefix>dir+one/</Prefix>\
             <Marker>dir+one/0</Marker><NextMarker>dir+one/sub+dir/</NextMarker>\
             <MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><EncodingType>url</EncodingType>\
             <IsTruncated>true</IsTruncated><Contents><Key>dir+one/a%2Bb%26c%01.txt</Key>\
             <LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;e&quot;</ETag>\
             <Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>\
             <CommonPrefixes><Prefix>dir+one/sub+dir/</Prefix></CommonPrefixes></ListBucketResult>"
        );
        assert_eq!(text(result.to_xml()), expected);

        // Without encoding-type the same key is escaped, control character included.
        let plain = ListBucketResult {
            encoding_type_url: false,
            ..result
        };
        let body = text(plain.to_xml());
        assert!(
            body.contains("<Key>dir one/a+b&amp;c&#x1;.txt</Key>"),
            "{body}"
        );
        assert!(!body.contains("EncodingType"));
    }

    #[test]
    fn escaping_in_every_writer() {
        let key = "<&>\"'\r";
        let escaped = "&lt;&amp;&gt;&quot;&apos;&#xd;";
        let bodies = [
            InitiateMultipartUploadResult {
                bucket: "b".into(),
                key: key.into(),
                upload_id: "u".into(),
            }
            .to_xml(),
            CompleteMultipartUploadResult {
                location: format!("https://b.example/{key}"),
                bucket: "b".into(),
                key: key.into(),
                etag: "e-2".into(),
                checksums: Checksums::default(),
            }
            .to_xml(),
            DeleteResult {
                quiet: false,
                outcomes: vec![DeleteOutcome::Deleted {
                    key: key.into(),
                    version_id: None,
                    delete_marker_version_id: None,
                }],
            }
            .to_xml(),
            ListVersionsResult {
                name: "b".into(),
                versions: vec![VersionRow {
                    entry: object(key, "e", 1),
                    version_id: "null".into(),
                    is_latest: true,
                    delete_marker: false,
                }],
                ..ListVersionsResult::default()
            }
            .to_xml(),
            ListMultipartUploadsResult {
                bucket: "b".into(),
                uploads: vec![UploadEntry {
                    key: key.into(),
                    ..UploadEntry::default()
                }],
                ..ListMultipartUploadsResult::default()
            }
            .to_xml(),
            ListPartsResult {
                key: key.into(),
                ..ListPartsResult::default()
            }
            .to_xml(),
        ];
        for body in bodies {
            let body = text(body);
            assert!(body.contains(&format!("<Key>{escaped}</Key>")), "{body}");
            assert!(!body.contains('\r'), "{body}");
        }
    }

    #[test]
    fn list_versions() {
        let result = ListVersionsResult {
            name: "bucket".into(),
            prefix: "my".into(),
            key_marker: String::new(),
            version_id_marker: String::new(),
            next_key_marker: None,
            next_version_id_marker: None,
            max_keys: 5,
            delimiter: None,
            encoding_type_url: false,
            is_truncated: false,
            versions: vec![
                VersionRow {
                    entry: ObjectEntry {
                        owner: Some(Owner {
                            id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
                                .into(),
                            display_name: Some("mtd@amazon.com".into()),
                        }),
                        ..object("my-image.jpg", "fba9dede5f27731c9771645a39863328", 434_234)
                    },
                    version_id: "null".into(),
                    is_latest: true,
                    delete_marker: false,
                },
                VersionRow {
                    entry: object("my-third-image.jpg", "", 0),
                    version_id: "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892".into(),
                    is_latest: true,
                    delete_marker: true,
                },
            ],
            common_prefixes: vec![],
        };
        let expected = compact(&format!(
            r#"<ListVersionsResult {NS}>
                 <Name>bucket</Name>
                 <Prefix>my</Prefix>
                 <KeyMarker></KeyMarker>
                 <VersionIdMarker></VersionIdMarker>
                 <MaxKeys>5</MaxKeys>
                 <IsTruncated>false</IsTruncated>
                 <Version>
                   <Key>my-image.jpg</Key>
                   <VersionId>null</VersionId>
                   <IsLatest>true</IsLatest>
                   <LastModified>2009-10-12T17:50:30.000Z</LastModified>
                   <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
                   <Size>434234</Size>
                   <StorageClass>STANDARD</StorageClass>
                   <Owner>
                     <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
                     <DisplayName>mtd@amazon.com</DisplayName>
                   </Owner>
                 </Version>
                 <DeleteMarker>
                   <Key>my-third-image.jpg</Key>
                   <VersionId>03jpff543dhffds434rfdsFDN943fdsFkdmqnh892</VersionId>
                   <IsLatest>true</IsLatest>
                   <LastModified>2009-10-12T17:50:30.000Z</LastModified>
                 </DeleteMarker>
               </ListVersionsResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));

        let truncated = ListVersionsResult {
            next_key_marker: Some("a b".into()),
            next_version_id_marker: Some("null".into()),
            is_truncated: true,
            encoding_type_url: true,
            ..result
        };
        // The reference's truncated example: the next markers follow MaxKeys
        // and Delimiter.
        let body = text(truncated.to_xml());
        assert!(
            body.contains(
                "<VersionIdMarker></VersionIdMarker><MaxKeys>5</MaxKeys>\
             <EncodingType>url</EncodingType><NextKeyMarker>a+b</NextKeyMarker>\
             <NextVersionIdMarker>null</NextVersionIdMarker><IsTruncated>true</IsTruncated>"
            ),
            "{body}"
        );
    }

    #[test]
    fn initiate_multipart_upload() {
        let result = InitiateMultipartUploadResult {
            bucket: "example-bucket".into(),
            key: "example-object".into(),
            upload_id: "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA".into(),
        };
        let expected = compact(&format!(
            r#"<InitiateMultipartUploadResult {NS}>
                 <Bucket>example-bucket</Bucket>
                 <Key>example-object</Key>
                 <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
               </InitiateMultipartUploadResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));
    }

    #[test]
    fn complete_multipart_upload() {
        let result = CompleteMultipartUploadResult {
            location: "http://Example-Bucket.s3.Region.amazonaws.com/Example-Object".into(),
            bucket: "Example-Bucket".into(),
            key: "Example-Object".into(),
            etag: "3858f62230ac3c915f300c664312c11f-9".into(),
            checksums: Checksums::default(),
        };
        let expected = compact(&format!(
            r#"<CompleteMultipartUploadResult {NS}>
                 <Location>http://Example-Bucket.s3.Region.amazonaws.com/Example-Object</Location>
                 <Bucket>Example-Bucket</Bucket>
                 <Key>Example-Object</Key>
                 <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>
               </CompleteMultipartUploadResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));

        let with_checksums = CompleteMultipartUploadResult {
            checksums: Checksums {
                crc64nvme: Some("AAAAAAAAAAA=".into()),
                sha256: Some("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".into()),
                checksum_type: Some("COMPOSITE".into()),
                ..Checksums::default()
            },
            ..result
        };
        assert!(text(with_checksums.to_xml()).ends_with(
            "<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>\
             <ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME>\
             <ChecksumSHA256>n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=</ChecksumSHA256>\
             <ChecksumType>COMPOSITE</ChecksumType></CompleteMultipartUploadResult>"
        ));
    }

    #[test]
    fn copy_results() {
        let result = CopyResult {
            last_modified_ms: OCT_2009,
            etag: "9b2cf535f27731c974343645a3985328".into(),
            checksums: Checksums::default(),
        };
        assert_eq!(
            text(result.to_copy_object_xml()),
            format!(
                "{DECL}<CopyObjectResult {NS}><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
                 <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyObjectResult>"
            )
        );
        assert_eq!(
            text(result.to_copy_part_xml()),
            format!(
                "{DECL}<CopyPartResult {NS}><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
                 <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyPartResult>"
            )
        );
    }

    #[test]
    fn list_parts() {
        let part = |part_number: u32, last_modified_ms: i64, etag: &str, size: u64| PartEntry {
            part_number,
            last_modified_ms,
            etag: etag.into(),
            size,
            checksums: Checksums::default(),
        };
        let result = ListPartsResult {
            bucket: "example-bucket".into(),
            key: "example-object".into(),
            upload_id: "XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA".into(),
            initiator: Owner {
                id: "arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx"
                    .into(),
                display_name: Some("umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx".into()),
            },
            owner: Owner {
                id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
                display_name: Some("someName".into()),
            },
            storage_class: STORAGE_CLASS_STANDARD.into(),
            checksum_algorithm: None,
            checksum_type: None,
            part_number_marker: 1,
            next_part_number_marker: 3,
            max_parts: 2,
            is_truncated: true,
            parts: vec![
                part(
                    2,
                    1_289_422_114_000,
                    "7778aef83f66abc1fa1e8477f296d394",
                    10_485_760,
                ),
                part(
                    3,
                    1_289_422_113_000,
                    "aaaa18db4cc2f85cedef654fccc4a4x8",
                    10_485_760,
                ),
            ],
        };
        let expected = compact(&format!(
            r#"<ListPartsResult {NS}>
                 <Bucket>example-bucket</Bucket>
                 <Key>example-object</Key>
                 <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
                 <Initiator>
                   <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
                   <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
                 </Initiator>
                 <Owner>
                   <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
                   <DisplayName>someName</DisplayName>
                 </Owner>
                 <StorageClass>STANDARD</StorageClass>
                 <PartNumberMarker>1</PartNumberMarker>
                 <NextPartNumberMarker>3</NextPartNumberMarker>
                 <MaxParts>2</MaxParts>
                 <IsTruncated>true</IsTruncated>
                 <Part>
                   <PartNumber>2</PartNumber>
                   <LastModified>2010-11-10T20:48:34.000Z</LastModified>
                   <ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag>
                   <Size>10485760</Size>
                 </Part>
                 <Part>
                   <PartNumber>3</PartNumber>
                   <LastModified>2010-11-10T20:48:33.000Z</LastModified>
                   <ETag>&quot;aaaa18db4cc2f85cedef654fccc4a4x8&quot;</ETag>
                   <Size>10485760</Size>
                 </Part>
               </ListPartsResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));
    }

    #[test]
    fn list_multipart_uploads() {
        let user = |id: &str, name: &str| Owner {
            id: id.into(),
            display_name: Some(name.into()),
        };
        let result = ListMultipartUploadsResult {
            bucket: "bucket".into(),
            key_marker: String::new(),
            upload_id_marker: String::new(),
            next_key_marker: Some("my-movie.m2ts".into()),
            next_upload_id_marker: Some("YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ".into()),
            delimiter: None,
            prefix: None,
            max_uploads: 3,
            encoding_type_url: false,
            is_truncated: true,
            uploads: vec![UploadEntry {
                key: "my-divisor".into(),
                upload_id: "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw".into(),
                initiator: user(
                    "arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de",
                    "user1-11111a31-17b5-4fb7-9df5-b111111f13de",
                ),
                owner: user(
                    "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
                    "OwnerDisplayName",
                ),
                storage_class: STORAGE_CLASS_STANDARD.into(),
                initiated_ms: 1_289_422_113_000,
                checksum_algorithm: None,
                checksum_type: None,
            }],
            common_prefixes: vec![],
        };
        let expected = compact(&format!(
            r#"<ListMultipartUploadsResult {NS}>
                 <Bucket>bucket</Bucket>
                 <KeyMarker></KeyMarker>
                 <UploadIdMarker></UploadIdMarker>
                 <NextKeyMarker>my-movie.m2ts</NextKeyMarker>
                 <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
                 <MaxUploads>3</MaxUploads>
                 <IsTruncated>true</IsTruncated>
                 <Upload>
                   <Key>my-divisor</Key>
                   <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
                   <Initiator>
                     <ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID>
                     <DisplayName>user1-11111a31-17b5-4fb7-9df5-b111111f13de</DisplayName>
                   </Initiator>
                   <Owner>
                     <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
                     <DisplayName>OwnerDisplayName</DisplayName>
                   </Owner>
                   <StorageClass>STANDARD</StorageClass>
                   <Initiated>2010-11-10T20:48:33.000Z</Initiated>
                 </Upload>
               </ListMultipartUploadsResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));

        // The prefix-and-delimiter example: Delimiter and Prefix after the markers.
        let with_prefixes = ListMultipartUploadsResult {
            delimiter: Some("/".into()),
            prefix: Some(String::new()),
            is_truncated: false,
            uploads: vec![],
            common_prefixes: vec!["photos/".into(), "videos/".into()],
            ..result
        };
        assert!(text(with_prefixes.to_xml()).contains(
            "<Delimiter>/</Delimiter><Prefix></Prefix><MaxUploads>3</MaxUploads>\
             <IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>\
             <CommonPrefixes><Prefix>videos/</Prefix></CommonPrefixes></ListMultipartUploadsResult>"
        ));
    }

    #[test]
    fn delete_result() {
        let outcomes = vec![
            DeleteOutcome::Deleted {
                key: "sample1.txt".into(),
                version_id: None,
                delete_marker_version_id: None,
            },
            DeleteOutcome::Error {
                key: "sample2.txt".into(),
                version_id: None,
                code: S3ErrorCode::AccessDenied,
                message: "Access Denied".into(),
            },
        ];
        let result = DeleteResult {
            quiet: false,
            outcomes: outcomes.clone(),
        };
        let expected = compact(&format!(
            r#"<DeleteResult {NS}>
                 <Deleted>
                   <Key>sample1.txt</Key>
                 </Deleted>
                 <Error>
                   <Key>sample2.txt</Key>
                   <Code>AccessDenied</Code>
                   <Message>Access Denied</Message>
                 </Error>
               </DeleteResult>"#
        ));
        assert_eq!(text(result.to_xml()), format!("{DECL}{expected}"));

        let quiet = DeleteResult {
            quiet: true,
            outcomes,
        };
        assert_eq!(
            text(quiet.to_xml()),
            format!(
                "{DECL}<DeleteResult {NS}><Error><Key>sample2.txt</Key><Code>AccessDenied</Code>\
                 <Message>Access Denied</Message></Error></DeleteResult>"
            )
        );
        let versioned = DeleteResult {
            quiet: false,
            outcomes: vec![DeleteOutcome::Deleted {
                key: "k".into(),
                version_id: Some("null".into()),
                delete_marker_version_id: None,
            }],
        };
        assert!(text(versioned.to_xml())
            .contains("<Deleted><Key>k</Key><VersionId>null</VersionId></Deleted>"));
        let all_quiet = DeleteResult {
            quiet: true,
            outcomes: vec![],
        };
        assert_eq!(
            text(all_quiet.to_xml()),
            format!("{DECL}<DeleteResult {NS}></DeleteResult>")
        );
    }

    #[test]
    fn bucket_location() {
        assert_eq!(
            text(location_constraint_xml(Some("Europe"))),
            format!("{DECL}<LocationConstraint {NS}>Europe</LocationConstraint>")
        );
        assert_eq!(
            text(location_constraint_xml(None)),
            format!("{DECL}<LocationConstraint {NS}/>")
        );
        assert_eq!(
            text(location_constraint_xml(Some(""))),
            format!("{DECL}<LocationConstraint {NS}/>")
        );
    }

    /// Every writer's output is read back by a real XML parser, element by
    /// element, so no writer can emit a document a client cannot parse.
    #[test]
    fn outputs_are_well_formed() {
        let bodies = [
            ListAllMyBucketsResult::default().to_xml(),
            ListVersionsResult::default().to_xml(),
            ListPartsResult::default().to_xml(),
            ListMultipartUploadsResult::default().to_xml(),
            DeleteResult::default().to_xml(),
            CopyResult::default().to_copy_object_xml(),
            location_constraint_xml(Some("a<b")),
        ];
        for body in bodies {
            let mut reader = quick_xml::Reader::from_reader(body.as_slice());
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(_) => {}
                    Err(error) => panic!("{error}: {}", text(body.clone())),
                }
            }
        }
    }
}
