//! Storage nodes over loopback: the wire codec (round trips, arbitrary bytes,
//! truncated and oversized frames), signed orders, in-process `NodeServer`s
//! behind `RemoteStore`s (round trips, abandoned writers, garbage clients, dead
//! and restarted nodes), and objects erasure coded over eight nodes while some
//! of them are stopped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use ringgate::cluster::StoreSet;
use ringgate::config::PipelineConfig;
use ringgate::entropy::Os;
use ringgate::node::{NodeArgs, NodeConfig, NodeServer};
use ringgate::object_io::{BodyExtent, ObjectReader, ObjectWriter, StoredObject};
use ringgate::pieces::wire::order::{
    ClusterKey, NodeKey, Order, OrderError, OrderRules, PieceOperation, ReplayGuard, SignedOrder,
    NODE_SCOPE,
};
use ringgate::pieces::wire::protocol::{
    decode, decode_payload, parse_header, ErrorCode, ErrorReply, Frame, FrameType, Hello,
    NodeHealth, ProtocolError, DATA_BYTES_MAX, FRAME_HEADER_BYTES, LIST_PAGE_IDS_MAX,
};
use ringgate::pieces::{PieceId, PieceStore, RemoteConfig, RemoteStore, SegmentId, StoreError};
use ringgate::pipeline::{DigestRequest, ErasureParams, Layout};

fn run<F: std::future::Future<Output = ()> + 'static>(make: impl FnOnce() -> F + Send + 'static) {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(make)
        .expect("executor starts")
        .join()
        .expect("test body does not panic");
}

fn id(segment: u8, piece: u16) -> PieceId {
    PieceId {
        segment: SegmentId([segment; 16]),
        piece,
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

// ---------------------------------------------------------------- the codec

/// The name the in-process nodes' keys are issued for.
const TEST_NODE: &str = "test-node";

/// A node key from a fresh cluster key: what both sides of a test hold.
fn test_key() -> Arc<NodeKey> {
    Arc::new(ClusterKey::generate(&mut Os).node_key(TEST_NODE))
}

fn order(operation: PieceOperation) -> SignedOrder {
    ClusterKey::from_bytes([9; 32]).node_key("n").sign(
        Order::new(operation, id(0xab, 7), 1_700_000_000, &mut Os),
        &[3; 16],
    )
}

/// One of every frame, with edge values.
fn sample_frames() -> Vec<Frame<'static>> {
    static DATA: [u8; 3] = [1, 2, 3];
    static FULL: [u8; DATA_BYTES_MAX] = [0xa5; DATA_BYTES_MAX];
    vec![
        Frame::Hello(Hello {
            nonce: [0xee; 16],
            node_time_secs: u64::MAX,
            proof: [0x5a; 32],
        }),
        Frame::Challenge([0x11; 16]),
        Frame::Put(order(PieceOperation::Put)),
        Frame::Data(&DATA),
        Frame::Data(&FULL),
        Frame::Commit { bytes: 1 << 40 },
        Frame::Abort,
        Frame::Get {
            order: order(PieceOperation::Get),
            range: 5..u64::MAX,
        },
        Frame::Get {
            order: order(PieceOperation::Get),
            range: 0..0,
        },
        Frame::Delete(order(PieceOperation::Delete)),
        Frame::Stat(order(PieceOperation::Stat)),
        Frame::List {
            order: order(PieceOperation::List),
            after: None,
            limit: 0,
        },
        Frame::List {
            order: order(PieceOperation::List),
            after: Some(id(1, u16::MAX)),
            limit: u32::MAX,
        },
        Frame::Ping(order(PieceOperation::Ping)),
        Frame::Ok,
        Frame::Ready,
        Frame::Read { bytes: 0 },
        Frame::Stated(None),
        Frame::Stated(Some(0)),
        Frame::Page {
            ids: vec![],
            more: false,
        },
        Frame::Page {
            ids: (0..LIST_PAGE_IDS_MAX)
                .map(|i| id(i as u8, i as u16))
                .collect(),
            more: true,
        },
        Frame::Pong(NodeHealth {
            free_bytes: 1,
            capacity_bytes: 2,
            pieces: 3,
            uptime_secs: 4,
            cores: 5,
        }),
        Frame::Error(ErrorReply {
            code: ErrorCode::OutOfRange,
            detail: 77,
            message: "range past the end ✓".into(),
        }),
        Frame::Error(ErrorReply::new(ErrorCode::Other(200), "")),
    ]
}

#[test]
fn every_frame_round_trips_and_every_prefix_is_incomplete() {
    let mut kinds = std::collections::HashSet::new();
    for frame in sample_frames() {
        kinds.insert(frame.kind());
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        let (decoded, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(decoded, frame);
        assert_eq!(used, bytes.len());
        // Followed by more bytes, it still takes only its own.
        bytes.extend_from_slice(&[2, 0x80, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&bytes).unwrap().unwrap().1, used);
        let step = (used / 512).max(1);
        for cut in (0..used).step_by(step).chain([used - 1]) {
            assert_eq!(
                decode(&bytes[..cut]),
                Ok(None),
                "{:?} cut at {cut}",
                frame.kind()
            );
        }
    }
    assert_eq!(kinds.len(), 18, "every frame type is sampled");
}

#[test]
fn oversized_and_malformed_frames_are_refused_from_the_header() {
    // An 8-byte header saying 1 MiB + 1 of DATA: refused before any payload.
    let oversized = [2, 0x11, 0, 0, 1, 0, 0x10, 0];
    assert!(matches!(
        decode(&oversized),
        Err(ProtocolError::Length {
            kind: FrameType::Data,
            ..
        })
    ));
    // A PUT must be exactly one order long.
    let mut put = Vec::new();
    Frame::Put(order(PieceOperation::Put)).encode(&mut put);
    put[4] += 1;
    put.push(0);
    assert!(matches!(decode(&put), Err(ProtocolError::Length { .. })));
    // Fields: GET with start > end, a non-canonical STATED, a bad PAGE count.
    let mut get = Vec::new();
    Frame::Get {
        order: order(PieceOperation::Get),
        range: 1..2,
    }
    .encode(&mut get);
    let at = FRAME_HEADER_BYTES + 88;
    get[at..at + 8].copy_from_slice(&3u64.to_le_bytes());
    assert!(matches!(decode(&get), Err(ProtocolError::Field { .. })));
    let mut stated = Vec::new();
    Frame::Stated(None).encode(&mut stated);
    stated[FRAME_HEADER_BYTES + 1] = 1;
    assert!(matches!(decode(&stated), Err(ProtocolError::Field { .. })));
    let mut page = Vec::new();
    Frame::Page {
        ids: vec![id(1, 1)],
        more: false,
    }
    .encode(&mut page);
    page[FRAME_HEADER_BYTES + 1] = 2;
    assert!(matches!(decode(&page), Err(ProtocolError::Field { .. })));
    // An order with a reserved byte set, or an unknown operation.
    let mut bad_order = put.clone();
    bad_order.truncate(FRAME_HEADER_BYTES + 88);
    bad_order[4] -= 1;
    bad_order[FRAME_HEADER_BYTES + 1] = 9;
    assert!(matches!(
        decode(&bad_order),
        Err(ProtocolError::Field { .. })
    ));
    // Errors whose message is not UTF-8.
    let mut error = Vec::new();
    Frame::Error(ErrorReply::new(ErrorCode::Io, "ab")).encode(&mut error);
    *error.last_mut().unwrap() = 0xff;
    assert!(matches!(decode(&error), Err(ProtocolError::Field { .. })));
}

fn arb_order() -> impl Strategy<Value = SignedOrder> {
    (
        prop::sample::select(PieceOperation::ALL.to_vec()),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u64>(),
        any::<[u8; 16]>(),
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(operation, segment, piece, not_after, serial, mac)| SignedOrder {
                order: Order {
                    operation,
                    piece: PieceId {
                        segment: SegmentId(segment),
                        piece,
                    },
                    not_after,
                    serial,
                },
                mac,
            },
        )
}

fn arb_id() -> impl Strategy<Value = PieceId> {
    (any::<[u8; 16]>(), any::<u16>()).prop_map(|(segment, piece)| PieceId {
        segment: SegmentId(segment),
        piece,
    })
}

fn arb_frame() -> impl Strategy<Value = Frame<'static>> {
    prop_oneof![
        (any::<[u8; 16]>(), any::<u64>(), any::<[u8; 32]>()).prop_map(
            |(nonce, node_time_secs, proof)| Frame::Hello(Hello {
                nonce,
                node_time_secs,
                proof,
            })
        ),
        any::<[u8; 16]>().prop_map(Frame::Challenge),
        arb_order().prop_map(Frame::Put),
        any::<u64>().prop_map(|bytes| Frame::Commit { bytes }),
        (arb_order(), any::<u64>(), any::<u64>()).prop_map(|(order, a, b)| Frame::Get {
            order,
            range: a.min(b)..a.max(b)
        }),
        arb_order().prop_map(Frame::Delete),
        arb_order().prop_map(Frame::Stat),
        (arb_order(), prop::option::of(arb_id()), any::<u32>()).prop_map(
            |(order, after, limit)| Frame::List {
                order,
                after,
                limit
            }
        ),
        arb_order().prop_map(Frame::Ping),
        any::<u64>().prop_map(|bytes| Frame::Read { bytes }),
        prop::option::of(any::<u64>()).prop_map(Frame::Stated),
        (prop::collection::vec(arb_id(), 0..40), any::<bool>())
            .prop_map(|(ids, more)| Frame::Page { ids, more }),
        (any::<[u64; 4]>(), any::<u32>()).prop_map(|(v, cores)| Frame::Pong(NodeHealth {
            free_bytes: v[0],
            capacity_bytes: v[1],
            pieces: v[2],
            uptime_secs: v[3],
            cores
        })),
        (any::<u8>(), any::<u64>(), ".{0,40}").prop_map(|(code, detail, message)| {
            Frame::Error(ErrorReply {
                code: ErrorCode::from_byte(code),
                detail,
                message,
            })
        }),
        Just(Frame::Abort),
        Just(Frame::Ok),
        Just(Frame::Ready),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_decode_canonically(
        bytes in prop::collection::vec(any::<u8>(), 0..300)
    ) {
        if let Ok(Some((frame, used))) = decode(&bytes) {
            let mut again = Vec::new();
            frame.encode(&mut again);
            prop_assert_eq!(&again[..], &bytes[..used]);
        }
    }

    /// Arbitrary payloads behind a valid header, so every payload decoder is
    /// reached, not just the header check.
    #[test]
    fn arbitrary_payloads_never_panic_and_decode_canonically(
        kind in prop::sample::select(vec![
            0x01u8, 0x10, 0x11, 0x12, 0x13, 0x20, 0x30, 0x40, 0x50, 0x60,
            0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xee,
        ]),
        payload in prop::collection::vec(any::<u8>(), 0..160),
        exact in any::<bool>(),
    ) {
        let kind = FrameType::from_byte(kind).unwrap();
        let (min, max) = kind.payload_bounds();
        let mut payload = payload;
        if exact && max < 160 {
            payload.resize(min.max(payload.len().min(max)), 0);
        }
        let mut bytes = vec![1, kind as u8, 0, 0];
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&payload);
        if let Ok(Some(header)) = parse_header(&bytes) {
            if let Ok(frame) = decode_payload(header, &bytes[8..]) {
                let mut again = Vec::new();
                frame.encode(&mut again);
                prop_assert_eq!(again, bytes);
            }
        }
    }

    #[test]
    fn generated_frames_round_trip(frame in arb_frame()) {
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        let (decoded, used) = decode(&bytes).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(decoded, frame);
    }
}

// ---------------------------------------------------------------- orders

const NOW: u64 = 1_700_000_000;

#[test]
fn orders_are_checked_for_key_expiry_binding_operation_and_replay() {
    let key = ClusterKey::generate(&mut Os).node_key("n");
    let rules = OrderRules {
        skew_secs: 30,
        ttl_secs_max: 600,
    };
    let conn = [1u8; 16];
    let sign = |op, not_after| key.sign(Order::new(op, id(5, 1), not_after, &mut Os), &conn);
    let check = |signed: &SignedOrder, op, now| key.verify(signed, &conn, op, now, &rules).copied();

    let valid = sign(PieceOperation::Put, NOW + 60);
    assert_eq!(check(&valid, PieceOperation::Put, NOW), Ok(valid.order));
    // Within the skew after expiry: still accepted; beyond it: refused.
    assert!(check(&valid, PieceOperation::Put, NOW + 90).is_ok());
    assert!(matches!(
        check(&valid, PieceOperation::Put, NOW + 91),
        Err(OrderError::Expired { .. })
    ));
    assert!(matches!(
        check(
            &sign(PieceOperation::Put, NOW + 631),
            PieceOperation::Put,
            NOW
        ),
        Err(OrderError::TooFarAhead { .. })
    ));
    // Wrong key, another connection, tampered fields or MAC, another operation.
    let other_key = ClusterKey::generate(&mut Os).node_key("n");
    assert_eq!(
        other_key.verify(&valid, &conn, PieceOperation::Put, NOW, &rules),
        Err(OrderError::Unauthorized)
    );
    assert_eq!(
        key.verify(&valid, &[2; 16], PieceOperation::Put, NOW, &rules),
        Err(OrderError::Unauthorized)
    );
    let mut tampered = valid;
    tampered.order.piece.piece = 2;
    assert_eq!(
        check(&tampered, PieceOperation::Put, NOW),
        Err(OrderError::Unauthorized)
    );
    let mut tampered = valid;
    tampered.order.not_after += 3600;
    assert_eq!(
        check(&tampered, PieceOperation::Put, NOW),
        Err(OrderError::Unauthorized)
    );
    let mut tampered = valid;
    tampered.mac[31] ^= 1;
    assert_eq!(
        check(&tampered, PieceOperation::Put, NOW),
        Err(OrderError::Unauthorized)
    );
    assert!(matches!(
        check(&valid, PieceOperation::Delete, NOW),
        Err(OrderError::WrongOperation { .. })
    ));
    // Replays: put and delete serials are admitted once; reads are not tracked.
    let mut guard = ReplayGuard::new(100);
    let verified = check(&valid, PieceOperation::Put, NOW).unwrap();
    assert_eq!(guard.admit(&verified, NOW, &rules), Ok(()));
    assert_eq!(
        guard.admit(&verified, NOW, &rules),
        Err(OrderError::Replayed)
    );
    let delete = check(
        &sign(PieceOperation::Delete, NOW + 60),
        PieceOperation::Delete,
        NOW,
    )
    .unwrap();
    assert_eq!(guard.admit(&delete, NOW, &rules), Ok(()));
    assert_eq!(
        guard.admit(&delete, NOW + 5, &rules),
        Err(OrderError::Replayed)
    );
    let get = check(
        &sign(PieceOperation::Get, NOW + 60),
        PieceOperation::Get,
        NOW,
    )
    .unwrap();
    assert_eq!(guard.admit(&get, NOW, &rules), Ok(()));
    assert_eq!(guard.admit(&get, NOW, &rules), Ok(()));
    assert_eq!(guard.len(), 2);
    // Unsigned: an all-zero MAC never verifies.
    let mut unsigned = valid;
    unsigned.mac = [0; 32];
    assert_eq!(
        check(&unsigned, PieceOperation::Put, NOW),
        Err(OrderError::Unauthorized)
    );
}

// ---------------------------------------------------------------- nodes

struct TestNode {
    server: Option<NodeServer>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl TestNode {
    fn start(key: &Arc<NodeKey>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(key, dir, "127.0.0.1:0".parse().unwrap(), 1)
    }

    fn start_in(
        key: &Arc<NodeKey>,
        dir: tempfile::TempDir,
        addr: SocketAddr,
        cores: usize,
    ) -> Self {
        let mut config = NodeConfig::new(addr, dir.path().join("pieces"), key.clone());
        config.cores = cores;
        config.limits.shutdown_grace = Duration::from_secs(2);
        let server = NodeServer::start(config).expect("node starts");
        Self {
            addr: server.addr(),
            server: Some(server),
            dir,
        }
    }

    fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }

    /// Temporary files left in the node's directory.
    fn temp_files(&self) -> usize {
        let root = self.dir.path().join("pieces");
        std::fs::read_dir(&root)
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    }
}

/// A put longer than the node's piece limit is refused part way and leaves
/// nothing; one within it still goes through on the same node.
#[test]
fn a_put_past_the_piece_limit_is_refused_and_leaves_nothing() {
    let key = test_key();
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::new("127.0.0.1:0".parse().unwrap(), dir.path(), key.clone());
    config.limits.piece_bytes_max = 1 << 20;
    let node = NodeServer::start(config).unwrap();
    let addr = node.addr();
    run(move || async move {
        let store = RemoteStore::new(addr, key, fast_config());
        let big = data(3 << 20, 7);
        let refused = put(&store, id(1, 0), &big, 256 << 10).await;
        assert!(
            refused.is_err(),
            "a 3 MiB piece past a 1 MiB limit was stored"
        );
        assert!(
            eventually(Duration::from_secs(5), async || {
                store.stat(id(1, 0)).await.unwrap().is_none()
            })
            .await
        );
        put(&store, id(2, 0), &big[..1 << 20], 256 << 10)
            .await
            .unwrap();
        assert_eq!(store.list().await.unwrap(), vec![id(2, 0)]);
    });
    drop(node);
}

fn fast_config() -> RemoteConfig {
    RemoteConfig {
        connect_timeout: Duration::from_secs(1),
        io_timeout: Duration::from_secs(3),
        commit_timeout: Duration::from_secs(10),
        ..RemoteConfig::default()
    }
}

async fn put(
    store: &dyn PieceStore,
    id: PieceId,
    bytes: &[u8],
    write: usize,
) -> Result<(), StoreError> {
    let mut writer = store.create(id).await?;
    for chunk in bytes.chunks(write) {
        writer.write(chunk).await?;
    }
    writer.commit().await
}

/// Polls `check` until it holds or `limit` passes.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn remote_store_round_trips_pieces() {
    let key = test_key();
    let node = TestNode::start(&key);
    let addr = node.addr;
    run(move || async move {
        let store = RemoteStore::new(
            addr,
            key,
            RemoteConfig {
                list_page_ids: 2,
                ..fast_config()
            },
        );
        assert_eq!(store.name(), addr.to_string());
        let big = data(3 * DATA_BYTES_MAX + 5, 1);
        put(&store, id(1, 0), &big, 100_000).await.unwrap();
        // One write larger than a DATA frame is split into several.
        put(&store, id(1, 1), &big, big.len()).await.unwrap();
        put(&store, id(2, 3), b"small", 5).await.unwrap();
        put(&store, id(0, 9), b"", 1).await.unwrap();
        put(&store, id(3, 0), &big[..4096], 4096).await.unwrap();
        let len = big.len() as u64;
        assert_eq!(store.stat(id(1, 0)).await.unwrap().unwrap().bytes, len);
        assert_eq!(store.stat(id(0, 9)).await.unwrap().unwrap().bytes, 0);
        assert_eq!(store.stat(id(9, 9)).await.unwrap(), None);
        assert_eq!(&*store.read(id(1, 1), 0..len).await.unwrap(), &big[..]);
        let mib = DATA_BYTES_MAX as u64;
        for range in [
            0..1,
            len - 1..len,
            mib - 3..mib + 3,
            5..5,
            7..2 * mib + 11,
            len..len,
        ] {
            let got = store.read(id(1, 0), range.clone()).await.unwrap();
            assert_eq!(
                &*got,
                &big[range.start as usize..range.end as usize],
                "{range:?}"
            );
        }
        match store.read(id(1, 0), 10..len + 1).await {
            Err(StoreError::OutOfRange {
                len: got,
                range,
                store: name,
                ..
            }) => {
                assert_eq!((got, range, name), (len, 10..len + 1, addr.to_string()))
            }
            other => panic!("{other:?}"),
        }
        #[allow(clippy::reversed_empty_ranges)]
        let inverted = store.read(id(1, 0), 9..3).await;
        assert!(matches!(inverted, Err(StoreError::OutOfRange { len: got, .. }) if got == len));
        assert!(matches!(
            store.read(id(9, 9), 0..1).await,
            Err(StoreError::NotFound { .. })
        ));
        // Five pieces, in pages of two, in id order.
        let listed = store.list().await.unwrap();
        assert_eq!(
            listed,
            vec![id(0, 9), id(1, 0), id(1, 1), id(2, 3), id(3, 0)]
        );
        let (page, more) = store.list_page(Some(id(1, 1)), 100).await.unwrap();
        assert_eq!((page, more), (vec![id(2, 3), id(3, 0)], false));
        store.delete(id(1, 1)).await.unwrap();
        store.delete(id(1, 1)).await.unwrap();
        store.delete(id(7, 7)).await.unwrap();
        assert_eq!(store.stat(id(1, 1)).await.unwrap(), None);
        let health = store.ping().await.unwrap();
        assert_eq!(health.cores, 1);
        assert_eq!(health.pieces, 4, "five committed, one deleted");
        assert!(health.free_bytes > 0 && health.capacity_bytes >= health.free_bytes);
        // Everything above, errors included, went over one reused connection.
        assert_eq!(store.connections_open(), 1);
        // Concurrent requests open more, up to the pool's limits.
        let reads: Vec<_> = (0..6).map(|_| store.read(id(1, 0), 0..len)).collect();
        for read in join_all(reads).await {
            assert_eq!(read.unwrap().len(), big.len());
        }
        assert!(store.connections_open() > 1);
    });
    drop(node);
}

/// Awaits every future, concurrently, in order.
async fn join_all<T>(futures: Vec<impl std::future::Future<Output = T>>) -> Vec<T> {
    let tasks: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out = Vec::new();
    let mut pending: Vec<_> = tasks.into_iter().map(Some).collect();
    let mut results: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().map(Option::unwrap));
    out
}

#[test]
fn abandoned_and_aborted_writers_leave_nothing() {
    let key = test_key();
    let node = TestNode::start(&key);
    let addr = node.addr;
    run(move || async move {
        let store = RemoteStore::new(addr, key, fast_config());
        // Dropped after some writes: the connection closes, the node discards.
        let mut writer = store.create(id(1, 0)).await.unwrap();
        writer.write(&data(2 << 20, 2)).await.unwrap();
        drop(writer);
        // Aborted: said on the wire; the connection stays for reuse.
        let mut writer = store.create(id(1, 1)).await.unwrap();
        writer.write(&data(100_000, 3)).await.unwrap();
        writer.abort().await.unwrap();
        // A write dropped part way: the piece may not be committed.
        let mut writer = store.create(id(1, 2)).await.unwrap();
        // Far more than the socket buffers take, so the write cannot finish
        // in one poll.
        let big = data(64 << 20, 4);
        assert!(futures_lite::future::poll_once(writer.write(&big))
            .await
            .is_none());
        let err = writer.commit().await.unwrap_err().to_string();
        assert!(err.contains("incomplete"), "{err}");
        let clean = eventually(Duration::from_secs(3), async || {
            store.list().await.unwrap().is_empty() && node.temp_files() == 0
        })
        .await;
        assert!(clean, "no piece and no temporary file is left");
        for piece in 0..3 {
            assert_eq!(store.stat(id(1, piece)).await.unwrap(), None);
        }
        put(&store, id(1, 0), b"after", 5).await.unwrap();
        assert_eq!(&*store.read(id(1, 0), 0..5).await.unwrap(), b"after");
    });
}

/// A blocking raw client, to send what `RemoteStore` never would.
struct Raw {
    stream: StdStream,
    nonce: [u8; 16],
}

impl Raw {
    fn connect(addr: SocketAddr) -> Self {
        let stream = StdStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut raw = Raw {
            stream,
            nonce: [0; 16],
        };
        raw.send_frame(&Frame::Challenge([4; 16]));
        match raw.frame() {
            Some(Frame::Hello(hello)) => raw.nonce = hello.nonce,
            other => panic!("expected HELLO, got {other:?}"),
        }
        raw
    }

    /// The next frame, or `None` at end of stream.
    fn frame(&mut self) -> Option<Frame<'static>> {
        let mut header = [0u8; FRAME_HEADER_BYTES];
        if self.stream.read_exact(&mut header).is_err() {
            return None;
        }
        let header = parse_header(&header).unwrap().unwrap();
        let mut payload = vec![0u8; header.len];
        self.stream.read_exact(&mut payload).unwrap();
        Some(
            decode_payload(header, &payload)
                .unwrap()
                .into_owned()
                .unwrap(),
        )
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn send_frame(&mut self, frame: &Frame<'_>) {
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        self.send(&bytes);
    }

    fn expect_error(&mut self, code: ErrorCode) {
        match self.frame() {
            Some(Frame::Error(reply)) => assert_eq!(reply.code, code, "{reply:?}"),
            other => panic!("expected ERROR {code:?}, got {other:?}"),
        }
    }

    fn expect_closed(&mut self) {
        assert!(self.frame().is_none(), "the node closes the connection");
    }
}

#[test]
fn garbage_and_forged_requests_get_an_error_and_the_node_keeps_serving() {
    let key = test_key();
    let node = TestNode::start(&key);
    let addr = node.addr;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    // An HTTP client on the node port.
    let mut raw = Raw::connect(addr);
    raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    raw.expect_error(ErrorCode::Malformed);
    raw.expect_closed();
    // An oversized DATA header is refused before its payload is sent.
    let mut raw = Raw::connect(addr);
    raw.send(&[2, 0x11, 0, 0, 0, 0, 0, 1]);
    raw.expect_error(ErrorCode::Malformed);
    raw.expect_closed();
    // A frame that is not a request, and DATA outside a put.
    let mut raw = Raw::connect(addr);
    raw.send_frame(&Frame::Ok);
    raw.expect_error(ErrorCode::Unexpected);
    raw.expect_closed();
    let mut raw = Raw::connect(addr);
    raw.send_frame(&Frame::Data(b"stray"));
    raw.expect_error(ErrorCode::Unexpected);
    raw.expect_closed();
    // Orders: wrong key, unsigned, expired.
    let mut raw = Raw::connect(addr);
    let forged = ClusterKey::generate(&mut Os).node_key(TEST_NODE).sign(
        Order::new(PieceOperation::Put, id(1, 0), now() + 60, &mut Os),
        &raw.nonce,
    );
    raw.send_frame(&Frame::Put(forged));
    raw.expect_error(ErrorCode::Unauthorized);
    raw.expect_closed();
    let mut raw = Raw::connect(addr);
    let mut unsigned = key.sign(
        Order::new(PieceOperation::Stat, id(1, 0), now() + 60, &mut Os),
        &raw.nonce,
    );
    unsigned.mac = [0; 32];
    raw.send_frame(&Frame::Stat(unsigned));
    raw.expect_error(ErrorCode::Unauthorized);
    raw.expect_closed();
    let mut raw = Raw::connect(addr);
    let expired = key.sign(
        Order::new(PieceOperation::Stat, id(1, 0), now() - 3600, &mut Os),
        &raw.nonce,
    );
    raw.send_frame(&Frame::Stat(expired));
    raw.expect_error(ErrorCode::Expired);
    raw.expect_closed();
    // A replayed delete on the same connection, and the same order on another
    // connection (which may land on another core): both refused.
    let mut raw = Raw::connect(addr);
    let delete = Frame::Delete(key.sign(
        Order::new(PieceOperation::Delete, id(1, 0), now() + 60, &mut Os),
        &raw.nonce,
    ));
    raw.send_frame(&delete);
    assert_eq!(raw.frame(), Some(Frame::Ok));
    let mut elsewhere = Raw::connect(addr);
    elsewhere.send_frame(&delete);
    elsewhere.expect_error(ErrorCode::Unauthorized);
    raw.send_frame(&delete);
    raw.expect_error(ErrorCode::Replayed);
    raw.expect_closed();
    // A put cut off inside a DATA frame, and one committed with a wrong count.
    let mut raw = Raw::connect(addr);
    raw.send_frame(&Frame::Put(key.sign(
        Order::new(PieceOperation::Put, id(2, 0), now() + 60, &mut Os),
        &raw.nonce,
    )));
    assert_eq!(raw.frame(), Some(Frame::Ready));
    let mut partial = Vec::new();
    Frame::Data(&[7; 1000]).encode(&mut partial);
    raw.send(&partial[..600]);
    drop(raw);
    let mut raw = Raw::connect(addr);
    raw.send_frame(&Frame::Put(key.sign(
        Order::new(PieceOperation::Put, id(2, 1), now() + 60, &mut Os),
        &raw.nonce,
    )));
    assert_eq!(raw.frame(), Some(Frame::Ready));
    raw.send_frame(&Frame::Data(&[7; 1000]));
    raw.send_frame(&Frame::Commit { bytes: 999 });
    match raw.frame() {
        Some(Frame::Error(reply)) => {
            assert_eq!(
                (reply.code, reply.detail),
                (ErrorCode::LengthMismatch, 1000)
            )
        }
        other => panic!("{other:?}"),
    }
    // That connection is still in step: a stat works on it.
    raw.send_frame(&Frame::Stat(key.sign(
        Order::new(PieceOperation::Stat, id(2, 1), now() + 60, &mut Os),
        &raw.nonce,
    )));
    assert_eq!(raw.frame(), Some(Frame::Stated(None)));

    run(move || async move {
        let store = RemoteStore::new(addr, key, fast_config());
        put(&store, id(3, 0), b"still serving", 4).await.unwrap();
        assert_eq!(&*store.read(id(3, 0), 6..13).await.unwrap(), b"serving");
        assert_eq!(
            store.list().await.unwrap(),
            vec![id(3, 0)],
            "nothing half-written is visible"
        );
    });
    drop(node);
}

#[test]
fn dead_nodes_fail_fast_and_restarted_ones_are_reconnected() {
    let key = test_key();
    // Accepts connections in the kernel's backlog but never answers.
    let silent = StdListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    // Nothing listens here.
    let refused_addr = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_owned();
    let node = TestNode::start_in(&key, dir, "127.0.0.1:0".parse().unwrap(), 1);
    let addr = node.addr;
    run(move || async move {
        let quick = RemoteConfig {
            io_timeout: Duration::from_millis(300),
            ..fast_config()
        };
        let started = Instant::now();
        let silent_store = RemoteStore::new(silent_addr, key.clone(), quick.clone());
        match silent_store.stat(id(1, 1)).await {
            Err(e @ StoreError::Timeout { .. }) => {
                assert!(e.to_string().contains(&silent_addr.to_string()))
            }
            other => panic!("{other:?}"),
        }
        let refused = RemoteStore::new(refused_addr, key.clone(), quick);
        assert!(matches!(
            refused.create(id(1, 1)).await,
            Err(StoreError::Io { .. })
        ));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );

        // A node restarted on the same port and directory: the pooled
        // connection is dead, the store reconnects, the piece is still there.
        let store = RemoteStore::new(addr, key.clone(), fast_config());
        put(&store, id(4, 0), b"durable", 7).await.unwrap();
        assert_eq!(store.connections_open(), 1);
        let mut node = node;
        node.stop();
        let dir = std::mem::replace(&mut node.dir, tempfile::tempdir().unwrap());
        let restarted = TestNode::start_in(&key, dir, addr, 2);
        assert_eq!(restarted.dir.path(), dir_path);
        assert_eq!(&*store.read(id(4, 0), 0..7).await.unwrap(), b"durable");
        // Two cores: connections land on either; all of them serve.
        let stats: Vec<_> = (0..8).map(|_| store.stat(id(4, 0))).collect();
        for stat in join_all(stats).await {
            assert_eq!(stat.unwrap().unwrap().bytes, 7);
        }
        assert_eq!(store.ping().await.unwrap().cores, 2);
        drop(restarted);
    });
    drop(silent);
}

#[test]
fn excess_and_idle_connections_are_closed() {
    let key = test_key();
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::new("127.0.0.1:0".parse().unwrap(), dir.path(), key.clone());
    config.limits.connections_per_core_max = 1;
    config.limits.idle_timeout = Duration::from_millis(300);
    let node = NodeServer::start(config).unwrap();
    let mut first = Raw::connect(node.addr());
    // Over the limit: told why, then closed.
    let mut second = StdStream::connect(node.addr()).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    second.read_to_end(&mut reply).unwrap();
    match decode(&reply) {
        Ok(Some((Frame::Error(e), _))) => assert_eq!(e.code, ErrorCode::Busy),
        other => panic!("{other:?}"),
    }
    // Idle past the timeout: closed, and its slot is free again.
    let started = Instant::now();
    first.expect_closed();
    assert!(started.elapsed() < Duration::from_secs(2));
    // The slot frees once the node's connection task has ended.
    let mut third = loop {
        let mut raw = Raw {
            stream: StdStream::connect(node.addr()).unwrap(),
            nonce: [0; 16],
        };
        raw.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        raw.send_frame(&Frame::Challenge([4; 16]));
        match raw.frame() {
            Some(Frame::Hello(hello)) => {
                raw.nonce = hello.nonce;
                break raw;
            }
            Some(Frame::Error(e)) if e.code == ErrorCode::Busy => {
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "the slot never freed"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            other => panic!("{other:?}"),
        }
    };
    let ping = key.sign(
        Order::new(PieceOperation::Ping, NODE_SCOPE, u64::MAX / 2, &mut Os),
        &third.nonce,
    );
    third.send_frame(&Frame::Ping(ping));
    third.expect_error(ErrorCode::Expired);
    drop(node);
}

/// Issue 15, finding 5: a gateway dials node a; what answers holds node b's
/// key (a compromised node b at a's address, or an impostor relaying b's
/// HELLO). The HELLO proves b's name, not a's: refused before any order is
/// signed. With a's key, the same node is served.
#[test]
fn a_node_that_cannot_prove_the_dialled_name_is_refused() {
    let cluster = ClusterKey::generate(&mut Os);
    let b = Arc::new(cluster.node_key("node-b"));
    let node = TestNode::start(&b);
    let addr = node.addr;
    let a = Arc::new(cluster.node_key("node-a"));
    run(move || async move {
        let error = RemoteStore::new(addr, a, fast_config())
            .ping()
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("does not hold the key of node"),
            "{error}"
        );
        let health = RemoteStore::new(addr, b, fast_config()).ping().await;
        assert!(health.is_ok(), "{health:?}");
    });
    drop(node);
}

/// Issue 15, finding 4: node a's key is all a compromised node a holds; no
/// order it signs, over node b's own connection nonce, moves node b.
#[test]
fn one_node_key_cannot_order_another_node() {
    let cluster = ClusterKey::generate(&mut Os);
    let node = TestNode::start(&Arc::new(cluster.node_key("node-b")));
    let stolen = cluster.node_key("node-a");
    let mut raw = Raw::connect(node.addr);
    let not_after = ringgate::clock::unix_now_secs() + 60;
    let delete = stolen.sign(
        Order::new(PieceOperation::Delete, id(1, 0), not_after, &mut Os),
        &raw.nonce,
    );
    raw.send_frame(&Frame::Delete(delete));
    raw.expect_error(ErrorCode::Unauthorized);
    raw.expect_closed();
    drop(node);
}

#[test]
fn node_args_resolve_with_an_issued_node_key() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        node: NodeArgs,
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let args = |extra: &[&str]| {
        let mut argv = vec![
            "node",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|cli| cli.node)
    };
    // A node holds no key until one is issued for it: it never makes one.
    assert!(args(&[]).unwrap().resolve().is_err());
    std::fs::create_dir_all(&data).unwrap();
    let cluster = ClusterKey::generate(&mut Os);
    let issued = cluster.node_key("10.0.0.5:7070");
    ringgate::pieces::wire::key_file::create_node_key(&data.join("node.key"), &issued).unwrap();
    let config = args(&["--cores", "2"]).unwrap().resolve().unwrap();
    assert_eq!(config.cores, 2);
    assert_eq!(config.key.name(), "10.0.0.5:7070");
    let order = Order::new(PieceOperation::Ping, NODE_SCOPE, NOW, &mut Os);
    assert_eq!(
        config.key.sign(order, &[0; 16]),
        issued.sign(order, &[0; 16])
    );
    assert!(args(&["--cores", "0"]).unwrap().resolve().is_err());
    assert!(args(&["--node-key", "/nonexistent/key"])
        .unwrap()
        .resolve()
        .is_err());
    assert!(
        Cli::try_parse_from(["node", "--data", "x"]).is_err(),
        "--listen is required"
    );
}

// ---------------------------------------------------------------- end to end

struct Cluster {
    stores: Rc<StoreSet>,
    config: Rc<PipelineConfig>,
}

impl Cluster {
    fn new(addrs: &[SocketAddr], key: &Arc<NodeKey>, k: usize, o: usize, n: usize) -> Self {
        let stores: Vec<Rc<dyn PieceStore>> = addrs
            .iter()
            .map(|&addr| {
                Rc::new(RemoteStore::new(addr, key.clone(), fast_config())) as Rc<dyn PieceStore>
            })
            .collect();
        // 4 KiB shares, k=4: 16368 plaintext bytes per stripe, 4 stripes per segment.
        let layout = Layout::new(
            ErasureParams {
                required: k,
                optimal: o,
                total: n,
            },
            4096,
            4 * 16368,
        )
        .unwrap();
        let mut config = PipelineConfig::new(layout);
        config.chunk_bytes = 16 * 1024;
        config.window_bytes = 64 * 1024;
        // Long enough that every live node lands its piece.
        config.linger = Duration::from_secs(2);
        config.hedge.piece_timeout = Duration::from_millis(500);
        Cluster {
            stores: Rc::new(StoreSet::from_stores(stores)),
            config: Rc::new(config),
        }
    }

    async fn put(&self, data: &[u8]) -> Result<StoredObject, ringgate::object_io::ObjectError> {
        let mut w = ObjectWriter::new(
            self.config.clone(),
            self.stores.clone(),
            DigestRequest {
                md5: false,
                checksum: None,
            },
        )?;
        for chunk in data.chunks(10_000) {
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

    async fn pieces_on(&self, nodes: &[usize]) -> usize {
        let mut total = 0;
        for &i in nodes {
            total += self
                .stores
                .get(i as u32)
                .unwrap()
                .list()
                .await
                .unwrap()
                .len();
        }
        total
    }
}

#[test]
fn objects_survive_stopped_nodes_and_failed_writes_leave_nothing() {
    let key = test_key();
    let nodes: Vec<TestNode> = (0..8).map(|_| TestNode::start(&key)).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    run(move || async move {
        let mut nodes = nodes;
        let c = Cluster::new(&addrs, &key, 4, 6, 8);
        let plain = data(300_000, 7);
        let stored = c.put(&plain).await.unwrap();
        let segments: Vec<_> = stored
            .extents
            .iter()
            .map(|e| match e {
                BodyExtent::Segment(s) => s,
                BodyExtent::Inline { .. } => panic!("300 kB is not inline"),
            })
            .collect();
        assert_eq!(segments.len(), 5, "a multi-segment object");
        assert!(segments.iter().all(|s| s.pieces.len() >= 6));
        let len = plain.len() as u64;
        assert_eq!(c.get(&stored.extents, 0..len).await.unwrap(), plain);
        assert_eq!(
            c.get(&stored.extents, 65_000..200_000).await.unwrap(),
            &plain[65_000..200_000]
        );

        // Stop the nodes holding data pieces 0 and 1 of the first segment, so
        // the read must decode from parity.
        let holder = |piece: u16| {
            segments[0]
                .pieces
                .iter()
                .find(|p| p.piece == piece)
                .map(|p| p.store as usize)
        };
        let mut stopped: Vec<usize> = [0u16, 1].iter().filter_map(|&p| holder(p)).collect();
        for i in 2..8 {
            if stopped.len() == 2 {
                break;
            }
            if !stopped.contains(&i) {
                stopped.push(i);
            }
        }
        for &i in &stopped {
            nodes[i].stop();
        }
        assert_eq!(c.get(&stored.extents, 0..len).await.unwrap(), plain);
        assert_eq!(
            c.get(&stored.extents, 100_000..100_100).await.unwrap(),
            &plain[100_000..100_100]
        );

        // A third node down: 5 live, o = 6. The write fails and whatever it
        // committed on the live nodes is deleted again.
        let third = (0..8).find(|i| !stopped.contains(i)).unwrap();
        nodes[third].stop();
        stopped.push(third);
        let live: Vec<usize> = (0..8).filter(|i| !stopped.contains(i)).collect();
        let before = c.pieces_on(&live).await;
        let err = match c.put(&data(200_000, 8)).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a write to 5 live nodes with o = 6 must fail"),
        };
        assert!(err.contains("required"), "{err}");
        let cleaned = eventually(Duration::from_secs(5), async || {
            c.pieces_on(&live).await == before
        })
        .await;
        assert!(
            cleaned,
            "{} pieces left behind",
            c.pieces_on(&live).await - before
        );
        let temps = eventually(Duration::from_secs(3), async || {
            live.iter().all(|&i| nodes[i].temp_files() == 0)
        })
        .await;
        assert!(temps, "no temporary files on the live nodes");
        // The stored object is still readable from the five live nodes.
        assert_eq!(c.get(&stored.extents, 0..len).await.unwrap(), plain);
        drop(c);
        // Removing a node's 256 fan-out directories is slow on some file
        // systems (about 0.7 s here); in parallel it is mostly overlap.
        std::thread::scope(|scope| {
            for node in nodes {
                scope.spawn(move || drop(node));
            }
        });
    });
}

// ---------------------------------------------------------------- throughput

/// Loopback throughput of one `RemoteStore` put and get of a 64 MiB piece
/// (one node core, one client core), next to the same through a `LocalStore`
/// on the same disk. Run with
/// `cargo test --release --test node -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput_of_a_64_mib_piece() {
    const PIECE: usize = 64 << 20;
    const WRITE: usize = 256 << 10;
    let key = test_key();
    let mut config = NodeConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        tempfile::tempdir_in(".").unwrap().keep().join("pieces"),
        key.clone(),
    );
    config.pin_cores = true;
    let data_dir = config.data.clone();
    let local_dir = data_dir.with_file_name("local");
    let server = NodeServer::start(config).unwrap();
    let addr = server.addr();
    let cpus = std::thread::available_parallelism().unwrap().get();
    let client = if cpus > 1 {
        glommio::Placement::Fixed(1)
    } else {
        glommio::Placement::Unbound
    };
    glommio::LocalExecutorBuilder::new(client)
        .spawn(move || async move {
            let bytes = data(PIECE, 11);
            let remote = RemoteStore::new(addr, key, RemoteConfig::default());
            let local = ringgate::pieces::LocalStore::open(local_dir).await.unwrap();
            let stores: [(&str, &dyn PieceStore); 2] = [("remote", &remote), ("local", &local)];
            for (name, store) in stores {
                let mut puts = Vec::new();
                let mut gets = Vec::new();
                for round in 0..5u16 {
                    let piece = id(0x64, round);
                    let start = Instant::now();
                    put(store, piece, &bytes, WRITE).await.unwrap();
                    puts.push(PIECE as f64 / start.elapsed().as_secs_f64() / 1e6);
                    let start = Instant::now();
                    let got = store.read(piece, 0..PIECE as u64).await.unwrap();
                    gets.push(PIECE as f64 / start.elapsed().as_secs_f64() / 1e6);
                    assert_eq!(got.len(), PIECE);
                    assert!(*got == bytes[..]);
                    store.delete(piece).await.unwrap();
                }
                let summary = |v: &mut Vec<f64>| {
                    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    format!(
                        "median {:.0} MB/s (min {:.0}, max {:.0})",
                        v[v.len() / 2],
                        v[0],
                        v[v.len() - 1]
                    )
                };
                println!("{name:6} put 64 MiB: {}", summary(&mut puts));
                println!("{name:6} get 64 MiB: {}", summary(&mut gets));
            }
        })
        .unwrap()
        .join()
        .unwrap();
    drop(server);
    let _ = std::fs::remove_dir_all(data_dir.parent().unwrap());
}
