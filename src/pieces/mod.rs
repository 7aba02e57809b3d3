//! Pieces: their format, the `PieceStore` contract, the local io_uring store,
//! the remote store on a storage node,
//! and the parallel transfers that write n pieces with long-tail cancellation
//! and read k with hedging.

pub mod download;
/// Fault injection for tests: not in a release library unless asked for.
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault;
pub mod format;
pub mod local;
pub mod race;
pub mod remote;
pub mod store;
pub mod upload;
pub mod wire;

pub use format::{PieceId, SegmentId};
pub use local::LocalStore;
pub use remote::{RemoteConfig, RemoteStore};
pub use store::{
    LocalBoxFuture, PieceBytes, PieceStat, PieceStore, PieceWriter, StoreError, StoreSpace,
};
