//! Reed-Solomon parity computed in place over the encoder's stripe buffer, with
//! reed-solomon-simd's own engine and algorithm (its `rate` encoders, replayed).
//!
//! `ReedSolomonEncoder` first copies every original shard into a work buffer of
//! its own (`add_original_shard`), and that copy costs as much as a third of its
//! transform. Its work buffer is k shards laid end to end, rounded up to a whole
//! number of transform chunks: exactly the stripe buffer's layout once the
//! sealed stripe has been handed on. So the encoder runs the same transforms on
//! its stripe buffer instead, after copying the data shares out, and finds the
//! parity shares at its front. The bytes are the library's: a unit test below
//! compares them with `ReedSolomonEncoder` for every kind of code the layout
//! allows, and the property tests decode them with `ReedSolomonDecoder`.

use reed_solomon_simd::engine::{utils, DefaultEngine, Engine, ShardsRefMut, GF_ORDER};

/// Builds parity for one code (k data shares, m ≥ 1 parity shares).
pub struct ParityCoder {
    engine: DefaultEngine,
    data: usize,
    parity: usize,
    high_rate: bool,
}

impl ParityCoder {
    /// A coder for `data` + `parity` shares; `None` if reed-solomon-simd does
    /// not support the code.
    pub fn new(data: usize, parity: usize) -> Option<Self> {
        Some(Self {
            engine: DefaultEngine::new(),
            data,
            parity,
            high_rate: use_high_rate(data, parity)?,
        })
    }

    /// Shares of work space [`Self::encode_in_place`] needs: the k data shares
    /// and room for the transform's chunks.
    pub fn work_shares(&self) -> usize {
        if self.high_rate {
            self.data.next_multiple_of(self.parity.next_power_of_two())
        } else {
            self.parity.next_multiple_of(self.data.next_power_of_two())
        }
        .max(self.data)
    }

    /// Given the k data shares of `share_bytes` at the front of `work` (which
    /// holds at least [`Self::work_shares`] shares), leaves the m parity shares
    /// at its front. The data shares are overwritten: copy them out first.
    pub fn encode_in_place(&self, work: &mut [u8], share_bytes: usize) {
        assert!(
            share_bytes > 0 && share_bytes.is_multiple_of(64),
            "whole 64-byte chunks"
        );
        let count = self.work_shares();
        let work = &mut work[..count * share_bytes];
        // SAFETY: [u8; 64] has the size of 64 bytes and alignment 1, and the
        // length is a whole number of them.
        let chunks = unsafe {
            std::slice::from_raw_parts_mut(work.as_mut_ptr().cast::<[u8; 64]>(), work.len() / 64)
        };
        let mut shards = ShardsRefMut::new(count, share_bytes / 64, chunks);
        if self.high_rate {
            self.encode_high_rate(&mut shards);
        } else {
            self.encode_low_rate(&mut shards);
        }
    }

    /// `HighRateEncoder::encode` (reed-solomon-simd 3.1, src/rate/rate_high.rs).
    fn encode_high_rate(&self, work: &mut ShardsRefMut<'_>) {
        let (original_count, recovery_count) = (self.data, self.parity);
        let chunk_size = recovery_count.next_power_of_two();
        let engine = &self.engine;
        let first_count = original_count.min(chunk_size);
        work.zero(first_count..chunk_size);
        engine.ifft(work, 0, chunk_size, first_count, chunk_size);
        if original_count > chunk_size {
            let mut chunk_start = chunk_size;
            while chunk_start + chunk_size <= original_count {
                engine.ifft(
                    work,
                    chunk_start,
                    chunk_size,
                    chunk_size,
                    chunk_start + chunk_size,
                );
                utils::xor_within(work, 0, chunk_start, chunk_size);
                chunk_start += chunk_size;
            }
            let last_count = original_count % chunk_size;
            if last_count > 0 {
                work.zero(chunk_start + last_count..);
                engine.ifft(
                    work,
                    chunk_start,
                    chunk_size,
                    last_count,
                    chunk_start + chunk_size,
                );
                utils::xor_within(work, 0, chunk_start, chunk_size);
            }
        }
        engine.fft(work, 0, chunk_size, recovery_count, 0);
    }

    /// `LowRateEncoder::encode` (reed-solomon-simd 3.1, src/rate/rate_low.rs).
    fn encode_low_rate(&self, work: &mut ShardsRefMut<'_>) {
        let (original_count, recovery_count) = (self.data, self.parity);
        let chunk_size = original_count.next_power_of_two();
        let engine = &self.engine;
        work.zero(original_count..chunk_size);
        engine.ifft(work, 0, chunk_size, original_count, 0);
        let mut chunk_start = chunk_size;
        while chunk_start < recovery_count {
            let (head, mut tail) = work.split_at_mut(chunk_start);
            for i in 0..chunk_size {
                tail[i].copy_from_slice(&head[i]);
            }
            chunk_start += chunk_size;
        }
        let mut chunk_start = 0;
        while chunk_start + chunk_size <= recovery_count {
            engine.fft(
                work,
                chunk_start,
                chunk_size,
                chunk_size,
                chunk_start + chunk_size,
            );
            chunk_start += chunk_size;
        }
        let last_count = recovery_count % chunk_size;
        if last_count > 0 {
            engine.fft(
                work,
                chunk_start,
                chunk_size,
                last_count,
                chunk_start + chunk_size,
            );
        }
    }
}

/// reed-solomon-simd's choice between its high- and low-rate encoders
/// (`use_high_rate` in src/rate/rate_default.rs), which its decoder mirrors.
fn use_high_rate(original_count: usize, recovery_count: usize) -> Option<bool> {
    let original_pow2 = original_count.next_power_of_two();
    let recovery_pow2 = recovery_count.next_power_of_two();
    let smaller_pow2 = original_pow2.min(recovery_pow2);
    let larger = original_count.max(recovery_count);
    if original_count == 0
        || recovery_count == 0
        || original_count > GF_ORDER
        || recovery_count > GF_ORDER
        || smaller_pow2 + larger > GF_ORDER
    {
        return None;
    }
    Some(match original_pow2.cmp(&recovery_pow2) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => original_count <= recovery_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reed_solomon_simd::ReedSolomonEncoder;

    #[test]
    fn same_parity_as_the_library() {
        // (k, m): high rate, low rate, equal powers of two both ways, partial
        // chunks, and the codes the benches and the default layout use.
        let codes = [
            (1, 1),
            (1, 4),
            (2, 3),
            (3, 1),
            (4, 2),
            (4, 4),
            (5, 3),
            (6, 7),
            (8, 4),
            (10, 6),
            (29, 51),
            (3, 17),
            (17, 3),
            (32, 32),
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for (k, m) in codes {
            for share in [64, 192, 4096] {
                let coder = ParityCoder::new(k, m).unwrap();
                assert!(ReedSolomonEncoder::supports(k, m));
                let mut work = vec![0xa5u8; coder.work_shares() * share];
                for b in &mut work[..k * share] {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                let mut lib = ReedSolomonEncoder::new(k, m, share).unwrap();
                for s in work[..k * share].chunks_exact(share) {
                    lib.add_original_shard(s).unwrap();
                }
                let expected: Vec<Vec<u8>> = lib
                    .encode()
                    .unwrap()
                    .recovery_iter()
                    .map(<[u8]>::to_vec)
                    .collect();
                coder.encode_in_place(&mut work, share);
                for (j, want) in expected.iter().enumerate() {
                    assert!(
                        work[j * share..(j + 1) * share] == want[..],
                        "k={k} m={m} share={share}: parity {j} differs"
                    );
                }
            }
        }
    }
}
