//! Group commit: one std thread owns the write side of the database. Executors
//! queue mutations; the thread takes the first, drains what else is queued (up
//! to `mutations_per_commit_max`), applies them all in one write transaction
//! with one fsync, and replies to each through a oneshot channel.
//!
//! Why a thread: a durable commit blocks for an fsync (hundreds of µs to ms), so
//! it must never run on an executor; and since redb serialises writers anyway,
//! one writer that batches turns N fsyncs into one without losing anything.
//! Under light load a batch is one mutation and the latency is one commit; under
//! heavy load batches grow and throughput follows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_channel::oneshot;

use super::backend::MetaBackend;
use super::error::MetaError;
use super::mutation::{Mutation, MutationOutcome};

/// Mutations applied in one transaction at most (a bound on commit latency).
pub const MUTATIONS_PER_COMMIT_MAX_DEFAULT: usize = 256;
/// Mutations waiting for the commit thread at most; a full queue is backpressure.
pub const QUEUE_MUTATIONS_MAX_DEFAULT: usize = 4096;

/// Batch-size histogram buckets: bucket i counts batches of [2^i, 2^(i+1)) mutations.
pub const BATCH_SIZE_BUCKETS: usize = 12;
/// Commit-latency histogram buckets: bucket i counts commits of [2^i, 2^(i+1)) µs.
pub const COMMIT_LATENCY_BUCKETS: usize = 24;

pub type Reply = Result<MutationOutcome, MetaError>;

#[derive(Clone, Copy, Debug)]
pub struct CommitConfig {
    pub mutations_per_commit_max: usize,
    pub queue_mutations_max: usize,
}

impl Default for CommitConfig {
    fn default() -> Self {
        Self {
            mutations_per_commit_max: MUTATIONS_PER_COMMIT_MAX_DEFAULT,
            queue_mutations_max: QUEUE_MUTATIONS_MAX_DEFAULT,
        }
    }
}

/// Counters the commit thread keeps for metrics; read with [`CommitStats::snapshot`].
pub struct CommitStats {
    commits: AtomicU64,
    mutations: AtomicU64,
    commits_failed: AtomicU64,
    commit_ns_total: AtomicU64,
    commit_ns_max: AtomicU64,
    batch_mutations_max: AtomicU64,
    batch_sizes: [AtomicU64; BATCH_SIZE_BUCKETS],
    commit_latencies: [AtomicU64; COMMIT_LATENCY_BUCKETS],
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitStatsSnapshot {
    /// Write transactions attempted (one per batch).
    pub commits: u64,
    pub mutations: u64,
    pub commits_failed: u64,
    pub commit_ns_total: u64,
    pub commit_ns_max: u64,
    pub batch_mutations_max: u64,
    pub batch_sizes: [u64; BATCH_SIZE_BUCKETS],
    pub commit_latencies_us: [u64; COMMIT_LATENCY_BUCKETS],
}

impl CommitStatsSnapshot {
    pub fn mutations_per_commit(&self) -> f64 {
        self.mutations as f64 / self.commits.max(1) as f64
    }

    pub fn commit_ms_mean(&self) -> f64 {
        self.commit_ns_total as f64 / self.commits.max(1) as f64 / 1e6
    }
}

fn log2_bucket(value: u64, buckets: usize) -> usize {
    (value.max(1).ilog2() as usize).min(buckets - 1)
}

impl CommitStats {
    fn new() -> Self {
        Self {
            commits: AtomicU64::new(0),
            mutations: AtomicU64::new(0),
            commits_failed: AtomicU64::new(0),
            commit_ns_total: AtomicU64::new(0),
            commit_ns_max: AtomicU64::new(0),
            batch_mutations_max: AtomicU64::new(0),
            batch_sizes: std::array::from_fn(|_| AtomicU64::new(0)),
            commit_latencies: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn record(&self, batch: usize, elapsed: Duration, failed: bool) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.mutations.fetch_add(batch as u64, Ordering::Relaxed);
        if failed {
            self.commits_failed.fetch_add(1, Ordering::Relaxed);
        }
        self.commit_ns_total.fetch_add(ns, Ordering::Relaxed);
        self.commit_ns_max.fetch_max(ns, Ordering::Relaxed);
        self.batch_mutations_max
            .fetch_max(batch as u64, Ordering::Relaxed);
        self.batch_sizes[log2_bucket(batch as u64, BATCH_SIZE_BUCKETS)]
            .fetch_add(1, Ordering::Relaxed);
        self.commit_latencies[log2_bucket(ns / 1000, COMMIT_LATENCY_BUCKETS)]
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CommitStatsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CommitStatsSnapshot {
            commits: load(&self.commits),
            mutations: load(&self.mutations),
            commits_failed: load(&self.commits_failed),
            commit_ns_total: load(&self.commit_ns_total),
            commit_ns_max: load(&self.commit_ns_max),
            batch_mutations_max: load(&self.batch_mutations_max),
            batch_sizes: std::array::from_fn(|i| load(&self.batch_sizes[i])),
            commit_latencies_us: std::array::from_fn(|i| load(&self.commit_latencies[i])),
        }
    }
}

enum Message {
    /// Boxed: a mutation is a few hundred bytes, a queue slot need not be.
    Mutation(Box<Mutation>, oneshot::Sender<Reply>),
    /// Apply what is queued, then stop.
    Shutdown,
}

/// Why a mutation was not queued.
#[derive(Debug)]
pub enum SubmitError {
    /// The queue holds `queue_mutations_max` mutations: retry later (the
    /// mutation comes back).
    Full(Box<Mutation>),
    /// The commit thread has stopped.
    Closed,
}

/// Queues mutations for the commit thread; `Clone + Send`, one per executor or
/// thread. The thread runs until [`Committer::shutdown`], or until the
/// committer and every handle are dropped.
#[derive(Clone)]
pub struct CommitHandle {
    sender: Sender<Message>,
    stats: Arc<CommitStats>,
}

impl CommitHandle {
    /// Queues `mutation` without blocking; the receiver resolves to its result
    /// once its batch committed (`Canceled` if the thread stopped without applying it).
    pub fn submit(&self, mutation: Mutation) -> Result<oneshot::Receiver<Reply>, SubmitError> {
        let (reply, receiver) = oneshot::channel();
        match self
            .sender
            .try_send(Message::Mutation(Box::new(mutation), reply))
        {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(Message::Mutation(mutation, _))) => {
                Err(SubmitError::Full(mutation))
            }
            Err(TrySendError::Full(Message::Shutdown)) => {
                unreachable!("handles send only mutations")
            }
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// Queues (waiting for room) and blocks until the result: for threads that
    /// may block, never for an executor.
    pub fn commit_blocking(&self, mutation: Mutation) -> Reply {
        let (reply, receiver) = oneshot::channel();
        self.sender
            .send(Message::Mutation(Box::new(mutation), reply))
            .map_err(|_| MetaError::Closed)?;
        futures_lite::future::block_on(receiver).unwrap_or(Err(MetaError::Closed))
    }

    pub fn stats(&self) -> &Arc<CommitStats> {
        &self.stats
    }
}

/// Owns the commit thread.
pub struct Committer {
    handle: CommitHandle,
    thread: JoinHandle<()>,
}

impl Committer {
    pub fn start(backend: Arc<dyn MetaBackend>, config: CommitConfig) -> Committer {
        Self::start_with(
            Box::new(move |batch: &[Mutation]| backend.commit_batch(batch)),
            config,
        )
    }

    fn start_with(mut apply: Box<ApplyBatch>, config: CommitConfig) -> Committer {
        assert!(config.mutations_per_commit_max >= 1 && config.queue_mutations_max >= 1);
        let (sender, receiver) = crossbeam_channel::bounded(config.queue_mutations_max);
        let stats = Arc::new(CommitStats::new());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("meta-commit".into())
            .spawn(move || {
                run(
                    &mut *apply,
                    receiver,
                    config.mutations_per_commit_max,
                    &thread_stats,
                )
            })
            .expect("spawning the metadata commit thread");
        Committer {
            handle: CommitHandle { sender, stats },
            thread,
        }
    }

    pub fn handle(&self) -> CommitHandle {
        self.handle.clone()
    }

    pub fn stats(&self) -> &Arc<CommitStats> {
        &self.handle.stats
    }

    /// Applies every mutation queued so far, stops the thread and waits for it.
    /// Mutations submitted afterwards fail with `Closed`.
    pub fn shutdown(self) {
        // Fails only if the thread is gone already; join tells why.
        let _ = self.handle.sender.send(Message::Shutdown);
        drop(self.handle);
        if let Err(panic) = self.thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Applies one batch; `MetaBackend::commit_batch`, or a stand-in in tests.
type ApplyBatch = dyn FnMut(&[Mutation]) -> Result<Vec<Reply>, MetaError> + Send;

fn run(apply: &mut ApplyBatch, receiver: Receiver<Message>, batch_max: usize, stats: &CommitStats) {
    let mut mutations = Vec::with_capacity(batch_max);
    let mut replies = Vec::with_capacity(batch_max);
    let mut stopping = false;
    loop {
        // Block for the first mutation unless stopping, then take what is queued.
        if !stopping {
            match receiver.recv() {
                Ok(Message::Mutation(m, reply)) => {
                    mutations.push(*m);
                    replies.push(reply);
                }
                Ok(Message::Shutdown) => stopping = true,
                Err(_) => return,
            }
        }
        while mutations.len() < batch_max {
            match receiver.try_recv() {
                Ok(Message::Mutation(m, reply)) => {
                    mutations.push(*m);
                    replies.push(reply);
                }
                Ok(Message::Shutdown) => stopping = true,
                Err(_) => break,
            }
        }
        if mutations.is_empty() {
            if stopping {
                return;
            }
            continue;
        }
        let started = Instant::now();
        let results = apply(&mutations);
        stats.record(mutations.len(), started.elapsed(), results.is_err());
        match results {
            Ok(results) => {
                for (reply, result) in replies.drain(..).zip(results) {
                    // The caller may have gone away; its mutation stands anyway.
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        mutations.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn noop() -> Mutation {
        Mutation::GcDone(vec![])
    }

    /// A failed transaction fails every mutation of its batch, with its error,
    /// and the thread goes on with the next batch.
    #[test]
    fn a_failed_commit_fails_its_whole_batch() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let apply = move |batch: &[Mutation]| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(MetaError::Storage {
                    op: "commit",
                    source: Arc::new(
                        redb::StorageError::Io(std::io::Error::other("disk on fire")).into(),
                    ),
                })
            } else {
                Ok(batch
                    .iter()
                    .map(|_| Ok(MutationOutcome::default()))
                    .collect())
            }
        };
        let committer = Committer::start_with(
            Box::new(apply),
            CommitConfig {
                mutations_per_commit_max: 64,
                queue_mutations_max: 64,
            },
        );
        let handle = committer.handle();
        // Queued before the thread can take the first, so they form one batch
        // (or, if the thread is quick, the first batch holds at least one).
        let receivers: Vec<_> = (0..10).map(|_| handle.submit(noop()).unwrap()).collect();
        let results: Vec<Reply> = receivers
            .into_iter()
            .map(|r| futures_lite::future::block_on(r).unwrap())
            .collect();
        let failed = results.iter().filter(|r| r.is_err()).count();
        assert!(failed >= 1);
        assert!(results[..failed].iter().all(|r| matches!(
            r,
            Err(MetaError::Storage { op: "commit", source }) if source.to_string().contains("disk on fire")
        )));
        assert!(results[failed..].iter().all(Result::is_ok));
        assert!(
            handle.commit_blocking(noop()).is_ok(),
            "the thread survives"
        );
        let stats = committer.stats().snapshot();
        assert_eq!(stats.commits_failed, 1);
        assert_eq!(stats.mutations, 11);
        committer.shutdown();
    }

    #[test]
    fn a_full_queue_hands_the_mutation_back() {
        let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
        let apply = move |batch: &[Mutation]| {
            // Hold the first batch until the test has filled the queue.
            let _ = gate_rx.recv();
            Ok(batch
                .iter()
                .map(|_| Ok(MutationOutcome::default()))
                .collect())
        };
        let committer = Committer::start_with(
            Box::new(apply),
            CommitConfig {
                mutations_per_commit_max: 1,
                queue_mutations_max: 2,
            },
        );
        let handle = committer.handle();
        let mut receivers = vec![handle.submit(noop()).unwrap()];
        // The thread may or may not have taken the first yet: fill until full.
        let full = loop {
            match handle.submit(noop()) {
                Ok(r) => receivers.push(r),
                Err(SubmitError::Full(m)) => break m,
                Err(SubmitError::Closed) => panic!("closed"),
            }
            assert!(receivers.len() <= 3);
        };
        assert!(matches!(*full, Mutation::GcDone(_)));
        drop(gate_tx);
        for r in receivers {
            assert!(futures_lite::future::block_on(r).unwrap().is_ok());
        }
        committer.shutdown();
    }
}
