//! Bad input over raw sockets: malformed heads, oversized headers, bad
//! signatures, truncated bodies, wrong chunk signatures and checksums, invalid
//! XML, unknown operations. Each gets its S3 error, nothing partial becomes
//! visible, and the server keeps serving.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use ringgate::sigv4::{signature_hex, AmzDateTime, PayloadHash, RequestParts, RequestSigner};
use sha2::{Digest, Sha256};

use crate::harness::{bytes, code_of, now, status_of, Server};

const WAIT: Duration = Duration::from_secs(5);

/// A request head signed with the server's credentials. `headers` are signed
/// (lowercase names); `payload` is the x-amz-content-sha256 promise.
fn signed_head(
    server: &Server,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload: &PayloadHash,
    at: AmzDateTime,
) -> (String, RequestSigner, [u8; 32]) {
    signed_head_for_host(
        server,
        &server.addr.to_string(),
        method,
        path,
        query,
        headers,
        payload,
        at,
    )
}

#[allow(clippy::too_many_arguments)]
fn signed_head_for_host(
    server: &Server,
    host: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload: &PayloadHash,
    at: AmzDateTime,
) -> (String, RequestSigner, [u8; 32]) {
    let mut signed: Vec<(&str, &[u8])> = vec![("host", host.as_bytes())];
    signed.extend(headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    let signer = RequestSigner::new(
        &server.access_key,
        server.secret_key.as_bytes(),
        "us-east-1",
        at,
    );
    let parts = RequestParts {
        method,
        raw_path: path,
        raw_query: query,
        headers: &signed,
    };
    let out = signer.sign(&parts, payload).unwrap();
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    for (name, value) in &out.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("authorization: {}\r\n\r\n", out.authorization));
    (head, signer, out.signature)
}

async fn assert_still_serving(server: &Server) {
    let s3 = server.client();
    s3.list_buckets().send().await.expect("server still serves");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_heads_get_4xx_and_the_server_keeps_serving() {
    let server = Server::start(&[]);
    let big_header = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(40 << 10)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    let long_line = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(10 << 10));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("garbage request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        ("header without colon", b"GET / HTTP/1.1\r\nhost: x\r\nnocolon\r\n\r\n".to_vec(), 400),
        ("http/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), 505),
        ("http/1.1 without host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("oversized header", big_header.into_bytes(), 431),
        ("too many headers", many_headers.into_bytes(), 431),
        ("request line too long", long_line.into_bytes(), 414),
        (
            "content-length and chunked",
            b"PUT /b/k HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n".to_vec(),
            400,
        ),
        (
            "bad content-length",
            b"PUT /b/k HTTP/1.1\r\nhost: x\r\ncontent-length: 12x\r\n\r\n".to_vec(),
            400,
        ),
        ("unknown expectation", b"GET / HTTP/1.1\r\nhost: x\r\nexpect: magic\r\n\r\n".to_vec(), 417),
    ];
    for (name, request, want) in cases {
        let response = server.raw(&request, WAIT);
        assert_eq!(
            status_of(&response),
            want,
            "{name}: {}",
            String::from_utf8_lossy(&response)
        );
        let text = String::from_utf8_lossy(&response);
        assert!(text.contains("x-amz-request-id"), "{name}: {text}");
        assert!(text.contains("<Error><Code>"), "{name}: {text}");
    }
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_errors() {
    let server = Server::start(&[]);
    let anonymous = server.raw(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", WAIT);
    assert_eq!(
        (status_of(&anonymous), code_of(&anonymous).as_str()),
        (403, "AccessDenied")
    );

    let (head, _, _) = signed_head(
        &server,
        "GET",
        "/",
        "",
        &[],
        &PayloadHash::from_digest(Sha256::digest(b"").into()),
        now(),
    );
    let mut bad = head.clone();
    let at = bad.find("Signature=").unwrap() + "Signature=".len();
    let flipped = if &bad[at..at + 1] == "0" { "1" } else { "0" };
    bad.replace_range(at..at + 1, flipped);
    let response = server.raw(bad.as_bytes(), WAIT);
    assert_eq!(
        (status_of(&response), code_of(&response).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert!(String::from_utf8_lossy(&response).contains("<StringToSign>"));

    let unknown = head.replace(&server.access_key, "RGAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let response = server.raw(unknown.as_bytes(), WAIT);
    assert_eq!(
        (status_of(&response), code_of(&response).as_str()),
        (403, "InvalidAccessKeyId")
    );

    let old = AmzDateTime::from_unix_secs(now().unix_secs() - 3600).unwrap();
    let (stale, _, _) = signed_head(
        &server,
        "GET",
        "/",
        "",
        &[],
        &PayloadHash::from_digest(Sha256::digest(b"").into()),
        old,
    );
    let response = server.raw(stale.as_bytes(), WAIT);
    assert_eq!(
        (status_of(&response), code_of(&response).as_str()),
        (403, "RequestTimeTooSkewed")
    );

    // Presigned URLs: valid, then expired.
    let host = server.addr.to_string();
    let host_header: Vec<(&str, &[u8])> = vec![("host", host.as_bytes())];
    let parts = RequestParts {
        method: "GET",
        raw_path: "/",
        raw_query: "",
        headers: &host_header,
    };
    let signer = RequestSigner::new(
        &server.access_key,
        server.secret_key.as_bytes(),
        "us-east-1",
        now(),
    );
    let query = signer.presign(&parts, 60).unwrap();
    let response = server.raw(
        format!("GET /?{query} HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes(),
        WAIT,
    );
    assert_eq!(
        status_of(&response),
        200,
        "{}",
        String::from_utf8_lossy(&response)
    );
    let signer = RequestSigner::new(
        &server.access_key,
        server.secret_key.as_bytes(),
        "us-east-1",
        old,
    );
    let query = signer.presign(&parts, 60).unwrap();
    let response = server.raw(
        format!("GET /?{query} HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes(),
        WAIT,
    );
    assert_eq!(
        (status_of(&response), code_of(&response).as_str()),
        (403, "AccessDenied")
    );
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_leave_nothing_visible() {
    let server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("old")
        .body(ByteStream::from(bytes(200_000, 1)))
        .send()
        .await
        .unwrap();

    // A body whose SHA-256 is not the signed one.
    let body = bytes(100_000, 2);
    let claimed = PayloadHash::from_digest(Sha256::digest(b"something else").into());
    let length = body.len().to_string();
    let (head, _, _) = signed_head(
        &server,
        "PUT",
        "/bkt/old",
        "",
        &[("content-length", &length)],
        &claimed,
        now(),
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let response = server.raw(&request, WAIT);
    assert_eq!(
        code_of(&response),
        "XAmzContentSHA256Mismatch",
        "{}",
        String::from_utf8_lossy(&response)
    );

    // A truncated body: the client announces 1 MB, sends 1000 bytes, hangs up.
    let (head, _, _) = signed_head(
        &server,
        "PUT",
        "/bkt/truncated",
        "",
        &[("content-length", "1000000")],
        &PayloadHash::Unsigned,
        now(),
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&bytes(1000, 3));
    {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream.write_all(&request).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut sink);
    }

    // aws-chunked with a wrong chunk signature.
    let data = bytes(70_000, 4);
    let decoded = data.len().to_string();
    let (head, signer, seed) = signed_head(
        &server,
        "PUT",
        "/bkt/old",
        "",
        &[
            ("content-encoding", "aws-chunked"),
            ("transfer-encoding", "chunked"),
            ("x-amz-decoded-content-length", &decoded),
        ],
        &PayloadHash::StreamingSigned,
        now(),
    );
    let mut chain = signer.chunk_signer(seed);
    let mut aws = Vec::new();
    for (i, chunk) in data
        .chunks(65536)
        .chain(std::iter::once(&[][..]))
        .enumerate()
    {
        let mut signature = chain.sign_chunk(&Sha256::digest(chunk).into());
        if i == 1 {
            signature[0] ^= 1;
        }
        aws.extend_from_slice(
            format!(
                "{:x};chunk-signature={}\r\n",
                chunk.len(),
                signature_hex(&signature)
            )
            .as_bytes(),
        );
        aws.extend_from_slice(chunk);
        aws.extend_from_slice(b"\r\n");
    }
    let mut request = head.into_bytes();
    request.extend_from_slice(format!("{:x}\r\n", aws.len()).as_bytes());
    request.extend_from_slice(&aws);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    let response = server.raw(&request, WAIT);
    assert_eq!(
        code_of(&response),
        "SignatureDoesNotMatch",
        "{}",
        String::from_utf8_lossy(&response)
    );

    // A wrong CRC32 in a header.
    let body = bytes(5000, 5);
    let length = body.len().to_string();
    let hash = PayloadHash::from_digest(Sha256::digest(&body).into());
    let (head, _, _) = signed_head(
        &server,
        "PUT",
        "/bkt/old",
        "",
        &[
            ("content-length", &length),
            ("x-amz-checksum-crc32", "AAAAAA=="),
        ],
        &hash,
        now(),
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let response = server.raw(&request, WAIT);
    assert_eq!(
        code_of(&response),
        "BadDigest",
        "{}",
        String::from_utf8_lossy(&response)
    );

    // Invalid XML, unknown and unsupported operations.
    let xml = b"<Delete><Object><Key>old</Key></Object>";
    let md5 = {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(xml))
    };
    let length = xml.len().to_string();
    let hash = PayloadHash::from_digest(Sha256::digest(xml).into());
    let (head, _, _) = signed_head(
        &server,
        "POST",
        "/bkt",
        "delete=",
        &[("content-length", &length), ("content-md5", &md5)],
        &hash,
        now(),
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(xml);
    let response = server.raw(&request, WAIT);
    assert_eq!(
        code_of(&response),
        "MalformedXML",
        "{}",
        String::from_utf8_lossy(&response)
    );
    let empty = PayloadHash::from_digest(Sha256::digest(b"").into());
    for (method, query, want) in [
        ("GET", "torrent=", "NotImplemented"),
        ("PUT", "acl=", "NotImplemented"),
        ("GET", "website=", "NotImplemented"),
    ] {
        let (head, _, _) = signed_head(&server, method, "/bkt/old", query, &[], &empty, now());
        let response = server.raw(head.as_bytes(), WAIT);
        assert_eq!(code_of(&response), want, "{method} ?{query}");
    }

    // Nothing above changed or created an object.
    let old = s3
        .get_object()
        .bucket("bkt")
        .key("old")
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.body.collect().await.unwrap().into_bytes().to_vec(),
        bytes(200_000, 1)
    );
    assert!(s3
        .head_object()
        .bucket("bkt")
        .key("truncated")
        .send()
        .await
        .is_err());
    let listed = s3.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_continue_and_keep_alive() {
    use std::io::{Read, Write};
    let server = Server::start(&[]);
    server
        .client()
        .create_bucket()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    let body = bytes(1000, 6);
    let length = body.len().to_string();
    let hash = PayloadHash::from_digest(Sha256::digest(&body).into());
    let (head, _, _) = signed_head(
        &server,
        "PUT",
        "/bkt/k",
        "",
        &[("content-length", &length), ("expect", "100-continue")],
        &hash,
        now(),
    );
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    stream.write_all(&body).unwrap();
    let mut response = buf[n..n].to_vec();
    while !String::from_utf8_lossy(&response).contains("\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        response.extend_from_slice(&buf[..n]);
    }
    assert_eq!(status_of(&response), 200);
    // The same connection carries the next request.
    let empty = PayloadHash::from_digest(Sha256::digest(b"").into());
    let (head, _, _) = signed_head(&server, "GET", "/bkt/k", "", &[], &empty, now());
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    while response.len() < 1000 || !String::from_utf8_lossy(&response).contains("\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        response.extend_from_slice(&buf[..n]);
    }
    assert_eq!(status_of(&response), 200);
    assert!(response.ends_with(&body));
}

#[tokio::test(flavor = "multi_thread")]
async fn virtual_hosted_style_addressing() {
    let server = Server::start(&["--domain", "s3.test"]);
    server
        .client()
        .create_bucket()
        .bucket("vhost")
        .send()
        .await
        .unwrap();
    let host = format!("vhost.s3.test:{}", server.addr.port());
    let body = b"by host";
    let length = body.len().to_string();
    let hash = PayloadHash::from_digest(Sha256::digest(body).into());
    let (head, _, _) = signed_head_for_host(
        &server,
        &host,
        "PUT",
        "/dir/k",
        "",
        &[("content-length", &length)],
        &hash,
        now(),
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    assert_eq!(status_of(&server.raw(&request, WAIT)), 200);
    // Path style still works beside it, and sees the same object.
    let got = server
        .client()
        .get_object()
        .bucket("vhost")
        .key("dir/k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        body
    );
    let empty = PayloadHash::from_digest(Sha256::digest(b"").into());
    let (head, _, _) = signed_head_for_host(
        &server,
        &host,
        "GET",
        "/",
        "list-type=2",
        &[],
        &empty,
        now(),
    );
    let response = server.raw(head.as_bytes(), WAIT);
    assert_eq!(status_of(&response), 200);
    assert!(String::from_utf8_lossy(&response).contains("<Key>dir/k</Key>"));
}

/// Story: registration was recognised by method and path alone (`POST
/// /v1/access`). Symptom: with `--domain`, a signed CreateMultipartUpload of
/// the key `v1/access` in a virtual-hosted bucket (`POST
/// vhost.<domain>/v1/access?uploads`) was answered by the registration handler
/// with a JSON 400. Consequence: that key could not be uploaded in parts, and
/// an S3 request's body was read as a registration. Fix: registration is only
/// a query-less POST to the endpoint's own host.
#[tokio::test(flavor = "multi_thread")]
async fn a_virtual_hosted_key_named_like_registration_is_s3() {
    let server = Server::start(&["--domain", "s3.test"]);
    let s3 = server.client();
    s3.create_bucket().bucket("vhost").send().await.unwrap();
    let host = format!("vhost.s3.test:{}", server.addr.port());
    let empty = PayloadHash::from_digest(Sha256::digest(b"").into());
    let (head, _, _) = signed_head_for_host(
        &server,
        &host,
        "POST",
        "/v1/access",
        "uploads",
        &[("content-length", "0")],
        &empty,
        now(),
    );
    let response = server.raw(head.as_bytes(), WAIT);
    let text = String::from_utf8_lossy(&response);
    assert_eq!(status_of(&response), 200, "{text}");
    assert!(text.contains("<Key>v1/access</Key>"), "{text}");
    let uploads = s3
        .list_multipart_uploads()
        .bucket("vhost")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = uploads.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(keys, ["v1/access"]);
}
