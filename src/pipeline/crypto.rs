//! AES-256-GCM for stripes and key wrapping, behind one small enum so the
//! implementation is a measured choice (`ring` by default, RustCrypto `aes-gcm`
//! as the alternative; benches/pipeline.rs compares them on the same core).
//!
//! Each segment has a fresh random [`ContentKey`]; stripe nonces are a random
//! per-segment prefix and the stripe index. Content keys are stored only wrapped
//! under a [`RootKey`] with the object's identity as associated data.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::KeyInit;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::random::Entropy;

pub const KEY_BYTES: usize = 32;
pub const NONCE_BYTES: usize = 12;

/// Which AES-256-GCM implementation seals and opens stripes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AeadBackend {
    /// `ring`: AES-NI + PCLMUL assembly from BoringSSL, the fastest measured here.
    #[default]
    Ring,
    /// RustCrypto `aes-gcm`: pure Rust with AES-NI intrinsics.
    RustCrypto,
}

impl std::str::FromStr for AeadBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ring" => Ok(Self::Ring),
            "rustcrypto" | "aes-gcm" => Ok(Self::RustCrypto),
            other => Err(format!("unknown AEAD backend {other:?} (ring, rustcrypto)")),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("authentication failed: ciphertext, tag or associated data was altered")]
pub struct AuthError;

/// A 256-bit key that is wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; KEY_BYTES]);

impl SecretKey {
    pub fn random(entropy: &mut impl Entropy) -> Self {
        let mut key = [0u8; KEY_BYTES];
        entropy.fill(&mut key);
        Self(key)
    }
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(bytes)
    }
    pub fn expose(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The key that encrypts one segment's stripes.
pub type ContentKey = SecretKey;
/// A project's key under which content keys are wrapped.
pub type RootKey = SecretKey;

/// One expanded AES-256-GCM key. The `ring` variant stays unboxed: it is the
/// default backend, and a cipher is built once per segment, not per stripe.
#[allow(clippy::large_enum_variant)]
pub enum Cipher {
    Ring(ring::aead::LessSafeKey),
    RustCrypto(Box<aes_gcm::Aes256Gcm>),
}

impl Cipher {
    pub fn new(backend: AeadBackend, key: &SecretKey) -> Self {
        match backend {
            AeadBackend::Ring => {
                let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key.expose())
                    .expect("AES-256 keys are 32 bytes");
                Self::Ring(ring::aead::LessSafeKey::new(unbound))
            }
            AeadBackend::RustCrypto => Self::RustCrypto(Box::new(
                aes_gcm::Aes256Gcm::new_from_slice(key.expose())
                    .expect("AES-256 keys are 32 bytes"),
            )),
        }
    }

    /// Encrypts `in_out` in place and returns the tag.
    pub fn seal(&self, nonce: [u8; NONCE_BYTES], aad: &[u8], in_out: &mut [u8]) -> [u8; 16] {
        match self {
            Self::Ring(key) => {
                let tag = key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(nonce),
                        ring::aead::Aad::from(aad),
                        in_out,
                    )
                    .expect("GCM seals any length below 64 GiB");
                tag.as_ref().try_into().expect("GCM tags are 16 bytes")
            }
            Self::RustCrypto(key) => key
                .encrypt_in_place_detached(&nonce.into(), aad, in_out)
                .expect("GCM seals any length below 64 GiB")
                .into(),
        }
    }

    /// Decrypts `in_out` in place if `tag` authenticates it; leaves garbage otherwise.
    pub fn open(
        &self,
        nonce: [u8; NONCE_BYTES],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthError> {
        match self {
            Self::Ring(key) => key
                .open_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(aad),
                    ring::aead::Tag::from(*tag),
                    in_out,
                    0..,
                )
                .map(|_| ())
                .map_err(|_| AuthError),
            Self::RustCrypto(key) => key
                .decrypt_in_place_detached(&nonce.into(), aad, in_out, tag.into())
                .map_err(|_| AuthError),
        }
    }
}

/// The nonce of stripe `stripe` in a segment with nonce prefix `prefix`.
pub fn stripe_nonce(prefix: [u8; 4], stripe: u32) -> [u8; NONCE_BYTES] {
    let mut nonce = [0u8; NONCE_BYTES];
    nonce[..4].copy_from_slice(&prefix);
    nonce[8..].copy_from_slice(&stripe.to_be_bytes());
    nonce
}

/// A content key sealed under a root key: nonce ‖ ciphertext ‖ tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey(pub [u8; WrappedKey::BYTES]);

impl WrappedKey {
    pub const BYTES: usize = NONCE_BYTES + KEY_BYTES + 16;

    /// Wraps `key` under `root`, bound to `identity` (for example project, bucket,
    /// object key and segment index) so a wrapped key moved elsewhere cannot be opened.
    pub fn wrap(
        root: &RootKey,
        identity: &[u8],
        key: &ContentKey,
        entropy: &mut impl Entropy,
    ) -> Self {
        let mut out = [0u8; Self::BYTES];
        let nonce: [u8; NONCE_BYTES] = entropy.array();
        out[..NONCE_BYTES].copy_from_slice(&nonce);
        out[NONCE_BYTES..NONCE_BYTES + KEY_BYTES].copy_from_slice(key.expose());
        let tag = Cipher::new(AeadBackend::Ring, root).seal(
            nonce,
            identity,
            &mut out[NONCE_BYTES..NONCE_BYTES + KEY_BYTES],
        );
        out[NONCE_BYTES + KEY_BYTES..].copy_from_slice(&tag);
        Self(out)
    }

    pub fn unwrap_key(&self, root: &RootKey, identity: &[u8]) -> Result<ContentKey, AuthError> {
        let nonce: [u8; NONCE_BYTES] = self.0[..NONCE_BYTES].try_into().unwrap();
        let tag: [u8; 16] = self.0[NONCE_BYTES + KEY_BYTES..].try_into().unwrap();
        let mut key = [0u8; KEY_BYTES];
        key.copy_from_slice(&self.0[NONCE_BYTES..NONCE_BYTES + KEY_BYTES]);
        let opened = Cipher::new(AeadBackend::Ring, root).open(nonce, identity, &mut key, &tag);
        let result = opened.map(|()| ContentKey::from_bytes(key));
        key.zeroize();
        result
    }

    /// Moves a content key to a new identity (and possibly a new root key) without
    /// touching the data it encrypts: how a server-side copy avoids re-encryption.
    pub fn rewrap(
        &self,
        root: &RootKey,
        identity: &[u8],
        new_root: &RootKey,
        new_identity: &[u8],
        entropy: &mut impl Entropy,
    ) -> Result<Self, AuthError> {
        let key = self.unwrap_key(root, identity)?;
        Ok(Self::wrap(new_root, new_identity, &key, entropy))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::random::Seeded;

    #[test]
    fn backends_agree_and_reject_tampering() {
        let key = SecretKey::random(&mut Seeded::new(1));
        let nonce = stripe_nonce([1, 2, 3, 4], 7);
        let plain: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut a = plain.clone();
        let mut b = plain.clone();
        let ring = Cipher::new(AeadBackend::Ring, &key);
        let rc = Cipher::new(AeadBackend::RustCrypto, &key);
        let tag_a = ring.seal(nonce, b"aad", &mut a);
        let tag_b = rc.seal(nonce, b"aad", &mut b);
        assert_eq!((a.clone(), tag_a), (b.clone(), tag_b));
        assert_ne!(a, plain);
        rc.open(nonce, b"aad", &mut a, &tag_a).unwrap();
        assert_eq!(a, plain);
        b[17] ^= 1;
        assert_eq!(ring.open(nonce, b"aad", &mut b, &tag_b), Err(AuthError));
        let mut c = plain.clone();
        let tag = ring.seal(nonce, b"aad", &mut c);
        assert_eq!(ring.open(nonce, b"other", &mut c, &tag), Err(AuthError));
    }

    #[test]
    fn wrap_unwrap_rewrap() {
        let entropy = &mut Seeded::new(2);
        let root = RootKey::random(entropy);
        let other_root = RootKey::random(entropy);
        let key = ContentKey::random(entropy);
        let wrapped = WrappedKey::wrap(&root, b"p/b/k/0", &key, entropy);
        assert_eq!(
            wrapped.unwrap_key(&root, b"p/b/k/0").unwrap().expose(),
            key.expose()
        );
        assert!(wrapped.unwrap_key(&root, b"p/b/k/1").is_err());
        assert!(wrapped.unwrap_key(&other_root, b"p/b/k/0").is_err());
        let moved = wrapped
            .rewrap(&root, b"p/b/k/0", &other_root, b"q/c/k2/0", entropy)
            .unwrap();
        assert_eq!(
            moved.unwrap_key(&other_root, b"q/c/k2/0").unwrap().expose(),
            key.expose()
        );
        assert!(moved.unwrap_key(&root, b"p/b/k/0").is_err());
        let mut tampered = wrapped.clone();
        tampered.0[20] ^= 0x80;
        assert!(tampered.unwrap_key(&root, b"p/b/k/0").is_err());
    }
}
