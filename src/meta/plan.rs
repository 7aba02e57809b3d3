//! A mutation's plan: the rows it will write or delete and the segment
//! reference counts it moves, gathered while only reading, then resolved into
//! writes (`finish`) and applied to the batch's tables (`WriteTables`).

use std::collections::BTreeMap;

use redb::{Table, WriteTransaction};
use serde::Serialize;

use super::codec::encode;
use super::error::{storage, MetaError};
use super::mutation::MutationOutcome;
use super::store::{contains, get, Bytes, TableId};
use super::types::*;
use crate::pieces::format::SegmentId;

pub(super) enum Write {
    Put(TableId, Vec<u8>, Vec<u8>),
    Delete(TableId, Vec<u8>),
}

/// Every table, opened once per batch.
pub(super) struct WriteTables<'txn> {
    tables: Vec<Table<'txn, Bytes, Bytes>>,
}

impl<'txn> WriteTables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Self, MetaError> {
        let tables = TableId::ALL
            .iter()
            .map(|id| {
                txn.open_table(id.definition())
                    .map_err(storage("open table"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { tables })
    }

    pub(super) fn get(&self, id: TableId) -> &Table<'txn, Bytes, Bytes> {
        &self.tables[id as usize]
    }

    pub(super) fn apply(&mut self, writes: Vec<Write>) -> Result<(), MetaError> {
        for write in writes {
            match write {
                Write::Put(id, key, value) => {
                    self.tables[id as usize]
                        .insert(key.as_slice(), value.as_slice())
                        .map_err(storage("insert"))?;
                }
                Write::Delete(id, key) => {
                    self.tables[id as usize]
                        .remove(key.as_slice())
                        .map_err(storage("remove"))?;
                }
            }
        }
        Ok(())
    }
}

/// A segments-table row written from a borrowed info; same bytes as `SegmentRow`.
#[derive(Serialize)]
struct SegmentRowRef<'a> {
    refs: u32,
    info: &'a SegmentInfo,
}

/// The checked effects of one mutation, not yet written.
#[derive(Default)]
pub(super) struct Plan<'m> {
    writes: Vec<Write>,
    /// Net reference change per existing segment (a self-copy nets to zero).
    refs: BTreeMap<SegmentId, i64>,
    created: Vec<(SegmentId, &'m SegmentInfo)>,
    pub(super) outcome: MutationOutcome,
}

impl<'m> Plan<'m> {
    pub(super) fn put(&mut self, table: TableId, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.writes.push(Write::Put(table, key.into(), value));
    }

    pub(super) fn delete(&mut self, table: TableId, key: impl Into<Vec<u8>>) {
        self.writes.push(Write::Delete(table, key.into()));
    }

    pub(super) fn acquire(&mut self, ids: impl IntoIterator<Item = SegmentId>) {
        for id in ids {
            *self.refs.entry(id).or_default() += 1;
        }
    }

    pub(super) fn release(&mut self, extents: &[Extent]) {
        for id in segment_ids(extents) {
            *self.refs.entry(id).or_default() -= 1;
        }
    }

    pub(super) fn create(&mut self, segments: &'m [(SegmentId, SegmentInfo)]) {
        self.created
            .extend(segments.iter().map(|(id, info)| (*id, info)));
    }

    /// Resolves the reference changes into rows (still only reading), and
    /// returns the writes, the outcome and the count of dangling releases.
    pub(super) fn finish(
        mut self,
        t: &WriteTables<'_>,
    ) -> Result<(Vec<Write>, MutationOutcome, u64), MetaError> {
        let segments = t.get(TableId::Segments);
        let gc = t.get(TableId::Gc);
        for &(id, info) in &self.created {
            if contains(segments, &id.0)? || contains(gc, &id.0)? {
                return Err(MetaError::InconsistentMutation(
                    "a new segment id is already in use",
                ));
            }
            if self.refs.contains_key(&id) {
                return Err(MetaError::InconsistentMutation(
                    "a new segment is also shared or released",
                ));
            }
            let row = postcard_row(1, info);
            self.writes
                .push(Write::Put(TableId::Segments, id.0.to_vec(), row));
        }
        let mut dangling = 0u64;
        for (&id, &delta) in &self.refs {
            if delta == 0 {
                continue;
            }
            let Some(row) = get::<_, SegmentRow>(segments, TableId::Segments, &id.0)? else {
                if delta > 0 {
                    return Err(MetaError::NoSuchSegment(id));
                }
                dangling += delta.unsigned_abs();
                continue;
            };
            let refs = i64::from(row.refs) + delta;
            if refs > 0 {
                let refs = u32::try_from(refs).map_err(|_| {
                    MetaError::InconsistentMutation("segment reference count overflow")
                })?;
                self.writes.push(Write::Put(
                    TableId::Segments,
                    id.0.to_vec(),
                    postcard_row(refs, &row.info),
                ));
            } else {
                dangling += refs.unsigned_abs();
                self.writes
                    .push(Write::Delete(TableId::Segments, id.0.to_vec()));
                self.writes
                    .push(Write::Put(TableId::Gc, id.0.to_vec(), encode(&row.info)));
                self.outcome.segments_queued_for_gc += 1;
            }
        }
        Ok((self.writes, self.outcome, dangling))
    }
}

pub(super) fn postcard_row(refs: u32, info: &SegmentInfo) -> Vec<u8> {
    encode(&SegmentRowRef { refs, info })
}
