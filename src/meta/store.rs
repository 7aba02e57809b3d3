//! `RedbStore`: the embedded redb backend. Opening, the tables, and every read
//! (one read transaction each, so a read sees one committed state). Writes go
//! through `commit_batch` (see `apply`), normally called by the commit thread.

use std::ops::{Bound, ControlFlow};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redb::{
    AccessGuard, Database, DatabaseError, ReadOnlyTable, ReadTransaction, ReadableDatabase,
    ReadableTable, TableDefinition,
};
use serde::de::DeserializeOwned;

use super::backend::MetaBackend;
use super::codec::{self, decode, decode_version};
use super::error::{storage, MetaError};
use super::limits::{LIST_ENTRIES_MAX, PART_NUMBER_MAX};
use super::list::{list_page, KeyCursor, LastItem, ListSpec, Step};
use super::mutation::{BatchResults, Mutation};
use super::types::*;
use crate::pieces::format::SegmentId;

pub(crate) type Bytes = &'static [u8];

/// The layout version of the whole database, kept in the `format` table. Bumped
/// only for changes a record version byte cannot express (a new key layout).
pub const FORMAT_VERSION: u64 = 1;
const FORMAT: TableDefinition<&str, u64> = TableDefinition::new("format");
const FORMAT_KEY: &str = "version";

/// Page cache of the database file, unless [`StoreOptions`] says otherwise.
pub const CACHE_BYTES_DEFAULT: usize = 256 << 20;

/// The tables, all byte strings to byte strings (layouts in `codec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TableId {
    Projects,
    Access,
    Buckets,
    Objects,
    Segments,
    Uploads,
    Parts,
    Gc,
    Revoked,
    Stores,
    BucketConfigs,
    Versions,
    NullVersions,
    CompletedUploads,
    CompletedByTime,
}

impl TableId {
    pub const ALL: [TableId; 15] = [
        TableId::Projects,
        TableId::Access,
        TableId::Buckets,
        TableId::Objects,
        TableId::Segments,
        TableId::Uploads,
        TableId::Parts,
        TableId::Gc,
        TableId::Revoked,
        TableId::Stores,
        TableId::BucketConfigs,
        TableId::Versions,
        TableId::NullVersions,
        TableId::CompletedUploads,
        TableId::CompletedByTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TableId::Projects => "projects",
            TableId::Access => "access",
            TableId::Buckets => "buckets",
            TableId::Objects => "objects",
            TableId::Segments => "segments",
            TableId::Uploads => "uploads",
            TableId::Parts => "parts",
            TableId::Gc => "gc",
            TableId::Revoked => "revoked",
            TableId::Stores => "stores",
            TableId::BucketConfigs => "bucket_configs",
            TableId::Versions => "versions",
            TableId::NullVersions => "null_versions",
            TableId::CompletedUploads => "completed_uploads",
            TableId::CompletedByTime => "completed_by_time",
        }
    }

    pub fn definition(self) -> TableDefinition<'static, Bytes, Bytes> {
        TableDefinition::new(self.name())
    }
}

/// Reads and decodes one record from any table handle (read or write side).
pub(crate) fn get<T, R>(table: &T, id: TableId, key: &[u8]) -> Result<Option<R>, MetaError>
where
    T: ReadableTable<Bytes, Bytes>,
    R: DeserializeOwned,
{
    match table.get(key).map_err(storage("read"))? {
        None => Ok(None),
        Some(guard) => decode(id.name(), guard.value()).map(Some),
    }
}

pub(crate) fn contains<T>(table: &T, key: &[u8]) -> Result<bool, MetaError>
where
    T: ReadableTable<Bytes, Bytes>,
{
    Ok(table.get(key).map_err(storage("read"))?.is_some())
}

/// Visits every row whose key starts with `prefix`, in order, until `visit` breaks.
/// Up to `limit` rows of a table keyed by segment id, from the first id after
/// `after` (the first row if `None`), each made into a value by `row`.
fn segment_page<T, R>(
    table: &T,
    id: TableId,
    after: Option<SegmentId>,
    limit: usize,
    mut row: impl FnMut(SegmentId, &[u8]) -> Result<R, MetaError>,
) -> Result<Vec<R>, MetaError>
where
    T: ReadableTable<Bytes, Bytes>,
{
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    let after = after.map(|segment| segment.0);
    let start = match &after {
        Some(segment) => Bound::Excluded(&segment[..]),
        None => Bound::Unbounded,
    };
    let range = table
        .range::<&[u8]>((start, Bound::Unbounded))
        .map_err(storage("range"))?;
    for entry in range {
        let (key, value) = entry.map_err(storage("range"))?;
        let segment = codec::segment_id_of(id.name(), key.value())?;
        out.push(row(segment, value.value())?);
        if out.len() == limit {
            break;
        }
    }
    Ok(out)
}

pub(crate) fn scan_prefix<T>(
    table: &T,
    prefix: &[u8],
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>, MetaError>,
) -> Result<(), MetaError>
where
    T: ReadableTable<Bytes, Bytes>,
{
    let range = table
        .range::<&[u8]>((Bound::Included(prefix), Bound::Unbounded))
        .map_err(storage("range"))?;
    for row in range {
        let (key, value) = row.map_err(storage("range"))?;
        let key = key.value();
        if !key.starts_with(prefix) {
            break;
        }
        if visit(key, value.value())?.is_break() {
            break;
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// redb's page cache for the file.
    pub cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_bytes: CACHE_BYTES_DEFAULT,
        }
    }
}

/// The metadata database: cheap to clone, shared by every thread. Reads block
/// (call them from a blocking pool, see [`super::Meta`]); writes belong to the
/// commit thread.
#[derive(Clone)]
pub struct RedbStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    db: Database,
    path: PathBuf,
    dangling_references: AtomicU64,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the database at `path`, creating the file and its tables if missing.
    /// Fails with [`MetaError::AlreadyOpen`] while another handle (in this or
    /// another process) has it open: redb holds an exclusive file lock.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStore, MetaError> {
        Self::open_with(path, StoreOptions::default())
    }

    pub fn open_with(
        path: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<RedbStore, MetaError> {
        let path = path.as_ref().to_path_buf();
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => MetaError::AlreadyOpen { path: path.clone() },
                other => MetaError::Open {
                    path: path.clone(),
                    source: Arc::new(other.into()),
                },
            })?;
        let txn = db.begin_write().map_err(storage("begin write"))?;
        {
            for id in TableId::ALL {
                txn.open_table(id.definition())
                    .map_err(storage("create table"))?;
            }
            let mut format = txn.open_table(FORMAT).map_err(storage("create table"))?;
            let found = format
                .get(FORMAT_KEY)
                .map_err(storage("read"))?
                .map(|v| v.value());
            match found {
                None => {
                    format
                        .insert(FORMAT_KEY, FORMAT_VERSION)
                        .map_err(storage("write"))?;
                }
                Some(FORMAT_VERSION) => {}
                Some(found) => {
                    return Err(MetaError::UnsupportedFormat {
                        path,
                        found,
                        supported: FORMAT_VERSION,
                    })
                }
            }
        }
        txn.commit().map_err(storage("commit"))?;
        Ok(RedbStore {
            inner: Arc::new(StoreInner {
                db,
                path,
                dangling_references: AtomicU64::new(0),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn database(&self) -> &Database {
        &self.inner.db
    }

    pub(crate) fn count_dangling(&self, n: u64) {
        if n > 0 {
            self.inner
                .dangling_references
                .fetch_add(n, Ordering::Relaxed);
        }
    }

    fn read(&self) -> Result<Reader, MetaError> {
        Ok(Reader(
            self.inner.db.begin_read().map_err(storage("begin read"))?,
        ))
    }
}

impl MetaBackend for RedbStore {
    fn describe(&self) -> String {
        format!("redb file {}", self.inner.path.display())
    }

    fn commit_batch(&self, batch: &[Mutation]) -> Result<BatchResults, MetaError> {
        self.apply_batch(batch)
    }

    /// An invariant broken elsewhere; the release is skipped, so deletes still work.
    fn dangling_references(&self) -> u64 {
        self.inner.dangling_references.load(Ordering::Relaxed)
    }

    fn project(&self, id: ProjectId) -> Result<Option<ProjectRecord>, MetaError> {
        let table = self.read()?.table(TableId::Projects)?;
        get(&table, TableId::Projects, &id.0)
    }

    /// Every project, in id order.
    fn projects(&self) -> Result<Vec<ProjectRecord>, MetaError> {
        let table = self.read()?.table(TableId::Projects)?;
        let mut out = Vec::new();
        scan_prefix(&table, &[], |_, value| {
            out.push(decode(TableId::Projects.name(), value)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// When an API key head (its 16-byte id) was revoked (unix ms), if it was.
    fn revoked(&self, head: &[u8; 16]) -> Result<Option<u64>, MetaError> {
        let table = self.read()?.table(TableId::Revoked)?;
        get(&table, TableId::Revoked, head)
    }

    /// The opaque record stored under the hash of an access key id.
    fn access(&self, key_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, MetaError> {
        let table = self.read()?.table(TableId::Access)?;
        let found = table.get(&key_hash[..]).map_err(storage("read"))?;
        Ok(found.map(|guard| guard.value().to_vec()))
    }

    fn access_after(
        &self,
        after: Option<[u8; 32]>,
        limit: usize,
    ) -> Result<Vec<AccessRow>, MetaError> {
        let table = self.read()?.table(TableId::Access)?;
        let start = match &after {
            Some(hash) => Bound::Excluded(&hash[..]),
            None => Bound::Unbounded,
        };
        let range = table
            .range::<&[u8]>((start, Bound::Unbounded))
            .map_err(storage("range"))?;
        let mut out = Vec::new();
        for entry in range.take(limit) {
            let (key, value) = entry.map_err(storage("range"))?;
            let hash = key.value().try_into().map_err(|_| MetaError::Corrupt {
                table: TableId::Access.name(),
                reason: format!("a row key of {} bytes", key.value().len()),
            })?;
            out.push((hash, value.value().to_vec()));
        }
        Ok(out)
    }

    fn bucket(&self, project: ProjectId, bucket: &str) -> Result<Option<BucketRecord>, MetaError> {
        let table = self.read()?.table(TableId::Buckets)?;
        let row = table
            .get(&codec::bucket_key(project, bucket)[..])
            .map_err(storage("read"))?;
        row.map(|guard| codec::decode_bucket(guard.value()))
            .transpose()
    }

    /// A project's buckets in name order (at most `BUCKETS_PER_PROJECT_MAX`).
    fn buckets(&self, project: ProjectId) -> Result<Vec<BucketRecord>, MetaError> {
        let table = self.read()?.table(TableId::Buckets)?;
        let mut out = Vec::new();
        scan_prefix(&table, &project.0, |_, value| {
            out.push(codec::decode_bucket(value)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    fn bucket_configs(&self, project: ProjectId, bucket: &str) -> Result<BucketConfigs, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let table = reader.table(TableId::BucketConfigs)?;
        let prefix = codec::bucket_prefix(project, bucket);
        let mut configs = BucketConfigs::default();
        scan_prefix(&table, &prefix, |key, value| {
            let family = utf8(TableId::BucketConfigs, key[prefix.len()..].to_vec())?;
            configs.documents.insert(family, value.to_vec());
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(configs)
    }

    /// Whether the bucket holds no objects, versions or delete markers
    /// (uploads in progress do not count).
    fn bucket_is_empty(&self, project: ProjectId, bucket: &str) -> Result<bool, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let objects = reader.table(TableId::Objects)?;
        let versions = reader.table(TableId::Versions)?;
        Ok(bucket_is_empty(&objects, project, bucket)?
            && bucket_is_empty(&versions, project, bucket)?)
    }

    /// The current object, `None` if there is none, `NoSuchBucket` if the bucket is absent.
    fn object(
        &self,
        project: ProjectId,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let objects = reader.table(TableId::Objects)?;
        let row = objects
            .get(&codec::object_key(project, bucket, key)[..])
            .map_err(storage("read"))?;
        Ok(row
            .map(|guard| codec::decode_object(guard.value()))
            .transpose()?
            .map(|(_, record)| record))
    }

    /// One version, with the segments an object's extents reference, read in
    /// one transaction so no release can fall between them.
    fn object_version(
        &self,
        project: ProjectId,
        bucket: &str,
        key: &str,
        which: WhichVersion,
    ) -> Result<Option<FoundVersion>, MetaError> {
        let reader = self.read()?;
        let buckets = reader.table(TableId::Buckets)?;
        let bucket_row = buckets
            .get(&codec::bucket_key(project, bucket)[..])
            .map_err(storage("read"))?
            .ok_or(MetaError::NoSuchBucket)?;
        let versioning = codec::decode_bucket(bucket_row.value())?.versioning;
        let Some((version, body)) = reader.find_version(project, bucket, key, which)? else {
            return Ok(None);
        };
        let body = match body {
            VersionBody::DeleteMarker { last_modified_ms } => {
                VersionBody::DeleteMarker { last_modified_ms }
            }
            VersionBody::Object(record) => {
                let infos = reader.segment_infos_of(&record)?;
                VersionBody::Object((record, infos))
            }
        };
        Ok(Some(FoundVersion {
            version,
            versioning,
            body,
        }))
    }

    /// One page of a bucket's objects; see [`ListQuery`] and `list.rs` for the rules.
    fn list_objects(
        &self,
        project: ProjectId,
        bucket: &str,
        query: &ListQuery,
    ) -> Result<ListPage, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let objects = reader.table(TableId::Objects)?;
        let after = (!query.start_after.is_empty()).then_some(query.start_after.as_bytes());
        let spec = ListSpec {
            prefix: query.prefix.as_bytes(),
            delimiter: query.delimiter.as_deref().map(str::as_bytes),
            entries_after: after,
            prefixes_after: after,
            max_items: query.max_keys.min(LIST_ENTRIES_MAX),
        };
        let mut cursor = TableCursor::new(&objects, codec::bucket_prefix(project, bucket));
        let page = list_page(
            &mut cursor,
            &spec,
            |k| k,
            |key, value| {
                let summary = match decode_version(TableId::Objects.name(), value.value(), false)? {
                    (_, VersionBody::Object(summary)) => summary,
                    (_, VersionBody::DeleteMarker { .. }) => {
                        return Err(MetaError::Corrupt {
                            table: "objects",
                            reason: "a delete marker as a current object".into(),
                        })
                    }
                };
                Ok((utf8(TableId::Objects, key.to_vec())?, summary))
            },
        )?;
        Ok(ListPage {
            entries: page.entries,
            common_prefixes: strings(TableId::Objects, page.common_prefixes)?,
            is_truncated: page.is_truncated,
            next_marker: match page.last {
                Some(LastItem::Entry(k) | LastItem::CommonPrefix(k)) => {
                    Some(utf8(TableId::Objects, k)?)
                }
                None => None,
            },
        })
    }

    /// One page of versions: the listing runs over `key ‖ 00 ‖ id` composites
    /// of both tables merged ([`VersionCursor`]), so paging and common prefixes
    /// work as for uploads.
    fn list_versions(
        &self,
        project: ProjectId,
        bucket: &str,
        query: &VersionListQuery,
    ) -> Result<VersionPage, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let key_marker = query.key_marker.as_bytes();
        let after_id = match query.version_id_marker {
            None => None,
            Some(WhichVersion::Id(id)) => Some(id),
            Some(which) => reader
                .find_version(project, bucket, &query.key_marker, which)?
                .map(|(version, _)| version.id),
        };
        let entries_after = match (key_marker.is_empty(), after_id) {
            (true, None) => None,
            (_, Some(id)) => Some(version_suffix(key_marker, id)),
            (false, None) => Some(version_suffix(key_marker, VersionId([0xff; 16]))),
        };
        let spec = ListSpec {
            prefix: query.prefix.as_bytes(),
            delimiter: query.delimiter.as_deref().map(str::as_bytes),
            entries_after: entries_after.as_deref(),
            prefixes_after: (!key_marker.is_empty()).then_some(key_marker),
            max_items: query.max_keys.min(LIST_ENTRIES_MAX),
        };
        let objects = reader.table(TableId::Objects)?;
        let versions = reader.table(TableId::Versions)?;
        let base = codec::bucket_prefix(project, bucket);
        let mut cursor = VersionCursor::new(&objects, &versions, base);
        let page = list_page(
            &mut cursor,
            &spec,
            codec::upload_suffix_key,
            |suffix, (is_latest, value)| {
                let key = utf8(TableId::Versions, codec::upload_suffix_key(suffix).to_vec())?;
                let (version, body) =
                    decode_version(TableId::Versions.name(), value.value(), false)?;
                Ok(VersionEntry {
                    key,
                    version,
                    is_latest,
                    body,
                })
            },
        )?;
        let (next_key_marker, next_version_id_marker) = match &page.last {
            None => (None, None),
            Some(LastItem::CommonPrefix(prefix)) => {
                (Some(utf8(TableId::Versions, prefix.clone())?), None)
            }
            Some(LastItem::Entry(_)) => {
                let last = page
                    .entries
                    .last()
                    .expect("a page ending on an entry has one");
                (Some(last.key.clone()), Some(last.version))
            }
        };
        Ok(VersionPage {
            entries: page.entries,
            common_prefixes: strings(TableId::Versions, page.common_prefixes)?,
            is_truncated: page.is_truncated,
            next_key_marker,
            next_version_id_marker,
        })
    }

    fn upload(&self, upload: &UploadRef) -> Result<Option<UploadRecord>, MetaError> {
        let table = self.read()?.table(TableId::Uploads)?;
        get(&table, TableId::Uploads, &upload_key(upload))
    }

    /// The remembered answer of a completed upload with this id, if it was
    /// an upload of the same project, bucket and key.
    fn completed_upload(&self, upload: &UploadRef) -> Result<Option<CompletedUpload>, MetaError> {
        let table = self.read()?.table(TableId::CompletedUploads)?;
        let found: Option<CompletedUpload> =
            get(&table, TableId::CompletedUploads, &upload.upload_id.0)?;
        Ok(found.filter(|c| {
            c.project == upload.project && c.bucket == upload.bucket && c.key == upload.key
        }))
    }

    /// One part, `None` if absent, `NoSuchUpload` if the upload is.
    fn part(&self, upload: &UploadRef, part_number: u32) -> Result<Option<PartRecord>, MetaError> {
        let reader = self.read()?;
        reader.require_upload(upload)?;
        let parts = reader.table(TableId::Parts)?;
        get(
            &parts,
            TableId::Parts,
            &codec::part_key(upload.upload_id, part_number),
        )
    }

    /// One page of a bucket's uploads in progress, by key then upload id.
    fn list_uploads(
        &self,
        project: ProjectId,
        bucket: &str,
        query: &UploadListQuery,
    ) -> Result<UploadPage, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let uploads = reader.table(TableId::Uploads)?;
        // Uploads are `key ‖ 00 ‖ id` under the bucket. After (key, id) is after
        // that composite; after a key alone is after its greatest composite.
        let key_marker = query.key_marker.as_bytes();
        let entries_after = match (query.key_marker.is_empty(), query.upload_id_marker) {
            (true, None) => None,
            (_, Some(id)) => Some(codec::upload_suffix(key_marker, id)),
            (false, None) => Some(codec::upload_suffix(key_marker, UploadId([0xff; 16]))),
        };
        let spec = ListSpec {
            prefix: query.prefix.as_bytes(),
            delimiter: query.delimiter.as_deref().map(str::as_bytes),
            entries_after: entries_after.as_deref(),
            prefixes_after: (!key_marker.is_empty()).then_some(key_marker),
            max_items: query.max_uploads.min(LIST_ENTRIES_MAX),
        };
        let mut cursor = TableCursor::new(&uploads, codec::bucket_prefix(project, bucket));
        let page = list_page(&mut cursor, &spec, codec::upload_suffix_key, |_, value| {
            decode::<UploadRecord>(TableId::Uploads.name(), value.value())
        })?;
        let (next_key_marker, next_upload_id_marker) = match page.last {
            None => (None, None),
            Some(LastItem::CommonPrefix(prefix)) => (Some(utf8(TableId::Uploads, prefix)?), None),
            Some(LastItem::Entry(suffix)) => (
                Some(utf8(
                    TableId::Uploads,
                    codec::upload_suffix_key(&suffix).to_vec(),
                )?),
                codec::upload_suffix_id(&suffix),
            ),
        };
        Ok(UploadPage {
            uploads: page.entries,
            common_prefixes: strings(TableId::Uploads, page.common_prefixes)?,
            is_truncated: page.is_truncated,
            next_key_marker,
            next_upload_id_marker,
        })
    }

    /// Parts after `part_number_marker`, at most `max_parts` (clamped to
    /// `PART_NUMBER_MAX`, so one call can read every part for a completion).
    fn list_parts(
        &self,
        upload: &UploadRef,
        part_number_marker: u32,
        max_parts: usize,
    ) -> Result<PartPage, MetaError> {
        let reader = self.read()?;
        reader.require_upload(upload)?;
        let parts = reader.table(TableId::Parts)?;
        let max_parts = max_parts.min(PART_NUMBER_MAX as usize);
        let mut page = PartPage::default();
        if max_parts == 0 {
            return Ok(page);
        }
        let Some(first) = part_number_marker.checked_add(1) else {
            return Ok(page);
        };
        let start = codec::part_key(upload.upload_id, first);
        let range = parts
            .range::<&[u8]>((Bound::Included(&start[..]), Bound::Unbounded))
            .map_err(storage("range"))?;
        for row in range {
            let (key, value) = row.map_err(storage("range"))?;
            if !key.value().starts_with(&upload.upload_id.0) {
                break;
            }
            if page.parts.len() == max_parts {
                page.is_truncated = true;
                page.next_part_number_marker = page.parts.last().map(|p| p.part_number);
                break;
            }
            page.parts
                .push(decode(TableId::Parts.name(), value.value())?);
        }
        Ok(page)
    }

    /// The segments' records, `None` for an id with no row, in the order asked.
    fn segment_infos(&self, ids: &[SegmentId]) -> Result<Vec<Option<SegmentInfo>>, MetaError> {
        let table = self.read()?.table(TableId::Segments)?;
        ids.iter()
            .map(|id| Ok(get::<_, SegmentRow>(&table, TableId::Segments, &id.0)?.map(|r| r.info)))
            .collect()
    }

    /// How many extents reference the segment; `None` once it has no row (it
    /// was never created, or its last reference went and it is queued for GC).
    fn segment_ref_count(&self, id: SegmentId) -> Result<Option<u32>, MetaError> {
        let table = self.read()?.table(TableId::Segments)?;
        Ok(get::<_, SegmentRow>(&table, TableId::Segments, &id.0)?.map(|r| r.refs))
    }

    /// From the first entry after `after`: the
    /// collector pages on, so entries stuck behind a dead store cannot hide
    /// the rest of the queue.
    fn gc_pending_after(
        &self,
        after: Option<SegmentId>,
        limit: usize,
    ) -> Result<Vec<GcEntry>, MetaError> {
        let table = self.read()?.table(TableId::Gc)?;
        segment_page(&table, TableId::Gc, after, limit, |segment, value| {
            Ok(GcEntry {
                segment,
                info: decode(TableId::Gc.name(), value)?,
            })
        })
    }

    /// Every piece store ever registered, by id.
    fn stores(&self) -> Result<Vec<StoreRecord>, MetaError> {
        let table = self.read()?.table(TableId::Stores)?;
        let mut out = Vec::new();
        scan_prefix(&table, &[], |_, value| {
            out.push(decode(TableId::Stores.name(), value)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// Up to `limit` segments with ids after `after` (from the first if `None`),
    /// in id order: how audits walk every segment a page at a time.
    fn segments_after(
        &self,
        after: Option<SegmentId>,
        limit: usize,
    ) -> Result<Vec<(SegmentId, SegmentInfo)>, MetaError> {
        let table = self.read()?.table(TableId::Segments)?;
        segment_page(&table, TableId::Segments, after, limit, |id, value| {
            let row: SegmentRow = decode(TableId::Segments.name(), value)?;
            Ok((id, row.info))
        })
    }

    /// Every segment id in the segments table, in id order: pieces of any other
    /// segment are orphans (a crash between piece writes and the metadata commit)
    /// or already queued for GC. 16 bytes per segment in memory.
    fn referenced_segments(&self) -> Result<Vec<SegmentId>, MetaError> {
        let table = self.read()?.table(TableId::Segments)?;
        let mut out = Vec::new();
        scan_prefix(&table, &[], |key, _| {
            out.push(codec::segment_id_of(TableId::Segments.name(), key)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
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

pub(crate) fn bucket_is_empty<T>(
    objects: &T,
    project: ProjectId,
    bucket: &str,
) -> Result<bool, MetaError>
where
    T: ReadableTable<Bytes, Bytes>,
{
    let mut empty = true;
    scan_prefix(objects, &codec::bucket_prefix(project, bucket), |_, _| {
        empty = false;
        Ok(ControlFlow::Break(()))
    })?;
    Ok(empty)
}

fn utf8(table: TableId, bytes: Vec<u8>) -> Result<String, MetaError> {
    String::from_utf8(bytes).map_err(|_| MetaError::Corrupt {
        table: table.name(),
        reason: "a key is not UTF-8".into(),
    })
}

fn strings(table: TableId, list: Vec<Vec<u8>>) -> Result<Vec<String>, MetaError> {
    list.into_iter().map(|b| utf8(table, b)).collect()
}

/// One read transaction.
struct Reader(ReadTransaction);

impl Reader {
    fn table(&self, id: TableId) -> Result<ReadOnlyTable<Bytes, Bytes>, MetaError> {
        self.0
            .open_table(id.definition())
            .map_err(storage("open table"))
    }

    fn require_bucket(&self, project: ProjectId, bucket: &str) -> Result<(), MetaError> {
        let buckets = self.table(TableId::Buckets)?;
        if contains(&buckets, &codec::bucket_key(project, bucket))? {
            Ok(())
        } else {
            Err(MetaError::NoSuchBucket)
        }
    }

    /// The version `which` names: the current object, else a `versions` row.
    fn find_version(
        &self,
        project: ProjectId,
        bucket: &str,
        key: &str,
        which: WhichVersion,
    ) -> Result<Option<(Version, VersionBody<ObjectRecord>)>, MetaError> {
        let objects = self.table(TableId::Objects)?;
        let current = objects
            .get(&codec::object_key(project, bucket, key)[..])
            .map_err(storage("read"))?
            .map(|guard| codec::decode_object(guard.value()))
            .transpose()?;
        if let Some((version, record)) = current {
            if which == WhichVersion::Latest || which.matches(&version) {
                return Ok(Some((version, VersionBody::Object(record))));
            }
        }
        let versions = self.table(TableId::Versions)?;
        let row_key = match which {
            WhichVersion::Latest => {
                // No current object: the latest is a delete marker, if anything.
                let mut first = None;
                let prefix = codec::key_versions_prefix(project, bucket, key);
                scan_prefix(&versions, &prefix, |_, value| {
                    first = Some(decode_version(TableId::Versions.name(), value, true)?);
                    Ok(ControlFlow::Break(()))
                })?;
                return Ok(first);
            }
            WhichVersion::Null => {
                let nulls = self.table(TableId::NullVersions)?;
                let found = nulls
                    .get(&codec::object_key(project, bucket, key)[..])
                    .map_err(storage("read"))?;
                let Some(id) = found.and_then(|g| <[u8; 16]>::try_from(g.value()).ok()) else {
                    return Ok(None);
                };
                codec::version_key(project, bucket, key, VersionId(id))
            }
            WhichVersion::Id(id) => codec::version_key(project, bucket, key, id),
        };
        let found = versions.get(&row_key[..]).map_err(storage("read"))?;
        let Some(guard) = found else {
            return Ok(None);
        };
        let (version, body) = decode_version(TableId::Versions.name(), guard.value(), true)?;
        Ok(which.matches(&version).then_some((version, body)))
    }

    /// The segments an object's extents reference, in extent order.
    fn segment_infos_of(&self, record: &ObjectRecord) -> Result<Vec<SegmentInfo>, MetaError> {
        let segments = self.table(TableId::Segments)?;
        let mut infos = Vec::new();
        for id in segment_ids(&record.extents) {
            let row: SegmentRow =
                get(&segments, TableId::Segments, &id.0)?.ok_or_else(|| MetaError::Corrupt {
                    table: "segments",
                    reason: format!("an object references missing segment {}", id.to_hex()),
                })?;
            infos.push(row.info);
        }
        Ok(infos)
    }

    fn require_upload(&self, upload: &UploadRef) -> Result<(), MetaError> {
        let uploads = self.table(TableId::Uploads)?;
        if contains(&uploads, &upload_key(upload))? {
            Ok(())
        } else {
            Err(MetaError::NoSuchUpload)
        }
    }
}

/// A [`KeyCursor`] over the rows of one table under `base`, keys relative to it.
struct TableCursor<'t> {
    table: &'t ReadOnlyTable<Bytes, Bytes>,
    base: Vec<u8>,
    range: Option<redb::Range<'static, Bytes, Bytes>>,
}

impl<'t> TableCursor<'t> {
    fn new(table: &'t ReadOnlyTable<Bytes, Bytes>, base: Vec<u8>) -> Self {
        Self {
            table,
            base,
            range: None,
        }
    }
}

impl KeyCursor for TableCursor<'_> {
    type Value = AccessGuard<'static, Bytes>;
    type Error = MetaError;

    fn seek(&mut self, from: Bound<&[u8]>) -> Step<Self> {
        let absolute = |key: &[u8]| [&self.base[..], key].concat();
        let lower = match from {
            Bound::Included(key) => Bound::Included(absolute(key)),
            Bound::Excluded(key) => Bound::Excluded(absolute(key)),
            Bound::Unbounded => Bound::Included(self.base.clone()),
        };
        let lower = match &lower {
            Bound::Included(k) => Bound::Included(k.as_slice()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        };
        self.range = Some(
            self.table
                .range::<&[u8]>((lower, Bound::Unbounded))
                .map_err(storage("range"))?,
        );
        self.next()
    }

    fn next(&mut self) -> Step<Self> {
        let Some(range) = self.range.as_mut() else {
            return Ok(None);
        };
        match range.next() {
            None => {
                self.range = None;
                Ok(None)
            }
            Some(Err(e)) => Err(storage("range")(e)),
            Some(Ok((key, value))) => {
                let key = key.value();
                if !key.starts_with(&self.base) {
                    self.range = None;
                    return Ok(None);
                }
                Ok(Some((key[self.base.len()..].to_vec(), value)))
            }
        }
    }
}

fn version_suffix(key: &[u8], id: VersionId) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 17);
    out.extend_from_slice(key);
    out.push(codec::SEPARATOR);
    out.extend_from_slice(&id.0);
    out
}

/// The id in a versioned row's header, or derived for a version-1 row.
fn row_version_id(value: &[u8]) -> Result<VersionId, MetaError> {
    match value.get(1..17) {
        Some(id) if value[0] == codec::VERSIONED_RECORD => {
            Ok(VersionId(id.try_into().expect("sixteen bytes")))
        }
        _ => decode_version::<ObjectSummary>(TableId::Objects.name(), value, false)
            .map(|(version, _)| version.id),
    }
}

type Row = (Vec<u8>, AccessGuard<'static, Bytes>);

/// A [`KeyCursor`] over one bucket's versions as `key ‖ 00 ‖ id` composites:
/// each key's current object (from `objects`, where the key alone is the row
/// key) merged in front of its `versions` rows, since it is the newest. Each
/// value says whether it is its key's latest version.
struct VersionCursor<'t> {
    objects: &'t ReadOnlyTable<Bytes, Bytes>,
    current: TableCursor<'t>,
    others: TableCursor<'t>,
    next_current: Option<Row>,
    next_other: Option<Row>,
    /// The key of the item returned last, since the last seek.
    last_name: Option<Vec<u8>>,
}

impl<'t> VersionCursor<'t> {
    fn new(
        objects: &'t ReadOnlyTable<Bytes, Bytes>,
        versions: &'t ReadOnlyTable<Bytes, Bytes>,
        base: Vec<u8>,
    ) -> Self {
        Self {
            objects,
            current: TableCursor::new(objects, base.clone()),
            others: TableCursor::new(versions, base),
            next_current: None,
            next_other: None,
            last_name: None,
        }
    }

    /// A current row with its key made a composite.
    fn composite(row: Option<Row>) -> Result<Option<Row>, MetaError> {
        let Some((mut key, value)) = row else {
            return Ok(None);
        };
        let id = row_version_id(value.value())?;
        key.push(codec::SEPARATOR);
        key.extend_from_slice(&id.0);
        Ok(Some((key, value)))
    }

    /// Whether a `versions` row is its key's latest: no current object and no newer row.
    fn is_latest_other(&self, composite: &[u8]) -> Result<bool, MetaError> {
        let name = codec::upload_suffix_key(composite);
        if self.last_name.as_deref() == Some(name) {
            return Ok(false);
        }
        if self.last_name.is_some() {
            // The previous item was another key's, with no seek since: this
            // row is the first of its key, and the key has no current object
            // (that would have come just before).
            return Ok(true);
        }
        let first = {
            let mut versions = TableCursor::new(self.others.table, self.others.base.clone());
            let mut prefix = name.to_vec();
            prefix.push(codec::SEPARATOR);
            versions.seek(Bound::Included(&prefix))?.map(|(k, _)| k)
        };
        Ok(!self.objects_has(name)? && first.as_deref() == Some(composite))
    }

    fn objects_has(&self, name: &[u8]) -> Result<bool, MetaError> {
        contains(self.objects, &[&self.current.base[..], name].concat())
    }

    fn take(&mut self) -> Step<Self> {
        let from_current = match (&self.next_current, &self.next_other) {
            (None, None) => return Ok(None),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((a, _)), Some((b, _))) => a < b,
        };
        let (key, value, is_latest) = if from_current {
            let (key, value) = self.next_current.take().expect("checked");
            self.next_current = Self::composite(self.current.next()?)?;
            (key, value, true)
        } else {
            let (key, value) = self.next_other.take().expect("checked");
            let is_latest = self.is_latest_other(&key)?;
            self.next_other = self.others.next()?;
            (key, value, is_latest)
        };
        self.last_name = Some(codec::upload_suffix_key(&key).to_vec());
        Ok(Some((key, (is_latest, value))))
    }
}

impl KeyCursor for VersionCursor<'_> {
    type Value = (bool, AccessGuard<'static, Bytes>);
    type Error = MetaError;

    fn seek(&mut self, from: Bound<&[u8]>) -> Step<Self> {
        self.last_name = None;
        self.next_other = self.others.seek(from)?;
        // Keys hold no 00 byte, so the bound's key part ends at its first one;
        // a composite satisfies the bound only if its key is at least that.
        let bound_key = |b: &[u8]| -> Vec<u8> {
            let end = b
                .iter()
                .position(|&c| c == codec::SEPARATOR)
                .unwrap_or(b.len());
            b[..end].to_vec()
        };
        let lower = match from {
            Bound::Included(b) | Bound::Excluded(b) => Some(bound_key(b)),
            Bound::Unbounded => None,
        };
        let mut row = match &lower {
            Some(lower) => self.current.seek(Bound::Included(lower))?,
            None => self.current.seek(Bound::Unbounded)?,
        };
        loop {
            let candidate = Self::composite(row)?;
            let satisfies = match (&candidate, from) {
                (None, _) | (_, Bound::Unbounded) => true,
                (Some((k, _)), Bound::Included(b)) => k.as_slice() >= b,
                (Some((k, _)), Bound::Excluded(b)) => k.as_slice() > b,
            };
            if satisfies {
                self.next_current = candidate;
                break;
            }
            row = self.current.next()?;
        }
        self.take()
    }

    fn next(&mut self) -> Step<Self> {
        self.take()
    }
}
