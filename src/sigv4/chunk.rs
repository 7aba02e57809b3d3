//! The signature chain of an aws-chunked body: each chunk's signature signs
//! the previous signature and the chunk's SHA-256; the trailer's signs the
//! last chunk's signature and the SHA-256 of the canonical trailer. The body
//! decoder feeds hashes and raw trailer bytes; no body passes through here.
//!
//! ```text
//! chunk:   AWS4-HMAC-SHA256-PAYLOAD\n<time>\n<scope>\n<previous>\n<sha256("")>\n<sha256(chunk data)>
//! trailer: AWS4-HMAC-SHA256-TRAILER\n<time>\n<scope>\n<previous>\n<sha256(canonical trailer)>
//! ```
//!
//! The canonical trailer is what the AWS SDKs sign (the Kotlin and .NET SDKs
//! sort and canonicalise trailing headers this way; the AWS trailer example
//! checks the one-header case): every trailing header but
//! `x-amz-trailer-signature`, sorted by lowercase name, as `name:value\n`
//! with the value trimmed like a signed header's, repeats joined with `,`.
//! Note `\n`, not the `\r\n` of the wire.

use sha2::{Digest, Sha256};

use super::auth::Scope;
use super::constants::EMPTY_SHA256_HEX;
use super::date::AmzDateTime;
use super::error::SigV4Error;
use super::key::{mac_matches, sign, SigningKey};
use super::text::{is_ows, signature_from_hex, signature_hex, trim_ows};

const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";
const TRAILER_SIGNATURE: &[u8] = b"x-amz-trailer-signature";

/// One request's chain of chunk signatures, on either side: the client signs
/// with [`Self::sign_chunk`], the server checks with [`Self::verify_chunk`].
#[derive(Clone, Debug)]
pub struct ChunkSigner {
    key: SigningKey,
    datetime: AmzDateTime,
    scope: String,
    previous: [u8; 32],
    chunk_index: u64,
}

impl ChunkSigner {
    /// `seed_signature` is the request's own signature.
    pub fn new(
        key: SigningKey,
        datetime: AmzDateTime,
        scope: &Scope,
        seed_signature: [u8; 32],
    ) -> Self {
        Self {
            key,
            datetime,
            scope: scope.to_string(),
            previous: seed_signature,
            chunk_index: 0,
        }
    }

    /// Chunks signed or verified so far.
    pub fn chunk_index(&self) -> u64 {
        self.chunk_index
    }

    pub fn chunk_string_to_sign(&self, chunk_sha256: &[u8; 32]) -> String {
        format!(
            "{CHUNK_ALGORITHM}\n{}\n{}\n{}\n{EMPTY_SHA256_HEX}\n{}",
            self.datetime,
            self.scope,
            signature_hex(&self.previous),
            signature_hex(chunk_sha256)
        )
    }

    /// Signs the next chunk (the final, empty one included) and moves on.
    pub fn sign_chunk(&mut self, chunk_sha256: &[u8; 32]) -> [u8; 32] {
        let signature = sign(&self.key, &self.chunk_string_to_sign(chunk_sha256));
        self.advance(signature);
        signature
    }

    /// Checks the next chunk's signature in constant time; moves on only if it
    /// matches, since a broken chain cannot be resumed.
    pub fn verify_chunk(
        &mut self,
        chunk_sha256: &[u8; 32],
        signature: &[u8; 32],
    ) -> Result<(), SigV4Error> {
        if !mac_matches(
            &self.key,
            self.chunk_string_to_sign(chunk_sha256).as_bytes(),
            signature,
        ) {
            return Err(SigV4Error::ChunkSignatureDoesNotMatch {
                chunk_index: self.chunk_index,
            });
        }
        self.advance(*signature);
        Ok(())
    }

    fn advance(&mut self, signature: [u8; 32]) {
        self.previous = signature;
        self.chunk_index += 1;
    }

    /// The trailer's string to sign; `trailer` is the raw trailer section
    /// (any `x-amz-trailer-signature` line in it is left out).
    pub fn trailer_string_to_sign(&self, trailer: &[u8]) -> Result<String, SigV4Error> {
        let canonical = canonical_trailer(trailer)?;
        Ok(format!(
            "{TRAILER_ALGORITHM}\n{}\n{}\n{}\n{}",
            self.datetime,
            self.scope,
            signature_hex(&self.previous),
            signature_hex(&Sha256::digest(&canonical))
        ))
    }

    /// The trailer's signature, for the client's `x-amz-trailer-signature`.
    pub fn sign_trailer(&self, trailer: &[u8]) -> Result<[u8; 32], SigV4Error> {
        Ok(sign(&self.key, &self.trailer_string_to_sign(trailer)?))
    }

    /// Checks the `x-amz-trailer-signature` the raw trailer carries, in
    /// constant time.
    pub fn verify_trailer(&self, trailer: &[u8]) -> Result<(), SigV4Error> {
        let mut claimed = None;
        for (name, value) in trailer_fields(trailer)? {
            if name.eq_ignore_ascii_case(TRAILER_SIGNATURE) {
                if claimed.is_some() {
                    return Err(SigV4Error::MalformedTrailer {
                        reason: "x-amz-trailer-signature given more than once",
                    });
                }
                claimed = Some(
                    signature_from_hex(value).ok_or(SigV4Error::MalformedTrailer {
                        reason: "x-amz-trailer-signature is not 64 hex digits",
                    })?,
                );
            }
        }
        let claimed = claimed.ok_or(SigV4Error::MissingTrailerSignature)?;
        if mac_matches(
            &self.key,
            self.trailer_string_to_sign(trailer)?.as_bytes(),
            &claimed,
        ) {
            Ok(())
        } else {
            Err(SigV4Error::TrailerSignatureDoesNotMatch)
        }
    }
}

/// The bytes whose SHA-256 the trailer signature signs (see the module doc).
/// `trailer` is the raw trailer section: `name:value` lines ending in `\r\n`
/// or `\n` (the last may lack it), blank lines ignored.
pub fn canonical_trailer(trailer: &[u8]) -> Result<Vec<u8>, SigV4Error> {
    let mut fields: Vec<(Vec<u8>, &[u8])> = trailer_fields(trailer)?
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case(TRAILER_SIGNATURE))
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    // Stable: repeated names keep their order, as for request headers.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(trailer.len());
    for (i, (name, value)) in fields.iter().enumerate() {
        let repeat = i > 0 && fields[i - 1].0 == *name;
        if repeat {
            out.push(b',');
        } else {
            if i > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(name);
            out.push(b':');
        }
        push_collapsed(&mut out, value);
    }
    if !fields.is_empty() {
        out.push(b'\n');
    }
    Ok(out)
}

fn push_collapsed(out: &mut Vec<u8>, value: &[u8]) {
    let mut in_space = false;
    for &b in value {
        if is_ows(b) {
            in_space = true;
        } else {
            if in_space {
                out.push(b' ');
                in_space = false;
            }
            out.push(b);
        }
    }
}

/// A trailer line's name and trimmed value.
type TrailerField<'a> = (&'a [u8], &'a [u8]);

/// One field per non-blank line.
fn trailer_fields(trailer: &[u8]) -> Result<Vec<TrailerField<'_>>, SigV4Error> {
    let mut fields = Vec::new();
    for line in trailer.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(SigV4Error::MalformedTrailer {
                reason: "a trailer line has no colon",
            })?;
        let name = &line[..colon];
        if name.is_empty()
            || !name
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(SigV4Error::MalformedTrailer {
                reason: "a trailer name is not a header name",
            });
        }
        let value = trim_ows(&line[colon + 1..]);
        if value.contains(&b'\r') {
            return Err(SigV4Error::MalformedTrailer {
                reason: "a trailer value holds a bare carriage return",
            });
        }
        fields.push((name, value));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(trailer: &str, expected: Result<&str, SigV4Error>) {
        let got = canonical_trailer(trailer.as_bytes()).map(|c| String::from_utf8(c).unwrap());
        assert_eq!(got, expected.map(String::from), "{trailer:?}");
    }

    #[test]
    fn canonical_trailers() {
        check("", Ok(""));
        check("\r\n", Ok(""));
        check(
            "x-amz-checksum-crc32c:sOO8/Q==\r\n",
            Ok("x-amz-checksum-crc32c:sOO8/Q==\n"),
        );
        check(
            "x-amz-checksum-crc32c:sOO8/Q==",
            Ok("x-amz-checksum-crc32c:sOO8/Q==\n"),
        );
        check(
            "X-Amz-Checksum-CRC32C:  sOO8/Q==  \r\nx-amz-trailer-signature:00\r\n\r\n",
            Ok("x-amz-checksum-crc32c:sOO8/Q==\n"),
        );
        check("x-amz-trailer-signature:00\r\n", Ok(""));
        check("b:2\nA:1\nb:3  x\n", Ok("a:1\nb:2,3 x\n"));
        check(
            "x-amz-checksum-sha256\r\n",
            Err(SigV4Error::MalformedTrailer {
                reason: "a trailer line has no colon",
            }),
        );
        check(
            ":v\r\n",
            Err(SigV4Error::MalformedTrailer {
                reason: "a trailer name is not a header name",
            }),
        );
        check(
            "a b:v\r\n",
            Err(SigV4Error::MalformedTrailer {
                reason: "a trailer name is not a header name",
            }),
        );
        check(
            "a:v\rw\n",
            Err(SigV4Error::MalformedTrailer {
                reason: "a trailer value holds a bare carriage return",
            }),
        );
    }

    fn signer() -> ChunkSigner {
        let datetime = AmzDateTime::parse(b"20130524T000000Z").unwrap();
        let key = super::super::signing_key(b"secret", "20130524", "us-east-1", "s3");
        ChunkSigner::new(key, datetime, &Scope::new(datetime, "us-east-1"), [7; 32])
    }

    #[test]
    fn chain_round_trips_and_stops_at_a_break() {
        let (mut client, mut server) = (signer(), signer());
        let hashes = [[1u8; 32], [2; 32], Sha256::digest(b"").into()];
        for (i, h) in hashes.iter().enumerate() {
            let sig = client.sign_chunk(h);
            assert_eq!(server.verify_chunk(h, &sig), Ok(()), "chunk {i}");
        }
        let trailer = b"x-amz-checksum-crc32c:sOO8/Q==\r\n";
        let sig = client.sign_trailer(trailer).unwrap();
        let mut wire = trailer.to_vec();
        wire.extend_from_slice(
            format!("x-amz-trailer-signature:{}\r\n\r\n", signature_hex(&sig)).as_bytes(),
        );
        assert_eq!(server.verify_trailer(&wire), Ok(()));
        let tampered = String::from_utf8(wire.clone())
            .unwrap()
            .replace("sOO8", "sOO9");
        assert_eq!(
            server.verify_trailer(tampered.as_bytes()),
            Err(SigV4Error::TrailerSignatureDoesNotMatch)
        );
        assert_eq!(
            server.verify_trailer(trailer),
            Err(SigV4Error::MissingTrailerSignature)
        );

        let (mut client, mut server) = (signer(), signer());
        let sig = client.sign_chunk(&[1; 32]);
        assert_eq!(
            server.verify_chunk(&[9; 32], &sig),
            Err(SigV4Error::ChunkSignatureDoesNotMatch { chunk_index: 0 })
        );
        // The failed check did not move the chain: the right chunk still verifies.
        assert_eq!(server.verify_chunk(&[1; 32], &sig), Ok(()));
        let sig = client.sign_chunk(&[2; 32]);
        let mut bad = sig;
        bad[0] ^= 0x80;
        assert_eq!(
            server.verify_chunk(&[2; 32], &bad),
            Err(SigV4Error::ChunkSignatureDoesNotMatch { chunk_index: 1 })
        );
        assert_eq!(server.chunk_index(), 1);
    }

    proptest! {
        #[test]
        fn trailer_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = canonical_trailer(&bytes);
            let _ = signer().verify_trailer(&bytes);
        }
    }
}
