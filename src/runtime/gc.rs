//! Garbage collection of pieces no object references. Two sources: segments
//! released by overwrites, deletes and aborted uploads (the metadata's GC
//! queue, durable, drained by a background task on core 0 after a grace delay
//! so reads that started before the release can finish), and pieces left by a
//! crash between writing pieces and committing metadata (the start-up sweep:
//! before any core accepts a request, every piece whose segment the metadata
//! does not know is an orphan).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::ServeError;
use crate::cluster::{StoreSet, StoreTable};
use crate::meta::{Meta, Mutation};
use crate::pieces::wire::ClusterKey;
use crate::pieces::{PieceId, RemoteConfig, SegmentId};
use crate::shutdown::ShutdownSignal;

/// How often the collector looks at the GC queue.
const COLLECT_INTERVAL: Duration = Duration::from_secs(1);
/// Segments handled per pass.
const SEGMENTS_PER_PASS_MAX: usize = 512;

/// Deletes every piece whose segment the metadata does not reference, on
/// every configured store. Runs before the cores start, so no upload of this
/// gateway can be in flight (a cluster of nodes has one gateway: the metadata
/// is one process's file). A node that cannot be reached is skipped with a
/// warning; its orphans go at a later start.
pub fn sweep_orphans(
    meta: &Meta,
    table: Arc<StoreTable>,
    key: Option<Arc<ClusterKey>>,
) -> Result<usize, ServeError> {
    let referenced: HashSet<SegmentId> =
        meta.backend().referenced_segments()?.into_iter().collect();
    let swept = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name("ringgate-sweep")
        .spawn(move || async move {
            let stores = StoreSet::open(table, key, &RemoteConfig::default())
                .await
                .map_err(|e| ServeError::Store(e.to_string()))?;
            let mut swept = 0usize;
            for (id, store) in stores.handles() {
                let is_node = stores.table().get(id).is_some_and(|s| s.is_node());
                let pieces = match store.list().await {
                    Ok(pieces) => pieces,
                    Err(e) if is_node => {
                        tracing::warn!(store = store.name(), "orphan sweep skips the store: {e}");
                        continue;
                    }
                    Err(e) => return Err(ServeError::Store(e.to_string())),
                };
                for piece in pieces {
                    if !referenced.contains(&piece.segment) {
                        match store.delete(piece).await {
                            Ok(()) => swept += 1,
                            Err(e) if is_node => {
                                tracing::warn!(store = store.name(), "orphan sweep: {e}");
                                break;
                            }
                            Err(e) => return Err(ServeError::Store(e.to_string())),
                        }
                    }
                }
            }
            Ok::<usize, ServeError>(swept)
        })
        .map_err(|e| ServeError::Core {
            core: 0,
            reason: format!("sweep executor: {e}"),
        })?
        .join()
        .map_err(|e| ServeError::Core {
            core: 0,
            reason: format!("sweep executor: {e}"),
        })??;
    Ok(swept)
}

/// Starts the collector on this core, in a task queue with few shares so it
/// yields to requests.
pub fn spawn_collector(
    meta: Meta,
    stores: Rc<StoreSet>,
    delay: Duration,
    shutdown: Rc<ShutdownSignal>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) {
    let queue = glommio::executor().create_task_queue(
        glommio::Shares::Static(50),
        glommio::Latency::NotImportant,
        "gc",
    );
    let task = glommio::spawn_local_into(
        async move {
            let mut first_seen: HashMap<SegmentId, Instant> = HashMap::new();
            let mut cursor = None;
            while !shutdown.is_triggered() {
                let sleep = glommio::timer::sleep(COLLECT_INTERVAL);
                futures_lite::future::or(sleep, shutdown.wait()).await;
                if shutdown.is_triggered() {
                    break;
                }
                match collect(&meta, &stores, delay, &mut first_seen, &mut cursor).await {
                    Ok(deleted) => {
                        if deleted > 0 {
                            tracing::info!(segments = deleted, "gc: deleted released segments");
                        }
                        crate::metrics::CoreMetrics::add(
                            &metrics.core(0).gc_segments_deleted,
                            deleted as u64,
                        )
                    }
                    Err(e) => tracing::error!("gc: {e}"),
                }
            }
        },
        queue,
    );
    if let Ok(task) = task {
        task.detach();
    }
}

/// One pass over the next page of the queue (after `cursor`, wrapping at the
/// end): deletes the pieces of segments released at least `delay` ago. A
/// piece on a store marked down is left for a later pass (without waiting for
/// the store's timeouts); one on a store no longer configured cannot be
/// reached and is given up (the start-up sweep deletes it if the store comes
/// back).
async fn collect(
    meta: &Meta,
    stores: &StoreSet,
    delay: Duration,
    first_seen: &mut HashMap<SegmentId, Instant>,
    cursor: &mut Option<SegmentId>,
) -> Result<usize, String> {
    let pending = meta
        .gc_pending_after(*cursor, SEGMENTS_PER_PASS_MAX)
        .await
        .map_err(|e| e.to_string())?;
    *cursor = match pending.last() {
        Some(last) if pending.len() == SEGMENTS_PER_PASS_MAX => Some(last.segment),
        _ => None,
    };
    let now = Instant::now();
    let mut done = Vec::new();
    for entry in pending {
        let seen = *first_seen.entry(entry.segment).or_insert(now);
        if now.duration_since(seen) < delay {
            continue;
        }
        let mut all_deleted = true;
        for placement in &entry.info.pieces {
            let Some(store) = stores.get(placement.store) else {
                continue;
            };
            if !stores.is_alive(placement.store) {
                all_deleted = false;
                continue;
            }
            let piece = PieceId {
                segment: entry.segment,
                piece: placement.piece,
            };
            if store.delete(piece).await.is_err() {
                all_deleted = false;
            }
        }
        if all_deleted {
            done.push(entry.segment);
        }
    }
    let deleted = done.len();
    if !done.is_empty() {
        for id in &done {
            first_seen.remove(id);
        }
        meta.commit(Mutation::GcDone(done))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(deleted)
}
