//! A request's payload as the client signed it: the body after HTTP framing,
//! decoded from aws-chunked when the client streams, with every promise the
//! client made checked while it streams through — the signed SHA-256 of the
//! body, each chunk's signature and the trailer's, the decoded length. Also the
//! `x-amz-checksum-*` / `Content-MD5` expectations, which the object pipeline's
//! digests are compared with once the body has ended.
//!
//! Bytes are handed on before the end of the body proves them: the caller
//! must not make anything visible until `finish` succeeds.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::http::conn::Exchange;
use crate::http::{AwsChunkedDecoder, AwsChunkedLimits, AwsChunkedMode, AwsChunkedStep};
use crate::pipeline::checksum::{ChecksumAlgorithm, ObjectDigest};
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::map;
use crate::sigv4::{signature_hex, ChunkSigner, PayloadHash, SigningKey, Verified};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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
    pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> Result<Self, S3Error> {
        let mut claims = DigestClaims::default();
        if let Some(md5) = header("content-md5") {
            let bytes = B64
                .decode(md5.trim())
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or_else(|| S3Error::new(C::InvalidDigest))?;
            claims.content_md5 = Some(bytes);
        }
        for algorithm in ChecksumAlgorithm::ALL {
            let name = format!("x-amz-checksum-{}", algorithm.header_name());
            if let Some(value) = header(&name) {
                if claims.algorithm.is_some() {
                    return Err(S3Error::invalid_request(
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
                let bytes = B64
                    .decode(value.trim())
                    .ok()
                    .filter(|b| b.len() == algorithm.digest_bytes())
                    .ok_or_else(|| {
                        S3Error::invalid_request(format!("Value for {name} header is invalid."))
                    })?;
                claims.algorithm = Some(algorithm);
                claims.value = Some(bytes);
            }
        }
        if let Some(trailer) = header("x-amz-trailer") {
            for name in trailer.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let algorithm = name
                    .strip_prefix("x-amz-checksum-")
                    .and_then(ChecksumAlgorithm::from_name)
                    .ok_or_else(|| {
                        S3Error::invalid_request(format!(
                            "The value specified in the x-amz-trailer header is not supported: {name}"
                        ))
                    })?;
                if claims.algorithm.is_some_and(|a| a != algorithm) || claims.in_trailer {
                    return Err(S3Error::invalid_request(
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
                claims.algorithm = Some(algorithm);
                claims.in_trailer = true;
            }
        }
        if claims.algorithm.is_none() {
            if let Some(name) = header("x-amz-sdk-checksum-algorithm") {
                claims.algorithm =
                    Some(ChecksumAlgorithm::from_name(name.trim()).ok_or_else(|| {
                        S3Error::invalid_request(format!(
                            "Checksum algorithm {name} is not supported"
                        ))
                    })?);
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
    ) -> Result<(), S3Error> {
        if let (Some(want), Some(got)) = (self.content_md5, digest.md5) {
            if want != got {
                return Err(S3Error::bad_digest(&B64.encode(want), &B64.encode(got)));
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
                .ok_or_else(|| {
                    S3Error::invalid_request(format!(
                        "The trailer {name} announced in x-amz-trailer was not sent"
                    ))
                })?;
            Some(
                B64.decode(value.trim())
                    .ok()
                    .filter(|b| b.len() == algorithm.digest_bytes())
                    .ok_or_else(|| {
                        S3Error::invalid_request(format!("Value for {name} trailer is invalid."))
                    })?,
            )
        } else {
            self.value.clone()
        };
        match claimed {
            Some(claimed) if claimed != computed.bytes => Err(S3Error::with_message(
                C::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    algorithm.header_name().to_ascii_uppercase()
                ),
            )
            .field("ExpectedDigest", B64.encode(&claimed))
            .field("CalculatedDigest", B64.encode(&computed.bytes))),
            _ => Ok(()),
        }
    }
}

/// The payload of one request; call `next` until `None`, then `finish`.
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
    ) -> Result<Self, S3Error> {
        let mode = verified.payload().clone();
        let aws_mode = match mode {
            PayloadHash::StreamingSigned => Some(AwsChunkedMode::Signed),
            PayloadHash::StreamingSignedTrailer => Some(AwsChunkedMode::SignedWithTrailer),
            PayloadHash::StreamingUnsignedTrailer => Some(AwsChunkedMode::UnsignedWithTrailer),
            _ => None,
        };
        let decoded_length = match (aws_mode, decoded_length_header) {
            (Some(_), Some(value)) => Some(value.trim().parse::<u64>().map_err(|_| {
                S3Error::invalid_argument(
                    "x-amz-decoded-content-length is not a number",
                    "x-amz-decoded-content-length",
                    value,
                )
            })?),
            (Some(_), None) => {
                return Err(S3Error::with_message(
                    C::MissingContentLength,
                    "aws-chunked uploads need x-amz-decoded-content-length",
                ))
            }
            (None, _) => content_length,
        };
        if decoded_length.is_some_and(|n| n > bytes_max) {
            return Err(S3Error::new(C::EntityTooLarge)
                .field("ProposedSize", decoded_length.unwrap_or(0).to_string())
                .field("MaxSizeAllowed", bytes_max.to_string()));
        }
        Ok(Self {
            aws: aws_mode.map(|m| AwsChunkedDecoder::new(m, AwsChunkedLimits::default())),
            chunks: verified.chunk_signer(signing_key.clone()),
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

    /// Payload bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The decoded length the client announced, if any.
    pub fn declared_length(&self) -> Option<u64> {
        self.decoded_length
    }

    fn count(&mut self, n: usize) -> Result<(), S3Error> {
        self.bytes += n as u64;
        if self.bytes > self.bytes_max {
            return Err(
                S3Error::new(C::EntityTooLarge).field("MaxSizeAllowed", self.bytes_max.to_string())
            );
        }
        if self.decoded_length.is_some_and(|n| self.bytes > n) {
            return Err(S3Error::with_message(
                C::IncompleteBody,
                "the body is longer than its declared length",
            ));
        }
        Ok(())
    }

    /// The next run of payload bytes; `None` once the body has ended and every
    /// check that can be made before the caller's own passed.
    pub async fn next<'e>(
        &mut self,
        ex: &'e mut Exchange<'_>,
    ) -> Result<Option<&'e [u8]>, S3Error> {
        if self.aws.is_none() {
            return match ex.body_chunk().await.map_err(map::body_error)? {
                Some(data) => {
                    self.count(data.len())?;
                    if let Some(h) = &mut self.body_hasher {
                        h.update(data);
                    }
                    Ok(Some(data))
                }
                None => {
                    self.end_plain()?;
                    Ok(None)
                }
            };
        }
        loop {
            if !ex.body_fill().await.map_err(map::body_error)? {
                self.end_aws_chunked()?;
                return Ok(None);
            }
            let decoder = self.aws.as_mut().expect("aws-chunked payload");
            let (used, step) = decoder
                .step(ex.body_available())
                .map_err(|e| S3Error::invalid_request(format!("aws-chunked body: {e}")))?;
            match step {
                AwsChunkedStep::Data(range) => {
                    let data = ex.body_take(used, range);
                    self.bytes += data.len() as u64;
                    if self.bytes > self.bytes_max
                        || self.decoded_length.is_some_and(|n| self.bytes > n)
                    {
                        return Err(S3Error::with_message(
                            C::IncompleteBody,
                            "the body is longer than x-amz-decoded-content-length",
                        ));
                    }
                    if self.chunks.is_some() {
                        self.chunk_hasher.update(data);
                    }
                    return Ok(Some(data));
                }
                AwsChunkedStep::ChunkStart { signature, .. } => {
                    ex.body_take(used, 0..0);
                    self.chunk_signature = signature;
                    self.chunk_hasher = Sha256::new();
                }
                AwsChunkedStep::ChunkEnd => {
                    ex.body_take(used, 0..0);
                    if let Some(chain) = &mut self.chunks {
                        let hash: [u8; 32] =
                            std::mem::replace(&mut self.chunk_hasher, Sha256::new())
                                .finalize()
                                .into();
                        let signature = self
                            .chunk_signature
                            .take()
                            .ok_or_else(|| S3Error::new(C::SignatureDoesNotMatch))?;
                        chain
                            .verify_chunk(&hash, &signature)
                            .map_err(map::sigv4_error)?;
                    }
                }
                AwsChunkedStep::Trailer { name, value } => {
                    ex.body_take(used, 0..0);
                    self.trailers.push((name, value));
                }
                AwsChunkedStep::TrailerSignature(signature) => {
                    ex.body_take(used, 0..0);
                    self.trailer_signature = Some(signature);
                }
                AwsChunkedStep::NeedMore | AwsChunkedStep::Done => {
                    ex.body_take(used, 0..0);
                }
            }
        }
    }

    fn end_plain(&mut self) -> Result<(), S3Error> {
        if let (Some(hasher), PayloadHash::Sha256 { .. }) = (self.body_hasher.take(), &self.mode) {
            let digest: [u8; 32] = hasher.finalize().into();
            self.mode.check_body(&digest).map_err(map::sigv4_error)?;
        }
        Ok(())
    }

    fn end_aws_chunked(&mut self) -> Result<(), S3Error> {
        let decoder = self.aws.as_ref().expect("aws-chunked payload");
        decoder.finish().map_err(|e| {
            S3Error::with_message(C::IncompleteBody, format!("aws-chunked body: {e}"))
        })?;
        if let Some(n) = self.decoded_length {
            if n != self.bytes {
                return Err(S3Error::with_message(
                    C::IncompleteBody,
                    format!(
                        "x-amz-decoded-content-length is {n}, the body carried {}",
                        self.bytes
                    ),
                ));
            }
        }
        if matches!(self.mode, PayloadHash::StreamingSignedTrailer) {
            let chain = self.chunks.as_ref().expect("signed mode has a chain");
            let signature = self.trailer_signature.ok_or_else(|| {
                map::sigv4_error(crate::sigv4::SigV4Error::MissingTrailerSignature)
            })?;
            let mut trailer = decoder.trailers_canonical().to_vec();
            trailer.extend_from_slice(b"x-amz-trailer-signature:");
            trailer.extend_from_slice(signature_hex(&signature).as_bytes());
            trailer.push(b'\n');
            chain.verify_trailer(&trailer).map_err(map::sigv4_error)?;
        }
        Ok(())
    }

    /// The aws-chunked trailer fields (names lowercase).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }
}
