//! `ShareRebuilder`: the shares of lost pieces, rebuilt from any k healthy
//! shares of the same stripe. Repair's arithmetic, on ciphertext only: no key
//! is needed, so the gateway can restore a segment without any project's root
//! key (which it does not hold).
//!
//! Missing data shares come from Reed-Solomon decoding; a parity share is
//! encoded afresh from the k data shares. The bytes are exactly what the
//! encoder wrote, so a rebuilt piece is byte-identical to the lost one and has
//! the same digest.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RebuildError {
    #[error("{healthy} healthy shares, {required} required")]
    NotEnoughShares { healthy: usize, required: usize },
}

/// Reusable Reed-Solomon state for rebuilding shares stripe after stripe.
pub struct ShareRebuilder {
    k: usize,
    m: usize,
    decoder: Option<ReedSolomonDecoder>,
    encoder: Option<ReedSolomonEncoder>,
}

impl ShareRebuilder {
    /// For a code of `k` data and `m` parity shares (a valid layout's).
    pub fn new(k: usize, m: usize) -> Self {
        Self {
            k,
            m,
            decoder: None,
            encoder: None,
        }
    }

    /// Given `shares[i]` (share i of one stripe, `share_bytes` each, `None` if
    /// lost or damaged; at least k present), returns the shares of `wanted`,
    /// in that order.
    pub fn rebuild(
        &mut self,
        shares: &[Option<&[u8]>],
        share_bytes: usize,
        wanted: &[usize],
    ) -> Result<Vec<Vec<u8>>, RebuildError> {
        let (k, m) = (self.k, self.m);
        assert_eq!(shares.len(), k + m, "one slot per piece");
        assert!(
            wanted.iter().all(|&w| w < k + m),
            "wanted piece out of range"
        );
        let healthy = shares.iter().flatten().count();
        if healthy < k {
            return Err(RebuildError::NotEnoughShares {
                healthy,
                required: k,
            });
        }
        let data = self.data_shares(shares, share_bytes);
        let parity = if wanted.iter().any(|&w| w >= k) {
            let encoder = match &mut self.encoder {
                Some(encoder) => {
                    encoder.reset(k, m, share_bytes).expect("validated layout");
                    encoder
                }
                None => self
                    .encoder
                    .insert(ReedSolomonEncoder::new(k, m, share_bytes).expect("validated layout")),
            };
            for share in &data {
                encoder
                    .add_original_shard(share)
                    .expect("k shards of the right size");
            }
            let result = encoder.encode().expect("k shards were given");
            result.recovery_iter().map(<[u8]>::to_vec).collect()
        } else {
            Vec::new()
        };
        Ok(wanted
            .iter()
            .map(|&w| {
                if w < k {
                    data[w].clone()
                } else {
                    parity[w - k].clone()
                }
            })
            .collect())
    }

    /// The k data shares: the healthy ones as given, the others decoded.
    fn data_shares(&mut self, shares: &[Option<&[u8]>], share_bytes: usize) -> Vec<Vec<u8>> {
        let (k, m) = (self.k, self.m);
        if shares[..k].iter().all(Option::is_some) {
            return shares[..k].iter().flatten().map(|s| s.to_vec()).collect();
        }
        let decoder = match &mut self.decoder {
            Some(decoder) => {
                decoder.reset(k, m, share_bytes).expect("validated layout");
                decoder
            }
            None => self
                .decoder
                .insert(ReedSolomonDecoder::new(k, m, share_bytes).expect("validated layout")),
        };
        // Exactly k shares: data first, then parity as needed.
        let chosen = shares
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .take(k);
        for (i, share) in chosen {
            if i < k {
                decoder
                    .add_original_shard(i, share)
                    .expect("index and size are valid");
            } else {
                decoder
                    .add_recovery_shard(i - k, share)
                    .expect("index and size are valid");
            }
        }
        let restored = decoder.decode().expect("k shards were given");
        (0..k)
            .map(|i| match shares[i] {
                Some(share) => share.to_vec(),
                None => restored
                    .restored_original(i)
                    .expect("missing originals are restored")
                    .to_vec(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe(k: usize, m: usize, share_bytes: usize, seed: u8) -> Vec<Vec<u8>> {
        let data: Vec<Vec<u8>> = (0..k)
            .map(|i| {
                (0..share_bytes)
                    .map(|j| (j as u8).wrapping_mul(31) ^ (i as u8) ^ seed)
                    .collect()
            })
            .collect();
        let mut encoder = ReedSolomonEncoder::new(k, m, share_bytes).unwrap();
        for share in &data {
            encoder.add_original_shard(share).unwrap();
        }
        let parity: Vec<Vec<u8>> = encoder
            .encode()
            .unwrap()
            .recovery_iter()
            .map(<[u8]>::to_vec)
            .collect();
        data.into_iter().chain(parity).collect()
    }

    #[test]
    fn every_lost_set_up_to_m_is_rebuilt_exactly() {
        for (k, m) in [(4, 2), (2, 1), (4, 4), (10, 6), (29, 51)] {
            let n = k + m;
            let all = stripe(k, m, 128, k as u8);
            let mut rebuilder = ShareRebuilder::new(k, m);
            // Lose m shares at several positions, data and parity mixed.
            for start in [0, 1, k.saturating_sub(1), n - m] {
                let lost: Vec<usize> = (0..m).map(|j| (start + j * 3) % n).collect();
                let mut lost_sorted = lost.clone();
                lost_sorted.sort_unstable();
                lost_sorted.dedup();
                let shares: Vec<Option<&[u8]>> = (0..n)
                    .map(|i| (!lost_sorted.contains(&i)).then_some(&all[i][..]))
                    .collect();
                let rebuilt = rebuilder.rebuild(&shares, 128, &lost_sorted).unwrap();
                for (i, share) in lost_sorted.iter().zip(&rebuilt) {
                    assert_eq!(share, &all[*i], "({k},{m}) piece {i}");
                }
            }
        }
    }

    #[test]
    fn too_few_shares_is_an_error() {
        let all = stripe(4, 2, 64, 1);
        let shares: Vec<Option<&[u8]>> = (0..6).map(|i| (i >= 3).then_some(&all[i][..])).collect();
        assert_eq!(
            ShareRebuilder::new(4, 2).rebuild(&shares, 64, &[0]),
            Err(RebuildError::NotEnoughShares {
                healthy: 3,
                required: 4
            })
        );
    }
}
