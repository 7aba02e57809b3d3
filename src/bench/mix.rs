//! The operation mix of `bench mixed` (`get=70,put=30`): which operation the
//! next request is, drawn by weight. Pure code.

use std::fmt;

/// A request a mixed run can make. Multipart uploads are their own run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MixOp {
    Get,
    Put,
    Stat,
    Delete,
    List,
}

impl MixOp {
    pub const ALL: [MixOp; 5] = [Self::Get, Self::Put, Self::Stat, Self::Delete, Self::List];

    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Put => "put",
            Self::Stat => "stat",
            Self::Delete => "delete",
            Self::List => "list",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    #[error("{0:?} is not name=weight")]
    Pair(String),
    #[error("{0:?} is not one of get, put, stat, delete, list")]
    Operation(String),
    #[error("weight {0:?} is not a whole number up to 1000000")]
    Weight(String),
    #[error("{0} is given more than once")]
    Duplicate(&'static str),
    #[error("the weights add up to zero")]
    Empty,
}

/// Weights of the operations, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    weights: Vec<(MixOp, u32)>,
    total: u64,
}

const WEIGHT_MAX: u32 = 1_000_000;

impl Mix {
    /// `get=70,put=30`: names from [`MixOp`], whole-number weights, any order,
    /// each name at most once; weights are relative (they need not add to 100).
    pub fn parse(text: &str) -> Result<Self, MixError> {
        let mut weights: Vec<(MixOp, u32)> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = pair
                .split_once('=')
                .ok_or_else(|| MixError::Pair(pair.into()))?;
            let op = MixOp::ALL
                .into_iter()
                .find(|op| op.name() == name.trim().to_ascii_lowercase())
                .ok_or_else(|| MixError::Operation(name.trim().into()))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .ok()
                .filter(|w| *w <= WEIGHT_MAX)
                .ok_or_else(|| MixError::Weight(weight.trim().into()))?;
            if weights.iter().any(|(o, _)| *o == op) {
                return Err(MixError::Duplicate(op.name()));
            }
            weights.push((op, weight));
        }
        let total = weights.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return Err(MixError::Empty);
        }
        weights.retain(|(_, w)| *w > 0);
        Ok(Self { weights, total })
    }

    /// The operation for 64 random bits `r`: each with probability weight / total.
    pub fn pick(&self, r: u64) -> MixOp {
        let mut at = super::size::bounded(r, self.total);
        for &(op, weight) in &self.weights {
            if at < u64::from(weight) {
                return op;
            }
            at -= u64::from(weight);
        }
        unreachable!("the weights add up to total")
    }

    /// The share of `op`, 0 to 1.
    pub fn fraction(&self, op: MixOp) -> f64 {
        let w = self
            .weights
            .iter()
            .find(|(o, _)| *o == op)
            .map_or(0, |(_, w)| *w);
        f64::from(w) / self.total as f64
    }

    pub fn contains(&self, op: MixOp) -> bool {
        self.weights.iter().any(|(o, _)| *o == op)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (op, w)) in self.weights.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}={w}", op.name())?;
        }
        Ok(())
    }
}
