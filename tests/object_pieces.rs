//! Objects through the whole pipeline onto real `LocalStore`s (io_uring, O_DIRECT)
//! wrapped in `FaultyStore`s: round trips and ranges across segments, long-tail
//! cancellation of a slow writer, a failed upload that leaks nothing, hedged reads
//! around a slow data piece, and decoding around corrupt or lost pieces.

use std::rc::Rc;
use std::time::Duration;

use ringgate::cluster::StoreSet;
use ringgate::config::PipelineConfig;
use ringgate::object_io::{BodyExtent, ObjectReader, ObjectWriter, SegmentRecord, StoredObject};
use ringgate::pieces::fault::{Event, Fault, FaultyStore};
use ringgate::pieces::local::LocalStore;
use ringgate::pieces::PieceStore;
use ringgate::pipeline::{DigestRequest, ErasureParams, Layout};

fn run<F: std::future::Future<Output = ()> + 'static>(make: impl FnOnce() -> F + Send + 'static) {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(make)
        .expect("executor starts")
        .join()
        .expect("test body does not panic");
}

struct Cluster {
    _dir: tempfile::TempDir,
    faulty: Vec<Rc<FaultyStore>>,
    stores: Rc<StoreSet>,
    config: Rc<PipelineConfig>,
}

async fn cluster(k: usize, o: usize, n: usize, share: usize, segment: u64) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut faulty = Vec::new();
    for i in 0..n {
        let local = LocalStore::open(dir.path().join(format!("store{i}")))
            .await
            .unwrap();
        faulty.push(Rc::new(FaultyStore::new(Rc::new(local))));
    }
    let stores: Vec<Rc<dyn PieceStore>> = faulty
        .iter()
        .map(|f| f.clone() as Rc<dyn PieceStore>)
        .collect();
    let layout = Layout::new(
        ErasureParams {
            required: k,
            optimal: o,
            total: n,
        },
        share,
        segment,
    )
    .unwrap();
    let mut config = PipelineConfig::new(layout);
    config.chunk_bytes = 16 * 1024;
    config.window_bytes = 64 * 1024;
    config.linger = Duration::ZERO;
    Cluster {
        _dir: dir,
        faulty,
        stores: Rc::new(StoreSet::from_stores(stores)),
        config: Rc::new(config),
    }
}

impl Cluster {
    fn inject(&self, piece: u16, fault: Fault) {
        self.faulty.iter().for_each(|f| f.inject(piece, fault));
    }

    fn clear(&self) {
        self.faulty.iter().for_each(|f| f.clear());
    }

    fn events(&self) -> Vec<Event> {
        self.faulty.iter().flat_map(|f| f.events()).collect()
    }

    async fn put(
        &self,
        data: &[u8],
        write_chunk: usize,
    ) -> Result<StoredObject, ringgate::object_io::ObjectError> {
        let mut w = ObjectWriter::new(
            self.config.clone(),
            self.stores.clone(),
            DigestRequest {
                md5: true,
                checksum: None,
            },
        )?;
        for chunk in data.chunks(write_chunk.max(1)) {
            w.write(chunk).await?;
        }
        w.finish().await
    }

    async fn get(
        &self,
        body: &[BodyExtent],
        range: std::ops::Range<u64>,
    ) -> Result<Vec<u8>, ringgate::object_io::ObjectError> {
        let mut reader = ObjectReader::new(&self.config, &self.stores, body, range)?;
        let mut out = Vec::new();
        while let Some(chunk) = reader.next_chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    async fn pieces_on_disk(&self) -> usize {
        let mut total = 0;
        for (_, store) in self.stores.handles() {
            total += store.list().await.unwrap().len();
        }
        total
    }
}

fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn round_trips_and_ranges_across_segments() {
    run(|| async {
        // 4 KiB shares, k=4: 16368 plaintext bytes per stripe, 4 stripes per segment.
        let c = cluster(4, 6, 6, 4096, 4 * 16368).await;
        for (len, seed) in [
            (0usize, 1u32),
            (100, 2),
            (4096, 3),
            (4097, 4),
            (16368, 5),
            (65472, 6),
            (65473, 7),
            (300_000, 8),
        ] {
            let plain = data(len, seed);
            let stored = c.put(&plain, 7001).await.unwrap();
            assert_eq!(stored.digest.plaintext_bytes, len as u64);
            assert_eq!(stored.digest.md5.unwrap(), md5_of(&plain));
            match (stored.extents.as_slice(), len <= 4096) {
                ([BodyExtent::Inline { .. }], true) => {}
                (extents, false) => {
                    let segments = segments_of(extents);
                    assert_eq!(segments.len(), len.div_ceil(65472));
                    assert!(segments.iter().all(|s| s.pieces.len() == 6));
                }
                _ => panic!("object of {len} bytes stored the wrong way"),
            }
            assert_eq!(
                c.get(&stored.extents, 0..len as u64).await.unwrap(),
                plain,
                "len {len}"
            );
            let ranges = [
                (0, 1),
                (len / 3, len / 2),
                (len.saturating_sub(1), len),
                (65471, 65474),
                (16000, 70000),
            ];
            for (a, b) in ranges {
                let (a, b) = (a.min(len), b.min(len));
                if a < b {
                    assert_eq!(
                        c.get(&stored.extents, a as u64..b as u64).await.unwrap(),
                        &plain[a..b],
                        "len {len} {a}..{b}"
                    );
                }
            }
            assert!(c.get(&stored.extents, 0..len as u64 + 1).await.is_err());
        }
    });
}

/// Story: when every piece store is equally slow (six pieces on one disk,
/// the embedded default) the encoder outruns them all and every queue is
/// full. The fan-out cut whichever writer was last to take its chunk, a
/// fraction of a chunk behind the rest, so every segment kept only o of n
/// pieces and a GET that lost a data piece paid a Reed-Solomon decode. A
/// writer is cut only when it is `lag_chunks_max` chunks behind the others.
#[test]
fn writers_slow_together_are_all_waited_for() {
    run(|| async {
        let mut c = cluster(4, 5, 6, 4096, 1 << 20).await;
        Rc::get_mut(&mut c.config).unwrap().linger = Duration::from_secs(5);
        for piece in 0..6 {
            c.inject(piece, Fault::SlowWrite(Duration::from_millis(2)));
        }
        let plain = data(1_000_000, 11);
        let stored = c.put(&plain, 65536).await.unwrap();
        for segment in segments_of(&stored.extents) {
            let placed: Vec<u16> = segment.pieces.iter().map(|p| p.piece).collect();
            assert_eq!(placed, vec![0, 1, 2, 3, 4, 5], "no piece was cut off");
        }
        let events = c.events();
        assert!(
            !events.iter().any(|e| matches!(e, Event::Dropped(_))),
            "no writer was cancelled: {events:?}"
        );
        assert_eq!(
            c.get(&stored.extents, 0..plain.len() as u64).await.unwrap(),
            plain
        );
    });
}

#[test]
fn slow_writer_is_cut_off_and_leaves_nothing() {
    run(|| async {
        let c = cluster(4, 5, 6, 4096, 1 << 20).await;
        c.inject(5, Fault::SlowWrite(Duration::from_millis(400)));
        let plain = data(400_000, 9);
        let stored = c.put(&plain, 65536).await.unwrap();
        let segments = segments_of(&stored.extents);
        let placed: Vec<u16> = segments[0].pieces.iter().map(|p| p.piece).collect();
        assert_eq!(
            placed,
            vec![0, 1, 2, 3, 4],
            "the slow piece is not part of the segment"
        );
        // Cancelled tasks drop their futures the next time the executor runs them.
        glommio::timer::sleep(Duration::from_millis(600)).await;
        let events = c.events();
        assert!(
            events.contains(&Event::Dropped(5)),
            "the slow writer was cancelled: {events:?}"
        );
        assert!(!events.contains(&Event::Committed(5)));
        assert_eq!(
            c.pieces_on_disk().await,
            5,
            "no stray piece 5 after cancellation"
        );
        c.clear();
        assert_eq!(
            c.get(&stored.extents, 0..plain.len() as u64).await.unwrap(),
            plain
        );
    });
}

#[test]
fn failed_upload_leaks_nothing() {
    run(|| async {
        let c = cluster(4, 5, 6, 4096, 64 * 1024).await;
        c.inject(1, Fault::FailCommit);
        c.inject(2, Fault::FailCreate);
        let plain = data(200_000, 10);
        let err = match c.put(&plain, 10_000).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("upload with two failing pieces and o=5 must fail"),
        };
        assert!(err.contains("required"), "{err}");
        glommio::timer::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            c.pieces_on_disk().await,
            0,
            "pieces of earlier segments and the failed one are deleted"
        );
    });
}

#[test]
fn hedged_read_overtakes_a_slow_data_piece() {
    run(|| async {
        let mut c = cluster(4, 6, 6, 4096, 1 << 20).await;
        let plain = data(100_000, 11);
        let stored = c.put(&plain, 100_000).await.unwrap();
        let mut config = (*c.config).clone();
        config.hedge.piece_timeout = Duration::from_millis(30);
        c.config = Rc::new(config);
        c.clear();
        c.inject(0, Fault::SlowRead(Duration::from_secs(5)));
        assert_eq!(
            c.get(&stored.extents, 0..plain.len() as u64).await.unwrap(),
            plain
        );
        let events = c.events();
        assert!(
            events.contains(&Event::ReadDone(4)),
            "a parity piece was brought in: {events:?}"
        );
        assert!(
            !events.contains(&Event::ReadDone(0)),
            "the slow read was cancelled: {events:?}"
        );
        assert!(
            !events.contains(&Event::Read(5)),
            "only one hedge was needed: {events:?}"
        );
    });
}

#[test]
fn reads_survive_corrupt_and_lost_pieces() {
    run(|| async {
        let c = cluster(4, 6, 6, 4096, 1 << 20).await;
        let plain = data(150_000, 12);
        let stored = c.put(&plain, 4096).await.unwrap();
        let segments = segments_of(&stored.extents);
        c.clear();
        c.inject(1, Fault::CorruptRead(5000));
        let mut reader =
            ObjectReader::new(&c.config, &c.stores, &stored.extents, 0..plain.len() as u64)
                .unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = reader.next_chunk().await.unwrap() {
            out.extend_from_slice(&chunk);
        }
        assert_eq!(out, plain);
        assert!(
            reader
                .report
                .corrupt_shares
                .iter()
                .any(|&(piece, _)| piece == 1),
            "{:?}",
            reader.report
        );
        assert!(reader.report.stripes_rebuilt >= 1);
        c.clear();
        // Lose two pieces for good: still readable. Lose a third: a clear error.
        let segment = &segments[0];
        let id = |piece: u16| ringgate::pieces::PieceId {
            segment: segment.id,
            piece,
        };
        for lost in [0u16, 5] {
            let at = segment
                .pieces
                .iter()
                .find(|p| p.piece == lost)
                .unwrap()
                .store;
            c.stores.get(at).unwrap().delete(id(lost)).await.unwrap();
        }
        assert_eq!(
            c.get(&stored.extents, 1000..120_000).await.unwrap(),
            &plain[1000..120_000]
        );
        let at = segment.pieces.iter().find(|p| p.piece == 2).unwrap().store;
        c.stores.get(at).unwrap().delete(id(2)).await.unwrap();
        let err = c.get(&stored.extents, 0..10).await.unwrap_err().to_string();
        assert!(err.contains("healthy shares"), "{err}");
    });
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

/// The segments of an object stored on pieces (panics on an inline extent).
fn segments_of(extents: &[BodyExtent]) -> Vec<&SegmentRecord> {
    extents
        .iter()
        .map(|e| match e {
            BodyExtent::Segment(s) => s,
            BodyExtent::Inline { .. } => panic!("expected segments"),
        })
        .collect()
}
