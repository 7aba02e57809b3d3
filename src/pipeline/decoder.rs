//! `SegmentDecoder`: share windows of some pieces → exactly the requested
//! plaintext range, stripe by stripe.
//!
//! Every share is checked against its CRC32C first; a missing piece or a share
//! that fails is an erasure. While the k data shares of a stripe are healthy the
//! stripe is only gathered and opened (systematic fast path, no Reed-Solomon);
//! otherwise any k healthy shares rebuild it. AES-GCM authenticates every stripe,
//! so the decoder never returns wrong bytes: a share corrupted in a way its CRC
//! misses fails the tag, and the decoder retries with the other healthy shares.

use std::ops::Range;

use super::buf::AlignedBuf;
use super::checksum::share_checksum;
use super::crypto::{stripe_nonce, AeadBackend, Cipher};
use super::encoder::SegmentSeal;
use super::layout::{SegmentGeometry, TAG_BYTES};
use reed_solomon_simd::ReedSolomonDecoder;

/// The bytes read from one piece for a run of stripes: the share area span
/// (see [`SegmentGeometry::shares_span`]) and one checksum per stripe.
#[derive(Clone, Copy, Debug)]
pub struct PieceWindow<'a> {
    pub shares: &'a [u8],
    pub checksums: &'a [u32],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("stripe {stripe}: {healthy} healthy shares, {required} required")]
    NotEnoughShares {
        stripe: u32,
        healthy: usize,
        required: usize,
    },
    #[error("stripe {stripe} failed authentication with every usable set of shares")]
    Authentication { stripe: u32 },
    #[error("piece {piece}: window of {got} bytes and {checksums} checksums, expected {expected} and {stripes}")]
    WindowShape {
        piece: usize,
        got: usize,
        expected: usize,
        checksums: usize,
        stripes: usize,
    },
}

/// What the decoder noticed besides the plaintext: shares to audit and repair.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecodeReport {
    /// (piece, stripe) of every share that failed its checksum or its stripe's tag.
    pub corrupt_shares: Vec<(usize, u32)>,
    /// Stripes that needed Reed-Solomon because a data share was unusable.
    pub stripes_rebuilt: u32,
}

pub struct SegmentDecoder {
    backend: AeadBackend,
    codec: Option<ReedSolomonDecoder>,
    stripe: AlignedBuf,
}

impl SegmentDecoder {
    pub fn new(backend: AeadBackend) -> Self {
        Self {
            backend,
            codec: None,
            stripe: AlignedBuf::with_capacity(0),
        }
    }

    /// Appends `range` (segment-relative plaintext, non-empty, within `stripes`)
    /// to `out`. `pieces[i]` is piece i's window over `stripes`, or `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn decode(
        &mut self,
        geometry: &SegmentGeometry,
        seal: &SegmentSeal,
        stripes: Range<u32>,
        pieces: &[Option<PieceWindow<'_>>],
        range: Range<u64>,
        out: &mut AlignedBuf,
        report: &mut DecodeReport,
    ) -> Result<(), DecodeError> {
        let k = geometry.layout.required();
        assert_eq!(
            pieces.len(),
            geometry.layout.total(),
            "one window slot per piece"
        );
        assert!(stripes.start < stripes.end && stripes.end <= geometry.stripe_count);
        let span = geometry.shares_span(&stripes);
        let stripe_count = (stripes.end - stripes.start) as usize;
        for (piece, window) in pieces.iter().enumerate() {
            if let Some(w) = window {
                if w.shares.len() as u64 != span.end - span.start
                    || w.checksums.len() != stripe_count
                {
                    return Err(DecodeError::WindowShape {
                        piece,
                        got: w.shares.len(),
                        expected: (span.end - span.start) as usize,
                        checksums: w.checksums.len(),
                        stripes: stripe_count,
                    });
                }
            }
        }
        let cipher = Cipher::new(self.backend, &seal.key);
        let mut shares: Vec<Option<&[u8]>> = vec![None; pieces.len()];
        for stripe in stripes.clone() {
            let share_bytes = geometry.share_bytes(stripe);
            let at = (geometry.share_offset(stripe) - span.start) as usize;
            let nth = (stripe - stripes.start) as usize;
            for (piece, window) in pieces.iter().enumerate() {
                shares[piece] = window.and_then(|w| {
                    let share = &w.shares[at..at + share_bytes];
                    let healthy = share_checksum(share, piece as u16, stripe) == w.checksums[nth];
                    if !healthy {
                        report.corrupt_shares.push((piece, stripe));
                    }
                    healthy.then_some(share)
                });
            }
            let healthy = shares.iter().flatten().count();
            if healthy < k {
                return Err(DecodeError::NotEnoughShares {
                    stripe,
                    healthy,
                    required: k,
                });
            }
            let plain = geometry.stripe_plaintext(stripe);
            let plain_bytes = (plain.end - plain.start) as usize;
            let nonce = stripe_nonce(seal.nonce_prefix, stripe);
            self.open_stripe(
                geometry,
                stripe,
                &shares,
                &cipher,
                nonce,
                plain_bytes,
                report,
            )?;
            let want_start = range.start.max(plain.start);
            let want_end = range.end.min(plain.end);
            if want_start < want_end {
                out.extend_from_slice(
                    &self.stripe
                        [(want_start - plain.start) as usize..(want_end - plain.start) as usize],
                );
            }
        }
        Ok(())
    }

    /// Leaves the stripe's plaintext at the front of `self.stripe`, trying k-sets
    /// of healthy shares until one authenticates.
    #[allow(clippy::too_many_arguments)]
    fn open_stripe(
        &mut self,
        geometry: &SegmentGeometry,
        stripe: u32,
        shares: &[Option<&[u8]>],
        cipher: &Cipher,
        nonce: [u8; 12],
        plain_bytes: usize,
        report: &mut DecodeReport,
    ) -> Result<(), DecodeError> {
        let k = geometry.layout.required();
        let healthy: Vec<usize> = (0..shares.len()).filter(|&i| shares[i].is_some()).collect();
        // The first k healthy shares, data first; then, if the tag fails, each set
        // that swaps one chosen share for the next unused one (bounded: k tries).
        let mut attempts = vec![healthy[..k].to_vec()];
        for spare in healthy[k..].iter().take(k) {
            for drop in 0..k {
                let mut set = healthy[..k].to_vec();
                set[drop] = *spare;
                set.sort_unstable();
                attempts.push(set);
            }
        }
        for set in &attempts {
            let rebuilt = self.assemble(geometry, stripe, shares, set);
            let tag: [u8; TAG_BYTES] = self.stripe[plain_bytes..plain_bytes + TAG_BYTES]
                .try_into()
                .expect("tag length");
            if cipher
                .open(nonce, &[], &mut self.stripe[..plain_bytes], &tag)
                .is_ok()
            {
                if rebuilt {
                    report.stripes_rebuilt += 1;
                }
                if set != &attempts[0] {
                    // The share left out of the winning set lied past its checksum.
                    for bad in attempts[0].iter().filter(|i| !set.contains(i)) {
                        report.corrupt_shares.push((*bad, stripe));
                    }
                }
                return Ok(());
            }
        }
        Err(DecodeError::Authentication { stripe })
    }

    /// Puts the sealed stripe rebuilt from the shares in `set` (k sorted piece
    /// indices) into `self.stripe`. Returns whether Reed-Solomon was needed.
    fn assemble(
        &mut self,
        geometry: &SegmentGeometry,
        stripe: u32,
        shares: &[Option<&[u8]>],
        set: &[usize],
    ) -> bool {
        let k = geometry.layout.required();
        let share_bytes = geometry.share_bytes(stripe);
        self.stripe.clear();
        self.stripe.reserve(k * share_bytes);
        if set.iter().copied().eq(0..k) {
            for share in &shares[..k] {
                self.stripe
                    .extend_from_slice(share.expect("chosen shares are healthy"));
            }
            return false;
        }
        let m = geometry.layout.erasure().parity();
        let codec = match &mut self.codec {
            Some(codec) => {
                codec.reset(k, m, share_bytes).expect("validated layout");
                codec
            }
            None => self
                .codec
                .insert(ReedSolomonDecoder::new(k, m, share_bytes).expect("validated layout")),
        };
        for &i in set {
            let share = shares[i].expect("chosen shares are healthy");
            if i < k {
                codec
                    .add_original_shard(i, share)
                    .expect("index and size are valid");
            } else {
                codec
                    .add_recovery_shard(i - k, share)
                    .expect("index and size are valid");
            }
        }
        let restored = codec.decode().expect("k shards were given");
        for (i, given) in shares.iter().enumerate().take(k) {
            let share = if set.contains(&i) {
                given.expect("chosen shares are healthy")
            } else {
                restored
                    .restored_original(i)
                    .expect("missing originals are restored")
            };
            self.stripe.extend_from_slice(share);
        }
        true
    }
}
