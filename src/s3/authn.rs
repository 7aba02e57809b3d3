//! Request authentication and the per-core grant cache.
//!
//! A request is authenticated in S3's order: its SigV4 signature is verified
//! first, with the secret from the access record its key names; only then is
//! the grant in that record used — its API key verified against the project's
//! secret, its head checked against the revocation list, its time window
//! checked. The record is opened for this request only: whatever the request
//! decrypts (the secret key, the grant, the root key) is dropped, and zeroed,
//! when the request ends.
//!
//! The cache is per core (no locks on the request path) and bounded. It keeps
//! records still sealed, remembers unknown keys for a while in a map of their
//! own (a flood of bad keys does not reach the database, nor evict good
//! records), and keeps project secrets and revocation answers. Beside each
//! sealed record it keeps what is not secret or is needed to check a
//! signature anyway: the SigV4 signing key per scope date (the region is the
//! server's) and the *verdict* on the grant inside (its project, head and
//! permissions, once its API key verified). So a hit decrypts nothing: it
//! checks the signature with the cached key, the revocation list and the
//! time, and opens the record's root key only if the request reads or writes
//! object data ([`Caller::root_key`]). Entries live `ttl`; a revocation or a
//! deleted project also reaches every core at once as an `Invalidation`
//! message, and a database read that was in flight when one arrived is not
//! cached (its answer may predate the change).
//!
//! Refusals are [`AuthnError`]s; `s3::map` turns them into S3 errors.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{
    AccessKeyId, AccessRecord, CredentialError, Denied, HeadId, Permissions, ProjectSecret,
    RecordSecret,
};
use crate::meta::{MetaError, ProjectId};
use crate::metrics::CoreMetrics;
use crate::pipeline::RootKey;
use crate::registry::{Registry, RegistryError};
use crate::sigv4::{self, RequestParts, SigV4Error, SigningKey, Verified};

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error("the request is not signed")]
    Anonymous,
    #[error("unknown access key")]
    UnknownAccessKey { access_key_id: String },
    /// The header or presigned signature; what S3 shows a client to debug
    /// its signer (the client's own access key id included).
    #[error("the signature does not match")]
    SignatureDoesNotMatch {
        access_key_id: String,
        string_to_sign: String,
        signature_provided: String,
        canonical_request: String,
    },
    #[error("the access grant does not verify under its project's secret")]
    GrantDoesNotVerify,
    #[error("the access grant has been revoked")]
    Revoked,
    #[error("the access grant is not valid now: {0}")]
    NotValidNow(Denied),
    #[error("the project of the access key no longer exists")]
    ProjectGone,
    #[error(transparent)]
    SigV4(SigV4Error),
    #[error(transparent)]
    Meta(MetaError),
    #[error(transparent)]
    Credential(CredentialError),
    #[error(transparent)]
    Registry(RegistryError),
}

/// Unknown access keys are remembered this long (or the TTL, if shorter).
const UNKNOWN_TTL: Duration = Duration::from_secs(5);
/// Signing keys kept per record: one per scope date, two so that requests
/// signed on either side of midnight do not take turns evicting each other.
const SIGNING_KEYS_PER_RECORD: usize = 2;

/// Who sent a request, proven by its signature, and what its grant allows.
pub struct Caller {
    pub project: ProjectId,
    pub permissions: Rc<Permissions>,
    pub access_key: AccessKeyId,
    pub verified: Verified,
    /// The key that verified the request: it also checks aws-chunked signatures.
    pub signing_key: SigningKey,
    /// The access record, still sealed, for [`Caller::root_key`], and what
    /// opens it with the access key id.
    sealed: Rc<[u8]>,
    record_secret: Arc<RecordSecret>,
    /// The grant's root key once opened; wiped when the request ends.
    root_key: OnceCell<RootKey>,
}

impl Caller {
    /// The project's root key, from the grant this request acts under (for
    /// content keys): opened from the sealed record on first use and wiped
    /// with the `Caller` when the request ends.
    pub fn root_key(&self) -> Result<&RootKey, CredentialError> {
        if let Some(key) = self.root_key.get() {
            return Ok(key);
        }
        let key = AccessRecord::open_root_key(&self.record_secret, &self.access_key, &self.sealed)?;
        Ok(self.root_key.get_or_init(|| key))
    }
}

/// A change that must reach every core's cache now, not after the TTL.
#[derive(Clone, Debug)]
pub enum Invalidation {
    Revoked(HeadId),
    ProjectDeleted(ProjectId),
}

struct Entry<V> {
    value: V,
    fetched: Instant,
    /// Insertion number: tells the entry's place in `order` from stale ones.
    seq: u64,
}

/// A bounded map whose entries live `ttl`. A full map evicts one entry per
/// insert, the oldest: entries are inserted only when read from the database,
/// so the oldest is also the first to expire, and a flood of new keys costs
/// the map its oldest entries one by one, never all of them at once.
struct TtlMap<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Keys in insertion order. An element whose `seq` is no longer its key's
    /// (replaced or removed since) is stale and skipped.
    order: VecDeque<(K, u64)>,
    seq: u64,
    entries_max: usize,
    ttl: Duration,
}

impl<K: Hash + Eq + Clone, V> TtlMap<K, V> {
    fn new(entries_max: usize, ttl: Duration) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
            entries_max: entries_max.max(1),
            ttl,
        }
    }

    /// The entry for `key` if it has not expired at `now`.
    fn get(&self, key: &K, now: Instant) -> Option<&V> {
        self.map
            .get(key)
            .filter(|e| now.saturating_duration_since(e.fetched) < self.ttl)
            .map(|e| &e.value)
    }

    fn insert(&mut self, key: K, value: V, now: Instant) {
        if !self.map.contains_key(&key) && self.map.len() >= self.entries_max {
            self.evict_oldest();
        }
        self.seq += 1;
        let entry = Entry {
            value,
            fetched: now,
            seq: self.seq,
        };
        self.order.push_back((key.clone(), self.seq));
        self.map.insert(key, entry);
        // Replacements leave stale elements behind: keep `order` within twice
        // the bound.
        if self.order.len() > 2 * self.entries_max {
            let map = &self.map;
            self.order
                .retain(|(k, seq)| map.get(k).is_some_and(|e| e.seq == *seq));
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|e| e.seq == seq) {
                self.map.remove(&key);
                return;
            }
        }
    }
}

/// What a verified grant allows. Not secret: the project id, the head's
/// revocation id and the caveats' buckets, prefixes, operations and times.
struct Verdict {
    project: ProjectId,
    head: HeadId,
    permissions: Rc<Permissions>,
}

/// One access record in the cache: sealed, with what its first use learned.
struct CachedRecord {
    sealed: Rc<[u8]>,
    /// Set once the grant inside has verified under its project's secret.
    /// The record's bytes never change, so the verdict holds as long as they
    /// are cached; whether the project still exists and the head is not
    /// revoked is asked on every request.
    verdict: OnceCell<Rc<Verdict>>,
    /// SigV4 signing keys by scope date, newest first.
    signing_keys: RefCell<Vec<(String, SigningKey)>>,
}

impl CachedRecord {
    fn new(sealed: Rc<[u8]>) -> Self {
        Self {
            sealed,
            verdict: OnceCell::new(),
            signing_keys: RefCell::new(Vec::with_capacity(SIGNING_KEYS_PER_RECORD)),
        }
    }

    fn signing_key(&self, date: &str) -> Option<SigningKey> {
        self.signing_keys
            .borrow()
            .iter()
            .find(|(d, _)| d == date)
            .map(|(_, key)| key.clone())
    }

    fn remember_signing_key(&self, date: &str, key: SigningKey) {
        let mut keys = self.signing_keys.borrow_mut();
        keys.retain(|(d, _)| d != date);
        keys.truncate(SIGNING_KEYS_PER_RECORD - 1);
        keys.insert(0, (date.to_string(), key));
    }
}

/// The invalidation count when a database read began (see [`GrantCache::store_revoked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ReadTicket(u64);

/// One core's grant cache.
pub struct GrantCache {
    /// Known access records by row key.
    records: RefCell<TtlMap<[u8; 32], Rc<CachedRecord>>>,
    /// Row keys the database does not have: their own map, so they never
    /// evict a known record.
    unknown: RefCell<TtlMap<[u8; 32], ()>>,
    /// Project secrets; `None`: the project does not exist (or was deleted).
    secrets: RefCell<TtlMap<[u8; 16], Option<Rc<ProjectSecret>>>>,
    revoked: RefCell<TtlMap<[u8; 16], bool>>,
    /// Invalidations applied so far.
    epoch: Cell<u64>,
}

impl GrantCache {
    pub fn new(entries_max: usize, ttl: Duration) -> Self {
        Self {
            records: RefCell::new(TtlMap::new(entries_max, ttl)),
            unknown: RefCell::new(TtlMap::new(entries_max, ttl.min(UNKNOWN_TTL))),
            secrets: RefCell::new(TtlMap::new(entries_max.min(4096), ttl)),
            revoked: RefCell::new(TtlMap::new(entries_max, ttl)),
            epoch: Cell::new(0),
        }
    }

    /// Applies a cross-core message. Both kinds leave an answer in the cache
    /// (revoked, no such project) rather than a hole, so a read that was in
    /// flight cannot fill the hole with what it saw before the change.
    pub fn invalidate(&self, what: &Invalidation) {
        self.epoch.set(self.epoch.get() + 1);
        let now = Instant::now();
        match what {
            Invalidation::Revoked(head) => self.revoked.borrow_mut().insert(head.0, true, now),
            Invalidation::ProjectDeleted(project) => {
                self.secrets.borrow_mut().insert(project.0, None, now)
            }
        }
    }

    fn begin_read(&self) -> ReadTicket {
        ReadTicket(self.epoch.get())
    }

    /// Caches a revocation answer read from the database, unless an
    /// invalidation arrived while the read was in flight: then the read may
    /// have begun before a revocation committed, so what the cache says now
    /// (the invalidation's answer) wins and nothing is stored.
    fn store_revoked(&self, ticket: ReadTicket, head: HeadId, read: bool) -> bool {
        let mut revoked = self.revoked.borrow_mut();
        let now = Instant::now();
        if ticket == self.begin_read() {
            revoked.insert(head.0, read, now);
            return read;
        }
        read || revoked.get(&head.0, now).copied().unwrap_or(false)
    }

    /// The same for a project secret: a project deleted while the read was
    /// in flight stays deleted.
    fn store_secret(
        &self,
        ticket: ReadTicket,
        project: ProjectId,
        read: Option<Rc<ProjectSecret>>,
    ) -> Option<Rc<ProjectSecret>> {
        let mut secrets = self.secrets.borrow_mut();
        let now = Instant::now();
        if ticket == self.begin_read() {
            secrets.insert(project.0, read.clone(), now);
            return read;
        }
        match secrets.get(&project.0, now) {
            Some(None) => None,
            _ => read,
        }
    }

    /// `now`: the request's clock reading, one for all its lookups.
    async fn record(
        &self,
        registry: &Registry,
        counters: &CoreMetrics,
        row: [u8; 32],
        now: Instant,
    ) -> Result<Option<Rc<CachedRecord>>, AuthnError> {
        if let Some(hit) = self.records.borrow().get(&row, now) {
            CoreMetrics::add(&counters.record_cache_hits, 1);
            return Ok(Some(hit.clone()));
        }
        if self.unknown.borrow().get(&row, now).is_some() {
            CoreMetrics::add(&counters.record_cache_hits, 1);
            return Ok(None);
        }
        CoreMetrics::add(&counters.record_cache_misses, 1);
        // Records never change once written, so no invalidation concerns them.
        let sealed = registry
            .meta()
            .access(row)
            .await
            .map_err(AuthnError::Meta)?;
        let now = Instant::now();
        Ok(match sealed {
            Some(sealed) => {
                let record = Rc::new(CachedRecord::new(Rc::from(sealed)));
                self.records.borrow_mut().insert(row, record.clone(), now);
                Some(record)
            }
            None => {
                self.unknown.borrow_mut().insert(row, (), now);
                None
            }
        })
    }

    async fn project_secret(
        &self,
        registry: &Registry,
        project: ProjectId,
        now: Instant,
    ) -> Result<Option<Rc<ProjectSecret>>, AuthnError> {
        if let Some(hit) = self.secrets.borrow().get(&project.0, now) {
            return Ok(hit.clone());
        }
        let ticket = self.begin_read();
        let record = registry
            .meta()
            .project(project)
            .await
            .map_err(AuthnError::Meta)?;
        let secret = match record {
            None => None,
            Some(record) => Some(Rc::new(
                registry
                    .open_secret(&record)
                    .map_err(AuthnError::Registry)?,
            )),
        };
        Ok(self.store_secret(ticket, project, secret))
    }

    async fn is_revoked(
        &self,
        registry: &Registry,
        head: HeadId,
        now: Instant,
    ) -> Result<bool, AuthnError> {
        if let Some(hit) = self.revoked.borrow().get(&head.0, now) {
            return Ok(*hit);
        }
        let ticket = self.begin_read();
        let revoked = registry
            .meta()
            .revoked(head.0)
            .await
            .map_err(AuthnError::Meta)?
            .is_some();
        Ok(self.store_revoked(ticket, head, revoked))
    }
}

/// Authenticates a request head; `region` is the server's.
pub async fn authenticate(
    registry: &Registry,
    cache: &GrantCache,
    counters: &CoreMetrics,
    region: &str,
    parts: &RequestParts<'_>,
) -> Result<Caller, AuthnError> {
    let auth = sigv4::request_authorization(parts)
        .map_err(AuthnError::SigV4)?
        .ok_or(AuthnError::Anonymous)?;
    auth.check_region(region).map_err(AuthnError::SigV4)?;
    let access_key = AccessKeyId::new(auth.access_key_id.clone());
    let clock = Instant::now();
    let record = cache
        .record(registry, counters, access_key.row_key(), clock)
        .await?
        .ok_or_else(|| AuthnError::UnknownAccessKey {
            access_key_id: auth.access_key_id.clone(),
        })?;
    // The record is opened only when its first use on this core needs it: to
    // derive a signing key for a new date, or to verify its grant.
    let mut opened = None;
    let secret = registry.record_secret();
    let signing_key = signing_key_for(&record, secret, &access_key, &auth, &mut opened)?;
    let now = crate::clock::unix_now_secs_signed();
    let signature = auth.signature;
    let verified = sigv4::verify_request_owned(parts, auth, &signing_key, now)
        .map_err(|e| mismatch(e, &access_key, &signature))?;
    // The signature is good: now the grant may be used.
    let verdict = verdict_of(registry, cache, &record, &access_key, &mut opened, clock).await?;
    // Asked on every request: the project still exists, the head is not
    // revoked, the grant is valid now.
    cache
        .project_secret(registry, verdict.project, clock)
        .await?
        .ok_or(AuthnError::ProjectGone)?;
    if cache.is_revoked(registry, verdict.head, clock).await? {
        return Err(AuthnError::Revoked);
    }
    verdict
        .permissions
        .check_time(now)
        .map_err(AuthnError::NotValidNow)?;
    // A record opened on this request keeps its root key for the request.
    let root_key = OnceCell::new();
    if let Some(plain) = opened {
        let _ = root_key.set(plain.grant.root_key().clone());
    }
    Ok(Caller {
        project: verdict.project,
        permissions: verdict.permissions.clone(),
        access_key,
        verified,
        signing_key,
        sealed: record.sealed.clone(),
        record_secret: secret.clone(),
        root_key,
    })
}

/// The SigV4 signing key for the request's scope date: cached with the
/// record, or derived from its secret key (opening the record, kept in
/// `opened` for the rest of the request).
fn signing_key_for(
    record: &CachedRecord,
    secret: &RecordSecret,
    access_key: &AccessKeyId,
    auth: &sigv4::Authorization,
    opened: &mut Option<AccessRecord>,
) -> Result<sigv4::SigningKey, AuthnError> {
    Ok(match record.signing_key(&auth.scope.date) {
        Some(key) => key,
        None => {
            let plain = opened.insert(
                AccessRecord::open(secret, access_key, &record.sealed)
                    .map_err(AuthnError::Credential)?,
            );
            let key = sigv4::signing_key(
                plain.secret_key.as_bytes(),
                &auth.scope.date,
                &auth.scope.region,
                sigv4::SERVICE,
            );
            record.remember_signing_key(&auth.scope.date, key.clone());
            key
        }
    })
}

/// A failed verification, with what S3's `SignatureDoesNotMatch` body shows.
fn mismatch(e: sigv4::SigV4Error, access_key: &AccessKeyId, signature: &[u8; 32]) -> AuthnError {
    match e {
        sigv4::SigV4Error::SignatureDoesNotMatch {
            canonical_request,
            string_to_sign,
        } => AuthnError::SignatureDoesNotMatch {
            access_key_id: access_key.expose().to_string(),
            string_to_sign,
            signature_provided: sigv4::signature_hex(signature),
            canonical_request: canonical_request.unwrap_or_default(),
        },
        other => AuthnError::SigV4(other),
    }
}

/// What the record's grant allows: cached with the record, or learned by
/// opening it (if this request has not yet) and verifying its API key
/// against the project's secret. Only after the signature checked out.
async fn verdict_of(
    registry: &Registry,
    cache: &GrantCache,
    record: &CachedRecord,
    access_key: &AccessKeyId,
    opened: &mut Option<AccessRecord>,
    clock: Instant,
) -> Result<Rc<Verdict>, AuthnError> {
    Ok(match record.verdict.get() {
        Some(verdict) => verdict.clone(),
        None => {
            let plain = match opened.take() {
                Some(plain) => plain,
                None => AccessRecord::open(registry.record_secret(), access_key, &record.sealed)
                    .map_err(AuthnError::Credential)?,
            };
            let grant = &plain.grant;
            let project = ProjectId(*grant.project());
            let secret = cache
                .project_secret(registry, project, clock)
                .await?
                .ok_or(AuthnError::ProjectGone)?;
            grant
                .verify(&secret)
                .map_err(|_| AuthnError::GrantDoesNotVerify)?;
            let verdict = Rc::new(Verdict {
                project,
                head: grant.head_id(),
                permissions: Rc::new(grant.permissions()),
            });
            *opened = Some(plain);
            record.verdict.get_or_init(|| verdict).clone()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::Os;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_full_map_evicts_its_oldest_entry_not_everything() {
        let mut map = TtlMap::new(3, HOUR);
        let t = Instant::now();
        for k in 0u8..3 {
            map.insert(k, k, t);
        }
        // Replacing a key does not evict and moves it to the back.
        map.insert(0, 10, t);
        assert_eq!(map.map.len(), 3);
        map.insert(3, 3, t);
        assert_eq!(map.map.len(), 3);
        assert_eq!(map.get(&1, t), None, "the oldest goes");
        for (k, v) in [(0, 10), (2, 2), (3, 3)] {
            assert_eq!(map.get(&k, t), Some(&v));
        }
        map.insert(4, 4, t);
        assert_eq!(map.get(&2, t), None);
        assert_eq!(map.get(&0, t), Some(&10));
        // Expiry is by age.
        assert_eq!(map.get(&0, t + HOUR), None);
        // Many replacements keep `order` bounded.
        for i in 0..100 {
            map.insert(0, i, t);
        }
        assert!(map.order.len() <= 2 * 3 + 1);
        assert_eq!(map.get(&0, t), Some(&99));
    }

    /// Story: `TtlMap::insert` cleared the whole map once it was full of
    /// unexpired entries, and unknown keys shared the records' map. Symptom:
    /// a client sending requests with many distinct made-up access keys (each
    /// cached as unknown) emptied every core's cache of good records again and
    /// again. Consequence: every request of every real client went to the
    /// database: the negative cache, meant to protect the database from a
    /// flood of bad keys, amplified it. Fix: unknown keys live in a map of
    /// their own, and a full map evicts its oldest entry, one per insert.
    #[test]
    fn a_flood_of_unknown_keys_evicts_no_known_record() {
        let cache = GrantCache::new(4, HOUR);
        let now = Instant::now();
        for k in 0u8..4 {
            let record = Rc::new(CachedRecord::new(Rc::from(vec![k])));
            cache.records.borrow_mut().insert([k; 32], record, now);
        }
        for k in 0u32..10_000 {
            let mut row = [0xee; 32];
            row[..4].copy_from_slice(&k.to_le_bytes());
            cache.unknown.borrow_mut().insert(row, (), now);
        }
        assert_eq!(cache.unknown.borrow().map.len(), 4);
        for k in 0u8..4 {
            let records = cache.records.borrow();
            let hit = records.get(&[k; 32], now).expect("still cached");
            assert_eq!(&hit.sealed[..], &[k]);
        }
    }

    /// Story: `is_revoked` cached whatever its database read answered. A read
    /// that began before a revocation committed could finish after the
    /// revocation's invalidation message had set the head to revoked, and
    /// overwrite `true` with `false`. Consequence: the revoked grant worked
    /// again on that core for a whole TTL. Fix: every invalidation bumps the
    /// cache's epoch; a read that saw the epoch move while in flight stores
    /// nothing and defers to the cache.
    #[test]
    fn a_read_in_flight_across_a_revocation_does_not_undo_it() {
        let cache = GrantCache::new(16, HOUR);
        let head = HeadId([7; 16]);
        let ticket = cache.begin_read();
        cache.invalidate(&Invalidation::Revoked(head));
        assert!(cache.store_revoked(ticket, head, false));
        let revoked = cache.revoked.borrow();
        assert_eq!(revoked.get(&head.0, Instant::now()), Some(&true));
        drop(revoked);
        // A read that began after the message is stored as read.
        let other = HeadId([8; 16]);
        let ticket = cache.begin_read();
        assert!(!cache.store_revoked(ticket, other, false));
        assert_eq!(
            cache.revoked.borrow().get(&other.0, Instant::now()),
            Some(&false)
        );
        // An unrelated invalidation in flight: the read's answer stands, uncached.
        let third = HeadId([9; 16]);
        let ticket = cache.begin_read();
        cache.invalidate(&Invalidation::Revoked(other));
        assert!(!cache.store_revoked(ticket, third, false));
        assert_eq!(cache.revoked.borrow().get(&third.0, Instant::now()), None);
    }

    /// The same story for a project deleted while its secret was being read:
    /// the stale secret must not be cached, nor used.
    #[test]
    fn a_read_in_flight_across_a_project_deletion_does_not_undo_it() {
        let cache = GrantCache::new(16, HOUR);
        let project = ProjectId([3; 16]);
        let stale = Some(Rc::new(ProjectSecret::random(&mut Os)));
        let ticket = cache.begin_read();
        cache.invalidate(&Invalidation::ProjectDeleted(project));
        assert!(cache.store_secret(ticket, project, stale.clone()).is_none());
        assert!(matches!(
            cache.secrets.borrow().get(&project.0, Instant::now()),
            Some(None)
        ));
        // Without an invalidation in between, a read is cached as read.
        let live = ProjectId([4; 16]);
        let ticket = cache.begin_read();
        assert!(cache.store_secret(ticket, live, stale).is_some());
        assert!(matches!(
            cache.secrets.borrow().get(&live.0, Instant::now()),
            Some(Some(_))
        ));
    }

    /// A revocation whose message never reaches a core (lost, or sent by
    /// another gateway on a shared database) still takes effect there once
    /// the cached answer is older than the TTL.
    #[test]
    fn without_its_message_a_revocation_takes_effect_within_the_ttl() {
        use crate::metrics::Metrics;
        use crate::sigv4::{AmzDateTime, PayloadHash, RequestSigner};
        use sha2::Digest as _;

        let test = crate::registry::testing::registry();
        let registry = &test.registry;
        let project = registry.create_project_blocking("p").unwrap();
        let head = project.grant.head_id();
        let registered = registry
            .register_blocking(project.grant, crate::clock::unix_now_secs_signed())
            .unwrap();
        let signer = RequestSigner::new(
            registered.access_key.expose(),
            registered.secret_key.as_bytes(),
            "us-east-1",
            AmzDateTime::from_unix_secs(crate::clock::unix_now_secs_signed()).unwrap(),
        );
        let host: (&str, &[u8]) = ("host", b"127.0.0.1");
        let unsigned = RequestParts {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &[host],
        };
        let empty = PayloadHash::from_digest(sha2::Sha256::digest(b"").into());
        let signed = signer.sign(&unsigned, &empty).unwrap();
        let mut headers = vec![host];
        headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_bytes())));
        headers.push(("authorization", signed.authorization.as_bytes()));
        let parts = RequestParts {
            headers: &headers,
            ..unsigned
        };
        let ttl = Duration::from_millis(200);
        let cache = GrantCache::new(16, ttl);
        let metrics = Metrics::new(1);
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .unwrap();
        ex.run(async {
            let auth = || authenticate(registry, &cache, metrics.core(0), "us-east-1", &parts);
            assert!(auth().await.is_ok());
            // Committed, and no `Invalidation` sent to this cache.
            assert!(registry.revoke(head).await.unwrap());
            glommio::timer::sleep(ttl).await;
            let refused = auth().await.err().expect("revoked");
            let refused = crate::s3::map::authn_error(refused);
            assert_eq!(refused.code(), crate::s3::error::S3ErrorCode::AccessDenied);
            assert!(
                refused.message().contains("revoked"),
                "{}",
                refused.message()
            );
        });
    }

    #[test]
    fn a_record_keeps_two_signing_keys_newest_first() {
        let record = CachedRecord::new(Rc::from(vec![0u8]));
        let key = |d: &str| sigv4::signing_key(b"secret", d, "us-east-1", sigv4::SERVICE);
        record.remember_signing_key("20250101", key("20250101"));
        record.remember_signing_key("20250102", key("20250102"));
        assert!(record.signing_key("20250101").is_some());
        record.remember_signing_key("20250103", key("20250103"));
        assert!(record.signing_key("20250101").is_none());
        for d in ["20250102", "20250103"] {
            assert_eq!(record.signing_key(d).unwrap().as_bytes(), key(d).as_bytes());
        }
    }
}
