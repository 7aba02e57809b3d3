//! S3 object lock and conditional deletes through the AWS SDK for Rust: a
//! bucket's object lock configuration and default retention, COMPLIANCE and
//! GOVERNANCE retention against deletes and retention changes, legal holds,
//! lock headers on buckets without object lock, locked multipart uploads, and
//! DeleteObject and DeleteObjects conditioned on an ETag or a size.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus as Status, DefaultRetention, Delete, ObjectIdentifier,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold,
    ObjectLockLegalHoldStatus as Hold, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode as RetentionMode, ObjectLockRule,
};
use aws_sdk_s3::Client;

use crate::grants::{client_for, restrict};
use crate::harness::{code, complete_with_one_part, try_set_versioning, versioning_of, Server};

/// Seconds since the epoch, now.
fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The whole second `secs` from now.
fn from_now(secs: i64) -> DateTime {
    DateTime::from_secs(now_secs() + secs)
}

/// The S3 error code and HTTP status of a call that must fail.
fn failure<T, E>(result: Result<T, SdkError<E>>) -> (String, u16)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let Err(error) = result else {
        panic!("the call succeeded");
    };
    let raw = error
        .raw_response()
        .unwrap_or_else(|| panic!("no HTTP response: {error:?}"));
    let status = raw.status().as_u16();
    (error.code().unwrap_or("").to_string(), status)
}

/// Creates `bucket` with object lock enabled (and so versioning).
async fn lock_bucket(s3: &Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
}

/// Object lock enabled, with `default` retention if given.
fn lock_config(default: Option<DefaultRetention>) -> ObjectLockConfiguration {
    let rule = default.map(|d| ObjectLockRule::builder().default_retention(d).build());
    ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .set_rule(rule)
        .build()
}

/// A default retention in `mode` for `days`.
fn default_days(mode: RetentionMode, days: i32) -> DefaultRetention {
    DefaultRetention::builder().mode(mode).days(days).build()
}

/// Puts `config` on `bucket`: the error code, "OK" for a success.
async fn put_lock_config(s3: &Client, bucket: &str, config: ObjectLockConfiguration) -> String {
    let result = s3
        .put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(config)
        .send()
        .await;
    code(result)
}

async fn lock_config_of(s3: &Client, bucket: &str) -> ObjectLockConfiguration {
    let out = s3
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.object_lock_configuration()
        .expect("an object lock configuration")
        .clone()
}

/// A PUT of `body` as `bucket/key`, to be given lock headers and sent.
fn put_request(s3: &Client, bucket: &str, key: &str, body: &str) -> PutObjectFluentBuilder {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
}

/// PUTs `body` as `bucket/key` with no lock headers; its version id.
async fn put(s3: &Client, bucket: &str, key: &str, body: &str) -> String {
    let out = put_request(s3, bucket, key, body).send().await.unwrap();
    out.version_id().expect("a version id").to_string()
}

/// PUTs `body` as `bucket/key`, retained in `mode` until `until`; its version
/// id.
async fn put_locked(
    s3: &Client,
    bucket: &str,
    key: &str,
    mode: ObjectLockMode,
    until: DateTime,
) -> String {
    let out = put_request(s3, bucket, key, "kept")
        .object_lock_mode(mode)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .unwrap();
    out.version_id().expect("a version id").to_string()
}

async fn head(s3: &Client, bucket: &str, key: &str, version: Option<&str>) -> HeadObjectOutput {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(String::from))
        .send()
        .await
        .unwrap()
}

/// The lock mode and retain-until second HeadObject reports.
async fn lock_of(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> (Option<ObjectLockMode>, Option<i64>) {
    let out = head(s3, bucket, key, version).await;
    let until = out.object_lock_retain_until_date().map(DateTime::secs);
    (out.object_lock_mode().cloned(), until)
}

/// The mode and retain-until second GetObjectRetention reports.
async fn retention_of(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: &str,
) -> (Option<RetentionMode>, Option<i64>) {
    let out = s3
        .get_object_retention()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .unwrap();
    let retention = out.retention().expect("a retention");
    let until = retention.retain_until_date().map(DateTime::secs);
    (retention.mode().cloned(), until)
}

fn retention(mode: RetentionMode, until: DateTime) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(mode)
        .retain_until_date(until)
        .build()
}

/// PutObjectRetention on `bucket/key` at `version`, bypassing GOVERNANCE
/// retention if asked: the error code, "OK" for a success.
async fn set_retention(
    s3: &Client,
    (bucket, key, version): (&str, &str, &str),
    retention: ObjectLockRetention,
    bypass: bool,
) -> String {
    let result = s3
        .put_object_retention()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .retention(retention)
        .set_bypass_governance_retention(bypass.then_some(true))
        .send()
        .await;
    code(result)
}

/// Deletes `bucket/key` at `version`, bypassing GOVERNANCE retention if asked:
/// the error code, "OK" for a success.
async fn delete_version(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: &str,
    bypass: bool,
) -> String {
    let result = s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .set_bypass_governance_retention(bypass.then_some(true))
        .send()
        .await;
    code(result)
}

/// The body of `bucket/key` (at `version`, if given).
async fn body_of(s3: &Client, bucket: &str, key: &str, version: Option<&str>) -> String {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(String::from))
        .send()
        .await
        .unwrap();
    let body = out.body.collect().await.unwrap().into_bytes().to_vec();
    String::from_utf8(body).unwrap()
}

/// The error code of a GET of `bucket/key`, "OK" for a success.
async fn get_code(s3: &Client, bucket: &str, key: &str) -> String {
    code(s3.get_object().bucket(bucket).key(key).send().await)
}

#[tokio::test(flavor = "multi_thread")]
async fn object_lock_configuration() {
    let server = Server::start(&[]);
    let s3 = server.client();
    lock_bucket(&s3, "lock-created").await;
    assert_eq!(
        versioning_of(&s3, "lock-created").await,
        Some(Status::Enabled)
    );
    assert_eq!(lock_config_of(&s3, "lock-created").await, lock_config(None));

    // Object lock keeps versioning on.
    assert_eq!(
        try_set_versioning(&s3, "lock-created", Status::Suspended).await,
        "InvalidBucketState"
    );
    assert_eq!(
        versioning_of(&s3, "lock-created").await,
        Some(Status::Enabled)
    );

    // A bucket made without it has no configuration, and takes one only once
    // versioned.
    s3.create_bucket()
        .bucket("lock-later")
        .send()
        .await
        .unwrap();
    let not_found = "ObjectLockConfigurationNotFoundError";
    let get_later = s3.get_object_lock_configuration().bucket("lock-later");
    assert_eq!(code(get_later.clone().send().await), not_found);
    assert_eq!(
        put_lock_config(&s3, "lock-later", lock_config(None)).await,
        "InvalidBucketState"
    );
    assert_eq!(code(get_later.send().await), not_found);
    assert_eq!(
        try_set_versioning(&s3, "lock-later", Status::Enabled).await,
        "OK"
    );
    assert_eq!(
        put_lock_config(&s3, "lock-later", lock_config(None)).await,
        "OK"
    );
    assert_eq!(lock_config_of(&s3, "lock-later").await, lock_config(None));
}

#[tokio::test(flavor = "multi_thread")]
async fn default_retention_rules() {
    let server = Server::start(&[]);
    let s3 = server.client();
    lock_bucket(&s3, "lock-rules").await;
    let governance_day = lock_config(Some(default_days(RetentionMode::Governance, 1)));
    assert_eq!(
        put_lock_config(&s3, "lock-rules", governance_day.clone()).await,
        "OK"
    );
    assert_eq!(lock_config_of(&s3, "lock-rules").await, governance_day);

    // A period of both days and years, or of no days, is refused, and the
    // rule stands.
    let both = DefaultRetention::builder()
        .mode(RetentionMode::Governance)
        .days(1)
        .years(1)
        .build();
    assert_eq!(
        put_lock_config(&s3, "lock-rules", lock_config(Some(both))).await,
        "MalformedXML"
    );
    let zero = default_days(RetentionMode::Governance, 0);
    assert_eq!(
        put_lock_config(&s3, "lock-rules", lock_config(Some(zero))).await,
        "InvalidArgument"
    );
    assert_eq!(lock_config_of(&s3, "lock-rules").await, governance_day);
}

#[tokio::test(flavor = "multi_thread")]
async fn default_retention_applies_to_new_versions() {
    let server = Server::start(&[]);
    let s3 = server.client();
    lock_bucket(&s3, "lock-default").await;
    let rule = lock_config(Some(default_days(RetentionMode::Governance, 1)));
    assert_eq!(put_lock_config(&s3, "lock-default", rule).await, "OK");
    let version = put(&s3, "lock-default", "k", "kept").await;

    let (mode, until) = lock_of(&s3, "lock-default", "k", Some(&version)).await;
    assert_eq!(mode, Some(ObjectLockMode::Governance));
    let until = until.expect("a retain-until date");
    let a_day_on = now_secs() + 24 * 3600;
    assert!((until - a_day_on).abs() <= 300, "{until} vs {a_day_on}");
    assert_eq!(
        retention_of(&s3, "lock-default", "k", &version).await,
        (Some(RetentionMode::Governance), Some(until))
    );

    // The default retention holds as one given with the PUT would.
    assert_eq!(
        delete_version(&s3, "lock-default", "k", &version, false).await,
        "AccessDenied"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compliance_survives_every_delete() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "lock-compliance";
    lock_bucket(&s3, bucket).await;
    let until = from_now(3600);
    let version = put_locked(&s3, bucket, "k", ObjectLockMode::Compliance, until).await;
    assert_eq!(
        lock_of(&s3, bucket, "k", None).await,
        (Some(ObjectLockMode::Compliance), Some(until.secs()))
    );
    assert_eq!(
        retention_of(&s3, bucket, "k", &version).await,
        (Some(RetentionMode::Compliance), Some(until.secs()))
    );

    // Not even a bypass deletes the version.
    assert_eq!(
        delete_version(&s3, bucket, "k", &version, false).await,
        "AccessDenied"
    );
    assert_eq!(
        delete_version(&s3, bucket, "k", &version, true).await,
        "AccessDenied"
    );

    // Deleting the key only lays a delete marker over the version.
    let marked = s3
        .delete_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(marked.delete_marker(), Some(true));
    assert_eq!(body_of(&s3, bucket, "k", Some(&version)).await, "kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn compliance_retention_only_extends() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "lock-extend";
    lock_bucket(&s3, bucket).await;
    let until = from_now(3600);
    let version = put_locked(&s3, bucket, "k", ObjectLockMode::Compliance, until).await;
    let at = (bucket, "k", version.as_str());

    let shorter = retention(RetentionMode::Compliance, from_now(600));
    assert_eq!(
        set_retention(&s3, at, shorter.clone(), false).await,
        "AccessDenied"
    );
    assert_eq!(set_retention(&s3, at, shorter, true).await, "AccessDenied");
    assert_eq!(
        retention_of(&s3, bucket, "k", &version).await,
        (Some(RetentionMode::Compliance), Some(until.secs()))
    );

    let later = from_now(7200);
    let longer = retention(RetentionMode::Compliance, later);
    assert_eq!(set_retention(&s3, at, longer, false).await, "OK");
    assert_eq!(
        retention_of(&s3, bucket, "k", &version).await,
        (Some(RetentionMode::Compliance), Some(later.secs()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn governance_yields_only_to_bypass() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "lock-governance";
    lock_bucket(&s3, bucket).await;
    let version = put_locked(&s3, bucket, "k", ObjectLockMode::Governance, from_now(3600)).await;

    assert_eq!(
        delete_version(&s3, bucket, "k", &version, false).await,
        "AccessDenied"
    );
    assert_eq!(body_of(&s3, bucket, "k", Some(&version)).await, "kept");

    // The project's unrestricted key may bypass GOVERNANCE retention.
    assert_eq!(delete_version(&s3, bucket, "k", &version, true).await, "OK");
    let gone = s3
        .get_object()
        .bucket(bucket)
        .key("k")
        .version_id(&version)
        .send()
        .await;
    assert_eq!(code(gone), "NoSuchVersion");
}

/// The bypass is a privilege every restriction drops unless it keeps it, so
/// a grant narrowed to the bucket may not bypass, and one narrowed with
/// `--keep-bypass-governance` at every step may.
#[tokio::test(flavor = "multi_thread")]
async fn bypass_needs_a_grant_that_kept_the_privilege() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "lock-privilege";
    lock_bucket(&s3, bucket).await;
    let grant = server.grant();
    let narrowed = restrict(&grant, &["--bucket", bucket]);
    let kept = restrict(&grant, &["--bucket", bucket, "--keep-bypass-governance"]);
    let kept_then_dropped = restrict(&kept, &["--allow", "read,write,list,delete"]);
    let kept_twice = restrict(&kept, &["--allow", "delete", "--keep-bypass-governance"]);

    for refused in [&narrowed, &kept_then_dropped] {
        let version =
            put_locked(&s3, bucket, "k", ObjectLockMode::Governance, from_now(3600)).await;
        let tenant = client_for(&server, refused);
        assert_eq!(
            delete_version(&tenant, bucket, "k", &version, true).await,
            "AccessDenied"
        );
        let shorter = retention(RetentionMode::Governance, from_now(60));
        let at = (bucket, "k", version.as_str());
        assert_eq!(
            set_retention(&tenant, at, shorter, true).await,
            "AccessDenied"
        );
        // Without the header the grant is an ordinary deleter: the lock holds.
        assert_eq!(
            delete_version(&tenant, bucket, "k", &version, false).await,
            "AccessDenied"
        );
        assert_eq!(body_of(&s3, bucket, "k", Some(&version)).await, "kept");
    }
    for allowed in [&kept, &kept_twice] {
        let version =
            put_locked(&s3, bucket, "k", ObjectLockMode::Governance, from_now(3600)).await;
        let tenant = client_for(&server, allowed);
        assert_eq!(
            delete_version(&tenant, bucket, "k", &version, true).await,
            "OK"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn governance_retention_shortens_only_with_bypass() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "lock-shorten";
    lock_bucket(&s3, bucket).await;
    let until = from_now(3600);
    let version = put_locked(&s3, bucket, "k", ObjectLockMode::Governance, until).await;
    let at = (bucket, "k", version.as_str());

    let sooner = from_now(600);
    let shorter = retention(RetentionMode::Governance, sooner);
    assert_eq!(
        set_retention(&s3, at, shorter.clone(), false).await,
        "AccessDenied"
    );
    assert_eq!(
        retention_of(&s3, bucket, "k", &version).await,
        (Some(RetentionMode::Governance), Some(until.secs()))
    );
    assert_eq!(set_retention(&s3, at, shorter, true).await, "OK");
    assert_eq!(
        retention_of(&s3, bucket, "k", &version).await,
        (Some(RetentionMode::Governance), Some(sooner.secs()))
    );
}

async fn set_legal_hold(s3: &Client, bucket: &str, key: &str, version: &str, status: Hold) {
    s3.put_object_legal_hold()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .legal_hold(ObjectLockLegalHold::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

async fn legal_hold_of(s3: &Client, bucket: &str, key: &str, version: &str) -> Option<Hold> {
    let out = s3
        .get_object_legal_hold()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .unwrap();
    out.legal_hold().and_then(|hold| hold.status()).cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn legal_hold_blocks_deletion_until_removed() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "lock-hold";
    lock_bucket(&s3, bucket).await;
    let version = put(&s3, bucket, "k", "held").await;
    set_legal_hold(&s3, bucket, "k", &version, Hold::On).await;
    assert_eq!(
        legal_hold_of(&s3, bucket, "k", &version).await,
        Some(Hold::On)
    );
    // A hold is no retention: no bypass lifts it.
    for bypass in [false, true] {
        assert_eq!(
            delete_version(&s3, bucket, "k", &version, bypass).await,
            "AccessDenied"
        );
    }
    set_legal_hold(&s3, bucket, "k", &version, Hold::Off).await;
    assert_eq!(
        legal_hold_of(&s3, bucket, "k", &version).await,
        Some(Hold::Off)
    );
    assert_eq!(
        delete_version(&s3, bucket, "k", &version, false).await,
        "OK"
    );

    // A hold can come with the PUT.
    put_request(&s3, bucket, "put-held", "held")
        .object_lock_legal_hold_status(Hold::On)
        .send()
        .await
        .unwrap();
    let out = head(&s3, bucket, "put-held", None).await;
    assert_eq!(out.object_lock_legal_hold_status(), Some(&Hold::On));
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_needs_an_object_lock_bucket() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("lock-none").send().await.unwrap();
    let locked = put_request(&s3, "lock-none", "k", "refused")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(from_now(3600))
        .send()
        .await;
    assert_eq!(code(locked), "InvalidRequest");
    assert_eq!(get_code(&s3, "lock-none", "k").await, "NoSuchKey");

    put_request(&s3, "lock-none", "k", "plain")
        .send()
        .await
        .unwrap();
    let retain = s3
        .put_object_retention()
        .bucket("lock-none")
        .key("k")
        .retention(retention(RetentionMode::Governance, from_now(3600)))
        .send()
        .await;
    assert_eq!(code(retain), "InvalidRequest");

    // On a lock bucket, a version put with no retention has none to read.
    lock_bucket(&s3, "lock-unset").await;
    let version = put(&s3, "lock-unset", "k", "free").await;
    let unset = s3
        .get_object_retention()
        .bucket("lock-unset")
        .key("k")
        .version_id(&version)
        .send()
        .await;
    assert_eq!(code(unset), "NoSuchObjectLockConfiguration");
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_carries_the_lock() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "lock-multipart";
    lock_bucket(&s3, bucket).await;
    let until = from_now(3600);
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("mp")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap();
    let done = complete_with_one_part(&s3, (bucket, "mp", upload_id), b"one small part").await;
    let version = done.version_id().expect("a version id").to_string();

    assert_eq!(
        lock_of(&s3, bucket, "mp", Some(&version)).await,
        (Some(ObjectLockMode::Governance), Some(until.secs()))
    );
    assert_eq!(
        delete_version(&s3, bucket, "mp", &version, false).await,
        "AccessDenied"
    );
}

/// PUTs `body` as `bucket/key`; its ETag.
async fn put_etag(s3: &Client, bucket: &str, key: &str, body: &str) -> String {
    let out = put_request(s3, bucket, key, body).send().await.unwrap();
    out.e_tag().expect("an ETag").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_deletes() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "cond-delete";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let etag = put_etag(&s3, bucket, "k", "body").await;
    let delete = s3.delete_object().bucket(bucket).key("k");

    let wrong = delete.clone().if_match("\"wrong\"").send().await;
    assert_eq!(failure(wrong), ("PreconditionFailed".to_string(), 412));
    assert_eq!(body_of(&s3, bucket, "k", None).await, "body");

    delete.clone().if_match(&etag).send().await.unwrap();
    assert_eq!(get_code(&s3, bucket, "k").await, "NoSuchKey");

    // With a condition, a missing key is an error, not a quiet success.
    let missing = delete.if_match(&etag).send().await;
    assert_eq!(code(missing), "NoSuchKey");
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_delete_by_size() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "cond-size";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    put_etag(&s3, bucket, "k", "four").await;
    let delete = s3.delete_object().bucket(bucket).key("k");

    let wrong = delete.clone().if_match_size(5).send().await;
    assert_eq!(failure(wrong), ("PreconditionFailed".to_string(), 412));
    assert_eq!(body_of(&s3, bucket, "k", None).await, "four");

    delete.if_match_size(4).send().await.unwrap();
    assert_eq!(get_code(&s3, bucket, "k").await, "NoSuchKey");
}

fn guarded(key: &str, etag: Option<&str>) -> ObjectIdentifier {
    ObjectIdentifier::builder()
        .key(key)
        .set_e_tag(etag.map(String::from))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_objects_with_conditions() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "cond-multi";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let etag = put_etag(&s3, bucket, "guarded", "guarded").await;
    put_etag(&s3, bucket, "free", "free").await;

    let delete = Delete::builder()
        .objects(guarded("guarded", Some("\"wrong\"")))
        .objects(guarded("free", None))
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .unwrap();
    let errors: Vec<(Option<&str>, Option<&str>)> =
        out.errors().iter().map(|e| (e.key(), e.code())).collect();
    assert_eq!(errors, [(Some("guarded"), Some("PreconditionFailed"))]);
    let deleted: Vec<Option<&str>> = out.deleted().iter().map(|d| d.key()).collect();
    assert_eq!(deleted, [Some("free")]);
    assert_eq!(body_of(&s3, bucket, "guarded", None).await, "guarded");
    assert_eq!(get_code(&s3, bucket, "free").await, "NoSuchKey");

    // The right ETag deletes it.
    let delete = Delete::builder()
        .objects(guarded("guarded", Some(&etag)))
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert_eq!(get_code(&s3, bucket, "guarded").await, "NoSuchKey");
}
