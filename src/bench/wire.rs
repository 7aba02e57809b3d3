//! HTTP/1.1 as the load generator speaks it: request heads out, response
//! heads in (httparse), and the framing of response bodies. Pure code over
//! byte slices; `client` does the I/O.

use crate::http::{ChunkedDecoder, ChunkedLimits, ChunkedStep};

/// Most header lines a response head may have.
const RESPONSE_HEADERS_MAX: usize = 64;
/// Largest response head accepted.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 64 << 10;

/// What went wrong on the wire, short of an I/O error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("malformed response head: {0}")]
    Head(String),
    #[error("response head larger than {RESPONSE_HEAD_BYTES_MAX} bytes")]
    HeadTooLarge,
    #[error("malformed chunked response body: {0}")]
    Chunked(String),
    #[error("bad {name} header {value:?}")]
    Header { name: &'static str, value: String },
}

/// The parts of a response head the load generator looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// `Connection: close`, or HTTP/1.0 without keep-alive.
    pub close: bool,
    pub etag: Option<String>,
    pub content_range: Option<String>,
}

/// Parses a response head at the start of `buf`: `Ok(None)` until it is
/// complete, then the head and its length in bytes.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; RESPONSE_HEADERS_MAX];
    let mut response = httparse::Response::new(&mut headers);
    let used = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() >= RESPONSE_HEAD_BYTES_MAX {
                return Err(WireError::HeadTooLarge);
            }
            return Ok(None);
        }
        Err(e) => return Err(WireError::Head(e.to_string())),
    };
    let mut head = ResponseHead {
        status: response.code.unwrap_or(0),
        close: response.version == Some(0),
        ..ResponseHead::default()
    };
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = value.parse().map_err(|_| WireError::Header {
                name: "content-length",
                value: value.into(),
            })?;
            if head.content_length.is_some_and(|m| m != n) {
                return Err(WireError::Header {
                    name: "content-length",
                    value: value.into(),
                });
            }
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            if last.eq_ignore_ascii_case("chunked") {
                head.chunked = true;
            } else {
                return Err(WireError::Header {
                    name: "transfer-encoding",
                    value: value.into(),
                });
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    head.close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && response.version == Some(0) {
                    head.close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("etag") {
            head.etag = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("content-range") {
            head.content_range = Some(value.to_string());
        }
    }
    if head.chunked {
        // RFC 9112 §6.3: chunked wins over a Content-Length.
        head.content_length = None;
    }
    Ok(Some((head, used)))
}

/// How a response body ends.
#[derive(Debug)]
pub enum BodyReader {
    /// This many bytes are still to come.
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    /// Until the server closes the connection.
    UntilClose,
    Done,
}

/// What one [`BodyReader::step`] found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyStep {
    /// `input[range]` is body data; `consumed` bytes of input are used up.
    Data {
        range: std::ops::Range<usize>,
        consumed: usize,
    },
    /// All input used up; read more.
    NeedMore,
    /// The body is complete after `consumed` bytes of input.
    Done { consumed: usize },
}

impl BodyReader {
    /// The body that follows `head` in the answer to a `method` request.
    pub fn new(head: &ResponseHead, method: &str) -> Self {
        let bodiless =
            method == "HEAD" || head.status / 100 == 1 || head.status == 204 || head.status == 304;
        if bodiless {
            Self::Done
        } else if head.chunked {
            Self::Chunked(Box::new(ChunkedDecoder::new(ChunkedLimits::default())))
        } else {
            match head.content_length {
                Some(0) => Self::Done,
                Some(n) => Self::Length(n),
                None => Self::UntilClose,
            }
        }
    }

    /// Whether the connection can carry another request after this body.
    pub fn reusable(&self) -> bool {
        !matches!(self, Self::UntilClose)
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done)
    }

    /// Takes what it can from `input`.
    pub fn step(&mut self, input: &[u8]) -> Result<BodyStep, WireError> {
        match self {
            Self::Done => Ok(BodyStep::Done { consumed: 0 }),
            Self::Length(left) => {
                if input.is_empty() {
                    return Ok(BodyStep::NeedMore);
                }
                let n = (*left).min(input.len() as u64) as usize;
                *left -= n as u64;
                if *left == 0 {
                    *self = Self::Done;
                }
                Ok(BodyStep::Data {
                    range: 0..n,
                    consumed: n,
                })
            }
            Self::UntilClose => {
                if input.is_empty() {
                    Ok(BodyStep::NeedMore)
                } else {
                    Ok(BodyStep::Data {
                        range: 0..input.len(),
                        consumed: input.len(),
                    })
                }
            }
            Self::Chunked(decoder) => {
                let (consumed, step) = decoder
                    .step(input)
                    .map_err(|e| WireError::Chunked(e.to_string()))?;
                match step {
                    ChunkedStep::Data(range) => Ok(BodyStep::Data { range, consumed }),
                    ChunkedStep::NeedMore => Ok(BodyStep::NeedMore),
                    ChunkedStep::Done => {
                        *self = Self::Done;
                        Ok(BodyStep::Done { consumed })
                    }
                }
            }
        }
    }

    /// The peer closed the connection: fine only for a body that ends so.
    pub fn at_close(&mut self) -> Result<(), WireError> {
        match self {
            Self::UntilClose | Self::Done => {
                *self = Self::Done;
                Ok(())
            }
            Self::Length(left) => Err(WireError::Chunked(format!(
                "connection closed with {left} body bytes to come"
            ))),
            Self::Chunked(_) => Err(WireError::Chunked("connection closed mid-body".into())),
        }
    }
}

/// Appends a request head: request line, `host`, the `headers` given
/// (signed ones and others alike) and `content-length` when there is a body.
pub fn write_request_head(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    query: &str,
    host: &str,
    headers: &[(&str, &str)],
    content_length: Option<u64>,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    if !query.is_empty() {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = content_length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(n.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"user-agent: ringgate-bench/");
    out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}
