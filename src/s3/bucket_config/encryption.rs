//! Default bucket encryption (Put/Get/DeleteBucketEncryption). Every object
//! here is encrypted (AES-256-GCM, a key per segment), which S3 calls SSE-S3,
//! so every bucket has the default S3 gives every bucket since 2023:
//! `AES256`. PUT may restate it (and set `BucketKeyEnabled`, which means
//! nothing without KMS and is kept only to be read back); `aws:kms` and
//! `aws:kms:dsse` are `NotImplemented` until SSE-KMS exists; DELETE returns
//! the bucket to the default. Pure.

use crate::s3::bucket_config::family::ConfigFamily;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::request::{parse_document, require_body, Element, Seen};
use crate::s3::xml::XmlWriter;

/// A bucket's default encryption rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionRule {
    /// Always `AES256` while SSE-KMS is not supported.
    pub algorithm: &'static str,
    pub bucket_key_enabled: bool,
}

impl EncryptionRule {
    /// Parses a `<ServerSideEncryptionConfiguration>` body: one `<Rule>`.
    pub fn parse(body: &[u8]) -> Result<EncryptionRule, S3Error> {
        require_body(body)?;
        let root = parse_document(body, "ServerSideEncryptionConfiguration")?;
        match root.children.as_slice() {
            [rule] if rule.name == "Rule" => parse_rule(rule),
            _ => Err(S3Error::malformed_xml()),
        }
    }

    /// The document GetBucketEncryption answers with.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut xml = XmlWriter::new();
        xml.start_root("ServerSideEncryptionConfiguration");
        xml.start("Rule");
        xml.start("ApplyServerSideEncryptionByDefault");
        xml.element("SSEAlgorithm", self.algorithm);
        xml.end("ApplyServerSideEncryptionByDefault");
        xml.element_display("BucketKeyEnabled", self.bucket_key_enabled);
        xml.end("Rule");
        xml.end("ServerSideEncryptionConfiguration");
        xml.finish()
    }
}

fn parse_rule(rule: &Element) -> Result<EncryptionRule, S3Error> {
    let mut seen = Seen::default();
    let mut parsed = EncryptionRule {
        algorithm: "",
        bucket_key_enabled: false,
    };
    for child in &rule.children {
        match child.name.as_str() {
            "ApplyServerSideEncryptionByDefault" => {
                seen.once("ApplyServerSideEncryptionByDefault")?;
                parsed.algorithm = parse_default(child)?;
            }
            "BucketKeyEnabled" => {
                seen.once("BucketKeyEnabled")?;
                parsed.bucket_key_enabled = match child.leaf_text()?.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(S3Error::malformed_xml()),
                };
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    if !seen.has("ApplyServerSideEncryptionByDefault") {
        return Err(S3Error::malformed_xml());
    }
    Ok(parsed)
}

fn parse_default(default: &Element) -> Result<&'static str, S3Error> {
    let mut seen = Seen::default();
    let (mut algorithm, mut key_id) = (None, None);
    for child in &default.children {
        match child.name.as_str() {
            "SSEAlgorithm" => {
                seen.once("SSEAlgorithm")?;
                algorithm = Some(child.leaf_text()?.trim().to_string());
            }
            "KMSMasterKeyID" => {
                seen.once("KMSMasterKeyID")?;
                key_id = Some(child.leaf_text()?.trim().to_string());
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    match (algorithm.as_deref(), key_id) {
        (Some("AES256"), None) => Ok("AES256"),
        (Some("AES256"), Some(_)) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
        )),
        (Some("aws:kms" | "aws:kms:dsse"), _) => Err(S3Error::not_implemented(
            "Default encryption with KMS keys is not supported yet",
        )),
        _ => Err(S3Error::malformed_xml()),
    }
}

/// PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption.
pub struct BucketEncryption;

impl ConfigFamily for BucketEncryption {
    const NAME: &'static str = "encryption";
    const MISSING: S3ErrorCode = S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError;
    const PUT_STATUS: u16 = 200;

    fn canonical(body: &[u8]) -> Result<Option<Vec<u8>>, S3Error> {
        Ok(Some(EncryptionRule::parse(body)?.to_xml()))
    }

    /// SSE-S3, the default of every S3 bucket and the truth of every object here.
    fn default_document() -> Option<Vec<u8>> {
        Some(
            EncryptionRule {
                algorithm: "AES256",
                bucket_key_enabled: false,
            }
            .to_xml(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(inner: &str) -> Vec<u8> {
        format!(
            r#"<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</ServerSideEncryptionConfiguration>"#
        )
        .into_bytes()
    }

    fn rule(algorithm: &str, extra: &str) -> Vec<u8> {
        config(&format!(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm>{extra}</ApplyServerSideEncryptionByDefault></Rule>"
        ))
    }

    #[test]
    fn aes256_is_accepted_and_renders_back() {
        let parsed = EncryptionRule::parse(&rule("AES256", "")).unwrap();
        assert_eq!(parsed.algorithm, "AES256");
        assert!(!parsed.bucket_key_enabled);
        assert_eq!(EncryptionRule::parse(&parsed.to_xml()).unwrap(), parsed);
        let with_key = config(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>",
        );
        assert!(EncryptionRule::parse(&with_key).unwrap().bucket_key_enabled);
        assert_eq!(
            BucketEncryption::default_document(),
            BucketEncryption::canonical(&rule("AES256", "")).unwrap()
        );
    }

    #[test]
    fn other_algorithms_and_shapes_are_refused() {
        let code = |body: &[u8]| EncryptionRule::parse(body).unwrap_err().code();
        assert_eq!(code(&rule("aws:kms", "")), S3ErrorCode::NotImplemented);
        assert_eq!(
            code(&rule("aws:kms", "<KMSMasterKeyID>k</KMSMasterKeyID>")),
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            code(&rule("AES256", "<KMSMasterKeyID>k</KMSMasterKeyID>")),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(code(&rule("DES", "")), S3ErrorCode::MalformedXML);
        assert_eq!(code(&config("")), S3ErrorCode::MalformedXML);
        assert_eq!(code(&config("<Rule/>")), S3ErrorCode::MalformedXML);
        let two = config(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>",
        );
        assert_eq!(code(&two), S3ErrorCode::MalformedXML);
        assert_eq!(code(b""), S3ErrorCode::MissingRequestBodyError);
    }
}
