//! Rebuilding a segment's lost pieces onto new stores: windows of stripes are
//! read from k healthy pieces (more if a share fails its checksum), the lost
//! shares are rebuilt (`pipeline::rebuild`, ciphertext only), and each new
//! piece is streamed to its store with its header, checksum table and footer,
//! byte for byte the piece the encoder would have written. Memory: one window
//! of k pieces plus one window of each new piece.

use std::ops::Range;

use crate::cluster::{StoreId, StoreSet};
use crate::meta::PiecePlacement;
use crate::pieces::download::{Hedge, PieceSource, WindowFetch};
use crate::pieces::format::{self, PieceHeader, PieceId, SegmentId};
use crate::pieces::race::Race;
use crate::pieces::{PieceWriter, StoreError};
use crate::pipeline::checksum::share_checksum;
use crate::pipeline::rebuild::{RebuildError, ShareRebuilder};
use crate::pipeline::SegmentGeometry;

/// Share-area bytes read per piece at a time.
const WINDOW_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RebuildFailure {
    #[error("stripe {stripe}: {source}")]
    Shares { stripe: u32, source: RebuildError },
    #[error("no store can take piece {piece}")]
    NoStore { piece: u16 },
    #[error("writing piece {piece} to {store}: {source}")]
    Write {
        piece: u16,
        store: StoreId,
        source: StoreError,
    },
}

/// A piece to rebuild and the store it goes to.
#[derive(Clone, Copy, Debug)]
pub struct NewPiece {
    pub piece: u16,
    pub store: StoreId,
}

/// Rebuilds `wanted` from the pieces in `healthy` and commits each on its
/// store; returns the placements of those that committed (at least one, or
/// an error). The new pieces are not yet in the metadata: the caller commits
/// them, or deletes them if it cannot.
pub async fn rebuild_pieces(
    stores: &StoreSet,
    segment: SegmentId,
    geometry: &SegmentGeometry,
    healthy: &[PiecePlacement],
    wanted: &[NewPiece],
    hedge: Hedge,
) -> Result<Vec<PiecePlacement>, RebuildFailure> {
    let sources = piece_sources(stores, segment, healthy);
    let mut targets = open_targets(stores, segment, geometry, wanted).await?;
    rebuild_shares(&sources, geometry, hedge, &mut targets).await?;
    close_targets(&mut targets, geometry).await;
    commit_targets(&mut targets).await;
    placements(stores, targets)
}

/// The healthy pieces on stores this core knows, to read from.
fn piece_sources(
    stores: &StoreSet,
    segment: SegmentId,
    healthy: &[PiecePlacement],
) -> Vec<PieceSource> {
    healthy
        .iter()
        .filter_map(|p| {
            Some(PieceSource {
                piece: p.piece as usize,
                store: stores.get(p.store)?.clone(),
                id: PieceId {
                    segment,
                    piece: p.piece,
                },
            })
        })
        .collect()
}

/// Creates each new piece on its store and writes its header.
async fn open_targets(
    stores: &StoreSet,
    segment: SegmentId,
    geometry: &SegmentGeometry,
    wanted: &[NewPiece],
) -> Result<Vec<Target>, RebuildFailure> {
    let (k, n) = (geometry.layout.required(), geometry.layout.total());
    let mut targets = Vec::with_capacity(wanted.len());
    for new in wanted {
        let store = stores
            .get(new.store)
            .ok_or(RebuildFailure::NoStore { piece: new.piece })?;
        let id = PieceId {
            segment,
            piece: new.piece,
        };
        let header = PieceHeader {
            id,
            required: k as u16,
            total: n as u16,
            share_bytes: geometry.layout.share_bytes() as u32,
        }
        .encode();
        let failed = |source| RebuildFailure::Write {
            piece: new.piece,
            store: new.store,
            source,
        };
        let mut writer = store.create(id).await.map_err(failed)?;
        writer.write(&header).await.map_err(failed)?;
        targets.push(Target {
            new: *new,
            writer: Some(writer),
            header,
            checksums: Vec::with_capacity(geometry.stripe_count as usize),
            pending: Vec::new(),
            failed: None,
            digest: None,
        });
    }
    Ok(targets)
}

/// Reads the segment a window of stripes at a time and streams each target's
/// rebuilt shares, with their checksums, to its piece.
async fn rebuild_shares(
    sources: &[PieceSource],
    geometry: &SegmentGeometry,
    hedge: Hedge,
    targets: &mut [Target],
) -> Result<(), RebuildFailure> {
    let (k, n) = (geometry.layout.required(), geometry.layout.total());
    let wanted_pieces: Vec<usize> = targets.iter().map(|t| t.new.piece as usize).collect();
    let mut rebuilder = ShareRebuilder::new(k, n - k);
    let stripes_per_window = (WINDOW_BYTES / geometry.layout.share_bytes() as u64).max(1) as u32;
    let mut first = 0;
    while first < geometry.stripe_count {
        let stripes = first..(first + stripes_per_window).min(geometry.stripe_count);
        let mut fetch = WindowFetch::new(sources, *geometry, stripes.clone());
        fetch.fetch(k, hedge).await;
        for stripe in stripes.clone() {
            let at_stripe = (&stripes, stripe);
            let rebuilt = rebuild_stripe(
                &mut fetch,
                &mut rebuilder,
                geometry,
                at_stripe,
                &wanted_pieces,
                hedge,
            )
            .await?;
            for (target, share) in targets.iter_mut().zip(rebuilt) {
                target
                    .checksums
                    .push(share_checksum(&share, target.new.piece, stripe));
                target.pending.extend_from_slice(&share);
            }
            // Reed-Solomon over a window is long work for one poll: let the
            // core's requests in between stripes.
            glommio::yield_if_needed().await;
        }
        write_pending(targets).await;
        first = stripes.end;
    }
    Ok(())
}

/// The `wanted` shares of `stripe` (in the window `stripes`), rebuilt from the
/// fetched shares that pass their checksums; while fewer than k pass, more
/// pieces are fetched, until none are left.
async fn rebuild_stripe(
    fetch: &mut WindowFetch<'_>,
    rebuilder: &mut ShareRebuilder,
    geometry: &SegmentGeometry,
    (stripes, stripe): (&Range<u32>, u32),
    wanted: &[usize],
    hedge: Hedge,
) -> Result<Vec<Vec<u8>>, RebuildFailure> {
    let k = geometry.layout.required();
    let span_start = geometry.shares_span(stripes).start;
    let at = (geometry.share_offset(stripe) - span_start) as usize;
    let len = geometry.share_bytes(stripe);
    let nth = (stripe - stripes.start) as usize;
    loop {
        let windows = fetch.windows();
        let shares: Vec<Option<&[u8]>> = windows
            .iter()
            .enumerate()
            .map(|(piece, w)| {
                let w = w.as_ref()?;
                let share = &w.shares[at..at + len];
                (share_checksum(share, piece as u16, stripe) == w.checksums[nth]).then_some(share)
            })
            .collect();
        let healthy = shares.iter().flatten().count();
        if healthy >= k || fetch.exhausted() {
            return rebuilder
                .rebuild(&shares, len, wanted)
                .map_err(|source| RebuildFailure::Shares { stripe, source });
        }
        fetch.fetch(k - healthy, hedge).await;
    }
}

/// Writes each piece's checksum table and footer, keeping its digest.
async fn close_targets(targets: &mut [Target], geometry: &SegmentGeometry) {
    for target in targets.iter_mut() {
        let (closing, digest) = format::closing_bytes(&target.header, geometry, &target.checksums);
        target.pending.extend_from_slice(&closing);
        target.checksums = Vec::new();
        target.digest = Some(digest);
    }
    write_pending(targets).await;
}

/// Commits every piece still being written, in parallel.
async fn commit_targets(targets: &mut [Target]) {
    let mut commits = Race::default();
    for (i, target) in targets.iter_mut().enumerate() {
        if let Some(writer) = target.writer.take() {
            commits.push(i, writer.commit());
        }
    }
    while let Some((i, result)) = commits.next().await {
        if let Err(e) = result {
            targets[i].failed = Some(e);
        }
    }
}

/// The committed pieces' placements; the first failure if none committed.
/// Each failure is reported to its store's health.
fn placements(
    stores: &StoreSet,
    targets: Vec<Target>,
) -> Result<Vec<PiecePlacement>, RebuildFailure> {
    let mut placed = Vec::new();
    let mut first_error = None;
    for target in targets {
        match target.failed {
            None => placed.push(PiecePlacement {
                piece: target.new.piece,
                store: target.new.store,
                digest: target.digest.expect("closed above"),
            }),
            Some(source) => {
                stores.report(target.new.store, &source);
                first_error.get_or_insert(RebuildFailure::Write {
                    piece: target.new.piece,
                    store: target.new.store,
                    source,
                });
            }
        }
    }
    match (placed.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(placed),
    }
}

/// One piece being rebuilt.
struct Target {
    new: NewPiece,
    writer: Option<Box<dyn PieceWriter>>,
    header: [u8; format::HEADER_BYTES],
    checksums: Vec<u32>,
    /// Bytes rebuilt but not yet written.
    pending: Vec<u8>,
    failed: Option<StoreError>,
    digest: Option<[u8; 32]>,
}

/// Writes every target's pending bytes, in parallel; a target whose write
/// fails is dropped (its writer with it, so nothing of it becomes visible).
async fn write_pending(targets: &mut [Target]) {
    let mut writes = Race::default();
    for (i, target) in targets.iter_mut().enumerate() {
        let Target {
            writer, pending, ..
        } = target;
        if let Some(writer) = writer.as_mut() {
            writes.push(i, async move {
                let result = writer.write(pending).await;
                pending.clear();
                result
            });
        } else {
            pending.clear();
        }
    }
    let mut failed = Vec::new();
    while let Some((i, result)) = writes.next().await {
        if let Err(e) = result {
            failed.push((i, e));
        }
    }
    drop(writes);
    for (i, error) in failed {
        targets[i].writer = None;
        targets[i].failed = Some(error);
    }
}
