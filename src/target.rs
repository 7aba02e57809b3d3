//! The request target: its split into raw path and raw query, and the one
//! percent-decoder every reader of it uses (routing, SigV4 canonicalisation,
//! `x-amz-copy-source`), so the key a request names is the key that was
//! signed. Pure, below `http`, `sigv4` and `s3`, which all use it.
//!
//! The raw forms stay available: SigV4 canonicalises from what was sent.
//!
//! # `+`: a plus in the path, a space in the query
//!
//! Percent escapes mean the same everywhere; only `+` differs, and [`Plus`]
//! names the difference so no caller picks it by accident. In the query `+` is
//! a space (form encoding): S3 "accepts both" `+` and `%20` for spaces in query
//! values (mhart/aws4fetch#83), and SigV4 canonicalises a query `+` as `%20`.
//! In the path `+` is a plus, as RFC 3986 has it: the key `a+b` sent raw is
//! stored, listed and signed (`/a%2Bb`) as `a+b`.
//!
//! That path rule is a deliberate difference from S3, which, for legacy
//! reasons, decodes a raw `+` in the path as a space too: its
//! `CanonicalRequest` for `/libstdc++-docs.x86_64.rpm` reads
//! `/libstdc%20%20-docs.x86_64.rpm` (anomalizer/ngx_aws_auth#87,
//! nginx/nginx-s3-gateway#77), and s3cmd 1.6 sent spaces in paths as `+`
//! (s3tools/s3cmd#554, #780). Every AWS SDK sends a literal `+` as `%2B` and a
//! space as `%20` in both places, so the choice only decides what hand-made
//! URLs mean. ringgate has always served them with `+` as a plus, and keys
//! stored that way must keep their names; following S3 would be changing
//! [`decode_path`]'s [`Plus`] (and `canonical_uri`, which uses it).
//!
//! Two strictnesses over the one decoder: [`percent_decode`], [`decode_path`]
//! and [`parse_query`] refuse a malformed escape or bytes that are not UTF-8
//! (routing answers `InvalidURI`); [`decode_bytes`] and [`query_pairs`] never
//! fail (a malformed escape stays literal, bad UTF-8 becomes U+FFFD), which is
//! what SigV4 needs to canonicalise any request and what the gateway serves
//! query parameters from, so both read the query the same way. Where the
//! strict form succeeds, the lenient one gives the same text.

use std::borrow::Cow;
use std::fmt;

/// A request target split into its raw parts; nothing is decoded yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The path as sent, `/`-prefixed (or `*` for `OPTIONS *`).
    pub path_raw: &'a str,
    /// What followed the first `?`, if there was one (`Some("")` for a bare `?`).
    pub query_raw: Option<&'a str>,
}

/// The form of a bad target or the place of a bad escape. Always 400.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("request target is in {0} form, not origin, absolute or asterisk form")]
    Form(TargetForm),
    #[error("request target contains a fragment")]
    Fragment,
    #[error("malformed percent-encoding at byte {offset}")]
    PercentEncoding { offset: usize },
    #[error("percent-decoded text is not utf-8")]
    Utf8,
}

/// Forms of request target we refuse (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `host:port`, for CONNECT only.
    Authority,
    /// Anything else (empty, or not starting with `/`, `*` or a scheme).
    Unknown,
}

impl fmt::Display for TargetForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Authority => "authority",
            Self::Unknown => "an unknown",
        })
    }
}

impl TargetError {
    /// The HTTP status to answer with: always 400.
    pub fn status(&self) -> u16 {
        400
    }

    /// The same error, with an escape's offset counted from `by` bytes earlier.
    fn shifted(self, by: usize) -> Self {
        match self {
            Self::PercentEncoding { offset } => Self::PercentEncoding {
                offset: offset + by,
            },
            other => other,
        }
    }
}

impl<'a> Target<'a> {
    /// Splits a request target. Origin form (`/path?query`) is what S3 clients
    /// send; absolute form (`http://host/path?query`, which RFC 9112 §3.2.2 says
    /// a server must accept) keeps only its path and query, the authority being
    /// the Host field's business; `*` is the asterisk form of `OPTIONS *`. A
    /// `#` is refused: a fragment is never sent, so it can only be a client bug.
    pub fn parse(target: &'a str) -> Result<Self, TargetError> {
        if target.contains('#') {
            return Err(TargetError::Fragment);
        }
        if target == "*" {
            return Ok(Self {
                path_raw: target,
                query_raw: None,
            });
        }
        let origin = if target.starts_with('/') {
            target
        } else if let Some(after_scheme) = strip_scheme(target) {
            // The authority ends at the first '/' or '?'.
            let end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
            match &after_scheme[end..] {
                "" => "/",
                rest => rest,
            }
        } else if target.contains(':') && !target.contains('/') {
            return Err(TargetError::Form(TargetForm::Authority));
        } else {
            return Err(TargetError::Form(TargetForm::Unknown));
        };
        Ok(match origin.split_once('?') {
            // An absolute-form target with a query but no path: "http://h?q".
            Some(("", query)) => Self {
                path_raw: "/",
                query_raw: Some(query),
            },
            Some((path, query)) => Self {
                path_raw: path,
                query_raw: Some(query),
            },
            None => Self {
                path_raw: origin,
                query_raw: None,
            },
        })
    }

    /// The decoded path; see [`decode_path`].
    pub fn path(&self) -> Result<String, TargetError> {
        decode_path(self.path_raw)
    }

    /// The decoded query pairs, empty without a query; see [`parse_query`].
    pub fn query(&self) -> Result<Vec<(String, String)>, TargetError> {
        self.query_raw.map_or(Ok(Vec::new()), parse_query)
    }
}

fn strip_scheme(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")).then_some(rest)
}

/// What a `+` means: the one difference between path and query decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plus {
    /// A plus, as in the path (RFC 3986).
    Literal,
    /// A space, as in the query (form encoding).
    Space,
}

/// Percent-decodes a raw path into UTF-8, `+` as a plus (see the module
/// notes). `%` must be followed by two hex digits; the result must be UTF-8.
/// Nothing else is interpreted: `%2F` becomes `/` and `.` segments stay.
pub fn decode_path(raw: &str) -> Result<String, TargetError> {
    percent_decode(raw, Plus::Literal)
}

/// Parses a raw query into decoded (name, value) pairs in the order sent:
/// pairs split on `&`, empty ones skipped, name and value split on the first
/// `=` (a pair without one, like S3's `?uploads`, has an empty value), both
/// percent-decoded with `+` as a space. The output is bounded by the input,
/// itself bounded by `HeadLimits::request_line_bytes_max`.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, TargetError> {
    let mut pairs = Vec::new();
    let mut pair_start = 0;
    for pair in raw.split('&') {
        let start = pair_start;
        pair_start += pair.len() + 1;
        if pair.is_empty() {
            continue;
        }
        let (name, value, value_start) = match pair.split_once('=') {
            Some((name, value)) => (name, value, start + name.len() + 1),
            None => (pair, "", start + pair.len()),
        };
        let name = percent_decode(name, Plus::Space).map_err(|e| e.shifted(start))?;
        let value = percent_decode(value, Plus::Space).map_err(|e| e.shifted(value_start))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// The query's decoded (name, value) pairs as [`parse_query`] splits them,
/// never failing: `+` is a space, a malformed escape stays literal, bytes
/// that are not UTF-8 become U+FFFD. What the gateway serves and SigV4
/// signs, so the request served is the request that was signed.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    query_pairs_raw(raw)
        .map(|(name, value)| (decode_lossy(name), decode_lossy(value)))
        .collect()
}

fn decode_lossy(raw: &str) -> String {
    String::from_utf8_lossy(&decode_bytes(raw.as_bytes(), Plus::Space)).into_owned()
}

/// The raw (name, value) pairs of a query, as [`parse_query`] splits them but
/// undecoded.
pub fn query_pairs_raw(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Percent-decodes `raw` into UTF-8, `+` as `plus` says. A `%` not followed
/// by two hex digits is an error at its offset, and so is a result that is
/// not UTF-8.
pub fn percent_decode(raw: &str, plus: Plus) -> Result<String, TargetError> {
    if let Some(offset) = bad_escape(raw.as_bytes()) {
        return Err(TargetError::PercentEncoding { offset });
    }
    match decode_bytes(raw.as_bytes(), plus) {
        // Nothing was decoded: the text is `raw`'s, already UTF-8.
        Cow::Borrowed(_) => Ok(raw.to_owned()),
        Cow::Owned(bytes) => String::from_utf8(bytes).map_err(|_| TargetError::Utf8),
    }
}

/// Percent-decodes `raw` into bytes, `+` as `plus` says, and never fails: a
/// malformed escape (`%zz`, a lone `%`) stays as it was. Borrows when there
/// is nothing to decode.
pub fn decode_bytes(raw: &[u8], plus: Plus) -> Cow<'_, [u8]> {
    if plus == Plus::Space && raw.contains(&b'+') {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        return Cow::Owned(percent_encoding::percent_decode(&spaced).collect());
    }
    percent_encoding::percent_decode(raw).into()
}

/// The offset of the first `%` not followed by two hex digits. Hex digits
/// are never `%`, so checking every `%` finds the same one as decoding would.
fn bad_escape(bytes: &[u8]) -> Option<usize> {
    let hex = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_hexdigit);
    (0..bytes.len()).find(|&at| bytes[at] == b'%' && !(hex(at + 1) && hex(at + 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_target(target: &str, expected: Result<(&str, Option<&str>), TargetError>) {
        let got = Target::parse(target).map(|t| (t.path_raw, t.query_raw));
        assert_eq!(got, expected, "{target:?}");
    }

    #[test]
    fn targets() {
        check_target("/", Ok(("/", None)));
        check_target("/b/k?uploads", Ok(("/b/k", Some("uploads"))));
        check_target("/b/k?", Ok(("/b/k", Some(""))));
        check_target("/b/k?a=1?b", Ok(("/b/k", Some("a=1?b"))));
        check_target(
            "/?list-type=2&prefix=a%2Fb",
            Ok(("/", Some("list-type=2&prefix=a%2Fb"))),
        );
        check_target("http://h.example/b/k?x=1", Ok(("/b/k", Some("x=1"))));
        check_target("HTTPS://h.example:9000", Ok(("/", None)));
        check_target("http://h.example?x", Ok(("/", Some("x"))));
        check_target("*", Ok(("*", None)));
        check_target("/b/k#frag", Err(TargetError::Fragment));
        check_target(
            "h.example:443",
            Err(TargetError::Form(TargetForm::Authority)),
        );
        check_target("b/k", Err(TargetError::Form(TargetForm::Unknown)));
        check_target("", Err(TargetError::Form(TargetForm::Unknown)));
        check_target("ftp://h/x", Err(TargetError::Form(TargetForm::Unknown)));
    }

    #[test]
    fn paths() {
        let cases: &[(&str, Result<&str, TargetError>)] = &[
            ("/bucket/key", Ok("/bucket/key")),
            ("/b/a%20b%2Fc", Ok("/b/a b/c")),
            ("/b/libstdc++-docs", Ok("/b/libstdc++-docs")),
            ("/b/%2B%2b", Ok("/b/++")),
            ("/b/%C3%A9t%C3%A9", Ok("/b/été")),
            ("/b/été", Ok("/b/été")),
            ("/b/./../k", Ok("/b/./../k")),
            ("/b/%00", Ok("/b/\0")),
            ("/b/%", Err(TargetError::PercentEncoding { offset: 3 })),
            ("/b/%4", Err(TargetError::PercentEncoding { offset: 3 })),
            ("/b/%4g", Err(TargetError::PercentEncoding { offset: 3 })),
            ("/b/%%41", Err(TargetError::PercentEncoding { offset: 3 })),
            ("/b/%C3", Err(TargetError::Utf8)),
            ("/b/%FF%FE", Err(TargetError::Utf8)),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                decode_path(raw),
                expected.clone().map(String::from),
                "{raw:?}"
            );
        }
        assert_eq!(
            percent_decode("a+b%2B", Plus::Literal).as_deref(),
            Ok("a+b+")
        );
    }

    #[test]
    fn queries() {
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, Result<Pairs<'_>, TargetError>)] = &[
            ("", Ok(&[])),
            ("uploads", Ok(&[("uploads", "")])),
            ("acl=", Ok(&[("acl", "")])),
            (
                "list-type=2&prefix=a%2Fb+c&delimiter=%2F",
                Ok(&[("list-type", "2"), ("prefix", "a/b c"), ("delimiter", "/")]),
            ),
            ("a=1&&b=2&", Ok(&[("a", "1"), ("b", "2")])),
            ("a=1=2&a=3", Ok(&[("a", "1=2"), ("a", "3")])),
            ("=v", Ok(&[("", "v")])),
            (
                "x-id=PutObject&partNumber=1&uploadId=a%2Bb",
                Ok(&[
                    ("x-id", "PutObject"),
                    ("partNumber", "1"),
                    ("uploadId", "a+b"),
                ]),
            ),
            ("a=1&b%=2", Err(TargetError::PercentEncoding { offset: 5 })),
            ("a=1&b=2%", Err(TargetError::PercentEncoding { offset: 7 })),
            ("a%zz", Err(TargetError::PercentEncoding { offset: 1 })),
            ("a=%C3", Err(TargetError::Utf8)),
        ];
        for (raw, expected) in cases {
            let expected = expected.clone().map(|pairs| {
                pairs
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect::<Vec<_>>()
            });
            assert_eq!(parse_query(raw), expected, "{raw:?}");
        }
        assert_eq!(
            query_pairs_raw("a=%2B&&b").collect::<Vec<_>>(),
            [("a", "%2B"), ("b", "")]
        );
        let target = Target::parse("/b/k%20x?versionId=3&uploads").unwrap();
        assert_eq!(target.path().as_deref(), Ok("/b/k x"));
        assert_eq!(target.query().unwrap().len(), 2);
        assert_eq!(Target::parse("/").unwrap().query(), Ok(vec![]));
    }

    proptest::proptest! {
        #[test]
        fn random_targets_never_panic(target in "[ -~]{0,64}|\\PC{0,16}") {
            if let Ok(parsed) = Target::parse(&target) {
                let _ = (parsed.path(), parsed.query());
            }
        }

        /// Where the strict decoding succeeds, the lenient one SigV4 and the
        /// gateway read agrees with it.
        #[test]
        fn strict_and_lenient_agree(raw in "([ -~]|%[0-9a-fA-F]{2}|\\PC){0,24}") {
            if let Ok(pairs) = parse_query(&raw) {
                proptest::prop_assert_eq!(pairs, query_pairs(&raw));
            }
            if let Ok(path) = decode_path(&raw) {
                proptest::prop_assert_eq!(decode_bytes(raw.as_bytes(), Plus::Literal), path.as_bytes());
            }
        }
    }
}
