//! Copy-on-write containers for the parts of a ratchet tree that grow with
//! the group, so that copying a tree (to stage a commit, RFC 9420 §12.4.2,
//! while the current epoch's tree stays as it is, and is later kept for late
//! application messages) costs O(N / chunk) pointer copies and a change
//! copies only the chunk it touches.
//!
//! * [`CowVec`]: a vector cut into fixed-size chunks shared behind `Arc`s;
//! * [`CowMap`]: a hash map cut into shards by key hash, shared the same way.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
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
const SHARD_LOAD: usize = 16;

/// A hash map cut into shards (a power of two of them, chosen by a keyed
/// hash of the key, so that no one can crowd a shard on purpose), each
/// shared between copies until one of them changes it.
#[derive(Clone, Debug)]
pub(super) struct CowMap<K, V> {
    shards: Vec<Arc<HashMap<K, V>>>,
    len: usize,
    hasher: RandomState,
}

impl<K, V> Default for CowMap<K, V> {
    fn default() -> Self {
        Self {
            shards: vec![Arc::new(HashMap::new())],
            len: 0,
            hasher: RandomState::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> CowMap<K, V> {
    fn shard_of(&self, k: &K) -> usize {
        // The shard count is a power of two.
        (self.hasher.hash_one(k) as usize) & (self.shards.len() - 1)
    }

    /// The value of `k`.
    pub(super) fn get(&self, k: &K) -> Option<&V> {
        self.shards.get(self.shard_of(k))?.get(k)
    }

    /// Sets the value of `k`.
    pub(super) fn insert(&mut self, k: K, v: V) {
        let s = self.shard_of(&k);
        if let Some(shard) = self.shards.get_mut(s)
            && Arc::make_mut(shard).insert(k, v).is_none()
        {
            self.len += 1;
            if self.len > self.shards.len() * SHARD_LOAD {
                self.reshard(self.shards.len() * 2);
            }
        }
    }

    /// Removes `k`.
    pub(super) fn remove(&mut self, k: &K) {
        let s = self.shard_of(k);
        if let Some(shard) = self.shards.get_mut(s) {
            // Only a shard holding `k` is copied.
            if shard.contains_key(k) {
                Arc::make_mut(shard).remove(k);
                self.len -= 1;
            }
        }
    }

    /// Redistributes the entries over `n` (a power of two) shards.
    fn reshard(&mut self, n: usize) {
        let mut shards: Vec<HashMap<K, V>> = (0..n).map(|_| HashMap::new()).collect();
        for shard in &self.shards {
            for (k, v) in shard.iter() {
                let s = (self.hasher.hash_one(k) as usize) & (n - 1);
                if let Some(dst) = shards.get_mut(s) {
                    dst.insert(k.clone(), v.clone());
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

    #[test]
    fn cow_map_behaves_like_a_map() {
        let mut m = CowMap::default();
        let mut want = HashMap::new();
        for i in 0..1000u32 {
            m.insert(i.to_be_bytes().to_vec(), i);
            want.insert(i.to_be_bytes().to_vec(), i);
        }
        let snapshot = m.clone();
        for i in (0..1000u32).step_by(3) {
            m.remove(&i.to_be_bytes().to_vec());
            want.remove(i.to_be_bytes().as_slice());
        }
        m.insert(b"x".to_vec(), 5);
        want.insert(b"x".to_vec(), 5);
        assert_eq!(m.len, want.len());
        assert!(m.shards.len() > 1);
        for i in 0..1000u32 {
            let k = i.to_be_bytes().to_vec();
            assert_eq!(m.get(&k), want.get(&k));
            assert_eq!(snapshot.get(&k), Some(&i));
        }
        assert_eq!(snapshot.get(&b"x".to_vec()), None);
    }
}
