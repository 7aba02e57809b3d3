//! Writes as data: every `Mutation` of the metadata contract and what one
//! that succeeded reports. How a backend applies them is its own (`apply`
//! for redb); what each must check and do is written here.

use super::error::MetaError;
use super::types::*;
use crate::pieces::format::SegmentId;

/// Each mutation's own result, in batch order.
pub type BatchResults = Vec<Result<MutationOutcome, MetaError>>;

/// One change to the metadata, applied atomically on its own.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// `ProjectAlreadyExists` if the id is taken.
    CreateProject(ProjectRecord),
    /// Inserts or replaces the record under the hash of an access key id.
    PutAccess {
        key_hash: [u8; 32],
        record: Vec<u8>,
    },
    DeleteAccess {
        key_hash: [u8; 32],
    },
    /// `NoSuchProject`, `BucketAlreadyOwnedByYou`, `TooManyBuckets`.
    CreateBucket {
        project: ProjectId,
        record: BucketRecord,
    },
    /// `NoSuchBucket`, `BucketNotEmpty` while it holds objects. Uploads in
    /// progress are aborted with it and their segments released.
    DeleteBucket {
        project: ProjectId,
        bucket: String,
    },
    /// Sets (`Some`) or removes (`None`) the bucket's configuration document
    /// of `family`; `existed` if it had one. `NoSuchBucket`.
    PutBucketConfig {
        project: ProjectId,
        bucket: String,
        family: String,
        document: Option<Vec<u8>>,
    },
    /// Sets the bucket's versioning to `Enabled` or `Suspended` (never back
    /// to `Unversioned`: `InconsistentMutation`). `NoSuchBucket`.
    /// Suspending a bucket with object lock is `InvalidBucketState`.
    SetBucketVersioning {
        project: ProjectId,
        bucket: String,
        state: Versioning,
    },
    /// Turns object lock on (it never goes off) with a default retention, or
    /// replaces the default. Only on a versioning-enabled bucket
    /// (`InvalidBucketState`). `NoSuchBucket`.
    SetBucketObjectLock {
        project: ProjectId,
        bucket: String,
        config: ObjectLock,
    },
    /// Changes one version's retention or legal hold (`ObjectLocked` when a
    /// retention may not be shortened; `NoObjectLockConfiguration` on a
    /// bucket without object lock; `NoSuchKey`/`NoSuchVersion`; `DeleteMarker`).
    SetObjectLock {
        project: ProjectId,
        bucket: String,
        key: String,
        which: WhichVersion,
        change: LockChange,
        now_ms: u64,
    },
    /// Replaces one version's tags (empty: removes them), in place: the
    /// version keeps its id, body and last-modified time. `NoSuchKey` or
    /// `NoSuchVersion`; `DeleteMarker` when it names a delete marker.
    SetObjectTags {
        project: ProjectId,
        bucket: String,
        key: String,
        which: WhichVersion,
        tags: Vec<(String, String)>,
    },
    /// Makes `record` the key's newest version, as the bucket's versioning
    /// says: unversioned, it replaces (and releases) the current object;
    /// enabled, the current version becomes noncurrent; suspended, it replaces
    /// the key's `null` version wherever that is. The version id is assigned
    /// here, newer than every version of the key, and reported in the outcome.
    /// `lock` is what the request asked (`Lock::default()`: nothing); on a
    /// bucket with object lock a retention not asked for is the bucket's
    /// default, dated from the record's time; asking on a bucket without it is
    /// `NoObjectLockConfiguration`.
    /// `new_segments` are inserted with one reference; `shared_segments` (a
    /// server-side copy's) gain one each. Together they must be exactly the
    /// record's segment extents. `NoSuchBucket`, `PreconditionFailed`,
    /// `NoSuchKey` (If-Match on an absent key), `NoSuchSegment`.
    PutObject {
        project: ProjectId,
        bucket: String,
        key: String,
        record: ObjectRecord,
        new_segments: Vec<(SegmentId, SegmentInfo)>,
        shared_segments: Vec<SegmentId>,
        condition: Option<Precondition>,
        lock: Lock,
    },
    /// `Latest` on an unversioned bucket deletes the object (`existed` if there
    /// was one); on a versioned bucket it adds a delete marker (a `null` one
    /// when suspended, replacing the `null` version), dated `now_ms`. A version
    /// named deletes that version (absent: success, nothing done); if it was the
    /// latest, the next newest becomes the latest. A version object lock
    /// protects at `now_ms` is `ObjectLocked` (`bypass_governance` lifts a
    /// GOVERNANCE retention). `condition` is checked against the version
    /// deleted (the current object for `Latest`): `PreconditionFailed`, or
    /// `NoSuchKey` when there is none. `NoSuchBucket`.
    DeleteObject {
        project: ProjectId,
        bucket: String,
        key: String,
        which: WhichVersion,
        now_ms: u64,
        bypass_governance: bool,
        condition: Option<DeleteCondition>,
    },
    /// `NoSuchBucket`.
    CreateUpload {
        project: ProjectId,
        bucket: String,
        record: UploadRecord,
    },
    /// Stores a part, replacing (and releasing) a previous one with its number
    /// if `may_replace` (else such a part is `PreconditionFailed`: replacing a
    /// part destroys it, which a grant that may not delete may not do).
    /// Segment rules as for `PutObject`. `NoSuchUpload`, `InvalidPartNumber`.
    PutPart {
        upload: UploadRef,
        record: PartRecord,
        new_segments: Vec<(SegmentId, SegmentInfo)>,
        shared_segments: Vec<SegmentId>,
        may_replace: bool,
    },
    /// Makes `record` (built by the caller from the parts it read) the object.
    /// Re-checks that the upload exists and that each used part still has its
    /// ETag (without quotes) and the segments `record` names, in order
    /// (`InvalidPart` otherwise; `InvalidPartOrder` unless ascending). The used
    /// parts' references move to the object; unused parts are released; the
    /// upload and its parts are deleted; a previous object is replaced as by `PutObject`.
    CompleteUpload {
        upload: UploadRef,
        parts_used: Vec<(u32, String)>,
        record: ObjectRecord,
        condition: Option<Precondition>,
        lock: Lock,
    },
    /// `NoSuchUpload`; releases every part.
    AbortUpload {
        upload: UploadRef,
    },
    /// Removes GC queue entries once their pieces are deleted; absent ids are ignored.
    GcDone(Vec<SegmentId>),
    /// Queues segments no record references for the collector: pieces a
    /// cleanup could not delete (a write whose commit was refused). A segment
    /// the segments table holds, or the queue already holds, is left as it is,
    /// so a live segment is never queued.
    QueueGc {
        segments: Vec<(SegmentId, SegmentInfo)>,
    },
    /// Deletes a project that owns no buckets (`NoSuchProject`, `ProjectNotEmpty`).
    DeleteProject {
        id: ProjectId,
    },
    /// Revokes an API key head and with it every grant derived from it;
    /// `existed` if it was revoked already.
    RevokeApiKey {
        head: [u8; 16],
        revoked_ms: u64,
    },
    /// Inserts or updates a piece store (its location or domain may change;
    /// its identity may not belong to another id). `existed` if it was known.
    PutStore(StoreRecord),
    /// Replaces a segment's placements after a repair, if they are still
    /// `expected` (`SegmentChanged` otherwise: another repair won, or the
    /// segment was rewritten); `NoSuchSegment` once it was released. Its
    /// reference count is untouched.
    RepairSegment {
        id: SegmentId,
        expected: Vec<PiecePlacement>,
        pieces: Vec<PiecePlacement>,
    },
}

impl Mutation {
    /// The segments this mutation brings into the metadata for the first time
    /// (their pieces were just written): what a refused commit must clean up.
    pub fn new_segments(&self) -> &[(SegmentId, SegmentInfo)] {
        match self {
            Mutation::PutObject { new_segments, .. } | Mutation::PutPart { new_segments, .. } => {
                new_segments
            }
            _ => &[],
        }
    }
}

/// What a mutation that succeeded did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MutationOutcome {
    /// A record was there before: the object or part replaced, the object or
    /// access record deleted, a GC entry removed.
    pub existed: bool,
    /// Segments whose last reference this mutation released; they are now in
    /// the GC queue (a hint to wake the collector).
    pub segments_queued_for_gc: u32,
    /// The version an object write created or a delete created or removed.
    pub version: Option<Version>,
    /// The delete created or removed a delete marker.
    pub delete_marker: bool,
    /// The bucket's versioning when an object write or delete ran.
    pub versioning: Versioning,
}
