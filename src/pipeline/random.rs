//! Randomness as an argument: [`Entropy`] is the one way pure code gets
//! random bytes (keys, nonces, serials, ids). The gateway passes the OS
//! source (`crate::entropy::Os`); a test can pass [`Seeded`] and get the same
//! bytes on every run. Pure modules never read the OS source themselves, as
//! they never read the clock.

/// A source of random bytes. Called once per key, nonce or id, never per
/// byte of data, so a generic parameter or a `dyn` one costs nothing that
/// shows.
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);

    /// `N` random bytes.
    fn array<const N: usize>(&mut self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut bytes = [0u8; N];
        self.fill(&mut bytes);
        bytes
    }
}

/// A deterministic source for tests and simulation: splitmix64 from a seed.
/// Not a cryptographic generator; never give it to code that makes real keys.
#[derive(Clone, Debug)]
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl Entropy for Seeded {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_bytes_and_another_seed_others() {
        let a: [u8; 20] = Seeded::new(7).array();
        assert_eq!(a, Seeded::new(7).array::<20>());
        assert_ne!(a, Seeded::new(8).array::<20>());
        assert_ne!(a[..8], a[8..16]);
    }
}
