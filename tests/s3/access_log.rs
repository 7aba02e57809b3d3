//! The access log as an operator reads it: one JSON line per request on the
//! real server's stderr, found by the request id the client got in
//! `x-amz-request-id`, with the fields ARCHITECTURE.md lists, and never the
//! access key id or the object key itself.

use std::time::{Duration, Instant};

use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;

use crate::harness::Server;

/// Waits for the log line naming `request_id` (lines are written once the
/// response has gone, so shortly after the client has it).
fn access_line(server: &Server, request_id: &str) -> serde_json::Value {
    let started = Instant::now();
    let log = server.log.as_ref().expect("a logged server");
    while started.elapsed() < Duration::from_secs(10) {
        let found = log.lock().unwrap().iter().find_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            (value["target"] == "ringgate::access" && value["request_id"] == request_id)
                .then_some(value)
        });
        if let Some(line) = found {
            return line;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "no access line for {request_id} in:\n{}",
        log.lock().unwrap().join("\n")
    );
}

fn number(line: &serde_json::Value, field: &str) -> u64 {
    line[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {line}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_has_one_access_line_with_its_fields() {
    let server = Server::start_logged(&["--log-format", "json", "--log-filter", "info"]);
    let client = server.client();
    let key = "reports/2024/quarterly-private-name.csv";
    let body = vec![7u8; 4096];
    client
        .create_bucket()
        .bucket("logged")
        .send()
        .await
        .unwrap();
    client
        .put_object()
        .bucket("logged")
        .key(key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let got = client
        .get_object()
        .bucket("logged")
        .key(key)
        .send()
        .await
        .unwrap();
    let get_id = got.request_id().expect("x-amz-request-id").to_string();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), 4096);
    let missing = client
        .get_object()
        .bucket("logged")
        .key("absent")
        .send()
        .await
        .unwrap_err();
    let missing_id = missing.request_id().expect("x-amz-request-id").to_string();

    let line = access_line(&server, &get_id);
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["operation"], "GetObject", "{line}");
    assert_eq!(line["bucket"], "logged", "{line}");
    assert_eq!(number(&line, "status"), 200, "{line}");
    assert_eq!(number(&line, "key_bytes"), key.len() as u64, "{line}");
    assert_eq!(line["key_hash"].as_str().map(str::len), Some(16), "{line}");
    assert!(line.get("error").is_none(), "{line}");
    let project = line["project"].as_str().expect("project");
    assert!(project.len() == 32 && project.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(number(&line, "bytes_in") > 0, "{line}");
    assert!(number(&line, "bytes_out") > 4096, "{line}");
    let first_byte = number(&line, "first_byte_us");
    assert!(first_byte <= number(&line, "duration_us"), "{line}");

    let line = access_line(&server, &missing_id);
    assert_eq!(line["operation"], "GetObject", "{line}");
    assert_eq!(number(&line, "status"), 404, "{line}");
    assert_eq!(line["error"], "NoSuchKey", "{line}");
    assert_eq!(number(&line, "key_bytes"), 6, "{line}");

    let log = server.log.as_ref().unwrap().lock().unwrap().join("\n");
    let access_lines = log.matches("\"target\":\"ringgate::access\"").count();
    assert_eq!(access_lines, 4, "one line per request:\n{log}");
    assert!(
        !log.contains(&server.access_key),
        "access key id in the log"
    );
    assert!(!log.contains(&server.secret_key), "secret key in the log");
    assert!(
        !log.contains("quarterly-private-name"),
        "object key in the log"
    );
    assert!(log.contains("serving S3"), "start-up at info:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_turns_off_by_its_target() {
    let server = Server::start_logged(&[
        "--log-format",
        "json",
        "--log-filter",
        "info,ringgate::access=off",
    ]);
    let client = server.client();
    client.create_bucket().bucket("quiet").send().await.unwrap();
    client.list_buckets().send().await.unwrap();
    // Start-up lines are there: the filter turned off only the access log.
    let started = Instant::now();
    let log = server.log.as_ref().unwrap();
    while !log.lock().unwrap().iter().any(|l| l.contains("serving S3")) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no start-up line"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let log = log.lock().unwrap().join("\n");
    assert!(!log.contains("ringgate::access"), "{log}");
}
