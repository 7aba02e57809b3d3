//! Auditing one piece: is it there, is it the piece the metadata names, and
//! do its shares still match their checksums? The header and the checksum
//! table are read (the table's SHA-256 with the header must be the digest the
//! metadata recorded when the piece was written), then one share picked at
//! random (a sampling audit: three small reads a piece), or every share and
//! the footer (a full scrub, which reads the whole piece).

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
    /// The store answered but would not serve now (busy, shutting down, an
    /// order it refused): nothing is known of the piece, which counts as
    /// healthy until a later pass asks again.
    Transient(String),
}

/// Which shares an audit checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// The share of this stripe (chosen at random by the caller).
    Sample(u32),
    /// Every share.
    Full,
}

/// Share-area bytes a full scrub reads at a time.
const SCRUB_WINDOW_BYTES: u64 = 4 << 20;

/// Audits the piece `placement` names on `store` (a storage node if `is_node`).
pub async fn audit_piece(
    store: &Rc<dyn PieceStore>,
    is_node: bool,
    segment: SegmentId,
    geometry: &SegmentGeometry,
    placement: &PiecePlacement,
    depth: Depth,
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
        (Err(e), _) | (_, Err(e)) => return state_of_error(e, is_node),
    };
    if header[..] != expected_header[..] {
        return PieceState::Corrupt("header differs from the segment's".into());
    }
    if format::piece_digest(&expected_header, &table) != placement.digest {
        return PieceState::Corrupt("checksum table does not match the recorded digest".into());
    }
    let checksums = format::parse_checksums(&table).expect("length asked for");
    let stripes = match depth {
        Depth::Sample(stripe) => stripe..stripe + 1,
        Depth::Full => 0..geometry.stripe_count,
    };
    let per_window = (SCRUB_WINDOW_BYTES / geometry.layout.share_bytes() as u64).max(1) as u32;
    let mut first = stripes.start;
    while first < stripes.end {
        let window = first..(first + per_window).min(stripes.end);
        let span = geometry.shares_span(&window);
        let at = format::share_area_offset();
        let bytes = match store.read(id, at + span.start..at + span.end).await {
            Ok(bytes) => bytes,
            Err(e) => return state_of_error(e, is_node),
        };
        for stripe in window.clone() {
            let from = (geometry.share_offset(stripe) - span.start) as usize;
            let share = &bytes[from..from + geometry.share_bytes(stripe)];
            if share_checksum(share, placement.piece, stripe) != checksums[stripe as usize] {
                return PieceState::Corrupt(format!("share of stripe {stripe} fails its checksum"));
            }
        }
        first = window.end;
    }
    if depth == Depth::Full {
        // A scrub reads the piece whole: the footer too.
        let footer_at = table_at + 4 * geometry.stripe_count as u64;
        let footer = match store
            .read(id, footer_at..footer_at + format::FOOTER_BYTES as u64)
            .await
        {
            Ok(footer) => footer,
            Err(e) => return state_of_error(e, is_node),
        };
        match format::PieceFooter::parse(&footer) {
            Ok(f)
                if f.digest == placement.digest
                    && f.stripe_count == geometry.stripe_count
                    && f.last_share_bytes as usize == geometry.last_share_bytes => {}
            Ok(_) => return PieceState::Corrupt("footer differs from the segment's".into()),
            Err(e) => return PieceState::Corrupt(format!("footer: {e}")),
        }
    }
    PieceState::Healthy
}

/// What a failed read says of a piece. Only the piece's own bytes make it
/// missing or damaged; a node that cannot be reached or will not answer now
/// says nothing about the piece (a local store is always reachable, so its
/// I/O errors are the piece's).
fn state_of_error(error: StoreError, is_node: bool) -> PieceState {
    match error {
        StoreError::NotFound { .. } => PieceState::Missing,
        StoreError::OutOfRange { .. } => PieceState::Corrupt(format!("truncated: {error}")),
        StoreError::Disk { .. } => PieceState::Corrupt(error.to_string()),
        #[cfg(any(test, feature = "fault-injection"))]
        StoreError::Injected { .. } => PieceState::Corrupt(error.to_string()),
        StoreError::Io { .. } | StoreError::Timeout { .. } if is_node => {
            PieceState::Unreachable(error.to_string())
        }
        StoreError::Io { .. } | StoreError::Timeout { .. } => {
            PieceState::Corrupt(error.to_string())
        }
        StoreError::Protocol { .. } => PieceState::Transient(error.to_string()),
    }
}
