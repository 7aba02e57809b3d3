//! Storage nodes: `ringgate node` serves one directory of pieces (a `LocalStore`
//! per core) over TCP, to gateways that reach it through `pieces::RemoteStore`.
//! The wire format (frames, signed orders, framed connections) is
//! `pieces::wire`, shared with the client side; `server` is the node.
//! `ringgate node-key` (issuing a node its key from the cluster key) lives
//! here too, beside the node that reads what it writes.
//!

pub mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use server::{NodeConfig, NodeError, NodeLimits, NodeServer};

use crate::pieces::wire::key_file;

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
    /// File holding this node's key and the name gateways know it by, as
    /// `ringgate node-key NAME --out FILE` writes it on a gateway's machine
    /// (nodes never hold the cluster key) [default: DIR/node.key]
    #[arg(long, value_name = "FILE")]
    pub node_key: Option<PathBuf>,
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
        let key_path = self.node_key.unwrap_or_else(|| self.data.join("node.key"));
        let key = key_file::load_node_key(&key_path)?;
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

/// `ringgate node-key`: what a storage node needs to serve a cluster.
#[derive(clap::Args, Debug)]
pub struct NodeKeyArgs {
    /// The name gateways know the node by: its address as given to --node
    /// (e.g. 10.0.0.5:7070), or the NAME of --node NAME=ADDR
    pub name: String,
    /// The cluster key file the gateways use
    #[arg(long, value_name = "FILE", default_value = "./data/cluster.key")]
    pub cluster_key: PathBuf,
    /// Write the node key to this new file (mode 0600) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Issues a node key: derived from the cluster key for one node name, so
/// the node can verify the gateways' orders but not make orders for any
/// other node.
pub fn run_node_key(args: NodeKeyArgs) -> ExitCode {
    if !crate::pieces::wire::order::is_node_name(&args.name) {
        eprintln!("ringgate node-key: {:?} is not a node name", args.name);
        return ExitCode::from(2);
    }
    let written = key_file::load(&args.cluster_key).and_then(|cluster| {
        let key = cluster.node_key(&args.name);
        match &args.out {
            Some(path) => key_file::create_node_key(path, &key),
            None => {
                print!("{}", key.to_line().as_str());
                Ok(())
            }
        }
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ringgate node-key: {e}");
            ExitCode::FAILURE
        }
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
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts and tests read the address from this line on stdout.
    println!("ringgate node: listening on {}", server.addr());
    tracing::info!(addr = %server.addr(), cores, pieces = %data, "node started");
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!("signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "finishing requests in flight");
    }
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            tracing::warn!("second signal: exiting now");
            std::process::exit(130);
        }
    });
    server.stop();
    tracing::info!("node stopped");
    ExitCode::SUCCESS
}
