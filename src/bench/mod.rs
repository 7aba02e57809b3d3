//! `ringgate bench`: an S3 load generator that checks every byte it reads.
//!
//! A run is one operation (put, get, mixed, list, multipart, stat, delete)
//! repeated by `--concurrency` requests in flight, spread over `--threads`
//! glommio executors, until `--duration` or `--ops`. Each executor has its
//! own connections, signer, working set and statistics; the main thread
//! learns of them only through messages on a channel (per second for the
//! progress line and the plot, and once at the end), and reads the clock
//! and the process's CPU time around the timed phase.
//!
//! Object content is a pure function of a seed and a size carried in the
//! key (`content`), generated while it is sent and checked while it is
//! received, so no body is ever held whole and a wrong byte is always an
//! error of kind `corrupt`.
//!
//! Layout: `size`, `mix`, `hist`, `content`, `wire`, `body`, `s3` and
//! `report` are pure code over bytes and numbers; `client` (connections),
//! `worker` (one thread's phases and operations) and `runner` (the main
//! thread) do the I/O, and so does `server_usage` (a local server's CPU time
//! and peak RSS from /proc, with `--server-pid`). `args` turns the command
//! line into a `Plan`.

pub mod args;
pub mod body;
pub mod client;
pub mod content;
pub mod hist;
pub mod mix;
pub mod report;
pub mod runner;
pub mod s3;
pub mod server_usage;
pub mod size;
pub mod stats;
pub mod wire;
mod worker;

use std::process::ExitCode;

pub use args::{BenchArgs, BenchOperation, Plan};
pub use body::PayloadMode;
pub use report::Summary;
pub use runner::BenchError;
pub use worker::OpError;

/// Runs `ringgate bench` as the command line asked: the summary (or JSON)
/// on stdout, the progress line and problems on stderr. Exit status 0
/// without errors, 1 if any operation failed, 2 if the run could not start.
pub fn run(args: BenchArgs) -> ExitCode {
    let plan = match args.plan() {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("ringgate bench: {e}");
            return ExitCode::from(2);
        }
    };
    let json = plan.json;
    let plot = plan.plot.clone();
    let summary = match runner::execute(plan) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("ringgate bench: {e}");
            if let BenchError::Setup { cleanup_errors, .. } = &e {
                for c in cleanup_errors {
                    eprintln!("ringgate bench: cleanup: {c}");
                }
            }
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &plot {
        if let Err(e) = std::fs::write(path, report::svg(&summary)) {
            eprintln!("ringgate bench: writing {}: {e}", path.display());
        }
    }
    if json {
        match serde_json::to_string_pretty(&summary) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("ringgate bench: json: {e}"),
        }
    } else {
        print!("{}", summary.text());
    }
    if summary.errors.total > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs a bench and returns its summary, writing the plot if asked; for
/// tests and embedding (nothing is printed but the progress line).
pub fn run_summary(args: &BenchArgs) -> Result<Summary, BenchError> {
    let plan = args.plan().map_err(BenchError::Usage)?;
    let plot = plan.plot.clone();
    let summary = runner::execute(plan)?;
    if let Some(path) = &plot {
        std::fs::write(path, report::svg(&summary))
            .map_err(|e| BenchError::Usage(format!("writing {}: {e}", path.display())))?;
    }
    Ok(summary)
}
