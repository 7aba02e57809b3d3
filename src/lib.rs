//! ringgate: an S3-compatible storage gateway that encrypts, erasure codes and
//! spreads every object over piece stores. See ARCHITECTURE.md for the map.

pub mod object;
pub mod pieces;
pub mod pipeline;
