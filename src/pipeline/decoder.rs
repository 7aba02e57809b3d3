//! `SegmentDecoder`: share windows of some pieces → exactly the requested
//! plaintext range, stripe by stripe.
//!
//! Every share is checked against its CRC32C first; a missing piece or a share
//! that fails is an erasure. While the k data shares of a stripe are healthy the
//! stripe is only gathered and opened (systematic fast path, no Reed-Solomon);
//! otherwise any k healthy shares rebuild it. AES-GCM authenticates every stripe,
//! so the decoder never returns wrong bytes: a share corrupted in a way its CRC
//! misses (a store that lies) fails the tag, and the decoder tries other k-sets
//! of healthy shares, nearest the first first, up to [`stripe_sets_max`]: with
//! any k honest shares among the sets tried, however many others lie, the
//! stripe opens.
//!
//! A stripe wanted whole has its ciphertext gathered straight onto the end of
//! the output and opened there, so its bytes are copied once; only a stripe the
//! range cuts goes through the scratch buffer. For a large output (see
//! [`FUSED_OUTPUT_BYTES_MIN`]) each data share is copied in the same pass as its
//! CRC check. A stripe that fails leaves the output as it was: callers see a
//! correct prefix and an error, never garbage.

use std::ops::Range;

use super::buf::AlignedBuf;
use super::checksum::{bind_position, share_checksum};
use super::crc32c;
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

/// Output bytes per [`SegmentDecoder::decode`] call from which the fast path
/// copies each data share in the same pass as its CRC check, rather than
/// checking first and copying from cache after. The shares come cold from the
/// stores either way; what decides is the output: one that stays in L2 (a
/// reused buffer, a stripe or two per call) takes the copy from cache better,
/// one that does not (written out to memory) is better written while the next
/// bytes stream in. Measured on one core, (4,6), 256 KiB stripes, 1 MiB L2:
/// per call, 512 KiB 6.61 vs 6.32 GB/s (two passes better), 1 MiB 6.40 vs
/// 6.74, 2 MiB 6.07 vs 6.75, 16 MiB 4.90 vs 6.07 (fused better). A CPU with a
/// larger L2 would move this up.
pub const FUSED_OUTPUT_BYTES_MIN: u64 = 768 * 1024;

pub struct SegmentDecoder {
    backend: AeadBackend,
    codec: Option<ReedSolomonDecoder>,
    stripe: AlignedBuf,
    fused_output_bytes_min: u64,
}

impl SegmentDecoder {
    pub fn new(backend: AeadBackend) -> Self {
        Self {
            backend,
            codec: None,
            stripe: AlignedBuf::with_capacity(0),
            fused_output_bytes_min: FUSED_OUTPUT_BYTES_MIN,
        }
    }

    /// Sets the output bytes per call from which the fast path copies shares in
    /// the same pass as their check ([`FUSED_OUTPUT_BYTES_MIN`] by default). The
    /// output is the same either way; tests use this to run both paths.
    pub fn set_fused_output_bytes_min(&mut self, bytes: u64) {
        self.fused_output_bytes_min = bytes;
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
        assert_eq!(
            pieces.len(),
            geometry.layout.total(),
            "one window slot per piece"
        );
        assert!(stripes.start < stripes.end && stripes.end <= geometry.stripe_count);
        let span = geometry.shares_span(&stripes);
        check_window_shapes(pieces, &span, (stripes.end - stripes.start) as usize)?;
        let cipher = Cipher::new(self.backend, &seal.key);
        let call = DecodeCall {
            geometry,
            seal,
            cipher: &cipher,
            pieces,
            fuse: range.end - range.start >= self.fused_output_bytes_min,
            range,
        };
        let mut shares: Vec<Option<&[u8]>> = vec![None; pieces.len()];
        for stripe in stripes.clone() {
            let share_bytes = geometry.share_bytes(stripe);
            let at = (geometry.share_offset(stripe) - span.start) as usize;
            let spot = StripeSpot {
                stripe,
                nth: (stripe - stripes.start) as usize,
                span: at..at + share_bytes,
                plain: geometry.stripe_plaintext(stripe),
            };
            if !call.open_gathered(&spot, &mut shares, out, report) {
                self.open_checked(&call, &spot, &shares, out, report)?;
            }
        }
        Ok(())
    }

    /// The general path for a stripe whose shares are checked (in `shares`):
    /// any k healthy ones open it, and only its wanted bytes reach `out`.
    #[inline]
    fn open_checked(
        &mut self,
        call: &DecodeCall<'_, '_>,
        spot: &StripeSpot,
        shares: &[Option<&[u8]>],
        out: &mut AlignedBuf,
        report: &mut DecodeReport,
    ) -> Result<(), DecodeError> {
        let (stripe, plain) = (spot.stripe, &spot.plain);
        let k = call.geometry.layout.required();
        let healthy = shares.iter().flatten().count();
        if healthy < k {
            return Err(DecodeError::NotEnoughShares {
                stripe,
                healthy,
                required: k,
            });
        }
        let want_start = call.range.start.max(plain.start);
        let want_end = call.range.end.min(plain.end);
        // A stripe wanted whole is opened where its plaintext is going, at the
        // end of `out`; a partly wanted one in the scratch buffer, from which
        // only its wanted bytes are copied. Either way the ciphertext is copied
        // once, from the shares to where it is opened.
        let whole = want_start == plain.start && want_end == plain.end;
        let dest = if whole {
            &mut *out
        } else {
            self.stripe.clear();
            &mut self.stripe
        };
        open_stripe(
            &mut self.codec,
            dest,
            call.geometry,
            stripe,
            shares,
            call.cipher,
            stripe_nonce(call.seal.nonce_prefix, stripe),
            (plain.end - plain.start) as usize,
            report,
        )?;
        if !whole && want_start < want_end {
            out.extend_from_slice(
                &self.stripe
                    [(want_start - plain.start) as usize..(want_end - plain.start) as usize],
            );
        }
        Ok(())
    }
}

/// What stays the same for every stripe of one [`SegmentDecoder::decode`] call.
struct DecodeCall<'c, 'a> {
    geometry: &'c SegmentGeometry,
    seal: &'c SegmentSeal,
    cipher: &'c Cipher,
    pieces: &'c [Option<PieceWindow<'a>>],
    range: Range<u64>,
    /// The output is large: copy data shares in the same pass as their check.
    fuse: bool,
}

/// One stripe of a call: its index, its place in the windows (`nth` checksum,
/// `span` of each window's bytes) and its plaintext's place in the segment.
struct StripeSpot {
    stripe: u32,
    nth: usize,
    span: Range<usize>,
    plain: Range<u64>,
}

impl<'a> DecodeCall<'_, 'a> {
    /// Checks the stripe's shares into `shares` and, for a large output and a
    /// stripe wanted whole with its k data shares, gathers their ciphertext
    /// onto `out` in the same pass and opens it there (the fast path). Returns
    /// whether that opened the stripe; if not, `out` is as it was.
    #[inline]
    fn open_gathered(
        &self,
        spot: &StripeSpot,
        shares: &mut [Option<&'a [u8]>],
        out: &mut AlignedBuf,
        report: &mut DecodeReport,
    ) -> bool {
        let k = self.geometry.layout.required();
        let (share_bytes, plain) = (spot.span.end - spot.span.start, &spot.plain);
        let plain_bytes = (plain.end - plain.start) as usize;
        let mark = out.len();
        // A large output is on its way to memory: copy the data shares of a
        // stripe wanted whole to it in the same pass as their CRC check.
        let gather = self.fuse
            && self.range.start <= plain.start
            && plain.end <= self.range.end
            && self.pieces[..k].iter().all(Option::is_some);
        let gathered = check_shares(
            self.pieces,
            k,
            spot.stripe,
            spot.nth,
            spot.span.clone(),
            plain_bytes,
            gather.then_some(&mut *out),
            shares,
            report,
        );
        if gathered {
            let tag = tag_of(&shares[..k], share_bytes, plain_bytes);
            let nonce = stripe_nonce(self.seal.nonce_prefix, spot.stripe);
            if self.cipher.open(nonce, &[], &mut out[mark..], &tag).is_ok() {
                return true;
            }
        }
        if gather {
            // Not the fast path after all: the general one starts over.
            out.truncate(mark);
        }
        false
    }
}

/// Every given window covers the span and has a checksum per stripe.
#[inline]
fn check_window_shapes(
    pieces: &[Option<PieceWindow<'_>>],
    span: &Range<u64>,
    stripe_count: usize,
) -> Result<(), DecodeError> {
    for (piece, window) in pieces.iter().enumerate() {
        if let Some(w) = window {
            if w.shares.len() as u64 != span.end - span.start || w.checksums.len() != stripe_count {
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
    Ok(())
}

/// Checks the CRC32C of every given share of `stripe` (at `span` in each
/// window), leaving each healthy one in `shares` and reporting the others.
/// With `gather`, the ciphertext in the data shares is appended to it in the
/// same pass; returns whether all k of them were healthy and so gathered.
#[allow(clippy::too_many_arguments)]
fn check_shares<'a>(
    pieces: &[Option<PieceWindow<'a>>],
    k: usize,
    stripe: u32,
    nth: usize,
    span: Range<usize>,
    plain_bytes: usize,
    mut gather: Option<&mut AlignedBuf>,
    shares: &mut [Option<&'a [u8]>],
    report: &mut DecodeReport,
) -> bool {
    let share_bytes = span.end - span.start;
    for (piece, window) in pieces.iter().enumerate() {
        shares[piece] = window.and_then(|w| {
            let share = &w.shares[span.clone()];
            let sum = match gather.as_deref_mut().filter(|_| piece < k) {
                Some(out) => {
                    // Only the ciphertext goes to `out`; the rest of the share
                    // (tag, padding) is only checked.
                    let from = piece * share_bytes;
                    let end = plain_bytes.clamp(from, from + share_bytes) - from;
                    let state = crc32c::append(!0, &share[..end], out);
                    bind_position(crc32c::update(state, &share[end..]), piece as u16, stripe)
                }
                None => share_checksum(share, piece as u16, stripe),
            };
            let healthy = sum == w.checksums[nth];
            if !healthy {
                report.corrupt_shares.push((piece, stripe));
                if piece < k {
                    gather = None;
                }
            }
            healthy.then_some(share)
        });
    }
    gather.is_some()
}

/// Fewest k-sets of shares a stripe tries before it fails authentication
/// (see [`stripe_sets_max`]): every set of the default (4, 6) code (15) and
/// of any code up to (4, 10) (210), and for wider codes the sets nearest the
/// preferred one. Each try is one
/// Reed-Solomon decode and one AES-GCM open of the stripe, so a stripe that
/// exhausts them costs a few milliseconds; only shares that pass their
/// checksum and still fail the tag (a store that lies) lead here.
pub const STRIPE_SETS_MAX: usize = 256;

/// The stripe's shares and how to open them: what [`open_stripe`] tries sets of.
struct StripeOpen<'s, 'a> {
    geometry: &'s SegmentGeometry,
    stripe: u32,
    shares: &'s [Option<&'a [u8]>],
    cipher: &'s Cipher,
    nonce: [u8; 12],
    plain_bytes: usize,
}

impl StripeOpen<'_, '_> {
    /// Appends the plaintext the shares in `set` give to `dest` if it
    /// authenticates: whether it did (and whether Reed-Solomon was needed).
    fn try_set(
        &self,
        codec: &mut Option<ReedSolomonDecoder>,
        dest: &mut AlignedBuf,
        set: &[usize],
    ) -> Option<bool> {
        let mark = dest.len();
        let (g, shares) = (self.geometry, self.shares);
        let (rebuilt, tag) = assemble(codec, dest, g, self.stripe, shares, set, self.plain_bytes);
        if self
            .cipher
            .open(self.nonce, &[], &mut dest[mark..], &tag)
            .is_ok()
        {
            return Some(rebuilt);
        }
        dest.truncate(mark);
        None
    }
}

/// Appends the stripe's plaintext to `dest`, trying k-sets of healthy shares
/// until one authenticates; on error `dest` is left as it was.
#[allow(clippy::too_many_arguments)]
fn open_stripe(
    codec: &mut Option<ReedSolomonDecoder>,
    dest: &mut AlignedBuf,
    geometry: &SegmentGeometry,
    stripe: u32,
    shares: &[Option<&[u8]>],
    cipher: &Cipher,
    nonce: [u8; 12],
    plain_bytes: usize,
    report: &mut DecodeReport,
) -> Result<(), DecodeError> {
    let open = StripeOpen {
        geometry,
        stripe,
        shares,
        cipher,
        nonce,
        plain_bytes,
    };
    let k = geometry.layout.required();
    let mark = dest.len();
    let healthy: Vec<usize> = (0..shares.len()).filter(|&i| shares[i].is_some()).collect();
    // The first k healthy shares, data first: the cheapest set, and the
    // right one unless a share lied past its checksum.
    if let Some(rebuilt) = open.try_set(codec, dest, &healthy[..k]) {
        report.stripes_rebuilt += u32::from(rebuilt);
        return Ok(());
    }
    for set in nearest_sets(&healthy, k)
        .skip(1)
        .take(stripe_sets_max(k) - 1)
    {
        if open.try_set(codec, dest, &set).is_some() {
            // Found honest shares; now learn which of the first set lied (to
            // be repaired), then open the stripe again from the honest set.
            dest.truncate(mark);
            for liar in liars_among(&open, codec, dest, &healthy[..k], &set) {
                report.corrupt_shares.push((liar, stripe));
            }
            let rebuilt = open.try_set(codec, dest, &set).expect("it opened before");
            report.stripes_rebuilt += u32::from(rebuilt);
            return Ok(());
        }
    }
    Err(DecodeError::Authentication { stripe })
}

/// The shares of `first` (a set that failed) left out of `honest` (a set
/// that opened) that provably lie: with one share left out, the set the
/// stripe opened with fails the tag when one of these replaces a member. A
/// lone one left out lies without a test; a share that cannot be proven to
/// lie (its lie falls where the test set does not read) is not reported.
fn liars_among(
    open: &StripeOpen<'_, '_>,
    codec: &mut Option<ReedSolomonDecoder>,
    scratch: &mut AlignedBuf,
    first: &[usize],
    honest: &[usize],
) -> Vec<usize> {
    let left_out: Vec<usize> = first
        .iter()
        .copied()
        .filter(|i| !honest.contains(i))
        .collect();
    if left_out.len() == 1 {
        return left_out;
    }
    let mark = scratch.len();
    let liars = left_out
        .into_iter()
        .filter(|&suspect| {
            // Replace a member that is not in `first`, so the test set
            // differs from `honest` by the suspect alone.
            let mut set = honest.to_vec();
            let spot = set
                .iter()
                .position(|i| !first.contains(i))
                .expect("sets differ");
            set[spot] = suspect;
            set.sort_unstable();
            let opened = open.try_set(codec, scratch, &set).is_some();
            scratch.truncate(mark);
            !opened
        })
        .collect();
    liars
}

/// The k-sets of `healthy` (piece indices, ascending), nearest the first k
/// first: that set, then each that swaps one of its shares for one of the
/// rest, then two, and so on; each set ascending. Within a number of swaps
/// the spares brought in change slowest, since any honest spare serves: a
/// lone liar among the first k is passed over within k sets.
fn nearest_sets(healthy: &[usize], k: usize) -> impl Iterator<Item = Vec<usize>> + '_ {
    let (first, spare) = healthy.split_at(k);
    (0..=k.min(spare.len())).flat_map(move |swaps| {
        combinations(spare.len(), swaps).flat_map(move |added| {
            combinations(k, swaps).map(move |dropped| {
                let mut set: Vec<usize> = (0..k)
                    .filter(|i| !dropped.contains(i))
                    .map(|i| first[i])
                    .chain(added.iter().map(|&j| spare[j]))
                    .collect();
                set.sort_unstable();
                set
            })
        })
    })
}

/// How many sets [`open_stripe`] tries for a code needing `k` shares: at
/// least [`STRIPE_SETS_MAX`], and for wide codes every single swap of the
/// first k with each of k spares.
pub fn stripe_sets_max(k: usize) -> usize {
    STRIPE_SETS_MAX.max(k * k + 1)
}

/// Every `r`-subset of `0..n`, each ascending, in lexicographic order.
fn combinations(n: usize, r: usize) -> impl Iterator<Item = Vec<usize>> {
    let mut next = (r <= n).then(|| (0..r).collect::<Vec<usize>>());
    std::iter::from_fn(move || {
        let current = next.take()?;
        // Advance the rightmost index that can still move right.
        let mut advanced = current.clone();
        if let Some(i) = (0..r).rev().find(|&i| advanced[i] < n - r + i) {
            advanced[i] += 1;
            for j in i + 1..r {
                advanced[j] = advanced[j - 1] + 1;
            }
            next = Some(advanced);
        }
        Some(current)
    })
}

/// Appends the ciphertext of the stripe rebuilt from the shares in `set` (k
/// sorted piece indices) to `dest`, and returns whether Reed-Solomon was
/// needed and the stripe's tag.
fn assemble(
    codec: &mut Option<ReedSolomonDecoder>,
    dest: &mut AlignedBuf,
    geometry: &SegmentGeometry,
    stripe: u32,
    shares: &[Option<&[u8]>],
    set: &[usize],
    plain_bytes: usize,
) -> (bool, [u8; TAG_BYTES]) {
    let k = geometry.layout.required();
    let share_bytes = geometry.share_bytes(stripe);
    dest.reserve(plain_bytes);
    if set.iter().copied().eq(0..k) {
        let data = shares[..k]
            .iter()
            .map(|s| s.expect("chosen shares are healthy"));
        return (false, gather(dest, data, share_bytes, plain_bytes));
    }
    let m = geometry.layout.erasure().parity();
    let codec = match codec {
        Some(codec) => {
            codec.reset(k, m, share_bytes).expect("validated layout");
            codec
        }
        None => codec.insert(ReedSolomonDecoder::new(k, m, share_bytes).expect("validated layout")),
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
    let data = shares.iter().enumerate().take(k).map(|(i, given)| {
        if set.contains(&i) {
            given.expect("chosen shares are healthy")
        } else {
            restored
                .restored_original(i)
                .expect("missing originals are restored")
        }
    });
    (true, gather(dest, data, share_bytes, plain_bytes))
}

/// Appends the first `plain_bytes` bytes of the concatenated data shares (the
/// ciphertext) to `dest` and returns the 16 bytes after them (the tag), which
/// may straddle two shares in a short last stripe.
fn gather<'a>(
    dest: &mut AlignedBuf,
    data: impl Iterator<Item = &'a [u8]>,
    share_bytes: usize,
    plain_bytes: usize,
) -> [u8; TAG_BYTES] {
    let mut tag = [0u8; TAG_BYTES];
    for (i, share) in data.enumerate() {
        let at = i * share_bytes;
        let cipher_end = plain_bytes.clamp(at, at + share_bytes);
        dest.extend_from_slice(&share[..cipher_end - at]);
        let tag_end = (plain_bytes + TAG_BYTES).clamp(at, at + share_bytes);
        if cipher_end < tag_end {
            tag[cipher_end - plain_bytes..tag_end - plain_bytes]
                .copy_from_slice(&share[cipher_end - at..tag_end - at]);
        }
    }
    tag
}

/// The tag of a stripe: the 16 bytes after its ciphertext, in its data shares.
fn tag_of(data: &[Option<&[u8]>], share_bytes: usize, plain_bytes: usize) -> [u8; TAG_BYTES] {
    let mut tag = [0u8; TAG_BYTES];
    for (i, share) in data.iter().enumerate() {
        let share = share.expect("data shares present");
        let from = i * share_bytes;
        let start = plain_bytes.clamp(from, from + share_bytes);
        let end = (plain_bytes + TAG_BYTES).clamp(from, from + share_bytes);
        if start < end {
            tag[start - plain_bytes..end - plain_bytes]
                .copy_from_slice(&share[start - from..end - from]);
        }
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_are_every_subset_in_order() {
        let all: Vec<Vec<usize>> = combinations(4, 2).collect();
        let want = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]];
        assert_eq!(all, want.map(|c| c.to_vec()));
        assert_eq!(
            combinations(3, 0).collect::<Vec<Vec<usize>>>(),
            vec![Vec::<usize>::new()]
        );
        assert_eq!(combinations(2, 3).count(), 0);
        assert_eq!(combinations(10, 4).count(), 210);
    }

    #[test]
    fn nearest_sets_cover_every_k_set_once_fewest_swaps_first() {
        let healthy = [0, 1, 2, 3, 5, 7];
        let sets: Vec<Vec<usize>> = nearest_sets(&healthy, 4).collect();
        assert_eq!(sets.len(), 15);
        assert_eq!(sets[0], vec![0, 1, 2, 3]);
        let mut unique = sets.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 15);
        let swaps = |set: &Vec<usize>| set.iter().filter(|i| **i > 3).count();
        assert!(sets.windows(2).all(|w| swaps(&w[0]) <= swaps(&w[1])));
        assert!(sets.iter().all(|s| s.windows(2).all(|w| w[0] < w[1])));
    }
}
