//! Graceful shutdown on one core: a flag that tasks can check and a future they
//! can wait on, set once when SIGINT or SIGTERM arrives. Core-local on purpose
//! (`Rc`, `Cell`): the signal thread reaches each core through its own channel.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct ShutdownSignal {
    triggered: Cell<bool>,
    next_waiter: Cell<u64>,
    /// Tasks waiting right now, each under its own id, so a waiter that gives up
    /// (a connection that got a request instead) removes itself and the map
    /// stays as large as the number of idle connections.
    waiters: RefCell<HashMap<u64, Waker>>,
}

impl ShutdownSignal {
    pub fn new() -> Rc<Self> {
        Rc::new(Self::default())
    }

    pub fn is_triggered(&self) -> bool {
        self.triggered.get()
    }

    pub fn trigger(&self) {
        if !self.triggered.replace(true) {
            let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
            for (_, waker) in waiters {
                waker.wake();
            }
        }
    }

    /// Resolves once `trigger` has been called.
    pub fn wait(&self) -> ShutdownWait<'_> {
        let id = self.next_waiter.get();
        self.next_waiter.set(id + 1);
        ShutdownWait { signal: self, id }
    }
}

pub struct ShutdownWait<'a> {
    signal: &'a ShutdownSignal,
    id: u64,
}

impl Future for ShutdownWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.triggered.get() {
            return Poll::Ready(());
        }
        self.signal
            .waiters
            .borrow_mut()
            .insert(self.id, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ShutdownWait<'_> {
    fn drop(&mut self) {
        self.signal.waiters.borrow_mut().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_woken_and_forgotten() {
        glommio::LocalExecutor::default().run(async {
            let signal = ShutdownSignal::new();
            {
                let early = signal.wait();
                let quick = futures_lite::future::or(async { 1 }, async {
                    early.await;
                    2
                });
                assert_eq!(quick.await, 1);
            }
            assert!(signal.waiters.borrow().is_empty(), "dropped waiter removed");
            let s = signal.clone();
            let waiter = glommio::spawn_local(async move { s.wait().await });
            glommio::yield_if_needed().await;
            glommio::executor().yield_now().await;
            signal.trigger();
            waiter.await;
            assert!(signal.is_triggered());
            signal.wait().await;
        });
    }
}
