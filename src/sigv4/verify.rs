//! Server-side verification: a request checked against its parsed
//! authorization, and `Verified`, the proof that it was.

use super::auth::{Authorization, Scope};
use super::canonical::{canonical_request, string_to_sign};
use super::chunk::ChunkSigner;
use super::date::AmzDateTime;
use super::error::SigV4Error;
use super::key::{mac_matches, SigningKey};
use super::payload::PayloadHash;
use super::request::RequestParts;

/// A request whose signature checked out, within its time window. Only
/// [`verify_request`] makes one, so holding one proves the check was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    access_key_id: String,
    scope: Scope,
    datetime: AmzDateTime,
    payload: PayloadHash,
    signature: [u8; 32],
    security_token: Option<String>,
    presigned: bool,
}

impl Verified {
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn datetime(&self) -> AmzDateTime {
        self.datetime
    }

    /// What the body must satisfy: a digest to check once read, or the
    /// aws-chunked mode to decode with.
    pub fn payload(&self) -> &PayloadHash {
        &self.payload
    }

    /// The request's signature: the seed of its chunk signatures.
    pub fn signature(&self) -> &[u8; 32] {
        &self.signature
    }

    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    pub fn is_presigned(&self) -> bool {
        self.presigned
    }

    /// The chain that checks this request's chunk (and trailer) signatures,
    /// seeded with its signature; `None` unless the payload mode signs chunks.
    /// `key` is the key this request verified with.
    pub fn chunk_signer(&self, key: SigningKey) -> Option<ChunkSigner> {
        self.payload
            .has_chunk_signatures()
            .then(|| ChunkSigner::new(key, self.datetime, &self.scope, self.signature))
    }
}

/// Checks a request against its parsed authorization, in S3's order: the
/// time window (at `now_unix`), unsigned `x-amz-*` headers, the payload mode,
/// then the signature over the canonical request. A mismatch carries the
/// canonical request and string to sign for the `SignatureDoesNotMatch` body.
/// The caller has checked the region and derived `key` for `auth.scope`.
pub fn verify_request(
    parts: &RequestParts,
    auth: &Authorization,
    key: &SigningKey,
    now_unix: i64,
) -> Result<Verified, SigV4Error> {
    verify_request_owned(parts, auth.clone(), key, now_unix)
}

/// [`verify_request`] for a caller done with `auth`: the [`Verified`] takes
/// its strings instead of copies (the server's request path).
pub fn verify_request_owned(
    parts: &RequestParts,
    auth: Authorization,
    key: &SigningKey,
    now_unix: i64,
) -> Result<Verified, SigV4Error> {
    auth.check_time(now_unix)?;
    auth.check_headers_signed(parts.headers)?;
    let payload = auth.payload_hash(parts)?;
    let canonical = canonical_request(parts, &auth, &payload);
    let to_sign = string_to_sign(auth.datetime, &auth.scope, &canonical);
    if !mac_matches(key, to_sign.as_bytes(), &auth.signature) {
        return Err(SigV4Error::SignatureDoesNotMatch {
            canonical_request: Some(canonical.to_string()),
            string_to_sign: to_sign,
        });
    }
    let presigned = auth.is_presigned();
    Ok(Verified {
        access_key_id: auth.access_key_id,
        scope: auth.scope,
        datetime: auth.datetime,
        payload,
        signature: auth.signature,
        security_token: auth.security_token,
        presigned,
    })
}
