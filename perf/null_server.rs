//! A null S3 server: the ceiling perf/ reads every other figure against.
//!
//! It parses each request head (httparse), verifies nothing (no signature,
//! no checksum), discards request bodies (by Content-Length or HTTP chunked
//! framing; aws-chunked bodies are discarded by their Content-Length like any
//! other), and answers from memory: a bucket is the set of its key names, and
//! a GET answers with the exact bytes `ringgate bench` expects, made from the
//! seed and size the key carries (`ringgate::bench::content`), so the load
//! generator checks every byte it reads here as it does against a real server.
//! What a run against it measures is what this machine, this loopback and
//! this load generator can do at all.
//!
//! It answers what the perf scenarios send: CreateBucket, HeadBucket,
//! DeleteBucket, PutObject, GetObject (whole and ranged), HeadObject,
//! DeleteObject, DeleteObjects, ListObjectsV2 (sorted and paged, sizes from
//! the keys, no delimiter), CreateMultipartUpload, UploadPart,
//! CompleteMultipartUpload, AbortMultipartUpload and ListMultipartUploads.
//! Anything else is `501 NotImplemented`.
//!
//! Thread-per-core like ringgate: one glommio executor per CPU (`--cpus`
//! pins them), each with its own SO_REUSEPORT listener; the key sets are the
//! one shared thing, behind a mutex held for a lookup or an insert. Every
//! socket has TCP_NODELAY and a response head leaves in the same write as the
//! first (or only) bytes of its body.
//!
//! `cargo run --release --example null-server -- --listen 127.0.0.1:0 --cpus 1`

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use ringgate::auth::time::format_time;
use ringgate::bench::content::Content;
use ringgate::bench::s3::{content_of_key, xml_escape as escape_into};
use ringgate::http::{ChunkedDecoder, ChunkedLimits, ChunkedStep};
use ringgate::target::{decode_path, parse_query};

/// Bytes read from a socket at a time; also the largest request head.
const READ_BYTES: usize = 1 << 20;
/// Body bytes generated per write of a GET answer (fits in L2, so the
/// kernel's copy reads it from cache).
const WRITE_BYTES: usize = 256 << 10;
/// Room for a response head in front of the first body bytes.
const HEAD_ROOM_BYTES: usize = 4 << 10;
/// Largest request body kept (the XML of DeleteObjects and
/// CompleteMultipartUpload); other bodies are discarded.
const KEPT_BODY_BYTES_MAX: usize = 16 << 20;
/// Most header lines a request may have.
const REQUEST_HEADERS_MAX: usize = 64;
/// Most keys or uploads per listing page.
const LIST_KEYS_MAX: usize = 1000;
/// The ETag of everything written: the server computes no digest.
const NULL_ETAG: &str = "\"00000000000000000000000000000000\"";

#[derive(Parser, Debug)]
#[command(
    name = "null-server",
    about = "A null S3 server: parses, verifies nothing, discards bodies, answers from memory"
)]
struct Args {
    /// Address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// One executor pinned to each of these CPUs [default: one unpinned executor per available CPU]
    #[arg(long, value_name = "CPUS", value_delimiter = ',')]
    cpus: Option<Vec<usize>>,
    /// Write the bound address (host:port) to this file once listening
    #[arg(long, value_name = "FILE")]
    addr_file: Option<PathBuf>,
}

/// A bucket: the names of its objects and its open multipart uploads.
#[derive(Default)]
struct Bucket {
    keys: BTreeSet<String>,
    /// (key, upload id)
    uploads: BTreeSet<(String, String)>,
}

/// Everything the server remembers, shared by the executors.
struct Store {
    buckets: Mutex<HashMap<String, Bucket>>,
    next_upload: AtomicU64,
    /// The LastModified of every listed object: when the server started.
    started_rfc3339: String,
}

fn main() {
    let args = Args::parse();
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let store = Arc::new(Store {
        buckets: Mutex::new(HashMap::new()),
        next_upload: AtomicU64::new(1),
        started_rfc3339: format_time(started),
    });
    let placements: Vec<Placement> = match &args.cpus {
        Some(cpus) => cpus.iter().map(|&c| Placement::Fixed(c)).collect(),
        None => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..n).map(|_| Placement::Unbound).collect()
        }
    };
    let mut listen = args.listen;
    let mut executors = Vec::new();
    for (core, placement) in placements.into_iter().enumerate() {
        let (bound_tx, bound_rx) = std::sync::mpsc::channel::<io::Result<SocketAddr>>();
        let store = store.clone();
        let executor = LocalExecutorBuilder::new(placement)
            .name(&format!("null-server-{core}"))
            .spawn(move || async move { accept_loop(listen, store, bound_tx).await })
            .unwrap_or_else(|e| fail(&format!("starting executor {core}: {e}")));
        executors.push(executor);
        // The first executor binds first: with port 0 the others need its port.
        match bound_rx.recv() {
            Ok(Ok(addr)) => listen = addr,
            Ok(Err(e)) => fail(&format!("listening on {listen}: {e}")),
            Err(_) => fail("an executor stopped while starting"),
        }
    }
    if let Some(path) = &args.addr_file {
        if let Err(e) = std::fs::write(path, listen.to_string()) {
            fail(&format!("writing {}: {e}", path.display()));
        }
    }
    println!("null-server: listening on http://{listen}");
    for executor in executors {
        let _ = executor.join();
    }
}

fn fail(message: &str) -> ! {
    eprintln!("null-server: {message}");
    std::process::exit(2);
}

async fn accept_loop(
    listen: SocketAddr,
    store: Arc<Store>,
    bound: std::sync::mpsc::Sender<io::Result<SocketAddr>>,
) {
    let listener = match TcpListener::bind(listen) {
        Ok(listener) => listener,
        Err(e) => {
            let _ = bound.send(Err(io::Error::other(e.to_string())));
            return;
        }
    };
    let _ = bound.send(Ok(listener.local_addr().unwrap_or(listen)));
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(e) => {
                // Out of descriptors: back off instead of spinning.
                eprintln!("null-server: accept: {e}");
                glommio::timer::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let store = store.clone();
        glommio::spawn_local(async move {
            let mut conn = Conn::new(stream, store);
            if let Err(e) = conn.serve().await {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ) {
                    eprintln!("null-server: connection: {e}");
                }
            }
        })
        .detach();
    }
}

/// What the server needs of a request head.
struct Request {
    method: String,
    bucket: String,
    key: String,
    query: Vec<(String, String)>,
    content_length: u64,
    chunked: bool,
    expect_continue: bool,
    range: Option<String>,
    close: bool,
}

impl Request {
    fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(n, _)| n == name)
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request head at the start of `buf`: `Ok(None)` until it is complete,
/// then the request and the head's length.
fn parse_head(buf: &[u8]) -> io::Result<Option<(Request, usize)>> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let mut headers = [httparse::EMPTY_HEADER; REQUEST_HEADERS_MAX];
    let mut parsed = httparse::Request::new(&mut headers);
    let used = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(bad(format!("malformed request head: {e}"))),
    };
    let target = parsed.path.unwrap_or("/");
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = decode_path(raw_path).map_err(|e| bad(format!("path: {e}")))?;
    let query = parse_query(raw_query).map_err(|e| bad(format!("query: {e}")))?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let mut request = Request {
        method: parsed.method.unwrap_or("").to_string(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        query,
        content_length: 0,
        chunked: false,
        expect_continue: false,
        range: None,
        close: parsed.version == Some(0),
    };
    for h in parsed.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            request.content_length = value
                .parse()
                .map_err(|_| bad(format!("content-length {value:?}")))?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            request.chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("expect") {
            request.expect_continue = value.eq_ignore_ascii_case("100-continue");
        } else if h.name.eq_ignore_ascii_case("range") {
            request.range = Some(value.to_string());
        } else if h.name.eq_ignore_ascii_case("connection") {
            request.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(Some((request, used)))
}

/// An answer: status, extra header lines, and either a small body or
/// object content to generate.
struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
    /// Object content `offset..offset + len` instead of `body`.
    content: Option<(Content, u64, u64)>,
    /// HEAD: the Content-Length the body would have, and no body.
    head_length: Option<u64>,
}

impl Answer {
    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: String::new(),
            body: Vec::new(),
            content: None,
            head_length: None,
        }
    }

    fn xml(status: u16, xml: String) -> Self {
        Self {
            headers: "Content-Type: application/xml\r\n".into(),
            body: xml.into_bytes(),
            ..Self::empty(status)
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::xml(
            status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            ),
        )
    }

    fn with_etag(mut self, etag: &str) -> Self {
        let _ = write!(self.headers, "ETag: {etag}\r\n");
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        416 => "Range Not Satisfiable",
        501 => "Not Implemented",
        _ => "Unknown",
    }
}

/// One connection: its socket, read buffer and write buffer.
struct Conn {
    stream: TcpStream,
    store: Arc<Store>,
    buf: Vec<u8>,
    /// Unconsumed input is `buf[start..end]`.
    start: usize,
    end: usize,
    out: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream, store: Arc<Store>) -> Self {
        Self {
            stream,
            store,
            buf: vec![0; READ_BYTES],
            start: 0,
            end: 0,
            out: vec![0; HEAD_ROOM_BYTES + WRITE_BYTES],
        }
    }

    /// Reads more input; `Ok(false)` when the peer closed.
    async fn fill(&mut self) -> io::Result<bool> {
        // Whatever is left (part of a head, usually nothing) moves to the front.
        self.buf.copy_within(self.start..self.end, 0);
        (self.start, self.end) = (0, self.end - self.start);
        if self.end == self.buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head larger than the read buffer",
            ));
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }

    async fn serve(&mut self) -> io::Result<()> {
        self.stream.set_nodelay(true)?;
        loop {
            let request = loop {
                if let Some((request, used)) = parse_head(&self.buf[self.start..self.end])? {
                    self.start += used;
                    break request;
                }
                if !self.fill().await? {
                    return Ok(());
                }
            };
            if request.expect_continue {
                self.stream
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await?;
            }
            let body = self.read_body(&request).await?;
            let answer = match body {
                Ok(body) => answer(&self.store, &request, &body),
                Err(message) => Answer::error(400, "InvalidRequest", &message),
            };
            self.respond(&answer, request.close).await?;
            if request.close {
                return Ok(());
            }
        }
    }

    /// Reads the request body: kept for POST (XML documents), discarded
    /// otherwise. The inner `Err` is a body the server refuses.
    async fn read_body(&mut self, request: &Request) -> io::Result<Result<Vec<u8>, String>> {
        let keep = request.method == "POST";
        let mut kept = Vec::new();
        let mut too_large = false;
        let mut take = |data: &[u8]| {
            if keep && !too_large {
                if kept.len() + data.len() > KEPT_BODY_BYTES_MAX {
                    too_large = true;
                } else {
                    kept.extend_from_slice(data);
                }
            }
        };
        if request.chunked {
            let mut decoder = ChunkedDecoder::new(ChunkedLimits::default());
            loop {
                let input = &self.buf[self.start..self.end];
                let (consumed, step) = decoder
                    .step(input)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                if let ChunkedStep::Data(range) = &step {
                    take(&input[range.clone()]);
                }
                self.start += consumed;
                match step {
                    ChunkedStep::Data(_) => {}
                    ChunkedStep::Done => break,
                    ChunkedStep::NeedMore => {
                        if !self.fill().await? {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                    }
                }
            }
        } else {
            let mut left = request.content_length;
            loop {
                let n = (left.min((self.end - self.start) as u64)) as usize;
                take(&self.buf[self.start..self.start + n]);
                self.start += n;
                left -= n as u64;
                if left == 0 {
                    break;
                }
                if !self.fill().await? {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
        Ok(if too_large {
            Err(format!("body larger than {KEPT_BODY_BYTES_MAX} bytes"))
        } else {
            Ok(kept)
        })
    }

    /// Writes the answer: the head with the first body bytes in one write.
    async fn respond(&mut self, answer: &Answer, close: bool) -> io::Result<()> {
        let length = match (&answer.content, answer.head_length) {
            (Some((_, _, len)), _) => *len,
            (None, Some(len)) => len,
            (None, None) => answer.body.len() as u64,
        };
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nServer: null-server\r\nContent-Length: {length}\r\n{}{}\r\n",
            answer.status,
            reason(answer.status),
            answer.headers,
            if close { "Connection: close\r\n" } else { "" }
        );
        let (stream, out) = (&mut self.stream, &mut self.out);
        let h = head.len();
        assert!(h <= HEAD_ROOM_BYTES, "response heads are small");
        out[..h].copy_from_slice(head.as_bytes());
        match &answer.content {
            None if answer.head_length.is_some() => stream.write_all(&out[..h]).await,
            None if h + answer.body.len() <= out.len() => {
                out[h..h + answer.body.len()].copy_from_slice(&answer.body);
                stream.write_all(&out[..h + answer.body.len()]).await
            }
            None => {
                stream.write_all(&out[..h]).await?;
                stream.write_all(&answer.body).await
            }
            Some((content, offset, len)) => {
                let (mut at, end) = (*offset, offset + len);
                let mut pending = h;
                loop {
                    let n = (end - at).min(WRITE_BYTES as u64) as usize;
                    content.fill(at, &mut out[pending..pending + n]);
                    stream.write_all(&out[..pending + n]).await?;
                    at += n as u64;
                    pending = 0;
                    if at == end {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// What the server answers to `request` (whose body, if kept, is `body`).
fn answer(store: &Store, request: &Request, body: &[u8]) -> Answer {
    let method = request.method.as_str();
    if request.bucket.is_empty() {
        return match method {
            "GET" => Answer::xml(
                200,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>".into(),
            ),
            _ => Answer::error(501, "NotImplemented", "not implemented"),
        };
    }
    let mut buckets = store.buckets.lock().expect("no thread panics holding it");
    if request.key.is_empty() {
        return bucket_answer(store, &mut buckets, request, body);
    }
    let Some(bucket) = buckets.get_mut(&request.bucket) else {
        return Answer::error(404, "NoSuchBucket", "no such bucket");
    };
    let key = &request.key;
    match method {
        "PUT" if request.has("uploadId") => {
            if bucket_has_upload(bucket, key, request.param("uploadId")) {
                Answer::empty(200).with_etag(NULL_ETAG)
            } else {
                Answer::error(404, "NoSuchUpload", "no such upload")
            }
        }
        "PUT" => {
            if !bucket.keys.contains(key) {
                bucket.keys.insert(key.clone());
            }
            Answer::empty(200).with_etag(NULL_ETAG)
        }
        "GET" | "HEAD" => {
            if !bucket.keys.contains(key) {
                return Answer::error(404, "NoSuchKey", "no such key");
            }
            let content = content_of_key(key).unwrap_or(Content::new(0, 0));
            drop(buckets);
            object_answer(method, content, request.range.as_deref())
        }
        "DELETE" if request.has("uploadId") => {
            let upload_id = request.param("uploadId").unwrap_or("");
            if bucket.uploads.remove(&(key.clone(), upload_id.to_string())) {
                Answer::empty(204)
            } else {
                Answer::error(404, "NoSuchUpload", "no such upload")
            }
        }
        "DELETE" => {
            bucket.keys.remove(key);
            Answer::empty(204)
        }
        "POST" if request.has("uploads") => {
            let upload_id = format!("{:016x}", store.next_upload.fetch_add(1, Ordering::Relaxed));
            bucket.uploads.insert((key.clone(), upload_id.clone()));
            Answer::xml(
                200,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>",
                    xml_escape(&request.bucket),
                    xml_escape(key)
                ),
            )
        }
        "POST" if request.has("uploadId") => {
            let upload_id = request.param("uploadId").unwrap_or("");
            if !bucket.uploads.remove(&(key.clone(), upload_id.to_string())) {
                return Answer::error(404, "NoSuchUpload", "no such upload");
            }
            bucket.keys.insert(key.clone());
            let parts = count_occurrences(body, b"<Part>");
            Answer::xml(
                200,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><ETag>&quot;00000000000000000000000000000000-{parts}&quot;</ETag></CompleteMultipartUploadResult>",
                    xml_escape(&request.bucket),
                    xml_escape(key)
                ),
            )
        }
        _ => Answer::error(501, "NotImplemented", "not implemented"),
    }
}

fn bucket_has_upload(bucket: &Bucket, key: &str, upload_id: Option<&str>) -> bool {
    upload_id.is_some_and(|id| bucket.uploads.contains(&(key.to_string(), id.to_string())))
}

/// Requests on a bucket itself (no key).
fn bucket_answer(
    store: &Store,
    buckets: &mut HashMap<String, Bucket>,
    request: &Request,
    body: &[u8],
) -> Answer {
    let name = &request.bucket;
    match request.method.as_str() {
        "PUT" => {
            buckets.entry(name.clone()).or_default();
            Answer::empty(200)
        }
        "HEAD" => match buckets.contains_key(name) {
            true => Answer::empty(200),
            false => Answer::empty(404),
        },
        "DELETE" => match buckets.get(name) {
            None => Answer::error(404, "NoSuchBucket", "no such bucket"),
            Some(b) if !b.keys.is_empty() || !b.uploads.is_empty() => {
                Answer::error(409, "BucketNotEmpty", "the bucket is not empty")
            }
            Some(_) => {
                buckets.remove(name);
                Answer::empty(204)
            }
        },
        method => {
            let Some(bucket) = buckets.get_mut(name) else {
                return Answer::error(404, "NoSuchBucket", "no such bucket");
            };
            match method {
                "POST" if request.has("delete") => delete_objects(bucket, body),
                "GET" if request.has("uploads") => list_uploads(name, bucket, request),
                "GET" if request.param("list-type") == Some("2") => {
                    list_objects_v2(store, name, bucket, request)
                }
                _ => Answer::error(501, "NotImplemented", "not implemented"),
            }
        }
    }
}

/// GET or HEAD of an object, whole or one `bytes=` range.
fn object_answer(method: &str, content: Content, range: Option<&str>) -> Answer {
    let size = content.size;
    let (status, start, end) = match range {
        None => (200, 0, size),
        Some(spec) => match parse_range(spec, size) {
            Some((start, end)) => (206, start, end),
            None => {
                return Answer::error(416, "InvalidRange", "the range is not satisfiable");
            }
        },
    };
    let mut answer = Answer::empty(status).with_etag(NULL_ETAG);
    if status == 206 {
        let _ = write!(
            answer.headers,
            "Content-Range: bytes {start}-{}/{size}\r\n",
            end - 1
        );
    }
    if method == "HEAD" {
        answer.head_length = Some(end - start);
    } else {
        answer.content = Some((content, start, end - start));
    }
    answer
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` over an object of `size` bytes, as
/// a half-open range; `None` if it is not satisfiable.
fn parse_range(spec: &str, size: u64) -> Option<(u64, u64)> {
    let (first, last) = spec.trim().strip_prefix("bytes=")?.split_once('-')?;
    let (start, end) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => {
            let b: u64 = b.parse().ok()?;
            (a.parse().ok()?, b.saturating_add(1).min(size))
        }
    };
    (start < end).then_some((start, end))
}

fn delete_objects(bucket: &mut Bucket, body: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(body);
    let quiet = text.contains("<Quiet>true</Quiet>");
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("<Key>") {
        rest = &rest[at + 5..];
        let Some(end) = rest.find("</Key>") else {
            break;
        };
        let key = xml_unescape(&rest[..end]);
        rest = &rest[end..];
        bucket.keys.remove(&key);
        if !quiet {
            let _ = write!(xml, "<Deleted><Key>{}</Key></Deleted>", xml_escape(&key));
        }
    }
    xml.push_str("</DeleteResult>");
    Answer::xml(200, xml)
}

fn list_objects_v2(store: &Store, name: &str, bucket: &Bucket, request: &Request) -> Answer {
    if request.param("delimiter").is_some_and(|d| !d.is_empty()) {
        return Answer::error(501, "NotImplemented", "listing with a delimiter");
    }
    let prefix = request.param("prefix").unwrap_or("");
    let max_keys = request
        .param("max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(LIST_KEYS_MAX)
        .min(LIST_KEYS_MAX);
    let after = request
        .param("continuation-token")
        .or(request.param("start-after"))
        .filter(|a| *a >= prefix);
    let lower = match after {
        Some(after) => Bound::Excluded(after),
        None => Bound::Included(prefix),
    };
    let mut keys = bucket
        .keys
        .range::<str, _>((lower, Bound::Unbounded))
        .take_while(|k| k.starts_with(prefix))
        .take(max_keys + 1);
    let page: Vec<&String> = keys.by_ref().take(max_keys).collect();
    let truncated = keys.next().is_some();
    let mut xml = String::with_capacity(256 + page.len() * 256);
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        xml_escape(name),
        xml_escape(prefix),
        page.len()
    );
    if let (true, Some(last)) = (truncated, page.last()) {
        let _ = write!(
            xml,
            "<NextContinuationToken>{}</NextContinuationToken>",
            xml_escape(last)
        );
    }
    for key in &page {
        let size = content_of_key(key).map_or(0, |c| c.size);
        let _ = write!(
            xml,
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>&quot;00000000000000000000000000000000&quot;</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml_escape(key),
            store.started_rfc3339
        );
    }
    xml.push_str("</ListBucketResult>");
    Answer::xml(200, xml)
}

fn list_uploads(name: &str, bucket: &Bucket, request: &Request) -> Answer {
    let prefix = request.param("prefix").unwrap_or("");
    let mut uploads = bucket
        .uploads
        .iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .take(LIST_KEYS_MAX + 1);
    let page: Vec<_> = uploads.by_ref().take(LIST_KEYS_MAX).collect();
    let truncated = uploads.next().is_some();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult><Bucket>{}</Bucket><Prefix>{}</Prefix><IsTruncated>{truncated}</IsTruncated>",
        xml_escape(name),
        xml_escape(prefix)
    );
    for (key, upload_id) in page {
        let _ = write!(
            xml,
            "<Upload><Key>{}</Key><UploadId>{upload_id}</UploadId></Upload>",
            xml_escape(key)
        );
    }
    xml.push_str("</ListMultipartUploadsResult>");
    Answer::xml(200, xml)
}

fn count_occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// `text` with XML's special characters escaped.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
