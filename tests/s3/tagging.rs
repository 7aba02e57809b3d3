//! Object tagging through the AWS SDK for Rust: `x-amz-tagging` on PutObject,
//! CreateMultipartUpload and CopyObject (with `x-amz-tagging-directive`),
//! Get/Put/DeleteObjectTagging per version, `x-amz-tagging-count` on GET and
//! HEAD, S3's limits, and tags under a read-only grant.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging, TaggingDirective};
use aws_sdk_s3::Client;

use crate::grants::{client_for, restrict};
use crate::harness::{code, complete_with_one_part, versioned_bucket, Server};

async fn put(s3: &Client, bucket: &str, key: &str, tagging: Option<&str>) -> Option<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"tagged body"))
        .set_tagging(tagging.map(String::from))
        .send()
        .await
        .unwrap()
        .version_id()
        .map(String::from)
}

/// The tags of `bucket/key` (at `version`), as GetObjectTagging lists them.
async fn tags_of(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Vec<(String, String)> {
    s3.get_object_tagging()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(String::from))
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `x-amz-tagging-count` of a HEAD.
async fn tag_count(s3: &Client, bucket: &str, key: &str) -> Option<i32> {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .tag_count()
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_on_put_and_their_own_operations() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "tags-basic";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    put(
        &s3,
        bucket,
        "k",
        Some("project=blue&cost%20center=4%202&empty="),
    )
    .await;
    assert_eq!(
        tags_of(&s3, bucket, "k", None).await,
        pairs(&[("project", "blue"), ("cost center", "4 2"), ("empty", "")])
    );
    assert_eq!(tag_count(&s3, bucket, "k").await, Some(3));
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(got.tag_count(), Some(3));
    let (etag, modified) = (
        got.e_tag().unwrap().to_string(),
        *got.last_modified().unwrap(),
    );

    // PutObjectTagging replaces the set and leaves the object as it was.
    s3.put_object_tagging()
        .bucket(bucket)
        .key("k")
        .tagging(tagging(&[("é/@:+=._-", "v w")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&s3, bucket, "k", None).await,
        pairs(&[("é/@:+=._-", "v w")])
    );
    let head = s3
        .head_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.last_modified(), Some(&modified));
    assert_eq!(head.tag_count(), Some(1));

    s3.delete_object_tagging()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(tags_of(&s3, bucket, "k", None).await.is_empty());
    assert_eq!(tag_count(&s3, bucket, "k").await, None);
    let body = s3
        .get_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        body.body.collect().await.unwrap().into_bytes().as_ref(),
        b"tagged body"
    );

    // A plain overwrite carries no tags of the version it replaces.
    put(&s3, bucket, "k", Some("a=1")).await;
    put(&s3, bucket, "k", None).await;
    assert!(tags_of(&s3, bucket, "k", None).await.is_empty());

    let missing = s3
        .get_object_tagging()
        .bucket(bucket)
        .key("nope")
        .send()
        .await;
    assert_eq!(code(missing), "NoSuchKey");
    let missing = s3
        .put_object_tagging()
        .bucket(bucket)
        .key("nope")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await;
    assert_eq!(code(missing), "NoSuchKey");
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_and_bad_tags() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "tags-limits";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    put(&s3, bucket, "k", None).await;
    let put_tags = |tags: Vec<(String, String)>| {
        let s3 = s3.clone();
        async move {
            let list: Vec<(&str, &str)> =
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            code(
                s3.put_object_tagging()
                    .bucket(bucket)
                    .key("k")
                    .tagging(tagging(&list))
                    .send()
                    .await,
            )
        }
    };
    let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_eq!(put_tags(ten.clone()).await, "OK");
    let mut eleven = ten.clone();
    eleven.push(("k10".into(), "v".into()));
    assert_eq!(put_tags(eleven).await, "BadRequest");
    assert_eq!(
        put_tags(vec![("k!".into(), "v".into())]).await,
        "InvalidTag"
    );
    assert_eq!(
        put_tags(vec![("k".repeat(129), "v".into())]).await,
        "InvalidTag"
    );
    assert_eq!(
        put_tags(vec![("k".into(), "v".repeat(257))]).await,
        "InvalidTag"
    );
    assert_eq!(
        put_tags(vec![("aws:x".into(), "v".into())]).await,
        "InvalidTag"
    );
    assert_eq!(
        put_tags(vec![("k".into(), "1".into()), ("k".into(), "2".into())]).await,
        "InvalidTag"
    );
    // A refused change leaves the tags as they were.
    assert_eq!(tags_of(&s3, bucket, "k", None).await.len(), 10);

    let bad_header = |tagging: &'static str| {
        let s3 = s3.clone();
        async move {
            code(
                s3.put_object()
                    .bucket(bucket)
                    .key("h")
                    .body(ByteStream::from_static(b"x"))
                    .tagging(tagging)
                    .send()
                    .await,
            )
        }
    };
    assert_eq!(bad_header("a=1&a=2").await, "InvalidArgument");
    assert_eq!(bad_header("a=%ff").await, "InvalidArgument");
    assert_eq!(bad_header("a!=1").await, "InvalidTag");
    let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    let eleven: &'static str = Box::leak(eleven.join("&").into_boxed_str());
    assert_eq!(bad_header(eleven).await, "BadRequest");
    // No object was written by a refused PUT.
    let head = s3.head_object().bucket(bucket).key("h").send().await;
    assert!(head.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_belong_to_versions() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "tags-versions";
    versioned_bucket(&s3, bucket).await;
    let v1 = put(&s3, bucket, "k", Some("gen=1")).await.unwrap();
    let v2 = put(&s3, bucket, "k", Some("gen=2")).await.unwrap();
    assert_eq!(
        tags_of(&s3, bucket, "k", None).await,
        pairs(&[("gen", "2")])
    );
    assert_eq!(
        tags_of(&s3, bucket, "k", Some(&v1)).await,
        pairs(&[("gen", "1")])
    );

    // Tagging an old version by id changes that version only, and says which.
    let out = s3
        .put_object_tagging()
        .bucket(bucket)
        .key("k")
        .version_id(&v1)
        .tagging(tagging(&[("gen", "one")]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));
    assert_eq!(
        tags_of(&s3, bucket, "k", Some(&v1)).await,
        pairs(&[("gen", "one")])
    );
    assert_eq!(
        tags_of(&s3, bucket, "k", Some(&v2)).await,
        pairs(&[("gen", "2")])
    );
    let got = s3
        .get_object_tagging()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(got.version_id(), Some(v2.as_str()));
    let out = s3
        .delete_object_tagging()
        .bucket(bucket)
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(v2.as_str()));
    assert!(tags_of(&s3, bucket, "k", None).await.is_empty());

    // A delete marker has no tags to read or set.
    let marker = s3
        .delete_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    let latest = s3.get_object_tagging().bucket(bucket).key("k").send().await;
    assert_eq!(code(latest), "NoSuchKey");
    let named = s3
        .put_object_tagging()
        .bucket(bucket)
        .key("k")
        .version_id(&marker)
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await;
    assert_eq!(code(named), "MethodNotAllowed");
    let unknown = s3
        .get_object_tagging()
        .bucket(bucket)
        .key("k")
        .version_id("0123456789abcdef0123456789abcdef")
        .send()
        .await;
    assert_eq!(code(unknown), "NoSuchVersion");
    // Old versions keep their tags under the marker.
    assert_eq!(
        tags_of(&s3, bucket, "k", Some(&v1)).await,
        pairs(&[("gen", "one")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_and_multipart_carry_tags() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "tags-copy";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    put(&s3, bucket, "src", Some("from=source")).await;
    let copy =
        |dst: &'static str, directive: Option<TaggingDirective>, tags: Option<&'static str>| {
            let s3 = s3.clone();
            async move {
                code(
                    s3.copy_object()
                        .bucket(bucket)
                        .key(dst)
                        .copy_source(format!("{bucket}/src"))
                        .set_tagging_directive(directive)
                        .set_tagging(tags.map(String::from))
                        .send()
                        .await,
                )
            }
        };
    let source = pairs(&[("from", "source")]);
    for (dst, directive, tags, expected) in [
        ("default", None, None, source.clone()),
        ("copied", Some(TaggingDirective::Copy), Some("x=y"), source),
        (
            "replaced",
            Some(TaggingDirective::Replace),
            Some("x=y"),
            pairs(&[("x", "y")]),
        ),
        ("cleared", Some(TaggingDirective::Replace), None, Vec::new()),
    ] {
        assert_eq!(copy(dst, directive, tags).await, "OK");
        assert_eq!(tags_of(&s3, bucket, dst, None).await, expected, "{dst}");
    }
    let bad = s3
        .copy_object()
        .bucket(bucket)
        .key("bad")
        .copy_source(format!("{bucket}/src"))
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-amz-tagging-directive", "MERGE");
        })
        .send()
        .await;
    assert_eq!(code(bad), "InvalidArgument");

    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("mp")
        .tagging("part=of&a=whole")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    complete_with_one_part(&s3, (bucket, "mp", upload_id), b"one part").await;
    assert_eq!(
        tags_of(&s3, bucket, "mp", None).await,
        pairs(&[("part", "of"), ("a", "whole")])
    );
    // The stashed tagging header is not one of the object's headers.
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("mp")
        .send()
        .await
        .unwrap();
    assert_eq!(got.tag_count(), Some(2));
    let bad = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("mp2")
        .tagging("a=1&a=2")
        .send()
        .await;
    assert_eq!(code(bad), "InvalidArgument");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_grant_reads_tags_and_changes_none() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "tags-grant";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    put(&s3, bucket, "k", Some("a=1")).await;
    let reader = client_for(&server, &restrict(&server.grant(), &["--read-only"]));
    assert_eq!(
        tags_of(&reader, bucket, "k", None).await,
        pairs(&[("a", "1")])
    );
    let change = reader
        .put_object_tagging()
        .bucket(bucket)
        .key("k")
        .tagging(tagging(&[("a", "2")]))
        .send()
        .await;
    assert_eq!(code(change), "AccessDenied");
    let remove = reader
        .delete_object_tagging()
        .bucket(bucket)
        .key("k")
        .send()
        .await;
    assert_eq!(code(remove), "AccessDenied");
    assert_eq!(tags_of(&s3, bucket, "k", None).await, pairs(&[("a", "1")]));
}
