//! Request authentication: SigV4 over the request head, then the access record
//! the access key names, opened for this request only. A per-core cache keeps
//! sealed records (never opened ones) and remembers unknown keys for a while,
//! so a flood of bad keys does not reach the database.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::auth::{AccessKeyId, AccessRecord};
use crate::meta::{Meta, ProjectId};
use crate::metrics::CoreMetrics;
use crate::pipeline::RootKey;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::sigv4::{self, RequestParts, SigningKey, Verified};

/// Sealed records stay cached this long; a revoked key stops working within it.
const RECORD_TTL: Duration = Duration::from_secs(30);
/// Unknown keys are remembered this long.
const UNKNOWN_TTL: Duration = Duration::from_secs(5);
const RECORDS_CACHED_MAX: usize = 10_000;

/// Who sent a request, proven by its signature.
pub struct Caller {
    pub project: ProjectId,
    /// The project's root key, for wrapping and unwrapping content keys. Zeroed
    /// when the request ends and this value is dropped.
    pub root_key: RootKey,
    pub access_key: AccessKeyId,
    pub verified: Verified,
    /// The key that verified the request: it also checks aws-chunked signatures.
    pub signing_key: SigningKey,
}

struct Cached {
    /// `None`: the key is unknown.
    sealed: Option<Rc<[u8]>>,
    fetched: Instant,
}

/// One core's cache of sealed access records, keyed by SHA-256 of the access key.
#[derive(Default)]
pub struct RecordCache {
    entries: RefCell<HashMap<[u8; 32], Cached>>,
}

impl RecordCache {
    async fn sealed_record(
        &self,
        meta: &Meta,
        counters: &CoreMetrics,
        id: &AccessKeyId,
    ) -> Result<Option<Rc<[u8]>>, S3Error> {
        let row = id.row_key();
        if let Some(hit) = self.entries.borrow().get(&row) {
            let ttl = if hit.sealed.is_some() {
                RECORD_TTL
            } else {
                UNKNOWN_TTL
            };
            if hit.fetched.elapsed() < ttl {
                CoreMetrics::add(&counters.record_cache_hits, 1);
                return Ok(hit.sealed.clone());
            }
        }
        CoreMetrics::add(&counters.record_cache_misses, 1);
        let sealed: Option<Rc<[u8]>> = meta
            .access(row)
            .await
            .map_err(crate::s3::map::meta_error)?
            .map(Rc::from);
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= RECORDS_CACHED_MAX {
            // Expired entries go first; if none, the cache starts over: a
            // simple bound that keeps a flood of keys from growing it.
            entries.retain(|_, e| e.fetched.elapsed() < RECORD_TTL);
            if entries.len() >= RECORDS_CACHED_MAX {
                entries.clear();
            }
        }
        entries.insert(
            row,
            Cached {
                sealed: sealed.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(sealed)
    }
}

/// Authenticates a request head; `region` is the server's.
pub async fn authenticate(
    meta: &Meta,
    cache: &RecordCache,
    counters: &CoreMetrics,
    region: &str,
    parts: &RequestParts<'_>,
) -> Result<Caller, S3Error> {
    let auth = sigv4::request_authorization(parts)
        .map_err(crate::s3::map::sigv4_error)?
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Anonymous requests are not allowed: sign the request with an access key",
            )
        })?;
    auth.check_region(region)
        .map_err(crate::s3::map::sigv4_error)?;
    let access_key = AccessKeyId::new(auth.access_key_id.clone());
    let sealed = cache
        .sealed_record(meta, counters, &access_key)
        .await?
        .ok_or_else(|| {
            S3Error::new(S3ErrorCode::InvalidAccessKeyId)
                .field("AWSAccessKeyId", auth.access_key_id.clone())
        })?;
    let record = AccessRecord::open(&access_key, &sealed).map_err(|e| {
        // The row is keyed by a hash of this very id, so a record that does not
        // open is damaged, not someone else's.
        S3Error::with_message(S3ErrorCode::InternalError, format!("access record: {e}"))
    })?;
    let signing_key = sigv4::signing_key(
        record.secret_key.as_bytes(),
        &auth.scope.date,
        &auth.scope.region,
        sigv4::SERVICE,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let verified = sigv4::verify_request(parts, &auth, &signing_key, now).map_err(|e| match e {
        sigv4::SigV4Error::SignatureDoesNotMatch {
            canonical_request,
            string_to_sign,
        } => S3Error::signature_does_not_match(
            &auth.access_key_id,
            &string_to_sign,
            &sigv4::signature_hex(&auth.signature),
            canonical_request.as_deref().unwrap_or(""),
        ),
        other => crate::s3::map::sigv4_error(other),
    })?;
    Ok(Caller {
        project: ProjectId(record.project),
        root_key: record.root_key,
        access_key,
        verified,
        signing_key,
    })
}
