//! Object lock as S3 spells it: the `<ObjectLockConfiguration>`, `<Retention>`
//! and `<LegalHold>` documents, the `x-amz-object-lock-*` request headers of
//! writes and the response headers of reads. Pure: times are parsed, never read.

use crate::auth::parse_time;
use crate::http::head::RequestHead;
use crate::meta::version::{
    DefaultRetention, Lock, ObjectLock, Retention, RetentionMode, RetentionPeriod,
};
use crate::s3::error::S3Error;
use crate::s3::xml::format_timestamp_ms;
use crate::s3::xml::request::{parse_document, require_body, Element, Seen};
use crate::s3::xml::XmlWriter;

fn mode_name(mode: RetentionMode) -> &'static str {
    match mode {
        RetentionMode::Governance => "GOVERNANCE",
        RetentionMode::Compliance => "COMPLIANCE",
    }
}

fn parse_mode(text: &str) -> Option<RetentionMode> {
    match text.trim() {
        "GOVERNANCE" => Some(RetentionMode::Governance),
        "COMPLIANCE" => Some(RetentionMode::Compliance),
        _ => None,
    }
}

/// An RFC 3339 / ISO 8601 date-time (`2030-01-01T00:00:00Z`, fractions
/// allowed) as unix ms, whole seconds.
fn parse_date(text: &str) -> Option<u64> {
    let text = text.trim();
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let secs = parse_time(text, 0).ok()?;
    u64::try_from(secs).ok()?.checked_mul(1000)
}

/// `<ObjectLockConfiguration>`: `ObjectLockEnabled` must be `Enabled`; a rule
/// holds one default retention with a mode and either Days or Years (> 0).
pub fn parse_object_lock_configuration(body: &[u8]) -> Result<ObjectLock, S3Error> {
    require_body(body)?;
    let root = parse_document(body, "ObjectLockConfiguration")?;
    let mut seen = Seen::default();
    let mut config = ObjectLock::default();
    for child in &root.children {
        match child.name.as_str() {
            "ObjectLockEnabled" => {
                seen.once("ObjectLockEnabled")?;
                if child.leaf_text()?.trim() != "Enabled" {
                    return Err(S3Error::malformed_xml());
                }
            }
            "Rule" => {
                seen.once("Rule")?;
                let [retention] = child.children.as_slice() else {
                    return Err(S3Error::malformed_xml());
                };
                if retention.name != "DefaultRetention" {
                    return Err(S3Error::malformed_xml());
                }
                config.default_retention = Some(parse_default_retention(retention)?);
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    if !seen.has("ObjectLockEnabled") {
        return Err(S3Error::malformed_xml());
    }
    Ok(config)
}

fn parse_default_retention(element: &Element) -> Result<DefaultRetention, S3Error> {
    let mut seen = Seen::default();
    let (mut mode, mut period) = (None, None);
    let count = |text: &str, name: &'static str| {
        text.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0 && (name == "Years" && *n <= 100 || name == "Days" && *n <= 36_500))
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "Default retention period must be a positive integer value",
                    name,
                    text,
                )
            })
    };
    for child in &element.children {
        let text = child.leaf_text()?;
        match child.name.as_str() {
            "Mode" => {
                seen.once("Mode")?;
                mode = Some(parse_mode(text).ok_or_else(S3Error::malformed_xml)?);
            }
            "Days" => {
                seen.once("Days")?;
                period = Some(RetentionPeriod::Days(count(text, "Days")?));
            }
            "Years" => {
                seen.once("Years")?;
                period = Some(RetentionPeriod::Years(count(text, "Years")?));
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    if seen.has("Days") && seen.has("Years") {
        return Err(S3Error::malformed_xml());
    }
    match (mode, period) {
        (Some(mode), Some(period)) => Ok(DefaultRetention { mode, period }),
        _ => Err(S3Error::malformed_xml()),
    }
}

pub fn object_lock_configuration_xml(config: &ObjectLock) -> Vec<u8> {
    let mut xml = XmlWriter::new();
    xml.start_root("ObjectLockConfiguration");
    xml.element("ObjectLockEnabled", "Enabled");
    if let Some(default) = config.default_retention {
        xml.start("Rule");
        xml.start("DefaultRetention");
        xml.element("Mode", mode_name(default.mode));
        match default.period {
            RetentionPeriod::Days(days) => xml.element_display("Days", days),
            RetentionPeriod::Years(years) => xml.element_display("Years", years),
        }
        xml.end("DefaultRetention");
        xml.end("Rule");
    }
    xml.end("ObjectLockConfiguration");
    xml.finish()
}

/// `<Retention>`: a mode and a retain-until date, both or neither (neither
/// removes the retention). A date not after `now_ms` is refused.
pub fn parse_retention(body: &[u8], now_ms: u64) -> Result<Option<Retention>, S3Error> {
    require_body(body)?;
    let root = parse_document(body, "Retention")?;
    let mut seen = Seen::default();
    let (mut mode, mut until) = (None, None);
    for child in &root.children {
        let text = child.leaf_text()?;
        match child.name.as_str() {
            "Mode" => {
                seen.once("Mode")?;
                mode = Some(parse_mode(text).ok_or_else(S3Error::malformed_xml)?);
            }
            "RetainUntilDate" => {
                seen.once("RetainUntilDate")?;
                until = Some(parse_date(text).ok_or_else(S3Error::malformed_xml)?);
            }
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    match (mode, until) {
        (None, None) => Ok(None),
        (Some(mode), Some(until_ms)) => {
            future(until_ms, now_ms)?;
            Ok(Some(Retention { mode, until_ms }))
        }
        _ => Err(S3Error::malformed_xml()),
    }
}

fn future(until_ms: u64, now_ms: u64) -> Result<(), S3Error> {
    if until_ms <= now_ms {
        return Err(S3Error::invalid_argument(
            "The retain until date must be in the future!",
            "RetainUntilDate",
            &format_timestamp_ms(until_ms as i64),
        ));
    }
    Ok(())
}

pub fn retention_xml(retention: &Retention) -> Vec<u8> {
    let mut xml = XmlWriter::new();
    xml.start_root("Retention");
    xml.element("Mode", mode_name(retention.mode));
    xml.element(
        "RetainUntilDate",
        &format_timestamp_ms(retention.until_ms as i64),
    );
    xml.end("Retention");
    xml.finish()
}

/// `<LegalHold><Status>ON|OFF</Status></LegalHold>`.
pub fn parse_legal_hold(body: &[u8]) -> Result<bool, S3Error> {
    require_body(body)?;
    let root = parse_document(body, "LegalHold")?;
    match root.children.as_slice() {
        [status] if status.name == "Status" => match status.leaf_text()?.trim() {
            "ON" => Ok(true),
            "OFF" => Ok(false),
            _ => Err(S3Error::malformed_xml()),
        },
        _ => Err(S3Error::malformed_xml()),
    }
}

pub fn legal_hold_xml(on: bool) -> Vec<u8> {
    let mut xml = XmlWriter::new();
    xml.start_root("LegalHold");
    xml.element("Status", if on { "ON" } else { "OFF" });
    xml.end("LegalHold");
    xml.finish()
}

/// The request headers that ask for a lock, as a multipart upload keeps
/// them from its creation to its completion.
pub const LOCK_HEADERS: [&str; 3] = [
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
];

/// The lock a write asks for in `x-amz-object-lock-mode`,
/// `-retain-until-date` (both or neither, the date after `now_ms`) and
/// `-legal-hold` (`ON`/`OFF`).
pub fn lock_from_headers(head: &RequestHead, now_ms: u64) -> Result<Lock, S3Error> {
    lock_from(|name| head.header_str(name), now_ms)
}

/// [`lock_from_headers`] over any source of the [`LOCK_HEADERS`].
pub fn lock_from<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    now_ms: u64,
) -> Result<Lock, S3Error> {
    let mode = header("x-amz-object-lock-mode");
    let until = header("x-amz-object-lock-retain-until-date");
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(mode), Some(until)) => {
            let mode = parse_mode(mode).ok_or_else(|| {
                S3Error::invalid_argument(
                    "Unknown wormMode directive.",
                    "x-amz-object-lock-mode",
                    mode,
                )
            })?;
            let until_ms = parse_date(until).ok_or_else(|| {
                S3Error::invalid_argument(
                    "The retain until date must be provided in ISO 8601 format",
                    "x-amz-object-lock-retain-until-date",
                    until,
                )
            })?;
            future(until_ms, now_ms)?;
            Some(Retention { mode, until_ms })
        }
        _ => return Err(S3Error::invalid_argument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            "x-amz-object-lock-mode",
            mode.unwrap_or(""),
        )),
    };
    let legal_hold = match header("x-amz-object-lock-legal-hold").map(str::trim) {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(other) => {
            return Err(S3Error::invalid_argument(
                "Legal Hold must be either of 'ON' or 'OFF'",
                "x-amz-object-lock-legal-hold",
                other,
            ))
        }
    };
    Ok(Lock {
        retention,
        legal_hold,
    })
}

/// The `x-amz-object-lock-*` headers GET and HEAD answer with.
pub fn lock_headers(lock: &Lock) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(retention) = lock.retention {
        out.push((
            "x-amz-object-lock-mode".into(),
            mode_name(retention.mode).into(),
        ));
        out.push((
            "x-amz-object-lock-retain-until-date".into(),
            format_timestamp_ms(retention.until_ms as i64),
        ));
    }
    if lock.legal_hold {
        out.push(("x-amz-object-lock-legal-hold".into(), "ON".into()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

    fn code(e: S3Error) -> String {
        e.code().as_str().to_string()
    }

    #[test]
    fn configurations_parse_and_render_back() {
        let doc = format!(
            "<ObjectLockConfiguration {NS}><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
             <Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years></DefaultRetention></Rule>\
             </ObjectLockConfiguration>"
        );
        let config = parse_object_lock_configuration(doc.as_bytes()).unwrap();
        assert_eq!(
            config.default_retention,
            Some(DefaultRetention {
                mode: RetentionMode::Compliance,
                period: RetentionPeriod::Years(2),
            })
        );
        let again = object_lock_configuration_xml(&config);
        assert_eq!(parse_object_lock_configuration(&again).unwrap(), config);
        let bare = format!(
            "<ObjectLockConfiguration {NS}><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"
        );
        assert_eq!(
            parse_object_lock_configuration(bare.as_bytes()).unwrap(),
            ObjectLock::default()
        );
    }

    #[test]
    fn bad_configurations_are_refused() {
        let rule = |inner: &str| {
            format!(
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
                 <Rule><DefaultRetention>{inner}</DefaultRetention></Rule></ObjectLockConfiguration>"
            )
        };
        let cases = [
            (rule("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>"), "MalformedXML"),
            (rule("<Mode>GOVERNANCE</Mode>"), "MalformedXML"),
            (rule("<Days>1</Days>"), "MalformedXML"),
            (rule("<Mode>SOMETIMES</Mode><Days>1</Days>"), "MalformedXML"),
            (rule("<Mode>GOVERNANCE</Mode><Days>0</Days>"), "InvalidArgument"),
            (rule("<Mode>GOVERNANCE</Mode><Days>-1</Days>"), "InvalidArgument"),
            (
                "<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>".into(),
                "MalformedXML",
            ),
            ("<ObjectLockConfiguration/>".into(), "MalformedXML"),
        ];
        for (body, want) in cases {
            let got = parse_object_lock_configuration(body.as_bytes()).map_err(code);
            assert_eq!(got, Err(want.to_string()), "{body}");
        }
    }

    #[test]
    fn retentions_and_legal_holds() {
        let now = 1_700_000_000_000;
        let body = "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-02T03:04:05.000Z</RetainUntilDate></Retention>";
        let retention = parse_retention(body.as_bytes(), now).unwrap().unwrap();
        assert_eq!(retention.mode, RetentionMode::Governance);
        assert_eq!(retention.until_ms, 1_893_553_445_000);
        assert_eq!(
            parse_retention(&retention_xml(&retention), now).unwrap(),
            Some(retention)
        );
        assert_eq!(
            parse_retention(b"<Retention></Retention>", now).unwrap(),
            None
        );
        let past = "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2001-01-01T00:00:00Z</RetainUntilDate></Retention>";
        assert_eq!(
            parse_retention(past.as_bytes(), now).map_err(code),
            Err("InvalidArgument".into())
        );
        let half = "<Retention><Mode>GOVERNANCE</Mode></Retention>";
        assert_eq!(
            parse_retention(half.as_bytes(), now).map_err(code),
            Err("MalformedXML".into())
        );
        assert!(parse_legal_hold(b"<LegalHold><Status>ON</Status></LegalHold>").unwrap());
        assert!(!parse_legal_hold(&legal_hold_xml(false)).unwrap());
        assert!(parse_legal_hold(b"<LegalHold><Status>on</Status></LegalHold>").is_err());
    }

    #[test]
    fn read_headers_show_the_lock() {
        let lock = Lock {
            retention: Some(Retention {
                mode: RetentionMode::Compliance,
                until_ms: 1_893_553_445_000,
            }),
            legal_hold: true,
        };
        let headers = lock_headers(&lock);
        assert_eq!(headers[0].1, "COMPLIANCE");
        assert_eq!(headers[1].1, "2030-01-02T03:04:05.000Z");
        assert_eq!(headers[2].1, "ON");
        assert!(lock_headers(&Lock::default()).is_empty());
    }
}
