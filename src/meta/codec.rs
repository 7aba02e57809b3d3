//! The on-disk encoding: table keys as byte strings, and records as one format
//! version byte followed by postcard. The single source of truth for both.
//!
//! ```text
//! table       key                                                  value
//! format      "version"                                            u64 (= FORMAT_VERSION)
//! projects    project(16)                                          v ‖ ProjectRecord
//! revoked     API key head id(16)                                  v ‖ revoked at (unix ms)
//! access      sha256(access key id)(32)                            opaque bytes (auth's ciphertext)
//! buckets     project(16) ‖ name                                   2 ‖ BucketRecord
//! objects     project(16) ‖ bucket ‖ 00 ‖ key                      2 ‖ version ‖ ObjectRecord
//! versions    project(16) ‖ bucket ‖ 00 ‖ key ‖ 00 ‖ version id(16) 2 ‖ version ‖ ObjectRecord or marker
//! null_versions project(16) ‖ bucket ‖ 00 ‖ key                    version id(16)
//! segments    segment(16)                                          v ‖ refs (varint) ‖ SegmentInfo
//! uploads     project(16) ‖ bucket ‖ 00 ‖ key ‖ 00 ‖ upload(16)    v ‖ UploadRecord
//! completed_uploads upload(16)                                     v ‖ CompletedUpload
//! completed_by_time completed at (u64 BE, unix ms) ‖ upload(16)    (empty)
//! parts       upload(16) ‖ part number (u32 BE)                    v ‖ PartRecord
//! gc          segment(16)                                          v ‖ SegmentInfo
//! stores      store id (u32 BE)                                    v ‖ StoreRecord
//! bucket_configs project(16) ‖ bucket ‖ 00 ‖ family name           opaque bytes (the family's document)
//! ```
//!
//! `objects` holds each key's current version when that is an object, so
//! ListObjects reads one row per live key whatever the history; `versions`
//! holds every other version (noncurrent ones, and delete markers, latest or
//! not), a key's newest first; `null_versions` points at a key's `null` version
//! while that is in `versions`. `version` is the 16-byte id and one flags byte
//! (bit 0: the `null` version, bit 1: a delete marker, whose body is its
//! last-modified time; bit 2: a retention follows, bit 3: a legal hold;
//! bit 4: the object's tags follow), then the fields the flags announce. Tags
//! live in the header, not in the postcard body, so that a row without tags is
//! the row from before tags, a tagging change rewrites no body field, and
//! lifecycle rules and policy conditions can read them without decoding the
//! body. Version-1 object rows (written before versioning) are
//! `null` versions whose id is derived from their last-modified time;
//! version-1 bucket rows are unversioned buckets.
//!
//! Keys compare as bytes, so one bucket's objects are one contiguous range in
//! S3's (UTF-8 byte) order, and one upload's parts are in part-number order.
//! Bucket names and object keys never hold a 00 byte (checked on every write),
//! which keeps a bucket's range apart from that of a bucket whose name extends
//! its name, and orders uploads by key, then id. `v` is [`RECORD_VERSION`]: a later build
//! reads version-1 rows by dispatching on it; postcard itself is not
//! self-describing, so a record's fields may never be reordered or changed in place.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::MetaError;
use super::types::{
    BucketRecord, Lock, ObjectRecord, ObjectSummary, ProjectId, Retention, RetentionMode, UploadId,
    Version, VersionBody, VersionId, Versioning,
};
use crate::pieces::format::SegmentId;

/// The version byte leading every record written by this build, except
/// object, version and bucket rows, which are [`VERSIONED_RECORD`].
pub const RECORD_VERSION: u8 = 1;

/// The record version of object, version and bucket rows since versioning.
pub const VERSIONED_RECORD: u8 = 2;

const FLAG_NULL: u8 = 1;
const FLAG_DELETE_MARKER: u8 = 2;
/// Followed by the mode (0 GOVERNANCE, 1 COMPLIANCE) and retain-until (u64 BE, unix ms).
const FLAG_RETENTION: u8 = 4;
const FLAG_LEGAL_HOLD: u8 = 8;
/// Followed by the tag count (u8) and each tag's key and value, each a u16 BE
/// length and UTF-8.
const FLAG_TAGS: u8 = 16;
const FLAGS_KNOWN: u8 =
    FLAG_NULL | FLAG_DELETE_MARKER | FLAG_RETENTION | FLAG_LEGAL_HOLD | FLAG_TAGS;

/// Separates a bucket name from the key that follows, and a key from an upload id.
pub const SEPARATOR: u8 = 0x00;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_extend(value, vec![RECORD_VERSION])
        .expect("postcard encodes every metadata record into a Vec")
}

fn payload<'b>(table: &'static str, bytes: &'b [u8]) -> Result<&'b [u8], MetaError> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, rest)) => Ok(rest),
        Some((version, _)) => Err(MetaError::Corrupt {
            table,
            reason: format!("record version {version} is not readable by this build"),
        }),
        None => Err(MetaError::Corrupt {
            table,
            reason: "empty record".into(),
        }),
    }
}

/// Decodes a whole record; trailing bytes are corruption.
pub fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, MetaError> {
    let (value, rest) =
        postcard::take_from_bytes(payload(table, bytes)?).map_err(|e| MetaError::Corrupt {
            table,
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(MetaError::Corrupt {
            table,
            reason: format!("{} bytes after the record", rest.len()),
        });
    }
    Ok(value)
}

fn corrupt(table: &'static str, reason: impl Into<String>) -> MetaError {
    MetaError::Corrupt {
        table,
        reason: reason.into(),
    }
}

/// A version-1 bucket row: a bucket from before versioning.
#[derive(Deserialize)]
struct BucketRecordV1 {
    name: String,
    created_ms: u64,
    location: String,
}

pub fn encode_bucket(record: &BucketRecord) -> Vec<u8> {
    postcard::to_extend(record, vec![VERSIONED_RECORD]).expect("postcard encodes a bucket")
}

pub fn decode_bucket(bytes: &[u8]) -> Result<BucketRecord, MetaError> {
    match bytes.first() {
        Some(&VERSIONED_RECORD) => decode_whole("buckets", &bytes[1..]),
        _ => {
            let old: BucketRecordV1 = decode("buckets", bytes)?;
            Ok(BucketRecord {
                name: old.name,
                created_ms: old.created_ms,
                location: old.location,
                versioning: Versioning::Unversioned,
                object_lock: None,
            })
        }
    }
}

/// The id a version-1 object row (a `null` version from before versioning) has.
pub fn legacy_version(last_modified_ms: u64) -> Version {
    Version {
        id: VersionId::new(last_modified_ms.saturating_mul(1000), [0; 8]),
        is_null: true,
        lock: Lock::default(),
    }
}

fn version_header(version: &Version, marker: bool, tags: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(VERSIONED_RECORD);
    out.extend_from_slice(&version.id.0);
    let lock = version.lock;
    let mut flags = if version.is_null { FLAG_NULL } else { 0 };
    flags |= if marker { FLAG_DELETE_MARKER } else { 0 };
    flags |= if lock.retention.is_some() {
        FLAG_RETENTION
    } else {
        0
    };
    flags |= if lock.legal_hold { FLAG_LEGAL_HOLD } else { 0 };
    flags |= if tags.is_empty() { 0 } else { FLAG_TAGS };
    out.push(flags);
    if let Some(retention) = lock.retention {
        out.push(match retention.mode {
            RetentionMode::Governance => 0,
            RetentionMode::Compliance => 1,
        });
        out.extend_from_slice(&retention.until_ms.to_be_bytes());
    }
    if !tags.is_empty() {
        encode_tags(tags, &mut out);
    }
    out
}

/// The tag block: count, then key and value as length-prefixed UTF-8. The S3
/// layer allows 10 tags of at most 128 and 256 characters; the block holds
/// what fits its lengths and refuses nothing it can represent.
fn encode_tags(tags: &[(String, String)], out: &mut Vec<u8>) {
    out.push(u8::try_from(tags.len()).expect("at most 255 tags"));
    for text in tags.iter().flat_map(|(k, v)| [k, v]) {
        let len = u16::try_from(text.len()).expect("a tag of at most 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
}

/// The length of the tag block at the front of `bytes`, found by its lengths
/// alone (a listing skips tags without reading them).
fn tag_block_len(table: &'static str, bytes: &[u8]) -> Result<usize, MetaError> {
    let short = || corrupt(table, "a tag block shorter than its lengths");
    let count = usize::from(*bytes.first().ok_or_else(short)?);
    let mut at = 1;
    for _ in 0..2 * count {
        let len = bytes.get(at..at + 2).ok_or_else(short)?;
        at += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    }
    if at > bytes.len() {
        return Err(short());
    }
    Ok(at)
}

/// The tags of a tag block (`bytes` is the block, as `split_version` cut it).
fn decode_tags(table: &'static str, bytes: &[u8]) -> Result<Vec<(String, String)>, MetaError> {
    let short = || corrupt(table, "a tag block shorter than its lengths");
    let (&count, mut rest) = bytes.split_first().ok_or_else(short)?;
    let mut text = || -> Result<String, MetaError> {
        let len = rest.get(..2).ok_or_else(short)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let bytes = rest.get(2..2 + len).ok_or_else(short)?;
        rest = &rest[2 + len..];
        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt(table, "a tag that is not UTF-8"))
    };
    let mut tags = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let key = text()?;
        let value = text()?;
        tags.push((key, value));
    }
    Ok(tags)
}

/// An object row, of `objects` or `versions` (its tags go in the header).
pub fn encode_object(version: &Version, record: &ObjectRecord) -> Vec<u8> {
    postcard::to_extend(record, version_header(version, false, &record.tags))
        .expect("postcard encodes an object")
}

/// A delete marker's row in `versions`.
pub fn encode_delete_marker(version: &Version, last_modified_ms: u64) -> Vec<u8> {
    postcard::to_extend(&last_modified_ms, version_header(version, true, &[]))
        .expect("postcard encodes a u64")
}

/// A row's header, split off its postcard body.
struct SplitRow<'b> {
    version: Version,
    marker: bool,
    /// The tag block, empty when the row has no tags.
    tags: &'b [u8],
    body: &'b [u8],
}

/// Splits a versioned row into its version, marker flag, tag block and body.
fn split_version<'b>(table: &'static str, bytes: &'b [u8]) -> Result<SplitRow<'b>, MetaError> {
    let short = || corrupt(table, "a versioned row shorter than its header");
    if bytes.len() < 18 {
        return Err(short());
    }
    let id = VersionId(bytes[1..17].try_into().expect("sixteen bytes"));
    let flags = bytes[17];
    if flags & !FLAGS_KNOWN != 0 {
        return Err(corrupt(table, format!("unknown version flags {flags:#x}")));
    }
    let mut rest = &bytes[18..];
    let retention = if flags & FLAG_RETENTION != 0 {
        let (&mode, after) = rest.split_first().ok_or_else(short)?;
        let until: [u8; 8] = after.get(..8).ok_or_else(short)?.try_into().expect("eight");
        rest = &after[8..];
        let mode = match mode {
            0 => RetentionMode::Governance,
            1 => RetentionMode::Compliance,
            _ => return Err(corrupt(table, format!("unknown retention mode {mode}"))),
        };
        Some(Retention {
            mode,
            until_ms: u64::from_be_bytes(until),
        })
    } else {
        None
    };
    let (tags, body) = if flags & FLAG_TAGS != 0 {
        rest.split_at(tag_block_len(table, rest)?)
    } else {
        (&rest[..0], rest)
    };
    let version = Version {
        id,
        is_null: flags & FLAG_NULL != 0,
        lock: Lock {
            retention,
            legal_hold: flags & FLAG_LEGAL_HOLD != 0,
        },
    };
    Ok(SplitRow {
        version,
        marker: flags & FLAG_DELETE_MARKER != 0,
        tags,
        body,
    })
}

/// A row of `objects` or `versions`, decoded whole (`T` = [`ObjectRecord`])
/// or as a prefix (`T` = [`ObjectSummary`]).
pub fn decode_version<T: DeserializeOwned + ObjectTime>(
    table: &'static str,
    bytes: &[u8],
    whole: bool,
) -> Result<(Version, VersionBody<T>), MetaError> {
    let read = |body: &[u8]| {
        if whole {
            decode_whole::<T>(table, body)
        } else {
            postcard::take_from_bytes(body)
                .map(|(value, _)| value)
                .map_err(|e| corrupt(table, e.to_string()))
        }
    };
    match bytes.first() {
        Some(&VERSIONED_RECORD) => {
            let row = split_version(table, bytes)?;
            if row.marker {
                let last_modified_ms = decode_whole(table, row.body)?;
                Ok((row.version, VersionBody::DeleteMarker { last_modified_ms }))
            } else {
                let mut body: T = read(row.body)?;
                if T::HAS_TAGS && !row.tags.is_empty() {
                    body.set_tags(decode_tags(table, row.tags)?);
                }
                Ok((row.version, VersionBody::Object(body)))
            }
        }
        _ => {
            let record: T = read(payload(table, bytes)?)?;
            Ok((
                legacy_version(record.last_modified_ms()),
                VersionBody::Object(record),
            ))
        }
    }
}

/// What an object row's body decodes into: the whole record, or a summary.
pub trait ObjectTime {
    /// Whether it keeps the row's tags (a listing's summary does not).
    const HAS_TAGS: bool;
    /// The last-modified time every object body starts with.
    fn last_modified_ms(&self) -> u64;
    fn set_tags(&mut self, tags: Vec<(String, String)>);
}

impl ObjectTime for ObjectRecord {
    const HAS_TAGS: bool = true;
    fn last_modified_ms(&self) -> u64 {
        self.last_modified_ms
    }
    fn set_tags(&mut self, tags: Vec<(String, String)>) {
        self.tags = tags;
    }
}

impl ObjectTime for ObjectSummary {
    const HAS_TAGS: bool = false;
    fn last_modified_ms(&self) -> u64 {
        self.last_modified_ms
    }
    fn set_tags(&mut self, _: Vec<(String, String)>) {}
}

/// A current object row (never a delete marker) decoded whole.
pub fn decode_object(bytes: &[u8]) -> Result<(Version, ObjectRecord), MetaError> {
    match decode_version("objects", bytes, true)? {
        (version, VersionBody::Object(record)) => Ok((version, record)),
        (_, VersionBody::DeleteMarker { .. }) => {
            Err(corrupt("objects", "a delete marker as a current object"))
        }
    }
}

fn decode_whole<T: DeserializeOwned>(table: &'static str, body: &[u8]) -> Result<T, MetaError> {
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| corrupt(table, e.to_string()))?;
    if !rest.is_empty() {
        return Err(corrupt(
            table,
            format!("{} bytes after the record", rest.len()),
        ));
    }
    Ok(value)
}

/// Where a noncurrent version or delete marker of a key is kept: `key ‖ 00 ‖ id`
/// under the bucket prefix.
pub fn version_key(project: ProjectId, bucket: &str, key: &str, id: VersionId) -> Vec<u8> {
    let mut out = object_key(project, bucket, key);
    out.push(SEPARATOR);
    out.extend_from_slice(&id.0);
    out
}

/// The prefix of every `versions` row of one key.
pub fn key_versions_prefix(project: ProjectId, bucket: &str, key: &str) -> Vec<u8> {
    let mut out = object_key(project, bucket, key);
    out.push(SEPARATOR);
    out
}

pub fn bucket_key(project: ProjectId, bucket: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + bucket.len());
    key.extend_from_slice(&project.0);
    key.extend_from_slice(bucket.as_bytes());
    key
}

/// The prefix every key of one bucket's objects (and uploads, and
/// configuration documents) starts with.
pub fn bucket_prefix(project: ProjectId, bucket: &str) -> Vec<u8> {
    let mut key = bucket_key(project, bucket);
    key.push(SEPARATOR);
    key
}

pub fn object_key(project: ProjectId, bucket: &str, key: &str) -> Vec<u8> {
    let mut out = bucket_prefix(project, bucket);
    out.extend_from_slice(key.as_bytes());
    out
}

/// An upload's key relative to its bucket prefix: `key ‖ 00 ‖ upload id`.
pub fn upload_suffix(key: &[u8], upload_id: UploadId) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 17);
    out.extend_from_slice(key);
    out.push(SEPARATOR);
    out.extend_from_slice(&upload_id.0);
    out
}

/// Where the configuration document of `family` for a bucket is kept.
pub fn bucket_config_key(project: ProjectId, bucket: &str, family: &str) -> Vec<u8> {
    let mut out = bucket_prefix(project, bucket);
    out.extend_from_slice(family.as_bytes());
    out
}

pub fn upload_key(project: ProjectId, bucket: &str, key: &str, upload_id: UploadId) -> Vec<u8> {
    let mut out = bucket_prefix(project, bucket);
    out.extend_from_slice(&upload_suffix(key.as_bytes(), upload_id));
    out
}

/// A completion's place in `completed_by_time`: oldest first.
pub fn completed_by_time_key(completed_ms: u64, upload_id: UploadId) -> Vec<u8> {
    let mut out = completed_ms.to_be_bytes().to_vec();
    out.extend_from_slice(&upload_id.0);
    out
}

/// The object key inside an upload or version suffix (`key ‖ 00 ‖ id`).
pub fn upload_suffix_key(suffix: &[u8]) -> &[u8] {
    &suffix[..suffix.len().saturating_sub(17)]
}

pub fn upload_suffix_id(suffix: &[u8]) -> Option<UploadId> {
    let at = suffix.len().checked_sub(16)?;
    Some(UploadId(suffix[at..].try_into().ok()?))
}

pub fn part_key(upload_id: UploadId, part_number: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..16].copy_from_slice(&upload_id.0);
    key[16..].copy_from_slice(&part_number.to_be_bytes());
    key
}

pub fn segment_id_of(table: &'static str, key: &[u8]) -> Result<SegmentId, MetaError> {
    key.try_into()
        .map(SegmentId)
        .map_err(|_| MetaError::Corrupt {
            table,
            reason: format!("segment key of {} bytes", key.len()),
        })
}

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` if there is none (an empty or all-FF prefix).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last != 0xff {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

/// Entry point of the metadata-record fuzz target: `data` as a stored value
/// of the table `data[0]` picks, decoded as that table's record. A corrupt
/// row must be `MetaError::Corrupt`, never a panic, and a row that decodes
/// encodes to a row that decodes to the same record.
pub fn fuzz_decode_records(data: &[u8]) {
    use super::types::SegmentRow;
    use super::types::*;

    fn check<T>(table: &'static str, bytes: &[u8])
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        match decode::<T>(table, bytes) {
            Ok(record) => assert_eq!(decode::<T>(table, &encode(&record)).ok(), Some(record)),
            Err(e) => assert!(matches!(e, MetaError::Corrupt { .. }), "{e:?}"),
        }
    }
    let Some((&table, bytes)) = data.split_first() else {
        return;
    };
    match table % 7 {
        0 => check::<ProjectRecord>("projects", bytes),
        1 => {
            if let Ok(record) = decode_bucket(bytes) {
                assert_eq!(decode_bucket(&encode_bucket(&record)).ok(), Some(record));
            }
        }
        2 => check_version(bytes),
        3 => check::<SegmentRow>("segments", bytes),
        4 => check::<UploadRecord>("uploads", bytes),
        5 => check::<PartRecord>("parts", bytes),
        _ => check::<SegmentInfo>("gc", bytes),
    }
    let _ = decode_version::<ObjectSummary>("objects", bytes, false);
}

/// An object or version row decodes to one that re-encodes to the same row's meaning.
fn check_version(bytes: &[u8]) {
    use super::types::*;
    match decode_version::<ObjectRecord>("versions", bytes, true) {
        Ok((version, VersionBody::Object(record))) => {
            let again = encode_object(&version, &record);
            let (v, body) = decode_version::<ObjectRecord>("versions", &again, true).unwrap();
            assert_eq!((v, body), (version, VersionBody::Object(record)));
        }
        Ok((version, VersionBody::DeleteMarker { last_modified_ms })) => {
            let again = encode_delete_marker(&version, last_modified_ms);
            let (v, body) = decode_version::<ObjectRecord>("versions", &again, true).unwrap();
            assert_eq!(
                (v, body),
                (version, VersionBody::DeleteMarker { last_modified_ms })
            );
        }
        Err(e) => assert!(matches!(e, MetaError::Corrupt { .. }), "{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::types::*;
    use crate::pipeline::checksum::ChecksumAlgorithm;
    use crate::pipeline::layout::ErasureParams;

    fn object() -> ObjectRecord {
        ObjectRecord {
            size: 5000,
            etag: "abc-2".into(),
            last_modified_ms: 1_700_000_000_000,
            checksum: Some(StoredChecksum {
                algorithm: ChecksumAlgorithm::Crc64Nvme,
                value: "AAAAAAAAAAA=".into(),
                composite_parts: Some(2),
            }),
            content_type: Some("text/plain".into()),
            headers: vec![("cache-control".into(), "no-cache".into())],
            user_metadata: vec![("a".into(), "b".into())],
            part_sizes: vec![4000, 1000],
            extents: vec![
                Extent::Segment {
                    id: SegmentId([7; 16]),
                    plaintext_bytes: 4000,
                    wrapped_key: vec![1; 60],
                    nonce_prefix: [1, 2, 3, 4],
                },
                Extent::Inline {
                    sealed: vec![9; 1016],
                    wrapped_key: vec![2; 60],
                    nonce_prefix: [5, 6, 7, 8],
                },
            ],
            tags: vec![("k".into(), "v".into())],
        }
    }

    #[test]
    fn records_round_trip_and_summaries_read_a_prefix() {
        let record = object();
        // A version-1 row (from before versioning) never held tags.
        let untagged = ObjectRecord {
            tags: Vec::new(),
            ..record.clone()
        };
        let bytes = encode(&untagged);
        assert_eq!(bytes[0], RECORD_VERSION);
        assert_eq!(decode::<ObjectRecord>("objects", &bytes).unwrap(), untagged);
        let version = Version {
            id: VersionId::new(7, [1; 8]),
            is_null: false,
            lock: Lock {
                retention: Some(Retention {
                    mode: RetentionMode::Compliance,
                    until_ms: 1 << 40,
                }),
                legal_hold: true,
            },
        };
        let row = encode_object(&version, &record);
        assert_eq!(
            decode_version::<ObjectRecord>("objects", &row, true).unwrap(),
            (version, VersionBody::Object(record.clone()))
        );
        // Without tags the row is the row from before tags: same bytes as
        // the header and body alone.
        let plain = encode_object(&version, &untagged);
        assert_eq!(row.len(), plain.len() + 1 + 2 + 1 + 2 + 1);
        assert_eq!(plain[17] & FLAG_TAGS, 0);
        let (read, summary) = decode_version::<ObjectSummary>("objects", &row, false).unwrap();
        assert_eq!(read, version);
        let VersionBody::Object(summary) = summary else {
            panic!("an object row read as a marker")
        };
        assert_eq!(
            summary,
            ObjectSummary {
                size: record.size,
                etag: record.etag.clone(),
                last_modified_ms: record.last_modified_ms,
                checksum: record.checksum.clone(),
            }
        );
        let info = SegmentInfo {
            erasure: ErasureParams {
                required: 4,
                optimal: 5,
                total: 6,
            },
            share_bytes: 65536,
            plaintext_bytes: 1 << 26,
            pieces: vec![PiecePlacement {
                piece: 3,
                store: 9,
                digest: [4; 32],
            }],
        };
        assert_eq!(decode::<SegmentInfo>("gc", &encode(&info)).unwrap(), info);
    }

    /// Rows written before versioning: buckets read as unversioned, objects
    /// as `null` versions placed by their last-modified time.
    #[test]
    fn version_one_rows_read_as_unversioned() {
        #[derive(Serialize)]
        struct OldBucket<'a>(&'a str, u64, &'a str);
        let old = encode(&OldBucket("photos", 5, "us-east-1"));
        assert_eq!(old[0], 1);
        let bucket = decode_bucket(&old).unwrap();
        assert_eq!(bucket.name, "photos");
        assert_eq!(bucket.versioning, Versioning::Unversioned);
        assert_eq!(bucket.object_lock, None);
        let again = encode_bucket(&bucket);
        assert_eq!((again[0], decode_bucket(&again).unwrap()), (2, bucket));

        let record = ObjectRecord {
            tags: Vec::new(),
            ..object()
        };
        let (version, body) =
            decode_version::<ObjectRecord>("objects", &encode(&record), true).unwrap();
        assert_eq!(version, legacy_version(record.last_modified_ms));
        assert!(version.is_null);
        assert_eq!(body, VersionBody::Object(record));
        let marker = encode_delete_marker(&version, 77);
        assert!(
            decode_object(&marker).is_err(),
            "a marker is never a current object"
        );
        let mut flags = encode_object(&version, &object());
        flags[17] |= 0x80;
        assert!(matches!(
            decode_object(&flags),
            Err(MetaError::Corrupt { .. })
        ));
    }

    #[test]
    fn bad_records_are_corrupt_not_panics() {
        let bytes = encode(&object());
        for bad in [&[][..], &[2, 0, 0][..], &bytes[..bytes.len() - 1]] {
            assert!(matches!(
                decode::<ObjectRecord>("objects", bad),
                Err(MetaError::Corrupt { .. })
            ));
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode::<ObjectRecord>("objects", &trailing).is_err());
        for code in 0..=255u8 {
            if let Some(a) = super::super::serde_with::checksum_algorithm::from_code(code) {
                assert_eq!(super::super::serde_with::checksum_algorithm::code(a), code);
            }
        }
    }

    #[test]
    fn keys_order_buckets_apart_and_uploads_by_key_then_id() {
        let p = ProjectId([1; 16]);
        // Bucket "a"'s range must not contain bucket "ab"'s keys.
        let a = bucket_prefix(p, "a");
        assert!(!object_key(p, "ab", "x").starts_with(&a));
        assert!(object_key(p, "a", "zzz") < object_key(p, "ab", ""));
        let low = UploadId([0; 16]);
        let high = UploadId([0xff; 16]);
        assert!(upload_key(p, "b", "k", high) < upload_key(p, "b", "k0", low));
        assert!(upload_key(p, "b", "k", low) < upload_key(p, "b", "k", high));
        let suffix = upload_suffix(b"some/key", high);
        assert_eq!(upload_suffix_key(&suffix), b"some/key");
        assert_eq!(upload_suffix_id(&suffix), Some(high));
        assert_eq!(part_key(low, 10_000)[16..], 10_000u32.to_be_bytes());
        assert!(part_key(low, 2) < part_key(low, 10));
    }

    #[test]
    fn prefix_successor_bounds_every_extension() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn ids_round_trip_through_hex() {
        let id = UploadId::random();
        assert_eq!(UploadId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(UploadId::from_hex("zz"), None);
        assert_eq!(UploadId::from_hex(&"+f".repeat(16)), None);
        let p = ProjectId::random();
        assert_eq!(ProjectId::from_hex(&p.to_hex()), Some(p));
    }
}
