//! The `<VersioningConfiguration>` document of Put/GetBucketVersioning, and
//! `versionId` as responses show it. Pure.
//!
//! PUT sets `Enabled` or `Suspended`; a bucket never returns to unversioned
//! (S3 has no such status, so a body cannot ask for it). MFA delete needs a
//! hardware token S3 checks on every versioned delete; ringgate has none, so
//! `MfaDelete=Enabled` is refused with `InvalidArgument` (`Disabled` is accepted).

use crate::meta::version::{Version, Versioning};
use crate::s3::error::S3Error;
use crate::s3::xml::request::{parse_document, require_body, Seen};
use crate::s3::xml::XmlWriter;

/// Parses a PutBucketVersioning body into the state it asks for.
pub fn parse_versioning_configuration(body: &[u8]) -> Result<Versioning, S3Error> {
    require_body(body)?;
    let root = parse_document(body, "VersioningConfiguration")?;
    let mut seen = Seen::default();
    let mut status = None;
    for child in &root.children {
        match child.name.as_str() {
            "Status" => {
                seen.once("Status")?;
                status = Some(match child.leaf_text()?.trim() {
                    "Enabled" => Versioning::Enabled,
                    "Suspended" => Versioning::Suspended,
                    _ => return Err(S3Error::malformed_xml()),
                });
            }
            "MfaDelete" => {
                seen.once("MfaDelete")?;
                match child.leaf_text()?.trim() {
                    "Disabled" => {}
                    "Enabled" => {
                        return Err(S3Error::invalid_argument(
                            "MFA delete is not supported: ringgate has no MFA devices",
                            "MfaDelete",
                            "Enabled",
                        ))
                    }
                    _ => return Err(S3Error::malformed_xml()),
                }
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    status.ok_or_else(S3Error::malformed_xml)
}

/// GetBucketVersioning's answer: no `<Status>` for a bucket never versioned.
pub fn versioning_configuration_xml(state: Versioning) -> Vec<u8> {
    let mut xml = XmlWriter::new();
    match state {
        Versioning::Unversioned => xml.empty_root("VersioningConfiguration"),
        Versioning::Enabled | Versioning::Suspended => {
            xml.start_root("VersioningConfiguration");
            let status = if state == Versioning::Enabled {
                "Enabled"
            } else {
                "Suspended"
            };
            xml.element("Status", status);
            xml.end("VersioningConfiguration");
        }
    }
    xml.finish()
}

/// The `x-amz-version-id` of a write or delete: none on a bucket that was
/// never versioned, where every object is the `null` version unasked.
pub fn version_header(versioning: Versioning, version: Option<Version>) -> Option<String> {
    match (versioning, version) {
        (Versioning::Unversioned, _) | (_, None) => None,
        (_, Some(version)) => Some(version.display()),
    }
}

/// The `x-amz-version-id` of a read (GET, HEAD, a copy's source): a version's
/// id in a bucket that has been versioned, and whatever the request named;
/// nothing for the `null` version of a never-versioned bucket read unnamed.
pub fn read_version_header(
    versioning: Versioning,
    version: &Version,
    named: bool,
) -> Option<String> {
    (versioning != Versioning::Unversioned || named).then(|| version.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Versioning, String> {
        parse_versioning_configuration(body.as_bytes()).map_err(|e| e.code().as_str().to_string())
    }

    #[test]
    fn statuses_parse_and_the_rest_is_refused() {
        let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
        let doc = |inner: &str| {
            format!("<VersioningConfiguration {ns}>{inner}</VersioningConfiguration>")
        };
        assert_eq!(
            parse(&doc("<Status>Enabled</Status>")),
            Ok(Versioning::Enabled)
        );
        assert_eq!(
            parse(&doc(
                "<Status>Suspended</Status><MfaDelete>Disabled</MfaDelete>"
            )),
            Ok(Versioning::Suspended)
        );
        assert_eq!(
            parse(&doc("<Status>Off</Status>")),
            Err("MalformedXML".into())
        );
        assert_eq!(parse(&doc("")), Err("MalformedXML".into()));
        assert_eq!(
            parse(&doc("<Status>Enabled</Status><Status>Enabled</Status>")),
            Err("MalformedXML".into())
        );
        assert_eq!(
            parse(&doc(
                "<Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"
            )),
            Err("InvalidArgument".into())
        );
        assert_eq!(parse("<Other/>"), Err("MalformedXML".into()));
    }

    #[test]
    fn documents_and_headers() {
        let text = |v| String::from_utf8(versioning_configuration_xml(v)).unwrap();
        assert!(!text(Versioning::Unversioned).contains("Status"));
        assert!(text(Versioning::Enabled).contains("<Status>Enabled</Status>"));
        assert!(text(Versioning::Suspended).contains("<Status>Suspended</Status>"));
        let null = Version {
            is_null: true,
            ..Version::default()
        };

        assert_eq!(version_header(Versioning::Unversioned, Some(null)), None);
        assert_eq!(
            version_header(Versioning::Suspended, Some(null)).as_deref(),
            Some("null")
        );
        assert_eq!(version_header(Versioning::Enabled, None), None);
    }
}
