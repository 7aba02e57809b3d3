//! The node protocol, both sides of it: `protocol` (the frames, pure),
//! `order` (the signed authorisations, pure), `conn` (frames over glommio
//! sockets), `key_file` (the cluster and node keys on disk). `RemoteStore` speaks it as a client and `ringgate node` as the
//! server. The wire format is an API boundary, versioned below.
//!
//! # Wire format, version 2
//!
//! TCP. The client sends CHALLENGE, the node answers HELLO (proving its node
//! key over the challenge); then the client sends one request at a time and
//! reads its whole response before sending the next (connections are reused,
//! never multiplexed). All integers are little endian.
//!
//! ```text
//! frame    0  1  version = 2         1  1  type
//!          2  2  reserved, zero      4  4  payload length (checked against the type below
//!          8  n  payload                   before a payload byte is read)
//!
//! type  name    from    payload                                              bytes
//! 0x01  HELLO   node    nonce (16) ‖ node clock, unix seconds (8) ‖ proof (32)  56
//! 0x02  CHALLENGE client random (16)                                         16
//! 0x10  PUT     client  order (88)                                           88
//! 0x11  DATA    both    piece bytes                                          1..=1 MiB
//! 0x12  COMMIT  client  total DATA bytes sent (8)                            8
//! 0x13  ABORT   client  -                                                    0
//! 0x20  GET     client  order (88) ‖ range start (8) ‖ range end (8)         104
//! 0x30  DELETE  client  order (88)                                           88
//! 0x40  STAT    client  order (88)                                           88
//! 0x50  LIST    client  order (88) ‖ has cursor (1) ‖ cursor id (18) ‖ limit (4)   111
//! 0x60  PING    client  order (88)                                           88
//! 0x80  OK      node    -                                                    0
//! 0x81  READY   node    -                                                    0
//! 0x82  READ    node    range length (8)                                     8
//! 0x83  STATED  node    present (1) ‖ piece length (8)                       9
//! 0x84  PAGE    node    more (1) ‖ count (4) ‖ count × piece id (18)         5..=65525
//! 0x85  PONG    node    free (8) ‖ capacity (8) ‖ pieces (8) ‖ uptime s (8)
//!                       ‖ cores (4) ‖ reserved (4)                           40
//! 0xee  ERROR   node    code (1) ‖ reserved (7) ‖ detail (8) ‖ UTF-8 message 16..=1040
//! piece id = segment id (16) ‖ piece index (2); absent fields and flags are zero
//!
//! put     PUT → READY | ERROR, then DATA*, then COMMIT → OK | ERROR (or ABORT → OK)
//! get     GET → READ(n), then DATA frames totalling n (an ERROR may take the
//!         place of any of them) | ERROR
//! delete  DELETE → OK | ERROR       stat  STAT → STATED | ERROR
//! list    LIST → PAGE | ERROR, repeated with cursor = last id while more = 1
//! ping    PING → PONG | ERROR
//!
//! order   0  1  order version = 1     1  1  operation: 1 put 2 get 3 delete 4 stat 5 list 6 ping
//!         2  6  reserved, zero        8 16  segment id (zero for list, ping)
//!        24  2  piece index (LE)     26  6  reserved, zero
//!        32  8  not_after, unix seconds in the node's clock (LE)
//!        40 16  serial, random
//!        56 32  HMAC-SHA256(node key, "ringgate node order v2\0" ‖ HELLO nonce ‖ bytes 0..56)
//!
//! node key = HMAC-SHA256(cluster key, "ringgate node key v1\0" ‖ node name)
//! proof    = HMAC-SHA256(node key, "ringgate node hello v2\0" ‖ challenge ‖ nonce ‖ node clock (8))
//!
//! error codes  1 malformed  2 unexpected  3 unauthorized  4 expired  5 replayed
//!              6 busy  7 shutting down  8 not found  9 out of range (detail = piece length)
//!              10 length mismatch (detail = bytes received)  11 i/o
//! ```
//!
//! Robustness rules. A frame that does not parse (version, type, reserved
//! bytes, a length outside its type's bounds, a bad field) or that is not what
//! the node expects next is answered with ERROR and the connection closed; so
//! is an order that fails verification. After `not found`, `out of range`,
//! `length mismatch` and `i/o` the connection stays in step and is reused. A
//! put that ends any other way than COMMIT with the right byte count (EOF, a
//! timeout, a bad frame, ABORT) aborts the node's writer: its temporary file
//! goes, nothing becomes visible. A put whose store write fails mid-stream is
//! drained to its COMMIT and answered there, so the connection survives.
//! Frames carry no checksum: pieces carry a CRC32C per share and every stripe
//! is authenticated by AES-GCM end to end, and nodes never see keys or plaintext.
//!
//! Versioning. Every frame carries the version; a node refuses frames of
//! another version (ERROR `malformed`), and a client learns the node's version
//! from its HELLO. Version 1 (nodes holding the cluster key itself, HELLO
//! unprompted and unproven) is not spoken any more: upgrade nodes, with their
//! node keys, and gateways together. A new version may add frame types
//! and error codes; clients treat unknown error codes as plain failures.
//!
//! Authorisation and replays: see `order`.

pub mod conn;
pub mod key_file;
pub mod order;
pub mod protocol;

pub use order::{ClusterKey, NodeKey, Order, OrderRules, PieceOperation, SignedOrder};
pub use protocol::NodeHealth;
