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
use super::codec::{self, decode, decode_prefix};
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
}

impl TableId {
    pub const ALL: [TableId; 11] = [
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

    fn bucket(&self, project: ProjectId, bucket: &str) -> Result<Option<BucketRecord>, MetaError> {
        let table = self.read()?.table(TableId::Buckets)?;
        get(
            &table,
            TableId::Buckets,
            &codec::bucket_key(project, bucket),
        )
    }

    /// A project's buckets in name order (at most `BUCKETS_PER_PROJECT_MAX`).
    fn buckets(&self, project: ProjectId) -> Result<Vec<BucketRecord>, MetaError> {
        let table = self.read()?.table(TableId::Buckets)?;
        let mut out = Vec::new();
        scan_prefix(&table, &project.0, |_, value| {
            out.push(decode(TableId::Buckets.name(), value)?);
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

    /// Whether the bucket holds no objects (uploads in progress do not count).
    fn bucket_is_empty(&self, project: ProjectId, bucket: &str) -> Result<bool, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let objects = reader.table(TableId::Objects)?;
        bucket_is_empty(&objects, project, bucket)
    }

    /// The object, `None` if the key is absent, `NoSuchBucket` if the bucket is.
    fn object(
        &self,
        project: ProjectId,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let objects = reader.table(TableId::Objects)?;
        get(
            &objects,
            TableId::Objects,
            &codec::object_key(project, bucket, key),
        )
    }

    /// The object and the segments its extents reference (in extent order), read
    /// in one transaction so no release can fall between them.
    fn object_with_segments(
        &self,
        project: ProjectId,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(ObjectRecord, Vec<SegmentInfo>)>, MetaError> {
        let reader = self.read()?;
        reader.require_bucket(project, bucket)?;
        let objects = reader.table(TableId::Objects)?;
        let key = codec::object_key(project, bucket, key);
        let Some(record) = get::<_, ObjectRecord>(&objects, TableId::Objects, &key)? else {
            return Ok(None);
        };
        let segments = reader.table(TableId::Segments)?;
        let mut infos = Vec::new();
        for id in segment_ids(&record.extents) {
            let row: SegmentRow =
                get(&segments, TableId::Segments, &id.0)?.ok_or_else(|| MetaError::Corrupt {
                    table: "segments",
                    reason: format!("an object references missing segment {}", id.to_hex()),
                })?;
            infos.push(row.info);
        }
        Ok(Some((record, infos)))
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
                let summary: ObjectSummary = decode_prefix(TableId::Objects.name(), value.value())?;
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

    fn upload(&self, upload: &UploadRef) -> Result<Option<UploadRecord>, MetaError> {
        let table = self.read()?.table(TableId::Uploads)?;
        get(&table, TableId::Uploads, &upload_key(upload))
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
