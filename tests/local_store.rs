//! `LocalStore` against real io_uring and O_DIRECT files in a temporary
//! directory: the `PieceStore` invariants, crash and cancellation cleanup, and
//! several executors sharing one directory.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use glommio::{LocalExecutorBuilder, Placement};
use ringgate::pieces::{LocalStore, PieceId, PieceStore, SegmentId, StoreError};

/// Runs `make()`'s future on a fresh glommio executor thread and returns its output.
fn on_executor<T, F, Fut>(make: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(make)
        .unwrap()
        .join()
        .unwrap()
}

/// Deterministic pseudo-random bytes (splitmix64), distinct per seed.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn piece_id(seed: u64, piece: u16) -> PieceId {
    let bytes: [u8; 16] = pattern(seed ^ 0x5e6, 16).try_into().unwrap();
    PieceId {
        segment: SegmentId(bytes),
        piece,
    }
}

fn fan_out_dir(root: &Path, id: PieceId) -> PathBuf {
    root.join(&id.segment.to_hex()[..2])
}

/// Every `*.tmp` file in the store's fan-out directories.
fn temp_files(root: &Path) -> Vec<PathBuf> {
    let mut temps = Vec::new();
    for dir in std::fs::read_dir(root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.to_string_lossy().ends_with(".tmp") {
                temps.push(file);
            }
        }
    }
    temps
}

async fn write_piece(store: &dyn PieceStore, id: PieceId, data: &[u8], chunk: usize) {
    let mut writer = store.create(id).await.unwrap();
    for part in data.chunks(chunk) {
        writer.write(part).await.unwrap();
    }
    writer.commit().await.unwrap();
}

async fn assert_absent(store: &dyn PieceStore, id: PieceId) {
    match store.read(id, 0..1).await {
        Err(StoreError::NotFound { piece, .. }) => assert_eq!(piece, id),
        other => panic!("read of absent {id}: {other:?}"),
    }
    assert_eq!(store.stat(id).await.unwrap(), None);
    assert!(!store.list().await.unwrap().contains(&id));
}

#[test]
fn round_trip_in_uneven_chunks() {
    let dir = tempfile::tempdir().unwrap();
    // A root that does not exist yet: open creates it.
    let root = dir.path().join("pieces");
    on_executor(move || async move {
        let store = LocalStore::open(&root).await.unwrap();
        let id = piece_id(1, 4);
        let data = pattern(1, 1_300_077);

        let mut writer = store.create(id).await.unwrap();
        let mut chunks = [1, 4095, 4097, 100_000, 333_333, 524_288, 7]
            .into_iter()
            .cycle();
        let mut at = 0;
        while at < data.len() {
            let n = chunks.next().unwrap().min(data.len() - at);
            writer.write(&data[at..at + n]).await.unwrap();
            at += n;
        }
        // Nothing is visible under the id before commit.
        assert_absent(&store, id).await;
        writer.commit().await.unwrap();
        assert!(temp_files(&root).is_empty());

        let len = data.len() as u64;
        let full = store.read(id, 0..len).await.unwrap();
        assert!(full[..] == data[..], "full read differs");
        for range in [
            0..1,
            1..4097,
            511..1537,
            4096..8192,
            123_457..987_653,
            524_287..524_289,
            len - 4097..len,
            len - 1..len,
            len..len,
            17..17,
        ] {
            let got = store.read(id, range.clone()).await.unwrap();
            let want = &data[range.start as usize..range.end as usize];
            assert!(got[..] == *want, "range {range:?} differs");
        }

        assert_eq!(store.stat(id).await.unwrap().unwrap().bytes, len);
        assert_eq!(store.list().await.unwrap(), vec![id]);

        store.delete(id).await.unwrap();
        assert_absent(&store, id).await;
        // Deletes are retried and raced: an absent piece deletes fine.
        store.delete(id).await.unwrap();
    });
}

#[test]
fn dropped_and_aborted_writers_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    on_executor(move || async move {
        let store = LocalStore::open(&root).await.unwrap();
        let data = pattern(2, 1_000_003);
        let (dropped, aborted, interrupted) = (piece_id(2, 0), piece_id(2, 1), piece_id(2, 2));

        // A crash before publish, as the upload layer's cancellation does it:
        // the writer is dropped half way.
        let mut writer = store.create(dropped).await.unwrap();
        writer.write(&data[..data.len() / 2]).await.unwrap();
        drop(writer);

        let mut writer = store.create(aborted).await.unwrap();
        writer.write(&data[..700_001]).await.unwrap();
        writer.abort().await.unwrap();

        // A write cancelled part way leaves an unknown prefix in the file, so
        // commit must refuse it.
        let mut writer = store.create(interrupted).await.unwrap();
        let big = pattern(3, 8 << 20);
        let first_poll = futures_lite::future::poll_once(writer.write(&big)).await;
        assert!(
            first_poll.is_none(),
            "an 8 MiB write should not finish in one poll"
        );
        match writer.commit().await {
            Err(StoreError::Io { op: "commit", .. }) => {}
            other => panic!("commit after an interrupted write: {other:?}"),
        }

        glommio::timer::sleep(Duration::from_millis(50)).await;
        for id in [dropped, aborted, interrupted] {
            assert_absent(&store, id).await;
        }
        assert!(store.list().await.unwrap().is_empty());
        assert_eq!(temp_files(&root), Vec::<PathBuf>::new());
    });
}

/// Regression: the long tail drops piece writers wherever they are, commit
/// included. glommio's `DmaStreamWriter` takes its file when `close` starts and
/// panics in `Drop` (aborting the process) if that close was dropped half way;
/// the store crashed under CPU contention when a slow piece was cut off
/// mid-commit. The commit now runs to its end in a task of its own, and a
/// commit whose caller gave up leaves no piece behind.
#[test]
fn a_commit_dropped_half_way_neither_crashes_nor_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    on_executor(move || async move {
        let store = LocalStore::open(&root).await.unwrap();
        // The crash needs the drop to land after the padded last block was
        // flushed and before the close finished: try many points in between.
        let mut abandoned = 0;
        for step in 0..40u64 {
            let id = piece_id(100 + step, 0);
            let mut writer = store.create(id).await.unwrap();
            writer.write(&pattern(step, 100_003)).await.unwrap();
            let give_up = Duration::from_micros(step * step * 10);
            let commit = writer.commit();
            let outcome = futures_lite::future::or(async { Some(commit.await) }, async {
                glommio::timer::sleep(give_up).await;
                None
            })
            .await;
            match outcome {
                // Finished in time: the piece is there; remove it for the next round.
                Some(result) => {
                    result.unwrap();
                    store.delete(id).await.unwrap();
                }
                None => {
                    abandoned += 1;
                    // Let the commit task finish its I/O and clean up: under
                    // CPU contention that takes longer than any fixed sleep.
                    let deadline = std::time::Instant::now() + Duration::from_secs(20);
                    while (store.stat(id).await.unwrap().is_some() || !temp_files(&root).is_empty())
                        && std::time::Instant::now() < deadline
                    {
                        glommio::timer::sleep(Duration::from_millis(20)).await;
                    }
                    assert_absent(&store, id).await;
                }
            }
        }
        assert!(abandoned > 0, "no commit was dropped half way");
        assert!(store.list().await.unwrap().is_empty());
        assert_eq!(temp_files(&root), Vec::<PathBuf>::new());
    });
}

#[test]
fn open_sweeps_orphaned_temps_but_not_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    on_executor(move || async move {
        let store = LocalStore::open(&root).await.unwrap();
        let live = piece_id(4, 0);
        let data = pattern(4, 200_000);
        let mut writer = store.create(live).await.unwrap();
        writer.write(&data).await.unwrap();
        assert_eq!(temp_files(&root).len(), 1);

        // Temporaries a crashed process left: one without a writer tag, one
        // from a pid above the kernel's limit, so surely dead.
        let orphan = piece_id(5, 3);
        let fan_out = fan_out_dir(&root, orphan);
        let untagged = fan_out.join(format!("{orphan}.tmp"));
        let dead = fan_out.join(format!("{orphan}.4000000000-00000000000000aa-1.tmp"));
        let junk = fan_out.join("notes.txt");
        for path in [&untagged, &dead, &junk] {
            std::fs::write(path, b"not a piece").unwrap();
        }

        // A second store on the same directory, as another core opens it.
        let other = LocalStore::open(&root).await.unwrap();
        assert!(!untagged.exists() && !dead.exists());
        assert!(junk.exists(), "only temporary files are swept");
        assert_eq!(
            temp_files(&root).len(),
            1,
            "this process's in-flight piece stays"
        );

        writer.commit().await.unwrap();
        let got = other.read(live, 0..data.len() as u64).await.unwrap();
        assert!(got[..] == data[..]);
        assert_eq!(other.list().await.unwrap(), vec![live]);
        assert!(temp_files(&root).is_empty());
    });
}

#[test]
fn reads_out_of_range_and_of_missing_pieces_fail() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    on_executor(move || async move {
        let store = LocalStore::open(&root).await.unwrap();
        let id = piece_id(6, 1);
        write_piece(&store, id, &pattern(6, 10_000), 3000).await;

        for range in [0..10_001, 9_999..10_001, 10_000..10_001, 20_000..20_001] {
            match store.read(id, range.clone()).await {
                Err(StoreError::OutOfRange {
                    piece,
                    range: r,
                    len,
                    ..
                }) => {
                    assert_eq!((piece, r, len), (id, range, 10_000));
                }
                other => panic!("read {range:?}: {other:?}"),
            }
        }
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..2;
        assert!(matches!(
            store.read(id, backwards).await,
            Err(StoreError::OutOfRange { .. })
        ));

        let missing = piece_id(7, 0);
        assert!(matches!(
            store.read(missing, 0..1).await,
            Err(StoreError::NotFound { piece, .. }) if piece == missing
        ));
        assert!(matches!(
            store.read(missing, 0..0).await,
            Err(StoreError::NotFound { .. })
        ));

        // An empty piece is a piece: it exists, and only empty reads fit.
        let empty = piece_id(8, 0);
        write_piece(&store, empty, &[], 1).await;
        assert_eq!(store.stat(empty).await.unwrap().unwrap().bytes, 0);
        assert!(store.read(empty, 0..0).await.unwrap().is_empty());
        assert!(matches!(
            store.read(empty, 0..1).await,
            Err(StoreError::OutOfRange { len: 0, .. })
        ));
    });
}

#[test]
fn executors_write_one_directory_concurrently() {
    const EXECUTORS: u64 = 3;
    const PIECES: u64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let seed = |core: u64, i: u64| 1000 + core * PIECES + i;
    let size = |seed: u64| 1 + (seed * 7919 % 400_000) as usize;

    let writers: Vec<_> = (0..EXECUTORS)
        .map(|core| {
            let root = root.clone();
            LocalExecutorBuilder::new(Placement::Unbound)
                .name(&format!("writer-{core}"))
                .spawn(move || async move {
                    let store = Rc::new(LocalStore::open(&root).await.unwrap());
                    let tasks: Vec<_> = (0..PIECES)
                        .map(|i| {
                            let store = store.clone();
                            glommio::spawn_local(async move {
                                let seed = seed(core, i);
                                let chunk = 65_536 + 13 * i as usize;
                                let data = pattern(seed, size(seed));
                                write_piece(&*store, piece_id(seed, i as u16), &data, chunk).await;
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await;
                    }
                })
                .unwrap()
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }

    on_executor(move || async move {
        let store = LocalStore::open(&root).await.unwrap();
        let mut expected: Vec<_> = (0..EXECUTORS)
            .flat_map(|core| (0..PIECES).map(move |i| piece_id(seed(core, i), i as u16)))
            .collect();
        expected.sort();
        assert_eq!(store.list().await.unwrap(), expected);
        for core in 0..EXECUTORS {
            for i in 0..PIECES {
                let seed = seed(core, i);
                let id = piece_id(seed, i as u16);
                let data = pattern(seed, size(seed));
                let got = store.read(id, 0..data.len() as u64).await.unwrap();
                assert!(got[..] == data[..], "piece {id} differs");
            }
        }
        assert!(temp_files(&root).is_empty());
    });
}

/// A store opened with a relative path (the default `./data/stores/0` of
/// `ringgate serve`, or `ringgate node --data pieces`) failed every commit:
/// glommio opens the directory to fsync with `openat(-1, …)`, which gives
/// EBADF for a relative path, so every PUT of more than 4 KiB answered 503.
/// The store now works on the absolute form of its path.
#[test]
fn a_relative_store_path_commits() {
    let dir = tempfile::tempdir_in(".").unwrap();
    let cwd = std::env::current_dir().unwrap();
    let relative = dir
        .path()
        .strip_prefix(&cwd)
        .unwrap()
        .join("store")
        .to_owned();
    assert!(relative.is_relative());
    on_executor(move || async move {
        let store = LocalStore::open(&relative).await.unwrap();
        let id = piece_id(9, 1);
        write_piece(&store, id, &pattern(9, 70_000), 8192).await;
        let back = store.read(id, 0..70_000).await.unwrap();
        assert!(back[..] == pattern(9, 70_000)[..]);
    });
}

/// glommio's `DmaFile::open` statfs'es the path after opening it and panics
/// if the name is gone by then: a GET reading a piece while garbage
/// collection or a repair deleted it brought the whole process down. Reads
/// now open the O_DIRECT descriptor through an anchor descriptor's /proc
/// link. Many reads race a delete, over and over: each answers the bytes or
/// an error, never a panic.
#[test]
fn reads_racing_a_delete_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    on_executor(move || async move {
        let store = Rc::new(LocalStore::open(&root).await.unwrap());
        let data = pattern(21, 64 << 10);
        for round in 0..200u64 {
            let id = piece_id(1000 + round, 0);
            write_piece(&*store, id, &data, 16 << 10).await;
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let store = store.clone();
                    glommio::spawn_local(async move {
                        let _ = store.stat(id).await;
                        store.read(id, 4096..8192).await.map(|b| b.to_vec())
                    })
                })
                .collect();
            store.delete(id).await.unwrap();
            for reader in readers {
                match reader.await {
                    Ok(bytes) => assert_eq!(&bytes[..], &data[4096..8192]),
                    Err(StoreError::NotFound { .. } | StoreError::Io { .. }) => {}
                    Err(other) => panic!("{other}"),
                }
            }
        }
    });
}
