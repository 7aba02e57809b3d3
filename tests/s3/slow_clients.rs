//! Clients too slow to be served: an upload that trickles its body is cut
//! off (400 RequestTimeout) once it falls below the minimum rate after its
//! grace, freeing its upload slot, and an upload that cannot get a slot in
//! time is refused with 503 SlowDown instead of waiting for ever.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{code_of, put_bytes, status_of, unsigned_put_head, Server};

/// One core with one upload slot; a grace of 3 s at 1,000 bytes/s; a wait
/// of 1 s for a slot.
fn strict_server() -> Server {
    Server::start(&[
        "--cores",
        "1",
        "--uploads-per-core-max",
        "1",
        "--upload-slot-wait-secs",
        "1",
        "--upload-rate-grace-secs",
        "3",
        "--upload-min-bytes-per-sec",
        "1000",
    ])
}

/// Opens a PUT of 100,000 bytes, sends its head and ten bytes, and stalls.
fn trickler(server: &Server, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = unsigned_put_head(server, path, 100_000);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&[7u8; 10]).unwrap();
    stream
}

/// Everything the server answers before it closes (or `wait` passes).
fn answer(mut stream: TcpStream, wait: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trickling_upload_is_cut_off_and_frees_its_slot() {
    let server = strict_server();
    let s3 = server.client();
    s3.create_bucket().bucket("slow").send().await.unwrap();
    let slow = trickler(&server, "/slow/trickle");
    // The stall timeout (60 s) is far away: only the rate rule answers here.
    let response = answer(slow, Duration::from_secs(40));
    assert_eq!(
        status_of(&response),
        400,
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert_eq!(code_of(&response), "RequestTimeout");
    // Nothing of it is visible, and the slot serves the next upload.
    assert!(s3
        .head_object()
        .bucket("slow")
        .key("trickle")
        .send()
        .await
        .is_err());
    put_bytes(&s3, "slow", "after", b"served").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_without_a_slot_in_time_is_slowed_down() {
    let server = strict_server();
    let s3 = server.client();
    s3.create_bucket().bucket("busy").send().await.unwrap();
    let holder = trickler(&server, "/busy/holder");
    // The holder owns the only slot for its 3 s of grace; this one waits 1 s.
    let waiting = trickler(&server, "/busy/waiting");
    let response = answer(waiting, Duration::from_secs(40));
    assert_eq!(
        status_of(&response),
        503,
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert_eq!(code_of(&response), "SlowDown");
    let response = answer(holder, Duration::from_secs(40));
    assert_eq!(code_of(&response), "RequestTimeout");
}
