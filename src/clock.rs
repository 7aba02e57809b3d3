//! The wall clock, read in one place. Everything that needs the time of day
//! asks here; the pure modules (`auth`, `sigv4`, the node protocol's orders)
//! never do: their callers pass `now` in, so they stay testable at any instant.

use std::time::{SystemTime, UNIX_EPOCH};

/// The time of day (for HTTP dates and SigV4's time window).
pub fn now() -> SystemTime {
    SystemTime::now()
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

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
