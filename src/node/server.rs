//! The node server: one glommio executor per core, each with its own
//! SO_REUSEPORT listener and `LocalStore` handle over the shared data
//! directory, serving every connection it accepts from first frame to last.
//! Each connection is a `Session`: its HELLO nonce, its replay set and its
//! listing snapshot. Nothing is shared between cores but read-mostly settings
//! and the piece counter.

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};

use crate::pieces::format::PieceId;
use crate::pieces::wire::conn::{deadline, FrameConn, WireError};
use crate::pieces::wire::key_file::KeyError;
use crate::pieces::wire::order::{
    NodeKey, OrderError, OrderRules, PieceOperation, ReplayGuard, SignedOrder, NONCE_BYTES,
};
use crate::pieces::wire::protocol::{
    ErrorCode, ErrorReply, Frame, FrameType, Hello, NodeHealth, DATA_BYTES_MAX, LIST_PAGE_IDS_MAX,
    REQUEST_BYTES_MAX,
};
use crate::pieces::{LocalStore, PieceStore, StoreError};
use crate::shutdown::ShutdownSignal;

/// Read buffer per connection: holds any request frame, and DATA streams
/// through it in slices of up to this size.
const READ_BUFFER_BYTES: usize = 256 << 10;
const _: () = assert!(READ_BUFFER_BYTES >= REQUEST_BYTES_MAX);

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("data folder {path}: {source}")]
    Data {
        path: String,
        source: std::io::Error,
    },
    #[error("{setting}: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("listening on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("piece store: {0}")]
    Store(String),
    #[error("core {core}: {reason}")]
    Core { core: usize, reason: String },
}

/// Every limit of a node, named, with its default.
#[derive(Clone, Debug)]
pub struct NodeLimits {
    pub connections_per_core_max: usize,
    /// How long a connection may sit between requests.
    pub idle_timeout: Duration,
    /// How long a request frame, or one DATA frame, may take to arrive, and
    /// how long a write to the client may make no progress.
    pub stall_timeout: Duration,
    pub shutdown_grace: Duration,
    pub orders: OrderRules,
    /// Unexpired put and delete serials one connection may hold (see `order`).
    pub replay_serials_per_connection_max: usize,
    /// How often core 0 recounts the pieces on disk for PONG.
    pub piece_recount_interval: Duration,
    /// Largest piece a put may stream; past it the put is refused and its
    /// connection closed, so a runaway client cannot fill the disk.
    pub piece_bytes_max: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        Self {
            connections_per_core_max: 1024,
            idle_timeout: Duration::from_secs(120),
            stall_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            orders: OrderRules::default(),
            replay_serials_per_connection_max: 1 << 16,
            piece_recount_interval: Duration::from_secs(600),
            // A segment is at most an S3 object or part (5 GiB), and a piece
            // at most a segment plus its checksums.
            piece_bytes_max: 5 << 30 | 64 << 20,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub cores: usize,
    /// Pin core i's executor to CPU i (when there are enough CPUs). Tests that
    /// run many nodes in one process turn it off.
    pub pin_cores: bool,
    /// This node's key: it verifies orders and proves the node's name.
    pub key: Arc<NodeKey>,
    pub limits: NodeLimits,
}

impl NodeConfig {
    /// One unpinned core, default limits: what tests and embedders start from.
    pub fn new(listen: SocketAddr, data: impl Into<PathBuf>, key: Arc<NodeKey>) -> Self {
        Self {
            listen,
            data: data.into(),
            cores: 1,
            pin_cores: false,
            key,
            limits: NodeLimits::default(),
        }
    }
}

/// What the cores share: settings, the start time and the piece count.
struct Shared {
    config: NodeConfig,
    started: Instant,
    pieces: PieceCount,
}

/// Committed pieces, for PONG: the last directory walk plus the commits and
/// deletes since it began. Exact from the first walk, which runs before the
/// node accepts; a later walk may count a piece committed or deleted while it
/// runs once too often or too rarely, until the next walk.
#[derive(Default)]
struct PieceCount {
    walked: AtomicU64,
    /// Commits minus deletes of present pieces, ever.
    changes: AtomicI64,
    /// `changes` when the last walk began.
    changes_at_walk: AtomicI64,
}

impl PieceCount {
    fn changed(&self, by: i64) {
        self.changes.fetch_add(by, Ordering::Relaxed);
    }

    /// Call before a walk; pass its result to `walked`.
    fn walk_begins(&self) -> i64 {
        self.changes.load(Ordering::Relaxed)
    }

    fn walked(&self, pieces: usize, changes_at_walk: i64) {
        self.walked.store(pieces as u64, Ordering::Relaxed);
        self.changes_at_walk
            .store(changes_at_walk, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        let since =
            self.changes.load(Ordering::Relaxed) - self.changes_at_walk.load(Ordering::Relaxed);
        (self.walked.load(Ordering::Relaxed) as i64 + since).max(0) as u64
    }
}

struct Core {
    store: LocalStore,
    shared: Arc<Shared>,
    shutdown: Rc<ShutdownSignal>,
    connections: Cell<usize>,
    /// The latest wall-clock second this core has seen: order expiries are
    /// judged on a clock that never goes back, so a serial the replay set
    /// forgot can never become valid again.
    clock_secs: Cell<u64>,
}

impl Core {
    fn limits(&self) -> &NodeLimits {
        &self.shared.config.limits
    }

    fn now_secs(&self) -> u64 {
        let now = crate::clock::unix_now_secs().max(self.clock_secs.get());
        self.clock_secs.set(now);
        now
    }
}

struct CoreHandle {
    stop: Option<futures_channel::oneshot::Sender<()>>,
    executor: Option<glommio::ExecutorJoinHandle<()>>,
}

/// A running node. Dropping it stops it, like `stop`.
pub struct NodeServer {
    addr: SocketAddr,
    cores: Vec<CoreHandle>,
}

impl NodeServer {
    /// Starts one executor per core and returns once every core listens. With
    /// port 0, core 0 binds first and the others share the port it got.
    pub fn start(config: NodeConfig) -> Result<NodeServer, NodeError> {
        if config.cores == 0 {
            return Err(NodeError::Invalid {
                setting: "cores",
                reason: "must be at least 1".into(),
            });
        }
        std::fs::create_dir_all(&config.data).map_err(|source| NodeError::Data {
            path: config.data.display().to_string(),
            source,
        })?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cores = config.cores;
        let pin = config.pin_cores && cores <= cpus;
        let mut listen = config.listen;
        let shared = Arc::new(Shared {
            config,
            started: Instant::now(),
            pieces: PieceCount::default(),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<Result<SocketAddr, NodeError>>();
        let mut server = NodeServer {
            addr: listen,
            cores: Vec::with_capacity(cores),
        };
        for core in 0..cores {
            let (stop_tx, stop_rx) = futures_channel::oneshot::channel::<()>();
            let shared = shared.clone();
            let addr_tx = addr_tx.clone();
            let placement = if pin {
                Placement::Fixed(core)
            } else {
                Placement::Unbound
            };
            let executor = LocalExecutorBuilder::new(placement)
                .name(&format!("ringgate-node{core}"))
                .spawn(move || async move {
                    run_core(core, listen, shared, stop_rx, addr_tx).await;
                })
                .map_err(|e| NodeError::Core {
                    core,
                    reason: e.to_string(),
                })?;
            server.cores.push(CoreHandle {
                stop: Some(stop_tx),
                executor: Some(executor),
            });
            match addr_rx.recv() {
                Ok(Ok(addr)) => listen = addr,
                // Dropping `server` stops the cores already running.
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(NodeError::Core {
                        core,
                        reason: "stopped while starting".into(),
                    })
                }
            }
        }
        server.addr = listen;
        Ok(server)
    }

    /// The address the node listens on (with the real port if 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes idle connections, lets requests in flight finish
    /// for up to `shutdown_grace`, and returns when every core has stopped.
    pub fn stop(mut self) {
        self.stop_cores();
    }

    fn stop_cores(&mut self) {
        for core in &mut self.cores {
            if let Some(stop) = core.stop.take() {
                let _ = stop.send(());
            }
        }
        for core in &mut self.cores {
            if let Some(executor) = core.executor.take() {
                let _ = executor.join();
            }
        }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        self.stop_cores();
    }
}

/// One core of the node from start to stop: opens the store and listener,
/// reports that it started, serves until stopped, then drains.
async fn run_core(
    index: usize,
    listen: SocketAddr,
    shared: Arc<Shared>,
    stop: futures_channel::oneshot::Receiver<()>,
    started: std::sync::mpsc::Sender<Result<SocketAddr, NodeError>>,
) {
    let Some((store, listener)) = open_core(index, listen, &shared, &started).await else {
        return;
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let core = Rc::new(Core {
        store,
        shared,
        shutdown: ShutdownSignal::new(),
        connections: Cell::new(0),
        clock_secs: Cell::new(0),
    });
    {
        let shutdown = core.shutdown.clone();
        glommio::spawn_local(async move {
            let _ = stop.await;
            shutdown.trigger();
        })
        .detach();
    }
    if index == 0 {
        glommio::spawn_local(recount_pieces(core.clone())).detach();
    }
    let _ = started.send(Ok(addr));
    let gate = glommio::sync::Gate::new();
    accept_until_shutdown(index, &core, &listener, &gate).await;
    drop(listener);
    drain(index, &core, gate).await;
}

/// Opens this core's store and binds its listener; core 0 also counts the
/// pieces. A failure is reported on `started` and gives `None`.
async fn open_core(
    index: usize,
    listen: SocketAddr,
    shared: &Shared,
    started: &std::sync::mpsc::Sender<Result<SocketAddr, NodeError>>,
) -> Option<(LocalStore, TcpListener)> {
    let store = match LocalStore::open(&shared.config.data).await {
        Ok(store) => store,
        Err(e) => {
            let _ = started.send(Err(NodeError::Store(e.to_string())));
            return None;
        }
    };
    let listener = match TcpListener::bind(listen) {
        Ok(listener) => listener,
        Err(e) => {
            let _ = started.send(Err(NodeError::Listen {
                addr: listen,
                reason: e.to_string(),
            }));
            return None;
        }
    };
    if index == 0 {
        // Before any core accepts, so the first count is exact. `open` walked
        // the same directories just now (its sweep), so they are warm.
        match store.list().await {
            Ok(pieces) => shared.pieces.walked(pieces.len(), 0),
            Err(e) => {
                let _ = started.send(Err(NodeError::Store(e.to_string())));
                return None;
            }
        }
    }
    Some((store, listener))
}

/// Serves each accepted connection in a task of `gate`, refusing those over
/// the per-core limit, until shutdown.
async fn accept_until_shutdown(
    index: usize,
    core: &Rc<Core>,
    listener: &TcpListener,
    gate: &glommio::sync::Gate,
) {
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            core.shutdown.wait().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { break };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning.
                tracing::warn!(core = index, "accept: {e}");
                glommio::timer::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if core.connections.get() >= core.limits().connections_per_core_max {
            refuse_busy(&stream);
            continue;
        }
        core.connections.set(core.connections.get() + 1);
        let core = core.clone();
        let spawned = gate.spawn(async move {
            serve_connection(&core, stream).await;
            core.connections.set(core.connections.get() - 1);
        });
        if let Ok(task) = spawned {
            task.detach();
        }
    }
}

/// Waits up to the shutdown grace for the open connections to finish.
async fn drain(index: usize, core: &Core, gate: glommio::sync::Gate) {
    let grace = core.limits().shutdown_grace;
    let drained = glommio::timer::timeout(grace, async {
        let _ = gate.close().await;
        Ok(())
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            core = index,
            connections = core.connections.get(),
            "connections still open after {grace:?}, closing them"
        );
    }
}

/// Tells a connection over the limit why it is closed, without a task: a
/// fresh socket's send buffer is empty, so a small non-blocking send lands.
fn refuse_busy(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let mut frame = Vec::new();
    Frame::Error(ErrorReply::new(ErrorCode::Busy, "too many connections")).encode(&mut frame);
    // SAFETY: the descriptor is open for the duration of the call and `frame`
    // is a live buffer of the given length.
    unsafe {
        libc::send(
            stream.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        );
    }
}

/// Keeps the piece count honest: recounts what is on disk every
/// `piece_recount_interval` (a directory walk on the blocking pool).
async fn recount_pieces(core: Rc<Core>) {
    loop {
        let interval = core.limits().piece_recount_interval;
        let stopped = future::or(
            async {
                glommio::timer::sleep(interval).await;
                false
            },
            async {
                core.shutdown.wait().await;
                true
            },
        )
        .await;
        if stopped {
            return;
        }
        let count = &core.shared.pieces;
        let changes = count.walk_begins();
        if let Ok(pieces) = core.store.list().await {
            count.walked(pieces.len(), changes);
        }
    }
}

/// What becomes of the connection after a request. `Err`: it failed (the peer
/// went away, timed out or broke the framing after we answered): close it.
#[derive(Debug, PartialEq, Eq)]
enum After {
    Continue,
    Close,
}

type Served = Result<After, WireError>;

struct Session {
    core: Rc<Core>,
    nonce: [u8; NONCE_BYTES],
    replay: ReplayGuard,
    /// The listing a paged LIST walks through, taken at its first page.
    listing: Option<Vec<PieceId>>,
}

/// The handshake: the client's CHALLENGE (within a stall timeout), then our
/// HELLO proving our key over it. The connection's nonce, or `None` if the
/// client sent anything else (answered with ERROR) or nothing.
async fn greet(
    core: &Rc<Core>,
    conn: &mut FrameConn,
    limits: &NodeLimits,
) -> Option<[u8; NONCE_BYTES]> {
    conn.set_read_timeout(Some(limits.stall_timeout));
    let challenge = match conn.read_frame().await {
        Ok(Frame::Challenge(challenge)) => challenge,
        Ok(other) => {
            let reply = ErrorReply::new(
                ErrorCode::Unexpected,
                format!("expected CHALLENGE, got {:?}", other.kind()),
            );
            let _ = conn.send(&Frame::Error(reply)).await;
            return None;
        }
        Err(_) => return None,
    };
    let mut nonce = [0u8; NONCE_BYTES];
    crate::entropy::fill(&mut nonce);
    let node_time_secs = core.now_secs();
    let proof = core
        .shared
        .config
        .key
        .hello_proof(&challenge, &nonce, node_time_secs);
    let hello = Frame::Hello(Hello {
        nonce,
        node_time_secs,
        proof,
    });
    conn.send(&hello).await.ok()?;
    Some(nonce)
}

async fn serve_connection(core: &Rc<Core>, stream: TcpStream) {
    let Ok(mut conn) = FrameConn::new(stream, READ_BUFFER_BYTES) else {
        return;
    };
    let limits = core.limits().clone();
    conn.set_write_timeout(Some(limits.stall_timeout));
    let Some(nonce) = greet(core, &mut conn, &limits).await else {
        return;
    };
    let mut session = Session {
        core: core.clone(),
        nonce,
        replay: ReplayGuard::new(limits.replay_serials_per_connection_max),
        listing: None,
    };
    loop {
        if !conn.has_buffered() {
            if core.shutdown.is_triggered() {
                break;
            }
            conn.set_read_timeout(Some(limits.idle_timeout));
            let read = future::or(async { Some(conn.fill().await) }, async {
                core.shutdown.wait().await;
                None
            })
            .await;
            match read {
                Some(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        conn.set_read_timeout(Some(limits.stall_timeout));
        match session.serve_request(&mut conn).await {
            Ok(After::Continue) if !core.shutdown.is_triggered() => {}
            _ => break,
        }
    }
    conn.close().await;
}

/// Answers with an ERROR; keeps the connection only after operational errors.
async fn reply_error(conn: &mut FrameConn, error: ErrorReply) -> Served {
    let keep = error.code.keeps_connection();
    conn.send(&Frame::Error(error)).await?;
    Ok(if keep { After::Continue } else { After::Close })
}

/// Answers a frame that failed to parse (ERROR `malformed`, then close); other
/// failures end the connection without a word.
async fn reply_wire_error(conn: &mut FrameConn, error: WireError) -> Served {
    match error {
        WireError::Protocol(e) => {
            reply_error(conn, ErrorReply::new(ErrorCode::Malformed, e.to_string())).await
        }
        other => Err(other),
    }
}

fn store_reply(error: StoreError) -> ErrorReply {
    match error {
        StoreError::NotFound { piece, .. } => {
            ErrorReply::new(ErrorCode::NotFound, format!("piece {piece} not found"))
        }
        StoreError::OutOfRange { len, .. } => ErrorReply {
            code: ErrorCode::OutOfRange,
            detail: len,
            message: error.to_string(),
        },
        other => ErrorReply::new(ErrorCode::Io, other.to_string()),
    }
}

fn order_reply(error: OrderError) -> ErrorReply {
    let code = match error {
        OrderError::Format(_) => ErrorCode::Malformed,
        OrderError::Unauthorized | OrderError::WrongOperation { .. } => ErrorCode::Unauthorized,
        OrderError::Expired { .. } | OrderError::TooFarAhead { .. } => ErrorCode::Expired,
        OrderError::Replayed => ErrorCode::Replayed,
        OrderError::ReplaySetFull => ErrorCode::Busy,
    };
    ErrorReply::new(code, error.to_string())
}

impl Session {
    fn stall(&self) -> Duration {
        self.core.limits().stall_timeout
    }

    /// Verifies an order for this connection and, for put and delete, admits
    /// its serial once.
    fn authorize(
        &mut self,
        signed: &SignedOrder,
        operation: PieceOperation,
    ) -> Result<PieceId, ErrorReply> {
        let now = self.core.now_secs();
        let shared = &self.core.shared;
        let rules = &shared.config.limits.orders;
        let order = shared
            .config
            .key
            .verify(signed, &self.nonce, operation, now, rules)
            .map_err(order_reply)?;
        self.replay.admit(order, now, rules).map_err(order_reply)?;
        Ok(order.piece)
    }

    async fn serve_request(&mut self, conn: &mut FrameConn) -> Served {
        let stall = self.stall();
        // A request frame must arrive whole within one stall timeout: a client
        // trickling bytes cannot hold a connection forever.
        let frame = deadline(stall, async {
            let header = conn.read_header().await?;
            if !header.kind.is_request()
                || matches!(
                    header.kind,
                    FrameType::Data | FrameType::Commit | FrameType::Abort
                )
            {
                return Ok(Err(header.kind));
            }
            let frame = conn.read_body(header).await?;
            Ok(Ok(frame.into_owned().expect("not DATA")))
        })
        .await;
        let frame = match frame {
            Ok(Ok(frame)) => frame,
            Ok(Err(kind)) => {
                let message = format!("{kind:?} outside a put");
                return reply_error(conn, ErrorReply::new(ErrorCode::Unexpected, message)).await;
            }
            Err(e) => return reply_wire_error(conn, e).await,
        };
        if !matches!(frame, Frame::List { .. }) {
            self.listing = None;
        }
        let authorized = match &frame {
            Frame::Put(order) => self.authorize(order, PieceOperation::Put),
            Frame::Get { order, .. } => self.authorize(order, PieceOperation::Get),
            Frame::Delete(order) => self.authorize(order, PieceOperation::Delete),
            Frame::Stat(order) => self.authorize(order, PieceOperation::Stat),
            Frame::List { order, .. } => self.authorize(order, PieceOperation::List),
            Frame::Ping(order) => self.authorize(order, PieceOperation::Ping),
            other => unreachable!("{:?} is not a request", other.kind()),
        };
        let id = match authorized {
            Ok(id) => id,
            Err(refusal) => return reply_error(conn, refusal).await,
        };
        match frame {
            Frame::Put(_) => self.put(conn, id).await,
            Frame::Get { range, .. } => self.get(conn, id, range).await,
            Frame::Delete(_) => self.delete(conn, id).await,
            Frame::Stat(_) => match self.core.store.stat(id).await {
                Ok(stat) => {
                    conn.send(&Frame::Stated(stat.map(|s| s.bytes))).await?;
                    Ok(After::Continue)
                }
                Err(e) => reply_error(conn, store_reply(e)).await,
            },
            Frame::List { after, limit, .. } => self.list(conn, after, limit).await,
            Frame::Ping(_) => self.ping(conn).await,
            _ => unreachable!("authorized above"),
        }
    }

    /// Streams DATA into a new piece until COMMIT or ABORT. Any other ending
    /// drops the writer, which removes its temporary file.
    async fn put(&mut self, conn: &mut FrameConn, id: PieceId) -> Served {
        let mut writer = match self.core.store.create(id).await {
            Ok(writer) => writer,
            Err(e) => return reply_error(conn, store_reply(e)).await,
        };
        conn.send(&Frame::Ready).await?;
        let stall = self.stall();
        let mut received = 0u64;
        // A store write that failed: the stream is drained to its COMMIT and
        // answered there, so the connection stays in step.
        let mut failed: Option<StoreError> = None;
        loop {
            let header = match deadline(stall, conn.read_header()).await {
                Ok(header) => header,
                Err(e) => return reply_wire_error(conn, e).await,
            };
            match header.kind {
                FrameType::Data => {
                    if received + header.len as u64 > self.core.shared.config.limits.piece_bytes_max
                    {
                        let message = format!(
                            "piece larger than {} bytes",
                            self.core.shared.config.limits.piece_bytes_max
                        );
                        return reply_error(conn, ErrorReply::new(ErrorCode::Malformed, message))
                            .await;
                    }
                    let streamed = deadline(stall, async {
                        let mut left = header.len;
                        while left > 0 {
                            let slice = conn.data_slice(left).await?;
                            let n = slice.len();
                            if failed.is_none() {
                                if let Err(e) = writer.write(slice).await {
                                    failed = Some(e);
                                }
                            }
                            conn.data_consumed(n);
                            left -= n;
                        }
                        Ok(())
                    })
                    .await;
                    streamed?;
                    received += header.len as u64;
                }
                FrameType::Commit => {
                    let bytes = match deadline(stall, conn.read_body(header)).await {
                        Ok(Frame::Commit { bytes }) => bytes,
                        Ok(other) => unreachable!("a COMMIT header decodes as COMMIT: {other:?}"),
                        Err(e) => return reply_wire_error(conn, e).await,
                    };
                    if let Some(e) = failed {
                        return reply_error(conn, store_reply(e)).await;
                    }
                    if bytes != received {
                        let error = ErrorReply {
                            code: ErrorCode::LengthMismatch,
                            detail: received,
                            message: format!(
                                "COMMIT of {bytes} bytes after {received} bytes of DATA"
                            ),
                        };
                        return reply_error(conn, error).await;
                    }
                    return match writer.commit().await {
                        Ok(()) => {
                            self.core.shared.pieces.changed(1);
                            conn.send(&Frame::Ok).await?;
                            Ok(After::Continue)
                        }
                        Err(e) => reply_error(conn, store_reply(e)).await,
                    };
                }
                FrameType::Abort => {
                    if let Err(e) = deadline(stall, conn.read_body(header)).await {
                        return reply_wire_error(conn, e).await;
                    }
                    // A failed abort leaves the temporary file to the writer's
                    // guard and the next sweep; the client is done either way.
                    let _ = writer.abort().await;
                    conn.send(&Frame::Ok).await?;
                    return Ok(After::Continue);
                }
                other => {
                    let message = format!("{other:?} inside a put");
                    return reply_error(conn, ErrorReply::new(ErrorCode::Unexpected, message))
                        .await;
                }
            }
        }
    }

    /// Sends a range in DATA frames, reading the next chunk from disk while
    /// the current one goes out.
    async fn get(
        &mut self,
        conn: &mut FrameConn,
        id: PieceId,
        range: std::ops::Range<u64>,
    ) -> Served {
        let store = self.core.store.clone();
        let len = match store.stat(id).await {
            Ok(Some(stat)) => stat.bytes,
            Ok(None) => {
                let message = format!("piece {id} not found");
                return reply_error(conn, ErrorReply::new(ErrorCode::NotFound, message)).await;
            }
            Err(e) => return reply_error(conn, store_reply(e)).await,
        };
        if range.end > len {
            let error = ErrorReply {
                code: ErrorCode::OutOfRange,
                detail: len,
                message: format!("range {range:?} of piece {id} past its end ({len} bytes)"),
            };
            return reply_error(conn, error).await;
        }
        conn.send(&Frame::Read {
            bytes: range.end - range.start,
        })
        .await?;
        let chunk = |at: u64| at..(at + DATA_BYTES_MAX as u64).min(range.end);
        let mut at = range.start;
        if at == range.end {
            return Ok(After::Continue);
        }
        let mut current = store.read(id, chunk(at)).await;
        loop {
            // The piece vanished or the disk failed part way: the ERROR takes
            // the place of the next DATA frame, as the protocol allows.
            let bytes = match current {
                Ok(bytes) => bytes,
                Err(e) => return reply_error(conn, store_reply(e)).await,
            };
            at += bytes.len() as u64;
            if at == range.end {
                conn.send_data(&bytes).await?;
                return Ok(After::Continue);
            }
            let (sent, next) = future::zip(conn.send_data(&bytes), store.read(id, chunk(at))).await;
            sent?;
            current = next;
        }
    }

    async fn delete(&mut self, conn: &mut FrameConn, id: PieceId) -> Served {
        let store = &self.core.store;
        // Only for the piece count: a delete of an absent piece succeeds anyway.
        let existed = matches!(store.stat(id).await, Ok(Some(_)));
        match store.delete(id).await {
            Ok(()) => {
                if existed {
                    self.core.shared.pieces.changed(-1);
                }
                conn.send(&Frame::Ok).await?;
                Ok(After::Continue)
            }
            Err(e) => reply_error(conn, store_reply(e)).await,
        }
    }

    /// One page of the listing. The first page (no cursor) takes a snapshot of
    /// the store, which later pages on this connection walk, so a paged listing
    /// costs one directory walk, not one per page; pieces committed meanwhile
    /// show up in the next listing.
    async fn list(&mut self, conn: &mut FrameConn, after: Option<PieceId>, limit: u32) -> Served {
        if after.is_none() || self.listing.is_none() {
            match self.core.store.list().await {
                Ok(all) => self.listing = Some(all),
                Err(e) => return reply_error(conn, store_reply(e)).await,
            }
        }
        let all = self.listing.as_ref().expect("taken above");
        let limit = match limit as usize {
            0 => LIST_PAGE_IDS_MAX,
            n => n.min(LIST_PAGE_IDS_MAX),
        };
        let from = after.map_or(0, |after| all.partition_point(|id| *id <= after));
        let to = (from + limit).min(all.len());
        let ids = all[from..to].to_vec();
        let more = to < all.len();
        if !more {
            self.listing = None;
        }
        conn.send(&Frame::Page { ids, more }).await?;
        Ok(After::Continue)
    }

    async fn ping(&mut self, conn: &mut FrameConn) -> Served {
        let shared = &self.core.shared;
        let data = shared.config.data.clone();
        let space = glommio::executor()
            .spawn_blocking(move || crate::pieces::local::file_system_space(&data))
            .await;
        let (free_bytes, capacity_bytes) = match space {
            Ok(space) => space,
            Err(e) => {
                let message = format!("statvfs {}: {e}", shared.config.data.display());
                return reply_error(conn, ErrorReply::new(ErrorCode::Io, message)).await;
            }
        };
        let health = NodeHealth {
            free_bytes,
            capacity_bytes,
            pieces: shared.pieces.get(),
            uptime_secs: shared.started.elapsed().as_secs(),
            cores: shared.config.cores as u32,
        };
        conn.send(&Frame::Pong(health)).await?;
        Ok(After::Continue)
    }
}
