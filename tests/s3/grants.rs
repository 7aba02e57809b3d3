//! Multi-tenant access grants through the real server and the AWS SDK:
//! restriction, expiry, revocation and isolation. Grants are made, restricted,
//! registered and revoked with the `ringgate` binary's own commands (`project
//! create`, `grant restrict`, `grant register`, `grant inspect`, `grant
//! revoke`), so those are tested too.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use ringgate::auth::{ApiKey, Grant};
use ringgate::entropy::Os;
use ringgate::pipeline::RootKey;

use crate::harness::{code, status_of, Server};

/// The HTTP status of a call (HEAD errors have no body to name a code).
fn status<T, E>(result: Result<T, SdkError<E, HttpResponse>>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(e) => e.raw_response().map_or(0, |r| r.status().as_u16()),
    }
}

fn ringgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringgate"))
        .args(args)
        .output()
        .expect("ringgate runs")
}

/// Runs a command that must succeed; its standard output.
fn ok(args: &[&str]) -> String {
    let out = ringgate(args);
    assert!(
        out.status.success(),
        "ringgate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `ringgate grant restrict GRANT ARGS…`: the derived grant.
pub(crate) fn restrict(grant: &str, args: &[&str]) -> String {
    let mut all = vec!["grant", "restrict", grant];
    all.extend_from_slice(args);
    ok(&all).trim().to_string()
}

/// `ringgate grant register`: the answer, or the command's error output.
fn try_register(server: &Server, grant: &str) -> Result<(String, String), String> {
    let out = ringgate(&["grant", "register", grant, "--endpoint", &server.endpoint()]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{label} in {text}"))
    };
    Ok((field("access key id:"), field("secret key:")))
}

/// A client for a grant, registered with `ringgate grant register`.
pub(crate) fn client_for(server: &Server, grant: &str) -> Client {
    let (key, secret) = try_register(server, grant).expect("registration");
    server.client_with(&key, &secret)
}

/// `ringgate project create NAME`: the project's first grant.
fn create_project(server: &Server, name: &str) -> String {
    let data = server.data.display().to_string();
    let text = ok(&["project", "create", name, "--data", &data]);
    let grant = text.lines().last().unwrap().trim().to_string();
    assert!(grant.starts_with("rgg_"), "{text}");
    grant
}

/// The head id `ringgate grant inspect` shows.
fn head_id(grant: &str) -> String {
    let text = ok(&["grant", "inspect", grant]);
    text.lines()
        .find_map(|l| l.strip_prefix("head id"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("head id in {text}"))
        .to_string()
}

fn revoke(server: &Server, grant: &str) {
    let data = server.data.display().to_string();
    ok(&["grant", "revoke", &head_id(grant), "--data", &data]);
}

async fn put(s3: &Client, bucket: &str, key: &str, body: &str) -> String {
    code(
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await,
    )
}

async fn get(s3: &Client, bucket: &str, key: &str) -> Result<String, String> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            Ok(String::from_utf8(out.body.collect().await.unwrap().into_bytes().to_vec()).unwrap())
        }
        Err(e) => Err(code::<(), _>(Err(e))),
    }
}

async fn delete(s3: &Client, bucket: &str, key: &str) -> String {
    code(s3.delete_object().bucket(bucket).key(key).send().await)
}

async fn keys(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .map_err(|e| code::<(), _>(Err(e)))?;
    Ok(out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect())
}

async fn buckets(s3: &Client) -> Result<Vec<String>, String> {
    let out = s3
        .list_buckets()
        .send()
        .await
        .map_err(|e| code::<(), _>(Err(e)))?;
    Ok(out
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(String::from))
        .collect())
}

const DENIED: &str = "AccessDenied";

#[tokio::test(flavor = "multi_thread")]
async fn read_only_grants_cannot_write_or_delete() {
    let server = Server::start(&[]);
    let admin = server.client();
    admin.create_bucket().bucket("photos").send().await.unwrap();
    assert_eq!(put(&admin, "photos", "a.jpg", "a").await, "OK");
    let s3 = client_for(&server, &restrict(&server.grant(), &["--read-only"]));
    assert_eq!(get(&s3, "photos", "a.jpg").await.unwrap(), "a");
    assert_eq!(keys(&s3, "photos", "").await.unwrap(), ["a.jpg"]);
    assert_eq!(put(&s3, "photos", "b.jpg", "b").await, DENIED);
    assert_eq!(put(&s3, "photos", "a.jpg", "overwrite").await, DENIED);
    assert_eq!(delete(&s3, "photos", "a.jpg").await, DENIED);
    assert_eq!(code(s3.create_bucket().bucket("mine").send().await), DENIED);
    assert_eq!(
        code(s3.delete_bucket().bucket("photos").send().await),
        DENIED
    );
    assert_eq!(
        code(
            s3.copy_object()
                .bucket("photos")
                .key("copy.jpg")
                .copy_source("photos/a.jpg")
                .send()
                .await
        ),
        DENIED
    );
    assert_eq!(
        code(
            s3.create_multipart_upload()
                .bucket("photos")
                .key("big")
                .send()
                .await
        ),
        DENIED
    );
    // Bucket configuration: readable, not writable.
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("k")
                .value("v")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    admin
        .put_bucket_tagging()
        .bucket("photos")
        .tagging(tagging.clone())
        .send()
        .await
        .unwrap();
    let read = s3
        .get_bucket_tagging()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    assert_eq!(read.tag_set().len(), 1);
    let result = s3
        .put_bucket_tagging()
        .bucket("photos")
        .tagging(tagging)
        .send()
        .await;
    assert_eq!(code(result), DENIED);
    assert_eq!(
        code(s3.delete_bucket_tagging().bucket("photos").send().await),
        DENIED
    );
    // Nothing changed.
    assert_eq!(get(&admin, "photos", "a.jpg").await.unwrap(), "a");
    assert_eq!(keys(&admin, "photos", "").await.unwrap(), ["a.jpg"]);
    assert_eq!(
        admin
            .get_bucket_tagging()
            .bucket("photos")
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prefix_grants_see_and_touch_only_their_prefix() {
    let server = Server::start(&[]);
    let admin = server.client();
    for bucket in ["photos", "other"] {
        admin.create_bucket().bucket(bucket).send().await.unwrap();
    }
    for key in ["2024/a.jpg", "2024/b.jpg", "2025/c.jpg", "top.txt"] {
        assert_eq!(put(&admin, "photos", key, key).await, "OK");
    }
    assert_eq!(put(&admin, "other", "x", "x").await, "OK");
    let grant = restrict(
        &server.grant(),
        &["--bucket", "photos", "--prefix", "2024/"],
    );
    let s3 = client_for(&server, &grant);

    assert_eq!(
        get(&s3, "photos", "2024/a.jpg").await.unwrap(),
        "2024/a.jpg"
    );
    for (bucket, key) in [
        ("photos", "2025/c.jpg"),
        ("photos", "top.txt"),
        ("other", "x"),
    ] {
        assert_eq!(get(&s3, bucket, key).await.unwrap_err(), DENIED, "{key}");
        assert_eq!(delete(&s3, bucket, key).await, DENIED, "{key}");
    }
    assert_eq!(put(&s3, "photos", "2024/new.jpg", "new").await, "OK");
    assert_eq!(put(&s3, "photos", "2025/new.jpg", "new").await, DENIED);
    assert_eq!(delete(&s3, "photos", "2024/b.jpg").await, "OK");

    // Listing is filtered, not refused, where the grant allows part of it.
    assert_eq!(
        keys(&s3, "photos", "").await.unwrap(),
        ["2024/a.jpg", "2024/new.jpg"]
    );
    assert_eq!(
        keys(&s3, "photos", "20").await.unwrap(),
        ["2024/a.jpg", "2024/new.jpg"]
    );
    let grouped = s3
        .list_objects_v2()
        .bucket("photos")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert!(grouped.contents().is_empty());
    let prefixes: Vec<_> = grouped
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["2024/"]);
    assert_eq!(keys(&s3, "photos", "2025/").await.unwrap_err(), DENIED);
    assert_eq!(keys(&s3, "other", "").await.unwrap_err(), DENIED);
    assert_eq!(buckets(&s3).await.unwrap(), ["photos"]);
    assert_eq!(status(s3.head_bucket().bucket("other").send().await), 403);

    // DeleteObjects answers per key.
    let delete_two = Delete::builder()
        .objects(
            ObjectIdentifier::builder()
                .key("2024/a.jpg")
                .build()
                .unwrap(),
        )
        .objects(
            ObjectIdentifier::builder()
                .key("2025/c.jpg")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket("photos")
        .delete(delete_two)
        .send()
        .await
        .unwrap();
    let deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["2024/a.jpg"]);
    let refused: Vec<_> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap(), e.code().unwrap()))
        .collect();
    assert_eq!(refused, [("2025/c.jpg", DENIED)]);
    assert_eq!(
        keys(&admin, "photos", "").await.unwrap(),
        ["2024/new.jpg", "2025/c.jpg", "top.txt"]
    );
}

/// Story: ListMultipartUploads filtered a page of uploads by the grant's
/// prefixes after paging, but answered the page's own `NextKeyMarker`.
/// Symptom: a grant for `2024/` listing with `max-uploads=2` over uploads of
/// `2024/u1` and `2025/u2` got `NextKeyMarker` `2025/u2`. Consequence: a key
/// name outside the grant leaked. Fix: the markers come from the last upload
/// kept; a page that keeps nothing reads on.
#[tokio::test(flavor = "multi_thread")]
async fn upload_listings_leak_no_key_outside_the_grant() {
    let server = Server::start(&[]);
    let admin = server.client();
    admin.create_bucket().bucket("photos").send().await.unwrap();
    for key in ["2024/u1", "2025/u2", "2025/u3", "2026/u4"] {
        admin
            .create_multipart_upload()
            .bucket("photos")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    let grant = restrict(
        &server.grant(),
        &["--bucket", "photos", "--prefix", "2024/"],
    );
    let s3 = client_for(&server, &grant);
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    for _ in 0..10 {
        let page = s3
            .list_multipart_uploads()
            .bucket("photos")
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        for upload in page.uploads() {
            seen.push(upload.key().unwrap().to_string());
        }
        for marker in [page.next_key_marker(), page.key_marker()]
            .into_iter()
            .flatten()
        {
            assert!(
                marker.is_empty() || marker.starts_with("2024/"),
                "marker {marker:?} names a key outside the grant"
            );
        }
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        key_marker = page.next_key_marker().map(String::from);
        id_marker = page.next_upload_id_marker().map(String::from);
    }
    assert_eq!(seen, ["2024/u1"]);
}

/// AbortMultipartUpload destroys parts someone uploaded: it needs delete, as
/// in Storj, so a write-only grant cannot abort another's (or its own) upload.
#[tokio::test(flavor = "multi_thread")]
async fn aborting_an_upload_needs_delete() {
    let server = Server::start(&[]);
    let admin = server.client();
    admin
        .create_bucket()
        .bucket("uploads")
        .send()
        .await
        .unwrap();
    let writer = client_for(&server, &restrict(&server.grant(), &["--allow", "write"]));
    let upload = writer
        .create_multipart_upload()
        .bucket("uploads")
        .key("big")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    async fn abort(s3: &Client, id: &str) -> String {
        code(
            s3.abort_multipart_upload()
                .bucket("uploads")
                .key("big")
                .upload_id(id)
                .send()
                .await,
        )
    }
    assert_eq!(abort(&writer, id).await, DENIED);
    let listed = admin
        .list_multipart_uploads()
        .bucket("uploads")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.uploads().len(), 1, "the upload survives");
    let deleter = client_for(&server, &restrict(&server.grant(), &["--allow", "delete"]));
    assert_eq!(abort(&deleter, id).await, "OK");
}

/// The admin token need not appear on any command line (where every local
/// user reads it in /proc/*/cmdline): the server takes it from a file, the
/// CLI from a file or RINGGATE_ADMIN_TOKEN.
#[test]
fn the_admin_token_comes_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "from-a-file-0123456789\n").unwrap();
    let file = token_file.display().to_string();
    let server = Server::start(&["--admin-token-file", &file]);
    let data = server.data.display().to_string();
    assert!(
        !server.data.join("admin-token").exists(),
        "no token of its own"
    );
    let listed = ok(&[
        "project",
        "list",
        "--data",
        &data,
        "--admin-token-file",
        &file,
    ]);
    assert!(listed.lines().any(|l| l.ends_with("  default")), "{listed}");
    let by_env = Command::new(env!("CARGO_BIN_EXE_ringgate"))
        .args(["project", "list", "--data", &data])
        .env("RINGGATE_ADMIN_TOKEN", "from-a-file-0123456789")
        .output()
        .unwrap();
    assert!(
        by_env.status.success(),
        "{}",
        String::from_utf8_lossy(&by_env.stderr)
    );
    let wrong = Command::new(env!("CARGO_BIN_EXE_ringgate"))
        .args(["project", "list", "--data", &data])
        .env("RINGGATE_ADMIN_TOKEN", "not-the-token")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let both = ringgate(&[
        "project",
        "list",
        "--data",
        &data,
        "--admin-token",
        "x",
        "--admin-token-file",
        &file,
    ]);
    assert!(!both.status.success(), "one source of the token at a time");
}

/// Uploading a part number again replaces (destroys) the part there, which
/// may be another holder's: like overwriting an object, it needs delete. A
/// write-only grant adds parts but replaces none, by upload or by copy; the
/// refused part leaves the first one in place.
#[tokio::test(flavor = "multi_thread")]
async fn replacing_a_part_needs_delete() {
    let server = Server::start(&[]);
    let admin = server.client();
    admin.create_bucket().bucket("parts").send().await.unwrap();
    assert_eq!(put(&admin, "parts", "source", "copied bytes").await, "OK");
    let upload = admin
        .create_multipart_upload()
        .bucket("parts")
        .key("big")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = |s3: &Client, body: &'static str| {
        s3.upload_part()
            .bucket("parts")
            .key("big")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
    };
    let writer = client_for(
        &server,
        &restrict(&server.grant(), &["--allow", "write,read"]),
    );
    let first = part(&writer, "first").await.unwrap();
    assert_eq!(code(part(&writer, "second").await), "PreconditionFailed");
    let copied = writer
        .upload_part_copy()
        .bucket("parts")
        .key("big")
        .upload_id(id)
        .part_number(1)
        .copy_source("parts/source")
        .send()
        .await;
    assert_eq!(code(copied), "PreconditionFailed");
    let etag_of_part_1 = |s3: Client| async move {
        let parts = s3
            .list_parts()
            .bucket("parts")
            .key("big")
            .upload_id(id)
            .send()
            .await
            .unwrap();
        parts.parts()[0].e_tag().map(String::from)
    };
    assert_eq!(
        etag_of_part_1(admin.clone()).await.as_deref(),
        first.e_tag()
    );
    // The project's own key may replace it.
    let replaced = part(&admin, "third").await.unwrap();
    assert_ne!(replaced.e_tag(), first.e_tag());
    assert_eq!(
        etag_of_part_1(admin.clone()).await.as_deref(),
        replaced.e_tag()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_outside_their_time_window_are_refused() {
    let server = Server::start(&[]);
    let admin = server.client();
    admin.create_bucket().bucket("timed").send().await.unwrap();
    assert_eq!(put(&admin, "timed", "k", "v").await, "OK");
    let grant = server.grant();

    // Expired already: not even registered.
    let expired = restrict(&grant, &["--not-after", "-1h"]);
    let refused = try_register(&server, &expired).unwrap_err();
    assert!(
        refused.contains("403") && refused.contains("expired"),
        "{refused}"
    );

    // Not valid yet: registered, but every request is refused until then.
    let later = client_for(&server, &restrict(&grant, &["--not-before", "+1h"]));
    assert_eq!(get(&later, "timed", "k").await.unwrap_err(), DENIED);
    assert_eq!(buckets(&later).await.unwrap_err(), DENIED);
    assert_eq!(put(&later, "timed", "k2", "v").await, DENIED);

    // Valid now, expiring in a few seconds: works, then stops.
    let brief = client_for(&server, &restrict(&grant, &["--not-after", "+5s"]));
    assert_eq!(get(&brief, "timed", "k").await.unwrap(), "v");
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused = loop {
        match get(&brief, "timed", "k").await {
            Err(code) => break code,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            Ok(_) => panic!("the grant still works long after its not-after"),
        }
    };
    assert_eq!(refused, DENIED);
}

/// Requests answered per core with this status class for `operation`,
/// from the server's `/metrics`.
fn answered_per_core(server: &Server, operation: &str, class: &str) -> Vec<u64> {
    let text = server.admin_get("/metrics");
    (0..2)
        .map(|core| {
            let series = format!(
                "ringgate_requests_total{{core=\"{core}\",operation=\"{operation}\",status=\"{class}\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(&series))
                .map_or(0, |n| n.trim().parse().unwrap())
        })
        .collect()
}

/// Sends ListBuckets on `n` fresh connections (fresh clients), which the
/// kernel spreads over the server's cores; their answers.
async fn list_buckets_fresh(server: &Server, key: &(String, String), n: usize) -> Vec<String> {
    let mut codes = Vec::with_capacity(n);
    for _ in 0..n {
        let s3 = server.client_with(&key.0, &key.1);
        codes.push(code(s3.list_buckets().send().await));
    }
    codes
}

/// With a TTL of an hour, only the cross-core invalidation can make every
/// core refuse a revoked grant at once: each core has the grant cached as
/// good (it answered it), and each refuses it right after the revocation.
#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_reaches_every_core_at_once() {
    let server = Server::start(&["--grant-cache-ttl-secs", "3600"]);
    let tenant = create_project(&server, "tenant");
    let bystander = create_project(&server, "bystander");
    let derived = restrict(&tenant, &["--read-only"]);
    let keys: Vec<_> = [&tenant, &derived, &bystander]
        .iter()
        .map(|g| try_register(&server, g).unwrap())
        .collect();
    // 32 fresh connections: the chance that all land on one of two cores is 2^-31.
    for key in &keys {
        assert!(list_buckets_fresh(&server, key, 32)
            .await
            .iter()
            .all(|c| c == "OK"));
    }
    let warmed = answered_per_core(&server, "ListBuckets", "2xx");
    assert!(
        warmed.iter().all(|&n| n > 0),
        "both cores served: {warmed:?}"
    );

    revoke(&server, &tenant);
    for key in &keys[..2] {
        let codes = list_buckets_fresh(&server, key, 32).await;
        assert!(codes.iter().all(|c| c == DENIED), "{codes:?}");
    }
    let refused = answered_per_core(&server, "ListBuckets", "4xx");
    assert!(
        refused.iter().all(|&n| n > 0),
        "both cores refused: {refused:?}"
    );
    // Another project's grant, another head: untouched.
    assert!(list_buckets_fresh(&server, &keys[2], 8)
        .await
        .iter()
        .all(|c| c == "OK"));
    // No grant derived from the revoked head registers any more.
    let narrower = restrict(&tenant, &["--bucket", "tenant-bucket"]);
    let refused = try_register(&server, &narrower).unwrap_err();
    assert!(
        refused.contains("403") && refused.contains("revoked"),
        "{refused}"
    );
}

/// A revocation is durable, not a cache entry: once the TTL has passed and the
/// cores read the revocation list again, and after a restart, the grant stays
/// refused. (That a revocation whose message is lost still takes effect within
/// the TTL is `s3::authn`'s unit test: one process always sends the message.)
#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_outlives_the_cache_ttl_and_a_restart() {
    let mut server = Server::start(&["--grant-cache-ttl-secs", "1"]);
    let tenant = create_project(&server, "tenant");
    let key = try_register(&server, &tenant).unwrap();
    assert!(list_buckets_fresh(&server, &key, 4)
        .await
        .iter()
        .all(|c| c == "OK"));
    revoke(&server, &tenant);
    assert!(list_buckets_fresh(&server, &key, 4)
        .await
        .iter()
        .all(|c| c == DENIED));
    // Past the TTL every cached answer has expired and is read again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let codes = list_buckets_fresh(&server, &key, 8).await;
    assert!(codes.iter().all(|c| c == DENIED), "{codes:?}");
    assert!(server.stop(Duration::from_secs(10)));
    server.launch();
    let codes = list_buckets_fresh(&server, &key, 8).await;
    assert!(codes.iter().all(|c| c == DENIED), "{codes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn projects_own_their_namespace() {
    let server = Server::start(&[]);
    let alice = client_for(&server, &create_project(&server, "alice"));
    let bob = client_for(&server, &create_project(&server, "bob"));
    // The same bucket name in two projects.
    for s3 in [&alice, &bob] {
        assert_eq!(code(s3.create_bucket().bucket("shared").send().await), "OK");
    }
    assert_eq!(put(&alice, "shared", "k", "alice's").await, "OK");
    assert_eq!(put(&bob, "shared", "k", "bob's").await, "OK");
    assert_eq!(get(&alice, "shared", "k").await.unwrap(), "alice's");
    assert_eq!(get(&bob, "shared", "k").await.unwrap(), "bob's");
    alice
        .create_bucket()
        .bucket("alice-only")
        .send()
        .await
        .unwrap();
    assert_eq!(put(&alice, "alice-only", "secret", "a").await, "OK");

    assert_eq!(buckets(&alice).await.unwrap(), ["alice-only", "shared"]);
    assert_eq!(buckets(&bob).await.unwrap(), ["shared"]);
    assert!(buckets(&server.client()).await.unwrap().is_empty());
    // Alice's bucket does not exist in Bob's namespace.
    assert_eq!(
        get(&bob, "alice-only", "secret").await.unwrap_err(),
        "NoSuchBucket"
    );
    assert_eq!(put(&bob, "alice-only", "x", "x").await, "NoSuchBucket");
    assert_eq!(
        status(bob.head_bucket().bucket("alice-only").send().await),
        404
    );
    // Bob deletes his `k`; Alice's stays.
    assert_eq!(delete(&bob, "shared", "k").await, "OK");
    assert!(keys(&bob, "shared", "").await.unwrap().is_empty());
    assert_eq!(keys(&alice, "shared", "").await.unwrap(), ["k"]);

    let data = server.data.display().to_string();
    let listed = ok(&["project", "list", "--data", &data]);
    for name in ["default", "alice", "bob"] {
        assert!(
            listed.lines().any(|l| l.ends_with(&format!("  {name}"))),
            "{listed}"
        );
    }
    let alice_id = listed
        .lines()
        .find(|l| l.ends_with("  alice"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    let refused = ringgate(&["project", "delete", alice_id, "--data", &data]);
    assert!(!refused.status.success(), "a project with buckets stays");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("409"));
}

/// `POST /v1/access` with `grant` as the body's grant: the answer's status.
fn register_raw(server: &Server, grant: &str) -> u16 {
    let body = serde_json::json!({ "access_grant": grant, "public": false }).to_string();
    let request = format!(
        "POST /v1/access HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    status_of(&server.raw(request.as_bytes(), Duration::from_secs(10)))
}

/// A grant altered anywhere does not register: a changed byte fails the
/// grant's checksum (400); a grant rebuilt with a valid checksum but without
/// a caveat, with another root key or with another tail fails its API key's
/// chain (401).
#[tokio::test(flavor = "multi_thread")]
async fn tampered_grants_do_not_register() {
    use base64::Engine as _;
    let server = Server::start(&[]);
    let restricted = restrict(&server.grant(), &["--read-only"]);
    assert_eq!(register_raw(&server, &restricted), 200);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes = b64.decode(&restricted["rgg_".len()..]).unwrap();
    for at in [
        0,
        1,
        20,
        60,
        bytes.len() / 2,
        bytes.len() - 40,
        bytes.len() - 1,
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        let status = register_raw(&server, &format!("rgg_{}", b64.encode(&bad)));
        assert_eq!(status, 400, "byte {at}");
    }
    let grant = Grant::parse(&restricted).unwrap();
    let key = grant.api_key();
    let rebuilt = |caveats: Vec<_>, tail: [u8; 32], root: RootKey| {
        let key = ApiKey::from_parts(*key.head(), caveats, tail).unwrap();
        let grant = Grant::from_parts(*grant.project(), key, root).unwrap();
        grant.encode().to_string()
    };
    let caveats = key.caveats().to_vec();
    let mut tail = *key.tail();
    let same_root = || grant.root_key().clone();
    assert_eq!(
        register_raw(&server, &rebuilt(caveats.clone(), tail, same_root())),
        200,
        "rebuilt as it was, it still registers"
    );
    let widened = rebuilt(Vec::new(), tail, same_root());
    assert_eq!(register_raw(&server, &widened), 401, "caveat removed");
    let rooted = rebuilt(caveats.clone(), tail, RootKey::random(&mut Os));
    assert_eq!(register_raw(&server, &rooted), 401, "another root key");
    tail[0] ^= 1;
    let forged = rebuilt(caveats, tail, same_root());
    assert_eq!(register_raw(&server, &forged), 401, "another tail");
}
