//! What one thread counts: per operation kind its successes, bytes, latency
//! and time-to-first-byte histograms; errors by kind with an example; and
//! the current one-second interval for the progress line and the plot. A
//! thread owns its `Stats`; they reach the main thread only as messages.

use std::collections::BTreeMap;
use std::time::Duration;

use super::hist::Histogram;

/// What a timed operation was. `Part` is one UploadPart inside a
/// `Multipart` upload: reported on its own, not counted as an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    Put,
    Get,
    Stat,
    Delete,
    List,
    Multipart,
    Part,
}

impl OpKind {
    pub const ALL: [OpKind; 7] = [
        Self::Put,
        Self::Get,
        Self::Stat,
        Self::Delete,
        Self::List,
        Self::Multipart,
        Self::Part,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
            Self::Stat => "stat",
            Self::Delete => "delete",
            Self::List => "list",
            Self::Multipart => "multipart",
            Self::Part => "part",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Whether it counts as an operation of the run (a part does not).
    pub fn is_operation(self) -> bool {
        self != Self::Part
    }
}

/// One kind's successes.
#[derive(Clone, Debug, Default)]
pub struct KindStats {
    pub ops: u64,
    pub bytes: u64,
    /// Request start to last body byte, nanoseconds.
    pub latency: Histogram,
    /// Request start to the first response byte, nanoseconds (GETs).
    pub ttfb: Histogram,
}

impl KindStats {
    fn merge(&mut self, other: &KindStats) {
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.latency.merge(&other.latency);
        self.ttfb.merge(&other.ttfb);
    }
}

/// Errors of one (operation, kind): how many, and the first one's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorTally {
    pub count: u64,
    pub example: String,
}

/// Distinct (operation, error kind) pairs kept; more fall under `other`.
const ERROR_KINDS_MAX: usize = 64;

/// One interval's worth of top-level operations.
#[derive(Clone, Debug, Default)]
pub struct Interval {
    pub ops: u64,
    /// Body bytes that moved (sent or received), finished or not.
    pub bytes: u64,
    pub errors: u64,
    pub latency: Histogram,
}

impl Interval {
    pub fn merge(&mut self, other: &Interval) {
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
    }
}

#[derive(Clone, Debug)]
pub struct Stats {
    kinds: Vec<KindStats>,
    /// (operation, error kind) → tally.
    pub errors: BTreeMap<(OpKind, String), ErrorTally>,
    pub interval: Interval,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            kinds: vec![KindStats::default(); OpKind::ALL.len()],
            errors: BTreeMap::new(),
            interval: Interval::default(),
        }
    }
}

impl Stats {
    pub fn kind(&self, kind: OpKind) -> &KindStats {
        &self.kinds[kind.index()]
    }

    /// A success: `bytes` of payload, `latency` from start to end.
    pub fn success(&mut self, kind: OpKind, bytes: u64, latency: Duration, ttfb: Option<Duration>) {
        let k = &mut self.kinds[kind.index()];
        k.ops += 1;
        k.bytes += bytes;
        k.latency.record(latency.as_nanos() as u64);
        if let Some(t) = ttfb {
            k.ttfb.record(t.as_nanos() as u64);
        }
        if kind.is_operation() {
            self.interval.ops += 1;
            self.interval.latency.record(latency.as_nanos() as u64);
        }
    }

    pub fn error(&mut self, op: OpKind, kind: String, message: impl FnOnce() -> String) {
        if op.is_operation() {
            self.interval.errors += 1;
        }
        let key = if self.errors.len() >= ERROR_KINDS_MAX
            && !self.errors.contains_key(&(op, kind.clone()))
        {
            (op, "other".to_string())
        } else {
            (op, kind)
        };
        self.errors
            .entry(key)
            .and_modify(|t| t.count += 1)
            .or_insert_with(|| ErrorTally {
                count: 1,
                example: message(),
            });
    }

    /// Body bytes moved, for the interval's rate.
    pub fn flowed(&mut self, bytes: u64) {
        self.interval.bytes += bytes;
    }

    /// Hands over the interval so far and starts the next.
    pub fn take_interval(&mut self) -> Interval {
        let mut next = Interval {
            latency: Histogram::new(),
            ..Interval::default()
        };
        std::mem::swap(&mut next, &mut self.interval);
        next
    }

    pub fn merge(&mut self, other: &Stats) {
        for (a, b) in self.kinds.iter_mut().zip(&other.kinds) {
            a.merge(b);
        }
        for (key, tally) in &other.errors {
            self.errors
                .entry(key.clone())
                .and_modify(|t| t.count += tally.count)
                .or_insert_with(|| tally.clone());
        }
    }

    /// Errors of top-level operations.
    pub fn error_count(&self) -> u64 {
        self.errors
            .iter()
            .filter(|((op, _), _)| op.is_operation())
            .map(|(_, t)| t.count)
            .sum()
    }
}
