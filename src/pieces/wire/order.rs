//! Signed orders: the authorisation every node request carries, in the spirit
//! of Storj's order limits. Pure code (the clock is an argument), shared by the
//! node, which verifies, and `RemoteStore`, which signs.
//!
//! Keys. The gateways hold the cluster key; a node holds only its *node
//! key*, HMAC-SHA256(cluster key, "ringgate node key v1\0" ‖ node name),
//! issued by `ringgate node-key NAME`. The name is how gateways know the node
//! (its address, or the `NAME=` of `--node NAME=ADDR`). So a node verifies
//! orders but cannot make them for any other node: one compromised node opens
//! no other. A gateway proves nothing to a node beyond its orders; a node
//! proves its name to the gateway in its HELLO, with a MAC under its node key
//! over the gateway's CHALLENGE, so an impostor at a node's address (which
//! could relay a real node's HELLO) is refused before any order is signed.
//!
//! An order names one operation on one piece, an expiry and a random serial,
//! and is MACed with HMAC-SHA256 under the target node's key, over the order
//! *and the connection nonce* the node sent in its HELLO. That binding is the replay
//! design: an order is worthless on any other connection, so it cannot be
//! replayed to another core (or another node, or after a reconnect) and no
//! state is shared between cores. On its own connection a node remembers the
//! serials of mutating orders (put, delete) until they expire, in a bounded set
//! (`ReplayGuard`) that dies with the connection. Reads (get, stat, list, ping)
//! are not tracked: replaying one changes nothing, and doing it at all needs an
//! attacker who can inject into a live TCP stream, who could as well corrupt
//! DATA frames (which only the pieces' own CRCs and AES-GCM tags protect).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::pieces::format::{PieceId, SegmentId};
use crate::pipeline::random::Entropy;

type HmacSha256 = Hmac<Sha256>;

pub const ORDER_VERSION: u8 = 1;
/// An order's signed body.
pub const ORDER_BODY_BYTES: usize = 56;
pub const ORDER_MAC_BYTES: usize = 32;
/// An order on the wire: body, then MAC.
pub const ORDER_BYTES: usize = ORDER_BODY_BYTES + ORDER_MAC_BYTES;
pub const SERIAL_BYTES: usize = 16;
pub const CLUSTER_KEY_BYTES: usize = 32;
/// Domain separation: a node key MACs nothing else under these prefixes.
const MAC_CONTEXT: &[u8] = b"ringgate node order v2\0";
const HELLO_CONTEXT: &[u8] = b"ringgate node hello v2\0";
/// What the cluster key MACs to make a node key.
const NODE_KEY_CONTEXT: &[u8] = b"ringgate node key v1\0";
/// The longest node name (printable ASCII, no white space).
pub const NODE_NAME_BYTES_MAX: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PieceOperation {
    Put = 1,
    Get = 2,
    Delete = 3,
    Stat = 4,
    List = 5,
    Ping = 6,
}

impl PieceOperation {
    pub const ALL: [PieceOperation; 6] = [
        PieceOperation::Put,
        PieceOperation::Get,
        PieceOperation::Delete,
        PieceOperation::Stat,
        PieceOperation::List,
        PieceOperation::Ping,
    ];

    pub fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|op| *op as u8 == byte)
    }

    /// Operations with an effect a replay could repeat: a replayed put could
    /// overwrite a piece with other bytes, a replayed delete could remove a
    /// piece that repair wrote again under the same id.
    pub fn is_replay_protected(self) -> bool {
        matches!(self, PieceOperation::Put | PieceOperation::Delete)
    }
}

/// The per-connection random value a node sends in HELLO; orders on that
/// connection are signed over it.
pub const NONCE_BYTES: usize = 16;

/// The all-zero piece id that list and ping orders name (they concern the node).
pub const NODE_SCOPE: PieceId = PieceId {
    segment: SegmentId([0; 16]),
    piece: 0,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub operation: PieceOperation,
    pub piece: PieceId,
    /// Unix seconds, in the node's clock, after which the order is refused.
    pub not_after: u64,
    pub serial: [u8; SERIAL_BYTES],
}

impl Order {
    /// An order with a fresh random serial from `entropy`.
    pub fn new(
        operation: PieceOperation,
        piece: PieceId,
        not_after: u64,
        entropy: &mut impl Entropy,
    ) -> Self {
        Self {
            operation,
            piece,
            not_after,
            serial: entropy.array(),
        }
    }

    pub fn encode_body(&self) -> [u8; ORDER_BODY_BYTES] {
        let mut b = [0u8; ORDER_BODY_BYTES];
        b[0] = ORDER_VERSION;
        b[1] = self.operation as u8;
        b[8..24].copy_from_slice(&self.piece.segment.0);
        b[24..26].copy_from_slice(&self.piece.piece.to_le_bytes());
        b[32..40].copy_from_slice(&self.not_after.to_le_bytes());
        b[40..56].copy_from_slice(&self.serial);
        b
    }

    fn parse_body(b: &[u8; ORDER_BODY_BYTES]) -> Result<Self, OrderError> {
        if b[0] != ORDER_VERSION {
            return Err(OrderError::Format("version"));
        }
        let operation = PieceOperation::from_byte(b[1]).ok_or(OrderError::Format("operation"))?;
        if b[2..8].iter().chain(&b[26..32]).any(|&x| x != 0) {
            return Err(OrderError::Format("reserved"));
        }
        Ok(Self {
            operation,
            piece: PieceId {
                segment: SegmentId(b[8..24].try_into().expect("16 bytes")),
                piece: u16::from_le_bytes([b[24], b[25]]),
            },
            not_after: u64::from_le_bytes(b[32..40].try_into().expect("8 bytes")),
            serial: b[40..56].try_into().expect("16 bytes"),
        })
    }
}

/// An order and its MAC, as it travels. Parsing checks the structure only;
/// `ClusterKey::verify` checks the MAC, the operation and the expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedOrder {
    pub order: Order,
    pub mac: [u8; ORDER_MAC_BYTES],
}

impl SignedOrder {
    pub fn encode(&self) -> [u8; ORDER_BYTES] {
        let mut out = [0u8; ORDER_BYTES];
        out[..ORDER_BODY_BYTES].copy_from_slice(&self.order.encode_body());
        out[ORDER_BODY_BYTES..].copy_from_slice(&self.mac);
        out
    }

    /// Parses exactly `ORDER_BYTES` bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, OrderError> {
        let bytes: &[u8; ORDER_BYTES] =
            bytes.try_into().map_err(|_| OrderError::Format("length"))?;
        let body: &[u8; ORDER_BODY_BYTES] = bytes[..ORDER_BODY_BYTES].try_into().expect("56 bytes");
        Ok(Self {
            order: Order::parse_body(body)?,
            mac: bytes[ORDER_BODY_BYTES..].try_into().expect("32 bytes"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("order has an invalid {0}")]
    Format(&'static str),
    /// Wrong key, altered bytes, or an order signed for another connection:
    /// indistinguishable by design.
    #[error("order signature does not verify")]
    Unauthorized,
    #[error("order is for {got:?}, not {expected:?}")]
    WrongOperation {
        expected: PieceOperation,
        got: PieceOperation,
    },
    #[error("order expired at {not_after} (now {now})")]
    Expired { not_after: u64, now: u64 },
    #[error("order expires at {not_after}, further ahead than allowed (now {now})")]
    TooFarAhead { not_after: u64, now: u64 },
    #[error("order serial was already used")]
    Replayed,
    #[error("too many unexpired orders on this connection")]
    ReplaySetFull,
}

/// How a node judges expiries.
#[derive(Clone, Copy, Debug)]
pub struct OrderRules {
    /// Accepted past `not_after`, for clocks that disagree.
    pub skew_secs: u64,
    /// The furthest ahead a `not_after` may lie: bounds how long a serial must
    /// be remembered, and so the replay set.
    pub ttl_secs_max: u64,
}

impl Default for OrderRules {
    fn default() -> Self {
        Self {
            skew_secs: 30,
            ttl_secs_max: 600,
        }
    }
}

/// The 256-bit key shared by gateways and nodes; wiped when dropped. On disk
/// it is 64 hex digits (and optional surrounding white space).
#[derive(Clone)]
pub struct ClusterKey(Zeroizing<[u8; CLUSTER_KEY_BYTES]>);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

impl ClusterKey {
    pub fn generate(entropy: &mut impl Entropy) -> Self {
        let mut key = Zeroizing::new([0u8; CLUSTER_KEY_BYTES]);
        entropy.fill(&mut *key);
        Self(key)
    }

    pub fn from_bytes(bytes: [u8; CLUSTER_KEY_BYTES]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() != 2 * CLUSTER_KEY_BYTES {
            return None;
        }
        let mut key = Zeroizing::new([0u8; CLUSTER_KEY_BYTES]);
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(key))
    }

    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(crate::pipeline::checksum::hex(&*self.0))
    }

    /// The key of the node gateways know as `name`.
    pub fn node_key(&self, name: &str) -> NodeKey {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&*self.0).expect("any key length");
        mac.update(NODE_KEY_CONTEXT);
        mac.update(name.as_bytes());
        NodeKey {
            name: name.to_string(),
            key: Zeroizing::new(mac.finalize().into_bytes().into()),
        }
    }
}

/// Whether `name` can name a node: 1 to [`NODE_NAME_BYTES_MAX`] printable
/// ASCII characters, no white space.
pub fn is_node_name(name: &str) -> bool {
    (1..=NODE_NAME_BYTES_MAX).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

/// One node's key and the name it was issued for (see the module
/// documentation); wiped when dropped. On disk: `NAME HEX`.
#[derive(Clone)]
pub struct NodeKey {
    name: String,
    key: Zeroizing<[u8; CLUSTER_KEY_BYTES]>,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey({}, ..)", self.name)
    }
}

impl NodeKey {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file form: the name, a space, 64 hex digits, a newline.
    pub fn to_line(&self) -> Zeroizing<String> {
        let hex = Zeroizing::new(crate::pipeline::checksum::hex(&*self.key));
        Zeroizing::new(format!("{} {}\n", self.name, hex.as_str()))
    }

    /// Parses [`Self::to_line`]'s form (surrounding white space allowed).
    pub fn parse_line(text: &str) -> Option<Self> {
        let (name, hex) = text.trim().split_once(' ')?;
        if !is_node_name(name) {
            return None;
        }
        let key = ClusterKey::from_hex(hex)?;
        Some(Self {
            name: name.to_string(),
            key: key.0,
        })
    }

    fn keyed(&self, context: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&*self.key).expect("any key length");
        mac.update(context);
        mac
    }

    fn hello_mac(
        &self,
        challenge: &[u8; NONCE_BYTES],
        nonce: &[u8; NONCE_BYTES],
        node_time_secs: u64,
    ) -> HmacSha256 {
        let mut mac = self.keyed(HELLO_CONTEXT);
        mac.update(challenge);
        mac.update(nonce);
        mac.update(&node_time_secs.to_le_bytes());
        mac
    }

    /// What a node answers the gateway's CHALLENGE with, in its HELLO.
    pub fn hello_proof(
        &self,
        challenge: &[u8; NONCE_BYTES],
        nonce: &[u8; NONCE_BYTES],
        node_time_secs: u64,
    ) -> [u8; ORDER_MAC_BYTES] {
        let mac = self.hello_mac(challenge, nonce, node_time_secs);
        mac.finalize().into_bytes().into()
    }

    /// Checks a HELLO's proof (in constant time).
    pub fn verify_hello(
        &self,
        challenge: &[u8; NONCE_BYTES],
        nonce: &[u8; NONCE_BYTES],
        node_time_secs: u64,
        proof: &[u8; ORDER_MAC_BYTES],
    ) -> bool {
        let mac = self.hello_mac(challenge, nonce, node_time_secs);
        mac.verify_slice(proof).is_ok()
    }

    fn mac(&self, body: &[u8; ORDER_BODY_BYTES], binding: &[u8; NONCE_BYTES]) -> HmacSha256 {
        let mut mac = self.keyed(MAC_CONTEXT);
        mac.update(binding);
        mac.update(body);
        mac
    }

    /// Signs `order` for the connection whose HELLO carried `binding`.
    pub fn sign(&self, order: Order, binding: &[u8; NONCE_BYTES]) -> SignedOrder {
        let mac = self
            .mac(&order.encode_body(), binding)
            .finalize()
            .into_bytes();
        SignedOrder {
            order,
            mac: mac.into(),
        }
    }

    /// Checks the MAC (in constant time), then the operation and the expiry.
    /// Replays are the caller's `ReplayGuard`'s to refuse.
    pub fn verify<'a>(
        &self,
        signed: &'a SignedOrder,
        binding: &[u8; NONCE_BYTES],
        expected: PieceOperation,
        now_secs: u64,
        rules: &OrderRules,
    ) -> Result<&'a Order, OrderError> {
        self.mac(&signed.order.encode_body(), binding)
            .verify_slice(&signed.mac)
            .map_err(|_| OrderError::Unauthorized)?;
        let order = &signed.order;
        if order.operation != expected {
            return Err(OrderError::WrongOperation {
                expected,
                got: order.operation,
            });
        }
        if order.not_after.saturating_add(rules.skew_secs) < now_secs {
            return Err(OrderError::Expired {
                not_after: order.not_after,
                now: now_secs,
            });
        }
        if order.not_after > now_secs.saturating_add(rules.ttl_secs_max + rules.skew_secs) {
            return Err(OrderError::TooFarAhead {
                not_after: order.not_after,
                now: now_secs,
            });
        }
        Ok(order)
    }
}

/// The serials of one connection's unexpired mutating orders. Bounded: when
/// full, new mutating orders are refused (never admitted by forgetting an
/// unexpired serial) and the node closes the connection, so a client simply
/// reconnects with a fresh, empty set.
#[derive(Debug)]
pub struct ReplayGuard {
    seen: HashSet<[u8; SERIAL_BYTES]>,
    /// (forget after, serial), soonest first.
    expiries: BinaryHeap<Reverse<(u64, [u8; SERIAL_BYTES])>>,
    capacity: usize,
}

impl ReplayGuard {
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: HashSet::new(),
            expiries: BinaryHeap::new(),
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Admits a verified order once. Orders of operations that are not replay
    /// protected pass without being remembered.
    pub fn admit(
        &mut self,
        order: &Order,
        now_secs: u64,
        rules: &OrderRules,
    ) -> Result<(), OrderError> {
        if !order.operation.is_replay_protected() {
            return Ok(());
        }
        // A serial can be forgotten once `verify` would refuse its order anyway.
        while let Some(Reverse((forget_after, serial))) = self.expiries.peek().copied() {
            if forget_after >= now_secs {
                break;
            }
            self.expiries.pop();
            self.seen.remove(&serial);
        }
        if self.seen.contains(&order.serial) {
            return Err(OrderError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(OrderError::ReplaySetFull);
        }
        self.seen.insert(order.serial);
        self.expiries.push(Reverse((
            order.not_after.saturating_add(rules.skew_secs),
            order.serial,
        )));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::random::Seeded;

    const NOW: u64 = 1_700_000_000;
    const BINDING: [u8; NONCE_BYTES] = [7; NONCE_BYTES];

    fn piece() -> PieceId {
        PieceId {
            segment: SegmentId([0x5a; 16]),
            piece: 3,
        }
    }

    #[test]
    fn every_altered_bit_is_refused() {
        let entropy = &mut Seeded::new(1);
        let key = ClusterKey::generate(entropy).node_key("10.0.0.5:7070");
        let rules = OrderRules::default();
        let signed = key.sign(
            Order::new(PieceOperation::Put, piece(), NOW + 60, entropy),
            &BINDING,
        );
        let bytes = signed.encode();
        assert_eq!(SignedOrder::parse(&bytes), Ok(signed));
        for bit in 0..ORDER_BYTES * 8 {
            let mut altered = bytes;
            altered[bit / 8] ^= 1 << (bit % 8);
            match SignedOrder::parse(&altered) {
                Err(OrderError::Format(_)) => {}
                Err(other) => panic!("bit {bit}: {other}"),
                Ok(parsed) => assert!(
                    key.verify(&parsed, &BINDING, PieceOperation::Put, NOW, &rules)
                        .is_err(),
                    "bit {bit} flipped and still accepted"
                ),
            }
        }
    }

    /// Issue 15, findings 4 and 5: a node's key signs nothing another node
    /// accepts, and a HELLO proves the name the gateway dialled.
    #[test]
    fn node_keys_bind_orders_and_hellos_to_one_node() {
        let entropy = &mut Seeded::new(3);
        let cluster = ClusterKey::generate(entropy);
        let (a, b) = (cluster.node_key("node-a"), cluster.node_key("node-b"));
        let rules = OrderRules::default();
        let order = Order::new(PieceOperation::Delete, piece(), NOW + 60, entropy);
        let for_a = a.sign(order, &BINDING);
        assert!(a
            .verify(&for_a, &BINDING, PieceOperation::Delete, NOW, &rules)
            .is_ok());
        // Node a's key (all a compromised node a holds) or an order for a
        // relayed onto b's connection: b refuses both.
        assert_eq!(
            b.verify(&for_a, &BINDING, PieceOperation::Delete, NOW, &rules),
            Err(OrderError::Unauthorized)
        );
        let challenge = [1; NONCE_BYTES];
        let proof = b.hello_proof(&challenge, &BINDING, NOW);
        assert!(b.verify_hello(&challenge, &BINDING, NOW, &proof));
        assert!(!a.verify_hello(&challenge, &BINDING, NOW, &proof));
        assert!(!b.verify_hello(&[2; NONCE_BYTES], &BINDING, NOW, &proof));
        assert!(!b.verify_hello(&challenge, &BINDING, NOW + 1, &proof));
        // The file form round-trips; the key is what the cluster key derives.
        let line = a.to_line();
        let parsed = NodeKey::parse_line(&line).unwrap();
        assert_eq!(parsed.name(), "node-a");
        assert_eq!(*parsed.key, *a.key);
        assert!(NodeKey::parse_line("node-a").is_none());
        assert!(NodeKey::parse_line(&format!("a b {}", "00".repeat(32))).is_none());
        assert!(!format!("{a:?}").contains(&crate::pipeline::checksum::hex(&*a.key)));
    }

    #[test]
    fn replay_guard_forgets_only_expired_serials() {
        let rules = OrderRules {
            skew_secs: 10,
            ttl_secs_max: 100,
        };
        let mut guard = ReplayGuard::new(2);
        let entropy = &mut Seeded::new(2);
        let a = Order::new(PieceOperation::Delete, piece(), NOW + 5, entropy);
        let b = Order::new(PieceOperation::Put, piece(), NOW + 50, entropy);
        let c = Order::new(PieceOperation::Put, piece(), NOW + 50, entropy);
        assert_eq!(guard.admit(&a, NOW, &rules), Ok(()));
        assert_eq!(guard.admit(&a, NOW, &rules), Err(OrderError::Replayed));
        assert_eq!(guard.admit(&b, NOW, &rules), Ok(()));
        assert_eq!(guard.admit(&c, NOW, &rules), Err(OrderError::ReplaySetFull));
        // Reads are never remembered, so they never fill the set.
        let read = Order::new(PieceOperation::Get, piece(), NOW + 5, entropy);
        assert_eq!(guard.admit(&read, NOW, &rules), Ok(()));
        assert_eq!(guard.admit(&read, NOW, &rules), Ok(()));
        // `a` is remembered through its skew, then forgotten.
        assert_eq!(guard.admit(&a, NOW + 15, &rules), Err(OrderError::Replayed));
        assert_eq!(guard.admit(&c, NOW + 16, &rules), Ok(()));
        assert_eq!(guard.len(), 2);
    }
}
