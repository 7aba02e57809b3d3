//! Writing the n pieces of a segment in parallel with long-tail cancellation.
//!
//! Each piece has a writer task fed through a bounded queue. The producer moves
//! on as soon as `optimal` writers have taken a chunk; a writer whose queue is
//! full at that point has fallen `lag_chunks_max` chunks behind the others and is
//! cancelled (the long tail). At the end, the upload succeeds once `optimal`
//! pieces are durable, lets the rest finish for at most `linger`, and cancels
//! what is still running. If fewer than `optimal` can finish, every piece written
//! is deleted and the upload fails.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use glommio::channels::local_channel::{self, LocalSender};
use glommio::{GlommioError, ResourceType};

use super::format::PieceId;
use super::race::Race;
use super::store::{PieceStore, StoreError};
use crate::pipeline::buf::{AlignedBuf, BufPool};

/// When to stop waiting for slow pieces.
#[derive(Clone, Copy, Debug)]
pub struct LongTail {
    /// Pieces that must be durable for success (o).
    pub optimal: usize,
    /// Chunks a writer may fall behind the `optimal` fastest before it is cut off.
    pub lag_chunks_max: usize,
    /// How long pieces beyond `optimal` may keep going after success.
    pub linger: Duration,
}

/// Where one piece goes.
#[derive(Clone)]
pub struct PieceTarget {
    pub store: Rc<dyn PieceStore>,
    pub id: PieceId,
}

#[derive(Debug, thiserror::Error)]
#[error("only {durable} pieces could be stored, {optimal} required; failures: {failures}")]
pub struct UploadError {
    pub durable: usize,
    pub optimal: usize,
    pub failures: String,
}

/// Which pieces landed.
#[derive(Debug, Default)]
pub struct UploadOutcome {
    pub committed: Vec<usize>,
    pub cancelled: Vec<usize>,
    pub failed: Vec<(usize, StoreError)>,
}

struct Lane {
    target: PieceTarget,
    tx: Option<LocalSender<AlignedBuf>>,
    task: Option<glommio::Task<Result<(), StoreError>>>,
}

pub struct PieceFanout {
    lanes: Vec<Lane>,
    policy: LongTail,
    pool: Rc<RefCell<BufPool>>,
    cut_off: Vec<usize>,
}

impl PieceFanout {
    /// Starts one writer task per target. Must run inside a glommio executor.
    pub fn start(targets: Vec<PieceTarget>, policy: LongTail, pool: Rc<RefCell<BufPool>>) -> Self {
        assert!(
            policy.optimal >= 1 && policy.optimal <= targets.len(),
            "optimal out of range"
        );
        let lanes = targets
            .into_iter()
            .map(|target| {
                let (tx, rx) =
                    local_channel::new_bounded::<AlignedBuf>(policy.lag_chunks_max.max(1));
                let store = target.store.clone();
                let id = target.id;
                let pool = pool.clone();
                let task = glommio::spawn_local(async move {
                    let mut writer = store.create(id).await?;
                    while let Some(chunk) = rx.recv().await {
                        writer.write(&chunk).await?;
                        pool.borrow_mut().give(chunk);
                    }
                    writer.commit().await
                });
                Lane {
                    target,
                    tx: Some(tx),
                    task: Some(task),
                }
            })
            .collect();
        Self {
            lanes,
            policy,
            pool,
            cut_off: Vec::new(),
        }
    }

    pub fn pool(&self) -> &Rc<RefCell<BufPool>> {
        &self.pool
    }

    fn alive(&self) -> usize {
        self.lanes.iter().filter(|l| l.tx.is_some()).count()
    }

    /// Hands `chunks[i]` to piece i's writer, waiting only until `optimal`
    /// writers have taken theirs; writers still full then are cut off.
    pub async fn send(&mut self, chunks: Vec<AlignedBuf>) -> Result<(), UploadError> {
        assert_eq!(chunks.len(), self.lanes.len());
        let mut accepted = 0;
        let mut blocked = Vec::new();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let Some(tx) = &self.lanes[i].tx else {
                self.pool.borrow_mut().give(chunk);
                continue;
            };
            match tx.try_send(chunk) {
                Ok(()) => accepted += 1,
                Err(GlommioError::WouldBlock(ResourceType::Channel(chunk))) => {
                    blocked.push((i, chunk))
                }
                Err(GlommioError::Closed(ResourceType::Channel(chunk))) => {
                    // The writer ended early; its error is collected in finish().
                    self.lanes[i].tx = None;
                    self.pool.borrow_mut().give(chunk);
                }
                Err(other) => unreachable!("local channels only block or close: {other}"),
            }
        }
        let mut lagging: Vec<usize> = Vec::new();
        if accepted < self.policy.optimal {
            let mut failed = Vec::new();
            let mut race = Race::default();
            for (i, chunk) in blocked.drain(..) {
                let tx = self.lanes[i].tx.as_ref().expect("blocked lanes are alive");
                race.push(i, tx.send(chunk));
            }
            while accepted < self.policy.optimal {
                match race.next().await {
                    Some((_, Ok(()))) => accepted += 1,
                    Some((i, Err(_))) => failed.push(i),
                    None => break,
                }
            }
            // Sends still waiting are dropped with the race: those lanes lag.
            lagging = race.cancel_all();
            drop(race);
            for i in failed {
                self.lanes[i].tx = None;
            }
        }
        for (i, chunk) in blocked {
            self.pool.borrow_mut().give(chunk);
            lagging.push(i);
        }
        for i in lagging {
            self.cut(i);
        }
        if accepted < self.policy.optimal {
            return Err(UploadError {
                durable: 0,
                optimal: self.policy.optimal,
                failures: format!(
                    "{} writers failed while streaming",
                    self.lanes.len() - self.alive()
                ),
            });
        }
        Ok(())
    }

    /// Cancels piece i's writer (dropping its task drops its writer, which
    /// removes the temporary file).
    fn cut(&mut self, i: usize) {
        let lane = &mut self.lanes[i];
        lane.tx = None;
        if lane.task.take().is_some() {
            self.cut_off.push(i);
        }
    }

    /// Closes every stream and waits for `optimal` commits (plus `linger`).
    pub async fn finish(mut self) -> Result<UploadOutcome, UploadError> {
        let mut outcome = UploadOutcome {
            cancelled: std::mem::take(&mut self.cut_off),
            ..Default::default()
        };
        let mut race = Race::default();
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            lane.tx = None;
            if let Some(task) = lane.task.take() {
                race.push(i, task);
            }
        }
        let optimal = self.policy.optimal;
        while outcome.committed.len() < optimal && outcome.committed.len() + race.len() >= optimal {
            match race.next().await {
                Some((i, Ok(()))) => outcome.committed.push(i),
                Some((i, Err(e))) => outcome.failed.push((i, e)),
                None => break,
            }
        }
        if outcome.committed.len() >= optimal && !race.is_empty() && !self.policy.linger.is_zero() {
            let deadline = glommio::timer::Timer::new(self.policy.linger);
            futures_lite::pin!(deadline);
            loop {
                let next = futures_lite::future::or(async { race.next().await }, async {
                    (&mut deadline).await;
                    None
                });
                match next.await {
                    Some((i, Ok(()))) => outcome.committed.push(i),
                    Some((i, Err(e))) => outcome.failed.push((i, e)),
                    None => break,
                }
            }
        }
        outcome.cancelled.extend(race.cancel_all());
        // A cancelled writer may have renamed its piece just before it was
        // dropped; delete those in the background so nothing unreferenced stays.
        for &i in &outcome.cancelled {
            spawn_delete(&self.lanes[i].target);
        }
        if outcome.committed.len() < optimal {
            for &i in &outcome.committed {
                spawn_delete(&self.lanes[i].target);
            }
            let failures = outcome
                .failed
                .iter()
                .map(|(i, e)| format!("piece {i}: {e}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(UploadError {
                durable: outcome.committed.len(),
                optimal,
                failures,
            });
        }
        outcome.committed.sort_unstable();
        outcome.cancelled.sort_unstable();
        Ok(outcome)
    }

    /// Gives up on the segment: cancels every writer; nothing becomes visible.
    pub fn abort(mut self) {
        for i in 0..self.lanes.len() {
            self.cut(i);
        }
        for i in std::mem::take(&mut self.cut_off) {
            spawn_delete(&self.lanes[i].target);
        }
    }
}

fn spawn_delete(target: &PieceTarget) {
    let target = target.clone();
    glommio::spawn_local(async move {
        let _ = target.store.delete(target.id).await;
    })
    .detach();
}
