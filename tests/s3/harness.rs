//! Starts the real `ringgate` binary on an ephemeral loopback port with a fresh
//! data folder, and builds AWS SDK clients for it (default SDK configuration:
//! CRC checksums, aws-chunked bodies where the SDK uses them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::Client;

pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub access_key: String,
    pub secret_key: String,
    pub tls: Option<Tls>,
    args: Vec<String>,
    /// The server's stderr lines (its log), when started with `start_logged`.
    pub log: Option<Arc<Mutex<Vec<String>>>>,
    _dir: Option<tempfile::TempDir>,
}

pub struct Tls {
    pub cert_pem: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Server {
    /// A server with default settings and `extra` flags (two cores).
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let mut server = Server::spawn(&data, extra, None);
        server._dir = Some(dir);
        server
    }

    /// Like `start`, with the server's stderr (its log) kept in `log` instead
    /// of passed through.
    pub fn start_logged(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let log = Some(Arc::new(Mutex::new(Vec::new())));
        let mut server = Server::spawn_with(&data, extra, None, log);
        server._dir = Some(dir);
        server
    }

    /// A server terminating TLS with a throwaway certificate for 127.0.0.1.
    pub fn start_tls(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("certificate");
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        let tls = Tls {
            cert_pem: cert.cert.pem(),
            cert: cert_path,
            key: key_path,
        };
        let data = dir.path().join("data");
        let mut server = Server::spawn(&data, extra, Some(tls));
        server._dir = Some(dir);
        server
    }

    fn spawn(data: &Path, extra: &[&str], tls: Option<Tls>) -> Server {
        Server::spawn_with(data, extra, tls, None)
    }

    fn spawn_with(
        data: &Path,
        extra: &[&str],
        tls: Option<Tls>,
        log: Option<Arc<Mutex<Vec<String>>>>,
    ) -> Server {
        // Two cores unless the test names its own.
        let cores: &[&str] = if extra.contains(&"--cores") {
            &[]
        } else {
            &["--cores", "2"]
        };
        let mut args: Vec<String> = ["serve", "--listen", "127.0.0.1:0"]
            .iter()
            .chain(cores)
            .map(|s| s.to_string())
            .collect();
        args.push("--data".into());
        args.push(data.display().to_string());
        if let Some(tls) = &tls {
            args.extend([
                "--tls-cert".into(),
                tls.cert.display().to_string(),
                "--tls-key".into(),
                tls.key.display().to_string(),
            ]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut server = Server {
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            data: data.to_path_buf(),
            access_key: String::new(),
            secret_key: String::new(),
            tls,
            args,
            log,
            _dir: None,
        };
        server.launch();
        server
    }

    /// Starts the process (again, after `kill`), on the same data folder and
    /// the same port if it had one.
    pub fn launch(&mut self) {
        let mut args = self.args.clone();
        if self.addr.port() != 0 {
            let at = args.iter().position(|a| a == "--listen").unwrap();
            args[at + 1] = self.addr.to_string();
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringgate"));
        command.args(&args).stdout(Stdio::piped());
        if self.log.is_some() {
            command.stderr(Stdio::piped());
        } else if std::env::var_os("RUST_LOG").is_none() {
            // Passed through to the test's output: warnings and errors only
            // (no access log), unless the one running the tests asks for more.
            command.env("RUST_LOG", "warn");
        }
        let mut child = command.spawn().expect("ringgate starts");
        if let (Some(log), Some(stderr)) = (&self.log, child.stderr.take()) {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split("://").nth(1).unwrap().split(' ').next().unwrap();
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("ringgate prints its address");
        self.addr = addr.parse().unwrap();
        self.child = Some(child);
        let credentials = std::fs::read_to_string(self.data.join("credentials")).unwrap();
        for line in credentials.lines() {
            if let Some((name, value)) = line.split_once('=') {
                match name.trim() {
                    "aws_access_key_id" => self.access_key = value.trim().to_string(),
                    "aws_secret_access_key" => self.secret_key = value.trim().to_string(),
                    _ => {}
                }
            }
        }
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait; returns whether it exited cleanly within `limit`.
    pub fn stop(&mut self, limit: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// A client with the default project's credentials.
    pub fn client(&self) -> Client {
        self.client_with(&self.access_key, &self.secret_key)
    }

    /// A client with other credentials (a registered grant's).
    pub fn client_with(&self, access_key: &str, secret_key: &str) -> Client {
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(access_key, secret_key, None, None, "test"));
        if let Some(tls) = &self.tls {
            use aws_smithy_http_client::tls;
            let http = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::Ring,
                ))
                .tls_context(
                    tls::TlsContext::builder()
                        .with_trust_store(
                            tls::TrustStore::empty().with_pem_certificate(tls.cert_pem.as_bytes()),
                        )
                        .build()
                        .unwrap(),
                )
                .build_https();
            config = config.http_client(http);
        }
        Client::from_conf(config.build())
    }

    /// The default project's grant, as first start wrote it.
    pub fn grant(&self) -> String {
        std::fs::read_to_string(self.data.join("grant"))
            .expect("<data>/grant")
            .trim()
            .to_string()
    }

    /// The body of a GET to the admin listener (`/metrics`, `/health`).
    pub fn admin_get(&self, path: &str) -> String {
        let addr = std::fs::read_to_string(self.data.join("admin.addr")).expect("admin.addr");
        let mut stream = std::net::TcpStream::connect(addr.trim()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, body)| body.to_string())
    }

    /// Every piece file under the data folder's stores.
    pub fn piece_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let stores = self.data.join("stores");
        let mut stack = vec![stores];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if !path.to_string_lossy().ends_with(".tmp")
                    && path.file_name().is_some_and(|n| n != "store-id")
                {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// Sends raw bytes on a fresh connection; returns everything the server
    /// answers until it closes or `wait` passes without a byte.
    pub fn raw(&self, request: &[u8], wait: Duration) -> Vec<u8> {
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(wait)).unwrap();
        let _ = stream.write_all(request);
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    ringgate::pipeline::checksum::hex(&md5::Md5::digest(data))
}

/// The body of `bucket/key` (of `range`, a Range header value, if given).
pub async fn get_bytes(s3: &Client, bucket: &str, key: &str, range: Option<String>) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}

/// PUTs `data` as `bucket/key`.
pub async fn put_bytes(s3: &Client, bucket: &str, key: &str, data: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
}

/// The current time as SigV4 writes it.
/// PutBucketVersioning: the error code, "OK" for a success.
pub async fn try_set_versioning(
    s3: &Client,
    bucket: &str,
    status: aws_sdk_s3::types::BucketVersioningStatus,
) -> String {
    let config = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(status)
        .build();
    code(
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(config)
            .send()
            .await,
    )
}

/// PutBucketVersioning, which must succeed.
pub async fn set_versioning(
    s3: &Client,
    bucket: &str,
    status: aws_sdk_s3::types::BucketVersioningStatus,
) {
    assert_eq!(
        try_set_versioning(s3, bucket, status).await,
        "OK",
        "{bucket}"
    );
}

/// GetBucketVersioning's status (`None`: never versioned).
pub async fn versioning_of(
    s3: &Client,
    bucket: &str,
) -> Option<aws_sdk_s3::types::BucketVersioningStatus> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.status().cloned()
}

/// Creates `bucket` with versioning enabled.
pub async fn versioned_bucket(s3: &Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    set_versioning(
        s3,
        bucket,
        aws_sdk_s3::types::BucketVersioningStatus::Enabled,
    )
    .await;
}

/// Uploads `body` as the one part of `upload_id` (created by the caller, with
/// whatever headers it tests) and completes the upload; the completion.
pub async fn complete_with_one_part(
    s3: &Client,
    (bucket, key, upload_id): (&str, &str, &str),
    body: &'static [u8],
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let part = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(1)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(body))
        .send()
        .await
        .unwrap();
    let completed = CompletedPart::builder()
        .part_number(1)
        .e_tag(part.e_tag().unwrap())
        .build();
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(completed).build())
        .send()
        .await
        .unwrap()
}

pub fn now() -> ringgate::sigv4::AmzDateTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    ringgate::sigv4::AmzDateTime::from_unix_secs(secs).unwrap()
}

/// The head of a PUT of `length` bytes to `path`, signed with the server's
/// credentials for an unsigned payload, asking the server to close after it.
pub fn unsigned_put_head(server: &Server, path: &str, length: u64) -> String {
    use ringgate::sigv4::{PayloadHash, RequestParts, RequestSigner};
    let host = server.addr.to_string();
    let length = length.to_string();
    let headers: Vec<(&str, &[u8])> = vec![
        ("host", host.as_bytes()),
        ("content-length", length.as_bytes()),
    ];
    let signer = RequestSigner::new(
        &server.access_key,
        server.secret_key.as_bytes(),
        "us-east-1",
        now(),
    );
    let parts = RequestParts {
        method: "PUT",
        raw_path: path,
        raw_query: "",
        headers: &headers,
    };
    let signed = signer.sign(&parts, &PayloadHash::Unsigned).unwrap();
    let mut head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {length}\r\nconnection: close\r\n"
    );
    for (name, value) in &signed.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("authorization: {}\r\n\r\n", signed.authorization));
    head
}

/// The S3 error code of a failed call, "OK" for a success.
pub fn code<T, E: ProvideErrorMetadata + std::fmt::Debug>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => "OK".into(),
        Err(e) => e
            .code()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{e:?}")),
    }
}

/// The status code of a raw HTTP response.
pub fn status_of(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The `<Code>` of an S3 error document in a raw response.
pub fn code_of(response: &[u8]) -> String {
    let text = String::from_utf8_lossy(response);
    text.split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or("")
        .to_string()
}
