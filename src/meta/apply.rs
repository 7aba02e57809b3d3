//! How the redb backend applies a batch of `Mutation`s in one write
//! transaction.
//!
//! Each mutation is planned first, reading only: every check it makes, and
//! every row it will write or delete, including the reference counts it moves.
//! Only a plan that passed all its checks is applied. So a mutation that fails
//! leaves nothing behind and does not fail its batch-mates, which see the
//! effects of those before them in the batch. A storage error, on the other
//! hand, abandons the whole transaction.

use std::ops::ControlFlow;

use redb::Durability;

use super::codec::{self, decode, encode};
use super::error::{storage, MetaError};
use super::limits::{
    BUCKETS_PER_PROJECT_MAX, BUCKET_NAME_BYTES_MAX, COMPLETED_UPLOADS_PRUNED_PER_COMMIT,
    COMPLETED_UPLOAD_MEMORY_MS, OBJECT_KEY_BYTES_MAX, PART_NUMBER_MAX,
};
use super::mutation::{BatchResults, Mutation};
use super::plan::{postcard_row, Plan, WriteTables};
use super::store::{self, contains, get, scan_prefix, RedbStore, TableId};
use super::types::*;
use super::versioned::{self, DeleteAsk, KeyRef, ObjectWrite};
use crate::pieces::format::SegmentId;
use crate::pipeline::layout::{ErasureParams, PIECES_MAX};

fn check_bucket_name(name: &str) -> Result<(), MetaError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > BUCKET_NAME_BYTES_MAX {
        "too long"
    } else if name.contains('\0') {
        "holds a NUL byte"
    } else {
        return Ok(());
    };
    Err(MetaError::InvalidBucketName { reason })
}

fn check_object_key(key: &str) -> Result<(), MetaError> {
    let reason = if key.is_empty() {
        "empty"
    } else if key.len() > OBJECT_KEY_BYTES_MAX {
        "longer than 1024 bytes"
    } else if key.contains('\0') {
        "holds a NUL byte"
    } else {
        return Ok(());
    };
    Err(MetaError::InvalidObjectKey { reason })
}

/// The declared segments must be exactly the record's segment extents, so the
/// reference counts stay equal to the references.
fn check_segments(
    extents: &[Extent],
    new_segments: &[(SegmentId, SegmentInfo)],
    shared_segments: &[SegmentId],
) -> Result<(), MetaError> {
    // The codec stores piece counts as u16; the layout never makes more than PIECES_MAX.
    let erasure_fits = |e: &ErasureParams| e.required.max(e.optimal).max(e.total) <= PIECES_MAX;
    if !new_segments
        .iter()
        .all(|(_, info)| erasure_fits(&info.erasure))
    {
        return Err(MetaError::InconsistentMutation(
            "erasure parameters out of range",
        ));
    }
    let mut new: Vec<SegmentId> = new_segments.iter().map(|(id, _)| *id).collect();
    new.sort_unstable();
    if new.windows(2).any(|w| w[0] == w[1]) {
        return Err(MetaError::InconsistentMutation(
            "a new segment is listed twice",
        ));
    }
    let mut declared: Vec<SegmentId> = new
        .into_iter()
        .chain(shared_segments.iter().copied())
        .collect();
    declared.sort_unstable();
    let mut referenced: Vec<SegmentId> = segment_ids(extents).collect();
    referenced.sort_unstable();
    if declared != referenced {
        return Err(MetaError::InconsistentMutation(
            "the record's segment extents differ from its new and shared segments",
        ));
    }
    Ok(())
}

fn require_bucket(t: &WriteTables<'_>, project: ProjectId, bucket: &str) -> Result<(), MetaError> {
    if contains(t.get(TableId::Buckets), &codec::bucket_key(project, bucket))? {
        Ok(())
    } else {
        Err(MetaError::NoSuchBucket)
    }
}

fn upload_key(upload: &UploadRef) -> Vec<u8> {
    codec::upload_key(
        upload.project,
        &upload.bucket,
        &upload.key,
        upload.upload_id,
    )
}

fn require_upload(t: &WriteTables<'_>, upload: &UploadRef) -> Result<Vec<u8>, MetaError> {
    let key = upload_key(upload);
    if contains(t.get(TableId::Uploads), &key)? {
        Ok(key)
    } else {
        Err(MetaError::NoSuchUpload)
    }
}

/// Every part of an upload with its row key, by part number.
fn read_parts(
    t: &WriteTables<'_>,
    upload_id: UploadId,
) -> Result<Vec<(Vec<u8>, PartRecord)>, MetaError> {
    let mut parts = Vec::new();
    scan_prefix(t.get(TableId::Parts), &upload_id.0, |key, value| {
        parts.push((key.to_vec(), codec::decode(TableId::Parts.name(), value)?));
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(parts)
}

/// Deletes an upload's parts and releases their segments.
fn drop_parts(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    upload_id: UploadId,
) -> Result<(), MetaError> {
    for (key, part) in read_parts(t, upload_id)? {
        plan.release(&part.extents);
        plan.delete(TableId::Parts, key);
    }
    Ok(())
}

/// Checks one mutation and gathers its effects; the match only dispatches to
/// one planner per mutation kind.
fn plan<'m>(t: &WriteTables<'_>, mutation: &'m Mutation) -> Result<Plan<'m>, MetaError> {
    let mut plan = Plan::default();
    let p = &mut plan;
    match mutation {
        Mutation::CreateProject(record) => plan_create_project(t, p, record)?,
        Mutation::PutAccess { key_hash, record } => plan_put_access(t, p, key_hash, record)?,
        Mutation::DeleteAccess { key_hash } => plan_delete_access(t, p, key_hash)?,
        Mutation::CreateBucket { project, record } => plan_create_bucket(t, p, *project, record)?,
        Mutation::DeleteBucket { project, bucket } => plan_delete_bucket(t, p, *project, bucket)?,
        Mutation::PutBucketConfig {
            project,
            bucket,
            family,
            document,
        } => plan_put_bucket_config(t, p, *project, bucket, family, document.as_deref())?,
        Mutation::PutObject {
            project,
            bucket,
            key,
            record,
            new_segments,
            shared_segments,
            condition,
            lock,
        } => plan_put_object(
            t,
            p,
            (*project, bucket, key),
            (new_segments, shared_segments),
            ObjectWrite {
                record,
                condition: condition.as_ref(),
                lock: *lock,
            },
        )?,
        m @ (Mutation::SetBucketVersioning { .. }
        | Mutation::SetBucketObjectLock { .. }
        | Mutation::DeleteObject { .. }
        | Mutation::SetObjectLock { .. }
        | Mutation::SetObjectTags { .. }) => plan_versions(t, p, m)?,
        Mutation::CreateUpload {
            project,
            bucket,
            record,
        } => plan_create_upload(t, p, *project, bucket, record)?,
        Mutation::PutPart {
            upload,
            record,
            new_segments,
            shared_segments,
            may_replace,
        } => plan_put_part(
            t,
            p,
            upload,
            record,
            (new_segments, shared_segments),
            *may_replace,
        )?,
        Mutation::CompleteUpload {
            upload,
            parts_used,
            record,
            condition,
            lock,
        } => plan_complete_upload(
            t,
            p,
            upload,
            parts_used,
            ObjectWrite {
                record,
                condition: condition.as_ref(),
                lock: *lock,
            },
        )?,
        Mutation::AbortUpload { upload } => plan_abort_upload(t, p, upload)?,
        Mutation::DeleteProject { id } => plan_delete_project(t, p, *id)?,
        Mutation::RevokeApiKey { head, revoked_ms } => {
            plan_revoke_api_key(t, p, head, *revoked_ms)?
        }
        Mutation::PutStore(record) => plan_put_store(t, p, record)?,
        Mutation::RepairSegment {
            id,
            expected,
            pieces,
        } => plan_repair_segment(t, p, *id, expected, pieces)?,
        Mutation::GcDone(ids) => plan_gc_done(t, p, ids)?,
        Mutation::QueueGc { segments } => plan_queue_gc(t, p, segments)?,
    }
    Ok(plan)
}

/// The mutations of versions and their protection (`versioned`).
fn plan_versions(t: &WriteTables<'_>, p: &mut Plan<'_>, m: &Mutation) -> Result<(), MetaError> {
    match m {
        Mutation::SetBucketVersioning {
            project,
            bucket,
            state,
        } => versioned::set_bucket_versioning(t, p, *project, bucket, *state),
        Mutation::SetBucketObjectLock {
            project,
            bucket,
            config,
        } => versioned::set_bucket_object_lock(t, p, *project, bucket, *config),
        Mutation::DeleteObject {
            project,
            bucket,
            key,
            which,
            now_ms,
            bypass_governance,
            condition,
        } => {
            let ask = DeleteAsk {
                which: *which,
                now_ms: *now_ms,
                bypass_governance: *bypass_governance,
                condition: condition.as_ref(),
            };
            let k = KeyRef {
                project: *project,
                bucket,
                key,
            };
            versioned::delete_object(t, p, k, ask)
        }
        Mutation::SetObjectLock {
            project,
            bucket,
            key,
            which,
            change,
            now_ms,
        } => {
            let k = KeyRef {
                project: *project,
                bucket,
                key,
            };
            versioned::set_object_lock(t, p, k, *which, *change, *now_ms)
        }
        Mutation::SetObjectTags {
            project,
            bucket,
            key,
            which,
            tags,
        } => {
            let k = KeyRef {
                project: *project,
                bucket,
                key,
            };
            versioned::set_object_tags(t, p, k, *which, tags)
        }
        _ => unreachable!("plan routes only version mutations here"),
    }
}

fn plan_create_project(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    record: &ProjectRecord,
) -> Result<(), MetaError> {
    if contains(t.get(TableId::Projects), &record.id.0)? {
        return Err(MetaError::ProjectAlreadyExists);
    }
    plan.put(TableId::Projects, record.id.0, encode(record));
    Ok(())
}

fn plan_put_access(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    key_hash: &[u8; 32],
    record: &[u8],
) -> Result<(), MetaError> {
    plan.outcome.existed = contains(t.get(TableId::Access), key_hash)?;
    plan.put(TableId::Access, *key_hash, record.to_vec());
    Ok(())
}

fn plan_delete_access(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    key_hash: &[u8; 32],
) -> Result<(), MetaError> {
    if contains(t.get(TableId::Access), key_hash)? {
        plan.outcome.existed = true;
        plan.delete(TableId::Access, *key_hash);
    }
    Ok(())
}

/// A valid name, an existing project, a free name, and room under the limit.
fn plan_create_bucket(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    project: ProjectId,
    record: &BucketRecord,
) -> Result<(), MetaError> {
    check_bucket_name(&record.name)?;
    if !contains(t.get(TableId::Projects), &project.0)? {
        return Err(MetaError::NoSuchProject);
    }
    let key = codec::bucket_key(project, &record.name);
    if contains(t.get(TableId::Buckets), &key)? {
        return Err(MetaError::BucketAlreadyOwnedByYou);
    }
    let mut owned = 0usize;
    scan_prefix(t.get(TableId::Buckets), &project.0, |_, _| {
        owned += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    if owned >= BUCKETS_PER_PROJECT_MAX {
        return Err(MetaError::TooManyBuckets {
            max: BUCKETS_PER_PROJECT_MAX,
        });
    }
    plan.put(TableId::Buckets, key, codec::encode_bucket(record));
    Ok(())
}

/// An empty bucket goes, with its uploads in progress, their parts and its
/// configuration documents.
fn plan_delete_bucket(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    project: ProjectId,
    bucket: &str,
) -> Result<(), MetaError> {
    require_bucket(t, project, bucket)?;
    if !store::bucket_is_empty(t.get(TableId::Objects), project, bucket)?
        || !store::bucket_is_empty(t.get(TableId::Versions), project, bucket)?
    {
        return Err(MetaError::BucketNotEmpty);
    }
    let mut uploads = Vec::new();
    scan_prefix(
        t.get(TableId::Uploads),
        &codec::bucket_prefix(project, bucket),
        |key, value| {
            let record: UploadRecord = codec::decode(TableId::Uploads.name(), value)?;
            uploads.push((key.to_vec(), record.upload_id));
            Ok(ControlFlow::Continue(()))
        },
    )?;
    for (key, upload_id) in uploads {
        drop_parts(t, plan, upload_id)?;
        plan.delete(TableId::Uploads, key);
    }
    let mut configs = Vec::new();
    scan_prefix(
        t.get(TableId::BucketConfigs),
        &codec::bucket_prefix(project, bucket),
        |key, _| {
            configs.push(key.to_vec());
            Ok(ControlFlow::Continue(()))
        },
    )?;
    for key in configs {
        plan.delete(TableId::BucketConfigs, key);
    }
    plan.delete(TableId::Buckets, codec::bucket_key(project, bucket));
    Ok(())
}

fn plan_put_bucket_config(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    project: ProjectId,
    bucket: &str,
    family: &str,
    document: Option<&[u8]>,
) -> Result<(), MetaError> {
    require_bucket(t, project, bucket)?;
    let key = codec::bucket_config_key(project, bucket, family);
    plan.outcome.existed = contains(t.get(TableId::BucketConfigs), &key)?;
    match document {
        Some(document) => plan.put(TableId::BucketConfigs, key, document.to_vec()),
        None => plan.delete(TableId::BucketConfigs, key),
    }
    Ok(())
}

/// Checks the key, the bucket and the declared segments, then writes the object.
fn plan_put_object<'m>(
    t: &WriteTables<'_>,
    plan: &mut Plan<'m>,
    (project, bucket, key): (ProjectId, &str, &str),
    (new_segments, shared_segments): (&'m [(SegmentId, SegmentInfo)], &[SegmentId]),
    write: ObjectWrite<'_>,
) -> Result<(), MetaError> {
    check_object_key(key)?;
    check_segments(&write.record.extents, new_segments, shared_segments)?;
    plan.create(new_segments);
    plan.acquire(shared_segments.iter().copied());
    let k = KeyRef {
        project,
        bucket,
        key,
    };
    versioned::put_object(t, plan, k, write)
}

fn plan_create_upload(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    project: ProjectId,
    bucket: &str,
    record: &UploadRecord,
) -> Result<(), MetaError> {
    check_object_key(&record.key)?;
    require_bucket(t, project, bucket)?;
    let key = codec::upload_key(project, bucket, &record.key, record.upload_id);
    if contains(t.get(TableId::Uploads), &key)? {
        return Err(MetaError::InconsistentMutation(
            "the upload id is already in use",
        ));
    }
    plan.put(TableId::Uploads, key, encode(record));
    Ok(())
}

/// Stores a part, releasing the one it replaces (where it may).
fn plan_put_part<'m>(
    t: &WriteTables<'_>,
    plan: &mut Plan<'m>,
    upload: &UploadRef,
    record: &PartRecord,
    (new_segments, shared_segments): (&'m [(SegmentId, SegmentInfo)], &[SegmentId]),
    may_replace: bool,
) -> Result<(), MetaError> {
    if !(1..=PART_NUMBER_MAX).contains(&record.part_number) {
        return Err(MetaError::InvalidPartNumber(record.part_number));
    }
    require_upload(t, upload)?;
    check_segments(&record.extents, new_segments, shared_segments)?;
    let key = codec::part_key(upload.upload_id, record.part_number);
    let existing: Option<PartRecord> = get(t.get(TableId::Parts), TableId::Parts, &key)?;
    if let Some(existing) = existing {
        if !may_replace {
            return Err(MetaError::PreconditionFailed);
        }
        plan.outcome.existed = true;
        plan.release(&existing.extents);
    }
    plan.create(new_segments);
    plan.acquire(shared_segments.iter().copied());
    plan.put(TableId::Parts, key, encode(record));
    Ok(())
}

/// Checks the parts used against the record, drops the upload and its parts
/// (releasing the unused ones), then writes the object.
fn plan_complete_upload(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    upload: &UploadRef,
    parts_used: &[(u32, String)],
    write: ObjectWrite<'_>,
) -> Result<(), MetaError> {
    let record = write.record;
    let upload_row = require_upload(t, upload)?;
    let asked_checksum =
        get::<_, UploadRecord>(t.get(TableId::Uploads), TableId::Uploads, &upload_row)?
            .is_some_and(|u| u.checksum_algorithm.is_some());
    if parts_used.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(MetaError::InvalidPartOrder);
    }
    // Both in ascending part-number order (the parts by their keys), so
    // 10,000 parts cost binary searches, not a quadratic scan.
    let parts = read_parts(t, upload.upload_id)?;
    check_parts_used(&parts, parts_used, record)?;
    let used = |number: u32| {
        parts_used
            .binary_search_by_key(&number, |(n, _)| *n)
            .is_ok()
    };
    for (key, part) in &parts {
        if !used(part.part_number) {
            plan.release(&part.extents);
        }
        plan.delete(TableId::Parts, key.clone());
    }
    plan.delete(TableId::Uploads, upload_row);
    let k = KeyRef {
        project: upload.project,
        bucket: &upload.bucket,
        key: &upload.key,
    };
    versioned::put_object(t, plan, k, write)?;
    let version = plan.outcome.version.expect("a completion makes a version");
    let answer = CompletedUpload {
        project: upload.project,
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        parts_digest: parts_digest(parts_used.iter().map(|(n, e)| (*n, e.as_str()))),
        completed_ms: record.last_modified_ms,
        etag: record.etag.clone(),
        checksum: record.checksum.clone().filter(|_| asked_checksum),
        version: version.id,
        version_is_null: version.is_null,
        versioning: plan.outcome.versioning,
    };
    remember_completion(t, plan, upload.upload_id, &answer)
}

/// Keeps a completion's answer for retries, and forgets up to
/// `COMPLETED_UPLOADS_PRUNED_PER_COMMIT` answers past their time.
fn remember_completion(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    upload_id: UploadId,
    answer: &CompletedUpload,
) -> Result<(), MetaError> {
    let mut expired = Vec::new();
    scan_prefix(t.get(TableId::CompletedByTime), &[], |key, _| {
        let at = u64::from_be_bytes(key[..8].try_into().expect("eight bytes"));
        if at.saturating_add(COMPLETED_UPLOAD_MEMORY_MS) >= answer.completed_ms
            || expired.len() == COMPLETED_UPLOADS_PRUNED_PER_COMMIT
        {
            return Ok(ControlFlow::Break(()));
        }
        expired.push(key.to_vec());
        Ok(ControlFlow::Continue(()))
    })?;
    for key in expired {
        plan.delete(TableId::CompletedUploads, key[8..].to_vec());
        plan.delete(TableId::CompletedByTime, key);
    }
    plan.put(
        TableId::CompletedUploads,
        upload_id.0.to_vec(),
        encode(answer),
    );
    plan.put(
        TableId::CompletedByTime,
        codec::completed_by_time_key(answer.completed_ms, upload_id),
        Vec::new(),
    );
    Ok(())
}

/// Each used part still exists with its ETag, and together, in order, they
/// hold exactly the segments the record names.
fn check_parts_used(
    parts: &[(Vec<u8>, PartRecord)],
    parts_used: &[(u32, String)],
    record: &ObjectRecord,
) -> Result<(), MetaError> {
    let mut referenced = segment_ids(&record.extents);
    for (part_number, etag) in parts_used {
        let part = parts
            .binary_search_by_key(part_number, |(_, part)| part.part_number)
            .ok()
            .map(|i| &parts[i].1)
            .filter(|part| part.etag == *etag)
            .ok_or(MetaError::InvalidPart {
                part_number: *part_number,
            })?;
        // Same ETag but other segments: the part was uploaded again since
        // the caller read it, and the record names released segments.
        if !segment_ids(&part.extents).all(|id| referenced.next() == Some(id)) {
            return Err(MetaError::InvalidPart {
                part_number: *part_number,
            });
        }
    }
    if referenced.next().is_some() {
        return Err(MetaError::InconsistentMutation(
            "the record references segments no used part holds",
        ));
    }
    Ok(())
}

fn plan_abort_upload(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    upload: &UploadRef,
) -> Result<(), MetaError> {
    let key = require_upload(t, upload)?;
    drop_parts(t, plan, upload.upload_id)?;
    plan.delete(TableId::Uploads, key);
    Ok(())
}

fn plan_delete_project(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    id: ProjectId,
) -> Result<(), MetaError> {
    if !contains(t.get(TableId::Projects), &id.0)? {
        return Err(MetaError::NoSuchProject);
    }
    let mut owned = false;
    scan_prefix(t.get(TableId::Buckets), &id.0, |_, _| {
        owned = true;
        Ok(ControlFlow::Break(()))
    })?;
    if owned {
        return Err(MetaError::ProjectNotEmpty);
    }
    plan.delete(TableId::Projects, id.0);
    Ok(())
}

fn plan_revoke_api_key(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    head: &[u8; 16],
    revoked_ms: u64,
) -> Result<(), MetaError> {
    plan.outcome.existed = contains(t.get(TableId::Revoked), head)?;
    if !plan.outcome.existed {
        plan.put(TableId::Revoked, *head, encode(&revoked_ms));
    }
    Ok(())
}

/// Inserts or updates a store, unless its identity is registered under another id.
fn plan_put_store(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    record: &StoreRecord,
) -> Result<(), MetaError> {
    let key = record.id.to_be_bytes();
    let mut clash = false;
    scan_prefix(t.get(TableId::Stores), &[], |row_key, value| {
        let other: StoreRecord = decode(TableId::Stores.name(), value)?;
        clash |= other.identity == record.identity && row_key != key;
        Ok(ControlFlow::Continue(()))
    })?;
    if clash {
        return Err(MetaError::InconsistentMutation(
            "a store identity is registered under another id",
        ));
    }
    plan.outcome.existed = contains(t.get(TableId::Stores), &key)?;
    plan.put(TableId::Stores, key, encode(record));
    Ok(())
}

fn plan_repair_segment(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    id: SegmentId,
    expected: &[PiecePlacement],
    pieces: &[PiecePlacement],
) -> Result<(), MetaError> {
    let row: SegmentRow = get(t.get(TableId::Segments), TableId::Segments, &id.0)?
        .ok_or(MetaError::NoSuchSegment(id))?;
    if row.info.pieces != *expected {
        return Err(MetaError::SegmentChanged(id));
    }
    let info = SegmentInfo {
        pieces: pieces.to_vec(),
        ..row.info
    };
    plan.outcome.existed = true;
    plan.put(TableId::Segments, id.0, postcard_row(row.refs, &info));
    Ok(())
}

fn plan_gc_done(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    ids: &[SegmentId],
) -> Result<(), MetaError> {
    for id in ids {
        if contains(t.get(TableId::Gc), &id.0)? {
            plan.outcome.existed = true;
            plan.delete(TableId::Gc, id.0);
        }
    }
    Ok(())
}

fn plan_queue_gc(
    t: &WriteTables<'_>,
    plan: &mut Plan<'_>,
    segments: &[(SegmentId, SegmentInfo)],
) -> Result<(), MetaError> {
    for (id, info) in segments {
        if contains(t.get(TableId::Segments), &id.0)? || contains(t.get(TableId::Gc), &id.0)? {
            continue;
        }
        plan.put(TableId::Gc, id.0, encode(info));
        plan.outcome.segments_queued_for_gc += 1;
    }
    Ok(())
}

impl RedbStore {
    /// Applies `batch` in one durable write transaction (one fsync) and returns
    /// each mutation's own result, in order. `Err` only when the transaction
    /// itself fails; then nothing of the batch was applied.
    pub(crate) fn apply_batch(&self, batch: &[Mutation]) -> Result<BatchResults, MetaError> {
        let mut txn = self
            .database()
            .begin_write()
            .map_err(storage("begin write"))?;
        txn.set_durability(Durability::Immediate)
            .map_err(storage("set durability"))?;
        let mut results = Vec::with_capacity(batch.len());
        let mut dangling = 0;
        {
            let mut tables = WriteTables::open(&txn)?;
            for mutation in batch {
                match plan(&tables, mutation).and_then(|plan| plan.finish(&tables)) {
                    Ok((writes, outcome, released_dangling)) => {
                        tables.apply(writes)?;
                        dangling += released_dangling;
                        results.push(Ok(outcome));
                    }
                    Err(e) if e.is_storage() => return Err(e),
                    Err(e) => results.push(Err(e)),
                }
            }
        }
        txn.commit().map_err(storage("commit"))?;
        self.count_dangling(dangling);
        Ok(results)
    }
}
