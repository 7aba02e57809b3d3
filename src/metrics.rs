//! Counters and histograms for operators and for perf/: requests by operation
//! and status, bytes, latency, time per pipeline stage, piece transfers and
//! the long tail, the access-record cache, connections, metadata commits.
//!
//! One slot per core, written only by its own core (relaxed atomics, each slot
//! on its own cache lines), so recording costs an uncontended add; the admin
//! listener reads every slot when scraped and renders the Prometheus text
//! format, a series per core.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::meta::CommitStatsSnapshot;
use crate::operation::Operation;

/// Latency buckets: upper bounds of 2^i microseconds, i in 0..LATENCY_BUCKETS
/// (1 µs to about 17 minutes); the last also counts everything above.
pub const LATENCY_BUCKETS: usize = 30;
/// Status classes 1xx..5xx.
const STATUS_CLASSES: usize = 5;

/// Pipeline stages whose time is measured per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Digests (MD5, CRC64NVME, x-amz-checksum) and the copy into the stripe.
    Hash,
    /// AES-256-GCM sealing.
    Encrypt,
    /// Reed-Solomon parity and the share copies with their CRC32C.
    Encode,
    /// From a segment's first piece write to its o-th durable commit.
    PieceWrite,
    /// Reading, checking and opening windows of pieces on GET.
    Read,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Hash,
        Stage::Encrypt,
        Stage::Encode,
        Stage::PieceWrite,
        Stage::Read,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Hash => "hash",
            Stage::Encrypt => "encrypt",
            Stage::Encode => "encode",
            Stage::PieceWrite => "piece_write",
            Stage::Read => "read",
        }
    }
}

/// A histogram of durations in power-of-two microsecond buckets.
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS],
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        let micros = elapsed.as_micros().max(1) as u64;
        let bucket = (64 - (micros - 1).leading_zeros() as usize).min(LATENCY_BUCKETS - 1);
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(elapsed.as_nanos() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Relaxed);
            let le = if i + 1 == LATENCY_BUCKETS {
                "+Inf".to_string()
            } else {
                format!("{}", (1u64 << i) as f64 / 1e6)
            };
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            self.sum_ns.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }

    fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.load(Relaxed) == 0)
    }
}

/// One core's counters. Aligned so two cores never share a cache line.
#[repr(align(128))]
pub struct CoreMetrics {
    requests: Box<[[AtomicU64; STATUS_CLASSES]]>,
    latency: Box<[Histogram]>,
    /// Requests refused before routing (malformed heads, bad framing).
    pub requests_rejected: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    stage_ns: [AtomicU64; Stage::ALL.len()],
    pub pieces_started: AtomicU64,
    pub pieces_committed: AtomicU64,
    /// Piece writes cut off by the long tail.
    pub pieces_cancelled: AtomicU64,
    pub pieces_failed: AtomicU64,
    /// Piece reads (of a window of stripes) that answered.
    pub piece_reads: AtomicU64,
    /// Piece reads that failed (missing, unreachable, timed out).
    pub piece_reads_failed: AtomicU64,
    /// Piece reads cancelled because enough others (the hedge) answered first.
    pub piece_reads_overtaken: AtomicU64,
    /// Stripes read back with Reed-Solomon because a data share was unusable.
    pub stripes_rebuilt: AtomicU64,
    pub record_cache_hits: AtomicU64,
    pub record_cache_misses: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_refused: AtomicU64,
    pub connections_open: AtomicU64,
    pub gc_segments_deleted: AtomicU64,
    /// Piece deletes that failed while cleaning up a refused write (their
    /// segments went to the GC queue).
    pub cleanup_failures: AtomicU64,
}

impl Default for CoreMetrics {
    fn default() -> Self {
        let ops = Operation::ALL.len() + 1;
        Self {
            requests: (0..ops)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            latency: (0..ops).map(|_| Histogram::default()).collect(),
            requests_rejected: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            stage_ns: std::array::from_fn(|_| AtomicU64::new(0)),
            pieces_started: AtomicU64::new(0),
            pieces_committed: AtomicU64::new(0),
            pieces_cancelled: AtomicU64::new(0),
            piece_reads: AtomicU64::new(0),
            piece_reads_failed: AtomicU64::new(0),
            piece_reads_overtaken: AtomicU64::new(0),
            stripes_rebuilt: AtomicU64::new(0),
            pieces_failed: AtomicU64::new(0),
            record_cache_hits: AtomicU64::new(0),
            record_cache_misses: AtomicU64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            gc_segments_deleted: AtomicU64::new(0),
            cleanup_failures: AtomicU64::new(0),
        }
    }
}

fn op_index(op: Option<Operation>) -> usize {
    match op {
        Some(op) => Operation::ALL
            .iter()
            .position(|o| *o == op)
            .expect("every operation is in ALL"),
        None => Operation::ALL.len(),
    }
}

impl CoreMetrics {
    /// One finished request: its operation (`None` if it never routed),
    /// status, time and bytes.
    pub fn request(
        &self,
        op: Option<Operation>,
        status: u16,
        elapsed: Duration,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        let i = op_index(op);
        let class = ((status / 100) as usize).clamp(1, STATUS_CLASSES) - 1;
        self.requests[i][class].fetch_add(1, Relaxed);
        self.latency[i].record(elapsed);
        self.bytes_in.fetch_add(bytes_in, Relaxed);
        self.bytes_out.fetch_add(bytes_out, Relaxed);
    }

    pub fn stage(&self, stage: Stage, elapsed: Duration) {
        let i = Stage::ALL.iter().position(|s| *s == stage).expect("stage");
        self.stage_ns[i].fetch_add(elapsed.as_nanos() as u64, Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}

/// Every core's slot.
pub struct Metrics {
    cores: Box<[CoreMetrics]>,
}

impl Metrics {
    pub fn new(cores: usize) -> Self {
        Self {
            cores: (0..cores).map(|_| CoreMetrics::default()).collect(),
        }
    }

    pub fn core(&self, core: usize) -> &CoreMetrics {
        &self.cores[core]
    }

    /// The Prometheus text exposition of everything, plus the commit thread's.
    pub fn render(&self, commits: &CommitStatsSnapshot) -> String {
        let mut out = String::with_capacity(64 << 10);
        self.render_requests(&mut out);
        self.render_latencies(&mut out);
        self.render_series(&mut out, TRAFFIC_SERIES);
        self.render_stages(&mut out);
        self.render_series(&mut out, PIECE_AND_CONNECTION_SERIES);
        render_commits(&mut out, commits);
        out
    }

    /// Requests answered, a line per core, operation and status class seen.
    fn render_requests(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP ringgate_requests_total Requests answered, by operation and status class.\n# TYPE ringgate_requests_total counter"
        );
        for (core, m) in self.cores.iter().enumerate() {
            for (i, row) in m.requests.iter().enumerate() {
                let op = Operation::ALL.get(i).map_or("Unrouted", |o| o.name());
                for (class, n) in row.iter().enumerate() {
                    let n = n.load(Relaxed);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "ringgate_requests_total{{core=\"{core}\",operation=\"{op}\",status=\"{}xx\"}} {n}",
                            class + 1
                        );
                    }
                }
            }
        }
    }

    /// Request latency histograms, per core and operation seen.
    fn render_latencies(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP ringgate_request_duration_seconds Request latency, first byte of the head to last byte of the response.\n# TYPE ringgate_request_duration_seconds histogram"
        );
        for (core, m) in self.cores.iter().enumerate() {
            for (i, histogram) in m.latency.iter().enumerate() {
                if !histogram.is_empty() {
                    let op = Operation::ALL.get(i).map_or("Unrouted", |o| o.name());
                    histogram.render(
                        out,
                        "ringgate_request_duration_seconds",
                        &format!("core=\"{core}\",operation=\"{op}\""),
                    );
                }
            }
        }
    }

    /// Seconds per pipeline stage, per core.
    fn render_stages(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP ringgate_stage_seconds_total Time spent per pipeline stage.\n# TYPE ringgate_stage_seconds_total counter"
        );
        for (core, m) in self.cores.iter().enumerate() {
            for (i, stage) in Stage::ALL.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "ringgate_stage_seconds_total{{core=\"{core}\",stage=\"{}\"}} {}",
                    stage.name(),
                    m.stage_ns[i].load(Relaxed) as f64 / 1e9
                );
            }
        }
    }

    /// Each series of the table, with its help, type and a line per core.
    fn render_series(&self, out: &mut String, table: &[Series]) {
        for series in table {
            let (name, help, kind) = (series.name, series.help, series.kind);
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (core, m) in self.cores.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}{{core=\"{core}\"}} {}",
                    (series.get)(m).load(Relaxed)
                );
            }
        }
    }
}

/// One per-core number rendered as it is.
struct Series {
    name: &'static str,
    help: &'static str,
    /// `counter` or `gauge`.
    kind: &'static str,
    get: fn(&CoreMetrics) -> &AtomicU64,
}

const fn counter(
    name: &'static str,
    help: &'static str,
    get: fn(&CoreMetrics) -> &AtomicU64,
) -> Series {
    Series {
        name,
        help,
        kind: "counter",
        get,
    }
}

/// The series rendered between the latencies and the stages.
const TRAFFIC_SERIES: &[Series] = &[
    counter(
        "ringgate_requests_rejected_total",
        "Requests refused before routing.",
        |m| &m.requests_rejected,
    ),
    counter(
        "ringgate_bytes_in_total",
        "Bytes received on S3 connections.",
        |m| &m.bytes_in,
    ),
    counter(
        "ringgate_bytes_out_total",
        "Bytes sent on S3 connections.",
        |m| &m.bytes_out,
    ),
];

/// The series rendered after the stages, before the commit thread's.
const PIECE_AND_CONNECTION_SERIES: &[Series] = &[
    counter(
        "ringgate_pieces_started_total",
        "Piece writes started.",
        |m| &m.pieces_started,
    ),
    counter(
        "ringgate_pieces_committed_total",
        "Piece writes made durable.",
        |m| &m.pieces_committed,
    ),
    counter(
        "ringgate_pieces_cancelled_total",
        "Piece writes cut off by the long tail.",
        |m| &m.pieces_cancelled,
    ),
    counter(
        "ringgate_pieces_failed_total",
        "Piece writes that failed.",
        |m| &m.pieces_failed,
    ),
    counter(
        "ringgate_piece_reads_total",
        "Piece reads that answered.",
        |m| &m.piece_reads,
    ),
    counter(
        "ringgate_piece_reads_failed_total",
        "Piece reads that failed and brought in another piece.",
        |m| &m.piece_reads_failed,
    ),
    counter(
        "ringgate_piece_reads_overtaken_total",
        "Piece reads cancelled because enough other pieces (the hedge) answered first.",
        |m| &m.piece_reads_overtaken,
    ),
    counter(
        "ringgate_stripes_rebuilt_total",
        "Stripes read with Reed-Solomon because a data share was missing or damaged.",
        |m| &m.stripes_rebuilt,
    ),
    counter(
        "ringgate_record_cache_hits_total",
        "Access-record cache hits.",
        |m| &m.record_cache_hits,
    ),
    counter(
        "ringgate_record_cache_misses_total",
        "Access-record cache misses (a metadata read).",
        |m| &m.record_cache_misses,
    ),
    counter(
        "ringgate_connections_accepted_total",
        "Connections accepted.",
        |m| &m.connections_accepted,
    ),
    counter(
        "ringgate_connections_refused_total",
        "Connections refused at the per-core limit.",
        |m| &m.connections_refused,
    ),
    Series {
        name: "ringgate_connections_open",
        help: "Connections open now.",
        kind: "gauge",
        get: |m| &m.connections_open,
    },
    counter(
        "ringgate_gc_segments_deleted_total",
        "Released segments whose pieces were deleted.",
        |m| &m.gc_segments_deleted,
    ),
    counter(
        "ringgate_cleanup_failures_total",
        "Piece deletes that failed while cleaning up a refused write; their segments went to the GC queue.",
        |m| &m.cleanup_failures,
    ),
];

/// The commit thread's totals and its two log2 histograms.
fn render_commits(out: &mut String, commits: &CommitStatsSnapshot) {
    let _ = writeln!(
        out,
        "# HELP ringgate_meta_commits_total Metadata write transactions (group commits).\n# TYPE ringgate_meta_commits_total counter\nringgate_meta_commits_total {}\n# HELP ringgate_meta_mutations_total Metadata mutations committed.\n# TYPE ringgate_meta_mutations_total counter\nringgate_meta_mutations_total {}\n# HELP ringgate_meta_commits_failed_total Failed metadata commits.\n# TYPE ringgate_meta_commits_failed_total counter\nringgate_meta_commits_failed_total {}",
        commits.commits, commits.mutations, commits.commits_failed
    );
    render_log2_histogram(
        out,
        "ringgate_meta_batch_mutations",
        "Mutations per group commit (log2 buckets).",
        &commits.batch_sizes,
        |i| (1u64 << i).to_string(),
        &commits.mutations,
    );
    render_log2_histogram(
        out,
        "ringgate_meta_commit_duration_seconds",
        "Time of one group commit, fsync included (log2 µs buckets).",
        &commits.commit_latencies_us,
        |i| ((1u64 << i) as f64 / 1e6).to_string(),
        &(commits.commit_ns_total as f64 / 1e9),
    );
}

/// A histogram without labels from bucket counts; `le` names bucket i's bound.
fn render_log2_histogram(
    out: &mut String,
    name: &str,
    help: &str,
    counts: &[u64],
    le: impl Fn(usize) -> String,
    sum: &dyn std::fmt::Display,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (i, n) in counts.iter().enumerate() {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", le(i));
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {sum}\n{name}_count {cumulative}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_powers_of_two_microseconds() {
        let h = Histogram::default();
        h.record(Duration::from_nanos(500)); // 1 µs bucket
        h.record(Duration::from_micros(3)); // ≤ 4 µs
        h.record(Duration::from_micros(4)); // ≤ 4 µs
        h.record(Duration::from_secs(10_000)); // last bucket
        let counts: Vec<u64> = h.buckets.iter().map(|b| b.load(Relaxed)).collect();
        assert_eq!(counts[0], 1);
        assert_eq!(counts[2], 2);
        assert_eq!(counts[LATENCY_BUCKETS - 1], 1);
    }

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::new(2);
        metrics.core(1).request(
            Some(Operation::GetObject),
            200,
            Duration::from_millis(3),
            100,
            5000,
        );
        metrics
            .core(0)
            .request(None, 400, Duration::from_micros(10), 10, 200);
        let text = metrics.render(&CommitStatsSnapshot::default());
        assert!(text.contains(
            "ringgate_requests_total{core=\"1\",operation=\"GetObject\",status=\"2xx\"} 1"
        ));
        assert!(text.contains("operation=\"Unrouted\",status=\"4xx\"} 1"));
        assert!(text.contains("ringgate_bytes_out_total{core=\"1\"} 5000"));
        assert!(text.contains(
            "ringgate_request_duration_seconds_count{core=\"1\",operation=\"GetObject\"} 1"
        ));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
