//! The S3 surface: operations and routing, S3 error codes, names, XML bodies.
//!
//! The protocol half is pure code (no I/O, no glommio) so it can be tested and
//! fuzzed without a reactor:
//! - `route`: `Operation`, one variant per supported operation, and `route`,
//!   the one function from method, path, query and host to an operation;
//! - `error`: the S3 error table (code → HTTP status → default message) and
//!   `S3Error`, the error document every handler returns;
//! - `names`: bucket-name and key rules, the user-metadata size limit;
//! - `xml`: request-body parsers and response-body writers.
//!
//! Handlers, grouped per operation family, live beside these files.

pub mod error;
pub mod names;
pub mod route;
pub mod xml;
