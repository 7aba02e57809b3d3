//! What a chain of caveats allows, and the questions the server asks of it.
//!
//! ## Semantics
//! A caveat is the set of requests it allows: operations × paths × times, each
//! dimension unrestricted when the caveat leaves it out. A key allows a request
//! when *every* caveat allows it, so [`Permissions`] is the intersection, and
//! since every caveat is a product of independent dimensions, so is the
//! intersection, computed per dimension:
//! - **operations**: the intersection of the operation sets;
//! - **paths**: a caveat's pairs are a union (a request matches the caveat if
//!   it matches *any* pair: same bucket, key begins with the prefix); caveats
//!   intersect. Per bucket, the intersection of prefix sets A and B is
//!   `{ the longer of a, b : a ∈ A, b ∈ B, one begins with the other }`; a
//!   bucket named by one path caveat but not another is gone. The result is
//!   kept minimal: per bucket, sorted, no prefix beginning with another;
//! - **times**: the latest not-before and the earliest not-after; a request at
//!   `now` passes when `not_before <= now <= not_after` (inclusive, unix seconds).
//!
//! - **privileges**: the privileges every caveat keeps (a caveat drops those
//!   it does not name; see `caveat`).
//!
//! An empty intersection (no operation, no bucket, or not-before after
//! not-after) allows nothing; that is not an error.
//!
//! ## The S3 operations (for the gateway)
//! | S3 operation | question |
//! | --- | --- |
//! | GetObject, HeadObject | `allows(Read, bucket, key)` |
//! | PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload | `allows(Write, bucket, key)` |
//! | CopyObject, UploadPartCopy | `allows(Read, src…)` and `allows(Write, dst…)` |
//! | DeleteObject; DeleteObjects (per key, denied keys reported per key); AbortMultipartUpload | `allows(Delete, bucket, key)` |
//! | ListParts | `allows(List, bucket, key)` |
//! | ListObjects, ListObjectsV2, ListObjectVersions, ListMultipartUploads | `list_scope(bucket, prefix)` |
//! | ListBuckets | `allows_list_buckets()`, then only buckets with `bucket_visible` |
//! | CreateBucket | `allows(Write, bucket, "")` |
//! | DeleteBucket | `allows(Delete, bucket, "")` |
//! | HeadBucket, GetBucketLocation, GetBucketVersioning | `allows_bucket(bucket)` |
//!
//! The empty key stands for the whole bucket: it is allowed only where the
//! grant allows the empty prefix of that bucket (S3 keys are never empty).
//! HeadBucket and its kin need some operation on some prefix of the bucket,
//! so a write-only uploader can check its bucket exists.
//! Aborting a multipart upload destroys the parts uploaded so far, perhaps by
//! another holder of a write grant, so it asks for delete, as Storj does (an
//! abort deletes the pending object there). A write-only uploader that gives
//! up leaves its parts for a grant that may delete.
//! Overwriting an existing object destroys it: a server that wants "write
//! without delete" to mean "cannot overwrite" asks `allows(Delete, …)` before
//! replacing an object and otherwise treats the PUT as `If-None-Match: *`.
//!
//! ## Listing
//! A listing under a grant is the listing of a bucket that held only the keys
//! the grant allows to be listed: filter first, then apply S3's prefix,
//! delimiter, marker and page size. So common prefixes come only from allowed
//! keys. [`Permissions::list_scope`] says how: `All` (the requested prefix lies
//! inside an allowed prefix: list as usual), `Within(prefixes)` (only keys
//! under these prefixes, each beginning with the requested one; sorted and none
//! a prefix of another, so their key ranges are disjoint and in key order: the
//! listing is their range scans one after the other), or `Denied::Prefix` when
//! no key under the requested prefix is allowed (S3 answers AccessDenied).

use std::collections::BTreeMap;
use std::fmt;

use super::caveat::{Action, ActionSet, Caveat, PathRule, Privileges};
use super::time::format_time;

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the grant is not valid before {}", format_time(*not_before))]
    NotYetValid { not_before: i64 },
    #[error("the grant expired at {}", format_time(*not_after))]
    Expired { not_after: i64 },
    #[error("the grant does not allow {0}")]
    Action(Action),
    #[error("the grant allows no operation")]
    NoAction,
    #[error("the grant does not allow this bucket")]
    Bucket,
    #[error("the grant does not allow this key or prefix")]
    Prefix,
}

/// How to filter a listing; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListScope {
    /// List as usual: every key under the requested prefix is allowed.
    All,
    /// Only keys under these prefixes (sorted, disjoint, each beginning with
    /// the requested prefix, at least one).
    Within(Vec<String>),
}

impl ListScope {
    /// Whether a key under the requested prefix belongs in the listing.
    pub fn includes(&self, key: &str) -> bool {
        match self {
            ListScope::All => true,
            ListScope::Within(prefixes) => prefixes.iter().any(|p| key.starts_with(p.as_str())),
        }
    }
}

/// The effective permissions of a chain of caveats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    actions: ActionSet,
    /// `None`: every bucket and key. Otherwise bucket → allowed prefixes,
    /// minimal (sorted, none beginning with another), never empty.
    paths: Option<BTreeMap<String, Vec<String>>>,
    not_before: Option<i64>,
    not_after: Option<i64>,
    privileges: Privileges,
}

impl Default for Permissions {
    fn default() -> Self {
        Self::unrestricted()
    }
}

impl Permissions {
    /// What a key without caveats allows: everything in its project, always.
    pub fn unrestricted() -> Self {
        Self {
            actions: ActionSet::ALL,
            paths: None,
            not_before: None,
            not_after: None,
            privileges: Privileges::ALL,
        }
    }

    pub fn from_caveats(caveats: &[Caveat]) -> Self {
        caveats
            .iter()
            .fold(Self::unrestricted(), |p, c| p.narrow(c))
    }

    /// These permissions intersected with one more caveat.
    pub fn narrow(mut self, caveat: &Caveat) -> Self {
        if let Some(actions) = caveat.actions {
            self.actions = self.actions.intersect(actions);
        }
        if let Some(rules) = &caveat.paths {
            let theirs = path_map(rules);
            self.paths = Some(match &self.paths {
                None => theirs,
                Some(ours) => intersect(ours, &theirs),
            });
        }
        if let Some(t) = caveat.not_before {
            self.not_before = Some(self.not_before.map_or(t, |ours| ours.max(t)));
        }
        if let Some(t) = caveat.not_after {
            self.not_after = Some(self.not_after.map_or(t, |ours| ours.min(t)));
        }
        self.privileges = self.privileges.intersect(caveat.keeps);
        self
    }

    /// Whether no caveat narrows anything: the project's own key.
    pub fn is_unrestricted(&self) -> bool {
        *self == Self::unrestricted()
    }

    pub fn actions(&self) -> ActionSet {
        self.actions
    }
    /// `None` when every bucket and key is allowed; otherwise each allowed
    /// bucket with its allowed prefixes (minimal, sorted; `""` is the whole bucket).
    pub fn paths(&self) -> Option<&BTreeMap<String, Vec<String>>> {
        self.paths.as_ref()
    }
    pub fn not_before(&self) -> Option<i64> {
        self.not_before
    }
    pub fn not_after(&self) -> Option<i64> {
        self.not_after
    }
    pub fn privileges(&self) -> Privileges {
        self.privileges
    }

    /// `x-amz-bypass-governance-retention`: held by a project's own key and by
    /// grants whose every restriction kept it.
    pub fn allows_bypass_governance(&self) -> bool {
        self.privileges.contains(Privileges::BYPASS_GOVERNANCE)
    }

    /// Whether no request at any time can pass.
    pub fn allows_nothing(&self) -> bool {
        self.actions.is_empty()
            || self.paths.as_ref().is_some_and(BTreeMap::is_empty)
            || matches!((self.not_before, self.not_after), (Some(b), Some(a)) if b > a)
    }

    pub fn check_time(&self, now_unix: i64) -> Result<(), Denied> {
        if let Some(not_before) = self.not_before.filter(|&t| now_unix < t) {
            return Err(Denied::NotYetValid { not_before });
        }
        if let Some(not_after) = self.not_after.filter(|&t| now_unix > t) {
            return Err(Denied::Expired { not_after });
        }
        Ok(())
    }

    fn check_action(&self, action: Action) -> Result<(), Denied> {
        if self.actions.contains(action) {
            Ok(())
        } else {
            Err(Denied::Action(action))
        }
    }

    /// The allowed prefixes of `bucket` (`None`: the whole bucket, unrestricted).
    fn bucket_prefixes(&self, bucket: &str) -> Result<Option<&[String]>, Denied> {
        match &self.paths {
            None => Ok(None),
            Some(map) => map
                .get(bucket)
                .map(|p| Some(p.as_slice()))
                .ok_or(Denied::Bucket),
        }
    }

    /// May `action` be done on `key` in `bucket` at `now_unix`? The empty key
    /// stands for the whole bucket (CreateBucket, DeleteBucket).
    pub fn allows(
        &self,
        action: Action,
        bucket: &str,
        key: &str,
        now_unix: i64,
    ) -> Result<(), Denied> {
        self.check_time(now_unix)?;
        self.check_action(action)?;
        match self.bucket_prefixes(bucket)? {
            None => Ok(()),
            Some(prefixes) if prefixes.iter().any(|p| key.starts_with(p.as_str())) => Ok(()),
            Some(_) => Err(Denied::Prefix),
        }
    }

    /// HeadBucket, GetBucketLocation, GetBucketVersioning: some operation on
    /// some prefix of the bucket.
    pub fn allows_bucket(&self, bucket: &str, now_unix: i64) -> Result<(), Denied> {
        self.check_time(now_unix)?;
        if self.actions.is_empty() {
            return Err(Denied::NoAction);
        }
        self.bucket_prefixes(bucket).map(drop)
    }

    /// ListBuckets; the server then shows only buckets with [`Self::bucket_visible`].
    pub fn allows_list_buckets(&self, now_unix: i64) -> Result<(), Denied> {
        self.check_time(now_unix)?;
        self.check_action(Action::List)
    }

    /// Whether ListBuckets shows `bucket`: the grant allows some prefix of it.
    pub fn bucket_visible(&self, bucket: &str) -> bool {
        self.bucket_prefixes(bucket).is_ok()
    }

    /// How to list `bucket` under `requested_prefix`; see the module documentation.
    pub fn list_scope(
        &self,
        bucket: &str,
        requested_prefix: &str,
        now_unix: i64,
    ) -> Result<ListScope, Denied> {
        self.check_time(now_unix)?;
        self.check_action(Action::List)?;
        let Some(prefixes) = self.bucket_prefixes(bucket)? else {
            return Ok(ListScope::All);
        };
        if prefixes
            .iter()
            .any(|p| requested_prefix.starts_with(p.as_str()))
        {
            return Ok(ListScope::All);
        }
        let within: Vec<String> = prefixes
            .iter()
            .filter(|p| p.starts_with(requested_prefix))
            .cloned()
            .collect();
        if within.is_empty() {
            Err(Denied::Prefix)
        } else {
            Ok(ListScope::Within(within))
        }
    }

    /// A human-readable account, one aspect a line (what `Display` prints).
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "operations  {}", self.actions)?;
        match &self.paths {
            None => writeln!(f, "paths       every bucket, every key")?,
            Some(map) if map.is_empty() => writeln!(f, "paths       none")?,
            Some(map) => {
                let rules = map.iter().flat_map(|(bucket, prefixes)| {
                    prefixes
                        .iter()
                        .map(|p| PathRule::new(bucket.clone(), p.clone()))
                });
                for (i, rule) in rules.enumerate() {
                    let label = if i == 0 { "paths" } else { "" };
                    writeln!(f, "{label:<11} {rule}")?;
                }
            }
        }
        let times = match (self.not_before, self.not_after) {
            (None, None) => "always".to_string(),
            (Some(b), None) => format!("from {}", format_time(b)),
            (None, Some(a)) => format!("until {}", format_time(a)),
            (Some(b), Some(a)) => format!("from {} until {}", format_time(b), format_time(a)),
        };
        writeln!(f, "valid       {times}")?;
        write!(f, "privileges  {}", self.privileges)?;
        if self.allows_nothing() {
            write!(f, "\nallows nothing")?;
        }
        Ok(())
    }
}

fn path_map(rules: &[PathRule]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in rules {
        map.entry(rule.bucket.clone())
            .or_default()
            .push(rule.prefix.clone());
    }
    map.values_mut().for_each(minimize);
    map
}

fn intersect(
    ours: &BTreeMap<String, Vec<String>>,
    theirs: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (bucket, a) in ours {
        let Some(b) = theirs.get(bucket) else {
            continue;
        };
        let mut both: Vec<String> = Vec::new();
        for x in a {
            for y in b {
                if x.starts_with(y.as_str()) {
                    both.push(x.clone());
                } else if y.starts_with(x.as_str()) {
                    both.push(y.clone());
                }
            }
        }
        if !both.is_empty() {
            minimize(&mut both);
            out.insert(bucket.clone(), both);
        }
    }
    out
}

/// Sorts and drops every prefix that begins with another one. In sorted order
/// the keys beginning with `p` follow `p` without a gap, so comparing with the
/// last kept prefix is enough.
fn minimize(prefixes: &mut Vec<String>) {
    prefixes.sort_unstable();
    let mut kept: Vec<String> = Vec::with_capacity(prefixes.len());
    for p in prefixes.drain(..) {
        if !kept.last().is_some_and(|last| p.starts_with(last.as_str())) {
            kept.push(p);
        }
    }
    *prefixes = kept;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: i64 = 1_000;

    fn perms(caveats: &[Caveat]) -> Permissions {
        Permissions::from_caveats(caveats)
    }

    fn paths(rules: &[(&str, &str)]) -> Caveat {
        Caveat {
            paths: Some(rules.iter().map(|(b, p)| PathRule::new(*b, *p)).collect()),
            ..Caveat::default()
        }
    }

    #[test]
    fn intersections() {
        // (caveats' paths, the effective bucket → prefixes)
        type Rules<'a> = &'a [&'a [(&'a str, &'a str)]];
        type Effective<'a> = &'a [(&'a str, &'a [&'a str])];
        let cases: &[(Rules, Effective)] = &[
            (&[&[("abc", "")]], &[("abc", &[""])]),
            (
                &[&[("abc", "x/"), ("abc", "x/y/"), ("abc", "")]],
                &[("abc", &[""])],
            ),
            (
                &[&[("abc", "a/")], &[("abc", "a/b/")]],
                &[("abc", &["a/b/"])],
            ),
            (
                &[&[("abc", "a/b/")], &[("abc", "a/")]],
                &[("abc", &["a/b/"])],
            ),
            (&[&[("abc", "a/")], &[("abc", "b/")]], &[]),
            (&[&[("abc", "")], &[("def", "")]], &[]),
            (
                &[
                    &[("abc", "a/"), ("abc", "b/"), ("def", "")],
                    &[("abc", "a/1"), ("abc", "b"), ("def", "z"), ("ghi", "")],
                ],
                &[("abc", &["a/1", "b/"]), ("def", &["z"])],
            ),
            (
                &[
                    &[("abc", "a"), ("abc", "a/"), ("abc", "a0")],
                    &[("abc", "a/x"), ("abc", "a0")],
                ],
                &[("abc", &["a/x", "a0"])],
            ),
            (&[&[]], &[]),
        ];
        for (caveats, expected) in cases {
            let caveats: Vec<Caveat> = caveats.iter().map(|rules| paths(rules)).collect();
            let expected: BTreeMap<String, Vec<String>> = expected
                .iter()
                .map(|(b, ps)| (b.to_string(), ps.iter().map(|p| p.to_string()).collect()))
                .collect();
            assert_eq!(perms(&caveats).paths(), Some(&expected), "{caveats:?}");
        }
    }

    #[test]
    fn requests() {
        let p = perms(&[
            Caveat::default()
                .allow_actions(ActionSet::READ_ONLY.with(Action::Write))
                .allow_path("photos", "2024/")
                .allow_path("logs", ""),
            Caveat::default().not_before(T).not_after(2 * T),
            Caveat::default().allow_actions(ActionSet::READ_ONLY),
        ]);
        use Action::*;
        type Case<'a> = (Action, &'a str, &'a str, i64, Result<(), Denied>);
        let cases: &[Case] = &[
            (Read, "photos", "2024/a.jpg", T, Ok(())),
            (List, "photos", "2024/", 2 * T, Ok(())),
            (Read, "logs", "anything", T + 1, Ok(())),
            (Read, "logs", "", T, Ok(())),
            (Read, "photos", "", T, Err(Denied::Prefix)),
            (Read, "photos", "2023/a.jpg", T, Err(Denied::Prefix)),
            (Read, "photos", "2024", T, Err(Denied::Prefix)),
            (Read, "other", "2024/a.jpg", T, Err(Denied::Bucket)),
            (Write, "photos", "2024/a.jpg", T, Err(Denied::Action(Write))),
            (Delete, "logs", "x", T, Err(Denied::Action(Delete))),
            (
                Read,
                "logs",
                "x",
                T - 1,
                Err(Denied::NotYetValid { not_before: T }),
            ),
            (
                Read,
                "logs",
                "x",
                2 * T + 1,
                Err(Denied::Expired { not_after: 2 * T }),
            ),
        ];
        for (action, bucket, key, now, expected) in cases {
            assert_eq!(
                p.allows(*action, bucket, key, *now),
                *expected,
                "{action} {bucket}/{key} at {now}"
            );
        }
        assert_eq!(p.allows_bucket("photos", T), Ok(()));
        assert_eq!(p.allows_bucket("other", T), Err(Denied::Bucket));
        assert_eq!(p.allows_list_buckets(T), Ok(()));
        assert!(p.bucket_visible("logs") && !p.bucket_visible("other"));
        assert!(!p.allows_nothing());

        let none = perms(&[Caveat::default().allow_actions(ActionSet::NONE)]);
        assert!(none.allows_nothing());
        assert_eq!(none.allows_bucket("abc", 0), Err(Denied::NoAction));
        assert_eq!(none.allows_list_buckets(0), Err(Denied::Action(List)));
        let everything = Permissions::unrestricted();
        assert_eq!(everything.allows(Delete, "abc", "", i64::MIN), Ok(()));
        assert!(everything.bucket_visible("any"));
        let inverted = perms(&[Caveat::default().not_before(5).not_after(4)]);
        assert!(inverted.allows_nothing());
    }

    #[test]
    fn list_scopes() {
        let p = perms(&[paths(&[
            ("abc", "photos/2024/"),
            ("abc", "photos/2025/"),
            ("abc", "docs/"),
            ("def", ""),
        ])]);
        let within = |ps: &[&str]| {
            Ok(ListScope::Within(
                ps.iter().map(|p| p.to_string()).collect(),
            ))
        };
        let cases: &[(&str, &str, Result<ListScope, Denied>)] = &[
            ("def", "", Ok(ListScope::All)),
            ("def", "x/", Ok(ListScope::All)),
            (
                "abc",
                "",
                within(&["docs/", "photos/2024/", "photos/2025/"]),
            ),
            ("abc", "photos/", within(&["photos/2024/", "photos/2025/"])),
            ("abc", "photos/2024", within(&["photos/2024/"])),
            ("abc", "photos/2024/", Ok(ListScope::All)),
            ("abc", "photos/2024/jan/", Ok(ListScope::All)),
            ("abc", "photos/2023/", Err(Denied::Prefix)),
            ("abc", "videos/", Err(Denied::Prefix)),
            ("ghi", "", Err(Denied::Bucket)),
        ];
        for (bucket, prefix, expected) in cases {
            assert_eq!(
                p.list_scope(bucket, prefix, 0),
                *expected,
                "{bucket} {prefix:?}"
            );
        }
        let write_only = perms(&[Caveat::default().allow_actions(ActionSet::of(&[Action::Write]))]);
        assert_eq!(
            write_only.list_scope("abc", "", 0),
            Err(Denied::Action(Action::List))
        );
        assert_eq!(
            Permissions::unrestricted().list_scope("abc", "x", 0),
            Ok(ListScope::All)
        );
    }

    #[test]
    fn describes() {
        let p = perms(&[
            Caveat::default()
                .allow_actions(ActionSet::READ_ONLY)
                .allow_path("photos", "2025/")
                .allow_path("photos", "2024/")
                .allow_path("logs", ""),
            Caveat::default().not_after(0),
        ]);
        assert_eq!(
            p.describe(),
            "operations  read, list\n\
             paths       logs/*\n            \
             photos/\"2024/\"*\n            \
             photos/\"2025/\"*\n\
             valid       until 1970-01-01T00:00:00Z\n\
             privileges  none"
        );
        assert_eq!(
            Permissions::unrestricted().to_string(),
            "operations  read, write, list, delete\n\
             paths       every bucket, every key\n\
             valid       always\n\
             privileges  bypass governance retention"
        );
        let nothing = perms(&[
            paths(&[("abc", "a")]),
            paths(&[("abc", "b")]),
            Caveat::default().not_before(0),
        ]);
        assert_eq!(
            nothing.to_string(),
            "operations  read, write, list, delete\n\
             paths       none\n\
             valid       from 1970-01-01T00:00:00Z\n\
             privileges  none\n\
             allows nothing"
        );
    }

    // Small alphabets, so that buckets and prefixes overlap often.
    pub(crate) fn arb_caveat() -> impl Strategy<Value = Caveat> {
        let rule = (
            prop_oneof![2 => Just("aaa"), 1 => prop::sample::select(vec!["bbb", "ccc"])],
            "[ab/]{0,3}",
        )
            .prop_map(|(b, p)| PathRule::new(b, p));
        (
            prop::option::weighted(
                0.3,
                (0u8..16).prop_map(|b| ActionSet::from_bits(b).unwrap()),
            ),
            prop::option::weighted(0.8, prop::collection::vec(rule, 0..4)),
            prop::option::weighted(0.2, -5i64..5),
            prop::option::weighted(0.2, -5i64..5),
            prop::bool::weighted(0.3),
        )
            .prop_map(|(actions, paths, not_before, not_after, keep)| Caveat {
                actions,
                paths,
                not_before,
                not_after,
                keeps: if keep {
                    Privileges::ALL
                } else {
                    Privileges::NONE
                },
            })
            .prop_filter("a caveat restricts something", |c| !c.is_empty())
    }

    fn arb_action() -> impl Strategy<Value = Action> {
        prop::sample::select(Action::ALL.to_vec())
    }

    fn arb_bucket() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["aaa", "bbb", "ccc", "ddd"])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The minimal form decides exactly as the definition: every caveat allows.
        #[test]
        fn permissions_are_the_intersection(
            caveats in prop::collection::vec(arb_caveat(), 0..5),
            action in arb_action(),
            bucket in arb_bucket(),
            key in "[ab/]{0,5}",
            now in -6i64..6,
        ) {
            let p = perms(&caveats);
            let direct = caveats.iter().all(|c| c.allows(action, bucket, &key, now));
            prop_assert_eq!(p.allows(action, bucket, &key, now).is_ok(), direct);
            if p.allows_nothing() {
                prop_assert!(!direct);
            }
            if let Some(map) = p.paths() {
                for prefixes in map.values() {
                    prop_assert!(!prefixes.is_empty());
                    for (i, a) in prefixes.iter().enumerate() {
                        for b in &prefixes[i + 1..] {
                            prop_assert!(a < b && !b.starts_with(a.as_str()));
                        }
                    }
                }
            }
        }

        /// Restricting only narrows: allowed after ⇒ allowed before.
        #[test]
        fn restriction_only_narrows(
            caveats in prop::collection::vec(arb_caveat(), 0..4),
            more in arb_caveat(),
            action in arb_action(),
            bucket in arb_bucket(),
            key in "[ab/]{0,5}",
            prefix in "[ab/]{0,3}",
            now in -6i64..6,
        ) {
            let before = perms(&caveats);
            let after = before.clone().narrow(&more);
            if after.allows(action, bucket, &key, now).is_ok() {
                prop_assert!(before.allows(action, bucket, &key, now).is_ok());
            }
            if after.allows_bucket(bucket, now).is_ok() {
                prop_assert!(before.allows_bucket(bucket, now).is_ok());
            }
            if after.bucket_visible(bucket) {
                prop_assert!(before.bucket_visible(bucket));
            }
            if after.allows_bypass_governance() {
                prop_assert!(before.allows_bypass_governance() && more.keeps == Privileges::ALL);
            }
            if let Ok(scope) = after.list_scope(bucket, &prefix, now) {
                let wider = before.list_scope(bucket, &prefix, now);
                prop_assert!(wider.is_ok());
                let wider = wider.unwrap();
                for suffix in ["", "a", "b", "/", "a/", "ab", "b/a", "//"] {
                    let key = format!("{prefix}{suffix}");
                    if scope.includes(&key) {
                        prop_assert!(wider.includes(&key));
                    }
                }
            }
        }

        /// A listing shows exactly the keys under the requested prefix that
        /// the grant allows to be listed.
        #[test]
        fn list_scope_is_exact(
            caveats in prop::collection::vec(arb_caveat(), 0..3),
            bucket in prop_oneof![4 => Just("aaa"), 1 => arb_bucket()],
            prefix in "[ab/]{0,2}",
            suffixes in prop::collection::vec("[ab/]{0,4}", 1..12),
            now in -6i64..6,
        ) {
            let p = perms(&caveats);
            let scope = p.list_scope(bucket, &prefix, now);
            let mut keys: Vec<String> = suffixes.iter().map(|s| format!("{prefix}{s}")).collect();
            if let Ok(ListScope::Within(prefixes)) = &scope {
                keys.extend(prefixes.iter().cloned());
                prop_assert!(!prefixes.is_empty());
                for (i, a) in prefixes.iter().enumerate() {
                    prop_assert!(a.starts_with(prefix.as_str()) && a != &prefix);
                    for b in &prefixes[i + 1..] {
                        prop_assert!(a < b && !b.starts_with(a.as_str()));
                    }
                }
            }
            for key in &keys {
                let allowed = p.allows(Action::List, bucket, key, now).is_ok();
                let listed = scope.as_ref().is_ok_and(|s| s.includes(key));
                prop_assert_eq!(listed, allowed, "{}", key);
            }
            // Denied only when nothing under the prefix could be listed.
            if scope == Err(Denied::Prefix) {
                for prefixes in p.paths().into_iter().flat_map(|m| m.get(bucket)) {
                    for q in prefixes {
                        prop_assert!(!q.starts_with(prefix.as_str()) && !prefix.starts_with(q.as_str()));
                    }
                }
            }
        }
    }
}
