//! Credentials and their records. An access key id names a record; the record
//! (the project, the SigV4 secret key, the project's root encryption key) is
//! sealed with AES-256-GCM under a key derived from the access key id with
//! HKDF-SHA256, and stored under the SHA-256 of the id. Whoever reads the
//! database learns neither the id nor anything the record holds; whoever sends
//! a request with the id can open its record for that request only.
//!
//! Sealed record, version 1:
//! ```text
//! 0   1   version = 1
//! 1   12  random nonce
//! 13  n   AES-256-GCM(project id (16) ‖ root key (32) ‖ secret key (UTF-8))
//! end 16  tag; associated data = the row key, SHA-256(access key id)
//! ```

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::pipeline::crypto::{fill_random, AeadBackend, Cipher, RootKey, SecretKey};

const VERSION: u8 = 1;
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
    pub fn generate() -> Self {
        let mut bits = [0u8; 17];
        fill_random(&mut bits);
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
pub fn generate_secret_key() -> Zeroizing<String> {
    use base64::Engine as _;
    let mut bits = Zeroizing::new([0u8; 32]);
    fill_random(&mut bits[..]);
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bits[..]))
}

/// What an access key opens: the project it acts for, the secret key that signs
/// its requests, and the project's root key under which content keys are wrapped.
pub struct AccessRecord {
    pub project: [u8; 16],
    pub secret_key: Zeroizing<String>,
    pub root_key: RootKey,
}

impl std::fmt::Debug for AccessRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessRecord")
            .field("project", &crate::pipeline::checksum::hex(&self.project))
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
}

fn record_cipher(id: &AccessKeyId) -> Cipher {
    let hkdf = Hkdf::<Sha256>::new(None, id.expose().as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf.expand(HKDF_INFO, &mut key[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Cipher::new(AeadBackend::Ring, &SecretKey::from_bytes(*key))
}

impl AccessRecord {
    /// Seals the record for storage under `id.row_key()`.
    pub fn seal(&self, id: &AccessKeyId) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        fill_random(&mut nonce);
        let mut body = Zeroizing::new(Vec::with_capacity(48 + self.secret_key.len()));
        body.extend_from_slice(&self.project);
        body.extend_from_slice(self.root_key.expose());
        body.extend_from_slice(self.secret_key.as_bytes());
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
        if sealed.len() < 1 + NONCE_BYTES + 48 + TAG_BYTES {
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
        let project: [u8; 16] = body[..16].try_into().expect("length checked");
        let root: [u8; 32] = body[16..48].try_into().expect("length checked");
        let secret = std::str::from_utf8(&body[48..])
            .map_err(|_| CredentialError::SecretEncoding)?
            .to_string();
        Ok(Self {
            project,
            secret_key: Zeroizing::new(secret),
            root_key: RootKey::from_bytes(root),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessRecord {
        AccessRecord {
            project: [7; 16],
            secret_key: generate_secret_key(),
            root_key: RootKey::random(),
        }
    }

    #[test]
    fn ids_and_secrets_have_their_shape() {
        let a = AccessKeyId::generate();
        let b = AccessKeyId::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 28);
        assert!(a.expose().bytes().all(|c| BASE32.contains(&c)));
        assert!(!format!("{a} {a:?}").contains(a.expose()));
        assert_eq!(generate_secret_key().len(), 43);
    }

    #[test]
    fn seal_open_round_trip_and_refusals() {
        let id = AccessKeyId::generate();
        let rec = record();
        let sealed = rec.seal(&id);
        let opened = AccessRecord::open(&id, &sealed).unwrap();
        assert_eq!(opened.project, rec.project);
        assert_eq!(*opened.secret_key, *rec.secret_key);
        assert_eq!(opened.root_key.expose(), rec.root_key.expose());
        // The sealed bytes hold neither the id, the secret nor the root key.
        let hay = |needle: &[u8]| sealed.windows(needle.len()).any(|w| w == needle);
        assert!(!hay(id.expose().as_bytes()));
        assert!(!hay(rec.secret_key.as_bytes()));
        assert!(!hay(rec.root_key.expose()));
        // Another id, a flipped byte, a truncation or a new version: refused.
        let other = AccessKeyId::generate();
        assert_eq!(
            AccessRecord::open(&other, &sealed).unwrap_err(),
            CredentialError::Authentication
        );
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(AccessRecord::open(&id, &bad).is_err(), "byte {i}");
        }
        assert!(matches!(
            AccessRecord::open(&id, &sealed[..20]),
            Err(CredentialError::Truncated(20))
        ));
        let mut v2 = sealed.clone();
        v2[0] = 2;
        assert_eq!(
            AccessRecord::open(&id, &v2).unwrap_err(),
            CredentialError::Version(2)
        );
    }
}
