//! Every supported operation through the official AWS SDK for Rust, default
//! configuration, against the real server.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete,
    MetadataDirective, ObjectIdentifier,
};

use crate::harness::{bytes, code, md5_hex, versioned_bucket, Server};

async fn body(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("alpha").send().await.unwrap();
    s3.create_bucket().bucket("beta.b-2").send().await.unwrap();
    assert_eq!(
        code(s3.create_bucket().bucket("alpha").send().await),
        "BucketAlreadyOwnedByYou"
    );
    for bad in [
        "Upper",
        "ab",
        "a..b",
        "192.168.1.1",
        "-start",
        "xn--punycode",
    ] {
        assert_eq!(
            code(s3.create_bucket().bucket(bad).send().await),
            "InvalidBucketName",
            "{bad}"
        );
    }
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(String::from))
        .collect();
    assert_eq!(names, ["alpha", "beta.b-2"]);
    s3.head_bucket().bucket("alpha").send().await.unwrap();
    assert!(s3.head_bucket().bucket("gamma").send().await.is_err());
    let location = s3
        .get_bucket_location()
        .bucket("alpha")
        .send()
        .await
        .unwrap();
    assert!(location
        .location_constraint()
        .is_none_or(|l| l.as_str().is_empty()));
    let versioning = s3
        .get_bucket_versioning()
        .bucket("alpha")
        .send()
        .await
        .unwrap();
    assert!(versioning.status().is_none());
    s3.put_object()
        .bucket("alpha")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(s3.delete_bucket().bucket("alpha").send().await),
        "BucketNotEmpty"
    );
    s3.delete_object()
        .bucket("alpha")
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("alpha").send().await.unwrap();
    assert_eq!(
        code(s3.delete_bucket().bucket("alpha").send().await),
        "NoSuchBucket"
    );
    assert_eq!(
        code(
            s3.put_object()
                .bucket("nope")
                .key("k")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        "NoSuchBucket"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_round_trip_with_metadata_ranges_and_conditions() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    // Sizes around the inline threshold, a share, a stripe and several stripes.
    for (i, len) in [0usize, 1, 4096, 4097, 65_535, 262_144, 1_000_003]
        .into_iter()
        .enumerate()
    {
        let data = bytes(len, i as u64);
        let key = format!("dir/obj {i}+é");
        let put = s3
            .put_object()
            .bucket("bkt")
            .key(&key)
            .body(ByteStream::from(data.clone()))
            .content_type("application/x-test")
            .cache_control("max-age=7")
            .content_disposition("attachment")
            .metadata("color", "blue")
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.e_tag(),
            Some(format!("\"{}\"", md5_hex(&data)).as_str())
        );
        let got = s3
            .get_object()
            .bucket("bkt")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_type(), Some("application/x-test"));
        assert_eq!(got.cache_control(), Some("max-age=7"));
        assert_eq!(got.content_disposition(), Some("attachment"));
        assert_eq!(
            got.metadata().unwrap().get("color").map(String::as_str),
            Some("blue")
        );
        assert_eq!(got.content_length(), Some(len as i64));
        assert_eq!(body(got).await, data, "len {len}");
        let head = s3
            .head_object()
            .bucket("bkt")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(len as i64));
        assert_eq!(head.e_tag(), put.e_tag());
        if len > 10 {
            let ranges = [(0, 0), (1, 9), (len - 5, len - 1), (len / 2, len + 100)];
            for (a, b) in ranges {
                let out = s3
                    .get_object()
                    .bucket("bkt")
                    .key(&key)
                    .range(format!("bytes={a}-{b}"))
                    .send()
                    .await
                    .unwrap();
                let end = (b + 1).min(len);
                assert_eq!(
                    out.content_range(),
                    Some(format!("bytes {a}-{}/{len}", end - 1).as_str())
                );
                assert_eq!(body(out).await, &data[a..end]);
            }
            let suffix = s3
                .get_object()
                .bucket("bkt")
                .key(&key)
                .range("bytes=-7")
                .send()
                .await
                .unwrap();
            assert_eq!(body(suffix).await, &data[len - 7..]);
            assert_eq!(
                code(
                    s3.get_object()
                        .bucket("bkt")
                        .key(&key)
                        .range(format!("bytes={len}-"))
                        .send()
                        .await
                ),
                "InvalidRange"
            );
        }
    }
    // Conditions.
    let etag = s3
        .head_object()
        .bucket("bkt")
        .key("dir/obj 3+é")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    assert_eq!(
        code(
            s3.get_object()
                .bucket("bkt")
                .key("dir/obj 3+é")
                .if_match("\"nope\"")
                .send()
                .await
        ),
        "PreconditionFailed"
    );
    s3.get_object()
        .bucket("bkt")
        .key("dir/obj 3+é")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    let not_modified = s3
        .get_object()
        .bucket("bkt")
        .key("dir/obj 3+é")
        .if_none_match(&etag)
        .send()
        .await;
    assert!(
        format!("{not_modified:?}").contains("304"),
        "{not_modified:?}"
    );
    // Response overrides.
    let overridden = s3
        .get_object()
        .bucket("bkt")
        .key("dir/obj 3+é")
        .response_content_type("text/x-override")
        .response_content_disposition("inline")
        .send()
        .await
        .unwrap();
    assert_eq!(overridden.content_type(), Some("text/x-override"));
    assert_eq!(overridden.content_disposition(), Some("inline"));
    // Missing keys, versionId=null, deletes of absent keys.
    assert_eq!(
        code(s3.get_object().bucket("bkt").key("absent").send().await),
        "NoSuchKey"
    );
    s3.get_object()
        .bucket("bkt")
        .key("dir/obj 3+é")
        .version_id("null")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket("bkt")
        .key("absent")
        .send()
        .await
        .unwrap();
    // Conditional writes.
    assert_eq!(
        code(
            s3.put_object()
                .bucket("bkt")
                .key("dir/obj 3+é")
                .if_none_match("*")
                .body(ByteStream::from_static(b"new"))
                .send()
                .await
        ),
        "PreconditionFailed"
    );
    s3.put_object()
        .bucket("bkt")
        .key("fresh")
        .if_none_match("*")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn checksums_are_verified_stored_and_returned() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("chk").send().await.unwrap();
    let data = bytes(300_000, 5);
    for algorithm in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("k-{}", algorithm.as_str());
        s3.put_object()
            .bucket("chk")
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let got = s3
            .get_object()
            .bucket("chk")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let returned = [
            got.checksum_crc32(),
            got.checksum_crc32_c(),
            got.checksum_crc64_nvme(),
            got.checksum_sha1(),
            got.checksum_sha256(),
        ]
        .iter()
        .filter(|c| c.is_some())
        .count();
        assert_eq!(returned, 1, "{algorithm:?}");
        // The SDK validates the returned checksum while reading the body.
        assert_eq!(body(got).await, data);
    }
    // A wrong checksum: refused, the old object stays.
    let wrong = s3
        .put_object()
        .bucket("chk")
        .key("k-CRC32")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from(bytes(1000, 1)))
        .send()
        .await;
    assert_eq!(code(wrong), "BadDigest");
    let kept = s3
        .get_object()
        .bucket("chk")
        .key("k-CRC32")
        .send()
        .await
        .unwrap();
    assert_eq!(body(kept).await, data);
    // Content-MD5.
    let bad_md5 = s3
        .put_object()
        .bucket("chk")
        .key("md5")
        .content_md5("AAAAAAAAAAAAAAAAAAAAAA==")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await;
    assert_eq!(code(bad_md5), "BadDigest");
    assert_eq!(
        code(s3.head_object().bucket("chk").key("md5").send().await),
        "NotFound"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listing() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("lst").send().await.unwrap();
    let keys = [
        "a", "a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d+e", "d e", "é/x", "z",
    ];
    for key in keys {
        s3.put_object()
            .bucket("lst")
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort();
    // v2 paging two at a time visits every key in byte order.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("lst")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(page.contents().iter().map(|o| o.key().unwrap().to_string()));
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        token = page.next_continuation_token().map(String::from);
    }
    assert_eq!(seen, sorted);
    // Delimiter and prefix.
    let top = s3
        .list_objects_v2()
        .bucket("lst")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/", "c/", "é/"]);
    let files: Vec<&str> = top.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(files, ["a", "b", "d e", "d+e", "z"]);
    let under_a = s3
        .list_objects_v2()
        .bucket("lst")
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        under_a
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .collect::<Vec<_>>(),
        ["a/1", "a/2"]
    );
    assert_eq!(
        under_a
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .collect::<Vec<_>>(),
        ["a/b/"]
    );
    let after = s3
        .list_objects_v2()
        .bucket("lst")
        .start_after("c/2")
        .send()
        .await
        .unwrap();
    assert_eq!(after.contents().first().and_then(|o| o.key()), Some("d e"));
    // v1 with marker, and versions.
    let v1 = s3
        .list_objects()
        .bucket("lst")
        .marker("b")
        .max_keys(3)
        .send()
        .await
        .unwrap();
    assert_eq!(
        v1.contents()
            .iter()
            .filter_map(|o| o.key())
            .collect::<Vec<_>>(),
        ["c/1", "c/2", "d e"]
    );
    assert_eq!(v1.is_truncated(), Some(true));
    let versions = s3
        .list_object_versions()
        .bucket("lst")
        .prefix("c/")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 2);
    assert!(versions
        .versions()
        .iter()
        .all(|v| v.version_id() == Some("null")));
    // URL encoding type: S3 form-encodes keys (space as '+', '+' as %2B);
    // botocore decodes them, the Rust SDK leaves that to the caller.
    let encoded = s3
        .list_objects_v2()
        .bucket("lst")
        .prefix("d")
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .unwrap();
    let raw: Vec<&str> = encoded.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(raw, ["d+e", "d%2Be"]);
    let keys = ["d e", "d+e"];
    // DeleteObjects (the SDK sends a CRC32 header, no Content-MD5).
    let delete = Delete::builder()
        .set_objects(Some(
            keys.iter()
                .chain(["a", "nonexistent"].iter())
                .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap();
    let deleted = s3
        .delete_objects()
        .bucket("lst")
        .delete(delete)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), 4);
    assert!(deleted.errors().is_empty());
    // Three real keys went; "nonexistent" is reported deleted, as S3 does.
    let left = s3.list_objects_v2().bucket("lst").send().await.unwrap();
    assert_eq!(left.key_count(), Some(sorted.len() as i32 - 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_share_data_and_rewrap_keys() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("src").send().await.unwrap();
    s3.create_bucket().bucket("dst").send().await.unwrap();
    let data = bytes(2_500_000, 9);
    s3.put_object()
        .bucket("src")
        .key("orig")
        .content_type("image/png")
        .metadata("m", "1")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let pieces_before = server.piece_files().len();
    let copied = s3
        .copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("src/orig")
        .send()
        .await
        .unwrap();
    assert_eq!(
        copied.copy_object_result().unwrap().e_tag(),
        Some(format!("\"{}\"", md5_hex(&data)).as_str())
    );
    assert_eq!(
        server.piece_files().len(),
        pieces_before,
        "a copy shares pieces, it writes none"
    );
    let got = s3
        .get_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("image/png"));
    assert_eq!(
        got.metadata().unwrap().get("m").map(String::as_str),
        Some("1")
    );
    assert_eq!(body(got).await, data);
    // REPLACE takes the request's metadata; copying onto itself needs it.
    s3.copy_object()
        .bucket("src")
        .key("orig")
        .copy_source("src/orig")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.head_object()
            .bucket("src")
            .key("orig")
            .send()
            .await
            .unwrap()
            .content_type(),
        Some("text/plain")
    );
    assert_eq!(
        code(
            s3.copy_object()
                .bucket("src")
                .key("orig")
                .copy_source("src/orig")
                .send()
                .await
        ),
        "InvalidRequest"
    );
    // Deleting the source leaves the copy readable.
    s3.delete_object()
        .bucket("src")
        .key("orig")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(body(got).await, data);
    assert_eq!(
        code(
            s3.copy_object()
                .bucket("dst")
                .key("x")
                .copy_source("src/orig")
                .send()
                .await
        ),
        "NoSuchKey"
    );
}

/// A client that lost CompleteMultipartUpload's answer retries it: the same
/// parts get the first answer (ETag, checksum, version), other parts and
/// aborts get NoSuchUpload, and two completions racing both succeed with one
/// object between them.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_completion_gets_the_first_answer() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "mpu-retry";
    versioned_bucket(&s3, bucket).await;
    let start = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            let id = s3
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .send()
                .await
                .unwrap()
                .upload_id()
                .unwrap()
                .to_string();
            let part = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .part_number(1)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(bytes(1000, 9)))
                .send()
                .await
                .unwrap();
            let done = CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap())
                .set_checksum_crc32(part.checksum_crc32().map(String::from))
                .build();
            (id, done)
        }
    };
    let complete = |key: &'static str, id: String, part: CompletedPart| {
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().parts(part).build())
            .send()
    };
    let (id, part) = start("k").await;
    let first = complete("k", id.clone(), part.clone()).await.unwrap();
    let again = complete("k", id.clone(), part.clone()).await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    assert_eq!(again.version_id(), first.version_id());
    assert!(first.checksum_crc32().is_some());
    assert_eq!(again.checksum_crc32(), first.checksum_crc32());
    let other = CompletedPart::builder()
        .part_number(1)
        .e_tag("\"00000000000000000000000000000000\"")
        .build();
    assert_eq!(code(complete("k", id.clone(), other).await), "NoSuchUpload");
    assert_eq!(
        code(complete("elsewhere", id.clone(), part).await),
        "NoSuchUpload"
    );
    let abort = s3
        .abort_multipart_upload()
        .bucket(bucket)
        .key("k")
        .upload_id(&id)
        .send()
        .await;
    assert_eq!(code(abort), "NoSuchUpload");

    let (id, part) = start("raced").await;
    let (a, b) = tokio::join!(
        complete("raced", id.clone(), part.clone()),
        complete("raced", id, part)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.e_tag(), a.version_id()), (b.e_tag(), b.version_id()));
    let versions = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix("raced")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_lifecycle() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    let part1 = bytes(5 << 20, 1);
    let part2 = bytes(5 << 20, 2);
    let tail = bytes(777, 3);
    let source = bytes(6 << 20, 4);
    s3.put_object()
        .bucket("mpu")
        .key("source")
        .body(ByteStream::from(source.clone()))
        .send()
        .await
        .unwrap();
    let created = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("big")
        .content_type("video/mp4")
        .metadata("origin", "test")
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap().to_string();
    let mut etags = Vec::new();
    for (n, part) in [(1, &part1), (2, &part2)] {
        let out = s3
            .upload_part()
            .bucket("mpu")
            .key("big")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(part.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.e_tag(), Some(format!("\"{}\"", md5_hex(part)).as_str()));
        etags.push(out.e_tag().unwrap().to_string());
    }
    // Part 3 copies a range of another object; part 4 is small and last.
    let copied = s3
        .upload_part_copy()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .part_number(3)
        .copy_source("mpu/source")
        .copy_source_range(format!("bytes=100-{}", (5 << 20) + 99))
        .send()
        .await
        .unwrap();
    etags.push(
        copied
            .copy_part_result()
            .unwrap()
            .e_tag()
            .unwrap()
            .to_string(),
    );
    let out = s3
        .upload_part()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .part_number(4)
        .body(ByteStream::from(tail.clone()))
        .send()
        .await
        .unwrap();
    etags.push(out.e_tag().unwrap().to_string());
    let uploads = s3
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));
    let parts = s3
        .list_parts()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts
            .parts()
            .iter()
            .map(|p| p.part_number().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let completed = |numbers: &[i32]| {
        CompletedMultipartUpload::builder()
            .set_parts(Some(
                numbers
                    .iter()
                    .map(|&n| {
                        CompletedPart::builder()
                            .part_number(n)
                            .e_tag(&etags[n as usize - 1])
                            .build()
                    })
                    .collect(),
            ))
            .build()
    };
    // Out of order, and a small part in the middle: refused.
    assert_eq!(
        code(
            s3.complete_multipart_upload()
                .bucket("mpu")
                .key("big")
                .upload_id(&id)
                .multipart_upload(completed(&[2, 1]))
                .send()
                .await
        ),
        "InvalidPartOrder"
    );
    assert_eq!(
        code(
            s3.complete_multipart_upload()
                .bucket("mpu")
                .key("big")
                .upload_id(&id)
                .multipart_upload(completed(&[1, 4, 3]))
                .send()
                .await
        ),
        "InvalidPartOrder"
    );
    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .multipart_upload(completed(&[1, 2, 3, 4]))
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-4\""),
        "{:?}",
        done.e_tag()
    );
    let mut expected = part1.clone();
    expected.extend_from_slice(&part2);
    expected.extend_from_slice(&source[100..(5 << 20) + 100]);
    expected.extend_from_slice(&tail);
    let got = s3
        .get_object()
        .bucket("mpu")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("video/mp4"));
    assert_eq!(got.content_length(), Some(expected.len() as i64));
    assert_eq!(body(got).await, expected);
    let part = s3
        .get_object()
        .bucket("mpu")
        .key("big")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(part.parts_count(), Some(4));
    assert_eq!(body(part).await, part2);
    // A range across the part boundary.
    let edge = s3
        .get_object()
        .bucket("mpu")
        .key("big")
        .range(format!("bytes={}-{}", (5 << 20) - 10, (5 << 20) + 9))
        .send()
        .await
        .unwrap();
    assert_eq!(body(edge).await, &expected[(5 << 20) - 10..(5 << 20) + 10]);
    assert_eq!(
        code(
            s3.list_parts()
                .bucket("mpu")
                .key("big")
                .upload_id(&id)
                .send()
                .await
        ),
        "NoSuchUpload"
    );
    // Abort releases everything.
    let aborted = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("gone")
        .send()
        .await
        .unwrap();
    let gone_id = aborted.upload_id().unwrap();
    s3.upload_part()
        .bucket("mpu")
        .key("gone")
        .upload_id(gone_id)
        .part_number(1)
        .body(ByteStream::from(bytes(100_000, 8)))
        .send()
        .await
        .unwrap();
    s3.abort_multipart_upload()
        .bucket("mpu")
        .key("gone")
        .upload_id(gone_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            s3.abort_multipart_upload()
                .bucket("mpu")
                .key("gone")
                .upload_id(gone_id)
                .send()
                .await
        ),
        "NoSuchUpload"
    );
    assert_eq!(
        code(s3.head_object().bucket("mpu").key("gone").send().await),
        "NotFound"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_object_is_sse_s3_and_other_encryption_is_refused() {
    use aws_sdk_s3::types::ServerSideEncryption as Sse;
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("enc").send().await.unwrap();
    // Asked for or not, every write and read says AES256.
    for (key, asked) in [("plain", None), ("asked", Some(Sse::Aes256))] {
        let put = s3
            .put_object()
            .bucket("enc")
            .key(key)
            .set_server_side_encryption(asked)
            .body(ByteStream::from_static(b"secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(put.server_side_encryption(), Some(&Sse::Aes256));
        let head = s3
            .head_object()
            .bucket("enc")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.server_side_encryption(), Some(&Sse::Aes256));
        let get = s3.get_object().bucket("enc").key(key).send().await.unwrap();
        assert_eq!(get.server_side_encryption(), Some(&Sse::Aes256));
    }
    let mpu = s3
        .create_multipart_upload()
        .bucket("enc")
        .key("mp")
        .server_side_encryption(Sse::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(mpu.server_side_encryption(), Some(&Sse::Aes256));
    let upload_id = mpu.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket("enc")
        .key("mp")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    assert_eq!(part.server_side_encryption(), Some(&Sse::Aes256));
    let done = s3
        .complete_multipart_upload()
        .bucket("enc")
        .key("mp")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(done.server_side_encryption(), Some(&Sse::Aes256));
    // Re-encrypting in place names the method: a legal self-copy.
    let copy = s3
        .copy_object()
        .bucket("enc")
        .key("plain")
        .copy_source("enc/plain")
        .server_side_encryption(Sse::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.server_side_encryption(), Some(&Sse::Aes256));

    // KMS and customer keys are refused, never ignored; nothing is written.
    let kms = s3
        .put_object()
        .bucket("enc")
        .key("kms")
        .server_side_encryption(Sse::AwsKms)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(code(kms), "NotImplemented");
    use md5::Digest as _;
    let customer_key = [7u8; 32];
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let key_md5 = b64(&md5::Md5::digest(customer_key));
    let sse_c = s3
        .put_object()
        .bucket("enc")
        .key("sse-c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(b64(&customer_key))
        .sse_customer_key_md5(&key_md5)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(code(sse_c), "NotImplemented");
    for key in ["kms", "sse-c"] {
        assert_eq!(
            code(s3.head_object().bucket("enc").key(key).send().await),
            "NotFound"
        );
    }
    let read = s3
        .get_object()
        .bucket("enc")
        .key("plain")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(b64(&customer_key))
        .sse_customer_key_md5(&key_md5)
        .send()
        .await;
    assert_eq!(code(read), "InvalidRequest");
}
