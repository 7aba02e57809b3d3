//! Writing the n pieces of a segment in parallel with long-tail cancellation.
//!
//! Each piece has a writer task fed through a bounded queue. The producer moves
//! on once `optimal` writers have taken a chunk and every other writer is either
//! within `lag_chunks_max` chunks of the `optimal`-th fastest (it is slow with
//! the rest, as when all pieces share one disk, and is waited for) or that far
//! behind (the long tail), when it is cancelled. At the end, the upload succeeds
//! once `optimal` pieces are durable, lets the rest finish for at most `linger`,
//! and cancels what is still running. If fewer than `optimal` can finish, every
//! piece written is deleted and the upload fails.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
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
    /// Chunks the writer has taken off its queue.
    taken: Rc<Cell<u64>>,
}

/// Bumped whenever a writer takes a chunk, so that a producer waiting on a
/// lagging writer can tell when it has fallen too far behind.
#[derive(Default)]
struct Progress {
    generation: Cell<u64>,
    waiter: Cell<Option<Waker>>,
}

impl Progress {
    fn advance(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        if let Some(waker) = self.waiter.take() {
            waker.wake();
        }
    }

    /// Resolves once the generation differs from `since`.
    async fn changed(&self, since: u64) {
        poll_fn(|cx| {
            if self.generation.get() != since {
                Poll::Ready(())
            } else {
                self.waiter.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await;
    }
}

pub struct PieceFanout {
    lanes: Vec<Lane>,
    policy: LongTail,
    pool: Rc<RefCell<BufPool>>,
    cut_off: Vec<usize>,
    progress: Rc<Progress>,
}

impl PieceFanout {
    /// Starts one writer task per target. Must run inside a glommio executor.
    pub fn start(targets: Vec<PieceTarget>, policy: LongTail, pool: Rc<RefCell<BufPool>>) -> Self {
        assert!(
            policy.optimal >= 1 && policy.optimal <= targets.len(),
            "optimal out of range"
        );
        let progress = Rc::new(Progress::default());
        let lanes = targets
            .into_iter()
            .map(|target| {
                let (tx, rx) =
                    local_channel::new_bounded::<AlignedBuf>(policy.lag_chunks_max.max(1));
                let store = target.store.clone();
                let id = target.id;
                let pool = pool.clone();
                let taken = Rc::new(Cell::new(0));
                let (taken_by_writer, progress) = (taken.clone(), progress.clone());
                let task = glommio::spawn_local(async move {
                    let mut writer = store.create(id).await?;
                    while let Some(chunk) = rx.recv().await {
                        taken_by_writer.set(taken_by_writer.get() + 1);
                        progress.advance();
                        writer.write(&chunk).await?;
                        pool.borrow_mut().give(chunk);
                    }
                    writer.commit().await
                });
                Lane {
                    target,
                    tx: Some(tx),
                    task: Some(task),
                    taken,
                }
            })
            .collect();
        Self {
            lanes,
            policy,
            pool,
            cut_off: Vec::new(),
            progress,
        }
    }

    fn alive(&self) -> usize {
        self.lanes.iter().filter(|l| l.tx.is_some()).count()
    }

    /// Chunks taken by the `optimal`-th fastest writer still running.
    fn leader_taken(&self) -> u64 {
        let mut taken: Vec<u64> = self
            .lanes
            .iter()
            .filter(|l| l.tx.is_some())
            .map(|l| l.taken.get())
            .collect();
        taken.sort_unstable_by(|a, b| b.cmp(a));
        taken
            .get(self.policy.optimal.saturating_sub(1))
            .or(taken.last())
            .copied()
            .unwrap_or(0)
    }

    /// Hands `chunks[i]` to piece i's writer. Waits until `optimal` writers
    /// have taken theirs and every writer still waiting is `lag_chunks_max`
    /// chunks behind the `optimal`-th fastest; those are cut off.
    ///
    /// Story: cutting whoever was still full once `optimal` had taken their
    /// chunk cut a piece of every segment when all writers shared one disk
    /// and the encoder outran it: all queues were full, so the one cut was
    /// behind by a fraction of a chunk, not `lag_chunks_max`. Every segment
    /// then had o of n pieces, and when the cut one was a data piece (piece 1
    /// on every segment in the perf/ runs) every GET paid a Reed-Solomon
    /// decode. A writer's lag is now measured against the others' progress.
    pub async fn send(&mut self, chunks: Vec<AlignedBuf>) -> Result<(), UploadError> {
        assert_eq!(chunks.len(), self.lanes.len());
        let optimal = self.policy.optimal;
        let lag_max = self.policy.lag_chunks_max as u64;
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
        let mut failed = Vec::new();
        let mut race = Race::default();
        for (i, chunk) in blocked {
            let tx = self.lanes[i].tx.as_ref().expect("blocked lanes are alive");
            race.push(i, tx.send(chunk));
        }
        loop {
            if accepted >= optimal {
                let leader = self.leader_taken();
                let far_behind =
                    |i: usize| leader.saturating_sub(self.lanes[i].taken.get()) >= lag_max;
                if race.tags().all(far_behind) {
                    break;
                }
            }
            let since = self.progress.generation.get();
            let next = futures_lite::future::or(async { Some(race.next().await) }, async {
                self.progress.changed(since).await;
                None
            });
            match next.await {
                Some(Some((_, Ok(())))) => accepted += 1,
                Some(Some((i, Err(_)))) => failed.push(i),
                // Nothing left to wait for.
                Some(None) => break,
                // A writer took a chunk: look at the lags again.
                None => {}
            }
        }
        // Sends still waiting are dropped with the race: those lanes lag.
        let lagging = race.cancel_all();
        drop(race);
        for i in failed {
            self.lanes[i].tx = None;
        }
        for i in lagging {
            self.cut(i);
        }
        if accepted < optimal {
            return Err(UploadError {
                durable: 0,
                optimal,
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
