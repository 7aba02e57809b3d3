//! `FaultyStore`: wraps a real store and injects faults into chosen pieces —
//! delays, failures, corrupted reads — so long-tail cancellation, hedging and
//! decoding around damage are tested against the real stores and real timing.
//! It also records which operations reached which piece, so tests assert on
//! behaviour (what was used, what was cancelled) rather than on time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;
use std::time::Duration;

use super::format::PieceId;
use super::store::{LocalBoxFuture, PieceBytes, PieceStat, PieceStore, PieceWriter, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every write of the piece waits this long first.
    SlowWrite(Duration),
    /// Creating the piece fails.
    FailCreate,
    /// The commit fails (after all bytes were written).
    FailCommit,
    /// Every read of the piece waits this long first.
    SlowRead(Duration),
    /// Reads fail.
    FailRead,
    /// Reads return the right length with one bit flipped at this offset of the read.
    CorruptRead(usize),
}

/// What happened, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Created(u16),
    Committed(u16),
    Dropped(u16),
    Read(u16),
    ReadDone(u16),
}

pub struct FaultyStore {
    inner: Rc<dyn PieceStore>,
    faults: RefCell<HashMap<u16, Vec<Fault>>>,
    events: Rc<RefCell<Vec<Event>>>,
}

impl FaultyStore {
    pub fn new(inner: Rc<dyn PieceStore>) -> Self {
        Self {
            inner,
            faults: RefCell::default(),
            events: Rc::default(),
        }
    }

    /// Adds a fault for every piece with this index (whatever its segment).
    pub fn inject(&self, piece: u16, fault: Fault) {
        self.faults
            .borrow_mut()
            .entry(piece)
            .or_default()
            .push(fault);
    }

    pub fn clear(&self) {
        self.faults.borrow_mut().clear();
        self.events.borrow_mut().clear();
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.borrow().clone()
    }

    fn faults(&self, piece: u16) -> Vec<Fault> {
        self.faults
            .borrow()
            .get(&piece)
            .cloned()
            .unwrap_or_default()
    }

    fn injected(&self, op: &'static str, piece: PieceId) -> StoreError {
        StoreError::Injected {
            store: self.inner.name().to_string(),
            op,
            piece,
        }
    }
}

struct FaultyWriter {
    inner: Option<Box<dyn PieceWriter>>,
    piece: u16,
    delay: Option<Duration>,
    fail_commit: Option<StoreError>,
    events: Rc<RefCell<Vec<Event>>>,
}

impl PieceWriter for FaultyWriter {
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if let Some(delay) = self.delay {
                glommio::timer::sleep(delay).await;
            }
            self.inner
                .as_mut()
                .expect("writer is open")
                .write(bytes)
                .await
        })
    }

    fn commit(mut self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = self.inner.take().expect("writer is open");
            if let Some(error) = self.fail_commit.take() {
                inner.abort().await?;
                return Err(error);
            }
            inner.commit().await?;
            self.events.borrow_mut().push(Event::Committed(self.piece));
            Ok(())
        })
    }

    fn abort(mut self: Box<Self>) -> LocalBoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move { self.inner.take().expect("writer is open").abort().await })
    }
}

impl Drop for FaultyWriter {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.events.borrow_mut().push(Event::Dropped(self.piece));
        }
    }
}

impl PieceStore for FaultyStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn create(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Box<dyn PieceWriter>, StoreError>> {
        Box::pin(async move {
            let faults = self.faults(id.piece);
            if faults.contains(&Fault::FailCreate) {
                return Err(self.injected("create", id));
            }
            let inner = self.inner.create(id).await?;
            self.events.borrow_mut().push(Event::Created(id.piece));
            Ok(Box::new(FaultyWriter {
                inner: Some(inner),
                piece: id.piece,
                delay: faults.iter().find_map(|f| match f {
                    Fault::SlowWrite(d) => Some(*d),
                    _ => None,
                }),
                fail_commit: faults
                    .contains(&Fault::FailCommit)
                    .then(|| self.injected("commit", id)),
                events: self.events.clone(),
            }) as Box<dyn PieceWriter>)
        })
    }

    fn read(
        &self,
        id: PieceId,
        range: Range<u64>,
    ) -> LocalBoxFuture<'_, Result<PieceBytes, StoreError>> {
        Box::pin(async move {
            self.events.borrow_mut().push(Event::Read(id.piece));
            let faults = self.faults(id.piece);
            for fault in &faults {
                match *fault {
                    Fault::SlowRead(d) => glommio::timer::sleep(d).await,
                    Fault::FailRead => return Err(self.injected("read", id)),
                    _ => {}
                }
            }
            let bytes = self.inner.read(id, range).await?;
            self.events.borrow_mut().push(Event::ReadDone(id.piece));
            match faults.iter().find_map(|f| match f {
                Fault::CorruptRead(at) => Some(*at),
                _ => None,
            }) {
                Some(at) if !bytes.is_empty() => {
                    let mut copy = bytes.to_vec();
                    let at = at % copy.len();
                    copy[at] ^= 0x01;
                    Ok(PieceBytes::new(copy))
                }
                _ => Ok(bytes),
            }
        })
    }

    fn delete(&self, id: PieceId) -> LocalBoxFuture<'_, Result<(), StoreError>> {
        self.inner.delete(id)
    }

    fn stat(&self, id: PieceId) -> LocalBoxFuture<'_, Result<Option<PieceStat>, StoreError>> {
        self.inner.stat(id)
    }

    fn list(&self) -> LocalBoxFuture<'_, Result<Vec<PieceId>, StoreError>> {
        self.inner.list()
    }

    fn space(&self) -> LocalBoxFuture<'_, Result<super::StoreSpace, StoreError>> {
        self.inner.space()
    }
}
