//! `MetaBackend`: the metadata contract as one trait, the seam where a
//! backend plugs in. The embedded redb store ([`super::RedbStore`]) is one
//! implementation; a shared SQL database is meant to be another.
//!
//! The contract is blocking and synchronous: [`super::Meta`] runs reads on an
//! executor's blocking pool and hands writes to the commit thread, so no
//! backend ever runs on an executor. What every implementation promises:
//! - a read sees one committed state (one snapshot or transaction per call);
//! - `commit_batch` applies each mutation's checks and effects atomically and
//!   on its own: a failed mutation leaves nothing and does not fail its
//!   batch-mates, which see the effects of those before them; `Err` means the
//!   whole batch failed and nothing of it was applied;
//! - the invariants of `meta`'s module documentation (segment reference
//!   counts, the GC queue, records as given) hold after every batch.
//!
//! `meta/tests.rs` states the contract as tests against a model.

use super::error::MetaError;
use super::mutation::{BatchResults, Mutation, MutationOutcome};
use super::types::*;
use crate::pieces::format::SegmentId;

/// A metadata backend: every read and the one write of the contract.
pub trait MetaBackend: Send + Sync + 'static {
    /// Where the metadata lives, for logs and errors (a path, a database name).
    fn describe(&self) -> String;

    /// Applies `batch` durably (one transaction) and returns each mutation's result.
    fn commit_batch(&self, batch: &[Mutation]) -> Result<BatchResults, MetaError>;

    /// How many times a mutation released a segment reference that had no row.
    fn dangling_references(&self) -> u64;

    fn project(&self, id: ProjectId) -> Result<Option<ProjectRecord>, MetaError>;
    /// Every project, in id order.
    fn projects(&self) -> Result<Vec<ProjectRecord>, MetaError>;
    /// When an API key head (its 16-byte id) was revoked (unix ms), if it was.
    fn revoked(&self, head: &[u8; 16]) -> Result<Option<u64>, MetaError>;
    /// The opaque record stored under the hash of an access key id.
    fn access(&self, key_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, MetaError>;
    /// Up to `limit` access records with hashes after `after`, in hash order
    /// (for start-up migrations of the records' format).
    fn access_after(
        &self,
        after: Option<[u8; 32]>,
        limit: usize,
    ) -> Result<Vec<AccessRow>, MetaError>;

    fn bucket(&self, project: ProjectId, bucket: &str) -> Result<Option<BucketRecord>, MetaError>;
    /// A project's buckets in name order.
    fn buckets(&self, project: ProjectId) -> Result<Vec<BucketRecord>, MetaError>;
    /// Whether the bucket holds no objects, versions or delete markers
    /// (uploads in progress do not count).
    fn bucket_is_empty(&self, project: ProjectId, bucket: &str) -> Result<bool, MetaError>;
    /// Every configuration document of the bucket, by family name;
    /// `NoSuchBucket` if the bucket is absent.
    fn bucket_configs(&self, project: ProjectId, bucket: &str) -> Result<BucketConfigs, MetaError>;

    /// The current object, `None` if there is none (the key is absent or its
    /// latest version is a delete marker), `NoSuchBucket` if the bucket is absent.
    fn object(
        &self,
        project: ProjectId,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, MetaError>;
    /// The version `which` names (`Latest`: the latest, which may be a delete
    /// marker), an object with the segments its extents reference in extent
    /// order, read together so no release can fall between them.
    fn object_version(
        &self,
        project: ProjectId,
        bucket: &str,
        key: &str,
        which: WhichVersion,
    ) -> Result<Option<FoundVersion>, MetaError>;
    /// One page of a bucket's objects in key order (see [`ListQuery`]).
    fn list_objects(
        &self,
        project: ProjectId,
        bucket: &str,
        query: &ListQuery,
    ) -> Result<ListPage, MetaError>;

    /// One page of a bucket's versions and delete markers: keys in order, each
    /// key's versions newest first (see [`VersionListQuery`]).
    fn list_versions(
        &self,
        project: ProjectId,
        bucket: &str,
        query: &VersionListQuery,
    ) -> Result<VersionPage, MetaError>;

    fn upload(&self, upload: &UploadRef) -> Result<Option<UploadRecord>, MetaError>;
    /// What a completed upload answered (kept a while; see `CompletedUpload`),
    /// if this id was an upload of the same project, bucket and key.
    fn completed_upload(&self, upload: &UploadRef) -> Result<Option<CompletedUpload>, MetaError>;
    /// One part, `None` if absent, `NoSuchUpload` if the upload is.
    fn part(&self, upload: &UploadRef, part_number: u32) -> Result<Option<PartRecord>, MetaError>;
    /// One page of a bucket's uploads in progress, by key then upload id.
    fn list_uploads(
        &self,
        project: ProjectId,
        bucket: &str,
        query: &UploadListQuery,
    ) -> Result<UploadPage, MetaError>;
    /// Parts after `part_number_marker`, at most `max_parts`.
    fn list_parts(
        &self,
        upload: &UploadRef,
        part_number_marker: u32,
        max_parts: usize,
    ) -> Result<PartPage, MetaError>;

    /// The segments' records, `None` for an id with no row, in the order asked.
    fn segment_infos(&self, ids: &[SegmentId]) -> Result<Vec<Option<SegmentInfo>>, MetaError>;
    /// How many extents reference the segment; `None` once it has no row.
    fn segment_ref_count(&self, id: SegmentId) -> Result<Option<u32>, MetaError>;
    /// Up to `limit` segments with ids after `after`, in id order.
    fn segments_after(
        &self,
        after: Option<SegmentId>,
        limit: usize,
    ) -> Result<Vec<(SegmentId, SegmentInfo)>, MetaError>;
    /// Every segment id that records reference, in id order.
    fn referenced_segments(&self) -> Result<Vec<SegmentId>, MetaError>;
    /// Up to `limit` GC queue entries after `after`, by id.
    fn gc_pending_after(
        &self,
        after: Option<SegmentId>,
        limit: usize,
    ) -> Result<Vec<GcEntry>, MetaError>;
    /// Every piece store ever registered, by id.
    fn stores(&self) -> Result<Vec<StoreRecord>, MetaError>;

    /// One mutation in its own batch: for tools and tests; the gateway goes
    /// through the commit thread.
    fn commit_one(&self, mutation: Mutation) -> Result<MutationOutcome, MetaError> {
        self.commit_batch(std::slice::from_ref(&mutation))?
            .pop()
            .expect("one result per mutation")
    }

    /// Up to `limit` GC queue entries from the first, by id.
    fn gc_pending(&self, limit: usize) -> Result<Vec<GcEntry>, MetaError> {
        self.gc_pending_after(None, limit)
    }
}
