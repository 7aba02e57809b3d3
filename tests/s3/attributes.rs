//! GetObjectAttributes through the AWS SDK for Rust: each attribute as asked,
//! parts paged for multipart objects, old versions by id, and refusals.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart,
    ObjectAttributes as Attr,
};
use aws_sdk_s3::Client;

use crate::harness::{bytes, code, versioned_bucket, Server};

const ALL: [Attr; 5] = [
    Attr::Etag,
    Attr::Checksum,
    Attr::ObjectParts,
    Attr::StorageClass,
    Attr::ObjectSize,
];

/// A three-part upload of 5 MiB, 5 MiB and 1,000 bytes; its ETag.
async fn three_parts(s3: &Client, bucket: &str, key: &str) -> String {
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let mut done = Vec::new();
    for (number, len) in [(1, 5 << 20), (2, 5 << 20), (3, 1000)] {
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(bytes(len, number as u64)))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    let out = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.e_tag().unwrap().trim_matches('"').to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn attributes_as_asked() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "attrs";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let put = s3
        .put_object()
        .bucket(bucket)
        .key("one")
        .body(ByteStream::from_static(b"hello attributes"))
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .send()
        .await
        .unwrap();
    let out = s3
        .get_object_attributes()
        .bucket(bucket)
        .key("one")
        .set_object_attributes(Some(ALL.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(put.e_tag().unwrap().trim_matches('"')));
    assert_eq!(out.object_size(), Some(16));
    assert_eq!(out.storage_class().map(|c| c.as_str()), Some("STANDARD"));
    let checksum = out.checksum().unwrap();
    assert_eq!(checksum.checksum_crc32_c(), put.checksum_crc32_c());
    assert_eq!(checksum.checksum_type(), Some(&ChecksumType::FullObject));
    assert!(out.object_parts().is_none(), "a single PUT has no parts");
    assert!(out.last_modified().is_some());

    let only_size = s3
        .get_object_attributes()
        .bucket(bucket)
        .key("one")
        .object_attributes(Attr::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(only_size.object_size(), Some(16));
    assert!(only_size.e_tag().is_none() && only_size.checksum().is_none());

    let etag = three_parts(&s3, bucket, "parts").await;
    let page = |marker: Option<&str>| {
        s3.get_object_attributes()
            .bucket(bucket)
            .key("parts")
            .set_object_attributes(Some(ALL.to_vec()))
            .max_parts(2)
            .set_part_number_marker(marker.map(String::from))
            .send()
    };
    let first = page(None).await.unwrap();
    assert_eq!(first.e_tag(), Some(etag.as_str()));
    assert_eq!(first.object_size(), Some((10 << 20) + 1000));
    let parts = first.object_parts().unwrap();
    assert_eq!(parts.total_parts_count(), Some(3));
    assert_eq!(parts.is_truncated(), Some(true));
    assert_eq!(parts.next_part_number_marker(), Some("2"));
    let listed: Vec<(i32, i64)> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number().unwrap(), p.size().unwrap()))
        .collect();
    assert_eq!(listed, [(1, 5 << 20), (2, 5 << 20)]);
    let rest = page(Some("2")).await.unwrap();
    let parts = rest.object_parts().unwrap();
    assert_eq!(parts.is_truncated(), Some(false));
    assert_eq!(parts.parts().len(), 1);
    assert_eq!(parts.parts()[0].size(), Some(1000));

    let bad = s3
        .get_object_attributes()
        .bucket(bucket)
        .key("one")
        .object_attributes(Attr::from("Colour"))
        .send()
        .await;
    assert_eq!(code(bad), "InvalidArgument");
    let missing = s3
        .get_object_attributes()
        .bucket(bucket)
        .key("none")
        .object_attributes(Attr::Etag)
        .send()
        .await;
    assert_eq!(code(missing), "NoSuchKey");
}

#[tokio::test(flavor = "multi_thread")]
async fn attributes_of_versions() {
    let server = Server::start(&[]);
    let s3 = server.client();
    let bucket = "attrs-versions";
    versioned_bucket(&s3, bucket).await;
    let mut versions = Vec::new();
    for body in ["short", "a longer body"] {
        let out = s3
            .put_object()
            .bucket(bucket)
            .key("k")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
        versions.push(out.version_id().unwrap().to_string());
    }
    let size_of = |version: Option<String>| {
        s3.get_object_attributes()
            .bucket(bucket)
            .key("k")
            .set_version_id(version)
            .object_attributes(Attr::ObjectSize)
            .send()
    };
    let old = size_of(Some(versions[0].clone())).await.unwrap();
    assert_eq!(old.object_size(), Some(5));
    assert_eq!(old.version_id(), Some(versions[0].as_str()));
    let latest = size_of(None).await.unwrap();
    assert_eq!(latest.object_size(), Some(13));
    assert_eq!(latest.version_id(), Some(versions[1].as_str()));

    s3.delete_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(code(size_of(None).await), "NoSuchKey");
    assert_eq!(
        size_of(Some(versions[0].clone()))
            .await
            .unwrap()
            .object_size(),
        Some(5)
    );
    let unknown = size_of(Some("0123456789abcdef0123456789abcdef".into())).await;
    assert_eq!(code(unknown), "NoSuchVersion");
}
