//! The API key: a macaroon. A random head; a tail that only the server can
//! start (an HMAC under the project's secret) and anyone holding the key can
//! extend, one HMAC per caveat, so a key is restricted offline and never
//! widened (undoing a step means inverting HMAC-SHA256):
//!
//! ```text
//! tail₀   = HMAC-SHA256(project secret, "ringgate api key v1\0" ‖ project (16)
//!                                        ‖ root key check (32) ‖ head (32))
//! tailᵢ₊₁ = HMAC-SHA256(tailᵢ, caveat bytesᵢ)
//! root key check = SHA-256("ringgate root key check v1\0" ‖ root key)
//! ```
//!
//! The first step binds the key to its project and to the root key the grant
//! carries, so a grant whose project id or root key was changed (by a typo or
//! on purpose) fails to verify instead of writing objects under a key nobody
//! else holds. The server verifies by recomputing the chain from the head and
//! comparing tails in constant time.
//!
//! Revocation is by head: every key derived from a head shares it, and
//! [`HeadId`] names it in a short printable form.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::caveat::{Caveat, Reader, CAVEATS_MAX};
use super::error::GrantError;
use crate::pipeline::crypto::RootKey;
use crate::pipeline::random::Entropy;

type HmacSha256 = Hmac<Sha256>;

pub const HEAD_BYTES: usize = 32;
pub const TAIL_BYTES: usize = 32;
const KEY_DOMAIN: &[u8] = b"ringgate api key v1\0";
const ROOT_CHECK_DOMAIN: &[u8] = b"ringgate root key check v1\0";
const HEAD_ID_DOMAIN: &[u8] = b"ringgate head id v1\0";

/// The per-project macaroon secret the server keeps; wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ProjectSecret([u8; 32]);

impl ProjectSecret {
    pub fn random(entropy: &mut impl Entropy) -> Self {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes);
        Self(bytes)
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ProjectSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProjectSecret(..)")
    }
}

/// Names an API key head for revocation: the first 16 bytes of
/// SHA-256("ringgate head id v1\0" ‖ head), shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeadId(pub [u8; 16]);

impl HeadId {
    pub fn of(head: &[u8; HEAD_BYTES]) -> Self {
        let digest = Sha256::new()
            .chain_update(HEAD_ID_DOMAIN)
            .chain_update(head)
            .finalize();
        Self(digest[..16].try_into().expect("length"))
    }
}

impl std::fmt::Display for HeadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::pipeline::checksum::hex(&self.0))
    }
}

impl std::fmt::Debug for HeadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeadId({self})")
    }
}

impl std::str::FromStr for HeadId {
    type Err = GrantError;
    /// 32 hex digits, either case.
    fn from_str(s: &str) -> Result<Self, GrantError> {
        let bad = GrantError::HeadId;
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad);
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad.clone())?;
        }
        Ok(Self(id))
    }
}

/// A macaroon API key. Equality compares every byte and is for tests and
/// caches, not authentication: [`ApiKey::verify`] is the check.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    head: [u8; HEAD_BYTES],
    caveats: Vec<Caveat>,
    tail: [u8; TAIL_BYTES],
}

impl Drop for ApiKey {
    fn drop(&mut self) {
        self.tail.zeroize();
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("head_id", &self.head_id())
            .field("caveats", &self.caveats)
            .finish_non_exhaustive()
    }
}

fn root_key_check(root_key: &RootKey) -> [u8; 32] {
    Sha256::new()
        .chain_update(ROOT_CHECK_DOMAIN)
        .chain_update(root_key.expose())
        .finalize()
        .into()
}

/// The HMAC whose output is the tail, not yet finalized (so that `verify` can
/// compare in constant time with `verify_slice`).
fn last_step(
    secret: &ProjectSecret,
    project: &[u8; 16],
    root_key: &RootKey,
    head: &[u8; HEAD_BYTES],
    caveats: &[Caveat],
) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.expose()).expect("HMAC takes any key length");
    mac.update(KEY_DOMAIN);
    mac.update(project);
    mac.update(&root_key_check(root_key));
    mac.update(head);
    for caveat in caveats {
        let tail = Zeroizing::new(<[u8; TAIL_BYTES]>::from(mac.finalize().into_bytes()));
        mac = step(&tail, caveat);
    }
    mac
}

fn step(tail: &[u8; TAIL_BYTES], caveat: &Caveat) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(tail).expect("HMAC takes any key length");
    mac.update(&caveat.encode());
    mac
}

impl ApiKey {
    /// A new key for `project` with a random head and no caveats. The server
    /// does this: it needs the project secret.
    pub fn new(
        secret: &ProjectSecret,
        project: &[u8; 16],
        root_key: &RootKey,
        entropy: &mut impl Entropy,
    ) -> ApiKey {
        let head: [u8; HEAD_BYTES] = entropy.array();
        let tail = last_step(secret, project, root_key, &head, &[])
            .finalize()
            .into_bytes()
            .into();
        ApiKey {
            head,
            caveats: Vec::new(),
            tail,
        }
    }

    /// A key from its parts (as stored or parsed); it still has to verify.
    pub fn from_parts(
        head: [u8; HEAD_BYTES],
        caveats: Vec<Caveat>,
        tail: [u8; TAIL_BYTES],
    ) -> Result<ApiKey, GrantError> {
        if caveats.len() > CAVEATS_MAX {
            return Err(GrantError::TooManyCaveats);
        }
        caveats
            .iter()
            .try_for_each(Caveat::check)
            .map_err(GrantError::InvalidCaveat)?;
        Ok(ApiKey {
            head,
            caveats,
            tail,
        })
    }

    /// This key with one more caveat; needs no secret.
    pub fn restrict(&self, caveat: Caveat) -> Result<ApiKey, GrantError> {
        if self.caveats.len() >= CAVEATS_MAX {
            return Err(GrantError::TooManyCaveats);
        }
        caveat.check().map_err(GrantError::InvalidCaveat)?;
        let tail = step(&self.tail, &caveat).finalize().into_bytes().into();
        let mut caveats = self.caveats.clone();
        caveats.push(caveat);
        Ok(ApiKey {
            head: self.head,
            caveats,
            tail,
        })
    }

    /// Recomputes the chain from the head and compares tails in constant time.
    pub fn verify(
        &self,
        secret: &ProjectSecret,
        project: &[u8; 16],
        root_key: &RootKey,
    ) -> Result<(), GrantError> {
        last_step(secret, project, root_key, &self.head, &self.caveats)
            .verify_slice(&self.tail)
            .map_err(|_| GrantError::BadMac)
    }

    pub fn head(&self) -> &[u8; HEAD_BYTES] {
        &self.head
    }
    pub fn caveats(&self) -> &[Caveat] {
        &self.caveats
    }
    /// The bearer secret: whoever holds head, caveats and tail holds the key.
    pub fn tail(&self) -> &[u8; TAIL_BYTES] {
        &self.tail
    }

    /// The revocation id of this key's head, shared by every key derived from it.
    pub fn head_id(&self) -> HeadId {
        HeadId::of(&self.head)
    }

    /// The key's bytes (as inside a grant):
    /// head (32) ‖ caveat count (1) ‖ count × (length u16 LE ‖ caveat) ‖ tail (32).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_len()));
        self.write_to(&mut out);
        out
    }

    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        out.push(u8::try_from(self.caveats.len()).expect("at most 32 caveats"));
        for caveat in &self.caveats {
            let bytes = caveat.encode();
            let len = u16::try_from(bytes.len()).expect("a caveat is under 64 KiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        out.extend_from_slice(&self.tail);
    }

    pub fn encoded_len(&self) -> usize {
        HEAD_BYTES
            + 1
            + self
                .caveats
                .iter()
                .map(|c| 2 + c.encoded_len())
                .sum::<usize>()
            + TAIL_BYTES
    }

    /// Parses exactly [`ApiKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ApiKey, GrantError> {
        let mut r = Reader { bytes, pos: 0 };
        let key = Self::read(&mut r)?;
        if !r.done() {
            return Err(GrantError::malformed(r.pos, "trailing bytes"));
        }
        Ok(key)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<ApiKey, GrantError> {
        let at = |r: &Reader<'_>, reason| GrantError::malformed(r.pos, reason);
        let head = r.array::<HEAD_BYTES>().map_err(|e| at(r, e))?;
        let count = usize::from(r.u8().map_err(|e| at(r, e))?);
        if count > CAVEATS_MAX {
            return Err(GrantError::TooManyCaveats);
        }
        let mut caveats = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u16_le().map_err(|e| at(r, e))?);
            let start = r.pos;
            let bytes = r.take(len).map_err(|e| at(r, e))?;
            let caveat = Caveat::from_bytes(bytes).map_err(|e| GrantError::malformed(start, e))?;
            caveats.push(caveat);
        }
        let tail = r.array::<TAIL_BYTES>().map_err(|e| at(r, e))?;
        Ok(ApiKey {
            head,
            caveats,
            tail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::caveat::ActionSet;
    use crate::entropy::Os;

    #[test]
    fn chain_restricts_offline_and_verifies() {
        let secret = ProjectSecret::random(&mut Os);
        let root = RootKey::random(&mut Os);
        let project = [3u8; 16];
        let key = ApiKey::new(&secret, &project, &root, &mut Os);
        assert_eq!(key.verify(&secret, &project, &root), Ok(()));
        let read_only = Caveat::default().allow_actions(ActionSet::READ_ONLY);
        let narrower = key.restrict(read_only.clone()).unwrap();
        assert_eq!(narrower.verify(&secret, &project, &root), Ok(()));
        assert_eq!(narrower.head_id(), key.head_id());
        assert_ne!(narrower.tail(), key.tail());
        // Another secret, project or root key: refused.
        let other = ProjectSecret::random(&mut Os);
        assert_eq!(
            narrower.verify(&other, &project, &root),
            Err(GrantError::BadMac)
        );
        assert_eq!(
            narrower.verify(&secret, &[4; 16], &root),
            Err(GrantError::BadMac)
        );
        let other_root = RootKey::random(&mut Os);
        assert_eq!(
            narrower.verify(&secret, &project, &other_root),
            Err(GrantError::BadMac)
        );
        // Dropping the caveat but keeping the tail: refused.
        let stripped = ApiKey::from_parts(*narrower.head(), vec![], *narrower.tail()).unwrap();
        assert_eq!(
            stripped.verify(&secret, &project, &root),
            Err(GrantError::BadMac)
        );
        // The byte form round-trips exactly.
        let bytes = narrower.to_bytes();
        assert_eq!(bytes.len(), narrower.encoded_len());
        assert_eq!(ApiKey::from_bytes(&bytes).unwrap(), narrower);
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(ApiKey::from_bytes(&long).is_err());
    }

    #[test]
    fn limits() {
        let secret = ProjectSecret::random(&mut Os);
        let root = RootKey::random(&mut Os);
        let mut key = ApiKey::new(&secret, &[0; 16], &root, &mut Os);
        for i in 0..CAVEATS_MAX {
            key = key.restrict(Caveat::default().not_after(i as i64)).unwrap();
        }
        assert_eq!(
            key.restrict(Caveat::default().not_after(0)),
            Err(GrantError::TooManyCaveats)
        );
        assert_eq!(key.verify(&secret, &[0; 16], &root), Ok(()));
        assert_eq!(
            ApiKey::new(&secret, &[0; 16], &root, &mut Os).restrict(Caveat::default()),
            Err(GrantError::InvalidCaveat("a caveat restricts nothing"))
        );
    }

    #[test]
    fn head_ids() {
        let id = HeadId::of(&[0; 32]);
        let shown = id.to_string();
        assert_eq!(shown.len(), 32);
        assert_eq!(shown.parse::<HeadId>(), Ok(id));
        assert_eq!(shown.to_uppercase().parse::<HeadId>(), Ok(id));
        for bad in [
            "",
            "00",
            &"g".repeat(32),
            &"0".repeat(33),
            &"é".repeat(16),
            &"+f".repeat(16),
        ] {
            assert_eq!(bad.parse::<HeadId>(), Err(GrantError::HeadId), "{bad}");
        }
        assert_ne!(HeadId::of(&[1; 32]), id);
        assert!(!format!("{:?}", ProjectSecret::from_bytes([7; 32])).contains('7'));
    }
}
