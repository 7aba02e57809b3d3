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

/// The bucket's versioning state; `NoSuchBucket` if it is absent.
pub(super) fn bucket_versioning(
    t: &WriteTables<'_>,
    project: ProjectId,
    bucket: &str,
) -> Result<Versioning, MetaError> {
    let row = raw(t.get(TableId::Buckets), &codec::bucket_key(project, bucket))?
        .ok_or(MetaError::NoSuchBucket)?;
    Ok(codec::decode_bucket(&row)?.versioning)
}

/// Sets Enabled or Suspended; a bucket never returns to Unversioned.
pub(super) fn set_bucket_versioning(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    project: ProjectId,
    bucket: &str,
    state: Versioning,
) -> Result<(), MetaError> {
    if state == Versioning::Unversioned {
        return Err(MetaError::InconsistentMutation(
            "a bucket never returns to unversioned",
        ));
    }
    let key = codec::bucket_key(project, bucket);
    let row = raw(t.get(TableId::Buckets), &key)?.ok_or(MetaError::NoSuchBucket)?;
    let mut record = codec::decode_bucket(&row)?;
    plan.outcome.versioning = record.versioning;
    record.versioning = state;
    plan.put(TableId::Buckets, key, codec::encode_bucket(&record));
    Ok(())
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
            plan.release(&record.extents);
        } else {
            demote(plan, k, version, &record);
        }
    }
    if versioning == Versioning::Suspended {
        if let Some((version, body)) = noncurrent_null(t, k)? {
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

/// The shared tail of PutObject and CompleteUpload: condition, then `record`
/// as the key's newest version.
pub(super) fn put_object(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    record: &ObjectRecord,
    condition: Option<&Precondition>,
) -> Result<(), MetaError> {
    let versioning = bucket_versioning(t, k.project, k.bucket)?;
    let current = current(t, k)?;
    check_condition(condition, current.as_ref().map(|(_, record)| record))?;
    let newest = match versioning {
        // An unversioned bucket has no `versions` rows.
        Versioning::Unversioned => current.as_ref().map(|(v, _)| *v),
        _ => newest(t, k, current.as_ref())?,
    };
    retire_current(t, plan, k, versioning, current)?;
    let version = next_version(
        newest,
        record.last_modified_ms,
        versioning != Versioning::Enabled,
    );
    plan.put(
        TableId::Objects,
        k.object_key(),
        encode_object(&version, record),
    );
    plan.outcome.version = Some(version);
    plan.outcome.versioning = versioning;
    Ok(())
}

/// DeleteObject without a version id.
pub(super) fn delete_latest(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    now_ms: u64,
) -> Result<(), MetaError> {
    let versioning = bucket_versioning(t, k.project, k.bucket)?;
    plan.outcome.versioning = versioning;
    let current = current(t, k)?;
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
    let marker = next_version(newest, now_ms, versioning == Versioning::Suspended);
    plan.put(
        TableId::Versions,
        k.version_key(marker.id),
        encode_delete_marker(&marker, now_ms),
    );
    if marker.is_null {
        plan.put(TableId::NullVersions, k.object_key(), marker.id.0.to_vec());
    }
    plan.outcome.version = Some(marker);
    plan.outcome.delete_marker = true;
    Ok(())
}

/// DeleteObject with a version id: that version goes; if it was the latest,
/// the next newest becomes the latest (an object moves back to `objects`).
pub(super) fn delete_version(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    k: KeyRef<'_>,
    which: WhichVersion,
) -> Result<(), MetaError> {
    plan.outcome.versioning = bucket_versioning(t, k.project, k.bucket)?;
    let current = current(t, k)?;
    if let Some((version, record)) = current.as_ref().filter(|(v, _)| which.matches(v)) {
        plan.outcome.existed = true;
        plan.outcome.version = Some(*version);
        plan.release(&record.extents);
        plan.delete(TableId::Objects, k.object_key());
        return promote(t, plan, k, None);
    }
    let target = match which {
        WhichVersion::Latest => None,
        WhichVersion::Null => noncurrent_null(t, k)?,
        WhichVersion::Id(id) => noncurrent_by_id(t, k, id)?.filter(|(v, _)| !v.is_null),
    };
    let Some((version, body)) = target else {
        return Ok(());
    };
    plan.outcome.existed = true;
    plan.outcome.version = Some(version);
    plan.outcome.delete_marker = matches!(body, VersionBody::DeleteMarker { .. });
    drop_noncurrent(plan, k, version, &body);
    let was_latest =
        current.is_none() && noncurrent(t, k, 1)?.first().map(|(v, _)| v.id) == Some(version.id);
    if was_latest {
        promote(t, plan, k, Some(version.id))?;
    }
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
