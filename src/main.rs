//! The `ringgate` command line: `serve` runs the gateway; the other commands
//! inspect what it stores.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;
use ringgate::config::ServeSettings;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// ringgate: an S3-compatible storage gateway. Every object is encrypted with
/// AES-256-GCM, erasure coded with Reed-Solomon and spread over piece stores.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the S3 gateway (embedded default: metadata and six piece stores in --data)
    Serve {
        /// TOML file with any of the settings below (flags win)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<ServeSettings>,
    },
    /// Load-test an S3 endpoint, checking every byte read
    Bench(Box<ringgate::bench::BenchArgs>),
    /// Run a storage node: serve pieces to gateways over TCP
    Node(Box<ringgate::node::NodeArgs>),
    /// Issue a storage node's key from the cluster key (for `node --node-key`)
    NodeKey(ringgate::node::NodeKeyArgs),
    /// Manage projects (tenants) of a running gateway
    Project {
        #[command(subcommand)]
        command: ringgate::cli::ProjectCommand,
    },
    /// Inspect, restrict, register and revoke access grants
    Grant {
        #[command(subcommand)]
        command: ringgate::cli::GrantCommand,
    },
    /// Audit and repair of a running gateway's segments: status, or a pass now
    Repair(Box<ringgate::cli::RepairArgs>),
    /// Inspect piece files
    Piece {
        #[command(subcommand)]
        command: PieceCommand,
    },
}

#[derive(Subcommand)]
enum PieceCommand {
    /// Check piece files: header, footer, digest and every share checksum
    Verify {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve { config, settings } => serve(config, *settings),
        Command::Bench(args) => ringgate::bench::run(*args),
        Command::Node(args) => {
            // A node logs as text, filtered by RUST_LOG (default info).
            let _log = match ringgate::logging::init(&Default::default()) {
                Ok(guard) => guard,
                Err(e) => {
                    eprintln!("ringgate node: {e}");
                    return ExitCode::from(2);
                }
            };
            ringgate::node::run(*args)
        }
        Command::NodeKey(args) => ringgate::node::run_node_key(args),
        Command::Project { command } => ringgate::cli::run_project(command),
        Command::Grant { command } => ringgate::cli::run_grant(command),
        Command::Repair(args) => ringgate::cli::run_repair(*args),
        Command::Piece {
            command: PieceCommand::Verify { files },
        } => verify_pieces(&files),
    }
}

/// `ringgate serve`. Mistakes in the settings go to stderr as plain text (the
/// log's format is one of them); from then on everything is logged.
fn serve(config_file: Option<PathBuf>, flags: ServeSettings) -> ExitCode {
    let file = match config_file {
        Some(path) => match ServeSettings::from_file(&path) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("ringgate: {e}");
                return ExitCode::from(2);
            }
        },
        None => ServeSettings::default(),
    };
    let config = match flags.over(file).resolve() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ringgate: {e}");
            return ExitCode::from(2);
        }
    };
    let _log = match ringgate::logging::init(&config.log) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("ringgate: {e}");
            return ExitCode::from(2);
        }
    };
    match ringgate::runtime::serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Verifies whole piece files; prints one line each. Exit status 1 if any is bad.
fn verify_pieces(files: &[PathBuf]) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for file in files {
        let file = file.display();
        match std::fs::read(file.to_string()) {
            Err(e) => {
                println!("{file}: unreadable: {e}");
                status = ExitCode::FAILURE;
            }
            Ok(bytes) => match ringgate::pieces::format::verify_piece(&bytes) {
                Err(e) => {
                    println!("{file}: bad: {e}");
                    status = ExitCode::FAILURE;
                }
                Ok((header, footer, bad)) if bad.is_empty() => println!(
                    "{file}: ok: piece {} of {}/{}, {} stripes, digest {}",
                    header.id,
                    header.required,
                    header.total,
                    footer.stripe_count,
                    ringgate::pipeline::checksum::hex(&footer.digest)
                ),
                Ok((header, _, bad)) => {
                    println!(
                        "{file}: damaged: piece {}: shares of stripes {bad:?} fail their checksums",
                        header.id
                    );
                    status = ExitCode::FAILURE;
                }
            },
        }
    }
    status
}
