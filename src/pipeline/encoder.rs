//! `SegmentEncoder`: plaintext in whatever chunks arrive → sealed, erasure-coded
//! shares for each of the n pieces, plus the object's digests, in one pass.
//!
//! Memory is one stripe buffer, whatever the segment size: `push` encodes at
//! most one stripe per call, and the caller drains the [`PieceBuffers`] between
//! calls. Once a sealed stripe's data shares are in their piece buffers, the
//! stripe buffer is the Reed-Solomon work space ([`ParityCoder`]), so no share is
//! copied anywhere but to its piece. The encoder, its cipher backend choice and
//! the stripe buffer are reused across the stripes and segments of one object:
//! an `ObjectWriter` builds one per object.

use core::time::Duration;

use super::buf::AlignedBuf;
use super::checksum::{append_share, DigestRequest, ObjectDigest, ObjectHasher};
use super::crypto::{stripe_nonce, AeadBackend, Cipher, ContentKey};
use super::layout::{Layout, SegmentGeometry, SHARE_ALIGN, TAG_BYTES};
use super::parity::ParityCoder;
use super::random::Entropy;

/// A segment's secrets: its content key and the prefix of its stripe nonces.
pub struct SegmentSeal {
    pub key: ContentKey,
    pub nonce_prefix: [u8; 4],
}

impl SegmentSeal {
    pub fn random(entropy: &mut impl Entropy) -> Self {
        Self {
            key: ContentKey::random(entropy),
            nonce_prefix: entropy.array(),
        }
    }
}

/// Per-piece output of the encoder: share bytes produced since the last drain,
/// and the share checksum of every stripe of the current segment so far.
pub struct PieceBuffers {
    pub shares: Vec<AlignedBuf>,
    pub checksums: Vec<Vec<u32>>,
}

impl PieceBuffers {
    pub fn new(pieces: usize, bytes_each: usize) -> Self {
        Self {
            shares: (0..pieces)
                .map(|_| AlignedBuf::with_capacity(bytes_each))
                .collect(),
            checksums: vec![Vec::new(); pieces],
        }
    }

    /// Bytes waiting in the fullest piece buffer.
    pub fn pending_bytes(&self) -> usize {
        self.shares.iter().map(|s| s.len()).max().unwrap_or(0)
    }

    /// Forgets checksums at the start of a new segment.
    pub fn clear_checksums(&mut self) {
        self.checksums.iter_mut().for_each(Vec::clear);
    }
}

/// Time the encoder spent per stage since the last `take_stage_times`, for
/// the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// Digests of the plaintext and its copy into the stripe.
    pub hash: Duration,
    /// AES-256-GCM sealing.
    pub encrypt: Duration,
    /// Share copies with their CRC32C, and Reed-Solomon parity.
    pub encode: Duration,
}

/// The monotonic clock the stage times are read from, passed in so the
/// encoder reads no clock of its own (the gateway passes
/// `crate::clock::monotonic`; a test may pass one that stands still). It is
/// read three times per stripe and once per `push`, never per byte, and a
/// call through a function pointer costs next to the clock read itself (a
/// few tens of nanoseconds).
pub type Monotonic = fn() -> Duration;

pub struct SegmentEncoder {
    layout: Layout,
    times: StageTimes,
    monotonic: Monotonic,
    backend: AeadBackend,
    /// Parity for m > 0, computed in `stripe` once its data shares are out.
    parity: Option<ParityCoder>,
    /// The stripe being filled and sealed, then the Reed-Solomon work space.
    stripe: AlignedBuf,
    stripe_filled: usize,
    cipher: Option<Cipher>,
    nonce_prefix: [u8; 4],
    stripe_index: u32,
    segment_plaintext: u64,
    digests: DigestRequest,
    hasher: ObjectHasher,
}

impl SegmentEncoder {
    pub fn new(
        layout: Layout,
        backend: AeadBackend,
        digests: DigestRequest,
        monotonic: Monotonic,
    ) -> Self {
        let k = layout.required();
        let m = layout.erasure().parity();
        let parity =
            (m > 0).then(|| ParityCoder::new(k, m).expect("Layout::new validated k and m"));
        let stripe_shares = parity.as_ref().map_or(k, ParityCoder::work_shares);
        Self {
            layout,
            times: StageTimes::default(),
            monotonic,
            backend,
            parity,
            stripe: AlignedBuf::zeroed(stripe_shares * layout.share_bytes()),
            stripe_filled: 0,
            cipher: None,
            nonce_prefix: [0; 4],
            stripe_index: 0,
            segment_plaintext: 0,
            digests,
            hasher: ObjectHasher::new(digests),
        }
    }

    /// The stage times so far, and a fresh start.
    pub fn take_stage_times(&mut self) -> StageTimes {
        std::mem::take(&mut self.times)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Starts a segment sealed with `seal`; `out`'s checksum lists restart.
    pub fn begin_segment(&mut self, seal: &SegmentSeal, out: &mut PieceBuffers) {
        assert!(self.cipher.is_none(), "begin_segment inside a segment");
        assert_eq!(out.shares.len(), self.layout.total());
        self.cipher = Some(Cipher::new(self.backend, &seal.key));
        self.nonce_prefix = seal.nonce_prefix;
        self.stripe_index = 0;
        self.stripe_filled = 0;
        self.segment_plaintext = 0;
        out.clear_checksums();
    }

    /// Plaintext bytes the current segment can still take.
    pub fn segment_room(&self) -> u64 {
        self.layout.segment_bytes_max() - self.segment_plaintext
    }

    /// Takes plaintext from `input`, at most up to the end of the segment, and
    /// seals and codes at most one stripe into `out`. Returns the bytes consumed.
    pub fn push(&mut self, input: &[u8], out: &mut PieceBuffers) -> usize {
        assert!(self.cipher.is_some(), "push outside a segment");
        let stripe_room = self.layout.stripe_plaintext_bytes() - self.stripe_filled;
        let take = input
            .len()
            .min(stripe_room)
            .min(self.segment_room() as usize);
        // Hash first, then copy: input arriving cold from memory streams in
        // faster under the digests' sequential reads than under memcpy, which
        // then finds it in cache (measured: 0.051 vs 0.068 ns/B for 64 KiB).
        let started = (self.monotonic)();
        self.hasher.update(&input[..take]);
        self.stripe[self.stripe_filled..self.stripe_filled + take].copy_from_slice(&input[..take]);
        self.times.hash += (self.monotonic)().saturating_sub(started);
        self.stripe_filled += take;
        self.segment_plaintext += take as u64;
        if self.stripe_filled == self.layout.stripe_plaintext_bytes() {
            self.seal_stripe(out);
        }
        take
    }

    /// Seals the last, possibly short, stripe and closes the segment.
    pub fn finish_segment(&mut self, out: &mut PieceBuffers) -> SegmentGeometry {
        assert!(self.cipher.is_some(), "finish_segment outside a segment");
        if self.stripe_filled > 0 || self.stripe_index == 0 {
            self.seal_stripe(out);
        }
        self.cipher = None;
        let geometry = self.layout.segment(self.segment_plaintext);
        debug_assert_eq!(geometry.stripe_count, self.stripe_index);
        geometry
    }

    /// The digests of everything pushed into this encoder.
    pub fn finish_object(&mut self) -> ObjectDigest {
        assert!(self.cipher.is_none(), "finish_object inside a segment");
        std::mem::replace(&mut self.hasher, ObjectHasher::new(self.digests)).finish(self.digests)
    }

    fn seal_stripe(&mut self, out: &mut PieceBuffers) {
        let k = self.layout.required();
        let plain = self.stripe_filled;
        let share = if plain == self.layout.stripe_plaintext_bytes() {
            self.layout.share_bytes()
        } else {
            (plain + TAG_BYTES)
                .div_ceil(k)
                .next_multiple_of(SHARE_ALIGN)
        };
        let sealed = k * share;
        let cipher = self.cipher.as_ref().expect("inside a segment");
        let nonce = stripe_nonce(self.nonce_prefix, self.stripe_index);
        let started = (self.monotonic)();
        let tag = cipher.seal(nonce, &[], &mut self.stripe[..plain]);
        self.stripe[plain..plain + TAG_BYTES].copy_from_slice(&tag);
        self.stripe[plain + TAG_BYTES..sealed].fill(0);
        let sealed_at = (self.monotonic)();
        self.times.encrypt += sealed_at.saturating_sub(started);

        let stripe_index = self.stripe_index;
        for (i, data) in self.stripe[..sealed].chunks_exact(share).enumerate() {
            emit(out, i, stripe_index, data);
        }
        if let Some(parity) = &self.parity {
            // The data shares are in their piece buffers now: the stripe buffer
            // becomes the codec's work space, with no copy into one of its own.
            parity.encode_in_place(&mut self.stripe, share);
            let m = self.layout.erasure().parity();
            for (j, shard) in self.stripe[..m * share].chunks_exact(share).enumerate() {
                emit(out, k + j, stripe_index, shard);
            }
        }
        self.times.encode += (self.monotonic)().saturating_sub(sealed_at);
        self.stripe_index += 1;
        self.stripe_filled = 0;
    }
}

/// Appends a share, still in cache, to its piece buffer and its checksum to the
/// piece's list: one pass over the share for both.
fn emit(out: &mut PieceBuffers, piece: usize, stripe: u32, share: &[u8]) {
    let checksum = append_share(&mut out.shares[piece], share, piece as u16, stripe);
    out.checksums[piece].push(checksum);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::decoder::{DecodeReport, PieceWindow, SegmentDecoder};
    use crate::pipeline::layout::ErasureParams;
    use crate::pipeline::random::Seeded;

    /// Encodes `data` as one segment and decodes `range` with `lost` pieces missing.
    fn round_trip(k: usize, n: usize, share: usize, data: &[u8], lost: &[usize]) -> Vec<u8> {
        let layout = Layout::new(
            ErasureParams {
                required: k,
                optimal: n,
                total: n,
            },
            share,
            1 << 30,
        )
        .unwrap();
        let mut enc = SegmentEncoder::new(
            layout,
            AeadBackend::Ring,
            DigestRequest {
                md5: true,
                checksum: None,
            },
            || Duration::ZERO,
        );
        let mut out = PieceBuffers::new(n, 0);
        let seal = SegmentSeal::random(&mut Seeded::new(data.len() as u64));
        enc.begin_segment(&seal, &mut out);
        let mut rest = data;
        while !rest.is_empty() {
            let used = enc.push(&rest[..rest.len().min(1000)], &mut out);
            rest = &rest[used..];
        }
        let geometry = enc.finish_segment(&mut out);
        let digest = enc.finish_object();
        assert_eq!(digest.plaintext_bytes, data.len() as u64);
        let windows: Vec<_> = (0..n)
            .map(|i| {
                (!lost.contains(&i)).then(|| PieceWindow {
                    shares: &out.shares[i],
                    checksums: &out.checksums[i],
                })
            })
            .collect();
        let mut dec = SegmentDecoder::new(AeadBackend::Ring);
        let mut plain = AlignedBuf::with_capacity(0);
        let mut report = DecodeReport::default();
        if data.is_empty() {
            return Vec::new();
        }
        dec.decode(
            &geometry,
            &seal,
            0..geometry.stripe_count,
            &windows,
            0..data.len() as u64,
            &mut plain,
            &mut report,
        )
        .unwrap();
        plain.to_vec()
    }

    #[test]
    fn encode_then_decode_with_losses() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        assert_eq!(round_trip(4, 6, 1024, &data, &[]), data);
        assert_eq!(round_trip(4, 6, 1024, &data, &[0, 3]), data);
        assert_eq!(round_trip(4, 6, 1024, &data, &[4, 5]), data);
        assert_eq!(round_trip(3, 3, 64, &data[..77], &[]), &data[..77]);
        assert_eq!(
            round_trip(2, 5, 4096, &data[..8176], &[0, 1, 2]),
            &data[..8176]
        );
    }

    /// A clock that moves one millisecond each time it is read.
    fn ticking() -> Duration {
        use std::sync::atomic::{AtomicU64, Ordering};
        static TICKS: AtomicU64 = AtomicU64::new(0);
        Duration::from_millis(TICKS.fetch_add(1, Ordering::Relaxed))
    }

    #[test]
    fn stage_times_come_from_the_callers_clock() {
        let layout = Layout::new(
            ErasureParams {
                required: 2,
                optimal: 3,
                total: 3,
            },
            1024,
            1 << 20,
        )
        .unwrap();
        let mut enc =
            SegmentEncoder::new(layout, AeadBackend::Ring, DigestRequest::default(), ticking);
        let mut out = PieceBuffers::new(3, 0);
        enc.begin_segment(&SegmentSeal::random(&mut Seeded::new(9)), &mut out);
        assert_eq!(enc.push(&[7; 100], &mut out), 100);
        enc.finish_segment(&mut out);
        let times = enc.take_stage_times();
        // One read before and one after each stage: exactly one tick apart.
        assert_eq!(times.hash, Duration::from_millis(1));
        assert_eq!(times.encrypt, Duration::from_millis(1));
        assert_eq!(times.encode, Duration::from_millis(1));
        assert_eq!(enc.take_stage_times(), StageTimes::default());
    }
}
