//! Sizes, size distributions and durations as the command line writes them:
//! parsing, sampling and printing. Pure code.
//!
//! - A byte count is a number (decimals allowed) and an optional unit, case
//!   ignored: `B`; binary `K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB` (powers of
//!   1024, as `dd` and `truncate` read `K`); decimal `KB`, `MB`, `GB`, `TB`
//!   (powers of 1000).
//! - A size is a byte count (fixed), `A-B` (uniform over `A..=B`), or
//!   `A-B:log` (log-uniform: each power of two between A and B is equally
//!   likely, so small sizes are not drowned by large ones).
//! - A duration is a number and `ms`, `s`, `m` or `h` (a bare number is seconds).

use std::fmt;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0:?} is not a byte count (like 4096, 64KiB, 1.5MiB or 10MB)")]
    Bytes(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
    #[error("size range {0:?} is empty: the lower end is above the upper")]
    EmptyRange(String),
    #[error("a log-uniform size range needs a lower end of at least 1 byte: {0:?}")]
    LogFromZero(String),
    #[error("{0:?} is not a duration (like 500ms, 10s, 2m or 1h)")]
    Duration(String),
}

/// How big each object (or range) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeSpec {
    Fixed(u64),
    /// Every size in `min..=max` equally likely.
    Uniform {
        min: u64,
        max: u64,
    },
    /// `log2(size)` uniform over `log2(min)..=log2(max)`.
    LogUniform {
        min: u64,
        max: u64,
    },
}

impl SizeSpec {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let t = text.trim();
        let (range, log) = match t.strip_suffix(":log") {
            Some(range) => (range, true),
            None => (t, false),
        };
        let Some((lo, hi)) = range.split_once('-') else {
            if log {
                return Err(ParseError::Bytes(text.into()));
            }
            return Ok(Self::Fixed(parse_bytes(t)?));
        };
        let (min, max) = (parse_bytes(lo)?, parse_bytes(hi)?);
        if min > max {
            return Err(ParseError::EmptyRange(text.into()));
        }
        if log {
            if min == 0 {
                return Err(ParseError::LogFromZero(text.into()));
            }
            Ok(Self::LogUniform { min, max })
        } else {
            Ok(Self::Uniform { min, max })
        }
    }

    pub fn min(&self) -> u64 {
        match *self {
            Self::Fixed(n) => n,
            Self::Uniform { min, .. } | Self::LogUniform { min, .. } => min,
        }
    }

    pub fn max(&self) -> u64 {
        match *self {
            Self::Fixed(n) => n,
            Self::Uniform { max, .. } | Self::LogUniform { max, .. } => max,
        }
    }

    /// A size drawn with the 64 random bits `r`.
    pub fn sample(&self, r: u64) -> u64 {
        match *self {
            Self::Fixed(n) => n,
            Self::Uniform { min, max } => {
                let span = max - min;
                if span == u64::MAX {
                    r
                } else {
                    min + bounded(r, span + 1)
                }
            }
            Self::LogUniform { min, max } => {
                let (lo, hi) = ((min as f64).ln(), (max as f64).ln());
                let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
                let size = (lo + (hi - lo) * unit).exp().round() as u64;
                size.clamp(min, max)
            }
        }
    }
}

impl fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Fixed(n) => f.write_str(&format_bytes(n)),
            Self::Uniform { min, max } => {
                write!(f, "{}-{}", format_bytes(min), format_bytes(max))
            }
            Self::LogUniform { min, max } => {
                write!(f, "{}-{}:log", format_bytes(min), format_bytes(max))
            }
        }
    }
}

/// `r` mapped onto `0..n` without modulo bias worth speaking of (Lemire).
pub fn bounded(r: u64, n: u64) -> u64 {
    ((r as u128 * n as u128) >> 64) as u64
}

/// A byte count (see the module doc).
pub fn parse_bytes(text: &str) -> Result<u64, ParseError> {
    let t = text.trim();
    let bad = || ParseError::Bytes(text.into());
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 9
    {
        return Err(bad());
    }
    let too_large = || ParseError::TooLarge(text.into());
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(too_large)?;
    if !fraction.is_empty() {
        // Exact decimal arithmetic: digits / 10^len of the multiplier, rounded down.
        let digits: u128 = fraction.parse().map_err(|_| bad())?;
        let scale = 10u128.pow(fraction.len() as u32);
        let part = (digits * multiplier as u128 / scale) as u64;
        bytes = bytes.checked_add(part).ok_or_else(too_large)?;
    }
    Ok(bytes)
}

/// `n` bytes for people: exact binary units where they fit (`64 MiB`),
/// otherwise two decimals (`1.50 MiB`).
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (unit, name) in UNITS {
        if n >= unit {
            return if n.is_multiple_of(unit) {
                format!("{}{name}", n / unit)
            } else {
                format!("{:.2}{name}", n as f64 / unit as f64)
            };
        }
    }
    format!("{n}B")
}

/// A duration (see the module doc).
pub fn parse_duration(text: &str) -> Result<Duration, ParseError> {
    let t = text.trim();
    let bad = || ParseError::Duration(text.into());
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], &t[split..]);
    let secs_per_unit = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    Duration::try_from_secs_f64(value * secs_per_unit).map_err(|_| bad())
}
