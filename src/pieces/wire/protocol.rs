//! The node wire protocol, version 2: pure framing and encoding, no I/O. Both
//! the node server and `RemoteStore` speak it through these functions, so
//! every byte that crosses the network is parsed here, strictly, and no input
//! makes the decoder panic. An API boundary (format in `node/mod.rs`).
//!
//! A frame is an 8-byte header (version, type, two reserved zero bytes, payload
//! length) and its payload. Every frame type has a fixed payload size or a
//! narrow range, checked on the header alone, so an oversized frame is refused
//! before a byte of its payload is read. Encoding is canonical: a decoded frame
//! encodes back to exactly the bytes it came from (reserved bytes are zero,
//! flags are 0 or 1, absent fields are zero).

use std::ops::Range;

use super::order::{SignedOrder, NONCE_BYTES, ORDER_BYTES, ORDER_MAC_BYTES};
use crate::pieces::format::{PieceId, SegmentId};

/// The protocol version this build speaks, carried in every frame header.
pub const VERSION: u8 = 2;
pub const FRAME_HEADER_BYTES: usize = 8;
/// The largest DATA payload: a put streams its piece, a get returns its range,
/// in frames of at most this size.
pub const DATA_BYTES_MAX: usize = 1 << 20;
/// The largest payload of any frame a client sends other than DATA (requests
/// are fixed-size and small; this is the bound a node reads into its buffer).
pub const REQUEST_BYTES_MAX: usize = 4 << 10;
/// The largest payload of any frame a node sends other than DATA (a PAGE).
pub const RESPONSE_BYTES_MAX: usize = 64 << 10;
/// Bytes of one piece id on the wire: segment id, then the piece index (LE).
pub const PIECE_ID_BYTES: usize = 18;
const PAGE_FIXED_BYTES: usize = 5;
/// Piece ids in one PAGE, so that a PAGE fits in `RESPONSE_BYTES_MAX`.
pub const LIST_PAGE_IDS_MAX: usize = (RESPONSE_BYTES_MAX - PAGE_FIXED_BYTES) / PIECE_ID_BYTES;
/// The longest message an ERROR carries; longer ones are cut when encoded.
pub const ERROR_MESSAGE_BYTES_MAX: usize = 1024;
const ERROR_FIXED_BYTES: usize = 16;

/// Every frame type, with its byte on the wire. Requests (client to node) are
/// below 0x80, responses at or above; HELLO and DATA flow from the node and in
/// both directions respectively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    Hello = 0x01,
    Challenge = 0x02,
    Put = 0x10,
    Data = 0x11,
    Commit = 0x12,
    Abort = 0x13,
    Get = 0x20,
    Delete = 0x30,
    Stat = 0x40,
    List = 0x50,
    Ping = 0x60,
    Ok = 0x80,
    Ready = 0x81,
    Read = 0x82,
    Stated = 0x83,
    Page = 0x84,
    Pong = 0x85,
    Error = 0xee,
}

/// Payload bounds per frame type: the one table the decoder checks lengths by.
const FRAME_TYPES: [(FrameType, usize, usize); 18] = [
    (FrameType::Hello, HELLO_BYTES, HELLO_BYTES),
    (FrameType::Challenge, NONCE_BYTES, NONCE_BYTES),
    (FrameType::Put, ORDER_BYTES, ORDER_BYTES),
    (FrameType::Data, 1, DATA_BYTES_MAX),
    (FrameType::Commit, 8, 8),
    (FrameType::Abort, 0, 0),
    (FrameType::Get, ORDER_BYTES + 16, ORDER_BYTES + 16),
    (FrameType::Delete, ORDER_BYTES, ORDER_BYTES),
    (FrameType::Stat, ORDER_BYTES, ORDER_BYTES),
    (
        FrameType::List,
        ORDER_BYTES + 1 + PIECE_ID_BYTES + 4,
        ORDER_BYTES + 1 + PIECE_ID_BYTES + 4,
    ),
    (FrameType::Ping, ORDER_BYTES, ORDER_BYTES),
    (FrameType::Ok, 0, 0),
    (FrameType::Ready, 0, 0),
    (FrameType::Read, 8, 8),
    (FrameType::Stated, 9, 9),
    (
        FrameType::Page,
        PAGE_FIXED_BYTES,
        PAGE_FIXED_BYTES + PIECE_ID_BYTES * LIST_PAGE_IDS_MAX,
    ),
    (FrameType::Pong, 40, 40),
    (
        FrameType::Error,
        ERROR_FIXED_BYTES,
        ERROR_FIXED_BYTES + ERROR_MESSAGE_BYTES_MAX,
    ),
];

impl FrameType {
    pub fn from_byte(byte: u8) -> Option<Self> {
        FRAME_TYPES
            .iter()
            .find(|(kind, _, _)| *kind as u8 == byte)
            .map(|(kind, _, _)| *kind)
    }

    /// The smallest and largest payload a frame of this type may have.
    pub fn payload_bounds(self) -> (usize, usize) {
        let (_, min, max) = FRAME_TYPES
            .iter()
            .find(|(kind, _, _)| *kind == self)
            .expect("every frame type is in the table");
        (*min, *max)
    }

    /// Whether a client sends this frame (the node accepts only these).
    pub fn is_request(self) -> bool {
        (self as u8) < 0x80 && self != FrameType::Hello
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame version {0} is not supported (this build speaks {VERSION})")]
    Version(u8),
    #[error("unknown frame type {0:#04x}")]
    UnknownType(u8),
    #[error("frame header reserved bytes are not zero")]
    Reserved,
    #[error("{kind:?} frame of {len} bytes is outside {min}..={max}")]
    Length {
        kind: FrameType,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error("{kind:?} frame: invalid {field}")]
    Field {
        kind: FrameType,
        field: &'static str,
    },
}

/// A parsed frame header, its length already checked against its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: FrameType,
    pub len: usize,
}

impl FrameHeader {
    /// A header for `len` payload bytes; panics on a length the type forbids
    /// (a programmer error: the encoder never builds such a frame).
    pub fn new(kind: FrameType, len: usize) -> Self {
        let (min, max) = kind.payload_bounds();
        assert!(
            (min..=max).contains(&len),
            "{kind:?} payload of {len} bytes"
        );
        Self { kind, len }
    }

    pub fn encode(&self) -> [u8; FRAME_HEADER_BYTES] {
        let mut h = [0u8; FRAME_HEADER_BYTES];
        h[0] = VERSION;
        h[1] = self.kind as u8;
        h[4..8].copy_from_slice(&(self.len as u32).to_le_bytes());
        h
    }
}

/// Parses a frame header from the start of `bytes`: `Ok(None)` until 8 bytes
/// are there. Checks version, type, reserved bytes and the length bound, so an
/// oversized or malformed frame is refused before its payload is read.
pub fn parse_header(bytes: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
    let Some(h) = bytes.get(..FRAME_HEADER_BYTES) else {
        return Ok(None);
    };
    if h[0] != VERSION {
        return Err(ProtocolError::Version(h[0]));
    }
    let kind = FrameType::from_byte(h[1]).ok_or(ProtocolError::UnknownType(h[1]))?;
    if h[2] != 0 || h[3] != 0 {
        return Err(ProtocolError::Reserved);
    }
    let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
    let (min, max) = kind.payload_bounds();
    if !(min..=max).contains(&len) {
        return Err(ProtocolError::Length {
            kind,
            len,
            min,
            max,
        });
    }
    Ok(Some(FrameHeader { kind, len }))
}

const HELLO_BYTES: usize = NONCE_BYTES + 8 + ORDER_MAC_BYTES;

/// The node's greeting, its answer to the client's CHALLENGE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Random per connection; every order on the connection is signed over it.
    pub nonce: [u8; NONCE_BYTES],
    /// The node's clock (unix seconds), so clients sign expiries in its time.
    pub node_time_secs: u64,
    /// The node's proof that it holds the key of the node the client dialled
    /// (`NodeKey::hello_proof` over the challenge, the nonce and the clock).
    pub proof: [u8; ORDER_MAC_BYTES],
}

/// What a node reports about itself (PONG).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeHealth {
    /// Bytes available to the node on its data directory's file system.
    pub free_bytes: u64,
    /// Size of that file system.
    pub capacity_bytes: u64,
    /// Committed pieces (an estimate between the node's periodic recounts).
    pub pieces: u64,
    pub uptime_secs: u64,
    pub cores: u32,
}

/// Why a node refused or failed a request (ERROR). The connection stays usable
/// after the operational ones (`NotFound`, `OutOfRange`, `Io`, `LengthMismatch`);
/// the node closes it after the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// A frame that does not parse (bad version, type, length or field).
    Malformed,
    /// A well-formed frame where the node expected another.
    Unexpected,
    /// The order's MAC does not verify (wrong key, tampered, other connection)
    /// or it names another operation.
    Unauthorized,
    /// The order's `not_after` is past (beyond the allowed skew) or too far ahead.
    Expired,
    /// The order's serial was already used.
    Replayed,
    /// Too many connections, or this connection's replay set is full.
    Busy,
    ShuttingDown,
    NotFound,
    /// The range ends past the piece; detail = the piece's length.
    OutOfRange,
    /// COMMIT named another byte count than the DATA sent; detail = bytes received.
    LengthMismatch,
    /// The node's store failed (disk error, full disk).
    Io,
    /// A code this build does not know (from a newer node).
    Other(u8),
}

impl ErrorCode {
    const TABLE: [(ErrorCode, u8); 11] = [
        (ErrorCode::Malformed, 1),
        (ErrorCode::Unexpected, 2),
        (ErrorCode::Unauthorized, 3),
        (ErrorCode::Expired, 4),
        (ErrorCode::Replayed, 5),
        (ErrorCode::Busy, 6),
        (ErrorCode::ShuttingDown, 7),
        (ErrorCode::NotFound, 8),
        (ErrorCode::OutOfRange, 9),
        (ErrorCode::LengthMismatch, 10),
        (ErrorCode::Io, 11),
    ];

    pub fn to_byte(self) -> u8 {
        match self {
            ErrorCode::Other(byte) => byte,
            known => {
                ErrorCode::TABLE
                    .iter()
                    .find(|(code, _)| *code == known)
                    .expect("every named code is in the table")
                    .1
            }
        }
    }

    pub fn from_byte(byte: u8) -> Self {
        ErrorCode::TABLE
            .iter()
            .find(|(_, b)| *b == byte)
            .map_or(ErrorCode::Other(byte), |(code, _)| *code)
    }

    /// Whether the node keeps the connection open after answering with it.
    pub fn keeps_connection(self) -> bool {
        matches!(
            self,
            ErrorCode::NotFound | ErrorCode::OutOfRange | ErrorCode::Io | ErrorCode::LengthMismatch
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    /// A number that goes with the code (a piece length, a byte count), else 0.
    pub detail: u64,
    pub message: String,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            detail: 0,
            message: message.into(),
        }
    }
}

/// One frame. Only `Data` borrows (its payload, from the caller's buffer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Hello(Hello),
    /// The client's first frame: random bytes the node's HELLO proves its
    /// key over.
    Challenge([u8; NONCE_BYTES]),
    /// Opens a piece stream; answered by READY or ERROR.
    Put(SignedOrder),
    Data(&'a [u8]),
    /// Ends a piece stream: the total bytes sent; answered by OK once durable.
    Commit {
        bytes: u64,
    },
    /// Ends a piece stream, discarding it; answered by OK.
    Abort,
    /// Answered by READ and DATA frames totalling the range, or ERROR (which
    /// may also take the place of any DATA frame).
    Get {
        order: SignedOrder,
        range: Range<u64>,
    },
    Delete(SignedOrder),
    Stat(SignedOrder),
    /// Piece ids after `after` (all when `None`), at most `limit`, in id order.
    List {
        order: SignedOrder,
        after: Option<PieceId>,
        limit: u32,
    },
    Ping(SignedOrder),
    Ok,
    Ready,
    Read {
        bytes: u64,
    },
    /// The answer to STAT: the piece's length, or `None` when it is absent.
    Stated(Option<u64>),
    Page {
        ids: Vec<PieceId>,
        more: bool,
    },
    Pong(NodeHealth),
    Error(ErrorReply),
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn encode_piece_id(id: &PieceId, out: &mut Vec<u8>) {
    out.extend_from_slice(&id.segment.0);
    out.extend_from_slice(&id.piece.to_le_bytes());
}

pub fn parse_piece_id(b: &[u8]) -> PieceId {
    PieceId {
        segment: SegmentId(b[..16].try_into().expect("16 bytes")),
        piece: u16::from_le_bytes([b[16], b[17]]),
    }
}

impl Frame<'_> {
    pub fn kind(&self) -> FrameType {
        match self {
            Frame::Hello(_) => FrameType::Hello,
            Frame::Challenge(_) => FrameType::Challenge,
            Frame::Put(_) => FrameType::Put,
            Frame::Data(_) => FrameType::Data,
            Frame::Commit { .. } => FrameType::Commit,
            Frame::Abort => FrameType::Abort,
            Frame::Get { .. } => FrameType::Get,
            Frame::Delete(_) => FrameType::Delete,
            Frame::Stat(_) => FrameType::Stat,
            Frame::List { .. } => FrameType::List,
            Frame::Ping(_) => FrameType::Ping,
            Frame::Ok => FrameType::Ok,
            Frame::Ready => FrameType::Ready,
            Frame::Read { .. } => FrameType::Read,
            Frame::Stated(_) => FrameType::Stated,
            Frame::Page { .. } => FrameType::Page,
            Frame::Pong(_) => FrameType::Pong,
            Frame::Error(_) => FrameType::Error,
        }
    }

    /// Appends the frame, header included, to `out`. Panics on a frame no
    /// decoder would accept (a DATA frame over the limit, a PAGE too long, a
    /// GET with start > end): those are programmer errors. An ERROR message
    /// over the limit is cut at a character boundary instead.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
        match self {
            Frame::Hello(hello) => {
                out.extend_from_slice(&hello.nonce);
                out.extend_from_slice(&hello.node_time_secs.to_le_bytes());
                out.extend_from_slice(&hello.proof);
            }
            Frame::Challenge(challenge) => out.extend_from_slice(challenge),
            Frame::Put(order) | Frame::Delete(order) | Frame::Stat(order) | Frame::Ping(order) => {
                out.extend_from_slice(&order.encode())
            }
            Frame::Data(bytes) => out.extend_from_slice(bytes),
            Frame::Commit { bytes } => out.extend_from_slice(&bytes.to_le_bytes()),
            Frame::Abort | Frame::Ok | Frame::Ready => {}
            Frame::Get { order, range } => {
                assert!(range.start <= range.end, "GET range {range:?}");
                out.extend_from_slice(&order.encode());
                out.extend_from_slice(&range.start.to_le_bytes());
                out.extend_from_slice(&range.end.to_le_bytes());
            }
            Frame::List {
                order,
                after,
                limit,
            } => {
                out.extend_from_slice(&order.encode());
                match after {
                    Some(id) => {
                        out.push(1);
                        encode_piece_id(id, out);
                    }
                    None => out.extend_from_slice(&[0; 1 + PIECE_ID_BYTES]),
                }
                out.extend_from_slice(&limit.to_le_bytes());
            }
            Frame::Read { bytes } => out.extend_from_slice(&bytes.to_le_bytes()),
            Frame::Stated(bytes) => {
                out.push(bytes.is_some() as u8);
                out.extend_from_slice(&bytes.unwrap_or(0).to_le_bytes());
            }
            Frame::Page { ids, more } => {
                assert!(
                    ids.len() <= LIST_PAGE_IDS_MAX,
                    "{} ids in a PAGE",
                    ids.len()
                );
                out.push(*more as u8);
                out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
                for id in ids {
                    encode_piece_id(id, out);
                }
            }
            Frame::Pong(health) => {
                for value in [
                    health.free_bytes,
                    health.capacity_bytes,
                    health.pieces,
                    health.uptime_secs,
                ] {
                    out.extend_from_slice(&value.to_le_bytes());
                }
                out.extend_from_slice(&health.cores.to_le_bytes());
                out.extend_from_slice(&[0; 4]);
            }
            Frame::Error(error) => {
                out.push(error.code.to_byte());
                out.extend_from_slice(&[0; 7]);
                out.extend_from_slice(&error.detail.to_le_bytes());
                let mut end = error.message.len().min(ERROR_MESSAGE_BYTES_MAX);
                while !error.message.is_char_boundary(end) {
                    end -= 1;
                }
                out.extend_from_slice(&error.message.as_bytes()[..end]);
            }
        }
        let header = FrameHeader::new(self.kind(), out.len() - at - FRAME_HEADER_BYTES);
        out[at..at + FRAME_HEADER_BYTES].copy_from_slice(&header.encode());
    }

    /// The frame with no borrowed bytes; `None` for DATA, the one frame whose
    /// payload is a borrowed slice.
    pub fn into_owned(self) -> Option<Frame<'static>> {
        Some(match self {
            Frame::Data(_) => return None,
            Frame::Hello(h) => Frame::Hello(h),
            Frame::Challenge(c) => Frame::Challenge(c),
            Frame::Put(o) => Frame::Put(o),
            Frame::Commit { bytes } => Frame::Commit { bytes },
            Frame::Abort => Frame::Abort,
            Frame::Get { order, range } => Frame::Get { order, range },
            Frame::Delete(o) => Frame::Delete(o),
            Frame::Stat(o) => Frame::Stat(o),
            Frame::List {
                order,
                after,
                limit,
            } => Frame::List {
                order,
                after,
                limit,
            },
            Frame::Ping(o) => Frame::Ping(o),
            Frame::Ok => Frame::Ok,
            Frame::Ready => Frame::Ready,
            Frame::Read { bytes } => Frame::Read { bytes },
            Frame::Stated(s) => Frame::Stated(s),
            Frame::Page { ids, more } => Frame::Page { ids, more },
            Frame::Pong(h) => Frame::Pong(h),
            Frame::Error(e) => Frame::Error(e),
        })
    }
}

/// Decodes a payload whose header `parse_header` accepted. `payload` must be
/// exactly `header.len` bytes (the caller's framing guarantees it).
pub fn decode_payload(header: FrameHeader, p: &[u8]) -> Result<Frame<'_>, ProtocolError> {
    assert_eq!(p.len(), header.len, "payload length matches its header");
    let kind = header.kind;
    let field = |field| ProtocolError::Field { kind, field };
    let order =
        |bytes: &[u8]| SignedOrder::parse(&bytes[..ORDER_BYTES]).map_err(|_| field("order"));
    Ok(match kind {
        FrameType::Hello => Frame::Hello(Hello {
            nonce: p[..NONCE_BYTES].try_into().expect("16 bytes"),
            node_time_secs: le64(p, NONCE_BYTES),
            proof: p[NONCE_BYTES + 8..].try_into().expect("32 bytes"),
        }),
        FrameType::Challenge => Frame::Challenge(p.try_into().expect("16 bytes")),
        FrameType::Put => Frame::Put(order(p)?),
        FrameType::Data => Frame::Data(p),
        FrameType::Commit => Frame::Commit { bytes: le64(p, 0) },
        FrameType::Abort => Frame::Abort,
        FrameType::Get => {
            let range = le64(p, ORDER_BYTES)..le64(p, ORDER_BYTES + 8);
            if range.start > range.end {
                return Err(field("range"));
            }
            Frame::Get {
                order: order(p)?,
                range,
            }
        }
        FrameType::Delete => Frame::Delete(order(p)?),
        FrameType::Stat => Frame::Stat(order(p)?),
        FrameType::List => {
            let at = ORDER_BYTES;
            let id = &p[at + 1..at + 1 + PIECE_ID_BYTES];
            let after = match p[at] {
                0 if id.iter().all(|&b| b == 0) => None,
                1 => Some(parse_piece_id(id)),
                _ => return Err(field("cursor")),
            };
            Frame::List {
                order: order(p)?,
                after,
                limit: le32(p, at + 1 + PIECE_ID_BYTES),
            }
        }
        FrameType::Ping => Frame::Ping(order(p)?),
        FrameType::Ok => Frame::Ok,
        FrameType::Ready => Frame::Ready,
        FrameType::Read => Frame::Read { bytes: le64(p, 0) },
        FrameType::Stated => Frame::Stated(match p[0] {
            0 if le64(p, 1) == 0 => None,
            1 => Some(le64(p, 1)),
            _ => return Err(field("presence")),
        }),
        FrameType::Page => {
            let more = match p[0] {
                0 => false,
                1 => true,
                _ => return Err(field("more")),
            };
            let count = le32(p, 1) as usize;
            if count > LIST_PAGE_IDS_MAX || p.len() != PAGE_FIXED_BYTES + count * PIECE_ID_BYTES {
                return Err(field("count"));
            }
            let ids = p[PAGE_FIXED_BYTES..]
                .chunks_exact(PIECE_ID_BYTES)
                .map(parse_piece_id)
                .collect();
            Frame::Page { ids, more }
        }
        FrameType::Pong => {
            if p[36..40] != [0; 4] {
                return Err(field("reserved"));
            }
            Frame::Pong(NodeHealth {
                free_bytes: le64(p, 0),
                capacity_bytes: le64(p, 8),
                pieces: le64(p, 16),
                uptime_secs: le64(p, 24),
                cores: le32(p, 32),
            })
        }
        FrameType::Error => {
            if p[1..8] != [0; 7] {
                return Err(field("reserved"));
            }
            let message = std::str::from_utf8(&p[ERROR_FIXED_BYTES..])
                .map_err(|_| field("message"))?
                .to_owned();
            Frame::Error(ErrorReply {
                code: ErrorCode::from_byte(p[0]),
                detail: le64(p, 8),
                message,
            })
        }
    })
}

/// Decodes the frame at the start of `bytes`: `Ok(None)` while it is incomplete,
/// else the frame and the bytes it took.
pub fn decode(bytes: &[u8]) -> Result<Option<(Frame<'_>, usize)>, ProtocolError> {
    let Some(header) = parse_header(bytes)? else {
        return Ok(None);
    };
    let end = FRAME_HEADER_BYTES + header.len;
    let Some(payload) = bytes.get(FRAME_HEADER_BYTES..end) else {
        return Ok(None);
    };
    Ok(Some((decode_payload(header, payload)?, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: [u8; 8], expected: Result<Option<FrameHeader>, ProtocolError>) {
        assert_eq!(parse_header(&header), expected, "{header:?}");
    }

    #[test]
    fn headers_are_checked_before_payloads() {
        let ok = |kind, len| Ok(Some(FrameHeader { kind, len }));
        check([2, 0x80, 0, 0, 0, 0, 0, 0], ok(FrameType::Ok, 0));
        check([2, 0x11, 0, 0, 0, 0, 16, 0], ok(FrameType::Data, 1 << 20));
        check(
            [2, 0x11, 0, 0, 1, 0, 16, 0],
            Err(ProtocolError::Length {
                kind: FrameType::Data,
                len: (1 << 20) + 1,
                min: 1,
                max: 1 << 20,
            }),
        );
        check(
            [2, 0x11, 0, 0, 0, 0, 0, 0],
            Err(ProtocolError::Length {
                kind: FrameType::Data,
                len: 0,
                min: 1,
                max: 1 << 20,
            }),
        );
        check([1, 0x80, 0, 0, 0, 0, 0, 0], Err(ProtocolError::Version(1)));
        check(
            [2, 0x7f, 0, 0, 0, 0, 0, 0],
            Err(ProtocolError::UnknownType(0x7f)),
        );
        check([2, 0x80, 0, 1, 0, 0, 0, 0], Err(ProtocolError::Reserved));
        check(
            [2, 0x80, 0, 0, 1, 0, 0, 0],
            Err(ProtocolError::Length {
                kind: FrameType::Ok,
                len: 1,
                min: 0,
                max: 0,
            }),
        );
        // "GET / HTTP/1.1": an HTTP client on the node port fails at byte 0.
        check(*b"GET / HT", Err(ProtocolError::Version(b'G')));
        assert_eq!(parse_header(&[2, 0x80, 0]), Ok(None));
    }

    #[test]
    fn frame_table_is_complete_and_bounded() {
        let mut seen = std::collections::HashSet::new();
        for (kind, min, max) in FRAME_TYPES {
            assert!(seen.insert(kind as u8), "{kind:?} listed twice");
            assert_eq!(FrameType::from_byte(kind as u8), Some(kind));
            assert!(min <= max);
            let limit = match kind {
                FrameType::Data => DATA_BYTES_MAX,
                k if k.is_request() => REQUEST_BYTES_MAX,
                _ => RESPONSE_BYTES_MAX,
            };
            assert!(max <= limit, "{kind:?} may be {max} bytes");
        }
    }

    #[test]
    fn error_codes_round_trip() {
        for byte in 0..=u8::MAX {
            assert_eq!(ErrorCode::from_byte(byte).to_byte(), byte);
        }
    }

    #[test]
    fn long_error_messages_are_cut_at_a_character() {
        let mut out = Vec::new();
        let message = "é".repeat(ERROR_MESSAGE_BYTES_MAX);
        Frame::Error(ErrorReply::new(ErrorCode::Io, message)).encode(&mut out);
        let (frame, used) = decode(&out).unwrap().unwrap();
        assert_eq!(used, out.len());
        let Frame::Error(e) = frame else { panic!() };
        assert_eq!(e.message.len(), ERROR_MESSAGE_BYTES_MAX);
    }
}
