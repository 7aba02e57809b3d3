//! Audit and repair: a background worker on core 0, in a task queue with few
//! shares so requests always come first. Each pass walks every segment in the
//! metadata, a page at a time:
//!
//! 1. Audit (`audit`): every piece on a reachable store is checked (header,
//!    checksum table against the recorded digest, one random share against its
//!    CRC32C). A piece on a store that has been unreachable for less than
//!    `offline_grace` counts as healthy (a restart is not worth a repair);
//!    longer, or on a store no longer configured, it counts as lost.
//! 2. Count: a segment with `threshold` or fewer healthy pieces is repaired;
//!    one with fewer than k is lost and reported (nothing can rebuild it).
//! 3. Repair (`rebuild`): every piece not healthy, and every piece index the
//!    long tail never wrote, is rebuilt from k healthy pieces onto stores that
//!    hold no piece of the segment (placement as for uploads: live, domains
//!    spread, free space weighted), and `Mutation::RepairSegment` swaps the
//!    placements if nobody changed them meanwhile. Only after that commit are
//!    the bad pieces deleted; if it fails, the new pieces are.
//!
//! The admin API shows [`RepairStatus`] (`ringgate repair --status`) and can
//! start a pass at once (`ringgate repair --now`).

pub mod audit;
pub mod rebuild;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use serde::Serialize;

use crate::clock::unix_now_ms;
use crate::cluster::StoreSet;
use crate::config::RepairSettings;
use crate::entropy;
use crate::meta::{Meta, MetaError, Mutation, PiecePlacement, SegmentInfo};
use crate::pieces::download::Hedge;
use crate::pieces::format::{PieceId, SegmentId};
use crate::pipeline::{ErasureParams, Layout};
use audit::{audit_piece, Depth, PieceState};
use rebuild::{rebuild_pieces, NewPiece};

/// Segments read from the metadata per page.
const SEGMENTS_PER_PAGE: usize = 64;
/// Error messages kept in a pass report.
const ERRORS_KEPT_MAX: usize = 16;

/// One pass's findings, as the admin API reports them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PassReport {
    /// Every share checked (a scrub), not one sampled share per piece.
    pub full: bool,
    pub started_unix_ms: u64,
    pub finished_unix_ms: Option<u64>,
    pub segments: u64,
    /// Segments by how many healthy pieces they have at the end of the pass
    /// (after its repairs).
    pub segments_by_healthy_pieces: BTreeMap<usize, u64>,
    pub pieces_checked: u64,
    pub pieces_missing: u64,
    pub pieces_corrupt: u64,
    /// On stores unreachable past the grace, or no longer configured.
    pub pieces_lost: u64,
    /// On stores unreachable within the grace, or that would not answer now
    /// (busy, shutting down): counted healthy this pass.
    pub pieces_offline: u64,
    pub segments_repaired: u64,
    pub pieces_rebuilt: u64,
    pub segments_repair_failed: u64,
    /// Fewer than k healthy pieces: nothing can rebuild them.
    pub segments_lost: u64,
    pub errors: Vec<String>,
}

impl PassReport {
    fn error(&mut self, message: String) {
        if self.errors.len() < ERRORS_KEPT_MAX {
            self.errors.push(message);
        }
    }
}

/// What the admin API shows of the worker.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RepairStatus {
    pub required: usize,
    pub optimal: usize,
    pub total: usize,
    pub threshold: usize,
    pub passes_completed: u64,
    pub running: Option<PassReport>,
    pub last: Option<PassReport>,
}

/// The worker's handle for the admin API (core 0): its status, and a way to
/// start a pass now.
pub struct RepairControl {
    status: RefCell<RepairStatus>,
    wake: LocalSender<()>,
    /// The next pass reads every share of every piece (a scrub).
    full_requested: std::cell::Cell<bool>,
}

impl RepairControl {
    pub fn status(&self) -> RepairStatus {
        self.status.borrow().clone()
    }

    /// Starts a pass as soon as the current one (if any) ends; `full`: one
    /// that checks every share rather than one sampled share per piece.
    /// Returns the number the pass will have when it completes (a pass
    /// `passes_completed` reaches), whatever starts it first: the request or
    /// the timer, both run on this core, and the next pass to start takes the
    /// request.
    pub fn request_pass(&self, full: bool) -> u64 {
        if full {
            self.full_requested.set(true);
        }
        let _ = self.wake.try_send(());
        let status = self.status.borrow();
        status.passes_completed + 1 + u64::from(status.running.is_some())
    }
}

/// The worker: owns nothing but references to core 0's stores and metadata.
pub struct RepairWorker {
    meta: Meta,
    stores: Rc<StoreSet>,
    settings: RepairSettings,
    /// The deployment's code, to which `settings.threshold` belongs.
    erasure: ErasureParams,
    hedge: Hedge,
    control: Rc<RepairControl>,
    wake: LocalReceiver<()>,
}

impl RepairWorker {
    pub fn new(
        meta: Meta,
        stores: Rc<StoreSet>,
        settings: RepairSettings,
        erasure: ErasureParams,
        hedge: Hedge,
    ) -> (Self, Rc<RepairControl>) {
        let (wake_tx, wake_rx) = local_channel::new_bounded(1);
        let control = Rc::new(RepairControl {
            status: RefCell::new(RepairStatus {
                required: erasure.required,
                optimal: erasure.optimal,
                total: erasure.total,
                threshold: settings.threshold,
                ..Default::default()
            }),
            wake: wake_tx,
            full_requested: std::cell::Cell::new(false),
        });
        let worker = Self {
            meta,
            stores,
            settings,
            erasure,
            hedge,
            control: control.clone(),
            wake: wake_rx,
        };
        (worker, control)
    }

    /// Runs passes until `stop` resolves: one `interval` after the last ended,
    /// or at once when asked.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        futures_lite::pin!(stop);
        loop {
            let wait = futures_lite::future::or(
                async {
                    glommio::timer::sleep(self.settings.interval).await;
                    true
                },
                async { self.wake.recv().await.is_some() },
            );
            let go = futures_lite::future::or(wait, async {
                (&mut stop).await;
                false
            })
            .await;
            if !go {
                return;
            }
            let pass = futures_lite::future::or(
                async {
                    self.pass().await;
                    true
                },
                async {
                    (&mut stop).await;
                    false
                },
            )
            .await;
            if !pass {
                return;
            }
        }
    }

    /// One audit pass over every segment.
    pub async fn pass(&self) {
        let full = self.control.full_requested.replace(false);
        let report = PassReport {
            started_unix_ms: unix_now_ms(),
            full,
            ..Default::default()
        };
        self.control.status.borrow_mut().running = Some(report);
        let mut after = None;
        loop {
            let page = match self.meta.segments_after(after, SEGMENTS_PER_PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    self.update(|r| r.error(format!("reading segments: {e}")));
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            after = Some(last.0);
            for (id, info) in page {
                self.segment(id, info, full).await;
                // Long passes must not hold the reactor between segments.
                glommio::yield_if_needed().await;
            }
        }
        let mut status = self.control.status.borrow_mut();
        let mut report = status.running.take().unwrap_or_default();
        report.finished_unix_ms = Some(unix_now_ms());
        tracing::info!(
            full = report.full,
            segments = report.segments,
            pieces_checked = report.pieces_checked,
            segments_repaired = report.segments_repaired,
            pieces_rebuilt = report.pieces_rebuilt,
            "audit pass done"
        );
        if report.segments_lost > 0 || report.segments_repair_failed > 0 {
            tracing::warn!(
                segments_lost = report.segments_lost,
                segments_repair_failed = report.segments_repair_failed,
                first_error = report.errors.first().map(String::as_str),
                "audit pass found segments it could not repair"
            );
        }
        status.last = Some(report);
        status.passes_completed += 1;
    }

    fn update(&self, change: impl FnOnce(&mut PassReport)) {
        if let Some(report) = self.control.status.borrow_mut().running.as_mut() {
            change(report);
        }
    }

    /// Audits one segment and repairs it if it fell to the threshold.
    async fn segment(&self, id: SegmentId, info: SegmentInfo, full: bool) {
        let geometry = match Layout::new(info.erasure, info.share_bytes as usize, u64::MAX) {
            Ok(layout) => layout.segment(info.plaintext_bytes),
            Err(e) => {
                self.update(|r| r.error(format!("segment {}: {e}", id.to_hex())));
                return;
            }
        };
        let states = self.audit(id, &info, &geometry, full).await;
        let now = unix_now_ms();
        // A store that did not answer is down from now on, for placement too.
        for (placement, state) in info.pieces.iter().zip(&states) {
            if let (PieceState::Unreachable(_), Some(store)) =
                (state, self.stores.table().get(placement.store))
            {
                if store.is_node() && store.health.is_alive() {
                    store.health.mark_down(now);
                }
            }
        }
        let mut healthy = Vec::new();
        let mut bad = Vec::new();
        let (mut missing, mut corrupt, mut lost, mut offline) = (0, 0, 0, 0);
        for (placement, state) in info.pieces.iter().zip(&states) {
            match state {
                PieceState::Healthy => healthy.push(*placement),
                PieceState::Transient(_) => {
                    offline += 1;
                    healthy.push(*placement);
                }
                PieceState::Unreachable(_) if !self.past_grace(placement, now) => {
                    offline += 1;
                    healthy.push(*placement);
                }
                PieceState::Unreachable(_) => {
                    lost += 1;
                    bad.push(*placement);
                }
                PieceState::Missing => {
                    missing += 1;
                    bad.push(*placement);
                }
                PieceState::Corrupt(why) => {
                    corrupt += 1;
                    let message = format!(
                        "segment {} piece {} on store {}: {why}",
                        id.to_hex(),
                        placement.piece,
                        placement.store
                    );
                    self.update(|r| r.error(message));
                    bad.push(*placement);
                }
            }
        }
        self.update(|r| {
            r.segments += 1;
            r.pieces_checked += info.pieces.len() as u64;
            r.pieces_missing += missing;
            r.pieces_corrupt += corrupt;
            r.pieces_lost += lost;
            r.pieces_offline += offline;
        });
        let k = info.erasure.required;
        let threshold = self.threshold_for(info.erasure);
        let mut healthy_count = healthy.len();
        if healthy_count < k {
            self.update(|r| {
                r.segments_lost += 1;
                r.error(format!(
                    "segment {}: {healthy_count} healthy pieces, {k} required",
                    id.to_hex()
                ));
            });
        } else if healthy_count <= threshold {
            match self.repair(id, &info, &geometry, &healthy, &bad).await {
                Ok(0) => {}
                Ok(rebuilt) => {
                    healthy_count += rebuilt;
                    self.update(|r| {
                        r.segments_repaired += 1;
                        r.pieces_rebuilt += rebuilt as u64;
                    });
                }
                Err(e) => self.update(|r| {
                    r.segments_repair_failed += 1;
                    r.error(format!("repairing segment {}: {e}", id.to_hex()));
                }),
            }
        }
        self.update(|r| {
            *r.segments_by_healthy_pieces
                .entry(healthy_count)
                .or_default() += 1
        });
    }

    /// The repair threshold of a segment: the configured one for segments of
    /// the deployment's code; for segments written under another code (the
    /// deployment changed it since), the default rule applied to theirs.
    /// Always between k and n − 1, so a repair always has pieces to add.
    fn threshold_for(&self, erasure: ErasureParams) -> usize {
        let threshold = if erasure == self.erasure {
            self.settings.threshold
        } else {
            crate::config::default_repair_threshold(erasure)
        };
        threshold
            .min(erasure.total.saturating_sub(1))
            .max(erasure.required)
    }

    /// Whether a piece on an unreachable store counts as lost: the store is
    /// not configured, or has been down for longer than the grace.
    fn past_grace(&self, placement: &PiecePlacement, now_ms: u64) -> bool {
        if self.stores.get(placement.store).is_none() {
            return true;
        }
        self.stores
            .table()
            .get(placement.store)
            .and_then(|info| info.health.down_for(now_ms))
            .is_some_and(|down| down >= self.settings.offline_grace)
    }

    /// Audits every piece of a segment, a bounded number at a time.
    async fn audit(
        &self,
        id: SegmentId,
        info: &SegmentInfo,
        geometry: &crate::pipeline::SegmentGeometry,
        full: bool,
    ) -> Vec<PieceState> {
        let mut states = vec![PieceState::Healthy; info.pieces.len()];
        let mut race = crate::pieces::race::Race::default();
        let mut next = 0;
        let geometry = *geometry;
        let launch = |race: &mut crate::pieces::race::Race<'_, PieceState>, i: usize| {
            let placement = info.pieces[i];
            let store = self.stores.get(placement.store).cloned();
            let down = !self.stores.is_alive(placement.store);
            let is_node = self
                .stores
                .table()
                .get(placement.store)
                .is_some_and(|s| s.is_node());
            let depth = if full {
                Depth::Full
            } else {
                Depth::Sample(random_below(geometry.stripe_count))
            };
            race.push(i, async move {
                match store {
                    None => PieceState::Unreachable("store not configured".into()),
                    Some(_) if down => PieceState::Unreachable("store is down".into()),
                    Some(store) => {
                        audit_piece(&store, is_node, id, &geometry, &placement, depth).await
                    }
                }
            });
        };
        while next < info.pieces.len() && race.len() < self.settings.pieces_in_flight_max {
            launch(&mut race, next);
            next += 1;
        }
        while let Some((i, state)) = race.next().await {
            states[i] = state;
            if next < info.pieces.len() {
                launch(&mut race, next);
                next += 1;
            }
        }
        states
    }

    /// Rebuilds every piece index of the segment that is not healthy onto new
    /// stores and commits the new placements; returns how many were rebuilt.
    async fn repair(
        &self,
        id: SegmentId,
        info: &SegmentInfo,
        geometry: &crate::pipeline::SegmentGeometry,
        healthy: &[PiecePlacement],
        bad: &[PiecePlacement],
    ) -> Result<usize, String> {
        let n = info.erasure.total;
        let wanted: Vec<u16> = (0..n as u16)
            .filter(|i| !healthy.iter().any(|p| p.piece == *i))
            .collect();
        if wanted.is_empty() {
            return Ok(0);
        }
        // Stores already holding a piece of the segment take no other; if
        // that leaves too few, a store holding only a bad piece may.
        let all: Vec<u32> = info.pieces.iter().map(|p| p.store).collect();
        let holding_healthy: Vec<u32> = healthy.iter().map(|p| p.store).collect();
        let mut stores = self.stores.place_more(wanted.len(), &all, &holding_healthy);
        if stores.len() < wanted.len() {
            stores = self
                .stores
                .place_more(wanted.len(), &holding_healthy, &holding_healthy);
        }
        if stores.is_empty() {
            return Err("no live store holds none of its pieces".into());
        }
        let targets: Vec<NewPiece> = wanted
            .iter()
            .zip(&stores)
            .map(|(&piece, &store)| NewPiece { piece, store })
            .collect();
        let sources: Vec<PiecePlacement> = healthy
            .iter()
            .copied()
            .filter(|p| self.stores.is_alive(p.store))
            .collect();
        let placed = rebuild_pieces(&self.stores, id, geometry, &sources, &targets, self.hedge)
            .await
            .map_err(|e| e.to_string())?;
        let mut pieces: Vec<PiecePlacement> = healthy.to_vec();
        pieces.extend(placed.iter().copied());
        pieces.sort_by_key(|p| p.piece);
        let committed = self
            .meta
            .commit(Mutation::RepairSegment {
                id,
                expected: info.pieces.clone(),
                pieces,
            })
            .await;
        match committed {
            Ok(_) => {
                // The bad pieces are no longer named anywhere, except one
                // rebuilt in place (same piece, same store: already replaced).
                let gone: Vec<PiecePlacement> = bad
                    .iter()
                    .filter(|b| {
                        !placed
                            .iter()
                            .any(|p| (p.piece, p.store) == (b.piece, b.store))
                    })
                    .copied()
                    .collect();
                self.delete(id, &gone);
                Ok(placed.len())
            }
            Err(e) => {
                self.delete(id, &placed);
                Err(match e {
                    MetaError::SegmentChanged(_) | MetaError::NoSuchSegment(_) => {
                        format!("segment changed while it was repaired ({e})")
                    }
                    e => format!("commit: {e}"),
                })
            }
        }
    }

    fn delete(&self, segment: SegmentId, pieces: &[PiecePlacement]) {
        for placement in pieces {
            let Some(store) = self.stores.get(placement.store).cloned() else {
                continue;
            };
            let id = PieceId {
                segment,
                piece: placement.piece,
            };
            glommio::spawn_local(async move {
                let _ = store.delete(id).await;
            })
            .detach();
        }
    }
}

fn random_below(bound: u32) -> u32 {
    let mut bytes = [0u8; 4];
    entropy::fill(&mut bytes);
    u32::from_le_bytes(bytes) % bound.max(1)
}
