//! Auditing one piece: is it there, is it the piece the metadata names, and
//! does a share picked at random still match its checksum? Three small reads:
//! the header, the checksum table (whose SHA-256 with the header must be the
//! digest the metadata recorded when the piece was written), and one share.

use std::rc::Rc;

use crate::meta::PiecePlacement;
use crate::pieces::format::{self, PieceHeader, PieceId, SegmentId, HEADER_BYTES};
use crate::pieces::{PieceStore, StoreError};
use crate::pipeline::checksum::share_checksum;
use crate::pipeline::SegmentGeometry;

/// What an audit found of one piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PieceState {
    Healthy,
    /// The store answered that it does not have the piece.
    Missing,
    /// The piece is there but its header, checksum table or a share is wrong.
    Corrupt(String),
    /// The store could not be asked (down, or not configured any more); how
    /// it counts depends on how long it has been down.
    Unreachable(String),
}

/// Audits the piece `placement` names on `store`, checking the share of stripe
/// `stripe` (a random stripe chosen by the caller).
pub async fn audit_piece(
    store: &Rc<dyn PieceStore>,
    segment: SegmentId,
    geometry: &SegmentGeometry,
    placement: &PiecePlacement,
    stripe: u32,
) -> PieceState {
    let id = PieceId {
        segment,
        piece: placement.piece,
    };
    let expected_header = PieceHeader {
        id,
        required: geometry.layout.required() as u16,
        total: geometry.layout.total() as u16,
        share_bytes: geometry.layout.share_bytes() as u32,
    }
    .encode();
    let table_at = format::checksums_offset(geometry);
    let table_range = table_at..table_at + 4 * geometry.stripe_count as u64;
    let (header, table) = futures_lite::future::zip(
        store.read(id, 0..HEADER_BYTES as u64),
        store.read(id, table_range),
    )
    .await;
    let (header, table) = match (header, table) {
        (Ok(header), Ok(table)) => (header, table),
        (Err(e), _) | (_, Err(e)) => return state_of_error(e),
    };
    if header[..] != expected_header[..] {
        return PieceState::Corrupt("header differs from the segment's".into());
    }
    if format::piece_digest(&expected_header, &table) != placement.digest {
        return PieceState::Corrupt("checksum table does not match the recorded digest".into());
    }
    let checksums = format::parse_checksums(&table).expect("length asked for");
    let offset = format::share_area_offset() + geometry.share_offset(stripe);
    let share_bytes = geometry.share_bytes(stripe) as u64;
    let share = match store.read(id, offset..offset + share_bytes).await {
        Ok(share) => share,
        Err(e) => return state_of_error(e),
    };
    if share_checksum(&share, placement.piece, stripe) != checksums[stripe as usize] {
        return PieceState::Corrupt(format!("share of stripe {stripe} fails its checksum"));
    }
    PieceState::Healthy
}

fn state_of_error(error: StoreError) -> PieceState {
    match error {
        StoreError::NotFound { .. } => PieceState::Missing,
        StoreError::OutOfRange { .. } => PieceState::Corrupt(format!("truncated: {error}")),
        e if crate::cluster::health::is_unreachable(&e) => PieceState::Unreachable(e.to_string()),
        e => PieceState::Corrupt(e.to_string()),
    }
}
