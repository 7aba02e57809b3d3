//! AES-256-GCM for stripes and key wrapping, behind one small enum so the
//! implementation is a measured choice (`ring` by default, RustCrypto `aes-gcm`
//! as the alternative; benches/pipeline.rs compares them on the same core).
//!
//! Each segment has a fresh random [`ContentKey`]; stripe nonces are a random
//! per-segment prefix and the stripe index. Content keys are stored only wrapped
//! under a [`RootKey`] with the object's identity as associated data.

use std::borrow::Cow;

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

/// A content key sealed under a root key, bound to the object it belongs to
/// (`identity`) and, from version 2 on, to its extent (a segment id, or none
/// for an inline object).
///
/// Version 2, 64 bytes, what `wrap` makes:
/// ```text
/// 0   16  random salt
/// 16  32  AES-256-GCM(content key), nonce zero
/// 48  16  tag; associated data = 0x00 (inline) | 0x01 ‖ segment id (16), then identity
/// key = AES-256(root key, salt with its last bit 0) ‖ AES-256(root key, salt with its last bit 1)
/// ```
/// Each wrap has a key of its own, used once, so the root key's bound is not
/// GCM's 2^32 random nonces but the salts' (127 random bits: 2^63 wraps before
/// two are likely to share a key), however many copies and completions
/// rewrap. AES as the key-derivation function, as AES-GCM-SIV (RFC 8452)
/// derives its per-nonce keys: two block encryptions cost a small part of what
/// HKDF-SHA256 would on every GET's key opening (benches/pipeline.rs, `key_wrap`). Version 1, 60 bytes (random nonce ‖
/// ciphertext ‖ tag under the root key itself, associated data = identity),
/// still opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

const WRAP_SALT_BYTES: usize = 16;

impl WrappedKey {
    pub const BYTES: usize = WRAP_SALT_BYTES + KEY_BYTES + 16;
    const V1_BYTES: usize = NONCE_BYTES + KEY_BYTES + 16;

    /// Wraps `key` under `root`, bound to `identity` (for example project,
    /// bucket and object key) and `extent` (the segment id; `None` inline), so
    /// a wrapped key moved elsewhere cannot be opened.
    pub fn wrap(
        root: &RootKey,
        identity: &[u8],
        extent: Option<&[u8; 16]>,
        key: &ContentKey,
        entropy: &mut impl Entropy,
    ) -> Self {
        let salt: [u8; WRAP_SALT_BYTES] = entropy.array();
        let mut out = Vec::with_capacity(Self::BYTES);
        out.extend_from_slice(&salt);
        out.extend_from_slice(key.expose());
        let cipher = wrap_cipher(root, &salt);
        let tag = cipher.seal(
            [0; NONCE_BYTES],
            &wrap_aad(identity, extent),
            &mut out[16..48],
        );
        out.extend_from_slice(&tag);
        Self(out)
    }

    pub fn unwrap_key(
        &self,
        root: &RootKey,
        identity: &[u8],
        extent: Option<&[u8; 16]>,
    ) -> Result<ContentKey, AuthError> {
        let w = &self.0;
        let (cipher, nonce, aad, body) = if w.len() == Self::BYTES {
            let salt: [u8; WRAP_SALT_BYTES] = w[..16].try_into().expect("16 bytes");
            let aad = Cow::Owned(wrap_aad(identity, extent));
            (wrap_cipher(root, &salt), [0; NONCE_BYTES], aad, 16)
        } else {
            let nonce = w[..NONCE_BYTES].try_into().expect("12 bytes");
            let cipher = Cipher::new(AeadBackend::Ring, root);
            (cipher, nonce, Cow::Borrowed(identity), NONCE_BYTES)
        };
        let tag: [u8; 16] = w[body + KEY_BYTES..].try_into().expect("16 bytes");
        let mut key = [0u8; KEY_BYTES];
        key.copy_from_slice(&w[body..body + KEY_BYTES]);
        let opened = cipher.open(nonce, &aad, &mut key, &tag);
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
        extent: Option<&[u8; 16]>,
        new_root: &RootKey,
        new_identity: &[u8],
        entropy: &mut impl Entropy,
    ) -> Result<Self, AuthError> {
        let key = self.unwrap_key(root, identity, extent)?;
        Ok(Self::wrap(new_root, new_identity, extent, &key, entropy))
    }

    /// A stored wrapped key of either version.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        [Self::BYTES, Self::V1_BYTES]
            .contains(&bytes.len())
            .then(|| Self(bytes.to_vec()))
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Version 2's associated data: the extent (prefix-free), then the identity.
fn wrap_aad(identity: &[u8], extent: Option<&[u8; 16]>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(17 + identity.len());
    match extent {
        None => aad.push(0),
        Some(id) => {
            aad.push(1);
            aad.extend_from_slice(id);
        }
    }
    aad.extend_from_slice(identity);
    aad
}

/// Version 2's per-wrap key: the salt, its last bit 0 then 1, encrypted
/// under the root key with the AES block function.
fn wrap_cipher(root: &RootKey, salt: &[u8; WRAP_SALT_BYTES]) -> Cipher {
    use aes::cipher::{BlockEncrypt, KeyInit as _};
    let aes = aes::Aes256::new(root.expose().into());
    let mut blocks = [aes::Block::from(*salt), aes::Block::from(*salt)];
    blocks[0][15] &= !1;
    blocks[1][15] |= 1;
    aes.encrypt_blocks(&mut blocks);
    let mut key = [0u8; KEY_BYTES];
    key[..16].copy_from_slice(&blocks[0]);
    key[16..].copy_from_slice(&blocks[1]);
    blocks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
    let cipher = Cipher::new(AeadBackend::Ring, &SecretKey::from_bytes(key));
    key.zeroize();
    cipher
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
        let seg = Some(&[7u8; 16]);
        let wrapped = WrappedKey::wrap(&root, b"p/b/k", seg, &key, entropy);
        assert_eq!(wrapped.0.len(), WrappedKey::BYTES);
        assert_eq!(
            wrapped.unwrap_key(&root, b"p/b/k", seg).unwrap().expose(),
            key.expose()
        );
        assert!(wrapped.unwrap_key(&root, b"p/b/k2", seg).is_err());
        assert!(wrapped.unwrap_key(&other_root, b"p/b/k", seg).is_err());
        // Issue 15, finding 10: bound to its segment, too.
        assert!(wrapped.unwrap_key(&root, b"p/b/k", Some(&[8; 16])).is_err());
        assert!(wrapped.unwrap_key(&root, b"p/b/k", None).is_err());
        let moved = wrapped
            .rewrap(&root, b"p/b/k", seg, &other_root, b"q/c/k2", entropy)
            .unwrap();
        assert_eq!(
            moved
                .unwrap_key(&other_root, b"q/c/k2", seg)
                .unwrap()
                .expose(),
            key.expose()
        );
        assert!(moved.unwrap_key(&root, b"p/b/k", seg).is_err());
        for i in 0..wrapped.0.len() {
            let mut tampered = wrapped.clone();
            tampered.0[i] ^= 0x80;
            assert!(
                tampered.unwrap_key(&root, b"p/b/k", seg).is_err(),
                "byte {i}"
            );
        }
        assert!(WrappedKey::from_slice(&[0; 61]).is_none());
    }

    /// Issue 15, finding 10: each wrap has a key of its own. The same content
    /// key wrapped twice under one root key differs everywhere, and neither
    /// wrap opens as GCM under the root key itself.
    #[test]
    fn each_wrap_has_its_own_key_and_version_1_still_opens() {
        let entropy = &mut Seeded::new(3);
        let root = RootKey::random(entropy);
        let key = ContentKey::random(entropy);
        let a = WrappedKey::wrap(&root, b"id", None, &key, entropy);
        let b = WrappedKey::wrap(&root, b"id", None, &key, entropy);
        assert_ne!(a.0[16..48], b.0[16..48]);
        let mut body: [u8; 32] = a.0[16..48].try_into().unwrap();
        let tag: [u8; 16] = a.0[48..].try_into().unwrap();
        let direct = Cipher::new(AeadBackend::Ring, &root);
        assert!(direct
            .open([0; 12], &wrap_aad(b"id", None), &mut body, &tag)
            .is_err());
        // A version-1 wrap (random nonce under the root key) still opens.
        let nonce: [u8; 12] = entropy.array();
        let mut v1 = nonce.to_vec();
        let mut sealed = *key.expose();
        let tag = direct.seal(nonce, b"id", &mut sealed);
        v1.extend_from_slice(&sealed);
        v1.extend_from_slice(&tag);
        let v1 = WrappedKey::from_slice(&v1).unwrap();
        assert_eq!(
            v1.unwrap_key(&root, b"id", Some(&[1; 16]))
                .unwrap()
                .expose(),
            key.expose()
        );
    }
}
