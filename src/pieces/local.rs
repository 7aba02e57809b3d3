//! `LocalStore`: the `PieceStore` over one local directory, written and read
//! through glommio DMA files (O_DIRECT on io_uring). It owns the on-disk layout
//! and the publish protocol (temporary file, fdatasync, rename, directory fsync)
//! that keeps a half-written piece from ever appearing under its id.
//!
//! Layout: `<dir>/<first two hex chars of the segment id>/<segment id hex>.<piece index>`.
//! The 256 fan-out directories keep each directory small, and all of them are
//! created when the store opens, so no mkdir ever sits on the write path.
//!
//! A piece being written lives in `<final name>.<pid>-<process nonce>-<sequence>.tmp`
//! next to its final name. The tag makes every temporary name unique: two writers
//! of the same id (a retry racing a writer that was given up on) never share a
//! file, so one can never publish bytes the other is still writing. It also tells
//! the sweep at `open` which temporaries may still be in flight: those of this
//! process (several cores open their own store on one directory) and those of
//! another process that is alive (a gateway draining during a rolling restart).
//! Every other temporary is left over from a crash and can never become a piece.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Poll, Waker};

use futures_lite::AsyncWriteExt;
use std::os::fd::AsRawFd;

use glommio::io::{
    BufferedFile, Directory, DmaFile, DmaStreamWriter, DmaStreamWriterBuilder, ReadResult,
};
use glommio::GlommioError;

use super::format::{PieceId, SegmentId};
use super::store::{
    LocalBoxFuture, PieceBytes, PieceStat, PieceStore, PieceWriter, StoreError, StoreSpace,
};

/// Bytes per DMA buffer of a piece writer: large enough that a piece of a few
/// MiB goes out in a handful of big writes.
const WRITE_BUFFER_BYTES: usize = 512 << 10;
/// Buffers a writer may have in flight while the caller keeps filling the next.
const WRITE_BEHIND: usize = 3;
const TEMP_SUFFIX: &str = ".tmp";

/// A piece store over one directory. Cloning shares the same store.
#[derive(Clone, Debug)]
pub struct LocalStore {
    inner: Rc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// The root as text, for `name()` and errors.
    name: String,
}

/// Where a failed blocking directory operation happened, carried back from a
/// blocking thread to become a `StoreError::Io`.
type BlockingError = (&'static str, PathBuf, io::Error);

impl LocalStore {
    /// Opens (creating if needed) a store in `dir`. Must be awaited on a glommio
    /// executor, like every glommio I/O call.
    ///
    /// Creates the root and its 256 fan-out directories and removes temporary
    /// files left by a crash. std::fs calls block, which is acceptable only
    /// because this runs once per store and off the reactor thread: the whole
    /// preparation runs in glommio's blocking pool.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<LocalStore, StoreError> {
        let given: PathBuf = dir.into();
        // Absolute, because glommio opens directories relative to no
        // descriptor (`openat(-1, …)`): a relative root would fail every
        // directory fsync with EBADF.
        let root = std::path::absolute(&given).map_err(|source| StoreError::Io {
            store: given.display().to_string(),
            op: "resolve path",
            piece: String::new(),
            source,
        })?;
        let inner = Rc::new(Inner {
            name: root.display().to_string(),
            root,
        });
        let root = inner.root.clone();
        let tag = ProcessTag::current();
        glommio::executor()
            .spawn_blocking(move || prepare_root(&root, tag))
            .await
            .map_err(|(op, path, source)| inner.io_error(op, path.display(), source))?;
        Ok(LocalStore { inner })
    }

    /// The directory this store keeps its pieces in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }
}

impl Inner {
    /// `NotFound` for an error that says the piece's name is gone (deleted
    /// since it was opened: glommio's metadata calls go by name), else `Io`.
    fn gone_or_io(&self, op: &'static str, piece: PieceId, source: io::Error) -> StoreError {
        if source.kind() == io::ErrorKind::NotFound {
            StoreError::NotFound {
                store: self.name.clone(),
                piece,
            }
        } else {
            self.io_error(op, piece, source)
        }
    }

    fn io_error(&self, op: &'static str, piece: impl ToString, source: io::Error) -> StoreError {
        StoreError::Io {
            store: self.name.clone(),
            op,
            piece: piece.to_string(),
            source,
        }
    }

    fn fan_out_dir(&self, segment: &SegmentId) -> PathBuf {
        let hex = segment.to_hex();
        self.root.join(&hex[..2])
    }

    fn piece_path(&self, id: PieceId) -> PathBuf {
        self.fan_out_dir(&id.segment).join(id.to_string())
    }
}

/// The underlying OS error of a glommio error: glommio's own wrapper repeats the
/// path and descriptor, which `StoreError` already names.
fn os_error(error: GlommioError<()>) -> io::Error {
    match error {
        GlommioError::IoError(source) | GlommioError::EnhancedIoError { source, .. } => source,
        other => other.into(),
    }
}

/// Closes a descriptor whose close error cannot matter: it was only read, or
/// the bytes written through it are being thrown away.
async fn close_quietly(file: DmaFile) {
    let _ = file.close().await;
}

impl PieceStore for LocalStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn create(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Box<dyn PieceWriter>, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let final_path = inner.piece_path(id);
            let temp_path = final_path.with_file_name(ProcessTag::current().temp_name(id));
            let file = DmaFile::create(&temp_path)
                .await
                .map_err(|e| inner.io_error("create", id, os_error(e)))?;
            // From here on the temporary file exists: the guard removes it on
            // every path that does not publish it, early returns included.
            let guard = TempGuard::new(temp_path.clone());
            // The stream writer pads its last block and truncates the file back
            // on close, after its own fdatasync; a second descriptor lets commit
            // sync once, after the truncation, so the exact length is durable too.
            let sync_file = file
                .dup()
                .map_err(|e| inner.io_error("create", id, os_error(e)))?;
            let stream = DmaStreamWriterBuilder::new(file)
                .with_buffer_size(WRITE_BUFFER_BYTES)
                .with_write_behind(WRITE_BEHIND)
                .with_sync_on_close_disabled(true)
                .build();
            let writer: Box<dyn PieceWriter> = Box::new(LocalWriter {
                store: inner.clone(),
                id,
                stream,
                sync_file,
                temp_path,
                final_path,
                guard,
                interrupted: false,
            });
            Ok(writer)
        })
    }

    fn read(
        &self,
        id: PieceId,
        range: Range<u64>,
    ) -> LocalBoxFuture<'_, Result<PieceBytes, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let anchor = open_anchor(inner, id, "read").await?;
            let result = read_range(inner, &anchor, id, range).await;
            close_anchor(anchor).await;
            result
        })
    }

    fn delete(&self, id: PieceId) -> LocalBoxFuture<'_, Result<(), StoreError>> {
        // No directory fsync: a delete lost in a crash brings the piece back in
        // `list`, and garbage collection deletes it again.
        Box::pin(async move {
            match glommio::io::remove(self.inner.piece_path(id))
                .await
                .map_err(os_error)
            {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.inner.io_error("delete", id, e)),
            }
        })
    }

    fn stat(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Option<PieceStat>, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let file = match open_anchor(inner, id, "stat").await {
                Ok(file) => file,
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let len = file.file_size().await;
            close_anchor(file).await;
            match len.map_err(|e| inner.gone_or_io("stat", id, os_error(e))) {
                Ok(bytes) => Ok(Some(PieceStat { bytes })),
                Err(StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn list(&self) -> LocalBoxFuture<'_, Result<Vec<PieceId>, StoreError>> {
        Box::pin(async move {
            let root = self.inner.root.clone();
            glommio::executor()
                .spawn_blocking(move || list_pieces(&root))
                .await
                .map_err(|(op, path, source)| self.inner.io_error(op, path.display(), source))
        })
    }

    fn space(&self) -> LocalBoxFuture<'_, Result<StoreSpace, StoreError>> {
        Box::pin(async move {
            let root = self.inner.root.clone();
            let (free_bytes, capacity_bytes) = glommio::executor()
                .spawn_blocking(move || file_system_space(&root))
                .await
                .map_err(|e| self.inner.io_error("statvfs", self.inner.root.display(), e))?;
            Ok(StoreSpace {
                free_bytes,
                capacity_bytes,
            })
        })
    }
}

/// Reads `range` of the piece whose descriptor `anchor` holds. Each read opens
/// its own descriptors; caching them would save opens and closes per read,
/// worth doing once reads of the same piece are known to repeat.
///
/// glommio's `DmaFile::open` calls `statfs` on the path after opening it and
/// panics if that fails, so a piece deleted between the two (a read racing
/// garbage collection or a repair) would bring the whole process down. So the
/// piece is first opened by its name as a plain file (`anchor`, which fails
/// cleanly if the piece is gone), and the O_DIRECT descriptor is opened
/// through the anchor's `/proc/<pid>/fd` link, which stays valid whatever
/// happens to the name for as long as the anchor is open.
async fn read_range(
    inner: &Inner,
    anchor: &BufferedFile,
    id: PieceId,
    range: Range<u64>,
) -> Result<PieceBytes, StoreError> {
    let len = anchor
        .file_size()
        .await
        .map_err(|e| inner.gone_or_io("read", id, os_error(e)))?;
    let out_of_range = || StoreError::OutOfRange {
        store: inner.name.clone(),
        piece: id,
        range: range.clone(),
        len,
    };
    if range.start > range.end || range.end > len {
        return Err(out_of_range());
    }
    let Ok(wanted) = usize::try_from(range.end - range.start) else {
        return Err(out_of_range());
    };
    if wanted == 0 {
        return Ok(PieceBytes::new(Vec::new()));
    }
    // By pid, not `self`: the link must name this process whichever thread
    // or kernel worker resolves it.
    let through = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        anchor.as_raw_fd()
    ));
    let file = DmaFile::open(&through)
        .await
        .map_err(|e| inner.io_error("read", id, os_error(e)))?;
    let bytes = file.read_at(range.start, wanted).await;
    close_quietly(file).await;
    let bytes = bytes.map_err(|e| inner.io_error("read", id, os_error(e)))?;
    // The length was checked above, so a short read means the file shrank
    // underneath us: report it rather than return short data.
    if bytes.len() != wanted {
        return Err(inner.io_error(
            "read",
            id,
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("got {} of {wanted} bytes", bytes.len()),
            ),
        ));
    }
    Ok(PieceBytes::new(DmaBytes(bytes)))
}

/// The piece's descriptor opened by name: `NotFound` if it is not there.
async fn open_anchor(
    inner: &Inner,
    id: PieceId,
    op: &'static str,
) -> Result<BufferedFile, StoreError> {
    match BufferedFile::open(inner.piece_path(id))
        .await
        .map_err(os_error)
    {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound {
            store: inner.name.clone(),
            piece: id,
        }),
        Err(e) => Err(inner.io_error(op, id, e)),
    }
}

async fn close_anchor(file: BufferedFile) {
    // Read-only: a failed close loses nothing.
    let _ = file.close().await;
}

/// A read's DMA buffer handed out without a copy. It comes from the executor's
/// I/O memory while that lasts (a plain heap allocation after), so callers
/// should not hold read bytes for long.
struct DmaBytes(ReadResult);

impl AsRef<[u8]> for DmaBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A piece being streamed into its temporary file.
struct LocalWriter {
    store: Rc<Inner>,
    id: PieceId,
    stream: DmaStreamWriter,
    /// A second descriptor for the final fdatasync (see `create`).
    sync_file: DmaFile,
    temp_path: PathBuf,
    final_path: PathBuf,
    guard: TempGuard,
    /// Set while a write is under way and left set if it fails: a write whose
    /// future was dropped part way or that failed put an unknown prefix of its
    /// bytes in, so the piece must not be committed.
    interrupted: bool,
}

impl PieceWriter for LocalWriter {
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.interrupted {
                return Err(self.interrupted_error("write"));
            }
            self.interrupted = true;
            self.stream
                .write_all(bytes)
                .await
                .map_err(|e| self.store.io_error("write", self.id, e))?;
            self.interrupted = false;
            Ok(())
        })
    }

    /// Runs the commit in a task of its own, which the caller's future only
    /// waits for. glommio's `DmaStreamWriter` takes its file when `close`
    /// starts and panics in `Drop` if that close is dropped half way, so a
    /// commit must never be cut short by the long tail dropping its future.
    /// If the caller gives up, the task finishes the I/O and then makes sure
    /// the piece is not left visible: a commit abandoned by its caller does
    /// not publish.
    fn commit(self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>> {
        let abandoned = Rc::new(Cell::new(false));
        let flag = abandoned.clone();
        let final_path = self.final_path.clone();
        let task = glommio::spawn_local(async move { self.commit_to_end(&flag).await }).detach();
        Box::pin(async move {
            let mut watch = AbandonOnDrop {
                abandoned,
                task: Some(task),
                final_path,
            };
            let result = watch.task.as_mut().expect("set above").await;
            watch.task = None;
            result.unwrap_or_else(|| {
                Err(StoreError::Io {
                    store: String::new(),
                    op: "commit",
                    piece: String::new(),
                    source: io::Error::other("the executor stopped during the commit"),
                })
            })
        })
    }

    fn abort(self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move {
            let LocalWriter {
                store,
                id,
                stream,
                sync_file,
                temp_path,
                guard,
                ..
            } = *self;
            // Dropping the stream cancels its pending writes; the bytes are
            // being thrown away, so its close (flush and truncate) is not needed.
            drop(stream);
            close_quietly(sync_file).await;
            match glommio::io::remove(&temp_path).await.map_err(os_error) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                // The guard, dropped armed, tries the removal once more.
                Err(e) => return Err(store.io_error("abort", id, e)),
            }
            guard.disarm();
            Ok(())
        })
    }
}

impl LocalWriter {
    fn interrupted_error(&self, op: &'static str) -> StoreError {
        self.store.io_error(
            op,
            self.id,
            io::Error::other(
                "an earlier write failed or was cancelled part way, so the piece is incomplete",
            ),
        )
    }

    async fn commit_to_end(self: Box<Self>, abandoned: &Cell<bool>) -> Result<(), StoreError> {
        if self.interrupted {
            // Dropping self removes the temporary file.
            return Err(self.interrupted_error("commit"));
        }
        let LocalWriter {
            store,
            id,
            mut stream,
            sync_file,
            temp_path,
            final_path,
            guard,
            interrupted: _,
        } = *self;
        // Writes the padded last block and truncates to the exact length.
        stream
            .close()
            .await
            .map_err(|e| store.io_error("flush", id, e))?;
        // One fdatasync covers the data and the truncated length.
        sync_file
            .fdatasync()
            .await
            .map_err(|e| store.io_error("sync", id, os_error(e)))?;
        sync_file
            .close()
            .await
            .map_err(|e| store.io_error("close", id, os_error(e)))?;
        if abandoned.get() {
            // Nobody waits for this piece: the guard, dropped armed, removes it.
            return Err(store.io_error("commit", id, io::Error::other("abandoned")));
        }
        glommio::io::rename(&temp_path, &final_path)
            .await
            .map_err(|e| store.io_error("publish", id, os_error(e)))?;
        guard.disarm();
        if abandoned.get() {
            // Given up on during the rename: take the name back.
            let _ = glommio::io::remove(&final_path).await;
            return Err(store.io_error("commit", id, io::Error::other("abandoned")));
        }
        // The rename is durable only once the directory is: until then a
        // crash could lose the name, though never expose a partial piece.
        let parent = final_path.parent().unwrap_or(&store.root);
        let dir = Directory::open(parent)
            .await
            .map_err(|e| store.io_error("sync directory", id, os_error(e)))?;
        let synced = dir.sync().await;
        let _ = dir.close().await; // Read-only descriptor: nothing to lose.
        synced.map_err(|e| store.io_error("sync directory", id, os_error(e)))?;
        Ok(())
    }
}

/// The caller's side of a commit. Dropped before it has taken the commit's
/// result, it marks the commit abandoned (the task checks between steps) and
/// leaves a task behind that removes the piece should the commit have
/// published it anyway: the task may have finished an instant before the
/// caller gave up, with nobody left to learn of it.
struct AbandonOnDrop {
    abandoned: Rc<Cell<bool>>,
    /// The commit task, until its result has been taken.
    task: Option<glommio::task::JoinHandle<Result<(), StoreError>>>,
    final_path: PathBuf,
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else {
            return;
        };
        self.abandoned.set(true);
        let final_path = std::mem::take(&mut self.final_path);
        glommio::spawn_local(async move {
            if let Some(Ok(())) = task.await {
                let _ = glommio::io::remove(&final_path).await;
            }
        })
        .detach();
    }
}

/// What becomes of a temporary file, decided by its writer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TempFate {
    Undecided,
    /// Published or removed by the writer itself.
    Settled,
    /// The writer was dropped without commit or abort.
    Abandoned,
}

struct TempSignal {
    fate: Cell<TempFate>,
    waker: Cell<Option<Waker>>,
}

/// Removes a temporary file whose writer is dropped without commit or abort,
/// which is how the upload layer cancels long-tail writers.
///
/// `Drop` cannot do I/O itself: glommio 0.9 panics when spawning outside an
/// executor and offers no way to ask whether one is running, and a blocking
/// unlink would stall the reactor. So the guard starts a janitor task while it
/// is surely on an executor (in `create`), and dropping the guard only wakes that
/// task, which needs no executor. If the executor is gone, the task is gone with
/// it and the next `open` sweeps the file.
struct TempGuard {
    signal: Rc<TempSignal>,
}

impl TempGuard {
    fn new(path: PathBuf) -> Self {
        let signal = Rc::new(TempSignal {
            fate: Cell::new(TempFate::Undecided),
            waker: Cell::new(None),
        });
        let watched = signal.clone();
        // The handle is not needed: a detached task runs to its end.
        glommio::spawn_local(async move {
            let fate = poll_fn(|cx| match watched.fate.get() {
                TempFate::Undecided => {
                    watched.waker.set(Some(cx.waker().clone()));
                    Poll::Pending
                }
                fate => Poll::Ready(fate),
            })
            .await;
            if fate == TempFate::Abandoned {
                // Best effort: a temporary file that survives is swept at the
                // next open, and nobody is left to report the error to.
                let _ = glommio::io::remove(&path).await;
            }
        })
        .detach();
        Self { signal }
    }

    fn decide(&self, fate: TempFate) {
        self.signal.fate.set(fate);
        if let Some(waker) = self.signal.waker.take() {
            waker.wake();
        }
    }

    /// The writer published or removed the file itself.
    fn disarm(self) {
        self.decide(TempFate::Settled);
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.signal.fate.get() == TempFate::Undecided {
            self.decide(TempFate::Abandoned);
        }
    }
}

/// Who wrote a temporary file: the process id, a nonce drawn once per process
/// (a container restarts its gateway under the same pid), and a sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProcessTag {
    pid: u32,
    nonce: u64,
}

impl ProcessTag {
    fn current() -> Self {
        static NONCE: OnceLock<u64> = OnceLock::new();
        let nonce = *NONCE.get_or_init(|| {
            let mut bytes = [0u8; 8];
            crate::entropy::fill(&mut bytes);
            u64::from_le_bytes(bytes)
        });
        Self {
            pid: std::process::id(),
            nonce,
        }
    }

    fn temp_name(self, id: PieceId) -> String {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        format!(
            "{id}.{}-{:016x}-{sequence}{TEMP_SUFFIX}",
            self.pid, self.nonce
        )
    }

    /// The writer's tag in a temporary file name, if it has a well-formed one.
    fn of_temp_name(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(TEMP_SUFFIX)?;
        let (_, tag) = stem.rsplit_once('.')?;
        let mut parts = tag.split('-');
        let pid = parts.next()?.parse().ok()?;
        let nonce = u64::from_str_radix(parts.next()?, 16).ok()?;
        parts.next()?.parse::<u64>().ok()?;
        parts.next().is_none().then_some(Self { pid, nonce })
    }
}

/// Whether a temporary file can no longer be written by anyone: not by this
/// process and not by another live process. An untagged one never can.
fn is_orphan_temp(name: &str, current: ProcessTag) -> bool {
    let Some(writer) = ProcessTag::of_temp_name(name) else {
        return true;
    };
    if writer == current {
        return false;
    }
    if writer.pid == current.pid {
        // An earlier process with our pid: it is dead, we replaced it.
        return true;
    }
    // If the pid was reused by an unrelated process, the file waits for a later
    // open: a leak until then, never a lost in-flight piece.
    !Path::new("/proc").join(writer.pid.to_string()).exists()
}

/// The fan-out directory names, "00" to "ff".
fn fan_out_names() -> impl Iterator<Item = String> {
    (0..=u8::MAX).map(|byte| format!("{byte:02x}"))
}

/// Runs on a blocking thread: creates the root and the fan-out directories,
/// makes them durable, and sweeps orphaned temporary files.
fn prepare_root(root: &Path, current: ProcessTag) -> Result<(), BlockingError> {
    let root_existed = root.is_dir();
    std::fs::create_dir_all(root).map_err(|e| ("create directory", root.to_owned(), e))?;
    if !root_existed {
        // Another store opening concurrently may have created it: syncing the
        // parent twice is harmless. No parent means the root is "/".
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    let mut created_any = false;
    for name in fan_out_names() {
        let dir = root.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => created_any = true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(("create directory", dir, e)),
        }
        sweep_temps(&dir, current)?;
    }
    if created_any {
        sync_dir(root)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), BlockingError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ("sync directory", dir.to_owned(), e))
}

fn sweep_temps(dir: &Path, current: ProcessTag) -> Result<(), BlockingError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ("sweep", dir.to_owned(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ("sweep", dir.to_owned(), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(TEMP_SUFFIX) || !is_orphan_temp(name, current) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => {}
            // A store opening concurrently swept it first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(("sweep", entry.path(), e)),
        }
    }
    Ok(())
}

/// The piece a final file name stands for; temporary files and anything not
/// written by this store yield `None`.
fn parse_piece_name(name: &str) -> Option<PieceId> {
    let (segment, piece) = name.split_once('.')?;
    let id = PieceId {
        segment: SegmentId::from_hex(segment)?,
        piece: piece.parse().ok()?,
    };
    // Only the canonical spelling is ours: "01" or "+1" as an index, or upper
    // case hex, would name a file that `read` never opens.
    (id.to_string() == name).then_some(id)
}

/// Runs on a blocking thread: every committed piece, in id order.
fn list_pieces(root: &Path) -> Result<Vec<PieceId>, BlockingError> {
    let mut pieces = Vec::new();
    for fan_out in fan_out_names() {
        let dir = root.join(&fan_out);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Removed from outside since open: it holds no pieces.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(("list", dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| ("list", dir.clone(), e))?;
            let is_file = entry
                .file_type()
                .map_err(|e| ("list", entry.path(), e))?
                .is_file();
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(parse_piece_name) else {
                continue;
            };
            // A piece in the wrong fan-out directory is unreachable by `read`.
            if is_file && id.segment.to_hex().starts_with(&fan_out) {
                pieces.push(id);
            }
        }
    }
    pieces.sort_unstable();
    Ok(pieces)
}

/// Bytes available to unprivileged users, and the size, of the file system
/// holding `path`.
pub fn file_system_space(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `statvfs` is plain old data, valid when zeroed, and the call
    // only writes into it; `path` is a valid NUL-terminated string.
    let stat = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stat
    };
    let block = stat.f_frsize as u64;
    Ok((stat.f_bavail as u64 * block, stat.f_blocks as u64 * block))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(piece: u16) -> PieceId {
        PieceId {
            segment: SegmentId([0xab; 16]),
            piece,
        }
    }

    #[test]
    fn piece_names_round_trip_and_reject_junk() {
        let name = id(7).to_string();
        assert_eq!(parse_piece_name(&name), Some(id(7)));
        assert_eq!(parse_piece_name(&format!("{name}.1-00-2.tmp")), None);
        assert_eq!(parse_piece_name(&name.replace(".7", ".07")), None);
        assert_eq!(parse_piece_name(&name.replace(".7", ".+7")), None);
        assert_eq!(parse_piece_name(&name.to_uppercase()), None);
        assert_eq!(parse_piece_name("notes.txt"), None);
        assert_eq!(parse_piece_name(&name.replace(".7", ".70000")), None);
    }

    #[test]
    fn temp_names_carry_the_writer() {
        let current = ProcessTag::current();
        let name = current.temp_name(id(3));
        assert!(name.starts_with(&id(3).to_string()) && name.ends_with(TEMP_SUFFIX));
        assert_ne!(name, current.temp_name(id(3)), "names are unique");
        assert_eq!(ProcessTag::of_temp_name(&name), Some(current));
        assert!(!is_orphan_temp(&name, current));

        let same_pid_earlier = ProcessTag {
            pid: current.pid,
            nonce: current.nonce ^ 1,
        };
        assert!(is_orphan_temp(&same_pid_earlier.temp_name(id(3)), current));
        // Above the kernel's largest pid, so never alive.
        let dead = ProcessTag {
            pid: u32::MAX,
            nonce: 5,
        };
        assert!(is_orphan_temp(&dead.temp_name(id(3)), current));
        assert!(is_orphan_temp(&format!("{}.tmp", id(3)), current));
        assert!(is_orphan_temp("x.1-zz-2.tmp", current));
    }
}
