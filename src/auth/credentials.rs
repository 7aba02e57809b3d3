//! Credentials and their records. An access key id names a record; the record
//! (the SigV4 secret key and the access grant it was registered with, which
//! carries the project, its API key and its root encryption key) is sealed
//! with AES-256-GCM under a key derived with HKDF-SHA256 from two halves: the
//! access key id, which only requests carry, and the [`RecordSecret`], which
//! only the server holds (derived from `server.key`, kept out of the
//! database). It is stored under the SHA-256 of the id. The database alone
//! opens nothing, and neither does the database with any number of access key
//! ids: ids are not secret once used (every presigned URL carries one in
//! `X-Amz-Credential`, and proxies log them).
//!
//! Sealed record, version 3:
//! ```text
//! 0   1   version = 3
//! 1   12  random nonce
//! 13  n   AES-256-GCM(secret length (u16 LE) ‖ secret key (UTF-8) ‖ grant (binary))
//! end 16  tag; associated data = the row key, SHA-256(access key id)
//! ```
//! key = HKDF-SHA256(salt = record secret, ikm = access key id, info = "ringgate access record v3").
//!
//! Version 2 derived its key from the id alone (no salt, info "ringgate
//! access record v1"). Its records cannot be resealed without their ids, which
//! the server never keeps, so a start wraps each one whole (version 4):
//! ```text
//! 0   1   version = 4
//! 1   12  random nonce
//! 13  n   AES-256-GCM(the version-2 record); key = HKDF-SHA256(salt = record
//!         secret, ikm = "", info = "ringgate access record wrap v1")
//! end 16  tag; associated data = the row key
//! ```
//! Opening one takes the record secret and the id, as for version 3; version 2
//! itself no longer opens.

use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::grant::Grant;
use crate::pipeline::crypto::{AeadBackend, Cipher, RootKey, SecretKey};
use crate::pipeline::random::Entropy;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 3;
/// A version-2 record wrapped under the record secret.
const WRAPPED_V2: u8 = 4;
const LEGACY_V2: u8 = 2;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const HKDF_INFO: &[u8] = b"ringgate access record v3";
const LEGACY_HKDF_INFO: &[u8] = b"ringgate access record v1";
const WRAP_HKDF_INFO: &[u8] = b"ringgate access record wrap v1";
const SECRET_HKDF_INFO: &[u8] = b"ringgate record secret v1";
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

/// The server-held half of every access record's key: a 32-byte secret
/// derived from `server.key` (see [`super::ServerKey::record_secret`]), used
/// as the HKDF salt. HKDF's extract step is an HMAC keyed with the salt, so
/// that keyed state is made once here and cloned for each opening (two of
/// the eight SHA-256 blocks an opening would otherwise hash); a unit test
/// holds the derivation to the `hkdf` crate.
#[derive(Clone)]
pub struct RecordSecret {
    extract: HmacSha256,
}

impl RecordSecret {
    /// HKDF-SHA256 of the server key (no salt, info "ringgate record secret v1").
    pub fn from_server_key(server_key: &[u8; 32]) -> Self {
        Self::from_bytes(&unsalted(server_key, SECRET_HKDF_INFO))
    }

    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self {
            extract: HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length"),
        }
    }

    /// HKDF-SHA256 (RFC 5869) with this secret as the salt: 32 bytes.
    fn derive(&self, ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut extract = self.extract.clone();
        extract.update(ikm);
        expand(&extract.finalize().into_bytes().into(), info)
    }

    fn record_cipher(&self, id: &AccessKeyId) -> Cipher {
        cipher(&self.derive(id.expose().as_bytes(), HKDF_INFO))
    }

    fn wrap_cipher(&self) -> Cipher {
        cipher(&self.derive(&[], WRAP_HKDF_INFO))
    }
}

impl std::fmt::Debug for RecordSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordSecret(..)")
    }
}

/// HKDF's expand step for one 32-byte block; the pseudorandom key is wiped.
fn expand(prk: &[u8; 32], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = Zeroizing::new(*prk);
    let mut expand = HmacSha256::new_from_slice(&prk[..]).expect("HMAC takes keys of any length");
    expand.update(info);
    expand.update(&[1]);
    Zeroizing::new(expand.finalize().into_bytes().into())
}

fn cipher(key: &[u8; 32]) -> Cipher {
    Cipher::new(AeadBackend::Ring, &SecretKey::from_bytes(*key))
}

/// HKDF-SHA256 without a salt (which is a salt of 32 zero bytes).
fn unsalted(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    static EXTRACT: LazyLock<HmacSha256> = LazyLock::new(|| {
        HmacSha256::new_from_slice(&[0u8; 32]).expect("HMAC takes keys of any length")
    });
    let mut extract = EXTRACT.clone();
    extract.update(ikm);
    expand(&extract.finalize().into_bytes().into(), info)
}

/// Version 2's key: derived from the access key id alone.
fn legacy_cipher(id: &AccessKeyId) -> Cipher {
    cipher(&unsalted(id.expose().as_bytes(), LEGACY_HKDF_INFO))
}

/// `version ‖ nonce ‖ AEAD(body) ‖ tag`, sealed in place.
fn seal_with(
    version: u8,
    cipher: &Cipher,
    aad: &[u8],
    mut body: Zeroizing<Vec<u8>>,
    entropy: &mut impl Entropy,
) -> Vec<u8> {
    let nonce: [u8; NONCE_BYTES] = entropy.array();
    let tag = cipher.seal(nonce, aad, &mut body);
    let mut out = Vec::with_capacity(1 + NONCE_BYTES + body.len() + TAG_BYTES);
    out.push(version);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    out.extend_from_slice(&tag);
    out
}

/// The plaintext of `version ‖ nonce ‖ AEAD(body) ‖ tag`, wiped when dropped.
fn open_with(
    cipher: &Cipher,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
    if sealed.len() < 1 + NONCE_BYTES + TAG_BYTES {
        return Err(CredentialError::Truncated(sealed.len()));
    }
    let nonce: [u8; NONCE_BYTES] = sealed[1..1 + NONCE_BYTES].try_into().expect("length");
    let body_end = sealed.len() - TAG_BYTES;
    let tag: [u8; TAG_BYTES] = sealed[body_end..].try_into().expect("length");
    let mut body = Zeroizing::new(sealed[1 + NONCE_BYTES..body_end].to_vec());
    cipher
        .open(nonce, aad, &mut body, &tag)
        .map_err(|_| CredentialError::Authentication)?;
    Ok(body)
}

/// Wraps a version-2 record stored under `row_key` so that opening it takes
/// the record secret as well as its id (see the module documentation);
/// `None` for a record of any other version, which needs nothing.
pub fn wrap_legacy(
    secret: &RecordSecret,
    row_key: &[u8; 32],
    sealed: &[u8],
    entropy: &mut impl Entropy,
) -> Option<Vec<u8>> {
    (sealed.first() == Some(&LEGACY_V2)).then(|| {
        let body = Zeroizing::new(sealed.to_vec());
        seal_with(WRAPPED_V2, &secret.wrap_cipher(), row_key, body, entropy)
    })
}

impl AccessRecord {
    /// Seals the record for storage under `id.row_key()`.
    pub fn seal(
        &self,
        secret: &RecordSecret,
        id: &AccessKeyId,
        entropy: &mut impl Entropy,
    ) -> Vec<u8> {
        let cipher = secret.record_cipher(id);
        seal_with(VERSION, &cipher, &id.row_key(), self.plaintext(), entropy)
    }

    fn plaintext(&self) -> Zeroizing<Vec<u8>> {
        let grant = self.grant.to_bytes();
        let secret = self.secret_key.as_bytes();
        let mut body = Zeroizing::new(Vec::with_capacity(2 + secret.len() + grant.len()));
        body.extend_from_slice(&(secret.len() as u16).to_le_bytes());
        body.extend_from_slice(secret);
        body.extend_from_slice(&grant);
        body
    }

    /// Opens a sealed record with the record secret and the access key id
    /// that names it.
    pub fn open(
        secret: &RecordSecret,
        id: &AccessKeyId,
        sealed: &[u8],
    ) -> Result<Self, CredentialError> {
        let (body, secret_len) = open_body(secret, id, sealed)?;
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
    pub fn open_root_key(
        secret: &RecordSecret,
        id: &AccessKeyId,
        sealed: &[u8],
    ) -> Result<RootKey, CredentialError> {
        let (body, secret_len) = open_body(secret, id, sealed)?;
        Grant::root_key_from_bytes(&body[2 + secret_len..])
            .map_err(|e| CredentialError::Grant(e.to_string()))
    }
}

/// Decrypts a sealed record: the plaintext (wiped when dropped) and the
/// length of the secret key at its start.
fn open_body(
    secret: &RecordSecret,
    id: &AccessKeyId,
    sealed: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, usize), CredentialError> {
    let row_key = id.row_key();
    let body = match sealed.first() {
        Some(&VERSION) => open_with(&secret.record_cipher(id), &row_key, sealed)?,
        Some(&WRAPPED_V2) => {
            let legacy = open_with(&secret.wrap_cipher(), &row_key, sealed)?;
            if legacy.first() != Some(&LEGACY_V2) {
                return Err(CredentialError::Version(
                    legacy.first().copied().unwrap_or(0),
                ));
            }
            open_with(&legacy_cipher(id), &row_key, &legacy)?
        }
        Some(&other) => return Err(CredentialError::Version(other)),
        None => return Err(CredentialError::Truncated(0)),
    };
    if body.len() < 2 {
        return Err(CredentialError::Truncated(sealed.len()));
    }
    let secret_len = u16::from_le_bytes([body[0], body[1]]) as usize;
    if body.len() < 2 + secret_len {
        return Err(CredentialError::Truncated(sealed.len()));
    }
    Ok((body, secret_len))
}

/// A version-2 record as servers before the record secret sealed it: for
/// the tests of the migration.
#[cfg(test)]
pub(crate) fn seal_legacy_v2(record: &AccessRecord, id: &AccessKeyId) -> Vec<u8> {
    let plaintext = record.plaintext();
    seal_with(
        LEGACY_V2,
        &legacy_cipher(id),
        &id.row_key(),
        plaintext,
        &mut crate::entropy::Os,
    )
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

    fn hkdf(salt: Option<&[u8]>, ikm: &[u8], info: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(salt, ikm)
            .expand(info, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn record_keys_are_hkdf_sha256() {
        let salt = [9u8; 32];
        let secret = RecordSecret::from_bytes(&salt);
        for id in ["RGABC", "RG234567ABCDEFGHIJKLMNOPQR"] {
            let ikm = id.as_bytes();
            assert_eq!(
                *secret.derive(ikm, HKDF_INFO),
                hkdf(Some(&salt), ikm, HKDF_INFO)
            );
            assert_ne!(
                *secret.derive(ikm, HKDF_INFO),
                hkdf(None, ikm, HKDF_INFO),
                "the record secret is part of the key"
            );
        }
        assert_eq!(
            *secret.derive(&[], WRAP_HKDF_INFO),
            hkdf(Some(&salt), &[], WRAP_HKDF_INFO)
        );
        let from_server = RecordSecret::from_server_key(&[7; 32]);
        let expected = RecordSecret::from_bytes(&hkdf(None, &[7; 32], SECRET_HKDF_INFO));
        assert_eq!(
            *from_server.derive(b"RGX", HKDF_INFO),
            *expected.derive(b"RGX", HKDF_INFO)
        );
        assert_eq!(
            *unsalted(b"RGX", LEGACY_HKDF_INFO),
            hkdf(None, b"RGX", LEGACY_HKDF_INFO)
        );
    }

    #[test]
    fn version_2_records_open_only_once_wrapped_and_then_need_the_secret() {
        let secret = RecordSecret::from_bytes(&[3; 32]);
        let id = AccessKeyId::generate(&mut Os);
        let rec = record();
        let v2 = seal_legacy_v2(&rec, &id);
        // What a stolen database and a leaked id opened before: refused now.
        assert_eq!(
            AccessRecord::open(&secret, &id, &v2).unwrap_err(),
            CredentialError::Version(2)
        );
        let wrapped = wrap_legacy(&secret, &id.row_key(), &v2, &mut Os).unwrap();
        assert_eq!(wrapped[0], WRAPPED_V2);
        let opened = AccessRecord::open(&secret, &id, &wrapped).unwrap();
        assert_eq!(*opened.secret_key, *rec.secret_key);
        assert_eq!(
            AccessRecord::open_root_key(&secret, &id, &wrapped)
                .unwrap()
                .expose(),
            rec.grant.root_key().expose()
        );
        // Another server's secret, another id, another row: refused.
        let other = RecordSecret::from_bytes(&[4; 32]);
        assert!(AccessRecord::open(&other, &id, &wrapped).is_err());
        let other_id = AccessKeyId::generate(&mut Os);
        assert!(AccessRecord::open(&secret, &other_id, &wrapped).is_err());
        // Current records need no wrapping; wrapping is not repeated.
        let v3 = rec.seal(&secret, &id, &mut Os);
        assert_eq!(wrap_legacy(&secret, &id.row_key(), &v3, &mut Os), None);
        assert_eq!(wrap_legacy(&secret, &id.row_key(), &wrapped, &mut Os), None);
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
        let key = RecordSecret::from_bytes(&[5; 32]);
        let sealed = rec.seal(&key, &id, &mut Os);
        let opened = AccessRecord::open(&key, &id, &sealed).unwrap();
        assert_eq!(opened.grant.project(), rec.grant.project());
        assert_eq!(*opened.secret_key, *rec.secret_key);
        assert_eq!(
            opened.grant.root_key().expose(),
            rec.grant.root_key().expose()
        );
        assert_eq!(
            AccessRecord::open_root_key(&key, &id, &sealed)
                .unwrap()
                .expose(),
            rec.grant.root_key().expose()
        );
        // The sealed bytes hold neither the id, the secret, the grant nor the root key.
        let hay = |needle: &[u8]| sealed.windows(needle.len()).any(|w| w == needle);
        assert!(!hay(id.expose().as_bytes()));
        assert!(!hay(rec.secret_key.as_bytes()));
        assert!(!hay(rec.grant.root_key().expose()));
        assert!(!hay(&rec.grant.to_bytes()[..40]));
        // Another id, another server's secret, a flipped byte, a truncation
        // or another version: refused.
        let other = AccessKeyId::generate(&mut Os);
        assert_eq!(
            AccessRecord::open(&key, &other, &sealed).unwrap_err(),
            CredentialError::Authentication
        );
        let other_key = RecordSecret::from_bytes(&[6; 32]);
        assert_eq!(
            AccessRecord::open(&other_key, &id, &sealed).unwrap_err(),
            CredentialError::Authentication
        );
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(AccessRecord::open(&key, &id, &bad).is_err(), "byte {i}");
            assert!(
                AccessRecord::open_root_key(&key, &id, &bad).is_err(),
                "byte {i}"
            );
        }
        assert!(matches!(
            AccessRecord::open(&key, &id, &sealed[..20]),
            Err(CredentialError::Truncated(20))
        ));
        let mut v5 = sealed.clone();
        v5[0] = 5;
        assert_eq!(
            AccessRecord::open(&key, &id, &v5).unwrap_err(),
            CredentialError::Version(5)
        );
    }
}
