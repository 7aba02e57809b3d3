//! `MetaError`: the metadata contract's outcomes that are not success. Domain
//! outcomes (the S3 layer maps them to S3 error codes) and storage failures
//! (which carry the operation and the database file).

use std::path::PathBuf;
use std::sync::Arc;

use crate::pieces::format::SegmentId;

/// Clone, because a failed group commit hands the same error to every mutation
/// of its batch; the redb error is shared behind an `Arc` for that.
#[derive(Clone, Debug, thiserror::Error)]
pub enum MetaError {
    #[error("no such project")]
    NoSuchProject,
    #[error("project already exists")]
    ProjectAlreadyExists,
    #[error("project still owns buckets")]
    ProjectNotEmpty,
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("bucket already exists in this project")]
    BucketAlreadyOwnedByYou,
    #[error("bucket is not empty")]
    BucketNotEmpty,
    #[error("project already has {max} buckets")]
    TooManyBuckets { max: usize },
    #[error("invalid bucket name: {reason}")]
    InvalidBucketName { reason: &'static str },
    #[error("invalid object key: {reason}")]
    InvalidObjectKey { reason: &'static str },
    #[error("no such key")]
    NoSuchKey,
    #[error("no such upload")]
    NoSuchUpload,
    /// The part is missing, its ETag differs, or it was replaced since the caller read it.
    #[error("part {part_number} is missing or changed")]
    InvalidPart { part_number: u32 },
    #[error("parts are not in ascending order")]
    InvalidPartOrder,
    #[error("part number {0} is outside 1..=10000")]
    InvalidPartNumber(u32),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("no such version")]
    NoSuchVersion,
    /// The version named is a delete marker, which has no lock or body.
    #[error("the version is a delete marker")]
    DeleteMarker,
    /// Object lock protects the version (a retention or a legal hold).
    #[error("the object is protected by object lock")]
    ObjectLocked,
    #[error("the bucket has no object lock configuration")]
    NoObjectLockConfiguration,
    /// The bucket's state forbids the change (versioning and object lock).
    #[error("invalid bucket state: {0}")]
    InvalidBucketState(&'static str),
    /// A segment a copy meant to share was released in the meantime.
    #[error("segment {} no longer exists", .0.to_hex())]
    NoSuchSegment(SegmentId),
    #[error("segment {} changed since it was read", .0.to_hex())]
    SegmentChanged(SegmentId),
    /// The caller built a mutation that contradicts itself (a record whose segment
    /// extents differ from the segments it declares, a reused id): a bug upstream,
    /// refused here rather than stored.
    #[error("inconsistent mutation: {0}")]
    InconsistentMutation(&'static str),
    #[error("corrupt record in table {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    #[error("opening metadata database {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Arc<redb::Error>,
    },
    #[error("metadata database {} is already open (by this or another process)", .path.display())]
    AlreadyOpen { path: PathBuf },
    #[error("metadata database {} has format version {found}; this build reads {supported}", .path.display())]
    UnsupportedFormat {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("metadata {op} failed: {source}")]
    Storage {
        op: &'static str,
        #[source]
        source: Arc<redb::Error>,
    },
    #[error("metadata commit thread has stopped")]
    Closed,
}

impl MetaError {
    /// A failure of the database rather than of one mutation's checks: it poisons
    /// the whole transaction, so the batch is abandoned.
    pub fn is_storage(&self) -> bool {
        matches!(self, MetaError::Storage { .. })
    }
}

/// `map_err(storage("open table"))` for any redb error.
pub(crate) fn storage<E: Into<redb::Error>>(op: &'static str) -> impl FnOnce(E) -> MetaError {
    move |e| MetaError::Storage {
        op,
        source: Arc::new(e.into()),
    }
}
