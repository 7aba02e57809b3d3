//! The canonical request and the string to sign, exactly as S3 builds them,
//! for the server and the client alike; AWS's `UriEncode`. Decoding is
//! `crate::target`'s, the one decoder the gateway also routes with.
//!
//! Decisions, each where real clients and servers part ways:
//! - *Path.* S3 encodes the object key once and does not normalise `.`, `..`
//!   or `//`. Every SDK sends the path already in `UriEncode` form (`/` kept),
//!   so the canonical URI must equal the path as sent; this module decodes and
//!   re-encodes each `/`-separated segment on its own, which is the identity
//!   on such paths, fixes lowercase or needless escapes (`%7e` → `~`, raw `$` →
//!   `%24`), and keeps an escaped slash (`%2F`) escaped, since the client that
//!   sent it signed it that way. A raw `+` is a plus (`%2B`), as routing
//!   reads it (see `crate::target` on how S3 differs).
//! - *Query.* Names and values are decoded (`+` as a space, as S3 and form
//!   encoders mean it) and re-encoded with `UriEncode`, `/` included; pairs are
//!   sorted by encoded name, then encoded value; a name without `=` signs as
//!   `name=`. The S3 layer must decode the query with
//!   [`crate::target::query_pairs`] so the request it serves is the request
//!   that was signed.
//! - *Headers.* Values are trimmed, runs of spaces and tabs become one space,
//!   and repeated headers join with `,` in the order received. A signed header
//!   that is absent signs as `name:`; the signature then fails and the error
//!   carries the canonical request that shows why.
//!
//! Malformed escapes (`%zz`, a lone `%`) are kept literally, so `%` becomes
//! `%25`: the request then simply fails to verify; nothing here can fail.

use std::fmt;

use sha2::{Digest, Sha256};

use super::auth::{Authorization, Scope, SignedHeaders};
use super::constants::ALGORITHM;
use super::date::AmzDateTime;
use super::payload::PayloadHash;
use super::request::RequestParts;
use super::text::{is_ows, trim_ows};
use crate::target::{decode_bytes, query_pairs_raw, Plus};

/// A canonical request: bytes, since header values need not be UTF-8 and
/// must be hashed exactly as received. `Display` shows it lossily.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalRequest(Vec<u8>);

impl CanonicalRequest {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.0).into()
    }
}

impl fmt::Display for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// The canonical request the server checks `auth` against: the signed
/// headers in the order the client listed them, `X-Amz-Signature` left out of
/// the query of a presigned URL, `payload` as the last line.
pub fn canonical_request(
    parts: &RequestParts,
    auth: &Authorization,
    payload: &PayloadHash,
) -> CanonicalRequest {
    build_canonical_request(
        parts,
        &auth.signed_headers,
        payload.as_str(),
        auth.presigned_expires_secs.is_some(),
    )
}

/// The one builder behind the server's check and the client's signature.
pub(crate) fn build_canonical_request(
    parts: &RequestParts,
    signed_headers: &SignedHeaders,
    payload: &str,
    presigned: bool,
) -> CanonicalRequest {
    // Room for all of it, so it is written without growing: escaping at
    // most triples the path and query; every header at most once (a header
    // signed twice is refused by the parser).
    let names_bytes = 2 * signed_headers.as_str().len() + 2;
    let values_bytes: usize = parts.headers.iter().map(|(_, v)| v.len() + 1).sum();
    let mut out = Vec::with_capacity(
        parts.method.len()
            + 3 * (parts.raw_path.len() + parts.raw_query.len())
            + names_bytes
            + values_bytes
            + payload.len()
            + 8,
    );
    out.extend_from_slice(parts.method.as_bytes());
    out.push(b'\n');
    push_canonical_uri(&mut out, parts.raw_path);
    out.push(b'\n');
    push_canonical_query(&mut out, parts.raw_query, presigned);
    out.push(b'\n');
    for name in signed_headers.iter() {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, value) in parts.header_values(name).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_header_value(&mut out, value);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload.as_bytes());
    CanonicalRequest(out)
}

/// The value trimmed, with each run of spaces and tabs made one space.
fn push_header_value(out: &mut Vec<u8>, value: &[u8]) {
    let value = trim_ows(value);
    // Most values have no tab and no run of spaces: copied whole.
    let mut after_space = false;
    let plain = value.iter().all(|&b| {
        let ok = b != b'\t' && !(after_space && b == b' ');
        after_space = b == b' ';
        ok
    });
    if plain {
        out.extend_from_slice(value);
        return;
    }
    let mut in_space = false;
    for &b in trim_ows(value) {
        if is_ows(b) {
            in_space = true;
            continue;
        }
        if in_space {
            out.push(b' ');
            in_space = false;
        }
        out.push(b);
    }
}

/// `AWS4-HMAC-SHA256`, the time, the scope and the canonical request's hash,
/// one per line.
pub fn string_to_sign(
    datetime: AmzDateTime,
    scope: &Scope,
    canonical_request: &CanonicalRequest,
) -> String {
    // Written piece by piece rather than with `format!`: every request pays it.
    let mut out = String::with_capacity(
        ALGORITHM.len() + 16 + scope.date.len() + scope.region.len() + scope.service.len() + 96,
    );
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(std::str::from_utf8(&datetime.text()).expect("ASCII"));
    out.push('\n');
    scope.write_to(&mut out);
    out.push('\n');
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in canonical_request.sha256() {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// `A-Z a-z 0-9 - _ . ~`: the bytes AWS `UriEncode` leaves as they are.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// AWS `UriEncode`: every byte but `A-Z a-z 0-9 - _ . ~` as `%XX` (uppercase
/// hex); `/` too unless `keep_slash`.
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            s.push(b as char);
        } else {
            s.push('%');
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 15)] as char);
        }
    }
    s
}

/// Appends [`canonical_uri`] without making a string of it when the path
/// has nothing to decode nor to encode (it is then its own canonical form),
/// as most paths have: the request path builds one canonical request each.
fn push_canonical_uri(out: &mut Vec<u8>, raw_path: &str) {
    if !raw_path.is_empty() && raw_path.bytes().all(|b| is_unreserved(b) || b == b'/') {
        out.extend_from_slice(raw_path.as_bytes());
    } else {
        out.extend_from_slice(canonical_uri(raw_path).as_bytes());
    }
}

/// Appends [`canonical_query`]; a query with nothing to decode nor to encode
/// (`x-id=GetObject`, `uploads`, `list-type=2&prefix=a`) and a few pairs is
/// sorted in place on the stack.
fn push_canonical_query(out: &mut Vec<u8>, raw_query: &str, presigned: bool) {
    const PAIRS_INLINE: usize = 8;
    let mut pairs: [(&[u8], &[u8]); PAIRS_INLINE] = [(&[], &[]); PAIRS_INLINE];
    let mut count = 0;
    let plain = |part: &[u8]| part.iter().all(|&b| is_unreserved(b));
    let fits = query_pairs_raw(raw_query)
        .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
        .filter(|(name, _)| !(presigned && *name == b"X-Amz-Signature"))
        .all(|(name, value)| {
            let room = count < PAIRS_INLINE && plain(name) && plain(value);
            if room {
                pairs[count] = (name, value);
                count += 1;
            }
            room
        });
    if !fits {
        out.extend_from_slice(canonical_query(raw_query, presigned).as_bytes());
        return;
    }
    let pairs = &mut pairs[..count];
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
    }
}

/// The canonical URI of a raw path: each `/`-separated segment decoded and
/// re-encoded on its own (see the module doc); an empty path is `/`.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(raw_path.len() + 16);
    for (i, segment) in raw_path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let decoded = decode_bytes(segment.as_bytes(), Plus::Literal);
        out.push_str(&uri_encode(&decoded, false));
    }
    out
}

/// The canonical query string of a raw query; with `presigned`, without
/// `X-Amz-Signature`.
pub fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs_raw(raw_query)
        .map(|(name, value)| {
            (
                decode_bytes(name.as_bytes(), Plus::Space),
                decode_bytes(value.as_bytes(), Plus::Space),
            )
        })
        .filter(|(name, _)| !(presigned && name.as_ref() == b"X-Amz-Signature"))
        .map(|(name, value)| (uri_encode(&name, false), uri_encode(&value, false)))
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::query_pairs;
    use proptest::prelude::*;

    fn check_uri(raw_path: &str, expected: &str) {
        assert_eq!(canonical_uri(raw_path), expected, "{raw_path:?}");
        let mut pushed = Vec::new();
        push_canonical_uri(&mut pushed, raw_path);
        assert_eq!(pushed, expected.as_bytes(), "pushed {raw_path:?}");
    }

    fn check_query(raw_query: &str, presigned: bool, expected: &str) {
        assert_eq!(
            canonical_query(raw_query, presigned),
            expected,
            "{raw_query:?}"
        );
        let mut pushed = Vec::new();
        push_canonical_query(&mut pushed, raw_query, presigned);
        assert_eq!(pushed, expected.as_bytes(), "pushed {raw_query:?}");
    }

    #[test]
    fn uri() {
        check_uri("", "/");
        check_uri("/", "/");
        check_uri("/test.txt", "/test.txt");
        // The AWS PUT example's key, sent raw and sent encoded.
        check_uri("/test$file.text", "/test%24file.text");
        check_uri("/test%24file.text", "/test%24file.text");
        check_uri("/my%20key", "/my%20key");
        check_uri("/a+b", "/a%2Bb");
        check_uri("/a%2Bb", "/a%2Bb");
        check_uri("/~user/x", "/~user/x");
        check_uri("/%7Euser/%7ex", "/~user/~x");
        check_uri("/%41%2d%5F", "/A-_");
        // An escaped slash stays escaped; a literal one stays literal.
        check_uri("/bucket/a%2Fb/c", "/bucket/a%2Fb/c");
        check_uri("/bucket/a%2fb", "/bucket/a%2Fb");
        // No normalisation: S3 keys may hold `.`, `..` and empty segments.
        check_uri("/bucket//a/./b/../c/", "/bucket//a/./b/../c/");
        // Unicode keys, raw or encoded, lowercase escapes uppercased.
        check_uri("/caf%C3%A9", "/caf%C3%A9");
        check_uri("/caf%c3%a9", "/caf%C3%A9");
        check_uri("/café", "/caf%C3%A9");
        check_uri("/%E6%97%A5%E6%9C%AC", "/%E6%97%A5%E6%9C%AC");
        check_uri("/a%00b", "/a%00b");
        // Malformed escapes are kept literally and so encoded.
        check_uri("/a%zz", "/a%25zz");
        check_uri("/a%", "/a%25");
        check_uri("/a%4", "/a%254");
        check_uri(
            "/a:b@c=d,e;f!g*h'i(j)k",
            "/a%3Ab%40c%3Dd%2Ce%3Bf%21g%2Ah%27i%28j%29k",
        );
    }

    #[test]
    fn query() {
        check_query("", false, "");
        check_query("lifecycle", false, "lifecycle=");
        check_query("lifecycle=", false, "lifecycle=");
        check_query("max-keys=2&prefix=J", false, "max-keys=2&prefix=J");
        check_query("prefix=J&max-keys=2", false, "max-keys=2&prefix=J");
        // Repeated names sort by value.
        check_query("a=2&a=1&a=", false, "a=&a=1&a=2");
        // Empty values and empty pieces.
        check_query("b=&a&&c=3&", false, "a=&b=&c=3");
        // `/` is encoded in the query, escaped or not.
        check_query(
            "delimiter=/&prefix=a%2Fb",
            false,
            "delimiter=%2F&prefix=a%2Fb",
        );
        // `+` is a space; an escaped plus is a plus.
        check_query("prefix=a+b&q=a%2Bb", false, "prefix=a%20b&q=a%2Bb");
        check_query("prefix=a%20b", false, "prefix=a%20b");
        check_query("k=~&t=%7E", false, "k=~&t=~");
        check_query(
            "prefix=caf%c3%a9&x=caf\u{e9}",
            false,
            "prefix=caf%C3%A9&x=caf%C3%A9",
        );
        // Only the first `=` splits.
        check_query("k=a=b", false, "k=a%3Db");
        // More pairs than sort on the stack.
        check_query(
            "j=9&i=8&h=7&g=6&f=5&e=4&d=3&c=2&b=1&a=0",
            false,
            "a=0&b=1&c=2&d=3&e=4&f=5&g=6&h=7&i=8&j=9",
        );
        // Sorting is by encoded bytes: uppercase before lowercase, `-` before letters.
        check_query("b=1&B=2&a-b=3&a=4", false, "B=2&a=4&a-b=3&b=1");
        // Presigned: only X-Amz-Signature goes, by exact name.
        check_query(
            "X-Amz-Signature=abc&X-Amz-Date=20130524T000000Z&x-amz-signature=1",
            true,
            "X-Amz-Date=20130524T000000Z&x-amz-signature=1",
        );
        check_query("X-Amz-Signature=abc", false, "X-Amz-Signature=abc");
        check_query(
            "uploadId=abc%2Bdef%2Fghi%3D&partNumber=1",
            false,
            "partNumber=1&uploadId=abc%2Bdef%2Fghi%3D",
        );
    }

    #[test]
    fn pairs() {
        assert_eq!(
            query_pairs("a=1&b&c=x+y%2Fz&&d=%ff"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "x y/z".into()),
                ("d".into(), "\u{fffd}".into()),
            ]
        );
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let headers: &[(&str, &[u8])] = &[
            ("Host", b"example.com"),
            ("X-Amz-Meta-A", b"  a   b \t c  "),
            ("x-amz-meta-a", b"second"),
            ("x-amz-meta-b", b""),
            ("x-amz-meta-c", b"\xff\xfe"),
        ];
        let parts = RequestParts {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers,
        };
        let signed = SignedHeaders::from_names([
            "host",
            "x-amz-meta-a",
            "x-amz-meta-b",
            "x-amz-meta-c",
            "x-amz-meta-d",
        ]);
        let cr = build_canonical_request(&parts, &signed, "UNSIGNED-PAYLOAD", false);
        let mut expected =
            b"GET\n/\n\nhost:example.com\nx-amz-meta-a:a b c,second\nx-amz-meta-b:\nx-amz-meta-c:"
                .to_vec();
        expected.extend_from_slice(
            b"\xff\xfe\nx-amz-meta-d:\n\nhost;x-amz-meta-a;x-amz-meta-b;x-amz-meta-c;x-amz-meta-d\nUNSIGNED-PAYLOAD",
        );
        assert_eq!(cr.as_bytes(), expected.as_slice());
    }

    proptest! {
        /// A path in `UriEncode` form (what every SDK sends) is its own canonical URI.
        #[test]
        fn encoded_paths_are_fixed_points(segments in proptest::collection::vec(".{0,12}", 1..5)) {
            let path: String = segments.iter().map(|s| format!("/{}", uri_encode(s.as_bytes(), false))).collect();
            prop_assert_eq!(canonical_uri(&path), path.clone());
            prop_assert_eq!(canonical_uri(&canonical_uri(&path)), path);
        }

        #[test]
        fn canonicalisation_is_idempotent(path in "[ -~]{0,40}", query in "[ -~]{0,40}") {
            let uri = canonical_uri(&path);
            prop_assert_eq!(canonical_uri(&uri), uri.clone());
            let q = canonical_query(&query, false);
            prop_assert_eq!(canonical_query(&q, false), q.clone());
        }

        #[test]
        fn arbitrary_input_never_panics(path in any::<String>(), query in any::<String>()) {
            let _ = canonical_uri(&path);
            let _ = canonical_query(&query, true);
            let _ = query_pairs(&query);
        }
    }
}
