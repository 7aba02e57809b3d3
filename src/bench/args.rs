//! The command line (`BenchArgs`) and what it resolves to (`Plan`): every
//! default, limit and cross-check of the options in one place, credentials
//! found, the endpoint resolved, before any executor starts.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::body::{PayloadMode, CHUNK_BYTES_MIN};
use super::mix::Mix;
use super::s3::{Addressing, Credentials, Endpoint};
use super::size::{parse_bytes, parse_duration, SizeSpec};

/// What a run does, over and over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchOperation {
    /// PUT new objects
    Put,
    /// GET objects of a prepared working set, every byte checked
    Get,
    /// A mix of get, put, stat, delete and list on a prepared working set (--mix)
    Mixed,
    /// ListObjectsV2 pages over a prepared working set, keys and sizes checked
    List,
    /// Multipart uploads: create, --part-size parts, complete
    Multipart,
    /// HEAD objects of a prepared working set
    Stat,
    /// DELETE objects of a prepared working set, one per operation (the run ends when it is used up)
    Delete,
}

impl BenchOperation {
    pub fn name(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
            Self::Mixed => "mixed",
            Self::List => "list",
            Self::Multipart => "multipart",
            Self::Stat => "stat",
            Self::Delete => "delete",
        }
    }

    /// Whether it needs a working set prepared before the clock starts.
    pub fn prepares(self) -> bool {
        !matches!(self, Self::Put | Self::Multipart)
    }
}

/// Options of `ringgate bench`.
#[derive(clap::Args, Clone, Debug)]
#[command(
    about = "Load-test an S3 endpoint: put, get, mixed, list, multipart, stat or delete, every byte read checked",
    after_help = "\
Sizes: 4096, 64KiB, 1.5MiB, 10MB (K/M/G/T and KiB.. are powers of 1024, KB/MB/GB/TB of 1000); \
A-B is uniform over A..=B, A-B:log log-uniform. Durations: 500ms, 10s, 2m, 1h.
Throughput is reported in MB/s (10^6 bytes) and MiB/s (2^20 bytes).
Credentials: --access-key/--secret-key, else --profile, else AWS_ACCESS_KEY_ID and \
AWS_SECRET_ACCESS_KEY, else the AWS_PROFILE (or default) profile of the credentials file. \
`ringgate serve` writes <data>/credentials with profile `ringgate`.
Exit status: 0 without errors, 1 if any operation failed, 2 if the run could not start."
)]
pub struct BenchArgs {
    /// S3 endpoint: http://host[:port] or https://host[:port]
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// Access key id (with --secret-key)
    #[arg(long, value_name = "KEY", requires = "secret_key")]
    pub access_key: Option<String>,
    /// Secret access key (with --access-key)
    #[arg(long, value_name = "SECRET", requires = "access_key")]
    pub secret_key: Option<String>,
    /// Session token of temporary credentials
    #[arg(long, value_name = "TOKEN")]
    pub session_token: Option<String>,
    /// Profile of the shared credentials file
    #[arg(long, value_name = "NAME", conflicts_with = "access_key")]
    pub profile: Option<String>,
    /// Shared credentials file [default: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials]
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Region the requests are signed for
    #[arg(long, default_value = "us-east-1")]
    pub region: String,

    /// What to run
    #[arg(value_enum)]
    pub operation: BenchOperation,

    /// Object size: fixed, A-B (uniform) or A-B:log [default: 1MiB; multipart 64MiB]
    #[arg(long, value_name = "SIZE", value_parser = SizeSpec::parse)]
    pub size: Option<SizeSpec>,
    /// Requests in flight, over all threads
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Executor threads [default: available cores, at most --concurrency]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Pin thread i to the i-th CPU of this list (e.g. 2,3), away from a local server
    #[arg(long, value_name = "CPUS", value_delimiter = ',')]
    pub cpus: Option<Vec<usize>>,
    /// Run this long [default: 10s unless --ops; with both, whichever ends first]
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Run this many operations, over all threads
    #[arg(long, value_name = "N")]
    pub ops: Option<u64>,
    /// Working set prepared before the clock starts (get, stat, list, mixed,
    /// delete) [default: 4 × concurrency, at least 16; delete: --ops, else 1000]
    #[arg(long, value_name = "N")]
    pub objects: Option<u64>,
    /// Use this bucket (created if missing) instead of a fresh ringgate-bench-<random>
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// Leave the objects (and a fresh bucket) in place afterwards
    #[arg(long)]
    pub keep: bool,
    /// Versions of each working-set object: above 1, versioning is enabled on
    /// the bucket, preparation writes every object this many times, put
    /// rewrites working-set objects (each PUT adds a version) instead of new
    /// ones, and the objects stay afterwards (as --keep)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub versions: u32,
    /// Part size for multipart
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes, default_value = "5MiB")]
    pub part_size: u64,
    /// GET random ranges of this size (fixed or a distribution) instead of whole objects
    #[arg(long, value_name = "SIZE", value_parser = SizeSpec::parse)]
    pub range: Option<SizeSpec>,
    /// Weights for mixed, e.g. get=70,put=30 (names: get, put, stat, delete, list)
    #[arg(long, value_name = "MIX", value_parser = Mix::parse)]
    pub mix: Option<Mix>,
    /// SigV4 payload mode of PUT and UploadPart bodies
    #[arg(long, value_enum, default_value = "unsigned")]
    pub payload: PayloadMode,
    /// Data bytes per aws-chunked chunk (streaming payload modes)
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes, default_value = "64KiB")]
    pub chunk_size: u64,
    /// Keys per ListObjectsV2 page
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_keys: u32,
    /// Path-style addressing: http://host/bucket/key (the default)
    #[arg(long, overrides_with = "virtual_host")]
    pub path_style: bool,
    /// Virtual-host addressing: http://bucket.host/key (connects to the endpoint's address)
    #[arg(long, overrides_with = "path_style")]
    pub virtual_host: bool,
    /// PEM CA certificates for https [default: $SSL_CERT_FILE or the system bundle]
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// A request with no progress for this long fails (connect, read, write)
    #[arg(long, value_name = "TIME", value_parser = parse_duration, default_value = "60s")]
    pub timeout: Duration,
    /// A server on this machine whose CPU time and peak RSS during the timed
    /// phase go into the summary (from /proc: the process and its threads, not
    /// its child processes)
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Print one JSON object instead of the text summary
    #[arg(long)]
    pub json: bool,
    /// Write throughput and latency over time as an SVG chart
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// No progress line, even on a terminal
    #[arg(long)]
    pub quiet: bool,
}

// `BenchArgs` on its own, for embedding and tests: `argv[0]` then options.
#[derive(clap::Parser, Debug)]
#[command(name = "ringgate bench")]
struct Standalone {
    #[command(flatten)]
    args: BenchArgs,
}

impl BenchArgs {
    /// Parses `bench`'s arguments (the first item is the program name).
    pub fn try_parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser as _;
        Standalone::try_parse_from(args).map(|s| s.args)
    }

    /// The `--help` text.
    pub fn help() -> String {
        use clap::CommandFactory as _;
        Standalone::command().render_long_help().to_string()
    }
}

/// The most parts a multipart upload may have (S3).
pub const PARTS_MAX: u64 = 10_000;
/// The largest aws-chunked chunk accepted here.
const CHUNK_BYTES_MAX: u64 = 16 << 20;
/// The most threads or requests in flight.
const CONCURRENCY_MAX: usize = 65_536;

/// A run, fully decided.
#[derive(Debug)]
pub struct Plan {
    pub operation: BenchOperation,
    pub endpoint: Endpoint,
    pub addressing: Addressing,
    /// The endpoint's addresses, tried in order.
    pub connect_addrs: Vec<SocketAddr>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub credentials: Credentials,
    pub region: String,
    pub size: SizeSpec,
    pub part_bytes: u64,
    pub range: Option<SizeSpec>,
    pub mix: Option<Mix>,
    pub payload: PayloadMode,
    pub chunk_bytes: usize,
    pub concurrency: usize,
    pub threads: usize,
    pub cpus: Option<Vec<usize>>,
    pub ops_max: Option<u64>,
    /// `None` only with `ops_max`.
    pub duration: Option<Duration>,
    pub objects: u64,
    /// The bucket was named with --bucket (else it is fresh).
    pub bucket_given: bool,
    pub keep: bool,
    /// Versions of each working-set object (above 1: a versioned bucket).
    pub versions: u32,
    /// Every key of the run starts with it: `rb-<run id>/`.
    pub prefix: String,
    pub max_keys: u32,
    pub timeout: Duration,
    /// A local server to measure (`--server-pid`).
    pub server_pid: Option<u32>,
    pub json: bool,
    pub plot: Option<PathBuf>,
    pub progress: bool,
}

impl Plan {
    /// Requests in flight on `thread`.
    pub fn concurrency_of(&self, thread: usize) -> usize {
        share(self.concurrency as u64, self.threads, thread) as usize
    }

    /// Whether a working set is prepared before the clock starts.
    pub fn prepares(&self) -> bool {
        self.operation.prepares() || self.rewrites_versions()
    }

    /// Whether put writes new versions of working-set objects.
    pub fn rewrites_versions(&self) -> bool {
        self.operation == BenchOperation::Put && self.versions > 1
    }

    /// Working-set objects `thread` prepares and uses.
    pub fn objects_of(&self, thread: usize) -> u64 {
        share(self.objects, self.threads, thread)
    }
}

/// `total` split over `parts`, the remainder to the first ones.
fn share(total: u64, parts: usize, i: usize) -> u64 {
    let parts = parts as u64;
    total / parts + u64::from((i as u64) < total % parts)
}

/// Random bits from the OS.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the OS random source failed");
    u64::from_le_bytes(b)
}

/// Where the bench connects: the endpoint's addresses and its TLS client settings.
type ConnectTo = (Vec<SocketAddr>, Option<Arc<rustls::ClientConfig>>);

impl BenchArgs {
    /// Checks the options against each other and fills in every default.
    pub fn plan(&self) -> Result<Plan, String> {
        let op = self.operation;
        let endpoint = Endpoint::parse(&self.endpoint)?;
        let credentials = self.credentials()?;
        self.check_flags_apply()?;
        self.check_run_limits()?;
        let threads = self.threads()?;
        let size = self.size()?;
        self.check_sizes(size)?;
        let objects = self.objects()?;
        let mix = match (op, &self.mix) {
            (BenchOperation::Mixed, Some(mix)) => Some(mix.clone()),
            (BenchOperation::Mixed, None) => {
                Some(Mix::parse("get=45,put=15,stat=30,delete=10").expect("valid"))
            }
            _ => None,
        };
        let duration = match (self.duration, self.ops) {
            (Some(d), _) => Some(d),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        };
        if let Some(pid) = self.server_pid {
            super::server_usage::check(pid)?;
        }
        let run_id = random_u64();
        let (bucket, bucket_given) = match &self.bucket {
            Some(b) => (b.clone(), true),
            None => (format!("ringgate-bench-{:08x}", run_id as u32), false),
        };
        let addressing = Addressing::new(&endpoint, &bucket, !self.virtual_host);
        let (connect_addrs, tls) = self.connection(&endpoint)?;
        use std::io::IsTerminal as _;
        Ok(Plan {
            operation: op,
            endpoint,
            addressing,
            connect_addrs,
            tls,
            credentials,
            region: self.region.clone(),
            size,
            part_bytes: self.part_size,
            range: self.range,
            mix,
            payload: self.payload,
            chunk_bytes: self.chunk_size as usize,
            concurrency: self.concurrency,
            threads,
            cpus: self.cpus.clone(),
            ops_max: self.ops,
            duration,
            objects,
            bucket_given,
            keep: self.keep || self.versions > 1,
            versions: self.versions,
            prefix: format!("rb-{:08x}/", (run_id >> 32) as u32),
            max_keys: self.max_keys,
            timeout: self.timeout,
            server_pid: self.server_pid,
            json: self.json,
            plot: self.plot.clone(),
            progress: !self.quiet && std::io::stderr().is_terminal(),
        })
    }

    /// Flags that only some operations read are refused with the others.
    fn check_flags_apply(&self) -> Result<(), String> {
        use BenchOperation::*;
        let op = self.operation;
        let only = |given: bool, flag: &str, ops: &[BenchOperation]| -> Result<(), String> {
            if given && !ops.contains(&op) {
                let names: Vec<_> = ops.iter().map(|o| o.name()).collect();
                return Err(format!("{flag} applies to {} only", names.join(", ")));
            }
            Ok(())
        };
        only(self.mix.is_some(), "--mix", &[Mixed])?;
        only(self.range.is_some(), "--range", &[Get, Mixed])?;
        only(
            self.versions > 1,
            "--versions",
            &[Put, Get, Mixed, List, Stat],
        )?;
        // A put with --versions rewrites a working set.
        only(
            self.objects.is_some() && !(op == Put && self.versions > 1),
            "--objects",
            &[Get, Mixed, List, Stat, Delete],
        )
    }

    /// Concurrency in range; a run that stops after at least one op or instant.
    fn check_run_limits(&self) -> Result<(), String> {
        if !(1..=CONCURRENCY_MAX).contains(&self.concurrency) {
            return Err(format!("--concurrency must be 1 to {CONCURRENCY_MAX}"));
        }
        if self.ops == Some(0) {
            return Err("--ops must be at least 1".into());
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return Err("--duration must be longer than 0".into());
        }
        Ok(())
    }

    /// Threads from --threads or --cpus (which must agree), else one per core;
    /// never more than requests in flight.
    fn threads(&self) -> Result<usize, String> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = match (&self.cpus, self.threads) {
            (Some(cpus), Some(t)) if t != cpus.len() => {
                return Err("--threads and --cpus disagree: give one".into())
            }
            (Some(cpus), _) => cpus.len(),
            (None, Some(t)) => t,
            (None, None) => cores,
        };
        if threads == 0 || threads > CONCURRENCY_MAX {
            return Err("--threads must be at least 1".into());
        }
        if let Some(cpus) = &self.cpus {
            if self.concurrency < cpus.len() {
                return Err("--cpus lists more CPUs than --concurrency has requests".into());
            }
        }
        Ok(threads.min(self.concurrency))
    }

    /// The object size: --size, else 64 MiB for multipart and 1 MiB otherwise.
    fn size(&self) -> Result<SizeSpec, String> {
        Ok(self.size.unwrap_or(match self.operation {
            BenchOperation::Multipart => SizeSpec::Fixed(64 << 20),
            _ => SizeSpec::Fixed(1 << 20),
        }))
    }

    /// Part, range, chunk and page sizes within their limits.
    fn check_sizes(&self, size: SizeSpec) -> Result<(), String> {
        if self.part_size == 0 {
            return Err("--part-size must be at least 1 byte".into());
        }
        if self.operation == BenchOperation::Multipart
            && size.max().div_ceil(self.part_size) > PARTS_MAX
        {
            return Err(format!(
                "--size {size} in parts of {} makes more than {PARTS_MAX} parts",
                self.part_size
            ));
        }
        if self.range.is_some_and(|r| r.max() == 0) {
            return Err("--range must allow at least 1 byte".into());
        }
        if !(CHUNK_BYTES_MIN as u64..=CHUNK_BYTES_MAX).contains(&self.chunk_size) {
            return Err(format!(
                "--chunk-size must be {} to {} bytes",
                CHUNK_BYTES_MIN, CHUNK_BYTES_MAX
            ));
        }
        if !(1..=1000).contains(&self.max_keys) {
            return Err("--max-keys must be 1 to 1000".into());
        }
        Ok(())
    }

    /// The working set's size: none for writes (unless put rewrites versions),
    /// one object per op for deletes.
    fn objects(&self) -> Result<u64, String> {
        let objects = match self.operation {
            BenchOperation::Put if self.versions > 1 => self
                .objects
                .unwrap_or((4 * self.concurrency as u64).max(16)),
            BenchOperation::Put | BenchOperation::Multipart => 0,
            BenchOperation::Delete => self.objects.or(self.ops).unwrap_or(1000),
            _ => self
                .objects
                .unwrap_or((4 * self.concurrency as u64).max(16)),
        };
        if (self.operation.prepares() || self.versions > 1) && objects == 0 {
            return Err("--objects must be at least 1".into());
        }
        Ok(objects)
    }

    /// The endpoint's addresses and, for https, the TLS client configuration.
    fn connection(&self, endpoint: &Endpoint) -> Result<ConnectTo, String> {
        let connect_addrs: Vec<SocketAddr> = (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()
            .map_err(|e| format!("resolving {}: {e}", endpoint.host))?
            .collect();
        if connect_addrs.is_empty() {
            return Err(format!("{} has no address", endpoint.host));
        }
        let tls = if endpoint.tls {
            Some(super::client::tls_config(self.ca_file.as_deref())?)
        } else {
            None
        };
        Ok((connect_addrs, tls))
    }

    /// Flags, then --profile, then the environment, then the default profile.
    fn credentials(&self) -> Result<Credentials, String> {
        if let (Some(key), Some(secret)) = (&self.access_key, &self.secret_key) {
            return Ok(Credentials {
                access_key_id: key.clone(),
                secret_access_key: secret.clone(),
                session_token: self.session_token.clone(),
            });
        }
        let file = self
            .credentials_file
            .clone()
            .or_else(|| std::env::var_os("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join("credentials"))
            });
        if let Some(profile) = &self.profile {
            let file = file.ok_or("no credentials file: give --credentials-file")?;
            return profile_credentials(&file, profile);
        }
        if let (Ok(key), Ok(secret)) = (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Ok(Credentials {
                access_key_id: key,
                secret_access_key: secret,
                session_token: self
                    .session_token
                    .clone()
                    .or_else(|| std::env::var("AWS_SESSION_TOKEN").ok()),
            });
        }
        let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        match file {
            Some(file) if file.is_file() => profile_credentials(&file, &profile),
            _ => Err(
                "no credentials: give --access-key and --secret-key, --profile, \
                 or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            ),
        }
    }
}

/// A profile of an AWS shared-credentials file.
pub fn profile_credentials(file: &Path, profile: &str) -> Result<Credentials, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    parse_profile(&text, profile).ok_or_else(|| {
        format!(
            "{}: no profile [{profile}] with a key and a secret",
            file.display()
        )
    })
}

/// The key, secret and token of `[profile]` in shared-credentials text.
pub fn parse_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut key, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_profile = name == profile || name.strip_prefix("profile ") == Some(profile);
        } else if let (true, Some((name, value))) = (in_profile, line.split_once('=')) {
            let value = value.trim().to_string();
            match name.trim() {
                "aws_access_key_id" => key = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value),
                _ => {}
            }
        }
    }
    Some(Credentials {
        access_key_id: key?,
        secret_access_key: secret?,
        session_token: token,
    })
}
