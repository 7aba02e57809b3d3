//! The object pipeline, pure code over buffers and never I/O: segment layout,
//! AES-256-GCM, Reed-Solomon, checksums, and the streaming encoder and decoder.

pub mod buf;
pub mod checksum;
pub mod crc32c;
pub mod crypto;
pub mod decoder;
pub mod encoder;
pub mod inline;
pub mod layout;
pub mod parity;
pub mod random;
pub mod rebuild;

pub use checksum::{ChecksumAlgorithm, DigestRequest, EtagMode, ObjectDigest};
pub use crypto::{AeadBackend, ContentKey, RootKey, WrappedKey};
pub use decoder::{DecodeError, SegmentDecoder};
pub use encoder::{PieceBuffers, SegmentEncoder, SegmentSeal};
pub use layout::{ErasureParams, Layout, LayoutError, SegmentGeometry};
