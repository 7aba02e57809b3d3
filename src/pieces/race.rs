//! Waiting on a changing set of futures, taking each result as it lands: the
//! primitive under long-tail uploads and hedged downloads. Futures are polled in
//! place (no task per future), so dropping the set cancels whatever is left.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use super::store::LocalBoxFuture;

/// Futures tagged with the piece index they work for.
pub struct Race<'a, T> {
    running: Vec<(usize, LocalBoxFuture<'a, T>)>,
}

impl<'a, T> Default for Race<'a, T> {
    fn default() -> Self {
        Self {
            running: Vec::new(),
        }
    }
}

impl<'a, T> Race<'a, T> {
    pub fn push(&mut self, tag: usize, future: impl Future<Output = T> + 'a) {
        self.running.push((tag, Box::pin(future)));
    }

    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    pub fn tags(&self) -> impl Iterator<Item = usize> + '_ {
        self.running.iter().map(|(tag, _)| *tag)
    }

    /// The next future to finish, with its tag; `None` when none is running.
    pub async fn next(&mut self) -> Option<(usize, T)> {
        if self.running.is_empty() {
            return None;
        }
        poll_fn(|cx| {
            for i in 0..self.running.len() {
                if let Poll::Ready(value) = Pin::new(&mut self.running[i].1).poll(cx) {
                    let (tag, _) = self.running.swap_remove(i);
                    return Poll::Ready(Some((tag, value)));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Drops (cancels) every running future and returns their tags.
    pub fn cancel_all(&mut self) -> Vec<usize> {
        self.running.drain(..).map(|(tag, _)| tag).collect()
    }
}
