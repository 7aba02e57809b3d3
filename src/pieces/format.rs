//! The on-disk and on-wire piece format, version 1: pure encoding and parsing.
//!
//! ```text
//! offset            size            field
//! 0                 512             header (fields below, zero padded; padding keeps
//!                                   shares at a distance from 4 KiB aliasing and
//!                                   512-byte aligned for O_DIRECT)
//!   0   4  magic "RGPC"            4  1  version = 1         5  3  reserved, zero
//!   8  16  segment id             24  2  piece index (LE)   26  2  k (LE)
//!  28   2  n (LE)                 30  2  reserved, zero     32  4  share size (LE)
//!  36  24  reserved, zero         60  4  CRC32C of bytes 0..60 (LE)
//! 512               Σ share sizes   share of stripe 0, stripe 1, … (the last may be short)
//! 512 + shares      4 × stripes     CRC32C per share (LE), bound to (piece, stripe)
//! end − 64          64              footer:
//!   0   4  magic "RGPF"            4  4  stripe count (LE)   8  4  last share size (LE)
//!  12  32  piece digest: SHA-256(header[0..64] ‖ checksum table)
//!  44  16  reserved, zero         60  4  CRC32C of footer bytes 0..60 (LE)
//! ```
//!
//! Why CRC32C per share: it runs at over 20 GB/s on one core, so checking every
//! share on every read is free, and it locates a damaged share so only that share
//! becomes an erasure. It is not a defence against a malicious store: AES-GCM on
//! every stripe is, and the decoder retries other shares when a tag fails. The
//! piece digest hashes the checksum table instead of the bytes (every byte is
//! already under a CRC), which binds the table and the header for audits at a
//! cost independent of piece size; the gateway keeps each digest in metadata.

use sha2::{Digest, Sha256};

use crate::pipeline::layout::SegmentGeometry;
use crate::pipeline::random::Entropy;

pub const HEADER_BYTES: usize = 512;
pub const FOOTER_BYTES: usize = 64;
pub const VERSION: u8 = 1;
const HEADER_MAGIC: &[u8; 4] = b"RGPC";
const FOOTER_MAGIC: &[u8; 4] = b"RGPF";

/// A segment's 128-bit random identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(pub [u8; 16]);

impl SegmentId {
    pub fn random(entropy: &mut impl Entropy) -> Self {
        Self(entropy.array())
    }

    pub fn to_hex(&self) -> String {
        crate::pipeline::checksum::hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(id))
    }
}

/// Which piece of which segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PieceId {
    pub segment: SegmentId,
    pub piece: u16,
}

impl std::fmt::Display for PieceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.segment.to_hex(), self.piece)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("piece {part} is {got} bytes, expected {expected}")]
    Length {
        part: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("piece {part} has bad magic")]
    Magic { part: &'static str },
    #[error("piece version {0} is not supported (this build reads version {VERSION})")]
    Version(u8),
    #[error("piece {part} checksum mismatch")]
    Checksum { part: &'static str },
    #[error("piece header field {field} is invalid")]
    Field { field: &'static str },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceHeader {
    pub id: PieceId,
    pub required: u16,
    pub total: u16,
    pub share_bytes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceFooter {
    pub stripe_count: u32,
    pub last_share_bytes: u32,
    pub digest: [u8; 32],
}

fn crc32c(bytes: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl PieceHeader {
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        h[..4].copy_from_slice(HEADER_MAGIC);
        h[4] = VERSION;
        h[8..24].copy_from_slice(&self.id.segment.0);
        h[24..26].copy_from_slice(&self.id.piece.to_le_bytes());
        h[26..28].copy_from_slice(&self.required.to_le_bytes());
        h[28..30].copy_from_slice(&self.total.to_le_bytes());
        h[32..36].copy_from_slice(&self.share_bytes.to_le_bytes());
        let crc = crc32c(&h[..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        h
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() < HEADER_BYTES {
            return Err(FormatError::Length {
                part: "header",
                got: bytes.len(),
                expected: HEADER_BYTES,
            });
        }
        if &bytes[..4] != HEADER_MAGIC {
            return Err(FormatError::Magic { part: "header" });
        }
        if bytes[4] != VERSION {
            return Err(FormatError::Version(bytes[4]));
        }
        if crc32c(&bytes[..60]) != le32(bytes, 60) {
            return Err(FormatError::Checksum { part: "header" });
        }
        let header = Self {
            id: PieceId {
                segment: SegmentId(bytes[8..24].try_into().expect("16 bytes")),
                piece: le16(bytes, 24),
            },
            required: le16(bytes, 26),
            total: le16(bytes, 28),
            share_bytes: le32(bytes, 32),
        };
        if header.required == 0 || header.total < header.required {
            return Err(FormatError::Field { field: "k/n" });
        }
        if header.id.piece >= header.total {
            return Err(FormatError::Field {
                field: "piece index",
            });
        }
        if header.share_bytes == 0 {
            return Err(FormatError::Field {
                field: "share size",
            });
        }
        Ok(header)
    }
}

impl PieceFooter {
    pub fn encode(&self) -> [u8; FOOTER_BYTES] {
        let mut f = [0u8; FOOTER_BYTES];
        f[..4].copy_from_slice(FOOTER_MAGIC);
        f[4..8].copy_from_slice(&self.stripe_count.to_le_bytes());
        f[8..12].copy_from_slice(&self.last_share_bytes.to_le_bytes());
        f[12..44].copy_from_slice(&self.digest);
        let crc = crc32c(&f[..60]);
        f[60..64].copy_from_slice(&crc.to_le_bytes());
        f
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() != FOOTER_BYTES {
            return Err(FormatError::Length {
                part: "footer",
                got: bytes.len(),
                expected: FOOTER_BYTES,
            });
        }
        if &bytes[..4] != FOOTER_MAGIC {
            return Err(FormatError::Magic { part: "footer" });
        }
        if crc32c(&bytes[..60]) != le32(bytes, 60) {
            return Err(FormatError::Checksum { part: "footer" });
        }
        let footer = Self {
            stripe_count: le32(bytes, 4),
            last_share_bytes: le32(bytes, 8),
            digest: bytes[12..44].try_into().expect("32 bytes"),
        };
        if footer.stripe_count == 0 || footer.last_share_bytes == 0 {
            return Err(FormatError::Field {
                field: "stripe count",
            });
        }
        Ok(footer)
    }
}

/// The digest the footer carries and the gateway records for audits.
pub fn piece_digest(header: &[u8; HEADER_BYTES], checksum_table: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&header[..64]);
    h.update(checksum_table);
    h.finalize().into()
}

pub fn encode_checksums(checksums: &[u32]) -> Vec<u8> {
    checksums.iter().flat_map(|c| c.to_le_bytes()).collect()
}

pub fn parse_checksums(bytes: &[u8]) -> Result<Vec<u32>, FormatError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(FormatError::Length {
            part: "checksum table",
            got: bytes.len(),
            expected: bytes.len() / 4 * 4,
        });
    }
    Ok(bytes.chunks_exact(4).map(|c| le32(c, 0)).collect())
}

/// Offsets of a piece of a segment with this geometry.
pub fn share_area_offset() -> u64 {
    HEADER_BYTES as u64
}

pub fn checksums_offset(geometry: &SegmentGeometry) -> u64 {
    HEADER_BYTES as u64 + geometry.share_area_bytes()
}

/// Builds the bytes that close a piece: checksum table and footer. Returns them
/// with the piece digest.
pub fn closing_bytes(
    header: &[u8; HEADER_BYTES],
    geometry: &SegmentGeometry,
    checksums: &[u32],
) -> (Vec<u8>, [u8; 32]) {
    assert_eq!(
        checksums.len(),
        geometry.stripe_count as usize,
        "one checksum per stripe"
    );
    let mut bytes = encode_checksums(checksums);
    let digest = piece_digest(header, &bytes);
    let footer = PieceFooter {
        stripe_count: geometry.stripe_count,
        last_share_bytes: geometry.last_share_bytes as u32,
        digest,
    };
    bytes.extend_from_slice(&footer.encode());
    (bytes, digest)
}

/// Checks a whole piece read back from a store: header, footer, digest and every
/// share checksum. Returns the header, the footer and the stripes whose share is bad.
pub fn verify_piece(bytes: &[u8]) -> Result<(PieceHeader, PieceFooter, Vec<u32>), FormatError> {
    let header = PieceHeader::parse(bytes)?;
    if bytes.len() < HEADER_BYTES + FOOTER_BYTES {
        return Err(FormatError::Length {
            part: "piece",
            got: bytes.len(),
            expected: HEADER_BYTES + FOOTER_BYTES,
        });
    }
    let footer = PieceFooter::parse(&bytes[bytes.len() - FOOTER_BYTES..])?;
    let stripes = footer.stripe_count as usize;
    let share = header.share_bytes as usize;
    // Checked: fields near 2^32 imply a length past usize, which must not
    // wrap around to a short piece's own.
    let sizes = (|| {
        let shares_len = (stripes - 1)
            .checked_mul(share)?
            .checked_add(footer.last_share_bytes as usize)?;
        let expected = shares_len
            .checked_add(stripes.checked_mul(4)?)?
            .checked_add(HEADER_BYTES + FOOTER_BYTES)?;
        Some((shares_len, expected))
    })();
    let Some((shares_len, _)) = sizes.filter(|&(_, expected)| expected == bytes.len()) else {
        return Err(FormatError::Length {
            part: "piece",
            got: bytes.len(),
            expected: sizes.map_or(usize::MAX, |(_, expected)| expected),
        });
    };
    let table = &bytes[HEADER_BYTES + shares_len..HEADER_BYTES + shares_len + 4 * stripes];
    let head: &[u8; HEADER_BYTES] = bytes[..HEADER_BYTES].try_into().expect("length checked");
    if piece_digest(head, table) != footer.digest {
        return Err(FormatError::Checksum { part: "digest" });
    }
    let checksums = parse_checksums(table)?;
    let mut bad = Vec::new();
    for (stripe, expected) in checksums.iter().enumerate() {
        let at = HEADER_BYTES + stripe * share;
        let len = if stripe + 1 == stripes {
            footer.last_share_bytes as usize
        } else {
            share
        };
        let got = crate::pipeline::checksum::share_checksum(
            &bytes[at..at + len],
            header.id.piece,
            stripe as u32,
        );
        if got != *expected {
            bad.push(stripe as u32);
        }
    }
    Ok((header, footer, bad))
}

/// Entry point of the piece-format fuzz target: the header, footer, checksum
/// table and whole-piece parsers over `data[1..]`, which must return `Err`
/// rather than panic, and whose accepted headers and footers survive being
/// encoded and parsed again.
///
/// `data[0]` picks the mode. Even: the bytes as a store returned them. Odd:
/// first repair their magic numbers, CRCs, digest and the length their
/// header and footer imply (`repair_for_fuzzing`), so the fuzzer gets past
/// the checksums to the arithmetic and share checks behind them; with bit 1
/// set too, every share checksum is repaired as well, and a piece whose
/// fields are valid must verify with no bad share.
pub fn fuzz_piece(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    let consistent = mode & 1 == 1 && repair_for_fuzzing(&mut bytes, mode & 2 != 0);
    let header = PieceHeader::parse(&bytes);
    if let Ok(header) = header {
        assert_eq!(PieceHeader::parse(&header.encode()), Ok(header));
    }
    let footer = bytes
        .len()
        .checked_sub(FOOTER_BYTES)
        .map(|at| PieceFooter::parse(&bytes[at..]));
    if let Some(Ok(footer)) = footer {
        assert_eq!(PieceFooter::parse(&footer.encode()), Ok(footer));
    }
    let _ = parse_checksums(&bytes);
    match verify_piece(&bytes) {
        Ok((header, footer, bad)) => {
            assert!(bad.windows(2).all(|w| w[0] < w[1]));
            assert!(bad.iter().all(|&stripe| stripe < footer.stripe_count));
            assert_eq!(PieceHeader::parse(&bytes), Ok(header));
            if consistent {
                assert_eq!(bad, Vec::<u32>::new(), "repaired shares reported bad");
            }
        }
        Err(e) => assert!(
            !(consistent && header.is_ok() && matches!(footer, Some(Ok(_)))),
            "a consistent piece refused: {e}"
        ),
    }
}

/// Rewrites `bytes` into a piece whose magic numbers, header CRC, footer CRC
/// and digest are right, its length the one its header and footer fields
/// imply (when that is at most 64 KiB); with `shares`, every share checksum
/// too. Returns whether all of that was done (the piece is consistent).
fn repair_for_fuzzing(bytes: &mut Vec<u8>, shares: bool) -> bool {
    const REPAIRED_BYTES_MAX: u128 = 64 << 10;
    if bytes.len() < HEADER_BYTES + FOOTER_BYTES {
        return false;
    }
    let mut footer: [u8; FOOTER_BYTES] = bytes[bytes.len() - FOOTER_BYTES..]
        .try_into()
        .expect("64 bytes");
    let mut header: [u8; HEADER_BYTES] = bytes[..HEADER_BYTES].try_into().expect("512 bytes");
    header[..4].copy_from_slice(HEADER_MAGIC);
    header[4] = VERSION;
    let crc = crc32c(&header[..60]);
    header[60..64].copy_from_slice(&crc.to_le_bytes());
    footer[..4].copy_from_slice(FOOTER_MAGIC);
    // u128: the fields multiply past u64.
    let share = u128::from(le32(&header, 32));
    let stripes = u128::from(le32(&footer, 4));
    let last = u128::from(le32(&footer, 8));
    let shares_len = stripes.saturating_sub(1) * share + last;
    let middle = shares_len + 4 * stripes;
    let fits = stripes > 0 && (HEADER_BYTES + FOOTER_BYTES) as u128 + middle <= REPAIRED_BYTES_MAX;
    let mut body = bytes[HEADER_BYTES..bytes.len() - FOOTER_BYTES].to_vec();
    if fits {
        body.resize(middle as usize, 0);
        let (share_area, table) = body.split_at_mut(shares_len as usize);
        if shares {
            let piece = le16(&header, 24);
            for (stripe, entry) in table.chunks_exact_mut(4).enumerate() {
                let at = stripe * share as usize;
                let len = if stripe as u128 + 1 == stripes {
                    last
                } else {
                    share
                };
                let sum = crate::pipeline::checksum::share_checksum(
                    &share_area[at..at + len as usize],
                    piece,
                    stripe as u32,
                );
                entry.copy_from_slice(&sum.to_le_bytes());
            }
        }
        let digest = piece_digest(&header, table);
        footer[12..44].copy_from_slice(&digest);
    }
    let crc = crc32c(&footer[..60]);
    footer[60..64].copy_from_slice(&crc.to_le_bytes());
    bytes.clear();
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&footer);
    fits && shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_footer_round_trip() {
        let header = PieceHeader {
            id: PieceId {
                segment: SegmentId([9; 16]),
                piece: 3,
            },
            required: 4,
            total: 6,
            share_bytes: 65536,
        };
        let bytes = header.encode();
        assert_eq!(PieceHeader::parse(&bytes).unwrap(), header);
        for i in 0..64 {
            let mut bad = bytes;
            bad[i] ^= 1;
            assert!(PieceHeader::parse(&bad).is_err(), "flip at {i} accepted");
        }
        assert!(PieceHeader::parse(&bytes[..100]).is_err());
        let footer = PieceFooter {
            stripe_count: 7,
            last_share_bytes: 64,
            digest: [5; 32],
        };
        let fb = footer.encode();
        assert_eq!(PieceFooter::parse(&fb).unwrap(), footer);
        let mut bad = fb;
        bad[13] ^= 0x10;
        assert_eq!(
            PieceFooter::parse(&bad),
            Err(FormatError::Checksum { part: "footer" })
        );
        assert!(SegmentId::from_hex(&SegmentId([0xab; 16]).to_hex()).is_some());
        assert!(SegmentId::from_hex("zz").is_none());
    }

    /// Regression, found by the `piece_format` fuzz target in its first ten
    /// seconds. Symptom: a piece whose header and footer CRCs are valid but
    /// whose share size and stripe count are near 2^32 made `verify_piece`'s
    /// length arithmetic overflow. Consequence: a panic in debug builds; in
    /// release the expected length wrapped, could equal a 577-byte piece's
    /// own, and the checksum-table slice then started past its end, so
    /// `ringgate verify-pieces` crashed on a corrupt file instead of
    /// reporting it. Fix: the length is computed with checked arithmetic and
    /// such a piece is a length error.
    #[test]
    fn verify_piece_refuses_lengths_past_usize() {
        let piece = |share_bytes, stripe_count, last_share_bytes, middle: usize| {
            let header = PieceHeader {
                id: PieceId {
                    segment: SegmentId([1; 16]),
                    piece: 0,
                },
                required: 1,
                total: 1,
                share_bytes,
            };
            let footer = PieceFooter {
                stripe_count,
                last_share_bytes,
                digest: [0; 32],
            };
            let mut bytes = header.encode().to_vec();
            bytes.resize(HEADER_BYTES + middle, 0);
            bytes.extend_from_slice(&footer.encode());
            bytes
        };
        // Wraps to exactly 577 bytes: 576 + (2^32 - 2)^2 + 1 + 4 (2^32 - 1).
        let wrapped = piece(u32::MAX - 1, u32::MAX, 1, 1);
        // The fuzzer's input: every field u32::MAX, 576 bytes.
        let fuzzed = piece(u32::MAX, u32::MAX, u32::MAX, 0);
        for bytes in [wrapped, fuzzed] {
            assert!(
                matches!(
                    verify_piece(&bytes),
                    Err(FormatError::Length { part: "piece", .. })
                ),
                "{:?}",
                verify_piece(&bytes)
            );
        }
    }

    #[test]
    fn parsers_never_panic_on_junk() {
        let mut x = 0x1234_5678u32;
        for len in [0usize, 3, 64, 511, 512, 575, 576, 700, 2000] {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = PieceHeader::parse(&junk);
            let _ = verify_piece(&junk);
            let _ = parse_checksums(&junk);
            if junk.len() >= FOOTER_BYTES {
                let _ = PieceFooter::parse(&junk[..FOOTER_BYTES]);
            }
        }
    }
}
