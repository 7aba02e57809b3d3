//! What versioning costs the metadata path: object writes, reads and listings
//! on a real redb file, on an unversioned bucket and on a versioned one whose
//! every key already holds 100 versions.
//!
//! ```text
//! cargo bench --bench meta
//! ```
//!
//! Writes are committed 64 to a transaction (the group commit's shape under
//! load), so one fsync is shared and the figure is the per-mutation planning
//! and row cost; reads are one `object_version` or one 1000-key ListObjects
//! page through the backend, as the gateway's blocking pool calls them.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use ringgate::meta::{
    BucketRecord, Extent, ListQuery, Lock, MetaBackend, Mutation, ObjectRecord, ProjectId,
    ProjectRecord, RedbStore, Versioning, WhichVersion,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: usize = 1000;
const VERSIONS_PER_KEY: usize = 100;
const BATCH: usize = 64;

struct Fixture {
    store: RedbStore,
    project: ProjectId,
    _dir: tempfile::TempDir,
}

/// A 4 KiB object as the gateway stores it: sealed inline in its record.
fn record(time_ms: u64) -> ObjectRecord {
    ObjectRecord {
        size: 4096,
        etag: "0123456789abcdef0123456789abcdef".into(),
        last_modified_ms: time_ms,
        checksum: None,
        content_type: Some("application/octet-stream".into()),
        headers: Vec::new(),
        user_metadata: Vec::new(),
        part_sizes: Vec::new(),
        extents: vec![Extent::Inline {
            sealed: vec![7; 4096 + 16],
            wrapped_key: vec![1; 60],
            nonce_prefix: [0; 4],
        }],
        tags: Vec::new(),
    }
}

fn put(project: ProjectId, bucket: &str, key: usize, time_ms: u64) -> Mutation {
    Mutation::PutObject {
        project,
        bucket: bucket.into(),
        key: format!("key/{key:06}"),
        record: record(time_ms),
        new_segments: Vec::new(),
        shared_segments: Vec::new(),
        condition: None,
        lock: Lock::default(),
    }
}

/// Bucket `plain` (unversioned) and `versioned`, each with [`KEYS`] keys;
/// every key of `versioned` has [`VERSIONS_PER_KEY`] versions.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("meta.redb")).unwrap();
    let project = ProjectId::random();
    store
        .commit_one(Mutation::CreateProject(ProjectRecord {
            id: project,
            name: "bench".into(),
            created_ms: 1,
            secret_sealed: Vec::new(),
        }))
        .unwrap();
    for (name, versioning) in [
        ("plain", Versioning::Unversioned),
        ("versioned", Versioning::Enabled),
    ] {
        let record = BucketRecord {
            name: name.into(),
            created_ms: 1,
            location: "us-east-1".into(),
            versioning,
            object_lock: None,
        };
        store
            .commit_one(Mutation::CreateBucket { project, record })
            .unwrap();
    }
    let rounds = |bucket: &str, n: usize| {
        for round in 0..n {
            let batch: Vec<_> = (0..KEYS)
                .map(|k| put(project, bucket, k, round as u64))
                .collect();
            for result in store.commit_batch(&batch).unwrap() {
                result.unwrap();
            }
        }
    };
    rounds("plain", 1);
    rounds("versioned", VERSIONS_PER_KEY);
    Fixture {
        store,
        project,
        _dir: dir,
    }
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("meta");
    group.measurement_time(Duration::from_secs(3));
    for bucket in ["plain", "versioned"] {
        let mut next = 0usize;
        group.bench_function(format!("put_64_objects/{bucket}"), |b| {
            b.iter_batched(
                || {
                    next += BATCH;
                    (0..BATCH)
                        .map(|i| put(f.project, bucket, (next + i) % KEYS, 1_000_000))
                        .collect::<Vec<_>>()
                },
                |batch| f.store.commit_batch(&batch).unwrap(),
                BatchSize::SmallInput,
            )
        });
        let mut key = 0usize;
        group.bench_function(format!("get_latest/{bucket}"), |b| {
            b.iter(|| {
                key = (key + 7) % KEYS;
                let name = format!("key/{key:06}");
                black_box(
                    f.store
                        .object_version(f.project, bucket, &name, WhichVersion::Latest)
                        .unwrap(),
                )
            })
        });
        group.bench_function(format!("list_1000/{bucket}"), |b| {
            let query = ListQuery {
                max_keys: 1000,
                ..ListQuery::default()
            };
            b.iter(|| black_box(f.store.list_objects(f.project, bucket, &query).unwrap()))
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
