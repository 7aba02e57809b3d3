//! The piece stores a gateway writes to and reads from: local directories and
//! storage nodes, each known by a stable id that placements name.
//!
//! - `identity`: who the stores are. Start-up matches the configured stores to
//!   the `stores` table of the metadata (a local directory by the id file
//!   inside it, a node by its address), registers new ones, and keeps stores
//!   that left the configuration as known but unreachable, so their pieces
//!   count as lost and repair moves them.
//! - [`StoreTable`]: what every core shares about the stores, read-mostly:
//!   ids, locations, failure domains and health (atomics, written by the
//!   health checker and by transfers that fail).
//! - [`StoreSet`]: one core's handles to the stores, by id, and placement.
//! - `placement`: choosing n distinct stores for a segment (pure).
//! - `health`: pinging nodes and measuring local free space, on core 0.

pub mod health;
pub mod identity;
pub mod placement;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::entropy;
use crate::pieces::wire::ClusterKey;
use crate::pieces::{LocalStore, PieceStore, RemoteConfig, RemoteStore, StoreError};

pub use placement::StoreId;

/// Where a store is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    Local(PathBuf),
    /// A storage node, and the name its node key was issued for.
    Node {
        addr: SocketAddr,
        name: String,
    },
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Local(path) => write!(f, "{}", path.display()),
            StoreLocation::Node { addr, .. } => write!(f, "node {addr}"),
        }
    }
}

/// Health checks that must fail in a row before a store counts as down.
pub const CHECKS_FAILED_FOR_DOWN: u32 = 2;

/// What the gateway last learnt of a store's health. Written by the health
/// checker (core 0) and by any core whose transfer to the store failed; read
/// by every core when it places or reads pieces.
#[derive(Debug)]
pub struct StoreHealth {
    alive: AtomicBool,
    /// Unix ms since the store has been unreachable (0 while alive).
    down_since_ms: AtomicU64,
    free_bytes: AtomicU64,
    capacity_bytes: AtomicU64,
    /// Consecutive failed checks.
    failures: AtomicU32,
}

impl Default for StoreHealth {
    fn default() -> Self {
        Self {
            // Innocent until a check or a transfer says otherwise.
            alive: AtomicBool::new(true),
            down_since_ms: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
            capacity_bytes: AtomicU64::new(0),
            failures: AtomicU32::new(0),
        }
    }
}

impl StoreHealth {
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    /// How long the store has been unreachable, if it is.
    pub fn down_for(&self, now_ms: u64) -> Option<Duration> {
        let since = self.down_since_ms.load(Ordering::Relaxed);
        (!self.is_alive() && since > 0).then(|| Duration::from_millis(now_ms.saturating_sub(since)))
    }

    /// Free bytes at the last check (0: not known yet).
    pub fn free_bytes(&self) -> u64 {
        self.free_bytes.load(Ordering::Relaxed)
    }

    /// Free bytes, if a check has measured them.
    pub fn free_bytes_known(&self) -> Option<u64> {
        (self.capacity_bytes() > 0).then(|| self.free_bytes())
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes.load(Ordering::Relaxed)
    }

    /// A check or transfer succeeded.
    pub fn mark_up(&self, free_bytes: u64, capacity_bytes: u64) {
        self.free_bytes.store(free_bytes, Ordering::Relaxed);
        self.capacity_bytes.store(capacity_bytes, Ordering::Relaxed);
        self.failures.store(0, Ordering::Relaxed);
        self.down_since_ms.store(0, Ordering::Relaxed);
        self.alive.store(true, Ordering::Relaxed);
    }

    /// A transfer failed in a way that says the store is unreachable (refused,
    /// reset, or no progress for the I/O timeout): down at once.
    pub fn mark_down(&self, now_ms: u64) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if self.alive.swap(false, Ordering::Relaxed) {
            self.down_since_ms.store(now_ms.max(1), Ordering::Relaxed);
        }
    }

    /// A health check got no answer. One slow answer from a busy node is not
    /// a death: down after [`CHECKS_FAILED_FOR_DOWN`] in a row.
    pub fn check_failed(&self, now_ms: u64) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= CHECKS_FAILED_FOR_DOWN && self.alive.swap(false, Ordering::Relaxed) {
            self.down_since_ms.store(now_ms.max(1), Ordering::Relaxed);
        }
    }
}

/// One store as every core sees it.
#[derive(Debug)]
pub struct StoreInfo {
    pub id: StoreId,
    /// `None`: known from the metadata but not configured in this run; its
    /// pieces cannot be reached.
    pub location: Option<StoreLocation>,
    /// Where it was last configured (for a store not configured now).
    pub last_location: String,
    pub domain: Option<String>,
    pub health: StoreHealth,
}

impl StoreInfo {
    pub fn is_node(&self) -> bool {
        matches!(self.location, Some(StoreLocation::Node { .. }))
    }
}

/// Every store the gateway knows, indexed by id; shared by all cores.
#[derive(Debug)]
pub struct StoreTable {
    stores: Vec<Option<StoreInfo>>,
}

impl StoreTable {
    pub fn new(stores: Vec<StoreInfo>) -> Self {
        let len = stores.iter().map(|s| s.id as usize + 1).max().unwrap_or(0);
        let mut table: Vec<Option<StoreInfo>> = (0..len).map(|_| None).collect();
        for store in stores {
            let at = store.id as usize;
            table[at] = Some(store);
        }
        Self { stores: table }
    }

    pub fn get(&self, id: StoreId) -> Option<&StoreInfo> {
        self.stores.get(id as usize).and_then(Option::as_ref)
    }

    pub fn iter(&self) -> impl Iterator<Item = &StoreInfo> {
        self.stores.iter().flatten()
    }
}

/// One core's handles to the stores, by id, over the shared [`StoreTable`].
pub struct StoreSet {
    table: Arc<StoreTable>,
    handles: Vec<Option<Rc<dyn PieceStore>>>,
}

impl StoreSet {
    /// Opens this core's handle to every configured store: a `LocalStore` per
    /// directory, a `RemoteStore` (with this core's connection pool) per node.
    /// Must run on a glommio executor.
    pub async fn open(
        table: Arc<StoreTable>,
        key: Option<Arc<ClusterKey>>,
        remote: &RemoteConfig,
    ) -> Result<StoreSet, StoreError> {
        let mut handles: Vec<Option<Rc<dyn PieceStore>>> = Vec::new();
        for info in table.iter() {
            let handle: Option<Rc<dyn PieceStore>> = match &info.location {
                None => None,
                Some(StoreLocation::Local(dir)) => Some(Rc::new(LocalStore::open(dir).await?)),
                Some(StoreLocation::Node { addr, name }) => {
                    let key = key
                        .as_ref()
                        .expect("a cluster key whenever nodes are configured")
                        .node_key(name);
                    Some(Rc::new(RemoteStore::new(
                        *addr,
                        Arc::new(key),
                        remote.clone(),
                    )))
                }
            };
            let at = info.id as usize;
            if handles.len() <= at {
                handles.resize_with(at + 1, || None);
            }
            handles[at] = handle;
        }
        Ok(Self { table, handles })
    }

    /// A set of stores with ids 0, 1, … in order, all configured (tests, tools).
    pub fn from_stores(stores: Vec<Rc<dyn PieceStore>>) -> Self {
        let infos = stores
            .iter()
            .enumerate()
            .map(|(i, store)| StoreInfo {
                id: i as StoreId,
                location: Some(StoreLocation::Local(PathBuf::from(store.name()))),
                last_location: store.name().to_string(),
                domain: None,
                health: StoreHealth::default(),
            })
            .collect();
        Self {
            table: Arc::new(StoreTable::new(infos)),
            handles: stores.into_iter().map(Some).collect(),
        }
    }

    pub fn table(&self) -> &Arc<StoreTable> {
        &self.table
    }

    /// The handle of store `id`, if it is configured in this run.
    pub fn get(&self, id: StoreId) -> Option<&Rc<dyn PieceStore>> {
        self.handles.get(id as usize).and_then(Option::as_ref)
    }

    /// Configured stores, with their ids.
    pub fn handles(&self) -> impl Iterator<Item = (StoreId, &Rc<dyn PieceStore>)> {
        self.handles
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|h| (i as StoreId, h)))
    }

    pub fn configured_count(&self) -> usize {
        self.handles.iter().flatten().count()
    }

    /// Whether store `id` is configured and not known to be down.
    pub fn is_alive(&self, id: StoreId) -> bool {
        self.get(id).is_some() && self.table.get(id).is_some_and(|s| s.health.is_alive())
    }

    /// Up to `count` distinct live stores for the pieces of a segment, none in
    /// `exclude`: domains spread, free space weighted (see `placement`).
    pub fn place(&self, count: usize, exclude: &[StoreId]) -> Vec<StoreId> {
        self.choose(count, exclude, &[], true)
    }

    /// New stores for `count` more pieces of a segment whose pieces are on
    /// `held`: live, none of `exclude`, spreading over the domains `held`
    /// lacks first.
    pub fn place_more(&self, count: usize, exclude: &[StoreId], held: &[StoreId]) -> Vec<StoreId> {
        self.choose(count, exclude, held, true)
    }

    /// Like [`Self::place`], but with fewer than `at_least` live stores, stores
    /// marked down are tried too rather than failing at once: health is a
    /// guess (a node that was busy when checked looks dead), and a write to a
    /// store that is really down fails fast.
    pub fn place_at_least(&self, count: usize, at_least: usize) -> Vec<StoreId> {
        let live = self.place(count, &[]);
        if live.len() >= at_least {
            return live;
        }
        let mut chosen = live.clone();
        chosen.extend(self.choose(count - live.len(), &live, &live, false));
        chosen
    }

    fn choose(
        &self,
        count: usize,
        exclude: &[StoreId],
        held: &[StoreId],
        live_only: bool,
    ) -> Vec<StoreId> {
        let held_domains: Vec<&str> = held
            .iter()
            .filter_map(|id| self.table.get(*id)?.domain.as_deref())
            .collect();
        let candidates: Vec<placement::Candidate<'_>> = self
            .handles()
            .filter(|(id, _)| !exclude.contains(id))
            .filter_map(|(id, _)| self.table.get(id))
            .filter(|info| !live_only || info.health.is_alive())
            .map(|info| placement::Candidate {
                id: info.id,
                domain: info.domain.as_deref(),
                free_bytes: info.health.free_bytes_known(),
            })
            .collect();
        let mut seed = [0u8; 8];
        entropy::fill(&mut seed);
        placement::choose(&candidates, count, &held_domains, u64::from_le_bytes(seed))
    }

    /// Notes a failed transfer: an error that says the store cannot be
    /// reached marks it down until the health checker hears from it again.
    pub fn report(&self, id: StoreId, error: &StoreError) {
        if is_unreachable(error) {
            if let Some(info) = self.table.get(id).filter(|i| i.is_node()) {
                info.health.mark_down(crate::clock::unix_now_ms());
            }
        }
    }
}

/// Whether an error from a store says it could not be reached at all (rather
/// than that one piece is missing or damaged).
pub fn is_unreachable(error: &StoreError) -> bool {
    matches!(error, StoreError::Timeout { .. } | StoreError::Io { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_must_fail_twice_a_transfer_once() {
        let health = StoreHealth::default();
        assert!(health.is_alive());
        health.check_failed(1_000);
        assert!(health.is_alive(), "one slow answer is not a death");
        health.check_failed(2_000);
        assert!(!health.is_alive());
        assert_eq!(health.down_for(5_000), Some(Duration::from_secs(3)));
        health.mark_up(10, 20);
        assert!(health.is_alive());
        assert_eq!(health.down_for(6_000), None);
        assert_eq!((health.free_bytes(), health.capacity_bytes()), (10, 20));
        // A refused connection needs no second opinion, and a check that
        // succeeds in between resets the count.
        health.check_failed(7_000);
        health.mark_up(10, 20);
        health.check_failed(8_000);
        assert!(health.is_alive());
        health.mark_down(9_000);
        assert!(!health.is_alive());
        assert_eq!(health.down_for(9_500), Some(Duration::from_millis(500)));
    }
}
