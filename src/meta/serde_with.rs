//! Serde adapters for the foreign types records hold (`#[serde(with = …)]`):
//! erasure parameters, segment ids and checksum algorithms, each in the
//! compact form the record format fixes.

/// `ErasureParams` as three u16 (pieces never exceed `PIECES_MAX` = 1024).
pub mod erasure {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::pipeline::layout::ErasureParams;

    pub fn serialize<S: Serializer>(e: &ErasureParams, s: S) -> Result<S::Ok, S::Error> {
        let narrow = |n: usize| u16::try_from(n).map_err(serde::ser::Error::custom);
        (narrow(e.required)?, narrow(e.optimal)?, narrow(e.total)?).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ErasureParams, D::Error> {
        let (required, optimal, total) = <(u16, u16, u16)>::deserialize(d)?;
        Ok(ErasureParams {
            required: required.into(),
            optimal: optimal.into(),
            total: total.into(),
        })
    }
}

pub mod segment_id {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::pieces::format::SegmentId;

    pub fn serialize<S: Serializer>(id: &SegmentId, s: S) -> Result<S::Ok, S::Error> {
        id.0.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SegmentId, D::Error> {
        <[u8; 16]>::deserialize(d).map(SegmentId)
    }
}

/// Checksum algorithms as fixed one-byte codes, independent of enum order.
pub mod checksum_algorithm {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::pipeline::checksum::ChecksumAlgorithm;

    pub fn code(algorithm: ChecksumAlgorithm) -> u8 {
        match algorithm {
            ChecksumAlgorithm::Crc32 => 1,
            ChecksumAlgorithm::Crc32c => 2,
            ChecksumAlgorithm::Crc64Nvme => 3,
            ChecksumAlgorithm::Sha1 => 4,
            ChecksumAlgorithm::Sha256 => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|&a| self::code(a) == code)
    }

    pub fn serialize<S: Serializer>(a: &ChecksumAlgorithm, s: S) -> Result<S::Ok, S::Error> {
        code(*a).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ChecksumAlgorithm, D::Error> {
        let c = u8::deserialize(d)?;
        from_code(c)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown checksum algorithm {c}")))
    }
}

pub mod checksum_algorithm_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::checksum_algorithm::{code, from_code};
    use crate::pipeline::checksum::ChecksumAlgorithm;

    pub fn serialize<S: Serializer>(
        a: &Option<ChecksumAlgorithm>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        a.map(code).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ChecksumAlgorithm>, D::Error> {
        match Option::<u8>::deserialize(d)? {
            None => Ok(None),
            Some(c) => from_code(c)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown checksum algorithm {c}"))),
        }
    }
}
