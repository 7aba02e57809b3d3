//! Storage nodes: `ringgate node` serves one directory of pieces (a `LocalStore`
//! per core) over TCP, to gateways that reach it through `pieces::RemoteStore`.
//! `protocol` (the frames) and `order` (the signed authorisations) are pure and
//! shared by both sides; `conn` moves frames over glommio sockets; `server` is
//! the node. The wire format is an API boundary, versioned below.
//!
//! # Wire format, version 1
//!
//! TCP. The node speaks first, with HELLO; then the client sends one request at
//! a time and reads its whole response before sending the next (connections
//! are reused, never multiplexed). All integers are little endian.
//!
//! ```text
//! frame    0  1  version = 1         1  1  type
//!          2  2  reserved, zero      4  4  payload length (checked against the type below
//!          8  n  payload                   before a payload byte is read)
//!
//! type  name    from    payload                                              bytes
//! 0x01  HELLO   node    nonce (16) ‖ node clock, unix seconds (8)            24
//! 0x10  PUT     client  order (88)                                           88
//! 0x11  DATA    both    piece bytes                                          1..=1 MiB
//! 0x12  COMMIT  client  total DATA bytes sent (8)                            8
//! 0x13  ABORT   client  -                                                    0
//! 0x20  GET     client  order (88) ‖ range start (8) ‖ range end (8)         104
//! 0x30  DELETE  client  order (88)                                           88
//! 0x40  STAT    client  order (88)                                           88
//! 0x50  LIST    client  order (88) ‖ has cursor (1) ‖ cursor id (18) ‖ limit (4)   111
//! 0x60  PING    client  order (88)                                           88
//! 0x80  OK      node    -                                                    0
//! 0x81  READY   node    -                                                    0
//! 0x82  READ    node    range length (8)                                     8
//! 0x83  STATED  node    present (1) ‖ piece length (8)                       9
//! 0x84  PAGE    node    more (1) ‖ count (4) ‖ count × piece id (18)         5..=65525
//! 0x85  PONG    node    free (8) ‖ capacity (8) ‖ pieces (8) ‖ uptime s (8)
//!                       ‖ cores (4) ‖ reserved (4)                           40
//! 0xee  ERROR   node    code (1) ‖ reserved (7) ‖ detail (8) ‖ UTF-8 message 16..=1040
//! piece id = segment id (16) ‖ piece index (2); absent fields and flags are zero
//!
//! put     PUT → READY | ERROR, then DATA*, then COMMIT → OK | ERROR (or ABORT → OK)
//! get     GET → READ(n), then DATA frames totalling n (an ERROR may take the
//!         place of any of them) | ERROR
//! delete  DELETE → OK | ERROR       stat  STAT → STATED | ERROR
//! list    LIST → PAGE | ERROR, repeated with cursor = last id while more = 1
//! ping    PING → PONG | ERROR
//!
//! order   0  1  order version = 1     1  1  operation: 1 put 2 get 3 delete 4 stat 5 list 6 ping
//!         2  6  reserved, zero        8 16  segment id (zero for list, ping)
//!        24  2  piece index (LE)     26  6  reserved, zero
//!        32  8  not_after, unix seconds in the node's clock (LE)
//!        40 16  serial, random
//!        56 32  HMAC-SHA256(cluster key, "ringgate node order v1\0" ‖ HELLO nonce ‖ bytes 0..56)
//!
//! error codes  1 malformed  2 unexpected  3 unauthorized  4 expired  5 replayed
//!              6 busy  7 shutting down  8 not found  9 out of range (detail = piece length)
//!              10 length mismatch (detail = bytes received)  11 i/o
//! ```
//!
//! Robustness rules. A frame that does not parse (version, type, reserved
//! bytes, a length outside its type's bounds, a bad field) or that is not what
//! the node expects next is answered with ERROR and the connection closed; so
//! is an order that fails verification. After `not found`, `out of range`,
//! `length mismatch` and `i/o` the connection stays in step and is reused. A
//! put that ends any other way than COMMIT with the right byte count (EOF, a
//! timeout, a bad frame, ABORT) aborts the node's writer: its temporary file
//! goes, nothing becomes visible. A put whose store write fails mid-stream is
//! drained to its COMMIT and answered there, so the connection survives.
//! Frames carry no checksum: pieces carry a CRC32C per share and every stripe
//! is authenticated by AES-GCM end to end, and nodes never see keys or plaintext.
//!
//! Versioning. Every frame carries the version; a node refuses frames of
//! another version (ERROR `malformed`, whose header is version 1), and a client
//! learns the node's version from its HELLO. A new version may add frame types
//! and error codes; clients treat unknown error codes as plain failures.
//!
//! Authorisation and replays: see `order`.

pub mod conn;
pub mod order;
pub mod protocol;
pub mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use order::{ClusterKey, Operation, Order, OrderRules, SignedOrder};
pub use protocol::NodeHealth;
pub use server::{NodeConfig, NodeError, NodeLimits, NodeServer};

/// `ringgate node`: the command-line settings of a storage node.
#[derive(clap::Args, Clone, Debug)]
pub struct NodeArgs {
    /// Address to listen on, e.g. 0.0.0.0:7070 (port 0: any free port, printed when ready)
    #[arg(long, value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Directory to keep pieces in (created if missing)
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Cores to serve on, one executor each [default: all]
    #[arg(long, value_name = "N")]
    pub cores: Option<usize>,
    /// File holding the cluster key shared with the gateways (64 hex digits)
    /// [default: DIR/cluster.key, created with a fresh key if missing]
    #[arg(long, value_name = "FILE")]
    pub cluster_key: Option<PathBuf>,
    /// Open connections per core before new ones are refused [default: 1024]
    #[arg(long, value_name = "N")]
    pub connections_per_core_max: Option<usize>,
    /// Seconds an idle connection stays open [default: 120]
    #[arg(long, value_name = "SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request may make no progress before it is abandoned [default: 30]
    #[arg(long, value_name = "SECS")]
    pub stall_timeout_secs: Option<u64>,
    /// Seconds in-flight requests get to finish on SIGINT/SIGTERM [default: 10]
    #[arg(long, value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Largest piece a gateway may store here, in bytes [default: 5 GiB + 64 MiB]
    #[arg(long, value_name = "BYTES")]
    pub piece_bytes_max: Option<u64>,
}

impl NodeArgs {
    /// Applies defaults, loads (or creates) the cluster key and checks values.
    pub fn resolve(self) -> Result<NodeConfig, NodeError> {
        let mut limits = NodeLimits::default();
        if let Some(n) = self.connections_per_core_max {
            limits.connections_per_core_max = n;
        }
        let secs = |value: Option<u64>, default: Duration, setting: &'static str| match value {
            Some(0) => Err(NodeError::Invalid {
                setting,
                reason: "must be at least 1".into(),
            }),
            Some(s) => Ok(Duration::from_secs(s)),
            None => Ok(default),
        };
        limits.idle_timeout = secs(
            self.idle_timeout_secs,
            limits.idle_timeout,
            "--idle-timeout-secs",
        )?;
        limits.stall_timeout = secs(
            self.stall_timeout_secs,
            limits.stall_timeout,
            "--stall-timeout-secs",
        )?;
        limits.shutdown_grace = self
            .shutdown_grace_secs
            .map_or(limits.shutdown_grace, Duration::from_secs);
        if let Some(bytes) = self.piece_bytes_max {
            limits.piece_bytes_max = bytes;
        }
        let cores = match self.cores {
            Some(0) => {
                return Err(NodeError::Invalid {
                    setting: "--cores",
                    reason: "must be at least 1".into(),
                })
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let key = match self.cluster_key {
            Some(path) => ClusterKey::load(&path)?,
            None => {
                let path = self.data.join("cluster.key");
                if path.exists() {
                    ClusterKey::load(&path)?
                } else {
                    std::fs::create_dir_all(&self.data).map_err(|source| NodeError::Data {
                        path: self.data.display().to_string(),
                        source,
                    })?;
                    let key = ClusterKey::create(&path)?;
                    eprintln!(
                        "ringgate node: created a cluster key in {}; give the gateways the same key",
                        path.display()
                    );
                    key
                }
            }
        };
        Ok(NodeConfig {
            listen: self.listen,
            data: self.data,
            cores,
            pin_cores: true,
            key: Arc::new(key),
            limits,
        })
    }
}

/// Runs a storage node until SIGINT or SIGTERM: `ringgate node`.
pub fn run(args: NodeArgs) -> ExitCode {
    let config = match args.resolve() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ringgate node: {e}");
            return ExitCode::from(2);
        }
    };
    let cores = config.cores;
    let data = config.data.display().to_string();
    let server = match NodeServer::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("ringgate node: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ringgate node: listening on {}", server.addr());
    eprintln!("ringgate node: {cores} cores, pieces in {data}");
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("ringgate node: signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(signal) = signals.forever().next() {
        eprintln!("ringgate node: signal {signal}: finishing requests in flight");
    }
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            eprintln!("ringgate node: second signal: exiting now");
            std::process::exit(130);
        }
    });
    server.stop();
    eprintln!("ringgate node: stopped");
    ExitCode::SUCCESS
}
