//! The AWS S3 API reference's SigV4 examples, checked through the server path
//! (parse, canonicalise, verify) and the client path (sign, presign, chunk
//! chain) at once; then round trips and tampering, and property tests.
//!
//! Vectors: "Signature Calculations for the Authorization Header: Transferring
//! Payload in a Single Chunk" (GET Object with Range, PUT Object, GET Bucket
//! Lifecycle, GET Bucket (List Objects)); "Authenticating Requests: Using
//! Query Parameters" (the presigned GET); "… Transferring Payload in Multiple
//! Chunks (Chunked Upload)" (seed and three chunk signatures); "Signature
//! calculations for trailing headers (chunked uploads)" (seed, chunks, trailer).
//! All use AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,
//! us-east-1 and 20130524T000000Z.

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const NOW: i64 = 1_369_353_600; // 20130524T000000Z

fn datetime() -> AmzDateTime {
    AmzDateTime::parse(b"20130524T000000Z").unwrap()
}

fn aws_key() -> SigningKey {
    signing_key(SECRET, "20130524", "us-east-1", "s3")
}

fn signer() -> RequestSigner {
    RequestSigner::new(ACCESS_KEY_ID, SECRET, "us-east-1", datetime())
}

fn hex32(s: &str) -> [u8; 32] {
    signature_from_hex(s.as_bytes()).unwrap()
}

/// One header-authorized example: the request as sent, what AWS says the
/// canonical request, string to sign and signature are.
struct Vector {
    method: &'static str,
    raw_path: &'static str,
    raw_query: &'static str,
    /// Without Authorization (and, for the signer, in the order it is given).
    headers: &'static [(&'static str, &'static str)],
    canonical_request: &'static str,
    string_to_sign: &'static str,
    signature: &'static str,
    signed_headers: &'static str,
}

const GET_OBJECT: Vector = Vector {
    method: "GET",
    raw_path: "/test.txt",
    raw_query: "",
    headers: &[
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Range", "bytes=0-9"),
        (
            "x-amz-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("x-amz-date", "20130524T000000Z"),
    ],
    canonical_request: "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
        x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
        x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    string_to_sign: "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
        7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
    signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    signed_headers: "host;range;x-amz-content-sha256;x-amz-date",
};

const PUT_OBJECT: Vector = Vector {
    method: "PUT",
    raw_path: "/test$file.text",
    raw_query: "",
    headers: &[
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
    ],
    canonical_request: "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n\
        host:examplebucket.s3.amazonaws.com\n\
        x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n\
        x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n\
        date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n\
        44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
    string_to_sign: "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
        9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
    signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    signed_headers: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
};

const GET_BUCKET_LIFECYCLE: Vector = Vector {
    method: "GET",
    raw_path: "/",
    raw_query: "lifecycle",
    headers: &[
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        (
            "x-amz-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ],
    canonical_request: "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n\
        x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
        x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n\
        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    string_to_sign: "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
        9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
    signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    signed_headers: "host;x-amz-content-sha256;x-amz-date",
};

const LIST_OBJECTS: Vector = Vector {
    method: "GET",
    raw_path: "/",
    raw_query: "max-keys=2&prefix=J",
    headers: &[
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        (
            "x-amz-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ],
    canonical_request: "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n\
        x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
        x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n\
        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    string_to_sign: "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
        df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
    signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    signed_headers: "host;x-amz-content-sha256;x-amz-date",
};

const CHUNKED_SEED: Vector = Vector {
    method: "PUT",
    raw_path: "/examplebucket/chunkObject.txt",
    raw_query: "",
    headers: &[
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", "66824"),
    ],
    canonical_request: "PUT\n/examplebucket/chunkObject.txt\n\ncontent-encoding:aws-chunked\n\
        content-length:66824\nhost:s3.amazonaws.com\n\
        x-amz-content-sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD\nx-amz-date:20130524T000000Z\n\
        x-amz-decoded-content-length:66560\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n\
        content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
        x-amz-decoded-content-length;x-amz-storage-class\nSTREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    string_to_sign: "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
        cee3fed04b70f867d036f722359b0b1f2f0e5dc0efadbc082b76c4c60e316455",
    signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    signed_headers: "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
        x-amz-decoded-content-length;x-amz-storage-class",
};

const CHUNKED_TRAILER_SEED: Vector = Vector {
    method: "PUT",
    raw_path: "/examplebucket/chunkObject.txt",
    raw_query: "",
    headers: &[
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        ),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
    ],
    canonical_request: "PUT\n/examplebucket/chunkObject.txt\n\ncontent-encoding:aws-chunked\n\
        host:s3.amazonaws.com\nx-amz-content-sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER\n\
        x-amz-date:20130524T000000Z\nx-amz-decoded-content-length:66560\n\
        x-amz-storage-class:REDUCED_REDUNDANCY\nx-amz-trailer:x-amz-checksum-crc32c\n\n\
        content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;\
        x-amz-storage-class;x-amz-trailer\nSTREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    string_to_sign: "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
        44d48b8c2f70eae815a0198cc73d7a546a73a93359c070abbaa5e6c7de112559",
    signature: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    signed_headers:
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;\
        x-amz-storage-class;x-amz-trailer",
};

fn byte_headers<'a>(headers: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a [u8])> {
    headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect()
}

/// The server path accepts the documented Authorization header and computes
/// the documented canonical request and string to sign; the client path,
/// given the same request, produces the documented signature and header.
fn check(v: &Vector) {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request,SignedHeaders={},Signature={}",
        v.signed_headers, v.signature
    );
    let mut headers = byte_headers(v.headers);
    headers.push(("Authorization", authorization.as_bytes()));
    let parts = RequestParts {
        method: v.method,
        raw_path: v.raw_path,
        raw_query: v.raw_query,
        headers: &headers,
    };

    let auth = request_authorization(&parts).unwrap().unwrap();
    assert_eq!(auth.check_region("us-east-1"), Ok(()));
    let payload = auth.payload_hash(&parts).unwrap();
    let canonical = canonical_request(&parts, &auth, &payload);
    assert_eq!(
        canonical.to_string(),
        v.canonical_request,
        "{}",
        v.signature
    );
    let to_sign = string_to_sign(auth.datetime, &auth.scope, &canonical);
    assert_eq!(to_sign, v.string_to_sign);
    assert_eq!(signature_hex(&sign(&aws_key(), &to_sign)), v.signature);
    let verified = verify_request(&parts, &auth, &aws_key(), NOW).unwrap();
    assert_eq!(verified.access_key_id(), ACCESS_KEY_ID);
    assert_eq!(verified.payload(), &payload);

    // The client signs the same headers minus the two it writes itself.
    let unsigned_by_client: Vec<_> = byte_headers(v.headers)
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"))
        .collect();
    let client_parts = RequestParts {
        headers: &unsigned_by_client,
        ..parts
    };
    let signed = signer().sign(&client_parts, &payload).unwrap();
    assert_eq!(signature_hex(&signed.signature), v.signature);
    assert_eq!(
        signed.authorization,
        format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request, SignedHeaders={}, \
             Signature={}",
            v.signed_headers, v.signature
        )
    );
    assert_eq!(
        signed.headers,
        [
            ("x-amz-date", "20130524T000000Z".to_owned()),
            ("x-amz-content-sha256", payload.as_str().to_owned())
        ]
    );
}

#[test]
fn aws_get_object_with_range() {
    check(&GET_OBJECT);
}

#[test]
fn aws_put_object() {
    check(&PUT_OBJECT);
    // The promised digest is the body's.
    let payload = PayloadHash::parse(PUT_OBJECT.headers[4].1.as_bytes()).unwrap();
    assert_eq!(
        payload.check_body(&Sha256::digest(b"Welcome to Amazon S3.").into()),
        Ok(())
    );
}

#[test]
fn aws_get_bucket_lifecycle() {
    check(&GET_BUCKET_LIFECYCLE);
}

#[test]
fn aws_get_bucket_list_objects() {
    check(&LIST_OBJECTS);
}

const PRESIGNED_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[test]
fn aws_presigned_get_object() {
    let headers: &[(&str, &[u8])] = &[("Host", b"examplebucket.s3.amazonaws.com")];
    let parts = RequestParts {
        method: "GET",
        raw_path: "/test.txt",
        raw_query: PRESIGNED_QUERY,
        headers,
    };
    let auth = request_authorization(&parts).unwrap().unwrap();
    assert_eq!(auth.presigned_expires_secs, Some(86_400));
    let payload = auth.payload_hash(&parts).unwrap();
    assert_eq!(payload, PayloadHash::Unsigned);
    let canonical = canonical_request(&parts, &auth, &payload);
    assert_eq!(
        canonical.to_string(),
        "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
         host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
    );
    assert_eq!(
        string_to_sign(auth.datetime, &auth.scope, &canonical),
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    );
    assert!(verify_request(&parts, &auth, &aws_key(), NOW)
        .unwrap()
        .is_presigned());
    // Valid for a day, not a second more.
    assert!(verify_request(&parts, &auth, &aws_key(), NOW + 86_400).is_ok());
    assert_eq!(
        verify_request(&parts, &auth, &aws_key(), NOW + 86_401),
        Err(SigV4Error::RequestExpired {
            expires_at_unix: NOW + 86_400
        })
    );
    // The client writes the documented URL's query, parameter for parameter.
    let unsigned = RequestParts {
        raw_query: "",
        ..parts
    };
    assert_eq!(
        signer().presign(&unsigned, 86_400).unwrap(),
        PRESIGNED_QUERY
    );
}

/// The chunk hashes of the AWS examples: 64 KiB of `a`, 1 KiB of `a`, nothing.
fn aws_chunk_hashes() -> [[u8; 32]; 3] {
    let a64k: [u8; 32] = Sha256::digest(vec![b'a'; 65_536]).into();
    let a1k: [u8; 32] = Sha256::digest(vec![b'a'; 1024]).into();
    assert_eq!(
        signature_hex(&a64k),
        "bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a"
    );
    assert_eq!(
        signature_hex(&a1k),
        "2edc986847e209b4016e141a6dc8716d3207350f416969382d431539bf292e4a"
    );
    [a64k, a1k, Sha256::digest(b"").into()]
}

/// Verifies the seed through the server path, then checks the chain both ways.
fn check_chunked(seed: &Vector, chunk_signatures: [&str; 3]) -> ChunkSigner {
    check(seed);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request, SignedHeaders={}, Signature={}",
        seed.signed_headers, seed.signature
    );
    let mut headers = byte_headers(seed.headers);
    headers.push(("Authorization", authorization.as_bytes()));
    let parts = RequestParts {
        method: seed.method,
        raw_path: seed.raw_path,
        raw_query: "",
        headers: &headers,
    };
    let auth = request_authorization(&parts).unwrap().unwrap();
    let verified = verify_request(&parts, &auth, &aws_key(), NOW).unwrap();
    let mut server = verified
        .chunk_signer(aws_key())
        .expect("a signed-chunk payload");
    let mut client = signer().chunk_signer(hex32(seed.signature));
    let mut previous = seed.signature;
    for (hash, expected) in aws_chunk_hashes().iter().zip(chunk_signatures) {
        assert_eq!(
            server.chunk_string_to_sign(hash),
            format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{previous}\n\
                 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n{}",
                signature_hex(hash)
            )
        );
        assert_eq!(signature_hex(&client.sign_chunk(hash)), expected);
        assert_eq!(server.verify_chunk(hash, &hex32(expected)), Ok(()));
        previous = expected;
    }
    server
}

#[test]
fn aws_chunked_upload() {
    check_chunked(
        &CHUNKED_SEED,
        [
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ],
    );
}

#[test]
fn aws_chunked_upload_with_trailer() {
    let server = check_chunked(
        &CHUNKED_TRAILER_SEED,
        [
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
            "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
        ],
    );
    let wire = b"x-amz-checksum-crc32c:sOO8/Q==\r\n\
        x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
    assert_eq!(
        server.trailer_string_to_sign(wire).unwrap(),
        "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\n\
         1e376db7e1a34a8ef1c4bcee131a2d60a1cb62503747488624e10995f448d774"
    );
    assert_eq!(
        signature_hex(
            &server
                .sign_trailer(b"x-amz-checksum-crc32c:sOO8/Q==\r\n")
                .unwrap()
        ),
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
    );
    assert_eq!(server.verify_trailer(wire), Ok(()));
    // Clients that write `name: value` or bare `\n` sign the same trailer.
    let loose = b"x-amz-checksum-crc32c: sOO8/Q==\n\
        x-amz-trailer-signature: d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\n";
    assert_eq!(server.verify_trailer(loose), Ok(()));
    let wrong_checksum = b"x-amz-checksum-crc32c:AAAAAA==\r\n\
        x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
    assert_eq!(
        server.verify_trailer(wrong_checksum),
        Err(SigV4Error::TrailerSignatureDoesNotMatch)
    );
}

/// A request for round trips: the client signs it, the server must accept it
/// exactly and refuse any change.
struct Request {
    method: String,
    raw_path: String,
    raw_query: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl Request {
    fn sample() -> Self {
        Self {
            method: "PUT".into(),
            raw_path: "/bucket/caf%C3%A9/a%20b+c~d%2Fe".into(),
            raw_query: "partNumber=2&uploadId=abc%2Bdef%2F%3D&flag&empty=".into(),
            headers: vec![
                ("Host".into(), b"localhost:9000".to_vec()),
                ("Content-Type".into(), b"text/plain".to_vec()),
                ("X-Amz-Meta-Note".into(), b"  two   spaces ".to_vec()),
                ("Content-Length".into(), b"5".to_vec()),
            ],
        }
    }

    fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    /// Signs with `payload`, then adds the signed headers and `Authorization`.
    fn sign(&mut self, signer: &RequestSigner, payload: &PayloadHash) {
        let headers = self.header_refs();
        let parts = RequestParts {
            method: &self.method,
            raw_path: &self.raw_path,
            raw_query: &self.raw_query,
            headers: &headers,
        };
        let signed = signer.sign(&parts, payload).unwrap();
        for (name, value) in signed.headers {
            self.headers.push((name.into(), value.into_bytes()));
        }
        self.headers
            .push(("Authorization".into(), signed.authorization.into_bytes()));
    }

    fn verify(&self, now_unix: i64) -> Result<Verified, SigV4Error> {
        let headers = self.header_refs();
        let parts = RequestParts {
            method: &self.method,
            raw_path: &self.raw_path,
            raw_query: &self.raw_query,
            headers: &headers,
        };
        let auth = request_authorization(&parts)?.expect("signed");
        let key = signing_key(
            SECRET,
            &auth.scope.date,
            &auth.scope.region,
            &auth.scope.service,
        );
        verify_request(&parts, &auth, &key, now_unix)
    }

    fn set_header(&mut self, name: &str, value: &[u8]) {
        self.headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap()
            .1 = value.to_vec();
    }
}

fn assert_mismatch(result: Result<Verified, SigV4Error>, what: &str) {
    assert!(
        matches!(
            result,
            Err(SigV4Error::SignatureDoesNotMatch {
                canonical_request: Some(_),
                ..
            })
        ),
        "{what}: {result:?}"
    );
}

#[test]
fn signed_requests_verify_and_any_change_fails() {
    let payload = PayloadHash::from_digest(Sha256::digest(b"hello").into());
    let mut signed = Request::sample();
    signed.sign(&signer(), &payload);
    let verified = signed.verify(NOW + 60).unwrap();
    assert_eq!(verified.payload(), &payload);
    assert_eq!(verified.chunk_signer(aws_key()).map(|_| ()), None);

    let tamper = |what: &str, edit: &dyn Fn(&mut Request)| {
        let mut r = Request {
            method: signed.method.clone(),
            raw_path: signed.raw_path.clone(),
            raw_query: signed.raw_query.clone(),
            headers: signed.headers.clone(),
        };
        edit(&mut r);
        assert_mismatch(r.verify(NOW), what);
    };
    tamper("method", &|r| r.method = "POST".into());
    tamper("path", &|r| r.raw_path.push('x'));
    tamper("path slash", &|r| {
        r.raw_path = r.raw_path.replace("%2F", "/")
    });
    tamper("path plus", &|r| {
        r.raw_path = r.raw_path.replace('+', "%20")
    });
    tamper("query value", &|r| {
        r.raw_query = r.raw_query.replace("partNumber=2", "partNumber=3")
    });
    tamper("query added", &|r| r.raw_query.push_str("&versionId=1"));
    tamper("query dropped", &|r| {
        r.raw_query = r.raw_query.replace("&flag", "")
    });
    tamper("signed header", &|r| {
        r.set_header("content-type", b"text/html")
    });
    tamper("signed header duplicated", &|r| {
        r.headers.push(("content-type".into(), b"x".to_vec()))
    });
    tamper("payload hash", &|r| {
        r.set_header("x-amz-content-sha256", b"UNSIGNED-PAYLOAD")
    });
    tamper("host", &|r| r.set_header("host", b"localhost:9001"));

    // Equivalent spellings of the same request still verify.
    let same = |what: &str, edit: &dyn Fn(&mut Request)| {
        let mut r = Request {
            method: signed.method.clone(),
            raw_path: signed.raw_path.clone(),
            raw_query: signed.raw_query.clone(),
            headers: signed.headers.clone(),
        };
        edit(&mut r);
        assert!(r.verify(NOW).is_ok(), "{what}");
    };
    same("query order", &|r| {
        r.raw_query = "empty=&flag=&uploadId=abc%2bdef%2f%3d&partNumber=2".into()
    });
    same("header case and spacing", &|r| {
        r.set_header("x-amz-meta-note", b"two spaces")
    });
    same("unsigned ordinary header", &|r| {
        r.headers.push(("User-Agent".into(), b"test".to_vec()))
    });
    same("path escapes", &|r| {
        r.raw_path = "/bucket/caf%c3%a9/a%20b%2Bc%7Ed%2Fe".into()
    });

    let mut unsigned_amz = Request {
        method: signed.method.clone(),
        raw_path: signed.raw_path.clone(),
        raw_query: signed.raw_query.clone(),
        headers: signed.headers.clone(),
    };
    unsigned_amz
        .headers
        .push(("x-amz-acl".into(), b"public-read".to_vec()));
    assert_eq!(
        unsigned_amz.verify(NOW).unwrap_err(),
        SigV4Error::HeaderNotSigned {
            name: "x-amz-acl".into()
        }
    );

    assert!(matches!(
        signed.verify(NOW + 901),
        Err(SigV4Error::RequestTimeTooSkewed { .. })
    ));
    assert!(matches!(
        signed.verify(NOW - 901),
        Err(SigV4Error::RequestTimeTooSkewed { .. })
    ));
}

#[test]
fn wrong_secret_fails() {
    let mut signed = Request::sample();
    let forger = RequestSigner::new(ACCESS_KEY_ID, b"not the secret", "us-east-1", datetime());
    signed.sign(&forger, &PayloadHash::Unsigned);
    assert_mismatch(signed.verify(NOW), "secret");
}

#[test]
fn session_tokens_are_sent_and_signed() {
    let with_token = signer().with_security_token("FQoGZXIvYXdz+/=");
    let mut signed = Request::sample();
    signed.sign(&with_token, &PayloadHash::Unsigned);
    assert_eq!(
        signed.verify(NOW).unwrap().security_token(),
        Some("FQoGZXIvYXdz+/=")
    );
    signed.set_header("x-amz-security-token", b"other");
    assert_mismatch(signed.verify(NOW), "token");

    let headers: &[(&str, &[u8])] = &[("host", b"localhost")];
    let parts = RequestParts {
        method: "GET",
        raw_path: "/b/k",
        raw_query: "",
        headers,
    };
    let query = with_token.presign(&parts, 60).unwrap();
    assert!(
        query.contains("&X-Amz-Security-Token=FQoGZXIvYXdz%2B%2F%3D&"),
        "{query}"
    );
    let parts = RequestParts {
        raw_query: &query,
        ..parts
    };
    let auth = request_authorization(&parts).unwrap().unwrap();
    assert_eq!(
        verify_request(&parts, &auth, &aws_key(), NOW)
            .unwrap()
            .security_token(),
        Some("FQoGZXIvYXdz+/=")
    );
}

#[test]
fn presigned_urls_verify_and_any_change_fails() {
    let headers: &[(&str, &[u8])] = &[("Host", b"localhost:9000"), ("x-amz-meta-a", b"1")];
    let parts = RequestParts {
        method: "PUT",
        raw_path: "/bucket/k%20ey",
        raw_query: "partNumber=1&uploadId=u%2B1",
        headers,
    };
    let query = signer().presign(&parts, 3600).unwrap();
    assert!(
        query.starts_with("partNumber=1&uploadId=u%2B1&X-Amz-Algorithm=AWS4-HMAC-SHA256&"),
        "{query}"
    );
    assert!(
        query.contains("&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&"),
        "{query}"
    );
    let verify = |parts: &RequestParts, now: i64| -> Result<Verified, SigV4Error> {
        let auth = request_authorization(parts)?.expect("presigned");
        verify_request(parts, &auth, &aws_key(), now)
    };
    let signed = RequestParts {
        raw_query: &query,
        ..parts
    };
    assert!(verify(&signed, NOW).is_ok());
    assert!(verify(&signed, NOW + 3600).is_ok());
    assert!(matches!(
        verify(&signed, NOW + 3601),
        Err(SigV4Error::RequestExpired { .. })
    ));
    assert!(matches!(
        verify(&signed, NOW - 901),
        Err(SigV4Error::RequestNotYetValid { .. })
    ));

    assert_mismatch(
        verify(
            &RequestParts {
                method: "GET",
                ..signed
            },
            NOW,
        ),
        "method",
    );
    assert_mismatch(
        verify(
            &RequestParts {
                raw_path: "/bucket/key",
                ..signed
            },
            NOW,
        ),
        "path",
    );
    let changed = query.replace("partNumber=1", "partNumber=2");
    assert_mismatch(
        verify(
            &RequestParts {
                raw_query: &changed,
                ..signed
            },
            NOW,
        ),
        "query",
    );
    let longer = query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200");
    assert_mismatch(
        verify(
            &RequestParts {
                raw_query: &longer,
                ..signed
            },
            NOW,
        ),
        "expires",
    );
    let other_meta: &[(&str, &[u8])] = &[("Host", b"localhost:9000"), ("x-amz-meta-a", b"2")];
    assert_mismatch(
        verify(
            &RequestParts {
                headers: other_meta,
                ..signed
            },
            NOW,
        ),
        "signed header",
    );
    let signed_payload = format!("{query}&X-Amz-Content-Sha256={EMPTY_SHA256_HEX}");
    assert_mismatch(
        verify(
            &RequestParts {
                raw_query: &signed_payload,
                ..signed
            },
            NOW,
        ),
        "payload",
    );
    let extra: &[(&str, &[u8])] = &[
        ("Host", b"localhost:9000"),
        ("x-amz-meta-a", b"1"),
        ("x-amz-acl", b"public-read"),
    ];
    assert_eq!(
        verify(
            &RequestParts {
                headers: extra,
                ..signed
            },
            NOW
        )
        .unwrap_err(),
        SigV4Error::HeaderNotSigned {
            name: "x-amz-acl".into()
        }
    );

    assert_eq!(
        signer().presign(&parts, 0),
        Err(SigV4Error::MalformedPresignedQuery(Malformed::Expires(
            "0".into()
        )))
    );
    assert_eq!(
        signer().presign(&parts, 604_801),
        Err(SigV4Error::MalformedPresignedQuery(Malformed::Expires(
            "604801".into()
        )))
    );
    let no_host = RequestParts {
        headers: &[],
        ..parts
    };
    assert_eq!(
        signer().presign(&no_host, 60),
        Err(SigV4Error::MalformedPresignedQuery(
            Malformed::HostNotSigned
        ))
    );
    assert_eq!(
        signer().sign(&no_host, &PayloadHash::Unsigned),
        Err(SigV4Error::MalformedAuthorization(Malformed::HostNotSigned))
    );
}

#[test]
fn streaming_request_round_trip() {
    let mut request = Request::sample();
    request.sign(&signer(), &PayloadHash::StreamingSignedTrailer);
    let verified = request.verify(NOW).unwrap();
    let mut server = verified.chunk_signer(aws_key()).unwrap();
    let seed = *verified.signature();
    let mut client = signer().chunk_signer(seed);
    for data in [&b"hello "[..], b"world", b""] {
        let hash: [u8; 32] = Sha256::digest(data).into();
        assert_eq!(
            server.verify_chunk(&hash, &client.sign_chunk(&hash)),
            Ok(())
        );
    }
    let trailer = b"x-amz-checksum-sha256:uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=\r\n";
    let signature = client.sign_trailer(trailer).unwrap();
    let wire = [
        &trailer[..],
        format!(
            "x-amz-trailer-signature:{}\r\n\r\n",
            signature_hex(&signature)
        )
        .as_bytes(),
    ]
    .concat();
    assert_eq!(server.verify_trailer(&wire), Ok(()));

    let mut unsigned_trailer = Request::sample();
    unsigned_trailer.sign(&signer(), &PayloadHash::StreamingUnsignedTrailer);
    let verified = unsigned_trailer.verify(NOW).unwrap();
    assert!(verified.payload().has_trailer() && verified.chunk_signer(aws_key()).is_none());
}

#[test]
fn missing_content_sha256_is_refused_for_header_auth() {
    let mut request = Request::sample();
    request.sign(&signer(), &PayloadHash::Unsigned);
    request
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-amz-content-sha256"));
    assert_eq!(
        request.verify(NOW).unwrap_err(),
        SigV4Error::MissingContentSha256
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the key, query and header values, a signed request verifies.
    #[test]
    fn any_signed_request_verifies(
        key in proptest::collection::vec(any::<u8>(), 0..24),
        query in proptest::collection::vec(("[a-zA-Z0-9+%/=~ -]{0,8}", ".{0,8}"), 0..4),
        meta in "[ -~]{0,20}",
        method in "(GET|PUT|POST|DELETE|HEAD)",
    ) {
        let raw_path = format!("/bucket/{}", uri_encode(&key, true));
        let raw_query = query
            .iter()
            .map(|(n, v)| format!("{}={}", n.replace('&', ""), uri_encode(v.as_bytes(), false)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = Request {
            method,
            raw_path,
            raw_query,
            headers: vec![("Host".into(), b"h".to_vec()), ("x-amz-meta-m".into(), meta.into_bytes())],
        };
        request.sign(&signer(), &PayloadHash::Unsigned);
        prop_assert!(request.verify(NOW).is_ok(), "{} ? {}", request.raw_path, request.raw_query);
    }

    #[test]
    fn request_authorization_never_panics(
        query in "[ -~]{0,200}",
        authorization in proptest::collection::vec(any::<u8>(), 0..200),
        date in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let headers: &[(&str, &[u8])] = &[("host", b"h"), ("authorization", &authorization), ("x-amz-date", &date)];
        for headers in [headers, &headers[..1]] {
            let parts = RequestParts { method: "GET", raw_path: "/", raw_query: &query, headers };
            if let Ok(Some(auth)) = request_authorization(&parts) {
                let _ = verify_request(&parts, &auth, &aws_key(), NOW);
            }
        }
    }
}

/// The S3 layer answers `SignatureDoesNotMatch` with the canonical request
/// and string to sign the server computed, so a client author can diff them
/// against their own: both must be exactly what was hashed and signed.
#[test]
fn mismatch_carries_what_the_server_signed() {
    let mut request = Request::sample();
    request.sign(&signer(), &PayloadHash::Unsigned);
    request.method = "DELETE".into();
    let Err(SigV4Error::SignatureDoesNotMatch {
        canonical_request: Some(canonical),
        string_to_sign,
    }) = request.verify(NOW)
    else {
        panic!("expected a signature mismatch");
    };
    assert!(canonical.starts_with("DELETE\n/bucket/caf%C3%A9/a%20b%2Bc~d%2Fe\nempty=&flag=&partNumber=2&uploadId=abc%2Bdef%2F%3D\n"), "{canonical}");
    assert!(canonical.ends_with("\nUNSIGNED-PAYLOAD"), "{canonical}");
    let hash = signature_hex(&Sha256::digest(canonical.as_bytes()));
    assert_eq!(
        string_to_sign,
        format!("AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{hash}")
    );
}
