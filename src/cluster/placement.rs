//! Choosing the stores of a segment's pieces: n distinct stores, spread over
//! failure domains, more often where there is more free space. Pure: the
//! caller supplies the candidates (live stores only) and a random seed.
//!
//! Order: a weighted random permutation of the candidates (Efraimidis and
//! Spirakis: each store draws `u^(1/w)` for a uniform `u` and its weight `w`,
//! highest first), so a store with twice the free space is about twice as
//! likely to be picked, and no store is ever starved. Then rounds: round r
//! takes, in that order, stores whose domain already holds r pieces, until
//! `count` are chosen. So no two pieces share a domain while an unused domain
//! is left, and after that domains fill evenly. A store without a domain label
//! is a domain of its own. Domains that already hold pieces of the segment
//! (a repair adds to a segment) start with those counts. A store known to
//! have less than [`FREE_BYTES_MIN`] free takes no new pieces.

use std::collections::HashMap;

/// A store's id in placements: its row in the metadata's `stores` table.
pub type StoreId = u32;

/// Free bytes below which a store takes no new pieces: it would fail them.
pub const FREE_BYTES_MIN: u64 = 256 << 20;

/// A live store that may take a piece.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub id: StoreId,
    pub domain: Option<&'a str>,
    /// Free bytes at the last check; `None` if not known yet (weighted as
    /// the average of those known, or all equal when none is).
    pub free_bytes: Option<u64>,
}

/// Up to `count` distinct candidates (fewer only when there are fewer with
/// room), spreading over domains after those in `held` (the domains of
/// pieces the segment already has, repeated per piece).
pub fn choose(
    candidates: &[Candidate<'_>],
    count: usize,
    held: &[&str],
    seed: u64,
) -> Vec<StoreId> {
    let candidates: Vec<Candidate<'_>> = candidates
        .iter()
        .filter(|c| c.free_bytes.is_none_or(|f| f >= FREE_BYTES_MIN))
        .copied()
        .collect();
    let known: Vec<u64> = candidates.iter().filter_map(|c| c.free_bytes).collect();
    let fallback = if known.is_empty() {
        1.0
    } else {
        known.iter().map(|&f| f as f64).sum::<f64>() / known.len() as f64
    };
    let mut rng = SplitMix64(seed);
    let mut order: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let weight = c.free_bytes.map_or(fallback, |f| f as f64);
            // ln(u) / w orders as u^(1/w), without underflow.
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            ((u.max(f64::MIN_POSITIVE)).ln() / weight, i)
        })
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut chosen = Vec::with_capacity(count.min(candidates.len()));
    let mut taken = vec![false; candidates.len()];
    let mut per_domain: HashMap<&str, usize> = HashMap::new();
    for domain in held {
        *per_domain.entry(domain).or_default() += 1;
    }
    let mut round = per_domain.values().copied().min().unwrap_or(0);
    // Domains no piece is in yet start at zero.
    if candidates
        .iter()
        .any(|c| c.domain.is_none_or(|d| !per_domain.contains_key(d)))
    {
        round = 0;
    }
    while chosen.len() < count.min(candidates.len()) {
        for &(_, i) in &order {
            if chosen.len() == count || taken[i] {
                continue;
            }
            let used = candidates[i]
                .domain
                .map_or(0, |d| per_domain.get(d).copied().unwrap_or(0));
            if used <= round {
                taken[i] = true;
                chosen.push(candidates[i].id);
                if let Some(d) = candidates[i].domain {
                    *per_domain.entry(d).or_default() += 1;
                }
            }
        }
        round += 1;
    }
    chosen
}

/// A small, fast, seedable generator: placement needs spread, not secrecy.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(domains: &[Option<&'static str>]) -> Vec<Candidate<'static>> {
        domains
            .iter()
            .enumerate()
            .map(|(i, &domain)| Candidate {
                id: i as StoreId,
                domain,
                free_bytes: None,
            })
            .collect()
    }

    #[test]
    fn distinct_and_bounded() {
        let c = candidates(&[None; 10]);
        for seed in 0..200 {
            let mut got = choose(&c, 6, &[], seed);
            assert_eq!(got.len(), 6);
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), 6, "seed {seed}: a store chosen twice");
        }
        assert_eq!(
            choose(&c[..4], 6, &[], 1).len(),
            4,
            "fewer when fewer exist"
        );
        assert!(choose(&[], 6, &[], 1).is_empty());
    }

    #[test]
    fn domains_are_spread_before_they_are_shared() {
        // Three racks of four stores each.
        let racks = ["a", "b", "c"];
        let domains: Vec<Option<&str>> = (0..12).map(|i| Some(racks[i % 3])).collect();
        let c = candidates(&domains);
        for seed in 0..200 {
            for count in 1..=12 {
                let got = choose(&c, count, &[], seed);
                let mut per = HashMap::new();
                for id in &got {
                    *per.entry(domains[*id as usize].unwrap()).or_insert(0) += 1;
                }
                let (max, min) = (
                    per.values().copied().max().unwrap(),
                    racks
                        .iter()
                        .map(|r| per.get(r).copied().unwrap_or(0))
                        .min()
                        .unwrap(),
                );
                assert!(max - min <= 1, "seed {seed}, {count} pieces: {per:?}");
            }
        }
    }

    #[test]
    fn free_space_weights_the_choice() {
        // Store 0 has 9x the free space of each other store.
        let mut c = candidates(&[None; 10]);
        let gib = 1 << 30;
        c[0].free_bytes = Some(900 * gib);
        for other in &mut c[1..] {
            other.free_bytes = Some(100 * gib);
        }
        let trials = 4000;
        let picked_first = (0..trials)
            .filter(|&seed| choose(&c, 1, &[], seed)[0] == 0)
            .count();
        // Expected share 900 / 1800 = 1/2; equal weights would give 1/10.
        assert!(
            picked_first > trials as usize * 2 / 5 && picked_first < trials as usize * 3 / 5,
            "{picked_first} of {trials}"
        );
        // Every store is still used.
        let mut seen = [false; 10];
        for seed in 0..trials {
            for id in choose(&c, 3, &[], seed) {
                seen[id as usize] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn a_repair_fills_the_domains_its_segment_lacks() {
        // Racks a, b, c, d with two stores each; the segment holds pieces in
        // a (twice) and b: new pieces go to c and d first, then to any rack
        // still at one piece, never to a third in a rack.
        let domains: Vec<Option<&str>> = ["a", "a", "b", "b", "c", "c", "d", "d"]
            .into_iter()
            .map(Some)
            .collect();
        let c = candidates(&domains);
        for seed in 0..200 {
            let got = choose(&c[2..], 3, &["a", "a", "b"], seed);
            let racks: Vec<&str> = got
                .iter()
                .map(|&id| domains[id as usize].unwrap())
                .collect();
            let count = |r: &str| racks.iter().filter(|&&x| x == r).count();
            assert!(count("c") >= 1 && count("d") >= 1, "seed {seed}: {racks:?}");
            assert!(
                count("b") < 2,
                "seed {seed}: a third piece in rack b: {racks:?}"
            );
            assert_eq!(got.len(), 3);
        }
    }

    #[test]
    fn full_stores_take_nothing() {
        let mut c = candidates(&[None; 4]);
        c[1].free_bytes = Some(FREE_BYTES_MIN - 1);
        c[2].free_bytes = Some(FREE_BYTES_MIN);
        for seed in 0..100 {
            let got = choose(&c, 4, &[], seed);
            assert_eq!(got.len(), 3);
            assert!(!got.contains(&1), "seed {seed}: a full store was chosen");
        }
    }
}
