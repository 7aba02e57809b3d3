//! The HTTP/1.1 client's I/O: connections (plain TCP, or TLS through rustls
//! driven sans-IO on the executor, as the server's transport does), a
//! per-thread pool of idle keep-alive connections, and the exchange: write
//! a head and a generated body, read the response head, stream the body to
//! a sink. One connection carries one request at a time; the pool holds at
//! most as many as the thread has requests in flight.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::ClientConnection;

use super::wire::{parse_response_head, BodyReader, BodyStep, ResponseHead, WireError};

/// Read buffer per connection: a GET body is checked from here while it is
/// still in cache.
pub const READ_BUFFER_BYTES: usize = 256 << 10;
const TLS_READ_BUFFER_BYTES: usize = 64 << 10;
const TLS_WRITE_SLICE_BYTES: usize = 64 << 10;

/// How a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connect to {addr}: {error}")]
    Connect { addr: SocketAddr, error: String },
    #[error("{during}: {error}")]
    Io {
        during: &'static str,
        error: String,
        /// Whether any byte of the response had arrived.
        response_started: bool,
    },
    #[error("{during}: timed out")]
    Timeout { during: &'static str },
    #[error("{0}")]
    Wire(#[from] WireError),
}

impl HttpError {
    fn io(during: &'static str, e: io::Error, response_started: bool) -> Self {
        if e.kind() == io::ErrorKind::TimedOut {
            Self::Timeout { during }
        } else {
            Self::Io {
                during,
                error: e.to_string(),
                response_started,
            }
        }
    }
}

/// Where and how to connect.
pub struct ConnectTarget {
    /// Tried in order until one answers (a name may resolve to ::1 and 127.0.0.1).
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    pub timeout: Duration,
}

/// A rustls client configuration trusting the PEM certificates in `ca_file`,
/// or the system's bundle (`SSL_CERT_FILE`, then the usual paths).
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    const BUNDLES: [&str; 4] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let path = match ca_file {
        Some(p) => p.to_path_buf(),
        None => from_env
            .into_iter()
            .chain(BUNDLES.iter().map(std::path::PathBuf::from))
            .find(|p| p.is_file())
            .ok_or("no CA bundle found: give one with --ca-file")?,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{}: no usable CA certificate", path.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

struct TlsStream {
    tcp: TcpStream,
    tls: ClientConnection,
    incoming: Box<[u8]>,
    incoming_start: usize,
    incoming_end: usize,
    outgoing: Vec<u8>,
    /// The TCP stream ended.
    eof: bool,
}

impl TlsStream {
    async fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            self.outgoing.clear();
            self.tls.write_tls(&mut self.outgoing)?;
            self.tcp.write_all(&self.outgoing).await?;
        }
        Ok(())
    }

    /// Hands rustls more ciphertext; `false` at the end of the TCP stream.
    async fn feed(&mut self) -> io::Result<bool> {
        if self.incoming_start == self.incoming_end {
            if self.eof {
                return Ok(false);
            }
            let n = self.tcp.read(&mut self.incoming).await?;
            if n == 0 {
                self.eof = true;
                // Tell rustls: it then reports a clean or an unclean close.
                self.tls.read_tls(&mut &[][..])?;
                return Ok(false);
            }
            self.incoming_start = 0;
            self.incoming_end = n;
        }
        let mut pending = &self.incoming[self.incoming_start..self.incoming_end];
        let fed = self.tls.read_tls(&mut pending)?;
        self.incoming_start += fed;
        if let Err(e) = self.tls.process_new_packets() {
            let _ = self.flush().await;
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(true)
    }

    async fn handshake(&mut self) -> io::Result<()> {
        while self.tls.is_handshaking() {
            self.flush().await?;
            if self.tls.wants_read() && !self.feed().await? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during the TLS handshake",
                ));
            }
        }
        self.flush().await
    }

    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if !self.feed().await? {
                // rustls has been told; one more look at what it holds.
                return match self.tls.reader().read(buf) {
                    Ok(n) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                    Err(e) => Err(e),
                };
            }
            self.flush().await?;
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        for slice in data.chunks(TLS_WRITE_SLICE_BYTES) {
            self.tls.writer().write_all(slice)?;
            self.flush().await?;
        }
        Ok(())
    }
}

/// One keep-alive connection and its read buffer.
pub struct Conn {
    stream: Stream,
    buf: Box<[u8]>,
    /// `buf[start..end]` is read but not yet used.
    start: usize,
    end: usize,
    /// Whether it already carried a request: a failure before any response
    /// byte then most likely means the server closed it while idle.
    pub reused: bool,
}

impl Conn {
    pub async fn connect(target: &ConnectTarget) -> Result<Self, HttpError> {
        let mut last = None;
        let mut connected = None;
        for &addr in &target.addrs {
            match TcpStream::connect_timeout(addr, target.timeout).await {
                Ok(tcp) => {
                    connected = Some((addr, tcp));
                    break;
                }
                Err(e) => last = Some((addr, e.to_string())),
            }
        }
        let (addr, tcp) = match connected {
            Some(c) => c,
            None => {
                let (addr, error) = last.unwrap_or((
                    SocketAddr::from(([0, 0, 0, 0], 0)),
                    "no address to connect to".into(),
                ));
                return Err(HttpError::Connect { addr, error });
            }
        };
        let connect_error = |e: String| HttpError::Connect { addr, error: e };
        tcp.set_nodelay(true)
            .map_err(|e| connect_error(e.to_string()))?;
        tcp.set_read_timeout(Some(target.timeout))
            .map_err(|e| connect_error(e.to_string()))?;
        tcp.set_write_timeout(Some(target.timeout))
            .map_err(|e| connect_error(e.to_string()))?;
        let stream = match &target.tls {
            None => Stream::Plain(tcp),
            Some((config, name)) => {
                let tls = ClientConnection::new(config.clone(), name.clone())
                    .map_err(|e| connect_error(e.to_string()))?;
                let mut s = Box::new(TlsStream {
                    tcp,
                    tls,
                    incoming: vec![0; TLS_READ_BUFFER_BYTES].into_boxed_slice(),
                    incoming_start: 0,
                    incoming_end: 0,
                    outgoing: Vec::new(),
                    eof: false,
                });
                s.handshake()
                    .await
                    .map_err(|e| connect_error(format!("TLS handshake: {e}")))?;
                Stream::Tls(s)
            }
        };
        Ok(Self {
            stream,
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            reused: false,
        })
    }

    pub async fn write_all(&mut self, data: &[u8]) -> Result<(), HttpError> {
        let result = match &mut self.stream {
            Stream::Plain(tcp) => tcp.write_all(data).await,
            Stream::Tls(t) => t.write_all(data).await,
        };
        result.map_err(|e| HttpError::io("sending the request", e, false))
    }

    async fn fill(&mut self, during: &'static str, started: bool) -> Result<usize, HttpError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let result = match &mut self.stream {
            Stream::Plain(tcp) => tcp.read(&mut self.buf[self.end..]).await,
            Stream::Tls(t) => t.read(&mut self.buf[self.end..]).await,
        };
        let n = result.map_err(|e| HttpError::io(during, e, started))?;
        self.end += n;
        Ok(n)
    }

    /// Reads a response head; also returns when its first byte arrived.
    pub async fn read_head(&mut self) -> Result<(ResponseHead, Instant), HttpError> {
        let mut first_byte = if self.start < self.end {
            Some(Instant::now())
        } else {
            None
        };
        loop {
            if self.start < self.end {
                if let Some((head, used)) = parse_response_head(&self.buf[self.start..self.end])? {
                    self.start += used;
                    // 100 Continue and other interim answers: the real one follows.
                    if head.status / 100 == 1 && head.status != 101 {
                        continue;
                    }
                    return Ok((head, first_byte.unwrap_or_else(Instant::now)));
                }
            }
            if self.start == 0 && self.end == self.buf.len() {
                return Err(WireError::HeadTooLarge.into());
            }
            let n = self
                .fill("reading the response head", first_byte.is_some())
                .await?;
            if n == 0 {
                return Err(HttpError::Io {
                    during: "reading the response head",
                    error: "connection closed".into(),
                    response_started: first_byte.is_some(),
                });
            }
            first_byte.get_or_insert_with(Instant::now);
        }
    }

    /// Streams a body to `sink`, which may stop it with an error of its own.
    pub async fn read_body<E: From<HttpError>>(
        &mut self,
        reader: &mut BodyReader,
        mut sink: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            if reader.is_done() {
                return Ok(());
            }
            if self.start < self.end {
                match reader
                    .step(&self.buf[self.start..self.end])
                    .map_err(HttpError::from)?
                {
                    BodyStep::Data { range, consumed } => {
                        let data = &self.buf[self.start..self.end][range];
                        sink(data)?;
                        self.start += consumed;
                        continue;
                    }
                    BodyStep::Done { consumed } => {
                        self.start += consumed;
                        return Ok(());
                    }
                    BodyStep::NeedMore => {
                        self.start = self.end;
                    }
                }
            }
            let n = self.fill("reading the response body", true).await?;
            if n == 0 {
                reader.at_close().map_err(HttpError::from)?;
                return Ok(());
            }
        }
    }

    /// Whether bytes beyond the response arrived (the server misbehaved).
    pub fn has_leftover(&self) -> bool {
        self.start < self.end
    }
}

/// A thread's idle connections to one endpoint.
pub struct Pool {
    target: ConnectTarget,
    idle: RefCell<Vec<Conn>>,
    opened: Cell<u64>,
}

impl Pool {
    pub fn new(target: ConnectTarget) -> Self {
        Self {
            target,
            idle: RefCell::new(Vec::new()),
            opened: Cell::new(0),
        }
    }

    /// An idle connection, or a new one.
    pub async fn checkout(&self) -> Result<Conn, HttpError> {
        let idle = self.idle.borrow_mut().pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect().await,
        }
    }

    pub async fn connect(&self) -> Result<Conn, HttpError> {
        let conn = Conn::connect(&self.target).await?;
        self.opened.set(self.opened.get() + 1);
        Ok(conn)
    }

    /// Back to the pool, for the next request.
    pub fn checkin(&self, mut conn: Conn) {
        conn.reused = true;
        self.idle.borrow_mut().push(conn);
    }

    /// Connections opened so far.
    pub fn opened(&self) -> u64 {
        self.opened.get()
    }

    /// Closes every idle connection.
    pub fn clear(&self) {
        self.idle.borrow_mut().clear();
    }
}
