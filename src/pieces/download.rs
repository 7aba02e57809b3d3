//! Reading a window of stripes from the pieces of a segment, in parallel, with
//! hedging: k reads start at once (data pieces first, so a healthy segment needs
//! no decoding), plus `extra` hedges; a read that fails, or that has not answered
//! within `piece_timeout`, brings in another piece; once enough have answered the
//! rest are cancelled. Checksums are checked by the decoder, which asks for more
//! pieces through [`WindowFetch::fetch`] when a stripe comes up short.

use std::ops::Range;
use std::rc::Rc;
use std::time::Duration;

use super::format::{self, PieceId};
use super::race::Race;
use super::store::{PieceBytes, PieceStore, StoreError};
use crate::pipeline::decoder::PieceWindow;
use crate::pipeline::layout::SegmentGeometry;

/// A piece that can be read, and where.
#[derive(Clone)]
pub struct PieceSource {
    pub piece: usize,
    pub store: Rc<dyn PieceStore>,
    pub id: PieceId,
}

#[derive(Clone, Copy, Debug)]
pub struct Hedge {
    /// Reads started beyond the k needed.
    pub extra: usize,
    /// A read slower than this brings in another piece (it is not cancelled).
    pub piece_timeout: Duration,
}

/// One piece's bytes for the window.
pub struct WindowPiece {
    pub shares: PieceBytes,
    pub checksums: Vec<u32>,
}

/// The pieces fetched so far for one window of stripes.
pub struct WindowFetch<'a> {
    sources: &'a [PieceSource],
    geometry: SegmentGeometry,
    stripes: Range<u32>,
    pieces: Vec<Option<WindowPiece>>,
    tried: Vec<bool>,
    pub failures: Vec<(usize, StoreError)>,
    /// Pieces whose read was overtaken by a hedge and cancelled.
    pub overtaken: Vec<usize>,
}

impl<'a> WindowFetch<'a> {
    pub fn new(sources: &'a [PieceSource], geometry: SegmentGeometry, stripes: Range<u32>) -> Self {
        let n = geometry.layout.total();
        Self {
            sources,
            geometry,
            stripes,
            pieces: (0..n).map(|_| None).collect(),
            tried: vec![false; n],
            failures: Vec::new(),
            overtaken: Vec::new(),
        }
    }

    /// Pieces fetched so far, as decoder windows.
    pub fn windows(&self) -> Vec<Option<PieceWindow<'_>>> {
        self.pieces
            .iter()
            .map(|p| {
                p.as_ref().map(|w| PieceWindow {
                    shares: &w.shares,
                    checksums: &w.checksums,
                })
            })
            .collect()
    }

    pub fn fetched(&self) -> usize {
        self.pieces.iter().flatten().count()
    }

    /// Whether an untried piece is left.
    pub fn exhausted(&self) -> bool {
        self.sources.iter().all(|s| self.tried[s.piece])
    }

    /// Fetches `wanted` more pieces (fewer if the sources run out).
    pub async fn fetch(&mut self, wanted: usize, hedge: Hedge) {
        let mut order: Vec<&PieceSource> = self
            .sources
            .iter()
            .filter(|s| !self.tried[s.piece])
            .collect();
        order.sort_by_key(|s| s.piece);
        let mut order = order.into_iter();
        let span = self.geometry.shares_span(&self.stripes);
        let shares =
            format::share_area_offset() + span.start..format::share_area_offset() + span.end;
        let table_at = format::checksums_offset(&self.geometry);
        let table =
            table_at + 4 * self.stripes.start as u64..table_at + 4 * self.stripes.end as u64;
        let shares_len = (span.end - span.start) as usize;
        let table_len = 4 * (self.stripes.end - self.stripes.start) as usize;
        let read = |source: &'a PieceSource| {
            let (shares, table) = (shares.clone(), table.clone());
            async move {
                let (shares, table) = futures_lite::future::zip(
                    source.store.read(source.id, shares),
                    source.store.read(source.id, table),
                )
                .await;
                let (shares, table) = (shares?, table?);
                if shares.len() != shares_len || table.len() != table_len {
                    return Err(StoreError::Protocol {
                        store: source.store.name().to_string(),
                        op: "read",
                        piece: source.id,
                        detail: format!("short read: {} and {} bytes", shares.len(), table.len()),
                    });
                }
                let checksums = format::parse_checksums(&table).expect("length checked above");
                Ok(WindowPiece { shares, checksums })
            }
        };
        let mut race = Race::default();
        let mut launch = |race: &mut Race<'a, _>, tried: &mut Vec<bool>| {
            if let Some(source) = order.next() {
                tried[source.piece] = true;
                race.push(source.piece, read(source));
            }
        };
        for _ in 0..wanted + hedge.extra {
            launch(&mut race, &mut self.tried);
        }
        let mut got = 0;
        while got < wanted && !race.is_empty() {
            let timeout = async {
                glommio::timer::Timer::new(hedge.piece_timeout).await;
                None
            };
            match futures_lite::future::or(race.next(), timeout).await {
                Some((piece, Ok(window))) => {
                    self.pieces[piece] = Some(window);
                    got += 1;
                }
                Some((piece, Err(error))) => {
                    self.failures.push((piece, error));
                    launch(&mut race, &mut self.tried);
                }
                // Slow: bring in another piece without giving up on the slow one.
                None => launch(&mut race, &mut self.tried),
            }
        }
        self.overtaken.extend(race.cancel_all());
    }
}
