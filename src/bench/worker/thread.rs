//! One thread's state (`Core`) and the phases it goes through; the S3
//! operations it times are `ops`, their exchanges on the wire `exchange`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::error::OpError;
use crate::bench::args::{random_u64, BenchOperation, Plan};
use crate::bench::body::FRAME_OVERHEAD_BYTES_MAX;
use crate::bench::client::{ConnectTarget, Pool};
use crate::bench::content::Content;
use crate::bench::mix::MixOp;
use crate::bench::s3::{ObjectRef, SignerCache};
use crate::bench::size::bounded;
use crate::bench::stats::{Interval, OpKind, Stats};
use crate::sigv4::{PayloadHash, EMPTY_SHA256_HEX};

/// Body bytes generated per write.
pub(super) const WRITE_BYTES: usize = 256 << 10;
/// Room for a request head in front of the first body bytes, so a small
/// request leaves in one write.
pub(super) const HEAD_ROOM_BYTES: usize = 16 << 10;
/// Attempts per object while preparing the working set.
const PREPARE_ATTEMPTS: usize = 3;
/// Objects a thread's working set may hold: a long mixed run keeps adding
/// what it writes, 32 bytes each.
const WORKING_SET_OBJECTS_MAX: usize = 1 << 20;
/// Keys per DeleteObjects request when cleaning up (S3's maximum).
pub(super) const DELETE_BATCH_MAX: u32 = 1000;

/// What a thread tells the main thread.
pub enum Message {
    /// The thread's share of the working set is in place.
    Prepared { objects: u64, bytes: u64 },
    /// One second (or, at the end, the last part of one) of the timed phase.
    Interval {
        thread: usize,
        second: u32,
        /// Seconds since the thread's start at which the interval ended.
        end_s: f64,
        interval: Box<Interval>,
    },
    /// The timed phase is over on this thread.
    TimedDone {
        thread: usize,
        elapsed: Duration,
        stats: Box<Stats>,
        connections: u64,
    },
    /// A phase failed; the run stops.
    Failed {
        thread: usize,
        phase: &'static str,
        error: String,
    },
    /// The thread's keys are gone (or were kept).
    Cleaned { deleted: u64, errors: Vec<String> },
}

/// What the threads of a run share: the plan, the channel, the barriers
/// between phases and a few flags and counters.
pub struct Shared {
    pub plan: Arc<Plan>,
    pub tx: crossbeam_channel::Sender<Message>,
    /// Workers: after thread 0 has the bucket.
    pub setup: Barrier,
    /// Workers and main: every working set is in place; the clock starts.
    pub go: Barrier,
    /// Workers and main: the main thread has read the clock and the CPU time.
    pub done: Barrier,
    /// Workers: every thread's keys are gone; thread 0 may remove the bucket.
    pub cleaned: Barrier,
    /// Something failed before the timed phase: skip to the cleanup.
    pub abort: AtomicBool,
    /// Operations started, over all threads (for --ops).
    pub claimed: AtomicU64,
    /// SIGINT or SIGTERM: stop starting operations.
    pub interrupted: Arc<AtomicBool>,
    /// Thread 0 created the bucket, so it removes it too.
    pub bucket_created: AtomicBool,
}

impl Shared {
    pub fn new(
        plan: Arc<Plan>,
        tx: crossbeam_channel::Sender<Message>,
        interrupted: Arc<AtomicBool>,
    ) -> Self {
        let threads = plan.threads;
        Self {
            plan,
            tx,
            setup: Barrier::new(threads),
            go: Barrier::new(threads + 1),
            done: Barrier::new(threads + 1),
            cleaned: Barrier::new(threads),
            abort: AtomicBool::new(false),
            claimed: AtomicU64::new(0),
            interrupted,
            bucket_created: AtomicBool::new(false),
        }
    }

    pub(super) fn fail(&self, thread: usize, phase: &'static str, error: String) {
        self.abort.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Message::Failed {
            thread,
            phase,
            error,
        });
    }
}

/// wyrand: small, fast, good enough to pick objects, sizes and seeds.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        (t >> 64) as u64 ^ t as u64
    }
}

/// The thread's working set: objects prepared or written, and how many
/// requests are reading each, so that a mixed run never deletes an object
/// under a GET.
#[derive(Default)]
pub(super) struct WorkingSet {
    pub(super) objects: Vec<ObjectRef>,
    pub(super) readers: std::collections::HashMap<u64, u32>,
}

impl WorkingSet {
    pub(super) fn pick(&mut self, r: u64) -> Option<ObjectRef> {
        if self.objects.is_empty() {
            return None;
        }
        let o = self.objects[bounded(r, self.objects.len() as u64) as usize];
        *self.readers.entry(o.index).or_default() += 1;
        Some(o)
    }

    pub(super) fn release(&mut self, o: &ObjectRef) {
        if let Some(n) = self.readers.get_mut(&o.index) {
            *n -= 1;
            if *n == 0 {
                self.readers.remove(&o.index);
            }
        }
    }

    /// An object nobody reads, out of the set (a few random tries).
    pub(super) fn take_idle(&mut self, rng: &mut Rng) -> Option<ObjectRef> {
        for _ in 0..8 {
            if self.objects.is_empty() {
                return None;
            }
            let i = bounded(rng.next_u64(), self.objects.len() as u64) as usize;
            if !self.readers.contains_key(&self.objects[i].index) {
                return Some(self.objects.swap_remove(i));
            }
        }
        None
    }
}

/// What one timed request does.
pub(super) enum Action {
    Put(ObjectRef),
    Get(ObjectRef, Option<(u64, u64)>),
    Stat(ObjectRef),
    Delete(ObjectRef),
    List,
    Multipart(ObjectRef),
}

/// A slot's place in a listing pass.
#[derive(Default)]
pub(super) struct ListCursor {
    pub(super) token: Option<String>,
    pub(super) last_key: Option<String>,
    pub(super) seen: u64,
}

/// One thread's state: everything here is `!Send` and stays on its executor.
pub(super) struct Core {
    pub(super) thread: usize,
    pub(super) shared: Arc<Shared>,
    pub(super) plan: Arc<Plan>,
    pub(super) pool: Pool,
    pub(super) signer: RefCell<SignerCache>,
    pub(super) stats: RefCell<Stats>,
    pub(super) set: RefCell<WorkingSet>,
    /// The next object number for a PUT.
    pub(super) next_index: Cell<u64>,
    pub(super) deadline: Cell<Option<Instant>>,
    pub(super) empty_payload: PayloadHash,
    /// `<prefix><thread>/`: every key this thread writes.
    pub(super) thread_prefix: String,
}

/// Runs thread `thread`'s part of the run, phase by phase. Every path goes
/// through every barrier once, so a failure anywhere cannot hang the others.
pub async fn run_thread(thread: usize, shared: Arc<Shared>) {
    // A panic here would leave the other threads and the main thread
    // waiting at a barrier for ever: a broken invariant ends the process.
    struct AbortOnPanic;
    impl Drop for AbortOnPanic {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("ringgate bench: a worker thread panicked");
                std::process::abort();
            }
        }
    }
    let _guard = AbortOnPanic;
    let core = Rc::new(Core::new(thread, shared.clone()));
    if thread == 0 {
        match core.setup_bucket().await {
            Ok(created) => shared.bucket_created.store(created, Ordering::SeqCst),
            Err(e) => shared.fail(thread, "bucket", e.to_string()),
        }
    }
    shared.setup.wait();
    if !shared.abort.load(Ordering::SeqCst) {
        match core.prepare().await {
            Ok((objects, bytes)) => {
                let _ = shared.tx.send(Message::Prepared { objects, bytes });
            }
            Err(e) => shared.fail(thread, "prepare", e.to_string()),
        }
    }
    shared.go.wait();
    let start = Instant::now();
    if !shared.abort.load(Ordering::SeqCst) {
        core.timed(start).await;
    }
    let stats = std::mem::take(&mut *core.stats.borrow_mut());
    let _ = shared.tx.send(Message::TimedDone {
        thread,
        elapsed: start.elapsed(),
        stats: Box::new(stats),
        connections: core.pool.opened(),
    });
    shared.done.wait();
    let (deleted, errors) = if shared.plan.keep {
        (0, Vec::new())
    } else {
        core.cleanup().await
    };
    shared.cleaned.wait();
    let mut errors = errors;
    if thread == 0 && !shared.plan.keep && shared.bucket_created.load(Ordering::SeqCst) {
        if let Err(e) = core.delete_bucket().await {
            errors.push(format!(
                "removing bucket {}: {e}",
                shared.plan.addressing.bucket
            ));
        }
    }
    core.pool.clear();
    let _ = shared.tx.send(Message::Cleaned { deleted, errors });
}

impl Core {
    pub(super) fn new(thread: usize, shared: Arc<Shared>) -> Self {
        let plan = shared.plan.clone();
        let server_name =
            rustls::pki_types::ServerName::try_from(plan.addressing.server_name.clone())
                .unwrap_or_else(|_| {
                    rustls::pki_types::ServerName::try_from(plan.endpoint.host.clone()).unwrap_or(
                        rustls::pki_types::ServerName::try_from("localhost").expect("valid"),
                    )
                });
        let pool = Pool::new(ConnectTarget {
            addrs: plan.connect_addrs.clone(),
            tls: plan.tls.clone().map(|config| (config, server_name)),
            timeout: plan.timeout,
        });
        Self {
            thread,
            signer: RefCell::new(SignerCache::new(plan.credentials.clone(), &plan.region)),
            stats: RefCell::new(Stats::default()),
            set: RefCell::new(WorkingSet::default()),
            next_index: Cell::new(0),
            deadline: Cell::new(None),
            empty_payload: PayloadHash::parse(EMPTY_SHA256_HEX.as_bytes()).expect("valid"),
            thread_prefix: format!("{}{thread}/", plan.prefix),
            pool,
            plan,
            shared,
        }
    }

    pub(super) fn scratch(&self) -> Vec<u8> {
        vec![0; WRITE_BYTES.max(self.plan.chunk_bytes + FRAME_OVERHEAD_BYTES_MAX) + HEAD_ROOM_BYTES]
    }

    pub(super) fn flowed(&self, bytes: usize) {
        self.stats.borrow_mut().flowed(bytes as u64);
    }

    // ---- phases ----

    /// PUTs this thread's share of the working set, with its share of the
    /// concurrency; not timed.
    pub(super) async fn prepare(self: &Rc<Self>) -> Result<(u64, u64), OpError> {
        let count = self.plan.objects_of(self.thread);
        let next = Rc::new(Cell::new(0u64));
        let failed: Rc<RefCell<Option<OpError>>> = Rc::new(RefCell::new(None));
        let tasks: Vec<_> = (0..self.plan.concurrency_of(self.thread))
            .map(|_| {
                let (core, next, failed) = (self.clone(), next.clone(), failed.clone());
                glommio::spawn_local(async move {
                    let mut rng = Rng::new(random_u64());
                    let mut scratch = core.scratch();
                    loop {
                        let index = next.get();
                        if index >= count
                            || failed.borrow().is_some()
                            || core.shared.interrupted.load(Ordering::Relaxed)
                        {
                            return;
                        }
                        next.set(index + 1);
                        let o = core.new_object(index, &mut rng);
                        let mut result = Ok(());
                        for _ in 0..core.plan.versions {
                            for _ in 0..PREPARE_ATTEMPTS {
                                result = core.put(&o, &mut scratch).await;
                                if result.is_ok() {
                                    break;
                                }
                            }
                            if result.is_err() {
                                break;
                            }
                        }
                        match result {
                            Ok(()) => core.set.borrow_mut().objects.push(o),
                            Err(e) => {
                                failed.borrow_mut().get_or_insert(e);
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        if let Some(e) = failed.borrow_mut().take() {
            return Err(e);
        }
        if self.shared.interrupted.load(Ordering::Relaxed) {
            return Err(OpError::Protocol("interrupted".into()));
        }
        self.next_index.set(count);
        let mut set = self.set.borrow_mut();
        set.objects.sort_by_key(|o| o.index);
        let bytes = set.objects.iter().map(|o| o.content.size).sum();
        Ok((set.objects.len() as u64, bytes))
    }

    /// The timed loop: this thread's share of the requests in flight, each a
    /// task on this executor, and a ticker that hands over each second.
    pub(super) async fn timed(self: &Rc<Self>, start: Instant) {
        self.deadline.set(self.plan.duration.map(|d| start + d));
        // The interval so far includes preparation's flow: start afresh.
        self.stats.borrow_mut().take_interval();
        let second = Rc::new(Cell::new(0u32));
        let ticker = {
            let (core, second) = (self.clone(), second.clone());
            glommio::spawn_local(async move {
                loop {
                    let next = start + Duration::from_secs(u64::from(second.get()) + 1);
                    glommio::timer::sleep(next.saturating_duration_since(Instant::now())).await;
                    let interval = core.stats.borrow_mut().take_interval();
                    let _ = core.shared.tx.send(Message::Interval {
                        thread: core.thread,
                        second: second.get(),
                        end_s: f64::from(second.get() + 1),
                        interval: Box::new(interval),
                    });
                    second.set(second.get() + 1);
                }
            })
        };
        let slots: Vec<_> = (0..self.plan.concurrency_of(self.thread))
            .map(|_| {
                let core = self.clone();
                glommio::spawn_local(async move { core.slot().await })
            })
            .collect();
        for slot in slots {
            slot.await;
        }
        drop(ticker);
        let interval = self.stats.borrow_mut().take_interval();
        let _ = self.shared.tx.send(Message::Interval {
            thread: self.thread,
            second: second.get(),
            end_s: start.elapsed().as_secs_f64(),
            interval: Box::new(interval),
        });
    }

    /// One request slot: claim, act, record, until the run is over.
    pub(super) async fn slot(&self) {
        let mut rng = Rng::new(random_u64());
        let mut scratch = self.scratch();
        let mut cursor = ListCursor::default();
        // The action first, then the claim: a thread whose working set ran
        // out must not use up --ops that another thread could still do.
        while let Some(action) = self.next_action(&mut rng) {
            if !self.claim() {
                self.undo(action);
                break;
            }
            self.perform(action, &mut scratch, &mut cursor).await;
        }
    }

    /// Whether another operation may start.
    pub(super) fn claim(&self) -> bool {
        if self.shared.interrupted.load(Ordering::Relaxed) {
            return false;
        }
        if self.deadline.get().is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        match self.plan.ops_max {
            Some(max) => self.shared.claimed.fetch_add(1, Ordering::Relaxed) < max,
            None => true,
        }
    }

    pub(super) fn new_object(&self, index: u64, rng: &mut Rng) -> ObjectRef {
        ObjectRef {
            thread: self.thread as u32,
            index,
            content: Content::new(rng.next_u64(), self.plan.size.sample(rng.next_u64())),
        }
    }

    pub(super) fn fresh_object(&self, rng: &mut Rng) -> ObjectRef {
        let index = self.next_index.get();
        self.next_index.set(index + 1);
        self.new_object(index, rng)
    }

    pub(super) fn pick_range(&self, o: &ObjectRef, rng: &mut Rng) -> Option<(u64, u64)> {
        let spec = self.plan.range?;
        let size = o.content.size;
        if size == 0 {
            return None;
        }
        let len = spec.sample(rng.next_u64()).clamp(1, size);
        let start = bounded(rng.next_u64(), size - len + 1);
        Some((start, start + len))
    }

    pub(super) fn next_action(&self, rng: &mut Rng) -> Option<Action> {
        let mut set = self.set.borrow_mut();
        Some(match self.plan.operation {
            // Another version of a working-set object: same key, same content.
            BenchOperation::Put if self.plan.rewrites_versions() => {
                let objects = &set.objects;
                Action::Put(*objects.get(bounded(rng.next_u64(), objects.len() as u64) as usize)?)
            }
            BenchOperation::Put => Action::Put(self.fresh_object(rng)),
            BenchOperation::Multipart => Action::Multipart(self.fresh_object(rng)),
            BenchOperation::Get => {
                let o = set.pick(rng.next_u64())?;
                Action::Get(o, self.pick_range(&o, rng))
            }
            BenchOperation::Stat => Action::Stat(set.pick(rng.next_u64())?),
            BenchOperation::List => Action::List,
            BenchOperation::Delete => Action::Delete(set.objects.pop()?),
            BenchOperation::Mixed => {
                let mix = self.plan.mix.as_ref().expect("mixed has a mix");
                // With nothing there to read or delete, a mixed run writes one.
                match mix.pick(rng.next_u64()) {
                    MixOp::Get => match set.pick(rng.next_u64()) {
                        Some(o) => Action::Get(o, self.pick_range(&o, rng)),
                        None => Action::Put(self.fresh_object(rng)),
                    },
                    MixOp::Stat => match set.pick(rng.next_u64()) {
                        Some(o) => Action::Stat(o),
                        None => Action::Put(self.fresh_object(rng)),
                    },
                    MixOp::Delete => match set.take_idle(rng) {
                        Some(o) => Action::Delete(o),
                        None => Action::Put(self.fresh_object(rng)),
                    },
                    MixOp::List => Action::List,
                    MixOp::Put => Action::Put(self.fresh_object(rng)),
                }
            }
        })
    }

    /// Gives back what `next_action` took for an action that will not run.
    pub(super) fn undo(&self, action: Action) {
        let mut set = self.set.borrow_mut();
        match action {
            Action::Get(o, _) | Action::Stat(o) => set.release(&o),
            Action::Delete(o) => set.objects.push(o),
            Action::Put(_) | Action::List | Action::Multipart(_) => {}
        }
    }

    pub(super) async fn perform(
        &self,
        action: Action,
        scratch: &mut [u8],
        cursor: &mut ListCursor,
    ) {
        let start = Instant::now();
        let (kind, result): (OpKind, Result<(u64, Option<Instant>), OpError>) = match &action {
            Action::Put(o) => (
                OpKind::Put,
                self.put(o, scratch).await.map(|()| (o.content.size, None)),
            ),
            Action::Get(o, range) => {
                let r = self.get(o, *range, scratch).await;
                self.set.borrow_mut().release(o);
                (OpKind::Get, r.map(|(bytes, first)| (bytes, Some(first))))
            }
            Action::Stat(o) => {
                let r = self.stat(o, scratch).await;
                self.set.borrow_mut().release(o);
                (OpKind::Stat, r.map(|()| (0, None)))
            }
            Action::Delete(o) => (
                OpKind::Delete,
                self.delete(o, scratch).await.map(|()| (0, None)),
            ),
            Action::List => (
                OpKind::List,
                self.list(cursor, scratch).await.map(|()| (0, None)),
            ),
            Action::Multipart(o) => (
                OpKind::Multipart,
                self.multipart(o, scratch)
                    .await
                    .map(|()| (o.content.size, None)),
            ),
        };
        let elapsed = start.elapsed();
        match result {
            Ok((bytes, first_byte)) => {
                self.stats.borrow_mut().success(
                    kind,
                    bytes,
                    elapsed,
                    first_byte.map(|t| t.saturating_duration_since(start)),
                );
                if let (Action::Put(o), BenchOperation::Mixed) = (&action, self.plan.operation) {
                    let mut set = self.set.borrow_mut();
                    // Past the limit a new object is still written (and
                    // cleaned up by listing) but not read back.
                    if set.objects.len() < WORKING_SET_OBJECTS_MAX {
                        set.objects.push(*o);
                    }
                }
            }
            Err(e) => self
                .stats
                .borrow_mut()
                .error(kind, e.kind(), || e.to_string()),
        }
    }

    /// Deletes every key this thread wrote, a page at a time.
    pub(super) async fn cleanup(&self) -> (u64, Vec<String>) {
        let mut scratch = self.scratch();
        let mut deleted = 0;
        let mut errors = Vec::new();
        let mut last_first: Option<String> = None;
        loop {
            let page = match self.list_keys(&self.thread_prefix, &mut scratch).await {
                Ok(page) => page,
                Err(e) => {
                    errors.push(format!("listing {}: {e}", self.thread_prefix));
                    break;
                }
            };
            let keys: Vec<String> = page.objects.into_iter().map(|(k, _)| k).collect();
            if keys.is_empty() {
                break;
            }
            if last_first.as_ref() == keys.first() {
                errors.push(format!("{} would not go away", keys[0]));
                break;
            }
            last_first = keys.first().cloned();
            match self.delete_keys(&keys, &mut scratch).await {
                Ok(failed) if failed.is_empty() => deleted += keys.len() as u64,
                Ok(failed) => {
                    deleted += (keys.len() - failed.len()) as u64;
                    errors.extend(failed.into_iter().take(3));
                    break;
                }
                Err(e) => {
                    errors.push(format!("DeleteObjects: {e}"));
                    break;
                }
            }
        }
        if self.thread == 0 && self.plan.operation == BenchOperation::Multipart {
            if let Err(e) = self.abort_uploads(&mut scratch).await {
                errors.push(format!("aborting multipart uploads: {e}"));
            }
        }
        (deleted, errors)
    }
}
