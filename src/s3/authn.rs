//! Request authentication and the per-core grant cache.
//!
//! A request is authenticated in S3's order: its SigV4 signature is verified
//! first, with the secret from the access record its key names; only then is
//! the grant in that record used — its API key verified against the project's
//! secret and the revocation list, its time window checked. The record is
//! opened for this request only: the `Caller` holding the grant is dropped
//! (and its keys zeroed) when the request ends.
//!
//! The cache is per core (no locks on the request path) and bounded. It keeps
//! records still sealed, remembers unknown keys for a while (a flood of bad
//! keys does not reach the database), keeps the SigV4 signing key per (access
//! key, date, region) so a hit costs one HMAC chain, and keeps project secrets
//! and revocation answers. Entries live `ttl`; a revocation or a deleted
//! project also reaches every core at once as an `Invalidation` message.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::auth::{
    AccessKeyId, AccessRecord, Grant, GrantError, HeadId, Permissions, ProjectSecret,
};
use crate::meta::ProjectId;
use crate::metrics::CoreMetrics;
use crate::pipeline::RootKey;
use crate::registry::Registry;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::sigv4::{self, RequestParts, SigningKey, Verified};

/// Unknown access keys are remembered this long.
const UNKNOWN_TTL: Duration = Duration::from_secs(5);

/// Who sent a request, proven by its signature, and what its grant allows.
pub struct Caller {
    pub project: ProjectId,
    /// The grant this request acts under: the project's root key (for content
    /// keys) and its API key. Zeroed when the request ends.
    pub grant: Grant,
    pub permissions: Permissions,
    pub access_key: AccessKeyId,
    pub verified: Verified,
    /// The key that verified the request: it also checks aws-chunked signatures.
    pub signing_key: SigningKey,
}

impl Caller {
    pub fn root_key(&self) -> &RootKey {
        self.grant.root_key()
    }
}

/// A change that must reach every core's cache now, not after the TTL.
#[derive(Clone, Debug)]
pub enum Invalidation {
    Revoked(HeadId),
    ProjectDeleted(ProjectId),
}

struct Entry<T> {
    value: T,
    fetched: Instant,
}

/// Bounded map with a TTL: expired entries go first when full, and if none
/// has expired the map starts over (a flood cannot grow it).
struct TtlMap<K, V> {
    map: HashMap<K, Entry<V>>,
    entries_max: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> TtlMap<K, V> {
    fn new(entries_max: usize) -> Self {
        Self {
            map: HashMap::new(),
            entries_max,
        }
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        self.map
            .get(key)
            .filter(|e| e.fetched.elapsed() < ttl)
            .map(|e| e.value.clone())
    }

    fn insert(&mut self, key: K, value: V, ttl: Duration) {
        if self.map.len() >= self.entries_max {
            self.map.retain(|_, e| e.fetched.elapsed() < ttl);
            if self.map.len() >= self.entries_max {
                self.map.clear();
            }
        }
        self.map.insert(
            key,
            Entry {
                value,
                fetched: Instant::now(),
            },
        );
    }
}

/// A sealed access record by row key; `None`: the key is unknown.
type SealedRecords = TtlMap<[u8; 32], Option<Rc<[u8]>>>;
/// SigV4 signing keys by (row key, scope date, scope region).
type SigningKeys = TtlMap<([u8; 32], String, String), SigningKey>;

/// One core's grant cache.
pub struct GrantCache {
    ttl: Duration,
    records: RefCell<SealedRecords>,
    signing_keys: RefCell<SigningKeys>,
    secrets: RefCell<TtlMap<[u8; 16], Option<Rc<ProjectSecret>>>>,
    revoked: RefCell<TtlMap<[u8; 16], bool>>,
}

impl GrantCache {
    pub fn new(entries_max: usize, ttl: Duration) -> Self {
        Self {
            ttl,
            records: RefCell::new(TtlMap::new(entries_max)),
            signing_keys: RefCell::new(TtlMap::new(entries_max)),
            secrets: RefCell::new(TtlMap::new(entries_max.min(4096))),
            revoked: RefCell::new(TtlMap::new(entries_max)),
        }
    }

    /// Applies a cross-core message.
    pub fn invalidate(&self, what: &Invalidation) {
        match what {
            Invalidation::Revoked(head) => {
                self.revoked
                    .borrow_mut()
                    .insert(head.0, true, Duration::MAX);
            }
            Invalidation::ProjectDeleted(project) => {
                self.secrets.borrow_mut().map.remove(&project.0);
            }
        }
    }

    async fn sealed_record(
        &self,
        registry: &Registry,
        counters: &CoreMetrics,
        row: [u8; 32],
    ) -> Result<Option<Rc<[u8]>>, S3Error> {
        let cached = self.records.borrow().map.get(&row).and_then(|e| {
            let ttl = if e.value.is_some() {
                self.ttl
            } else {
                UNKNOWN_TTL
            };
            (e.fetched.elapsed() < ttl).then(|| e.value.clone())
        });
        if let Some(hit) = cached {
            CoreMetrics::add(&counters.record_cache_hits, 1);
            return Ok(hit);
        }
        CoreMetrics::add(&counters.record_cache_misses, 1);
        let sealed: Option<Rc<[u8]>> = registry
            .meta()
            .access(row)
            .await
            .map_err(crate::s3::map::meta_error)?
            .map(Rc::from);
        self.records
            .borrow_mut()
            .insert(row, sealed.clone(), self.ttl);
        Ok(sealed)
    }

    fn signing_key(&self, row: [u8; 32], scope: &sigv4::Scope, secret: &str) -> SigningKey {
        let key = (row, scope.date.clone(), scope.region.clone());
        if let Some(hit) = self.signing_keys.borrow().get(&key, self.ttl) {
            return hit;
        }
        let derived = sigv4::signing_key(
            secret.as_bytes(),
            &scope.date,
            &scope.region,
            sigv4::SERVICE,
        );
        self.signing_keys
            .borrow_mut()
            .insert(key, derived.clone(), self.ttl);
        derived
    }

    async fn project_secret(
        &self,
        registry: &Registry,
        project: ProjectId,
    ) -> Result<Option<Rc<ProjectSecret>>, S3Error> {
        if let Some(hit) = self.secrets.borrow().get(&project.0, self.ttl) {
            return Ok(hit);
        }
        let record = registry
            .meta()
            .project(project)
            .await
            .map_err(crate::s3::map::meta_error)?;
        let secret = match record {
            None => None,
            Some(record) => Some(Rc::new(registry.open_secret(&record).map_err(|e| {
                S3Error::with_message(S3ErrorCode::InternalError, e.to_string())
            })?)),
        };
        self.secrets
            .borrow_mut()
            .insert(project.0, secret.clone(), self.ttl);
        Ok(secret)
    }

    async fn is_revoked(&self, registry: &Registry, head: HeadId) -> Result<bool, S3Error> {
        if let Some(hit) = self.revoked.borrow().get(&head.0, self.ttl) {
            return Ok(hit);
        }
        let revoked = registry
            .meta()
            .revoked(head.0)
            .await
            .map_err(crate::s3::map::meta_error)?
            .is_some();
        self.revoked.borrow_mut().insert(head.0, revoked, self.ttl);
        Ok(revoked)
    }
}

fn denied(message: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, message)
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Authenticates a request head; `region` is the server's.
pub async fn authenticate(
    registry: &Registry,
    cache: &GrantCache,
    counters: &CoreMetrics,
    region: &str,
    parts: &RequestParts<'_>,
) -> Result<Caller, S3Error> {
    let auth = sigv4::request_authorization(parts)
        .map_err(crate::s3::map::sigv4_error)?
        .ok_or_else(|| {
            denied("Anonymous requests are not allowed: sign the request with an access key")
        })?;
    auth.check_region(region)
        .map_err(crate::s3::map::sigv4_error)?;
    let access_key = AccessKeyId::new(auth.access_key_id.clone());
    let row = access_key.row_key();
    let sealed = cache
        .sealed_record(registry, counters, row)
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
    let signing_key = cache.signing_key(row, &auth.scope, &record.secret_key);
    let now = now_unix();
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
    // The signature is good: now the grant may be used.
    let grant = record.grant;
    let project = ProjectId(*grant.project());
    let secret = cache
        .project_secret(registry, project)
        .await?
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The project of this access key no longer exists",
            )
        })?;
    let revoked = cache.is_revoked(registry, grant.head_id()).await?;
    let permissions = grant.authorize(&secret, |_| revoked).map_err(|e| match e {
        GrantError::Revoked => denied("The access grant of this key has been revoked"),
        _ => denied("The access grant of this key does not verify"),
    })?;
    permissions.check_time(now).map_err(|e| {
        denied(format!(
            "The access grant of this key is not valid now: {e}"
        ))
    })?;
    Ok(Caller {
        project,
        grant,
        permissions,
        access_key,
        verified,
        signing_key,
    })
}
