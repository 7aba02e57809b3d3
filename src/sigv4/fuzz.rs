//! Entry points for the SigV4 fuzz targets: every parser over arbitrary bytes,
//! and the client's signer against the server's verifier over arbitrary
//! requests, which must agree.
//!
//! Each `fuzz_*` function panics only when an invariant breaks: a parser
//! panicking, a parsed value that does not survive being written and parsed
//! again, a canonical form that changes when canonicalised twice, or a request
//! the signer signed that the verifier refuses.

use super::{
    canonical_query, canonical_trailer, canonical_uri, parse_authorization, parse_presigned,
    request_authorization, signature_from_hex, signature_hex, signing_key, uri_encode,
    verify_request, AmzDateTime, Authorization, ChunkSigner, PayloadHash, RequestParts,
    RequestSigner, Scope, ALGORITHM, PRESIGNED_EXPIRES_SECS_MAX, SERVICE,
};
use crate::target::query_pairs;

/// The parsers over `data`: Authorization header, `x-amz-date`,
/// `x-amz-content-sha256`, hex signatures, trailers, and (if UTF-8) the raw
/// path and query: canonical forms are idempotent, and whatever parses
/// parses the same once written back in the form a client sends.
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(auth) = parse_authorization(data) {
        let names: Vec<&str> = auth.signed_headers.iter().collect();
        assert!(names.contains(&"host"), "host not signed");
        for (i, name) in names.iter().enumerate() {
            assert!(!name.is_empty() && !names[..i].contains(name), "{names:?}");
        }
        let written = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            auth.access_key_id,
            auth.scope,
            names.join(";"),
            signature_hex(&auth.signature)
        );
        assert_eq!(parse_authorization(written.as_bytes()), Ok(auth));
    }
    if let Ok(datetime) = AmzDateTime::parse(data) {
        assert_eq!(
            AmzDateTime::parse(datetime.to_string().as_bytes()),
            Ok(datetime)
        );
        assert_eq!(
            AmzDateTime::from_unix_secs(datetime.unix_secs()),
            Some(datetime)
        );
    }
    if let Ok(payload) = PayloadHash::parse(data) {
        assert_eq!(PayloadHash::parse(payload.as_str().as_bytes()), Ok(payload));
    }
    if let Some(signature) = signature_from_hex(data) {
        assert!(signature_hex(&signature).eq_ignore_ascii_case(&String::from_utf8_lossy(data)));
    }
    fuzz_trailer(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let uri = canonical_uri(text);
    assert_eq!(canonical_uri(&uri), uri, "canonical URI not idempotent");
    for presigned in [false, true] {
        let query = canonical_query(text, presigned);
        assert_eq!(canonical_query(&query, presigned), query);
    }
    let pairs = query_pairs(text);
    let presigned = parse_presigned(&pairs);
    let parts = RequestParts {
        method: "GET",
        raw_path: "/",
        raw_query: text,
        headers: &[],
    };
    assert_eq!(request_authorization(&parts), presigned);
    if let Ok(Some(auth)) = presigned {
        let expires = auth.presigned_expires_secs.expect("presigned");
        assert!((1..=PRESIGNED_EXPIRES_SECS_MAX).contains(&expires));
        let written = presigned_query(&auth);
        assert_eq!(parse_presigned(&query_pairs(&written)), Ok(Some(auth)));
    }
}

/// A presigned authorization as the query a client sends.
fn presigned_query(auth: &Authorization) -> String {
    let credential = format!("{}/{}", auth.access_key_id, auth.scope);
    let mut query = format!(
        "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={}\
         &X-Amz-SignedHeaders={}&X-Amz-Signature={}",
        uri_encode(credential.as_bytes(), false),
        auth.datetime,
        auth.presigned_expires_secs.unwrap_or_default(),
        uri_encode(auth.signed_headers.as_str().as_bytes(), false),
        signature_hex(&auth.signature)
    );
    if let Some(token) = &auth.security_token {
        query.push_str("&X-Amz-Security-Token=");
        query.push_str(&uri_encode(token.as_bytes(), false));
    }
    query
}

/// A trailer's canonical form is idempotent, and a trailer signed by the
/// client's chain verifies on the server's.
fn fuzz_trailer(trailer: &[u8]) {
    let Ok(canonical) = canonical_trailer(trailer) else {
        return;
    };
    assert_eq!(canonical_trailer(&canonical).as_ref(), Ok(&canonical));
    let lower = trailer.to_ascii_lowercase();
    if lower.windows(23).any(|w| w == b"x-amz-trailer-signature") {
        return;
    }
    let datetime = AmzDateTime::from_unix_secs(1_369_353_600).expect("2013");
    let scope = Scope::new(datetime, "us-east-1");
    let key = signing_key(b"secret", &scope.date, &scope.region, SERVICE);
    let signer = ChunkSigner::new(key, datetime, &scope, [7; 32]);
    let signature = signer.sign_trailer(trailer).expect("canonical above");
    let mut signed = trailer.to_vec();
    signed.extend_from_slice(b"\nx-amz-trailer-signature:");
    signed.extend_from_slice(signature_hex(&signature).as_bytes());
    assert_eq!(signer.verify_trailer(&signed), Ok(()));
}

/// Headers the signer writes itself; the request under test does not send
/// its own.
const SIGNER_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// Signs a request built from `data` with [`RequestSigner`] (header or
/// presigned, per `data`) and verifies it as the server does: parse the
/// authorization, derive the key, [`verify_request`]. It must verify.
///
/// `data` is `\n`-separated fields: flags (byte 0: bit 0 presign, bit 1 a
/// session token, bits 2..5 the payload; bytes 1..5 the time; bytes 5..8 the
/// expiry), method, path, query, access key id, region, secret, token, Host
/// value, then `name:value` headers. Names, key id and region keep only the
/// characters those fields can carry; a query naming any `X-Amz-*` parameter
/// is skipped, since it changes what a presigned URL means.
pub fn fuzz_sign_verify(data: &[u8]) {
    let Some(request) = FuzzRequest::parse(data) else {
        return;
    };
    let flag = |i: usize| request.flags.get(i).copied().unwrap_or(0);
    let unix_secs = u32::from_le_bytes([flag(1), flag(2), flag(3), flag(4)]);
    let datetime = AmzDateTime::from_unix_secs(i64::from(unix_secs)).expect("years 1970..2106");
    let mut signer = RequestSigner::new(
        &request.access_key_id,
        &request.secret,
        &request.region,
        datetime,
    );
    let with_token = flag(0) & 2 != 0;
    if with_token {
        signer = signer.with_security_token(&request.token);
    }
    let headers: Vec<(&str, &[u8])> = (request.headers.iter())
        .map(|(n, v)| (n.as_str(), &v[..]))
        .collect();
    let parts = RequestParts {
        method: &request.method,
        raw_path: &request.raw_path,
        raw_query: &request.raw_query,
        headers: &headers,
    };
    let presign = flag(0) & 1 != 0;
    let payload = match (flag(0) >> 2) % 5 {
        _ if presign => PayloadHash::Unsigned,
        0 => PayloadHash::Unsigned,
        1 => PayloadHash::StreamingSigned,
        2 => PayloadHash::StreamingSignedTrailer,
        3 => PayloadHash::StreamingUnsignedTrailer,
        _ => PayloadHash::from_digest([flag(5); 32]),
    };
    let signed = (!presign).then(|| signer.sign(&parts, &payload).expect("host is signed"));
    let sent_query = if presign {
        let expires = u32::from_le_bytes([flag(5), flag(6), flag(7), 0]);
        let expires = 1 + expires % PRESIGNED_EXPIRES_SECS_MAX;
        signer.presign(&parts, expires).expect("host is signed")
    } else {
        request.raw_query.clone()
    };
    let mut sent_headers = headers.clone();
    if let Some(signed) = &signed {
        sent_headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_bytes())));
        sent_headers.push(("Authorization", signed.authorization.as_bytes()));
    }
    let sent = RequestParts {
        raw_query: &sent_query,
        headers: &sent_headers,
        ..parts
    };
    let token = with_token.then_some(request.token.as_str());
    assert_verifies(&sent, &request, datetime, &payload, token);
}

/// The fields of a [`fuzz_sign_verify`] input.
struct FuzzRequest {
    flags: Vec<u8>,
    method: String,
    raw_path: String,
    raw_query: String,
    access_key_id: String,
    region: String,
    secret: Vec<u8>,
    token: String,
    /// Host first, then the input's headers the signer does not write itself.
    headers: Vec<(String, Vec<u8>)>,
}

impl FuzzRequest {
    /// The input's fields; `None` if its query names an `X-Amz-*` parameter.
    fn parse(data: &[u8]) -> Option<Self> {
        let mut fields = data.split(|&b| b == b'\n');
        let mut next = || fields.next().unwrap_or_default();
        let flags = next().to_vec();
        let method = String::from_utf8_lossy(next()).into_owned();
        let raw_path = String::from_utf8_lossy(next()).into_owned();
        let raw_query = String::from_utf8_lossy(next()).into_owned();
        let access_key_id = word(next(), "AKIDEXAMPLE");
        let region = word(next(), "us-east-1");
        let secret = next().to_vec();
        let token = String::from_utf8_lossy(next()).into_owned();
        let host = next().to_vec();
        let mut headers: Vec<(String, Vec<u8>)> = vec![("Host".into(), host)];
        for line in fields {
            let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
            let name: String = line[..colon]
                .iter()
                .filter(|b| b.is_ascii_alphanumeric() || **b == b'-')
                .map(|&b| char::from(b))
                .collect();
            let signer_writes = SIGNER_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
            if !name.is_empty() && !signer_writes {
                headers.push((name, line.get(colon + 1..).unwrap_or_default().to_vec()));
            }
        }
        let names_amz = |(name, _): &(String, String)| name.starts_with("X-Amz-");
        if query_pairs(&raw_query).iter().any(names_amz) {
            return None;
        }
        Some(Self {
            flags,
            method,
            raw_path,
            raw_query,
            access_key_id,
            region,
            secret,
            token,
            headers,
        })
    }
}

/// The characters of `bytes` a key id or region can carry, or `default` if none.
fn word(bytes: &[u8], default: &str) -> String {
    let kept: String = bytes
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
        .map(|&b| char::from(b))
        .collect();
    if kept.is_empty() {
        default.to_owned()
    } else {
        kept
    }
}

/// The server's side: `sent` parses, verifies with the key derived from the
/// secret, and yields the identity, payload, signature and token signed.
fn assert_verifies(
    sent: &RequestParts<'_>,
    request: &FuzzRequest,
    datetime: AmzDateTime,
    payload: &PayloadHash,
    token: Option<&str>,
) {
    let auth = request_authorization(sent)
        .unwrap_or_else(|e| panic!("signed request does not parse: {e:?}"))
        .expect("an authorization");
    assert_eq!(auth.check_region(&request.region), Ok(()));
    let key = signing_key(&request.secret, &auth.scope.date, &request.region, SERVICE);
    let verified = verify_request(sent, &auth, &key, datetime.unix_secs())
        .unwrap_or_else(|e| panic!("signed request refused: {e:?}"));
    assert_eq!(verified.access_key_id(), request.access_key_id);
    assert_eq!(verified.payload(), payload);
    assert_eq!(verified.signature(), &auth.signature);
    let expected_token = token.map(|token| {
        if verified.is_presigned() {
            token.to_owned()
        } else {
            String::from_utf8_lossy(super::text::trim_ows(token.as_bytes())).into_owned()
        }
    });
    assert_eq!(verified.security_token(), expected_token.as_deref());
}
