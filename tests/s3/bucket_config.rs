//! Bucket configuration families through the AWS SDK for Rust: each
//! family's Put/Get/Delete, its validation errors, and its document going
//! with the bucket.

use aws_sdk_s3::types::{Tag, Tagging};

use crate::harness::{code, Server};

fn tagging(tags: &[(&str, &str)]) -> Tagging {
    let mut builder = Tagging::builder();
    for (key, value) in tags {
        builder = builder.tag_set(Tag::builder().key(*key).value(*value).build().unwrap());
    }
    builder.build().unwrap()
}

async fn tags_of(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<(String, String)>, String> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) => Err(code::<(), _>(Err(e))),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bucket_tagging_round_trips_validates_and_goes_with_the_bucket() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("tagged").send().await.unwrap();
    assert_eq!(tags_of(&s3, "tagged").await.unwrap_err(), "NoSuchTagSet");

    let tags = [("team", "media"), ("cost center", "4+2"), ("é", "")];
    s3.put_bucket_tagging()
        .bucket("tagged")
        .tagging(tagging(&tags))
        .send()
        .await
        .unwrap();
    let expected: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(tags_of(&s3, "tagged").await.unwrap(), expected);

    // A bad set is refused whole; the stored one stands.
    let too_many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    let too_many: Vec<(&str, &str)> = too_many
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for bad in [
        vec![("a", "1"), ("a", "2")],
        vec![("aws:reserved", "v")],
        vec![("bad!", "v")],
        too_many,
    ] {
        let result = s3
            .put_bucket_tagging()
            .bucket("tagged")
            .tagging(tagging(&bad))
            .send()
            .await;
        assert_eq!(code(result), "InvalidTag", "{bad:?}");
    }
    assert_eq!(tags_of(&s3, "tagged").await.unwrap(), expected);

    // Replacing is whole; deleting answers 204 whether or not tags exist.
    s3.put_bucket_tagging()
        .bucket("tagged")
        .tagging(tagging(&[("only", "one")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&s3, "tagged").await.unwrap(),
        [("only".to_string(), "one".to_string())]
    );
    s3.delete_bucket_tagging()
        .bucket("tagged")
        .send()
        .await
        .unwrap();
    s3.delete_bucket_tagging()
        .bucket("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&s3, "tagged").await.unwrap_err(), "NoSuchTagSet");

    // Absent buckets, and a recreated bucket starts without the old tags.
    assert_eq!(tags_of(&s3, "absent").await.unwrap_err(), "NoSuchBucket");
    let result = s3
        .put_bucket_tagging()
        .bucket("absent")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await;
    assert_eq!(code(result), "NoSuchBucket");
    s3.put_bucket_tagging()
        .bucket("tagged")
        .tagging(tagging(&[("old", "tag")]))
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("tagged").send().await.unwrap();
    s3.create_bucket().bucket("tagged").send().await.unwrap();
    assert_eq!(tags_of(&s3, "tagged").await.unwrap_err(), "NoSuchTagSet");

    // Object tags are the object's own (tests/s3/tagging.rs): a tagged
    // bucket's objects do not inherit its tags.
    s3.put_bucket_tagging()
        .bucket("tagged")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("tagged")
        .key("k")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let object_tags = s3
        .get_object_tagging()
        .bucket("tagged")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(object_tags.tag_set().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bucket_encryption_is_sse_s3_by_default_and_refuses_kms() {
    use aws_sdk_s3::types::{
        ServerSideEncryption as Sse, ServerSideEncryptionByDefault,
        ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("enc").send().await.unwrap();
    let rule_of = |out: aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput| {
        let rule = out.server_side_encryption_configuration().unwrap().rules()[0].clone();
        (
            rule.apply_server_side_encryption_by_default()
                .unwrap()
                .sse_algorithm()
                .clone(),
            rule.bucket_key_enabled(),
        )
    };
    // Every bucket starts with S3's default, which is also the truth here.
    let out = s3
        .get_bucket_encryption()
        .bucket("enc")
        .send()
        .await
        .unwrap();
    assert_eq!(rule_of(out), (Sse::Aes256, Some(false)));

    let config = |algorithm: Sse, bucket_key: bool| {
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(algorithm)
                            .build()
                            .unwrap(),
                    )
                    .bucket_key_enabled(bucket_key)
                    .build(),
            )
            .build()
            .unwrap()
    };
    s3.put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(config(Sse::Aes256, true))
        .send()
        .await
        .unwrap();
    let out = s3
        .get_bucket_encryption()
        .bucket("enc")
        .send()
        .await
        .unwrap();
    assert_eq!(rule_of(out), (Sse::Aes256, Some(true)));

    // KMS is refused, never stored as if it applied.
    let kms = s3
        .put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(config(Sse::AwsKms, false))
        .send()
        .await;
    assert_eq!(code(kms), "NotImplemented");
    let out = s3
        .get_bucket_encryption()
        .bucket("enc")
        .send()
        .await
        .unwrap();
    assert_eq!(rule_of(out), (Sse::Aes256, Some(true)));

    // Deleting returns the bucket to the default.
    s3.delete_bucket_encryption()
        .bucket("enc")
        .send()
        .await
        .unwrap();
    let out = s3
        .get_bucket_encryption()
        .bucket("enc")
        .send()
        .await
        .unwrap();
    assert_eq!(rule_of(out), (Sse::Aes256, Some(false)));
    assert_eq!(
        code(s3.get_bucket_encryption().bucket("absent").send().await),
        "NoSuchBucket"
    );
}
