//! Health checks: every configured store is asked for its free space (for a
//! node, a signed PING on the node protocol) at once; an answer marks it up
//! with its free space, an error or no answer within the timeout twice in a
//! row marks it down. The runtime calls [`check_all`] on core 0 every `health_interval`;
//! between checks, a transfer that finds a node unreachable marks it down at
//! once (`StoreSet::report`), and only a check brings it back.

use std::time::Duration;

use super::{unix_now_ms, StoreId, StoreSet};
use crate::pieces::StoreError;

/// What one round of checks found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckRound {
    pub up: Vec<StoreId>,
    pub down: Vec<(StoreId, String)>,
}

/// Checks every configured store in parallel and records the answers.
pub async fn check_all(stores: &StoreSet, timeout: Duration) -> CheckRound {
    let mut race = crate::pieces::race::Race::default();
    for (id, handle) in stores.handles() {
        let handle = handle.clone();
        race.push(id as usize, async move {
            match glommio::timer::timeout(timeout, async {
                Ok(handle.space().await.map_err(|e| e.to_string()))
            })
            .await
            {
                Ok(answer) => answer,
                Err(_) => Err(format!("no answer within {timeout:?}")),
            }
        });
    }
    let mut round = CheckRound::default();
    while let Some((id, answer)) = race.next().await {
        let id = id as StoreId;
        let Some(info) = stores.table().get(id) else {
            continue;
        };
        match answer {
            Ok(space) => {
                info.health.mark_up(space.free_bytes, space.capacity_bytes);
                round.up.push(id);
            }
            Err(reason) => {
                info.health.check_failed(unix_now_ms());
                round.down.push((id, reason));
            }
        }
    }
    round.up.sort_unstable();
    round.down.sort_unstable();
    round
}

/// Whether an error from a store says it could not be reached at all (rather
/// than that one piece is missing or damaged).
pub fn is_unreachable(error: &StoreError) -> bool {
    matches!(error, StoreError::Timeout { .. } | StoreError::Io { .. })
}
