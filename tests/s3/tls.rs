//! HTTPS with a throwaway certificate: the SDK over TLS sends streamed uploads
//! as aws-chunked bodies with CRC trailers.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;

use crate::harness::{bytes, md5_hex, Server};

#[tokio::test(flavor = "multi_thread")]
async fn sdk_over_tls() {
    let server = Server::start_tls(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("tls").send().await.unwrap();
    for (i, len) in [0usize, 10, 70_000, 9 << 20].into_iter().enumerate() {
        let data = bytes(len, 20 + i as u64);
        let key = format!("k{i}");
        let put = s3
            .put_object()
            .bucket("tls")
            .key(&key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.e_tag(),
            Some(format!("\"{}\"", md5_hex(&data)).as_str())
        );
        let got = s3
            .get_object()
            .bucket("tls")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(body.as_ref(), data.as_slice());
    }
}
