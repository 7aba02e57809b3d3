//! Start-up: the configured stores matched to the metadata's `stores` table.
//!
//! A local directory is known by the random id in its `store-id` file
//! (written when the directory is first used), so the data folder can move
//! and `--stores` can be reordered without losing track of a piece. A node is
//! known by its address. A configured store that the table does not know gets
//! the next free id; on a database from before the table existed, ids are
//! handed out in configuration order, which is what placements meant then.
//! Runs once, before the executors start: it may block.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{StoreHealth, StoreId, StoreInfo, StoreLocation, StoreTable};
use crate::config::NodeSpec;
use crate::meta::{Meta, MetaError, Mutation, StoreRecord};

/// The file inside a local store's directory that names it.
pub const STORE_ID_FILE: &str = "store-id";

#[derive(Debug, thiserror::Error)]
pub enum StoreIdentityError {
    #[error("store {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("store {path}: {reason}")]
    BadIdFile { path: String, reason: String },
    #[error("{0}")]
    Meta(#[from] MetaError),
    #[error("{0} is configured twice")]
    Duplicate(String),
    #[error(
        "this database predates store ids: its pieces are on the first {needed} --stores \
         directories, in order, but {given} are configured; list them (nodes may follow)"
    )]
    UnregisteredStores { needed: usize, given: usize },
}

/// A store as configured: where it is and what makes it the same store later.
struct Configured {
    identity: String,
    location: StoreLocation,
    domain: Option<String>,
}

/// Reads (or creates) the id file of a local store directory.
pub fn local_identity(dir: &Path) -> Result<String, StoreIdentityError> {
    let io = |source| StoreIdentityError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = dir.join(STORE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            let valid = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(StoreIdentityError::BadIdFile {
                    path: path.display().to_string(),
                    reason: "expected 32 hex digits".into(),
                });
            }
            Ok(format!("local:{}", id.to_ascii_lowercase()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut id = [0u8; 16];
            crate::entropy::fill(&mut id);
            let id = crate::pipeline::checksum::hex(&id);
            // Written whole and synced before use: a half-written id file
            // would make the store a stranger on the next start.
            let temp = dir.join(format!("{STORE_ID_FILE}.tmp"));
            let mut file = std::fs::File::create(&temp).map_err(io)?;
            file.write_all(format!("{id}\n").as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            std::fs::rename(&temp, &path).map_err(io)?;
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
            Ok(format!("local:{id}"))
        }
        Err(e) => Err(io(e)),
    }
}

/// The highest store any segment names, by walking every segment (done once,
/// on the first start of a database from before the `stores` table).
fn highest_placed_store(meta: &Meta) -> Result<Option<StoreId>, StoreIdentityError> {
    let mut highest = None;
    let mut after = None;
    loop {
        let page = meta.backend().segments_after(after, 4096)?;
        let Some(last) = page.last() else {
            return Ok(highest);
        };
        after = Some(last.0);
        for (_, info) in &page {
            for placement in &info.pieces {
                highest = highest.max(Some(placement.store));
            }
        }
    }
}

/// The configured stores with their identities; `Duplicate` if one is
/// configured twice.
fn configured(
    local: &[PathBuf],
    nodes: &[NodeSpec],
) -> Result<Vec<Configured>, StoreIdentityError> {
    let mut configured = Vec::with_capacity(local.len() + nodes.len());
    for dir in local {
        configured.push(Configured {
            identity: local_identity(dir)?,
            location: StoreLocation::Local(dir.clone()),
            domain: None,
        });
    }
    for node in nodes {
        configured.push(Configured {
            identity: format!("node:{}", node.addr),
            location: StoreLocation::Node {
                addr: node.addr,
                name: node.name.clone(),
            },
            domain: node.domain.clone(),
        });
    }
    for (i, a) in configured.iter().enumerate() {
        if configured[..i].iter().any(|b| b.identity == a.identity) {
            return Err(StoreIdentityError::Duplicate(a.location.to_string()));
        }
    }
    Ok(configured)
}

/// Matches `local` directories and `nodes` with the registered stores,
/// registers what is new or changed, and returns the table every core shares.
pub fn register(
    meta: &Meta,
    local: &[PathBuf],
    nodes: &[NodeSpec],
) -> Result<StoreTable, StoreIdentityError> {
    let configured = configured(local, nodes)?;
    let mut records = meta.backend().stores()?;
    if records.is_empty() {
        // Placements written before the table existed name positions in
        // --stores: those directories must come first, in the same order.
        if let Some(max) = highest_placed_store(meta)? {
            let needed = max as usize + 1;
            if local.len() < needed {
                return Err(StoreIdentityError::UnregisteredStores {
                    needed,
                    given: local.len(),
                });
            }
        }
    }
    let mut next_id: StoreId = records.iter().map(|r| r.id + 1).max().unwrap_or(0);
    let mut infos = Vec::new();
    let now = crate::clock::unix_now_ms();
    for store in configured {
        let location_text = match &store.location {
            StoreLocation::Local(path) => path.display().to_string(),
            StoreLocation::Node { addr, .. } => addr.to_string(),
        };
        let known = records.iter().position(|r| r.identity == store.identity);
        let (record, changed) = match known {
            Some(at) => {
                let old = records.swap_remove(at);
                let record = StoreRecord {
                    location: location_text,
                    domain: store.domain.clone(),
                    ..old.clone()
                };
                let changed = record != old;
                (record, changed)
            }
            None => {
                let id = next_id;
                next_id += 1;
                let record = StoreRecord {
                    id,
                    identity: store.identity.clone(),
                    location: location_text,
                    domain: store.domain.clone(),
                    added_ms: now,
                };
                (record, true)
            }
        };
        if changed {
            meta.commit_handle()
                .commit_blocking(Mutation::PutStore(record.clone()))?;
        }
        infos.push(StoreInfo {
            id: record.id,
            location: Some(store.location),
            last_location: record.location,
            domain: record.domain,
            health: StoreHealth::default(),
        });
    }
    // Known but not configured now: their pieces are out of reach.
    for record in records {
        let health = StoreHealth::default();
        health.mark_down(now);
        infos.push(StoreInfo {
            id: record.id,
            location: None,
            last_location: record.location,
            domain: record.domain,
            health,
        });
    }
    Ok(StoreTable::new(infos))
}
