//! Copy-on-write containers for the parts of a ratchet tree that grow with
//! the group, so that copying a tree (to stage a commit, RFC 9420 §12.4.2,
//! while the current epoch's tree stays as it is, and is later kept for late
//! application messages) costs O(N / chunk) pointer copies and a change
//! copies only the chunk it touches.
//!
//! * [`CowVec`]: a vector cut into fixed-size chunks shared behind `Arc`s;
//! * [`CowMap`]: a hash map cut into shards by key hash, shared the same way.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use std::sync::Arc;

/// log2 of the number of elements per [`CowVec`] chunk.
const CHUNK_BITS: usize = 5;
/// Elements per [`CowVec`] chunk.
const CHUNK: usize = 1 << CHUNK_BITS;

/// A vector whose chunks of [`CHUNK`] elements are shared between copies
/// until one of them writes to the chunk.
#[derive(Clone)]
pub(super) struct CowVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for CowVec<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for CowVec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for CowVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .chunks
                .iter()
                .zip(&other.chunks)
                .all(|(a, b)| Arc::ptr_eq(a, b) || a == b)
    }
}

impl<T> CowVec<T> {
    /// The elements of `v`, in order.
    pub(super) fn from_vec(v: Vec<T>) -> Self {
        let len = v.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut elements = v.into_iter();
        loop {
            let chunk: Vec<T> = elements.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(Arc::new(chunk));
        }
        Self { chunks, len }
    }

    /// The number of elements.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The element at `i`.
    pub(super) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        self.chunks.get(i >> CHUNK_BITS)?.get(i & (CHUNK - 1))
    }

    /// How many chunks this vector shares with `other` (at the same place).
    #[cfg(test)]
    pub(super) fn shared_chunks(&self, other: &Self) -> usize {
        self.chunks
            .iter()
            .zip(&other.chunks)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count()
    }

    /// The elements in order.
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

impl<T: Clone> CowVec<T> {
    /// The element at `i`, for writing: its chunk is copied first if another
    /// copy of the vector shares it.
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let chunk = self.chunks.get_mut(i >> CHUNK_BITS)?;
        Arc::make_mut(chunk).get_mut(i & (CHUNK - 1))
    }

    /// Grows (with `f()`) or truncates to `n` elements.
    pub(super) fn resize_with(&mut self, n: usize, mut f: impl FnMut() -> T) {
        let chunks = n.div_ceil(CHUNK);
        self.chunks.truncate(chunks);
        if n < self.len {
            if let Some(last) = self.chunks.last_mut() {
                let keep = n - ((chunks - 1) << CHUNK_BITS);
                Arc::make_mut(last).truncate(keep);
            }
        } else {
            let mut remaining = n - self.len;
            if let Some(last) = self.chunks.last_mut()
                && last.len() < CHUNK
            {
                let room = (CHUNK - last.len()).min(remaining);
                let last = Arc::make_mut(last);
                last.extend((0..room).map(|_| f()));
                remaining -= room;
            }
            while remaining > 0 {
                let k = remaining.min(CHUNK);
                self.chunks.push(Arc::new((0..k).map(|_| f()).collect()));
                remaining -= k;
            }
        }
        self.len = n;
    }
}

/// Average number of entries per [`CowMap`] shard above which the shards
/// are doubled: a change copies about this many entries.
const SHARD_LOAD: usize = 32;

/// A map from byte-string keys to values that point to where the keys are
/// kept (a node of the tree), cut into shards (a power of two of them), each
/// shared between copies until one of them changes it.
///
/// The map holds no key: an entry is the key's hash and its value, and
/// `key_of(value)` reads the key back from where it is kept, so that a
/// look-up compares the real keys (two keys with one hash stay apart). An
/// entry is 16 bytes and plain data, so copying a shard is one `memcpy`.
///
/// Each operation hashes its key once, with a keyed hash (std's
/// `RandomState`, so that no one can crowd a shard or a bucket on purpose):
/// bits 32 and up choose the shard, and the shard's table
/// ([`hashbrown::HashTable`]) uses the same hash for its buckets.
#[derive(Clone, Debug)]
pub(super) struct CowMap<V> {
    shards: Vec<Arc<HashTable<(u64, V)>>>,
    len: usize,
    hasher: RandomState,
}

impl<V> Default for CowMap<V> {
    fn default() -> Self {
        Self {
            shards: vec![Arc::new(HashTable::new())],
            len: 0,
            hasher: RandomState::new(),
        }
    }
}

impl<V: Copy + Eq> CowMap<V> {
    /// An empty map sized for `n` entries (no resharding until then).
    pub(super) fn with_capacity(n: usize) -> Self {
        let shards = n.div_ceil(SHARD_LOAD).max(1).next_power_of_two();
        Self {
            shards: (0..shards)
                .map(|_| Arc::new(HashTable::with_capacity(SHARD_LOAD)))
                .collect(),
            len: 0,
            hasher: RandomState::new(),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(&self, h: u64) -> usize {
        // The shard count is a power of two, far below 2^32.
        ((h >> 32) as usize) & (self.shards.len() - 1)
    }

    /// The value whose key is `key`; `key_of(v)` is the key kept at `v`.
    pub(super) fn get<'a>(&self, key: &[u8], key_of: impl Fn(V) -> Option<&'a [u8]>) -> Option<V> {
        let h = self.hash(key);
        self.shards
            .get(self.shard_of(h))?
            .find(h, |&(eh, v)| eh == h && key_of(v) == Some(key))
            .map(|&(_, v)| v)
    }

    /// Adds `key`, kept at `v` (`key_of(v)` must be `key` already). If
    /// another value had the same key, it is replaced and returned.
    pub(super) fn insert<'a>(
        &mut self,
        key: &[u8],
        v: V,
        key_of: impl Fn(V) -> Option<&'a [u8]>,
    ) -> Option<V> {
        let h = self.hash(key);
        let s = self.shard_of(h);
        let shard = Arc::make_mut(self.shards.get_mut(s)?);
        let eq = |&(eh, ev): &(u64, V)| eh == h && key_of(ev) == Some(key);
        match shard.entry(h, eq, |&(eh, _)| eh) {
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                Some(core::mem::replace(&mut e.get_mut().1, v))
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert((h, v));
                self.len += 1;
                if self.len > self.shards.len() * SHARD_LOAD {
                    self.reshard(self.shards.len() * 2);
                }
                None
            }
        }
    }

    /// Removes the entry of `key` kept at `v`, if there is one.
    pub(super) fn remove(&mut self, key: &[u8], v: V) {
        let h = self.hash(key);
        let s = self.shard_of(h);
        if let Some(shard) = self.shards.get_mut(s) {
            let eq = |&(eh, ev): &(u64, V)| eh == h && ev == v;
            // Only a shard holding the entry is copied.
            if shard.find(h, eq).is_some()
                && let Ok(e) = Arc::make_mut(shard).find_entry(h, eq)
            {
                e.remove();
                self.len -= 1;
            }
        }
    }

    /// Redistributes the entries over `n` (a power of two) shards.
    fn reshard(&mut self, n: usize) {
        let mut shards: Vec<HashTable<(u64, V)>> = (0..n).map(|_| HashTable::new()).collect();
        for shard in &self.shards {
            for &(h, v) in shard.iter() {
                let s = ((h >> 32) as usize) & (n - 1);
                if let Some(dst) = shards.get_mut(s) {
                    dst.insert_unique(h, (h, v), |&(eh, _)| eh);
                }
            }
        }
        self.shards = shards.into_iter().map(Arc::new).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cow_vec_copies_only_written_chunks() {
        let mut a = CowVec::from_vec((0..100u32).collect());
        let b = a.clone();
        *a.get_mut(40).unwrap() = 1000;
        assert_eq!(a.get(40), Some(&1000));
        assert_eq!(b.get(40), Some(&40));
        assert!(Arc::ptr_eq(&a.chunks[0], &b.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks[1], &b.chunks[1]));
        assert_ne!(a, b);
        assert_eq!(a.get(100), None);
        assert_eq!(a.iter().count(), 100);
    }

    #[test]
    fn cow_vec_resizes() {
        let mut v = CowVec::from_vec(vec![1u8; 3]);
        for n in [3usize, 40, 64, 65, 31, 0, 97] {
            let old: Vec<u8> = v.iter().copied().collect();
            v.resize_with(n, || 7);
            let mut want = old;
            want.resize(n, 7);
            assert_eq!(v.iter().copied().collect::<Vec<_>>(), want);
            assert_eq!(v.len(), n);
            assert_eq!(v.chunks.len(), n.div_ceil(CHUNK));
        }
    }

    /// Keys kept in a vector, as the tree keeps them in its nodes.
    fn keys(n: u32) -> Vec<Vec<u8>> {
        (0..n).map(|i| i.to_be_bytes().to_vec()).collect()
    }

    #[test]
    fn cow_map_insert_returns_the_replaced_value() {
        let kept = [b"k".to_vec(), b"k".to_vec()];
        let key_of = |i: usize| kept.get(i).map(Vec::as_slice);
        let mut m = CowMap::with_capacity(100);
        assert_eq!(m.insert(b"k", 0, key_of), None);
        assert_eq!(m.insert(b"k", 1, key_of), Some(0));
        assert_eq!(m.get(b"k", key_of), Some(1));
        assert_eq!(m.len, 1);
    }

    #[test]
    fn cow_map_behaves_like_a_map() {
        use std::collections::HashMap;
        let mut kept = keys(1000);
        kept.push(b"x".to_vec());
        let key_of = |i: usize| kept.get(i).map(Vec::as_slice);
        let mut m = CowMap::default();
        let mut want = HashMap::new();
        for (i, k) in kept.iter().enumerate().take(1000) {
            m.insert(k, i, key_of);
            want.insert(k.clone(), i);
        }
        let snapshot = m.clone();
        for i in (0..1000usize).step_by(3) {
            m.remove(&kept[i], i);
            want.remove(&kept[i]);
        }
        m.insert(b"x", 1000, key_of);
        want.insert(b"x".to_vec(), 1000);
        assert_eq!(m.len, want.len());
        assert!(m.shards.len() > 1);
        for (i, k) in kept.iter().enumerate().take(1000) {
            assert_eq!(m.get(k, key_of), want.get(k).copied());
            assert_eq!(snapshot.get(k, key_of), Some(i));
        }
        assert_eq!(snapshot.get(b"x", key_of), None);
        // A key nobody keeps is not found, whatever its hash.
        assert_eq!(m.get(b"absent", key_of), None);
    }
}
