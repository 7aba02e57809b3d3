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
mod limits;
mod list;
mod serde_with;
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
pub use limits::*;
pub use store::{MetaStore, StoreOptions, CACHE_BYTES_DEFAULT, FORMAT_VERSION};
pub use types::*;
