//! Object content as a pure function of (seed, size), cheap enough to make
//! and check at memory speed, and seekable so any range can be checked
//! without the bytes before it.
//!
//! The content is a sequence of 4 KiB blocks. Block `b` of an object with
//! seed `s` is the output of eight independent xorshift64 generators whose
//! states are derived from (s, b) by splitmix64, interleaved word by word
//! (little-endian): eight lanes fill one 512-bit register, so the compiler
//! turns a step into a handful of vector shifts and XORs. Generating is a
//! store per 64 bytes; verifying is a load, an XOR and an OR per 64 bytes
//! (the expected bytes never reach memory), and only a block that differs is
//! looked at byte by byte to name the first wrong offset.
//!
//! The bytes are not a cryptographic function: a server cannot forge them
//! without knowing the seed, but nothing stops one that does. What they do
//! guarantee is that every wrong byte is found (the check is an exact
//! comparison), that a block returned at the wrong offset or from another
//! object differs (its generator states differ), and that the data does not
//! compress or deduplicate.
//!
//! Pure code: no I/O.

use std::fmt;

/// The seekable unit: a range check regenerates at most two partial blocks.
pub const BLOCK_BYTES: usize = 4096;
const LANES: usize = 8;
const STEP_BYTES: usize = LANES * 8;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The content of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Content {
    pub seed: u64,
    pub size: u64,
}

/// Where content and data first disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Corrupt {
    /// The byte at `offset` (from the start of the object) differs.
    Mismatch { offset: u64, expected: u8, got: u8 },
    /// More bytes than the object (or the range) holds.
    TooLong { expected_bytes: u64 },
    /// The body ended after `got_bytes`.
    TooShort { expected_bytes: u64, got_bytes: u64 },
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mismatch {
                offset,
                expected,
                got,
            } => write!(f, "byte {offset} is {got:#04x}, expected {expected:#04x}"),
            Self::TooLong { expected_bytes } => {
                write!(f, "body is longer than the {expected_bytes} bytes expected")
            }
            Self::TooShort {
                expected_bytes,
                got_bytes,
            } => write!(f, "body ended after {got_bytes} of {expected_bytes} bytes"),
        }
    }
}

impl Content {
    pub fn new(seed: u64, size: u64) -> Self {
        Self { seed, size }
    }

    /// Writes bytes `offset..offset + out.len()` of the content.
    ///
    /// Panics if that range runs past `size`: asking for bytes the object
    /// does not have is a bug in the caller.
    pub fn fill(&self, offset: u64, out: &mut [u8]) {
        assert!(
            offset
                .checked_add(out.len() as u64)
                .is_some_and(|end| end <= self.size),
            "range {offset}+{} past the object's {} bytes",
            out.len(),
            self.size
        );
        let mut at = 0;
        let mut offset = offset;
        while at < out.len() {
            let block = offset / BLOCK_BYTES as u64;
            let within = (offset % BLOCK_BYTES as u64) as usize;
            let rest = out.len() - at;
            if within == 0 && rest >= BLOCK_BYTES {
                let whole = rest / BLOCK_BYTES * BLOCK_BYTES;
                kernel::fill_blocks(self.seed, block, &mut out[at..at + whole]);
                at += whole;
                offset += whole as u64;
            } else {
                let mut scratch = [0u8; BLOCK_BYTES];
                kernel::fill_blocks(self.seed, block, &mut scratch);
                let n = (BLOCK_BYTES - within).min(rest);
                out[at..at + n].copy_from_slice(&scratch[within..within + n]);
                at += n;
                offset += n as u64;
            }
        }
    }

    /// Checks that `data` is bytes `offset..offset + data.len()` of the content.
    pub fn verify(&self, offset: u64, data: &[u8]) -> Result<(), Corrupt> {
        if offset
            .checked_add(data.len() as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(Corrupt::TooLong {
                expected_bytes: self.size,
            });
        }
        let mut at = 0;
        let mut offset = offset;
        while at < data.len() {
            let block = offset / BLOCK_BYTES as u64;
            let within = (offset % BLOCK_BYTES as u64) as usize;
            let rest = data.len() - at;
            if within == 0 && rest >= BLOCK_BYTES {
                let whole = rest / BLOCK_BYTES * BLOCK_BYTES;
                if let Some(i) = kernel::first_bad_block(self.seed, block, &data[at..at + whole]) {
                    let bad = at + i * BLOCK_BYTES;
                    return Err(self.locate(offset + (i * BLOCK_BYTES) as u64, &data[bad..]));
                }
                at += whole;
                offset += whole as u64;
            } else {
                let mut scratch = [0u8; BLOCK_BYTES];
                kernel::fill_blocks(self.seed, block, &mut scratch);
                let n = (BLOCK_BYTES - within).min(rest);
                if scratch[within..within + n] != data[at..at + n] {
                    return Err(self.locate(offset, &data[at..]));
                }
                at += n;
                offset += n as u64;
            }
        }
        Ok(())
    }

    /// The first differing byte at or after `offset` (known to be within the
    /// next block of `data`).
    fn locate(&self, offset: u64, data: &[u8]) -> Corrupt {
        let n = data.len().min(BLOCK_BYTES);
        let mut expected = [0u8; BLOCK_BYTES];
        self.fill(offset, &mut expected[..n]);
        let i = (0..n)
            .find(|&i| expected[i] != data[i])
            .expect("a block flagged as different has a differing byte");
        Corrupt::Mismatch {
            offset: offset + i as u64,
            expected: expected[i],
            got: data[i],
        }
    }
}

/// Checks a body as it arrives in pieces of any size: the bytes of `range`
/// of an object's content, in order.
#[derive(Clone, Debug)]
pub struct Verifier {
    content: Content,
    next: u64,
    end: u64,
}

impl Verifier {
    /// Expects bytes `start..end` of `content`.
    pub fn new(content: Content, start: u64, end: u64) -> Self {
        assert!(
            start <= end && end <= content.size,
            "range within the object"
        );
        Self {
            content,
            next: start,
            end,
        }
    }

    /// The whole object.
    pub fn whole(content: Content) -> Self {
        Self::new(content, 0, content.size)
    }

    pub fn update(&mut self, data: &[u8]) -> Result<(), Corrupt> {
        if data.len() as u64 > self.end - self.next {
            return Err(Corrupt::TooLong {
                expected_bytes: self.end - self.next,
            });
        }
        self.content.verify(self.next, data)?;
        self.next += data.len() as u64;
        Ok(())
    }

    /// Bytes checked so far.
    pub fn checked_bytes(&self) -> u64 {
        self.next
    }

    /// At the end of the body: every expected byte arrived.
    pub fn finish(&self) -> Result<(), Corrupt> {
        if self.next == self.end {
            Ok(())
        } else {
            Err(Corrupt::TooShort {
                expected_bytes: self.end,
                got_bytes: self.next,
            })
        }
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator states of one block: never zero (xorshift's fixed point).
#[inline(always)]
fn block_state(seed: u64, block: u64) -> [u64; LANES] {
    let base = splitmix64(seed ^ splitmix64(block));
    std::array::from_fn(|lane| splitmix64(base.wrapping_add(lane as u64)) | 1)
}

#[inline(always)]
fn step(s: &mut [u64; LANES]) {
    for x in s.iter_mut() {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
    }
}

/// The loops, compiled once per instruction set and picked at run time: the
/// crate is built for baseline x86-64, where a step is four 128-bit halves.
mod kernel {
    use super::*;

    #[inline(always)]
    fn fill_generic(seed: u64, first_block: u64, out: &mut [u8]) {
        for (b, block) in out.chunks_exact_mut(BLOCK_BYTES).enumerate() {
            let mut s = block_state(seed, first_block + b as u64);
            for chunk in block.chunks_exact_mut(STEP_BYTES) {
                step(&mut s);
                for (lane, word) in chunk.chunks_exact_mut(8).enumerate() {
                    word.copy_from_slice(&s[lane].to_le_bytes());
                }
            }
        }
    }

    #[inline(always)]
    fn first_bad_generic(seed: u64, first_block: u64, data: &[u8]) -> Option<usize> {
        for (b, block) in data.chunks_exact(BLOCK_BYTES).enumerate() {
            let mut s = block_state(seed, first_block + b as u64);
            let mut diff = [0u64; LANES];
            for chunk in block.chunks_exact(STEP_BYTES) {
                step(&mut s);
                for (lane, word) in chunk.chunks_exact(8).enumerate() {
                    let got = u64::from_le_bytes(word.try_into().unwrap());
                    diff[lane] |= got ^ s[lane];
                }
            }
            if diff.iter().any(|&d| d != 0) {
                return Some(b);
            }
        }
        None
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl")]
    unsafe fn fill_avx512(seed: u64, first_block: u64, out: &mut [u8]) {
        fill_generic(seed, first_block, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl")]
    unsafe fn first_bad_avx512(seed: u64, first_block: u64, data: &[u8]) -> Option<usize> {
        first_bad_generic(seed, first_block, data)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn fill_avx2(seed: u64, first_block: u64, out: &mut [u8]) {
        fill_generic(seed, first_block, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn first_bad_avx2(seed: u64, first_block: u64, data: &[u8]) -> Option<usize> {
        first_bad_generic(seed, first_block, data)
    }

    /// Fills whole blocks (`out.len()` a multiple of [`BLOCK_BYTES`]).
    pub fn fill_blocks(seed: u64, first_block: u64, out: &mut [u8]) {
        debug_assert_eq!(out.len() % BLOCK_BYTES, 0);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { fill_avx512(seed, first_block, out) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { fill_avx2(seed, first_block, out) };
            }
        }
        fill_generic(seed, first_block, out)
    }

    /// The index of the first whole block of `data` that differs.
    pub fn first_bad_block(seed: u64, first_block: u64, data: &[u8]) -> Option<usize> {
        debug_assert_eq!(data.len() % BLOCK_BYTES, 0);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { first_bad_avx512(seed, first_block, data) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { first_bad_avx2(seed, first_block, data) };
            }
        }
        first_bad_generic(seed, first_block, data)
    }

    /// Portable versions, for the tests to compare against.
    #[cfg(test)]
    pub fn fill_portable(seed: u64, first_block: u64, out: &mut [u8]) {
        fill_generic(seed, first_block, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_kernel_matches_portable() {
        let mut a = vec![0u8; BLOCK_BYTES * 5];
        let mut b = vec![0u8; BLOCK_BYTES * 5];
        kernel::fill_blocks(42, 7, &mut a);
        kernel::fill_portable(42, 7, &mut b);
        assert_eq!(a, b);
        assert_eq!(kernel::first_bad_block(42, 7, &a), None);
    }

    #[test]
    fn speed_report() {
        // Not an assertion: `cargo test --release -- --nocapture speed` prints it.
        let mut buf = vec![0u8; 8 << 20];
        let c = Content::new(1, buf.len() as u64);
        let t = std::time::Instant::now();
        for _ in 0..8 {
            c.fill(0, &mut buf);
        }
        let fill = t.elapsed();
        let t = std::time::Instant::now();
        for _ in 0..8 {
            c.verify(0, &buf).unwrap();
        }
        let verify = t.elapsed();
        let gb = 8.0 * buf.len() as f64 / 1e9;
        eprintln!(
            "content: fill {:.1} GB/s, verify {:.1} GB/s",
            gb / fill.as_secs_f64(),
            gb / verify.as_secs_f64()
        );
    }
}
