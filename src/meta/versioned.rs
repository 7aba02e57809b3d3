//! How the redb backend plans object writes and deletes under each versioning
//! state: which row holds a key's current version (`objects`), which its
//! other versions and delete markers (`versions`, newest first), and how a
//! write or delete moves versions between them. Layout in `codec`.
//!
//! Invariants, per key: the `objects` row, if any, is the newest version and
//! an object; otherwise the newest `versions` row, if any, is a delete marker
//! (the latest version). At most one version is `null`; `null_versions` names
//! it exactly while it is in `versions`. A new version's sequence is greater
//! than every version of its key, whatever the clock says.

use std::ops::ControlFlow;

use redb::ReadableTable;

use super::codec::{self, decode_version, encode_delete_marker, encode_object};
use super::error::{storage, MetaError};
use super::plan::{Plan, WriteTables};
use super::store::{scan_prefix, Bytes, TableId};
use super::types::*;

/// One key of one bucket.
#[derive(Clone, Copy)]
pub(super) struct KeyRef<'a> {
    pub project: ProjectId,
    pub bucket: &'a str,
    pub key: &'a str,
}

impl KeyRef<'_> {
    fn object_key(&self) -> Vec<u8> {
        codec::object_key(self.project, self.bucket, self.key)
    }

    fn version_key(&self, id: VersionId) -> Vec<u8> {
        codec::version_key(self.project, self.bucket, self.key, id)
    }
}

type Body = VersionBody<ObjectRecord>;

fn raw<T: ReadableTable<Bytes, Bytes>>(
    table: &T,
    key: &[u8],
) -> Result<Option<Vec<u8>>, MetaError> {
    Ok(table
        .get(key)
        .map_err(storage("read"))?
        .map(|guard| guard.value().to_vec()))
}

/// The bucket's record (its versioning and object lock); `NoSuchBucket`.
fn bucket(
    t: &WriteTables<'_>,
    project: ProjectId,
    bucket: &str,
) -> Result<BucketRecord, MetaError> {
    let row = raw(t.get(TableId::Buckets), &codec::bucket_key(project, bucket))?
        .ok_or(MetaError::NoSuchBucket)?;
    codec::decode_bucket(&row)
}

/// Sets Enabled or Suspended; a bucket never returns to Unversioned, and one
/// with object lock stays Enabled.
pub(super) fn set_bucket_versioning(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    project: ProjectId,
    name: &str,
    state: Versioning,
) -> Result<(), MetaError> {
    if state == Versioning::Unversioned {
        return Err(MetaError::InconsistentMutation(
            "a bucket never returns to unversioned",
        ));
    }
    let mut record = bucket(t, project, name)?;
    if record.object_lock.is_some() && state != Versioning::Enabled {
        return Err(MetaError::InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
        ));
    }
    plan.outcome.versioning = record.versioning;
    record.versioning = state;
    let key = codec::bucket_key(project, name);
    plan.put(TableId::Buckets, key, codec::encode_bucket(&record));
    Ok(())
}

/// Turns object lock on (or replaces its default retention) on a bucket
/// whose versioning is enabled.
pub(super) fn set_bucket_object_lock(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    project: ProjectId,
    name: &str,
    config: ObjectLock,
) -> Result<(), MetaError> {
    let mut record = bucket(t, project, name)?;
    if record.versioning != Versioning::Enabled {
        return Err(MetaError::InvalidBucketState(
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
        ));
    }
    plan.outcome.existed = record.object_lock.is_some();
    record.object_lock = Some(config);
    let key = codec::bucket_key(project, name);
    plan.put(TableId::Buckets, key, codec::encode_bucket(&record));
    Ok(())
}

/// The lock a new version gets: what the request asked, the bucket's
/// default retention where it asked none; nothing without object lock.
fn new_version_lock(bucket: &BucketRecord, asked: Lock, time_ms: u64) -> Result<Lock, MetaError> {
    let Some(config) = bucket.object_lock else {
        return if asked == Lock::default() {
            Ok(asked)
        } else {
            Err(MetaError::NoObjectLockConfiguration)
        };
    };
    let default = config.default_retention.map(|d| Retention {
        mode: d.mode,
        until_ms: time_ms.saturating_add(d.period.millis()),
    });
    Ok(Lock {
        retention: asked.retention.or(default),
        legal_hold: asked.legal_hold,
    })
}

/// The key's current object, if it has one.
pub(super) fn current(
    t: &WriteTables<'_>,
    k: KeyRef<'_>,
) -> Result<Option<(Version, ObjectRecord)>, MetaError> {
    raw(t.get(TableId::Objects), &k.object_key())?
        .map(|row| codec::decode_object(&row))
        .transpose()
}

/// Up to `n` of the key's `versions` rows, newest first.
fn noncurrent(
    t: &WriteTables<'_>,
    k: KeyRef<'_>,
    n: usize,
) -> Result<Vec<(Version, Body)>, MetaError> {
    let mut out = Vec::new();
    let prefix = codec::key_versions_prefix(k.project, k.bucket, k.key);
    scan_prefix(t.get(TableId::Versions), &prefix, |_, value| {
        out.push(decode_version(TableId::Versions.name(), value, true)?);
        Ok(if out.len() == n {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(out)
}

/// The version with this id in `versions`, if there is one.
fn noncurrent_by_id(
    t: &WriteTables<'_>,
    k: KeyRef<'_>,
    id: VersionId,
) -> Result<Option<(Version, Body)>, MetaError> {
    raw(t.get(TableId::Versions), &k.version_key(id))?
        .map(|row| decode_version(TableId::Versions.name(), &row, true))
        .transpose()
}

/// The key's `null` version while it is in `versions`.
fn noncurrent_null(
    t: &WriteTables<'_>,
    k: KeyRef<'_>,
) -> Result<Option<(Version, Body)>, MetaError> {
    let Some(id) = raw(t.get(TableId::NullVersions), &k.object_key())? else {
        return Ok(None);
    };
    let id = VersionId(id.as_slice().try_into().map_err(|_| MetaError::Corrupt {
        table: "null_versions",
        reason: format!("a version id of {} bytes", id.len()),
    })?);
    noncurrent_by_id(t, k, id)
}

/// The newest version of the key: the current object, else the newest row of `versions`.
fn newest(
    t: &WriteTables<'_>,
    k: KeyRef<'_>,
    current: Option<&(Version, ObjectRecord)>,
) -> Result<Option<Version>, MetaError> {
    match current {
        Some((version, _)) => Ok(Some(*version)),
        None => Ok(noncurrent(t, k, 1)?.first().map(|(v, _)| *v)),
    }
}

/// A version newer than `newest`, at `time_ms` if the clock is ahead of it.
fn next_version(newest: Option<Version>, time_ms: u64, is_null: bool) -> Version {
    let after = newest.map_or(0, |v| v.id.seq().saturating_add(1));
    let mut tail = [0u8; 8];
    crate::entropy::fill(&mut tail);
    Version {
        id: VersionId::new(time_ms.saturating_mul(1000).max(after), tail),
        is_null,
        lock: Lock::default(),
    }
}

/// Moves the current object into `versions` (the caller rewrites or deletes its row).
fn demote(plan: &mut Plan<'_>, k: KeyRef<'_>, version: Version, record: &ObjectRecord) {
    plan.put(
        TableId::Versions,
        k.version_key(version.id),
        encode_object(&version, record),
    );
    if version.is_null {
        plan.put(TableId::NullVersions, k.object_key(), version.id.0.to_vec());
    }
}

/// Deletes a `versions` row, releasing an object's segments.
fn drop_noncurrent(plan: &mut Plan<'_>, k: KeyRef<'_>, version: Version, body: &Body) {
    if let VersionBody::Object(record) = body {
        plan.release(&record.extents);
    }
    plan.delete(TableId::Versions, k.version_key(version.id));
    if version.is_null {
        plan.delete(TableId::NullVersions, k.object_key());
    }
}

/// Makes room for a new newest version: the current object is replaced
/// (unversioned, or a `null` one while suspended) or demoted, and while
/// suspended a noncurrent `null` version goes. The caller writes or deletes the
/// `objects` row.
fn retire_current(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    versioning: Versioning,
    current: Option<(Version, ObjectRecord)>,
) -> Result<(), MetaError> {
    if let Some((version, record)) = current {
        plan.outcome.existed = true;
        let replaced = match versioning {
            Versioning::Unversioned => true,
            Versioning::Suspended => version.is_null,
            Versioning::Enabled => false,
        };
        if replaced {
            if version.lock.forbids_delete(record.last_modified_ms, false) {
                return Err(MetaError::ObjectLocked);
            }
            plan.release(&record.extents);
        } else {
            demote(plan, k, version, &record);
        }
    }
    if versioning == Versioning::Suspended {
        if let Some((version, body)) = noncurrent_null(t, k)? {
            if version.lock.forbids_delete(0, false) {
                return Err(MetaError::ObjectLocked);
            }
            drop_noncurrent(plan, k, version, &body);
        }
    }
    Ok(())
}

fn check_condition(
    condition: Option<&Precondition>,
    existing: Option<&ObjectRecord>,
) -> Result<(), MetaError> {
    match (condition, existing) {
        (None, _) | (Some(Precondition::IfNoneMatchStar), None) => Ok(()),
        (Some(Precondition::IfNoneMatchStar), Some(_)) => Err(MetaError::PreconditionFailed),
        // S3 answers If-Match on an absent key with 404 NoSuchKey, not 412.
        (Some(Precondition::IfMatch(_)), None) => Err(MetaError::NoSuchKey),
        (Some(Precondition::IfMatch(etag)), Some(object)) if object.etag == *etag => Ok(()),
        (Some(Precondition::IfMatch(_)), Some(_)) => Err(MetaError::PreconditionFailed),
    }
}

/// A new object version as PutObject and CompleteUpload ask for it.
#[derive(Clone, Copy)]
pub(super) struct ObjectWrite<'a> {
    pub record: &'a ObjectRecord,
    pub condition: Option<&'a Precondition>,
    pub lock: Lock,
}

/// The shared tail of PutObject and CompleteUpload: condition, then the
/// record as the key's newest version, with its lock.
pub(super) fn put_object(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    write: ObjectWrite<'_>,
) -> Result<(), MetaError> {
    let record = write.record;
    let bucket = bucket(t, k.project, k.bucket)?;
    let versioning = bucket.versioning;
    let lock = new_version_lock(&bucket, write.lock, record.last_modified_ms)?;
    let current = current(t, k)?;
    check_condition(write.condition, current.as_ref().map(|(_, record)| record))?;
    let newest = match versioning {
        // An unversioned bucket has no `versions` rows.
        Versioning::Unversioned => current.as_ref().map(|(v, _)| *v),
        _ => newest(t, k, current.as_ref())?,
    };
    retire_current(t, plan, k, versioning, current)?;
    let version = Version {
        lock,
        ..next_version(
            newest,
            record.last_modified_ms,
            versioning != Versioning::Enabled,
        )
    };
    plan.put(
        TableId::Objects,
        k.object_key(),
        encode_object(&version, record),
    );
    plan.outcome.version = Some(version);
    plan.outcome.versioning = versioning;
    Ok(())
}

/// What a DeleteObject asks beyond its key.
#[derive(Clone, Copy)]
pub(super) struct DeleteAsk<'a> {
    pub which: WhichVersion,
    pub now_ms: u64,
    pub bypass_governance: bool,
    pub condition: Option<&'a DeleteCondition>,
}

/// A conditional delete's check against the object it would delete: none
/// (or a delete marker) is `NoSuchKey`, a mismatch `PreconditionFailed`.
fn check_delete_condition(
    condition: Option<&DeleteCondition>,
    target: Option<&ObjectRecord>,
) -> Result<(), MetaError> {
    match (condition, target) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(MetaError::NoSuchKey),
        (Some(condition), Some(record)) if condition.matches(record) => Ok(()),
        (Some(_), Some(_)) => Err(MetaError::PreconditionFailed),
    }
}

/// DeleteObject, by version id or not.
pub(super) fn delete_object(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    ask: DeleteAsk<'_>,
) -> Result<(), MetaError> {
    let versioning = bucket(t, k.project, k.bucket)?.versioning;
    plan.outcome.versioning = versioning;
    match ask.which {
        WhichVersion::Latest => delete_latest(t, plan, k, versioning, ask),
        which => delete_version(t, plan, k, which, ask),
    }
}

/// Without a version id: unversioned, the object goes; versioned, a delete
/// marker (a `null` one while suspended) becomes the latest version.
fn delete_latest(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    versioning: Versioning,
    ask: DeleteAsk<'_>,
) -> Result<(), MetaError> {
    let current = current(t, k)?;
    check_delete_condition(ask.condition, current.as_ref().map(|(_, r)| r))?;
    if versioning == Versioning::Unversioned {
        if let Some((_, record)) = current {
            plan.outcome.existed = true;
            plan.release(&record.extents);
            plan.delete(TableId::Objects, k.object_key());
        }
        return Ok(());
    }
    let newest = newest(t, k, current.as_ref())?;
    if current.is_some() {
        plan.delete(TableId::Objects, k.object_key());
    }
    retire_current(t, plan, k, versioning, current)?;
    let marker = next_version(newest, ask.now_ms, versioning == Versioning::Suspended);
    plan.put(
        TableId::Versions,
        k.version_key(marker.id),
        encode_delete_marker(&marker, ask.now_ms),
    );
    if marker.is_null {
        plan.put(TableId::NullVersions, k.object_key(), marker.id.0.to_vec());
    }
    plan.outcome.version = Some(marker);
    plan.outcome.delete_marker = true;
    Ok(())
}

/// Where a version named by id is kept.
enum Place {
    Current,
    Noncurrent,
}

/// The version `which` (never `Latest`) names, and where it is.
fn locate(
    t: &WriteTables<'_>,
    k: KeyRef<'_>,
    which: WhichVersion,
    current: Option<&(Version, ObjectRecord)>,
) -> Result<Option<(Place, Version, Body)>, MetaError> {
    if let Some((version, record)) = current.filter(|(v, _)| which.matches(v)) {
        let body = VersionBody::Object(record.clone());
        return Ok(Some((Place::Current, *version, body)));
    }
    let found = match which {
        WhichVersion::Latest => None,
        WhichVersion::Null => noncurrent_null(t, k)?,
        WhichVersion::Id(id) => noncurrent_by_id(t, k, id)?.filter(|(v, _)| !v.is_null),
    };
    Ok(found.map(|(version, body)| (Place::Noncurrent, version, body)))
}

/// With a version id: that version goes unless object lock protects it; if
/// it was the latest, the next newest becomes the latest (an object moves
/// back to `objects`). An absent version is success, nothing done.
fn delete_version(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    which: WhichVersion,
    ask: DeleteAsk<'_>,
) -> Result<(), MetaError> {
    let current = current(t, k)?;
    let found = locate(t, k, which, current.as_ref())?;
    let target = found.as_ref().and_then(|(_, _, body)| match body {
        VersionBody::Object(record) => Some(record),
        VersionBody::DeleteMarker { .. } => None,
    });
    check_delete_condition(ask.condition, target)?;
    let Some((place, version, body)) = found else {
        return Ok(());
    };
    if version
        .lock
        .forbids_delete(ask.now_ms, ask.bypass_governance)
    {
        return Err(MetaError::ObjectLocked);
    }
    plan.outcome.existed = true;
    plan.outcome.version = Some(version);
    plan.outcome.delete_marker = matches!(body, VersionBody::DeleteMarker { .. });
    match place {
        Place::Current => {
            if let VersionBody::Object(record) = &body {
                plan.release(&record.extents);
            }
            plan.delete(TableId::Objects, k.object_key());
            promote(t, plan, k, None)
        }
        Place::Noncurrent => {
            drop_noncurrent(plan, k, version, &body);
            let newest = noncurrent(t, k, 1)?.first().map(|(v, _)| v.id);
            if current.is_none() && newest == Some(version.id) {
                promote(t, plan, k, Some(version.id))?;
            }
            Ok(())
        }
    }
}

/// The object version a change in place names: the latest (which may be a
/// delete marker) or the one `which` names, with where its row is.
/// `NoSuchKey`/`NoSuchVersion` when there is none, `DeleteMarker` for a marker.
fn object_to_change(
    t: &WriteTables<'_>,
    k: KeyRef<'_>,
    which: WhichVersion,
) -> Result<(Place, Version, ObjectRecord), MetaError> {
    let current = current(t, k)?;
    let found = match which {
        WhichVersion::Latest => match current {
            Some((version, record)) => Some((Place::Current, version, VersionBody::Object(record))),
            None => noncurrent(t, k, 1)?
                .into_iter()
                .next()
                .map(|(version, body)| (Place::Noncurrent, version, body)),
        },
        which => locate(t, k, which, current.as_ref())?,
    };
    let missing = match which {
        WhichVersion::Latest => MetaError::NoSuchKey,
        _ => MetaError::NoSuchVersion,
    };
    match found.ok_or(missing)? {
        (place, version, VersionBody::Object(record)) => Ok((place, version, record)),
        (_, _, VersionBody::DeleteMarker { .. }) => Err(MetaError::DeleteMarker),
    }
}

/// Writes a version changed in place back to the row it came from.
fn rewrite_in_place(
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    place: Place,
    version: Version,
    record: &ObjectRecord,
) {
    let (table, key) = match place {
        Place::Current => (TableId::Objects, k.object_key()),
        Place::Noncurrent => (TableId::Versions, k.version_key(version.id)),
    };
    plan.put(table, key, encode_object(&version, record));
    plan.outcome.existed = true;
    plan.outcome.version = Some(version);
}

/// PutObjectRetention and PutObjectLegalHold: one version's lock, rewritten
/// in place (its row keeps its table and key).
pub(super) fn set_object_lock(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    which: WhichVersion,
    change: LockChange,
    now_ms: u64,
) -> Result<(), MetaError> {
    if bucket(t, k.project, k.bucket)?.object_lock.is_none() {
        return Err(MetaError::NoObjectLockConfiguration);
    }
    let (place, mut version, record) = object_to_change(t, k, which)?;
    match change {
        LockChange::Retention {
            retention,
            bypass_governance,
        } => {
            if !version
                .lock
                .allows_retention(retention, now_ms, bypass_governance)
            {
                return Err(MetaError::ObjectLocked);
            }
            version.lock.retention = retention;
        }
        LockChange::LegalHold(on) => version.lock.legal_hold = on,
    }
    rewrite_in_place(plan, k, place, version, &record);
    Ok(())
}

/// PutObjectTagging and DeleteObjectTagging: one version's tags, rewritten
/// in place. Object lock does not protect tags (S3 lets a locked version's
/// tags change).
pub(super) fn set_object_tags(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    which: WhichVersion,
    tags: &[(String, String)],
) -> Result<(), MetaError> {
    let versioning = bucket(t, k.project, k.bucket)?.versioning;
    let (place, version, mut record) = object_to_change(t, k, which)?;
    record.tags = tags.to_vec();
    rewrite_in_place(plan, k, place, version, &record);
    plan.outcome.versioning = versioning;
    Ok(())
}

/// After the latest version went: the newest remaining `versions` row (other
/// than `gone`) becomes the latest; an object moves to `objects`.
fn promote(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    gone: Option<VersionId>,
) -> Result<(), MetaError> {
    let next = noncurrent(t, k, 2)?
        .into_iter()
        .find(|(v, _)| Some(v.id) != gone);
    if let Some((version, VersionBody::Object(record))) = next {
        plan.delete(TableId::Versions, k.version_key(version.id));
        if version.is_null {
            plan.delete(TableId::NullVersions, k.object_key());
        }
        plan.put(
            TableId::Objects,
            k.object_key(),
            encode_object(&version, &record),
        );
    }
    Ok(())
}
