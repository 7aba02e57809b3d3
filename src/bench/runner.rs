//! The main thread of a run: starts one glommio executor per thread, waits
//! for the working sets, reads the clock and the process's CPU time around
//! the timed phase (and, with `--server-pid`, the server's CPU time and peak
//! RSS), folds the threads' messages into the per-second timeline (printing
//! the progress line) and the final statistics, and builds the `Summary`.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};

use super::args::{BenchOperation, Plan};
use super::hist::Histogram;
use super::report::{
    progress_line, Cpu, ErrorDetail, Errors, KindSummary, Latency, Prepared, Second, ServerUsage,
    Summary, Throughput,
};
use super::server_usage::{ServerProbe, ServerSample};
use super::stats::{Interval, OpKind, Stats};
use super::worker::{run_thread, Message, Shared};

/// Why a run produced no summary.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("starting thread {thread}: {error}")]
    Thread { thread: usize, error: String },
    #[error("{phase} failed on thread {thread}: {error}")]
    Setup {
        phase: &'static str,
        thread: usize,
        error: String,
        /// What the cleanup could not remove.
        cleanup_errors: Vec<String>,
    },
}

/// User and system CPU seconds of the whole process so far.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// Per-second intervals from every thread, merged as they come; a second is
/// closed (its percentiles taken, its histogram freed) once every thread has
/// reported it or finished, so memory stays bounded however long the run.
struct Timeline {
    /// Per thread: the next second it will report, or `None` once done.
    next_of: Vec<Option<u32>>,
    /// Seconds `first_open..` still waiting for a thread.
    open: std::collections::VecDeque<(Interval, f64)>,
    first_open: u32,
    closed: Vec<Second>,
    ops: u64,
    errors: u64,
}

/// A last interval shorter than this is left off the timeline (its rate
/// would be noise); its operations still count in the totals.
const TAIL_SECONDS_MIN: f64 = 0.25;

impl Timeline {
    fn new(threads: usize) -> Self {
        Self {
            next_of: vec![Some(0); threads],
            open: std::collections::VecDeque::new(),
            first_open: 0,
            closed: Vec::new(),
            ops: 0,
            errors: 0,
        }
    }

    fn add(&mut self, thread: usize, second: u32, end_s: f64, interval: &Interval) {
        self.ops += interval.ops;
        self.errors += interval.errors;
        self.next_of[thread] = Some(second + 1);
        let Some(k) = second.checked_sub(self.first_open) else {
            return;
        };
        let k = k as usize;
        while self.open.len() <= k {
            self.open.push_back((
                Interval {
                    latency: Histogram::new(),
                    ..Interval::default()
                },
                0.0,
            ));
        }
        self.open[k].0.merge(interval);
        self.open[k].1 = self.open[k].1.max(end_s);
    }

    fn finish_thread(&mut self, thread: usize) {
        self.next_of[thread] = None;
    }

    /// Closes every second all threads are past; returns them.
    fn close_ready(&mut self) -> Vec<Second> {
        let mut out = Vec::new();
        while !self.open.is_empty() {
            let second = self.first_open;
            if self.next_of.iter().any(|n| n.is_some_and(|n| n <= second)) {
                break;
            }
            let (interval, end_s) = self.open.pop_front().expect("not empty");
            self.first_open += 1;
            let duration_s = (end_s - f64::from(second)).clamp(1e-3, 1.0);
            if duration_s < TAIL_SECONDS_MIN && second > 0 {
                continue;
            }
            let s = Second {
                t_s: f64::from(second) + duration_s,
                duration_s,
                mb_s: interval.bytes as f64 / duration_s / 1e6,
                ops_per_s: interval.ops as f64 / duration_s,
                errors: interval.errors,
                p50_ms: interval.latency.percentile(0.5) as f64 / 1e6,
                p99_ms: interval.latency.percentile(0.99) as f64 / 1e6,
            };
            self.closed.push(s.clone());
            out.push(s);
        }
        out
    }
}

/// Runs `plan` to the end: setup, preparation, the timed phase, cleanup.
pub fn execute(plan: Plan) -> Result<Summary, BenchError> {
    let plan = Arc::new(plan);
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = watch_signals(&interrupted);
    let result = execute_with(plan, interrupted);
    for id in signals {
        signal_hook::low_level::unregister(id);
    }
    result
}

/// SIGINT/SIGTERM stop the run (it still cleans up); a second one exits.
fn watch_signals(flag: &Arc<AtomicBool>) -> Vec<signal_hook::SigId> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut ids = Vec::new();
    for signal in [SIGINT, SIGTERM] {
        // The conditional exit first: it acts only once the flag is set.
        if let Ok(id) = signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone())
        {
            ids.push(id);
        }
        if let Ok(id) = signal_hook::flag::register(signal, flag.clone()) {
            ids.push(id);
        }
    }
    ids
}

fn execute_with(plan: Arc<Plan>, interrupted: Arc<AtomicBool>) -> Result<Summary, BenchError> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let shared = Arc::new(Shared::new(plan.clone(), tx, interrupted.clone()));
    let executors = start_executors(&plan, &shared)?;
    if plan.progress && plan.objects > 0 {
        eprint!(
            "ringgate bench: preparing {} objects of {}...\r",
            plan.objects, plan.size
        );
    }
    let prepare_started = Instant::now();
    shared.go.wait();
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let mut server_probe = plan.server_pid.map(ServerProbe::start);

    let mut collector = Collector::new(&plan);
    let mut cpu_after = None;
    let mut server_sample = None;
    while collector.cleaned < plan.threads {
        let Ok(message) = rx.recv() else { break };
        collector.handle(message);
        if collector.timed_done == plan.threads && cpu_after.is_none() {
            cpu_after = Some(cpu_seconds());
            server_sample = server_probe
                .take()
                .map(|probe| probe.and_then(ServerProbe::finish));
            if plan.progress {
                eprint!("\r\x1b[K");
                if !plan.keep {
                    eprint!("ringgate bench: cleaning up...\r");
                }
            }
            // Let the threads clean up now that the CPU time has been read.
            shared.done.wait();
        }
    }
    for executor in executors {
        let _ = executor.join();
    }
    if plan.progress {
        eprint!("\r\x1b[K");
    }
    if let Some((phase, thread, error)) = collector.failure {
        return Err(BenchError::Setup {
            phase,
            thread,
            error,
            cleanup_errors: collector.cleanup_errors,
        });
    }
    let (user_after, system_after) = cpu_after.unwrap_or(cpu_before);
    let server = match (plan.server_pid, server_sample) {
        (Some(pid), Some(Ok(sample))) => Some((pid, sample)),
        (_, Some(Err(e))) => {
            eprintln!("ringgate bench: {e}");
            None
        }
        _ => None,
    };
    let prepared = plan.prepares().then_some(Prepared {
        duration_s: (started - prepare_started).as_secs_f64(),
        ..collector.prepared
    });
    Ok(summarize(
        &plan,
        &collector.stats,
        collector.timeline.closed,
        collector.elapsed_max.as_secs_f64(),
        (user_after - cpu_before.0, system_after - cpu_before.1),
        server,
        collector.connections,
        prepared,
        interrupted.load(Ordering::SeqCst),
        (collector.removed, collector.cleanup_errors),
    ))
}

/// One executor per thread, pinned if --cpus says so. Each waits at a gate
/// until all have started: the phase barriers count on every thread, so
/// none may take part unless all can.
fn start_executors(
    plan: &Plan,
    shared: &Arc<Shared>,
) -> Result<Vec<ExecutorJoinHandle<()>>, BenchError> {
    let mut gates = Vec::with_capacity(plan.threads);
    let mut executors = Vec::with_capacity(plan.threads);
    let mut spawn_error = None;
    for thread in 0..plan.threads {
        let (gate_tx, gate_rx) = crossbeam_channel::bounded::<bool>(1);
        let shared = shared.clone();
        let placement = match &plan.cpus {
            Some(cpus) => Placement::Fixed(cpus[thread]),
            None => Placement::Unbound,
        };
        let spawned = LocalExecutorBuilder::new(placement)
            .name(&format!("bench-{thread}"))
            .spawn(move || async move {
                if gate_rx.recv() == Ok(true) {
                    run_thread(thread, shared).await;
                }
            });
        match spawned {
            Ok(handle) => {
                gates.push(gate_tx);
                executors.push(handle);
            }
            Err(e) => {
                spawn_error = Some(BenchError::Thread {
                    thread,
                    error: e.to_string(),
                });
                break;
            }
        }
    }
    for gate in &gates {
        let _ = gate.send(spawn_error.is_none());
    }
    match spawn_error {
        None => Ok(executors),
        Some(e) => {
            for executor in executors {
                let _ = executor.join();
            }
            Err(e)
        }
    }
}

/// What the main thread learns from the threads' messages.
struct Collector {
    progress: bool,
    timeline: Timeline,
    stats: Stats,
    failure: Option<(&'static str, usize, String)>,
    prepared: Prepared,
    elapsed_max: Duration,
    connections: u64,
    timed_done: usize,
    cleaned: usize,
    removed: u64,
    cleanup_errors: Vec<String>,
}

impl Collector {
    fn new(plan: &Plan) -> Self {
        Self {
            progress: plan.progress,
            timeline: Timeline::new(plan.threads),
            stats: Stats::default(),
            failure: None,
            prepared: Prepared::default(),
            elapsed_max: Duration::ZERO,
            connections: 0,
            timed_done: 0,
            cleaned: 0,
            removed: 0,
            cleanup_errors: Vec::new(),
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Prepared { objects, bytes } => {
                self.prepared.objects += objects;
                self.prepared.bytes += bytes;
            }
            Message::Failed {
                thread,
                phase,
                error,
            } => {
                self.failure.get_or_insert((phase, thread, error));
            }
            Message::Interval {
                thread,
                second,
                end_s,
                interval,
            } => {
                self.timeline.add(thread, second, end_s, &interval);
                for s in self.timeline.close_ready() {
                    if self.progress {
                        let line = progress_line(&s, self.timeline.ops, self.timeline.errors);
                        eprint!("\r{line}\x1b[K");
                        let _ = std::io::stderr().flush();
                    }
                }
            }
            Message::TimedDone {
                thread,
                elapsed,
                stats,
                connections,
            } => {
                self.stats.merge(&stats);
                self.timeline.finish_thread(thread);
                self.timeline.close_ready();
                self.elapsed_max = self.elapsed_max.max(elapsed);
                self.connections += connections;
                self.timed_done += 1;
            }
            Message::Cleaned { deleted, errors } => {
                self.removed += deleted;
                self.cleanup_errors.extend(errors);
                self.cleaned += 1;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    plan: &Plan,
    stats: &Stats,
    timeline: Vec<Second>,
    duration_s: f64,
    (user_s, system_s): (f64, f64),
    server: Option<(u32, ServerSample)>,
    connections: u64,
    prepared: Option<Prepared>,
    interrupted: bool,
    (removed, cleanup_errors): (u64, Vec<String>),
) -> Summary {
    let mut operations = std::collections::BTreeMap::new();
    let mut all = Histogram::new();
    let mut ttfb = Histogram::new();
    let (mut ops, mut bytes) = (0, 0);
    let mut errors = Errors::default();
    for ((op, kind), tally) in &stats.errors {
        if op.is_operation() {
            errors.total += tally.count;
        }
        *errors.by_kind.entry(kind.clone()).or_default() += tally.count;
        errors.details.push(ErrorDetail {
            operation: op.name().into(),
            kind: kind.clone(),
            count: tally.count,
            example: tally.example.clone(),
        });
    }
    for kind in OpKind::ALL {
        let k = stats.kind(kind);
        let kind_errors: u64 = stats
            .errors
            .iter()
            .filter(|((op, _), _)| *op == kind)
            .map(|(_, t)| t.count)
            .sum();
        if k.ops == 0 && kind_errors == 0 {
            continue;
        }
        if kind.is_operation() {
            ops += k.ops;
            bytes += k.bytes;
            all.merge(&k.latency);
        }
        ttfb.merge(&k.ttfb);
        operations.insert(
            kind.name().to_string(),
            KindSummary {
                ops: k.ops,
                errors: kind_errors,
                bytes: k.bytes,
                ops_per_s: per_s(k.ops, duration_s),
                throughput: Throughput::of(k.bytes, duration_s),
                latency_ms: Latency::of(&k.latency),
                ttfb_ms: Latency::of(&k.ttfb),
            },
        );
    }
    Summary {
        operation: plan.operation.name().into(),
        endpoint: format!("{}://{}", plan.endpoint.scheme(), plan.endpoint.authority()),
        bucket: plan.addressing.bucket.clone(),
        cleaned_up: !plan.keep,
        threads: plan.threads,
        concurrency: plan.concurrency,
        size: plan.size.to_string(),
        payload: plan.payload.name().into(),
        range: plan.range.map(|r| r.to_string()),
        mix: plan.mix.as_ref().map(|m| m.to_string()),
        part_size: (plan.operation == BenchOperation::Multipart).then_some(plan.part_bytes),
        prepared,
        duration_s,
        ops,
        bytes,
        throughput: Throughput::of(bytes, duration_s),
        ops_per_s: per_s(ops, duration_s),
        latency_ms: Latency::of(&all),
        ttfb_ms: Latency::of(&ttfb),
        operations,
        errors,
        cpu: Cpu::new(user_s, system_s, duration_s, bytes, ops),
        server: server.map(|(pid, sample)| ServerUsage::new(pid, &sample, duration_s, bytes, ops)),
        connections,
        interrupted,
        objects_removed: removed,
        cleanup_errors,
        timeline,
    }
}

fn per_s(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}
