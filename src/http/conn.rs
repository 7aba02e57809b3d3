//! The HTTP/1.1 connection loop: the I/O half of `http`. It reads request heads
//! with the pure parsers, hands each request to a [`RequestHandler`] as an
//! [`Exchange`] (the request head, its body as a stream of slices of the
//! connection's read buffer, and the response writer), and keeps the connection
//! alive when the framing allows. It knows nothing of S3: errors it meets
//! before a handler runs are rendered by the handler's `reject`.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future;

use super::chunked::{ChunkedDecoder, ChunkedLimits, ChunkedStep};
use super::head::{parse_request_head, HeadLimits, HeadProgress, Method, RequestHead};
use super::response::write_response_head;
use super::transport::Transport;
use super::{BodyFraming, HttpError};
use crate::shutdown::ShutdownSignal;

/// Read buffer per connection: large enough that a body streams in big slices.
const READ_BUFFER_BYTES: usize = 256 << 10;
/// A body the handler left unread is drained (to keep the connection) up to
/// this many bytes; beyond that the connection is closed instead.
const DRAIN_BYTES_MAX: u64 = 256 << 10;
/// Bodies up to this size are sent in the same write as the head.
const COALESCE_BYTES_MAX: usize = 64 << 10;

/// What serves requests: the S3 layer in the gateway, anything in tests.
pub trait RequestHandler {
    /// Serves one request; must respond (the loop answers 500 if it did not).
    fn handle(&self, exchange: &mut Exchange<'_>) -> impl std::future::Future<Output = ()>;
    /// The response for a request that failed before it reached `handle`
    /// (malformed head, bad framing): status, content type and body.
    fn reject(&self, error: &HttpError, request_id: &str) -> (u16, &'static str, Vec<u8>);
    /// A fresh request id for the `x-amz-request-id` header.
    fn request_id(&self) -> String;
}

/// Settings of the loop, from the server's limits.
#[derive(Clone, Debug)]
pub struct ConnSettings {
    pub head: HeadLimits,
    pub idle_timeout: Duration,
    pub stall_timeout: Duration,
}

/// The connection's transport and read buffer; bytes `start..end` are unread.
pub struct ConnIo {
    transport: Transport,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    bytes_in: u64,
    bytes_out: u64,
}

impl ConnIo {
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            buf: vec![0; READ_BUFFER_BYTES],
            start: 0,
            end: 0,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes after those buffered; 0 at end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(io::Error::other("read buffer full"));
        }
        let n = self.transport.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        self.bytes_in += n as u64;
        Ok(n)
    }

    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.transport.write_all(data).await?;
        self.bytes_out += data.len() as u64;
        Ok(())
    }
}

/// Serves one connection until the peer closes, an error, or shutdown.
pub async fn serve_connection<H: RequestHandler>(
    handler: Rc<H>,
    transport: Transport,
    settings: Rc<ConnSettings>,
    shutdown: Rc<ShutdownSignal>,
) {
    let mut io = ConnIo::new(transport);
    loop {
        let (head, head_bytes) = match read_head(&mut io, &settings, &shutdown).await {
            Ok(Some(read)) => read,
            Ok(None) => break,
            Err(HeadRead::Io) => break,
            Err(HeadRead::Http(error)) => {
                reject(&mut io, &*handler, &error).await;
                break;
            }
        };
        let framing = match BodyFraming::from_head(&head) {
            Ok(framing) => framing,
            Err(error) => {
                reject(&mut io, &*handler, &HttpError::from(error)).await;
                break;
            }
        };
        let _ = io.transport.set_read_timeout(Some(settings.stall_timeout));
        let _ = io.transport.set_write_timeout(Some(settings.stall_timeout));
        let expects_continue = match head.expects_continue() {
            Ok(expects) => expects,
            Err(error) => {
                reject(&mut io, &*handler, &HttpError::from(error)).await;
                break;
            }
        };
        let keep_alive = head.keep_alive() && !shutdown.is_triggered();
        let mut exchange = Exchange::new(
            &mut io,
            head,
            head_bytes,
            framing,
            expects_continue,
            handler.request_id(),
            keep_alive,
        );
        handler.handle(&mut exchange).await;
        let keep = exchange.finish().await;
        if !keep || shutdown.is_triggered() {
            break;
        }
    }
    io.transport.close().await;
}

enum HeadRead {
    /// The peer vanished or timed out: nothing to answer.
    Io,
    Http(HttpError),
}

/// Reads the next request head and its length in bytes. `Ok(None)`: the
/// connection ended cleanly (peer closed or shutdown) while idle.
async fn read_head(
    io: &mut ConnIo,
    settings: &ConnSettings,
    shutdown: &ShutdownSignal,
) -> Result<Option<(RequestHead, usize)>, HeadRead> {
    let _ = io.transport.set_read_timeout(Some(settings.idle_timeout));
    let mut first_byte_at: Option<Instant> = None;
    let mut progress = HeadProgress::default();
    loop {
        if !io.buffered().is_empty() {
            if progress.should_parse(io.buffered(), &settings.head) {
                match parse_request_head(io.buffered(), &settings.head) {
                    Ok(Some((head, used))) => {
                        io.consume(used);
                        return Ok(Some((head, used)));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(HeadRead::Http(HttpError::from(e))),
                }
            }
            let started = *first_byte_at.get_or_insert_with(Instant::now);
            // A head must arrive whole within one stall timeout: a client
            // trickling bytes cannot hold a connection forever.
            let left = settings.stall_timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(HeadRead::Io);
            }
            let _ = io.transport.set_read_timeout(Some(left));
        }
        let idle = io.buffered().is_empty();
        let read = if idle {
            if shutdown.is_triggered() {
                return Ok(None);
            }
            match future::or(async { Some(io.fill().await) }, async {
                shutdown.wait().await;
                None
            })
            .await
            {
                Some(read) => read,
                None => return Ok(None),
            }
        } else {
            io.fill().await
        };
        match read {
            Ok(0) if idle => return Ok(None),
            Ok(0) => return Err(HeadRead::Io),
            Ok(_) => {}
            Err(_) => return Err(HeadRead::Io),
        }
    }
}

/// Answers a request that failed before reaching the handler, and closes.
async fn reject<H: RequestHandler>(io: &mut ConnIo, handler: &H, error: &HttpError) {
    let id = handler.request_id();
    let (status, content_type, body) = handler.reject(error, &id);
    let length = body.len().to_string();
    let headers = [
        ("server", "ringgate"),
        ("x-amz-request-id", id.as_str()),
        ("x-amz-id-2", id.as_str()),
        ("content-type", content_type),
        ("content-length", length.as_str()),
        ("connection", "close"),
    ];
    let mut out = Vec::with_capacity(512 + body.len());
    if write_response_head(&mut out, status, headers).is_ok() {
        out.extend_from_slice(&body);
        let _ = io.write(&out).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    #[error("body ended after {received} of {expected} bytes")]
    Incomplete { received: u64, expected: u64 },
    #[error("chunked framing: {0}")]
    Framing(HttpError),
}

enum BodyState {
    Length { remaining: u64 },
    Chunked(Box<ChunkedDecoder>),
    Done,
}

enum ResponseState {
    NotStarted,
    Streaming { remaining: u64 },
    Done,
}

/// One request and its response on a connection.
pub struct Exchange<'c> {
    io: &'c mut ConnIo,
    pub head: RequestHead,
    pub request_id: String,
    body: BodyState,
    /// Body bytes in `io.buf` already out of the framing, not yet taken.
    pending: std::ops::Range<usize>,
    body_bytes: u64,
    declared_length: Option<u64>,
    continue_pending: bool,
    response: ResponseState,
    keep_alive: bool,
    head_out: Vec<u8>,
    status: u16,
    bytes_in_at_start: u64,
    bytes_out_at_start: u64,
    /// Whether the handler asked for `first_byte_at` (the access log does):
    /// otherwise no clock is read for it.
    first_byte_wanted: bool,
    first_byte_at: Option<Instant>,
}

impl<'c> Exchange<'c> {
    fn new(
        io: &'c mut ConnIo,
        head: RequestHead,
        head_bytes: usize,
        framing: BodyFraming,
        expects_continue: bool,
        request_id: String,
        keep_alive: bool,
    ) -> Self {
        let (body, declared_length) = match framing {
            BodyFraming::None => (BodyState::Done, Some(0)),
            BodyFraming::Length(0) => (BodyState::Done, Some(0)),
            BodyFraming::Length(n) => (BodyState::Length { remaining: n }, Some(n)),
            BodyFraming::Chunked => (
                BodyState::Chunked(Box::new(ChunkedDecoder::new(ChunkedLimits::default()))),
                None,
            ),
        };
        let continue_pending = expects_continue && !matches!(body, BodyState::Done);
        // The head was read before the exchange began: count it as this request's.
        let bytes_in_at_start = io.bytes_in - (io.end - io.start + head_bytes) as u64;
        let bytes_out_at_start = io.bytes_out;
        Self {
            io,
            head,
            request_id,
            body,
            pending: 0..0,
            body_bytes: 0,
            declared_length,
            continue_pending,
            response: ResponseState::NotStarted,
            keep_alive,
            head_out: Vec::with_capacity(1024),
            status: 0,
            bytes_in_at_start,
            bytes_out_at_start,
            first_byte_wanted: false,
            first_byte_at: None,
        }
    }

    /// Asks the exchange to note when the response's first byte is written.
    pub fn measure_first_byte(&mut self) {
        self.first_byte_wanted = true;
    }

    /// When the response's first byte went to the socket, if it did and
    /// [`Exchange::measure_first_byte`] asked for it (`100 Continue` aside).
    pub fn first_byte_at(&self) -> Option<Instant> {
        self.first_byte_at
    }

    fn mark_first_byte(&mut self) {
        if self.first_byte_wanted && self.first_byte_at.is_none() {
            self.first_byte_at = Some(Instant::now());
        }
    }

    /// The status of the response, once started (0 before).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Bytes this request moved so far on the connection: (in, out).
    pub fn bytes_moved(&self) -> (u64, u64) {
        (
            self.io.bytes_in.saturating_sub(self.bytes_in_at_start),
            self.io.bytes_out - self.bytes_out_at_start,
        )
    }

    pub fn is_head_request(&self) -> bool {
        *self.head.method() == Method::Head
    }

    /// Whether a response head has been produced (an error can no longer be sent).
    pub fn response_started(&self) -> bool {
        !matches!(self.response, ResponseState::NotStarted)
    }

    /// Content-Length of the body, when the client declared one.
    pub fn declared_length(&self) -> Option<u64> {
        self.declared_length
    }

    pub fn body_done(&self) -> bool {
        matches!(self.body, BodyState::Done) && self.pending.is_empty()
    }

    /// Body bytes (after HTTP framing) taken so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// The next slice of the body, in whatever size it arrived; `None` at its end.
    pub async fn body_chunk(&mut self) -> Result<Option<&[u8]>, BodyError> {
        if !self.body_fill().await? {
            return Ok(None);
        }
        let n = self.pending.len();
        Ok(Some(self.body_take(n, 0..n)))
    }

    /// Makes body bytes available in `body_available`; `false` at the end of
    /// the body. The first call answers `Expect: 100-continue`, so a request
    /// refused before its body is read never makes the client send it.
    pub async fn body_fill(&mut self) -> Result<bool, BodyError> {
        if !self.pending.is_empty() {
            return Ok(true);
        }
        if matches!(self.body, BodyState::Done) {
            return Ok(false);
        }
        if self.continue_pending {
            self.continue_pending = false;
            self.io.write(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        // Invariant: `pending` is empty here, so `fill` may move buffered bytes.
        loop {
            match &mut self.body {
                BodyState::Done => return Ok(false),
                BodyState::Length { remaining } => {
                    if self.io.buffered().is_empty() && self.io.fill().await? == 0 {
                        return Err(BodyError::Incomplete {
                            received: self.body_bytes,
                            expected: self.declared_length.unwrap_or(0),
                        });
                    }
                    let n = (self.io.buffered().len() as u64).min(*remaining) as usize;
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.body = BodyState::Done;
                    }
                    let at = self.io.start;
                    self.io.consume(n);
                    self.pending = at..at + n;
                    return Ok(true);
                }
                BodyState::Chunked(decoder) => {
                    let (used, step) = decoder
                        .step(self.io.buffered())
                        .map_err(|e| BodyError::Framing(HttpError::from(e)))?;
                    let at = self.io.start;
                    self.io.consume(used);
                    match step {
                        ChunkedStep::Data(range) if range.is_empty() => {}
                        ChunkedStep::Data(range) => {
                            self.pending = at + range.start..at + range.end;
                            return Ok(true);
                        }
                        ChunkedStep::Done => {
                            self.body = BodyState::Done;
                            return Ok(false);
                        }
                        ChunkedStep::NeedMore => {
                            if self.io.fill().await? == 0 {
                                return Err(BodyError::Incomplete {
                                    received: self.body_bytes,
                                    expected: 0,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    /// Body bytes received and not yet taken.
    pub fn body_available(&self) -> &[u8] {
        &self.io.buf[self.pending.clone()]
    }

    /// Takes `used` bytes of `body_available` and returns its sub-range `data`
    /// (which lies within them): how a decoder layered on the body (aws-chunked)
    /// passes payload through without copying it.
    pub fn body_take(&mut self, used: usize, data: std::ops::Range<usize>) -> &[u8] {
        assert!(used <= self.pending.len() && data.end <= used && data.start <= data.end);
        let at = self.pending.start;
        self.pending.start += used;
        self.body_bytes += used as u64;
        // The bytes stay in place: `consume` never moves them, and `fill` runs
        // only when nothing is pending.
        &self.io.buf[at + data.start..at + data.end]
    }

    /// Sends a whole response: head and body, in one write when small.
    pub async fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        self.start_response(status, headers, body.len() as u64)
            .await?;
        self.send_body(body).await
    }

    /// Sends the head of a response whose body of `content_length` bytes
    /// follows through `send_body` (nothing follows for HEAD requests).
    pub async fn start_response(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        content_length: u64,
    ) -> io::Result<()> {
        assert!(
            matches!(self.response, ResponseState::NotStarted),
            "one response per request"
        );
        if self.continue_pending {
            // Refused before the client sent its body: whether it sends it
            // anyway is up to the client, so the connection cannot be reused.
            self.continue_pending = false;
            self.keep_alive = false;
        } else if !matches!(
            self.body,
            BodyState::Done
                | BodyState::Length {
                    remaining: ..=DRAIN_BYTES_MAX
                }
        ) {
            // Answering before a large body was read: draining it would cost
            // more than a new connection.
            self.keep_alive = false;
        }
        let date = httpdate::fmt_http_date(crate::clock::now());
        let has_body = status != 204 && status != 304 && !(100..200).contains(&status);
        // HEAD and 304 announce the length of the body they do not carry.
        let length = (has_body || status == 304).then(|| content_length.to_string());
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 7);
        all.extend_from_slice(&[
            ("server", "ringgate"),
            ("x-amz-request-id", &self.request_id),
            ("x-amz-id-2", &self.request_id),
            ("date", &date),
        ]);
        if let Some(length) = &length {
            all.push(("content-length", length));
        }
        if !self.keep_alive {
            all.push(("connection", "close"));
        }
        all.extend_from_slice(headers);
        self.head_out.clear();
        write_response_head(&mut self.head_out, status, all.iter().copied())
            .map_err(io::Error::other)?;
        let remaining = if has_body && !self.is_head_request() {
            content_length
        } else {
            0
        };
        self.response = ResponseState::Streaming { remaining };
        self.status = status;
        if remaining == 0 {
            return self.flush_head().await;
        }
        Ok(())
    }

    async fn flush_head(&mut self) -> io::Result<()> {
        if !self.head_out.is_empty() {
            self.mark_first_byte();
            let head = std::mem::take(&mut self.head_out);
            let result = self.io.write(&head).await;
            self.head_out = head;
            self.head_out.clear();
            result?;
        }
        if matches!(self.response, ResponseState::Streaming { remaining: 0 }) {
            self.response = ResponseState::Done;
        }
        Ok(())
    }

    /// Sends the next bytes of the body announced by `start_response`.
    pub async fn send_body(&mut self, data: &[u8]) -> io::Result<()> {
        let ResponseState::Streaming { remaining } = &mut self.response else {
            // HEAD, 204 and 304 responses carry no body.
            return self.flush_head().await;
        };
        if *remaining == 0 {
            return self.flush_head().await;
        }
        assert!(
            data.len() as u64 <= *remaining,
            "body longer than its content-length"
        );
        *remaining -= data.len() as u64;
        if !self.head_out.is_empty() && data.len() <= COALESCE_BYTES_MAX {
            // One write for head and a small body: no delayed-ACK stall.
            self.head_out.extend_from_slice(data);
            self.mark_first_byte();
            let out = std::mem::take(&mut self.head_out);
            let result = self.io.write(&out).await;
            self.head_out = out;
            self.head_out.clear();
            result?;
        } else {
            self.flush_head().await?;
            self.io.write(data).await?;
        }
        if matches!(self.response, ResponseState::Streaming { remaining: 0 }) {
            self.response = ResponseState::Done;
        }
        Ok(())
    }

    /// Ends the exchange; returns whether the connection can carry another request.
    async fn finish(mut self) -> bool {
        match self.response {
            ResponseState::Done => {}
            ResponseState::NotStarted => {
                // The handler did not answer: a bug, not the client's fault.
                let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>no response</Message></Error>";
                self.keep_alive = false;
                if self
                    .respond(500, &[("content-type", "application/xml")], body)
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            // A body cut short (a GET whose pieces failed mid-stream): the
            // client sees the connection close before Content-Length bytes.
            ResponseState::Streaming { .. } => return false,
        }
        if !self.keep_alive {
            return false;
        }
        if !self.body_done() {
            while let Ok(Some(_)) = self.body_chunk().await {
                if self.body_bytes > DRAIN_BYTES_MAX + self.declared_length.unwrap_or(0) {
                    return false;
                }
            }
            return self.body_done();
        }
        true
    }
}
