//! The metadata contract (projects, access records, buckets and their
//! configuration documents, objects, segments, multipart uploads, the GC
//! queue), its embedded redb backend, and group commit. An API boundary: the
//! rest of the gateway sees only these types, `MetaBackend`'s reads,
//! `Mutation`s, and the async `Meta` facade.
//!
//! The contract, backend-neutral:
//! - `types`: the records; `version`: version ids, how a request names a
//!   version, a bucket's versioning state (pure). `mutation`: every write, as data.
//! - `backend`: `MetaBackend`, the trait a backend implements (every read and
//!   `commit_batch`). `commit`: the group-commit thread in front of any backend.
//!   `facade`: `Meta`, for executors. `list`: S3 listing as a pure function,
//!   tested against a model.
//!
//! The redb backend: `store` (`RedbStore`, opening and every read), `apply`
//! (mutations checked then applied, a batch per write transaction) with
//! `plan` (a mutation's effects before they are written) and `versioned`
//! (object writes and deletes under each versioning state), `codec` (keys and
//! record encoding, the byte layout).
//!
//! Invariants: a segment's reference count equals the number of segment extents
//! in objects and parts that name it; a segment whose count reaches zero leaves
//! the segments table and enters the GC queue in the same transaction, exactly
//! once; a mutation that fails has no effect; meta never reads a clock (times
//! come in the records) and never interprets access records.

mod apply;
mod backend;
mod codec;
mod commit;
mod error;
mod facade;
mod limits;
mod list;
mod mutation;
mod plan;
mod serde_with;
mod store;
mod types;
pub mod version;
mod versioned;

#[cfg(test)]
mod tests;

pub use backend::MetaBackend;
pub use codec::{fuzz_decode_records, RECORD_VERSION};
pub use commit::{
    CommitConfig, CommitHandle, CommitStats, CommitStatsSnapshot, Committer, Reply, SubmitError,
    BATCH_SIZE_BUCKETS, COMMIT_LATENCY_BUCKETS, MUTATIONS_PER_COMMIT_MAX_DEFAULT,
    QUEUE_MUTATIONS_MAX_DEFAULT,
};
pub use error::MetaError;
pub use facade::{Meta, QUEUE_FULL_RETRY};
pub use limits::*;
pub use mutation::{BatchResults, Mutation, MutationOutcome};
pub use store::{RedbStore, StoreOptions, CACHE_BYTES_DEFAULT, FORMAT_VERSION};
pub use types::*;
