//! Entry points for fuzz targets, one per parser, and the drivers that feed a
//! stream to a decoder in arbitrary pieces, shared with the unit tests.
//!
//! Each `fuzz_*` function takes arbitrary bytes and panics only when an
//! invariant breaks: a parser panicking, a step breaking its contract, or two
//! splits of the same bytes decoding differently. A cargo-fuzz target is one
//! line: `fuzz_target!(|data: &[u8]| ringgate::http::fuzz::fuzz_chunked(data));`.

use super::aws_chunked::{
    AwsChunkedDecoder, AwsChunkedError, AwsChunkedLimits, AwsChunkedMode, AwsChunkedStep,
};
use super::chunked::{ChunkedDecoder, ChunkedError, ChunkedLimits, ChunkedStep};
use super::framing::BodyFraming;
use super::head::{parse_request_head, HeadLimits};
use super::response::write_response_head;
use crate::target::{
    decode_bytes, decode_path, parse_query, query_pairs, query_pairs_raw, Plus, Target,
};

/// What a chunked body decodes to: body, trailers, bytes consumed up to `Done`.
pub(crate) type Chunked = (Vec<u8>, Vec<(String, String)>, usize);

/// Decodes `input` arriving in pieces of the given sizes (then all the rest at
/// once), as a connection loop would: the buffer grows,
/// the decoder is stepped over its unconsumed part, and the end of the input
/// calls `finish`. Asserts the step contract on every call.
pub(crate) fn drive_chunked(
    input: &[u8],
    limits: &ChunkedLimits,
    pieces: &[usize],
) -> Result<Chunked, ChunkedError> {
    let mut decoder = ChunkedDecoder::new(limits.clone());
    let mut arrivals = Arrivals::new(input.len(), pieces);
    let (mut at, mut body) = (0, Vec::new());
    for _ in 0..steps_max(input, pieces) {
        let window = &input[at..arrivals.available];
        let (consumed, step) = decoder.step(window)?;
        assert!(consumed <= window.len(), "consumed past the input");
        at += consumed;
        match step {
            ChunkedStep::Data(range) => {
                assert!(!range.is_empty() && range.end <= consumed, "bad data range");
                body.extend_from_slice(&window[range]);
            }
            ChunkedStep::NeedMore => {
                assert_eq!(consumed, window.len(), "NeedMore with input left");
                if !arrivals.next() {
                    decoder.finish()?;
                    panic!("finish accepted a body without Done");
                }
            }
            ChunkedStep::Done => {
                assert!(decoder.is_done() && decoder.finish().is_ok());
                assert_eq!(decoder.decoded_bytes(), body.len() as u64);
                return Ok((body, decoder.trailers().to_vec(), at));
            }
        }
    }
    panic!("the decoder spins: more steps than bytes and arrivals allow");
}

/// More steps than a decoder can take on `input`: each step consumes a byte
/// or moves the state on, and only the last chunk's end consumes nothing.
fn steps_max(input: &[u8], pieces: &[usize]) -> usize {
    2 * input.len() + pieces.len() + 8
}

/// An aws-chunked step with its data copied out, adjacent `Data` merged: what
/// must not depend on how the stream was split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AwsEvent {
    Start(u64, Option<[u8; 32]>),
    Data(Vec<u8>),
    End,
    Trailer(String, String),
    TrailerSignature([u8; 32]),
    Done,
}

/// Like [`drive_chunked`] for aws-chunked; a body that goes on after `Done`
/// must be refused, and `finish` ends a stream without `Done`.
pub(crate) fn drive_aws(
    mode: AwsChunkedMode,
    limits: &AwsChunkedLimits,
    input: &[u8],
    pieces: &[usize],
) -> Result<Vec<AwsEvent>, AwsChunkedError> {
    let mut decoder = AwsChunkedDecoder::new(mode, limits.clone());
    let mut arrivals = Arrivals::new(input.len(), pieces);
    let (mut at, mut events) = (0, Vec::new());
    for _ in 0..steps_max(input, pieces) {
        let window = &input[at..arrivals.available];
        let (consumed, step) = decoder.step(window)?;
        assert!(consumed <= window.len(), "consumed past the input");
        at += consumed;
        let event = match step {
            AwsChunkedStep::ChunkStart { size, signature } => AwsEvent::Start(size, signature),
            AwsChunkedStep::Data(range) => {
                assert!(!range.is_empty() && range.end <= consumed, "bad data range");
                if let Some(AwsEvent::Data(data)) = events.last_mut() {
                    data.extend_from_slice(&window[range]);
                    continue;
                }
                AwsEvent::Data(window[range].to_vec())
            }
            AwsChunkedStep::ChunkEnd => AwsEvent::End,
            AwsChunkedStep::Trailer { name, value } => AwsEvent::Trailer(name, value),
            AwsChunkedStep::TrailerSignature(signature) => AwsEvent::TrailerSignature(signature),
            AwsChunkedStep::NeedMore => {
                assert_eq!(consumed, window.len(), "NeedMore with input left");
                if !arrivals.next() {
                    decoder.finish()?;
                    return Ok(events);
                }
                continue;
            }
            AwsChunkedStep::Done => {
                assert!(decoder.is_done() && decoder.finish().is_ok());
                if at < input.len() {
                    decoder.step(&input[at..])?;
                    panic!("bytes after Done accepted");
                }
                events.push(AwsEvent::Done);
                return Ok(events);
            }
        };
        events.push(event);
    }
    panic!("the decoder spins: more steps than bytes and arrivals allow");
}

/// How much of the input has arrived: the given piece sizes, then the rest (a
/// zero-size piece still delivers a byte, so the input always grows).
struct Arrivals<'a> {
    len: usize,
    available: usize,
    pieces: std::slice::Iter<'a, usize>,
}

impl<'a> Arrivals<'a> {
    fn new(len: usize, pieces: &'a [usize]) -> Self {
        Self {
            len,
            available: 0,
            pieces: pieces.iter(),
        }
    }

    /// Delivers the next piece; false once everything has arrived.
    fn next(&mut self) -> bool {
        if self.available == self.len {
            return false;
        }
        let piece = self.pieces.next().copied().unwrap_or(self.len);
        self.available = (self.available + piece.max(1)).min(self.len);
        true
    }
}

/// A few ways to cut `data` into pieces, derived from the data itself: whole,
/// byte by byte, in half, and at sizes taken from its first bytes.
fn splits(data: &[u8]) -> [Vec<usize>; 4] {
    let sizes = data.iter().take(16).map(|&b| usize::from(b % 32)).collect();
    [vec![], vec![1; data.len()], vec![data.len() / 2], sizes]
}

/// The request head parser over every prefix (up to 512 of them) of `data`,
/// with default and tiny limits: a complete head parses the same from any
/// longer prefix, no shorter prefix is anything but incomplete, and the
/// helpers, framing and target parsing run on whatever parsed.
pub fn fuzz_request_head(data: &[u8]) {
    let tiny = HeadLimits {
        request_line_bytes_max: 64,
        head_bytes_max: 256,
        headers_count_max: 4,
    };
    for limits in [HeadLimits::default(), tiny] {
        let whole = parse_request_head(data, &limits);
        let complete_at = match &whole {
            Ok(Some((head, n))) => {
                assert!(*n <= data.len() && *n <= limits.head_bytes_max);
                assert_eq!(parse_request_head(&data[..*n], &limits), whole);
                let _ = (
                    head.keep_alive(),
                    head.expects_continue(),
                    BodyFraming::from_head(head),
                );
                let _ = head.headers().count() + head.headers_all("host").count();
                fuzz_target(head.target().as_bytes());
                *n
            }
            Ok(None) => data.len(),
            Err(_) => continue,
        };
        let stride = (complete_at / 512).max(1);
        for end in (0..complete_at).step_by(stride) {
            assert_eq!(
                parse_request_head(&data[..end], &limits),
                Ok(None),
                "prefix {end}"
            );
        }
    }
}

/// The chunked decoder over several splits of `data`, with default and tiny
/// limits: every split decodes to the same body, trailers and error.
pub fn fuzz_chunked(data: &[u8]) {
    let tiny = ChunkedLimits {
        size_line_bytes_max: 16,
        trailer_bytes_max: 32,
        trailers_count_max: 2,
    };
    for limits in [ChunkedLimits::default(), tiny] {
        let [whole, rest @ ..] = splits(data).map(|pieces| drive_chunked(data, &limits, &pieces));
        for other in rest {
            assert_eq!(whole, other);
        }
    }
}

/// The aws-chunked decoder over several splits of `data[1..]`, in the mode
/// `data[0]` picks, with default and tiny limits: every split decodes to the
/// same events and error.
pub fn fuzz_aws_chunked(data: &[u8]) {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let modes = [
        AwsChunkedMode::Signed,
        AwsChunkedMode::SignedWithTrailer,
        AwsChunkedMode::UnsignedWithTrailer,
    ];
    let mode = modes[usize::from(selector) % modes.len()];
    let tiny = AwsChunkedLimits {
        chunk_header_bytes_max: 96,
        trailer_bytes_max: 128,
        trailers_count_max: 2,
    };
    for limits in [AwsChunkedLimits::default(), tiny] {
        let [whole, rest @ ..] =
            splits(stream).map(|pieces| drive_aws(mode, &limits, stream, &pieces));
        for other in rest {
            assert_eq!(whole, other);
        }
    }
}

/// The one request-target decoder (`crate::target`) over `data` (if UTF-8):
/// the split keeps raw parts of the input, and wherever the strict decoding
/// succeeds the lenient one that SigV4 and the gateway use agrees with it.
/// Also the response writer with `data` as a header value, which must either
/// refuse it or write a head with exactly one blank line.
pub fn fuzz_target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(target) = Target::parse(text) {
        assert!(text.contains(target.path_raw) || target.path_raw == "/");
        if let Some(query) = target.query_raw {
            assert!(text.ends_with(query));
        }
        let _ = (target.path(), target.query());
    }
    if let Ok(path) = decode_path(text) {
        assert_eq!(
            decode_bytes(text.as_bytes(), Plus::Literal),
            path.as_bytes()
        );
    }
    let lenient = query_pairs(text);
    assert_eq!(lenient.len(), query_pairs_raw(text).count());
    if let Ok(strict) = parse_query(text) {
        assert_eq!(strict, lenient, "strict and lenient query decoding differ");
    }
    let mut out = Vec::new();
    if write_response_head(&mut out, 200, [("x-amz-meta-fuzz", text)]).is_ok() {
        let blank_lines = out.windows(4).filter(|w| w == b"\r\n\r\n").count();
        assert_eq!(blank_lines, 1, "response head split by {text:?}");
    } else {
        assert!(out.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Valid or nearly valid inputs, where the interesting bugs live: a fuzzer
    /// starts from a corpus like this, and the property test below mutates it.
    fn seeds() -> Vec<Vec<u8>> {
        let sig = "ab".repeat(32);
        vec![
            b"PUT /b/k?partNumber=1&uploadId=x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n".to_vec(),
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5, 5\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\nHost: h\n\n".to_vec(),
            b"\r\n\r\nGET http://h/x%zz?a+b=%2B HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
            b"5;a=b\r\nhello\r\n0\r\nx: y\r\n\r\n".to_vec(),
            b"5\r\nhel".to_vec(),
            format!("\x00a;chunk-signature={sig}\r\n0123456789\r\n0;chunk-signature={sig}\r\n\r\n").into_bytes(),
            format!("\x01\x30;chunk-signature={sig}\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:{sig}\r\n\r\n").into_bytes(),
            b"\x025\r\nhello\r\n0\r\n".to_vec(),
            b"/b/k?a=%2B+b".to_vec(),
            b"x\r\nSet-Cookie: y".to_vec(),
        ]
    }

    fn fuzz_all(data: &[u8]) {
        fuzz_request_head(data);
        fuzz_chunked(data);
        fuzz_aws_chunked(data);
        fuzz_target(data);
    }

    #[test]
    fn seeds_run_clean() {
        for seed in seeds() {
            fuzz_all(&seed);
        }
    }

    proptest! {
        /// A small fuzzing campaign on every test run: seeds with a few bytes
        /// replaced, inserted or removed, and plain random bytes.
        #[test]
        fn mutated_seeds_keep_the_invariants(seed in 0..11usize,
                                             edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 0..6),
                                             random in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut data = seeds()[seed].clone();
            for (at, byte, kind) in edits {
                let at = at % (data.len() + 1);
                match kind {
                    0 if at < data.len() => data[at] = byte,
                    1 => data.insert(at, byte),
                    _ if at < data.len() => {
                        data.remove(at);
                    }
                    _ => {}
                }
            }
            fuzz_all(&data);
            fuzz_all(&random);
        }
    }
}
