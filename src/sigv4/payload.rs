//! `PayloadHash`: what `x-amz-content-sha256` promises about the body, which
//! is also the last line of the canonical request, verbatim.

use super::error::SigV4Error;
use super::text::{excerpt, signature_from_hex, signature_hex, trim_ows};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// SigV4a streaming modes: known to S3, refused here as unsupported rather
/// than invalid, so the client learns the server's limits, not that it erred.
const STREAMING_ECDSA: [&str; 2] = [
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
];

/// The body's integrity promise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadHash {
    /// The whole body's SHA-256, checked once the body is read. `literal` is
    /// the header as sent (hex of either case), since the canonical request
    /// carries it verbatim.
    Sha256 { digest: [u8; 32], literal: String },
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned, with a
    /// trailer (usually an `x-amz-checksum-*`).
    StreamingUnsignedTrailer,
}

impl PayloadHash {
    /// Parses an `x-amz-content-sha256` value (surrounding whitespace ignored).
    pub fn parse(value: &[u8]) -> Result<Self, SigV4Error> {
        let value = trim_ows(value);
        let known = [
            (UNSIGNED_PAYLOAD, Self::Unsigned),
            (STREAMING_SIGNED, Self::StreamingSigned),
            (STREAMING_SIGNED_TRAILER, Self::StreamingSignedTrailer),
            (STREAMING_UNSIGNED_TRAILER, Self::StreamingUnsignedTrailer),
        ];
        if let Some((_, mode)) = known.into_iter().find(|(name, _)| name.as_bytes() == value) {
            return Ok(mode);
        }
        if STREAMING_ECDSA.iter().any(|name| name.as_bytes() == value) {
            return Err(SigV4Error::UnsupportedPayloadMode {
                value: excerpt(value),
            });
        }
        match signature_from_hex(value) {
            Some(digest) => Ok(Self::Sha256 {
                digest,
                // Checked above: 64 ASCII hex digits, so never the lossy branch.
                literal: std::str::from_utf8(value).map_or_else(
                    |_| String::from_utf8_lossy(value).into_owned(),
                    str::to_owned,
                ),
            }),
            None => Err(SigV4Error::InvalidContentSha256 {
                value: excerpt(value),
            }),
        }
    }

    /// A body's digest, as a client signs it (lowercase hex).
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self::Sha256 {
            digest,
            literal: signature_hex(&digest),
        }
    }

    /// The canonical request's last line.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sha256 { literal, .. } => literal,
            Self::Unsigned => UNSIGNED_PAYLOAD,
            Self::StreamingSigned => STREAMING_SIGNED,
            Self::StreamingSignedTrailer => STREAMING_SIGNED_TRAILER,
            Self::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER,
        }
    }

    /// Whether the body is aws-chunked.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// Whether every chunk carries a `chunk-signature` to verify.
    pub fn has_chunk_signatures(&self) -> bool {
        matches!(self, Self::StreamingSigned | Self::StreamingSignedTrailer)
    }

    /// Whether the body ends with trailing headers.
    pub fn has_trailer(&self) -> bool {
        matches!(
            self,
            Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// Checks a fully read body's SHA-256 against the promised one; every
    /// other mode has nothing to check here (chunks are checked one by one).
    pub fn check_body(&self, body_sha256: &[u8; 32]) -> Result<(), SigV4Error> {
        match self {
            Self::Sha256 { digest, .. } if digest != body_sha256 => {
                Err(SigV4Error::ContentSha256Mismatch {
                    expected: signature_hex(digest),
                    calculated: signature_hex(body_sha256),
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EMPTY: &str = super::super::EMPTY_SHA256_HEX;

    fn check(value: &str, expected: Result<(&str, bool), SigV4Error>) {
        let got =
            PayloadHash::parse(value.as_bytes()).map(|p| (p.as_str().to_owned(), p.is_streaming()));
        assert_eq!(
            got,
            expected.map(|(s, streaming)| (s.to_owned(), streaming)),
            "{value:?}"
        );
    }

    #[test]
    fn parse() {
        check(EMPTY, Ok((EMPTY, false)));
        check(&format!(" {EMPTY}\t"), Ok((EMPTY, false)));
        let upper = EMPTY.to_ascii_uppercase();
        check(&upper, Ok((&upper, false)));
        check("UNSIGNED-PAYLOAD", Ok(("UNSIGNED-PAYLOAD", false)));
        check(
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Ok(("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", true)),
        );
        check(
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Ok(("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", true)),
        );
        check(
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            Ok(("STREAMING-UNSIGNED-PAYLOAD-TRAILER", true)),
        );
        for ecdsa in STREAMING_ECDSA {
            check(
                ecdsa,
                Err(SigV4Error::UnsupportedPayloadMode {
                    value: ecdsa.into(),
                }),
            );
        }
        for bad in [
            "",
            "unsigned-payload",
            "STREAMING-UNSIGNED-PAYLOAD",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILERS",
            &EMPTY[1..],
            &format!("{EMPTY}0"),
            &format!("{}g", &EMPTY[1..]),
            &format!("{} ", &EMPTY[..32]),
        ] {
            check(
                bad,
                Err(SigV4Error::InvalidContentSha256 {
                    value: bad.trim().into(),
                }),
            );
        }
    }

    #[test]
    fn check_body() {
        let p = PayloadHash::parse(EMPTY.as_bytes()).unwrap();
        let empty: [u8; 32] = signature_from_hex(EMPTY.as_bytes()).unwrap();
        assert_eq!(p.check_body(&empty), Ok(()));
        assert_eq!(
            p.check_body(&[0; 32]),
            Err(SigV4Error::ContentSha256Mismatch {
                expected: EMPTY.into(),
                calculated: "00".repeat(32)
            })
        );
        assert_eq!(PayloadHash::Unsigned.check_body(&[0; 32]), Ok(()));
        assert_eq!(PayloadHash::from_digest(empty), p);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = PayloadHash::parse(&bytes);
        }
    }
}
