//! The `ringgate project`, `ringgate grant` and `ringgate repair` commands.
//! `grant inspect` and `grant restrict` work offline on the grant string
//! alone; `grant register` asks a gateway's `POST /v1/access`; `project …`,
//! `grant revoke` and `repair` use the admin API of a running gateway (its
//! address and token are found in the data folder unless given).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::auth::{parse_time, ActionSet, Caveat, Grant, Privileges};

#[derive(Args, Clone, Debug)]
pub struct AdminTarget {
    /// Data folder of the gateway: its admin address and token are read from it
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data: PathBuf,
    /// Admin listener address [default: from <data>/admin.addr]
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Admin token; also RINGGATE_ADMIN_TOKEN (a flag's value is visible to
    /// every local user in /proc/*/cmdline) [default: from <data>/admin-token]
    #[arg(
        long,
        value_name = "TOKEN",
        env = "RINGGATE_ADMIN_TOKEN",
        hide_env_values = true,
        conflicts_with = "admin_token_file"
    )]
    pub admin_token: Option<String>,
    /// File holding the admin token (its first line)
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
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

/// What one `grant restrict` takes away: the caveat its flags describe.
#[derive(Args, Debug)]
pub struct Restriction {
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
    /// Keep the privilege to bypass GOVERNANCE object-lock retention
    /// (x-amz-bypass-governance-retention), which every restriction drops otherwise
    #[arg(long)]
    keep_bypass_governance: bool,
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
        #[command(flatten)]
        restriction: Restriction,
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

/// `ringgate grant`: one function per subcommand, each printing its result.
pub fn run_grant(command: GrantCommand) -> ExitCode {
    let result = match command {
        GrantCommand::Inspect { grant } => {
            read_grant(&grant).map(|grant| println!("{}", grant.describe()))
        }
        GrantCommand::Restrict { grant, restriction } => read_grant(&grant)
            .and_then(|grant| {
                let caveat = caveat_of(&restriction)?;
                grant.restrict(caveat).map_err(|e| e.to_string())
            })
            .map(|grant| println!("{}", &*grant.encode())),
        GrantCommand::Register {
            grant,
            endpoint,
            ca,
        } => register_grant(&grant, &endpoint, ca.as_deref()).map(|text| println!("{text}")),
        GrantCommand::Revoke { head, target } => {
            let body = serde_json::json!({ "head": head }).to_string();
            admin_call(&target, "POST", "/v1/revoke", body.as_bytes()).map(|_| {
                println!("revoked {head}: every grant derived from it stops working");
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// The caveat that `grant restrict`'s flags describe; not an empty one.
fn caveat_of(r: &Restriction) -> Result<Caveat, String> {
    let mut caveat = Caveat::default();
    if r.read_only {
        caveat = caveat.allow_actions(ActionSet::READ_ONLY);
    }
    if let Some(allow) = &r.allow {
        caveat = caveat.allow_actions(
            allow
                .parse::<ActionSet>()
                .map_err(|e| format!("--allow: {e}"))?,
        );
    }
    for b in &r.bucket {
        caveat = caveat.allow_path(b.clone(), r.prefix.clone().unwrap_or_default());
    }
    for p in &r.path {
        let (b, rest) = p.split_once('/').unwrap_or((p.as_str(), ""));
        caveat = caveat.allow_path(b.to_string(), rest.to_string());
    }
    let now = crate::clock::unix_now_secs_signed();
    if let Some(t) = &r.not_before {
        caveat = caveat.not_before(parse_time(t, now).map_err(|e| e.to_string())?);
    }
    if let Some(t) = &r.not_after {
        caveat = caveat.not_after(parse_time(t, now).map_err(|e| e.to_string())?);
    }
    if caveat.is_empty() {
        return Err("nothing to restrict: give --bucket, --path, --read-only, --allow, --not-before or --not-after".into());
    }
    if r.keep_bypass_governance {
        caveat = caveat.keep(Privileges::BYPASS_GOVERNANCE);
    }
    Ok(caveat)
}

/// `grant register`: the S3 credentials a gateway gives for the grant, as text.
fn register_grant(grant: &str, endpoint: &str, ca: Option<&Path>) -> Result<String, String> {
    let grant = read_grant(grant)?;
    let body = zeroize::Zeroizing::new(
        serde_json::json!({
            "access_grant": &*grant.encode(),
            "public": false,
        })
        .to_string(),
    );
    let (status, answer) = http_request(endpoint, ca, "POST", "/v1/access", None, body.as_bytes())?;
    if status != 200 {
        return Err(format!("registration refused ({status}): {answer}"));
    }
    let value: serde_json::Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
    Ok(format!(
        "access key id: {}\nsecret key:    {}\nendpoint:      {}",
        value["access_key_id"].as_str().unwrap_or(""),
        value["secret_key"].as_str().unwrap_or(""),
        value["endpoint"].as_str().unwrap_or("")
    ))
}

/// `ringgate repair`: the audit and repair worker of a running gateway.
#[derive(Args, Debug)]
pub struct RepairArgs {
    /// Show the last audit pass: segments by healthy pieces, pieces missing,
    /// damaged or lost, segments repaired (the default)
    #[arg(long)]
    pub status: bool,
    /// Start an audit pass now (it repairs what falls to the threshold)
    #[arg(long)]
    pub now: bool,
    /// With --now: wait until that pass has ended, then show the status
    #[arg(long, requires = "now")]
    pub wait: bool,
    /// With --now: check every share of every piece (a scrub), not one sampled share per piece
    #[arg(long, requires = "now")]
    pub full: bool,
    /// Also list the piece stores with their health and free space
    #[arg(long)]
    pub stores: bool,
    /// Print the status as JSON (the admin API's document)
    #[arg(long)]
    pub json: bool,
    /// With --wait: give up after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub target: AdminTarget,
}

pub fn run_repair(args: RepairArgs) -> ExitCode {
    let status = || -> Result<serde_json::Value, String> {
        let text = admin_call(&args.target, "GET", "/v1/repair", b"")?;
        serde_json::from_str(&text).map_err(|e| format!("status: {e}"))
    };
    let passes = |s: &serde_json::Value| s["passes_completed"].as_u64().unwrap_or(0);
    let result = (|| -> Result<(), String> {
        if args.now {
            let path = if args.full {
                "/v1/repair?full=1"
            } else {
                "/v1/repair"
            };
            let answer = admin_call(&args.target, "POST", path, b"")?;
            let answer: serde_json::Value =
                serde_json::from_str(&answer).map_err(|e| format!("repair: {e}"))?;
            let target = answer["pass"].as_u64().ok_or("repair: no pass number")?;
            if args.wait {
                let deadline = std::time::Instant::now() + Duration::from_secs(args.timeout_secs);
                while passes(&status()?) < target {
                    if std::time::Instant::now() > deadline {
                        return Err(format!("no pass ended within {}s", args.timeout_secs));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            } else if !args.status {
                println!("audit pass requested");
                return Ok(());
            }
        }
        let current = status()?;
        let stores = if args.stores {
            let text = admin_call(&args.target, "GET", "/v1/stores", b"")?;
            Some(serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string())?)
        } else {
            None
        };
        if args.json {
            let mut document = current;
            if let Some(stores) = stores {
                document["stores"] = stores;
            }
            println!("{document}");
        } else {
            print!("{}", repair_report(&current, stores.as_ref()));
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// The repair status (and the stores) for people.
fn repair_report(status: &serde_json::Value, stores: Option<&serde_json::Value>) -> String {
    use std::fmt::Write as _;
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "erasure {}/{}/{}: segments with {} or fewer healthy pieces are repaired; {} passes completed",
        n(&status["required"]),
        n(&status["optimal"]),
        n(&status["total"]),
        n(&status["threshold"]),
        n(&status["passes_completed"])
    );
    if let Some(running) = status["running"].as_object() {
        let _ = writeln!(
            out,
            "a pass is running: {} segments so far",
            running.get("segments").map_or(0, n)
        );
    }
    match status["last"].as_object() {
        None => out.push_str(
            "no pass has completed yet
",
        ),
        Some(last) => {
            let get = |name: &str| last.get(name).map_or(0, n);
            let seconds =
                (get("finished_unix_ms").saturating_sub(get("started_unix_ms"))) as f64 / 1000.0;
            let _ = writeln!(
                out,
                "last pass: {} segments, {} pieces checked in {seconds:.1}s",
                get("segments"),
                get("pieces_checked")
            );
            out.push_str(
                "  healthy pieces  segments
",
            );
            if let Some(by) = last["segments_by_healthy_pieces"].as_object() {
                let mut rows: Vec<(u64, u64)> = by
                    .iter()
                    .map(|(k, v)| (k.parse().unwrap_or(0), n(v)))
                    .collect();
                rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.0));
                for (pieces, segments) in rows {
                    let _ = writeln!(out, "  {pieces:>14}  {segments:>8}");
                }
            }
            let _ = writeln!(
                out,
                "pieces: {} missing, {} damaged, {} lost with their store, {} on stores briefly offline",
                get("pieces_missing"),
                get("pieces_corrupt"),
                get("pieces_lost"),
                get("pieces_offline")
            );
            let _ = writeln!(
                out,
                "repairs: {} segments ({} pieces rebuilt), {} failed; {} segments lost (fewer than k pieces)",
                get("segments_repaired"),
                get("pieces_rebuilt"),
                get("segments_repair_failed"),
                get("segments_lost")
            );
            for error in last["errors"].as_array().into_iter().flatten() {
                let _ = writeln!(out, "  ! {}", error.as_str().unwrap_or(""));
            }
        }
    }
    if let Some(stores) = stores.and_then(|s| s.as_array()) {
        out.push_str(
            "stores:
",
        );
        for store in stores {
            let state = match (store["configured"].as_bool(), store["alive"].as_bool()) {
                (Some(false), _) => "not configured".to_string(),
                (_, Some(true)) => "up".to_string(),
                _ => format!("down {}s", n(&store["down_for_secs"])),
            };
            let _ = writeln!(
                out,
                "  {:>4}  {:<5}  {:<40}  {:<10}  {state}, {} GiB free",
                n(&store["id"]),
                store["kind"].as_str().unwrap_or(""),
                store["location"].as_str().unwrap_or(""),
                store["domain"].as_str().unwrap_or("-"),
                n(&store["free_bytes"]) >> 30
            );
        }
    }
    out
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
    let token = match (&target.admin_token, &target.admin_token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(file)) => read_trimmed(file)?.lines().next().unwrap_or("").to_string(),
        (None, None) => read_trimmed(&target.data.join("admin-token"))?,
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
