//! What a run reports: the `Summary` (also the `--json` document), its text
//! form, the live progress line, and the `--plot` SVG. Pure code: the runner
//! fills a `Summary` in and prints what these functions return.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::hist::Histogram;
use super::server_usage::{RssSource, ServerSample};

const NS_PER_MS: f64 = 1e6;
const MB: f64 = 1e6;
const MIB: f64 = (1u64 << 20) as f64;

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// `None` for an empty histogram (of nanoseconds).
    pub fn of(h: &Histogram) -> Option<Self> {
        (h.count() > 0).then(|| {
            let ms = |ns: u64| ns as f64 / NS_PER_MS;
            Self {
                p50: ms(h.percentile(0.50)),
                p90: ms(h.percentile(0.90)),
                p99: ms(h.percentile(0.99)),
                p99_9: ms(h.percentile(0.999)),
                max: ms(h.max()),
                mean: h.mean() / NS_PER_MS,
            }
        })
    }
}

/// Bytes per second, decimal and binary.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Throughput {
    /// 10^6 bytes per second.
    pub mb_s: f64,
    /// 2^20 bytes per second.
    pub mib_s: f64,
}

impl Throughput {
    pub fn of(bytes: u64, secs: f64) -> Self {
        let per_s = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
        Self {
            mb_s: per_s / MB,
            mib_s: per_s / MIB,
        }
    }
}

/// One operation kind's results.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindSummary {
    pub ops: u64,
    pub errors: u64,
    pub bytes: u64,
    pub ops_per_s: f64,
    pub throughput: Throughput,
    pub latency_ms: Option<Latency>,
    /// Time to the first response byte (GETs).
    pub ttfb_ms: Option<Latency>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub operation: String,
    pub kind: String,
    pub count: u64,
    /// The first such error's message.
    pub example: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    pub total: u64,
    /// `http 503 SlowDown`, `connect`, `io`, `timeout`, `protocol`, `corrupt` → count.
    pub by_kind: BTreeMap<String, u64>,
    pub details: Vec<ErrorDetail>,
}

/// The process's CPU time during the timed phase (getrusage, all threads).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cpu {
    pub user_s: f64,
    pub system_s: f64,
    pub total_s: f64,
    /// CPU seconds per wall second: how many cores the load generator kept busy.
    pub cores_busy: f64,
    /// CPU seconds per 10^9 bytes moved; `None` when no bytes moved.
    pub s_per_gb: Option<f64>,
    /// CPU seconds per 1000 operations.
    pub s_per_1000_ops: Option<f64>,
}

impl Cpu {
    pub fn new(user_s: f64, system_s: f64, wall_s: f64, bytes: u64, ops: u64) -> Self {
        let total_s = user_s + system_s;
        Self {
            user_s,
            system_s,
            total_s,
            cores_busy: if wall_s > 0.0 { total_s / wall_s } else { 0.0 },
            s_per_gb: (bytes > 0).then(|| total_s / (bytes as f64 / 1e9)),
            s_per_1000_ops: (ops > 0).then(|| total_s / (ops as f64 / 1000.0)),
        }
    }
}

/// A server's CPU time and peak memory during the timed phase
/// (`--server-pid`; see `server_usage` for what is and is not counted).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerUsage {
    pub pid: u32,
    /// Its CPU time, in the same fields as the load generator's.
    #[serde(flatten)]
    pub cpu: Cpu,
    /// The largest resident set during the timed phase.
    pub rss_peak_bytes: u64,
    /// `vmhwm` (the kernel's high-water mark) or `polled` (VmRSS samples).
    pub rss_peak_source: RssSource,
}

impl ServerUsage {
    pub fn new(pid: u32, sample: &ServerSample, wall_s: f64, bytes: u64, ops: u64) -> Self {
        Self {
            pid,
            cpu: Cpu::new(sample.user_s, sample.system_s, wall_s, bytes, ops),
            rss_peak_bytes: sample.rss_peak_bytes,
            rss_peak_source: sample.rss_source,
        }
    }
}

/// One second of the timed phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Second {
    /// Seconds from the start to the end of this interval.
    pub t_s: f64,
    /// The interval's length (1 but for the last).
    pub duration_s: f64,
    /// Body bytes that moved in it, finished or not, per second.
    pub mb_s: f64,
    pub ops_per_s: f64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Prepared {
    pub objects: u64,
    pub bytes: u64,
    pub duration_s: f64,
}

/// Everything a run reports; `--json` prints it as is.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub operation: String,
    pub endpoint: String,
    pub bucket: String,
    /// The bucket (or the run's keys) were removed afterwards.
    pub cleaned_up: bool,
    pub threads: usize,
    pub concurrency: usize,
    pub size: String,
    pub payload: String,
    pub range: Option<String>,
    pub mix: Option<String>,
    pub part_size: Option<u64>,
    pub prepared: Option<Prepared>,
    pub duration_s: f64,
    /// Successful operations (multipart: whole uploads).
    pub ops: u64,
    /// Payload bytes of successful operations.
    pub bytes: u64,
    pub throughput: Throughput,
    pub ops_per_s: f64,
    /// Over every successful operation.
    pub latency_ms: Option<Latency>,
    /// GETs: request start to first response byte.
    pub ttfb_ms: Option<Latency>,
    /// Per kind: `put`, `get`, `stat`, `delete`, `list`, `multipart`, `part`.
    pub operations: BTreeMap<String, KindSummary>,
    pub errors: Errors,
    /// The load generator's own CPU time.
    pub cpu: Cpu,
    /// The server's, with `--server-pid`.
    pub server: Option<ServerUsage>,
    pub connections: u64,
    pub interrupted: bool,
    /// Objects the cleanup removed.
    pub objects_removed: u64,
    pub cleanup_errors: Vec<String>,
    pub timeline: Vec<Second>,
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn latency_line(l: &Latency) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {})",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p99_9),
        ms(l.max),
        ms(l.mean)
    )
}

fn bytes_decimal(n: u64) -> String {
    let n = n as f64;
    if n >= 1e12 {
        format!("{:.2} TB", n / 1e12)
    } else if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

impl Summary {
    /// The text summary: what ran, what it did, then each kind and the errors.
    pub fn text(&self) -> String {
        let mut s = String::new();
        self.text_setup(&mut s);
        self.text_totals(&mut s);
        self.text_kinds(&mut s);
        self.text_errors(&mut s);
        s
    }

    /// The run's title, options and prepared working set.
    fn text_setup(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "ringgate bench {}: {}, bucket {} ({})",
            self.operation,
            self.endpoint,
            self.bucket,
            if self.cleaned_up {
                format!("cleaned up: {} objects removed", self.objects_removed)
            } else {
                "kept".to_string()
            }
        );
        let mut setup = format!(
            "{} threads, concurrency {}, size {}, payload {}",
            self.threads, self.concurrency, self.size, self.payload
        );
        if let Some(r) = &self.range {
            let _ = write!(setup, ", ranges {r}");
        }
        if let Some(m) = &self.mix {
            let _ = write!(setup, ", mix {m}");
        }
        if let Some(p) = self.part_size {
            let _ = write!(setup, ", parts {}", super::size::format_bytes(p));
        }
        let _ = writeln!(s, "  {setup}");
        if let Some(p) = &self.prepared {
            let _ = writeln!(
                s,
                "  working set  {} objects, {}, prepared in {:.2} s (not timed)",
                p.objects,
                bytes_decimal(p.bytes),
                p.duration_s
            );
        }
    }

    /// Duration, operations, throughput, latency, CPU and connections.
    fn text_totals(&self, s: &mut String) {
        let interrupted = if self.interrupted {
            " (interrupted)"
        } else {
            ""
        };
        let _ = writeln!(s, "  duration     {:.2} s{interrupted}", self.duration_s);
        let _ = writeln!(
            s,
            "  operations   {} ({:.1} ops/s), {} errors",
            self.ops, self.ops_per_s, self.errors.total
        );
        let _ = writeln!(
            s,
            "  throughput   {:.1} MB/s = {:.1} MiB/s ({} moved; MB = 10^6 bytes, MiB = 2^20)",
            self.throughput.mb_s,
            self.throughput.mib_s,
            bytes_decimal(self.bytes)
        );
        if let Some(l) = &self.latency_ms {
            let _ = writeln!(s, "  latency      {}", latency_line(l));
        }
        if let Some(l) = &self.ttfb_ms {
            let _ = writeln!(s, "  first byte   {}", latency_line(l));
        }
        let per_gb = self
            .cpu
            .s_per_gb
            .map_or("-".to_string(), |v| format!("{v:.3} s/GB"));
        let per_ops = self
            .cpu
            .s_per_1000_ops
            .map_or("-".to_string(), |v| format!("{v:.3} s per 1000 ops"));
        let _ = writeln!(
            s,
            "  cpu          {:.2} s (user {:.2} s, system {:.2} s; {:.2} cores busy): {per_gb}, {per_ops}",
            self.cpu.total_s, self.cpu.user_s, self.cpu.system_s, self.cpu.cores_busy
        );
        if let Some(server) = &self.server {
            let _ = writeln!(s, "  {}", server_line(server));
        }
        let _ = writeln!(s, "  connections  {}", self.connections);
    }

    /// A table row per kind of operation, when a run did more than one.
    fn text_kinds(&self, s: &mut String) {
        if self.operations.len() <= 1 {
            return;
        }
        let _ = writeln!(
            s,
            "  {:<10} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10}",
            "kind", "ops", "errors", "ops/s", "MB/s", "p50", "p99"
        );
        for (name, k) in &self.operations {
            let (p50, p99) = k
                .latency_ms
                .as_ref()
                .map_or(("-".into(), "-".into()), |l| (ms(l.p50), ms(l.p99)));
            let _ = writeln!(
                s,
                "  {:<10} {:>9} {:>7} {:>10.1} {:>10.1} {:>10} {:>10}",
                name, k.ops, k.errors, k.ops_per_s, k.throughput.mb_s, p50, p99
            );
        }
    }

    /// The errors by operation and kind, and what cleaning up failed to do.
    fn text_errors(&self, s: &mut String) {
        if self.errors.total == 0 && self.errors.details.is_empty() {
            let _ = writeln!(s, "  errors       none");
        } else {
            let _ = writeln!(s, "  errors       {}", self.errors.total);
            for d in &self.errors.details {
                let _ = writeln!(
                    s,
                    "    {:<9} {:<28} {:>8}  e.g. {}",
                    d.operation, d.kind, d.count, d.example
                );
            }
        }
        for e in &self.cleanup_errors {
            let _ = writeln!(s, "  cleanup: {e}");
        }
    }
}

/// The text summary's line about the server.
fn server_line(server: &ServerUsage) -> String {
    let cpu = &server.cpu;
    let per_gb = cpu
        .s_per_gb
        .map_or("-".to_string(), |v| format!("{v:.3} s/GB"));
    let per_ops = cpu
        .s_per_1000_ops
        .map_or("-".to_string(), |v| format!("{v:.3} s per 1000 ops"));
    format!(
        "server       pid {}: cpu {:.2} s (user {:.2} s, system {:.2} s; {:.2} cores busy): {per_gb}, {per_ops}; peak RSS {:.1} MiB",
        server.pid,
        cpu.total_s,
        cpu.user_s,
        cpu.system_s,
        cpu.cores_busy,
        server.rss_peak_bytes as f64 / MIB
    )
}

/// The live progress line for one second.
pub fn progress_line(second: &Second, total_ops: u64, total_errors: u64) -> String {
    format!(
        "[{:>4.0}s] {:>9.1} MB/s {:>9.1} ops/s  p50 {}  p99 {}  ops {}  errors {}",
        second.t_s,
        second.mb_s,
        second.ops_per_s,
        ms(second.p50_ms),
        ms(second.p99_ms),
        total_ops,
        total_errors
    )
}

/// A round number at or above `v`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let exp = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * exp >= v {
            return m * exp;
        }
    }
    10.0 * exp
}

fn tick_label(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A line on a chart: (legend, colour, points as (seconds, value)).
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

const SVG_WIDTH: f64 = 760.0;
const PANEL_HEIGHT: f64 = 170.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;

/// One chart: axes, grid, ticks and a line per series.
fn panel(svg: &mut String, top: f64, title: &str, unit: &str, t_max: f64, series: &[Series<'_>]) {
    let width = SVG_WIDTH - LEFT - RIGHT;
    let v_max = series
        .iter()
        .flat_map(|(_, _, pts)| pts.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    // Gridlines at a round step, as many as the data needs (at most 4).
    let y_step = nice_ceiling(v_max / 4.0);
    let y_lines = (v_max / y_step).ceil().max(1.0);
    let y_max = y_step * y_lines;
    let x = |t: f64| LEFT + width * t / t_max;
    let y = |v: f64| top + PANEL_HEIGHT - PANEL_HEIGHT * v / y_max;
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="{:.1}" font-weight="bold">{title}</text>"##,
        top - 8.0
    );
    for i in 0..=y_lines as u32 {
        let v = y_step * f64::from(i);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + width,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            tick_label(v)
        );
    }
    let t_step = nice_ceiling(t_max / 8.0);
    let mut t = 0.0;
    while t <= t_max + 1e-9 {
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{top}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            x(t),
            x(t),
            top + PANEL_HEIGHT,
            x(t),
            top + PANEL_HEIGHT + 16.0,
            tick_label(t)
        );
        t += t_step;
    }
    let _ = writeln!(
        svg,
        r##"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{unit}</text>"##,
        top + PANEL_HEIGHT / 2.0,
        top + PANEL_HEIGHT / 2.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{top}" width="{width:.1}" height="{PANEL_HEIGHT}" fill="none" stroke="#888"/>"##
    );
    for (i, (name, color, pts)) in series.iter().enumerate() {
        let points: Vec<String> = pts
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            r##"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"##,
            points.join(" ")
        );
        for (t, v) in pts {
            let _ = writeln!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{color}"/>"##,
                x(*t),
                y(*v)
            );
        }
        let lx = LEFT + width - 150.0 + 75.0 * i as f64;
        let _ = writeln!(
            svg,
            r##"<line x1="{lx:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{name}</text>"##,
            lx + 16.0,
            top - 12.0,
            top - 12.0,
            lx + 20.0,
            top - 8.0
        );
    }
}

/// Throughput and latency (p50, p99) per second, as a standalone SVG.
pub fn svg(summary: &Summary) -> String {
    let height = 2.0 * PANEL_HEIGHT + 140.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(
        s,
        r##"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="18" font-size="14">ringgate bench {}: {} ({} threads, concurrency {}, size {})</text>"##,
        escape(&summary.operation),
        escape(&summary.endpoint),
        summary.threads,
        summary.concurrency,
        escape(&summary.size)
    );
    let t_max = summary.timeline.last().map_or(1.0, |s| s.t_s).max(1.0);
    let pts = |f: fn(&Second) -> f64| -> Vec<(f64, f64)> {
        summary.timeline.iter().map(|s| (s.t_s, f(s))).collect()
    };
    // Runs that move no payload (stat, list, delete) chart operations instead.
    if summary.bytes > 0 {
        panel(
            &mut s,
            50.0,
            "Throughput",
            "MB/s",
            t_max,
            &[("MB/s", "#1f77b4", pts(|s| s.mb_s))],
        );
    } else {
        panel(
            &mut s,
            50.0,
            "Operations",
            "ops/s",
            t_max,
            &[("ops/s", "#1f77b4", pts(|s| s.ops_per_s))],
        );
    }
    panel(
        &mut s,
        50.0 + PANEL_HEIGHT + 55.0,
        "Latency",
        "ms",
        t_max,
        &[
            ("p50", "#2ca02c", pts(|s| s.p50_ms)),
            ("p99", "#d62728", pts(|s| s.p99_ms)),
        ],
    );
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds</text>"##,
        LEFT + (SVG_WIDTH - LEFT - RIGHT) / 2.0,
        height - 8.0
    );
    s.push_str("</svg>\n");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
