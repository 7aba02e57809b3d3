//! The clocks, read in one place. Everything that needs the time of day
//! asks here; the pure modules (`auth`, `sigv4`, the node protocol's orders,
//! the pipeline) never do: their callers pass `now` (or, for the encoder's
//! stage times, [`monotonic`]) in, so they stay testable at any instant.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The time of day (for HTTP dates and SigV4's time window).
pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Time since the process first asked, from the monotonic clock: for
/// intervals (the encoder's stage times), never for the time of day.
pub fn monotonic() -> Duration {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_now_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Seconds since the Unix epoch (0 before it).
pub fn unix_now_secs() -> u64 {
    since_epoch().as_secs()
}

/// Seconds since the Unix epoch, signed: what grants' caveats are written in.
pub fn unix_now_secs_signed() -> i64 {
    since_epoch().as_secs() as i64
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
