//! The chunked transfer coding (RFC 9112 §7.1) as a streaming, zero-copy state
//! machine: [`ChunkedDecoder`] for HTTP bodies, and the grammar itself
//! (`ChunkFramer`) that `aws_chunked` reuses, since aws-chunked is the same
//! grammar with a chunk extension and a trailer field of its own.
//!
//! ```text
//! chunked-body    = *chunk last-chunk trailer-section CRLF
//! chunk           = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size      = 1*HEXDIG
//! last-chunk      = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext       = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! chunk-ext-name  = token
//! chunk-ext-val   = token / quoted-string
//! trailer-section = *( field-line CRLF )
//! ```
//!
//! Strictness: lines end in CRLF (a bare CR or LF is an error); no whitespace
//! after the size unless a `;` follows; extension syntax is checked and then
//! ignored; trailer fields are `token ":" OWS value OWS` with printable-ASCII
//! values (no obsolete line folding).

use std::fmt;
use std::ops::Range;

/// Limits of a [`ChunkedDecoder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedLimits {
    /// Longest chunk-size line, extensions and CRLF included:
    /// [`ChunkedError::SizeLineTooLong`].
    pub size_line_bytes_max: usize,
    /// Largest trailer section, every line and the final CRLF included:
    /// [`ChunkedError::TrailersTooLarge`].
    pub trailer_bytes_max: usize,
    /// Most trailer fields: [`ChunkedError::TrailersTooMany`].
    pub trailers_count_max: usize,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        Self {
            size_line_bytes_max: 4 * 1024,
            trailer_bytes_max: 16 * 1024,
            trailers_count_max: 32,
        }
    }
}

/// Where a stream ended early: the data of [`ChunkedError::Truncated`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncatedAt {
    /// Inside or before a chunk-size line.
    SizeLine,
    /// Inside chunk data, with this many bytes of the chunk still to come.
    Data { remaining: u64 },
    /// Between chunk data and its CRLF.
    DataEnd,
    /// Inside the trailer section, before its final CRLF.
    Trailers,
}

impl fmt::Display for TruncatedAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SizeLine => f.write_str("a chunk size line"),
            Self::Data { remaining } => write!(f, "chunk data, {remaining} bytes short"),
            Self::DataEnd => f.write_str("the crlf after chunk data"),
            Self::Trailers => f.write_str("the trailer section"),
        }
    }
}

/// A malformed or truncated chunked body (400; the connection is closed, as its
/// framing is lost).
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkedError {
    #[error("chunk size line is longer than {max} bytes")]
    SizeLineTooLong { max: usize },
    #[error("chunk size is not a hexadecimal number")]
    SizeInvalid,
    #[error("chunk size does not fit in 64 bits")]
    SizeOverflow,
    #[error("chunk extension is malformed")]
    ExtensionMalformed,
    #[error("line does not end with crlf, or has a cr inside")]
    LineEnding,
    #[error("chunk data is not followed by crlf")]
    DataNotTerminated,
    #[error("trailer section is longer than {max} bytes")]
    TrailersTooLarge { max: usize },
    #[error("more than {max} trailer fields")]
    TrailersTooMany { max: usize },
    #[error("trailer field line is malformed")]
    TrailerMalformed,
    #[error("body ends inside {0}")]
    Truncated(TruncatedAt),
}

impl ChunkedError {
    /// The HTTP status to answer with: always 400.
    pub fn status(&self) -> u16 {
        400
    }
}

/// What one [`ChunkedDecoder::step`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkedStep {
    /// `input[range]` is body data (never empty).
    Data(Range<usize>),
    /// Every byte of `input` was consumed; call again with more.
    NeedMore,
    /// The body is complete. Bytes of `input` past the consumed count belong to
    /// whatever follows the body (a pipelined request) and are not touched.
    Done,
}

/// Decodes a chunked body as it arrives, in any splits, without copying data.
///
/// ```
/// use ringgate::http::{ChunkedDecoder, ChunkedLimits, ChunkedStep};
/// let input = b"5\r\nhello\r\n0\r\n\r\nGET /next";
/// let mut decoder = ChunkedDecoder::new(ChunkedLimits::default());
/// let (mut at, mut body) = (0, Vec::new());
/// loop {
///     let (consumed, step) = decoder.step(&input[at..]).unwrap();
///     if let ChunkedStep::Data(range) = &step {
///         body.extend_from_slice(&input[at..][range.clone()]);
///     }
///     at += consumed;
///     match step {
///         ChunkedStep::Data(_) => continue,
///         ChunkedStep::NeedMore => unreachable!("read more, then step again"),
///         ChunkedStep::Done => break,
///     }
/// }
/// assert_eq!((&body[..], &input[at..]), (&b"hello"[..], &b"GET /next"[..]));
/// ```
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    framer: ChunkFramer,
    trailers: Vec<(String, String)>,
    decoded_bytes: u64,
}

impl ChunkedDecoder {
    pub fn new(limits: ChunkedLimits) -> Self {
        Self {
            framer: ChunkFramer::new(FramerLimits {
                line_bytes_max: limits.size_line_bytes_max,
                trailer_bytes_max: limits.trailer_bytes_max,
                trailers_count_max: limits.trailers_count_max,
            }),
            trailers: Vec::new(),
            decoded_bytes: 0,
        }
    }

    /// Consumes a prefix of `input` and says what it held. Returns (bytes
    /// consumed, step): `Data` ranges index `input`; `NeedMore` comes only with
    /// all of `input` consumed; `Done` never consumes past the body. Chunk
    /// boundaries and extensions are skipped, partial size lines are kept inside
    /// the decoder, so the caller never keeps bytes around. After an error every
    /// call returns the same error.
    pub fn step(&mut self, input: &[u8]) -> Result<(usize, ChunkedStep), ChunkedError> {
        let mut at = 0;
        loop {
            let (consumed, frame) = self.framer.step(&input[at..])?;
            let start = at;
            at += consumed;
            match frame {
                Frame::Header { .. } | Frame::ChunkEnd => {}
                Frame::Trailer { name, value } => self
                    .trailers
                    .push((name.to_ascii_lowercase(), value.to_string())),
                Frame::Data(range) => {
                    self.decoded_bytes += range.len() as u64;
                    return Ok((
                        at,
                        ChunkedStep::Data(start + range.start..start + range.end),
                    ));
                }
                Frame::NeedMore => return Ok((at, ChunkedStep::NeedMore)),
                Frame::End => return Ok((at, ChunkedStep::Done)),
            }
        }
    }

    /// Whether the whole body, trailers included, has been decoded.
    pub fn is_done(&self) -> bool {
        self.framer.is_done()
    }

    /// For the caller to call when the connection ends: `Err(Truncated)` unless
    /// the body was complete.
    pub fn finish(&self) -> Result<(), ChunkedError> {
        self.framer.finish()
    }

    /// The trailer fields received so far, as (lowercase name, value).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Body bytes returned so far, for the caller's size limits.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded_bytes
    }
}

/// Limits of the shared framer; each decoder maps its own limits onto these.
#[derive(Clone, Debug)]
pub(crate) struct FramerLimits {
    pub line_bytes_max: usize,
    pub trailer_bytes_max: usize,
    pub trailers_count_max: usize,
}

/// One element of the chunked grammar, as [`ChunkFramer::step`] meets it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A chunk-size line: the size and the raw, already validated extensions
    /// (`""` or starting with BWS `;`). A size of 0 is the last chunk.
    Header { size: u64, extensions: &'a [u8] },
    /// Chunk data: `input[range]`, never empty.
    Data(Range<usize>),
    /// The CRLF after a chunk's data; for the last chunk, right after its header.
    ChunkEnd,
    /// A trailer field line, name as sent, value without surrounding whitespace.
    Trailer { name: &'a str, value: &'a str },
    /// The final CRLF: the body is complete.
    End,
    /// All input consumed, nothing complete yet.
    NeedMore,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    SizeLine,
    Data { remaining: u64 },
    DataCr,
    DataLf,
    LastChunkEnd,
    Trailers,
    End,
    Failed(ChunkedError),
}

/// The chunked grammar as a resumable state machine. Each `step` either
/// consumes at least one byte, or reports an event that moves the state on, or
/// returns `NeedMore` with all input consumed, `End`, or an error: it cannot
/// loop forever. Line elements (size lines, trailer lines) are gathered in a
/// buffer bounded by the limits; data is never copied.
#[derive(Clone, Debug)]
pub(crate) struct ChunkFramer {
    limits: FramerLimits,
    state: State,
    /// The line being gathered; holds a complete line (`line_complete`) until
    /// the next line starts, so frames can borrow from it.
    line: Vec<u8>,
    line_complete: bool,
    /// Bytes of the complete trailer lines so far.
    trailer_bytes: usize,
    trailers_count: usize,
}

impl ChunkFramer {
    pub(crate) fn new(limits: FramerLimits) -> Self {
        Self {
            limits,
            state: State::SizeLine,
            line: Vec::with_capacity(128),
            line_complete: false,
            trailer_bytes: 0,
            trailers_count: 0,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::End
    }

    /// True at the start of a trailer line, no byte of it received: the stream
    /// is complete but for the final CRLF (or more trailer lines).
    pub(crate) fn at_trailer_line_start(&self) -> bool {
        self.state == State::Trailers && (self.line_complete || self.line.is_empty())
    }

    pub(crate) fn finish(&self) -> Result<(), ChunkedError> {
        let at = match &self.state {
            State::End => return Ok(()),
            State::Failed(error) => return Err(error.clone()),
            State::SizeLine => TruncatedAt::SizeLine,
            State::Data { remaining } => TruncatedAt::Data {
                remaining: *remaining,
            },
            State::DataCr | State::DataLf => TruncatedAt::DataEnd,
            State::LastChunkEnd | State::Trailers => TruncatedAt::Trailers,
        };
        Err(ChunkedError::Truncated(at))
    }

    pub(crate) fn step(&mut self, input: &[u8]) -> Result<(usize, Frame<'_>), ChunkedError> {
        if let State::Failed(error) = &self.state {
            return Err(error.clone());
        }
        match self.advance(input) {
            Ok((consumed, kind)) => Ok((consumed, self.frame(kind))),
            Err(error) => {
                self.state = State::Failed(error.clone());
                Err(error)
            }
        }
    }

    /// Runs the state machine; returns what was found without borrowing `self`,
    /// so that errors can be recorded before a frame borrows the line buffer.
    fn advance(&mut self, input: &[u8]) -> Result<(usize, FrameKind), ChunkedError> {
        let mut at = 0;
        loop {
            match self.state {
                State::SizeLine => {
                    let max = self.limits.line_bytes_max;
                    let (taken, complete) = self
                        .take_line(&input[at..], max)
                        .ok_or(ChunkedError::SizeLineTooLong { max })?;
                    at += taken;
                    if !complete {
                        return Ok((at, FrameKind::NeedMore));
                    }
                    let len = line_content(&self.line)?;
                    let (size, extensions) = parse_size_line(&self.line, len)?;
                    self.state = match size {
                        0 => State::LastChunkEnd,
                        remaining => State::Data { remaining },
                    };
                    return Ok((at, FrameKind::Header { size, extensions }));
                }
                State::Data { remaining } => {
                    if at == input.len() {
                        return Ok((at, FrameKind::NeedMore));
                    }
                    let available = (input.len() - at) as u64;
                    let n = remaining.min(available);
                    self.state = match remaining - n {
                        0 => State::DataCr,
                        remaining => State::Data { remaining },
                    };
                    // n ≤ available, which came from a usize.
                    let range = at..at + n as usize;
                    return Ok((range.end, FrameKind::Data(range)));
                }
                State::DataCr | State::DataLf => {
                    let Some(&b) = input.get(at) else {
                        return Ok((at, FrameKind::NeedMore));
                    };
                    at += 1;
                    match (self.state == State::DataCr, b) {
                        (true, b'\r') => self.state = State::DataLf,
                        (false, b'\n') => {
                            self.state = State::SizeLine;
                            return Ok((at, FrameKind::ChunkEnd));
                        }
                        _ => return Err(ChunkedError::DataNotTerminated),
                    }
                }
                State::LastChunkEnd => {
                    self.state = State::Trailers;
                    return Ok((at, FrameKind::ChunkEnd));
                }
                State::Trailers => {
                    let max = self.limits.trailer_bytes_max;
                    let budget = max.saturating_sub(self.trailer_bytes);
                    let (taken, complete) = self
                        .take_line(&input[at..], budget)
                        .ok_or(ChunkedError::TrailersTooLarge { max })?;
                    at += taken;
                    if !complete {
                        return Ok((at, FrameKind::NeedMore));
                    }
                    self.trailer_bytes += self.line.len();
                    let len = line_content(&self.line)?;
                    if len == 0 {
                        self.state = State::End;
                        return Ok((at, FrameKind::End));
                    }
                    self.trailers_count += 1;
                    if self.trailers_count > self.limits.trailers_count_max {
                        return Err(ChunkedError::TrailersTooMany {
                            max: self.limits.trailers_count_max,
                        });
                    }
                    let (name, value) =
                        parse_field_line(&self.line, len).ok_or(ChunkedError::TrailerMalformed)?;
                    return Ok((at, FrameKind::Trailer { name, value }));
                }
                State::End => return Ok((at, FrameKind::End)),
                State::Failed(ref error) => return Err(error.clone()),
            }
        }
    }

    fn frame(&self, kind: FrameKind) -> Frame<'_> {
        // Ranges in a FrameKind index the line, which holds the complete line.
        let text = |range: Range<usize>| std::str::from_utf8(&self.line[range]).unwrap_or("");
        match kind {
            FrameKind::Header { size, extensions } => Frame::Header {
                size,
                extensions: &self.line[extensions],
            },
            FrameKind::Data(range) => Frame::Data(range),
            FrameKind::ChunkEnd => Frame::ChunkEnd,
            FrameKind::Trailer { name, value } => Frame::Trailer {
                name: text(name),
                value: text(value),
            },
            FrameKind::End => Frame::End,
            FrameKind::NeedMore => Frame::NeedMore,
        }
    }

    /// Moves the bytes of the current line from `input` into `self.line`, up to
    /// and including its LF. Returns (bytes taken, line complete), or `None` if
    /// the line would be longer than `max` bytes.
    fn take_line(&mut self, input: &[u8], max: usize) -> Option<(usize, bool)> {
        if self.line_complete {
            self.line.clear();
            self.line_complete = false;
        }
        let (taken, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(lf) => (lf + 1, true),
            None => (input.len(), false),
        };
        if self.line.len() + taken > max {
            return None;
        }
        self.line.extend_from_slice(&input[..taken]);
        self.line_complete = complete;
        Some((taken, complete))
    }
}

/// A frame whose line-borrowed parts are ranges into the line buffer.
enum FrameKind {
    Header {
        size: u64,
        extensions: Range<usize>,
    },
    Data(Range<usize>),
    ChunkEnd,
    Trailer {
        name: Range<usize>,
        value: Range<usize>,
    },
    End,
    NeedMore,
}

/// A complete line without its CRLF; a CR anywhere else, or an LF without CR,
/// is an error. Returns the content's length (it starts at 0).
fn line_content(line: &[u8]) -> Result<usize, ChunkedError> {
    match line {
        [content @ .., b'\r', b'\n'] if !content.contains(&b'\r') => Ok(content.len()),
        _ => Err(ChunkedError::LineEnding),
    }
}

/// Parses `chunk-size [ chunk-ext ]` in `line[..len]`: the size, and the range of
/// the validated extensions.
fn parse_size_line(line: &[u8], len: usize) -> Result<(u64, Range<usize>), ChunkedError> {
    let content = &line[..len];
    let digits = content.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkedError::SizeInvalid);
    }
    let size = content[..digits].iter().try_fold(0u64, |size, &b| {
        let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
        size.checked_mul(16)?.checked_add(digit)
    });
    let size = size.ok_or(ChunkedError::SizeOverflow)?;
    let extensions = &content[digits..];
    if !extensions.is_empty() && skip_bws(extensions).first() != Some(&b';') {
        return Err(ChunkedError::SizeInvalid);
    }
    for_each_extension(extensions, |_, _| Ok::<(), ChunkedError>(()))?;
    Ok((size, digits..len))
}

/// Calls `f(name, value)` for each extension of `chunk-ext` (see the grammar at
/// the top), after checking its syntax. `value` is raw: a quoted-string keeps
/// its quotes and escapes.
pub(crate) fn for_each_extension<'a, E: From<ChunkedError>>(
    mut rest: &'a [u8],
    mut f: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), E>,
) -> Result<(), E> {
    let malformed = || E::from(ChunkedError::ExtensionMalformed);
    while !rest.is_empty() {
        // BWS ";" BWS name
        rest = match skip_bws(rest) {
            [b';', after @ ..] => skip_bws(after),
            _ => return Err(malformed()),
        };
        let name_len = rest.iter().take_while(|&&b| is_tchar(b)).count();
        if name_len == 0 {
            return Err(malformed());
        }
        let name = &rest[..name_len];
        rest = &rest[name_len..];
        // [ BWS "=" BWS ( token / quoted-string ) ]
        let value = match skip_bws(rest) {
            [b'=', after @ ..] => {
                let value = skip_bws(after);
                let len = match value.first() {
                    Some(b'"') => quoted_string_len(value).ok_or_else(malformed)?,
                    _ => value.iter().take_while(|&&b| is_tchar(b)).count(),
                };
                if len == 0 {
                    return Err(malformed());
                }
                rest = &value[len..];
                Some(&value[..len])
            }
            _ => None,
        };
        f(name, value)?;
    }
    Ok(())
}

/// The length of the quoted-string at the start of `bytes` (RFC 9110 §5.6.4).
fn quoted_string_len(bytes: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        match *bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match *bytes.get(i + 1)? {
                b'\t' | b' '..=b'~' | 0x80..=0xff => i += 2,
                _ => return None,
            },
            b'\t' | b' ' | b'!' | b'#'..=b'[' | b']'..=b'~' | 0x80..=0xff => i += 1,
            _ => return None,
        }
    }
}

fn skip_bws(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

/// tchar (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `token ":" OWS value OWS` with a printable-ASCII value: the ranges of name
/// and value in `line`.
fn parse_field_line(line: &[u8], len: usize) -> Option<(Range<usize>, Range<usize>)> {
    let content = &line[..len];
    let colon = content.iter().position(|&b| b == b':')?;
    if colon == 0 || !content[..colon].iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let mut start = colon + 1;
    let mut end = len;
    while start < end && matches!(content[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(content[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let printable = content[start..end]
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    printable.then_some((0..colon, start..end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::http::fuzz::drive_chunked as decode;

    /// The expected body and trailers, or error.
    type Expected<'a> = Result<(&'a [u8], &'a [(&'a str, &'a str)]), ChunkedError>;

    fn check(input: &[u8], expected: Expected<'_>) {
        check_with(input, &ChunkedLimits::default(), expected)
    }

    fn check_with(input: &[u8], limits: &ChunkedLimits, expected: Expected<'_>) {
        let expected = expected.map(|(body, trailers)| {
            let trailers = trailers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            (body.to_vec(), trailers, input.len())
        });
        assert_eq!(decode(input, limits, &[]), expected, "whole {input:?}");
        assert_eq!(
            decode(input, limits, &vec![1; input.len()]),
            expected,
            "bytewise {input:?}"
        );
    }

    #[test]
    fn bodies() {
        check(b"0\r\n\r\n", Ok((b"", &[])));
        check(b"5\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[])));
        check(
            b"5\r\nhe\r\nl\r\n1\r\no\r\n0\r\n\r\n",
            Ok((b"he\r\nlo", &[])),
        );
        check(
            b"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
            Ok((b"01234567890123456789", &[])),
        );
        check(b"0005\r\nhello\r\n000\r\n\r\n", Ok((b"hello", &[])));
        check(
            b"5;name=value;flag\r\nhello\r\n0;q=\"a \\\"b\\\" ;c\"\r\n\r\n",
            Ok((b"hello", &[])),
        );
        check(b"5 ;a = b\t;\tc\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[])));
        check(
            b"5\r\nhello\r\n0\r\nX-Checksum-Crc32:  AAAAAA== \r\nempty:\r\n\r\n",
            Ok((b"hello", &[("x-checksum-crc32", "AAAAAA=="), ("empty", "")])),
        );
    }

    #[test]
    fn malformed_bodies() {
        use ChunkedError::*;
        for input in [
            &b"g\r\n"[..],
            b"\r\n",
            b" 5\r\n",
            b"5 \r\n",
            b"5x\r\n",
            b"-5\r\n",
            b"0x5\r\n",
            b"+5\r\n",
        ] {
            check(input, Err(SizeInvalid));
        }
        check(b"10000000000000000\r\n", Err(SizeOverflow));
        for input in [
            &b"5;\r\n"[..],
            b"5;=x\r\n",
            b"5;a=\r\n",
            b"5;a=\"x\r\n",
            b"5;a=b c\r\n",
            b"5;a b\r\n",
            b"5;a=b \r\n",
            b"5;a=\"\x01\"\r\n",
        ] {
            check(input, Err(ExtensionMalformed));
        }
        for input in [
            &b"5\nhello\r\n"[..],
            b"5\r\r\n",
            b"5\rx\r\n",
            b"5\r\nhello\r\n0\r\n\n",
            b"5\r\nhello\r\n0\r\na: b\n\r\n",
        ] {
            check(input, Err(LineEnding));
        }
        for input in [
            &b"5\r\nhelloXY0\r\n\r\n"[..],
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhello\rX",
        ] {
            check(input, Err(DataNotTerminated));
        }
        for input in [
            &b"0\r\nbad\r\n\r\n"[..],
            b"0\r\na: b\r\n c\r\n\r\n",
            b"0\r\n a: b\r\n\r\n",
            b"0\r\na : b\r\n\r\n",
            b"0\r\n: b\r\n\r\n",
            b"0\r\na: \x01\r\n\r\n",
            b"0\r\na: \xc3\xa9\r\n\r\n",
        ] {
            check(input, Err(TrailerMalformed));
        }
    }

    #[test]
    fn truncated_bodies() {
        use TruncatedAt::*;
        let cases: &[(&[u8], TruncatedAt)] = &[
            (b"", SizeLine),
            (b"5", SizeLine),
            (b"5\r", SizeLine),
            (b"5\r\nhel", Data { remaining: 2 }),
            (b"5\r\nhello", DataEnd),
            (b"5\r\nhello\r", DataEnd),
            (b"5\r\nhello\r\n", SizeLine),
            (b"0\r\n", Trailers),
            (b"0\r\na: b\r\n", Trailers),
            (b"0\r\n\r", Trailers),
            (
                b"ffffffffffffffff\r\n",
                Data {
                    remaining: u64::MAX,
                },
            ),
        ];
        for (input, at) in cases {
            check(input, Err(ChunkedError::Truncated(*at)));
        }
    }

    #[test]
    fn limits() {
        use ChunkedError::*;
        let limits = ChunkedLimits {
            size_line_bytes_max: 8,
            trailer_bytes_max: 16,
            trailers_count_max: 2,
        };
        check_with(
            b"5;a=bc\r\nhello\r\n0\r\n\r\n",
            &limits,
            Ok((b"hello", &[])),
        );
        check_with(
            b"5;a=bcd\r\nhello\r\n0\r\n\r\n",
            &limits,
            Err(SizeLineTooLong { max: 8 }),
        );
        check_with(b"5;a=bcdefgh", &limits, Err(SizeLineTooLong { max: 8 }));
        // 7 + 7 + 2 = 16 bytes of trailer section: at the limit.
        check_with(
            b"0\r\na:123\r\nb:456\r\n\r\n",
            &limits,
            Ok((b"", &[("a", "123"), ("b", "456")])),
        );
        check_with(
            b"0\r\na:1234\r\nb:456\r\n\r\n",
            &limits,
            Err(TrailersTooLarge { max: 16 }),
        );
        check_with(
            b"0\r\na:\r\nb:\r\nc:\r\n\r\n",
            &limits,
            Err(TrailersTooMany { max: 2 }),
        );
    }

    #[test]
    fn done_stops_at_the_body_end_and_errors_stick() {
        let input = b"3\r\nabc\r\n0\r\n\r\nPUT / HTTP/1.1\r\n";
        assert_eq!(
            decode(input, &ChunkedLimits::default(), &[]),
            Ok((b"abc".to_vec(), vec![], 13))
        );
        let mut decoder = ChunkedDecoder::new(ChunkedLimits::default());
        assert_eq!(decoder.step(b"zz\r\n"), Err(ChunkedError::SizeInvalid));
        assert_eq!(decoder.step(b"5\r\nhello"), Err(ChunkedError::SizeInvalid));
        assert_eq!(decoder.finish(), Err(ChunkedError::SizeInvalid));
    }

    /// Encodes `body` in chunks of the given sizes (cycled), with random-looking
    /// extensions, upper- or lowercase hex, and `trailers`.
    pub(crate) fn encode(
        body: &[u8],
        sizes: &[usize],
        upper: bool,
        trailers: &[(String, String)],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        for (i, &size) in sizes.iter().cycle().enumerate() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
            let size = if upper {
                format!("{:X}", chunk.len())
            } else {
                format!("{:x}", chunk.len())
            };
            let extension = ["", ";a=b", " ; q=\"x;y\"", ";flag"][i % 4];
            out.extend_from_slice(format!("{size}{extension}\r\n").as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
            rest = tail;
        }
        out.extend_from_slice(b"0\r\n");
        for (name, value) in trailers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn trailer() -> impl Strategy<Value = (String, String)> {
        ("[a-z][a-z0-9-]{0,15}", "[!-~]([ -~]{0,20}[!-~])?")
    }

    proptest! {
        #[test]
        fn round_trips_in_any_split(body in proptest::collection::vec(any::<u8>(), 0..2000),
                                    sizes in proptest::collection::vec(1usize..300, 1..8),
                                    upper: bool,
                                    trailers in proptest::collection::vec(trailer(), 0..4),
                                    pieces in proptest::collection::vec(0usize..64, 0..64)) {
            let mut input = encode(&body, &sizes, upper, &trailers);
            let encoded = input.len();
            input.extend_from_slice(b"GET / HTTP/1.1\r\n");
            let expected = Ok((body, trailers, encoded));
            let limits = ChunkedLimits::default();
            prop_assert_eq!(&decode(&input, &limits, &pieces), &expected);
            prop_assert_eq!(&decode(&input, &limits, &vec![1; input.len()]), &expected);
        }

        #[test]
        fn random_bytes_terminate(input in proptest::collection::vec(any::<u8>(), 0..512),
                                  pieces in proptest::collection::vec(0usize..16, 0..64)) {
            // `decode` asserts the step contract; each call consumes or ends, so
            // the number of calls is bounded by the input length.
            let _ = decode(&input, &ChunkedLimits::default(), &pieces);
            let framed = [&b"10;x=y\r\n"[..], &input].concat();
            let _ = decode(&framed, &ChunkedLimits::default(), &pieces);
        }
    }
}
