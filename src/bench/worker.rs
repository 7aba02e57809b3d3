//! One executor thread of a run: its connections, signer, working set and
//! statistics (`Core`, `Rc`/`RefCell`, never shared), the S3 operations it
//! times, and the phases it goes through in step with the others — set up
//! the bucket (thread 0), prepare its share of the working set, run the
//! timed loop with its share of the concurrency, clean up its keys. It talks
//! to the main thread only through `Message`s on a channel and meets the
//! other threads only at the phase barriers.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use md5::Digest as _;

use super::args::{random_u64, Operation, Plan};
use super::body::{BodyEncoder, BodyPlan, FRAME_OVERHEAD_BYTES_MAX};
use super::client::{Conn, ConnectTarget, HttpError, Pool};
use super::content::{Content, Corrupt, Verifier};
use super::mix::MixOp;
use super::s3::{self, sign_head, ObjectRef, Request, SignerCache};
use super::size::bounded;
use super::stats::{Interval, OpKind, Stats};
use super::wire::{BodyReader, ResponseHead};
use crate::sigv4::{uri_encode, PayloadHash, EMPTY_SHA256_HEX};

/// Body bytes generated per write.
const WRITE_BYTES: usize = 256 << 10;
/// Room for a request head in front of the first body bytes, so a small
/// request leaves in one write.
const HEAD_ROOM_BYTES: usize = 16 << 10;
/// Largest response body kept (errors, listings, multipart answers).
const SMALL_BODY_BYTES_MAX: usize = 4 << 20;
/// Attempts per object while preparing the working set.
const PREPARE_ATTEMPTS: usize = 3;
/// Keys per DeleteObjects request when cleaning up (S3's maximum).
const DELETE_BATCH_MAX: u32 = 1000;

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

    fn fail(&self, thread: usize, phase: &'static str, error: String) {
        self.abort.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Message::Failed {
            thread,
            phase,
            error,
        });
    }
}

/// Why an operation failed. `kind` is what the summary counts by.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("{request}: HTTP {status}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Http {
        request: &'static str,
        status: u16,
        code: Option<String>,
    },
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Corrupt(String),
}

impl OpError {
    /// `http 503 SlowDown`, `connect`, `io`, `timeout`, `protocol`, `corrupt`.
    pub fn kind(&self) -> String {
        match self {
            Self::Http { status, code, .. } => match code {
                Some(code) => format!("http {status} {code}"),
                None => format!("http {status}"),
            },
            Self::Connect(_) => "connect".into(),
            Self::Io(_) => "io".into(),
            Self::Timeout(_) => "timeout".into(),
            Self::Protocol(_) => "protocol".into(),
            Self::Corrupt(_) => "corrupt".into(),
        }
    }

    /// The same error, its message naming `what` (a key, a part).
    fn about(self, what: &str) -> Self {
        match self {
            Self::Connect(m) => Self::Connect(format!("{what}: {m}")),
            Self::Io(m) => Self::Io(format!("{what}: {m}")),
            Self::Timeout(m) => Self::Timeout(format!("{what}: {m}")),
            Self::Protocol(m) => Self::Protocol(format!("{what}: {m}")),
            Self::Corrupt(m) => Self::Corrupt(format!("{what}: {m}")),
            http => http,
        }
    }
}

impl From<HttpError> for OpError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Connect { .. } => Self::Connect(e.to_string()),
            HttpError::Io { .. } => Self::Io(e.to_string()),
            HttpError::Timeout { .. } => Self::Timeout(e.to_string()),
            HttpError::Wire(_) => Self::Protocol(e.to_string()),
        }
    }
}

/// A failed exchange, and whether it may be the server having closed an
/// idle keep-alive connection (nothing of the response arrived).
struct Failure {
    error: OpError,
    stale: bool,
}

impl From<OpError> for Failure {
    fn from(error: OpError) -> Self {
        Self {
            error,
            stale: false,
        }
    }
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        let stale = matches!(
            e,
            HttpError::Io {
                response_started: false,
                ..
            }
        );
        Self {
            error: e.into(),
            stale,
        }
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

/// A request body.
#[derive(Clone, Copy)]
enum Body<'a> {
    Empty,
    /// Generated content, in the run's payload mode.
    Content(BodyPlan),
    /// Small fixed bytes (XML), payload signed, with Content-MD5 if asked.
    Bytes {
        data: &'a [u8],
        content_md5: bool,
    },
}

struct Reply {
    head: ResponseHead,
    first_byte: Instant,
    /// The body, unless it went to a verifier.
    body: Vec<u8>,
}

/// The thread's working set: objects prepared or written, and how many
/// requests are reading each, so that a mixed run never deletes an object
/// under a GET.
#[derive(Default)]
struct WorkingSet {
    objects: Vec<ObjectRef>,
    readers: std::collections::HashMap<u64, u32>,
}

impl WorkingSet {
    fn pick(&mut self, r: u64) -> Option<ObjectRef> {
        if self.objects.is_empty() {
            return None;
        }
        let o = self.objects[bounded(r, self.objects.len() as u64) as usize];
        *self.readers.entry(o.index).or_default() += 1;
        Some(o)
    }

    fn release(&mut self, o: &ObjectRef) {
        if let Some(n) = self.readers.get_mut(&o.index) {
            *n -= 1;
            if *n == 0 {
                self.readers.remove(&o.index);
            }
        }
    }

    /// An object nobody reads, out of the set (a few random tries).
    fn take_idle(&mut self, rng: &mut Rng) -> Option<ObjectRef> {
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
enum Action {
    Put(ObjectRef),
    Get(ObjectRef, Option<(u64, u64)>),
    Stat(ObjectRef),
    Delete(ObjectRef),
    List,
    Multipart(ObjectRef),
}

/// A slot's place in a listing pass.
#[derive(Default)]
struct ListCursor {
    token: Option<String>,
    last_key: Option<String>,
    seen: u64,
}

/// One thread's state: everything here is `!Send` and stays on its executor.
struct Core {
    thread: usize,
    shared: Arc<Shared>,
    plan: Arc<Plan>,
    pool: Pool,
    signer: RefCell<SignerCache>,
    stats: RefCell<Stats>,
    set: RefCell<WorkingSet>,
    /// The next object number for a PUT.
    next_index: Cell<u64>,
    deadline: Cell<Option<Instant>>,
    empty_payload: PayloadHash,
    /// `<prefix><thread>/`: every key this thread writes.
    thread_prefix: String,
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
    fn new(thread: usize, shared: Arc<Shared>) -> Self {
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

    fn scratch(&self) -> Vec<u8> {
        vec![0; WRITE_BYTES.max(self.plan.chunk_bytes + FRAME_OVERHEAD_BYTES_MAX) + HEAD_ROOM_BYTES]
    }

    fn flowed(&self, bytes: usize) {
        self.stats.borrow_mut().flowed(bytes as u64);
    }

    // ---- phases ----

    /// Creates the bucket unless --bucket names one that exists; returns
    /// whether it created it.
    async fn setup_bucket(&self) -> Result<bool, OpError> {
        let mut scratch = self.scratch();
        if self.plan.bucket_given {
            let path = self.plan.addressing.bucket_path();
            let head = self
                .call(
                    "HeadBucket",
                    "HEAD",
                    &path,
                    "",
                    &[],
                    Body::Empty,
                    &[200, 404],
                    None,
                    &mut scratch,
                )
                .await?;
            if head.head.status == 200 {
                return Ok(false);
            }
        }
        self.create_bucket(&mut scratch).await?;
        Ok(true)
    }

    async fn create_bucket(&self, scratch: &mut [u8]) -> Result<(), OpError> {
        let path = self.plan.addressing.bucket_path();
        let config = format!(
            "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            self.plan.region
        );
        let body = if self.plan.region == "us-east-1" {
            Body::Empty
        } else {
            Body::Bytes {
                data: config.as_bytes(),
                content_md5: false,
            }
        };
        self.call(
            "CreateBucket",
            "PUT",
            &path,
            "",
            &[],
            body,
            &[200],
            None,
            scratch,
        )
        .await?;
        Ok(())
    }

    async fn delete_bucket(&self) -> Result<(), OpError> {
        let mut scratch = self.scratch();
        let path = self.plan.addressing.bucket_path();
        self.call(
            "DeleteBucket",
            "DELETE",
            &path,
            "",
            &[],
            Body::Empty,
            &[204, 200],
            None,
            &mut scratch,
        )
        .await?;
        Ok(())
    }

    /// PUTs this thread's share of the working set, with its share of the
    /// concurrency; not timed.
    async fn prepare(self: &Rc<Self>) -> Result<(u64, u64), OpError> {
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
                        for _ in 0..PREPARE_ATTEMPTS {
                            result = core.put(&o, &mut scratch).await;
                            if result.is_ok() {
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
    async fn timed(self: &Rc<Self>, start: Instant) {
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
    async fn slot(&self) {
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
    fn claim(&self) -> bool {
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

    fn new_object(&self, index: u64, rng: &mut Rng) -> ObjectRef {
        ObjectRef {
            thread: self.thread as u32,
            index,
            content: Content::new(rng.next_u64(), self.plan.size.sample(rng.next_u64())),
        }
    }

    fn fresh_object(&self, rng: &mut Rng) -> ObjectRef {
        let index = self.next_index.get();
        self.next_index.set(index + 1);
        self.new_object(index, rng)
    }

    fn pick_range(&self, o: &ObjectRef, rng: &mut Rng) -> Option<(u64, u64)> {
        let spec = self.plan.range?;
        let size = o.content.size;
        if size == 0 {
            return None;
        }
        let len = spec.sample(rng.next_u64()).clamp(1, size);
        let start = bounded(rng.next_u64(), size - len + 1);
        Some((start, start + len))
    }

    fn next_action(&self, rng: &mut Rng) -> Option<Action> {
        let mut set = self.set.borrow_mut();
        Some(match self.plan.operation {
            Operation::Put => Action::Put(self.fresh_object(rng)),
            Operation::Multipart => Action::Multipart(self.fresh_object(rng)),
            Operation::Get => {
                let o = set.pick(rng.next_u64())?;
                Action::Get(o, self.pick_range(&o, rng))
            }
            Operation::Stat => Action::Stat(set.pick(rng.next_u64())?),
            Operation::List => Action::List,
            Operation::Delete => Action::Delete(set.objects.pop()?),
            Operation::Mixed => {
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
    fn undo(&self, action: Action) {
        let mut set = self.set.borrow_mut();
        match action {
            Action::Get(o, _) | Action::Stat(o) => set.release(&o),
            Action::Delete(o) => set.objects.push(o),
            Action::Put(_) | Action::List | Action::Multipart(_) => {}
        }
    }

    async fn perform(&self, action: Action, scratch: &mut [u8], cursor: &mut ListCursor) {
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
                if let (Action::Put(o), Operation::Mixed) = (&action, self.plan.operation) {
                    self.set.borrow_mut().objects.push(*o);
                }
            }
            Err(e) => self
                .stats
                .borrow_mut()
                .error(kind, e.kind(), || e.to_string()),
        }
    }

    /// Deletes every key this thread wrote, a page at a time.
    async fn cleanup(&self) -> (u64, Vec<String>) {
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
        if self.thread == 0 && self.plan.operation == Operation::Multipart {
            if let Err(e) = self.abort_uploads(&mut scratch).await {
                errors.push(format!("aborting multipart uploads: {e}"));
            }
        }
        (deleted, errors)
    }

    // ---- operations ----

    fn body_plan(&self, content: Content, start: u64, len: u64) -> BodyPlan {
        BodyPlan {
            mode: self.plan.payload,
            content,
            start,
            len,
            chunk_bytes: self.plan.chunk_bytes,
        }
    }

    async fn put(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let body = Body::Content(self.body_plan(o.content, 0, o.content.size));
        self.call(
            "PutObject",
            "PUT",
            &path,
            "",
            &[],
            body,
            &[200],
            None,
            scratch,
        )
        .await
        .map_err(|e| e.about(&key))?;
        Ok(())
    }

    /// GETs an object or a range of it, checking every byte; returns the
    /// bytes read and when the first response byte came.
    async fn get(
        &self,
        o: &ObjectRef,
        range: Option<(u64, u64)>,
        scratch: &mut [u8],
    ) -> Result<(u64, Instant), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let (start, end) = range.unwrap_or((0, o.content.size));
        let range_header = format!("bytes={start}-{}", end.saturating_sub(1));
        let headers = [("range", range_header.as_str())];
        let (unsigned, expect): (&[(&str, &str)], &[u16]) = match range {
            Some(_) => (&headers, &[206]),
            None => (&[], &[200]),
        };
        let mut verifier = Verifier::new(o.content, start, end);
        let reply = self
            .call(
                "GetObject",
                "GET",
                &path,
                "",
                unsigned,
                Body::Empty,
                expect,
                Some(&mut verifier),
                scratch,
            )
            .await
            .map_err(|e| e.about(&key))?;
        if range.is_some() {
            let expected = format!("bytes {start}-{}/{}", end - 1, o.content.size);
            if reply.head.content_range.as_deref() != Some(expected.as_str()) {
                return Err(OpError::Corrupt(format!(
                    "{key}: Content-Range {:?}, expected {expected:?}",
                    reply.head.content_range
                )));
            }
        }
        Ok((end - start, reply.first_byte))
    }

    async fn stat(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let reply = self
            .call(
                "HeadObject",
                "HEAD",
                &path,
                "",
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await
            .map_err(|e| e.about(&key))?;
        if reply.head.content_length != Some(o.content.size) {
            return Err(OpError::Corrupt(format!(
                "{key}: HEAD says {:?} bytes, expected {}",
                reply.head.content_length, o.content.size
            )));
        }
        Ok(())
    }

    async fn delete(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        self.call(
            "DeleteObject",
            "DELETE",
            &path,
            "",
            &[],
            Body::Empty,
            &[204, 200],
            None,
            scratch,
        )
        .await
        .map_err(|e| e.about(&key))?;
        Ok(())
    }

    /// One ListObjectsV2 page of this thread's keys, checked: every key is
    /// one of ours with the size its name promises, in ascending order; a
    /// full pass of a `list` run finds exactly the working set.
    async fn list(&self, cursor: &mut ListCursor, scratch: &mut [u8]) -> Result<(), OpError> {
        let mut query = format!(
            "list-type=2&max-keys={}&prefix={}",
            self.plan.max_keys,
            uri_encode(self.thread_prefix.as_bytes(), false)
        );
        if let Some(token) = &cursor.token {
            query.push_str("&continuation-token=");
            query.push_str(&uri_encode(token.as_bytes(), false));
        }
        let path = self.plan.addressing.bucket_path();
        let result = self
            .call(
                "ListObjectsV2",
                "GET",
                &path,
                &query,
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await
            .and_then(|reply| {
                s3::list_page(&reply.body).ok_or_else(|| {
                    OpError::Protocol("ListObjectsV2 answer is not a listing".into())
                })
            })
            .and_then(|page| self.check_page(cursor, page));
        if result.is_err() {
            *cursor = ListCursor::default();
        }
        result
    }

    fn check_page(&self, cursor: &mut ListCursor, page: s3::ListPage) -> Result<(), OpError> {
        for (key, size) in &page.objects {
            let ours = ObjectRef::from_key(&self.plan.prefix, key)
                .filter(|o| o.thread as usize == self.thread);
            match ours {
                Some(o) if o.content.size == *size => {}
                Some(o) => {
                    return Err(OpError::Corrupt(format!(
                        "listing says {key} has {size} bytes, its name says {}",
                        o.content.size
                    )))
                }
                None => return Err(OpError::Corrupt(format!("listing holds a stranger: {key}"))),
            }
            if cursor.last_key.as_ref().is_some_and(|last| last >= key) {
                return Err(OpError::Corrupt(format!("listing out of order at {key}")));
            }
            cursor.last_key = Some(key.clone());
        }
        cursor.seen += page.objects.len() as u64;
        if page.is_truncated {
            cursor.token = Some(page.next_continuation_token.ok_or_else(|| {
                OpError::Protocol("truncated listing without a NextContinuationToken".into())
            })?);
            return Ok(());
        }
        let seen = cursor.seen;
        *cursor = ListCursor::default();
        let expected = self.set.borrow().objects.len() as u64;
        if self.plan.operation == Operation::List && seen != expected {
            return Err(OpError::Corrupt(format!(
                "a listing pass found {seen} keys, {expected} were written"
            )));
        }
        Ok(())
    }

    /// Create, parts in order, complete; abort on any failure.
    async fn multipart(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let reply = self
            .call(
                "CreateMultipartUpload",
                "POST",
                &path,
                "uploads",
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await
            .map_err(|e| e.about(&key))?;
        let upload_id = s3::upload_id(&reply.body).ok_or_else(|| {
            OpError::Protocol(format!(
                "{key}: CreateMultipartUpload answer has no UploadId"
            ))
        })?;
        let upload_query = format!("uploadId={}", uri_encode(upload_id.as_bytes(), false));
        let result = self
            .parts_and_complete(o, &path, &upload_query, scratch)
            .await;
        if result.is_err() {
            let _ = self
                .call(
                    "AbortMultipartUpload",
                    "DELETE",
                    &path,
                    &upload_query,
                    &[],
                    Body::Empty,
                    &[204, 200],
                    None,
                    scratch,
                )
                .await;
        }
        result.map_err(|e| e.about(&key))
    }

    async fn parts_and_complete(
        &self,
        o: &ObjectRef,
        path: &str,
        upload_query: &str,
        scratch: &mut [u8],
    ) -> Result<(), OpError> {
        let size = o.content.size;
        let part_bytes = self.plan.part_bytes;
        let parts = size.div_ceil(part_bytes).max(1);
        let mut etags = Vec::with_capacity(parts as usize);
        for number in 1..=parts {
            let start = (number - 1) * part_bytes;
            let len = part_bytes.min(size - start);
            let query = format!("partNumber={number}&{upload_query}");
            let began = Instant::now();
            let body = Body::Content(self.body_plan(o.content, start, len));
            let reply = self
                .call(
                    "UploadPart",
                    "PUT",
                    path,
                    &query,
                    &[],
                    body,
                    &[200],
                    None,
                    scratch,
                )
                .await
                .map_err(|e| e.about(&format!("part {number}")))?;
            let etag = reply.head.etag.ok_or_else(|| {
                OpError::Protocol(format!("part {number}: UploadPart answer has no ETag"))
            })?;
            etags.push(etag);
            self.stats
                .borrow_mut()
                .success(OpKind::Part, len, began.elapsed(), None);
        }
        let xml = s3::complete_body(&etags);
        let body = Body::Bytes {
            data: xml.as_bytes(),
            content_md5: false,
        };
        let reply = self
            .call(
                "CompleteMultipartUpload",
                "POST",
                path,
                upload_query,
                &[],
                body,
                &[200],
                None,
                scratch,
            )
            .await?;
        // S3 may fail a completion after it has sent 200.
        if s3::is_error_document(&reply.body) {
            return Err(OpError::Http {
                request: "CompleteMultipartUpload",
                status: 200,
                code: s3::error_code(&reply.body),
            });
        }
        Ok(())
    }

    /// The first page of keys under `prefix`.
    async fn list_keys(&self, prefix: &str, scratch: &mut [u8]) -> Result<s3::ListPage, OpError> {
        let query = format!(
            "list-type=2&max-keys={DELETE_BATCH_MAX}&prefix={}",
            uri_encode(prefix.as_bytes(), false)
        );
        let path = self.plan.addressing.bucket_path();
        let reply = self
            .call(
                "ListObjectsV2",
                "GET",
                &path,
                &query,
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await?;
        s3::list_page(&reply.body)
            .ok_or_else(|| OpError::Protocol("ListObjectsV2 answer is not a listing".into()))
    }

    /// DeleteObjects; returns the keys it could not delete.
    async fn delete_keys(
        &self,
        keys: &[String],
        scratch: &mut [u8],
    ) -> Result<Vec<String>, OpError> {
        let xml = s3::delete_body(keys);
        let path = self.plan.addressing.bucket_path();
        let body = Body::Bytes {
            data: xml.as_bytes(),
            content_md5: true,
        };
        let reply = self
            .call(
                "DeleteObjects",
                "POST",
                &path,
                "delete",
                &[],
                body,
                &[200],
                None,
                scratch,
            )
            .await?;
        s3::delete_errors(&reply.body)
            .ok_or_else(|| OpError::Protocol("DeleteObjects answer is not a DeleteResult".into()))
    }

    /// Aborts the run's unfinished multipart uploads.
    async fn abort_uploads(&self, scratch: &mut [u8]) -> Result<(), OpError> {
        let path = self.plan.addressing.bucket_path();
        let query = format!(
            "uploads&prefix={}",
            uri_encode(self.plan.prefix.as_bytes(), false)
        );
        for _ in 0..100 {
            let reply = self
                .call(
                    "ListMultipartUploads",
                    "GET",
                    &path,
                    &query,
                    &[],
                    Body::Empty,
                    &[200],
                    None,
                    scratch,
                )
                .await?;
            let (uploads, truncated) = s3::uploads_page(&reply.body).ok_or_else(|| {
                OpError::Protocol("ListMultipartUploads answer is not a listing".into())
            })?;
            if uploads.is_empty() {
                return Ok(());
            }
            for (key, upload_id) in &uploads {
                let object_path = self.plan.addressing.object_path(key);
                let q = format!("uploadId={}", uri_encode(upload_id.as_bytes(), false));
                self.call(
                    "AbortMultipartUpload",
                    "DELETE",
                    &object_path,
                    &q,
                    &[],
                    Body::Empty,
                    &[204, 200, 404],
                    None,
                    scratch,
                )
                .await?;
            }
            if !truncated {
                return Ok(());
            }
        }
        Ok(())
    }

    // ---- the exchange ----

    /// Sends a signed request and reads the answer; a status outside
    /// `expect` is an error. A request that fails on a reused connection
    /// before any answer arrives is sent again once on a new one: the server
    /// most likely closed the idle connection.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        name: &'static str,
        method: &'static str,
        path: &str,
        query: &str,
        unsigned: &[(&str, &str)],
        body: Body<'_>,
        expect: &[u16],
        mut verifier: Option<&mut Verifier>,
        scratch: &mut [u8],
    ) -> Result<Reply, OpError> {
        let request = Request {
            method,
            path,
            query,
            signed: &[],
            unsigned,
        };
        for attempt in 0..2 {
            let mut conn = if attempt == 0 {
                self.pool.checkout().await?
            } else {
                self.pool.connect().await?
            };
            let reused = conn.reused;
            match self
                .exchange(
                    &mut conn,
                    &request,
                    body,
                    expect,
                    verifier.as_deref_mut(),
                    scratch,
                )
                .await
            {
                Ok((reply, reusable)) => {
                    if reusable {
                        self.pool.checkin(conn);
                    }
                    if !expect.contains(&reply.head.status) {
                        return Err(OpError::Http {
                            request: name,
                            status: reply.head.status,
                            code: s3::error_code(&reply.body),
                        });
                    }
                    return Ok(reply);
                }
                Err(f) if f.stale && reused && attempt == 0 => continue,
                Err(f) => return Err(f.error),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// One request on one connection; returns the reply and whether the
    /// connection can carry another.
    async fn exchange(
        &self,
        conn: &mut Conn,
        request: &Request<'_>,
        body: Body<'_>,
        expect: &[u16],
        verifier: Option<&mut Verifier>,
        scratch: &mut [u8],
    ) -> Result<(Reply, bool), Failure> {
        let (head, mut encoder) = self.head(request, body, scratch)?;
        let sent = self
            .send(conn, &head, body, encoder.as_mut(), scratch)
            .await;
        if let Err(e) = &sent {
            // The server may have answered (and closed) before taking the
            // whole body; if it did not, the write error is the story.
            if matches!(e, HttpError::Timeout { .. }) {
                return Err(sent.unwrap_err().into());
            }
        }
        let (head, first_byte) = match conn.read_head().await {
            Ok(h) => h,
            Err(e) => {
                return Err(match sent {
                    Err(write_error) => write_error.into(),
                    Ok(()) => e.into(),
                })
            }
        };
        let mut reader = BodyReader::new(&head, request.method);
        let mut kept = Vec::new();
        match verifier {
            Some(v) if expect.contains(&head.status) => {
                conn.read_body(&mut reader, |data| {
                    self.flowed(data.len());
                    v.update(data).map_err(|c| OpError::Corrupt(c.to_string()))
                })
                .await?;
                v.finish()
                    .map_err(|c: Corrupt| OpError::Corrupt(c.to_string()))?;
            }
            _ => {
                conn.read_body(&mut reader, |data| {
                    if kept.len() + data.len() > SMALL_BODY_BYTES_MAX {
                        return Err(OpError::Protocol(format!(
                            "HTTP {} answer body larger than {SMALL_BODY_BYTES_MAX} bytes",
                            head.status
                        )));
                    }
                    kept.extend_from_slice(data);
                    Ok(())
                })
                .await?;
            }
        }
        let reusable = sent.is_ok() && reader.reusable() && !head.close && !conn.has_leftover();
        Ok((
            Reply {
                head,
                first_byte,
                body: kept,
            },
            reusable,
        ))
    }

    /// The signed head, and the body encoder that goes with it.
    fn head(
        &self,
        request: &Request<'_>,
        body: Body<'_>,
        scratch: &mut [u8],
    ) -> Result<(Vec<u8>, Option<BodyEncoder>), OpError> {
        let mut signed: Vec<(&'static str, String)> = Vec::new();
        let (payload, length) = match body {
            Body::Empty => (
                self.empty_payload.clone(),
                matches!(request.method, "PUT" | "POST").then_some(0),
            ),
            Body::Bytes { data, content_md5 } => {
                if content_md5 {
                    let md5 = md5::Md5::digest(data);
                    signed.push((
                        "content-md5",
                        base64::engine::general_purpose::STANDARD.encode(md5),
                    ));
                }
                let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(data).into();
                (PayloadHash::from_digest(digest), Some(data.len() as u64))
            }
            Body::Content(plan) => {
                signed.extend(plan.headers());
                (plan.payload_hash(scratch), Some(plan.wire_bytes()))
            }
        };
        let signed: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let request = Request {
            signed: &signed,
            ..request.clone()
        };
        let mut cache = self.signer.borrow_mut();
        let signer = cache.at(SystemTime::now());
        let head = sign_head(
            signer,
            &self.plan.addressing.host,
            &request,
            &payload,
            length,
        )
        .map_err(|e| OpError::Protocol(format!("signing: {e}")))?;
        let encoder = match body {
            Body::Content(plan) => Some(BodyEncoder::new(
                plan,
                plan.mode
                    .signs_chunks()
                    .then(|| signer.chunk_signer(head.signature)),
            )),
            _ => None,
        };
        Ok((head.bytes, encoder))
    }

    /// Writes the head and the body; a small request leaves in one write.
    async fn send(
        &self,
        conn: &mut Conn,
        head: &[u8],
        body: Body<'_>,
        encoder: Option<&mut BodyEncoder>,
        scratch: &mut [u8],
    ) -> Result<(), HttpError> {
        let h = head.len();
        match (body, encoder) {
            (_, Some(encoder)) => {
                let mut pending = 0;
                if h + encoder.buffer_bytes_min() <= scratch.len() {
                    scratch[..h].copy_from_slice(head);
                    pending = h;
                } else {
                    conn.write_all(head).await?;
                }
                while !encoder.is_finished() {
                    let n = encoder.fill(&mut scratch[pending..]);
                    conn.write_all(&scratch[..pending + n]).await?;
                    self.flowed(n);
                    pending = 0;
                }
                if pending > 0 {
                    conn.write_all(&scratch[..pending]).await?;
                }
                Ok(())
            }
            (Body::Bytes { data, .. }, None) if h + data.len() <= scratch.len() => {
                scratch[..h].copy_from_slice(head);
                scratch[h..h + data.len()].copy_from_slice(data);
                conn.write_all(&scratch[..h + data.len()]).await
            }
            (Body::Bytes { data, .. }, None) => {
                conn.write_all(head).await?;
                conn.write_all(data).await
            }
            (_, None) => conn.write_all(head).await,
        }
    }
}
