//! Request bodies in the four SigV4 payload modes (five: the signed trailer
//! too), generated as they are sent: a [`BodyEncoder`] writes the next wire
//! bytes into the caller's buffer, content made on the fly, aws-chunked
//! frames, chunk signatures and the CRC32 trailer around it. The whole
//! body's length is known before the first byte ([`BodyPlan::wire_bytes`]),
//! so every request has a Content-Length. Pure code.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::content::Content;
use crate::sigv4::{signature_hex, ChunkSigner, PayloadHash};

/// How a request body is covered by the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadMode {
    /// Hex SHA-256 of the body in `x-amz-content-sha256` (costs a hashing
    /// pass over the body before it is sent)
    Signed,
    /// `UNSIGNED-PAYLOAD`
    Unsigned,
    /// aws-chunked, every chunk signed (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`)
    StreamingSigned,
    /// aws-chunked, signed chunks and a signed CRC32 trailer
    StreamingSignedTrailer,
    /// aws-chunked, unsigned, with a CRC32 trailer (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`)
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Signed => "signed",
            Self::Unsigned => "unsigned",
            Self::StreamingSigned => "streaming-signed",
            Self::StreamingSignedTrailer => "streaming-signed-trailer",
            Self::StreamingUnsignedTrailer => "streaming-unsigned-trailer",
        }
    }

    pub fn is_streaming(self) -> bool {
        !matches!(self, Self::Signed | Self::Unsigned)
    }

    pub fn signs_chunks(self) -> bool {
        matches!(self, Self::StreamingSigned | Self::StreamingSignedTrailer)
    }

    pub fn has_trailer(self) -> bool {
        matches!(
            self,
            Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }
}

/// The smallest aws-chunked chunk S3 accepts (all but the last).
pub const CHUNK_BYTES_MIN: usize = 8 << 10;
/// `;chunk-signature=` and 64 hex digits.
const CHUNK_SIGNATURE_BYTES: usize = 17 + 64;
const TRAILER_NAME: &str = "x-amz-checksum-crc32";
/// `x-amz-checksum-crc32:` + 8 base64 digits + CRLF.
const TRAILER_LINE_BYTES: usize = TRAILER_NAME.len() + 1 + 8 + 2;
/// `x-amz-trailer-signature:` + 64 hex digits + CRLF.
const TRAILER_SIGNATURE_LINE_BYTES: usize = 24 + 64 + 2;
/// Room a buffer needs beyond one chunk's data for any frame.
pub const FRAME_OVERHEAD_BYTES_MAX: usize = 512;

/// What a body holds and how it is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPlan {
    pub mode: PayloadMode,
    pub content: Content,
    /// The bytes `start..start + len` of `content` (a part is a slice of its object).
    pub start: u64,
    pub len: u64,
    /// aws-chunked data bytes per chunk.
    pub chunk_bytes: usize,
}

fn hex_digits(n: u64) -> u64 {
    (64 - n.max(1).leading_zeros() as u64).div_ceil(4)
}

impl BodyPlan {
    /// The headers this mode adds, all to be signed.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if self.mode.is_streaming() {
            headers.push(("content-encoding", "aws-chunked".to_string()));
            headers.push(("x-amz-decoded-content-length", self.len.to_string()));
        }
        if self.mode.has_trailer() {
            headers.push(("x-amz-trailer", TRAILER_NAME.to_string()));
        }
        headers
    }

    /// `x-amz-content-sha256`. In `signed` mode this generates the body once
    /// to hash it, in pieces of `scratch`.
    pub fn payload_hash(&self, scratch: &mut [u8]) -> PayloadHash {
        match self.mode {
            PayloadMode::Unsigned => PayloadHash::Unsigned,
            PayloadMode::StreamingSigned => PayloadHash::StreamingSigned,
            PayloadMode::StreamingSignedTrailer => PayloadHash::StreamingSignedTrailer,
            PayloadMode::StreamingUnsignedTrailer => PayloadHash::StreamingUnsignedTrailer,
            PayloadMode::Signed => {
                let mut hasher = Sha256::new();
                let mut at = self.start;
                let end = self.start + self.len;
                while at < end {
                    let n = (end - at).min(scratch.len() as u64) as usize;
                    self.content.fill(at, &mut scratch[..n]);
                    hasher.update(&scratch[..n]);
                    at += n as u64;
                }
                PayloadHash::from_digest(hasher.finalize().into())
            }
        }
    }

    /// The Content-Length: the body as sent, framing included.
    pub fn wire_bytes(&self) -> u64 {
        if !self.mode.is_streaming() {
            return self.len;
        }
        let signature = if self.mode.signs_chunks() {
            CHUNK_SIGNATURE_BYTES as u64
        } else {
            0
        };
        let chunk = self.chunk_bytes as u64;
        let frame = |n: u64| hex_digits(n) + signature + 2 + n + 2;
        let (full, last) = (self.len / chunk, self.len % chunk);
        let mut total = full * frame(chunk);
        if last > 0 {
            total += frame(last);
        }
        total += 1 + signature + 2;
        total += match self.mode {
            PayloadMode::StreamingSigned => 2,
            PayloadMode::StreamingSignedTrailer => {
                (TRAILER_LINE_BYTES + TRAILER_SIGNATURE_LINE_BYTES + 2) as u64
            }
            _ => (TRAILER_LINE_BYTES + 2) as u64,
        };
        total
    }
}

/// Writes a body's wire bytes, buffer by buffer.
#[derive(Debug)]
pub struct BodyEncoder {
    plan: BodyPlan,
    chain: Option<ChunkSigner>,
    crc: Option<crc_fast::Digest>,
    /// Offset in `content` of the next data byte.
    next: u64,
    finished: bool,
    written: u64,
}

impl BodyEncoder {
    /// `chain` is the request's chunk signer; the signed streaming modes need it.
    pub fn new(plan: BodyPlan, chain: Option<ChunkSigner>) -> Self {
        assert!(
            !plan.mode.signs_chunks() || chain.is_some(),
            "signed chunks need the request's chunk signer"
        );
        assert!(plan.chunk_bytes >= 1, "chunks hold data");
        Self {
            plan,
            chain,
            crc: plan
                .mode
                .has_trailer()
                .then(|| crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc)),
            next: plan.start,
            finished: false,
            written: 0,
        }
    }

    /// The smallest buffer [`Self::fill`] works with.
    pub fn buffer_bytes_min(&self) -> usize {
        if self.plan.mode.is_streaming() {
            self.plan.chunk_bytes + FRAME_OVERHEAD_BYTES_MAX
        } else {
            1
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Wire bytes written so far.
    pub fn written_bytes(&self) -> u64 {
        self.written
    }

    /// Writes the next wire bytes to the front of `out`; returns how many
    /// (0 once the body is complete). `out` must hold at least
    /// [`Self::buffer_bytes_min`] bytes.
    pub fn fill(&mut self, out: &mut [u8]) -> usize {
        assert!(out.len() >= self.buffer_bytes_min(), "buffer too small");
        let n = if self.finished {
            0
        } else if self.plan.mode.is_streaming() {
            self.fill_chunks(out)
        } else {
            let end = self.plan.start + self.plan.len;
            let n = (end - self.next).min(out.len() as u64) as usize;
            self.plan.content.fill(self.next, &mut out[..n]);
            self.next += n as u64;
            self.finished = self.next == end;
            n
        };
        self.written += n as u64;
        n
    }

    fn fill_chunks(&mut self, out: &mut [u8]) -> usize {
        let end = self.plan.start + self.plan.len;
        let mut at = 0;
        while self.next < end {
            let n = (end - self.next).min(self.plan.chunk_bytes as u64) as usize;
            if out.len() - at < n + FRAME_OVERHEAD_BYTES_MAX {
                return at;
            }
            at += self.chunk(n, &mut out[at..]);
        }
        if out.len() - at < FRAME_OVERHEAD_BYTES_MAX {
            return at;
        }
        at += self.last_chunk(&mut out[at..]);
        self.finished = true;
        at
    }

    /// One data chunk of `n` bytes: its header is written after its data is
    /// made (in place), since a signed header needs the data's hash.
    fn chunk(&mut self, n: usize, out: &mut [u8]) -> usize {
        let size_hex = format!("{n:x}");
        let header_bytes = size_hex.len()
            + if self.plan.mode.signs_chunks() {
                CHUNK_SIGNATURE_BYTES
            } else {
                0
            }
            + 2;
        let data = &mut out[header_bytes..header_bytes + n];
        self.plan.content.fill(self.next, data);
        self.next += n as u64;
        if let Some(crc) = &mut self.crc {
            crc.update(data);
        }
        let mut header = Vec::with_capacity(header_bytes);
        header.extend_from_slice(size_hex.as_bytes());
        if let Some(chain) = &mut self.chain {
            if self.plan.mode.signs_chunks() {
                let hash: [u8; 32] = Sha256::digest(&out[header_bytes..header_bytes + n]).into();
                let signature = chain.sign_chunk(&hash);
                header.extend_from_slice(b";chunk-signature=");
                header.extend_from_slice(signature_hex(&signature).as_bytes());
            }
        }
        header.extend_from_slice(b"\r\n");
        debug_assert_eq!(header.len(), header_bytes);
        out[..header_bytes].copy_from_slice(&header);
        out[header_bytes + n..header_bytes + n + 2].copy_from_slice(b"\r\n");
        header_bytes + n + 2
    }

    /// The zero-length chunk and what follows it.
    fn last_chunk(&mut self, out: &mut [u8]) -> usize {
        let mut frame = Vec::with_capacity(FRAME_OVERHEAD_BYTES_MAX);
        frame.push(b'0');
        if self.plan.mode.signs_chunks() {
            let chain = self.chain.as_mut().expect("checked in new");
            let signature = chain.sign_chunk(&Sha256::digest(b"").into());
            frame.extend_from_slice(b";chunk-signature=");
            frame.extend_from_slice(signature_hex(&signature).as_bytes());
        }
        frame.extend_from_slice(b"\r\n");
        if let Some(crc) = &self.crc {
            let crc = crc.finalize() as u32;
            let trailer = format!(
                "{TRAILER_NAME}:{}\r\n",
                base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
            );
            frame.extend_from_slice(trailer.as_bytes());
            if self.plan.mode == PayloadMode::StreamingSignedTrailer {
                let chain = self.chain.as_ref().expect("checked in new");
                let signature = chain
                    .sign_trailer(trailer.as_bytes())
                    .expect("the trailer is well-formed");
                frame.extend_from_slice(b"x-amz-trailer-signature:");
                frame.extend_from_slice(signature_hex(&signature).as_bytes());
                frame.extend_from_slice(b"\r\n");
            }
        }
        frame.extend_from_slice(b"\r\n");
        out[..frame.len()].copy_from_slice(&frame);
        frame.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{AwsChunkedDecoder, AwsChunkedLimits};

    fn encode(plan: BodyPlan, buf_bytes: usize) -> Vec<u8> {
        let chain = plan.mode.signs_chunks().then(|| {
            let datetime = crate::sigv4::AmzDateTime::parse(b"20240101T000000Z").unwrap();
            let signer = crate::sigv4::RequestSigner::new("AKID", b"secret", "us-east-1", datetime);
            signer.chunk_signer([3; 32])
        });
        let mut encoder = BodyEncoder::new(plan, chain);
        let mut buf = vec![0u8; buf_bytes.max(encoder.buffer_bytes_min())];
        let mut wire = Vec::new();
        loop {
            let n = encoder.fill(&mut buf);
            if n == 0 {
                break;
            }
            wire.extend_from_slice(&buf[..n]);
        }
        assert!(encoder.is_finished());
        wire
    }

    #[test]
    fn wire_length_is_what_the_encoder_writes() {
        let modes = [
            PayloadMode::Signed,
            PayloadMode::Unsigned,
            PayloadMode::StreamingSigned,
            PayloadMode::StreamingSignedTrailer,
            PayloadMode::StreamingUnsignedTrailer,
        ];
        for mode in modes {
            for len in [0u64, 1, 8191, 8192, 8193, 3 * 8192, 100_000] {
                let plan = BodyPlan {
                    mode,
                    content: Content::new(9, 200_000),
                    start: 17,
                    len,
                    chunk_bytes: 8192,
                };
                for buf in [1, 9000, 70_000] {
                    let wire = encode(plan, buf);
                    assert_eq!(wire.len() as u64, plan.wire_bytes(), "{mode:?} {len} {buf}");
                }
            }
        }
    }

    #[test]
    fn streaming_bodies_decode_to_the_content() {
        use crate::http::aws_chunked::{AwsChunkedMode, AwsChunkedStep};
        for (mode, decoder_mode) in [
            (PayloadMode::StreamingSigned, AwsChunkedMode::Signed),
            (
                PayloadMode::StreamingSignedTrailer,
                AwsChunkedMode::SignedWithTrailer,
            ),
            (
                PayloadMode::StreamingUnsignedTrailer,
                AwsChunkedMode::UnsignedWithTrailer,
            ),
        ] {
            let content = Content::new(5, 50_000);
            let plan = BodyPlan {
                mode,
                content,
                start: 0,
                len: 50_000,
                chunk_bytes: 8192,
            };
            let wire = encode(plan, 20_000);
            let mut decoder = AwsChunkedDecoder::new(decoder_mode, AwsChunkedLimits::default());
            let mut data = Vec::new();
            let mut at = 0;
            loop {
                let (consumed, step) = decoder.step(&wire[at..]).unwrap();
                let start = at;
                at += consumed;
                match step {
                    AwsChunkedStep::Data(r) => data.extend_from_slice(&wire[start..][r]),
                    AwsChunkedStep::Done => break,
                    _ => {}
                }
            }
            assert_eq!(at, wire.len(), "{mode:?}");
            content.verify(0, &data).unwrap();
            assert_eq!(data.len(), 50_000);
        }
    }
}
