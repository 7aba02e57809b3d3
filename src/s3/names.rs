//! Names S3 constrains: bucket names (the rules for general purpose buckets),
//! object keys, and the size of user metadata. Pure checks over strings.
//!
//! Bucket rules, from the S3 User Guide ("General purpose bucket naming
//! rules"): 3 to 63 characters; lowercase letters, digits, `.` and `-` only;
//! begins and ends with a letter or digit; no two adjacent periods; not
//! formatted as an IP address; none of the reserved prefixes `xn--`,
//! `sthree-` (which covers `sthree-configurator`), `amzn-s3-demo-`; none of the
//! reserved suffixes `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`.

use crate::s3::error::{S3Error, S3ErrorCode};

pub const BUCKET_NAME_BYTES_MIN: usize = 3;
pub const BUCKET_NAME_BYTES_MAX: usize = 63;
/// Longest name S3 ever accepted (legacy us-east-1 buckets): anything longer,
/// or with characters outside `[A-Za-z0-9._-]`, is not a bucket name at all.
pub const LEGACY_BUCKET_NAME_BYTES_MAX: usize = 255;
/// Longest object key, in bytes of UTF-8.
pub const KEY_BYTES_MAX: usize = 1024;
/// Largest user metadata, counted as S3 counts it; see [`user_metadata_size_bytes`].
pub const USER_METADATA_BYTES_MAX: usize = 2048;
/// The header prefix of user metadata.
pub const USER_METADATA_PREFIX: &str = "x-amz-meta-";

const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Why a name is not a valid general purpose bucket name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BucketNameError {
    #[error("bucket name is {len_bytes} bytes, outside 3..=63")]
    Length { len_bytes: usize },
    #[error("bucket name holds {found:?}, not a lowercase letter, digit, '.' or '-'")]
    Character { found: char },
    #[error("bucket name does not begin and end with a letter or digit")]
    Edge,
    #[error("bucket name holds two adjacent periods")]
    AdjacentPeriods,
    #[error("bucket name is formatted as an IP address")]
    IpAddress,
    #[error("bucket name begins with the reserved prefix {0:?}")]
    ReservedPrefix(&'static str),
    #[error("bucket name ends with the reserved suffix {0:?}")]
    ReservedSuffix(&'static str),
}

/// Checks `name` against the general purpose bucket naming rules.
pub fn validate_bucket_name(name: &str) -> Result<(), BucketNameError> {
    let len_bytes = name.len();
    if !(BUCKET_NAME_BYTES_MIN..=BUCKET_NAME_BYTES_MAX).contains(&len_bytes) {
        return Err(BucketNameError::Length { len_bytes });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '-'))
    {
        return Err(BucketNameError::Character { found });
    }
    let bytes = name.as_bytes();
    let letter_or_digit = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !letter_or_digit(bytes[0]) || !letter_or_digit(bytes[len_bytes - 1]) {
        return Err(BucketNameError::Edge);
    }
    if name.contains("..") {
        return Err(BucketNameError::AdjacentPeriods);
    }
    if is_ipv4_shaped(name) {
        return Err(BucketNameError::IpAddress);
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(**p)) {
        return Err(BucketNameError::ReservedPrefix(prefix));
    }
    if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(**s)) {
        return Err(BucketNameError::ReservedSuffix(suffix));
    }
    Ok(())
}

pub fn is_valid_bucket_name(name: &str) -> bool {
    validate_bucket_name(name).is_ok()
}

/// Whether `name` has the shape of any bucket name S3 ever accepted: 1 to 255
/// characters of `[A-Za-z0-9._-]`. A name that fails this is not a name at
/// all (`InvalidBucketName` whatever the operation); one that passes it but
/// fails [`validate_bucket_name`] names a bucket that cannot exist here.
pub fn is_legacy_bucket_name_shape(name: &str) -> bool {
    (1..=LEGACY_BUCKET_NAME_BYTES_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Four dot-separated runs of decimal digits, e.g. `192.168.5.4`. Out-of-range
/// octets (`999.1.1.1`) count too: they are still "formatted as an IP address".
fn is_ipv4_shaped(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() == 4
        && labels
            .iter()
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a string is not a valid object key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("object key is empty")]
    Empty,
    #[error("object key is {len_bytes} bytes, over 1024")]
    TooLong { len_bytes: usize },
}

/// A key is 1 to [`KEY_BYTES_MAX`] bytes of UTF-8 (any Unicode, `/` and
/// control characters included, as in S3).
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    match key.len() {
        0 => Err(KeyError::Empty),
        len_bytes if len_bytes > KEY_BYTES_MAX => Err(KeyError::TooLong { len_bytes }),
        _ => Ok(()),
    }
}

impl From<KeyError> for S3Error {
    fn from(error: KeyError) -> Self {
        match error {
            // An empty key only reaches a handler from a request body (a
            // DeleteObjects `<Key/>`), where S3 calls it a user error.
            KeyError::Empty => {
                S3Error::with_message(S3ErrorCode::InvalidArgument, "The key must not be empty")
            }
            KeyError::TooLong { len_bytes } => S3Error::new(S3ErrorCode::KeyTooLongError)
                .field("Size", len_bytes.to_string())
                .field("MaxSizeAllowed", KEY_BYTES_MAX.to_string()),
        }
    }
}

/// The size of the user metadata among `headers`, as S3 counts it against
/// [`USER_METADATA_BYTES_MAX`]: for each `x-amz-meta-*` header (name matched
/// case-insensitively), the UTF-8 bytes of the name without the prefix plus
/// those of the value. Other headers are skipped.
///
/// S3 documents the 2 KB limit as "the sum of the number of bytes in the
/// UTF-8 encoding of each key and value"; it answers `MetadataTooLarge` with
/// `<MaxSizeAllowed>2048</MaxSizeAllowed>`, so the limit is 2048 bytes, and
/// the "key" is the metadata name, which excludes the header prefix.
pub fn user_metadata_size_bytes<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> usize {
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            let prefix = name.get(..USER_METADATA_PREFIX.len())?;
            prefix
                .eq_ignore_ascii_case(USER_METADATA_PREFIX)
                .then(|| name.len() - USER_METADATA_PREFIX.len() + value.len())
        })
        .sum()
}

/// `MetadataTooLarge` (with `<Size>` and `<MaxSizeAllowed>`) when the user
/// metadata among `headers` is over [`USER_METADATA_BYTES_MAX`]; else its size.
pub fn check_user_metadata_size<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<usize, S3Error> {
    let size_bytes = user_metadata_size_bytes(headers);
    if size_bytes > USER_METADATA_BYTES_MAX {
        Err(S3Error::metadata_too_large(
            size_bytes,
            USER_METADATA_BYTES_MAX,
        ))
    } else {
        Ok(size_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bucket_names() {
        let valid = [
            "abc",
            "docexamplebucket1",
            "log-delivery-march-2020",
            "my-hosted-content",
            "docexamplewebsite.com",
            "www.docexamplewebsite.com",
            "my.example.s3.bucket",
            "a.b-c",
            "1bucket9",
            "123",
            "1.2.3",
            "1.2.3.4.5",
            "xn-bucket",
            "sthree",
            "bucket-s3alias-not",
            "x-s3",
            "a--b",
            &"a".repeat(63),
        ];
        for name in valid {
            assert_eq!(validate_bucket_name(name), Ok(()), "{name}");
        }
        let invalid: [(&str, BucketNameError); 22] = [
            ("ab", BucketNameError::Length { len_bytes: 2 }),
            ("", BucketNameError::Length { len_bytes: 0 }),
            (&"a".repeat(64), BucketNameError::Length { len_bytes: 64 }),
            (
                "doc_example_bucket",
                BucketNameError::Character { found: '_' },
            ),
            (
                "DocExampleBucket",
                BucketNameError::Character { found: 'D' },
            ),
            ("doc example", BucketNameError::Character { found: ' ' }),
            ("bücket", BucketNameError::Character { found: 'ü' }),
            ("doc/bucket", BucketNameError::Character { found: '/' }),
            ("-bucket", BucketNameError::Edge),
            ("bucket-", BucketNameError::Edge),
            (".bucket", BucketNameError::Edge),
            ("bucket.", BucketNameError::Edge),
            ("my..bucket", BucketNameError::AdjacentPeriods),
            ("192.168.5.4", BucketNameError::IpAddress),
            ("999.999.999.999", BucketNameError::IpAddress),
            ("xn--bucket", BucketNameError::ReservedPrefix("xn--")),
            ("sthree-bucket", BucketNameError::ReservedPrefix("sthree-")),
            (
                "sthree-configurator",
                BucketNameError::ReservedPrefix("sthree-"),
            ),
            (
                "amzn-s3-demo-bucket",
                BucketNameError::ReservedPrefix("amzn-s3-demo-"),
            ),
            (
                "bucket-s3alias",
                BucketNameError::ReservedSuffix("-s3alias"),
            ),
            ("bucket--ol-s3", BucketNameError::ReservedSuffix("--ol-s3")),
            ("bucket.mrap", BucketNameError::ReservedSuffix(".mrap")),
        ];
        for (name, error) in invalid {
            assert_eq!(validate_bucket_name(name), Err(error), "{name}");
        }
        assert_eq!(
            validate_bucket_name("bucket--x-s3"),
            Err(BucketNameError::ReservedSuffix("--x-s3"))
        );
        assert_eq!(
            validate_bucket_name("bucket--table-s3"),
            Err(BucketNameError::ReservedSuffix("--table-s3"))
        );
    }

    #[test]
    fn legacy_shape() {
        assert!(is_legacy_bucket_name_shape("My_Legacy.Bucket"));
        assert!(is_legacy_bucket_name_shape("ab"));
        assert!(is_legacy_bucket_name_shape(&"a".repeat(255)));
        assert!(!is_legacy_bucket_name_shape(&"a".repeat(256)));
        assert!(!is_legacy_bucket_name_shape(""));
        assert!(!is_legacy_bucket_name_shape("a b"));
        assert!(!is_legacy_bucket_name_shape("a/b"));
        assert!(!is_legacy_bucket_name_shape("bücket"));
    }

    #[test]
    fn keys() {
        assert_eq!(validate_key(""), Err(KeyError::Empty));
        assert_eq!(validate_key("a"), Ok(()));
        assert_eq!(validate_key("/"), Ok(()));
        assert_eq!(validate_key(&"k".repeat(1024)), Ok(()));
        // 1024 bytes of UTF-8, not 1024 characters.
        assert_eq!(validate_key(&"é".repeat(512)), Ok(()));
        assert_eq!(
            validate_key(&"é".repeat(513)),
            Err(KeyError::TooLong { len_bytes: 1026 })
        );
        let error = S3Error::from(KeyError::TooLong { len_bytes: 1025 });
        assert_eq!(error.code(), S3ErrorCode::KeyTooLongError);
        assert_eq!(error.field_value("Size"), Some("1025"));
        assert_eq!(
            S3Error::from(KeyError::Empty).code(),
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn user_metadata() {
        let headers = [
            ("x-amz-meta-color", "blue"),
            ("X-Amz-Meta-Größe", "groß"),
            ("content-type", "text/plain"),
            ("x-amz-metadata-directive", "REPLACE"),
            ("x-amz-met", "short"),
        ];
        assert_eq!(user_metadata_size_bytes(headers), 5 + 4 + 7 + 5);
        assert_eq!(user_metadata_size_bytes([("x-amz-meta-", "")]), 0);

        let value = "v".repeat(USER_METADATA_BYTES_MAX - "name".len());
        assert_eq!(
            check_user_metadata_size([("x-amz-meta-name", value.as_str())]),
            Ok(2048)
        );
        let value = format!("{value}v");
        let error = check_user_metadata_size([("x-amz-meta-name", value.as_str())]).unwrap_err();
        assert_eq!(error.code(), S3ErrorCode::MetadataTooLarge);
        assert_eq!(error.field_value("Size"), Some("2049"));
        assert_eq!(error.field_value("MaxSizeAllowed"), Some("2048"));
    }

    proptest! {
        #[test]
        fn valid_names_are_dns_labels(name in "[a-z0-9.-]{0,70}") {
            if validate_bucket_name(&name).is_ok() {
                prop_assert!(name.len() >= 3 && name.len() <= 63);
                prop_assert!(!name.contains(".."));
                prop_assert!(is_legacy_bucket_name_shape(&name));
                for label in name.split('.') {
                    prop_assert!(!label.is_empty());
                }
            }
        }

        #[test]
        fn never_panics(name in any::<String>(), headers in proptest::collection::vec((any::<String>(), any::<String>()), 0..4)) {
            let _ = validate_bucket_name(&name);
            let _ = is_legacy_bucket_name_shape(&name);
            let _ = validate_key(&name);
            let _ = user_metadata_size_bytes(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        }
    }
}
