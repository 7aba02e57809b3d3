//! Health checks: every configured store is asked for its free space (for a
//! node, a signed PING on the node protocol) at once; an answer marks it up
//! with its free space, an error or no answer within the timeout twice in a
//! row marks it down. The runtime calls [`check_all`] on core 0 every `health_interval`;
//! between checks, a transfer that finds a node unreachable marks it down at
//! once (`StoreSet::report`), and only a check brings it back.

use std::time::Duration;

use super::{StoreId, StoreSet};
use crate::clock::unix_now_ms;

/// Checks every configured store in parallel and records the answers.
pub async fn check_all(stores: &StoreSet, timeout: Duration) {
    let mut race = crate::pieces::race::Race::default();
    for (id, handle) in stores.handles() {
        let handle = handle.clone();
        // `None`: an error, or no answer within the timeout.
        race.push(id as usize, async move {
            glommio::timer::timeout(timeout, async { Ok(handle.space().await.ok()) })
                .await
                .ok()
                .flatten()
        });
    }
    while let Some((id, answer)) = race.next().await {
        let id = id as StoreId;
        let Some(info) = stores.table().get(id) else {
            continue;
        };
        let was_alive = info.health.is_alive();
        match answer {
            Some(space) => info.health.mark_up(space.free_bytes, space.capacity_bytes),
            None => info.health.check_failed(unix_now_ms()),
        }
        match (was_alive, info.health.is_alive()) {
            (false, true) => tracing::info!(store = id, at = %info.last_location, "store up"),
            (true, false) => tracing::warn!(store = id, at = %info.last_location, "store down"),
            _ => {}
        }
    }
}
