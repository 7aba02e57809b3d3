//! ringgate: an S3-compatible storage gateway that encrypts, erasure codes and
//! spreads every object over piece stores. See ARCHITECTURE.md for the map.

pub mod auth;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod entropy;
pub mod http;
pub mod logging;
pub mod meta;
pub mod metrics;
pub mod node;
pub mod object_io;
pub mod operation;
pub mod pieces;
pub mod pipeline;
pub mod registry;
pub mod repair;
pub mod runtime;
pub mod s3;
pub mod shutdown;
pub mod sigv4;
pub mod target;
