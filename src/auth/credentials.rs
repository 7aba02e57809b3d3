//! Credentials and their records. An access key id names a record; the record
//! (the SigV4 secret key and the access grant it was registered with, which
//! carries the project, its API key and its root encryption key) is sealed
//! with AES-256-GCM under a key derived from the access key id with
//! HKDF-SHA256, and stored under the SHA-256 of the id. Whoever reads the
//! database learns neither the id nor anything the record holds; whoever sends
//! a request with the id can open its record for that request only.
//!
//! Sealed record, version 2:
//! ```text
//! 0   1   version = 2
//! 1   12  random nonce
//! 13  n   AES-256-GCM(secret length (u16 LE) ‖ secret key (UTF-8) ‖ grant (binary))
//! end 16  tag; associated data = the row key, SHA-256(access key id)
//! ```

use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::grant::Grant;
use crate::pipeline::crypto::{AeadBackend, Cipher, RootKey, SecretKey};
use crate::pipeline::random::Entropy;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 2;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const HKDF_INFO: &[u8] = b"ringgate access record v1";
/// Alphabet of access key ids: RFC 4648 base32, so ids look like AWS's (upper
/// case letters and digits) and survive every client's config format.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// An S3 access key id. Never written to disk or logs: `Display` shows only a
/// short hash of it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    /// A new id: "RG" followed by 130 random bits in base32 (26 characters).
    pub fn generate(entropy: &mut impl Entropy) -> Self {
        let mut bits = [0u8; 17];
        entropy.fill(&mut bits);
        let mut id = String::from("RG");
        // 26 base32 digits of 5 bits each from the first 130 bits.
        for i in 0..26 {
            let bit = i * 5;
            let word = u16::from_be_bytes([bits[bit / 8], bits[bit / 8 + 1]]);
            let digit = (word >> (11 - bit % 8)) & 31;
            id.push(BASE32[digit as usize] as char);
        }
        bits.zeroize();
        Self(id)
    }

    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The database row key: SHA-256 of the id.
    pub fn row_key(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// A short, non-reversible tag for logs: the first 8 hex digits of a hash
    /// that is not the row key, so logs cannot be joined with the database.
    pub fn log_tag(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"ringgate log tag\0")
            .chain_update(self.0.as_bytes())
            .finalize();
        crate::pipeline::checksum::hex(&digest[..4])
    }
}

impl std::fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key#{}", self.log_tag())
    }
}

impl std::fmt::Debug for AccessKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessKeyId(#{})", self.log_tag())
    }
}

/// A new SigV4 secret key: 256 random bits, base64url without padding (43 characters).
pub fn generate_secret_key(entropy: &mut impl Entropy) -> Zeroizing<String> {
    use base64::Engine as _;
    let mut bits = Zeroizing::new([0u8; 32]);
    entropy.fill(&mut bits[..]);
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bits[..]))
}

/// What an access key opens: the secret key that signs its requests and the
/// grant that says for which project, with which key and what it may do.
pub struct AccessRecord {
    pub secret_key: Zeroizing<String>,
    pub grant: Grant,
}

impl std::fmt::Debug for AccessRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessRecord")
            .field(
                "project",
                &crate::pipeline::checksum::hex(self.grant.project()),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("access record version {0} is not supported")]
    Version(u8),
    #[error("access record does not open with this access key id")]
    Authentication,
    #[error("access record is {0} bytes, too short")]
    Truncated(usize),
    #[error("access record holds a secret key that is not UTF-8")]
    SecretEncoding,
    #[error("access record holds a grant that does not parse: {0}")]
    Grant(String),
}

/// The record key: HKDF-SHA256 (RFC 5869) of the access key id, no salt,
/// info [`HKDF_INFO`], 32 bytes. "No salt" is a salt of 32 zero bytes, so
/// the extract step's HMAC key is a constant and its keyed state is made once
/// (two of the eight SHA-256 blocks every opening would otherwise hash); a
/// unit test holds this to the `hkdf` crate.
fn record_key(id: &AccessKeyId) -> Zeroizing<[u8; 32]> {
    static EXTRACT: LazyLock<HmacSha256> = LazyLock::new(|| {
        HmacSha256::new_from_slice(&[0u8; 32]).expect("HMAC takes keys of any length")
    });
    let mut extract = EXTRACT.clone();
    extract.update(id.expose().as_bytes());
    let prk = Zeroizing::new(<[u8; 32]>::from(extract.finalize().into_bytes()));
    let mut expand = HmacSha256::new_from_slice(&prk[..]).expect("HMAC takes keys of any length");
    expand.update(HKDF_INFO);
    expand.update(&[1]);
    Zeroizing::new(expand.finalize().into_bytes().into())
}

fn record_cipher(id: &AccessKeyId) -> Cipher {
    Cipher::new(AeadBackend::Ring, &SecretKey::from_bytes(*record_key(id)))
}

impl AccessRecord {
    /// Seals the record for storage under `id.row_key()`.
    pub fn seal(&self, id: &AccessKeyId, entropy: &mut impl Entropy) -> Vec<u8> {
        let nonce: [u8; NONCE_BYTES] = entropy.array();
        let grant = self.grant.to_bytes();
        let secret = self.secret_key.as_bytes();
        let mut body = Zeroizing::new(Vec::with_capacity(2 + secret.len() + grant.len()));
        body.extend_from_slice(&(secret.len() as u16).to_le_bytes());
        body.extend_from_slice(secret);
        body.extend_from_slice(&grant);
        let tag = record_cipher(id).seal(nonce, &id.row_key(), &mut body);
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + body.len() + TAG_BYTES);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        out
    }

    /// Opens a sealed record with the access key id that names it.
    pub fn open(id: &AccessKeyId, sealed: &[u8]) -> Result<Self, CredentialError> {
        let (body, secret_len) = open_body(id, sealed)?;
        let secret = std::str::from_utf8(&body[2..2 + secret_len])
            .map_err(|_| CredentialError::SecretEncoding)?
            .to_string();
        let grant = Grant::from_bytes(&body[2 + secret_len..])
            .map_err(|e| CredentialError::Grant(e.to_string()))?;
        Ok(Self {
            secret_key: Zeroizing::new(secret),
            grant,
        })
    }

    /// Opens only the grant's root key: what a request that reads or writes
    /// object data needs once it is authenticated. The AEAD tag covers the
    /// whole record, so the grant's checksum and caveats, read by [`Self::open`]
    /// when the record was first used, are not read again.
    pub fn open_root_key(id: &AccessKeyId, sealed: &[u8]) -> Result<RootKey, CredentialError> {
        let (body, secret_len) = open_body(id, sealed)?;
        Grant::root_key_from_bytes(&body[2 + secret_len..])
            .map_err(|e| CredentialError::Grant(e.to_string()))
    }
}

/// Decrypts a sealed record: the plaintext (wiped when dropped) and the
/// length of the secret key at its start.
fn open_body(
    id: &AccessKeyId,
    sealed: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, usize), CredentialError> {
    if sealed.len() < 1 + NONCE_BYTES + 2 + TAG_BYTES {
        return Err(CredentialError::Truncated(sealed.len()));
    }
    if sealed[0] != VERSION {
        return Err(CredentialError::Version(sealed[0]));
    }
    let nonce: [u8; NONCE_BYTES] = sealed[1..1 + NONCE_BYTES].try_into().expect("length");
    let body_end = sealed.len() - TAG_BYTES;
    let tag: [u8; TAG_BYTES] = sealed[body_end..].try_into().expect("length");
    let mut body = Zeroizing::new(sealed[1 + NONCE_BYTES..body_end].to_vec());
    record_cipher(id)
        .open(nonce, &id.row_key(), &mut body, &tag)
        .map_err(|_| CredentialError::Authentication)?;
    let secret_len = u16::from_le_bytes([body[0], body[1]]) as usize;
    if body.len() < 2 + secret_len {
        return Err(CredentialError::Truncated(sealed.len()));
    }
    Ok((body, secret_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::Os;

    fn record() -> AccessRecord {
        let secret = crate::auth::ProjectSecret::random(&mut Os);
        AccessRecord {
            secret_key: generate_secret_key(&mut Os),
            grant: Grant::issue(
                [7; 16],
                &secret,
                crate::pipeline::RootKey::random(&mut Os),
                &mut Os,
            ),
        }
    }

    #[test]
    fn record_key_is_hkdf_sha256() {
        for id in ["RGABC", "RG234567ABCDEFGHIJKLMNOPQR"] {
            let id = AccessKeyId::new(id);
            let mut expected = [0u8; 32];
            hkdf::Hkdf::<Sha256>::new(None, id.expose().as_bytes())
                .expand(HKDF_INFO, &mut expected)
                .unwrap();
            assert_eq!(*record_key(&id), expected);
        }
    }

    #[test]
    fn ids_and_secrets_have_their_shape() {
        let a = AccessKeyId::generate(&mut Os);
        let b = AccessKeyId::generate(&mut Os);
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 28);
        assert!(a.expose().bytes().all(|c| BASE32.contains(&c)));
        assert!(!format!("{a} {a:?}").contains(a.expose()));
        assert_eq!(generate_secret_key(&mut Os).len(), 43);
    }

    #[test]
    fn seal_open_round_trip_and_refusals() {
        let id = AccessKeyId::generate(&mut Os);
        let rec = record();
        let sealed = rec.seal(&id, &mut Os);
        let opened = AccessRecord::open(&id, &sealed).unwrap();
        assert_eq!(opened.grant.project(), rec.grant.project());
        assert_eq!(*opened.secret_key, *rec.secret_key);
        assert_eq!(
            opened.grant.root_key().expose(),
            rec.grant.root_key().expose()
        );
        assert_eq!(
            AccessRecord::open_root_key(&id, &sealed).unwrap().expose(),
            rec.grant.root_key().expose()
        );
        // The sealed bytes hold neither the id, the secret, the grant nor the root key.
        let hay = |needle: &[u8]| sealed.windows(needle.len()).any(|w| w == needle);
        assert!(!hay(id.expose().as_bytes()));
        assert!(!hay(rec.secret_key.as_bytes()));
        assert!(!hay(rec.grant.root_key().expose()));
        assert!(!hay(&rec.grant.to_bytes()[..40]));
        // Another id, a flipped byte, a truncation or a new version: refused.
        let other = AccessKeyId::generate(&mut Os);
        assert_eq!(
            AccessRecord::open(&other, &sealed).unwrap_err(),
            CredentialError::Authentication
        );
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(AccessRecord::open(&id, &bad).is_err(), "byte {i}");
            assert!(AccessRecord::open_root_key(&id, &bad).is_err(), "byte {i}");
        }
        assert!(matches!(
            AccessRecord::open(&id, &sealed[..20]),
            Err(CredentialError::Truncated(20))
        ));
        let mut v3 = sealed.clone();
        v3[0] = 3;
        assert_eq!(
            AccessRecord::open(&id, &v3).unwrap_err(),
            CredentialError::Version(3)
        );
    }
}
