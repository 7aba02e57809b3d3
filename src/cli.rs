//! The `ringgate project` and `ringgate grant` commands. `grant inspect` and
//! `grant restrict` work offline on the grant string alone; `grant register`
//! asks a gateway's `POST /v1/access`; `project …` and `grant revoke` use the
//! admin API of a running gateway (its address and token are found in the
//! data folder unless given).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::auth::{parse_time, ActionSet, Caveat, Grant};

#[derive(Args, Clone, Debug)]
pub struct AdminTarget {
    /// Data folder of the gateway: its admin address and token are read from it
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data: PathBuf,
    /// Admin listener address [default: from <data>/admin.addr]
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Admin token [default: from <data>/admin-token]
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// Create a project and print its first access grant (the only copy of its root key)
    Create {
        name: String,
        #[command(flatten)]
        target: AdminTarget,
    },
    /// List projects
    List {
        #[command(flatten)]
        target: AdminTarget,
    },
    /// Delete a project that owns no buckets
    Delete {
        /// Project id (32 hex digits)
        id: String,
        #[command(flatten)]
        target: AdminTarget,
    },
}

#[derive(Subcommand, Debug)]
pub enum GrantCommand {
    /// Show what a grant allows (offline)
    Inspect {
        /// The grant, @FILE to read it from a file, or - for standard input
        grant: String,
    },
    /// Derive a narrower grant, offline: anyone holding a grant can restrict it
    Restrict {
        /// The grant, @FILE to read it from a file, or - for standard input
        grant: String,
        /// Allowed bucket (repeatable); with --prefix, only keys under it
        #[arg(long, value_name = "BUCKET")]
        bucket: Vec<String>,
        /// Key prefix within each --bucket
        #[arg(long, value_name = "PREFIX", requires = "bucket")]
        prefix: Option<String>,
        /// Allowed bucket/prefix pair, e.g. photos/2024/ (repeatable)
        #[arg(long, value_name = "BUCKET/PREFIX")]
        path: Vec<String>,
        /// Only read and list
        #[arg(long, conflicts_with = "allow")]
        read_only: bool,
        /// Allowed operations: a comma-separated subset of read,write,list,delete
        #[arg(long, value_name = "OPS")]
        allow: Option<String>,
        /// Not valid before: RFC 3339 or relative (+1h, -15m, now)
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        not_before: Option<String>,
        /// Not valid after: RFC 3339 or relative (+24h, +7d)
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        not_after: Option<String>,
    },
    /// Register a grant with a gateway and print S3 credentials for it
    Register {
        /// The grant, @FILE to read it from a file, or - for standard input
        grant: String,
        /// The gateway's S3 endpoint
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9000")]
        endpoint: String,
        /// PEM certificate to trust for an https endpoint
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
    /// Revoke an API key head: every grant derived from it stops working
    Revoke {
        /// The head id that `grant inspect` shows (32 hex digits)
        head: String,
        #[command(flatten)]
        target: AdminTarget,
    },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ringgate: {message}");
    ExitCode::FAILURE
}

/// A grant argument: the string itself, `@FILE`, or `-` for standard input.
fn read_grant(arg: &str) -> Result<Grant, String> {
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        text
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?
    } else {
        arg.to_string()
    };
    Grant::parse(&text).map_err(|e| format!("grant: {e}"))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn run_grant(command: GrantCommand) -> ExitCode {
    match command {
        GrantCommand::Inspect { grant } => match read_grant(&grant) {
            Ok(grant) => {
                println!("{}", grant.describe());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        GrantCommand::Restrict {
            grant,
            bucket,
            prefix,
            path,
            read_only,
            allow,
            not_before,
            not_after,
        } => {
            let result = (|| -> Result<Grant, String> {
                let grant = read_grant(&grant)?;
                let mut caveat = Caveat::default();
                if read_only {
                    caveat = caveat.allow_actions(ActionSet::READ_ONLY);
                }
                if let Some(allow) = allow {
                    caveat = caveat.allow_actions(
                        allow
                            .parse::<ActionSet>()
                            .map_err(|e| format!("--allow: {e}"))?,
                    );
                }
                for b in &bucket {
                    caveat = caveat.allow_path(b.clone(), prefix.clone().unwrap_or_default());
                }
                for p in &path {
                    let (b, rest) = p.split_once('/').unwrap_or((p.as_str(), ""));
                    caveat = caveat.allow_path(b.to_string(), rest.to_string());
                }
                let now = now_unix();
                if let Some(t) = not_before {
                    caveat = caveat.not_before(parse_time(&t, now).map_err(|e| e.to_string())?);
                }
                if let Some(t) = not_after {
                    caveat = caveat.not_after(parse_time(&t, now).map_err(|e| e.to_string())?);
                }
                if caveat.is_empty() {
                    return Err("nothing to restrict: give --bucket, --path, --read-only, --allow, --not-before or --not-after".into());
                }
                grant.restrict(caveat).map_err(|e| e.to_string())
            })();
            match result {
                Ok(grant) => {
                    println!("{}", &*grant.encode());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        GrantCommand::Register {
            grant,
            endpoint,
            ca,
        } => {
            let result = (|| -> Result<String, String> {
                let grant = read_grant(&grant)?;
                let body = zeroize::Zeroizing::new(
                    serde_json::json!({
                        "access_grant": &*grant.encode(),
                        "public": false,
                    })
                    .to_string(),
                );
                let (status, answer) = http_request(
                    &endpoint,
                    ca.as_deref(),
                    "POST",
                    "/v1/access",
                    None,
                    body.as_bytes(),
                )?;
                if status != 200 {
                    return Err(format!("registration refused ({status}): {answer}"));
                }
                let value: serde_json::Value =
                    serde_json::from_str(&answer).map_err(|e| e.to_string())?;
                Ok(format!(
                    "access key id: {}\nsecret key:    {}\nendpoint:      {}",
                    value["access_key_id"].as_str().unwrap_or(""),
                    value["secret_key"].as_str().unwrap_or(""),
                    value["endpoint"].as_str().unwrap_or("")
                ))
            })();
            match result {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        GrantCommand::Revoke { head, target } => {
            let body = serde_json::json!({ "head": head }).to_string();
            match admin_call(&target, "POST", "/v1/revoke", body.as_bytes()) {
                Ok(_) => {
                    println!("revoked {head}: every grant derived from it stops working");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

pub fn run_project(command: ProjectCommand) -> ExitCode {
    let result = match command {
        ProjectCommand::Create { name, target } => {
            let body = serde_json::json!({ "name": name }).to_string();
            admin_call(&target, "POST", "/v1/projects", body.as_bytes()).map(|answer| {
                let value: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
                format!(
                    "project {} ({})\naccess grant (the only copy of the project's root key: keep it safe):\n{}",
                    value["project_id"].as_str().unwrap_or(""),
                    value["name"].as_str().unwrap_or(""),
                    value["access_grant"].as_str().unwrap_or("")
                )
            })
        }
        ProjectCommand::List { target } => {
            admin_call(&target, "GET", "/v1/projects", b"").map(|answer| {
                let value: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
                let mut out = String::new();
                for p in value.as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "{}  {}  {}\n",
                        p["project_id"].as_str().unwrap_or(""),
                        p["created"].as_str().unwrap_or(""),
                        p["name"].as_str().unwrap_or("")
                    ));
                }
                out.trim_end().to_string()
            })
        }
        ProjectCommand::Delete { id, target } => {
            admin_call(&target, "DELETE", &format!("/v1/projects/{id}"), b"")
                .map(|_| format!("deleted project {id}"))
        }
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Calls the admin API; returns the body of a 2xx answer.
fn admin_call(
    target: &AdminTarget,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<String, String> {
    let addr = match target.admin {
        Some(addr) => addr,
        None => read_trimmed(&target.data.join("admin.addr"))?
            .parse()
            .map_err(|e| format!("admin.addr: {e}"))?,
    };
    let token = match &target.admin_token {
        Some(token) => token.clone(),
        None => read_trimmed(&target.data.join("admin-token"))?,
    };
    let (status, answer) = http_request(
        &format!("http://{addr}"),
        None,
        method,
        path,
        Some(&token),
        body,
    )?;
    if (200..300).contains(&status) {
        Ok(answer)
    } else {
        Err(format!("admin API answered {status}: {answer}"))
    }
}

fn read_trimmed(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            format!(
                "{}: {e} (is the gateway running with this --data?)",
                path.display()
            )
        })
}

/// One blocking HTTP/1.1 request (`Connection: close`); returns status and body.
fn http_request(
    endpoint: &str,
    ca: Option<&Path>,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> Result<(u16, String), String> {
    let (tls, host) = if let Some(host) = endpoint.strip_prefix("https://") {
        (true, host.trim_end_matches('/'))
    } else if let Some(host) = endpoint.strip_prefix("http://") {
        (false, host.trim_end_matches('/'))
    } else {
        return Err(format!("endpoint {endpoint:?} is not http:// or https://"));
    };
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\ncontent-type: application/json\r\n",
        body.len()
    );
    if let Some(token) = bearer {
        request.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(host).map_err(|e| format!("connecting to {host}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    if tls {
        let ca = ca.ok_or("an https endpoint needs --ca with the certificate to trust")?;
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("{}: {e}", ca.display()))?
        {
            roots
                .add(cert.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let server_name = host.rsplit_once(':').map_or(host, |(h, _)| h).to_string();
        let name =
            rustls::pki_types::ServerName::try_from(server_name).map_err(|e| e.to_string())?;
        let connection =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(connection, stream);
        tls.write_all(request.as_bytes())
            .and_then(|_| tls.write_all(body))
            .map_err(|e| e.to_string())?;
        let _ = tls.read_to_end(&mut response);
    } else {
        stream
            .write_all(request.as_bytes())
            .and_then(|_| stream.write_all(body))
            .map_err(|e| e.to_string())?;
        stream
            .read_to_end(&mut response)
            .map_err(|e| e.to_string())?;
    }
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP answer from {host}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}
