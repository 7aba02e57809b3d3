//! HTTP/1.1 request heads: the request line and the header fields, parsed by
//! `httparse` into an owned [`RequestHead`], with a named limit on everything and
//! the HTTP status each malformed head answers with.
//!
//! `httparse` does the byte-level work (tokens, field syntax, no obsolete line
//! folding, no whitespace before a colon, no NUL or bare CR in values). This file
//! adds what it leaves to the caller: the limits, a strict CRLF rule (a bare LF
//! is refused, RFC 9112 §2.2 lets a server choose), the Host rule of RFC 9112
//! §3.2, connection persistence and `Expect: 100-continue`.

use std::fmt;
use std::ops::Range;

/// Limits on one request head. Each has its own error and HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request line, CRLF excluded: [`HeadError::UriTooLong`] (414).
    /// Bounds the target, hence the raw path and query, too.
    pub request_line_bytes_max: usize,
    /// Largest head, blank line included: a head not complete within this many
    /// bytes is [`HeadError::HeadTooLarge`] (431). Also bounds the work of one
    /// call, since the parser never looks further.
    pub head_bytes_max: usize,
    /// Most header fields: [`HeadError::HeadersTooMany`] (431).
    pub headers_count_max: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            request_line_bytes_max: 8 * 1024,
            head_bytes_max: 32 * 1024,
            headers_count_max: 128,
        }
    }
}

/// The request method. Methods are case-sensitive (RFC 9110 §9.1): `get` is
/// `Other("get")`, which the router answers with 405 or 501.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
    Options,
    Other(String),
}

impl Method {
    fn from_token(token: &str) -> Self {
        match token {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "PUT" => Self::Put,
            "POST" => Self::Post,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            other => Self::Other(other.to_string()),
        }
    }

    /// The method as it appeared on the request line (SigV4 signs it).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Put => "PUT",
            Self::Post => "POST",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other(token) => token,
        }
    }
}

/// Why a head is malformed (400): the `reason` of [`HeadError::Malformed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MalformedHead {
    /// An invalid byte in the method or the target, or bad spacing between them.
    RequestLine,
    /// The version is not of the form `HTTP/<digit>.<digit>`.
    Version,
    /// An invalid byte in a field name, whitespace before the colon, or a line
    /// starting with whitespace (obsolete line folding, RFC 9112 §5.2).
    HeaderName,
    /// A NUL, a bare CR or another control byte in a field value.
    HeaderValue,
    /// A CR not followed by LF.
    LineEnding,
    /// An LF not preceded by CR.
    BareLf,
    /// An HTTP/1.1 request without a Host field (RFC 9112 §3.2).
    HostMissing,
    /// More than one Host field (RFC 9112 §3.2).
    HostDuplicate,
}

impl fmt::Display for MalformedHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RequestLine => "invalid request line",
            Self::Version => "invalid http version",
            Self::HeaderName => "invalid header field name or obsolete line folding",
            Self::HeaderValue => "invalid byte in a header field value",
            Self::LineEnding => "cr not followed by lf",
            Self::BareLf => "lf not preceded by cr",
            Self::HostMissing => "http/1.1 request without a host field",
            Self::HostDuplicate => "more than one host field",
        })
    }
}

/// Everything that can be wrong with a request head. After any of these the
/// connection loop answers with [`HeadError::status`] and closes the connection:
/// the stream's framing is unknown.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeadError {
    #[error("request line is longer than {max} bytes")]
    UriTooLong { max: usize },
    #[error("request head is not complete within {max} bytes")]
    HeadTooLarge { max: usize },
    #[error("request has more than {max} header fields")]
    HeadersTooMany { max: usize },
    #[error("malformed request head: {0}")]
    Malformed(MalformedHead),
    #[error("http version is not 1.0 or 1.1")]
    VersionUnsupported,
    #[error("expectation {0:?} is not supported")]
    ExpectationUnsupported(String),
}

impl HeadError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::UriTooLong { .. } => 414,
            Self::HeadTooLarge { .. } | Self::HeadersTooMany { .. } => 431,
            Self::Malformed(_) => 400,
            Self::VersionUnsupported => 505,
            Self::ExpectationUnsupported(_) => 417,
        }
    }
}

/// A parsed request head. It owns one copy of the head's bytes, with field
/// names lowercased in place, and indexes into it: two allocations per request
/// whatever the number of fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    method: Method,
    version_minor: u8,
    bytes: Box<[u8]>,
    target: Range<usize>,
    /// (name, value) ranges into `bytes`, in the order received.
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl RequestHead {
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target exactly as received (SigV4 canonicalises from it).
    /// Split and decode it with [`super::query::Target`].
    pub fn target(&self) -> &str {
        // The target passed httparse's UTF-8 check; `""` is unreachable.
        std::str::from_utf8(&self.bytes[self.target.clone()]).unwrap_or("")
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn version_minor(&self) -> u8 {
        self.version_minor
    }

    /// Every field as (lowercase name, raw value), in the order received. Values
    /// have leading and trailing whitespace removed, nothing else.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(|(name, value)| {
            // Names are tchars, hence ASCII; `""` is unreachable.
            let name = std::str::from_utf8(&self.bytes[name.clone()]).unwrap_or("");
            (name, &self.bytes[value.clone()])
        })
    }

    /// The value of the first field called `name` (any case). A repeated field
    /// needs [`RequestHead::headers_all`]: SigV4 signs all of them, joined by commas.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Like [`RequestHead::header`], but `None` unless the value is printable ASCII
    /// (tabs and spaces included); S3 header values are ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        let value = self.header(name)?;
        if value
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            std::str::from_utf8(value).ok()
        } else {
            None
        }
    }

    /// The values of every field called `name` (any case), in the order received.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Whether the connection may carry another request after this one (RFC 9112
    /// §9.3): HTTP/1.1 unless a `Connection` field says `close`; HTTP/1.0 only if
    /// one says `keep-alive` and none says `close`.
    pub fn keep_alive(&self) -> bool {
        let mut close = false;
        let mut keep_alive = false;
        for token in self.list_elements("connection") {
            close |= token.eq_ignore_ascii_case(b"close");
            keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
        !close && (self.version_minor >= 1 || keep_alive)
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    /// Any expectation other than `100-continue` is
    /// [`HeadError::ExpectationUnsupported`] (417, RFC 9110 §10.1.1); an HTTP/1.0
    /// request's `100-continue` is ignored, as that section requires.
    pub fn expects_continue(&self) -> Result<bool, HeadError> {
        let mut expects = false;
        for element in self.list_elements("expect") {
            if !element.eq_ignore_ascii_case(b"100-continue") {
                return Err(HeadError::ExpectationUnsupported(
                    String::from_utf8_lossy(element).into_owned(),
                ));
            }
            expects = true;
        }
        Ok(expects && self.version_minor >= 1)
    }

    /// The non-empty, whitespace-trimmed elements of every `name` field, a
    /// comma-separated list (RFC 9110 §5.6.1).
    pub(crate) fn list_elements<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers_all(name)
            .flat_map(|value| value.split(|&b| b == b','))
            .map(trim_ows)
            .filter(|element| !element.is_empty())
    }
}

/// Optional whitespace (SP, HTAB) trimmed from both ends.
pub(crate) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Header slots kept on the stack; a larger `headers_count_max` takes one allocation.
const STACK_HEADERS: usize = 128;

/// When a partly arrived head is worth parsing again. Parsing starts from the
/// head's first byte, so parsing after every arrival costs a client that sends
/// a 32 KiB head a byte at a time about half a gigabyte of scanning: quadratic
/// CPU for free. A head can only complete, or a line of it turn out malformed,
/// when a line ends, so it is parsed on the first bytes, when a newline arrived
/// since the last parse, and at the size limit: at most a parse per line.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadProgress {
    /// How many bytes of the buffer the last check looked at.
    seen: usize,
}

impl HeadProgress {
    /// Whether `buf` (the bytes so far; they only grow) should be parsed now.
    pub fn should_parse(&mut self, buf: &[u8], limits: &HeadLimits) -> bool {
        let first = self.seen == 0;
        let fresh = &buf[self.seen.min(buf.len())..];
        self.seen = buf.len();
        first || fresh.contains(&b'\n') || buf.len() >= limits.head_bytes_max
    }
}

/// Parses the request head at the start of `buf`.
///
/// `Ok(None)`: the head is incomplete, read more and call again with the longer
/// buffer (the parse starts over; its cost is linear in `buf`, capped at
/// `head_bytes_max`). `Ok(Some((head, n)))`: the head is `buf[..n]`; the body or
/// the next request starts at `buf[n]`. Leading empty lines are skipped (RFC 9112
/// §2.2) and counted in `n`. Never panics, whatever the bytes.
pub fn parse_request_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let window = &buf[..buf.len().min(limits.head_bytes_max)];
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut heap;
    let slots: &mut [httparse::Header<'_>] = if limits.headers_count_max <= STACK_HEADERS {
        &mut stack[..limits.headers_count_max]
    } else {
        heap = vec![httparse::EMPTY_HEADER; limits.headers_count_max];
        &mut heap
    };
    let mut request = httparse::Request::new(slots);
    let head_bytes = match request.parse(window) {
        Err(error) => return Err(map_httparse_error(error, window, limits)),
        Ok(httparse::Status::Partial) => {
            check_request_line(window, limits)?;
            if buf.len() >= limits.head_bytes_max {
                return Err(HeadError::HeadTooLarge {
                    max: limits.head_bytes_max,
                });
            }
            return Ok(None);
        }
        Ok(httparse::Status::Complete(n)) => n,
    };
    check_request_line(window, limits)?;
    let head = &window[..head_bytes];
    // Every LF must close a CRLF: httparse accepts a bare LF, we do not, so that
    // no proxy in front of us can split the stream into different messages.
    let bare_lf = |(i, &b): (usize, &u8)| b == b'\n' && (i == 0 || head[i - 1] != b'\r');
    if head.iter().enumerate().any(bare_lf) {
        return Err(HeadError::Malformed(MalformedHead::BareLf));
    }
    let (Some(method), Some(path), Some(version_minor)) =
        (request.method, request.path, request.version)
    else {
        return Err(HeadError::Malformed(MalformedHead::RequestLine));
    };
    let mut bytes: Box<[u8]> = head.into();
    let fields: Vec<_> = request
        .headers
        .iter()
        .map(|field| {
            (
                range_in(head, field.name.as_bytes()),
                range_in(head, field.value),
            )
        })
        .collect();
    for (name, _) in &fields {
        bytes[name.clone()].make_ascii_lowercase();
    }
    let parsed = RequestHead {
        method: Method::from_token(method),
        version_minor,
        target: range_in(head, path.as_bytes()),
        bytes,
        fields,
    };
    match parsed.headers_all("host").count() {
        0 if version_minor >= 1 => return Err(HeadError::Malformed(MalformedHead::HostMissing)),
        0 | 1 => {}
        _ => return Err(HeadError::Malformed(MalformedHead::HostDuplicate)),
    }
    Ok(Some((parsed, head_bytes)))
}

/// The range `inner` occupies in `outer`; httparse returns sub-slices of its input.
fn range_in(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize);
    let start = start.min(outer.len());
    start..(start + inner.len()).min(outer.len())
}

/// The request line: after any leading empty lines, up to its LF or the end of
/// `window`, without its CR and LF.
fn request_line(window: &[u8]) -> &[u8] {
    let start = window
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(window.len());
    let rest = &window[start..];
    let line = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => &rest[..end],
        None => rest,
    };
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn check_request_line(window: &[u8], limits: &HeadLimits) -> Result<(), HeadError> {
    let line = request_line(window);
    if line.len() > limits.request_line_bytes_max {
        return Err(HeadError::UriTooLong {
            max: limits.request_line_bytes_max,
        });
    }
    Ok(())
}

fn map_httparse_error(error: httparse::Error, window: &[u8], limits: &HeadLimits) -> HeadError {
    match error {
        httparse::Error::TooManyHeaders => HeadError::HeadersTooMany {
            max: limits.headers_count_max,
        },
        httparse::Error::Version => {
            // `HTTP/<digit>…` is a version we do not speak (505); anything else
            // is not HTTP at all (400).
            let line = request_line(window);
            let version = line.split(|&b| b == b' ').nth(2).unwrap_or(b"");
            match version {
                [b'H', b'T', b'T', b'P', b'/', digit, ..] if digit.is_ascii_digit() => {
                    HeadError::VersionUnsupported
                }
                _ => HeadError::Malformed(MalformedHead::Version),
            }
        }
        httparse::Error::HeaderName => HeadError::Malformed(MalformedHead::HeaderName),
        httparse::Error::HeaderValue => HeadError::Malformed(MalformedHead::HeaderValue),
        httparse::Error::NewLine => HeadError::Malformed(MalformedHead::LineEnding),
        httparse::Error::Token | httparse::Error::Status => {
            HeadError::Malformed(MalformedHead::RequestLine)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 32 KiB head trickled a byte at a time is parsed about once per line.
    #[test]
    fn a_trickled_head_is_parsed_once_per_line() {
        let limits = HeadLimits::default();
        let mut head = b"GET /bucket/key HTTP/1.1\r\nhost: h\r\n".to_vec();
        for i in 0..60 {
            head.extend_from_slice(format!("x-filler-{i}: {}\r\n", "v".repeat(500)).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let lines = head.iter().filter(|&&b| b == b'\n').count();
        let mut progress = HeadProgress::default();
        let (mut parses, mut done) = (0, None);
        for end in 1..=head.len() {
            if progress.should_parse(&head[..end], &limits) {
                parses += 1;
                if let Some((_, used)) = parse_request_head(&head[..end], &limits).unwrap() {
                    done = Some((end, used));
                    break;
                }
            }
        }
        assert_eq!(done, Some((head.len(), head.len())));
        assert!(parses <= lines + 1, "{parses} parses for {lines} lines");
        // A garbage first line is still refused as soon as it ends.
        let mut progress = HeadProgress::default();
        assert!(progress.should_parse(b"G", &limits));
        assert!(!progress.should_parse(b"GE", &limits));
        assert!(progress.should_parse(b"GE\x01\r\n", &limits));
        assert!(parse_request_head(b"GE\x01\r\n", &limits).is_err());
    }

    /// What a test expects of a parsed head: method, target, minor version, fields.
    type Summary<'a> = (&'a str, &'a str, u8, Vec<(&'a str, &'a [u8])>);

    fn parse(input: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
        parse_request_head(input, &HeadLimits::default())
    }

    fn check(input: &[u8], expected: Result<Summary<'_>, HeadError>) {
        let got = parse(input).map(|parsed| {
            let (head, n) = parsed.expect("complete head");
            assert_eq!(n, input.len(), "head length for {input:?}");
            head
        });
        match (got, expected) {
            (Ok(head), Ok((method, target, minor, fields))) => {
                assert_eq!(head.method().as_str(), method);
                assert_eq!(head.target(), target);
                assert_eq!(head.version_minor(), minor);
                assert_eq!(head.headers().collect::<Vec<_>>(), fields, "{input:?}");
            }
            (got, expected) => assert_eq!(got.map(|_| ()), expected.map(|_| ()), "{input:?}"),
        }
    }

    fn malformed(reason: MalformedHead) -> Result<Summary<'static>, HeadError> {
        Err(HeadError::Malformed(reason))
    }

    #[test]
    fn heads() {
        check(
            b"GET /b/k?x=1 HTTP/1.1\r\nHost: h\r\nX-Amz-Date:  20130524T000000Z \r\n\r\n",
            Ok((
                "GET",
                "/b/k?x=1",
                1,
                vec![("host", b"h"), ("x-amz-date", b"20130524T000000Z")],
            )),
        );
        check(b"PUT / HTTP/1.0\r\n\r\n", Ok(("PUT", "/", 0, vec![])));
        check(
            b"\r\nDELETE /a HTTP/1.1\r\nhost: h\r\nempty:\r\n\r\n",
            Ok(("DELETE", "/a", 1, vec![("host", b"h"), ("empty", b"")])),
        );
        check(b"get / HTTP/1.0\r\n\r\n", Ok(("get", "/", 0, vec![])));
        check(
            b"GET / HTTP/1.1\r\n\r\n",
            malformed(MalformedHead::HostMissing),
        );
        check(
            b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
            malformed(MalformedHead::HostDuplicate),
        );
        check(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n",
            malformed(MalformedHead::HeaderName),
        );
        check(
            b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            malformed(MalformedHead::HeaderName),
        );
        check(
            b"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n",
            malformed(MalformedHead::HeaderName),
        );
        check(
            b"GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n",
            malformed(MalformedHead::HeaderValue),
        );
        check(
            b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            malformed(MalformedHead::HeaderValue),
        );
        check(
            b"GET / HTTP/1.1\nHost: h\n\n",
            malformed(MalformedHead::BareLf),
        );
        check(
            b"GET / HTTP/1.1\r\nHost: h\n\r\n",
            malformed(MalformedHead::BareLf),
        );
        check(b"GET / HTTP/1.1\rX", malformed(MalformedHead::LineEnding));
        check(
            b"GET  / HTTP/1.1\r\n\r\n",
            malformed(MalformedHead::RequestLine),
        );
        check(
            b"GET /a b HTTP/1.1\r\n\r\n",
            Err(HeadError::Malformed(MalformedHead::Version)),
        );
        check(
            b"G(T / HTTP/1.1\r\n\r\n",
            malformed(MalformedHead::RequestLine),
        );
        check(
            b"GET / HTTP/2.0\r\n\r\n",
            Err(HeadError::VersionUnsupported),
        );
        check(
            b"GET / HTTP/1.2\r\n\r\n",
            Err(HeadError::VersionUnsupported),
        );
        check(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            Err(HeadError::VersionUnsupported),
        );
        check(b"GET / XTTP/1.1\r\n\r\n", malformed(MalformedHead::Version));
        check(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            malformed(MalformedHead::RequestLine),
        );
    }

    #[test]
    fn incomplete_heads_ask_for_more() {
        let full = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
        for end in 0..full.len() - 3 {
            assert_eq!(parse(&full[..end]), Ok(None), "prefix {end}");
        }
        let (head, n) = parse(full).unwrap().unwrap();
        assert_eq!(n, full.len() - 3);
        assert_eq!(head.header("content-length"), Some(&b"3"[..]));
    }

    #[test]
    fn limits() {
        let limits = HeadLimits {
            request_line_bytes_max: 20,
            head_bytes_max: 64,
            headers_count_max: 2,
        };
        let parse = |input: &[u8]| parse_request_head(input, &limits).map(|r| r.map(|(_, n)| n));
        // Exactly at the request-line limit, complete or not.
        assert_eq!(parse(b"GET /123456 HTTP/1.0\r\n\r\n"), Ok(Some(24)));
        assert_eq!(parse(b"GET /123456 HTTP/1.0\r"), Ok(None));
        assert_eq!(
            parse(b"GET /1234567 HTTP/1.0\r\n\r\n"),
            Err(HeadError::UriTooLong { max: 20 })
        );
        assert_eq!(
            parse(b"GET /12345678901234567890"),
            Err(HeadError::UriTooLong { max: 20 })
        );
        assert_eq!(
            parse(b"GET / HTTP/1.0\r\na: 1\r\nb: 2\r\n\r\n"),
            Ok(Some(30))
        );
        assert_eq!(
            parse(b"GET / HTTP/1.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"),
            Err(HeadError::HeadersTooMany { max: 2 })
        );
        let long_field = [&b"GET / HTTP/1.0\r\na: "[..], &[b'x'; 60]].concat();
        assert_eq!(parse(&long_field[..63]), Ok(None));
        assert_eq!(
            parse(&long_field[..64]),
            Err(HeadError::HeadTooLarge { max: 64 })
        );
        // More slots than the stack holds.
        let many = HeadLimits {
            headers_count_max: 300,
            ..HeadLimits::default()
        };
        let mut input = b"GET / HTTP/1.1\r\nhost: h\r\n".to_vec();
        for i in 0..299 {
            input.extend_from_slice(format!("x-{i}: {i}\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        let (head, _) = parse_request_head(&input, &many).unwrap().unwrap();
        assert_eq!(head.headers().count(), 300);
        assert_eq!(
            parse_request_head(&input, &HeadLimits::default()),
            Err(HeadError::HeadersTooMany { max: 128 })
        );
    }

    fn head(input: &str) -> RequestHead {
        parse(input.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn helpers() {
        let h = head("GET / HTTP/1.1\r\nHost: h\r\nX-Meta: a\r\nx-meta: b\r\nX-Bin: é\r\n\r\n");
        assert_eq!(h.header("X-META"), Some(&b"a"[..]));
        assert_eq!(h.headers_all("x-meta").collect::<Vec<_>>(), [b"a", b"b"]);
        assert_eq!(h.header_str("host"), Some("h"));
        assert_eq!(h.header_str("x-bin"), None);
        assert_eq!(h.header("absent"), None);
        assert_eq!(h.method(), &Method::Get);

        let cases: &[(&str, bool)] = &[
            ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n",
                false,
            ),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nConnection: te, close\r\n\r\n",
                false,
            ),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                false,
            ),
        ];
        for (input, keep_alive) in cases {
            assert_eq!(head(input).keep_alive(), *keep_alive, "{input}");
        }

        let cases: &[(&str, Result<bool, HeadError>)] = &[
            ("PUT / HTTP/1.1\r\nHost: h\r\n\r\n", Ok(false)),
            (
                "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n",
                Ok(true),
            ),
            ("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", Ok(false)),
            (
                "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x=y\r\n\r\n",
                Err(HeadError::ExpectationUnsupported("x=y".into())),
            ),
            (
                "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n",
                Err(HeadError::ExpectationUnsupported("200-ok".into())),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&head(input).expects_continue(), expected, "{input}");
        }
    }

    #[test]
    fn statuses() {
        let cases = [
            (HeadError::UriTooLong { max: 1 }, 414),
            (HeadError::HeadTooLarge { max: 1 }, 431),
            (HeadError::HeadersTooMany { max: 1 }, 431),
            (HeadError::Malformed(MalformedHead::BareLf), 400),
            (HeadError::VersionUnsupported, 505),
            (HeadError::ExpectationUnsupported("x".into()), 417),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error}");
        }
    }

    proptest::proptest! {
        /// Any split of a valid head parses to the same head once complete, and
        /// never to anything but `None` before.
        #[test]
        fn prefixes_agree(fields in proptest::collection::vec(("[a-z][a-z0-9-]{0,12}", "[ -~]{0,24}"), 0..8),
                          path in "/[a-zA-Z0-9/%._~+-]{0,40}") {
            let mut input = format!("PUT {path} HTTP/1.1\r\nHost: h\r\n");
            for (name, value) in &fields {
                input.push_str(&format!("{name}: {value}\r\n"));
            }
            input.push_str("\r\nbody");
            let input = input.as_bytes();
            let (whole, n) = parse(input).unwrap().unwrap();
            proptest::prop_assert_eq!(n, input.len() - 4);
            for end in 0..n {
                proptest::prop_assert_eq!(parse(&input[..end]), Ok(None));
            }
            proptest::prop_assert_eq!(parse(&input[..n]), Ok(Some((whole.clone(), n))));
            proptest::prop_assert_eq!(whole.headers().count(), fields.len() + 1);
        }

        #[test]
        fn random_bytes_never_panic(input in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            if let Ok(Some((head, n))) = parse(&input) {
                proptest::prop_assert!(n <= input.len());
                let _ = (head.keep_alive(), head.expects_continue(), head.target());
            }
        }
    }
}
