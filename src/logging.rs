//! The process's logs: one `tracing` subscriber, set up once by `main` before
//! the server starts, writing one line per event to stderr, as text or as a
//! JSON object, through a dedicated writer thread (the executors only queue
//! a line; when the queue is full, lines are dropped rather than a core
//! blocked), filtered by a `RUST_LOG`-style filter. Code anywhere logs with
//! `tracing`'s macros; with no subscriber (tests that run the server in
//! process) they do nothing. The access log is the target `ringgate::access`
//! at info (`s3::access` writes it), off in the default filter; off, it costs
//! a cached callsite check per request.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// The filter when neither the settings nor `RUST_LOG` give one.
/// The access log is off unless asked for, as S3's server access logging is:
/// on, it costs some 15-20 % of a small GET's CPU (perf/README.md).
const FILTER_DEFAULT: &str = "info,ringgate::access=off";

/// Keeps the writer thread; dropping it flushes the lines queued.
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// Installs the process's subscriber; an error names the bad filter. Keep
/// the guard until the process ends.
pub fn init(settings: &LogSettings) -> Result<LogGuard, String> {
    let filter = match &settings.filter {
        Some(text) => EnvFilter::try_new(text).map_err(|e| format!("log_filter {text:?}: {e}"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(text) if !text.trim().is_empty() => {
                EnvFilter::try_new(&text).map_err(|e| format!("RUST_LOG {text:?}: {e}"))?
            }
            _ => EnvFilter::new(FILTER_DEFAULT),
        },
    };
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match settings.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // Fields at the top level of each object, beside `timestamp`, `level`
        // and `target`, so a log shipper reads them without nesting.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|e| format!("log: {e}"))?;
    Ok(guard)
}
