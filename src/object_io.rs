//! Objects on pieces: [`ObjectWriter`] streams plaintext through the
//! `SegmentEncoder` into a `PieceFanout` per segment; [`ObjectReader`] serves a
//! byte range by fetching windows of stripes from k pieces and decoding them.
//! This is the one place where the pure pipeline meets the piece stores.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;
use std::time::Duration;

use crate::cluster::{StoreId, StoreSet};
use crate::config::PipelineConfig;
use crate::entropy;
use crate::pieces::download::{PieceSource, WindowFetch};
use crate::pieces::format::{self, PieceHeader, PieceId, SegmentId, HEADER_BYTES};
use crate::pieces::upload::{LongTail, PieceFanout, PieceTarget, UploadError};
use crate::pieces::StoreError;
use crate::pipeline::buf::{AlignedBuf, BufPool};
use crate::pipeline::checksum::{DigestRequest, ObjectDigest, ObjectHasher};
use crate::pipeline::crypto::AuthError;
use crate::pipeline::decoder::{DecodeError, DecodeReport, SegmentDecoder};
use crate::pipeline::encoder::{PieceBuffers, SegmentEncoder, SegmentSeal};
use crate::pipeline::inline::{open_inline, seal_inline};
use crate::pipeline::{ErasureParams, Layout, SegmentGeometry};

/// The long-tail rule of a write under `config`.
fn long_tail(config: &PipelineConfig) -> LongTail {
    LongTail {
        optimal: config.layout.erasure().optimal,
        lag_chunks_max: config.lag_chunks_max,
        linger: config.linger,
    }
}

/// Where piece `piece` of a segment lives, and its digest for audits.
pub use crate::meta::PiecePlacement;

/// Everything needed to read a segment back.
pub struct SegmentRecord {
    pub id: SegmentId,
    pub erasure: ErasureParams,
    pub share_bytes: usize,
    pub plaintext_bytes: u64,
    pub seal: SegmentSeal,
    pub pieces: Vec<PiecePlacement>,
}

impl SegmentRecord {
    pub fn geometry(&self) -> SegmentGeometry {
        Layout::new(self.erasure, self.share_bytes, u64::MAX)
            .expect("records hold layouts that were valid when written")
            .segment(self.plaintext_bytes)
    }
}

/// A run of an object's bytes: sealed whole in metadata, or a segment on pieces.
/// An object is a sequence of extents: one for a small object, one per segment
/// for a large one, and the concatenation of its parts' extents for a multipart one.
pub enum BodyExtent {
    Inline { sealed: Vec<u8>, seal: SegmentSeal },
    Segment(SegmentRecord),
}

impl BodyExtent {
    pub fn plaintext_bytes(&self) -> u64 {
        match self {
            Self::Inline { sealed, .. } => {
                (sealed.len() - crate::pipeline::layout::TAG_BYTES) as u64
            }
            Self::Segment(segment) => segment.plaintext_bytes,
        }
    }
}

/// Plaintext bytes of a sequence of extents.
pub fn body_bytes(extents: &[BodyExtent]) -> u64 {
    extents.iter().map(BodyExtent::plaintext_bytes).sum()
}

/// What one `ObjectWriter` produced: the extents and the digests of the plaintext.
pub struct StoredObject {
    pub extents: Vec<BodyExtent>,
    pub digest: ObjectDigest,
    pub stats: WriteStats,
}

/// Where a write's time went and what its piece transfers did, for metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteStats {
    pub stages: crate::pipeline::encoder::StageTimes,
    /// Summed over segments: from opening the segment's writers to `o` commits.
    pub piece_write: Duration,
    pub pieces_started: u64,
    pub pieces_committed: u64,
    /// Cut off by the long tail.
    pub pieces_cancelled: u64,
    pub pieces_failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("segment {segment}: {source}")]
    Upload {
        segment: String,
        source: UploadError,
    },
    #[error("segment {segment}: {source}; piece failures: {failures}")]
    Decode {
        segment: String,
        source: DecodeError,
        failures: String,
    },
    #[error("inline object failed authentication")]
    Inline(#[from] AuthError),
    #[error("range {start}..{end} outside an object of {len} bytes")]
    Range { start: u64, end: u64, len: u64 },
    #[error("{needed} live piece stores needed, {available} available")]
    TooFewStores { needed: usize, available: usize },
    #[error("writer already failed")]
    Poisoned,
}

struct OpenSegment {
    opened: std::time::Instant,
    id: SegmentId,
    seal: SegmentSeal,
    /// The store of piece i, for the pieces placed (0..len, at least o: with
    /// fewer live stores than n the last pieces are left to repair).
    stores: Vec<StoreId>,
    headers: Vec<[u8; HEADER_BYTES]>,
    fanout: PieceFanout,
}

/// Streams one object's plaintext onto the piece stores.
pub struct ObjectWriter {
    config: Rc<PipelineConfig>,
    stores: Rc<StoreSet>,
    digests: DigestRequest,
    encoder: SegmentEncoder,
    out: PieceBuffers,
    pool: Rc<RefCell<BufPool>>,
    open: Option<OpenSegment>,
    done: Vec<SegmentRecord>,
    small: Option<Vec<u8>>,
    poisoned: bool,
    stats: WriteStats,
}

impl ObjectWriter {
    pub fn new(
        config: Rc<PipelineConfig>,
        stores: Rc<StoreSet>,
        digests: DigestRequest,
    ) -> Result<Self, ObjectError> {
        let n = config.layout.total();
        let optimal = config.layout.erasure().optimal;
        if stores.configured_count() < optimal {
            return Err(ObjectError::TooFewStores {
                needed: optimal,
                available: stores.configured_count(),
            });
        }
        let chunk = config.chunk_bytes + config.layout.share_bytes() + HEADER_BYTES;
        Ok(Self {
            encoder: SegmentEncoder::new(
                config.layout,
                config.backend,
                digests,
                crate::clock::monotonic,
            ),
            out: PieceBuffers::new(n, chunk),
            pool: Rc::new(RefCell::new(BufPool::new(
                chunk,
                n * (config.lag_chunks_max + 2),
            ))),
            small: Some(Vec::new()),
            config,
            stores,
            digests,
            open: None,
            done: Vec::new(),
            poisoned: false,
            stats: WriteStats::default(),
        })
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<(), ObjectError> {
        if self.poisoned {
            return Err(ObjectError::Poisoned);
        }
        if let Some(small) = &mut self.small {
            if small.len() + data.len() <= self.config.inline_bytes_max {
                small.extend_from_slice(data);
                return Ok(());
            }
            let buffered = self.small.take().expect("checked above");
            self.guarded_feed(&buffered).await?;
        }
        self.guarded_feed(data).await
    }

    pub async fn finish(mut self) -> Result<StoredObject, ObjectError> {
        if self.poisoned {
            return Err(ObjectError::Poisoned);
        }
        if let Some(small) = self.small.take() {
            let mut hasher = ObjectHasher::new(self.digests);
            hasher.update(&small);
            let seal = SegmentSeal::random(&mut entropy::Os);
            let sealed = seal_inline(self.config.backend, &seal, &small);
            return Ok(StoredObject {
                extents: vec![BodyExtent::Inline { sealed, seal }],
                digest: hasher.finish(self.digests),
                stats: self.stats,
            });
        }
        if self.open.is_none() && self.done.is_empty() {
            if let Err(e) = self.open_segment() {
                self.fail();
                return Err(e);
            }
        }
        if self.open.is_some() {
            if let Err(e) = self.close_segment().await {
                self.fail();
                return Err(e);
            }
        }
        let digest = self.encoder.finish_object();
        let extents = std::mem::take(&mut self.done)
            .into_iter()
            .map(BodyExtent::Segment)
            .collect();
        self.stats.stages = self.encoder.take_stage_times();
        Ok(StoredObject {
            extents,
            digest,
            stats: self.stats,
        })
    }

    /// Gives up: cancels the open segment and deletes the pieces of finished ones.
    pub fn abort(mut self) {
        self.fail();
    }

    fn fail(&mut self) {
        self.poisoned = true;
        if let Some(open) = self.open.take() {
            open.fanout.abort();
        }
        for segment in self.done.drain(..) {
            delete_segment_pieces(&self.stores, &segment);
        }
    }

    async fn guarded_feed(&mut self, data: &[u8]) -> Result<(), ObjectError> {
        let result = self.feed(data).await;
        if result.is_err() {
            self.fail();
        }
        result
    }

    async fn feed(&mut self, mut data: &[u8]) -> Result<(), ObjectError> {
        while !data.is_empty() {
            if self.open.is_none() {
                self.open_segment()?;
            }
            let used = self.encoder.push(data, &mut self.out);
            data = &data[used..];
            if self.encoder.segment_room() == 0 {
                self.close_segment().await?;
            } else if self.out.pending_bytes() >= self.config.chunk_bytes {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Places the next segment's pieces and starts their writers. Pieces
    /// 0..k are the data pieces, so they are always among those placed.
    fn open_segment(&mut self) -> Result<(), ObjectError> {
        let n = self.config.layout.total();
        let optimal = self.config.layout.erasure().optimal;
        let stores = self.stores.place_at_least(n, optimal);
        if stores.len() < optimal {
            return Err(ObjectError::TooFewStores {
                needed: optimal,
                available: stores.len(),
            });
        }
        let id = SegmentId::random(&mut entropy::Os);
        let seal = SegmentSeal::random(&mut entropy::Os);
        self.encoder.begin_segment(&seal, &mut self.out);
        let mut headers = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        for (i, &store) in stores.iter().enumerate() {
            let piece_id = PieceId {
                segment: id,
                piece: i as u16,
            };
            let header = PieceHeader {
                id: piece_id,
                required: self.config.layout.required() as u16,
                total: n as u16,
                share_bytes: self.config.layout.share_bytes() as u32,
            }
            .encode();
            self.out.shares[i].extend_from_slice(&header);
            headers.push(header);
            targets.push(PieceTarget {
                store: self
                    .stores
                    .get(store)
                    .expect("placement picks configured stores")
                    .clone(),
                id: piece_id,
            });
        }
        let fanout = PieceFanout::start(targets, long_tail(&self.config), self.pool.clone());
        self.stats.pieces_started += stores.len() as u64;
        self.open = Some(OpenSegment {
            opened: std::time::Instant::now(),
            id,
            seal,
            stores,
            headers,
            fanout,
        });
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ObjectError> {
        let open = self.open.as_mut().expect("flush inside a segment");
        let placed = open.stores.len();
        let chunks = {
            let mut pool = self.pool.borrow_mut();
            // Shares of pieces left unplaced are dropped where they are.
            for unplaced in &mut self.out.shares[placed..] {
                unplaced.clear();
            }
            self.out.shares[..placed]
                .iter_mut()
                .map(|s| std::mem::replace(s, pool.take()))
                .collect()
        };
        open.fanout
            .send(chunks)
            .await
            .map_err(|source| ObjectError::Upload {
                segment: open.id.to_hex(),
                source,
            })
    }

    async fn close_segment(&mut self) -> Result<(), ObjectError> {
        let geometry = self.encoder.finish_segment(&mut self.out);
        let mut digests = Vec::new();
        {
            let open = self.open.as_ref().expect("close inside a segment");
            for (i, header) in open.headers.iter().enumerate() {
                let (closing, digest) =
                    format::closing_bytes(header, &geometry, &self.out.checksums[i]);
                self.out.shares[i].extend_from_slice(&closing);
                digests.push(digest);
            }
        }
        self.flush().await?;
        let open = self.open.take().expect("close inside a segment");
        let outcome = open
            .fanout
            .finish()
            .await
            .map_err(|source| ObjectError::Upload {
                segment: open.id.to_hex(),
                source,
            })?;
        self.stats.piece_write += open.opened.elapsed();
        self.stats.pieces_committed += outcome.committed.len() as u64;
        self.stats.pieces_cancelled += outcome.cancelled.len() as u64;
        self.stats.pieces_failed += outcome.failed.len() as u64;
        for (i, error) in &outcome.failed {
            self.stores.report(open.stores[*i], error);
        }
        let pieces = outcome
            .committed
            .iter()
            .map(|&i| PiecePlacement {
                piece: i as u16,
                store: open.stores[i],
                digest: digests[i],
            })
            .collect();
        self.done.push(SegmentRecord {
            id: open.id,
            erasure: self.config.layout.erasure(),
            share_bytes: self.config.layout.share_bytes(),
            plaintext_bytes: geometry.plaintext_bytes,
            seal: open.seal,
            pieces,
        });
        Ok(())
    }
}

/// Deletes a segment's pieces in the background (a write that failed before
/// any record could name them). A piece whose delete fails stays until the
/// start-up sweep: the writer has no metadata to queue it in.
fn delete_segment_pieces(stores: &Rc<StoreSet>, segment: &SegmentRecord) {
    let stores = stores.clone();
    let pieces = segment.pieces.clone();
    let id = segment.id;
    glommio::spawn_local(async move {
        delete_pieces(&stores, id, &pieces).await;
    })
    .detach();
}

/// Deletes the pieces of a segment no record names, all at once, and tells
/// how many deletes failed (deleting an absent piece succeeds). A store not
/// configured in this run counts as a failure: its pieces are still there.
pub async fn delete_pieces(
    stores: &StoreSet,
    segment: SegmentId,
    pieces: &[PiecePlacement],
) -> usize {
    let mut race = crate::pieces::race::Race::default();
    let mut failed = 0;
    for placement in pieces {
        let Some(store) = stores.get(placement.store).cloned() else {
            failed += 1;
            continue;
        };
        let id = PieceId {
            segment,
            piece: placement.piece,
        };
        race.push(usize::from(placement.piece), async move {
            store.delete(id).await
        });
    }
    while let Some((_, result)) = race.next().await {
        failed += usize::from(result.is_err());
    }
    failed
}

/// Serves one byte range of a stored object as a sequence of plaintext chunks.
pub struct ObjectReader<'a> {
    config: &'a PipelineConfig,
    stores: &'a StoreSet,
    extents: &'a [BodyExtent],
    decoder: SegmentDecoder,
    /// Object-relative bytes still to produce.
    remaining: Range<u64>,
    /// Pieces of the segment being read that failed or were damaged, for repair.
    pub report: DecodeReport,
    pub piece_failures: Vec<(SegmentId, usize, StoreError)>,
    /// Time spent fetching and decoding so far.
    pub read_time: Duration,
    /// Piece reads that answered, and those cancelled because others (a
    /// hedge) answered first.
    pub pieces_read: u64,
    pub pieces_overtaken: u64,
}

impl<'a> ObjectReader<'a> {
    pub fn new(
        config: &'a PipelineConfig,
        stores: &'a StoreSet,
        extents: &'a [BodyExtent],
        range: Range<u64>,
    ) -> Result<Self, ObjectError> {
        let len = body_bytes(extents);
        if range.start > range.end || range.end > len {
            return Err(ObjectError::Range {
                start: range.start,
                end: range.end,
                len,
            });
        }
        Ok(Self {
            config,
            stores,
            extents,
            decoder: SegmentDecoder::new(config.backend),
            remaining: range,
            report: DecodeReport::default(),
            piece_failures: Vec::new(),
            read_time: Duration::ZERO,
            pieces_read: 0,
            pieces_overtaken: 0,
        })
    }

    /// The next chunk of plaintext, or `None` at the end of the range.
    pub async fn next_chunk(&mut self) -> Result<Option<AlignedBuf>, ObjectError> {
        let started = std::time::Instant::now();
        let chunk = self.read_chunk().await;
        self.read_time += started.elapsed();
        chunk
    }

    async fn read_chunk(&mut self) -> Result<Option<AlignedBuf>, ObjectError> {
        if self.remaining.start >= self.remaining.end {
            return Ok(None);
        }
        // Find the extent holding remaining.start.
        let mut base = 0u64;
        let extent = self
            .extents
            .iter()
            .find(|e| {
                let hit = self.remaining.start < base + e.plaintext_bytes();
                if !hit {
                    base += e.plaintext_bytes();
                }
                hit
            })
            .expect("range checked against the object length");
        let segment = match extent {
            BodyExtent::Inline { sealed, seal } => {
                let plain = open_inline(self.config.backend, seal, sealed)?;
                let end = (self.remaining.end - base).min(plain.len() as u64);
                let mut out = AlignedBuf::with_capacity(0);
                out.extend_from_slice(&plain[(self.remaining.start - base) as usize..end as usize]);
                self.remaining.start = base + end;
                return Ok(Some(out));
            }
            BodyExtent::Segment(segment) => segment,
        };
        let geometry = segment.geometry();
        let stripe_plain = geometry.layout.stripe_plaintext_bytes() as u64;
        let window_stripes = (self.config.window_bytes as u64 / stripe_plain).max(1);
        let start = self.remaining.start - base;
        let first = (start / stripe_plain) as u32;
        let last = (first as u64 + window_stripes).min(geometry.stripe_count as u64) as u32;
        let end = (self.remaining.end - base).min(geometry.stripe_plaintext(last - 1).end);
        let range = start..end;
        let stripes = geometry.stripes_covering(&range);
        let k = geometry.layout.required();
        let sources = piece_sources(self.stores, segment, k);
        let mut fetch = WindowFetch::new(&sources, geometry, stripes.clone());
        fetch.fetch(k, self.config.hedge).await;
        let mut out = AlignedBuf::with_capacity((end - start) as usize);
        loop {
            let mut report = DecodeReport::default();
            let result = self.decoder.decode(
                &geometry,
                &segment.seal,
                stripes.clone(),
                &fetch.windows(),
                range.clone(),
                &mut out,
                &mut report,
            );
            match result {
                Ok(()) => {
                    self.report.corrupt_shares.extend(report.corrupt_shares);
                    self.report.stripes_rebuilt += report.stripes_rebuilt;
                    break;
                }
                Err(DecodeError::NotEnoughShares { .. } | DecodeError::Authentication { .. })
                    if !fetch.exhausted() =>
                {
                    out.clear();
                    let more = geometry.layout.total() - fetch.fetched();
                    fetch.fetch(more, self.config.hedge).await;
                }
                Err(source) => {
                    let failures = fetch
                        .failures
                        .iter()
                        .map(|(i, e)| format!("piece {i}: {e}"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    return Err(ObjectError::Decode {
                        segment: segment.id.to_hex(),
                        source,
                        failures,
                    });
                }
            }
        }
        self.pieces_read += fetch.fetched() as u64;
        self.pieces_overtaken += fetch.overtaken.len() as u64;
        for (piece, error) in fetch.failures.drain(..) {
            if let Some(p) = segment.pieces.iter().find(|p| p.piece as usize == piece) {
                self.stores.report(p.store, &error);
            }
            self.piece_failures.push((segment.id, piece, error));
        }
        self.remaining.start = base + end;
        Ok(Some(out))
    }
}

/// The pieces of a segment a read may use: those on configured stores, and of
/// those, only the ones on live stores while at least k are (a store known to
/// be down would only cost a timeout before its piece is replaced).
pub fn piece_sources(stores: &StoreSet, segment: &SegmentRecord, k: usize) -> Vec<PieceSource> {
    let reachable = |p: &&PiecePlacement| stores.get(p.store).is_some();
    let live = segment
        .pieces
        .iter()
        .filter(|p| stores.is_alive(p.store))
        .count();
    segment
        .pieces
        .iter()
        .filter(reachable)
        .filter(|p| live < k || stores.is_alive(p.store))
        .map(|p| PieceSource {
            piece: p.piece as usize,
            store: stores.get(p.store).expect("filtered above").clone(),
            id: PieceId {
                segment: segment.id,
                piece: p.piece,
            },
        })
        .collect()
}
