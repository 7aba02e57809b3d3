//! The metadata contract (projects, access records, buckets, objects, segments,
//! multipart uploads, the GC queue) and its embedded redb backend with group
//! commit. An API boundary: the rest of the gateway sees only these types,
//! `MetaStore`'s reads, `Mutation`s, and the async `Meta` facade.
//!
//! - `types`: the records. `codec`: keys and record encoding (the byte layout).
//! - `store`: `MetaStore`, opening and every read. `list`: S3 listing as a pure
//!   function, tested against a model.
//! - `apply`: `Mutation`, checked then applied, a batch per write transaction.
//! - `commit`: the group-commit thread. `facade`: `Meta`, for executors.
//!
//! Invariants: a segment's reference count equals the number of segment extents
//! in objects and parts that name it; a segment whose count reaches zero leaves
//! the segments table and enters the GC queue in the same transaction, exactly
//! once; a mutation that fails has no effect; meta never reads a clock (times
//! come in the records) and never interprets access records.

mod apply;
mod codec;
mod commit;
mod error;
mod facade;
mod list;
mod store;
mod types;

#[cfg(test)]
mod tests;

pub use apply::{Mutation, MutationOutcome};
pub use codec::{fuzz_decode_records, RECORD_VERSION};
pub use commit::{
    CommitConfig, CommitHandle, CommitStats, CommitStatsSnapshot, Committer, Reply, SubmitError,
    BATCH_SIZE_BUCKETS, COMMIT_LATENCY_BUCKETS, MUTATIONS_PER_COMMIT_MAX_DEFAULT,
    QUEUE_MUTATIONS_MAX_DEFAULT,
};
pub use error::MetaError;
pub use facade::{Meta, QUEUE_FULL_RETRY};
pub use store::{MetaStore, StoreOptions, CACHE_BYTES_DEFAULT, FORMAT_VERSION};
pub use types::*;

/// S3's longest object key.
pub const OBJECT_KEY_BYTES_MAX: usize = 1024;
/// A structural bound only (S3's naming rules, 3 to 63 characters, belong to
/// the S3 layer); what meta needs is a name with no NUL byte.
pub const BUCKET_NAME_BYTES_MAX: usize = 255;
/// Buckets one project may own (AWS's default quota is 100, its ceiling 10,000).
pub const BUCKETS_PER_PROJECT_MAX: usize = 1000;
/// Keys plus common prefixes in one listing page, and uploads in one upload
/// listing: S3's cap on max-keys and max-uploads.
pub const LIST_ENTRIES_MAX: usize = 1000;
/// S3's highest part number (and so the most parts of one upload).
pub const PART_NUMBER_MAX: u32 = 10_000;
