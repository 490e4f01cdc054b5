//! A copy-on-write bit set: which leaves, or which parent nodes, of a
//! ratchet tree are occupied.
//!
//! Bits live in chunks of [`CHUNK_BITS`] shared behind `Arc`s, each with its
//! count of set bits. Copying the set (as a staged commit copies its tree,
//! RFC 9420 §12.4.2) copies one pointer per chunk; setting a bit copies the
//! one chunk it falls in (512 bytes). Counting the set bits of a range costs
//! one addition per whole chunk in it, so the questions of resolutions
//! (§4.1.1) and of adding members (§12.1.1) stay cheap at any group size.

use std::sync::Arc;

/// 64-bit words per chunk.
const WORDS: usize = 64;
/// Bits per chunk.
const CHUNK_BITS: u32 = (WORDS as u32) * 64;

/// One chunk: its words and how many of their bits are set.
#[derive(Clone, PartialEq, Eq)]
struct Chunk {
    words: [u64; WORDS],
    ones: u32,
}

impl Chunk {
    const ZERO: Chunk = Chunk {
        words: [0; WORDS],
        ones: 0,
    };

    /// The number of set bits at positions `lo..hi` of this chunk (`hi <= CHUNK_BITS`).
    fn count(&self, lo: u32, hi: u32) -> u32 {
        if lo == 0 && hi == CHUNK_BITS {
            return self.ones;
        }
        let mut total = 0;
        let mut i = lo;
        while i < hi {
            let w = (i / 64) as usize;
            let start = i % 64;
            let end = (hi - (i - start)).min(64);
            let word = self.words.get(w).copied().unwrap_or(0);
            total += (word & mask(start, end)).count_ones();
            i += end - start;
        }
        total
    }
}

/// The bits `start..end` of a word (`start < end <= 64`).
fn mask(start: u32, end: u32) -> u64 {
    let high = if end == 64 {
        u64::MAX
    } else {
        (1u64 << end) - 1
    };
    high & !((1u64 << start) - 1)
}

/// A set of integers below `len`, copied in O(len / 4096).
#[derive(Clone, Default)]
pub(super) struct CowBitSet {
    chunks: Vec<Arc<Chunk>>,
    /// Bits `len..` are never set.
    len: u32,
}

impl core::fmt::Debug for CowBitSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.ones(0..self.len)).finish()
    }
}

impl CowBitSet {
    /// The empty set of integers below `len`.
    pub(super) fn new(len: u32) -> Self {
        let mut set = Self::default();
        set.resize(len);
        set
    }

    /// Whether `i` is in the set.
    pub(super) fn contains(&self, i: u32) -> bool {
        i < self.len && (self.word(i / 64) >> (i % 64)) & 1 == 1
    }

    /// Word `w` of the whole set (bits `64 w ..`); 0 past the end.
    fn word(&self, w: u32) -> u64 {
        let chunk = (w as usize) / WORDS;
        self.chunks
            .get(chunk)
            .and_then(|c| c.words.get((w as usize) % WORDS))
            .copied()
            .unwrap_or(0)
    }

    /// Adds `i` to the set (`value`) or takes it out. Ignored at `len` or above.
    pub(super) fn set(&mut self, i: u32, value: bool) {
        if i >= self.len || self.contains(i) == value {
            return;
        }
        let Some(c) = self.chunks.get_mut((i / CHUNK_BITS) as usize) else {
            return;
        };
        let c = Arc::make_mut(c);
        let Some(w) = c.words.get_mut(((i % CHUNK_BITS) / 64) as usize) else {
            return;
        };
        *w ^= 1u64 << (i % 64);
        if value {
            c.ones += 1;
        } else {
            c.ones -= 1;
        }
    }

    /// Changes the bound: integers at `len` or above leave the set.
    pub(super) fn resize(&mut self, len: u32) {
        let chunks = len.div_ceil(CHUNK_BITS) as usize;
        if len < self.len {
            self.chunks.truncate(chunks);
            let tail = len % CHUNK_BITS;
            if tail != 0
                && let Some(last) = self.chunks.last_mut()
                && last.count(tail, CHUNK_BITS) != 0
            {
                let c = Arc::make_mut(last);
                for (w, word) in c.words.iter_mut().enumerate() {
                    let lo = w as u32 * 64;
                    if lo >= tail {
                        *word = 0;
                    } else if tail < lo + 64 {
                        *word &= mask(0, tail - lo);
                    }
                }
                c.ones = c.words.iter().map(|w| w.count_ones()).sum();
            }
        } else if chunks > self.chunks.len() {
            // New chunks all share one zero chunk until written.
            let zero = Arc::new(Chunk::ZERO);
            self.chunks.resize(chunks, zero);
        }
        self.len = len;
    }

    /// How many integers of `range` are in the set.
    pub(super) fn count(&self, range: core::ops::Range<u32>) -> u32 {
        let end = range.end.min(self.len);
        let mut i = range.start;
        let mut total = 0;
        while i < end {
            let chunk_start = i - i % CHUNK_BITS;
            let stop = end.min(chunk_start.saturating_add(CHUNK_BITS));
            if let Some(c) = self.chunks.get((i / CHUNK_BITS) as usize) {
                total += c.count(i - chunk_start, stop - chunk_start);
            }
            i = stop;
        }
        total
    }

    /// The smallest integer below `len` not in the set.
    pub(super) fn first_absent(&self) -> Option<u32> {
        for (ci, c) in self.chunks.iter().enumerate() {
            let base = ci as u32 * CHUNK_BITS;
            if c.ones == CHUNK_BITS.min(self.len - base) {
                continue;
            }
            for (w, word) in c.words.iter().enumerate() {
                if *word != u64::MAX {
                    let i = base + w as u32 * 64 + (!*word).trailing_zeros();
                    return (i < self.len).then_some(i);
                }
            }
        }
        None
    }

    /// The largest integer in the set.
    pub(super) fn last(&self) -> Option<u32> {
        for (ci, c) in self.chunks.iter().enumerate().rev() {
            if c.ones == 0 {
                continue;
            }
            for (w, word) in c.words.iter().enumerate().rev() {
                if *word != 0 {
                    return Some(
                        ci as u32 * CHUNK_BITS + w as u32 * 64 + 63 - word.leading_zeros(),
                    );
                }
            }
        }
        None
    }

    /// The integers of `range` in the set, in increasing order.
    pub(super) fn ones(&self, range: core::ops::Range<u32>) -> impl Iterator<Item = u32> + '_ {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        // Word indices (over the whole set) that the range touches; bit
        // positions in u64, so that the last word of a set of 2^32 - 1
        // integers does not overflow.
        let words = start / 64..end.div_ceil(64);
        words.flat_map(move |w| {
            let base = u64::from(w) * 64;
            let lo = base.max(u64::from(start));
            let hi = (base + 64).min(u64::from(end));
            // Both within 0..=64 of `base`.
            let mut bits = self.word(w) & mask((lo - base) as u32, (hi - base) as u32);
            core::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros();
                    bits &= bits - 1;
                    w * 64 + b
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Every question agrees with an ordered set given the same changes,
        /// and a copy is unchanged by changes to the original.
        #[test]
        fn agrees_with_an_ordered_set(
            ops in proptest::collection::vec((0u32..3, 0u32..12_000), 0..300),
            queries in proptest::collection::vec((0u32..12_000, 0u32..12_000), 0..20),
        ) {
            let mut len = 9_000u32;
            let mut set = CowBitSet::new(len);
            let mut model = BTreeSet::new();
            let copy = set.clone();
            for (op, i) in ops {
                match op {
                    0 => { set.set(i, true); if i < len { model.insert(i); } }
                    1 => { set.set(i, false); model.remove(&i); }
                    _ => {
                        len = i;
                        set.resize(len);
                        model.retain(|&x| x < len);
                    }
                }
            }
            prop_assert_eq!(copy.count(0..u32::MAX), 0);
            prop_assert_eq!(set.last(), model.last().copied());
            prop_assert_eq!(set.first_absent(), (0..len).find(|i| !model.contains(i)));
            prop_assert_eq!(set.ones(0..u32::MAX).collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            for (a, b) in queries {
                let (a, b) = (a.min(b), a.max(b));
                prop_assert_eq!(set.count(a..b) as usize, model.range(a..b).count());
                prop_assert_eq!(set.ones(a..b).collect::<Vec<_>>(), model.range(a..b).copied().collect::<Vec<_>>());
                prop_assert_eq!(set.contains(a), model.contains(&a));
            }
        }
    }

    #[test]
    fn full_and_empty_edges() {
        let mut s = CowBitSet::new(CHUNK_BITS + 3);
        for i in 0..CHUNK_BITS + 3 {
            s.set(i, true);
        }
        assert_eq!(s.first_absent(), None);
        assert_eq!(s.last(), Some(CHUNK_BITS + 2));
        assert_eq!(s.count(0..u32::MAX), CHUNK_BITS + 3);
        s.resize(CHUNK_BITS * 2);
        assert_eq!(s.first_absent(), Some(CHUNK_BITS + 3));
        s.resize(64);
        assert_eq!(s.count(0..u32::MAX), 64);
        assert_eq!(s.first_absent(), None);
        s.resize(0);
        assert_eq!(s.last(), None);
        assert_eq!(s.first_absent(), None);
    }
}
