//! Property tests of the sans-IO object pipeline (`ringgate::pipeline`): the
//! streaming [`SegmentEncoder`], the [`SegmentDecoder`], their layout, AEAD,
//! Reed-Solomon and checksum parts, checked against independent references.
//!
//! Every case draws an erasure code (k in 1..=8 with m in 0..=4, or the wide
//! codes 10/16 and 29/80 at small shares), a share size (a multiple of 64 up to
//! 4 KiB), a segment size (1..=3 stripes of plaintext, sometimes plus a partial
//! stripe), an object size from the boundary set {0, 1, share−1, share,
//! stripe±1, segment±1, several segments ±1} or at random, and random input
//! chunking. Objects are cut into segments of `segment_bytes_max` bytes by one
//! encoder reused across segments (`begin_segment`/`push`/`finish_segment`, then
//! `finish_object`), with the piece buffers drained at random points. Reads
//! decode a random range: for each segment it spans, windows over exactly the
//! stripes covering it (`stripes_covering` → `shares_span` and that run of
//! checksums), sometimes widened by a stripe on either side.
//!
//! What the file proves:
//!
//! 1. `round_trip`: the segment split, geometry, piece lengths and share
//!    checksums are what the layout says (checksums also against `crc-fast`); the MD5 matches the `md-5` crate, the
//!    CRC64NVME and any requested `x-amz-checksum-*` algorithm match `crc-fast`,
//!    `sha1` and `sha2` run over the whole plaintext in one call; and with any
//!    ≤ m pieces of each segment lost, decoding returns exactly the plaintext of
//!    the range, reports no corruption, and rebuilds (Reed-Solomon) exactly the
//!    stripes whose data shares are missing.
//! 2. `detected_corruption_is_repaired_and_reported`: bit flips in up to m − lost
//!    distinct pieces of every decoded stripe still give exactly the plaintext,
//!    and the report lists exactly the flipped (piece, stripe) pairs examined.
//! 3. `too_many_corruptions_fail_cleanly`: more than m − lost flipped shares in
//!    one stripe (fewer than k healthy) give `NotEnoughShares` for that stripe
//!    with the right counts, never `Ok`, and nothing but a correct prefix is
//!    output before the error.
//! 4. Corruptions the CRC cannot see (share overwritten, checksum recomputed):
//!    `crc_valid_corruption_with_spare_is_survived`: one per stripe with at least
//!    one spare healthy share still gives exactly the plaintext, and the bad share
//!    is reported whenever the first share set used it;
//!    `crc_valid_corruption_without_spare_fails_authentication`: with exactly k
//!    shares left (m = 0, all parity lost, or any m lost) decode fails with
//!    `Authentication` for that stripe whenever the overwrite touches
//!    authenticated bytes, and otherwise may only succeed with correct bytes;
//!    `never_wrong_bytes`: any mix of losses, detected and undetected corruption
//!    yields either exactly the plaintext or `NotEnoughShares` /
//!    `Authentication` for a stripe that really has that problem, after a correct
//!    prefix.
//! 5. `aead_backends_agree`: `ring` and RustCrypto, each given its own
//!    `SegmentSeal` built from the same key bytes and nonce prefix and its own
//!    input chunking, produce byte-identical pieces, checksums and digests,
//!    decode each other's pieces, and agree on inline (non-erasure-coded) objects.
//!
//! Every decode runs twice, through the decoder as built and with its fast
//! path forced to copy shares in the same pass as their CRC checks (which it
//! otherwise does only for outputs of 768 KiB and more per call); the two must
//! give the same bytes, errors and reports.

use std::ops::Range;

use proptest::prelude::*;
use ringgate::pipeline::buf::AlignedBuf;
use ringgate::pipeline::checksum::{
    share_checksum, ChecksumAlgorithm, DigestRequest, ObjectDigest,
};
use ringgate::pipeline::crypto::{AeadBackend, ContentKey};
use ringgate::pipeline::decoder::{
    stripe_sets_max, DecodeError, DecodeReport, PieceWindow, SegmentDecoder,
};
use ringgate::pipeline::encoder::{PieceBuffers, SegmentEncoder, SegmentSeal};
use ringgate::pipeline::inline::{open_inline, seal_inline};
use ringgate::pipeline::layout::{ErasureParams, Layout, SegmentGeometry, TAG_BYTES};
use sha2::Digest as _;

/// SplitMix64: the cheap, reproducible source of every choice that depends on
/// values drawn by proptest (chunk sizes, lost pieces, corrupted bits).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    fn inclusive(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
        out
    }

    /// `count` distinct items of `pool`, in ascending order.
    fn subset(&mut self, pool: &[usize], count: usize) -> Vec<usize> {
        let mut pool = pool.to_vec();
        for i in 0..count {
            let j = i + self.below(pool.len() - i);
            pool.swap(i, j);
        }
        pool.truncate(count);
        pool.sort_unstable();
        pool
    }
}

/// An object size, relative to the layout it is drawn with.
#[derive(Clone, Copy, Debug)]
enum Size {
    Zero,
    One,
    ShareLess1,
    Share,
    StripeLess1,
    Stripe,
    StripeMore1,
    SegmentLess1,
    Segment,
    SegmentMore1,
    Segments { count: u64, delta: i64 },
    Random(u64),
}

impl Size {
    const FIXED: [Size; 10] = [
        Size::Zero,
        Size::One,
        Size::ShareLess1,
        Size::Share,
        Size::StripeLess1,
        Size::Stripe,
        Size::StripeMore1,
        Size::SegmentLess1,
        Size::Segment,
        Size::SegmentMore1,
    ];

    fn bytes(self, layout: &Layout) -> usize {
        let share = layout.share_bytes() as u64;
        let stripe = layout.stripe_plaintext_bytes() as u64;
        let segment = layout.segment_bytes_max();
        let bytes = match self {
            Size::Zero => 0,
            Size::One => 1,
            Size::ShareLess1 => share - 1,
            Size::Share => share,
            Size::StripeLess1 => stripe - 1,
            Size::Stripe => stripe,
            Size::StripeMore1 => stripe + 1,
            Size::SegmentLess1 => segment - 1,
            Size::Segment => segment,
            Size::SegmentMore1 => segment + 1,
            Size::Segments { count, delta } => (count * segment)
                .checked_add_signed(delta)
                .expect("count ≥ 2"),
            Size::Random(x) => x % (3 * segment + stripe + 1),
        };
        bytes as usize
    }
}

fn size_strategy() -> impl Strategy<Value = Size> {
    prop_oneof![
        10 => (0..Size::FIXED.len()).prop_map(|i| Size::FIXED[i]),
        3 => (2u64..=4, -1i64..=1).prop_map(|(count, delta)| Size::Segments { count, delta }),
        4 => any::<u64>().prop_map(Size::Random),
    ]
}

#[derive(Clone, Debug)]
struct Params {
    k: usize,
    m: usize,
    share: usize,
    segment_stripes: u64,
    /// Adds `x % stripe` bytes to the segment size, so segments end mid-stripe.
    segment_partial: Option<u64>,
    size: Size,
    md5: bool,
    checksum: Option<ChecksumAlgorithm>,
    seed: u64,
}

impl Params {
    fn layout(&self) -> Layout {
        let stripe = (self.k * self.share - TAG_BYTES) as u64;
        let segment =
            self.segment_stripes * stripe + self.segment_partial.map_or(0, |x| x % stripe);
        let n = self.k + self.m;
        Layout::new(
            ErasureParams {
                required: self.k,
                optimal: n,
                total: n,
            },
            self.share,
            segment,
        )
        .expect("the strategy draws valid layouts")
    }

    fn request(&self) -> DigestRequest {
        DigestRequest {
            md5: self.md5,
            checksum: self.checksum,
        }
    }
}

/// Parameters with at least `min_parity` parity pieces.
fn params(min_parity: usize) -> impl Strategy<Value = Params> {
    let code = prop_oneof![
        10 => (1usize..=8, min_parity..=4, 1usize..=64),
        1 => (Just(10usize), Just(6usize), 1usize..=4),
        1 => (Just(29usize), Just(51usize), 1usize..=2),
    ];
    (
        code,
        1u64..=3,
        proptest::option::weighted(0.25, any::<u64>()),
        size_strategy(),
        any::<bool>(),
        proptest::option::of(proptest::sample::select(ChecksumAlgorithm::ALL.to_vec())),
        any::<u64>(),
    )
        .prop_map(
            |((k, m, shares64), segment_stripes, segment_partial, size, md5, checksum, seed)| {
                Params {
                    k,
                    m,
                    share: shares64 * 64,
                    segment_stripes,
                    segment_partial,
                    size,
                    md5,
                    checksum,
                    seed,
                }
            },
        )
}

/// One encoded segment, with the damage a test has done to its pieces.
#[derive(Clone)]
struct Segment {
    /// Object offsets of the segment's plaintext.
    plain: Range<u64>,
    geometry: SegmentGeometry,
    key: [u8; 32],
    nonce_prefix: [u8; 4],
    /// The whole share area of every piece.
    pieces: Vec<Vec<u8>>,
    checksums: Vec<Vec<u32>>,
    present: Vec<bool>,
    /// The pieces and checksums as encoded, before any damage.
    pristine: (Vec<Vec<u8>>, Vec<Vec<u32>>),
}

impl Segment {
    fn seal(&self) -> SegmentSeal {
        SegmentSeal {
            key: ContentKey::from_bytes(self.key),
            nonce_prefix: self.nonce_prefix,
        }
    }

    fn k(&self) -> usize {
        self.geometry.layout.required()
    }

    fn n(&self) -> usize {
        self.geometry.layout.total()
    }

    fn share_range(&self, stripe: u32) -> Range<usize> {
        let at = self.geometry.share_offset(stripe) as usize;
        at..at + self.geometry.share_bytes(stripe)
    }

    fn lose(&mut self, pieces: &[usize]) {
        for &p in pieces {
            self.present[p] = false;
        }
    }

    fn present_pieces(&self) -> Vec<usize> {
        (0..self.n()).filter(|&p| self.present[p]).collect()
    }

    /// Flips one random bit of a share: its CRC32C no longer matches.
    fn flip_bit(&mut self, piece: usize, stripe: u32, rng: &mut Rng) {
        let share = self.share_range(stripe);
        let bit = rng.below(share.len() * 8);
        self.pieces[piece][share.start + bit / 8] ^= 1 << (bit % 8);
    }

    /// Puts another, intact share with its own checksum in this share's place: a
    /// share of another piece in the same stripe, or of this piece in another
    /// stripe of the same size. Only the position bound into the CRC32C can tell.
    /// (Positions differ in at most 32 consecutive bits, a burst CRC32C always
    /// catches.) Returns false when no such share exists.
    fn misplace(&mut self, piece: usize, stripe: u32, rng: &mut Rng) -> bool {
        let share_bytes = self.geometry.share_bytes(stripe);
        let mut sources: Vec<(usize, u32)> = (0..self.n())
            .filter(|&p| p != piece)
            .map(|p| (p, stripe))
            .collect();
        sources.extend(
            (0..self.geometry.stripe_count)
                .filter(|&s| s != stripe && self.geometry.share_bytes(s) == share_bytes)
                .map(|s| (piece, s)),
        );
        if sources.is_empty() {
            return false;
        }
        let (from_piece, from_stripe) = rng.pick(&sources);
        let from = self.share_range(from_stripe);
        let to = self.share_range(stripe);
        let (pieces, checksums) = &self.pristine;
        self.pieces[piece][to].copy_from_slice(&pieces[from_piece][from]);
        self.checksums[piece][stripe as usize] = checksums[from_piece][from_stripe as usize];
        true
    }

    /// Damage the share checksum must catch: a flipped bit or a misplaced share.
    fn damage_detectably(&mut self, piece: usize, stripe: u32, rng: &mut Rng) {
        if rng.chance(2, 3) || !self.misplace(piece, stripe, rng) {
            self.flip_bit(piece, stripe, rng);
        }
    }

    /// Changes every byte of a share and recomputes its checksum, as a bug or an
    /// attacker that rewrites the checksum with the data would.
    fn overwrite_keeping_crc(&mut self, piece: usize, stripe: u32, rng: &mut Rng) {
        let share = self.share_range(stripe);
        for byte in &mut self.pieces[piece][share.clone()] {
            *byte ^= 1 + rng.below(255) as u8;
        }
        self.checksums[piece][stripe as usize] =
            share_checksum(&self.pieces[piece][share], piece as u16, stripe);
    }

    /// Bytes of data share `piece` covered by the stripe's GCM tag (ciphertext or
    /// tag, not the zero padding of a short last stripe). Parity: the share size.
    fn authenticated_bytes(&self, piece: usize, stripe: u32) -> usize {
        let share = self.geometry.share_bytes(stripe);
        if piece >= self.k() {
            return share;
        }
        let plain = self.geometry.stripe_plaintext(stripe);
        let sealed = (plain.end - plain.start) as usize + TAG_BYTES;
        sealed.saturating_sub(piece * share).min(share)
    }

    /// Whether an overwrite of `piece` (every byte changed) must fail the tag when
    /// the stripe is opened from exactly the shares in `set`: a data share is used
    /// as is, so any authenticated byte counts; a parity share's error reaches
    /// every data share Reed-Solomon rebuilds (an MDS code gives each a non-zero
    /// coefficient), so one rebuilt share with a whole 64-byte run of
    /// authenticated bytes makes a miss astronomically unlikely.
    fn overwrite_detectable(&self, piece: usize, stripe: u32, set: &[usize]) -> bool {
        if piece < self.k() {
            self.authenticated_bytes(piece, stripe) >= 1
        } else {
            (0..self.k())
                .filter(|i| !set.contains(i))
                .any(|i| self.authenticated_bytes(i, stripe) >= 64)
        }
    }
}

struct Encoded {
    layout: Layout,
    segments: Vec<Segment>,
    digest: ObjectDigest,
}

fn seal_bytes(seed: u64, segment: usize) -> ([u8; 32], [u8; 4]) {
    let mut rng = Rng::new(seed ^ (segment as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let key: [u8; 32] = rng.bytes(32).try_into().unwrap();
    let prefix: [u8; 4] = rng.bytes(4).try_into().unwrap();
    (key, prefix)
}

fn drain(out: &mut PieceBuffers, pieces: &mut [Vec<u8>]) {
    for (piece, buf) in pieces.iter_mut().zip(&mut out.shares) {
        piece.extend_from_slice(buf);
        buf.clear();
    }
}

/// Encodes `data` as segments of `segment_bytes_max` bytes with one encoder, fed
/// in random chunks; segment seals derive from `seal_seed`.
fn encode(
    layout: Layout,
    backend: AeadBackend,
    request: DigestRequest,
    data: &[u8],
    seal_seed: u64,
    rng: &mut Rng,
) -> Encoded {
    let n = layout.total();
    let stripe = layout.stripe_plaintext_bytes();
    let mut encoder = SegmentEncoder::new(layout, backend, request, ringgate::clock::monotonic);
    let mut out = PieceBuffers::new(n, rng.below(2 * layout.share_bytes()));
    let mut segments = Vec::new();
    let mut offset = 0;
    loop {
        let (key, nonce_prefix) = seal_bytes(seal_seed, segments.len());
        let seal = SegmentSeal {
            key: ContentKey::from_bytes(key),
            nonce_prefix,
        };
        encoder.begin_segment(&seal, &mut out);
        let start = offset;
        let mut pieces = vec![Vec::new(); n];
        while offset < data.len() && encoder.segment_room() > 0 {
            let rest = data.len() - offset;
            let chunk = match rng.below(4) {
                0 => rng.inclusive(1, 16),
                1 => rng.inclusive(1, stripe),
                2 => rng.inclusive(1, 3 * stripe),
                _ => rest,
            }
            .min(rest);
            let room = encoder.segment_room();
            let used = encoder.push(&data[offset..offset + chunk], &mut out);
            assert!(used > 0 && used <= chunk && used as u64 <= room);
            offset += used;
            if rng.chance(1, 3) {
                drain(&mut out, &mut pieces);
            }
        }
        let geometry = encoder.finish_segment(&mut out);
        drain(&mut out, &mut pieces);
        segments.push(Segment {
            plain: start as u64..offset as u64,
            geometry,
            key,
            nonce_prefix,
            pristine: (pieces.clone(), out.checksums.clone()),
            pieces,
            checksums: out.checksums.clone(),
            present: vec![true; n],
        });
        if offset == data.len() {
            break;
        }
    }
    let digest = encoder.finish_object();
    Encoded {
        layout,
        segments,
        digest,
    }
}

fn backend(ring: bool) -> AeadBackend {
    if ring {
        AeadBackend::Ring
    } else {
        AeadBackend::RustCrypto
    }
}

/// One decoder call: a segment, the segment-relative range and the window's stripes.
struct Step {
    segment: usize,
    local: Range<u64>,
    stripes: Range<u32>,
}

/// The decoder calls that read `range` of the object; `widen` sometimes adds a
/// stripe the range does not need on either side of a window.
fn plan(segments: &[Segment], range: &Range<u64>, mut widen: Option<&mut Rng>) -> Vec<Step> {
    let mut steps = Vec::new();
    for (j, seg) in segments.iter().enumerate() {
        if range.is_empty() {
            // Only for the empty object: its single empty stripe still has to
            // authenticate, so open it for an empty range.
            if seg.plain.is_empty() {
                steps.push(Step {
                    segment: j,
                    local: 0..0,
                    stripes: 0..1,
                });
            }
            continue;
        }
        let start = range.start.max(seg.plain.start);
        let end = range.end.min(seg.plain.end);
        if start >= end {
            continue;
        }
        let local = start - seg.plain.start..end - seg.plain.start;
        let mut stripes = seg.geometry.stripes_covering(&local);
        if let Some(rng) = widen.as_deref_mut() {
            if stripes.start > 0 && rng.chance(1, 2) {
                stripes.start -= 1;
            }
            if stripes.end < seg.geometry.stripe_count && rng.chance(1, 2) {
                stripes.end += 1;
            }
        }
        steps.push(Step {
            segment: j,
            local,
            stripes,
        });
    }
    steps
}

struct Outcome {
    result: Result<(), DecodeError>,
    report: DecodeReport,
}

/// Runs the steps in order with one decoder, stopping at the first error like a
/// GET would. Returns every byte the decoder appended and each call's outcome.
/// Runs them twice: with the decoder as built, and with its fast path copying
/// shares in the same pass as their checks whatever the output size (which the
/// small cases here never reach otherwise); both must agree exactly.
fn decode(segments: &[Segment], steps: &[Step], backend: AeadBackend) -> (Vec<u8>, Vec<Outcome>) {
    let as_built = decode_with(segments, steps, backend, None);
    let fused = decode_with(segments, steps, backend, Some(0));
    assert!(
        as_built.0 == fused.0,
        "the fused fast path output other bytes"
    );
    assert_eq!(as_built.1.len(), fused.1.len());
    for (a, b) in as_built.1.iter().zip(&fused.1) {
        assert_eq!(a.result, b.result, "the fused fast path ended otherwise");
        assert_eq!(a.report, b.report, "the fused fast path reported otherwise");
    }
    as_built
}

fn decode_with(
    segments: &[Segment],
    steps: &[Step],
    backend: AeadBackend,
    fused_output_bytes_min: Option<u64>,
) -> (Vec<u8>, Vec<Outcome>) {
    let mut decoder = SegmentDecoder::new(backend);
    if let Some(bytes) = fused_output_bytes_min {
        decoder.set_fused_output_bytes_min(bytes);
    }
    let mut out = AlignedBuf::with_capacity(0);
    let mut outcomes = Vec::new();
    for step in steps {
        let seg = &segments[step.segment];
        let span = seg.geometry.shares_span(&step.stripes);
        let span = span.start as usize..span.end as usize;
        let stripes = step.stripes.start as usize..step.stripes.end as usize;
        let windows: Vec<Option<PieceWindow<'_>>> = (0..seg.n())
            .map(|p| {
                seg.present[p].then(|| PieceWindow {
                    shares: &seg.pieces[p][span.clone()],
                    checksums: &seg.checksums[p][stripes.clone()],
                })
            })
            .collect();
        let mut report = DecodeReport::default();
        let result = decoder.decode(
            &seg.geometry,
            &seg.seal(),
            step.stripes.clone(),
            &windows,
            step.local.clone(),
            &mut out,
            &mut report,
        );
        let failed = result.is_err();
        outcomes.push(Outcome { result, report });
        if failed {
            break;
        }
    }
    (out.to_vec(), outcomes)
}

fn pick_range(len: usize, rng: &mut Rng) -> Range<u64> {
    if len == 0 {
        return 0..0;
    }
    if rng.chance(1, 4) {
        return 0..len as u64;
    }
    let start = rng.below(len);
    let end = start + 1 + rng.below(len - start);
    start as u64..end as u64
}

fn slice(data: &[u8], range: &Range<u64>) -> Vec<u8> {
    data[range.start as usize..range.end as usize].to_vec()
}

fn expect_bytes(got: &[u8], want: &[u8]) -> Result<(), TestCaseError> {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        prop_assert!(
            false,
            "decoded {} bytes, expected {}; first difference at {:?}",
            got.len(),
            want.len(),
            first
        );
    }
    Ok(())
}

/// Bytes output before an error must be a correct prefix of the range.
fn expect_prefix(got: &[u8], want: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(got.len() <= want.len(), "output longer than the range");
    expect_bytes(got, &want[..got.len()])
}

fn reference_checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    use crc_fast::{checksum, CrcAlgorithm};
    match algorithm {
        ChecksumAlgorithm::Crc32 => (checksum(CrcAlgorithm::Crc32IsoHdlc, data) as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc32c => (checksum(CrcAlgorithm::Crc32Iscsi, data) as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc64Nvme => checksum(CrcAlgorithm::Crc64Nvme, data)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
        ChecksumAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
    }
}

fn check_digest(
    digest: &ObjectDigest,
    request: DigestRequest,
    data: &[u8],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(digest.plaintext_bytes, data.len() as u64);
    let md5: Option<[u8; 16]> = request.md5.then(|| md5::Md5::digest(data).into());
    prop_assert_eq!(digest.md5, md5);
    prop_assert_eq!(
        digest.crc64nvme,
        crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data)
    );
    match request.checksum {
        None => prop_assert!(digest.checksum.is_none()),
        Some(algorithm) => {
            let got = digest.checksum.as_ref().expect("requested checksum");
            prop_assert_eq!(got.algorithm, algorithm);
            prop_assert_eq!(got.bytes.len(), algorithm.digest_bytes());
            prop_assert_eq!(&got.bytes, &reference_checksum(algorithm, data));
        }
    }
    Ok(())
}

/// The share checksum from its definition, with `crc-fast` rather than the
/// pipeline's own CRC32C kernel: CRC32C over the share, then the piece (u16 LE)
/// and the stripe (u32 LE).
fn reference_share_checksum(share: &[u8], piece: u16, stripe: u32) -> u32 {
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    d.update(share);
    d.update(&piece.to_le_bytes());
    d.update(&stripe.to_le_bytes());
    d.finalize() as u32
}

/// The segment split, geometry, piece sizes and share checksums.
fn check_encoding(enc: &Encoded, data_len: usize) -> Result<(), TestCaseError> {
    let segment_max = enc.layout.segment_bytes_max() as usize;
    prop_assert_eq!(enc.segments.len(), data_len.div_ceil(segment_max).max(1));
    for (j, seg) in enc.segments.iter().enumerate() {
        let start = j * segment_max;
        let end = (start + segment_max).min(data_len);
        prop_assert_eq!(&seg.plain, &(start as u64..end as u64));
        prop_assert_eq!(seg.geometry, enc.layout.segment((end - start) as u64));
        for piece in 0..seg.n() {
            prop_assert_eq!(
                seg.pieces[piece].len() as u64,
                seg.geometry.share_area_bytes()
            );
            prop_assert_eq!(
                seg.checksums[piece].len(),
                seg.geometry.stripe_count as usize
            );
            for stripe in 0..seg.geometry.stripe_count {
                let share = &seg.pieces[piece][seg.share_range(stripe)];
                prop_assert_eq!(
                    seg.checksums[piece][stripe as usize],
                    share_checksum(share, piece as u16, stripe)
                );
                prop_assert_eq!(
                    seg.checksums[piece][stripe as usize],
                    reference_share_checksum(share, piece as u16, stripe)
                );
            }
        }
    }
    Ok(())
}

/// Draws the object for `p` and encodes it with a random backend.
fn setup(p: &Params, rng: &mut Rng) -> (Vec<u8>, Encoded) {
    let layout = p.layout();
    let data = rng.bytes(p.size.bytes(&layout));
    let seal_seed = rng.next();
    let ring = rng.chance(1, 2);
    let enc = encode(layout, backend(ring), p.request(), &data, seal_seed, rng);
    (data, enc)
}

fn lose_random(seg: &mut Segment, count: usize, rng: &mut Rng) -> usize {
    let all: Vec<usize> = (0..seg.n()).collect();
    let lost = rng.subset(&all, count);
    seg.lose(&lost);
    lost.len()
}

fn round_trip(p: Params) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(p.seed);
    let (data, mut enc) = setup(&p, &mut rng);
    check_encoding(&enc, data.len())?;
    check_digest(&enc.digest, p.request(), &data)?;

    for seg in &mut enc.segments {
        let count = rng.below(p.m + 1);
        lose_random(seg, count, &mut rng);
    }
    let range = pick_range(data.len(), &mut rng);
    let widen = rng.chance(1, 3);
    let steps = plan(&enc.segments, &range, widen.then_some(&mut rng));
    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    prop_assert_eq!(outcomes.len(), steps.len());
    for (step, outcome) in steps.iter().zip(&outcomes) {
        prop_assert_eq!(&outcome.result, &Ok(()));
        prop_assert_eq!(&outcome.report.corrupt_shares, &Vec::new());
        let seg = &enc.segments[step.segment];
        let data_lost = (0..p.k).any(|i| !seg.present[i]);
        let stripes = step.stripes.len() as u32;
        prop_assert_eq!(
            outcome.report.stripes_rebuilt,
            if data_lost { stripes } else { 0 }
        );
    }
    expect_bytes(&out, &slice(&data, &range))
}

fn detected_corruption(p: Params) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(p.seed);
    let (data, mut enc) = setup(&p, &mut rng);
    let range = pick_range(data.len(), &mut rng);
    let steps = plan(&enc.segments, &range, None);
    let mut expected = Vec::new();
    for step in &steps {
        let seg = &mut enc.segments[step.segment];
        let count = rng.below(p.m + 1);
        let lost = lose_random(seg, count, &mut rng);
        let mut flipped = Vec::new();
        let mut rebuilt = 0;
        for stripe in step.stripes.clone() {
            let count = rng.below(p.m - lost + 1);
            let bad = rng.subset(&seg.present_pieces(), count);
            for &piece in &bad {
                seg.damage_detectably(piece, stripe, &mut rng);
                flipped.push((piece, stripe));
            }
            if (0..p.k).any(|i| !seg.present[i] || bad.contains(&i)) {
                rebuilt += 1;
            }
        }
        expected.push((flipped, rebuilt));
    }
    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    prop_assert_eq!(outcomes.len(), steps.len());
    for (outcome, (flipped, rebuilt)) in outcomes.iter().zip(&expected) {
        prop_assert_eq!(&outcome.result, &Ok(()));
        let mut reported = outcome.report.corrupt_shares.clone();
        reported.sort_unstable();
        let mut flipped = flipped.clone();
        flipped.sort_unstable();
        prop_assert_eq!(reported, flipped);
        prop_assert_eq!(outcome.report.stripes_rebuilt, *rebuilt);
    }
    expect_bytes(&out, &slice(&data, &range))
}

fn too_many_corruptions(p: Params) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(p.seed);
    let (data, mut enc) = setup(&p, &mut rng);
    let n = p.k + p.m;
    let range = pick_range(data.len(), &mut rng);
    let steps = plan(&enc.segments, &range, None);
    let target = rng.below(steps.len());
    let mut failure = None;
    for (i, step) in steps.iter().enumerate() {
        let seg = &mut enc.segments[step.segment];
        let count = rng.below(p.m + 1);
        let lost = lose_random(seg, count, &mut rng);
        if i == target {
            let stripe = rng.inclusive(step.stripes.start as usize, step.stripes.end as usize - 1);
            let stripe = stripe as u32;
            let count = rng.inclusive(p.m + 1 - lost, n - lost);
            for piece in rng.subset(&seg.present_pieces(), count) {
                seg.damage_detectably(piece, stripe, &mut rng);
            }
            failure = Some(DecodeError::NotEnoughShares {
                stripe,
                healthy: n - lost - count,
                required: p.k,
            });
        }
    }
    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    prop_assert_eq!(outcomes.len(), target + 1);
    for outcome in &outcomes[..target] {
        prop_assert_eq!(&outcome.result, &Ok(()));
    }
    prop_assert_eq!(&outcomes[target].result, &Err(failure.unwrap()));
    expect_prefix(&out, &slice(&data, &range))
}

fn crc_valid_with_spare(p: Params) -> Result<(), TestCaseError> {
    assert!(p.m >= 1);
    let mut rng = Rng::new(p.seed);
    let (data, mut enc) = setup(&p, &mut rng);
    let range = pick_range(data.len(), &mut rng);
    let steps = plan(&enc.segments, &range, None);
    let mut expected = Vec::new();
    for step in &steps {
        let seg = &mut enc.segments[step.segment];
        // At most m − 1 lost: every stripe keeps a spare healthy share.
        let count = rng.below(p.m);
        lose_random(seg, count, &mut rng);
        let present = seg.present_pieces();
        let first_set = &present[..p.k];
        let mut bad = Vec::new();
        let mut must_report = Vec::new();
        for stripe in step.stripes.clone() {
            if rng.chance(2, 3) {
                let piece = rng.pick(&present);
                seg.overwrite_keeping_crc(piece, stripe, &mut rng);
                bad.push((piece, stripe));
                if first_set.contains(&piece) && seg.overwrite_detectable(piece, stripe, first_set)
                {
                    must_report.push((piece, stripe));
                }
            }
        }
        expected.push((bad, must_report));
    }
    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    all_opened_reporting(&outcomes, steps.len(), &expected)?;
    expect_bytes(&out, &slice(&data, &range))
}

/// Every step opened, and each reported exactly among its `bad` shares and
/// at least its `must_report` ones, (piece, stripe) pairs.
#[allow(clippy::type_complexity)]
fn all_opened_reporting(
    outcomes: &[Outcome],
    steps: usize,
    expected: &[(Vec<(usize, u32)>, Vec<(usize, u32)>)],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(outcomes.len(), steps);
    for (outcome, (bad, must_report)) in outcomes.iter().zip(expected) {
        prop_assert_eq!(&outcome.result, &Ok(()));
        let reported = &outcome.report.corrupt_shares;
        for pair in reported {
            prop_assert!(bad.contains(pair), "{pair:?} reported but honest");
        }
        for pair in must_report {
            prop_assert!(reported.contains(pair), "{pair:?} lied, not reported");
        }
    }
    Ok(())
}

/// Issue 15, finding 6: several stores lie at once (each share overwritten
/// with its checksum recomputed), leaving exactly k honest shares in a
/// stripe. The decoder used to try only sets that swap one share, so two
/// colluding stores made the stripe unreadable; now any k honest shares open
/// it, where the code's k-sets fit in the search.
fn colluding_liars(p: Params) -> Result<(), TestCaseError> {
    let n = p.k + p.m;
    if choose(n, p.k) > stripe_sets_max(p.k) {
        return Ok(());
    }
    let mut rng = Rng::new(p.seed);
    let (data, mut enc) = setup(&p, &mut rng);
    let range = pick_range(data.len(), &mut rng);
    let steps = plan(&enc.segments, &range, None);
    let mut expected = Vec::new();
    for step in &steps {
        let seg = &mut enc.segments[step.segment];
        let stripe = rng.inclusive(step.stripes.start as usize, step.stripes.end as usize - 1);
        let stripe = stripe as u32;
        let liars = rng.subset(&(0..n).collect::<Vec<_>>(), p.m);
        for &piece in &liars {
            seg.overwrite_keeping_crc(piece, stripe, &mut rng);
        }
        // A lying data share of the first set with authenticated bytes fails
        // every set that holds it, so it is found and reported.
        let must_report: Vec<(usize, u32)> = liars
            .iter()
            .filter(|&&i| i < p.k && seg.authenticated_bytes(i, stripe) >= 1)
            .map(|&i| (i, stripe))
            .collect();
        let bad: Vec<(usize, u32)> = liars.iter().map(|&i| (i, stripe)).collect();
        expected.push((bad, must_report));
    }
    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    all_opened_reporting(&outcomes, steps.len(), &expected)?;
    expect_bytes(&out, &slice(&data, &range))
}

fn crc_valid_without_spare(p: Params) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(p.seed);
    let (data, mut enc) = setup(&p, &mut rng);
    let n = p.k + p.m;
    let range = pick_range(data.len(), &mut rng);
    let steps = plan(&enc.segments, &range, None);
    // Exactly k pieces left in every segment read: all parity, or any m, lost.
    for step in &steps {
        let seg = &mut enc.segments[step.segment];
        if rng.chance(1, 2) {
            seg.lose(&(p.k..n).collect::<Vec<_>>());
        } else {
            lose_random(seg, p.m, &mut rng);
        }
    }
    let target = rng.below(steps.len());
    let step = &steps[target];
    let seg = &mut enc.segments[step.segment];
    let stripe = rng.inclusive(step.stripes.start as usize, step.stripes.end as usize - 1) as u32;
    let present = seg.present_pieces();
    let authenticated: Vec<usize> = present
        .iter()
        .copied()
        .filter(|&i| i < p.k && seg.authenticated_bytes(i, stripe) >= 1)
        .collect();
    let piece = if !authenticated.is_empty() && rng.chance(3, 4) {
        rng.pick(&authenticated)
    } else {
        rng.pick(&present)
    };
    seg.overwrite_keeping_crc(piece, stripe, &mut rng);
    let strict = seg.overwrite_detectable(piece, stripe, &present);

    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    let want = slice(&data, &range);
    for outcome in &outcomes[..outcomes.len() - 1] {
        prop_assert_eq!(&outcome.result, &Ok(()));
    }
    let last = &outcomes[outcomes.len() - 1].result;
    if last.is_ok() {
        prop_assert!(
            !strict,
            "piece {piece} stripe {stripe}: overwrite of authenticated bytes decoded Ok"
        );
        prop_assert_eq!(outcomes.len(), steps.len());
        expect_bytes(&out, &want)
    } else {
        prop_assert_eq!(outcomes.len(), target + 1);
        prop_assert_eq!(last, &Err(DecodeError::Authentication { stripe }));
        expect_prefix(&out, &want)
    }
}

/// Per stripe of a step: shares left healthy by the CRC, and how many of
/// them were overwritten with their checksum.
struct StripeDamage {
    healthy: usize,
    lies: usize,
}

/// n choose r, saturating.
fn choose(n: usize, r: usize) -> usize {
    (0..r.min(n)).fold(1usize, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

fn never_wrong_bytes(p: Params) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(p.seed);
    let (data, mut enc) = setup(&p, &mut rng);
    let n = p.k + p.m;
    let range = pick_range(data.len(), &mut rng);
    let widen = rng.chance(1, 3);
    let steps = plan(&enc.segments, &range, widen.then_some(&mut rng));
    let mut damage: Vec<Vec<StripeDamage>> = Vec::new();
    for step in &steps {
        let seg = &mut enc.segments[step.segment];
        // Mostly within the code's reach, sometimes one piece past it.
        let count = if rng.chance(1, 8) {
            (p.m + 1).min(n)
        } else {
            rng.below(p.m + 1)
        };
        let lost = lose_random(seg, count, &mut rng);
        let mut stripes = Vec::new();
        for stripe in step.stripes.clone() {
            let present = seg.present_pieces();
            let (flips, lies) = if rng.chance(1, 2) {
                (0, 0)
            } else {
                let flips = rng.below((p.m + 2).saturating_sub(lost)).min(present.len());
                let lies = if rng.chance(1, 3) {
                    rng.inclusive(1, 3)
                } else {
                    0
                };
                (flips, lies.min(present.len() - flips))
            };
            let flipped = rng.subset(&present, flips);
            for &piece in &flipped {
                seg.damage_detectably(piece, stripe, &mut rng);
            }
            let unflipped: Vec<usize> = present
                .iter()
                .copied()
                .filter(|i| !flipped.contains(i))
                .collect();
            for piece in rng.subset(&unflipped, lies) {
                seg.overwrite_keeping_crc(piece, stripe, &mut rng);
            }
            stripes.push(StripeDamage {
                healthy: unflipped.len(),
                lies,
            });
        }
        damage.push(stripes);
    }

    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    let want = slice(&data, &range);
    let last = outcomes.len() - 1;
    for (i, outcome) in outcomes.iter().enumerate() {
        let step = &steps[i];
        let at = |stripe: u32| &damage[i][(stripe - step.stripes.start) as usize];
        match &outcome.result {
            Ok(()) => {
                // Every stripe opened, so each had k shares the CRC passed.
                for d in &damage[i] {
                    prop_assert!(d.healthy >= p.k);
                }
            }
            Err(error) => {
                prop_assert_eq!(i, last, "decoding went on after an error");
                let mut named = false;
                for stripe in step.stripes.start..step.stripes.end {
                    let d = at(stripe);
                    match error {
                        DecodeError::NotEnoughShares { stripe: s, .. } if *s == stripe => {
                            prop_assert_eq!(
                                error,
                                &DecodeError::NotEnoughShares {
                                    stripe,
                                    healthy: d.healthy,
                                    required: p.k
                                }
                            );
                            prop_assert!(d.healthy < p.k);
                            named = true;
                            break;
                        }
                        DecodeError::Authentication { stripe: s } if *s == stripe => {
                            prop_assert!(d.lies > 0 && d.healthy >= p.k);
                            // Every k-set was tried, so k honest shares open it.
                            let exhaustive = choose(d.healthy, p.k) <= stripe_sets_max(p.k);
                            prop_assert!(
                                !exhaustive || d.healthy - d.lies < p.k,
                                "{} honest shares of {} but no set opened",
                                d.healthy - d.lies,
                                d.healthy
                            );
                            named = true;
                            break;
                        }
                        DecodeError::WindowShape { .. } => {
                            prop_assert!(false, "well-formed windows rejected: {error}");
                        }
                        // An earlier stripe: it had to open.
                        _ => prop_assert!(d.healthy >= p.k),
                    }
                }
                prop_assert!(named, "{error} names a stripe outside the window");
            }
        }
    }
    if outcomes[last].result.is_ok() {
        prop_assert_eq!(outcomes.len(), steps.len());
        expect_bytes(&out, &want)
    } else {
        expect_prefix(&out, &want)
    }
}

/// Swaps the shares of (segment, stripe) `a` and `b` in every piece, with
/// checksums recomputed for their new places.
fn swap_stripes(segments: &mut [Segment], a: (usize, u32), b: (usize, u32)) {
    for piece in 0..segments[a.0].n() {
        let range_a = segments[a.0].share_range(a.1);
        let range_b = segments[b.0].share_range(b.1);
        let share_a = segments[a.0].pieces[piece][range_a.clone()].to_vec();
        let share_b = segments[b.0].pieces[piece][range_b.clone()].to_vec();
        segments[a.0].pieces[piece][range_a].copy_from_slice(&share_b);
        segments[b.0].pieces[piece][range_b].copy_from_slice(&share_a);
        for (seg, stripe, share) in [(a.0, a.1, &share_b), (b.0, b.1, &share_a)] {
            segments[seg].checksums[piece][stripe as usize] =
                share_checksum(share, piece as u16, stripe);
        }
    }
}

fn reordered_stripes(p: Params) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(p.seed);
    let layout = p.layout();
    // Two full segments: the same stripe index exists in both.
    let data = rng.bytes(2 * layout.segment_bytes_max() as usize);
    let seal_seed = rng.next();
    let mut enc = encode(
        layout,
        backend(rng.chance(1, 2)),
        p.request(),
        &data,
        seal_seed,
        &mut rng,
    );
    let geometry = enc.segments[0].geometry;
    let same_size: Vec<(u32, u32)> = (0..geometry.stripe_count)
        .flat_map(|a| (a + 1..geometry.stripe_count).map(move |b| (a, b)))
        .filter(|&(a, b)| geometry.share_bytes(a) == geometry.share_bytes(b))
        .collect();
    let (a, b) = if !same_size.is_empty() && rng.chance(1, 2) {
        // Two stripes of one segment: caught by the stripe index in the nonce.
        let segment = rng.below(2);
        let (a, b) = rng.pick(&same_size);
        ((segment, a), (segment, b))
    } else {
        // One stripe of each segment: caught by the per-segment key.
        let stripe = rng.below(geometry.stripe_count as usize) as u32;
        ((0, stripe), (1, stripe))
    };
    swap_stripes(&mut enc.segments, a, b);
    for seg in &mut enc.segments {
        let count = rng.below(p.m + 1);
        lose_random(seg, count, &mut rng);
    }
    let range = 0..data.len() as u64;
    let steps = plan(&enc.segments, &range, None);
    let (out, outcomes) = decode(&enc.segments, &steps, backend(rng.chance(1, 2)));
    // Decoding stops at the first moved stripe.
    prop_assert_eq!(outcomes.len(), a.0 + 1);
    prop_assert_eq!(
        &outcomes[a.0].result,
        &Err(DecodeError::Authentication { stripe: a.1 })
    );
    expect_prefix(&out, &data)
}

fn backends_agree(p: Params) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(p.seed);
    let layout = p.layout();
    let data = rng.bytes(p.size.bytes(&layout));
    let seal_seed = rng.next();
    let mut chunks_ring = Rng::new(rng.next());
    let mut chunks_rc = Rng::new(rng.next());
    let request = p.request();
    let mut ring = encode(
        layout,
        AeadBackend::Ring,
        request,
        &data,
        seal_seed,
        &mut chunks_ring,
    );
    let mut rc = encode(
        layout,
        AeadBackend::RustCrypto,
        request,
        &data,
        seal_seed,
        &mut chunks_rc,
    );
    prop_assert_eq!(&ring.digest, &rc.digest);
    check_digest(&ring.digest, request, &data)?;
    prop_assert_eq!(ring.segments.len(), rc.segments.len());
    for (a, b) in ring.segments.iter().zip(&rc.segments) {
        prop_assert_eq!(a.geometry, b.geometry);
        prop_assert_eq!(&a.checksums, &b.checksums);
        prop_assert!(a.pieces == b.pieces, "backends produced different pieces");
    }

    // Each decodes the other's pieces, with losses.
    let range = pick_range(data.len(), &mut rng);
    let want = slice(&data, &range);
    for (enc, decoder_backend) in [
        (&mut ring, AeadBackend::RustCrypto),
        (&mut rc, AeadBackend::Ring),
    ] {
        for seg in &mut enc.segments {
            let count = rng.below(p.m + 1);
            lose_random(seg, count, &mut rng);
        }
        let steps = plan(&enc.segments, &range, None);
        let (out, outcomes) = decode(&enc.segments, &steps, decoder_backend);
        for outcome in &outcomes {
            prop_assert_eq!(&outcome.result, &Ok(()));
        }
        expect_bytes(&out, &want)?;
    }

    // Inline objects: same sealed bytes, each opens the other's.
    let small = &data[..data.len().min(4096)];
    let seal = ring.segments[0].seal();
    let sealed_ring = seal_inline(AeadBackend::Ring, &seal, small);
    let sealed_rc = seal_inline(AeadBackend::RustCrypto, &ring.segments[0].seal(), small);
    prop_assert!(sealed_ring == sealed_rc, "inline seals differ");
    let opened_rc = open_inline(AeadBackend::RustCrypto, &seal, &sealed_ring);
    let opened_ring = open_inline(AeadBackend::Ring, &seal, &sealed_rc);
    prop_assert_eq!(opened_rc.as_deref(), Ok(small));
    prop_assert_eq!(opened_ring.as_deref(), Ok(small));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trip_with_losses(p in params(0)) {
        round_trip(p)?;
    }

    #[test]
    fn detected_corruption_is_repaired_and_reported(p in params(0)) {
        detected_corruption(p)?;
    }

    #[test]
    fn too_many_corruptions_fail_cleanly(p in params(0)) {
        too_many_corruptions(p)?;
    }

    #[test]
    fn crc_valid_corruption_with_spare_is_survived(p in params(1)) {
        crc_valid_with_spare(p)?;
    }

    #[test]
    fn colluding_stores_cannot_hide_k_honest_shares(p in params(2)) {
        colluding_liars(p)?;
    }

    #[test]
    fn crc_valid_corruption_without_spare_fails_authentication(p in params(0)) {
        crc_valid_without_spare(p)?;
    }

    #[test]
    fn never_wrong_bytes_whatever_the_damage(p in params(0)) {
        never_wrong_bytes(p)?;
    }

    #[test]
    fn reordered_stripes_fail_authentication(p in params(0)) {
        reordered_stripes(p)?;
    }

    #[test]
    fn aead_backends_agree(p in params(0)) {
        backends_agree(p)?;
    }
}
