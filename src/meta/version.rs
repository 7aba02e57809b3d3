//! Object versions as the contract names them: a version's id and whether it
//! is the `null` version, how a request selects one, and a bucket's
//! versioning state. Pure: ids are made by the backend that commits them.

use serde::{Deserialize, Serialize};

use crate::pipeline::checksum::hex;

/// Sixteen bytes from 32 hex digits.
pub(crate) fn parse_hex_16(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        let pair = text.get(2 * i..2 * i + 2)?;
        if !pair.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(id)
}

/// A version of an object: its place in the key's history and its identity.
/// Eight bytes of inverted commit sequence, so that in byte order a key's
/// versions run newest first, then eight random bytes. Shown as 32 hex digits.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct VersionId(pub [u8; 16]);

impl VersionId {
    /// The version whose commit sequence is `seq`, with `tail` for uniqueness.
    pub fn new(seq: u64, tail: [u8; 8]) -> Self {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(!seq).to_be_bytes());
        id[8..].copy_from_slice(&tail);
        Self(id)
    }

    /// The commit sequence: larger is newer.
    pub fn seq(&self) -> u64 {
        !u64::from_be_bytes(self.0[..8].try_into().expect("eight bytes"))
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex_16(text).map(Self)
    }
}

/// One stored version: its id, whether S3 calls it the `null` version
/// (written while the bucket was unversioned or suspended), and the object
/// lock protecting it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Version {
    pub id: VersionId,
    pub is_null: bool,
    pub lock: Lock,
}

/// A retention: the version may not be deleted before `until_ms` (unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub mode: RetentionMode,
    pub until_ms: u64,
}

/// What protects one version from deletion: a retention and a legal hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

impl Lock {
    /// Whether deleting the version at `now_ms` is refused; `bypass_governance`
    /// lifts a GOVERNANCE retention (never COMPLIANCE, never a legal hold).
    pub fn forbids_delete(&self, now_ms: u64, bypass_governance: bool) -> bool {
        let retained = self.retention.is_some_and(|r| {
            r.until_ms > now_ms && !(r.mode == RetentionMode::Governance && bypass_governance)
        });
        retained || self.legal_hold
    }

    /// Whether `next` may replace this retention at `now_ms`: extending (or
    /// keeping) it always; shortening, removing or changing the mode of an
    /// unexpired one only for GOVERNANCE with the bypass, never for COMPLIANCE.
    pub fn allows_retention(&self, next: Option<Retention>, now_ms: u64, bypass: bool) -> bool {
        let Some(current) = self.retention.filter(|r| r.until_ms > now_ms) else {
            return true;
        };
        let extends =
            next.is_some_and(|n| n.mode == current.mode && n.until_ms >= current.until_ms);
        let compliance_stays = next
            .is_some_and(|n| n.mode == RetentionMode::Compliance && n.until_ms >= current.until_ms);
        match current.mode {
            RetentionMode::Compliance => extends,
            // A GOVERNANCE retention may become COMPLIANCE for as long or longer.
            RetentionMode::Governance => extends || compliance_stays || bypass,
        }
    }
}

impl RetentionPeriod {
    /// Milliseconds from a version's creation to the end of its default
    /// retention (a year counts 365 days, as S3's does).
    pub fn millis(self) -> u64 {
        const DAY_MS: u64 = 86_400_000;
        match self {
            RetentionPeriod::Days(days) => u64::from(days) * DAY_MS,
            RetentionPeriod::Years(years) => u64::from(years) * 365 * DAY_MS,
        }
    }
}

impl Version {
    /// How a request names this version.
    pub fn which(&self) -> WhichVersion {
        if self.is_null {
            WhichVersion::Null
        } else {
            WhichVersion::Id(self.id)
        }
    }

    /// As S3 shows it in `x-amz-version-id` and `VersionId`.
    pub fn display(&self) -> String {
        if self.is_null {
            "null".into()
        } else {
            self.id.to_hex()
        }
    }
}

/// Which version of a key a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhichVersion {
    /// No `versionId`: the latest version (which may be a delete marker).
    Latest,
    /// `versionId=null`.
    Null,
    Id(VersionId),
}

impl WhichVersion {
    /// `versionId` as a request gives it; `None` if it is malformed.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "null" {
            Some(Self::Null)
        } else {
            VersionId::from_hex(text).map(Self::Id)
        }
    }

    /// As the request gave it (empty for `Latest`).
    pub fn text(&self) -> String {
        match self {
            WhichVersion::Latest => String::new(),
            WhichVersion::Null => "null".into(),
            WhichVersion::Id(id) => id.to_hex(),
        }
    }

    pub fn matches(&self, version: &Version) -> bool {
        match self {
            WhichVersion::Latest => false,
            WhichVersion::Null => version.is_null,
            WhichVersion::Id(id) => !version.is_null && version.id == *id,
        }
    }
}

/// A bucket's versioning state (S3's: a bucket never returns to unversioned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

/// How a retention protects a version: GOVERNANCE may be bypassed by a caller
/// allowed to; COMPLIANCE by no one until its date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionMode {
    Governance,
    Compliance,
}

/// A default retention's length, as S3 states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

/// The retention a bucket gives new versions that ask for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    pub period: RetentionPeriod,
}

/// A bucket's object lock: enabled at creation (or later, on a versioned
/// bucket), never disabled; with an optional default retention.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    pub default_retention: Option<DefaultRetention>,
}
