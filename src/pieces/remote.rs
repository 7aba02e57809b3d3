//! `RemoteStore`: the `PieceStore` contract over one storage node (`ringgate
//! node`), speaking the node protocol (`crate::node`). One handle per core per
//! node, like every store; it keeps that core's pool of connections to the node.
//!
//! - Connections are opened on demand up to `connections_max`, kept idle up to
//!   `idle_connections_max` for `idle_timeout` (below the node's own idle
//!   timeout), and reused one request at a time. A request that finds its
//!   pooled connection dead before any answer (the node restarted, or closed
//!   it) is retried once on a fresh one; every order is signed afresh for the
//!   connection it goes on.
//! - A writer streams each `write` as DATA frames (no piece is ever buffered
//!   whole); `commit` sends COMMIT and waits for the node's OK, which the node
//!   sends only after fdatasync and rename. A writer dropped or failed part way
//!   closes its connection: the node sees the stream end without COMMIT and
//!   discards the temporary piece. `abort` says so with ABORT and keeps the
//!   connection.
//! - A COMMIT on the wire is seen through by its own task even if the writer's
//!   future is dropped (the upload's long tail cut it off), and a delete of
//!   that piece through this store waits for the node's answer: otherwise the
//!   delete the upload sends after a cut-off could overtake the node's
//!   fdatasync and rename, and the piece would appear after it was deleted.
//! - Every step has a timeout: connect, each read or write that makes no
//!   progress, the wait for a free connection, and the wait for a commit; a dead
//!   node fails fast as `StoreError::Timeout` or `Io`, named by its address.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use glommio::net::TcpStream;
use glommio::sync::{Semaphore, StaticPermit};

use super::format::PieceId;
use super::store::{
    LocalBoxFuture, PieceBytes, PieceStat, PieceStore, PieceWriter, StoreError, StoreSpace,
};
use crate::clock::unix_now_secs;
use crate::entropy;
use crate::pieces::wire::conn::{deadline, FrameConn, WireError};
use crate::pieces::wire::order::{NodeKey, Order, PieceOperation, NODE_SCOPE, NONCE_BYTES};
use crate::pieces::wire::protocol::{
    ErrorCode, ErrorReply, Frame, FrameType, NodeHealth, LIST_PAGE_IDS_MAX, RESPONSE_BYTES_MAX,
};
use crate::pipeline::random::Entropy;

/// Read buffer per connection: holds any response frame; DATA bypasses it.
const READ_BUFFER_BYTES: usize = RESPONSE_BYTES_MAX + 64;

/// Timeouts and pool sizes of one `RemoteStore`.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    pub connect_timeout: Duration,
    /// The longest a read or write may make no progress, and the longest a
    /// request waits for a free connection.
    pub io_timeout: Duration,
    /// The longest COMMIT may take to be answered (the node's fdatasync, rename
    /// and directory fsync behind it).
    pub commit_timeout: Duration,
    /// Connections open to the node at once (busy and idle), per core.
    pub connections_max: usize,
    /// Idle connections kept for reuse.
    pub idle_connections_max: usize,
    /// How long an idle connection is kept; below the node's idle timeout, so
    /// the pool rarely hands out a connection the node has just closed.
    pub idle_timeout: Duration,
    /// How long an order stays valid after it is signed.
    pub order_ttl: Duration,
    /// Piece ids asked for per LIST page.
    pub list_page_ids: u32,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(10),
            commit_timeout: Duration::from_secs(30),
            connections_max: 64,
            idle_connections_max: 16,
            idle_timeout: Duration::from_secs(30),
            order_ttl: Duration::from_secs(60),
            list_page_ids: LIST_PAGE_IDS_MAX as u32,
        }
    }
}

/// A `PieceStore` on one remote node. Cloning shares the handle and its pool.
#[derive(Clone)]
pub struct RemoteStore {
    inner: Rc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    /// The address as text: `name()`, and the `store` of every error.
    name: String,
    /// The node's key: signs its orders and checks its HELLO's proof.
    key: Arc<NodeKey>,
    config: RemoteConfig,
    idle: RefCell<Vec<Conn>>,
    /// One permit per open connection, so at most `connections_max` are open.
    permits: Rc<Semaphore>,
    /// Pieces whose COMMIT is on the wire, awaiting the node's answer.
    committing: RefCell<HashMap<PieceId, Rc<Settled>>>,
}

/// Set once a commit's answer is in (or its wait ended); deletes of the piece
/// wait for it.
#[derive(Default)]
struct Settled {
    done: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl Settled {
    fn set(&self) {
        self.done.set(true);
        for waker in self.waiters.take() {
            waker.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.done.get() {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

struct Conn {
    io: FrameConn,
    nonce: [u8; NONCE_BYTES],
    /// The node's clock minus ours at HELLO, so orders expire in node time.
    clock_offset_secs: i64,
    idle_since: Instant,
    _permit: StaticPermit,
}

/// A connection lent to one request. Dropped without `release` (an error, or
/// a future cancelled part way) it closes, so no connection in an unknown
/// state is ever reused.
struct Lease {
    conn: Option<Conn>,
    store: Rc<Inner>,
    reused: bool,
}

impl Lease {
    fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until released")
    }

    fn release(mut self) {
        let mut conn = self.conn.take().expect("released once");
        let mut idle = self.store.idle.borrow_mut();
        if idle.len() < self.store.config.idle_connections_max {
            conn.idle_since = Instant::now();
            idle.push(conn);
        }
    }
}

/// How a request failed, before it becomes a `StoreError`.
enum Failure {
    Wire(WireError),
    /// The node answered ERROR.
    Node(ErrorReply),
    /// The node answered something the protocol does not allow here.
    Unexpected(String),
}

impl From<WireError> for Failure {
    fn from(e: WireError) -> Self {
        Failure::Wire(e)
    }
}

fn unexpected(frame: &Frame<'_>) -> Failure {
    Failure::Unexpected(format!("unexpected {:?} frame", frame.kind()))
}

impl RemoteStore {
    /// A store on the node at `addr`. No I/O: connections open on first use,
    /// so a gateway can build its stores on every core at start-up.
    pub fn new(addr: SocketAddr, key: Arc<NodeKey>, config: RemoteConfig) -> Self {
        assert!(config.connections_max >= 1, "a store needs a connection");
        Self {
            inner: Rc::new(Inner {
                addr,
                name: addr.to_string(),
                key,
                permits: Rc::new(Semaphore::new(config.connections_max as u64)),
                config,
                idle: RefCell::new(Vec::new()),
                committing: RefCell::new(HashMap::new()),
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Open connections: idle ones and those lent to requests.
    pub fn connections_open(&self) -> usize {
        self.inner.config.connections_max - self.inner.permits.available() as usize
    }

    /// The node's health and capacity: what a gateway's health check asks.
    pub async fn ping(&self) -> Result<NodeHealth, StoreError> {
        let inner = &self.inner;
        let pong = async {
            let (lease, reply) = inner
                .call(|conn| Frame::Ping(conn.sign(inner, PieceOperation::Ping, NODE_SCOPE)))
                .await?;
            match reply {
                Frame::Pong(health) => {
                    lease.release();
                    Ok(health)
                }
                other => Err(unexpected(&other)),
            }
        };
        pong.await.map_err(|f| inner.error("ping", NODE_SCOPE, f))
    }

    /// One page of the node's piece ids after `after` (at most `limit`, and at
    /// most `LIST_PAGE_IDS_MAX`), and whether more follow.
    pub async fn list_page(
        &self,
        after: Option<PieceId>,
        limit: u32,
    ) -> Result<(Vec<PieceId>, bool), StoreError> {
        let inner = &self.inner;
        let page = async {
            let mut lease = inner.lease().await?;
            let page = inner.page(&mut lease, after, limit).await?;
            lease.release();
            Ok(page)
        };
        page.await.map_err(|f| inner.error("list", NODE_SCOPE, f))
    }
}

impl Conn {
    fn sign(
        &self,
        store: &Inner,
        operation: PieceOperation,
        piece: PieceId,
    ) -> crate::pieces::wire::SignedOrder {
        let now = unix_now_secs() as i64 + self.clock_offset_secs;
        let not_after = now.max(0) as u64 + store.config.order_ttl.as_secs();
        store.key.sign(
            Order::new(operation, piece, not_after, &mut entropy::Os),
            &self.nonce,
        )
    }
}

impl Inner {
    fn error(&self, op: &'static str, piece: PieceId, failure: Failure) -> StoreError {
        self.error_in(op, piece, None, failure)
    }

    /// The one place a failure becomes a `StoreError`; `range` is the range a
    /// read asked for, which an out-of-range answer names.
    fn error_in(
        &self,
        op: &'static str,
        piece: PieceId,
        range: Option<Range<u64>>,
        failure: Failure,
    ) -> StoreError {
        let store = self.name.clone();
        match failure {
            Failure::Wire(WireError::TimedOut) => StoreError::Timeout { store, op, piece },
            Failure::Wire(WireError::Protocol(e)) => StoreError::Protocol {
                store,
                op,
                piece,
                detail: e.to_string(),
            },
            Failure::Wire(e) => StoreError::Io {
                store,
                op,
                piece: piece.to_string(),
                source: match e {
                    WireError::Io(source) => source,
                    other => io::Error::new(io::ErrorKind::UnexpectedEof, other.to_string()),
                },
            },
            Failure::Node(reply) => match reply.code {
                ErrorCode::NotFound => StoreError::NotFound { store, piece },
                ErrorCode::OutOfRange if range.is_some() => StoreError::OutOfRange {
                    store,
                    piece,
                    range: range.expect("checked"),
                    len: reply.detail,
                },
                ErrorCode::Io => StoreError::Disk {
                    store,
                    op,
                    piece,
                    detail: format!("on the node: {}", reply.message),
                },
                code => StoreError::Protocol {
                    store,
                    op,
                    piece,
                    detail: format!("node refused ({code:?}): {}", reply.message),
                },
            },
            Failure::Unexpected(detail) => StoreError::Protocol {
                store,
                op,
                piece,
                detail,
            },
        }
    }

    /// A connection for one request: an idle one if any is fresh, else a new
    /// one once a permit is free.
    async fn lease(self: &Rc<Self>) -> Result<Lease, Failure> {
        loop {
            let Some(conn) = self.idle.borrow_mut().pop() else {
                break;
            };
            if conn.idle_since.elapsed() < self.config.idle_timeout {
                return Ok(Lease {
                    conn: Some(conn),
                    store: self.clone(),
                    reused: true,
                });
            }
            // Stale: dropping it closes it and frees its permit.
        }
        self.connect().await
    }

    async fn connect(self: &Rc<Self>) -> Result<Lease, Failure> {
        let io_timeout = self.config.io_timeout;
        let permit = futures_lite::future::or(
            async { self.permits.acquire_static_permit(1).await.ok() },
            async {
                glommio::timer::sleep(io_timeout).await;
                None
            },
        )
        .await
        .ok_or(Failure::Wire(WireError::TimedOut))?;
        let opened = async {
            let stream = TcpStream::connect_timeout(self.addr, self.config.connect_timeout)
                .await
                .map_err(|e| WireError::from(io::Error::from(e)))?;
            let io = FrameConn::new(stream, READ_BUFFER_BYTES).map_err(WireError::from)?;
            io.set_read_timeout(Some(io_timeout));
            io.set_write_timeout(Some(io_timeout));
            Ok::<_, WireError>(io)
        }
        .await;
        let mut io = opened?;
        let challenge: [u8; NONCE_BYTES] = entropy::Os.array();
        deadline(io_timeout, io.send(&Frame::Challenge(challenge))).await?;
        let hello = match deadline(io_timeout, io.read_frame()).await? {
            Frame::Hello(hello) => hello,
            Frame::Error(reply) => return Err(Failure::Node(reply)),
            other => return Err(unexpected(&other)),
        };
        let (nonce, time) = (&hello.nonce, hello.node_time_secs);
        if !self.key.verify_hello(&challenge, nonce, time, &hello.proof) {
            return Err(Failure::Unexpected(format!(
                "the node at {} does not hold the key of node {:?}",
                self.addr,
                self.key.name()
            )));
        }
        let now = unix_now_secs() as i64;
        let conn = Conn {
            io,
            nonce: hello.nonce,
            clock_offset_secs: hello.node_time_secs as i64 - now,
            idle_since: Instant::now(),
            _permit: permit,
        };
        Ok(Lease {
            conn: Some(conn),
            store: self.clone(),
            reused: false,
        })
    }

    /// Sends the request `make` builds for a connection and reads its first
    /// answer. A pooled connection found dead before any answer is replaced
    /// by a fresh one, once; so is one the node refused as busy (its replay
    /// set is full, and it closed the connection) or whose orders it found
    /// expired (the clock offset learnt at its HELLO went stale).
    async fn call(
        self: &Rc<Self>,
        make: impl Fn(&Conn) -> Frame<'static>,
    ) -> Result<(Lease, Frame<'static>), Failure> {
        let mut lease = self.lease().await?;
        loop {
            let request = make(lease.conn());
            match exchange(lease.conn(), &request).await {
                Ok(Frame::Error(reply))
                    if lease.reused
                        && matches!(reply.code, ErrorCode::Busy | ErrorCode::Expired) =>
                {
                    drop(lease);
                    lease = self.connect().await?;
                }
                Ok(Frame::Error(reply)) => {
                    if reply.code.keeps_connection() {
                        lease.release();
                    }
                    return Err(Failure::Node(reply));
                }
                Ok(reply) => return Ok((lease, reply)),
                Err(e) if lease.reused && e.is_stale_connection() => {
                    drop(lease);
                    lease = self.connect().await?;
                }
                Err(e) => return Err(Failure::Wire(e)),
            }
        }
    }

    async fn page(
        &self,
        lease: &mut Lease,
        after: Option<PieceId>,
        limit: u32,
    ) -> Result<(Vec<PieceId>, bool), Failure> {
        let conn = lease.conn();
        let order = conn.sign(self, PieceOperation::List, NODE_SCOPE);
        match exchange(
            conn,
            &Frame::List {
                order,
                after,
                limit,
            },
        )
        .await?
        {
            Frame::Page { ids, more } => {
                // Ids come strictly in order after the cursor, or the paging
                // would loop or skip.
                let ordered = ids.windows(2).all(|w| w[0] < w[1])
                    && after.is_none_or(|a| ids.first().is_none_or(|first| *first > a));
                if !ordered || (more && ids.is_empty()) {
                    return Err(Failure::Unexpected("PAGE out of order".into()));
                }
                Ok((ids, more))
            }
            Frame::Error(reply) => Err(Failure::Node(reply)),
            other => Err(unexpected(&other)),
        }
    }
}

/// Sends one request frame and reads the control frame that answers it.
async fn exchange(conn: &mut Conn, request: &Frame<'_>) -> Result<Frame<'static>, WireError> {
    conn.io.send(request).await?;
    let reply = conn.io.read_frame().await?;
    Ok(reply.into_owned().expect("read_frame refuses DATA"))
}

impl PieceStore for RemoteStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn create(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Box<dyn PieceWriter>, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let opened = async {
                let (lease, reply) = inner
                    .call(|conn| Frame::Put(conn.sign(inner, PieceOperation::Put, id)))
                    .await?;
                match reply {
                    Frame::Ready => Ok(lease),
                    other => Err(unexpected(&other)),
                }
            };
            let lease = opened.await.map_err(|f| inner.error("create", id, f))?;
            let writer: Box<dyn PieceWriter> = Box::new(RemoteWriter {
                lease: Some(lease),
                store: inner.clone(),
                id,
                sent: 0,
                interrupted: false,
            });
            Ok(writer)
        })
    }

    fn read(
        &self,
        id: PieceId,
        range: Range<u64>,
    ) -> LocalBoxFuture<'_, Result<PieceBytes, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            if range.start > range.end {
                // Not expressible on the wire; answer as a local store does.
                let Some(stat) = self.stat(id).await? else {
                    return Err(StoreError::NotFound {
                        store: inner.name.clone(),
                        piece: id,
                    });
                };
                return Err(StoreError::OutOfRange {
                    store: inner.name.clone(),
                    piece: id,
                    range,
                    len: stat.bytes,
                });
            }
            let read = async {
                let wanted = usize::try_from(range.end - range.start)
                    .map_err(|_| Failure::Unexpected(format!("range {range:?} exceeds memory")))?;
                let (mut lease, reply) = inner
                    .call(|conn| Frame::Get {
                        order: conn.sign(inner, PieceOperation::Get, id),
                        range: range.clone(),
                    })
                    .await?;
                match reply {
                    Frame::Read { bytes } if bytes == wanted as u64 => {}
                    other => return Err(unexpected(&other)),
                }
                let mut out = vec![0u8; wanted];
                match receive_data(lease.conn(), &mut out).await {
                    Ok(()) => {
                        lease.release();
                        Ok(PieceBytes::new(out))
                    }
                    Err(Failure::Node(reply)) => {
                        // An ERROR in place of DATA leaves the stream in step.
                        if reply.code.keeps_connection() {
                            lease.release();
                        }
                        Err(Failure::Node(reply))
                    }
                    Err(f) => Err(f),
                }
            };
            read.await
                .map_err(|f| inner.error_in("read", id, Some(range.clone()), f))
        })
    }

    fn delete(&self, id: PieceId) -> LocalBoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            // A commit of this piece still on the wire (its writer given up on
            // by the upload) could publish the piece after this delete: wait
            // for its answer first.
            let settling = inner.committing.borrow().get(&id).cloned();
            if let Some(settled) = settling {
                let limit = inner.config.commit_timeout;
                futures_lite::future::or(settled.wait(), glommio::timer::sleep(limit)).await;
            }
            let deleted = async {
                let (lease, reply) = inner
                    .call(|conn| Frame::Delete(conn.sign(inner, PieceOperation::Delete, id)))
                    .await?;
                match reply {
                    Frame::Ok => {
                        lease.release();
                        Ok(())
                    }
                    other => Err(unexpected(&other)),
                }
            };
            deleted.await.map_err(|f| inner.error("delete", id, f))
        })
    }

    fn stat(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Option<PieceStat>, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let stated = async {
                let (lease, reply) = inner
                    .call(|conn| Frame::Stat(conn.sign(inner, PieceOperation::Stat, id)))
                    .await?;
                match reply {
                    Frame::Stated(bytes) => {
                        lease.release();
                        Ok(bytes.map(|bytes| PieceStat { bytes }))
                    }
                    other => Err(unexpected(&other)),
                }
            };
            stated.await.map_err(|f| inner.error("stat", id, f))
        })
    }

    fn list(&self) -> LocalBoxFuture<'_, Result<Vec<PieceId>, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let listed = async {
                // Every page on one connection: the node pages through one
                // snapshot of its directory.
                let mut lease = inner.lease().await?;
                let mut all = Vec::new();
                let mut after = None;
                loop {
                    let (ids, more) = match inner
                        .page(&mut lease, after, inner.config.list_page_ids)
                        .await
                    {
                        Ok(page) => page,
                        Err(Failure::Wire(e))
                            if all.is_empty() && lease.reused && e.is_stale_connection() =>
                        {
                            lease = inner.connect().await?;
                            continue;
                        }
                        Err(f) => return Err(f),
                    };
                    after = ids.last().copied().or(after);
                    all.extend(ids);
                    if !more {
                        lease.release();
                        return Ok(all);
                    }
                }
            };
            listed.await.map_err(|f| inner.error("list", NODE_SCOPE, f))
        })
    }

    fn space(&self) -> LocalBoxFuture<'_, Result<StoreSpace, StoreError>> {
        Box::pin(async move {
            let health = self.ping().await?;
            Ok(StoreSpace {
                free_bytes: health.free_bytes,
                capacity_bytes: health.capacity_bytes,
            })
        })
    }
}

/// COMMIT and the node's answer; the connection goes back to the pool when
/// the stream is in step again.
async fn commit_exchange(mut lease: Lease, sent: u64) -> Result<(), Failure> {
    let (commit_timeout, io_timeout) = {
        let config = &lease.store.config;
        (config.commit_timeout, config.io_timeout)
    };
    let conn = lease.conn();
    conn.io.set_read_timeout(Some(commit_timeout));
    conn.io.send(&Frame::Commit { bytes: sent }).await?;
    let reply = conn.io.read_frame().await?.into_owned();
    conn.io.set_read_timeout(Some(io_timeout));
    match reply {
        Some(Frame::Ok) => {
            lease.release();
            Ok(())
        }
        Some(Frame::Error(reply)) => {
            if reply.code.keeps_connection() {
                lease.release();
            }
            Err(Failure::Node(reply))
        }
        Some(other) => Err(unexpected(&other)),
        None => Err(Failure::Unexpected("unexpected DATA frame".into())),
    }
}

/// Reads the DATA frames of a GET straight into `out`, until it is full.
async fn receive_data(conn: &mut Conn, out: &mut [u8]) -> Result<(), Failure> {
    let mut filled = 0;
    while filled < out.len() {
        let header = conn.io.read_header().await?;
        match header.kind {
            FrameType::Data if header.len <= out.len() - filled => {
                conn.io
                    .data_into(&mut out[filled..filled + header.len])
                    .await?;
                filled += header.len;
            }
            FrameType::Data => {
                return Err(Failure::Unexpected("DATA past the end of the range".into()));
            }
            _ => {
                return match conn.io.read_body(header).await? {
                    Frame::Error(reply) => Err(Failure::Node(reply)),
                    other => Err(unexpected(&other)),
                }
            }
        }
    }
    Ok(())
}

/// A piece streaming to the node. Dropped before `commit` (cancelled by the
/// upload's long tail, or failed), its connection closes and the node discards
/// the piece.
struct RemoteWriter {
    lease: Option<Lease>,
    store: Rc<Inner>,
    id: PieceId,
    sent: u64,
    /// Set while a write is under way and left set if it fails or is dropped
    /// part way: the stream then holds an unknown prefix of the bytes, so the
    /// piece must not be committed.
    interrupted: bool,
}

impl RemoteWriter {
    fn interrupted_error(&self, op: &'static str) -> StoreError {
        self.store.error(
            op,
            self.id,
            Failure::Wire(WireError::Io(io::Error::other(
                "an earlier write failed or was cancelled part way, so the piece is incomplete",
            ))),
        )
    }
}

impl PieceWriter for RemoteWriter {
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.interrupted {
                return Err(self.interrupted_error("write"));
            }
            self.interrupted = true;
            let lease = self.lease.as_mut().expect("a writer holds its connection");
            lease
                .conn()
                .io
                .send_data(bytes)
                .await
                .map_err(|e| self.store.error("write", self.id, Failure::Wire(e)))?;
            self.sent += bytes.len() as u64;
            self.interrupted = false;
            Ok(())
        })
    }

    fn commit(mut self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move {
            if self.interrupted {
                return Err(self.interrupted_error("commit"));
            }
            let lease = self.lease.take().expect("a writer holds its connection");
            let (store, id, sent) = (self.store.clone(), self.id, self.sent);
            let settled = Rc::new(Settled::default());
            store.committing.borrow_mut().insert(id, settled.clone());
            // The exchange runs as its own task. If this future is dropped (the
            // upload cut the piece off), the task still waits for the node's
            // answer, and a delete of the piece through this store waits for
            // the task: it cannot overtake the node's rename.
            let task = glommio::spawn_local(async move {
                let result = commit_exchange(lease, sent).await;
                let mut committing = store.committing.borrow_mut();
                if committing.get(&id).is_some_and(|s| Rc::ptr_eq(s, &settled)) {
                    committing.remove(&id);
                }
                drop(committing);
                settled.set();
                result.map_err(|f| store.error("commit", id, f))
            })
            .detach();
            task.await.unwrap_or_else(|| {
                Err(self.store.error(
                    "commit",
                    id,
                    Failure::Unexpected("commit task cancelled".into()),
                ))
            })
        })
    }

    fn abort(mut self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(mut lease) = self.lease.take() else {
                return Ok(());
            };
            if self.interrupted {
                // Closing the connection is the abort.
                return Ok(());
            }
            let conn = lease.conn();
            let acked = async {
                conn.io.send(&Frame::Abort).await?;
                Ok::<_, WireError>(matches!(conn.io.read_frame().await?, Frame::Ok))
            }
            .await;
            if let Ok(true) = acked {
                lease.release();
            }
            // Otherwise dropping the lease closes the connection, which the
            // node takes as an abort too.
            Ok(())
        })
    }
}
