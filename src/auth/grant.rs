//! Access grants: one printable string that carries everything a client needs
//! to act for a project (the project id, a macaroon API key and the project's
//! root encryption key), restrictable offline with [`Grant::restrict`].
//!
//! Grant, version 1 (the string is `rgg_` then the bytes in base64url, no padding):
//! ```text
//! offset    size  field
//! 0         1     version = 1
//! 1         16    project id
//! 17        32    root key
//! 49        32    API key head (random)
//! 81        1     caveat count c (0..=32)
//! 82        …     c × (length (u16 LE) ‖ caveat bytes)     see `caveat`
//! end − 36  32    API key tail
//! end − 4   4     checksum: SHA-256("ringgate grant checksum v1\0" ‖ bytes 0..end−4)[0..4]
//! at most 65 536 bytes in all
//! ```
//!
//! The checksum only catches a mistyped or cut grant early, offline (in
//! `grant inspect`); what makes a grant authentic is the API key's HMAC chain,
//! which also covers the project id and the root key (see `macaroon`). Parsing
//! is strict: one grant has exactly one encoding, and a string that decodes to
//! anything else (trailing bytes, non-canonical base64, a caveat that does not
//! re-encode to its bytes, counts or sizes over the limits) is refused.
//!
//! Why base64url and not base58: the `base64` crate we already use decodes in
//! linear time and strictly (padding and stray trailing bits refused, so one
//! grant has one string); base58 is quadratic in the length (a 64 KiB grant
//! would take on the order of 10⁹ steps to parse, an easy denial of service
//! unless grants were kept far smaller), would be a new dependency, and its
//! one gain, no look-alike characters, matters little for a string that is
//! pasted, never typed; the checksum catches a slip anyway. base64url is also
//! safe unescaped in URLs, file names, headers, JSON and shell words. Its cost:
//! `-` stops double-click selection in some terminals.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::caveat::{Caveat, Reader};
use super::error::GrantError;
use super::macaroon::{ApiKey, HeadId, ProjectSecret, HEAD_BYTES, TAIL_BYTES};
use super::permissions::Permissions;
use crate::pipeline::checksum::hex;
use crate::pipeline::crypto::RootKey;
use crate::pipeline::random::Entropy;

/// What every grant string begins with: recognisable by people and by secret
/// scanners.
pub const GRANT_PREFIX: &str = "rgg_";
/// Largest grant, in bytes before base64url (about 87 KiB of text).
pub const GRANT_BYTES_MAX: usize = 65_536;
const CHECKSUM_BYTES: usize = 4;
const CHECKSUM_DOMAIN: &[u8] = b"ringgate grant checksum v1\0";
const GRANT_BYTES_MIN: usize = 1 + 16 + 32 + HEAD_BYTES + 1 + TAIL_BYTES + CHECKSUM_BYTES;
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An access grant. `Debug` and [`Grant::describe`] never show the root key
/// or the API key's tail.
#[derive(Clone)]
pub struct Grant {
    project: [u8; 16],
    api_key: ApiKey,
    root_key: RootKey,
}

/// Compares every byte; for tests and caches, not for authentication.
impl PartialEq for Grant {
    fn eq(&self, other: &Self) -> bool {
        self.project == other.project
            && self.api_key == other.api_key
            && self.root_key.expose() == other.root_key.expose()
    }
}

impl Eq for Grant {}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("project", &hex(&self.project))
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let digest = Sha256::new()
        .chain_update(CHECKSUM_DOMAIN)
        .chain_update(bytes)
        .finalize();
    digest[..CHECKSUM_BYTES].try_into().expect("length")
}

impl Grant {
    pub const VERSION: u8 = 1;

    /// A new, unrestricted grant for `project` (server side: needs its secret).
    pub fn issue(
        project: [u8; 16],
        secret: &ProjectSecret,
        root_key: RootKey,
        entropy: &mut impl Entropy,
    ) -> Grant {
        let api_key = ApiKey::new(secret, &project, &root_key, entropy);
        Grant {
            project,
            api_key,
            root_key,
        }
    }

    /// A grant from its parts (e.g. an API key kept by the registry).
    pub fn from_parts(
        project: [u8; 16],
        api_key: ApiKey,
        root_key: RootKey,
    ) -> Result<Grant, GrantError> {
        let grant = Grant {
            project,
            api_key,
            root_key,
        };
        grant.check_size()?;
        Ok(grant)
    }

    pub fn project(&self) -> &[u8; 16] {
        &self.project
    }
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }
    pub fn root_key(&self) -> &RootKey {
        &self.root_key
    }
    pub fn caveats(&self) -> &[Caveat] {
        self.api_key.caveats()
    }
    /// The revocation id, shared by every grant derived from the same key.
    pub fn head_id(&self) -> HeadId {
        self.api_key.head_id()
    }

    /// This grant with one more caveat, derived offline. Fails when the key
    /// already has 32 caveats, the caveat restricts nothing or breaks a limit,
    /// or the grant would pass 64 KiB.
    pub fn restrict(&self, caveat: Caveat) -> Result<Grant, GrantError> {
        let grant = Grant {
            project: self.project,
            api_key: self.api_key.restrict(caveat)?,
            root_key: self.root_key.clone(),
        };
        grant.check_size()?;
        Ok(grant)
    }

    /// Whether the API key's chain verifies under the project's secret (which
    /// the server looks up by [`Grant::project`]).
    pub fn verify(&self, secret: &ProjectSecret) -> Result<(), GrantError> {
        self.api_key.verify(secret, &self.project, &self.root_key)
    }

    /// What the grant allows (computed from the caveats; not a verification).
    pub fn permissions(&self) -> Permissions {
        Permissions::from_caveats(self.api_key.caveats())
    }

    /// The server's whole check: the chain verifies, the head is not revoked;
    /// then what the grant allows.
    pub fn authorize(
        &self,
        secret: &ProjectSecret,
        is_revoked: impl FnOnce(&HeadId) -> bool,
    ) -> Result<Permissions, GrantError> {
        self.verify(secret)?;
        if is_revoked(&self.head_id()) {
            return Err(GrantError::Revoked);
        }
        Ok(self.permissions())
    }

    /// Length of [`Grant::to_bytes`].
    pub fn encoded_len(&self) -> usize {
        1 + 16 + 32 + self.api_key.encoded_len() + CHECKSUM_BYTES
    }

    fn check_size(&self) -> Result<(), GrantError> {
        let len_bytes = self.encoded_len();
        if len_bytes > GRANT_BYTES_MAX {
            return Err(GrantError::TooLong { len_bytes });
        }
        Ok(())
    }

    /// The binary form (see the module documentation).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_len()));
        out.push(Self::VERSION);
        out.extend_from_slice(&self.project);
        out.extend_from_slice(self.root_key.expose());
        self.api_key.write_to(&mut out);
        let sum = checksum(&out);
        out.extend_from_slice(&sum);
        debug_assert_eq!(out.len(), self.encoded_len());
        out
    }

    /// Parses exactly the binary form; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Grant, GrantError> {
        match bytes.first() {
            None => return Err(GrantError::malformed(0, "empty")),
            Some(&v) if v != Self::VERSION => return Err(GrantError::Version(v)),
            Some(_) => {}
        }
        if bytes.len() > GRANT_BYTES_MAX {
            return Err(GrantError::TooLong {
                len_bytes: bytes.len(),
            });
        }
        if bytes.len() < GRANT_BYTES_MIN {
            return Err(GrantError::malformed(bytes.len(), "truncated"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
        if checksum(body) != sum {
            return Err(GrantError::Checksum);
        }
        let mut r = Reader {
            bytes: body,
            pos: 1,
        };
        let at = |r: &Reader<'_>, reason| GrantError::malformed(r.pos, reason);
        let project = r.array::<16>().map_err(|e| at(&r, e))?;
        let mut root = r.array::<32>().map_err(|e| at(&r, e))?;
        let root_key = RootKey::from_bytes(root);
        root.zeroize();
        let api_key = ApiKey::read(&mut r)?;
        if !r.done() {
            return Err(at(&r, "trailing bytes"));
        }
        Ok(Grant {
            project,
            api_key,
            root_key,
        })
    }

    /// The root key of a grant's binary form, read where [`Self::to_bytes`]
    /// puts it, without the checksum or the API key: for bytes already
    /// authenticated some other way (an opened access record).
    pub fn root_key_from_bytes(bytes: &[u8]) -> Result<RootKey, GrantError> {
        match bytes.first() {
            None => Err(GrantError::malformed(0, "empty")),
            Some(&v) if v != Self::VERSION => Err(GrantError::Version(v)),
            Some(_) if bytes.len() < GRANT_BYTES_MIN => {
                Err(GrantError::malformed(bytes.len(), "truncated"))
            }
            Some(_) => {
                let mut root = Zeroizing::new([0u8; 32]);
                root.copy_from_slice(&bytes[1 + 16..1 + 16 + 32]);
                Ok(RootKey::from_bytes(*root))
            }
        }
    }

    /// The printable grant: `rgg_` then base64url without padding.
    pub fn encode(&self) -> Zeroizing<String> {
        let bytes = self.to_bytes();
        let mut out = Zeroizing::new(String::with_capacity(
            GRANT_PREFIX.len() + base64::encoded_len(bytes.len(), false).unwrap_or(0),
        ));
        out.push_str(GRANT_PREFIX);
        BASE64.encode_string(&bytes[..], &mut out);
        out
    }

    /// Parses a printable grant (surrounding ASCII whitespace is ignored, so a
    /// pasted line with its newline parses); never panics. Parsing proves
    /// nothing about authenticity: the server calls [`Grant::verify`].
    pub fn parse(input: &str) -> Result<Grant, GrantError> {
        let input = input.trim_matches(|c: char| c.is_ascii_whitespace());
        let body = input.strip_prefix(GRANT_PREFIX).ok_or(GrantError::Prefix)?;
        let text_max = base64::encoded_len(GRANT_BYTES_MAX, false).expect("small");
        if body.len() > text_max {
            return Err(GrantError::TooLong {
                len_bytes: body.len() / 4 * 3,
            });
        }
        let bytes = Zeroizing::new(BASE64.decode(body).map_err(|_| GrantError::Base64)?);
        Self::from_bytes(&bytes)
    }

    /// What `ringgate grant inspect` shows: the project, the head id, each
    /// caveat and the effective permissions; never a secret.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "project     {}\nhead id     {} (revoking it revokes every grant derived from this key)\n",
            hex(&self.project),
            self.head_id()
        );
        for (i, caveat) in self.caveats().iter().enumerate() {
            let label = format!("caveat {}", i + 1);
            out.push_str(&format!("{label:<11} {caveat}\n"));
        }
        out.push_str(&self.permissions().describe());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::caveat::{Action, ActionSet, PathRule, Privileges};
    use crate::auth::permissions::Denied;
    use crate::entropy::Os;
    use proptest::prelude::*;

    struct Fixture {
        secret: ProjectSecret,
        grant: Grant,
    }

    /// A grant with three caveats of every kind of field.
    fn fixture() -> Fixture {
        let secret = ProjectSecret::random(&mut Os);
        let grant = Grant::issue([0x42; 16], &secret, RootKey::random(&mut Os), &mut Os)
            .restrict(
                Caveat::default()
                    .allow_actions(ActionSet::READ_ONLY.with(Action::Write))
                    .allow_path("photos", "2024/")
                    .allow_path("photos", "2025/")
                    .allow_path("logs", ""),
            )
            .unwrap()
            .restrict(Caveat::default().not_before(1_000).not_after(2_000))
            .unwrap()
            .restrict(
                Caveat::default()
                    .allow_path("photos", "2024/jan/")
                    .not_after(1_500),
            )
            .unwrap();
        Fixture { secret, grant }
    }

    /// Whether the grant would be accepted: it parses and its chain verifies.
    fn accepted(bytes: &[u8], secret: &ProjectSecret) -> bool {
        Grant::from_bytes(bytes).is_ok_and(|g| g.verify(secret).is_ok())
    }

    fn with_checksum(mut body: Vec<u8>) -> Vec<u8> {
        let sum = checksum(&body);
        body.extend_from_slice(&sum);
        body
    }

    #[test]
    fn round_trip_and_verify() {
        let Fixture { secret, grant } = fixture();
        assert_eq!(grant.verify(&secret), Ok(()));
        let text = grant.encode();
        assert!(text.starts_with("rgg_"));
        assert!(text[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let parsed = Grant::parse(&text).unwrap();
        assert_eq!(parsed, grant);
        assert_eq!(parsed.verify(&secret), Ok(()));
        assert_eq!(Grant::parse(&format!("  {}\n", *text)).unwrap(), grant);
        assert_eq!(grant.to_bytes().len(), grant.encoded_len());
        // Another project's secret does not verify it.
        assert_eq!(
            grant.verify(&ProjectSecret::random(&mut Os)),
            Err(GrantError::BadMac)
        );
        // Secrets stay out of Debug and describe.
        let shown = format!("{grant:?}\n{}", grant.describe());
        assert!(!shown.contains(&hex(grant.root_key.expose())));
        assert!(!shown.contains(&hex(grant.api_key.tail())));
    }

    #[test]
    fn restricted_grants_narrow_and_keep_their_head() {
        let Fixture { secret, grant } = fixture();
        let p = grant.permissions();
        assert_eq!(
            p.allows(Action::Read, "photos", "2024/jan/1.jpg", 1_200),
            Ok(())
        );
        assert_eq!(
            p.allows(Action::Read, "photos", "2024/feb/1.jpg", 1_200),
            Err(Denied::Prefix)
        );
        assert_eq!(
            p.allows(Action::Read, "logs", "x", 1_200),
            Err(Denied::Bucket)
        );
        assert_eq!(
            p.allows(Action::Read, "photos", "2024/jan/1.jpg", 1_501),
            Err(Denied::Expired { not_after: 1_500 })
        );
        let narrower = grant
            .restrict(Caveat::default().allow_actions(ActionSet::of(&[Action::List])))
            .unwrap();
        assert_eq!(narrower.verify(&secret), Ok(()));
        assert_eq!(narrower.head_id(), grant.head_id());
        assert_eq!(
            narrower
                .permissions()
                .allows(Action::Read, "photos", "2024/jan/1.jpg", 1_200),
            Err(Denied::Action(Action::Read))
        );
        // Revocation by head kills every grant derived from it.
        let revoked = [grant.head_id()];
        for g in [&grant, &narrower] {
            assert_eq!(
                g.authorize(&secret, |id| revoked.contains(id)),
                Err(GrantError::Revoked)
            );
            assert_eq!(g.authorize(&secret, |_| false), Ok(g.permissions()));
        }
        let unrelated = Grant::issue([0x42; 16], &secret, grant.root_key.clone(), &mut Os);
        assert_ne!(unrelated.head_id(), grant.head_id());
        assert!(unrelated
            .authorize(&secret, |id| revoked.contains(id))
            .is_ok());
    }

    /// Every byte of the binary grant, flipped to each of its 255 other values,
    /// is refused: by the checksum as it stands, and, with the checksum made
    /// right again (as an attacker would), by the parser or the HMAC chain.
    #[test]
    fn every_flipped_byte_is_refused() {
        let Fixture { secret, grant } = fixture();
        let bytes = grant.to_bytes().to_vec();
        let body_len = bytes.len() - CHECKSUM_BYTES;
        let mut reached_mac = 0;
        for i in 0..bytes.len() {
            for x in 1..=255u8 {
                let mut bad = bytes.clone();
                bad[i] ^= x;
                assert!(!accepted(&bad, &secret), "byte {i} ^ {x:#04x}");
                if i < body_len {
                    let resummed = with_checksum(bad[..body_len].to_vec());
                    match Grant::from_bytes(&resummed) {
                        Ok(g) => {
                            assert_eq!(g.verify(&secret), Err(GrantError::BadMac), "byte {i}");
                            reached_mac += 1;
                        }
                        Err(e) => assert!(
                            matches!(
                                e,
                                GrantError::Version(_)
                                    | GrantError::Malformed { .. }
                                    | GrantError::TooManyCaveats
                            ),
                            "byte {i}: {e}"
                        ),
                    }
                }
            }
        }
        // Project, root key, head, times, prefixes and tail reach the MAC check.
        assert!(reached_mac > 255 * (16 + 32 + 32 + 32), "{reached_mac}");
    }

    /// Every character of the printable grant, changed to any other base64url
    /// character, is refused.
    #[test]
    fn every_changed_character_is_refused() {
        let Fixture { secret, grant } = fixture();
        let text = grant.encode().to_string();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..text.len() {
            for &c in alphabet.iter().chain(b"=+/. ") {
                if text.as_bytes()[i] == c {
                    continue;
                }
                let mut bad = text.clone().into_bytes();
                bad[i] = c;
                let bad = String::from_utf8(bad).unwrap();
                let ok = Grant::parse(&bad).is_ok_and(|g| g.verify(&secret).is_ok());
                assert!(!ok, "{i} -> {}", c as char);
            }
        }
    }

    #[test]
    fn removed_reordered_or_truncated_caveats_are_refused() {
        let Fixture { secret, grant } = fixture();
        let (head, caveats, tail) = (
            *grant.api_key.head(),
            grant.caveats().to_vec(),
            *grant.api_key.tail(),
        );
        let rebuilt = |caveats: Vec<Caveat>| {
            let key = ApiKey::from_parts(head, caveats, tail).unwrap();
            let g = Grant::from_parts(grant.project, key, grant.root_key.clone()).unwrap();
            // Well-formed with a valid checksum: only the MAC can refuse it.
            Grant::parse(&g.encode()).unwrap()
        };
        assert_eq!(rebuilt(caveats.clone()).verify(&secret), Ok(()));
        for i in 0..caveats.len() {
            let mut fewer = caveats.clone();
            fewer.remove(i);
            assert_eq!(
                rebuilt(fewer).verify(&secret),
                Err(GrantError::BadMac),
                "removed {i}"
            );
        }
        for n in 0..caveats.len() {
            let cut = caveats[..n].to_vec();
            assert_eq!(
                rebuilt(cut).verify(&secret),
                Err(GrantError::BadMac),
                "first {n}"
            );
        }
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let mut swapped = caveats.clone();
            swapped.swap(a, b);
            assert_eq!(
                rebuilt(swapped).verify(&secret),
                Err(GrantError::BadMac),
                "{a}<->{b}"
            );
        }
        let rotated = vec![caveats[1].clone(), caveats[2].clone(), caveats[0].clone()];
        assert_eq!(rebuilt(rotated).verify(&secret), Err(GrantError::BadMac));
        // Widening a caveat in place is refused too.
        let mut wider = caveats.clone();
        wider[0].actions = Some(ActionSet::ALL);
        assert_eq!(rebuilt(wider).verify(&secret), Err(GrantError::BadMac));

        // Every truncation of the bytes or of the text is refused.
        let bytes = grant.to_bytes();
        for n in 0..bytes.len() {
            assert!(Grant::from_bytes(&bytes[..n]).is_err(), "{n} bytes");
        }
        let text = grant.encode();
        for n in 0..text.len() {
            assert!(Grant::parse(&text[..n]).is_err(), "{n} characters");
        }
    }

    #[test]
    fn refusals() {
        let Fixture { grant, .. } = fixture();
        let bytes = grant.to_bytes().to_vec();
        let body = bytes[..bytes.len() - CHECKSUM_BYTES].to_vec();
        let cases: Vec<(Vec<u8>, GrantError)> = vec![
            (vec![], GrantError::malformed(0, "empty")),
            (vec![2; 200], GrantError::Version(2)),
            (vec![1; 20], GrantError::malformed(20, "truncated")),
            (
                vec![1; GRANT_BYTES_MAX + 1],
                GrantError::TooLong {
                    len_bytes: GRANT_BYTES_MAX + 1,
                },
            ),
            ([&body[..], &[0]].concat(), GrantError::Checksum),
            (
                with_checksum([&body[..], &[0]].concat()),
                GrantError::malformed(body.len(), "trailing bytes"),
            ),
            (
                with_checksum({
                    let mut b = body.clone();
                    b[81] = 33;
                    b
                }),
                GrantError::TooManyCaveats,
            ),
            (
                with_checksum({
                    let mut b = body.clone();
                    b[81] = 0;
                    b
                }),
                GrantError::malformed(82 + 32, "trailing bytes"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Grant::from_bytes(&input).unwrap_err(), expected);
        }
        let text_cases: &[(&str, GrantError)] = &[
            ("", GrantError::Prefix),
            ("RGG_AQ", GrantError::Prefix),
            ("rgg_A", GrantError::Base64),
            ("rgg_AQ==", GrantError::Base64),
            ("rgg_AR", GrantError::Base64),
            ("rgg_a+b/", GrantError::Base64),
            ("rgg_", GrantError::malformed(0, "empty")),
            ("rgg_Ag", GrantError::Version(2)),
        ];
        for (input, expected) in text_cases {
            assert_eq!(Grant::parse(input).unwrap_err(), *expected, "{input}");
        }
        let huge = format!("rgg_{}", "A".repeat(100_000));
        assert!(matches!(
            Grant::parse(&huge),
            Err(GrantError::TooLong { .. })
        ));
    }

    #[test]
    fn limits() {
        let secret = ProjectSecret::random(&mut Os);
        let mut grant = Grant::issue([1; 16], &secret, RootKey::random(&mut Os), &mut Os);
        let pairs = |n: usize| {
            (0..n).fold(Caveat::default(), |c, i| {
                c.allow_path("abc", format!("{i:04}").repeat(256))
            })
        };
        // 64 pairs of 1024-byte prefixes: about 70 KB, over a caveat's 64 KiB.
        assert_eq!(
            grant.restrict(pairs(64)).unwrap_err(),
            GrantError::InvalidCaveat("a caveat is longer than 65535 bytes")
        );
        // Two caveats of 40 pairs each: over the grant's 64 KiB.
        grant = grant.restrict(pairs(40)).unwrap();
        assert!(matches!(
            grant.restrict(pairs(40)),
            Err(GrantError::TooLong { .. })
        ));
        for i in 1..32 {
            grant = grant.restrict(Caveat::default().not_after(i)).unwrap();
        }
        assert_eq!(
            grant.restrict(Caveat::default().not_after(0)),
            Err(GrantError::TooManyCaveats)
        );
        let text = grant.encode();
        assert_eq!(Grant::parse(&text).unwrap(), grant);
        assert_eq!(grant.verify(&secret), Ok(()));
        assert_eq!(
            grant
                .restrict(Caveat::default().allow_path("A-B", ""))
                .unwrap_err(),
            GrantError::TooManyCaveats
        );
        let fresh = Grant::issue([1; 16], &secret, RootKey::random(&mut Os), &mut Os);
        assert_eq!(
            fresh
                .restrict(Caveat::default().allow_path("A-B", ""))
                .unwrap_err(),
            GrantError::InvalidCaveat("a bucket name holds a byte other than a-z, 0-9, '.' or '-'")
        );
    }

    #[test]
    fn describes() {
        let Fixture { grant, .. } = fixture();
        let expected = format!(
            "project     42424242424242424242424242424242\n\
             head id     {} (revoking it revokes every grant derived from this key)\n\
             caveat 1    operations read, write, list; paths photos/\"2024/\"*, photos/\"2025/\"*, logs/*\n\
             caveat 2    not before 1970-01-01T00:16:40Z; not after 1970-01-01T00:33:20Z\n\
             caveat 3    paths photos/\"2024/jan/\"*; not after 1970-01-01T00:25:00Z\n\
             operations  read, write, list\n\
             paths       photos/\"2024/jan/\"*\n\
             valid       from 1970-01-01T00:16:40Z until 1970-01-01T00:25:00Z\n\
             privileges  none",
            grant.head_id()
        );
        assert_eq!(grant.describe(), expected);
    }

    fn arb_caveat() -> impl Strategy<Value = Caveat> {
        let rule = ("[a-z0-9.-]{3,12}", "\\PC{0,12}").prop_map(|(b, p)| PathRule::new(b, p));
        (
            prop::option::of((0u8..16).prop_map(|b| ActionSet::from_bits(b).unwrap())),
            prop::option::of(prop::collection::vec(rule, 0..5)),
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
            any::<bool>(),
        )
            .prop_map(|(actions, paths, not_before, not_after, keep)| Caveat {
                actions,
                paths,
                not_before,
                not_after,
                keeps: if keep {
                    Privileges::ALL
                } else {
                    Privileges::NONE
                },
            })
            .prop_filter("a caveat restricts something", |c| !c.is_empty())
    }

    fn arb_grant() -> impl Strategy<Value = (Grant, ProjectSecret)> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            prop::collection::vec(arb_caveat(), 0..6),
        )
            .prop_map(|(project, secret, root, caveats)| {
                let secret = ProjectSecret::from_bytes(secret);
                let grant = caveats.into_iter().fold(
                    Grant::issue(project, &secret, RootKey::from_bytes(root), &mut Os),
                    |g, c| g.restrict(c).unwrap(),
                );
                (grant, secret)
            })
    }

    proptest! {
        #[test]
        fn parse_encode_is_identity((grant, secret) in arb_grant()) {
            let parsed = Grant::parse(&grant.encode()).unwrap();
            prop_assert_eq!(&parsed, &grant);
            prop_assert_eq!(parsed.verify(&secret), Ok(()));
            prop_assert_eq!(Grant::from_bytes(&grant.to_bytes()).unwrap(), grant);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = Grant::from_bytes(&bytes);
            let mut versioned = bytes.clone();
            if let Some(b) = versioned.first_mut() { *b = 1; }
            let _ = Grant::from_bytes(&with_checksum(versioned));
            let _ = ApiKey::from_bytes(&bytes);
            let _ = Caveat::from_bytes(&bytes);
            let _ = Grant::parse(&format!("rgg_{}", BASE64.encode(&bytes)));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}", base in "rgg_[A-Za-z0-9_=-]{0,200}") {
            let _ = Grant::parse(&text);
            let _ = Grant::parse(&base);
        }

        /// Random edits of a real grant, checksum made right: refused or, if
        /// they parse, refused by the MAC.
        #[test]
        fn mutated_grants_are_refused(
            (grant, secret) in arb_grant(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
        ) {
            let bytes = grant.to_bytes();
            let original = &bytes[..bytes.len() - CHECKSUM_BYTES];
            let mut body = original.to_vec();
            for (index, x) in edits {
                let i = index.index(body.len());
                body[i] ^= x;
            }
            prop_assume!(body != original);
            prop_assert!(!accepted(&with_checksum(body), &secret));
        }
    }
}
