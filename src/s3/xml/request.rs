//! Parsers for the XML request bodies ringgate accepts: `CreateBucketConfiguration`
//! (CreateBucket), `Delete` (DeleteObjects) and `CompleteMultipartUpload`.
//!
//! Each takes the whole body and returns a typed value or an `S3Error`:
//! `MissingRequestBodyError` for an empty body where one is required,
//! `MalformedXML` for anything that is not well-formed or not the documented
//! shape, `NotImplemented` for documented elements ringgate does not support.
//! Element names match on their local name, so a `xmlns` attribute (or a
//! prefix) is tolerated as is its absence; child order is free where S3's
//! schema leaves it free; whitespace between elements is ignored. Unknown
//! elements are refused rather than ignored, so that a client never believes a
//! setting took effect when it did not.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::unquote_etag;

/// Objects one DeleteObjects request may name.
pub const DELETE_OBJECTS_MAX: usize = 1000;
/// Parts one CompleteMultipartUpload may list, and the largest part number.
pub const PARTS_MAX: usize = 10_000;
/// Deepest element nesting any accepted body needs is 3; refuse far deeper.
const DEPTH_MAX: usize = 8;
/// Elements per body: 10,000 parts of 7 elements fit with room to spare.
const ELEMENTS_MAX: usize = 100_000;

/// The body of CreateBucket. An empty body means "no configuration".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateBucketConfiguration {
    /// The region asked for; `None` when absent or empty (S3's us-east-1).
    pub location_constraint: Option<String>,
}

/// The body of DeleteObjects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteRequest {
    /// In request order; 1 to [`DELETE_OBJECTS_MAX`] entries.
    pub objects: Vec<ObjectIdentifier>,
    /// Quiet mode: the response lists only the keys that failed.
    pub quiet: bool,
}

/// One `<Object>` of a DeleteObjects request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectIdentifier {
    /// The key, exactly as sent (not trimmed, may be empty: the handler answers
    /// for it in the `<Error>` list).
    pub key: String,
    pub version_id: Option<String>,
    /// Conditional delete: delete only if the ETag matches (quotes removed).
    pub etag: Option<String>,
    /// Conditional delete: delete only if last modified at this time, as sent
    /// (S3 accepts an HTTP date here).
    pub last_modified_time: Option<String>,
    /// Conditional delete: delete only if the object has this size.
    pub size: Option<u64>,
}

/// The body of CompleteMultipartUpload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompleteMultipartUpload {
    /// In request order; 1 to [`PARTS_MAX`] entries. See
    /// [`CompleteMultipartUpload::check_part_order`].
    pub parts: Vec<CompletedPart>,
}

/// One `<Part>` of a CompleteMultipartUpload request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1 to [`PARTS_MAX`].
    pub part_number: u32,
    /// The part's ETag without surrounding quotes (sent with or without them).
    pub etag: String,
    /// The `x-amz-checksum-*` values the client computed for this part, base64.
    pub checksum_crc32: Option<String>,
    pub checksum_crc32c: Option<String>,
    pub checksum_crc64nvme: Option<String>,
    pub checksum_sha1: Option<String>,
    pub checksum_sha256: Option<String>,
}

impl CompleteMultipartUpload {
    /// `InvalidPartOrder` unless part numbers strictly ascend, as S3 requires
    /// (a repeated part number is out of order too).
    pub fn check_part_order(&self) -> Result<(), S3Error> {
        if self
            .parts
            .windows(2)
            .all(|pair| pair[0].part_number < pair[1].part_number)
        {
            Ok(())
        } else {
            Err(S3Error::new(S3ErrorCode::InvalidPartOrder))
        }
    }
}

/// Parses a CreateBucket body. An empty (or all-whitespace) body is the empty
/// configuration. `Location`, `Bucket` (directory buckets) and `Tags` are
/// documented but unsupported: `NotImplemented`.
pub fn parse_create_bucket_configuration(
    body: &[u8],
) -> Result<CreateBucketConfiguration, S3Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CreateBucketConfiguration::default());
    }
    let root = parse_document(body, "CreateBucketConfiguration")?;
    let mut config = CreateBucketConfiguration::default();
    let mut seen = Seen::default();
    for child in root.children {
        match child.name.as_str() {
            "LocationConstraint" => {
                seen.once("LocationConstraint")?;
                let value = child.leaf_text()?.trim().to_string();
                config.location_constraint = (!value.is_empty()).then_some(value);
            }
            "Location" | "Bucket" => {
                return Err(S3Error::not_implemented(
                    "directory buckets are not supported",
                ))
            }
            "Tags" => {
                return Err(S3Error::not_implemented(
                    "tags at bucket creation are not supported",
                ))
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    Ok(config)
}

/// Parses a DeleteObjects body: 1 to [`DELETE_OBJECTS_MAX`] `<Object>`s, each
/// with exactly one `<Key>`, and an optional `<Quiet>` anywhere among them.
pub fn parse_delete(body: &[u8]) -> Result<DeleteRequest, S3Error> {
    require_body(body)?;
    let root = parse_document(body, "Delete")?;
    let mut request = DeleteRequest::default();
    let mut seen = Seen::default();
    for child in root.children {
        match child.name.as_str() {
            "Object" => {
                if request.objects.len() == DELETE_OBJECTS_MAX {
                    return Err(S3Error::malformed_xml());
                }
                request.objects.push(parse_object_identifier(child)?);
            }
            "Quiet" => {
                seen.once("Quiet")?;
                request.quiet = parse_bool(child.leaf_text()?)?;
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    if request.objects.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    Ok(request)
}

fn parse_object_identifier(object: Element) -> Result<ObjectIdentifier, S3Error> {
    let mut identifier = ObjectIdentifier::default();
    let mut seen = Seen::default();
    for child in object.children {
        match child.name.as_str() {
            "Key" => {
                seen.once("Key")?;
                identifier.key = child.leaf_text()?.to_string();
            }
            "VersionId" => {
                seen.once("VersionId")?;
                identifier.version_id = Some(child.leaf_text()?.to_string());
            }
            "ETag" => {
                seen.once("ETag")?;
                identifier.etag = Some(unquote_etag(child.leaf_text()?.trim()).to_string());
            }
            "LastModifiedTime" => {
                seen.once("LastModifiedTime")?;
                identifier.last_modified_time = Some(child.leaf_text()?.trim().to_string());
            }
            "Size" => {
                seen.once("Size")?;
                identifier.size = Some(parse_decimal(child.leaf_text()?)?);
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    if !seen.has("Key") {
        return Err(S3Error::malformed_xml());
    }
    Ok(identifier)
}

/// Parses a CompleteMultipartUpload body: 1 to [`PARTS_MAX`] `<Part>`s, each
/// with one `<PartNumber>` and one `<ETag>`, children in any order. A part
/// number outside 1..=10000 can name no uploaded part: `InvalidPart`. The
/// order of parts is not checked here; see
/// [`CompleteMultipartUpload::check_part_order`]. A checksum element of an
/// algorithm ringgate does not support is `NotImplemented`.
pub fn parse_complete_multipart_upload(body: &[u8]) -> Result<CompleteMultipartUpload, S3Error> {
    require_body(body)?;
    let root = parse_document(body, "CompleteMultipartUpload")?;
    let mut complete = CompleteMultipartUpload::default();
    for child in root.children {
        match child.name.as_str() {
            "Part" => {
                if complete.parts.len() == PARTS_MAX {
                    return Err(S3Error::malformed_xml());
                }
                complete.parts.push(parse_completed_part(child)?);
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    if complete.parts.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    Ok(complete)
}

fn parse_completed_part(part: Element) -> Result<CompletedPart, S3Error> {
    let mut completed = CompletedPart::default();
    let mut seen = Seen::default();
    for child in part.children {
        let name = child.name.as_str();
        let slot = match name {
            "PartNumber" => {
                seen.once("PartNumber")?;
                let number: u64 = parse_decimal(child.leaf_text()?)?;
                if !(1..=PARTS_MAX as u64).contains(&number) {
                    return Err(S3Error::new(S3ErrorCode::InvalidPart));
                }
                completed.part_number = number as u32;
                continue;
            }
            "ETag" => {
                seen.once("ETag")?;
                completed.etag = unquote_etag(child.leaf_text()?.trim()).to_string();
                continue;
            }
            "ChecksumCRC32" => &mut completed.checksum_crc32,
            "ChecksumCRC32C" => &mut completed.checksum_crc32c,
            "ChecksumCRC64NVME" => &mut completed.checksum_crc64nvme,
            "ChecksumSHA1" => &mut completed.checksum_sha1,
            "ChecksumSHA256" => &mut completed.checksum_sha256,
            _ if name.starts_with("Checksum") => {
                return Err(S3Error::not_implemented(format!(
                    "{name} is not a supported checksum"
                )))
            }
            _ => return Err(S3Error::malformed_xml()),
        };
        if slot.is_some() {
            return Err(S3Error::malformed_xml());
        }
        *slot = Some(child.leaf_text()?.trim().to_string());
    }
    if !seen.has("PartNumber") || !seen.has("ETag") {
        return Err(S3Error::malformed_xml());
    }
    Ok(completed)
}

pub(crate) fn require_body(body: &[u8]) -> Result<(), S3Error> {
    if body.is_empty() {
        Err(S3Error::new(S3ErrorCode::MissingRequestBodyError))
    } else {
        Ok(())
    }
}

/// `xs:boolean`: `true`, `false`, `1`, `0`, surrounding whitespace allowed.
fn parse_bool(text: &str) -> Result<bool, S3Error> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(S3Error::malformed_xml()),
    }
}

/// An unsigned decimal of ASCII digits only (no sign, no `+`), whitespace trimmed.
fn parse_decimal(text: &str) -> Result<u64, S3Error> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(S3Error::malformed_xml());
    }
    digits.parse().map_err(|_| S3Error::malformed_xml())
}

/// Element names already met among one element's children.
#[derive(Default)]
pub(crate) struct Seen(Vec<&'static str>);

impl Seen {
    /// `MalformedXML` if `name` was already seen.
    pub(crate) fn once(&mut self, name: &'static str) -> Result<(), S3Error> {
        if self.has(name) {
            return Err(S3Error::malformed_xml());
        }
        self.0.push(name);
        Ok(())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

/// A parsed element: local name, child elements, and its character data.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) children: Vec<Element>,
    text: String,
    /// Non-whitespace text was seen; only leaves may hold it.
    has_text: bool,
}

impl Element {
    /// The text of an element that must not have children.
    pub(crate) fn leaf_text(&self) -> Result<&str, S3Error> {
        if self.children.is_empty() {
            Ok(&self.text)
        } else {
            Err(S3Error::malformed_xml())
        }
    }
}

/// Parses a whole document whose root element is `root_name` into a tree.
/// Refuses DTDs, undefined entities, mismatched tags, text outside the root,
/// several roots, text mixed with child elements, and documents past the
/// depth and element limits.
pub(crate) fn parse_document(body: &[u8], root_name: &str) -> Result<Element, S3Error> {
    let root = parse_tree(body).map_err(|_| S3Error::malformed_xml())?;
    if root.name != root_name || root.has_text {
        return Err(S3Error::malformed_xml());
    }
    Ok(root)
}

/// Why a body is not a document; never shown, every case is `MalformedXML`.
#[derive(Debug)]
struct NotWellFormed;

impl From<quick_xml::Error> for NotWellFormed {
    fn from(_: quick_xml::Error) -> Self {
        NotWellFormed
    }
}

impl From<quick_xml::encoding::EncodingError> for NotWellFormed {
    fn from(_: quick_xml::encoding::EncodingError) -> Self {
        NotWellFormed
    }
}

fn parse_tree(body: &[u8]) -> Result<Element, NotWellFormed> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        match reader.read_event()? {
            Event::Start(start) => {
                open_element(
                    &mut stack,
                    &root,
                    &mut elements,
                    start.local_name().as_ref(),
                )?;
            }
            Event::Empty(start) => {
                open_element(
                    &mut stack,
                    &root,
                    &mut elements,
                    start.local_name().as_ref(),
                )?;
                close_element(&mut stack, &mut root)?;
            }
            Event::End(_) => close_element(&mut stack, &mut root)?,
            Event::Text(text) => append_text(&mut stack, &text.xml10_content()?)?,
            Event::CData(cdata) => append_text(&mut stack, &cdata.xml10_content()?)?,
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref()? {
                    Some(ch) => ch,
                    None => match AsRef::<[u8]>::as_ref(&*reference) {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return Err(NotWellFormed),
                    },
                };
                let mut buf = [0u8; 4];
                append_text(&mut stack, resolved.encode_utf8(&mut buf))?;
            }
            // A DTD could declare entities; S3 bodies never carry one.
            Event::DocType(_) => return Err(NotWellFormed),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(NotWellFormed);
    }
    root.ok_or(NotWellFormed)
}

fn open_element(
    stack: &mut Vec<Element>,
    root: &Option<Element>,
    elements: &mut usize,
    local_name: &[u8],
) -> Result<(), NotWellFormed> {
    // A second root element.
    if stack.is_empty() && root.is_some() {
        return Err(NotWellFormed);
    }
    *elements += 1;
    if stack.len() >= DEPTH_MAX || *elements > ELEMENTS_MAX {
        return Err(NotWellFormed);
    }
    if let Some(parent) = stack.last() {
        if parent.has_text {
            return Err(NotWellFormed);
        }
    }
    let name = std::str::from_utf8(local_name).map_err(|_| NotWellFormed)?;
    stack.push(Element {
        name: name.to_string(),
        ..Element::default()
    });
    Ok(())
}

fn close_element(
    stack: &mut Vec<Element>,
    root: &mut Option<Element>,
) -> Result<(), NotWellFormed> {
    let element = stack.pop().ok_or(NotWellFormed)?;
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
    Ok(())
}

fn append_text(stack: &mut [Element], text: &str) -> Result<(), NotWellFormed> {
    let is_blank = text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    match stack.last_mut() {
        // Only whitespace may stand outside the root element.
        None if is_blank => Ok(()),
        None => Err(NotWellFormed),
        Some(element) => {
            if !is_blank {
                if !element.children.is_empty() {
                    return Err(NotWellFormed);
                }
                element.has_text = true;
            }
            element.text.push_str(text);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::xml::escape;
    use proptest::prelude::*;

    fn error_code<T: std::fmt::Debug>(result: Result<T, S3Error>) -> S3ErrorCode {
        result.unwrap_err().code()
    }

    #[test]
    fn create_bucket_configuration() {
        let parse = |body: &str| parse_create_bucket_configuration(body.as_bytes());
        assert_eq!(parse("").unwrap(), CreateBucketConfiguration::default());
        assert_eq!(parse(" \n").unwrap(), CreateBucketConfiguration::default());
        let with_ns = r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <LocationConstraint>eu-west-1</LocationConstraint>
        </CreateBucketConfiguration>"#;
        assert_eq!(
            parse(with_ns).unwrap().location_constraint.as_deref(),
            Some("eu-west-1")
        );
        let bare = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
            <CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint>\
            </CreateBucketConfiguration>";
        assert_eq!(
            parse(bare).unwrap().location_constraint.as_deref(),
            Some("us-west-2")
        );
        let prefixed = r#"<s3:CreateBucketConfiguration xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:LocationConstraint>x</s3:LocationConstraint></s3:CreateBucketConfiguration>"#;
        assert_eq!(
            parse(prefixed).unwrap().location_constraint.as_deref(),
            Some("x")
        );
        assert_eq!(
            parse("<CreateBucketConfiguration/>")
                .unwrap()
                .location_constraint,
            None
        );
        assert_eq!(
            parse("<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>")
                .unwrap()
                .location_constraint,
            None
        );
        let malformed = [
            "<CreateBucketConfiguration>",
            "<CreateBucketConfiguration></Other>",
            "<Delete></Delete>",
            "<CreateBucketConfiguration><Foo/></CreateBucketConfiguration>",
            "<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>",
            "<CreateBucketConfiguration><LocationConstraint><X/></LocationConstraint></CreateBucketConfiguration>",
            "<CreateBucketConfiguration/><CreateBucketConfiguration/>",
            "text<CreateBucketConfiguration/>",
            "<CreateBucketConfiguration>text</CreateBucketConfiguration>",
            "<!DOCTYPE x [<!ENTITY e \"y\">]><CreateBucketConfiguration/>",
            "<CreateBucketConfiguration><LocationConstraint>&e;</LocationConstraint></CreateBucketConfiguration>",
            "<CreateBucketConfiguration><LocationConstraint>a & b</LocationConstraint></CreateBucketConfiguration>",
            "not xml",
        ];
        for body in malformed {
            assert_eq!(
                parse(body).map_err(|e| e.code()),
                Err(S3ErrorCode::MalformedXML),
                "{body}"
            );
        }
        assert_eq!(
            error_code(parse(
                "<CreateBucketConfiguration><Tags><Tag><Key>a</Key><Value>b</Value></Tag></Tags></CreateBucketConfiguration>"
            )),
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            error_code(parse(
                "<CreateBucketConfiguration><Bucket><Type>Directory</Type></Bucket></CreateBucketConfiguration>"
            )),
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            error_code(parse_create_bucket_configuration(
                b"<CreateBucketConfiguration>\xff</CreateBucketConfiguration>"
            )),
            S3ErrorCode::MalformedXML
        );
    }

    #[test]
    fn delete() {
        // The example request of the DeleteObjects reference.
        let body = r#"<Delete>
            <Object>
                 <Key>sample1.txt</Key>
            </Object>
            <Object>
               <Key>sample2.txt</Key>
               <VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId>
            </Object>
            <Quiet>true</Quiet>
        </Delete>"#;
        let request = parse_delete(body.as_bytes()).unwrap();
        assert!(request.quiet);
        assert_eq!(request.objects.len(), 2);
        assert_eq!(request.objects[0].key, "sample1.txt");
        assert_eq!(request.objects[0].version_id, None);
        assert_eq!(
            request.objects[1].version_id.as_deref(),
            Some("OYcLXagmS.WaD..oyH4KRguB95_YhLs7")
        );

        // Quiet first, namespace, child order swapped, escaped and odd keys.
        let body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>false</Quiet>\
            <Object><VersionId>null</VersionId><Key> a&amp;b&lt;c&gt;&quot;&apos;&#13;&#x1b; </Key></Object>\
            <Object><Key><![CDATA[x<y]]></Key><ETag>\"abc\"</ETag><Size>12</Size>\
            <LastModifiedTime>Wed, 12 Oct 2009 17:50:00 GMT</LastModifiedTime></Object>\
            <Object><Key></Key></Object></Delete>";
        let request = parse_delete(body.as_bytes()).unwrap();
        assert!(!request.quiet);
        assert_eq!(request.objects[0].key, " a&b<c>\"'\r\u{1b} ");
        assert_eq!(request.objects[0].version_id.as_deref(), Some("null"));
        assert_eq!(request.objects[1].key, "x<y");
        assert_eq!(request.objects[1].etag.as_deref(), Some("abc"));
        assert_eq!(request.objects[1].size, Some(12));
        assert_eq!(
            request.objects[1].last_modified_time.as_deref(),
            Some("Wed, 12 Oct 2009 17:50:00 GMT")
        );
        assert_eq!(request.objects[2].key, "");

        assert_eq!(
            error_code(parse_delete(b"")),
            S3ErrorCode::MissingRequestBodyError
        );
        let malformed = [
            "<Delete></Delete>",
            "<Delete><Quiet>true</Quiet></Delete>",
            "<Delete><Object></Object></Delete>",
            "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
            "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key><Other/></Object></Delete>",
            "<Delete><Object><Key>a</Key></Object><Quiet>yes</Quiet></Delete>",
            "<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet><Quiet>true</Quiet></Delete>",
            "<Delete><Object><Key>a</Key><Size>-1</Size></Object></Delete>",
            "<Delete><Object><Key>a</Key></Object>",
            "<Deletes><Object><Key>a</Key></Object></Deletes>",
            "<Delete><Object><Key>a<b/></Key></Object></Delete>",
        ];
        for body in malformed {
            assert_eq!(
                error_code(parse_delete(body.as_bytes())),
                S3ErrorCode::MalformedXML,
                "{body}"
            );
        }
    }

    #[test]
    fn delete_limit() {
        let body = |count: usize| {
            let mut body = String::from("<Delete>");
            for index in 0..count {
                body.push_str(&format!("<Object><Key>k{index}</Key></Object>"));
            }
            body.push_str("</Delete>");
            body
        };
        assert_eq!(
            parse_delete(body(1000).as_bytes()).unwrap().objects.len(),
            1000
        );
        assert_eq!(
            error_code(parse_delete(body(1001).as_bytes())),
            S3ErrorCode::MalformedXML
        );
    }

    #[test]
    fn complete_multipart_upload() {
        // The example request of the CompleteMultipartUpload reference.
        let body = r#"<CompleteMultipartUpload>
          <Part>
            <PartNumber>1</PartNumber>
            <ETag>"a54357aff0632cce46d942af68356b38"</ETag>
          </Part>
          <Part>
            <PartNumber>2</PartNumber>
            <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
          </Part>
          <Part>
            <PartNumber>3</PartNumber>
            <ETag>"acbd18db4cc2f85cedef654fccc4a4d8"</ETag>
          </Part>
        </CompleteMultipartUpload>"#;
        let complete = parse_complete_multipart_upload(body.as_bytes()).unwrap();
        assert_eq!(complete.parts.len(), 3);
        assert_eq!(complete.parts[0].part_number, 1);
        assert_eq!(complete.parts[0].etag, "a54357aff0632cce46d942af68356b38");
        assert_eq!(complete.parts[2].etag, "acbd18db4cc2f85cedef654fccc4a4d8");
        complete.check_part_order().unwrap();

        // As the AWS SDKs send it: namespace, ETag first, entity-escaped quotes,
        // checksums; one ETag without quotes.
        let body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <Part><ETag>&quot;e1&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32>\
            <ChecksumCRC32C>BBBBBB==</ChecksumCRC32C><ChecksumCRC64NVME>CCCCCCCCCCC=</ChecksumCRC64NVME>\
            <ChecksumSHA1>DDDD</ChecksumSHA1><ChecksumSHA256>EEEE</ChecksumSHA256>\
            <PartNumber>7</PartNumber></Part>\
            <Part><PartNumber> 9 </PartNumber><ETag>e2</ETag></Part></CompleteMultipartUpload>";
        let complete = parse_complete_multipart_upload(body.as_bytes()).unwrap();
        let first = &complete.parts[0];
        assert_eq!((first.part_number, first.etag.as_str()), (7, "e1"));
        assert_eq!(first.checksum_crc32.as_deref(), Some("AAAAAA=="));
        assert_eq!(first.checksum_crc32c.as_deref(), Some("BBBBBB=="));
        assert_eq!(first.checksum_crc64nvme.as_deref(), Some("CCCCCCCCCCC="));
        assert_eq!(first.checksum_sha1.as_deref(), Some("DDDD"));
        assert_eq!(first.checksum_sha256.as_deref(), Some("EEEE"));
        assert_eq!(
            (
                complete.parts[1].part_number,
                complete.parts[1].etag.as_str()
            ),
            (9, "e2")
        );

        let out_of_order =
            "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part>\
            <Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>";
        let complete = parse_complete_multipart_upload(out_of_order.as_bytes()).unwrap();
        assert_eq!(
            complete.check_part_order().unwrap_err().code(),
            S3ErrorCode::InvalidPartOrder
        );
        let repeated = out_of_order.replace("<PartNumber>1<", "<PartNumber>2<");
        let complete = parse_complete_multipart_upload(repeated.as_bytes()).unwrap();
        assert!(complete.check_part_order().is_err());

        let parse = |body: &str| parse_complete_multipart_upload(body.as_bytes());
        assert_eq!(error_code(parse("")), S3ErrorCode::MissingRequestBodyError);
        let part = |inner: &str| {
            format!("<CompleteMultipartUpload><Part>{inner}</Part></CompleteMultipartUpload>")
        };
        for inner in [
            "<PartNumber>0</PartNumber><ETag>a</ETag>",
            "<PartNumber>10001</PartNumber><ETag>a</ETag>",
        ] {
            assert_eq!(
                error_code(parse(&part(inner))),
                S3ErrorCode::InvalidPart,
                "{inner}"
            );
        }
        for inner in [
            "<ETag>a</ETag>",
            "<PartNumber>1</PartNumber>",
            "<PartNumber>x</PartNumber><ETag>a</ETag>",
            "<PartNumber>-1</PartNumber><ETag>a</ETag>",
            "<PartNumber>+1</PartNumber><ETag>a</ETag>",
            "<PartNumber>99999999999999999999999</PartNumber><ETag>a</ETag>",
            "<PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>a</ETag>",
            "<PartNumber>1</PartNumber><ETag>a</ETag><ETag>b</ETag>",
            "<PartNumber>1</PartNumber><ETag>a</ETag><ChecksumCRC32>x</ChecksumCRC32><ChecksumCRC32>y</ChecksumCRC32>",
            "<PartNumber>1</PartNumber><ETag>a</ETag><Size>3</Size>",
        ] {
            assert_eq!(error_code(parse(&part(inner))), S3ErrorCode::MalformedXML, "{inner}");
        }
        assert_eq!(
            error_code(parse(&part(
                "<PartNumber>1</PartNumber><ETag>a</ETag><ChecksumSHA512>x</ChecksumSHA512>"
            ))),
            S3ErrorCode::NotImplemented
        );
        for body in [
            "<CompleteMultipartUpload></CompleteMultipartUpload>",
            "<CompleteMultipartUpload/>",
            "<CompleteMultipartUpload><Other/></CompleteMultipartUpload>",
        ] {
            assert_eq!(error_code(parse(body)), S3ErrorCode::MalformedXML, "{body}");
        }
    }

    #[test]
    fn depth_and_size_limits() {
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(
            error_code(parse_delete(deep.as_bytes())),
            S3ErrorCode::MalformedXML
        );
        let many = format!("<Delete>{}</Delete>", "<x/>".repeat(ELEMENTS_MAX + 1));
        assert_eq!(
            error_code(parse_delete(many.as_bytes())),
            S3ErrorCode::MalformedXML
        );
    }

    /// How the SDKs write a Delete body; the parser must read it back.
    fn write_delete(request: &DeleteRequest) -> String {
        let mut body = String::from("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for object in &request.objects {
            body.push_str(&format!("<Object><Key>{}</Key>", escape(&object.key)));
            if let Some(version_id) = &object.version_id {
                body.push_str(&format!("<VersionId>{}</VersionId>", escape(version_id)));
            }
            body.push_str("</Object>");
        }
        body.push_str(&format!("<Quiet>{}</Quiet></Delete>", request.quiet));
        body
    }

    fn write_complete(complete: &CompleteMultipartUpload) -> String {
        let mut body = String::from("<CompleteMultipartUpload>");
        for part in &complete.parts {
            body.push_str(&format!("<Part><ETag>\"{}\"</ETag>", escape(&part.etag)));
            if let Some(crc32) = &part.checksum_crc32 {
                body.push_str(&format!("<ChecksumCRC32>{crc32}</ChecksumCRC32>"));
            }
            body.push_str(&format!(
                "<PartNumber>{}</PartNumber></Part>",
                part.part_number
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        body
    }

    /// Keys XML can carry: any Unicode scalar but NUL (a character reference
    /// to NUL is refused by every XML parser, S3 keys cannot hold it either).
    fn key_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                any::<char>().prop_filter("no NUL", |c| *c != '\0'),
                Just('<'),
                Just('&'),
                Just('"'),
                Just('\r'),
                Just('/'),
                Just(' '),
            ],
            0..40,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn delete_round_trip(
            keys in proptest::collection::vec((key_strategy(), proptest::option::of("[A-Za-z0-9._]{1,32}")), 1..20),
            quiet in any::<bool>(),
        ) {
            let request = DeleteRequest {
                objects: keys
                    .into_iter()
                    .map(|(key, version_id)| ObjectIdentifier { key, version_id, ..ObjectIdentifier::default() })
                    .collect(),
                quiet,
            };
            prop_assert_eq!(parse_delete(write_delete(&request).as_bytes()).unwrap(), request);
        }

        #[test]
        fn complete_round_trip(parts in proptest::collection::vec((1u32..=10_000, "[0-9a-f]{32}(-[0-9]{1,5})?", proptest::option::of("[A-Za-z0-9+/]{6}==")), 1..30)) {
            let complete = CompleteMultipartUpload {
                parts: parts
                    .into_iter()
                    .map(|(part_number, etag, checksum_crc32)| CompletedPart {
                        part_number,
                        etag,
                        checksum_crc32,
                        ..CompletedPart::default()
                    })
                    .collect(),
            };
            prop_assert_eq!(parse_complete_multipart_upload(write_complete(&complete).as_bytes()).unwrap(), complete);
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_delete(&body);
            let _ = parse_complete_multipart_upload(&body);
            let _ = parse_create_bucket_configuration(&body);
        }

        #[test]
        fn mangled_documents_never_panic(cut in 0usize..200, byte in any::<u8>(), at in 0usize..200) {
            let mut body = b"<Delete><Object><Key>a&amp;b</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>".to_vec();
            let at = at % body.len();
            body[at] = byte;
            body.truncate(cut.min(body.len()));
            let _ = parse_delete(&body);
        }
    }
}
