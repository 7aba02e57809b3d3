//! Small objects (at most `inline_bytes_max`, 4 KiB by default) skip erasure
//! coding: one AES-256-GCM message kept in the metadata record, since spreading a
//! few bytes over n pieces would cost n file writes for less data than a header.

use super::crypto::{stripe_nonce, AeadBackend, AuthError, Cipher};
use super::encoder::SegmentSeal;
use super::layout::TAG_BYTES;

pub const INLINE_BYTES_MAX_DEFAULT: usize = 4096;

/// Encrypts `plaintext` under `seal`: ciphertext ‖ tag.
pub fn seal_inline(backend: AeadBackend, seal: &SegmentSeal, plaintext: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(plaintext.len() + TAG_BYTES);
    sealed.extend_from_slice(plaintext);
    let tag =
        Cipher::new(backend, &seal.key).seal(stripe_nonce(seal.nonce_prefix, 0), &[], &mut sealed);
    sealed.extend_from_slice(&tag);
    sealed
}

/// Opens what [`seal_inline`] produced.
pub fn open_inline(
    backend: AeadBackend,
    seal: &SegmentSeal,
    sealed: &[u8],
) -> Result<Vec<u8>, AuthError> {
    let body = sealed.len().checked_sub(TAG_BYTES).ok_or(AuthError)?;
    let tag: [u8; TAG_BYTES] = sealed[body..].try_into().expect("tag length");
    let mut plain = sealed[..body].to_vec();
    Cipher::new(backend, &seal.key).open(
        stripe_nonce(seal.nonce_prefix, 0),
        &[],
        &mut plain,
        &tag,
    )?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let seal = SegmentSeal::random(&mut crate::pipeline::random::Seeded::new(3));
        for len in [0, 1, 100, 4096] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let sealed = seal_inline(AeadBackend::Ring, &seal, &plain);
            assert_eq!(sealed.len(), len + TAG_BYTES);
            assert_eq!(
                open_inline(AeadBackend::RustCrypto, &seal, &sealed).unwrap(),
                plain
            );
            let mut bad = sealed.clone();
            bad[len / 2] ^= 4;
            assert_eq!(open_inline(AeadBackend::Ring, &seal, &bad), Err(AuthError));
        }
        assert_eq!(
            open_inline(AeadBackend::Ring, &seal, &[1, 2, 3]),
            Err(AuthError)
        );
    }
}
