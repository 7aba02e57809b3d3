//! S3 listing (prefix, delimiter, marker, max-keys) as a pure function over an
//! ordered cursor, so it is tested against a naive model without a database.
//!
//! The listing is one lexicographic sequence of *items*: every key under the
//! prefix whose remainder holds no delimiter, and every common prefix (the
//! prefix, then the remainder up to and including its first delimiter), each
//! common prefix once. An item is listed only if it sorts after the marker,
//! which is also what makes a common prefix given back as `NextMarker` end its
//! group: every key inside it sorts after it, but the prefix itself does not.
//! A common prefix is passed by seeking to the first key past it, so a group
//! of a million keys costs one seek, never a million steps.

use std::ops::Bound;

use super::codec::prefix_successor;

/// What a cursor step yields: the next key and its value, or the end.
pub type Step<C> = Result<Option<(Vec<u8>, <C as KeyCursor>::Value)>, <C as KeyCursor>::Error>;

/// An ordered view of one key range, as the listing consumes it. Keys are
/// relative to the range (the caller's table prefix removed).
pub trait KeyCursor {
    type Value;
    type Error;
    /// Repositions at the first key satisfying `from` and returns it.
    fn seek(&mut self, from: Bound<&[u8]>) -> Step<Self>;
    /// The key after the one last returned.
    fn next(&mut self) -> Step<Self>;
}

/// What to list, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct ListSpec<'q> {
    pub prefix: &'q [u8],
    /// `None` or non-empty.
    pub delimiter: Option<&'q [u8]>,
    /// Entries are listed only if their raw key sorts after this.
    pub entries_after: Option<&'q [u8]>,
    /// Common prefixes are listed only if they sort after this.
    pub prefixes_after: Option<&'q [u8]>,
    pub max_items: usize,
}

/// The item a page ended on, to continue from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastItem {
    /// A raw key.
    Entry(Vec<u8>),
    CommonPrefix(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawPage<T> {
    pub entries: Vec<T>,
    pub common_prefixes: Vec<Vec<u8>>,
    pub is_truncated: bool,
    /// The last item listed, set only when the page is truncated.
    pub last: Option<LastItem>,
}

/// Lists one page. `name_of` maps a raw key to the name that prefix and
/// delimiter apply to (the key itself for objects; the object key inside
/// `key ‖ 00 ‖ upload id` for uploads); it must preserve order and be a prefix
/// of the raw key. `emit` turns a listed entry into its output (decoding its
/// value); it runs only for listed entries.
pub fn list_page<C, T>(
    cursor: &mut C,
    spec: &ListSpec<'_>,
    name_of: fn(&[u8]) -> &[u8],
    mut emit: impl FnMut(&[u8], C::Value) -> Result<T, C::Error>,
) -> Result<RawPage<T>, C::Error>
where
    C: KeyCursor,
{
    let mut page = RawPage {
        entries: Vec::new(),
        common_prefixes: Vec::new(),
        is_truncated: false,
        last: None,
    };
    // S3 answers max-keys=0 with an empty page that is not truncated.
    if spec.max_items == 0 {
        return Ok(page);
    }
    let delimiter = spec.delimiter.filter(|d| !d.is_empty());
    let start = match spec.entries_after {
        Some(after) if after >= spec.prefix => Bound::Excluded(after),
        _ => Bound::Included(spec.prefix),
    };
    let mut listed = 0usize;
    let mut at = cursor.seek(start)?;
    while let Some((raw, value)) = at {
        let name = name_of(&raw);
        if !name.starts_with(spec.prefix) {
            break;
        }
        let rest = &name[spec.prefix.len()..];
        let group = delimiter.and_then(|d| find(rest, d).map(|i| spec.prefix.len() + i + d.len()));
        match group {
            Some(end) => {
                let common = name[..end].to_vec();
                let after_marker = spec.prefixes_after.is_none_or(|m| common.as_slice() > m);
                if after_marker {
                    if listed == spec.max_items {
                        page.is_truncated = true;
                        break;
                    }
                    listed += 1;
                    page.last = Some(LastItem::CommonPrefix(common.clone()));
                    page.common_prefixes.push(common.clone());
                }
                at = match prefix_successor(&common) {
                    Some(past) => cursor.seek(Bound::Included(&past))?,
                    None => None,
                };
            }
            None => {
                if listed == spec.max_items {
                    page.is_truncated = true;
                    break;
                }
                listed += 1;
                page.entries.push(emit(&raw, value)?);
                page.last = Some(LastItem::Entry(raw));
                at = cursor.next()?;
            }
        }
    }
    if !page.is_truncated {
        page.last = None;
    }
    Ok(page)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::convert::Infallible;

    use proptest::prelude::*;

    use super::*;

    /// A cursor over a `BTreeMap` that counts its seeks and steps.
    pub struct MapCursor<'m> {
        map: &'m BTreeMap<Vec<u8>, u32>,
        last: Option<Vec<u8>>,
        pub seeks: usize,
        pub steps: usize,
    }

    impl<'m> MapCursor<'m> {
        pub fn new(map: &'m BTreeMap<Vec<u8>, u32>) -> Self {
            Self {
                map,
                last: None,
                seeks: 0,
                steps: 0,
            }
        }

        fn first_from(&mut self, from: Bound<&[u8]>) -> Option<(Vec<u8>, u32)> {
            let found = self
                .map
                .range::<[u8], _>((from, Bound::Unbounded))
                .next()
                .map(|(k, v)| (k.clone(), *v));
            self.last = found.as_ref().map(|(k, _)| k.clone());
            found
        }
    }

    impl KeyCursor for MapCursor<'_> {
        type Value = u32;
        type Error = Infallible;

        fn seek(&mut self, from: Bound<&[u8]>) -> Step<Self> {
            self.seeks += 1;
            Ok(self.first_from(from))
        }

        fn next(&mut self) -> Step<Self> {
            self.steps += 1;
            let Some(last) = self.last.take() else {
                return Ok(None);
            };
            Ok(self.first_from(Bound::Excluded(&last)))
        }
    }

    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Item {
        Key(Vec<u8>),
        Prefix(Vec<u8>),
    }

    impl Item {
        fn text(&self) -> &[u8] {
            match self {
                Item::Key(k) | Item::Prefix(k) => k,
            }
        }
    }

    /// The naive model: every item under the prefix, grouped, sorted, after the marker.
    fn model(keys: &BTreeSet<Vec<u8>>, prefix: &[u8], delimiter: &[u8], after: &[u8]) -> Vec<Item> {
        let mut items: Vec<Item> = keys
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(|k| {
                let rest = &k[prefix.len()..];
                match (!delimiter.is_empty())
                    .then(|| find(rest, delimiter))
                    .flatten()
                {
                    Some(i) => Item::Prefix(k[..prefix.len() + i + delimiter.len()].to_vec()),
                    None => Item::Key(k.clone()),
                }
            })
            .filter(|item| item.text() > after)
            .collect();
        items.sort_by(|a, b| a.text().cmp(b.text()));
        items.dedup();
        items
    }

    fn page_items(page: &RawPage<Vec<u8>>) -> Vec<Item> {
        let mut items: Vec<Item> = page
            .entries
            .iter()
            .cloned()
            .map(Item::Key)
            .chain(page.common_prefixes.iter().cloned().map(Item::Prefix))
            .collect();
        items.sort_by(|a, b| a.text().cmp(b.text()));
        items
    }

    fn run(
        map: &BTreeMap<Vec<u8>, u32>,
        prefix: &[u8],
        delimiter: &[u8],
        after: &[u8],
        max: usize,
    ) -> (RawPage<Vec<u8>>, usize, usize) {
        let spec = ListSpec {
            prefix,
            delimiter: Some(delimiter),
            entries_after: Some(after),
            prefixes_after: Some(after),
            max_items: max,
        };
        let mut cursor = MapCursor::new(map);
        let page = list_page(&mut cursor, &spec, |k| k, |k, _| Ok(k.to_vec())).unwrap();
        (page, cursor.seeks, cursor.steps)
    }

    fn keyset(keys: &[&str]) -> BTreeMap<Vec<u8>, u32> {
        keys.iter().map(|k| (k.as_bytes().to_vec(), 0)).collect()
    }

    fn strings(list: &[Vec<u8>]) -> Vec<String> {
        list.iter()
            .map(|k| String::from_utf8(k.clone()).unwrap())
            .collect()
    }

    /// (keys, prefix, delimiter, marker, max) → (keys, prefixes, truncated, next marker)
    #[test]
    fn s3_examples() {
        type Case<'a> = (
            &'a [&'a str],
            &'a str,
            &'a str,
            &'a str,
            usize,
            (&'a [&'a str], &'a [&'a str], bool, Option<&'a str>),
        );
        let tree: &[&str] = &[
            "asdf",
            "boo/bar",
            "boo/baz/xyzzy",
            "cquux/bla",
            "cquux/thud",
        ];
        let cases: &[Case] = &[
            (
                tree,
                "",
                "/",
                "",
                1000,
                (&["asdf"], &["boo/", "cquux/"], false, None),
            ),
            (
                tree,
                "",
                "/",
                "",
                2,
                (&["asdf"], &["boo/"], true, Some("boo/")),
            ),
            // The marker is a common prefix: its group is over (versitygw #816).
            (tree, "", "/", "boo/", 1, (&[], &["cquux/"], false, None)),
            // A marker inside a group also ends it.
            (tree, "", "/", "boo/bar", 5, (&[], &["cquux/"], false, None)),
            (
                tree,
                "boo/",
                "/",
                "",
                5,
                (&["boo/bar"], &["boo/baz/"], false, None),
            ),
            (
                tree,
                "",
                "",
                "boo/bar",
                2,
                (
                    &["boo/baz/xyzzy", "cquux/bla"],
                    &[],
                    true,
                    Some("cquux/bla"),
                ),
            ),
            (tree, "", "/", "", 0, (&[], &[], false, None)),
            (tree, "zzz", "/", "", 10, (&[], &[], false, None)),
            (tree, "", "/", "zzz", 10, (&[], &[], false, None)),
            // Multi-byte delimiter; a key equal to the prefix is listed.
            (
                &["a", "a--b", "a--c--d", "b"],
                "a",
                "--",
                "",
                10,
                (&["a"], &["a--"], false, None),
            ),
            // The last item is the only one; no further item: not truncated.
            (&["x/1", "x/2"], "", "/", "", 1, (&[], &["x/"], false, None)),
        ];
        for (keys, prefix, delimiter, after, max, expected) in cases {
            let (page, _, _) = run(
                &keyset(keys),
                prefix.as_bytes(),
                delimiter.as_bytes(),
                after.as_bytes(),
                *max,
            );
            let got = (
                strings(&page.entries),
                strings(&page.common_prefixes),
                page.is_truncated,
                page.last.map(|l| match l {
                    LastItem::Entry(k) | LastItem::CommonPrefix(k) => String::from_utf8(k).unwrap(),
                }),
            );
            let want = (
                expected.0.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                expected.1.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                expected.2,
                expected.3.map(str::to_string),
            );
            assert_eq!(
                got, want,
                "keys {keys:?} prefix {prefix:?} delimiter {delimiter:?} after {after:?} max {max}"
            );
        }
    }

    #[test]
    fn a_common_prefix_of_many_keys_costs_one_seek() {
        let mut map = BTreeMap::new();
        for i in 0..100_000u32 {
            map.insert(format!("big/{i:06}").into_bytes(), i);
        }
        map.insert(b"a".to_vec(), 0);
        map.insert(b"zeta".to_vec(), 0);
        let (page, seeks, steps) = run(&map, b"", b"/", b"", 1000);
        assert_eq!(strings(&page.entries), ["a", "zeta"]);
        assert_eq!(strings(&page.common_prefixes), ["big/"]);
        assert!(!page.is_truncated);
        // One seek to start, one past "big/"; one step after each key.
        assert_eq!((seeks, steps), (2, 2));
        // Starting inside the group skips it the same way.
        let (page, seeks, steps) = run(&map, b"", b"/", b"big/050000", 1000);
        assert_eq!(strings(&page.entries), ["zeta"]);
        assert!(page.common_prefixes.is_empty());
        assert_eq!((seeks, steps), (2, 1));
    }

    fn arb_keys() -> impl Strategy<Value = BTreeSet<Vec<u8>>> {
        // A small alphabet with the delimiter, so groups, nesting and keys equal
        // to prefixes all happen.
        let key = proptest::collection::vec(prop::sample::select(b"ab/".to_vec()), 0..6);
        proptest::collection::btree_set(key, 0..40)
    }

    fn arb_text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop::sample::select(b"ab/".to_vec()), 0..4)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn pages_match_the_model(
            keys in arb_keys(),
            prefix in arb_text(),
            delimiter in prop::sample::select(vec![&b""[..], b"/", b"a/", b"//"]),
            after in arb_text(),
            max in 0usize..6,
        ) {
            let map: BTreeMap<Vec<u8>, u32> = keys.iter().map(|k| (k.clone(), 0)).collect();
            let expected = model(&keys, &prefix, delimiter, &after);

            // One page is the model's first `max` items.
            let (page, _, _) = run(&map, &prefix, delimiter, &after, max);
            let want: Vec<Item> = expected.iter().take(max).cloned().collect();
            prop_assert_eq!(page_items(&page), want);
            prop_assert_eq!(page.is_truncated, max > 0 && expected.len() > max);

            // Paging with the returned marker visits exactly the model's sequence.
            if max > 0 {
                let mut seen = Vec::new();
                let mut marker = after.clone();
                for _ in 0..=expected.len() {
                    let (page, _, _) = run(&map, &prefix, delimiter, &marker, max);
                    prop_assert!(page.entries.len() + page.common_prefixes.len() <= max);
                    seen.extend(page_items(&page));
                    match page.last {
                        Some(LastItem::Entry(k)) | Some(LastItem::CommonPrefix(k)) => {
                            prop_assert!(page.is_truncated);
                            marker = k;
                        }
                        None => {
                            prop_assert!(!page.is_truncated);
                            break;
                        }
                    }
                }
                prop_assert_eq!(seen, expected);
            }
        }
    }
}
