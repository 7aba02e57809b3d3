//! The `aws-chunked` content encoding of S3 streaming uploads, decoded as it
//! arrives, with the chunk and trailer signatures handed to the caller for
//! SigV4 verification. Signatures are parsed here and checked in `sigv4`.
//!
//! The decoder sees the request body after HTTP framing is removed: the bytes of
//! a Content-Length body, or the data of a [`super::chunked::ChunkedDecoder`]
//! (the SDKs for JavaScript and Python send `Transfer-Encoding: chunked` around
//! it), in any splits.
//!
//! # Grammar
//!
//! The AWS S3 API reference ("Signature Calculations for the Authorization
//! Header: Transferring Payload in Multiple Chunks", and its trailing-headers
//! companion) defines a signed chunk as
//! `string(IntHexBase(chunk-size)) + ";chunk-signature=" + signature + \r\n +
//! chunk-data + \r\n`, a final chunk of 0 bytes, then, with trailers, the
//! trailer lines and `x-amz-trailer-signature`. Read against what the SDK
//! encoders emit (aws-smithy-runtime `AwsChunkedBody`, botocore
//! `AwsChunkedWrapper`, `@smithy/util-stream` `getAwsChunkedEncodingStream`),
//! it is RFC 9112's chunked grammar with one extension and one trailer field:
//!
//! ```text
//! aws-chunked     = *chunk last-chunk trailer-part CRLF
//! chunk           = chunk-size [ ";chunk-signature=" 64HEXDIG ] CRLF chunk-data CRLF
//! last-chunk      = 1*"0"      [ ";chunk-signature=" 64HEXDIG ] CRLF
//! trailer-part    = *( field-name ":" OWS field-value OWS CRLF )
//!                   [ "x-amz-trailer-signature:" 64HEXDIG CRLF ]
//! ```
//!
//! - Signed modes need `chunk-signature` on every chunk, the last included, and
//!   no other extension. Unsigned mode refuses signatures (there is no seed to
//!   check them against) and ignores other extensions.
//! - The trailers follow the last chunk's line directly: aws-smithy-runtime drops
//!   the zero-length chunk's second CRLF "as the checksum is appended in-between
//!   two CRLFs", botocore writes `0\r\n<name>:<b64>\r\n\r\n`. A blank line between
//!   the last chunk and trailers ends the body, so trailers after it are
//!   [`AwsChunkedError::TrailingBytes`].
//! - The final CRLF may be missing at the end of the stream: the SDK for
//!   JavaScript v3 ends with `0\r\n` when it sends no checksum. [`AwsChunkedDecoder::finish`]
//!   accepts a stream that ends at the start of a trailer line.
//! - Hex digits may be upper case (older aws-smithy-runtime formats sizes with `{:X}`).
//!
//! # Trailer signature
//!
//! `x-amz-trailer-signature` signs, after the last chunk's signature, the
//! SHA-256 of the trailers in their canonical form: `lowercase-name ":" value
//! "\n"` per field, without the signature field, in the order sent (the SDKs
//! send them sorted by name). [`AwsChunkedDecoder::trailers_canonical`] keeps
//! exactly those bytes; the tests check them against the AWS documentation's
//! example signature.

use std::ops::Range;

use super::chunked::{for_each_extension, ChunkFramer, ChunkedError, Frame, FramerLimits};

/// Limits of an [`AwsChunkedDecoder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsChunkedLimits {
    /// Longest chunk header line (size, signature, CRLF): a signed header is
    /// about 90 bytes. [`ChunkedError::SizeLineTooLong`].
    pub chunk_header_bytes_max: usize,
    /// Largest trailer part, signature line and final CRLF included:
    /// [`ChunkedError::TrailersTooLarge`].
    pub trailer_bytes_max: usize,
    /// Most trailer lines, signature included: [`ChunkedError::TrailersTooMany`].
    pub trailers_count_max: usize,
}

impl Default for AwsChunkedLimits {
    fn default() -> Self {
        Self {
            chunk_header_bytes_max: 4 * 1024,
            trailer_bytes_max: 16 * 1024,
            trailers_count_max: 16,
        }
    }
}

/// Which aws-chunked variant the request declared in `x-amz-content-sha256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed chunks, no trailers.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, then trailers
    /// closed by `x-amz-trailer-signature` (required if any trailer is sent).
    SignedWithTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: plain chunks, optional unsigned trailers.
    UnsignedWithTrailer,
}

impl AwsChunkedMode {
    /// The mode an `x-amz-content-sha256` value names; `None` for anything else,
    /// including the SigV4a `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD[-TRAILER]`
    /// modes, which ringgate does not implement.
    pub fn from_content_sha256(value: &[u8]) -> Option<Self> {
        match value {
            b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Some(Self::Signed),
            b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Some(Self::SignedWithTrailer),
            b"STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Some(Self::UnsignedWithTrailer),
            _ => None,
        }
    }

    pub fn is_signed(self) -> bool {
        self != Self::UnsignedWithTrailer
    }

    pub fn has_trailer(self) -> bool {
        self != Self::Signed
    }
}

/// A malformed aws-chunked body (400; S3 calls most of these `IncompleteBody`
/// or `InvalidRequest`, which the `s3` module decides).
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum AwsChunkedError {
    /// The chunked grammar itself, limits and truncation included.
    #[error(transparent)]
    Framing(#[from] ChunkedError),
    #[error("chunk without chunk-signature in a signed upload")]
    SignatureMissing,
    #[error("signature in an unsigned upload")]
    SignatureUnexpected,
    #[error("signature is not 64 hexadecimal digits")]
    SignatureMalformed,
    #[error("chunk extension {0:?} in a signed upload")]
    ExtensionUnexpected(String),
    #[error("trailer {0:?} in an upload declared without trailers")]
    TrailerUnexpected(String),
    #[error("trailer {0:?} after x-amz-trailer-signature")]
    TrailerAfterSignature(String),
    #[error("trailers without x-amz-trailer-signature in a signed upload")]
    TrailerSignatureMissing,
    #[error("bytes after the end of the aws-chunked body")]
    TrailingBytes,
}

impl AwsChunkedError {
    /// The HTTP status to answer with: always 400.
    pub fn status(&self) -> u16 {
        400
    }
}

/// What one [`AwsChunkedDecoder::step`] found, in stream order. A chunk is
/// `ChunkStart`, then `Data` pieces adding up to `size` (none for the last,
/// zero-length chunk), then `ChunkEnd`: hash from `ChunkStart` to `ChunkEnd`
/// and verify `signature` there, before trusting the chunk's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AwsChunkedStep {
    /// A chunk header. `size == 0` is the last chunk. `signature` is `Some`
    /// exactly in the signed modes.
    ChunkStart {
        size: u64,
        signature: Option<[u8; 32]>,
    },
    /// `input[range]` is payload (never empty).
    Data(Range<usize>),
    /// The chunk announced by the last `ChunkStart` is complete.
    ChunkEnd,
    /// A trailer field, name lowercased, value without surrounding whitespace.
    Trailer { name: String, value: String },
    /// `x-amz-trailer-signature`, the last trailer of a signed upload.
    TrailerSignature([u8; 32]),
    /// Every byte of `input` was consumed; call again with more, or call
    /// [`AwsChunkedDecoder::finish`] if the body has ended.
    NeedMore,
    /// The aws-chunked body is complete; any further byte is an error.
    Done,
}

/// Decodes an aws-chunked payload as it arrives, in any splits, without copying
/// data. Same step contract as [`super::chunked::ChunkedDecoder::step`]:
/// (bytes consumed, step); `NeedMore` only with all of `input` consumed; every
/// call consumes a byte or reports an event, so a loop over `step` ends.
///
/// ```
/// use ringgate::http::{AwsChunkedDecoder, AwsChunkedLimits, AwsChunkedMode, AwsChunkedStep};
/// let body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
/// let mut decoder = AwsChunkedDecoder::new(AwsChunkedMode::UnsignedWithTrailer, AwsChunkedLimits::default());
/// let (mut at, mut payload, mut trailers) = (0, Vec::new(), Vec::new());
/// loop {
///     let (consumed, step) = decoder.step(&body[at..]).unwrap();
///     match step {
///         AwsChunkedStep::Data(range) => payload.extend_from_slice(&body[at..][range]),
///         AwsChunkedStep::Trailer { name, value } => trailers.push((name, value)),
///         AwsChunkedStep::NeedMore | AwsChunkedStep::Done => break,
///         _ => {}
///     }
///     at += consumed;
/// }
/// decoder.finish().unwrap(); // at the end of the request body
/// assert_eq!(payload, b"hello");
/// assert_eq!(trailers, [("x-amz-checksum-crc32".to_string(), "NhCmhg==".to_string())]);
/// assert_eq!(decoder.decoded_bytes(), 5);
/// ```
#[derive(Clone, Debug)]
pub struct AwsChunkedDecoder {
    mode: AwsChunkedMode,
    framer: ChunkFramer,
    decoded_bytes: u64,
    trailers_count: usize,
    trailer_signature_seen: bool,
    trailers_canonical: Vec<u8>,
    failed: Option<AwsChunkedError>,
}

impl AwsChunkedDecoder {
    pub fn new(mode: AwsChunkedMode, limits: AwsChunkedLimits) -> Self {
        Self {
            mode,
            framer: ChunkFramer::new(FramerLimits {
                line_bytes_max: limits.chunk_header_bytes_max,
                trailer_bytes_max: limits.trailer_bytes_max,
                trailers_count_max: limits.trailers_count_max,
            }),
            decoded_bytes: 0,
            trailers_count: 0,
            trailer_signature_seen: false,
            trailers_canonical: Vec::new(),
            failed: None,
        }
    }

    pub fn mode(&self) -> AwsChunkedMode {
        self.mode
    }

    /// Consumes a prefix of `input` and reports the next element of the stream.
    /// After an error every call returns the same error.
    pub fn step(&mut self, input: &[u8]) -> Result<(usize, AwsChunkedStep), AwsChunkedError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = if self.framer.is_done() {
            if input.is_empty() {
                Ok((0, AwsChunkedStep::Done))
            } else {
                Err(AwsChunkedError::TrailingBytes)
            }
        } else {
            self.advance(input)
        };
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    fn advance(&mut self, input: &[u8]) -> Result<(usize, AwsChunkedStep), AwsChunkedError> {
        let mode = self.mode;
        let (consumed, frame) = self.framer.step(input)?;
        let step = match frame {
            Frame::Header { size, extensions } => AwsChunkedStep::ChunkStart {
                size,
                signature: chunk_signature(mode, extensions)?,
            },
            Frame::Data(range) => {
                self.decoded_bytes += range.len() as u64;
                AwsChunkedStep::Data(range)
            }
            Frame::ChunkEnd => AwsChunkedStep::ChunkEnd,
            Frame::Trailer { name, value } => {
                let name = name.to_ascii_lowercase();
                if self.trailer_signature_seen {
                    return Err(AwsChunkedError::TrailerAfterSignature(name));
                }
                if !mode.has_trailer() {
                    return Err(AwsChunkedError::TrailerUnexpected(name));
                }
                if name == "x-amz-trailer-signature" {
                    if !mode.is_signed() {
                        return Err(AwsChunkedError::SignatureUnexpected);
                    }
                    self.trailer_signature_seen = true;
                    AwsChunkedStep::TrailerSignature(decode_signature(value.as_bytes())?)
                } else {
                    self.trailers_count += 1;
                    for part in [name.as_bytes(), b":", value.as_bytes(), b"\n"] {
                        self.trailers_canonical.extend_from_slice(part);
                    }
                    AwsChunkedStep::Trailer {
                        name,
                        value: value.to_string(),
                    }
                }
            }
            Frame::End => {
                check_trailer_signature(mode, self.trailers_count, self.trailer_signature_seen)?;
                AwsChunkedStep::Done
            }
            Frame::NeedMore => AwsChunkedStep::NeedMore,
        };
        Ok((consumed, step))
    }

    /// For the caller to call at the end of the request body. `Ok` if the stream
    /// is complete: `Done` was reported, or the stream stopped at the start of a
    /// trailer line, after the last chunk's `ChunkEnd`, when only the final CRLF
    /// is missing (see the module notes). Otherwise the error that ended the
    /// stream, or [`ChunkedError::Truncated`].
    pub fn finish(&self) -> Result<(), AwsChunkedError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.framer.at_trailer_line_start() {
            return check_trailer_signature(
                self.mode,
                self.trailers_count,
                self.trailer_signature_seen,
            );
        }
        Ok(self.framer.finish()?)
    }

    /// Whether `Done` has been reached.
    pub fn is_done(&self) -> bool {
        self.framer.is_done()
    }

    /// Payload bytes returned so far, to compare with
    /// `x-amz-decoded-content-length` and the size limits.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded_bytes
    }

    /// The canonical trailers received so far, the input of the trailer
    /// signature: `name:value\n` per field but `x-amz-trailer-signature`.
    pub fn trailers_canonical(&self) -> &[u8] {
        &self.trailers_canonical
    }
}

fn check_trailer_signature(
    mode: AwsChunkedMode,
    trailers_count: usize,
    signature_seen: bool,
) -> Result<(), AwsChunkedError> {
    if mode == AwsChunkedMode::SignedWithTrailer && trailers_count > 0 && !signature_seen {
        return Err(AwsChunkedError::TrailerSignatureMissing);
    }
    Ok(())
}

/// The chunk signature of a header's extensions, as `mode` requires.
fn chunk_signature(
    mode: AwsChunkedMode,
    extensions: &[u8],
) -> Result<Option<[u8; 32]>, AwsChunkedError> {
    let mut signature = None;
    for_each_extension(extensions, |name, value| {
        if name.eq_ignore_ascii_case(b"chunk-signature") {
            if !mode.is_signed() {
                return Err(AwsChunkedError::SignatureUnexpected);
            }
            if signature.is_some() {
                return Err(AwsChunkedError::ExtensionUnexpected(
                    "chunk-signature".into(),
                ));
            }
            signature = Some(decode_signature(value.unwrap_or(b""))?);
        } else if mode.is_signed() {
            let name = String::from_utf8_lossy(name).into_owned();
            return Err(AwsChunkedError::ExtensionUnexpected(name));
        }
        Ok(())
    })?;
    if mode.is_signed() && signature.is_none() {
        return Err(AwsChunkedError::SignatureMissing);
    }
    Ok(signature)
}

/// 64 hex digits (either case) as 32 bytes.
fn decode_signature(hex: &[u8]) -> Result<[u8; 32], AwsChunkedError> {
    if hex.len() != 64 {
        return Err(AwsChunkedError::SignatureMalformed);
    }
    let nibble = |b: u8| {
        (b as char)
            .to_digit(16)
            .ok_or(AwsChunkedError::SignatureMalformed)
    };
    let mut signature = [0u8; 32];
    for (byte, pair) in signature.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4 | nibble(pair[1])?) as u8;
    }
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::chunked::TruncatedAt;
    use proptest::prelude::*;
    use AwsChunkedMode::*;

    use crate::http::fuzz::{drive_aws as decode, AwsEvent as Event};

    fn check(mode: AwsChunkedMode, input: &[u8], expected: Result<Vec<Event>, AwsChunkedError>) {
        check_with(mode, &AwsChunkedLimits::default(), input, expected)
    }

    fn check_with(
        mode: AwsChunkedMode,
        limits: &AwsChunkedLimits,
        input: &[u8],
        expected: Result<Vec<Event>, AwsChunkedError>,
    ) {
        assert_eq!(
            decode(mode, limits, input, &[]),
            expected,
            "whole {input:?}"
        );
        assert_eq!(
            decode(mode, limits, input, &vec![1; input.len()]),
            expected,
            "bytewise {input:?}"
        );
    }

    fn data(bytes: &[u8]) -> Event {
        Event::Data(bytes.to_vec())
    }

    fn trailer(name: &str, value: &str) -> Event {
        Event::Trailer(name.into(), value.into())
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const SIG_A: [u8; 32] = [0xab; 32];
    const SIG_B: [u8; 32] = [0x01; 32];

    #[test]
    fn unsigned_streams() {
        use Event::*;
        // botocore's AwsChunkedWrapper with a checksum.
        check(
            UnsignedWithTrailer,
            b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
            Ok(vec![
                Start(5, None),
                data(b"hello"),
                End,
                Start(0, None),
                End,
                trailer("x-amz-checksum-crc32", "NhCmhg=="),
                Done,
            ]),
        );
        // @smithy/util-stream without a checksum: no final CRLF.
        check(
            UnsignedWithTrailer,
            b"5\r\nhello\r\n0\r\n",
            Ok(vec![
                Start(5, None),
                data(b"hello"),
                End,
                Start(0, None),
                End,
            ]),
        );
        // A missing final CRLF after trailers, and upper-case hex.
        check(
            UnsignedWithTrailer,
            b"A\r\n0123456789\r\n0\r\nX-Amz-Checksum-Crc32C: AAAAAA==\r\n",
            Ok(vec![
                Start(10, None),
                data(b"0123456789"),
                End,
                Start(0, None),
                End,
                trailer("x-amz-checksum-crc32c", "AAAAAA=="),
            ]),
        );
        check(
            UnsignedWithTrailer,
            b"0\r\n\r\n",
            Ok(vec![Start(0, None), End, Done]),
        );
        check(
            UnsignedWithTrailer,
            b"3;ignored=x\r\nabc\r\n0\r\n\r\n",
            Ok(vec![
                Start(3, None),
                data(b"abc"),
                End,
                Start(0, None),
                End,
                Done,
            ]),
        );
    }

    #[test]
    fn signed_streams() {
        use Event::*;
        let (a, b) = (hex(&SIG_A), hex(&SIG_B));
        check(
            Signed,
            format!(
                "5;chunk-signature={a}\r\nhello\r\n0;chunk-signature={}\r\n\r\n",
                b.to_uppercase()
            )
            .as_bytes(),
            Ok(vec![
                Start(5, Some(SIG_A)),
                data(b"hello"),
                End,
                Start(0, Some(SIG_B)),
                End,
                Done,
            ]),
        );
        check(
            SignedWithTrailer,
            format!("0;chunk-signature={a}\r\nx-amz-checksum-sha256:q=\r\nx-amz-trailer-signature:{b}\r\n\r\n").as_bytes(),
            Ok(vec![Start(0, Some(SIG_A)), End, trailer("x-amz-checksum-sha256", "q="), TrailerSignature(SIG_B), Done]),
        );
        // A trailer mode without trailers needs no trailer signature.
        check(
            SignedWithTrailer,
            format!("0;chunk-signature={a}\r\n\r\n").as_bytes(),
            Ok(vec![Start(0, Some(SIG_A)), End, Done]),
        );
    }

    #[test]
    fn malformed_streams() {
        use AwsChunkedError::*;
        let (a, b) = (hex(&SIG_A), hex(&SIG_B));
        let cases: Vec<(AwsChunkedMode, String, AwsChunkedError)> = vec![
            (Signed, "5\r\nhello\r\n".into(), SignatureMissing),
            (Signed, format!("5;chunk-signature={a}\r\nhello\r\n0\r\n\r\n"), SignatureMissing),
            (Signed, "5;chunk-signature=abc\r\n".into(), SignatureMalformed),
            (Signed, format!("5;chunk-signature={}\r\n", &a[..62]), SignatureMalformed),
            (Signed, format!("5;chunk-signature={a}0\r\n"), SignatureMalformed),
            (Signed, format!("5;chunk-signature={}g\r\n", &a[..63]), SignatureMalformed),
            (Signed, "5;chunk-signature\r\n".into(), SignatureMalformed),
            (Signed, format!("5;chunk-signature=\"{}\"\r\n", &a[..62]), SignatureMalformed),
            (Signed, format!("5;chunk-signature={a};x=y\r\n"), ExtensionUnexpected("x".into())),
            (Signed, format!("5;chunk-signature={a};chunk-signature={a}\r\n"), ExtensionUnexpected("chunk-signature".into())),
            (UnsignedWithTrailer, format!("5;chunk-signature={a}\r\n"), SignatureUnexpected),
            (UnsignedWithTrailer, format!("0\r\nx-amz-trailer-signature:{a}\r\n\r\n"), SignatureUnexpected),
            (Signed, format!("0;chunk-signature={a}\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), TrailerUnexpected("x-amz-checksum-crc32".into())),
            (Signed, format!("0;chunk-signature={a}\r\nx-amz-trailer-signature:{b}\r\n\r\n"), TrailerUnexpected("x-amz-trailer-signature".into())),
            (SignedWithTrailer, format!("0;chunk-signature={a}\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), TrailerSignatureMissing),
            // The stream ends where the signature should be.
            (SignedWithTrailer, format!("0;chunk-signature={a}\r\nx-amz-checksum-crc32:AAAAAA==\r\n"), TrailerSignatureMissing),
            (SignedWithTrailer, format!("0;chunk-signature={a}\r\nx-amz-trailer-signature:{b}\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), TrailerAfterSignature("x-amz-checksum-crc32".into())),
            (SignedWithTrailer, format!("0;chunk-signature={a}\r\nx-amz-trailer-signature:{b}\r\nx-amz-trailer-signature:{b}\r\n\r\n"), TrailerAfterSignature("x-amz-trailer-signature".into())),
            (SignedWithTrailer, format!("0;chunk-signature={a}\r\nx-amz-trailer-signature:{}\r\n\r\n", &b[..40]), SignatureMalformed),
            // A blank line before the trailers ends the body.
            (UnsignedWithTrailer, "0\r\n\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".into(), TrailingBytes),
            (UnsignedWithTrailer, "0\r\n\r\n\r\n".into(), TrailingBytes),
            (UnsignedWithTrailer, "zz\r\n".into(), Framing(ChunkedError::SizeInvalid)),
            (UnsignedWithTrailer, "5\nhello".into(), Framing(ChunkedError::LineEnding)),
            (UnsignedWithTrailer, "5\r\nhelloX\r\n".into(), Framing(ChunkedError::DataNotTerminated)),
            (UnsignedWithTrailer, "0\r\nx-amz-checksum-crc32\r\n\r\n".into(), Framing(ChunkedError::TrailerMalformed)),
            (UnsignedWithTrailer, "0\r\nx-amz-meta-a: 1\r\n folded\r\n\r\n".into(), Framing(ChunkedError::TrailerMalformed)),
            (UnsignedWithTrailer, "10000000000000000\r\n".into(), Framing(ChunkedError::SizeOverflow)),
            (UnsignedWithTrailer, "".into(), Framing(ChunkedError::Truncated(TruncatedAt::SizeLine))),
            (UnsignedWithTrailer, "5\r\nhel".into(), Framing(ChunkedError::Truncated(TruncatedAt::Data { remaining: 2 }))),
            (UnsignedWithTrailer, "5\r\nhello".into(), Framing(ChunkedError::Truncated(TruncatedAt::DataEnd))),
            (UnsignedWithTrailer, "5\r\nhello\r\n".into(), Framing(ChunkedError::Truncated(TruncatedAt::SizeLine))),
            (UnsignedWithTrailer, "0\r\nx-amz-checksum-crc32:AA".into(), Framing(ChunkedError::Truncated(TruncatedAt::Trailers))),
            (UnsignedWithTrailer, "0\r\n\r".into(), Framing(ChunkedError::Truncated(TruncatedAt::Trailers))),
        ];
        for (mode, input, error) in cases {
            check(mode, input.as_bytes(), Err(error));
        }
    }

    #[test]
    fn limits() {
        let limits = AwsChunkedLimits {
            chunk_header_bytes_max: 90,
            trailer_bytes_max: 64,
            trailers_count_max: 2,
        };
        let a = hex(&SIG_A);
        // "5;chunk-signature=" + 64 + CRLF = 84 bytes.
        let input = format!("5;chunk-signature={a}\r\nhello\r\n0;chunk-signature={a}\r\n\r\n");
        assert!(decode(Signed, &limits, input.as_bytes(), &[]).is_ok());
        let input = format!("00000005;chunk-signature={a}\r\n");
        check_with(
            Signed,
            &limits,
            input.as_bytes(),
            Err(ChunkedError::SizeLineTooLong { max: 90 }.into()),
        );
        let input = "0\r\na:1\r\nb:2\r\nc:3\r\n\r\n";
        check_with(
            UnsignedWithTrailer,
            &limits,
            input.as_bytes(),
            Err(ChunkedError::TrailersTooMany { max: 2 }.into()),
        );
        let input = format!("0\r\na:{}\r\n\r\n", "x".repeat(60));
        check_with(
            UnsignedWithTrailer,
            &limits,
            input.as_bytes(),
            Err(ChunkedError::TrailersTooLarge { max: 64 }.into()),
        );
        assert_eq!(AwsChunkedLimits::default().trailers_count_max, 16);
    }

    #[test]
    fn errors_stick_and_trailing_bytes_fail() {
        let mut decoder = AwsChunkedDecoder::new(UnsignedWithTrailer, AwsChunkedLimits::default());
        let input = b"0\r\n\r\n";
        let mut at = 0;
        while !decoder.is_done() {
            at += decoder.step(&input[at..]).unwrap().0;
        }
        assert_eq!(decoder.step(b""), Ok((0, AwsChunkedStep::Done)));
        assert_eq!(decoder.step(b"x"), Err(AwsChunkedError::TrailingBytes));
        assert_eq!(decoder.step(b""), Err(AwsChunkedError::TrailingBytes));
        assert_eq!(decoder.finish(), Err(AwsChunkedError::TrailingBytes));
        assert_eq!(decoder.mode(), UnsignedWithTrailer);
    }

    #[test]
    fn modes_from_content_sha256() {
        let cases: &[(&[u8], Option<AwsChunkedMode>)] = &[
            (b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", Some(Signed)),
            (
                b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                Some(SignedWithTrailer),
            ),
            (
                b"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                Some(UnsignedWithTrailer),
            ),
            (b"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", None),
            (b"UNSIGNED-PAYLOAD", None),
            (
                b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                None,
            ),
        ];
        for (value, mode) in cases {
            assert_eq!(AwsChunkedMode::from_content_sha256(value), *mode);
        }
    }

    /// The examples of the S3 API reference (sigv4-streaming and
    /// sigv4-streaming-trailers): 65 KiB of 'a' in chunks of 64 KiB, 1 KiB and 0,
    /// signed with the documentation's credentials. Decoding them and
    /// recomputing every signature from the decoder's events checks the
    /// grammar, the signature extraction and the canonical trailer form against
    /// AWS's own numbers.
    mod aws_examples {
        use super::*;
        use hmac::{Hmac, Mac};
        use sha2::{Digest, Sha256};

        const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
        const EMPTY_SHA256: &str =
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

        fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(data);
            mac.finalize().into_bytes().into()
        }

        fn signing_key() -> [u8; 32] {
            let key = format!("AWS4{SECRET}");
            ["20130524", "us-east-1", "s3", "aws4_request"]
                .iter()
                .fold(key.into_bytes(), |key, part| {
                    hmac(&key, part.as_bytes()).to_vec()
                })
                .try_into()
                .unwrap()
        }

        fn sign(algorithm: &str, previous: &[u8; 32], hashes: &[&str]) -> [u8; 32] {
            let mut string = format!("{algorithm}\n20130524T000000Z\n{SCOPE}\n{}", hex(previous));
            for hash in hashes {
                string.push('\n');
                string.push_str(hash);
            }
            hmac(&signing_key(), string.as_bytes())
        }

        fn unhex(text: &str) -> [u8; 32] {
            decode_signature(text.as_bytes()).unwrap()
        }

        fn example(chunk_signatures: [&str; 3], trailer: &str) -> Vec<u8> {
            let mut body = Vec::new();
            for (size, signature) in [0x10000, 0x400, 0].into_iter().zip(chunk_signatures) {
                body.extend_from_slice(
                    format!("{size:x};chunk-signature={signature}\r\n").as_bytes(),
                );
                if size > 0 {
                    body.extend(std::iter::repeat_n(b'a', size));
                    body.extend_from_slice(b"\r\n");
                }
            }
            body.extend_from_slice(trailer.as_bytes());
            body.extend_from_slice(b"\r\n");
            body
        }

        /// Verifies the chain of signatures in `events` from `seed`; returns the
        /// final chunk's signature.
        fn verify_chunks(seed: &str, events: &[Event]) -> [u8; 32] {
            let mut previous = unhex(seed);
            let mut hasher = Sha256::new();
            let mut claimed = None;
            for event in events {
                match event {
                    Event::Start(_, signature) => {
                        hasher = Sha256::new();
                        claimed = *signature;
                    }
                    Event::Data(data) => hasher.update(data),
                    Event::End => {
                        let chunk_hash = hex(&hasher.clone().finalize());
                        let expected = sign(
                            "AWS4-HMAC-SHA256-PAYLOAD",
                            &previous,
                            &[EMPTY_SHA256, &chunk_hash],
                        );
                        assert_eq!(claimed, Some(expected));
                        previous = expected;
                    }
                    _ => {}
                }
            }
            previous
        }

        #[test]
        fn signed_payload() {
            let body = example(
                [
                    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
                ],
                "",
            );
            let events = decode(
                Signed,
                &AwsChunkedLimits::default(),
                &body,
                &[7000, 1, 60000, 3],
            )
            .unwrap();
            assert_eq!(events.len(), 9);
            verify_chunks(
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                &events,
            );
        }

        #[test]
        fn signed_payload_with_trailer() {
            let body = example(
                [
                    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
                ],
                "x-amz-checksum-crc32c:sOO8/Q==\r\n\
                 x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
            );
            let mut decoder =
                AwsChunkedDecoder::new(SignedWithTrailer, AwsChunkedLimits::default());
            let (mut at, mut events) = (0, Vec::new());
            while !decoder.is_done() {
                let (consumed, step) = decoder.step(&body[at..]).unwrap();
                events.push(match step {
                    AwsChunkedStep::ChunkStart { size, signature } => Event::Start(size, signature),
                    AwsChunkedStep::Data(range) => Event::Data(body[at..][range].to_vec()),
                    AwsChunkedStep::ChunkEnd => Event::End,
                    AwsChunkedStep::Trailer { name, value } => Event::Trailer(name, value),
                    AwsChunkedStep::TrailerSignature(signature) => {
                        Event::TrailerSignature(signature)
                    }
                    AwsChunkedStep::Done => Event::Done,
                    AwsChunkedStep::NeedMore => panic!("the example is complete"),
                });
                at += consumed;
            }
            let previous = verify_chunks(
                "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                &events,
            );
            assert_eq!(
                decoder.trailers_canonical(),
                b"x-amz-checksum-crc32c:sOO8/Q==\n"
            );
            let trailers_hash = hex(&Sha256::digest(decoder.trailers_canonical()));
            let expected = sign("AWS4-HMAC-SHA256-TRAILER", &previous, &[&trailers_hash]);
            assert_eq!(
                events[events.len() - 2..],
                [Event::TrailerSignature(expected), Event::Done]
            );
            // And the trailer's checksum is the CRC32C of the payload.
            let payload = vec![b'a'; 0x10400];
            let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &payload) as u32;
            assert_eq!(crc.to_be_bytes(), [0xb0, 0xe3, 0xbc, 0xfd]); // sOO8/Q== in base64
            assert_eq!(decoder.decoded_bytes(), payload.len() as u64);
        }
    }

    /// A stream as an SDK would encode it, and the events it must decode to.
    fn encode(
        mode: AwsChunkedMode,
        body: &[u8],
        sizes: &[usize],
        signatures: &[[u8; 32]],
        trailers: &[(String, String)],
        final_crlf: bool,
    ) -> (Vec<u8>, Vec<Event>) {
        let (mut out, mut events) = (Vec::new(), Vec::new());
        let mut signatures = signatures.iter().cycle();
        let mut header = |size: usize, out: &mut Vec<u8>, events: &mut Vec<Event>| {
            let signature = mode.is_signed().then(|| *signatures.next().unwrap());
            out.extend_from_slice(format!("{size:x}").as_bytes());
            if let Some(signature) = signature {
                out.extend_from_slice(format!(";chunk-signature={}", hex(&signature)).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            events.push(Event::Start(size as u64, signature));
        };
        let mut rest = body;
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
            header(chunk.len(), &mut out, &mut events);
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
            events.extend([data(chunk), Event::End]);
            rest = tail;
        }
        header(0, &mut out, &mut events);
        events.push(Event::End);
        if mode.has_trailer() {
            for (name, value) in trailers {
                out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
                events.push(trailer(name, value));
            }
            if mode.is_signed() && !trailers.is_empty() {
                out.extend_from_slice(
                    format!("x-amz-trailer-signature:{}\r\n", hex(&SIG_B)).as_bytes(),
                );
                events.push(Event::TrailerSignature(SIG_B));
            }
        }
        if final_crlf {
            out.extend_from_slice(b"\r\n");
            events.push(Event::Done);
        }
        (out, events)
    }

    fn mode() -> impl Strategy<Value = AwsChunkedMode> {
        prop_oneof![
            Just(Signed),
            Just(SignedWithTrailer),
            Just(UnsignedWithTrailer)
        ]
    }

    proptest! {
        #[test]
        fn round_trips_in_any_split(mode in mode(),
                                    body in proptest::collection::vec(any::<u8>(), 0..3000),
                                    sizes in proptest::collection::vec(1usize..400, 1..6),
                                    signatures in proptest::collection::vec(any::<[u8; 32]>(), 1..4),
                                    trailers in proptest::collection::vec(("x-amz-[a-z0-9-]{1,12}", "[A-Za-z0-9+/]{1,12}={0,2}"), 0..3),
                                    final_crlf in proptest::bool::weighted(0.8),
                                    pieces in proptest::collection::vec(0usize..80, 0..64)) {
            let (input, expected) = encode(mode, &body, &sizes, &signatures, &trailers, final_crlf);
            let limits = AwsChunkedLimits::default();
            prop_assert_eq!(decode(mode, &limits, &input, &pieces), Ok(expected.clone()));
            prop_assert_eq!(decode(mode, &limits, &input, &vec![1; input.len()]), Ok(expected));
        }

        #[test]
        fn random_bytes_terminate(mode in mode(),
                                  input in proptest::collection::vec(any::<u8>(), 0..512),
                                  pieces in proptest::collection::vec(0usize..16, 0..64)) {
            let limits = AwsChunkedLimits::default();
            let _ = decode(mode, &limits, &input, &pieces);
            let framed = [format!("10;chunk-signature={}\r\n", hex(&SIG_A)).as_bytes(), &input].concat();
            let _ = decode(mode, &limits, &framed, &pieces);
        }
    }
}
