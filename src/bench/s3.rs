//! The S3 side of the load generator, as pure code: where a bucket and key
//! are addressed (path style or virtual host), how a request head is signed
//! (through `sigv4::RequestSigner`, the server's own canonicaliser), how
//! benchmark objects are named, and the few XML documents it reads and
//! writes. No I/O.

use std::time::{SystemTime, UNIX_EPOCH};

use quick_xml::events::Event;
use quick_xml::Reader;

use super::content::Content;
use super::wire::write_request_head;
use crate::sigv4::{uri_encode, AmzDateTime, PayloadHash, RequestParts, RequestSigner, SigV4Error};

/// An `http://` or `https://` endpoint: scheme, host and port, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    /// A name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("endpoint {url:?}: {why}");
        let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(bad(
                "only scheme://host[:port] is supported (no path, query or user)",
            ));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None if after.is_empty() => default_port,
                None => return Err(bad("junk after ]")),
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => {
                    (host.to_string(), port.parse().map_err(|_| bad("bad port"))?)
                }
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Self { tls, host, port })
    }

    /// `host[:port]` as the Host header carries it (the port left out when
    /// it is the scheme's default).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

/// Where a bucket's requests go: the Host header, and each path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressing {
    pub bucket: String,
    /// The Host header.
    pub host: String,
    /// The TLS server name: the host without the port.
    pub server_name: String,
    pub path_style: bool,
}

impl Addressing {
    pub fn new(endpoint: &Endpoint, bucket: &str, path_style: bool) -> Self {
        if path_style {
            Self {
                bucket: bucket.to_string(),
                host: endpoint.authority(),
                server_name: endpoint.host.clone(),
                path_style,
            }
        } else {
            let server_name = format!("{bucket}.{}", endpoint.host);
            let authority = endpoint.authority();
            Self {
                bucket: bucket.to_string(),
                host: format!("{bucket}.{authority}"),
                server_name,
                path_style,
            }
        }
    }

    /// The bucket's own path: `/bucket`, or `/` on a virtual host.
    pub fn bucket_path(&self) -> String {
        if self.path_style {
            format!("/{}", uri_encode(self.bucket.as_bytes(), false))
        } else {
            "/".to_string()
        }
    }

    /// An object's path, the key encoded once as every SDK sends it.
    pub fn object_path(&self, key: &str) -> String {
        let key = uri_encode(key.as_bytes(), true);
        if self.path_style {
            format!("/{}/{key}", uri_encode(self.bucket.as_bytes(), false))
        } else {
            format!("/{key}")
        }
    }
}

/// Access key, secret and (for temporary credentials) session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A signer for the current second: SigV4 dates are whole seconds, so one
/// `RequestSigner` (and its derived key) serves every request of a second.
#[derive(Debug)]
pub struct SignerCache {
    credentials: Credentials,
    region: String,
    current: Option<RequestSigner>,
}

impl SignerCache {
    pub fn new(credentials: Credentials, region: &str) -> Self {
        Self {
            credentials,
            region: region.to_string(),
            current: None,
        }
    }

    /// The signer for `now`.
    pub fn at(&mut self, now: SystemTime) -> &RequestSigner {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let stale = self
            .current
            .as_ref()
            .is_none_or(|s| s.datetime().unix_secs() != secs);
        if stale {
            let datetime =
                AmzDateTime::from_unix_secs(secs).expect("the clock is in years 0..9999");
            let mut signer = RequestSigner::new(
                &self.credentials.access_key_id,
                self.credentials.secret_access_key.as_bytes(),
                &self.region,
                datetime,
            );
            if let Some(token) = &self.credentials.session_token {
                signer = signer.with_security_token(token);
            }
            self.current = Some(signer);
        }
        self.current.as_ref().expect("set above")
    }
}

/// One request to sign and send.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub method: &'static str,
    /// Encoded path (from [`Addressing`]).
    pub path: &'a str,
    /// Encoded query, without `?`.
    pub query: &'a str,
    /// Headers to sign besides `host` and the signer's own (lowercase names).
    pub signed: &'a [(&'a str, &'a str)],
    /// Headers sent but not signed (`range`, `content-encoding`).
    pub unsigned: &'a [(&'a str, &'a str)],
}

/// A signed request head, and the signature an aws-chunked body chains from.
pub struct SignedHead {
    pub bytes: Vec<u8>,
    pub signature: [u8; 32],
}

/// Signs `request` for `host` and writes its head.
pub fn sign_head(
    signer: &RequestSigner,
    host: &str,
    request: &Request,
    payload: &PayloadHash,
    content_length: Option<u64>,
) -> Result<SignedHead, SigV4Error> {
    let mut to_sign: Vec<(&str, &[u8])> = Vec::with_capacity(request.signed.len() + 1);
    to_sign.push(("host", host.as_bytes()));
    to_sign.extend(request.signed.iter().map(|(n, v)| (*n, v.as_bytes())));
    let parts = RequestParts {
        method: request.method,
        raw_path: request.path,
        raw_query: request.query,
        headers: &to_sign,
    };
    let signed = signer.sign(&parts, payload)?;
    let mut headers: Vec<(&str, &str)> =
        Vec::with_capacity(request.signed.len() + request.unsigned.len() + 4);
    headers.push(("authorization", &signed.authorization));
    headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_str())));
    headers.extend(request.signed.iter().copied());
    headers.extend(request.unsigned.iter().copied());
    let mut bytes = Vec::with_capacity(1024);
    write_request_head(
        &mut bytes,
        request.method,
        request.path,
        request.query,
        host,
        &headers,
        content_length,
    );
    Ok(SignedHead {
        bytes,
        signature: signed.signature,
    })
}

/// A benchmark object: which thread made it, its number there, and the
/// seed and size its content follows from. All four are in its key, so any
/// reader can check it without asking the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub thread: u32,
    pub index: u64,
    pub content: Content,
}

impl ObjectRef {
    /// `<prefix><thread>/<index>.<seed hex>.<size>`.
    pub fn key(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}/{:08}.{:016x}.{}",
            self.thread, self.index, self.content.seed, self.content.size
        )
    }

    /// The object a key names, if it is a benchmark key under `prefix`.
    pub fn from_key(prefix: &str, key: &str) -> Option<Self> {
        let rest = key.strip_prefix(prefix)?;
        let (thread, name) = rest.split_once('/')?;
        let mut fields = name.split('.');
        let index = fields.next()?.parse().ok()?;
        let seed_hex = fields.next()?;
        if seed_hex.len() != 16 {
            return None;
        }
        let seed = u64::from_str_radix(seed_hex, 16).ok()?;
        let size = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        Some(Self {
            thread: thread.parse().ok()?,
            index,
            content: Content::new(seed, size),
        })
    }
}

/// The content a benchmark key promises (any prefix).
pub fn content_of_key(key: &str) -> Option<Content> {
    let (dir, _) = key.rsplit_once('/')?;
    let prefix_end = dir.rfind('/').map_or(0, |i| i + 1);
    ObjectRef::from_key(&key[..prefix_end], key).map(|o| o.content)
}

/// Leaf elements of an XML document as (`/`-joined path of local names,
/// text), in document order. `None` if it is not well-formed.
fn xml_leaves(body: &[u8]) -> Option<Vec<(String, String)>> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    // (local name, whether it has child elements)
    let mut path: Vec<(String, bool)> = Vec::new();
    let mut text = String::new();
    let mut leaves = Vec::new();
    let joined = |path: &[(String, bool)]| {
        path.iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join("/")
    };
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                if let Some(parent) = path.last_mut() {
                    parent.1 = true;
                }
                path.push((
                    String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    false,
                ));
                text.clear();
            }
            Event::Empty(start) => {
                if let Some(parent) = path.last_mut() {
                    parent.1 = true;
                }
                path.push((
                    String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    false,
                ));
                leaves.push((joined(&path), String::new()));
                path.pop();
            }
            Event::End(_) => {
                if path.last().is_some_and(|(_, has_children)| !has_children) {
                    leaves.push((joined(&path), std::mem::take(&mut text)));
                }
                path.pop();
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content().ok()?),
            Event::CData(t) => text.push_str(&t.xml10_content().ok()?),
            Event::GeneralRef(reference) => {
                let ch = match reference.resolve_char_ref().ok()? {
                    Some(ch) => ch,
                    None => match AsRef::<[u8]>::as_ref(&*reference) {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return None,
                    },
                };
                text.push(ch);
            }
            Event::DocType(_) => return None,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    path.is_empty().then_some(leaves)
}

fn leaf<'a>(leaves: &'a [(String, String)], path: &str) -> Option<&'a str> {
    leaves
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.as_str())
}

/// The `<Code>` of an S3 error document.
pub fn error_code(body: &[u8]) -> Option<String> {
    let leaves = xml_leaves(body)?;
    leaf(&leaves, "Error/Code").map(str::to_string)
}

/// The `UploadId` of an InitiateMultipartUploadResult.
pub fn upload_id(body: &[u8]) -> Option<String> {
    let leaves = xml_leaves(body)?;
    leaf(&leaves, "InitiateMultipartUploadResult/UploadId").map(str::to_string)
}

/// One page of a ListObjectsV2 answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// (key, size) in the order listed.
    pub objects: Vec<(String, u64)>,
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

pub fn list_page(body: &[u8]) -> Option<ListPage> {
    let leaves = xml_leaves(body)?;
    let mut page = ListPage::default();
    let mut key: Option<String> = None;
    for (path, text) in leaves {
        match path.as_str() {
            "ListBucketResult/Contents/Key" => key = Some(text),
            "ListBucketResult/Contents/Size" => {
                page.objects.push((key.take()?, text.trim().parse().ok()?));
            }
            "ListBucketResult/IsTruncated" => page.is_truncated = text.trim() == "true",
            "ListBucketResult/NextContinuationToken" => page.next_continuation_token = Some(text),
            _ => {}
        }
    }
    if key.is_some() {
        return None;
    }
    Some(page)
}

/// (key, upload id) of a ListMultipartUploads page, and whether it is truncated.
pub fn uploads_page(body: &[u8]) -> Option<(Vec<(String, String)>, bool)> {
    let leaves = xml_leaves(body)?;
    let mut uploads = Vec::new();
    let mut key: Option<String> = None;
    let mut truncated = false;
    for (path, text) in leaves {
        match path.as_str() {
            "ListMultipartUploadsResult/Upload/Key" => key = Some(text),
            "ListMultipartUploadsResult/Upload/UploadId" => uploads.push((key.take()?, text)),
            "ListMultipartUploadsResult/IsTruncated" => truncated = text.trim() == "true",
            _ => {}
        }
    }
    Some((uploads, truncated))
}

/// The first `<Error>` of a DeleteObjects result, as "key: code".
pub fn delete_errors(body: &[u8]) -> Option<Vec<String>> {
    let leaves = xml_leaves(body)?;
    let mut errors = Vec::new();
    let mut key = String::new();
    for (path, text) in leaves {
        match path.as_str() {
            "DeleteResult/Error/Key" => key = text,
            "DeleteResult/Error/Code" => errors.push(format!("{key}: {text}")),
            _ => {}
        }
    }
    Some(errors)
}

/// Appends `text` to `out` with XML's five special characters escaped.
pub fn xml_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// The body of DeleteObjects in quiet mode.
pub fn delete_body(keys: &[String]) -> String {
    let mut out = String::with_capacity(64 + keys.len() * 64);
    out.push_str("<Delete><Quiet>true</Quiet>");
    for key in keys {
        out.push_str("<Object><Key>");
        xml_escape(key, &mut out);
        out.push_str("</Key></Object>");
    }
    out.push_str("</Delete>");
    out
}

/// The body of CompleteMultipartUpload: part numbers from 1, ETags as returned.
pub fn complete_body(etags: &[String]) -> String {
    let mut out = String::with_capacity(64 + etags.len() * 96);
    out.push_str("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        out.push_str(&format!("<Part><PartNumber>{}</PartNumber><ETag>", i + 1));
        xml_escape(etag, &mut out);
        out.push_str("</ETag></Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// Whether a 200 answer to CompleteMultipartUpload is in fact an error
/// (S3 may fail the request after it has sent the status line).
pub fn is_error_document(body: &[u8]) -> bool {
    xml_leaves(body).is_some_and(|leaves| leaves.iter().any(|(p, _)| p.starts_with("Error/")))
}
