//! `ServeError`: why the gateway could not start or keep serving. Its own
//! file because start-up (`bootstrap`), the orphan sweep (`gc`) and the
//! process (`runtime`) all return it.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("data folder {path}: {source}")]
    Data {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Meta(#[from] crate::meta::MetaError),
    #[error("tls: {0}")]
    Tls(String),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("piece store {0}")]
    Store(String),
    #[error("{0}")]
    Stores(#[from] crate::cluster::identity::StoreIdentityError),
    #[error("cluster key {path}: {reason}")]
    ClusterKey { path: String, reason: String },
    #[error("signals: {0}")]
    Signals(std::io::Error),
    #[error("core {core}: {reason}")]
    Core { core: usize, reason: String },
}
