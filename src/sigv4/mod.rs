//! AWS Signature Version 4 for S3: request times, Authorization header and
//! presigned-query parsing, canonical requests, signing keys, verification,
//! chunk and trailer signatures, and the client-side signer that reuses the
//! same canonicalisation. Pure code over bytes: no I/O, no glommio.
//!
//! Server flow, one function per step:
//!
//! 1. [`request_authorization`] finds the Authorization header or the presigned
//!    query and parses it into an [`Authorization`] (`None`: anonymous).
//! 2. The caller checks [`Authorization::check_region`], looks up the secret for
//!    `access_key_id` and derives (or takes from its cache) a [`SigningKey`] with
//!    [`signing_key`] for the scope's date and region.
//! 3. [`verify_request`] checks the time window, that every `x-amz-*` header is
//!    signed, builds the [`canonical_request`] and [`string_to_sign`], and
//!    compares signatures in constant time. Only it builds a [`Verified`].
//! 4. For `aws-chunked` bodies, [`Verified::chunk_signer`] seeds a
//!    [`ChunkSigner`] with the request's signature; the body decoder feeds it
//!    each chunk's SHA-256 and the raw trailer bytes.
//!
//! The client side ([`RequestSigner`]) signs and presigns through the same
//! canonicalisation code, so a disagreement between the two is impossible by
//! construction and the AWS test vectors check both at once.

mod auth;
mod canonical;
mod chunk;
mod client;
mod constants;
mod date;
mod error;
pub mod fuzz;
mod key;
mod payload;
mod request;
#[cfg(test)]
mod tests;
mod text;
mod verify;

pub use auth::{
    parse_authorization, parse_presigned, request_authorization, Authorization, HeaderAuth, Scope,
    SignedHeaders,
};
pub use canonical::{
    canonical_query, canonical_request, canonical_uri, string_to_sign, uri_encode, CanonicalRequest,
};
pub use chunk::{canonical_trailer, ChunkSigner};
pub use client::{RequestSigner, SignedRequest};
pub use constants::{
    ALGORITHM, CLOCK_SKEW_SECS_MAX, EMPTY_SHA256_HEX, PRESIGNED_EXPIRES_SECS_MAX, SCOPE_TERMINATOR,
    SERVICE,
};
pub use date::{AmzDateTime, InvalidDate};
pub use error::{Malformed, SigV4Error};
pub use key::{sign, signing_key, verify, SigningKey};
pub use payload::PayloadHash;
pub use request::RequestParts;
pub use text::{signature_from_hex, signature_hex};
pub use verify::{verify_request, verify_request_owned, Verified};
