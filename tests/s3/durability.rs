//! Large objects, damaged piece stores and crashes: a 300 MiB object streamed
//! up and down across segments, ranges across segment boundaries, reads that
//! survive lost and corrupt pieces, and kill -9 in the middle of a PUT.

use std::io::Write;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{
    bytes, get_bytes, md5_hex, put_bytes, set_versioning, unsigned_put_head, Server,
};

#[tokio::test(flavor = "multi_thread")]
async fn large_object_streams_up_and_down() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("big").send().await.unwrap();
    let data = bytes(300 << 20, 11);
    let put = s3
        .put_object()
        .bucket("big")
        .key("300mib")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.e_tag(),
        Some(format!("\"{}\"", md5_hex(&data)).as_str())
    );
    // Five segments of 64 MiB on six stores: at least five pieces each.
    assert!(server.piece_files().len() >= 5 * 5);
    let got = get_bytes(&s3, "big", "300mib", None).await;
    assert_eq!(got.len(), data.len());
    assert!(got == data, "300 MiB object read back differs");
    let boundary = 64 << 20;
    for (a, b) in [
        (boundary - 3, boundary + 2),
        (2 * boundary - 1, 2 * boundary),
        (0, 10),
    ] {
        let range = get_bytes(&s3, "big", "300mib", Some(format!("bytes={a}-{b}"))).await;
        assert_eq!(range, &data[a..=b], "{a}-{b}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_across_many_segments() {
    // Tiny segments and shares: a 3 MB object spans dozens of segments.
    let server = Server::start(&["--segment-size", "65536", "--share-size", "4096"]);
    let s3 = server.client();
    s3.create_bucket().bucket("rng").send().await.unwrap();
    let data = bytes(3_000_000, 12);
    put_bytes(&s3, "rng", "k", &data).await;
    assert_eq!(get_bytes(&s3, "rng", "k", None).await, data);
    let mut x = 7u64;
    for _ in 0..40 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let a = (x >> 33) as usize % data.len();
        let b = (a + (x as usize % 300_000)).min(data.len() - 1);
        let range = get_bytes(&s3, "rng", "k", Some(format!("bytes={a}-{b}"))).await;
        assert_eq!(range, &data[a..=b], "{a}-{b}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_survive_lost_and_corrupt_piece_stores() {
    let server = Server::start(&["--erasure", "4/6/6", "--segment-size", "1048576"]);
    let s3 = server.client();
    s3.create_bucket().bucket("dmg").send().await.unwrap();
    let data = bytes(5_000_000, 13);
    put_bytes(&s3, "dmg", "k", &data).await;
    let pieces = server.piece_files();
    let store = |i: usize| format!("/stores/{i}/");
    // Store 0 loses every piece; store 3 has every piece corrupted mid-file.
    let (mut lost, mut corrupted) = (0, 0);
    for path in &pieces {
        let text = path.display().to_string();
        if text.contains(&store(0)) {
            std::fs::remove_file(path).unwrap();
            lost += 1;
        } else if text.contains(&store(3)) {
            let mut bytes = std::fs::read(path).unwrap();
            let mid = bytes.len() / 2;
            for b in &mut bytes[mid..mid + 64] {
                *b ^= 0x5a;
            }
            std::fs::write(path, bytes).unwrap();
            corrupted += 1;
        }
    }
    assert!(
        lost > 0 && corrupted > 0,
        "{lost} lost, {corrupted} corrupted"
    );
    assert_eq!(get_bytes(&s3, "dmg", "k", None).await, data);
    let range = get_bytes(&s3, "dmg", "k", Some("bytes=1048000-3100000".into())).await;
    assert_eq!(range, &data[1_048_000..=3_100_000]);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_during_put_keeps_the_old_version_and_leaks_nothing() {
    kill_during_put(false).await;
}

/// On a versioned bucket: exactly the versions before the crash, none half made.
#[tokio::test(flavor = "multi_thread")]
async fn kill_during_a_versioned_put_keeps_exactly_the_old_versions() {
    kill_during_put(true).await;
}

async fn kill_during_put(versioned: bool) {
    let mut server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("chk").send().await.unwrap();
    let older = bytes(1 << 20, 13);
    if versioned {
        let enabled = aws_sdk_s3::types::BucketVersioningStatus::Enabled;
        set_versioning(&s3, "chk", enabled).await;
        put_bytes(&s3, "chk", "k", &older).await;
    }
    let old = bytes(20 << 20, 14);
    put_bytes(&s3, "chk", "k", &old).await;
    let pieces_of_old = server.piece_files();

    // A new version of 200 MiB: send 150 MiB of it, then kill -9 the server.
    let head = unsigned_put_head(&server, "/chk/k", 200 << 20);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = bytes(1 << 20, 15);
    for i in 0..150 {
        if let Err(e) = stream.write_all(&chunk) {
            let mut answer = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
            panic!("after {i} MiB: {e}: {}", String::from_utf8_lossy(&answer));
        }
    }
    // Let the gateway turn what it received into pieces before it dies.
    std::thread::sleep(Duration::from_millis(500));
    server.kill_hard();
    drop(stream);

    server.launch();
    let s3 = server.client();
    let head = s3
        .head_object()
        .bucket("chk")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(old.len() as i64));
    assert_eq!(get_bytes(&s3, "chk", "k", None).await, old);
    let listed = s3.list_objects_v2().bucket("chk").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    let versions = s3
        .list_object_versions()
        .bucket("chk")
        .send()
        .await
        .unwrap();
    let sizes: Vec<_> = versions.versions().iter().map(|v| v.size()).collect();
    if versioned {
        assert_eq!(sizes, [Some(old.len() as i64), Some(older.len() as i64)]);
        let first = versions.versions()[1].version_id().unwrap().to_string();
        let body = s3
            .get_object()
            .bucket("chk")
            .key("k")
            .version_id(first)
            .send()
            .await
            .unwrap();
        assert_eq!(body.body.collect().await.unwrap().into_bytes(), older);
    } else {
        assert_eq!(sizes, [Some(old.len() as i64)]);
    }
    // The start-up sweep removed every piece the dead upload had written.
    assert_eq!(server.piece_files(), pieces_of_old);
}

#[tokio::test(flavor = "multi_thread")]
async fn overwritten_and_deleted_objects_release_their_pieces() {
    let server = Server::start(&["--gc-delay-secs", "0"]);
    let s3 = server.client();
    s3.create_bucket().bucket("gcb").send().await.unwrap();
    for seed in 0..3 {
        put_bytes(&s3, "gcb", "k", &bytes(3 << 20, seed)).await;
    }
    put_bytes(&s3, "gcb", "other", &bytes(3 << 20, 9)).await;
    s3.delete_object()
        .bucket("gcb")
        .key("other")
        .send()
        .await
        .unwrap();
    // Only the last version of k remains: one segment, at most six pieces.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = server.piece_files().len();
        if n <= 6 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} piece files remain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get_bytes(&s3, "gcb", "k", None).await, bytes(3 << 20, 2));
}
