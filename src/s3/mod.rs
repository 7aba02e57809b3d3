//! The S3 surface: operations and routing, S3 error codes, names, XML bodies.
//!
//! The protocol half is pure code (no I/O, no glommio) so it can be tested and
//! fuzzed without a reactor:
//! - `route`: `Operation`, one variant per supported operation, and `route`,
//!   the one function from method, path, query and host to an operation;
//! - `error`: the S3 error table (code → HTTP status → default message) and
//!   `S3Error`, the error document every handler returns;
//! - `names`: bucket-name and key rules, the user-metadata size limit;
//! - `xml`: request-body parsers and response-body writers;
//! - `fuzz`: `fuzz_*` entry points for the XML parsers and `route`.
//!
//! The service half does I/O through the connection's `Exchange` and the
//! metadata facade:
//! - `gateway`: one core's service state (`Gateway`) and the routed,
//!   authenticated `Request` handlers see;
//! - `service`: the request loop: route, authenticate, authorize, dispatch
//!   to a handler, render errors; the only file that knows every handler;
//! - `access`: the access log, one line per request (project, never the
//!   access key id; the object key as its length and a keyed hash);
//! - `authn`: SigV4 verification and the per-core grant cache;
//! - `authz`: what the caller's grant allows, per operation;
//! - `payload`: the request body as signed (aws-chunked, chunk signatures,
//!   trailers, payload hashes) and the digest claims checked against it;
//! - `map`: the one place other layers' errors become S3 errors;
//! - `extents`: content keys wrapped, unwrapped and rewrapped per object;
//! - `register`: `POST /v1/access`, a grant registered as S3 credentials;
//! - `write`: the write path's failure protocol: commit the record naming
//!   new pieces, or clean them up (failures to the GC queue);
//! - shared by the handlers, below all of them: `common` (ETag arithmetic,
//!   part checksums, the listing owner), `headers` (object headers in and
//!   out, read and write conditions), `body` (small XML bodies read whole,
//!   object bodies received onto pieces);
//! - handlers per operation family: `bucket`, `list`, `object`, `copy`,
//!   `multipart`, `object_lock`, `object_tagging`, `object_attributes`;
//! - `bucket_config`: the bucket configuration families, one pure file each
//!   (`tagging`, `encryption`), and the Get/Put/Delete handlers they share.

pub mod access;
pub mod authn;
pub mod authz;
pub mod body;
pub mod bucket;
pub mod bucket_config;
pub mod common;
pub mod copy;
pub mod error;
pub mod extents;
pub mod fuzz;
pub mod gateway;
pub mod headers;
pub mod list;
pub mod lock;
pub mod map;
pub mod multipart;
pub mod names;
pub mod object;
pub mod object_attributes;
pub mod object_lock;
pub mod object_tagging;
pub mod payload;
pub mod register;
pub mod route;
pub mod service;
pub mod versioning;
pub mod write;
pub mod xml;
