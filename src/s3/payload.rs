//! A request's payload as the client signed it: the body after HTTP framing,
//! decoded from aws-chunked when the client streams, with every promise the
//! client made checked while it streams through — the signed SHA-256 of the
//! body, each chunk's signature and the trailer's, the decoded length. Also the
//! `x-amz-checksum-*` / `Content-MD5` expectations, which the object pipeline's
//! digests are compared with once the body has ended.
//!
//! Bytes are handed on before the end of the body proves them: the caller
//! must not make anything visible until `next` has returned `None` (the end
//! of the body, its length, signatures and signed hash checked) and the
//! digest claims have been checked against what the pipeline computed.
//!
//! Refusals are [`PayloadError`]s; `s3::map` turns them into S3 errors.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use std::ops::Range;

use crate::http::conn::{BodyError, Exchange};
use crate::http::{
    AwsChunkedDecoder, AwsChunkedError, AwsChunkedLimits, AwsChunkedMode, AwsChunkedStep,
};
use crate::pipeline::checksum::{ChecksumAlgorithm, ObjectDigest};
use crate::sigv4::{signature_hex, ChunkSigner, PayloadHash, SigV4Error, SigningKey, Verified};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a payload, or a claim about it, was refused.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("content-md5 is not the base64 of 16 bytes")]
    InvalidContentMd5,
    #[error("more than one checksum algorithm claimed")]
    MultipleChecksums,
    #[error("the {name} header is not a base64 digest of its algorithm")]
    InvalidChecksumHeader { name: String },
    #[error("the {name} trailer is not a base64 digest of its algorithm")]
    InvalidChecksumTrailer { name: String },
    #[error("x-amz-trailer names an unsupported field: {name}")]
    UnsupportedTrailer { name: String },
    #[error("unsupported checksum algorithm {name}")]
    UnsupportedChecksumAlgorithm { name: String },
    #[error("the trailer {name} announced in x-amz-trailer was not sent")]
    MissingTrailer { name: String },
    #[error("content-md5 does not match the body")]
    Md5Mismatch {
        claimed: [u8; 16],
        computed: [u8; 16],
    },
    #[error("the {algorithm:?} checksum does not match the body")]
    ChecksumMismatch {
        algorithm: ChecksumAlgorithm,
        claimed: Vec<u8>,
        computed: Vec<u8>,
    },
    #[error("x-amz-decoded-content-length is not a number: {value}")]
    InvalidDecodedLength { value: String },
    #[error("aws-chunked uploads need x-amz-decoded-content-length")]
    MissingDecodedLength,
    /// Over the limit: announced up front (`proposed`) or found streaming.
    #[error("the body exceeds {bytes_max} bytes")]
    TooLarge {
        proposed: Option<u64>,
        bytes_max: u64,
    },
    #[error("the body is longer than its declared length")]
    LongerThanDeclared,
    #[error("the body is longer than x-amz-decoded-content-length")]
    LongerThanDecodedLength,
    #[error("x-amz-decoded-content-length is {declared}, the body carried {carried}")]
    DecodedLengthMismatch { declared: u64, carried: u64 },
    /// The aws-chunked framing is broken.
    #[error("aws-chunked body: {0}")]
    AwsChunked(AwsChunkedError),
    /// The aws-chunked body ended before its framing did.
    #[error("aws-chunked body ended early: {0}")]
    AwsChunkedIncomplete(AwsChunkedError),
    #[error("an aws-chunked chunk carries no signature")]
    MissingChunkSignature,
    /// The signed payload hash, a chunk's or the trailer's signature.
    #[error(transparent)]
    Signature(SigV4Error),
    /// Reading the body off the connection.
    #[error(transparent)]
    Body(BodyError),
}

/// What the client says the body's digests are.
#[derive(Clone, Debug, Default)]
pub struct DigestClaims {
    /// `Content-MD5`, decoded.
    pub content_md5: Option<[u8; 16]>,
    /// The `x-amz-checksum-*` algorithm, from the header, the trailer
    /// announcement or `x-amz-sdk-checksum-algorithm`.
    pub algorithm: Option<ChecksumAlgorithm>,
    /// Its value when given as a header (a trailer's arrives at the end).
    pub value: Option<Vec<u8>>,
    /// The value arrives in the aws-chunked trailer.
    pub in_trailer: bool,
}

impl DigestClaims {
    /// Reads `Content-MD5`, `x-amz-checksum-<alg>`, `x-amz-trailer` and
    /// `x-amz-sdk-checksum-algorithm`.
    pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> Result<Self, PayloadError> {
        let mut claims = DigestClaims::default();
        if let Some(md5) = header("content-md5") {
            let bytes = B64
                .decode(md5.trim())
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or(PayloadError::InvalidContentMd5)?;
            claims.content_md5 = Some(bytes);
        }
        for algorithm in ChecksumAlgorithm::ALL {
            let name = format!("x-amz-checksum-{}", algorithm.header_name());
            if let Some(value) = header(&name) {
                if claims.algorithm.is_some() {
                    return Err(PayloadError::MultipleChecksums);
                }
                let bytes = B64
                    .decode(value.trim())
                    .ok()
                    .filter(|b| b.len() == algorithm.digest_bytes())
                    .ok_or(PayloadError::InvalidChecksumHeader { name })?;
                claims.algorithm = Some(algorithm);
                claims.value = Some(bytes);
            }
        }
        if let Some(trailer) = header("x-amz-trailer") {
            for name in trailer.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let algorithm = name
                    .strip_prefix("x-amz-checksum-")
                    .and_then(ChecksumAlgorithm::from_name)
                    .ok_or_else(|| PayloadError::UnsupportedTrailer {
                        name: name.to_string(),
                    })?;
                if claims.algorithm.is_some_and(|a| a != algorithm) || claims.in_trailer {
                    return Err(PayloadError::MultipleChecksums);
                }
                claims.algorithm = Some(algorithm);
                claims.in_trailer = true;
            }
        }
        if claims.algorithm.is_none() {
            if let Some(name) = header("x-amz-sdk-checksum-algorithm") {
                claims.algorithm = Some(
                    ChecksumAlgorithm::from_name(name.trim())
                        .ok_or(PayloadError::UnsupportedChecksumAlgorithm { name: name.clone() })?,
                );
            }
        }
        Ok(claims)
    }

    /// Compares the claims with what the pipeline computed. `trailers` are the
    /// aws-chunked trailer fields.
    pub fn check(
        &self,
        digest: &ObjectDigest,
        trailers: &[(String, String)],
    ) -> Result<(), PayloadError> {
        if let (Some(claimed), Some(computed)) = (self.content_md5, digest.md5) {
            if claimed != computed {
                return Err(PayloadError::Md5Mismatch { claimed, computed });
            }
        }
        let Some(algorithm) = self.algorithm else {
            return Ok(());
        };
        let computed = digest
            .checksum
            .as_ref()
            .filter(|c| c.algorithm == algorithm)
            .expect("the pipeline computes the claimed algorithm");
        let claimed = if self.in_trailer {
            let name = format!("x-amz-checksum-{}", algorithm.header_name());
            let value = trailers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| PayloadError::MissingTrailer { name: name.clone() })?;
            Some(
                B64.decode(value.trim())
                    .ok()
                    .filter(|b| b.len() == algorithm.digest_bytes())
                    .ok_or(PayloadError::InvalidChecksumTrailer { name })?,
            )
        } else {
            self.value.clone()
        };
        match claimed {
            Some(claimed) if claimed != computed.bytes => Err(PayloadError::ChecksumMismatch {
                algorithm,
                claimed,
                computed: computed.bytes.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// The payload of one request; call `next` until `None`, then check the
/// `DigestClaims` against the digests of what was read.
pub struct Payload {
    mode: PayloadHash,
    aws: Option<AwsChunkedDecoder>,
    chunks: Option<ChunkSigner>,
    chunk_hasher: Sha256,
    chunk_signature: Option<[u8; 32]>,
    body_hasher: Option<Sha256>,
    decoded_length: Option<u64>,
    bytes: u64,
    bytes_max: u64,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<[u8; 32]>,
}

impl Payload {
    /// `decoded_length` is `x-amz-decoded-content-length` for aws-chunked
    /// bodies and the Content-Length otherwise (`None`: chunked, unknown).
    pub fn new(
        verified: &Verified,
        signing_key: &SigningKey,
        decoded_length_header: Option<&str>,
        content_length: Option<u64>,
        bytes_max: u64,
    ) -> Result<Self, PayloadError> {
        Self::with_mode(
            verified.payload().clone(),
            verified.chunk_signer(signing_key.clone()),
            decoded_length_header,
            content_length,
            bytes_max,
        )
    }

    /// [`Payload::new`] for a payload mode and its chunk signature chain.
    fn with_mode(
        mode: PayloadHash,
        chunks: Option<ChunkSigner>,
        decoded_length_header: Option<&str>,
        content_length: Option<u64>,
        bytes_max: u64,
    ) -> Result<Self, PayloadError> {
        let aws_mode = match mode {
            PayloadHash::StreamingSigned => Some(AwsChunkedMode::Signed),
            PayloadHash::StreamingSignedTrailer => Some(AwsChunkedMode::SignedWithTrailer),
            PayloadHash::StreamingUnsignedTrailer => Some(AwsChunkedMode::UnsignedWithTrailer),
            _ => None,
        };
        let decoded_length = match (aws_mode, decoded_length_header) {
            (Some(_), Some(value)) => Some(value.trim().parse::<u64>().map_err(|_| {
                PayloadError::InvalidDecodedLength {
                    value: value.to_string(),
                }
            })?),
            (Some(_), None) => return Err(PayloadError::MissingDecodedLength),
            (None, _) => content_length,
        };
        if let Some(proposed) = decoded_length.filter(|&n| n > bytes_max) {
            return Err(PayloadError::TooLarge {
                proposed: Some(proposed),
                bytes_max,
            });
        }
        Ok(Self {
            aws: aws_mode.map(|m| AwsChunkedDecoder::new(m, AwsChunkedLimits::default())),
            chunks,
            body_hasher: matches!(mode, PayloadHash::Sha256 { .. }).then(Sha256::new),
            mode,
            chunk_hasher: Sha256::new(),
            chunk_signature: None,
            decoded_length,
            bytes: 0,
            bytes_max,
            trailers: Vec::new(),
            trailer_signature: None,
        })
    }

    /// Counts `n` more payload bytes: first against the limit, then against
    /// the declared length. Both body paths (plain and aws-chunked) count
    /// here, so a body over the limit gets one answer whatever its framing.
    fn count(&mut self, n: usize) -> Result<(), PayloadError> {
        self.bytes += n as u64;
        if self.bytes > self.bytes_max {
            return Err(PayloadError::TooLarge {
                proposed: None,
                bytes_max: self.bytes_max,
            });
        }
        if self.decoded_length.is_some_and(|n| self.bytes > n) {
            return Err(if self.aws.is_some() {
                PayloadError::LongerThanDecodedLength
            } else {
                PayloadError::LongerThanDeclared
            });
        }
        Ok(())
    }

    /// A run of a plain (length-framed or chunked) body.
    fn plain_data(&mut self, data: &[u8]) -> Result<(), PayloadError> {
        self.count(data.len())?;
        if let Some(h) = &mut self.body_hasher {
            h.update(data);
        }
        Ok(())
    }

    /// The next run of payload bytes; `None` once the body has ended and every
    /// check that can be made before the caller's own passed.
    pub async fn next<'e>(
        &mut self,
        ex: &'e mut Exchange<'_>,
    ) -> Result<Option<&'e [u8]>, PayloadError> {
        if self.aws.is_none() {
            return match ex.body_chunk().await.map_err(PayloadError::Body)? {
                Some(data) => {
                    self.plain_data(data)?;
                    Ok(Some(data))
                }
                None => {
                    self.end_plain()?;
                    Ok(None)
                }
            };
        }
        loop {
            if !ex.body_fill().await.map_err(PayloadError::Body)? {
                self.end_aws_chunked()?;
                return Ok(None);
            }
            match self.aws_step(ex.body_available())? {
                (used, Some(data)) => return Ok(Some(ex.body_take(used, data))),
                (used, None) => {
                    ex.body_take(used, 0..0);
                }
            }
        }
    }

    /// One step of the aws-chunked decoder over the body bytes `available`:
    /// how many it used, and which of them are payload (counted and hashed
    /// already), if any.
    fn aws_step(
        &mut self,
        available: &[u8],
    ) -> Result<(usize, Option<Range<usize>>), PayloadError> {
        let decoder = self.aws.as_mut().expect("aws-chunked payload");
        let (used, step) = decoder.step(available).map_err(PayloadError::AwsChunked)?;
        match step {
            AwsChunkedStep::Data(range) => {
                self.count(range.len())?;
                if self.chunks.is_some() {
                    self.chunk_hasher.update(&available[range.clone()]);
                }
                return Ok((used, Some(range)));
            }
            AwsChunkedStep::ChunkStart { signature, .. } => {
                self.chunk_signature = signature;
                self.chunk_hasher = Sha256::new();
            }
            AwsChunkedStep::ChunkEnd => {
                if let Some(chain) = &mut self.chunks {
                    let hash: [u8; 32] = std::mem::replace(&mut self.chunk_hasher, Sha256::new())
                        .finalize()
                        .into();
                    let signature = self
                        .chunk_signature
                        .take()
                        .ok_or(PayloadError::MissingChunkSignature)?;
                    chain
                        .verify_chunk(&hash, &signature)
                        .map_err(PayloadError::Signature)?;
                }
            }
            AwsChunkedStep::Trailer { name, value } => self.trailers.push((name, value)),
            AwsChunkedStep::TrailerSignature(signature) => {
                self.trailer_signature = Some(signature);
            }
            AwsChunkedStep::NeedMore | AwsChunkedStep::Done => {}
        }
        Ok((used, None))
    }

    fn end_plain(&mut self) -> Result<(), PayloadError> {
        if let (Some(hasher), PayloadHash::Sha256 { .. }) = (self.body_hasher.take(), &self.mode) {
            let digest: [u8; 32] = hasher.finalize().into();
            self.mode
                .check_body(&digest)
                .map_err(PayloadError::Signature)?;
        }
        Ok(())
    }

    fn end_aws_chunked(&mut self) -> Result<(), PayloadError> {
        let decoder = self.aws.as_ref().expect("aws-chunked payload");
        decoder
            .finish()
            .map_err(PayloadError::AwsChunkedIncomplete)?;
        if let Some(declared) = self.decoded_length {
            if declared != self.bytes {
                return Err(PayloadError::DecodedLengthMismatch {
                    declared,
                    carried: self.bytes,
                });
            }
        }
        if matches!(self.mode, PayloadHash::StreamingSignedTrailer) {
            let chain = self.chunks.as_ref().expect("signed mode has a chain");
            let signature = self
                .trailer_signature
                .ok_or(PayloadError::Signature(SigV4Error::MissingTrailerSignature))?;
            let mut trailer = decoder.trailers_canonical().to_vec();
            trailer.extend_from_slice(b"x-amz-trailer-signature:");
            trailer.extend_from_slice(signature_hex(&signature).as_bytes());
            trailer.push(b'\n');
            chain
                .verify_trailer(&trailer)
                .map_err(PayloadError::Signature)?;
        }
        Ok(())
    }

    /// The aws-chunked trailer fields (names lowercase).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::{S3Error, S3ErrorCode};
    use crate::s3::map;

    const LIMIT: u64 = 100;

    fn plain(content_length: Option<u64>) -> Result<Payload, PayloadError> {
        Payload::with_mode(PayloadHash::Unsigned, None, None, content_length, LIMIT)
    }

    fn aws_chunked(decoded_length: &str) -> Result<Payload, PayloadError> {
        let mode = PayloadHash::StreamingUnsignedTrailer;
        Payload::with_mode(mode, None, Some(decoded_length), None, LIMIT)
    }

    /// Runs `encoded` through the aws-chunked path to its end.
    fn feed_aws_chunked(payload: &mut Payload, mut encoded: &[u8]) -> Result<(), PayloadError> {
        while !encoded.is_empty() {
            let (used, _) = payload.aws_step(encoded)?;
            if used == 0 {
                break;
            }
            encoded = &encoded[used..];
        }
        payload.end_aws_chunked()
    }

    /// An aws-chunked body of `chunks` chunks of 60 bytes each.
    fn encoded(chunks: usize) -> Vec<u8> {
        let mut body = Vec::new();
        for _ in 0..chunks {
            body.extend_from_slice(b"3c\r\n");
            body.extend_from_slice(&[b'x'; 60]);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        body
    }

    /// Story: the plain path counted streamed bytes against the limit and
    /// answered `EntityTooLarge` with `MaxSizeAllowed`; the aws-chunked path
    /// folded the limit into its declared-length check and answered
    /// `IncompleteBody`. Consequence: one limit, two answers, depending on how
    /// the client framed its body (and a small XML body over its limit got
    /// `MaxMessageLengthExceeded` or `IncompleteBody` likewise). Fix: both
    /// paths count through `Payload::count`, the limit first.
    #[test]
    fn both_body_paths_answer_an_over_limit_body_alike() {
        // Announced up front: Content-Length, or x-amz-decoded-content-length.
        let announced_plain = map::payload_error(plain(Some(LIMIT + 1)).err().unwrap());
        let announced_aws = map::payload_error(aws_chunked("101").err().unwrap());
        assert_eq!(announced_plain, announced_aws);
        assert_eq!(announced_plain.code(), S3ErrorCode::EntityTooLarge);
        assert_eq!(
            announced_plain.message(),
            S3ErrorCode::EntityTooLarge.default_message()
        );
        assert_eq!(
            announced_plain.fields(),
            &[
                ("ProposedSize", "101".to_string()),
                ("MaxSizeAllowed", "100".to_string())
            ]
        );

        // Found while streaming: a chunked body without a length, and an
        // aws-chunked body longer than the limit it declared.
        let mut payload = plain(None).unwrap();
        payload.plain_data(&[b'x'; 60]).unwrap();
        let streamed_plain = payload.plain_data(&[b'x'; 60]).err().unwrap();
        let mut payload = aws_chunked("100").unwrap();
        let streamed_aws = feed_aws_chunked(&mut payload, &encoded(2)).err().unwrap();
        assert!(matches!(
            streamed_aws,
            PayloadError::TooLarge { proposed: None, .. }
        ));
        let streamed_plain = map::payload_error(streamed_plain);
        let streamed_aws = map::payload_error(streamed_aws);
        assert_eq!(streamed_plain, streamed_aws);
        assert_eq!(streamed_plain.code(), S3ErrorCode::EntityTooLarge);
        assert_eq!(
            streamed_plain.fields(),
            &[("MaxSizeAllowed", "100".to_string())]
        );

        // A small XML body over its limit: the same rewrite on both paths.
        for error in [
            plain(Some(LIMIT + 1)).err().unwrap(),
            aws_chunked("101").err().unwrap(),
            feed_aws_chunked(&mut aws_chunked("100").unwrap(), &encoded(2))
                .err()
                .unwrap(),
        ] {
            let error = map::small_body_error(error);
            assert_eq!(error, S3Error::new(S3ErrorCode::MaxMessageLengthExceeded));
        }

        // Within the limit both paths take the body; past its declared length
        // the aws-chunked one still says so.
        let mut payload = aws_chunked("60").unwrap();
        feed_aws_chunked(&mut payload, &encoded(1)).unwrap();
        let mut payload = aws_chunked("50").unwrap();
        let longer = feed_aws_chunked(&mut payload, &encoded(1)).err().unwrap();
        assert_eq!(
            map::payload_error(longer).code(),
            S3ErrorCode::IncompleteBody
        );
    }
}
