//! The records of the metadata contract: what a project, bucket, object, segment,
//! multipart upload and part are, as the rest of the gateway sees them and as
//! they are stored (postcard, field order is the on-disk order; see `codec`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pieces::format::SegmentId;
use crate::pipeline::checksum::{hex, ChecksumAlgorithm};
use crate::pipeline::layout::ErasureParams;

use super::version::parse_hex_16;
pub use super::version::{
    DefaultRetention, Lock, ObjectLock, Retention, RetentionMode, RetentionPeriod, Version,
    VersionId, Versioning, WhichVersion,
};

/// An access record (opaque to `meta`) and the hash of its access key id.
pub type AccessRow = ([u8; 32], Vec<u8>);

/// A tenant: owns access keys and buckets. Bucket names are unique per project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProjectId(pub [u8; 16]);

impl ProjectId {
    pub fn random() -> Self {
        let mut id = [0u8; 16];
        crate::entropy::fill(&mut id);
        Self(id)
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex_16(text).map(Self)
    }
}

/// A multipart upload's 128-bit random identity (S3's `uploadId`, as hex).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UploadId(pub [u8; 16]);

impl UploadId {
    pub fn random() -> Self {
        let mut id = [0u8; 16];
        crate::entropy::fill(&mut id);
        Self(id)
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex_16(text).map(Self)
    }
}

/// What a version is: an object, or a delete marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionBody<T> {
    Object(T),
    DeleteMarker { last_modified_ms: u64 },
}

/// A version read by key and [`WhichVersion`]: an object with the segments
/// its extents reference (in extent order), or a delete marker; with its
/// bucket's versioning (S3 shows a `null` version's id only in a bucket that
/// has been versioned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundVersion {
    pub version: Version,
    pub versioning: Versioning,
    pub body: VersionBody<(ObjectRecord, Vec<SegmentInfo>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub id: ProjectId,
    pub name: String,
    pub created_ms: u64,
    /// The project's macaroon secret, sealed under the server key (kept
    /// outside the database), so the database alone cannot mint API keys.
    pub secret_sealed: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    pub created_ms: u64,
    /// The region name given at creation (S3's `LocationConstraint`).
    pub location: String,
    /// Added in record version 2; version-1 rows read as `Unversioned`.
    pub versioning: Versioning,
    /// Added in record version 2; `None` (no object lock) for version-1 rows.
    pub object_lock: Option<ObjectLock>,
}

/// A bucket's configuration documents (tagging, CORS, policy, ...), each
/// under its family's name: the canonical document the family stored, which
/// meta keeps and returns but never interprets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketConfigs {
    pub documents: BTreeMap<String, Vec<u8>>,
}

impl BucketConfigs {
    /// The document of `family`, if the bucket has one.
    pub fn get(&self, family: &str) -> Option<&[u8]> {
        self.documents.get(family).map(Vec::as_slice)
    }
}

/// Where one piece of a segment lives and the digest its footer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiecePlacement {
    pub piece: u16,
    /// A [`StoreRecord::id`]: stable across restarts and configuration changes.
    pub store: u32,
    pub digest: [u8; 32],
}

/// A piece store the gateway has used: a local directory or a storage node.
/// Its id is what placements name; a store is never forgotten, so a store
/// dropped from the configuration is still known as the holder of its pieces
/// (which repair then moves elsewhere).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRecord {
    pub id: u32,
    /// What makes the store the same one across restarts: `local:<uuid>` (the
    /// id file inside the directory) or `node:<address>`.
    pub identity: String,
    /// Where it was last configured, for people: a path or an address.
    pub location: String,
    /// Failure domain (rack, host, zone): two pieces of a segment never share
    /// one while enough domains are available.
    pub domain: Option<String>,
    pub added_ms: u64,
}

/// Everything needed to find and decode a segment's pieces, except its key
/// (which lives in each referencing [`Extent`], wrapped for that object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    #[serde(with = "crate::meta::serde_with::erasure")]
    pub erasure: ErasureParams,
    pub share_bytes: u32,
    pub plaintext_bytes: u64,
    pub pieces: Vec<PiecePlacement>,
}

/// One run of an object's bytes, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Extent {
    /// A small object sealed whole and kept in metadata (`pipeline::inline`).
    Inline {
        sealed: Vec<u8>,
        wrapped_key: Vec<u8>,
        nonce_prefix: [u8; 4],
    },
    /// A reference to a segment in the segments table; counted there.
    Segment {
        #[serde(with = "crate::meta::serde_with::segment_id")]
        id: SegmentId,
        plaintext_bytes: u64,
        wrapped_key: Vec<u8>,
        nonce_prefix: [u8; 4],
    },
}

impl Extent {
    pub fn segment_id(&self) -> Option<SegmentId> {
        match self {
            Extent::Inline { .. } => None,
            Extent::Segment { id, .. } => Some(*id),
        }
    }
}

/// The segment ids an object or part body references, in order, repeats kept:
/// a segment's reference count counts these references.
pub fn segment_ids(extents: &[Extent]) -> impl Iterator<Item = SegmentId> + '_ {
    extents.iter().filter_map(Extent::segment_id)
}

/// A stored `x-amz-checksum-*` value, as S3 returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChecksum {
    #[serde(with = "crate::meta::serde_with::checksum_algorithm")]
    pub algorithm: ChecksumAlgorithm,
    /// Base64, as in the response header.
    pub value: String,
    /// For a checksum of checksums over a multipart upload: the part count, which
    /// S3 appends as `-N`.
    pub composite_parts: Option<u32>,
}

/// An object's metadata and body.
///
/// Field order is part of the on-disk format, and the first four fields double
/// as [`ObjectSummary`]: listing decodes only them (postcard reads a prefix).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub last_modified_ms: u64,
    pub checksum: Option<StoredChecksum>,
    pub content_type: Option<String>,
    /// cache-control, content-disposition, content-encoding, content-language,
    /// expires: as the client gave them.
    pub headers: Vec<(String, String)>,
    /// `x-amz-meta-*`, names without the prefix.
    pub user_metadata: Vec<(String, String)>,
    /// Each part's size for a multipart object (GET `?partNumber=`); empty otherwise.
    pub part_sizes: Vec<u64>,
    pub extents: Vec<Extent>,
    /// The version's tags (key, value), in the order they were set. Not in
    /// the postcard body: the codec keeps them in the row header.
    #[serde(skip)]
    pub tags: Vec<(String, String)>,
}

/// What a listing shows of an object: the leading fields of its record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: u64,
    pub checksum: Option<StoredChecksum>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload_id: UploadId,
    pub key: String,
    pub initiated_ms: u64,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub user_metadata: Vec<(String, String)>,
    #[serde(with = "crate::meta::serde_with::checksum_algorithm_option")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
}

/// What a completed multipart upload answered, kept for
/// [`COMPLETED_UPLOAD_MEMORY_MS`](super::COMPLETED_UPLOAD_MEMORY_MS) so that a
/// retried CompleteMultipartUpload naming the same parts gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedUpload {
    pub project: ProjectId,
    pub bucket: String,
    pub key: String,
    /// [`parts_digest`] of the parts the completion named.
    pub parts_digest: [u8; 32],
    pub completed_ms: u64,
    /// The object's ETag, without quotes.
    pub etag: String,
    /// The object's checksum when the upload asked for one (the answer shows
    /// it then only).
    pub checksum: Option<StoredChecksum>,
    /// The version the completion made, and whether it is the `null` one.
    pub version: VersionId,
    pub version_is_null: bool,
    pub versioning: Versioning,
}

impl CompletedUpload {
    /// Whether the answer is still kept at `now_ms`.
    pub fn kept_at(&self, now_ms: u64) -> bool {
        now_ms
            <= self
                .completed_ms
                .saturating_add(super::COMPLETED_UPLOAD_MEMORY_MS)
    }
}

/// A digest of the parts a completion names (number and ETag without quotes,
/// in order): a retry names the same parts when the digests are equal.
pub fn parts_digest<'a>(parts: impl IntoIterator<Item = (u32, &'a str)>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    for (number, etag) in parts {
        hash.update(number.to_be_bytes());
        hash.update((etag.len() as u32).to_be_bytes());
        hash.update(etag.as_bytes());
    }
    hash.finalize().into()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part_number: u32,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub last_modified_ms: u64,
    /// The part's `x-amz-checksum-*` value (base64) in the upload's algorithm.
    pub checksum: Option<String>,
    pub extents: Vec<Extent>,
}

/// Names one multipart upload the way every S3 request does: bucket, key and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UploadRef {
    pub project: ProjectId,
    pub bucket: String,
    pub key: String,
    pub upload_id: UploadId,
}

/// A segment no object or part references any longer: its pieces may be deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcEntry {
    pub segment: SegmentId,
    pub info: SegmentInfo,
}

/// The conditional-write headers S3 honours on PUT and CompleteMultipartUpload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// `If-None-Match: *`: only if no object has this key.
    IfNoneMatchStar,
    /// `If-Match: <etag>` (without quotes): only if the current object has this ETag.
    IfMatch(String),
}

/// The conditions of a conditional delete, each on the version deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteCondition {
    /// `If-Match`, without quotes; `*` matches any object.
    pub etag: Option<String>,
    /// `x-amz-if-match-last-modified-time`, in unix ms (S3's precision: seconds).
    pub last_modified_ms: Option<u64>,
    /// `x-amz-if-match-size`.
    pub size: Option<u64>,
}

impl DeleteCondition {
    pub fn matches(&self, record: &ObjectRecord) -> bool {
        self.etag
            .as_deref()
            .is_none_or(|etag| etag == "*" || etag == record.etag)
            && self
                .last_modified_ms
                .is_none_or(|t| t / 1000 == record.last_modified_ms / 1000)
            && self.size.is_none_or(|size| size == record.size)
    }
}

/// A change to one version's object lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockChange {
    /// PutObjectRetention: `None` removes it (GOVERNANCE, with the bypass).
    Retention {
        retention: Option<Retention>,
        bypass_governance: bool,
    },
    /// PutObjectLegalHold: ON or OFF.
    LegalHold(bool),
}

/// `list_objects`: S3's ListObjects (v1 and v2) parameters, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub prefix: String,
    /// `None` or empty: no grouping.
    pub delimiter: Option<String>,
    /// Exclusive: v1 `marker`, v2 `start-after` or the decoded continuation token.
    pub start_after: String,
    /// Clamped to [`crate::meta::LIST_ENTRIES_MAX`]; 0 answers an empty, complete page.
    pub max_keys: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub entries: Vec<(String, ObjectSummary)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix of this page when it is truncated: the
    /// `start_after` of the next page (v1 `NextMarker`, v2 token content).
    pub next_marker: Option<String>,
}

/// `list_versions`: S3's ListObjectVersions parameters, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Exclusive: listing starts after this key's versions, unless
    /// `version_id_marker` is given: then after that version of this key.
    pub key_marker: String,
    pub version_id_marker: Option<WhichVersion>,
    /// Clamped to [`crate::meta::LIST_ENTRIES_MAX`]; 0 answers an empty, complete page.
    pub max_keys: usize,
}

/// One row of ListObjectVersions: a version or a delete marker of `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    pub version: Version,
    pub is_latest: bool,
    pub body: VersionBody<ObjectSummary>,
}

/// A key's versions run newest first; keys in S3's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionPage {
    pub entries: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    /// `None` when the page ended on a common prefix.
    pub next_version_id_marker: Option<Version>,
}

/// `list_uploads`: S3's ListMultipartUploads parameters, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Exclusive, unless `upload_id_marker` is given: then uploads of this key with
    /// a greater id come first.
    pub key_marker: String,
    pub upload_id_marker: Option<UploadId>,
    /// Clamped to [`crate::meta::LIST_ENTRIES_MAX`]; 0 answers an empty, complete page.
    pub max_uploads: usize,
}

/// Uploads are ordered by key, then by upload id (S3 orders one key's uploads by
/// initiation time; ids here are random, so the order among them is arbitrary but stable).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadPage {
    pub uploads: Vec<UploadRecord>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    /// `None` when the page ended on a common prefix.
    pub next_upload_id_marker: Option<UploadId>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartPage {
    pub parts: Vec<PartRecord>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

/// A row of the segments table: the segment and how many extents reference it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegmentRow {
    pub refs: u32,
    pub info: SegmentInfo,
}
