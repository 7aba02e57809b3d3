//! Versioning through the contract: each state's writes and deletes, delete
//! markers and their removal, the `null` version, listing with paging, and a
//! property test of random histories against a model of S3's rules.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

impl Fixture {
    fn set_versioning(&self, state: Versioning) {
        self.commit(Mutation::SetBucketVersioning {
            project: self.project,
            bucket: BUCKET.into(),
            state,
        })
        .unwrap();
    }

    fn put_at(&self, key: &str, etag: &str, ids: &[SegmentId], time_ms: u64) -> Version {
        let mut put = self.put_new(key, etag, ids);
        if let Mutation::PutObject { record, .. } = &mut put {
            record.last_modified_ms = time_ms;
        }
        self.commit(put)
            .unwrap()
            .version
            .expect("a write reports its version")
    }

    fn delete_version(&self, key: &str, which: WhichVersion) -> MutationOutcome {
        self.commit(Mutation::DeleteObject {
            project: self.project,
            bucket: BUCKET.into(),
            key: key.into(),
            which,
            now_ms: 9,
            bypass_governance: false,
            condition: None,
        })
        .unwrap()
    }

    fn versions(&self, max_keys: usize) -> Vec<VersionEntry> {
        let mut query = VersionListQuery {
            max_keys,
            ..VersionListQuery::default()
        };
        let mut out = Vec::new();
        loop {
            let page = self
                .store
                .list_versions(self.project, BUCKET, &query)
                .unwrap();
            assert!(page.entries.len() <= max_keys);
            out.extend(page.entries);
            if !page.is_truncated {
                return out;
            }
            query.key_marker = page.next_key_marker.unwrap();
            query.version_id_marker = page.next_version_id_marker.map(|v| v.which());
        }
    }

    fn latest(&self, key: &str) -> Option<FoundVersion> {
        self.store
            .object_version(self.project, BUCKET, key, WhichVersion::Latest)
            .unwrap()
    }
}

fn etag_of(entry: &VersionEntry) -> Option<&str> {
    match &entry.body {
        VersionBody::Object(summary) => Some(&summary.etag),
        VersionBody::DeleteMarker { .. } => None,
    }
}

#[test]
fn enabled_keeps_every_version_newest_first_even_when_the_clock_goes_back() {
    let f = fixture();
    let null = f.put_at("k", "v0", &[], 50);
    assert!(null.is_null);
    f.set_versioning(Versioning::Enabled);
    let v1 = f.put_at("k", "v1", &segments(1), 40);
    let v2 = f.put_at("k", "v2", &[], 10);
    assert!(!v1.is_null && !v2.is_null && v1.id != v2.id);
    assert!(
        v2.id < v1.id && v1.id < null.id,
        "newest first in byte order"
    );
    let listed = f.versions(1000);
    let shown: Vec<_> = listed
        .iter()
        .map(|e| (e.version, e.is_latest, etag_of(e)))
        .collect();
    assert_eq!(
        shown,
        vec![
            (v2, true, Some("v2")),
            (v1, false, Some("v1")),
            (null, false, Some("v0")),
        ]
    );
    assert_eq!(f.object("k").unwrap().etag, "v2");
    let old = f
        .store
        .object_version(f.project, BUCKET, "k", WhichVersion::Null)
        .unwrap()
        .unwrap();
    assert!(matches!(old.body, VersionBody::Object((ref r, _)) if r.etag == "v0"));
    // ListObjects sees only the current object.
    let page = f
        .store
        .list_objects(
            f.project,
            BUCKET,
            &ListQuery {
                max_keys: 10,
                ..ListQuery::default()
            },
        )
        .unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].1.etag, "v2");
}

#[test]
fn markers_hide_and_deleting_them_restores() {
    let f = fixture();
    f.set_versioning(Versioning::Enabled);
    let ids = segments(1);
    let v1 = f.put_at("k", "v1", &ids, 5);
    let outcome = f.delete_version("k", WhichVersion::Latest);
    let marker = outcome.version.unwrap();
    assert!(outcome.delete_marker && !marker.is_null);
    assert_eq!(f.object("k"), None);
    let latest = f.latest("k").unwrap();
    assert_eq!(latest.version, marker);
    assert!(matches!(
        latest.body,
        VersionBody::DeleteMarker {
            last_modified_ms: 9
        }
    ));
    assert!(!f.store.bucket_is_empty(f.project, BUCKET).unwrap());
    assert!(matches!(
        f.commit(Mutation::DeleteBucket {
            project: f.project,
            bucket: BUCKET.into()
        }),
        Err(MetaError::BucketNotEmpty)
    ));
    // Deleting the marker by id makes v1 current again, segments untouched.
    let outcome = f.delete_version("k", WhichVersion::Id(marker.id));
    assert!(outcome.delete_marker && outcome.existed);
    assert_eq!(f.object("k").unwrap().etag, "v1");
    assert_eq!(f.refs(ids[0]), Some(1));
    // Deleting the only version frees its segments and empties the bucket.
    let outcome = f.delete_version("k", WhichVersion::Id(v1.id));
    assert_eq!(outcome.segments_queued_for_gc, 1);
    assert_eq!(f.latest("k"), None);
    assert!(f.store.bucket_is_empty(f.project, BUCKET).unwrap());
    // An unknown version: success, nothing done.
    let outcome = f.delete_version("k", WhichVersion::Id(VersionId([0; 16])));
    assert!(!outcome.existed);
}

#[test]
fn suspended_writes_and_deletes_replace_the_null_version() {
    let f = fixture();
    f.set_versioning(Versioning::Enabled);
    let e1 = f.put_at("k", "e1", &[], 1);
    f.set_versioning(Versioning::Suspended);
    let s1_ids = segments(1);
    let s1 = f.put_at("k", "s1", &s1_ids, 2);
    assert!(s1.is_null);
    let s2 = f.put_at("k", "s2", &[], 3);
    assert!(s2.is_null);
    assert_eq!(f.refs(s1_ids[0]), None, "the null version was replaced");
    let shown: Vec<_> = f
        .versions(1000)
        .iter()
        .map(|e| (e.version, etag_of(e).map(str::to_string)))
        .collect();
    assert_eq!(
        shown,
        vec![(s2, Some("s2".into())), (e1, Some("e1".into()))]
    );
    let outcome = f.delete_version("k", WhichVersion::Latest);
    let marker = outcome.version.unwrap();
    assert!(outcome.delete_marker && marker.is_null);
    let shown: Vec<_> = f
        .versions(1000)
        .iter()
        .map(|e| (e.version, e.is_latest, etag_of(e).is_none()))
        .collect();
    assert_eq!(shown, vec![(marker, true, true), (e1, false, false)]);
    // Enabled again: e1's successor is a new version; the null marker stays.
    f.set_versioning(Versioning::Enabled);
    let e2 = f.put_at("k", "e2", &[], 4);
    assert_eq!(f.versions(1000).len(), 3);
    // Deleting the null marker by `null` leaves e2 current.
    let outcome = f.delete_version("k", WhichVersion::Null);
    assert_eq!(outcome.version, Some(marker));
    assert_eq!(f.latest("k").unwrap().version, e2);
    assert!(matches!(
        f.commit(Mutation::SetBucketVersioning {
            project: f.project,
            bucket: BUCKET.into(),
            state: Versioning::Unversioned,
        }),
        Err(MetaError::InconsistentMutation(_))
    ));
}

/// S3's versioning rules for one key, newest first: (version, etag or marker).
#[derive(Default)]
struct Model {
    state: Versioning,
    keys: BTreeMap<String, Vec<(Version, Option<String>)>>,
}

impl Model {
    /// Applies a write or delete-latest that created `version` (etag `None`: a marker).
    fn add(&mut self, key: &str, version: Version, etag: Option<String>) {
        let history = self.keys.entry(key.to_string()).or_default();
        match self.state {
            Versioning::Unversioned => history.clear(),
            Versioning::Suspended => history.retain(|(v, _)| !v.is_null),
            Versioning::Enabled => {}
        }
        if !(self.state == Versioning::Unversioned && etag.is_none()) {
            history.insert(0, (version, etag));
        }
        if history.is_empty() {
            self.keys.remove(key);
        }
    }

    fn remove(&mut self, key: &str, which: WhichVersion) {
        if let Some(history) = self.keys.get_mut(key) {
            history.retain(|(v, _)| !which.matches(v));
            if history.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    fn listing(&self) -> Vec<(String, Version, bool, Option<String>)> {
        self.keys
            .iter()
            .flat_map(|(key, history)| {
                history
                    .iter()
                    .enumerate()
                    .map(move |(i, (v, etag))| (key.clone(), *v, i == 0, etag.clone()))
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put { key: u8, time: u64 },
    DeleteLatest { key: u8 },
    DeleteNth { key: u8, nth: u8 },
    DeleteNull { key: u8 },
    Set(bool),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..20u64).prop_map(|(key, time)| Op::Put { key, time }),
        2 => (0..3u8).prop_map(|key| Op::DeleteLatest { key }),
        2 => (0..3u8, 0..4u8).prop_map(|(key, nth)| Op::DeleteNth { key, nth }),
        1 => (0..3u8).prop_map(|key| Op::DeleteNull { key }),
        1 => any::<bool>().prop_map(Op::Set),
    ]
}

fn run(f: &Fixture, model: &mut Model, op: &Op, step: usize) {
    let name = |key: &u8| format!("k{key}");
    match op {
        Op::Put { key, time } => {
            let etag = format!("e{step}");
            let version = f.put_at(&name(key), &etag, &segments(1), *time);
            model.add(&name(key), version, Some(etag));
        }
        Op::DeleteLatest { key } => {
            let outcome = f.delete_version(&name(key), WhichVersion::Latest);
            if let Some(version) = outcome.version {
                model.add(&name(key), version, None);
            } else {
                model.keys.remove(&name(key));
            }
        }
        Op::DeleteNth { key, nth } => {
            let which = model
                .keys
                .get(&name(key))
                .and_then(|h| h.get(usize::from(*nth)))
                .map_or(WhichVersion::Id(VersionId([7; 16])), |(v, _)| v.which());
            f.delete_version(&name(key), which);
            model.remove(&name(key), which);
        }
        Op::DeleteNull { key } => {
            f.delete_version(&name(key), WhichVersion::Null);
            model.remove(&name(key), WhichVersion::Null);
        }
        Op::Set(enabled) => {
            let state = if *enabled {
                Versioning::Enabled
            } else {
                Versioning::Suspended
            };
            f.set_versioning(state);
            model.state = state;
        }
    }
}

fn check(f: &Fixture, model: &Model) {
    let want = model.listing();
    for max_keys in [1000, 2] {
        let got: Vec<_> = f
            .versions(max_keys)
            .iter()
            .map(|e| {
                (
                    e.key.clone(),
                    e.version,
                    e.is_latest,
                    etag_of(e).map(str::to_string),
                )
            })
            .collect();
        assert_eq!(got, want, "max-keys {max_keys}");
    }
    for key in ["k0", "k1", "k2"] {
        let latest = model.keys.get(key).and_then(|h| h.first());
        let current = latest.and_then(|(_, etag)| etag.clone());
        assert_eq!(f.object(key).map(|r| r.etag), current, "{key}");
        assert_eq!(
            f.latest(key).map(|found| found.version),
            latest.map(|(v, _)| *v)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_histories_agree_with_the_model(ops in proptest::collection::vec(arb_op(), 1..24)) {
        let f = fixture();
        let mut model = Model::default();
        for (step, op) in ops.iter().enumerate() {
            run(&f, &mut model, op, step);
            check(&f, &model);
        }
        // Every listed object's segments are referenced once; the rest are queued.
        let live = f.versions(1000).iter().filter(|e| etag_of(e).is_some()).count();
        let referenced = f.store.referenced_segments().unwrap().len();
        prop_assert_eq!(live, referenced);
    }
}

impl Fixture {
    fn lock_bucket(&self, default_retention: Option<DefaultRetention>) {
        self.set_versioning(Versioning::Enabled);
        self.commit(Mutation::SetBucketObjectLock {
            project: self.project,
            bucket: BUCKET.into(),
            config: ObjectLock { default_retention },
        })
        .unwrap();
    }

    fn put_locked(&self, key: &str, lock: Lock, time_ms: u64) -> Result<Version, MetaError> {
        let mut put = self.put_new(key, "e", &[]);
        if let Mutation::PutObject {
            record,
            lock: asked,
            ..
        } = &mut put
        {
            record.last_modified_ms = time_ms;
            *asked = lock;
        }
        Ok(self.commit(put)?.version.unwrap())
    }

    fn delete_at(
        &self,
        key: &str,
        which: WhichVersion,
        now_ms: u64,
        bypass_governance: bool,
    ) -> Result<MutationOutcome, MetaError> {
        self.commit(Mutation::DeleteObject {
            project: self.project,
            bucket: BUCKET.into(),
            key: key.into(),
            which,
            now_ms,
            bypass_governance,
            condition: None,
        })
    }

    fn change_lock(&self, which: WhichVersion, change: LockChange) -> Result<Version, MetaError> {
        let outcome = self.commit(Mutation::SetObjectLock {
            project: self.project,
            bucket: BUCKET.into(),
            key: "k".into(),
            which,
            change,
            now_ms: 50,
        })?;
        Ok(outcome.version.unwrap())
    }
}

fn retention(mode: RetentionMode, until_ms: u64) -> Lock {
    Lock {
        retention: Some(Retention { mode, until_ms }),
        legal_hold: false,
    }
}

#[test]
fn compliance_refuses_every_delete_until_its_date() {
    let f = fixture();
    f.lock_bucket(None);
    let v = f
        .put_locked("k", retention(RetentionMode::Compliance, 100), 5)
        .unwrap();
    let by_id = WhichVersion::Id(v.id);
    for bypass in [false, true] {
        assert!(matches!(
            f.delete_at("k", by_id, 99, bypass),
            Err(MetaError::ObjectLocked)
        ));
    }
    // Without a version id: a marker, the version stays.
    assert!(
        f.delete_at("k", WhichVersion::Latest, 99, false)
            .unwrap()
            .delete_marker
    );
    assert!(f
        .store
        .object_version(f.project, BUCKET, "k", by_id)
        .unwrap()
        .is_some());
    // Shortening is refused, even with the bypass; extending is not.
    let shorter = LockChange::Retention {
        retention: Some(Retention {
            mode: RetentionMode::Compliance,
            until_ms: 80,
        }),
        bypass_governance: true,
    };
    assert!(matches!(
        f.change_lock(by_id, shorter),
        Err(MetaError::ObjectLocked)
    ));
    let longer = LockChange::Retention {
        retention: Some(Retention {
            mode: RetentionMode::Compliance,
            until_ms: 150,
        }),
        bypass_governance: false,
    };
    assert_eq!(
        f.change_lock(by_id, longer)
            .unwrap()
            .lock
            .retention
            .unwrap()
            .until_ms,
        150
    );
    assert!(matches!(
        f.delete_at("k", by_id, 120, false),
        Err(MetaError::ObjectLocked)
    ));
    assert!(f.delete_at("k", by_id, 150, false).unwrap().existed);
}

#[test]
fn governance_yields_to_the_bypass_and_legal_holds_to_nothing() {
    let f = fixture();
    f.lock_bucket(None);
    let v = f
        .put_locked("k", retention(RetentionMode::Governance, 100), 5)
        .unwrap();
    let by_id = WhichVersion::Id(v.id);
    assert!(matches!(
        f.delete_at("k", by_id, 10, false),
        Err(MetaError::ObjectLocked)
    ));
    let remove = |bypass_governance| LockChange::Retention {
        retention: None,
        bypass_governance,
    };
    assert!(matches!(
        f.change_lock(by_id, remove(false)),
        Err(MetaError::ObjectLocked)
    ));
    let held = f.change_lock(by_id, LockChange::LegalHold(true)).unwrap();
    assert!(held.lock.legal_hold);
    assert!(matches!(
        f.delete_at("k", by_id, 10, true),
        Err(MetaError::ObjectLocked)
    ));
    f.change_lock(by_id, LockChange::LegalHold(false)).unwrap();
    assert!(f.delete_at("k", by_id, 10, true).unwrap().existed);
    assert_eq!(f.latest("k"), None);
}

#[test]
fn default_retention_dates_new_versions() {
    let f = fixture();
    let default = DefaultRetention {
        mode: RetentionMode::Governance,
        period: RetentionPeriod::Days(2),
    };
    f.lock_bucket(Some(default));
    let v = f.put_locked("k", Lock::default(), 1_000).unwrap();
    let want = Retention {
        mode: RetentionMode::Governance,
        until_ms: 1_000 + 2 * 86_400_000,
    };
    assert_eq!(v.lock.retention, Some(want));
    // What the write asks for wins over the default; a legal hold adds to it.
    let asked = Lock {
        retention: Some(Retention {
            mode: RetentionMode::Compliance,
            until_ms: 7,
        }),
        legal_hold: true,
    };
    assert_eq!(f.put_locked("k", asked, 2_000).unwrap().lock, asked);
    let held = Lock {
        retention: None,
        legal_hold: true,
    };
    let v = f.put_locked("k", held, 3_000).unwrap();
    assert_eq!(
        (v.lock.retention.unwrap().until_ms, v.lock.legal_hold),
        (3_000 + 2 * 86_400_000, true)
    );
}

#[test]
fn object_lock_needs_versioning_and_keeps_it() {
    let f = fixture();
    let asked = retention(RetentionMode::Governance, 100);
    assert!(matches!(
        f.put_locked("k", asked, 5),
        Err(MetaError::NoObjectLockConfiguration)
    ));
    let lock = |f: &Fixture| {
        f.commit(Mutation::SetBucketObjectLock {
            project: f.project,
            bucket: BUCKET.into(),
            config: ObjectLock::default(),
        })
    };
    assert!(matches!(lock(&f), Err(MetaError::InvalidBucketState(_))));
    f.set_versioning(Versioning::Enabled);
    lock(&f).unwrap();
    let suspend = f.commit(Mutation::SetBucketVersioning {
        project: f.project,
        bucket: BUCKET.into(),
        state: Versioning::Suspended,
    });
    assert!(matches!(suspend, Err(MetaError::InvalidBucketState(_))));
    let bucket = f.store.bucket(f.project, BUCKET).unwrap().unwrap();
    assert_eq!(
        (bucket.versioning, bucket.object_lock),
        (Versioning::Enabled, Some(ObjectLock::default()))
    );
    // A marker has no lock to change.
    f.put_locked("k", Lock::default(), 5).unwrap();
    let marker = f
        .delete_at("k", WhichVersion::Latest, 9, false)
        .unwrap()
        .version
        .unwrap();
    let hold = LockChange::LegalHold(true);
    assert!(matches!(
        f.change_lock(WhichVersion::Id(marker.id), hold),
        Err(MetaError::DeleteMarker)
    ));
    let missing = WhichVersion::Id(VersionId([3; 16]));
    assert!(matches!(
        f.change_lock(missing, hold),
        Err(MetaError::NoSuchVersion)
    ));
}

#[test]
fn conditional_deletes_check_the_version_they_delete() {
    let f = fixture();
    f.commit(f.put_new("k", "e1", &[])).unwrap();
    let delete = |key: &str, condition: DeleteCondition| {
        f.commit(Mutation::DeleteObject {
            project: f.project,
            bucket: BUCKET.into(),
            key: key.into(),
            which: WhichVersion::Latest,
            now_ms: 9,
            bypass_governance: false,
            condition: Some(condition),
        })
    };
    let etag = |e: &str| DeleteCondition {
        etag: Some(e.into()),
        ..DeleteCondition::default()
    };
    assert!(matches!(
        delete("k", etag("other")),
        Err(MetaError::PreconditionFailed)
    ));
    assert!(matches!(
        delete("absent", etag("*")),
        Err(MetaError::NoSuchKey)
    ));
    let size = DeleteCondition {
        size: Some(1),
        ..DeleteCondition::default()
    };
    assert!(matches!(
        delete("k", size),
        Err(MetaError::PreconditionFailed)
    ));
    assert!(f.object("k").is_some());
    let time = DeleteCondition {
        etag: Some("e1".into()),
        last_modified_ms: Some(3),
        size: Some(0),
    };
    assert!(delete("k", time).unwrap().existed);
    assert_eq!(f.object("k"), None);
}
