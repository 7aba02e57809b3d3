//! The write path's failure protocol, in one place: pieces are written, then
//! one mutation commits the record that names them, or the pieces are
//! cleaned up. Handlers commit a mutation that brings new segments with
//! [`commit_written`], and give up on a body they received but refused with
//! [`discard_written`]. A cleanup never loses track of a piece: one whose
//! delete fails puts its segment on the GC queue, whose collector deletes it
//! again later, and is counted in `ringgate_cleanup_failures_total`.

use crate::meta::{MetaError, Mutation, MutationOutcome, SegmentInfo};
use crate::metrics::CoreMetrics;
use crate::object_io::{delete_pieces, BodyExtent, SegmentRecord};
use crate::pieces::SegmentId;
use crate::s3::error::S3Error;
use crate::s3::gateway::Gateway;
use crate::s3::map;

/// Commits `mutation`. If the metadata refuses it, the segments it brought
/// (`Mutation::new_segments`) are discarded; if the commit's fate is unknown
/// (the commit thread closed under it), their pieces stay, since a committed
/// record may name them; the start-up sweep deletes them if none does.
pub async fn commit_written(gw: &Gateway, mutation: Mutation) -> Result<MutationOutcome, S3Error> {
    let written = mutation.new_segments().to_vec();
    match gw.meta.commit(mutation).await {
        Ok(outcome) => Ok(outcome),
        Err(MetaError::Closed) => Err(map::meta_error(MetaError::Closed)),
        Err(e) => {
            discard(gw, written);
            Err(map::meta_error(e))
        }
    }
}

/// Discards a body's freshly written extents, which no record will name.
pub fn discard_written(gw: &Gateway, extents: &[BodyExtent]) {
    let segments = extents
        .iter()
        .filter_map(|extent| match extent {
            BodyExtent::Segment(segment) => Some((segment.id, segment_info(segment))),
            BodyExtent::Inline { .. } => None,
        })
        .collect();
    discard(gw, segments);
}

/// Deletes, in the background, the pieces of segments no record references;
/// a segment with a piece that could not be deleted goes to the GC queue.
pub fn discard(gw: &Gateway, segments: Vec<(SegmentId, SegmentInfo)>) {
    if segments.is_empty() {
        return;
    }
    let (stores, meta) = (gw.stores.clone(), gw.meta.clone());
    let (metrics, core) = (gw.metrics.clone(), gw.core);
    glommio::spawn_local(async move {
        let mut stranded = Vec::new();
        for (id, info) in segments {
            let failed = delete_pieces(&stores, id, &info.pieces).await;
            if failed > 0 {
                CoreMetrics::add(&metrics.core(core).cleanup_failures, failed as u64);
                stranded.push((id, info));
            }
        }
        if !stranded.is_empty() {
            // Refused or lost, the pieces are orphans either way: the start-up
            // sweep deletes pieces of segments the metadata does not know.
            let _ = meta.commit(Mutation::QueueGc { segments: stranded }).await;
        }
    })
    .detach();
}

/// The metadata's view of a segment the writer just stored.
fn segment_info(segment: &SegmentRecord) -> SegmentInfo {
    SegmentInfo {
        erasure: segment.erasure,
        share_bytes: segment.share_bytes as u32,
        plaintext_bytes: segment.plaintext_bytes,
        pieces: segment.pieces.clone(),
    }
}
