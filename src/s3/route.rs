//! `route`, the one function from a request's
//! method, target and host to the operation it asks for, its bucket and key.
//!
//! Addressing: path style (`/bucket/key`) and virtual-hosted style
//! (`bucket.<domain>` in `Host`, port ignored). The key is everything after the
//! bucket's `/`, percent-decoded once by `crate::target::decode_path`, byte
//! for byte: it may hold `/`, `//`, spaces, `+` (a plus, not a space), any
//! Unicode, and a trailing `/` that belongs to the key. Nothing is normalized (`.` and `..` are key bytes).
//!
//! Selection is by method, by whether a bucket and a key are present, by the
//! subresource query parameters (`uploads`, `uploadId`, `partNumber`,
//! `delete`, `location`, `list-type`, `versions`, `versioning`) and by the
//! `x-amz-copy-source` header. `route` never maps a request to an operation it
//! does not ask for: a known subresource ringgate does not support is
//! `NotImplemented`, a subresource used with a method that does not take it is
//! `MethodNotAllowed`, and the SDKs' `x-id` parameter, when present, must name
//! the operation chosen. Other query parameters (`prefix`, `max-keys`,
//! `response-*`, `X-Amz-*`, cache busters) are the handlers' or sigv4's and are
//! ignored here, as S3 ignores parameters it does not know.

use crate::meta::version::WhichVersion;
use crate::operation::Operation;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::names;
use crate::target::decode_path;

/// What `route` needs of a request.
#[derive(Clone, Copy, Debug)]
pub struct RouteInput<'a> {
    /// The request method, as sent (methods are case-sensitive).
    pub method: &'a str,
    /// The request target's path, still percent-encoded as sent, without the
    /// query: `/bucket/photos/a%20b.jpg`.
    pub raw_path: &'a str,
    /// The query as decoded (name, value) pairs, in request order; a bare
    /// `?uploads` is `("uploads", "")`.
    pub query: &'a [(String, String)],
    /// The `Host` header, if any.
    pub host: Option<&'a str>,
    /// The virtual-hosted-style base, e.g. `s3.example.com`: a `Host` of
    /// `bucket.s3.example.com[:port]` names `bucket`. `None` disables
    /// virtual-hosted style.
    pub domain: Option<&'a str>,
    /// The request has an `x-amz-copy-source` header.
    pub has_copy_source: bool,
}

/// How the request named its bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    Path,
    VirtualHosted,
}

/// A routed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub operation: Operation,
    /// Present for every operation but ListBuckets. For CreateBucket it is a
    /// valid general purpose bucket name; for the others it may be a legacy
    /// name, which can only answer `NoSuchBucket` (see [`route`]).
    pub bucket: Option<String>,
    /// Present exactly when [`Operation::has_key`]; 1 to 1024 bytes, decoded.
    pub key: Option<String>,
    /// `uploadId` of UploadPart, UploadPartCopy, CompleteMultipartUpload,
    /// AbortMultipartUpload and ListParts, as sent (possibly empty: the
    /// handler answers `NoSuchUpload`).
    pub upload_id: Option<String>,
    /// `partNumber`, 1 to 10000: required for UploadPart and UploadPartCopy,
    /// optional for GetObject and HeadObject.
    pub part_number: Option<u32>,
    /// `versionId` of GetObject, HeadObject and DeleteObject: `null` or a
    /// version id ringgate could have issued (`route` refuses any other value
    /// with `InvalidArgument`, as S3 does).
    pub version_id: Option<WhichVersion>,
    pub addressing: Addressing,
}

impl Route {
    /// The `<Resource>` of an error about this request: `/bucket/key`,
    /// `/bucket` or `/`, unencoded, whatever the addressing style.
    pub fn resource(&self) -> String {
        match (&self.bucket, &self.key) {
            (Some(bucket), Some(key)) => format!("/{bucket}/{key}"),
            (Some(bucket), None) => format!("/{bucket}"),
            (None, _) => "/".to_string(),
        }
    }
}

/// Subresources of S3 operations ringgate does not implement. A request
/// naming one is `NotImplemented` whatever its method, never a wrong success
/// (e.g. `PUT /b/k?tagging` must not overwrite `k`).
pub const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "abac",
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "intelligent-tiering",
    "inventory",
    "lifecycle",
    "logging",
    "metadataConfiguration",
    "metadataInventoryTable",
    "metadataJournalTable",
    "metadataTable",
    "metrics",
    "notification",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "select",
    "select-type",
    "session",
    "torrent",
    "website",
];

/// A bucket configuration family's subresource and its three operations
/// (handled by `s3::bucket_config`).
struct ConfigRoute {
    subresource: &'static str,
    get: Operation,
    put: Operation,
    delete: Operation,
}

const CONFIG_ROUTES: &[ConfigRoute] = &[
    ConfigRoute {
        subresource: "tagging",
        get: Operation::GetBucketTagging,
        put: Operation::PutBucketTagging,
        delete: Operation::DeleteBucketTagging,
    },
    ConfigRoute {
        subresource: "encryption",
        get: Operation::GetBucketEncryption,
        put: Operation::PutBucketEncryption,
        delete: Operation::DeleteBucketEncryption,
    },
];

/// Configuration subresources of one object version, with GET, PUT and
/// DELETE operations (the same subresource on a bucket is `CONFIG_ROUTES`').
const OBJECT_CONFIG_ROUTES: &[ConfigRoute] = &[ConfigRoute {
    subresource: "tagging",
    get: Operation::GetObjectTagging,
    put: Operation::PutObjectTagging,
    delete: Operation::DeleteObjectTagging,
}];

/// Subresources that select a bucket-level operation.
const BUCKET_SELECTORS: &[&str] = &[
    "delete",
    "location",
    "object-lock",
    "uploads",
    "versioning",
    "versions",
];

/// Subresources that select an object-level operation, with its GET and (if
/// it has one) PUT operation.
const OBJECT_SELECTORS: &[(&str, Operation, Option<Operation>)] = &[
    (
        "retention",
        Operation::GetObjectRetention,
        Some(Operation::PutObjectRetention),
    ),
    (
        "legal-hold",
        Operation::GetObjectLegalHold,
        Some(Operation::PutObjectLegalHold),
    ),
    ("attributes", Operation::GetObjectAttributes, None),
];

/// Parameters whose repetition would make the request ambiguous.
const SINGLE_VALUED: &[&str] = &["list-type", "partNumber", "uploadId", "versionId", "x-id"];

/// The value of the first query parameter called `name` (case-sensitive).
pub fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Routes a request; see the module documentation for the rules.
///
/// Errors, each with `<Resource>` set to the raw path:
/// - `MethodNotAllowed` for a method S3 does not serve (anything but GET,
///   HEAD, PUT, POST, DELETE, OPTIONS) and for a subresource used with a
///   method or on a level (bucket, object) that does not take it;
/// - `NotImplemented` for OPTIONS (CORS), POST Object (browser forms),
///   unsupported subresources and unknown `x-id`s;
/// - `InvalidURI` for a path that does not start with `/`, a bad percent
///   escape, bytes that are not UTF-8, or a NUL in the key;
/// - `InvalidBucketName` when CreateBucket names an invalid bucket, or any
///   operation names something that is no bucket name at all; other
///   operations naming a legacy-shaped name that fails today's rules get
///   `NoSuchBucket`: S3 still serves such legacy buckets, ringgate never
///   created one, so the honest answer is that it does not exist;
/// - `KeyTooLongError` for a key over 1024 bytes;
/// - `InvalidArgument` for a repeated routing parameter, a `partNumber`
///   outside 1..=10000, a malformed `versionId`, `list-type` other
///   than 2, or `uploadId` / `partNumber` missing their partner on PUT;
/// - `InvalidRequest` for conflicting subresources, or an `x-id` naming
///   another supported operation than the one the request's shape selects.
pub fn route(input: &RouteInput) -> Result<Route, S3Error> {
    route_inner(input).map_err(|error| {
        if error.resource_value().is_some() {
            error
        } else {
            error.resource(input.raw_path)
        }
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

fn route_inner(input: &RouteInput) -> Result<Route, S3Error> {
    let method = match input.method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        "OPTIONS" => return Err(S3Error::not_implemented("CORS is not supported")),
        _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    };
    let (addressing, bucket, key) = split_target(input)?;
    let query = input.query;
    check_query(query)?;
    let operation = match (&bucket, &key) {
        (None, _) => select_service(method, query)?,
        (Some(_), None) => select_bucket(method, query)?,
        (Some(_), Some(_)) => select_object(method, query, input.has_copy_source)?,
    };
    check_x_id(query, operation)?;
    if let Some(bucket) = &bucket {
        check_bucket(operation, bucket)?;
    }
    if let Some(key) = &key {
        names::validate_key(key)?;
    }
    let part_number = match operation {
        Operation::UploadPart
        | Operation::UploadPartCopy
        | Operation::GetObject
        | Operation::HeadObject => query_value(query, "partNumber")
            .map(parse_part_number)
            .transpose()?,
        _ => None,
    };
    let upload_id = match operation {
        Operation::UploadPart
        | Operation::UploadPartCopy
        | Operation::CompleteMultipartUpload
        | Operation::AbortMultipartUpload
        | Operation::ListParts => query_value(query, "uploadId").map(str::to_string),
        _ => None,
    };
    let version_id = match operation {
        Operation::GetObject
        | Operation::HeadObject
        | Operation::DeleteObject
        | Operation::GetObjectRetention
        | Operation::PutObjectRetention
        | Operation::GetObjectLegalHold
        | Operation::PutObjectLegalHold
        | Operation::GetObjectTagging
        | Operation::PutObjectTagging
        | Operation::DeleteObjectTagging
        | Operation::GetObjectAttributes => match query_value(query, "versionId") {
            None => None,
            Some(text) => Some(WhichVersion::parse(text).ok_or_else(|| {
                S3Error::invalid_argument("Invalid version id specified", "versionId", text)
            })?),
        },
        _ => None,
    };

    Ok(Route {
        operation,
        bucket,
        key,
        upload_id,
        part_number,
        version_id,
        addressing,
    })
}

/// Refuses repeated routing parameters and unsupported subresources.
fn check_query(query: &[(String, String)]) -> Result<(), S3Error> {
    for name in SINGLE_VALUED {
        if query.iter().filter(|(key, _)| key == name).count() > 1 {
            return Err(S3Error::invalid_argument(
                format!("The {name} parameter may appear only once"),
                name,
                query_value(query, name).unwrap_or_default(),
            ));
        }
    }
    match query
        .iter()
        .find(|(name, _)| UNSUPPORTED_SUBRESOURCES.contains(&name.as_str()))
    {
        Some((name, _)) => Err(S3Error::not_implemented(format!(
            "The {name} subresource is not supported"
        ))),
        None => Ok(()),
    }
}

/// The SDKs name the operation in `x-id`; it must be the one selected.
fn check_x_id(query: &[(String, String)], operation: Operation) -> Result<(), S3Error> {
    match query_value(query, "x-id") {
        None => Ok(()),
        Some(x_id) if x_id == operation.name() => Ok(()),
        Some(x_id) => Err(match Operation::from_name(x_id) {
            Some(named) => S3Error::invalid_request(format!(
                "x-id names {named} but the request is {operation}"
            )),
            None => S3Error::not_implemented(format!("{x_id} is not supported")),
        }),
    }
}

/// Splits the target into addressing style, bucket and key, both decoded.
fn split_target(
    input: &RouteInput,
) -> Result<(Addressing, Option<String>, Option<String>), S3Error> {
    let Some(path) = input.raw_path.strip_prefix('/') else {
        return Err(S3Error::new(S3ErrorCode::InvalidURI));
    };
    let host_bucket = match (input.host, input.domain) {
        (Some(host), Some(domain)) => virtual_host_bucket(host, domain),
        _ => None,
    };
    let (addressing, bucket, raw_key) = match host_bucket {
        Some(bucket) => (Addressing::VirtualHosted, Some(bucket), path),
        None if path.is_empty() => (Addressing::Path, None, ""),
        None => {
            let (raw_bucket, raw_key) = path.split_once('/').unwrap_or((path, ""));
            (Addressing::Path, Some(decode(raw_bucket)?), raw_key)
        }
    };
    let key = if raw_key.is_empty() {
        None
    } else {
        let key = decode(raw_key)?;
        if key.contains('\0') {
            return Err(S3Error::new(S3ErrorCode::InvalidURI));
        }
        Some(key)
    };
    Ok((addressing, bucket, key))
}

/// A path part decoded by the one target decoder (`+` a plus); any failure
/// is `InvalidURI`.
fn decode(raw: &str) -> Result<String, S3Error> {
    decode_path(raw).map_err(|_| S3Error::new(S3ErrorCode::InvalidURI))
}

/// The bucket a virtual-hosted-style `Host` names under `domain`, lowercased
/// (host names are case-insensitive). `None` for the bare domain or any other
/// host, which then means path style.
pub fn virtual_host_bucket(host: &str, domain: &str) -> Option<String> {
    let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    let domain = strip_port(domain)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if domain.is_empty() {
        return None;
    }
    let bucket = host.strip_suffix(domain.as_str())?.strip_suffix('.')?;
    (!bucket.is_empty()).then(|| bucket.to_string())
}

/// `host[:port]` or `[v6]:port` without the port.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn has(query: &[(String, String)], name: &str) -> bool {
    query.iter().any(|(key, _)| key == name)
}

/// Without a bucket only ListBuckets exists. A bucket or object subresource
/// there means the client lost its bucket (a virtual host ringgate does not
/// know, say): answering with the bucket list would be a wrong success.
fn select_service(method: Method, query: &[(String, String)]) -> Result<Operation, S3Error> {
    let misplaced = BUCKET_SELECTORS
        .iter()
        .chain(["list-type", "uploadId", "partNumber"].iter())
        .chain(CONFIG_ROUTES.iter().map(|family| &family.subresource))
        .any(|name| has(query, name));
    match method {
        Method::Get if !misplaced => Ok(Operation::ListBuckets),
        _ => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    }
}

fn select_bucket(method: Method, query: &[(String, String)]) -> Result<Operation, S3Error> {
    let selectors: Vec<&str> = BUCKET_SELECTORS
        .iter()
        .copied()
        .filter(|name| has(query, name))
        .collect();
    let not_allowed = || Err(S3Error::new(S3ErrorCode::MethodNotAllowed));
    if OBJECT_SELECTORS.iter().any(|(name, ..)| has(query, name)) {
        return not_allowed();
    }
    let families: Vec<&ConfigRoute> = CONFIG_ROUTES
        .iter()
        .filter(|family| has(query, family.subresource))
        .collect();
    if let Some(family) = families.first() {
        if families.len() + selectors.len() + usize::from(has(query, "list-type")) > 1 {
            return Err(S3Error::invalid_request(
                "The request names more than one subresource",
            ));
        }
        return match method {
            Method::Get => Ok(family.get),
            Method::Put => Ok(family.put),
            Method::Delete => Ok(family.delete),
            _ => not_allowed(),
        };
    }
    match method {
        Method::Get => {
            let list_type = query_value(query, "list-type");
            if selectors.len() + usize::from(list_type.is_some()) > 1 {
                return Err(S3Error::invalid_request(
                    "The request names more than one subresource",
                ));
            }
            match (selectors.first().copied(), list_type) {
                (None, None) => Ok(Operation::ListObjects),
                (None, Some("2")) => Ok(Operation::ListObjectsV2),
                (None, Some(other)) => Err(S3Error::invalid_argument(
                    "Invalid List Type specified",
                    "list-type",
                    other,
                )),
                (Some("location"), _) => Ok(Operation::GetBucketLocation),
                (Some("object-lock"), _) => Ok(Operation::GetObjectLockConfiguration),
                (Some("versioning"), _) => Ok(Operation::GetBucketVersioning),
                (Some("versions"), _) => Ok(Operation::ListObjectVersions),
                (Some("uploads"), _) => Ok(Operation::ListMultipartUploads),
                _ => not_allowed(),
            }
        }
        Method::Put => match selectors.as_slice() {
            [] => Ok(Operation::CreateBucket),
            ["versioning"] => Ok(Operation::PutBucketVersioning),
            ["object-lock"] => Ok(Operation::PutObjectLockConfiguration),
            _ => not_allowed(),
        },
        Method::Head if selectors.is_empty() => Ok(Operation::HeadBucket),
        Method::Delete if selectors.is_empty() => Ok(Operation::DeleteBucket),
        Method::Post => match selectors.as_slice() {
            ["delete"] => Ok(Operation::DeleteObjects),
            [] => Err(S3Error::not_implemented(
                "Browser-based uploads (POST Object) are not supported",
            )),
            _ => not_allowed(),
        },
        _ => not_allowed(),
    }
}

fn select_object(
    method: Method,
    query: &[(String, String)],
    has_copy_source: bool,
) -> Result<Operation, S3Error> {
    let not_allowed = || Err(S3Error::new(S3ErrorCode::MethodNotAllowed));
    let object_family = |name: &str| OBJECT_CONFIG_ROUTES.iter().any(|f| f.subresource == name);
    // Bucket-level subresources other than `uploads` do not apply to objects.
    if BUCKET_SELECTORS
        .iter()
        .chain(CONFIG_ROUTES.iter().map(|family| &family.subresource))
        .any(|name| *name != "uploads" && !object_family(name) && has(query, name))
    {
        return not_allowed();
    }
    type Selected = (Operation, Option<Operation>, Option<Operation>);
    let selected: Vec<Selected> = OBJECT_SELECTORS
        .iter()
        .map(|&(name, get, put)| (name, get, put, None))
        .chain(
            OBJECT_CONFIG_ROUTES
                .iter()
                .map(|f| (f.subresource, f.get, Some(f.put), Some(f.delete))),
        )
        .filter(|(name, ..)| has(query, name))
        .map(|(_, get, put, delete)| (get, put, delete))
        .collect();
    if let Some(&(get, put, delete)) = selected.first() {
        let others = ["uploads", "uploadId", "partNumber"];
        if selected.len() > 1 || others.iter().any(|name| has(query, name)) {
            return Err(S3Error::invalid_request(
                "The request names more than one subresource",
            ));
        }
        return match (method, put, delete) {
            (Method::Get, ..) => Ok(get),
            (Method::Put, Some(put), _) if !has_copy_source => Ok(put),
            (Method::Delete, _, Some(delete)) => Ok(delete),
            _ => not_allowed(),
        };
    }
    let uploads = has(query, "uploads");
    let upload_id = has(query, "uploadId");
    let part_number = has(query, "partNumber");
    let missing = |name: &str, with: &str| {
        Err(S3Error::invalid_argument(
            format!("{with} requires {name}"),
            name,
            "",
        ))
    };
    let conflict = || {
        Err(S3Error::invalid_request(
            "The request names conflicting subresources",
        ))
    };
    match method {
        Method::Put => match (uploads, upload_id, part_number) {
            (true, _, _) => not_allowed(),
            (false, true, true) if has_copy_source => Ok(Operation::UploadPartCopy),
            (false, true, true) => Ok(Operation::UploadPart),
            (false, true, false) => missing("partNumber", "uploadId"),
            (false, false, true) => missing("uploadId", "partNumber"),
            (false, false, false) if has_copy_source => Ok(Operation::CopyObject),
            (false, false, false) => Ok(Operation::PutObject),
        },
        Method::Get => match (uploads, upload_id, part_number) {
            (true, _, _) => not_allowed(),
            (false, true, true) => conflict(),
            (false, true, false) => Ok(Operation::ListParts),
            (false, false, _) => Ok(Operation::GetObject),
        },
        Method::Head => match (uploads, upload_id) {
            (false, false) => Ok(Operation::HeadObject),
            _ => not_allowed(),
        },
        Method::Delete => match (uploads, upload_id, part_number) {
            (true, _, _) => not_allowed(),
            (false, true, true) => conflict(),
            (false, true, false) => Ok(Operation::AbortMultipartUpload),
            (false, false, true) => conflict(),
            (false, false, false) => Ok(Operation::DeleteObject),
        },
        Method::Post => match (uploads, upload_id, part_number) {
            (true, false, false) => Ok(Operation::CreateMultipartUpload),
            (false, true, false) => Ok(Operation::CompleteMultipartUpload),
            (false, false, false) => not_allowed(),
            _ => conflict(),
        },
    }
}

fn check_bucket(operation: Operation, bucket: &str) -> Result<(), S3Error> {
    if operation == Operation::CreateBucket {
        return names::validate_bucket_name(bucket)
            .map_err(|_| S3Error::invalid_bucket_name(bucket));
    }
    if !names::is_legacy_bucket_name_shape(bucket) {
        return Err(S3Error::invalid_bucket_name(bucket));
    }
    if !names::is_valid_bucket_name(bucket) {
        return Err(S3Error::no_such_bucket(bucket));
    }
    Ok(())
}

/// `partNumber`: decimal digits, 1 to 10000.
fn parse_part_number(value: &str) -> Result<u32, S3Error> {
    value
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| value.parse::<u32>().ok())
        .flatten()
        .filter(|number| (1..=10_000).contains(number))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                value,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Operation::*;

    const DOMAIN: &str = "s3.example.com";

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => (pair.to_string(), String::new()),
            })
            .collect()
    }

    fn run(
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        copy: bool,
    ) -> Result<Route, S3Error> {
        let query = pairs(query);
        route(&RouteInput {
            method,
            raw_path: path,
            query: &query,
            host: Some(host),
            domain: Some(DOMAIN),
            has_copy_source: copy,
        })
    }

    /// One case: `host path?query` with the copy-source header when `copy`.
    /// `Ok((operation, bucket, key))` or `Err(code)`.
    type Expected = Result<(Operation, Option<&'static str>, Option<&'static str>), S3ErrorCode>;

    fn check(method: &str, host: &str, path_query: &str, copy: bool, expected: Expected) {
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let actual = run(method, host, path, query, copy)
            .map(|route| (route.operation, route.bucket, route.key))
            .map_err(|error| error.code());
        let expected = expected.map(|(operation, bucket, key)| {
            (
                operation,
                bucket.map(str::to_string),
                key.map(str::to_string),
            )
        });
        assert_eq!(actual, expected, "{method} {host}{path_query} copy={copy}");
    }

    const P: &str = DOMAIN; // path style: the bare domain
    const V: &str = "photos.s3.example.com"; // virtual-hosted: bucket "photos"

    #[test]
    fn every_operation() {
        let b = Some("photos");
        let k = Some("a/b.jpg");
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str, bool, Expected)] = &[
            ("GET", P, "/", false, Ok((ListBuckets, None, None))),
            ("GET", P, "/?x-id=ListBuckets", false, Ok((ListBuckets, None, None))),
            ("PUT", P, "/photos", false, Ok((CreateBucket, b, None))),
            ("PUT", V, "/", false, Ok((CreateBucket, b, None))),
            ("HEAD", P, "/photos", false, Ok((HeadBucket, b, None))),
            ("DELETE", P, "/photos/", false, Ok((DeleteBucket, b, None))),
            ("GET", P, "/photos?location", false, Ok((GetBucketLocation, b, None))),
            ("GET", V, "/?versioning", false, Ok((GetBucketVersioning, b, None))),
            ("PUT", P, "/photos?versioning", false, Ok((PutBucketVersioning, b, None))),
            ("GET", P, "/photos?tagging", false, Ok((GetBucketTagging, b, None))),
            ("PUT", V, "/?tagging", false, Ok((PutBucketTagging, b, None))),
            ("DELETE", P, "/photos?tagging&x-id=DeleteBucketTagging", false, Ok((DeleteBucketTagging, b, None))),
            ("GET", P, "/photos?encryption", false, Ok((GetBucketEncryption, b, None))),
            ("PUT", V, "/?encryption", false, Ok((PutBucketEncryption, b, None))),
            ("DELETE", P, "/photos?encryption", false, Ok((DeleteBucketEncryption, b, None))),
            ("GET", P, "/photos", false, Ok((ListObjects, b, None))),
            ("GET", P, "/photos?prefix=a&delimiter=%2F", false, Ok((ListObjects, b, None))),
            ("GET", P, "/photos?list-type=2", false, Ok((ListObjectsV2, b, None))),
            ("GET", V, "/?list-type=2&prefix=x", false, Ok((ListObjectsV2, b, None))),
            ("GET", P, "/photos?versions", false, Ok((ListObjectVersions, b, None))),
            ("GET", P, "/photos?uploads", false, Ok((ListMultipartUploads, b, None))),
            ("POST", P, "/photos?delete", false, Ok((DeleteObjects, b, None))),
            ("PUT", P, "/photos/a/b.jpg", false, Ok((PutObject, b, k))),
            ("PUT", P, "/photos/a/b.jpg?x-id=PutObject", false, Ok((PutObject, b, k))),
            ("PUT", P, "/photos/a/b.jpg", true, Ok((CopyObject, b, k))),
            ("PUT", V, "/a/b.jpg?x-id=CopyObject", true, Ok((CopyObject, b, k))),
            ("GET", P, "/photos/a/b.jpg", false, Ok((GetObject, b, k))),
            ("GET", P, "/photos/a/b.jpg?partNumber=2", false, Ok((GetObject, b, k))),
            ("GET", P, "/photos/a/b.jpg?versionId=null", false, Ok((GetObject, b, k))),
            ("GET", P, "/photos/a/b.jpg?response-content-type=text/plain", false, Ok((GetObject, b, k))),
            ("HEAD", P, "/photos/a/b.jpg", false, Ok((HeadObject, b, k))),
            ("HEAD", V, "/a/b.jpg?partNumber=1&versionId=null", false, Ok((HeadObject, b, k))),
            ("DELETE", P, "/photos/a/b.jpg", false, Ok((DeleteObject, b, k))),
            ("DELETE", P, "/photos/a/b.jpg?versionId=null", false, Ok((DeleteObject, b, k))),
            ("POST", P, "/photos/a/b.jpg?uploads", false, Ok((CreateMultipartUpload, b, k))),
            ("PUT", P, "/photos/a/b.jpg?partNumber=1&uploadId=u1", false, Ok((UploadPart, b, k))),
            ("PUT", P, "/photos/a/b.jpg?x-id=UploadPart&partNumber=1&uploadId=u1", false, Ok((UploadPart, b, k))),
            ("PUT", P, "/photos/a/b.jpg?partNumber=1&uploadId=u1", true, Ok((UploadPartCopy, b, k))),
            ("POST", P, "/photos/a/b.jpg?uploadId=u1", false, Ok((CompleteMultipartUpload, b, k))),
            ("DELETE", P, "/photos/a/b.jpg?uploadId=u1", false, Ok((AbortMultipartUpload, b, k))),
            ("GET", P, "/photos/a/b.jpg?uploadId=u1", false, Ok((ListParts, b, k))),
            ("GET", P, "/photos/a/b.jpg?uploadId=u1&max-parts=2&x-id=ListParts", false, Ok((ListParts, b, k))),
            ("GET", P, "/photos?object-lock", false, Ok((GetObjectLockConfiguration, b, None))),
            ("PUT", V, "/?object-lock", false, Ok((PutObjectLockConfiguration, b, None))),
            ("GET", P, "/photos/a/b.jpg?retention", false, Ok((GetObjectRetention, b, k))),
            ("PUT", P, "/photos/a/b.jpg?retention&versionId=null", false, Ok((PutObjectRetention, b, k))),
            ("GET", V, "/a/b.jpg?legal-hold", false, Ok((GetObjectLegalHold, b, k))),
            ("PUT", P, "/photos/a/b.jpg?legal-hold", false, Ok((PutObjectLegalHold, b, k))),
            ("GET", P, "/photos/a/b.jpg?tagging&versionId=null", false, Ok((GetObjectTagging, b, k))),
            ("PUT", V, "/a/b.jpg?tagging", false, Ok((PutObjectTagging, b, k))),
            ("DELETE", P, "/photos/a/b.jpg?tagging&x-id=DeleteObjectTagging", false, Ok((DeleteObjectTagging, b, k))),
            ("GET", P, "/photos/a/b.jpg?attributes&versionId=null", false, Ok((GetObjectAttributes, b, k))),
        ];
        for (method, host, path_query, copy, expected) in cases {
            check(method, host, path_query, *copy, *expected);
        }
        // The table names every operation.
        for operation in Operation::ALL {
            assert!(
                cases
                    .iter()
                    .any(|case| matches!(case.4, Ok((op, _, _)) if op == *operation)),
                "{operation} has no case"
            );
        }
    }

    #[test]
    fn tricky_keys() {
        let b = Some("photos");
        #[rustfmt::skip]
        let cases: &[(&str, &str, Expected)] = &[
            (P, "/photos/dir/", Ok((GetObject, b, Some("dir/")))),
            (P, "/photos//", Ok((GetObject, b, Some("/")))),
            (P, "/photos//lead", Ok((GetObject, b, Some("/lead")))),
            (P, "/photos/a//b///", Ok((GetObject, b, Some("a//b///")))),
            (P, "/photos/a%20b+c", Ok((GetObject, b, Some("a b+c")))),
            (P, "/photos/100%25%2Fdone", Ok((GetObject, b, Some("100%/done")))),
            (P, "/photos/%E6%97%A5%E6%9C%AC/%F0%9F%98%80", Ok((GetObject, b, Some("日本/😀")))),
            (P, "/photos/日本", Ok((GetObject, b, Some("日本")))),
            (P, "/photos/./../x", Ok((GetObject, b, Some("./../x")))),
            (P, "/photos/%3F%23%26=", Ok((GetObject, b, Some("?#&=")))),
            (P, "/photos/%0d%0A", Ok((GetObject, b, Some("\r\n")))),
            (P, "/ph%6Ftos/k", Ok((GetObject, b, Some("k")))),
            (V, "//", Ok((GetObject, b, Some("/")))),
            (V, "/photos/k", Ok((GetObject, b, Some("photos/k")))),
            (V, "/dir/", Ok((GetObject, b, Some("dir/")))),
            ("PHOTOS.S3.Example.COM:9000", "/k", Ok((GetObject, b, Some("k")))),
            ("photos.s3.example.com.", "/k", Ok((GetObject, b, Some("k")))),
            ("my.bucket.s3.example.com", "/k", Ok((GetObject, Some("my.bucket"), Some("k")))),
            ("s3.example.com:443", "/photos/k", Ok((GetObject, b, Some("k")))),
            ("127.0.0.1:9000", "/photos/k", Ok((GetObject, b, Some("k")))),
            ("[::1]:9000", "/photos/k", Ok((GetObject, b, Some("k")))),
            ("other.example.org", "/photos/k", Ok((GetObject, b, Some("k")))),
            ("xs3.example.com", "/photos/k", Ok((GetObject, b, Some("k")))),
            (P, "/photos/%", Err(S3ErrorCode::InvalidURI)),
            (P, "/photos/%4", Err(S3ErrorCode::InvalidURI)),
            (P, "/photos/%zz", Err(S3ErrorCode::InvalidURI)),
            (P, "/photos/%FF", Err(S3ErrorCode::InvalidURI)),
            (P, "/photos/%C3", Err(S3ErrorCode::InvalidURI)),
            (P, "/photos/a%00b", Err(S3ErrorCode::InvalidURI)),
            (P, "photos/k", Err(S3ErrorCode::InvalidURI)),
            (P, "", Err(S3ErrorCode::InvalidURI)),
        ];
        for (host, path_query, expected) in cases {
            check("GET", host, path_query, false, *expected);
        }
        let long = format!("/photos/{}", "k".repeat(1024));
        assert_eq!(
            run("GET", P, &long, "", false).unwrap().key.unwrap().len(),
            1024
        );
        let too_long = format!("/photos/{}", "%C3%A9".repeat(513));
        assert_eq!(
            run("PUT", P, &too_long, "", false).unwrap_err().code(),
            S3ErrorCode::KeyTooLongError
        );
    }

    #[test]
    fn bucket_names() {
        use S3ErrorCode::*;
        #[rustfmt::skip]
        let cases: &[(&str, &str, Expected)] = &[
            ("PUT", "/ab", Err(InvalidBucketName)),
            ("PUT", "/My_Bucket", Err(InvalidBucketName)),
            ("PUT", "/192.168.5.4", Err(InvalidBucketName)),
            ("PUT", "/xn--abc", Err(InvalidBucketName)),
            ("PUT", "/abc--x-s3", Err(InvalidBucketName)),
            ("PUT", "/a%20b", Err(InvalidBucketName)),
            ("PUT", "/abc", Ok((CreateBucket, Some("abc"), None))),
            // Legacy-shaped names cannot exist here: NoSuchBucket.
            ("GET", "/My_Bucket", Err(NoSuchBucket)),
            ("HEAD", "/ab", Err(NoSuchBucket)),
            ("GET", "/My_Bucket/k", Err(NoSuchBucket)),
            ("DELETE", "/192.168.5.4", Err(NoSuchBucket)),
            ("PUT", "/UPPER/k", Err(NoSuchBucket)),
            // Not a bucket name at all.
            ("GET", "/a%20b", Err(InvalidBucketName)),
            ("GET", "/a%2Fb/k", Err(InvalidBucketName)),
            ("HEAD", "//k", Err(InvalidBucketName)),
        ];
        for (method, path_query, expected) in cases {
            check(method, P, path_query, false, *expected);
        }
        let error = run("GET", P, "/My_Bucket/k", "", false).unwrap_err();
        assert_eq!(error.field_value("BucketName"), Some("My_Bucket"));
        assert_eq!(error.resource_value(), Some("/My_Bucket/k"));
        // A virtual host whose bucket label breaks the rules.
        check(
            "PUT",
            "-bad.s3.example.com",
            "/",
            false,
            Err(InvalidBucketName),
        );
        check("GET", "x_y.s3.example.com", "/k", false, Err(NoSuchBucket));
    }

    #[test]
    fn refusals() {
        use S3ErrorCode::*;
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str, bool, S3ErrorCode)] = &[
            // Methods.
            ("PATCH", P, "/photos/k", false, MethodNotAllowed),
            ("get", P, "/photos/k", false, MethodNotAllowed),
            ("OPTIONS", P, "/photos/k", false, NotImplemented),
            ("PUT", P, "/", false, MethodNotAllowed),
            ("DELETE", P, "/", false, MethodNotAllowed),
            ("HEAD", P, "/", false, MethodNotAllowed),
            ("POST", P, "/", false, MethodNotAllowed),
            ("GET", P, "/?location", false, MethodNotAllowed),
            ("GET", P, "/?list-type=2", false, MethodNotAllowed),
            ("GET", P, "/?uploads", false, MethodNotAllowed),
            ("GET", P, "/?uploadId=u", false, MethodNotAllowed),
            // Unsupported subresources, at every level and method.
            ("DELETE", P, "/photos/k?acl", false, NotImplemented),
            ("GET", P, "/photos/k?acl", false, NotImplemented),
            ("PUT", P, "/photos/k?acl", true, NotImplemented),
            ("GET", P, "/photos/k?torrent", false, NotImplemented),
            // Object lock subresources on the wrong level or with the wrong method.
            ("GET", P, "/photos?retention", false, MethodNotAllowed),
            ("PUT", P, "/photos?legal-hold", false, MethodNotAllowed),
            ("DELETE", P, "/photos/k?retention", false, MethodNotAllowed),
            ("PUT", P, "/photos/k?retention", true, MethodNotAllowed),
            ("GET", P, "/photos/k?object-lock", false, MethodNotAllowed),
            ("GET", P, "/photos/k?retention&legal-hold", false, InvalidRequest),
            ("PUT", P, "/photos/k?retention&uploadId=u", false, InvalidRequest),
            ("DELETE", P, "/photos?object-lock", false, MethodNotAllowed),
            ("POST", P, "/photos/k?restore", false, NotImplemented),
            ("POST", P, "/photos/k?select&select-type=2", false, NotImplemented),
            ("DELETE", P, "/photos/k?tagging&uploadId=u", false, InvalidRequest),
            ("POST", P, "/photos/k?tagging", false, MethodNotAllowed),
            ("PUT", P, "/photos/k?attributes", false, MethodNotAllowed),
            ("GET", P, "/photos?attributes", false, MethodNotAllowed),
            ("HEAD", P, "/photos/k?tagging", false, MethodNotAllowed),
            ("PUT", P, "/photos/k?tagging&retention", false, InvalidRequest),
            ("PUT", P, "/photos/k?renameObject", false, NotImplemented),
            ("GET", P, "/photos?policy", false, NotImplemented),
            ("DELETE", P, "/photos?cors", false, NotImplemented),
            ("PUT", P, "/photos?lifecycle", false, NotImplemented),
            ("GET", P, "/photos?website", false, NotImplemented),
            ("PUT", P, "/photos?replication", false, NotImplemented),
            ("GET", P, "/photos?notification", false, NotImplemented),
            ("GET", P, "/photos?logging", false, NotImplemented),
            ("GET", P, "/photos?ownershipControls", false, NotImplemented),
            ("PUT", P, "/photos?publicAccessBlock", false, NotImplemented),
            ("GET", P, "/photos?intelligent-tiering", false, NotImplemented),
            ("GET", P, "/photos?analytics", false, NotImplemented),
            ("GET", P, "/photos?metrics&x-id=ListBucketMetricsConfigurations", false, NotImplemented),
            ("GET", P, "/photos?inventory", false, NotImplemented),
            ("PUT", P, "/photos?accelerate", false, NotImplemented),
            ("GET", P, "/photos?requestPayment", false, NotImplemented),
            ("GET", P, "/photos?policyStatus", false, NotImplemented),
            ("GET", P, "/photos?session", false, NotImplemented),
            ("GET", P, "/photos?cors", false, NotImplemented),
            // Configuration subresources with another, on the wrong method or level.
            ("GET", P, "/photos?tagging&versioning", false, InvalidRequest),
            ("GET", P, "/photos?tagging&encryption", false, InvalidRequest),
            ("GET", P, "/photos/k?encryption", false, MethodNotAllowed),
            ("GET", P, "/photos?tagging&list-type=2", false, InvalidRequest),
            ("POST", P, "/photos?tagging", false, MethodNotAllowed),
            ("HEAD", P, "/photos?tagging", false, MethodNotAllowed),
            ("GET", P, "/?tagging", false, MethodNotAllowed),
            ("POST", P, "/photos", false, NotImplemented),
            // Operations the SDKs name only by x-id.
            ("GET", P, "/?x-id=ListDirectoryBuckets", false, NotImplemented),
            ("GET", P, "/photos/k?x-id=GetObjectAnnotation", false, NotImplemented),
            // x-id naming another supported operation.
            ("PUT", P, "/photos/k?x-id=PutObject", true, InvalidRequest),
            ("GET", P, "/photos/k?x-id=ListParts", false, InvalidRequest),
            // Subresources on the wrong method or level.
            ("PUT", P, "/photos?uploads", false, MethodNotAllowed),
            ("DELETE", P, "/photos?uploads", false, MethodNotAllowed),
            ("HEAD", P, "/photos?location", false, MethodNotAllowed),
            ("GET", P, "/photos?delete", false, MethodNotAllowed),
            ("POST", P, "/photos?uploads", false, MethodNotAllowed),
            ("PUT", P, "/photos/k?uploads", false, MethodNotAllowed),
            ("GET", P, "/photos/k?uploads", false, MethodNotAllowed),
            ("HEAD", P, "/photos/k?uploadId=u", false, MethodNotAllowed),
            ("DELETE", P, "/photos/k?uploads", false, MethodNotAllowed),
            ("POST", P, "/photos/k", false, MethodNotAllowed),
            ("POST", P, "/photos/k?delete", false, MethodNotAllowed),
            ("GET", P, "/photos/k?versions", false, MethodNotAllowed),
            ("GET", P, "/photos/k?location", false, MethodNotAllowed),
            // Conflicts and missing partners.
            ("GET", P, "/photos?versions&uploads", false, InvalidRequest),
            ("GET", P, "/photos?list-type=2&versions", false, InvalidRequest),
            ("GET", P, "/photos/k?uploadId=u&partNumber=1", false, InvalidRequest),
            ("DELETE", P, "/photos/k?partNumber=1", false, InvalidRequest),
            ("POST", P, "/photos/k?uploads&uploadId=u", false, InvalidRequest),
            ("PUT", P, "/photos/k?uploadId=u", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=1", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=1", true, InvalidArgument),
            // Values.
            ("GET", P, "/photos?list-type=1", false, InvalidArgument),
            ("GET", P, "/photos?list-type=3", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=0&uploadId=u", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=10001&uploadId=u", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=-1&uploadId=u", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=+1&uploadId=u", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=1x&uploadId=u", false, InvalidArgument),
            ("PUT", P, "/photos/k?partNumber=&uploadId=u", false, InvalidArgument),
            ("GET", P, "/photos/k?partNumber=99999999999", false, InvalidArgument),
            ("GET", P, "/photos/k?versionId=3HL4kqtJlcpXroDTDmJ", false, InvalidArgument),
            ("GET", P, "/photos/k?versionId=", false, InvalidArgument),
            ("HEAD", P, "/photos/k?versionId=NULL", false, InvalidArgument),
            ("DELETE", P, "/photos/k?versionId=v2", false, InvalidArgument),
            ("PUT", P, "/photos/k?retention&versionId=x", false, InvalidArgument),
            ("GET", P, "/photos/k?uploadId=a&uploadId=b", false, InvalidArgument),
            ("GET", P, "/photos/k?versionId=null&versionId=null", false, InvalidArgument),
            ("GET", P, "/photos?list-type=2&list-type=2", false, InvalidArgument),
        ];
        for (method, host, path_query, copy, code) in cases {
            check(method, host, path_query, *copy, Err(*code));
        }
    }

    #[test]
    fn route_fields() {
        let route = run(
            "PUT",
            P,
            "/photos/k",
            "partNumber=0010&uploadId=abc%2F",
            false,
        )
        .unwrap();
        assert_eq!(route.part_number, Some(10));
        assert_eq!(route.upload_id.as_deref(), Some("abc%2F"));
        assert_eq!(route.version_id, None);
        assert_eq!(route.addressing, Addressing::Path);

        let route = run("GET", V, "/k", "versionId=null&partNumber=3", false).unwrap();
        assert_eq!(route.version_id, Some(WhichVersion::Null));
        assert_eq!(route.part_number, Some(3));
        assert_eq!(route.upload_id, None);
        assert_eq!(route.addressing, Addressing::VirtualHosted);
        assert_eq!(route.resource(), "/photos/k");
        assert_eq!(
            run("GET", P, "/a%20b/", "", false)
                .unwrap_err()
                .resource_value(),
            Some("/a%20b/")
        );

        let route = run("POST", P, "/photos/k", "uploadId=", false).unwrap();
        assert_eq!(route.operation, CompleteMultipartUpload);
        assert_eq!(route.upload_id.as_deref(), Some(""));

        // versionId and partNumber mean nothing to other operations.
        let route = run("PUT", P, "/photos/k", "versionId=x", false).unwrap();
        assert_eq!((route.operation, route.version_id), (PutObject, None));
        let route = run("GET", P, "/photos", "versionId=x&partNumber=x", false).unwrap();
        assert_eq!((route.operation, route.part_number), (ListObjects, None));
        assert_eq!(route.resource(), "/photos");
        assert_eq!(run("GET", P, "/", "", false).unwrap().resource(), "/");
        assert_eq!(query_value(&pairs("a=1&b=2&a=3"), "a"), Some("1"));
        assert_eq!(query_value(&pairs("a=1"), "A"), None);

        // No Host or no domain: path style only.
        let query = pairs("");
        let input = RouteInput {
            method: "GET",
            raw_path: "/photos/k",
            query: &query,
            host: None,
            domain: Some(DOMAIN),
            has_copy_source: false,
        };
        assert_eq!(
            route_inner(&input).unwrap().bucket.as_deref(),
            Some("photos")
        );
        let input = RouteInput {
            host: Some(V),
            domain: None,
            ..input
        };
        assert_eq!(
            route_inner(&input).unwrap().bucket.as_deref(),
            Some("photos")
        );
    }

    #[test]
    fn operation_names() {
        for operation in Operation::ALL {
            assert_eq!(Operation::from_name(operation.name()), Some(*operation));
        }
        assert_eq!(Operation::from_name("GetObjectAcl"), None);
        assert!(GetObject.has_key() && !ListObjectsV2.has_key() && !ListBuckets.has_key());
    }

    #[test]
    fn virtual_hosts() {
        assert_eq!(
            virtual_host_bucket("b.s3.example.com", "s3.example.com:9000").as_deref(),
            Some("b")
        );
        assert_eq!(
            virtual_host_bucket("s3.example.com", "s3.example.com"),
            None
        );
        assert_eq!(
            virtual_host_bucket(".s3.example.com", "s3.example.com"),
            None
        );
        assert_eq!(virtual_host_bucket("b.s3.example.com", ""), None);
        assert_eq!(
            virtual_host_bucket("b.s3.example.com:", "s3.example.com").as_deref(),
            Some("b")
        );
        assert_eq!(virtual_host_bucket("[::1]", "s3.example.com"), None);
        assert_eq!(virtual_host_bucket("[::1", "s3.example.com"), None);
    }

    proptest! {
        /// Any key survives percent-encoding by a client and decoding here.
        #[test]
        fn keys_round_trip(key in "[^\u{0}]{1,200}") {
            prop_assume!(key.len() <= names::KEY_BYTES_MAX);
            const ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');
            let path = format!("/photos/{}", percent_encoding::utf8_percent_encode(&key, ENCODE));
            let route = run("GET", P, &path, "", false).unwrap();
            prop_assert_eq!(route.key.as_deref(), Some(key.as_str()));
            let virtual_path = format!("/{}", percent_encoding::utf8_percent_encode(&key, ENCODE));
            let route = run("GET", V, &virtual_path, "", false).unwrap();
            prop_assert_eq!(route.key.as_deref(), Some(key.as_str()));
        }

        #[test]
        fn never_panics(
            method in prop_oneof![Just("GET".to_string()), Just("PUT".to_string()), Just("POST".to_string()), Just("DELETE".to_string()), Just("HEAD".to_string()), ".{0,8}"],
            host in ".{0,30}",
            path in ".{0,40}",
            query in proptest::collection::vec((prop_oneof![Just("uploads".to_string()), Just("uploadId".to_string()), Just("partNumber".to_string()), Just("versionId".to_string()), Just("list-type".to_string()), Just("x-id".to_string()), ".{0,10}"], ".{0,10}"), 0..4),
            copy in any::<bool>(),
        ) {
            let query: Vec<(String, String)> = query;
            let result = route(&RouteInput {
                method: &method,
                raw_path: &path,
                query: &query,
                host: Some(&host),
                domain: Some(DOMAIN),
                has_copy_source: copy,
            });
            if let Ok(route) = result {
                prop_assert_eq!(route.key.is_some(), route.operation.has_key());
                prop_assert_eq!(route.bucket.is_none(), route.operation == ListBuckets);
            }
        }
    }
}
