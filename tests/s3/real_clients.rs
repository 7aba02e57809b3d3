//! The real S3 clients (AWS CLI, boto3, rclone, s3cmd) against a fresh server
//! over HTTP and HTTPS, through tests/clients/run.sh. tests/clients/install.sh
//! installs the clients (.ci/run does); where they are missing this test says
//! so and passes, unless RINGGATE_REQUIRE_REAL_CLIENTS=1 makes that a failure.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::Server;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn venv() -> PathBuf {
    std::env::var_os("RG_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/clients-venv"))
}

fn missing_clients() -> Vec<String> {
    let mut missing = Vec::new();
    if !venv().join("bin/aws").exists() {
        missing.push(format!("aws (in {})", venv().display()));
    }
    let boto3 = Command::new(venv().join("bin/python"))
        .args(["-c", "import boto3"])
        .status();
    if !boto3.is_ok_and(|s| s.success()) {
        missing.push("boto3".into());
    }
    for tool in ["rclone", "s3cmd"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            missing.push(tool.into());
        }
    }
    missing
}

#[test]
fn real_clients_over_http_and_https() {
    let missing = missing_clients();
    if !missing.is_empty() {
        let message = format!(
            "real S3 clients not installed: {} (run tests/clients/install.sh)",
            missing.join(", ")
        );
        if std::env::var("RINGGATE_REQUIRE_REAL_CLIENTS").is_ok_and(|v| v == "1") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return;
    }
    let plain = Server::start(&[]);
    let tls = Server::start_tls(&[]);
    let status = Command::new("bash")
        .arg(clients_dir().join("run.sh"))
        .arg(plain.endpoint())
        .arg(&plain.access_key)
        .arg(&plain.secret_key)
        .arg(tls.endpoint())
        .arg(tls.tls.as_ref().unwrap().cert.display().to_string())
        .arg(&tls.access_key)
        .arg(&tls.secret_key)
        .env("RG_VENV", venv())
        .status()
        .expect("bash runs");
    assert!(status.success(), "real-client checks failed: {status}");
}
