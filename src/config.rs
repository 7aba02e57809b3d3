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
    /// The admin API token; `None`: use (or create) `<data>/admin-token`.
    pub admin_token: Option<String>,
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
}

/// A storage node as configured: its address and optional failure domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    pub addr: SocketAddr,
    pub domain: Option<String>,
}

impl NodeSpec {
    /// `ADDR` or `ADDR@DOMAIN`, e.g. `10.0.0.5:7070@rack-2`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, domain) = match text.trim().split_once('@') {
            Some((addr, domain)) => (addr, Some(domain)),
            None => (text.trim(), None),
        };
        let addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an address (IP:PORT)"))?;
        let domain = match domain {
            Some(d) if d.is_empty() || d.len() > 64 || d.chars().any(char::is_whitespace) => {
                return Err(format!("{d:?} is not a failure domain name"));
            }
            d => d.map(str::to_string),
        };
        Ok(Self { addr, domain })
    }

    /// A nodes file: one `ADDR[@DOMAIN]` per line; `#` starts a comment.
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
        }
    }
}

/// Settings as they come from a flag or the config file: every one optional.
/// The same struct is filled by clap (flags) and serde (TOML), so a setting can
/// never exist in one and be forgotten in the other.
#[derive(Clone, Debug, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Address of the S3 endpoint [default: 127.0.0.1:9000]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Admin listener for /metrics and /health; port 0 picks one and writes it to <data>/admin.addr [default: 127.0.0.1:0]
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Data folder: metadata database, credentials, default piece stores [default: ./data]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Piece store directories, one per disk [default: n (of --erasure) under <data>/stores]
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub stores: Option<Vec<PathBuf>>,
    /// Executor threads, one pinned per core [default: all cores]
    #[arg(long, value_name = "N")]
    pub cores: Option<usize>,
    /// Erasure code k/o/n: any k of n pieces rebuild a segment, uploads finish at o [default: 4/5/6]
    #[arg(long, value_name = "K/O/N")]
    pub erasure: Option<String>,
    /// Bytes per share (a multiple of 64) [default: 64KiB]
    #[arg(long, value_name = "SIZE")]
    pub share_size: Option<String>,
    /// Largest segment of plaintext [default: 64MiB]
    #[arg(long, value_name = "SIZE")]
    pub segment_size: Option<String>,
    /// Objects up to this size are kept inline in metadata [default: 4KiB]
    #[arg(long, value_name = "SIZE")]
    pub inline_max: Option<String>,
    /// ETag kind: md5 (S3-compatible) or fast (CRC64NVME-based, no MD5 pass) [default: md5]
    #[arg(long, value_name = "MODE")]
    pub etag: Option<String>,
    /// AES-256-GCM implementation: ring or rustcrypto [default: ring]
    #[arg(long, value_name = "NAME")]
    pub aead: Option<String>,
    /// Region reported to clients and expected in signatures [default: us-east-1]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Base domain for virtual-hosted-style addressing (bucket.DOMAIN)
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// PEM certificate chain: serve HTTPS (needs --tls-key)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Open connections per core before new ones are refused [default: 1024]
    #[arg(long, value_name = "N")]
    pub connections_per_core_max: Option<usize>,
    /// Object and part uploads a core runs at once; more wait, their bodies unread [default: 8]
    #[arg(long, value_name = "N")]
    pub uploads_per_core_max: Option<usize>,
    /// Seconds an idle kept-alive connection stays open [default: 60]
    #[arg(long, value_name = "SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request may make no progress before it is abandoned [default: 60]
    #[arg(long, value_name = "SECS")]
    pub stall_timeout_secs: Option<u64>,
    /// Seconds in-flight requests get to finish on SIGINT/SIGTERM [default: 10]
    #[arg(long, value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Seconds released segments wait before their pieces are deleted [default: 60]
    #[arg(long, value_name = "SECS")]
    pub gc_delay_secs: Option<u64>,
    /// Entries per map of each core's grant cache [default: 10000]
    #[arg(long, value_name = "N")]
    pub grant_cache_entries_max: Option<usize>,
    /// Seconds a core trusts its cached grants, secrets and revocations [default: 30]
    #[arg(long, value_name = "SECS")]
    pub grant_cache_ttl_secs: Option<u64>,
    /// Admin API token [default: generated into <data>/admin-token]
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Storage node ADDR[@DOMAIN] holding pieces (repeatable); with nodes, local stores only if --stores is given
    #[arg(long = "node", value_name = "ADDR[@DOMAIN]")]
    pub nodes: Option<Vec<String>>,
    /// File listing storage nodes, one ADDR[@DOMAIN] per line (# comments)
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// File with the key shared with the nodes (64 hex digits) [default: <data>/cluster.key, created if missing]
    #[arg(long, value_name = "FILE")]
    pub cluster_key: Option<PathBuf>,
    /// Piece reads started beyond the k a read needs [default: 1 with nodes, 0 without]
    #[arg(long, value_name = "N")]
    pub hedge: Option<usize>,
    /// Milliseconds before a slow piece read brings in another piece [default: 2000]
    #[arg(long, value_name = "MS")]
    pub piece_timeout_ms: Option<u64>,
    /// Milliseconds pieces beyond o may still land once o are durable (the long tail) [default: 200]
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// Seconds between health checks of the stores [default: 5]
    #[arg(long, value_name = "SECS")]
    pub health_interval_secs: Option<u64>,
    /// Rebuild a segment when its healthy pieces fall to this many [default: k + ceil((o-k)/2)]
    #[arg(long, value_name = "PIECES")]
    pub repair_threshold: Option<usize>,
    /// Seconds between audit passes over every segment [default: 3600]
    #[arg(long, value_name = "SECS")]
    pub repair_interval_secs: Option<u64>,
    /// Seconds a store may be unreachable before its pieces count as lost [default: 600]
    #[arg(long, value_name = "SECS")]
    pub offline_grace_secs: Option<u64>,
    /// Server key file, sealing the projects' API-key secrets; keep it off the data folder's backups [default: <data>/server.key, created if missing]
    #[arg(long, value_name = "FILE")]
    pub server_key: Option<PathBuf>,
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

    /// `self` (flags) where set, else `file`.
    pub fn over(self, file: ServeSettings) -> ServeSettings {
        macro_rules! pick {
            ($($field:ident),*) => { ServeSettings { $($field: self.$field.or(file.$field)),* } };
        }
        pick!(
            listen,
            admin_listen,
            data,
            stores,
            cores,
            erasure,
            share_size,
            segment_size,
            inline_max,
            etag,
            aead,
            region,
            domain,
            tls_cert,
            tls_key,
            connections_per_core_max,
            uploads_per_core_max,
            idle_timeout_secs,
            stall_timeout_secs,
            shutdown_grace_secs,
            gc_delay_secs,
            grant_cache_entries_max,
            grant_cache_ttl_secs,
            admin_token,
            nodes,
            nodes_file,
            cluster_key,
            hedge,
            piece_timeout_ms,
            linger_ms,
            health_interval_secs,
            repair_threshold,
            repair_interval_secs,
            offline_grace_secs,
            server_key
        )
    }

    /// Applies defaults and validates every value.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let data = self.data.unwrap_or_else(|| PathBuf::from("./data"));
        let erasure = ErasureParams::parse(self.erasure.as_deref().unwrap_or("4/5/6"))
            .map_err(|e| invalid("erasure", e))?;
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
        let stores = match self.stores {
            Some(stores) if stores.is_empty() => return Err(invalid("stores", "empty list")),
            Some(stores) => stores,
            None if !nodes.is_empty() => Vec::new(),
            // One store per piece of a segment.
            None => (0..erasure.total)
                .map(|i| data.join("stores").join(i.to_string()))
                .collect(),
        };
        let share = parse_size(self.share_size.as_deref().unwrap_or("64KiB"))
            .map_err(|e| invalid("share_size", e))?;
        let segment = parse_size(self.segment_size.as_deref().unwrap_or("64MiB"))
            .map_err(|e| invalid("segment_size", e))?;
        let layout = Layout::new(erasure, share as usize, segment).map_err(|e| {
            let setting = match e {
                LayoutError::ShareSize(_) => "share_size",
                LayoutError::SegmentSize { .. } => "segment_size",
                _ => "erasure",
            };
            invalid(setting, e)
        })?;
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
        if let Some(inline) = self.inline_max {
            let inline = parse_size(&inline).map_err(|e| invalid("inline_max", e))?;
            if inline > 1 << 20 {
                return Err(invalid("inline_max", "at most 1MiB"));
            }
            pipeline.inline_bytes_max = inline as usize;
        }
        if let Some(aead) = self.aead {
            pipeline.backend = aead
                .parse::<AeadBackend>()
                .map_err(|e| invalid("aead", e))?;
        }
        let etag = match self.etag.as_deref() {
            None | Some("md5") => EtagMode::Md5,
            Some("fast") => EtagMode::Fast,
            Some(other) => return Err(invalid("etag", format!("{other:?}: use md5 or fast"))),
        };
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err(invalid("tls_cert", "--tls-cert and --tls-key go together")),
        };
        let cores_available = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cores = self.cores.unwrap_or(cores_available);
        if cores == 0 || cores > 1024 {
            return Err(invalid("cores", format!("{cores}: must be 1..=1024")));
        }
        let mut limits = Limits::default();
        if let Some(n) = self.connections_per_core_max {
            if n == 0 {
                return Err(invalid("connections_per_core_max", "must be at least 1"));
            }
            limits.connections_per_core_max = n;
        }
        if let Some(n) = self.uploads_per_core_max {
            if n == 0 {
                return Err(invalid("uploads_per_core_max", "must be at least 1"));
            }
            limits.uploads_per_core_max = n;
        }
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        limits.idle_timeout = secs(self.idle_timeout_secs, limits.idle_timeout);
        limits.stall_timeout = secs(self.stall_timeout_secs, limits.stall_timeout);
        limits.shutdown_grace = secs(self.shutdown_grace_secs, limits.shutdown_grace);
        limits.grant_cache_ttl = secs(self.grant_cache_ttl_secs, limits.grant_cache_ttl);
        if let Some(n) = self.grant_cache_entries_max {
            if n == 0 {
                return Err(invalid("grant_cache_entries_max", "must be at least 1"));
            }
            limits.grant_cache_entries_max = n;
        }
        let region = self.region.unwrap_or_else(|| "us-east-1".to_string());
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid("region", format!("{region:?}")));
        }
        let server_key = self.server_key.unwrap_or_else(|| data.join("server.key"));
        Ok(ServeConfig {
            listen: self
                .listen
                .unwrap_or_else(|| "127.0.0.1:9000".parse().expect("valid address")),
            admin_listen: self
                .admin_listen
                .unwrap_or_else(|| "127.0.0.1:0".parse().expect("valid address")),
            stores,
            cores,
            region,
            domain: self
                .domain
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
            tls,
            pipeline,
            etag,
            limits,
            gc_delay: secs(self.gc_delay_secs, Duration::from_secs(60)),
            server_key,
            admin_token: self.admin_token,
            cluster_key: self.cluster_key.unwrap_or_else(|| data.join("cluster.key")),
            health_interval: secs(self.health_interval_secs, Duration::from_secs(5))
                .max(Duration::from_millis(100)),
            repair: RepairSettings {
                threshold,
                interval: secs(self.repair_interval_secs, Duration::from_secs(3600)),
                offline_grace: secs(self.offline_grace_secs, Duration::from_secs(600)),
                pieces_in_flight_max: 16,
            },
            nodes,
            data,
        })
    }
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
