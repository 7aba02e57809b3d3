//! Tags as S3 writes them (`<Tagging><TagSet><Tag>…`, and `x-amz-tagging:
//! k=v&…` on object writes): the tag-set parsers, their validation and the
//! canonical document, and the bucket-tagging family. Pure: object tagging
//! reuses the same tag set with its own limit.
//!
//! The rules are S3's tag restrictions: a key is 1 to 128 Unicode
//! characters, a value 0 to 256; both hold only letters, digits, white space
//! and `+ - = . _ : / @`; keys are unique within a set; the `aws:` prefix is
//! reserved. A bucket holds at most 50 tags (more is `InvalidTag`), an object
//! 10 (more is `BadRequest`, as S3 answers).

use crate::s3::bucket_config::family::ConfigFamily;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::request::{parse_document, require_body, Element, Seen};
use crate::s3::xml::XmlWriter;

/// Tags one bucket may carry.
pub const BUCKET_TAGS_MAX: usize = 50;
/// Tags one object may carry.
pub const OBJECT_TAGS_MAX: usize = 10;
const KEY_CHARS_MAX: usize = 128;
const VALUE_CHARS_MAX: usize = 256;

/// One tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A validated tag set, in the order the client sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagSet {
    pub tags: Vec<Tag>,
}

impl TagSet {
    /// Parses a `<Tagging>` body and validates it for a set of at most `max` tags.
    pub fn parse(body: &[u8], max: usize) -> Result<TagSet, S3Error> {
        require_body(body)?;
        let root = parse_document(body, "Tagging")?;
        let mut tag_set = None;
        for child in &root.children {
            match child.name.as_str() {
                "TagSet" if tag_set.is_none() => tag_set = Some(parse_tags(child)?),
                _ => return Err(S3Error::malformed_xml()),
            }
        }
        let tags = tag_set.ok_or_else(S3Error::malformed_xml)?;
        validate(&tags, max)?;
        Ok(TagSet { tags })
    }

    /// An object's `<Tagging>` body (PutObjectTagging).
    pub fn parse_object(body: &[u8]) -> Result<TagSet, S3Error> {
        let tags = TagSet::parse(body, usize::MAX)?;
        check_object_count(&tags.tags)?;
        Ok(tags)
    }

    /// The `x-amz-tagging` header of PutObject, CreateMultipartUpload and
    /// CopyObject: URL query parameters (`k1=v1&k2`, percent-encoded, `+` a
    /// space), keys unique, at most 10.
    pub fn from_header(value: &str) -> Result<TagSet, S3Error> {
        let bad = || {
            S3Error::invalid_argument(
                "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
                "x-amz-tagging",
                value,
            )
        };
        let decode = |text: &str| -> Result<String, S3Error> {
            let spaced = text.replace('+', " ");
            percent_encoding::percent_decode_str(&spaced)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|_| bad())
        };
        let mut tags: Vec<Tag> = Vec::new();
        for pair in value.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let tag = Tag {
                key: decode(key)?,
                value: decode(value)?,
            };
            if tags.iter().any(|earlier| earlier.key == tag.key) {
                return Err(bad());
            }
            tags.push(tag);
        }
        check_object_count(&tags)?;
        validate(&tags, OBJECT_TAGS_MAX)?;
        Ok(TagSet { tags })
    }

    /// As meta stores them: (key, value) pairs.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.tags.into_iter().map(|t| (t.key, t.value)).collect()
    }

    pub fn from_pairs(pairs: &[(String, String)]) -> TagSet {
        let tags = pairs
            .iter()
            .map(|(key, value)| Tag {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        TagSet { tags }
    }

    /// The `<Tagging>` document S3 answers with (and ringgate stores).
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("Tagging");
        xml.start("TagSet");
        for tag in &self.tags {
            xml.start("Tag");
            xml.element("Key", &tag.key);
            xml.element("Value", &tag.value);
            xml.end("Tag");
        }
        xml.end("TagSet");
        xml.end("Tagging");
        xml.finish()
    }

    /// The value of the tag called `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|tag| tag.key == key)
            .map(|tag| tag.value.as_str())
    }
}

fn parse_tags(tag_set: &Element) -> Result<Vec<Tag>, S3Error> {
    tag_set
        .children
        .iter()
        .map(|tag| match tag.name.as_str() {
            "Tag" => parse_tag(tag),
            _ => Err(S3Error::malformed_xml()),
        })
        .collect()
}

fn parse_tag(tag: &Element) -> Result<Tag, S3Error> {
    let mut seen = Seen::default();
    let (mut key, mut value) = (String::new(), String::new());
    for child in &tag.children {
        match child.name.as_str() {
            "Key" => {
                seen.once("Key")?;
                key = child.leaf_text()?.to_string();
            }
            "Value" => {
                seen.once("Value")?;
                value = child.leaf_text()?.to_string();
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    if !seen.has("Key") || !seen.has("Value") {
        return Err(S3Error::malformed_xml());
    }
    Ok(Tag { key, value })
}

fn check_object_count(tags: &[Tag]) -> Result<(), S3Error> {
    if tags.len() > OBJECT_TAGS_MAX {
        return Err(S3Error::with_message(
            S3ErrorCode::BadRequest,
            "Object tags cannot be greater than 10",
        ));
    }
    Ok(())
}

fn invalid_tag(message: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidTag, message)
}

fn validate(tags: &[Tag], max: usize) -> Result<(), S3Error> {
    if tags.len() > max {
        return Err(invalid_tag(format!(
            "The tag set may hold at most {max} tags"
        )));
    }
    for (i, tag) in tags.iter().enumerate() {
        let key_chars = tag.key.chars().count();
        if key_chars == 0 || key_chars > KEY_CHARS_MAX || !allowed(&tag.key) {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if tag.value.chars().count() > VALUE_CHARS_MAX || !allowed(&tag.value) {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if tag.key.starts_with("aws:") {
            return Err(invalid_tag(
                "System tags cannot be added/updated by requester",
            ));
        }
        if tags[..i].iter().any(|earlier| earlier.key == tag.key) {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// Letters, digits and white space of any script, and `+ - = . _ : / @`.
fn allowed(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c))
}

/// PutBucketTagging, GetBucketTagging, DeleteBucketTagging.
pub struct BucketTagging;

impl ConfigFamily for BucketTagging {
    const NAME: &'static str = "tagging";
    const MISSING: S3ErrorCode = S3ErrorCode::NoSuchTagSet;
    const PUT_STATUS: u16 = 204;

    /// An empty tag set removes the bucket's tags, as DeleteBucketTagging does.
    fn canonical(body: &[u8]) -> Result<Option<Vec<u8>>, S3Error> {
        let tags = TagSet::parse(body, BUCKET_TAGS_MAX)?;
        Ok((!tags.tags.is_empty()).then(|| tags.to_xml()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagging(tags: &[(&str, &str)]) -> Vec<u8> {
        let mut body =
            String::from(r#"<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>"#);
        for (key, value) in tags {
            body.push_str(&format!(
                "<Tag><Key>{key}</Key><Value>{value}</Value></Tag>"
            ));
        }
        body.push_str("</TagSet></Tagging>");
        body.into_bytes()
    }

    fn code(body: &[u8], max: usize) -> S3ErrorCode {
        TagSet::parse(body, max).unwrap_err().code()
    }

    #[test]
    fn a_tag_set_parses_and_renders_back_to_itself() {
        let body = tagging(&[
            ("project", "blue"),
            ("cost center", "4 2"),
            ("é/@:+=._-", ""),
        ]);
        let tags = TagSet::parse(&body, BUCKET_TAGS_MAX).unwrap();
        assert_eq!(tags.tags.len(), 3);
        assert_eq!(tags.get("cost center"), Some("4 2"));
        assert_eq!(tags.get("é/@:+=._-"), Some(""));
        assert_eq!(
            TagSet::parse(&tags.to_xml(), BUCKET_TAGS_MAX).unwrap(),
            tags
        );
        let text = String::from_utf8(tags.to_xml()).unwrap();
        assert!(text.contains("<TagSet><Tag><Key>project</Key><Value>blue</Value></Tag>"));
    }

    #[test]
    fn bad_tags_are_invalid_tag() {
        let long_key = "k".repeat(129);
        let long_value = "v".repeat(257);
        for tags in [
            vec![("", "v")],
            vec![(long_key.as_str(), "v")],
            vec![("k", long_value.as_str())],
            vec![("k!", "v")],
            vec![("k", "v;")],
            vec![("aws:cloudformation", "v")],
            vec![("k", "1"), ("k", "2")],
        ] {
            assert_eq!(
                code(&tagging(&tags), 50),
                S3ErrorCode::InvalidTag,
                "{tags:?}"
            );
        }
        let eleven: Vec<(String, &str)> = (0..11).map(|i| (format!("k{i}"), "v")).collect();
        let eleven: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            code(&tagging(&eleven), OBJECT_TAGS_MAX),
            S3ErrorCode::InvalidTag
        );
        assert!(TagSet::parse(&tagging(&eleven), BUCKET_TAGS_MAX).is_ok());
        // Limits count characters, not bytes.
        let wide = "é".repeat(128);
        assert!(TagSet::parse(&tagging(&[(wide.as_str(), "v")]), 50).is_ok());
    }

    #[test]
    fn bad_shapes_are_malformed_xml() {
        for body in [
            &b"<Tagging/>"[..],
            b"<Tagging><TagSet/><TagSet/></Tagging>",
            b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
            b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
            b"<Tagging><TagSet><Tag><Key>k</Key><Key>j</Key><Value>v</Value></Tag></TagSet></Tagging>",
            b"<Tagging><TagSet><Other/></TagSet></Tagging>",
            b"<Tags><TagSet/></Tags>",
            b"<Tagging><TagSet>",
        ] {
            assert_eq!(code(body, 50), S3ErrorCode::MalformedXML, "{:?}", String::from_utf8_lossy(body));
        }
        assert_eq!(code(b"", 50), S3ErrorCode::MissingRequestBodyError);
    }

    #[test]
    fn object_tags_from_the_header() {
        let tags = TagSet::from_header("project=blue&cost%20center=4+2&empty=&bare").unwrap();
        let pairs = tags.clone().into_pairs();
        let expected = [
            ("project", "blue"),
            ("cost center", "4 2"),
            ("empty", ""),
            ("bare", ""),
        ];
        assert_eq!(pairs.len(), expected.len());
        for ((k, v), (ek, ev)) in pairs.iter().zip(expected) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
        assert_eq!(TagSet::from_pairs(&pairs), tags);
        assert_eq!(TagSet::from_header("").unwrap(), TagSet::default());
        assert_eq!(
            TagSet::from_header("a%2Bb=%C3%A9").unwrap().get("a+b"),
            Some("é")
        );
        let header_code = |value: &str| TagSet::from_header(value).unwrap_err().code();
        assert_eq!(header_code("k=1&k=2"), S3ErrorCode::InvalidArgument);
        assert_eq!(header_code("k=%ff"), S3ErrorCode::InvalidArgument);
        assert_eq!(header_code("k!=v"), S3ErrorCode::InvalidTag);
        assert_eq!(header_code("aws:x=v"), S3ErrorCode::InvalidTag);
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(header_code(&eleven.join("&")), S3ErrorCode::BadRequest);
        let ten: Vec<String> = (0..10).map(|i| format!("k{i}=v")).collect();
        assert_eq!(TagSet::from_header(&ten.join("&")).unwrap().tags.len(), 10);
    }

    #[test]
    fn object_tag_bodies_allow_ten() {
        let eleven: Vec<(String, &str)> = (0..11).map(|i| (format!("k{i}"), "v")).collect();
        let eleven: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            TagSet::parse_object(&tagging(&eleven)).unwrap_err().code(),
            S3ErrorCode::BadRequest
        );
        assert_eq!(
            TagSet::parse_object(&tagging(&eleven[..10]))
                .unwrap()
                .tags
                .len(),
            10
        );
        assert_eq!(
            TagSet::parse_object(&tagging(&[("k!", "v")]))
                .unwrap_err()
                .code(),
            S3ErrorCode::InvalidTag
        );
    }

    #[test]
    fn an_empty_bucket_tag_set_stores_nothing() {
        assert_eq!(BucketTagging::canonical(&tagging(&[])).unwrap(), None);
        let stored = BucketTagging::canonical(&tagging(&[("a", "b")]))
            .unwrap()
            .unwrap();
        assert_eq!(TagSet::parse(&stored, 50).unwrap().get("a"), Some("b"));
    }
}
