//! The `PieceStore` contract: what the gateway needs from anything that keeps
//! pieces, a local directory or a remote storage node. An API boundary.
//!
//! Futures are `!Send` on purpose: a store handle lives on one core's executor.
//! Invariants every implementation keeps:
//! - a piece becomes readable under its id only after `commit` made it durable;
//!   a writer dropped or aborted before that leaves nothing readable;
//! - `read` returns exactly the bytes asked for, or an error (never short data);
//! - `delete` of an absent piece succeeds (deletes are retried and raced).

use std::future::Future;
use std::ops::{Deref, Range};
use std::pin::Pin;

use super::format::PieceId;

pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{store}: piece {piece} not found")]
    NotFound { store: String, piece: PieceId },
    #[error("{store}: {op} {piece}: {source}")]
    Io {
        store: String,
        op: &'static str,
        piece: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{store}: read of {piece} bytes {range:?} past its end ({len} bytes)")]
    OutOfRange {
        store: String,
        piece: PieceId,
        range: Range<u64>,
        len: u64,
    },
    /// The store was reached but could not read or write its own disk (a
    /// node's I/O error): the piece is damaged, the store is not down.
    #[error("{store}: {op} {piece}: disk error: {detail}")]
    Disk {
        store: String,
        op: &'static str,
        piece: PieceId,
        detail: String,
    },
    #[error("{store}: {op} {piece} timed out")]
    Timeout {
        store: String,
        op: &'static str,
        piece: PieceId,
    },
    #[error("{store}: {op} {piece}: {detail}")]
    Protocol {
        store: String,
        op: &'static str,
        piece: PieceId,
        detail: String,
    },
    #[cfg(any(test, feature = "fault-injection"))]
    #[error("{store}: injected fault on {op} {piece}")]
    Injected {
        store: String,
        op: &'static str,
        piece: PieceId,
    },
}

/// Bytes read from a store, in whatever buffer the store filled.
pub struct PieceBytes(Box<dyn AsRef<[u8]>>);

impl PieceBytes {
    pub fn new(bytes: impl AsRef<[u8]> + 'static) -> Self {
        Self(Box::new(bytes))
    }
}

impl Deref for PieceBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

impl std::fmt::Debug for PieceBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PieceBytes({} bytes)", self.len())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceStat {
    pub bytes: u64,
}

/// Room on the file system a store keeps its pieces on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreSpace {
    pub free_bytes: u64,
    pub capacity_bytes: u64,
}

/// A piece being written as a stream.
pub trait PieceWriter {
    /// Appends bytes; they may be buffered until `commit`.
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> LocalBoxFuture<'a, Result<(), StoreError>>;
    /// Makes the piece durable and visible under its id.
    fn commit(self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>>;
    /// Discards everything written; the piece never becomes visible.
    fn abort(self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>>;
}

pub trait PieceStore {
    /// A short name for logs and errors (a path or an address).
    fn name(&self) -> &str;
    fn create(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Box<dyn PieceWriter>, StoreError>>;
    fn read(
        &self,
        id: PieceId,
        range: Range<u64>,
    ) -> LocalBoxFuture<'_, Result<PieceBytes, StoreError>>;
    fn delete(&self, id: PieceId) -> LocalBoxFuture<'_, Result<(), StoreError>>;
    fn stat(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Option<PieceStat>, StoreError>>;
    /// Every committed piece, for garbage collection and audits.
    fn list(&self) -> LocalBoxFuture<'_, Result<Vec<PieceId>, StoreError>>;
    /// Free and total bytes: placement weighs stores by free space, and for a
    /// remote store this is the health check (a node that cannot answer is down).
    fn space(&self) -> LocalBoxFuture<'_, Result<StoreSpace, StoreError>>;
}
