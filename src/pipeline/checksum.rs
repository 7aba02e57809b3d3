//! Whole-object digests computed in the encoder's single pass over plaintext:
//! MD5 for S3-compatible ETags, CRC64NVME always (S3's default full-object
//! checksum, and the basis of the fast ETag), and at most one more member of the
//! S3 `x-amz-checksum-*` family when the client asks for it.

use md5::Digest as _;

use super::buf::AlignedBuf;
use super::crc32c;

/// The S3 `x-amz-checksum-*` algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The name S3 uses in `x-amz-checksum-<name>` and `x-amz-sdk-checksum-algorithm`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Crc64Nvme => "crc64nvme",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }

    pub fn digest_bytes(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// How ETags are made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EtagMode {
    /// The MD5 of the object, as S3 gives for unencrypted single-part uploads.
    /// Costs one MD5 pass (about 0.5 GB/s per core), the slowest stage.
    #[default]
    Md5,
    /// Derived from the CRC64NVME and length of the object. S3 does not promise MD5
    /// ETags for encrypted objects; this one carries a `-` so tools that compare
    /// ETags with local MD5s (rclone, s3cmd) recognise it is not one and skip that check.
    Fast,
}

/// A running checksum of one algorithm.
pub enum ChecksumState {
    Crc(crc_fast::Digest, ChecksumAlgorithm),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl ChecksumState {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        use crc_fast::CrcAlgorithm as C;
        match algorithm {
            ChecksumAlgorithm::Crc32 => {
                Self::Crc(crc_fast::Digest::new(C::Crc32IsoHdlc), algorithm)
            }
            ChecksumAlgorithm::Crc32c => Self::Crc(crc_fast::Digest::new(C::Crc32Iscsi), algorithm),
            ChecksumAlgorithm::Crc64Nvme => {
                Self::Crc(crc_fast::Digest::new(C::Crc64Nvme), algorithm)
            }
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc(d, _) => d.update(data),
            Self::Sha1(d) => d.update(data),
            Self::Sha256(d) => d.update(data),
        }
    }

    pub fn finish(self) -> ChecksumValue {
        match self {
            Self::Crc(d, algorithm) => {
                let value = d.finalize();
                let bytes = if algorithm.digest_bytes() == 4 {
                    (value as u32).to_be_bytes().to_vec()
                } else {
                    value.to_be_bytes().to_vec()
                };
                ChecksumValue { algorithm, bytes }
            }
            Self::Sha1(d) => ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha1,
                bytes: d.finalize().to_vec(),
            },
            Self::Sha256(d) => ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha256,
                bytes: d.finalize().to_vec(),
            },
        }
    }
}

/// A finished checksum: the big-endian digest bytes S3 transmits in base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecksumValue {
    pub algorithm: ChecksumAlgorithm,
    pub bytes: Vec<u8>,
}

/// What to compute over an object's plaintext.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DigestRequest {
    pub md5: bool,
    pub checksum: Option<ChecksumAlgorithm>,
}

/// Digests of one object's plaintext (or one multipart part's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectDigest {
    pub plaintext_bytes: u64,
    pub md5: Option<[u8; 16]>,
    pub crc64nvme: u64,
    pub checksum: Option<ChecksumValue>,
}

impl ObjectDigest {
    /// The ETag (without quotes) in the given mode; MD5 mode falls back to the fast
    /// form if MD5 was not computed.
    pub fn etag(&self, mode: EtagMode) -> String {
        match (mode, self.md5) {
            (EtagMode::Md5, Some(md5)) => hex(&md5),
            _ => format!("{:016x}{:016x}-0", self.crc64nvme, self.plaintext_bytes),
        }
    }
}

/// Hashes plaintext as it streams through the encoder.
pub struct ObjectHasher {
    md5: Option<md5::Md5>,
    crc64nvme: crc_fast::Digest,
    checksum: Option<ChecksumState>,
    plaintext_bytes: u64,
}

impl ObjectHasher {
    pub fn new(request: DigestRequest) -> Self {
        Self {
            md5: request.md5.then(md5::Md5::new),
            crc64nvme: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme),
            // CRC64NVME is always computed; asking for it again costs nothing extra.
            checksum: request
                .checksum
                .filter(|a| *a != ChecksumAlgorithm::Crc64Nvme)
                .map(ChecksumState::new),
            plaintext_bytes: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        self.crc64nvme.update(data);
        if let Some(c) = &mut self.checksum {
            c.update(data);
        }
        self.plaintext_bytes += data.len() as u64;
    }

    pub fn finish(self, request: DigestRequest) -> ObjectDigest {
        let crc64nvme = self.crc64nvme.finalize();
        let checksum = match request.checksum {
            Some(ChecksumAlgorithm::Crc64Nvme) => Some(ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc64Nvme,
                bytes: crc64nvme.to_be_bytes().to_vec(),
            }),
            _ => self.checksum.map(ChecksumState::finish),
        };
        ObjectDigest {
            plaintext_bytes: self.plaintext_bytes,
            md5: self.md5.map(|m| m.finalize().into()),
            crc64nvme,
            checksum,
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// CRC32C of a share, bound to its position so a share written at the wrong
/// offset or into the wrong piece is caught like a corrupt one.
pub fn share_checksum(share: &[u8], piece: u16, stripe: u32) -> u32 {
    bind_position(crc32c::update(!0, share), piece, stripe)
}

/// Appends `share` to `dst` and returns its [`share_checksum`], reading the
/// share once (see [`crc32c::append`]). The encoder's way; the decoder checks
/// with [`share_checksum`], a separate implementation.
pub fn append_share(dst: &mut AlignedBuf, share: &[u8], piece: u16, stripe: u32) -> u32 {
    bind_position(crc32c::append(!0, share, dst), piece, stripe)
}

/// The share checksum from the CRC32C state after the share's bytes.
pub(crate) fn bind_position(state: u32, piece: u16, stripe: u32) -> u32 {
    let mut position = [0u8; 6];
    position[..2].copy_from_slice(&piece.to_le_bytes());
    position[2..].copy_from_slice(&stripe.to_le_bytes());
    !crc32c::update(state, &position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // "123456789" check values from the CRC catalogue; SHA/MD5 of "abc" from their RFCs.
        let check = |a, data: &[u8]| {
            let mut s = ChecksumState::new(a);
            s.update(&data[..3]);
            s.update(&data[3..]);
            hex(&s.finish().bytes)
        };
        assert_eq!(check(ChecksumAlgorithm::Crc32, b"123456789"), "cbf43926");
        assert_eq!(check(ChecksumAlgorithm::Crc32c, b"123456789"), "e3069283");
        assert_eq!(
            check(ChecksumAlgorithm::Crc64Nvme, b"123456789"),
            "ae8b14860a799888"
        );
        assert_eq!(
            check(ChecksumAlgorithm::Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            check(ChecksumAlgorithm::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let req = DigestRequest {
            md5: true,
            checksum: Some(ChecksumAlgorithm::Crc64Nvme),
        };
        let mut h = ObjectHasher::new(req);
        h.update(b"ab");
        h.update(b"c");
        let d = h.finish(req);
        assert_eq!(hex(&d.md5.unwrap()), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(d.etag(EtagMode::Md5), "900150983cd24fb0d6963f7d28e17f72");
        assert!(d.etag(EtagMode::Fast).ends_with("-0"));
        assert_eq!(d.checksum.unwrap().bytes, d.crc64nvme.to_be_bytes());
    }

    #[test]
    fn share_checksum_binds_position() {
        let s = [7u8; 100];
        let c = share_checksum(&s, 1, 2);
        assert_ne!(c, share_checksum(&s, 2, 2));
        assert_ne!(c, share_checksum(&s, 1, 3));
        assert_eq!(c, share_checksum(&s, 1, 2));
        // The checksum as first defined: crc-fast over the share, then the position.
        let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
        d.update(&s);
        d.update(&[1, 0, 2, 0, 0, 0]);
        assert_eq!(c, d.finalize() as u32);
        let mut dst = AlignedBuf::with_capacity(0);
        assert_eq!(append_share(&mut dst, &s, 1, 2), c);
        assert_eq!(&dst[..], &s[..]);
    }
}
