//! The gateway's configuration: every setting with its default, the TOML config
//! file, and the rule that command-line flags win over the file. Everything is
//! validated once here, so the rest of the server reads plain typed values.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::pieces::download::Hedge;
use crate::pipeline::{AeadBackend, ErasureParams, EtagMode, Layout, LayoutError};

/// A validated configuration of `ringgate serve`.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// The admin listener: `/metrics`, `/health` (port 0: any free port,
    /// written to `<data>/admin.addr`).
    pub admin_listen: SocketAddr,
    pub data: PathBuf,
    /// Directories of the local piece stores (default: six under `<data>/stores`).
    pub stores: Vec<PathBuf>,
    pub cores: usize,
    pub region: String,
    /// Base domain for virtual-hosted-style requests (`bucket.<domain>`).
    pub domain: Option<String>,
    pub tls: Option<TlsFiles>,
    pub pipeline: PipelineConfig,
    pub etag: EtagMode,
    pub limits: Limits,
    /// Segments released by overwrites and deletes wait this long before their
    /// pieces are deleted, so a GET that started before the change can finish.
    pub gc_delay: Duration,
    /// The admin API token; `None`: read `admin_token_file`, else use (or
    /// create) `<data>/admin-token`.
    pub admin_token: Option<String>,
    pub admin_token_file: Option<PathBuf>,
    /// Storage nodes (`ringgate node`) holding pieces, besides `stores`.
    pub nodes: Vec<NodeSpec>,
    /// The key shared with the nodes, to sign piece orders.
    pub cluster_key: PathBuf,
    /// How often every store is asked for its health and free space.
    pub health_interval: Duration,
    pub repair: RepairSettings,
    /// The server key file, which seals every project's macaroon secret
    /// (default `<data>/server.key`). Kept apart from the data folder (another
    /// volume, a secrets mount), a copy of the data folder cannot mint API keys.
    pub server_key: PathBuf,
    pub log: LogSettings,
}

/// How the process logs (the `logging` module sets it up from this).
#[derive(Clone, Debug, Default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter; `None`: `RUST_LOG` if set, else `info`
    /// without the access log.
    pub filter: Option<String>,
}

/// One log line per event, as text or as a JSON object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A storage node as configured: its address, the name its node key was
/// issued for (the address as text unless given), and its failure domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    pub addr: SocketAddr,
    pub name: String,
    pub domain: Option<String>,
}

impl NodeSpec {
    /// `[NAME=]ADDR[@DOMAIN]`, e.g. `10.0.0.5:7070@rack-2` or
    /// `node-7=10.0.0.5:7070@rack-2`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, rest) = match text.trim().split_once('=') {
            Some((name, rest)) => (Some(name), rest),
            None => (None, text.trim()),
        };
        let (addr, domain) = match rest.split_once('@') {
            Some((addr, domain)) => (addr, Some(domain)),
            None => (rest, None),
        };
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an address (IP:PORT)"))?;
        let name = name.map_or_else(|| addr.to_string(), str::to_string);
        if !crate::pieces::wire::order::is_node_name(&name) {
            return Err(format!(
                "{name:?} is not a node name (1 to 128 printable characters, no spaces)"
            ));
        }
        let domain = match domain {
            Some(d) if d.is_empty() || d.len() > 64 || d.chars().any(char::is_whitespace) => {
                return Err(format!("{d:?} is not a failure domain name"));
            }
            d => d.map(str::to_string),
        };
        Ok(Self { addr, name, domain })
    }

    /// A nodes file: one `[NAME=]ADDR[@DOMAIN]` per line; `#` starts a comment.
    pub fn parse_file(text: &str) -> Result<Vec<Self>, String> {
        text.lines()
            .enumerate()
            .filter_map(|(i, line)| {
                let line = line.split('#').next().unwrap_or("").trim();
                (!line.is_empty())
                    .then(|| Self::parse(line).map_err(|e| format!("line {}: {e}", i + 1)))
            })
            .collect()
    }
}

/// The audit and repair worker's settings.
#[derive(Clone, Debug)]
pub struct RepairSettings {
    /// A segment whose healthy pieces fall to this many or fewer is rebuilt
    /// back to n (between k and n−1).
    pub threshold: usize,
    /// Pause between two audit passes over every segment.
    pub interval: Duration,
    /// Pieces on a store unreachable for less than this count as healthy (a
    /// node restarting is not worth a repair).
    pub offline_grace: Duration,
    /// Pieces whose share checks run at once during an audit pass.
    pub pieces_in_flight_max: usize,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Limits on what clients may cost the server, all per core unless named otherwise.
#[derive(Clone, Debug)]
pub struct Limits {
    pub connections_per_core_max: usize,
    pub request_line_bytes_max: usize,
    pub head_bytes_max: usize,
    pub headers_count_max: usize,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A request head or body that makes no progress for this long is abandoned.
    pub stall_timeout: Duration,
    /// On SIGINT/SIGTERM, in-flight requests get this long to finish.
    pub shutdown_grace: Duration,
    /// Largest XML request body (DeleteObjects, CompleteMultipartUpload, ...).
    pub xml_body_bytes_max: usize,
    /// Entries of each per-core grant-cache map (records, signing keys, ...).
    pub grant_cache_entries_max: usize,
    /// How long a core trusts what its grant cache holds: a revoked grant or a
    /// deleted project stops working within this, on every core, even if the
    /// cross-core message were lost.
    pub grant_cache_ttl: Duration,
    /// Largest single PUT (S3: 5 GiB) and part.
    pub object_bytes_max: u64,
    /// Object and part uploads a core runs at once. Each holds its pipeline
    /// buffers (a stripe and up to `lag_chunks_max + 2` chunks per piece,
    /// about 19 MiB at the defaults); more wait with their bodies unread, so
    /// a core's upload memory is bounded however many clients write at once.
    pub uploads_per_core_max: usize,
    /// How long an upload waits for one of those slots before it is refused
    /// as overload, 503 (SDKs back off and retry).
    pub upload_slot_wait: Duration,
    /// An upload holding a slot must deliver its body at this average rate,
    /// counting only the time spent waiting for the client, after
    /// `upload_rate_grace`; a slower one is cut off (400, a request timeout),
    /// and the slot frees.
    pub upload_min_bytes_per_sec: u64,
    pub upload_rate_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections_per_core_max: 1024,
            request_line_bytes_max: 8 << 10,
            head_bytes_max: 32 << 10,
            headers_count_max: 128,
            idle_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            xml_body_bytes_max: 2 << 20,
            grant_cache_entries_max: 10_000,
            grant_cache_ttl: Duration::from_secs(30),
            object_bytes_max: 5 << 30,
            // One core seals and codes at a few hundred MB/s: a handful of
            // uploads keep it busy, 8 keep it busy while some wait on disk.
            uploads_per_core_max: 8,
            upload_slot_wait: Duration::from_secs(30),
            // A 200 kbit/s client sends 25 KB/s: six times this.
            upload_min_bytes_per_sec: 4096,
            upload_rate_grace: Duration::from_secs(10),
        }
    }
}

/// Declares every setting of `ringgate serve` once: its `--help` line, its
/// flag, its name (the struct field and the config-file key), its type and the
/// default `--help` shows. From that one list come [`ServeSettings`],
/// [`ServeSettings::over`], and the `default_text` constants `resolve` reads
/// its literal defaults from.
macro_rules! serve_settings {
    ($(
        $help:literal $(#[$arg:meta])*
        $name:ident: $ty:ty $(= $default:literal)?;
    )*) => {
        /// Settings as they come from a flag or the config file: every one optional.
        /// The same struct is filled by clap (flags) and serde (TOML), so a setting can
        /// never exist in one and be forgotten in the other.
        #[derive(Clone, Debug, Default, Deserialize, clap::Args)]
        #[serde(deny_unknown_fields)]
        pub struct ServeSettings {
            $(
                #[doc = concat!($help $(, " [default: ", $default, "]")?)]
                #[arg(help = concat!($help $(, " [default: ", $default, "]")?))]
                $(#[$arg])*
                pub $name: Option<$ty>,
            )*
        }

        impl ServeSettings {
            /// `self` (flags) where set, else `file`.
            pub fn over(self, file: ServeSettings) -> ServeSettings {
                ServeSettings { $($name: self.$name.or(file.$name)),* }
            }
        }

        /// Each setting's default as `--help` shows it. Some are descriptions
        /// of a computed default ("all cores"), read by no code.
        #[allow(dead_code, non_upper_case_globals)]
        mod default_text {
            $($(pub(super) const $name: &str = $default;)?)*
        }
    };
}

serve_settings! {
    "Address of the S3 endpoint"
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr = "127.0.0.1:9000";
    "Admin listener for /metrics and /health; port 0 picks one and writes it to <data>/admin.addr"
    #[arg(long, value_name = "ADDR")]
    admin_listen: SocketAddr = "127.0.0.1:0";
    "Data folder: metadata database, credentials, default piece stores"
    #[arg(long, value_name = "DIR")]
    data: PathBuf = "./data";
    "Piece store directories, one per disk"
    #[arg(long, value_name = "DIR", num_args = 1..)]
    stores: Vec<PathBuf> = "n (of --erasure) under <data>/stores";
    "Executor threads, one pinned per core"
    #[arg(long, value_name = "N")]
    cores: usize = "all cores";
    "Erasure code k/o/n: any k of n pieces rebuild a segment, uploads finish at o"
    #[arg(long, value_name = "K/O/N")]
    erasure: String = "4/5/6";
    "Bytes per share (a multiple of 64)"
    #[arg(long, value_name = "SIZE")]
    share_size: String = "64KiB";
    "Largest segment of plaintext"
    #[arg(long, value_name = "SIZE")]
    segment_size: String = "64MiB";
    "Objects up to this size are kept inline in metadata"
    #[arg(long, value_name = "SIZE")]
    inline_max: String = "4KiB";
    "ETag kind: md5 (S3-compatible) or fast (CRC64NVME-based, no MD5 pass)"
    #[arg(long, value_name = "MODE")]
    etag: String = "md5";
    "AES-256-GCM implementation: ring or rustcrypto"
    #[arg(long, value_name = "NAME")]
    aead: String = "ring";
    "Region reported to clients and expected in signatures"
    #[arg(long, value_name = "REGION")]
    region: String = "us-east-1";
    "Base domain for virtual-hosted-style addressing (bucket.DOMAIN)"
    #[arg(long, value_name = "DOMAIN")]
    domain: String;
    "PEM certificate chain: serve HTTPS (needs --tls-key)"
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf;
    "PEM private key for --tls-cert"
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf;
    "Open connections per core before new ones are refused"
    #[arg(long, value_name = "N")]
    connections_per_core_max: usize = "1024";
    "Object and part uploads a core runs at once; more wait, their bodies unread"
    #[arg(long, value_name = "N")]
    uploads_per_core_max: usize = "8";
    "Seconds an upload waits for a slot before it is refused as overload (503)"
    #[arg(long, value_name = "SECS")]
    upload_slot_wait_secs: u64 = "30";
    "Slowest average body rate (bytes/s, time waiting on the client) an upload may keep after its grace"
    #[arg(long, value_name = "BYTES")]
    upload_min_bytes_per_sec: u64 = "4096";
    "Seconds an upload may send slower than --upload-min-bytes-per-sec at first"
    #[arg(long, value_name = "SECS")]
    upload_rate_grace_secs: u64 = "10";
    "Seconds an idle kept-alive connection stays open"
    #[arg(long, value_name = "SECS")]
    idle_timeout_secs: u64 = "60";
    "Seconds a request may make no progress before it is abandoned"
    #[arg(long, value_name = "SECS")]
    stall_timeout_secs: u64 = "60";
    "Seconds in-flight requests get to finish on SIGINT/SIGTERM"
    #[arg(long, value_name = "SECS")]
    shutdown_grace_secs: u64 = "10";
    "Seconds released segments wait before their pieces are deleted"
    #[arg(long, value_name = "SECS")]
    gc_delay_secs: u64 = "60";
    "Entries per map of each core's grant cache"
    #[arg(long, value_name = "N")]
    grant_cache_entries_max: usize = "10000";
    "Seconds a core trusts its cached grants, secrets and revocations"
    #[arg(long, value_name = "SECS")]
    grant_cache_ttl_secs: u64 = "30";
    "Admin API token; also RINGGATE_ADMIN_TOKEN (a flag's value is visible to every local user in /proc/*/cmdline: prefer the variable or --admin-token-file)"
    #[arg(long, value_name = "TOKEN", env = "RINGGATE_ADMIN_TOKEN", hide_env_values = true, conflicts_with = "admin_token_file")]
    admin_token: String = "generated into <data>/admin-token";
    "File holding the admin API token (its first line)"
    #[arg(long, value_name = "FILE")]
    admin_token_file: PathBuf;
    "Storage node [NAME=]ADDR[@DOMAIN] holding pieces (repeatable; NAME, default ADDR, is what its node key was issued for); with nodes, local stores only if --stores is given"
    #[arg(long = "node", value_name = "[NAME=]ADDR[@DOMAIN]")]
    nodes: Vec<String>;
    "File listing storage nodes, one [NAME=]ADDR[@DOMAIN] per line (# comments)"
    #[arg(long, value_name = "FILE")]
    nodes_file: PathBuf;
    "File with the cluster key (64 hex digits): gateways only; each node gets its own key from `ringgate node-key`"
    #[arg(long, value_name = "FILE")]
    cluster_key: PathBuf = "<data>/cluster.key, created if missing";
    "Piece reads started beyond the k a read needs"
    #[arg(long, value_name = "N")]
    hedge: usize = "1 with nodes, 0 without";
    "Milliseconds before a slow piece read brings in another piece"
    #[arg(long, value_name = "MS")]
    piece_timeout_ms: u64 = "2000";
    "Milliseconds pieces beyond o may still land once o are durable (the long tail)"
    #[arg(long, value_name = "MS")]
    linger_ms: u64 = "200";
    "Seconds between health checks of the stores"
    #[arg(long, value_name = "SECS")]
    health_interval_secs: u64 = "5";
    "Rebuild a segment when its healthy pieces fall to this many"
    #[arg(long, value_name = "PIECES")]
    repair_threshold: usize = "k + ceil((o-k)/2)";
    "Seconds between audit passes over every segment"
    #[arg(long, value_name = "SECS")]
    repair_interval_secs: u64 = "3600";
    "Seconds a store may be unreachable before its pieces count as lost"
    #[arg(long, value_name = "SECS")]
    offline_grace_secs: u64 = "600";
    "Server key file, sealing the projects' API-key secrets; keep it off the data folder's backups"
    #[arg(long, value_name = "FILE")]
    server_key: PathBuf = "<data>/server.key, created if missing";
    "Log lines on stderr: text or json (one object per line)"
    #[arg(long, value_name = "FORMAT")]
    log_format: String = "text";
    "Log filter, RUST_LOG syntax; the access log is target ringgate::access at info, off by default (--log-filter info turns it on)"
    #[arg(long, value_name = "FILTER")]
    log_filter: String = "$RUST_LOG, else info,ringgate::access=off";
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{setting}: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
}

fn invalid(setting: &'static str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.to_string(),
    }
}

impl ServeSettings {
    /// Reads a TOML config file holding any of the settings.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Applies defaults and validates every value, in a fixed order, so the
    /// first invalid setting is the one reported.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let data = (self.data.clone()).unwrap_or_else(|| PathBuf::from(default_text::data));
        let erasure =
            ErasureParams::parse(self.erasure.as_deref().unwrap_or(default_text::erasure))
                .map_err(|e| invalid("erasure", e))?;
        let nodes = self.resolve_nodes()?;
        let stores = self.resolve_stores(&data, erasure, &nodes)?;
        let layout = self.resolve_layout(erasure)?;
        check_piece_homes(&stores, &nodes, erasure)?;
        let mut pipeline = self.resolve_reads(layout, &nodes)?;
        let threshold = self.resolve_repair_threshold(erasure)?;
        self.resolve_inline_and_aead(&mut pipeline)?;
        let etag = self.resolve_etag()?;
        let tls = self.resolve_tls()?;
        let cores = self.resolve_cores()?;
        let limits = self.resolve_limits()?;
        let region = self.resolve_region()?;
        let log = self.resolve_log()?;
        let secs = |v: Option<u64>, default: &str| {
            Duration::from_secs(v.unwrap_or_else(|| default.parse().expect("a number")))
        };
        Ok(ServeConfig {
            listen: (self.listen)
                .unwrap_or_else(|| default_text::listen.parse().expect("valid address")),
            admin_listen: (self.admin_listen)
                .unwrap_or_else(|| default_text::admin_listen.parse().expect("valid address")),
            stores,
            cores,
            region,
            domain: (self.domain).map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
            tls,
            pipeline,
            etag,
            limits,
            gc_delay: secs(self.gc_delay_secs, default_text::gc_delay_secs),
            server_key: (self.server_key).unwrap_or_else(|| data.join("server.key")),
            admin_token: self.admin_token,
            admin_token_file: self.admin_token_file,
            cluster_key: (self.cluster_key).unwrap_or_else(|| data.join("cluster.key")),
            health_interval: secs(
                self.health_interval_secs,
                default_text::health_interval_secs,
            )
            .max(Duration::from_millis(100)),
            repair: RepairSettings {
                threshold,
                interval: secs(
                    self.repair_interval_secs,
                    default_text::repair_interval_secs,
                ),
                offline_grace: secs(self.offline_grace_secs, default_text::offline_grace_secs),
                pieces_in_flight_max: 16,
            },
            nodes,
            data,
            log,
        })
    }

    fn resolve_log(&self) -> Result<LogSettings, ConfigError> {
        let format = match self.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log_format",
                    format!("{other:?}: use text or json"),
                ))
            }
        };
        Ok(LogSettings {
            format,
            filter: self.log_filter.clone(),
        })
    }

    /// The `--node` flags, then the nodes file's lines.
    fn resolve_nodes(&self) -> Result<Vec<NodeSpec>, ConfigError> {
        let mut nodes = Vec::new();
        for text in self.nodes.iter().flatten() {
            nodes.push(NodeSpec::parse(text).map_err(|e| invalid("node", e))?);
        }
        if let Some(path) = &self.nodes_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid("nodes_file", format!("{}: {e}", path.display())))?;
            let listed = NodeSpec::parse_file(&text)
                .map_err(|e| invalid("nodes_file", format!("{}: {e}", path.display())))?;
            nodes.extend(listed);
        }
        Ok(nodes)
    }

    /// The local stores: as given, none beside nodes, or one per piece under `data`.
    fn resolve_stores(
        &self,
        data: &Path,
        erasure: ErasureParams,
        nodes: &[NodeSpec],
    ) -> Result<Vec<PathBuf>, ConfigError> {
        Ok(match &self.stores {
            Some(stores) if stores.is_empty() => return Err(invalid("stores", "empty list")),
            Some(stores) => stores.clone(),
            None if !nodes.is_empty() => Vec::new(),
            // One store per piece of a segment.
            None => (0..erasure.total)
                .map(|i| data.join("stores").join(i.to_string()))
                .collect(),
        })
    }

    /// The erasure code with the share and segment sizes.
    fn resolve_layout(&self, erasure: ErasureParams) -> Result<Layout, ConfigError> {
        let share = parse_size(
            self.share_size
                .as_deref()
                .unwrap_or(default_text::share_size),
        )
        .map_err(|e| invalid("share_size", e))?;
        let segment = parse_size(
            self.segment_size
                .as_deref()
                .unwrap_or(default_text::segment_size),
        )
        .map_err(|e| invalid("segment_size", e))?;
        Layout::new(erasure, share as usize, segment).map_err(|e| {
            let setting = match e {
                LayoutError::ShareSize(_) => "share_size",
                LayoutError::SegmentSize { .. } => "segment_size",
                _ => "erasure",
            };
            invalid(setting, e)
        })
    }

    /// The pipeline with its read hedge, piece timeout and write linger.
    fn resolve_reads(
        &self,
        layout: Layout,
        nodes: &[NodeSpec],
    ) -> Result<PipelineConfig, ConfigError> {
        let erasure = layout.erasure();
        let mut pipeline = PipelineConfig::new(layout);
        pipeline.hedge.extra = self.hedge.unwrap_or(usize::from(!nodes.is_empty()));
        if pipeline.hedge.extra > erasure.total - erasure.required {
            return Err(invalid(
                "hedge",
                format!("at most n-k = {}", erasure.total - erasure.required),
            ));
        }
        if let Some(ms) = self.piece_timeout_ms {
            if ms == 0 {
                return Err(invalid("piece_timeout_ms", "must be at least 1"));
            }
            pipeline.hedge.piece_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = self.linger_ms {
            pipeline.linger = Duration::from_millis(ms);
        }
        Ok(pipeline)
    }

    fn resolve_repair_threshold(&self, erasure: ErasureParams) -> Result<usize, ConfigError> {
        let threshold = self
            .repair_threshold
            .unwrap_or(default_repair_threshold(erasure));
        if threshold < erasure.required || threshold >= erasure.total {
            return Err(invalid(
                "repair_threshold",
                format!(
                    "{threshold}: must be between k = {} and n-1 = {}",
                    erasure.required,
                    erasure.total - 1
                ),
            ));
        }
        Ok(threshold)
    }

    fn resolve_inline_and_aead(&self, pipeline: &mut PipelineConfig) -> Result<(), ConfigError> {
        if let Some(inline) = &self.inline_max {
            let inline = parse_size(inline).map_err(|e| invalid("inline_max", e))?;
            if inline > 1 << 20 {
                return Err(invalid("inline_max", "at most 1MiB"));
            }
            pipeline.inline_bytes_max = inline as usize;
        }
        if let Some(aead) = &self.aead {
            pipeline.backend = aead
                .parse::<AeadBackend>()
                .map_err(|e| invalid("aead", e))?;
        }
        Ok(())
    }

    fn resolve_etag(&self) -> Result<EtagMode, ConfigError> {
        match self.etag.as_deref() {
            None | Some("md5") => Ok(EtagMode::Md5),
            Some("fast") => Ok(EtagMode::Fast),
            Some(other) => Err(invalid("etag", format!("{other:?}: use md5 or fast"))),
        }
    }

    fn resolve_tls(&self) -> Result<Option<TlsFiles>, ConfigError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (None, None) => Ok(None),
            _ => Err(invalid("tls_cert", "--tls-cert and --tls-key go together")),
        }
    }

    fn resolve_cores(&self) -> Result<usize, ConfigError> {
        let cores_available = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cores = self.cores.unwrap_or(cores_available);
        if cores == 0 || cores > 1024 {
            return Err(invalid("cores", format!("{cores}: must be 1..=1024")));
        }
        Ok(cores)
    }

    /// The per-core limits: [`Limits::default`] with the settings given.
    fn resolve_limits(&self) -> Result<Limits, ConfigError> {
        let mut limits = Limits::default();
        let at_least_one = |setting: &'static str, n: Option<usize>, default: usize| match n {
            Some(0) => Err(invalid(setting, "must be at least 1")),
            n => Ok(n.unwrap_or(default)),
        };
        limits.connections_per_core_max = at_least_one(
            "connections_per_core_max",
            self.connections_per_core_max,
            limits.connections_per_core_max,
        )?;
        limits.uploads_per_core_max = at_least_one(
            "uploads_per_core_max",
            self.uploads_per_core_max,
            limits.uploads_per_core_max,
        )?;
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        limits.idle_timeout = secs(self.idle_timeout_secs, limits.idle_timeout);
        limits.stall_timeout = secs(self.stall_timeout_secs, limits.stall_timeout);
        limits.shutdown_grace = secs(self.shutdown_grace_secs, limits.shutdown_grace);
        limits.upload_slot_wait = secs(self.upload_slot_wait_secs, limits.upload_slot_wait);
        limits.upload_rate_grace = secs(self.upload_rate_grace_secs, limits.upload_rate_grace);
        limits.upload_min_bytes_per_sec = self
            .upload_min_bytes_per_sec
            .unwrap_or(limits.upload_min_bytes_per_sec);
        limits.grant_cache_ttl = secs(self.grant_cache_ttl_secs, limits.grant_cache_ttl);
        limits.grant_cache_entries_max = at_least_one(
            "grant_cache_entries_max",
            self.grant_cache_entries_max,
            limits.grant_cache_entries_max,
        )?;
        Ok(limits)
    }

    fn resolve_region(&self) -> Result<String, ConfigError> {
        let region = (self.region.clone()).unwrap_or_else(|| default_text::region.to_string());
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid("region", format!("{region:?}")));
        }
        Ok(region)
    }
}

/// Every piece of a segment needs a home: local stores and nodes, at least n.
fn check_piece_homes(
    stores: &[PathBuf],
    nodes: &[NodeSpec],
    erasure: ErasureParams,
) -> Result<(), ConfigError> {
    if stores.len() + nodes.len() < erasure.total {
        let setting = if nodes.is_empty() { "stores" } else { "node" };
        return Err(invalid(
            setting,
            format!(
                "{} piece stores and {} nodes configured, the erasure code needs n={}",
                stores.len(),
                nodes.len(),
                erasure.total
            ),
        ));
    }
    Ok(())
}

/// The repair threshold of a code unless configured: halfway from k to o
/// (rounded up), so a segment is rebuilt while it still has spare pieces, and
/// not for every piece the long tail cut off.
pub fn default_repair_threshold(erasure: ErasureParams) -> usize {
    erasure.required + (erasure.optimal - erasure.required).div_ceil(2)
}

/// Parses a byte size: a number with an optional unit (`B`, `KiB`, `MiB`, `GiB`,
/// or their one-letter and SI forms: `k`/`KB` are 1000, `K`/`KiB` are 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "k" | "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => return Err(format!("unknown unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_specs_take_a_name_an_address_and_a_domain() {
        let plain = super::NodeSpec::parse("10.0.0.5:7070").unwrap();
        assert_eq!((plain.name.as_str(), plain.domain), ("10.0.0.5:7070", None));
        let named = super::NodeSpec::parse("node-7=10.0.0.5:7070").unwrap();
        assert_eq!((named.name.as_str(), named.domain), ("node-7", None));
        let named = super::NodeSpec::parse("node-7=10.0.0.5:7070@rack-2").unwrap();
        assert_eq!(named.name, "node-7");
        assert_eq!(named.addr, "10.0.0.5:7070".parse().unwrap());
        assert_eq!(named.domain.as_deref(), Some("rack-2"));
        assert!(super::NodeSpec::parse("=10.0.0.5:7070").is_err());
        assert!(super::NodeSpec::parse("a b=10.0.0.5:7070").is_err());
    }

    use super::*;

    #[test]
    fn sizes() {
        let cases = [
            ("0", Ok(0)),
            ("4096", Ok(4096)),
            ("64KiB", Ok(65536)),
            ("64K", Ok(65536)),
            ("2MB", Ok(2_000_000)),
            ("1GiB", Ok(1 << 30)),
            ("", Err(())),
            ("MiB", Err(())),
            ("3 parsecs", Err(())),
            ("99999999999999999999GiB", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).map_err(|_| ()), want, "{text:?}");
        }
    }

    #[test]
    fn defaults_and_precedence() {
        let config = ServeSettings::default().resolve().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.stores.len(), 6);
        assert_eq!(config.pipeline.layout.erasure().required, 4);
        let file: ServeSettings =
            toml::from_str("listen = \"127.0.0.1:9100\"\nerasure = \"2/3/4\"\ncores = 1\n")
                .unwrap();
        let flags = ServeSettings {
            cores: Some(2),
            ..Default::default()
        };
        let config = flags.over(file).resolve().unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.cores, 2);
        assert_eq!(config.pipeline.layout.total(), 4);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let cases: Vec<(ServeSettings, &str)> = vec![
            (
                ServeSettings {
                    erasure: Some("4/9/6".into()),
                    ..Default::default()
                },
                "erasure",
            ),
            (
                ServeSettings {
                    erasure: Some("4/6/8".into()),
                    stores: Some(vec!["a".into(), "b".into()]),
                    ..Default::default()
                },
                "stores",
            ),
            (
                ServeSettings {
                    tls_cert: Some("c.pem".into()),
                    ..Default::default()
                },
                "tls_cert",
            ),
            (
                ServeSettings {
                    etag: Some("sha3".into()),
                    ..Default::default()
                },
                "etag",
            ),
            (
                ServeSettings {
                    share_size: Some("100".into()),
                    ..Default::default()
                },
                "share_size",
            ),
        ];
        for (settings, name) in cases {
            let err = settings.resolve().unwrap_err().to_string();
            assert!(err.starts_with(name), "{err:?} should name {name}");
        }
        assert!(toml::from_str::<ServeSettings>("no_such_setting = 1").is_err());
    }

    /// `--help` shows defaults that `Limits` and `PipelineConfig` own: they agree.
    #[test]
    fn help_shows_the_defaults_in_use() {
        let config = ServeSettings::default().resolve().unwrap();
        let (limits, pipeline) = (&config.limits, &config.pipeline);
        let secs = |text: &str| Duration::from_secs(text.parse().unwrap());
        let millis = |text: &str| Duration::from_millis(text.parse().unwrap());
        let number = |text: &str| text.parse::<usize>().unwrap();
        use default_text as d;
        assert_eq!(
            limits.connections_per_core_max,
            number(d::connections_per_core_max)
        );
        assert_eq!(limits.uploads_per_core_max, number(d::uploads_per_core_max));
        assert_eq!(
            limits.grant_cache_entries_max,
            number(d::grant_cache_entries_max)
        );
        assert_eq!(limits.idle_timeout, secs(d::idle_timeout_secs));
        assert_eq!(limits.stall_timeout, secs(d::stall_timeout_secs));
        assert_eq!(limits.shutdown_grace, secs(d::shutdown_grace_secs));
        assert_eq!(limits.upload_slot_wait, secs(d::upload_slot_wait_secs));
        assert_eq!(limits.upload_rate_grace, secs(d::upload_rate_grace_secs));
        assert_eq!(
            limits.upload_min_bytes_per_sec,
            d::upload_min_bytes_per_sec.parse::<u64>().unwrap()
        );
        assert_eq!(limits.grant_cache_ttl, secs(d::grant_cache_ttl_secs));
        assert_eq!(pipeline.hedge.piece_timeout, millis(d::piece_timeout_ms));
        assert_eq!(pipeline.linger, millis(d::linger_ms));
        assert_eq!(
            pipeline.inline_bytes_max as u64,
            parse_size(d::inline_max).unwrap()
        );
        assert_eq!(pipeline.backend, d::aead.parse::<AeadBackend>().unwrap());
        assert_eq!(config.etag, EtagMode::Md5);
        assert_eq!(d::etag, "md5");
    }

    /// The profiles in tuning/ are documentation that must stay valid.
    #[test]
    fn tuning_profiles_resolve() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let settings = ServeSettings::from_file(&path).unwrap();
                settings
                    .resolve()
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 3);
    }
}

/// How objects are cut, sealed, spread and read back.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub layout: Layout,
    pub backend: AeadBackend,
    /// Objects up to this size are sealed whole and kept inline in metadata.
    pub inline_bytes_max: usize,
    /// Bytes per piece handed to the writers at a time.
    pub chunk_bytes: usize,
    pub lag_chunks_max: usize,
    pub linger: Duration,
    /// Plaintext bytes decoded per read window (rounded to whole stripes).
    pub window_bytes: usize,
    pub hedge: Hedge,
}

impl PipelineConfig {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            backend: AeadBackend::default(),
            inline_bytes_max: crate::pipeline::inline::INLINE_BYTES_MAX_DEFAULT,
            chunk_bytes: 256 * 1024,
            lag_chunks_max: 8,
            linger: Duration::from_millis(200),
            window_bytes: 4 << 20,
            hedge: Hedge {
                extra: 0,
                piece_timeout: Duration::from_secs(2),
            },
        }
    }
}
