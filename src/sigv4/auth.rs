//! Who signed a request and how: the Authorization header and presigned-query
//! parsers, the credential scope, and the checks that need only the parsed
//! authorization and the clock (time window, region, unsigned `x-amz-*`
//! headers). Every malformed input is an `Err`, never a panic.

use std::fmt;

use super::constants::{
    ALGORITHM, CLOCK_SKEW_SECS_MAX, PRESIGNED_EXPIRES_SECS_MAX, SCOPE_TERMINATOR, SERVICE,
};
use super::date::AmzDateTime;
use super::error::{Malformed, SigV4Error};
use super::payload::PayloadHash;
use super::request::RequestParts;
use super::text::{excerpt, signature_from_hex, trim_ows};
use crate::target::query_pairs;

/// The credential scope `yyyymmdd/region/s3/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// `yyyymmdd`, a valid calendar date.
    pub date: String,
    pub region: String,
    /// Always `s3` once parsed.
    pub service: String,
}

impl Scope {
    /// The S3 scope of a request made at `datetime` in `region`.
    pub fn new(datetime: AmzDateTime, region: &str) -> Self {
        Self {
            date: datetime.date(),
            region: region.to_owned(),
            service: SERVICE.to_owned(),
        }
    }
}

impl Scope {
    /// Appends `yyyymmdd/region/service/aws4_request` (the `Display` form).
    pub fn write_to(&self, out: &mut String) {
        for part in [&self.date, &self.region, &self.service] {
            out.push_str(part);
            out.push('/');
        }
        out.push_str(SCOPE_TERMINATOR);
    }
}

/// `yyyymmdd/region/service/aws4_request`, as in the string to sign.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(64);
        self.write_to(&mut text);
        f.write_str(&text)
    }
}

/// The signed header names: lowercase, in the client's order, distinct,
/// `host` among them. Kept as the one `;`-joined string the canonical request
/// ends with: one allocation per request rather than one per name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders(String);

impl SignedHeaders {
    /// From names already valid (a client's own, a test's): lowercased and
    /// joined as given.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut joined = String::new();
        for (i, name) in names.into_iter().enumerate() {
            if i > 0 {
                joined.push(';');
            }
            joined.push_str(&name.as_ref().to_ascii_lowercase());
        }
        Self(joined)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        // A byte loop: names are short, and `str::split` pays a `memchr`
        // call per name.
        let mut rest = Some(self.0.as_str());
        std::iter::from_fn(move || {
            let text = rest?;
            match text.bytes().position(|b| b == b';') {
                Some(end) => {
                    rest = Some(&text[end + 1..]);
                    Some(&text[..end])
                }
                None => {
                    rest = None;
                    Some(text)
                }
            }
        })
    }

    /// `host;range;x-amz-date`, as in the canonical request.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn contains(&self, lowercase_name: &str) -> bool {
        self.iter().any(|name| name == lowercase_name)
    }
}

/// An Authorization header's content. It has no time: that comes from the
/// `x-amz-date` header ([`HeaderAuth::with_datetime`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderAuth {
    pub access_key_id: String,
    pub scope: Scope,
    pub signed_headers: SignedHeaders,
    pub signature: [u8; 32],
}

impl HeaderAuth {
    /// The authorization at the request's time; the scope's date must be that
    /// time's date.
    pub fn with_datetime(self, datetime: AmzDateTime) -> Result<Authorization, SigV4Error> {
        check_scope_date(&self.scope, datetime).map_err(SigV4Error::MalformedAuthorization)?;
        Ok(Authorization {
            access_key_id: self.access_key_id,
            scope: self.scope,
            datetime,
            signed_headers: self.signed_headers,
            signature: self.signature,
            presigned_expires_secs: None,
            security_token: None,
        })
    }
}

/// A request's SigV4 authorization, from the header or a presigned URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub scope: Scope,
    pub datetime: AmzDateTime,
    pub signed_headers: SignedHeaders,
    pub signature: [u8; 32],
    /// `Some` for a presigned URL: its `X-Amz-Expires`, 1..=604800.
    pub presigned_expires_secs: Option<u32>,
    /// `x-amz-security-token` (header) or `X-Amz-Security-Token` (query), for
    /// the caller's credential lookup of temporary keys.
    pub security_token: Option<String>,
}

impl Authorization {
    pub fn is_presigned(&self) -> bool {
        self.presigned_expires_secs.is_some()
    }

    /// Header authorization: within [`CLOCK_SKEW_SECS_MAX`] of `now_unix`
    /// either way. Presigned: from `X-Amz-Date` (less the same skew, for a
    /// client clock ahead of ours) to `X-Amz-Date + X-Amz-Expires`, inclusive.
    pub fn check_time(&self, now_unix: i64) -> Result<(), SigV4Error> {
        let signed_at = self.datetime.unix_secs();
        match self.presigned_expires_secs {
            None if now_unix.abs_diff(signed_at) > CLOCK_SKEW_SECS_MAX.unsigned_abs() => {
                Err(SigV4Error::RequestTimeTooSkewed {
                    request_time: self.datetime,
                    server_time_unix: now_unix,
                })
            }
            None => Ok(()),
            Some(_) if now_unix < signed_at - CLOCK_SKEW_SECS_MAX => {
                Err(SigV4Error::RequestNotYetValid {
                    valid_from_unix: signed_at - CLOCK_SKEW_SECS_MAX,
                })
            }
            Some(expires) if now_unix > signed_at + i64::from(expires) => {
                Err(SigV4Error::RequestExpired {
                    expires_at_unix: signed_at + i64::from(expires),
                })
            }
            Some(_) => Ok(()),
        }
    }

    /// The scope's region must be the server's.
    pub fn check_region(&self, expected: &str) -> Result<(), SigV4Error> {
        if self.scope.region == expected {
            return Ok(());
        }
        Err(SigV4Error::WrongRegion {
            region: self.scope.region.clone(),
            expected: expected.to_owned(),
            presigned: self.is_presigned(),
        })
    }

    /// S3 refuses `x-amz-*` headers the signature does not cover, so a
    /// presigned URL cannot gain, say, `x-amz-copy-source`. `x-amz-date` and
    /// `x-amz-content-sha256` are exempt: the string to sign and the payload
    /// line bind them whether listed or not (S3's own examples leave the
    /// latter unsigned).
    pub fn check_headers_signed(&self, headers: &[(&str, &[u8])]) -> Result<(), SigV4Error> {
        // Compared without lowercasing copies: this runs on every request.
        let is = |name: &[u8], lower: &str| name.eq_ignore_ascii_case(lower.as_bytes());
        for (name, _) in headers {
            let name = name.as_bytes();
            if name.len() >= 6
                && is(&name[..6], "x-amz-")
                && !is(name, "x-amz-date")
                && !is(name, "x-amz-content-sha256")
                && !self.signed_headers.iter().any(|signed| is(name, signed))
            {
                return Err(SigV4Error::HeaderNotSigned {
                    name: excerpt(&name.to_ascii_lowercase()),
                });
            }
        }
        Ok(())
    }

    /// The payload promise that ends the canonical request. Header
    /// authorization requires `x-amz-content-sha256`; a presigned URL takes
    /// `X-Amz-Content-Sha256` from its query, else the header, else
    /// `UNSIGNED-PAYLOAD`.
    pub fn payload_hash(&self, parts: &RequestParts) -> Result<PayloadHash, SigV4Error> {
        let header = parts.header_values("x-amz-content-sha256").next();
        if !self.is_presigned() {
            return PayloadHash::parse(header.ok_or(SigV4Error::MissingContentSha256)?);
        }
        let query = query_pairs(parts.raw_query);
        match query
            .iter()
            .find(|(name, _)| name == "X-Amz-Content-Sha256")
        {
            Some((_, value)) => PayloadHash::parse(value.as_bytes()),
            None => header.map_or(Ok(PayloadHash::Unsigned), PayloadHash::parse),
        }
    }
}

/// The request's authorization: `Ok(None)` for an anonymous request.
/// Refuses a request that carries both a header and a presigned query. For
/// header authorization the time is the `x-amz-date` header (the caller may
/// fall back to `Date` itself by calling [`parse_authorization`] and
/// [`HeaderAuth::with_datetime`]).
pub fn request_authorization(parts: &RequestParts) -> Result<Option<Authorization>, SigV4Error> {
    let mut headers = parts.header_values("authorization");
    let header = headers.next();
    if headers.next().is_some() {
        return Err(SigV4Error::MalformedAuthorization(Malformed::Duplicate(
            "Authorization",
        )));
    }
    let Some(header) = header else {
        return parse_presigned(&query_pairs(parts.raw_query));
    };
    // Decoding can only make `X-Amz-…` out of a `%` escape (a `+` becomes a
    // space), so a query with neither is not decoded just to look.
    let may_name_one = parts.raw_query.contains('%') || parts.raw_query.contains("X-Amz-");
    if may_name_one
        && query_pairs(parts.raw_query)
            .iter()
            .any(|(name, _)| name == "X-Amz-Algorithm" || name == "X-Amz-Signature")
    {
        return Err(SigV4Error::MultipleAuthMechanisms);
    }
    let header_auth = parse_authorization(header)?;
    let mut dates = parts.header_values("x-amz-date");
    let date = dates.next().ok_or(SigV4Error::MissingAmzDate)?;
    if dates.next().is_some() {
        return Err(SigV4Error::InvalidAmzDate {
            value: excerpt(date),
        });
    }
    let datetime = AmzDateTime::parse(trim_ows(date))?;
    let mut auth = header_auth.with_datetime(datetime)?;
    auth.security_token = parts
        .header_values("x-amz-security-token")
        .next()
        .map(|t| String::from_utf8_lossy(trim_ows(t)).into_owned());
    Ok(Some(auth))
}

/// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
/// Tolerates what real clients send: components in any order, separated by
/// a comma and/or spaces or tabs, surrounding whitespace. Anything else, a
/// missing, repeated or unknown component included, is malformed.
pub fn parse_authorization(value: &[u8]) -> Result<HeaderAuth, SigV4Error> {
    let malformed = SigV4Error::MalformedAuthorization;
    let value = trim_ows(value);
    let algorithm_end = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    let algorithm = &value[..algorithm_end];
    if algorithm != ALGORITHM.as_bytes() {
        return Err(unknown_algorithm(algorithm, false)
            .unwrap_or_else(|| malformed(Malformed::Unexpected(excerpt(value)))));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    let mut rest = trim_ows(&value[algorithm_end..]);
    while !rest.is_empty() {
        let eq = rest
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| malformed(Malformed::Unexpected(excerpt(rest))))?;
        let (name, after) = (&rest[..eq], &rest[eq + 1..]);
        let end = after
            .iter()
            .position(|&b| b == b',' || b == b' ' || b == b'\t')
            .unwrap_or(after.len());
        let component = &after[..end];
        let (slot, label) = match name {
            b"Credential" => (&mut credential, "Credential"),
            b"SignedHeaders" => (&mut signed_headers, "SignedHeaders"),
            b"Signature" => (&mut signature, "Signature"),
            _ => return Err(malformed(Malformed::Unexpected(excerpt(name)))),
        };
        if slot.replace(component).is_some() {
            return Err(malformed(Malformed::Duplicate(label)));
        }
        rest = trim_ows(&after[end..]);
        if let [b',', tail @ ..] = rest {
            rest = trim_ows(tail);
            if rest.is_empty() || rest[0] == b',' {
                return Err(malformed(Malformed::Unexpected(",".into())));
            }
        }
    }
    let credential = credential.ok_or(malformed(Malformed::Missing("Credential")))?;
    let signed_headers = signed_headers.ok_or(malformed(Malformed::Missing("SignedHeaders")))?;
    let signature = signature.ok_or(malformed(Malformed::Missing("Signature")))?;
    let (access_key_id, scope) = parse_credential(credential).map_err(malformed)?;
    Ok(HeaderAuth {
        access_key_id,
        scope,
        signed_headers: parse_signed_headers(signed_headers).map_err(malformed)?,
        signature: parse_signature(signature).map_err(malformed)?,
    })
}

/// Parses a presigned URL's `X-Amz-*` parameters from decoded query pairs
/// ([`query_pairs`]). `Ok(None)` when there is neither `X-Amz-Algorithm` nor
/// `X-Amz-Signature`; with either, all of Algorithm, Credential, Date,
/// Expires, SignedHeaders and Signature must be there, once each. A SigV2
/// presigned query (`AWSAccessKeyId` and `Signature`) is refused as an
/// unsupported algorithm rather than served as anonymous.
pub fn parse_presigned(query: &[(String, String)]) -> Result<Option<Authorization>, SigV4Error> {
    let malformed = SigV4Error::MalformedPresignedQuery;
    let find = |name: &'static str| -> Result<Option<&str>, SigV4Error> {
        let mut values = query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        match values.next() {
            Some(_) => Err(malformed(Malformed::Duplicate(name))),
            None => Ok(first),
        }
    };
    let require = |name: &'static str| find(name)?.ok_or(malformed(Malformed::Missing(name)));
    let algorithm = find("X-Amz-Algorithm")?;
    if algorithm.is_none() && find("X-Amz-Signature")?.is_none() {
        let has = |name: &str| query.iter().any(|(n, _)| n == name);
        if has("AWSAccessKeyId") && has("Signature") {
            return Err(SigV4Error::UnsupportedAlgorithm {
                algorithm: "AWS".into(),
                presigned: true,
            });
        }
        return Ok(None);
    }
    let algorithm = require("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(unknown_algorithm(algorithm.as_bytes(), true)
            .unwrap_or_else(|| malformed(Malformed::Unexpected(excerpt(algorithm.as_bytes())))));
    }
    let (access_key_id, scope) =
        parse_credential(require("X-Amz-Credential")?.as_bytes()).map_err(malformed)?;
    let date = require("X-Amz-Date")?;
    let datetime = AmzDateTime::parse(date.as_bytes())
        .map_err(|_| malformed(Malformed::Date(excerpt(date.as_bytes()))))?;
    check_scope_date(&scope, datetime).map_err(malformed)?;
    let expires = require("X-Amz-Expires")?;
    let expires_secs = parse_expires(expires)
        .ok_or_else(|| malformed(Malformed::Expires(excerpt(expires.as_bytes()))))?;
    let signed_headers =
        parse_signed_headers(require("X-Amz-SignedHeaders")?.as_bytes()).map_err(malformed)?;
    let signature = parse_signature(require("X-Amz-Signature")?.as_bytes()).map_err(malformed)?;
    Ok(Some(Authorization {
        access_key_id,
        scope,
        datetime,
        signed_headers,
        signature,
        presigned_expires_secs: Some(expires_secs),
        security_token: find("X-Amz-Security-Token")?.map(str::to_owned),
    }))
}

/// `Some(UnsupportedAlgorithm)` when `token` looks like an algorithm name
/// (`AWS`, `AWS4-ECDSA-P256-SHA256`, …), `None` when it is just garbage.
fn unknown_algorithm(token: &[u8], presigned: bool) -> Option<SigV4Error> {
    let plausible = !token.is_empty()
        && !token.starts_with(ALGORITHM.as_bytes())
        && token
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-');
    plausible.then(|| SigV4Error::UnsupportedAlgorithm {
        algorithm: excerpt(token),
        presigned,
    })
}

/// `AKID/yyyymmdd/region/s3/aws4_request`.
fn parse_credential(value: &[u8]) -> Result<(String, Scope), Malformed> {
    let bad = || Malformed::Credential(excerpt(value));
    let mut parts = value.split(|&b| b == b'/');
    let (Some(key), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    let printable = |s: &[u8]| !s.is_empty() && s.iter().all(|&b| b.is_ascii_graphic());
    if !printable(key) || !printable(region) {
        return Err(bad());
    }
    let date_ok = date.len() == 8 && {
        let mut probe = [0u8; 16];
        probe[..8].copy_from_slice(date);
        probe[8..].copy_from_slice(b"T000000Z");
        AmzDateTime::parse(&probe).is_ok()
    };
    if !date_ok {
        return Err(Malformed::ScopeDate(excerpt(date)));
    }
    if service != SERVICE.as_bytes() {
        return Err(Malformed::Service(excerpt(service)));
    }
    if terminator != SCOPE_TERMINATOR.as_bytes() {
        return Err(Malformed::Terminator(excerpt(terminator)));
    }
    // All checked ASCII above, so never the lossy branch.
    let text = |s: &[u8]| {
        std::str::from_utf8(s)
            .map_or_else(|_| String::from_utf8_lossy(s).into_owned(), str::to_owned)
    };
    Ok((
        text(key),
        Scope {
            date: text(date),
            region: text(region),
            service: text(service),
        },
    ))
}

fn check_scope_date(scope: &Scope, datetime: AmzDateTime) -> Result<(), Malformed> {
    if scope.date.as_bytes() == &datetime.text()[..8] {
        return Ok(());
    }
    Err(Malformed::ScopeDateMismatch {
        scope_date: scope.date.clone(),
        request_date: datetime.date(),
    })
}

/// `host;range;x-amz-date`: header-name tokens, lowercased, distinct, with `host`.
fn parse_signed_headers(value: &[u8]) -> Result<SignedHeaders, Malformed> {
    let bad = || Malformed::SignedHeaders(excerpt(value));
    let names: Vec<&[u8]> = value.split(|&b| b == b';').collect();
    for (i, name) in names.iter().enumerate() {
        let valid = !name.is_empty() && name.iter().all(|&b| is_tchar(b));
        if !valid
            || names[..i]
                .iter()
                .any(|earlier| earlier.eq_ignore_ascii_case(name))
        {
            return Err(bad());
        }
    }
    if !names.iter().any(|name| name.eq_ignore_ascii_case(b"host")) {
        return Err(Malformed::HostNotSigned);
    }
    // tchars are ASCII, so the lowercased bytes are UTF-8.
    String::from_utf8(value.to_ascii_lowercase())
        .map(SignedHeaders)
        .map_err(|_| bad())
}

/// RFC 9110 `tchar`: the bytes of a header name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'-' | b'!' | b'#'..=b'\'' | b'*' | b'+' | b'.' | b'^'..=b'`' | b'|' | b'~')
}

fn parse_signature(value: &[u8]) -> Result<[u8; 32], Malformed> {
    signature_from_hex(value).ok_or_else(|| Malformed::Signature(excerpt(value)))
}

/// Decimal seconds, digits only, 1..=604800.
fn parse_expires(value: &str) -> Option<u32> {
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = value.parse().ok()?;
    (1..=u64::from(PRESIGNED_EXPIRES_SECS_MAX))
        .contains(&secs)
        .then_some(secs as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tchar_is_rfc_9110s() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), expected, "{b:#04x}");
        }
    }

    const SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    const CRED: &str = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";

    /// The access key, region and signed headers a header parses to.
    type Expected = Result<(&'static str, &'static str, &'static [&'static str]), SigV4Error>;
    type Query = Vec<(&'static str, &'static str)>;

    fn check_header(value: &str, expected: Expected) {
        let got = parse_authorization(value.as_bytes());
        let expected = expected.map(|(key, region, headers)| HeaderAuth {
            access_key_id: key.into(),
            scope: Scope {
                date: "20130524".into(),
                region: region.into(),
                service: "s3".into(),
            },
            signed_headers: SignedHeaders::from_names(headers.iter()),
            signature: signature_from_hex(SIG.as_bytes()).unwrap(),
        });
        assert_eq!(got, expected, "{value:?}");
    }

    fn malformed(m: Malformed) -> Expected {
        Err(SigV4Error::MalformedAuthorization(m))
    }

    #[test]
    fn header_variants_real_clients_send() {
        let ok = Ok((
            "AKIAIOSFODNN7EXAMPLE",
            "us-east-1",
            &["host", "range", "x-amz-date"][..],
        ));
        for value in [
            format!("AWS4-HMAC-SHA256 Credential={CRED},SignedHeaders=host;range;x-amz-date,Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;range;x-amz-date, Signature={SIG}"),
            format!("  AWS4-HMAC-SHA256   Credential={CRED} ,\tSignedHeaders=host;range;x-amz-date ,Signature={SIG}  "),
            format!("AWS4-HMAC-SHA256 Credential={CRED} SignedHeaders=host;range;x-amz-date Signature={SIG}"),
            format!("AWS4-HMAC-SHA256\tSignature={SIG}, Credential={CRED}, SignedHeaders=host;range;x-amz-date"),
            format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=Host;Range;X-Amz-Date, Signature={SIG}"),
            format!(
                "AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;range;x-amz-date, Signature={}",
                SIG.to_ascii_uppercase()
            ),
        ] {
            check_header(&value, ok.clone());
        }
        check_header(
            &format!("AWS4-HMAC-SHA256 Credential=K/20130524/garage/s3/aws4_request,SignedHeaders=host,Signature={SIG}"),
            Ok(("K", "garage", &["host"])),
        );
    }

    #[test]
    fn header_malformed() {
        let sh = "SignedHeaders=host;x-amz-date";
        let cases: Vec<(String, Expected)> = vec![
            (String::new(), malformed(Malformed::Unexpected(String::new()))),
            ("AWS4-HMAC-SHA256".into(), malformed(Malformed::Missing("Credential"))),
            (format!("AWS4-HMAC-SHA256 {sh}, Signature={SIG}"), malformed(Malformed::Missing("Credential"))),
            (format!("AWS4-HMAC-SHA256 Credential={CRED}, Signature={SIG}"), malformed(Malformed::Missing("SignedHeaders"))),
            (format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}"), malformed(Malformed::Missing("Signature"))),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}, Signature={SIG}, Signature={SIG}"),
                malformed(Malformed::Duplicate("Signature")),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}, Signature={SIG}, Extra=1"),
                malformed(Malformed::Unexpected("Extra".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}, Signature={SIG},"),
                malformed(Malformed::Unexpected(",".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED},, {sh}, Signature={SIG}"),
                malformed(Malformed::Unexpected(",".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 credential={CRED}, {sh}, Signature={SIG}"),
                malformed(Malformed::Unexpected("credential".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}, Signature"),
                malformed(Malformed::Unexpected("Signature".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256Credential={CRED}, {sh}, Signature={SIG}"),
                // Kept to 128 bytes.
                malformed(Malformed::Unexpected(
                    format!("AWS4-HMAC-SHA256Credential={CRED}, {sh}, Signature={SIG}")[..128].into(),
                )),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}, Signature={}", &SIG[1..]),
                malformed(Malformed::Signature(SIG[1..].into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}, Signature=z{}", &SIG[1..]),
                malformed(Malformed::Signature(format!("z{}", &SIG[1..]))),
            ),
            (format!("AWS4-HMAC-SHA256 Credential={CRED}, {sh}, Signature="), malformed(Malformed::Signature(String::new()))),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=x-amz-date, Signature={SIG}"),
                malformed(Malformed::HostNotSigned),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;;x-amz-date, Signature={SIG}"),
                malformed(Malformed::SignedHeaders("host;;x-amz-date".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;Host, Signature={SIG}"),
                malformed(Malformed::SignedHeaders("host;Host".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;x:y, Signature={SIG}"),
                malformed(Malformed::SignedHeaders("host;x:y".into())),
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=, Signature={SIG}"),
                malformed(Malformed::SignedHeaders(String::new())),
            ),
        ];
        for (value, expected) in cases {
            check_header(&value, expected);
        }
    }

    #[test]
    fn header_bad_credentials() {
        let check = |credential: &str, expected: Malformed| {
            let value = format!(
                "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature={SIG}"
            );
            assert_eq!(
                parse_authorization(value.as_bytes()),
                Err(SigV4Error::MalformedAuthorization(expected))
            );
        };
        let whole = |c: &str| Malformed::Credential(c.into());
        check("", whole(""));
        check(
            "AKID/20130524/us-east-1/s3",
            whole("AKID/20130524/us-east-1/s3"),
        );
        check(
            "AKID/20130524/us-east-1/s3/aws4_request/x",
            whole("AKID/20130524/us-east-1/s3/aws4_request/x"),
        );
        check(
            "/20130524/us-east-1/s3/aws4_request",
            whole("/20130524/us-east-1/s3/aws4_request"),
        );
        check(
            "AKID/20130524//s3/aws4_request",
            whole("AKID/20130524//s3/aws4_request"),
        );
        check(
            "AKID/2013052/us-east-1/s3/aws4_request",
            Malformed::ScopeDate("2013052".into()),
        );
        check(
            "AKID/20130532/us-east-1/s3/aws4_request",
            Malformed::ScopeDate("20130532".into()),
        );
        check(
            "AKID/2013-5-2/us-east-1/s3/aws4_request",
            Malformed::ScopeDate("2013-5-2".into()),
        );
        check(
            "AKID/20130524/us-east-1/iam/aws4_request",
            Malformed::Service("iam".into()),
        );
        check(
            "AKID/20130524/us-east-1/S3/aws4_request",
            Malformed::Service("S3".into()),
        );
        check(
            "AKID/20130524/us-east-1/s3/aws4_requests",
            Malformed::Terminator("aws4_requests".into()),
        );
        // SigV4a scopes have no region.
        check(
            "AKID/20130524/s3/aws4_request",
            whole("AKID/20130524/s3/aws4_request"),
        );
    }

    #[test]
    fn header_unsupported_algorithms() {
        let check = |value: &str, algorithm: &str| {
            assert_eq!(
                parse_authorization(value.as_bytes()),
                Err(SigV4Error::UnsupportedAlgorithm {
                    algorithm: algorithm.into(),
                    presigned: false,
                }),
                "{value}"
            );
        };
        check(
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
            "AWS",
        );
        check(
            &format!("AWS4-ECDSA-P256-SHA256 Credential=AKID/20130524/s3/aws4_request, SignedHeaders=host, Signature={SIG}"),
            "AWS4-ECDSA-P256-SHA256",
        );
        check("Bearer abc", "Bearer");
        check("aws4-hmac-sha256 Credential=x", "aws4-hmac-sha256");
        check("AWS4-HMAC-SHA512 Credential=x", "AWS4-HMAC-SHA512");
    }

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn presigned_query() -> Query {
        vec![
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", CRED),
            ("X-Amz-Date", "20130524T000000Z"),
            ("X-Amz-Expires", "86400"),
            ("X-Amz-SignedHeaders", "host"),
            ("X-Amz-Signature", SIG),
        ]
    }

    #[test]
    fn presigned_parses() {
        let auth = parse_presigned(&query(&presigned_query()))
            .unwrap()
            .unwrap();
        assert_eq!(auth.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(auth.scope.to_string(), "20130524/us-east-1/s3/aws4_request");
        assert_eq!(auth.datetime.to_string(), "20130524T000000Z");
        assert_eq!(auth.signed_headers.iter().collect::<Vec<_>>(), ["host"]);
        assert_eq!(auth.presigned_expires_secs, Some(86_400));
        assert_eq!(auth.security_token, None);
        let mut with_token = presigned_query();
        with_token.push(("X-Amz-Security-Token", "tok+en/=="));
        with_token.push(("versionId", "3"));
        let auth = parse_presigned(&query(&with_token)).unwrap().unwrap();
        assert_eq!(auth.security_token.as_deref(), Some("tok+en/=="));
    }

    #[test]
    fn presigned_absent() {
        assert_eq!(parse_presigned(&[]), Ok(None));
        assert_eq!(
            parse_presigned(&query(&[("prefix", "a"), ("X-Amz-Date", "x")])),
            Ok(None)
        );
        assert_eq!(
            parse_presigned(&query(&[
                ("AWSAccessKeyId", "AKID"),
                ("Expires", "1"),
                ("Signature", "abc=")
            ])),
            Err(SigV4Error::UnsupportedAlgorithm {
                algorithm: "AWS".into(),
                presigned: true,
            })
        );
    }

    #[test]
    fn presigned_malformed() {
        let check = |edit: &dyn Fn(&mut Query), expected: SigV4Error| {
            let mut q = presigned_query();
            edit(&mut q);
            assert_eq!(parse_presigned(&query(&q)), Err(expected), "{q:?}");
        };
        let m = SigV4Error::MalformedPresignedQuery;
        let set = |name: &'static str, value: &'static str| {
            move |q: &mut Query| q.iter_mut().find(|(n, _)| *n == name).unwrap().1 = value
        };
        let remove = |name: &'static str| move |q: &mut Query| q.retain(|(n, _)| *n != name);
        for name in [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        ] {
            check(&remove(name), m(Malformed::Missing(name)));
            check(&|q| q.push((name, "again")), m(Malformed::Duplicate(name)));
        }
        check(
            &|q| q.extend([("X-Amz-Security-Token", "a"), ("X-Amz-Security-Token", "b")]),
            m(Malformed::Duplicate("X-Amz-Security-Token")),
        );
        check(
            &set("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256"),
            SigV4Error::UnsupportedAlgorithm {
                algorithm: "AWS4-ECDSA-P256-SHA256".into(),
                presigned: true,
            },
        );
        check(
            &set("X-Amz-Algorithm", "AWS4-HMAC-SHA256 "),
            m(Malformed::Unexpected("AWS4-HMAC-SHA256 ".into())),
        );
        check(
            &set("X-Amz-Date", "20130524"),
            m(Malformed::Date("20130524".into())),
        );
        check(
            &set("X-Amz-Date", "20130525T000000Z"),
            m(Malformed::ScopeDateMismatch {
                scope_date: "20130524".into(),
                request_date: "20130525".into(),
            }),
        );
        for expires in [
            "0",
            "-1",
            "+5",
            "604801",
            "1e3",
            "",
            " 60",
            "99999999999",
            "4294967297",
        ] {
            check(
                &set("X-Amz-Expires", expires),
                m(Malformed::Expires(expires.into())),
            );
        }
        check(
            &set("X-Amz-SignedHeaders", "x-amz-date"),
            m(Malformed::HostNotSigned),
        );
        check(
            &set("X-Amz-Signature", "abc"),
            m(Malformed::Signature("abc".into())),
        );
        check(
            &set(
                "X-Amz-Credential",
                "AKID/20130524/us-east-1/sts/aws4_request",
            ),
            m(Malformed::Service("sts".into())),
        );
    }

    #[test]
    fn presigned_expires_bounds() {
        let mut q = presigned_query();
        for (expires, secs) in [("1", 1), ("604800", 604_800), ("0060", 60)] {
            q.iter_mut().find(|(n, _)| *n == "X-Amz-Expires").unwrap().1 = expires;
            assert_eq!(
                parse_presigned(&query(&q))
                    .unwrap()
                    .unwrap()
                    .presigned_expires_secs,
                Some(secs)
            );
        }
    }

    fn auth_at(datetime: &str, presigned_expires_secs: Option<u32>) -> Authorization {
        Authorization {
            access_key_id: "AKID".into(),
            scope: Scope {
                date: datetime[..8].into(),
                region: "us-east-1".into(),
                service: "s3".into(),
            },
            datetime: AmzDateTime::parse(datetime.as_bytes()).unwrap(),
            signed_headers: SignedHeaders::from_names(["host"]),
            signature: [0; 32],
            presigned_expires_secs,
            security_token: None,
        }
    }

    #[test]
    fn time_window() {
        let t = 1_369_353_600; // 20130524T000000Z
        let header = auth_at("20130524T000000Z", None);
        for now in [t - 900, t, t + 900] {
            assert_eq!(header.check_time(now), Ok(()), "{now}");
        }
        for now in [t - 901, t + 901, i64::MIN, i64::MAX] {
            assert_eq!(
                header.check_time(now),
                Err(SigV4Error::RequestTimeTooSkewed {
                    request_time: header.datetime,
                    server_time_unix: now
                })
            );
        }
        let presigned = auth_at("20130524T000000Z", Some(86_400));
        for now in [t - 900, t, t + 86_400] {
            assert_eq!(presigned.check_time(now), Ok(()), "{now}");
        }
        assert_eq!(
            presigned.check_time(t - 901),
            Err(SigV4Error::RequestNotYetValid {
                valid_from_unix: t - 900
            })
        );
        assert_eq!(
            presigned.check_time(t + 86_401),
            Err(SigV4Error::RequestExpired {
                expires_at_unix: t + 86_400
            })
        );
        assert_eq!(
            presigned.check_time(i64::MAX),
            Err(SigV4Error::RequestExpired {
                expires_at_unix: t + 86_400
            })
        );
    }

    #[test]
    fn region_and_unsigned_headers() {
        let mut auth = auth_at("20130524T000000Z", None);
        assert_eq!(auth.check_region("us-east-1"), Ok(()));
        assert_eq!(
            auth.check_region("eu-west-1"),
            Err(SigV4Error::WrongRegion {
                region: "us-east-1".into(),
                expected: "eu-west-1".into(),
                presigned: false
            })
        );
        auth.signed_headers = SignedHeaders::from_names(["host", "x-amz-meta-a"]);
        let ok: &[(&str, &[u8])] = &[
            ("Host", b"h"),
            ("X-Amz-Date", b"20130524T000000Z"),
            ("x-amz-content-sha256", b"UNSIGNED-PAYLOAD"),
            ("X-Amz-Meta-A", b"1"),
            ("Content-Type", b"text/plain"),
        ];
        assert_eq!(auth.check_headers_signed(ok), Ok(()));
        let unsigned: &[(&str, &[u8])] = &[("Host", b"h"), ("X-Amz-Copy-Source", b"/b/k")];
        assert_eq!(
            auth.check_headers_signed(unsigned),
            Err(SigV4Error::HeaderNotSigned {
                name: "x-amz-copy-source".into()
            })
        );
    }

    fn parts<'a>(headers: &'a [(&'a str, &'a [u8])], raw_query: &'a str) -> RequestParts<'a> {
        RequestParts {
            method: "GET",
            raw_path: "/",
            raw_query,
            headers,
        }
    }

    #[test]
    fn request_authorization_picks_the_mechanism() {
        let header = format!(
            "AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;x-amz-date, Signature={SIG}"
        );
        let h = header.as_bytes();
        let host: (&str, &[u8]) = ("host", b"examplebucket.s3.amazonaws.com");
        let headers: &[(&str, &[u8])] = &[
            host,
            ("Authorization", h),
            ("X-Amz-Date", b"20130524T000000Z"),
            ("X-Amz-Security-Token", b" tok "),
        ];
        let auth = request_authorization(&parts(headers, "")).unwrap().unwrap();
        assert_eq!(auth.datetime.to_string(), "20130524T000000Z");
        assert_eq!(auth.security_token.as_deref(), Some("tok"));
        assert!(!auth.is_presigned());
        assert_eq!(
            request_authorization(&parts(headers, "X-Amz-Signature=1")),
            Err(SigV4Error::MultipleAuthMechanisms)
        );
        assert_eq!(request_authorization(&parts(&headers[..1], "")), Ok(None));
        assert_eq!(
            request_authorization(&parts(&headers[..2], "")),
            Err(SigV4Error::MissingAmzDate)
        );
        assert_eq!(
            request_authorization(&parts(&[("authorization", h), ("authorization", h)], "")),
            Err(SigV4Error::MalformedAuthorization(Malformed::Duplicate(
                "Authorization"
            )))
        );
        assert_eq!(
            request_authorization(&parts(
                &[
                    ("authorization", h),
                    ("x-amz-date", b"Fri, 24 May 2013 00:00:00 GMT")
                ],
                ""
            )),
            Err(SigV4Error::InvalidAmzDate {
                value: "Fri, 24 May 2013 00:00:00 GMT".into()
            })
        );
        assert_eq!(
            request_authorization(&parts(
                &[("authorization", h), ("x-amz-date", b"20130525T000000Z")],
                ""
            )),
            Err(SigV4Error::MalformedAuthorization(
                Malformed::ScopeDateMismatch {
                    scope_date: "20130524".into(),
                    request_date: "20130525".into(),
                }
            ))
        );
        let presigned = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F\
             aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}"
        );
        let auth = request_authorization(&parts(&headers[..1], &presigned))
            .unwrap()
            .unwrap();
        assert!(auth.is_presigned());
        assert_eq!(auth.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    }

    proptest! {
        #[test]
        fn header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_authorization(&bytes);
        }

        #[test]
        fn header_parser_never_panics_near_valid(
            prefix in "(AWS4-HMAC-SHA256)?[ ,\t]{0,3}",
            body in "((Credential|SignedHeaders|Signature|[a-z]{0,3})=[A-Za-z0-9/_;.-]{0,70}[ ,\t]{0,3}){0,5}",
        ) {
            let _ = parse_authorization(format!("{prefix}{body}").as_bytes());
        }

        #[test]
        fn presigned_parser_never_panics(
            pairs in proptest::collection::vec(
                ("(X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature|Security-Token)|AWSAccessKeyId|Signature|.{0,4})", ".{0,80}"),
                0..10,
            ),
        ) {
            let _ = parse_presigned(&pairs);
        }
    }
}
