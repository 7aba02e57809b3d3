//! A connection's byte stream: plain TCP, or TLS terminated here with rustls
//! driven sans-IO on the core's own executor (rustls never sees a socket; this
//! file moves its records to and from the glommio `TcpStream`). The AEAD is
//! `ring`'s AES-GCM, the same implementation that seals pieces.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConnection;

/// Plaintext bytes handed to rustls per TLS flush: bounds the ciphertext
/// buffered per connection while large bodies stream out.
const TLS_WRITE_SLICE_BYTES: usize = 64 << 10;
const TLS_READ_BUFFER_BYTES: usize = 64 << 10;

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsTransport>),
}

pub struct TlsTransport {
    tcp: TcpStream,
    tls: ServerConnection,
    /// Ciphertext read from the socket; `incoming_start..incoming_end` is not
    /// yet handed to rustls.
    incoming: Vec<u8>,
    incoming_start: usize,
    incoming_end: usize,
    outgoing: Vec<u8>,
}

/// Loads a PEM certificate chain and key into a rustls server configuration
/// that speaks HTTP/1.1 over TLS 1.2 and 1.3 with `ring` cryptography.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Transport {
    pub fn new(tcp: TcpStream, tls: Option<&Arc<rustls::ServerConfig>>) -> io::Result<Self> {
        tcp.set_nodelay(true)?;
        Ok(match tls {
            None => Self::Plain(tcp),
            Some(config) => Self::Tls(Box::new(TlsTransport {
                tcp,
                tls: ServerConnection::new(config.clone()).map_err(io::Error::other)?,
                incoming: vec![0; TLS_READ_BUFFER_BYTES],
                incoming_start: 0,
                incoming_end: 0,
                outgoing: Vec::new(),
            })),
        })
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(t) => &t.tcp,
        }
    }

    /// A read that makes no progress for this long fails with `TimedOut`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp()
            .set_read_timeout(timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp()
            .set_write_timeout(timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Reads plaintext; 0 means the peer closed.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(tcp) => tcp.read(buf).await,
            Self::Tls(t) => t.read(buf).await,
        }
    }

    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(tcp) => tcp.write_all(data).await,
            Self::Tls(t) => t.write_all(data).await,
        }
    }

    /// Ends the connection politely: TLS close_notify, then TCP FIN.
    pub async fn close(&mut self) {
        if let Self::Tls(t) = self {
            t.tls.send_close_notify();
            let _ = t.flush().await;
        }
        let _ = match self {
            Self::Plain(tcp) => tcp.close().await,
            Self::Tls(t) => t.tcp.close().await,
        };
    }
}

impl TlsTransport {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.incoming_start < self.incoming_end {
                // Feed rustls what it will take; its plaintext buffer is
                // bounded, so the rest waits until the plaintext is read.
                let mut pending = &self.incoming[self.incoming_start..self.incoming_end];
                let fed = self.tls.read_tls(&mut pending)?;
                self.incoming_start += fed;
                if let Err(e) = self.tls.process_new_packets() {
                    // Send the alert rustls queued, then fail the connection.
                    let _ = self.flush().await;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                continue;
            }
            // rustls needs records: answer the handshake first, then read more.
            self.flush().await?;
            let n = self.tcp.read(&mut self.incoming).await?;
            if n == 0 {
                return Ok(0);
            }
            self.incoming_start = 0;
            self.incoming_end = n;
        }
    }

    async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let slice = &data[..data.len().min(TLS_WRITE_SLICE_BYTES)];
            self.tls.writer().write_all(slice)?;
            data = &data[slice.len()..];
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends every TLS record rustls has ready.
    async fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            self.outgoing.clear();
            self.tls.write_tls(&mut self.outgoing)?;
            self.tcp.write_all(&self.outgoing).await?;
        }
        Ok(())
    }
}
