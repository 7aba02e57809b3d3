//! Frames over a glommio TCP stream: the I/O half of the protocol, shared by
//! the node server and `RemoteStore`. A read buffer holds control frames whole
//! (every one is bounded by `protocol`); DATA payloads stream through it in
//! slices (node) or go straight from the socket into the caller's buffer
//! (client), so neither side ever holds a whole DATA frame it does not need.

use std::future::Future;
use std::io;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::protocol::{
    decode_payload, parse_header, Frame, FrameHeader, FrameType, ProtocolError, DATA_BYTES_MAX,
    FRAME_HEADER_BYTES,
};

/// DATA payloads up to this size are copied behind their header and sent in one
/// write; larger ones go as two writes, header then payload, without a copy.
const COALESCE_BYTES_MAX: usize = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The peer closed the connection inside a frame.
    #[error("connection closed inside a frame")]
    Truncated,
    #[error("timed out")]
    TimedOut,
    #[error("{0}")]
    Io(io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::TimedOut {
            WireError::TimedOut
        } else {
            WireError::Io(e)
        }
    }
}

impl WireError {
    /// Whether the failure says the connection was already dead before this
    /// request (a pooled connection the node closed while it sat idle).
    pub fn is_stale_connection(&self) -> bool {
        match self {
            WireError::Closed | WireError::Truncated => true,
            WireError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::NotConnected
            ),
            _ => false,
        }
    }
}

/// Runs `work`, failing with `TimedOut` if it takes longer than `limit`: the
/// bound on a whole frame, where socket timeouts bound each read or write.
pub async fn deadline<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, WireError>>,
) -> Result<T, WireError> {
    futures_lite::future::or(work, async {
        glommio::timer::sleep(limit).await;
        Err(WireError::TimedOut)
    })
    .await
}

/// A connection and its read buffer; bytes `start..end` are unread.
pub struct FrameConn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Encoding space for outgoing control frames, reused.
    out: Vec<u8>,
}

impl FrameConn {
    /// `buffer_bytes` must hold the largest control frame this side receives.
    pub fn new(stream: TcpStream, buffer_bytes: usize) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: vec![0; buffer_bytes],
            start: 0,
            end: 0,
            out: Vec::with_capacity(512),
        })
    }

    /// Bounds every read that makes no progress (`None`: wait forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        // Only a zero duration is refused, and callers never pass one.
        let _ = self.stream.set_read_timeout(timeout);
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) {
        let _ = self.stream.set_write_timeout(timeout);
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn has_buffered(&self) -> bool {
        self.start < self.end
    }

    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    pub async fn fill(&mut self) -> Result<usize, WireError> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        assert!(self.end < self.buf.len(), "read buffer is full");
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Makes at least `n` bytes buffered (`n` ≤ buffer size).
    async fn want(&mut self, n: usize) -> Result<(), WireError> {
        debug_assert!(n <= self.buf.len());
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < n {
            if self.fill().await? == 0 {
                return Err(if self.has_buffered() {
                    WireError::Truncated
                } else {
                    WireError::Closed
                });
            }
        }
        Ok(())
    }

    /// Reads the next frame header. `Closed` if the peer closed between frames.
    pub async fn read_header(&mut self) -> Result<FrameHeader, WireError> {
        self.want(FRAME_HEADER_BYTES).await?;
        let header =
            parse_header(&self.buf[self.start..self.end])?.expect("a whole header is buffered");
        self.consume(FRAME_HEADER_BYTES);
        Ok(header)
    }

    /// Reads and decodes the payload of a frame whose header was just read. A
    /// DATA header's payload must be streamed instead (`data_slice`, `data_into`),
    /// and a payload larger than the buffer is refused as a protocol error.
    pub async fn read_body(&mut self, header: FrameHeader) -> Result<Frame<'_>, WireError> {
        assert_ne!(header.kind, FrameType::Data, "DATA payloads are streamed");
        if header.len > self.buf.len() {
            let (min, _) = header.kind.payload_bounds();
            return Err(ProtocolError::Length {
                kind: header.kind,
                len: header.len,
                min,
                max: self.buf.len(),
            }
            .into());
        }
        self.want(header.len).await.map_err(|e| match e {
            WireError::Closed => WireError::Truncated,
            other => other,
        })?;
        let at = self.start;
        self.consume(header.len);
        // `consume` may have reset the indices, but never touches the bytes.
        Ok(decode_payload(header, &self.buf[at..at + header.len])?)
    }

    /// Reads a whole control frame.
    pub async fn read_frame(&mut self) -> Result<Frame<'_>, WireError> {
        let header = self.read_header().await?;
        if header.kind == FrameType::Data {
            return Err(WireError::Protocol(ProtocolError::Field {
                kind: FrameType::Data,
                field: "place (a control frame was expected)",
            }));
        }
        self.read_body(header).await
    }

    /// Up to `left` bytes of a DATA payload, from the buffer (filled if empty).
    /// The caller hands back how many it used with `data_consumed`.
    pub async fn data_slice(&mut self, left: usize) -> Result<&[u8], WireError> {
        if !self.has_buffered() && self.fill().await? == 0 {
            return Err(WireError::Truncated);
        }
        let n = left.min(self.end - self.start);
        Ok(&self.buf[self.start..self.start + n])
    }

    pub fn data_consumed(&mut self, n: usize) {
        self.consume(n);
    }

    /// Reads exactly `dst.len()` bytes of a DATA payload into `dst`: first what
    /// is buffered, the rest straight from the socket.
    pub async fn data_into(&mut self, dst: &mut [u8]) -> Result<(), WireError> {
        let buffered = (self.end - self.start).min(dst.len());
        dst[..buffered].copy_from_slice(&self.buf[self.start..self.start + buffered]);
        self.consume(buffered);
        let mut filled = buffered;
        while filled < dst.len() {
            let n = self.stream.read(&mut dst[filled..]).await?;
            if n == 0 {
                return Err(WireError::Truncated);
            }
            filled += n;
        }
        Ok(())
    }

    pub async fn send(&mut self, frame: &Frame<'_>) -> Result<(), WireError> {
        self.out.clear();
        frame.encode(&mut self.out);
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// Sends `bytes` as DATA frames of at most `DATA_BYTES_MAX` (none if empty).
    pub async fn send_data(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        for chunk in bytes.chunks(DATA_BYTES_MAX) {
            let header = FrameHeader::new(FrameType::Data, chunk.len()).encode();
            if chunk.len() <= COALESCE_BYTES_MAX {
                self.out.clear();
                self.out.extend_from_slice(&header);
                self.out.extend_from_slice(chunk);
                self.stream.write_all(&self.out).await?;
            } else {
                self.stream.write_all(&header).await?;
                self.stream.write_all(chunk).await?;
            }
        }
        Ok(())
    }

    /// Closes the connection, telling the peer (best effort).
    pub async fn close(mut self) {
        let _ = self.stream.close().await;
    }
}
