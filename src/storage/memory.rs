//! A store in memory, for tests, examples and benchmarks; it counts what it
//! is asked to write.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Batch, Op, RecordKind, Storage, StorageError, Value};

/// What a [`MemoryStore`] was asked to do since it was created or its
/// statistics were reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Batches applied.
    pub batches: u64,
    /// Records written.
    pub writes: u64,
    /// Records deleted.
    pub deletes: u64,
    /// Bytes written: keys and values.
    pub bytes_written: u64,
}

#[derive(Default)]
struct Inner {
    records: BTreeMap<(RecordKind, Vec<u8>), Value>,
    stats: StoreStats,
    /// Batches to refuse, for tests of failed writes.
    fail_next: u32,
}

/// A [`Storage`] in memory: records in a sorted map behind a mutex. A batch
/// is applied under the lock, so it is atomic.
///
/// ```
/// use tessera::storage::{Batch, MemoryStore, RecordKind, Storage};
/// let store = MemoryStore::new();
/// let mut batch = Batch::default();
/// batch.put(RecordKind::Tree, b"k".to_vec(), vec![1, 2, 3]);
/// store.apply(batch).unwrap();
/// assert_eq!(store.stats().bytes_written, 4);
/// ```
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl core::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("records", &self.len())
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StorageError> {
        self.inner
            .lock()
            .map_err(|_| StorageError::Backend("memory store lock poisoned".into()))
    }

    /// What the store was asked to do.
    pub fn stats(&self) -> StoreStats {
        self.lock().map(|i| i.stats).unwrap_or_default()
    }

    /// Resets the statistics to zero.
    pub fn reset_stats(&self) {
        if let Ok(mut i) = self.lock() {
            i.stats = StoreStats::default();
        }
    }

    /// The number of records held.
    pub fn len(&self) -> usize {
        self.lock().map(|i| i.records.len()).unwrap_or(0)
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The total size of the records held: keys and values.
    pub fn bytes_held(&self) -> usize {
        self.lock()
            .map(|i| i.records.iter().map(|((_, k), v)| k.len() + v.len()).sum())
            .unwrap_or(0)
    }

    /// The number of records of `kind` held.
    pub fn count(&self, kind: RecordKind) -> usize {
        self.lock()
            .map(|i| i.records.keys().filter(|(k, _)| *k == kind).count())
            .unwrap_or(0)
    }

    /// Makes the next `n` calls of [`Storage::apply`] fail with
    /// [`StorageError::Backend`], changing nothing (for tests).
    pub fn fail_next_batches(&self, n: u32) {
        if let Ok(mut i) = self.lock() {
            i.fail_next = n;
        }
    }

    /// A copy of every record (for tests: compare, or copy into a new store).
    pub fn snapshot(&self) -> BTreeMap<(RecordKind, Vec<u8>), Value> {
        self.lock().map(|i| i.records.clone()).unwrap_or_default()
    }

    /// A store holding a copy of this one's records.
    pub fn duplicate(&self) -> MemoryStore {
        let store = MemoryStore::new();
        if let (Ok(mut to), Ok(from)) = (store.lock(), self.lock()) {
            to.records = from.records.clone();
        }
        store
    }
}

impl Storage for MemoryStore {
    fn get(&self, kind: RecordKind, key: &[u8]) -> Result<Option<Value>, StorageError> {
        Ok(self.lock()?.records.get(&(kind, key.to_vec())).cloned())
    }

    fn scan(&self, kind: RecordKind, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Value)>, StorageError> {
        let inner = self.lock()?;
        Ok(inner
            .records
            .range((kind, prefix.to_vec())..)
            .take_while(|((k, key), _)| *k == kind && key.starts_with(prefix))
            .map(|((_, key), v)| (key.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, batch: Batch) -> Result<(), StorageError> {
        let mut inner = self.lock()?;
        if inner.fail_next > 0 {
            inner.fail_next -= 1;
            return Err(StorageError::Backend("injected failure".into()));
        }
        let bytes = batch.bytes_written() as u64;
        inner.stats.batches += 1;
        inner.stats.bytes_written += bytes;
        for op in batch.ops {
            match op {
                Op::Put { kind, key, value } => {
                    inner.stats.writes += 1;
                    inner.records.insert((kind, key), value);
                }
                Op::Delete { kind, key } => {
                    inner.stats.deletes += 1;
                    inner.records.remove(&(kind, key));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_stays_inside_kind_and_prefix() {
        let store = MemoryStore::new();
        let mut b = Batch::default();
        b.put(RecordKind::Tree, b"ab1".to_vec(), vec![1]);
        b.put(RecordKind::Tree, b"ab2".to_vec(), vec![2]);
        b.put(RecordKind::Tree, b"ac".to_vec(), vec![3]);
        b.put(RecordKind::PastEpoch, b"ab3".to_vec(), vec![4]);
        store.apply(b).unwrap();
        let found = store.scan(RecordKind::Tree, b"ab").unwrap();
        let keys: Vec<_> = found.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [b"ab1".as_slice(), b"ab2"]);
        assert_eq!(store.scan(RecordKind::Tree, b"").unwrap().len(), 3);
    }

    #[test]
    fn failed_batch_changes_nothing() {
        let store = MemoryStore::new();
        let mut b = Batch::default();
        b.put(RecordKind::Tree, b"a".to_vec(), vec![1]);
        store.apply(b.clone()).unwrap();
        store.fail_next_batches(1);
        let mut b2 = Batch::default();
        b2.delete(RecordKind::Tree, b"a".to_vec());
        b2.put(RecordKind::Tree, b"b".to_vec(), vec![2]);
        assert!(store.apply(b2.clone()).is_err());
        assert_eq!(store.len(), 1);
        assert_eq!(store.stats().batches, 1);
        store.apply(b2).unwrap();
        assert_eq!(store.scan(RecordKind::Tree, b"").unwrap().len(), 1);
        assert_eq!(store.stats().deletes, 1);
    }

    #[test]
    fn group_keys_are_prefix_free() {
        let a = super::super::group_key_prefix(b"ab");
        let b = super::super::group_key_prefix(b"abc");
        assert!(!b.starts_with(&a));
        let mut key = a.clone();
        key.extend_from_slice(b"rest");
        assert_eq!(
            super::super::split_group_key(&key),
            Some((b"ab".as_slice(), b"rest".as_slice()))
        );
        assert_eq!(super::super::split_group_key(&[0, 0, 0, 9, 1]), None);
    }
}
