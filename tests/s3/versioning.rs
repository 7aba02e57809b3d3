//! S3 object versioning through the AWS SDK for Rust: the bucket's versioning
//! state, versions and the `null` version, delete markers, deleting specific
//! versions, writes on a suspended bucket, ListObjectVersions paging, copies
//! and multipart uploads of versions, DeleteObjects with versions, and a bucket
//! that holds only versions being not empty.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus as Status, CompletedMultipartUpload, CompletedPart, Delete, MfaDelete,
    ObjectIdentifier, VersioningConfiguration,
};
use aws_sdk_s3::Client;

use crate::harness::{code, set_versioning, versioned_bucket, versioning_of, Server};

/// A version id the server minted: 32 hex digits.
fn assert_minted(id: Option<&str>) -> String {
    let id = id.expect("a version id");
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    id.to_string()
}

/// The S3 error code, HTTP status and `x-amz-delete-marker` header of a call
/// that must fail.
fn failure<T, E>(result: Result<T, SdkError<E>>) -> (String, u16, Option<String>)
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
    let marker = raw.headers().get("x-amz-delete-marker").map(String::from);
    (error.code().unwrap_or("").to_string(), status, marker)
}

/// PUTs `body` as `bucket/key`; the version id the response names.
async fn put(s3: &Client, bucket: &str, key: &str, body: &str) -> Option<String> {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
    out.version_id().map(String::from)
}

/// GETs `bucket/key` (of `version`, if given): its body and version id.
async fn get(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> (String, Option<String>) {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(String::from))
        .send()
        .await
        .unwrap();
    let version_id = out.version_id().map(String::from);
    let body = out.body.collect().await.unwrap().into_bytes().to_vec();
    (String::from_utf8(body).unwrap(), version_id)
}

async fn list_versions(s3: &Client, bucket: &str, prefix: &str) -> ListObjectVersionsOutput {
    s3.list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap()
}

/// The listed object versions as (version id, is latest), in listed order.
fn versions_of(out: &ListObjectVersionsOutput) -> Vec<(String, bool)> {
    out.versions()
        .iter()
        .map(|v| (v.version_id().unwrap().to_string(), v.is_latest().unwrap()))
        .collect()
}

/// The listed delete markers as (version id, is latest), in listed order.
fn markers_of(out: &ListObjectVersionsOutput) -> Vec<(String, bool)> {
    out.delete_markers()
        .iter()
        .map(|m| (m.version_id().unwrap().to_string(), m.is_latest().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn enable_suspend_and_status() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket()
        .bucket("ver-status")
        .send()
        .await
        .unwrap();
    assert_eq!(versioning_of(&s3, "ver-status").await, None);
    set_versioning(&s3, "ver-status", Status::Enabled).await;
    assert_eq!(
        versioning_of(&s3, "ver-status").await,
        Some(Status::Enabled)
    );
    set_versioning(&s3, "ver-status", Status::Suspended).await;
    assert_eq!(
        versioning_of(&s3, "ver-status").await,
        Some(Status::Suspended)
    );

    // MFA delete is refused, and the stored state stands.
    let mfa = VersioningConfiguration::builder()
        .status(Status::Enabled)
        .mfa_delete(MfaDelete::Enabled)
        .build();
    let result = s3
        .put_bucket_versioning()
        .bucket("ver-status")
        .versioning_configuration(mfa)
        .send()
        .await;
    assert_eq!(code(result), "InvalidArgument");
    assert_eq!(
        versioning_of(&s3, "ver-status").await,
        Some(Status::Suspended)
    );
    assert_eq!(
        code(s3.get_bucket_versioning().bucket("absent").send().await),
        "NoSuchBucket"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_and_null_versions() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("ver-null").send().await.unwrap();
    assert_eq!(put(&s3, "ver-null", "k", "v0").await, None);
    // A bucket never versioned shows no version id.
    assert_eq!(get(&s3, "ver-null", "k", None).await, ("v0".into(), None));
    set_versioning(&s3, "ver-null", Status::Enabled).await;
    let v1 = assert_minted(put(&s3, "ver-null", "k", "v1").await.as_deref());
    let v2 = assert_minted(put(&s3, "ver-null", "k", "v2").await.as_deref());
    assert_ne!(v1, v2);

    assert_eq!(
        get(&s3, "ver-null", "k", None).await,
        ("v2".into(), Some(v2.clone()))
    );
    assert_eq!(
        get(&s3, "ver-null", "k", Some(&v1)).await,
        ("v1".into(), Some(v1.clone()))
    );
    // The object from before versioning is the null version.
    assert_eq!(
        get(&s3, "ver-null", "k", Some("null")).await,
        ("v0".into(), Some("null".into()))
    );

    let listed = list_versions(&s3, "ver-null", "k").await;
    assert_eq!(
        versions_of(&listed),
        [(v2, true), (v1, false), ("null".to_string(), false)]
    );
    assert!(listed.delete_markers().is_empty());
    assert!(listed
        .versions()
        .iter()
        .all(|v| v.key() == Some("k") && v.size() == Some(2)));
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_markers_and_restore() {
    let server = Server::start(&[]);
    let s3 = server.client();
    versioned_bucket(&s3, "ver-marker").await;
    let version = assert_minted(put(&s3, "ver-marker", "k", "a").await.as_deref());
    let deleted = s3
        .delete_object()
        .bucket("ver-marker")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    let marker = assert_minted(deleted.version_id());
    assert_ne!(marker, version);

    // The key reads as absent; the marker itself cannot be read.
    let get_current = s3.get_object().bucket("ver-marker").key("k").send().await;
    assert_eq!(
        failure(get_current),
        ("NoSuchKey".to_string(), 404, Some("true".to_string()))
    );
    let head = s3.head_object().bucket("ver-marker").key("k").send().await;
    assert_eq!(failure(head).1, 404);
    let get_marker = s3
        .get_object()
        .bucket("ver-marker")
        .key("k")
        .version_id(&marker)
        .send()
        .await;
    let (error_code, status, _) = failure(get_marker);
    assert_eq!((error_code.as_str(), status), ("MethodNotAllowed", 405));

    let listed = list_versions(&s3, "ver-marker", "").await;
    assert_eq!(versions_of(&listed), [(version.clone(), false)]);
    assert_eq!(markers_of(&listed), [(marker.clone(), true)]);
    let current = s3
        .list_objects_v2()
        .bucket("ver-marker")
        .send()
        .await
        .unwrap();
    assert!(current.contents().is_empty(), "{:?}", current.contents());

    // Deleting the marker restores the version under it.
    let removed = s3
        .delete_object()
        .bucket("ver-marker")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.delete_marker(), Some(true));
    assert_eq!(removed.version_id(), Some(marker.as_str()));
    assert_eq!(
        get(&s3, "ver-marker", "k", None).await,
        ("a".into(), Some(version))
    );
}

async fn delete_version(s3: &Client, bucket: &str, key: &str, version: &str) {
    let out = s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(version));
    assert_ne!(out.delete_marker(), Some(true), "{version} is no marker");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_specific_version() {
    let server = Server::start(&[]);
    let s3 = server.client();
    versioned_bucket(&s3, "ver-delete").await;
    let a = assert_minted(put(&s3, "ver-delete", "k", "first").await.as_deref());
    let b = assert_minted(put(&s3, "ver-delete", "k", "second").await.as_deref());

    // A malformed version id is refused, not read as the current version.
    let malformed = s3
        .get_object()
        .bucket("ver-delete")
        .key("k")
        .version_id("not-a-version")
        .send()
        .await;
    assert_eq!(code(malformed), "InvalidArgument");

    // Deleting the latest version makes the one before it current.
    delete_version(&s3, "ver-delete", "k", &b).await;
    assert_eq!(
        get(&s3, "ver-delete", "k", None).await,
        ("first".into(), Some(a.clone()))
    );
    delete_version(&s3, "ver-delete", "k", &a).await;
    assert_eq!(
        code(s3.get_object().bucket("ver-delete").key("k").send().await),
        "NoSuchKey"
    );

    // A well-formed version that never existed: deleted, as S3 answers.
    let zeros = "0".repeat(32);
    s3.delete_object()
        .bucket("ver-delete")
        .key("k")
        .version_id(&zeros)
        .send()
        .await
        .unwrap();
    let listed = list_versions(&s3, "ver-delete", "").await;
    assert!(listed.versions().is_empty(), "{:?}", listed.versions());
    assert!(
        listed.delete_markers().is_empty(),
        "{:?}",
        listed.delete_markers()
    );
    s3.delete_bucket()
        .bucket("ver-delete")
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn suspended_writes_replace_the_null_version() {
    let server = Server::start(&[]);
    let s3 = server.client();
    versioned_bucket(&s3, "ver-suspend").await;
    let e1 = assert_minted(put(&s3, "ver-suspend", "k", "e1").await.as_deref());
    set_versioning(&s3, "ver-suspend", Status::Suspended).await;
    let s1 = put(&s3, "ver-suspend", "k", "s1").await;
    assert!(matches!(s1.as_deref(), None | Some("null")), "{s1:?}");
    put(&s3, "ver-suspend", "k", "s2").await;

    // s2 replaced s1 as the one null version; e1 stays.
    let null = "null".to_string();
    let listed = list_versions(&s3, "ver-suspend", "k").await;
    assert_eq!(
        versions_of(&listed),
        [(null.clone(), true), (e1.clone(), false)]
    );
    assert!(listed.delete_markers().is_empty());
    assert_eq!(get(&s3, "ver-suspend", "k", Some("null")).await.0, "s2");
    // In a bucket that has been versioned, the null version shows its id.
    assert_eq!(
        get(&s3, "ver-suspend", "k", None).await,
        ("s2".into(), Some(null.clone()))
    );
    assert_eq!(get(&s3, "ver-suspend", "k", Some(&e1)).await.0, "e1");

    // A delete on a suspended bucket puts a null marker in s2's place.
    let deleted = s3
        .delete_object()
        .bucket("ver-suspend")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    assert_eq!(deleted.version_id(), Some("null"));
    let listed = list_versions(&s3, "ver-suspend", "k").await;
    assert_eq!(versions_of(&listed), [(e1, false)]);
    assert_eq!(markers_of(&listed), [(null, true)]);
}

/// Every (key, version id) of `bucket`, listed `max_keys` at a time.
async fn list_all_versions(s3: &Client, bucket: &str, max_keys: i32) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(max_keys)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .unwrap();
        assert!(page.versions().len() <= max_keys as usize);
        seen.extend(page.versions().iter().map(|v| {
            (
                v.key().unwrap().to_string(),
                v.version_id().unwrap().to_string(),
            )
        }));
        if !page.is_truncated().unwrap_or(false) {
            return seen;
        }
        key_marker = page.next_key_marker().map(String::from);
        version_marker = page.next_version_id_marker().map(String::from);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_object_versions_pages() {
    let server = Server::start(&[]);
    let s3 = server.client();
    versioned_bucket(&s3, "ver-pages").await;
    let mut expected = Vec::new();
    for key in ["a/1", "a/2", "b"] {
        let mut ids = Vec::new();
        for n in 0..3 {
            let id = put(&s3, "ver-pages", key, &format!("{key} {n}")).await;
            ids.push((key.to_string(), assert_minted(id.as_deref())));
        }
        // Listed newest first.
        expected.extend(ids.into_iter().rev());
    }
    assert_eq!(list_all_versions(&s3, "ver-pages", 2).await, expected);

    let top = s3
        .list_object_versions()
        .bucket("ver-pages")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/"]);
    let listed: Vec<(String, String)> = top
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap().to_string(),
                v.version_id().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(listed, &expected[6..]);
}

/// A one-part multipart upload of `data` as `bucket/key`; the version id
/// CompleteMultipartUpload names.
async fn multipart_put(s3: &Client, bucket: &str, key: &str, data: &[u8]) -> Option<String> {
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
    let completed = CompletedPart::builder()
        .part_number(1)
        .e_tag(part.e_tag().unwrap())
        .build();
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(completed).build())
        .send()
        .await
        .unwrap();
    done.version_id().map(String::from)
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_from_old_version_and_multipart() {
    let server = Server::start(&[]);
    let s3 = server.client();
    versioned_bucket(&s3, "ver-copy").await;
    let old = assert_minted(put(&s3, "ver-copy", "src", "old").await.as_deref());
    put(&s3, "ver-copy", "src", "new").await;
    let copied = s3
        .copy_object()
        .bucket("ver-copy")
        .key("dst")
        .copy_source(format!("ver-copy/src?versionId={old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.copy_source_version_id(), Some(old.as_str()));
    let dst = assert_minted(copied.version_id());
    assert_eq!(
        get(&s3, "ver-copy", "dst", None).await,
        ("old".into(), Some(dst))
    );

    // Each completed upload is a new version of its key.
    let first = assert_minted(
        multipart_put(&s3, "ver-copy", "mp", b"part one")
            .await
            .as_deref(),
    );
    let second = assert_minted(
        multipart_put(&s3, "ver-copy", "mp", b"part two")
            .await
            .as_deref(),
    );
    assert_ne!(first, second);
    let listed = list_versions(&s3, "ver-copy", "mp").await;
    assert_eq!(
        versions_of(&listed),
        [(second, true), (first.clone(), false)]
    );
    assert_eq!(get(&s3, "ver-copy", "mp", Some(&first)).await.0, "part one");
}

fn identifier(key: &str, version: Option<&str>) -> ObjectIdentifier {
    ObjectIdentifier::builder()
        .key(key)
        .set_version_id(version.map(String::from))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_objects_with_versions() {
    let server = Server::start(&[]);
    let s3 = server.client();
    versioned_bucket(&s3, "ver-multi").await;
    let x1 = assert_minted(put(&s3, "ver-multi", "x", "x one").await.as_deref());
    let x2 = assert_minted(put(&s3, "ver-multi", "x", "x two").await.as_deref());
    put(&s3, "ver-multi", "y", "y").await;

    let delete = Delete::builder()
        .objects(identifier("x", Some(&x1)))
        .objects(identifier("y", None))
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket("ver-multi")
        .delete(delete)
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert_eq!(out.deleted().len(), 2);
    let deleted = |key: &str| out.deleted().iter().find(|d| d.key() == Some(key)).unwrap();
    assert_eq!(deleted("x").version_id(), Some(x1.as_str()));
    assert_ne!(deleted("x").delete_marker(), Some(true));
    assert_eq!(deleted("y").delete_marker(), Some(true));
    assert_minted(deleted("y").delete_marker_version_id());

    assert_eq!(
        get(&s3, "ver-multi", "x", None).await,
        ("x two".into(), Some(x2))
    );
    assert_eq!(
        code(s3.get_object().bucket("ver-multi").key("y").send().await),
        "NoSuchKey"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bucket_with_versions_is_not_empty() {
    let server = Server::start(&[]);
    let s3 = server.client();
    versioned_bucket(&s3, "ver-full").await;
    put(&s3, "ver-full", "k", "kept").await;
    s3.delete_object()
        .bucket("ver-full")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(s3.delete_bucket().bucket("ver-full").send().await),
        "BucketNotEmpty"
    );
}
