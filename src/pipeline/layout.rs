//! Segment layout: how a segment's plaintext maps onto stripes, shares and pieces.
//! The single source of truth for every offset in the pipeline and the piece format.
//!
//! A segment is a sequence of stripes. A stripe holds `stripe_plaintext_bytes`
//! (= k·share − 16) of plaintext, sealed with AES-256-GCM into k·share bytes
//! (ciphertext followed by the 16-byte tag), split into k data shares, and
//! extended with m = n − k parity shares. Piece i is share i of every stripe.
//! The last stripe may be short: its shares shrink to the smallest multiple of
//! [`SHARE_ALIGN`] that holds its ciphertext, so small segments stay small.

use std::ops::Range;

/// Bytes of the AES-GCM authentication tag closing each stripe.
pub const TAG_BYTES: usize = 16;
/// Share sizes are multiples of this, so SIMD kernels see whole vectors.
pub const SHARE_ALIGN: usize = 64;
/// Largest number of pieces a segment may have (Reed-Solomon GF(2^16) allows far
/// more; the piece format stores piece indices as u16 and this keeps headers sane).
pub const PIECES_MAX: usize = 1024;

/// Erasure parameters: any `required` (k) of `total` (n) pieces rebuild a segment;
/// an upload succeeds once `optimal` (o) pieces are durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErasureParams {
    pub required: usize,
    pub optimal: usize,
    pub total: usize,
}

/// Everything needed to compute offsets: erasure parameters, share size and the
/// segment size limit. Built only through [`Layout::new`], which validates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    erasure: ErasureParams,
    share_bytes: usize,
    segment_bytes_max: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error("required pieces k={0} must be at least 1")]
    RequiredZero(usize),
    #[error("optimal pieces o={optimal} must lie between k={required} and n={total}")]
    OptimalOutOfRange {
        required: usize,
        optimal: usize,
        total: usize,
    },
    #[error("total pieces n={total} must be at least k={required} and at most {max}")]
    TotalOutOfRange {
        required: usize,
        total: usize,
        max: usize,
    },
    #[error("erasure code k={required} n={total} is not supported by the Reed-Solomon codec")]
    CodeUnsupported { required: usize, total: usize },
    #[error(
        "share size {0} must be a positive multiple of {SHARE_ALIGN} bytes and at most 16 MiB"
    )]
    ShareSize(usize),
    #[error("segment size {segment} must be at least one stripe of plaintext ({stripe} bytes)")]
    SegmentSize { segment: u64, stripe: usize },
    #[error("erasure parameters must look like k/o/n or k/n, got {0:?}")]
    ErasureSyntax(String),
}

impl ErasureParams {
    /// Parses `k/o/n` or `k/n` (then o = n), e.g. `4/5/6` or `29/80/110`.
    pub fn parse(text: &str) -> Result<Self, LayoutError> {
        let numbers: Vec<usize> = text
            .split('/')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| LayoutError::ErasureSyntax(text.to_string()))?;
        match numbers[..] {
            [required, total] => Ok(Self {
                required,
                optimal: total,
                total,
            }),
            [required, optimal, total] => Ok(Self {
                required,
                optimal,
                total,
            }),
            _ => Err(LayoutError::ErasureSyntax(text.to_string())),
        }
    }

    pub fn parity(&self) -> usize {
        self.total - self.required
    }
}

impl Layout {
    pub const SHARE_BYTES_DEFAULT: usize = 64 * 1024;
    pub const SEGMENT_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

    pub fn new(
        erasure: ErasureParams,
        share_bytes: usize,
        segment_bytes_max: u64,
    ) -> Result<Self, LayoutError> {
        let ErasureParams {
            required,
            optimal,
            total,
        } = erasure;
        if required == 0 {
            return Err(LayoutError::RequiredZero(required));
        }
        if total < required || total > PIECES_MAX {
            return Err(LayoutError::TotalOutOfRange {
                required,
                total,
                max: PIECES_MAX,
            });
        }
        if optimal < required || optimal > total {
            return Err(LayoutError::OptimalOutOfRange {
                required,
                optimal,
                total,
            });
        }
        if total > required
            && !reed_solomon_simd::ReedSolomonEncoder::supports(required, total - required)
        {
            return Err(LayoutError::CodeUnsupported { required, total });
        }
        if share_bytes == 0 || !share_bytes.is_multiple_of(SHARE_ALIGN) || share_bytes > 16 << 20 {
            return Err(LayoutError::ShareSize(share_bytes));
        }
        let layout = Self {
            erasure,
            share_bytes,
            segment_bytes_max,
        };
        if segment_bytes_max < layout.stripe_plaintext_bytes() as u64 {
            return Err(LayoutError::SegmentSize {
                segment: segment_bytes_max,
                stripe: layout.stripe_plaintext_bytes(),
            });
        }
        Ok(layout)
    }

    pub fn erasure(&self) -> ErasureParams {
        self.erasure
    }
    pub fn required(&self) -> usize {
        self.erasure.required
    }
    pub fn total(&self) -> usize {
        self.erasure.total
    }
    pub fn share_bytes(&self) -> usize {
        self.share_bytes
    }
    pub fn segment_bytes_max(&self) -> u64 {
        self.segment_bytes_max
    }

    /// Plaintext bytes in a full stripe: k shares less the GCM tag.
    pub fn stripe_plaintext_bytes(&self) -> usize {
        self.erasure.required * self.share_bytes - TAG_BYTES
    }

    /// The geometry of one segment holding `plaintext_bytes`.
    pub fn segment(&self, plaintext_bytes: u64) -> SegmentGeometry {
        assert!(
            plaintext_bytes <= self.segment_bytes_max,
            "segment larger than the layout allows"
        );
        let stripe = self.stripe_plaintext_bytes() as u64;
        let stripes = plaintext_bytes.div_ceil(stripe).max(1);
        let last_plain = plaintext_bytes - (stripes - 1) * stripe;
        let last_share = (last_plain as usize + TAG_BYTES)
            .div_ceil(self.erasure.required)
            .next_multiple_of(SHARE_ALIGN);
        SegmentGeometry {
            layout: *self,
            plaintext_bytes,
            stripe_count: stripes as u32,
            last_share_bytes: last_share,
        }
    }
}

/// A [`Layout`] applied to one segment of known length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentGeometry {
    pub layout: Layout,
    pub plaintext_bytes: u64,
    pub stripe_count: u32,
    pub last_share_bytes: usize,
}

impl SegmentGeometry {
    /// Share size of stripe `stripe`.
    pub fn share_bytes(&self, stripe: u32) -> usize {
        assert!(
            stripe < self.stripe_count,
            "stripe {stripe} past the segment"
        );
        if stripe + 1 == self.stripe_count {
            self.last_share_bytes
        } else {
            self.layout.share_bytes
        }
    }

    /// Plaintext bytes sealed in stripe `stripe`.
    pub fn stripe_plaintext(&self, stripe: u32) -> Range<u64> {
        assert!(
            stripe < self.stripe_count,
            "stripe {stripe} past the segment"
        );
        let full = self.layout.stripe_plaintext_bytes() as u64;
        let start = stripe as u64 * full;
        start..(start + full).min(self.plaintext_bytes)
    }

    /// The stripes whose plaintext intersects `range` (a non-empty range within the segment).
    pub fn stripes_covering(&self, range: &Range<u64>) -> Range<u32> {
        assert!(
            range.start < range.end && range.end <= self.plaintext_bytes,
            "bad range {range:?}"
        );
        let full = self.layout.stripe_plaintext_bytes() as u64;
        (range.start / full) as u32..(range.end.div_ceil(full)) as u32
    }

    /// Offset of stripe `stripe`'s share within the share area of every piece.
    pub fn share_offset(&self, stripe: u32) -> u64 {
        assert!(stripe <= self.stripe_count);
        stripe as u64 * self.layout.share_bytes as u64
    }

    /// Bytes of shares in each piece (every piece has the same).
    pub fn share_area_bytes(&self) -> u64 {
        (self.stripe_count as u64 - 1) * self.layout.share_bytes as u64
            + self.last_share_bytes as u64
    }

    /// Bytes in the share area of each piece spanned by `stripes`.
    pub fn shares_span(&self, stripes: &Range<u32>) -> Range<u64> {
        let end = if stripes.end == self.stripe_count {
            self.share_area_bytes()
        } else {
            self.share_offset(stripes.end)
        };
        self.share_offset(stripes.start)..end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(k: usize, o: usize, n: usize, share: usize, seg: u64) -> Result<Layout, LayoutError> {
        Layout::new(
            ErasureParams {
                required: k,
                optimal: o,
                total: n,
            },
            share,
            seg,
        )
    }

    #[test]
    fn validation_names_the_bad_value() {
        type Case = ((usize, usize, usize, usize, u64), &'static str);
        let cases: &[Case] = &[
            ((0, 1, 1, 64, 1 << 20), "k=0"),
            ((4, 3, 6, 64, 1 << 20), "o=3"),
            ((4, 7, 6, 64, 1 << 20), "o=7"),
            ((4, 4, 3, 64, 1 << 20), "n=3"),
            ((4, 5, 6, 100, 1 << 20), "share size 100"),
            ((4, 5, 6, 0, 1 << 20), "share size 0"),
            ((4, 5, 6, 4096, 1000), "segment size 1000"),
        ];
        for &((k, o, n, s, seg), needle) in cases {
            let err = layout(k, o, n, s, seg).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
        assert!(layout(4, 5, 6, 65536, 64 << 20).is_ok());
        assert!(layout(29, 80, 110, 4096, 64 << 20).is_ok());
        assert!(layout(1, 1, 1, 64, 48).is_ok());
    }

    #[test]
    fn parse_erasure() {
        assert_eq!(
            ErasureParams::parse("4/6").unwrap(),
            ErasureParams {
                required: 4,
                optimal: 6,
                total: 6
            }
        );
        assert_eq!(ErasureParams::parse("29/80/110").unwrap().optimal, 80);
        assert!(ErasureParams::parse("4/x").is_err());
        assert!(ErasureParams::parse("4").is_err());
    }

    #[test]
    fn geometry() {
        let l = layout(4, 6, 6, 1024, 1 << 20).unwrap();
        let stripe = l.stripe_plaintext_bytes() as u64; // 4080
        assert_eq!(stripe, 4080);
        // (plaintext bytes, stripes, last share)
        let cases = [
            (0, 1, 64),
            (1, 1, 64),
            (240, 1, 64),
            (241, 1, 128),
            (stripe, 1, 1024),
            (stripe + 1, 2, 64),
            (3 * stripe, 3, 1024),
        ];
        for (len, stripes, last) in cases {
            let g = l.segment(len);
            assert_eq!(
                (g.stripe_count, g.last_share_bytes),
                (stripes, last),
                "len {len}"
            );
            assert!(
                g.last_share_bytes * 4
                    >= (g.stripe_plaintext(stripes - 1).end - g.stripe_plaintext(stripes - 1).start)
                        as usize
                        + TAG_BYTES
            );
        }
        let g = l.segment(3 * stripe + 10);
        assert_eq!(g.stripes_covering(&(0..1)), 0..1);
        assert_eq!(g.stripes_covering(&(stripe - 1..stripe + 1)), 0..2);
        assert_eq!(g.stripes_covering(&(stripe..2 * stripe)), 1..2);
        assert_eq!(g.stripes_covering(&(3 * stripe..3 * stripe + 10)), 3..4);
        assert_eq!(g.shares_span(&(1..4)), 1024..3 * 1024 + 64);
        assert_eq!(g.share_area_bytes(), 3 * 1024 + 64);
    }
}
