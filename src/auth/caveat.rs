//! Caveats: the restrictions chained into an API key. A caveat names what it
//! still allows along up to four independent dimensions (operations, bucket and
//! key-prefix pairs, a not-before time and a not-after time); a dimension it
//! leaves out it does not restrict. Each caveat can only narrow: what a key
//! allows is what every one of its caveats allows (see `permissions`).
//!
//! Privileges are the exception to "left out restricts nothing": powers beyond
//! the four operations (today one, bypassing GOVERNANCE object-lock retention)
//! that every caveat *drops* unless it keeps them by name, as Storj's shares
//! drop every permission they do not list. So a project's own key holds them,
//! and a restricted grant holds them only where each restriction kept them.
//!
//! A caveat's bytes are what the API key's HMAC chain covers, so the encoding
//! is canonical: one value has exactly one encoding, and `from_bytes` accepts
//! nothing else (fields in increasing tag order, each at most once, fixed
//! widths, no unknown tags or bits, nothing after the last field).
//!
//! Caveat, version 1 of the grant format:
//! ```text
//! caveat = field+                       tags strictly increasing, nothing after
//! 0x01 operations  1 byte               bit 0 read, 1 write, 2 list, 3 delete; bits 4–7 zero
//! 0x02 paths       count (1, 0..=64) ‖ count × path
//!      path        bucket length (1, 3..=63) ‖ bucket ([a-z0-9.-])
//!                  ‖ prefix length (u16 LE, 0..=1024) ‖ prefix (UTF-8)
//! 0x03 not before  i64 LE               unix seconds
//! 0x04 not after   i64 LE               unix seconds
//! 0x05 keeps       1 byte, not zero     privileges kept: bit 0 bypass governance; bits 1–7 zero
//! ```
//! A caveat must hold one of fields 1–4: keeping privileges alone restricts nothing.

use std::fmt;

use super::time::format_time;

/// Most caveats one API key may carry.
pub const CAVEATS_MAX: usize = 32;
/// Most bucket/prefix pairs one caveat may name.
pub const PATHS_MAX: usize = 64;
/// Longest key prefix, in bytes of UTF-8 (S3's longest key).
pub const PREFIX_BYTES_MAX: usize = 1024;
/// Longest caveat encoding (its length is a u16 in the grant).
pub const CAVEAT_BYTES_MAX: usize = u16::MAX as usize;
/// Bucket names in caveats: S3's general purpose length bounds.
pub const BUCKET_BYTES_MIN: usize = 3;
pub const BUCKET_BYTES_MAX: usize = 63;

const TAG_ACTIONS: u8 = 0x01;
const TAG_PATHS: u8 = 0x02;
const TAG_NOT_BEFORE: u8 = 0x03;
const TAG_NOT_AFTER: u8 = 0x04;
const TAG_KEEPS: u8 = 0x05;

/// What a request does to the data it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Read,
    Write,
    List,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Read, Action::Write, Action::List, Action::Delete];

    const fn bit(self) -> u8 {
        1 << self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::List => "list",
            Action::Delete => "delete",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Action::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown operation {s:?} (read, write, list, delete)"))
    }
}

/// A set of [`Action`]s.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ActionSet(u8);

impl ActionSet {
    pub const NONE: ActionSet = ActionSet(0);
    pub const ALL: ActionSet = ActionSet(0b1111);
    /// `--read-only`: read and list.
    pub const READ_ONLY: ActionSet = ActionSet(Action::Read.bit() | Action::List.bit());

    pub fn of(actions: &[Action]) -> Self {
        actions.iter().fold(Self::NONE, |set, &a| set.with(a))
    }
    pub fn with(self, action: Action) -> Self {
        Self(self.0 | action.bit())
    }
    pub fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }
    pub fn intersect(self, other: ActionSet) -> Self {
        Self(self.0 & other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The encoded byte: bit 0 read, 1 write, 2 list, 3 delete.
    pub fn bits(self) -> u8 {
        self.0
    }
    /// The set these bits encode, or `None` if a bit above 3 is set.
    pub fn from_bits(bits: u8) -> Option<Self> {
        (bits & !Self::ALL.0 == 0).then_some(Self(bits))
    }
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |&a| self.contains(a))
    }
}

impl fmt::Display for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing");
        }
        for (i, action) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(action.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionSet({self})")
    }
}

/// Parses `read,list` (names separated by commas, spaces allowed), `all` or `none`.
impl std::str::FromStr for ActionSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "all" => return Ok(Self::ALL),
            "none" => return Ok(Self::NONE),
            _ => {}
        }
        s.split(',')
            .map(|name| name.trim().parse::<Action>())
            .try_fold(Self::NONE, |set, action| Ok(set.with(action?)))
    }
}

/// Powers beyond the four operations, which a caveat drops unless it keeps
/// them (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Privileges(u8);

impl Privileges {
    pub const NONE: Privileges = Privileges(0);
    /// `x-amz-bypass-governance-retention`: delete or shorten a version under
    /// GOVERNANCE retention.
    pub const BYPASS_GOVERNANCE: Privileges = Privileges(1);
    pub const ALL: Privileges = Privileges(1);

    pub fn contains(self, other: Privileges) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn intersect(self, other: Privileges) -> Self {
        Self(self.0 & other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The encoded byte.
    pub fn bits(self) -> u8 {
        self.0
    }
    /// The set these bits encode, or `None` if an unknown bit is set.
    pub fn from_bits(bits: u8) -> Option<Self> {
        (bits & !Self::ALL.0 == 0).then_some(Self(bits))
    }
}

impl fmt::Display for Privileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.contains(Self::BYPASS_GOVERNANCE) {
            "bypass governance retention"
        } else {
            "none"
        })
    }
}

impl fmt::Debug for Privileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Privileges({self})")
    }
}

/// One bucket and a key prefix inside it; the empty prefix is the whole bucket.
/// A key matches when it is in the bucket and begins with the prefix (bytes;
/// no wildcard, and `/` is an ordinary byte).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathRule {
    pub bucket: String,
    pub prefix: String,
}

impl PathRule {
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    pub fn matches(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && key.starts_with(self.prefix.as_str())
    }

    fn check(&self) -> Result<(), &'static str> {
        check_bucket(self.bucket.as_bytes())?;
        if self.prefix.len() > PREFIX_BYTES_MAX {
            return Err("a prefix is longer than 1024 bytes");
        }
        Ok(())
    }
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "{}/*", self.bucket)
        } else {
            write!(f, "{}/{:?}*", self.bucket, self.prefix)
        }
    }
}

fn check_bucket(name: &[u8]) -> Result<(), &'static str> {
    if !(BUCKET_BYTES_MIN..=BUCKET_BYTES_MAX).contains(&name.len()) {
        return Err("a bucket name is outside 3..=63 bytes");
    }
    if !name
        .iter()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
    {
        return Err("a bucket name holds a byte other than a-z, 0-9, '.' or '-'");
    }
    Ok(())
}

/// One restriction. Each `Some` field narrows; a `None` field leaves that
/// dimension as it was. A request passes the caveat when it passes every field:
/// its operation is in `actions`, its (bucket, key) matches at least one of
/// `paths`, and `not_before <= now <= not_after` (unix seconds, both inclusive).
/// `Some(vec![])` as paths and `Some(ActionSet::NONE)` are valid and allow nothing.
/// Every privilege not in `keeps` is dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caveat {
    pub actions: Option<ActionSet>,
    pub paths: Option<Vec<PathRule>>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub keeps: Privileges,
}

impl Caveat {
    /// Narrows the operations (intersecting with any already set).
    pub fn allow_actions(mut self, actions: ActionSet) -> Self {
        self.actions = Some(self.actions.map_or(actions, |a| a.intersect(actions)));
        self
    }

    /// Adds one bucket/prefix pair to the paths this caveat allows; the first
    /// call turns "any path" into "only these paths".
    pub fn allow_path(mut self, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.paths
            .get_or_insert_with(Vec::new)
            .push(PathRule::new(bucket, prefix));
        self
    }

    /// Sets the not-before time (the later one wins if set twice).
    pub fn not_before(mut self, unix: i64) -> Self {
        self.not_before = Some(self.not_before.map_or(unix, |t| t.max(unix)));
        self
    }

    /// Sets the not-after time (the earlier one wins if set twice).
    pub fn not_after(mut self, unix: i64) -> Self {
        self.not_after = Some(self.not_after.map_or(unix, |t| t.min(unix)));
        self
    }

    /// Keeps `privileges` (every other one is dropped).
    pub fn keep(mut self, privileges: Privileges) -> Self {
        self.keeps = Privileges(self.keeps.0 | privileges.0);
        self
    }

    /// Whether the caveat restricts no dimension (such a caveat is refused).
    pub fn is_empty(&self) -> bool {
        self.actions.is_none()
            && self.paths.is_none()
            && self.not_before.is_none()
            && self.not_after.is_none()
    }

    /// Checks the limits the encoding and the grant format impose.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.is_empty() {
            return Err("a caveat restricts nothing");
        }
        if let Some(paths) = &self.paths {
            if paths.len() > PATHS_MAX {
                return Err("a caveat names more than 64 bucket/prefix pairs");
            }
            paths.iter().try_for_each(PathRule::check)?;
        }
        if self.encoded_len() > CAVEAT_BYTES_MAX {
            return Err("a caveat is longer than 65535 bytes");
        }
        Ok(())
    }

    /// The reference semantics of one caveat, used to test `Permissions`.
    pub fn allows(&self, action: Action, bucket: &str, key: &str, now_unix: i64) -> bool {
        self.actions.is_none_or(|a| a.contains(action))
            && self
                .paths
                .as_ref()
                .is_none_or(|p| p.iter().any(|rule| rule.matches(bucket, key)))
            && self.not_before.is_none_or(|t| t <= now_unix)
            && self.not_after.is_none_or(|t| now_unix <= t)
    }

    /// The canonical bytes (the ones the HMAC chain covers), once the caveat
    /// passes [`Caveat::check`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, &'static str> {
        self.check()?;
        Ok(self.encode())
    }

    /// [`Caveat::to_bytes`] for a caveat known to pass `check` (every caveat
    /// inside an `ApiKey` has); a programmer error otherwise.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        if let Some(actions) = self.actions {
            out.extend_from_slice(&[TAG_ACTIONS, actions.bits()]);
        }
        if let Some(paths) = &self.paths {
            out.extend_from_slice(&[TAG_PATHS, u8::try_from(paths.len()).expect("checked")]);
            for rule in paths {
                out.push(u8::try_from(rule.bucket.len()).expect("checked"));
                out.extend_from_slice(rule.bucket.as_bytes());
                let prefix_len = u16::try_from(rule.prefix.len()).expect("checked");
                out.extend_from_slice(&prefix_len.to_le_bytes());
                out.extend_from_slice(rule.prefix.as_bytes());
            }
        }
        if let Some(t) = self.not_before {
            out.push(TAG_NOT_BEFORE);
            out.extend_from_slice(&t.to_le_bytes());
        }
        if let Some(t) = self.not_after {
            out.push(TAG_NOT_AFTER);
            out.extend_from_slice(&t.to_le_bytes());
        }
        if !self.keeps.is_empty() {
            out.extend_from_slice(&[TAG_KEEPS, self.keeps.bits()]);
        }
        out
    }

    /// Length of [`Caveat::encode`].
    pub fn encoded_len(&self) -> usize {
        let paths = self.paths.as_ref().map_or(0, |p| {
            2 + p
                .iter()
                .map(|r| 1 + r.bucket.len() + 2 + r.prefix.len())
                .sum::<usize>()
        });
        self.actions.map_or(0, |_| 2)
            + paths
            + self.not_before.map_or(0, |_| 9)
            + self.not_after.map_or(0, |_| 9)
            + if self.keeps.is_empty() { 0 } else { 2 }
    }

    /// Parses exactly one caveat's canonical bytes; anything else is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Caveat, &'static str> {
        if bytes.len() > CAVEAT_BYTES_MAX {
            return Err("a caveat is longer than 65535 bytes");
        }
        let mut r = Reader { bytes, pos: 0 };
        let mut caveat = Caveat::default();
        let mut last_tag = 0u8;
        while !r.done() {
            let tag = r.u8()?;
            if tag <= last_tag {
                return Err("caveat fields out of order or repeated");
            }
            last_tag = tag;
            match tag {
                TAG_ACTIONS => {
                    let bits = r.u8()?;
                    let set = ActionSet::from_bits(bits).ok_or("unknown operation bits")?;
                    caveat.actions = Some(set);
                }
                TAG_PATHS => {
                    let count = usize::from(r.u8()?);
                    if count > PATHS_MAX {
                        return Err("a caveat names more than 64 bucket/prefix pairs");
                    }
                    let mut paths = Vec::with_capacity(count);
                    for _ in 0..count {
                        let bucket_len = usize::from(r.u8()?);
                        let bucket = r.take(bucket_len)?;
                        check_bucket(bucket)?;
                        let prefix_len = usize::from(r.u16_le()?);
                        if prefix_len > PREFIX_BYTES_MAX {
                            return Err("a prefix is longer than 1024 bytes");
                        }
                        let prefix = std::str::from_utf8(r.take(prefix_len)?)
                            .map_err(|_| "a prefix is not UTF-8")?;
                        let bucket = std::str::from_utf8(bucket).expect("checked ASCII");
                        paths.push(PathRule::new(bucket, prefix));
                    }
                    caveat.paths = Some(paths);
                }
                TAG_NOT_BEFORE => caveat.not_before = Some(r.i64_le()?),
                TAG_NOT_AFTER => caveat.not_after = Some(r.i64_le()?),
                TAG_KEEPS => {
                    let bits = r.u8()?;
                    let kept = Privileges::from_bits(bits).ok_or("unknown privilege bits")?;
                    if kept.is_empty() {
                        return Err("a caveat keeps an empty set of privileges");
                    }
                    caveat.keeps = kept;
                }
                _ => return Err("unknown caveat field"),
            }
        }
        if caveat.is_empty() {
            return Err("a caveat restricts nothing");
        }
        // Belt and braces: the bytes the chain covers are the bytes parsed.
        if caveat.encode() != bytes {
            return Err("caveat is not canonically encoded");
        }
        Ok(caveat)
    }
}

impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(actions) = self.actions {
            parts.push(format!("operations {actions}"));
        }
        if let Some(paths) = &self.paths {
            if paths.is_empty() {
                parts.push("no path".to_string());
            } else {
                let list: Vec<String> = paths.iter().map(ToString::to_string).collect();
                parts.push(format!("paths {}", list.join(", ")));
            }
        }
        if let Some(t) = self.not_before {
            parts.push(format!("not before {}", format_time(t)));
        }
        if let Some(t) = self.not_after {
            parts.push(format!("not after {}", format_time(t)));
        }
        if !self.keeps.is_empty() {
            parts.push(format!("keeps {}", self.keeps));
        }
        f.write_str(&parts.join("; "))
    }
}

/// A cursor over bytes whose reads fail, never panic, past the end.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("truncated")?;
        let out = self.bytes.get(self.pos..end).ok_or("truncated")?;
        self.pos = end;
        Ok(out)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        Ok(self.take(N)?.try_into().expect("length"))
    }
    pub fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16_le(&mut self) -> Result<u16, &'static str> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn i64_le(&mut self) -> Result<i64, &'static str> {
        Ok(i64::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expected: Result<Caveat, &'static str>) {
        let got = Caveat::from_bytes(bytes);
        assert_eq!(got, expected, "{bytes:02x?}");
        if let Ok(c) = &got {
            assert_eq!(c.to_bytes().as_deref(), Ok(bytes));
            assert_eq!(c.encoded_len(), bytes.len());
        }
    }

    #[test]
    fn encodings() {
        let read_only = Caveat::default().allow_actions(ActionSet::READ_ONLY);
        check(&[1, 0b0101], Ok(read_only));
        check(
            &[1, 0],
            Ok(Caveat::default().allow_actions(ActionSet::NONE)),
        );
        check(
            &[
                2, 2, 3, b'a', b'b', b'c', 2, 0, b'x', b'/', 3, b'd', b'-', b'e', 0, 0,
            ],
            Ok(Caveat::default()
                .allow_path("abc", "x/")
                .allow_path("d-e", "")),
        );
        check(
            &[2, 0],
            Ok(Caveat {
                paths: Some(vec![]),
                ..Caveat::default()
            }),
        );
        let mut times = vec![3];
        times.extend_from_slice(&(-5i64).to_le_bytes());
        times.push(4);
        times.extend_from_slice(&1_700_000_000i64.to_le_bytes());
        check(
            &times,
            Ok(Caveat::default().not_before(-5).not_after(1_700_000_000)),
        );
        let mut all = vec![1, 0b1111, 2, 1, 3, b'a', b'b', b'c', 0, 0, 4];
        all.extend_from_slice(&7i64.to_le_bytes());
        check(
            &all,
            Ok(Caveat::default()
                .allow_actions(ActionSet::ALL)
                .allow_path("abc", "")
                .not_after(7)),
        );
        check(
            &[1, 0b0001, 5, 1],
            Ok(Caveat::default()
                .allow_actions(ActionSet::of(&[Action::Read]))
                .keep(Privileges::BYPASS_GOVERNANCE)),
        );
    }

    #[test]
    fn refusals() {
        check(&[], Err("a caveat restricts nothing"));
        check(&[1], Err("truncated"));
        check(&[1, 0x10], Err("unknown operation bits"));
        check(&[6, 0], Err("unknown caveat field"));
        check(&[5, 1], Err("a caveat restricts nothing"));
        check(
            &[1, 0, 5, 0],
            Err("a caveat keeps an empty set of privileges"),
        );
        check(&[1, 0, 5, 2], Err("unknown privilege bits"));
        check(&[5, 1, 1, 0], Err("caveat fields out of order or repeated"));
        check(&[0, 0], Err("caveat fields out of order or repeated"));
        check(&[1, 1, 1, 1], Err("caveat fields out of order or repeated"));
        check(
            &[3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
            Err("caveat fields out of order or repeated"),
        );
        check(
            &[2, 65],
            Err("a caveat names more than 64 bucket/prefix pairs"),
        );
        check(
            &[2, 1, 2, b'a', b'b', 0, 0],
            Err("a bucket name is outside 3..=63 bytes"),
        );
        check(
            &[2, 1, 3, b'a', b'B', b'c', 0, 0],
            Err("a bucket name holds a byte other than a-z, 0-9, '.' or '-'"),
        );
        check(
            &[2, 1, 3, b'a', b'b', b'c', 1, 0, 0xff],
            Err("a prefix is not UTF-8"),
        );
        check(
            &[2, 1, 3, b'a', b'b', b'c', 1, 4],
            Err("a prefix is longer than 1024 bytes"),
        );
        check(&[2, 1, 3, b'a', b'b', b'c', 2, 0, b'x'], Err("truncated"));
        check(&[1, 1, 0], Err("caveat fields out of order or repeated"));
        check(&vec![1; 70_000], Err("a caveat is longer than 65535 bytes"));
    }

    #[test]
    fn builders_narrow_and_check_limits() {
        let c = Caveat::default()
            .allow_actions(ActionSet::READ_ONLY)
            .allow_actions(ActionSet::of(&[Action::Read, Action::Write]))
            .not_after(10)
            .not_after(20)
            .not_before(5)
            .not_before(1);
        assert_eq!(c.actions, Some(ActionSet::of(&[Action::Read])));
        assert_eq!((c.not_before, c.not_after), (Some(5), Some(10)));
        assert_eq!(Caveat::default().check(), Err("a caveat restricts nothing"));
        let many = (0..=PATHS_MAX).fold(Caveat::default(), |c, _| c.allow_path("abc", ""));
        assert!(many.check().is_err());
        let long = Caveat::default().allow_path("abc", "x".repeat(PREFIX_BYTES_MAX + 1));
        assert!(long.check().is_err());
        let longest = Caveat::default().allow_path("abc", "x".repeat(PREFIX_BYTES_MAX));
        assert_eq!(longest.check(), Ok(()));
    }

    #[test]
    fn action_sets_parse_and_print() {
        let cases: &[(&str, Result<ActionSet, ()>, &str)] = &[
            ("read,list", Ok(ActionSet::READ_ONLY), "read, list"),
            ("list, read", Ok(ActionSet::READ_ONLY), "read, list"),
            ("all", Ok(ActionSet::ALL), "read, write, list, delete"),
            ("none", Ok(ActionSet::NONE), "nothing"),
            ("delete", Ok(ActionSet::of(&[Action::Delete])), "delete"),
            ("read,erase", Err(()), ""),
            ("", Err(()), ""),
        ];
        for (input, expected, shown) in cases {
            let got = input.parse::<ActionSet>().map_err(|_| ());
            assert_eq!(got, *expected, "{input}");
            if let Ok(set) = got {
                assert_eq!(set.to_string(), *shown);
            }
        }
    }

    #[test]
    fn caveats_display() {
        let c = Caveat::default()
            .allow_actions(ActionSet::READ_ONLY)
            .allow_path("photos", "2024/")
            .allow_path("logs", "")
            .not_after(0);
        assert_eq!(
            c.to_string(),
            "operations read, list; paths photos/\"2024/\"*, logs/*; not after 1970-01-01T00:00:00Z"
        );
    }
}
