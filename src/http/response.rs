//! HTTP/1.1 response heads: the status line and header fields, written into a
//! buffer the connection loop reuses, with the one table of reason phrases and
//! the checks that keep a header value from splitting the response.

/// Reason phrases for every status ringgate sends, sorted by code (a test keeps
/// it sorted and unique). Clients ignore the phrase; it is there for people
/// reading traces.
pub const REASON_PHRASES: &[(u16, &str)] = &[
    (100, "Continue"),
    (200, "OK"),
    (204, "No Content"),
    (206, "Partial Content"),
    (301, "Moved Permanently"),
    (304, "Not Modified"),
    (307, "Temporary Redirect"),
    (400, "Bad Request"),
    (403, "Forbidden"),
    (404, "Not Found"),
    (405, "Method Not Allowed"),
    (408, "Request Timeout"),
    (409, "Conflict"),
    (411, "Length Required"),
    (412, "Precondition Failed"),
    (413, "Content Too Large"),
    (414, "URI Too Long"),
    (416, "Range Not Satisfiable"),
    (417, "Expectation Failed"),
    (431, "Request Header Fields Too Large"),
    (500, "Internal Server Error"),
    (501, "Not Implemented"),
    (503, "Service Unavailable"),
    (505, "HTTP Version Not Supported"),
];

/// The reason phrase of `status`, if it is in [`REASON_PHRASES`].
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    REASON_PHRASES
        .binary_search_by_key(&status, |&(code, _)| code)
        .ok()
        .map(|i| REASON_PHRASES[i].1)
}

/// A response head that must not be sent. Every case is a bug or corrupt data
/// upstream, so the status is 500.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResponseError {
    #[error("status {0} is not a three-digit code")]
    Status(u16),
    #[error("header name {0:?} is not a token")]
    HeaderName(String),
    #[error("value of header {name:?} contains a control character")]
    HeaderValue { name: String },
}

impl ResponseError {
    /// The HTTP status to answer with instead: always 500.
    pub fn status(&self) -> u16 {
        500
    }
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`, one `name: value\r\n` per header
/// and the blank line to `out`. The caller owns framing: it passes
/// `content-length` or `transfer-encoding` itself. A status outside 100..=999,
/// a name that is not a token or a value with a control character (CR, LF, NUL,
/// …; HTAB allowed) is refused, leaving `out` as it was, so that no value, an
/// object's user metadata say, can split the response. Unknown statuses get
/// an empty reason phrase, which RFC 9112 §4 allows.
pub fn write_response_head<'a>(
    out: &mut Vec<u8>,
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ResponseError> {
    if !(100..=999).contains(&status) {
        return Err(ResponseError::Status(status));
    }
    let start = out.len();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(super::chunked::is_tchar) {
            out.truncate(start);
            return Err(ResponseError::HeaderName(name.to_string()));
        }
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            out.truncate(start);
            return Err(ResponseError::HeaderValue {
                name: name.to_string(),
            });
        }
        for part in [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
            out.extend_from_slice(part);
        }
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, headers: &[(&str, &str)], expected: Result<&str, ResponseError>) {
        let mut out = b"previous".to_vec();
        let got = write_response_head(&mut out, status, headers.iter().copied());
        let text = String::from_utf8(out).unwrap();
        match expected {
            Ok(head) => assert_eq!(
                (got, text.as_str()),
                (Ok(()), format!("previous{head}").as_str())
            ),
            Err(error) => assert_eq!((got, text.as_str()), (Err(error), "previous")),
        }
    }

    #[test]
    fn heads() {
        check(
            200,
            &[("content-length", "0")],
            Ok("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
        );
        check(100, &[], Ok("HTTP/1.1 100 Continue\r\n\r\n"));
        check(
            206,
            &[("Content-Range", "bytes 0-9/100"), ("ETag", "\"abc\""), ("x-amz-meta-a", "tab\there é")],
            Ok("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\nETag: \"abc\"\r\nx-amz-meta-a: tab\there é\r\n\r\n"),
        );
        check(599, &[("x", "")], Ok("HTTP/1.1 599 \r\nx: \r\n\r\n"));
        check(99, &[], Err(ResponseError::Status(99)));
        check(1000, &[], Err(ResponseError::Status(1000)));
        check(
            200,
            &[("ok", "1"), ("x-a", "1\r\nSet-Cookie: x")],
            Err(ResponseError::HeaderValue { name: "x-a".into() }),
        );
        check(
            200,
            &[("x-a", "1\n")],
            Err(ResponseError::HeaderValue { name: "x-a".into() }),
        );
        check(
            200,
            &[("x-a", "\0")],
            Err(ResponseError::HeaderValue { name: "x-a".into() }),
        );
        check(
            200,
            &[("x-a", "\x7f")],
            Err(ResponseError::HeaderValue { name: "x-a".into() }),
        );
        check(
            200,
            &[("x a", "1")],
            Err(ResponseError::HeaderName("x a".into())),
        );
        check(
            200,
            &[("x:a", "1")],
            Err(ResponseError::HeaderName("x:a".into())),
        );
        check(200, &[("", "1")], Err(ResponseError::HeaderName("".into())));
    }

    #[test]
    fn reason_table_is_sorted_unique_and_complete() {
        assert!(REASON_PHRASES.windows(2).all(|w| w[0].0 < w[1].0));
        let s3_statuses = [
            100, 200, 204, 206, 304, 400, 403, 404, 405, 409, 411, 412, 413, 414, 416, 417, 431,
            500, 501, 503, 505,
        ];
        for status in s3_statuses {
            assert!(reason_phrase(status).is_some(), "{status}");
        }
        assert_eq!(reason_phrase(418), None);
        assert_eq!(ResponseError::Status(1).status(), 500);
    }
}
