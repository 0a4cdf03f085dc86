//! The paged KV cache: fixed-size blocks, reference counts, and a prefix cache.
//!
//! Every block that is not referenced by a running request sits in one free queue, oldest
//! release first. A block that was full when it was released keeps its content hash, so a
//! later request whose token prefix hashes the same can take it back (a prefix-cache hit)
//! instead of recomputing it; allocation takes from the front of the queue, evicting the least
//! recently released cached block. The queue is an intrusive doubly linked list, so taking a
//! cached block out of the middle on a hit costs O(1).
//!
//! Per-block state (28 bytes) is allocated as blocks are first used, not up front: a cache of
//! 10^9 blocks that a run only ever touches 10^4 of costs 10^4 blocks' memory and no start-up
//! time. At the start every block is free, queued in block order, so the blocks never used yet
//! are always the front of the queue, in order: allocation takes block `materialized` (the
//! lowest never-used one) while there is one, which is exactly what the eager queue would hand
//! out, and only the blocks below `materialized` live in the linked list.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Block content hashes are already uniformly mixed 64-bit values, so the prefix-cache map uses
/// them as they are instead of hashing them again (SipHash was most of a run's time).
#[derive(Debug, Default, Clone, Copy)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are stored; fold anything else in for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type CacheMap = HashMap<u64, BlockId, BuildHasherDefault<PrehashedKey>>;

pub type BlockId = u32;

/// Marks "no block" in the free-queue links, and "no hash" in `hash`.
const NONE: u32 = u32::MAX;
const NO_HASH: u64 = 0;

#[derive(Debug, Clone)]
pub struct KvCache {
    /// Blocks the cache has (the per-block arrays hold only the first `materialized()`).
    num_blocks: u32,
    ref_count: Vec<u32>,
    /// Content hash of a full block registered in the prefix cache, or NO_HASH.
    hash: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    /// Front and back of the linked part of the free queue (used blocks that were released).
    head: u32,
    tail: u32,
    /// Free blocks, never-used ones included.
    num_free: u32,
    /// When each block last joined the free queue: the queue is in increasing stamp order. A
    /// never-used block b was queued at the start, with stamp b.
    queued_at: Vec<u64>,
    pushes: u64,
    cached: CacheMap,
    prefix_caching: bool,
}

impl KvCache {
    /// A cache of `num_blocks` free blocks. Allocates nothing per block until blocks are used.
    pub fn new(num_blocks: u32, prefix_caching: bool) -> KvCache {
        KvCache {
            num_blocks,
            ref_count: Vec::new(),
            hash: Vec::new(),
            prev: Vec::new(),
            next: Vec::new(),
            head: NONE,
            tail: NONE,
            num_free: num_blocks,
            queued_at: Vec::new(),
            pushes: u64::from(num_blocks),
            cached: CacheMap::default(),
            prefix_caching,
        }
    }

    pub fn num_blocks(&self) -> u32 {
        self.num_blocks
    }

    /// Blocks used at least once so far (the ones with per-block state).
    pub fn materialized(&self) -> u32 {
        self.ref_count.len() as u32
    }

    /// Blocks that an allocation can take (truly free ones and evictable cached ones).
    pub fn num_free(&self) -> u32 {
        self.num_free
    }

    /// Blocks referenced by at least one request.
    pub fn num_used(&self) -> u32 {
        self.num_blocks() - self.num_free
    }

    pub fn prefix_caching(&self) -> bool {
        self.prefix_caching
    }

    /// Takes the least recently released block, evicting its cached content.
    pub fn allocate(&mut self) -> Option<BlockId> {
        if self.materialized() < self.num_blocks {
            // The front of the queue is the lowest never-used block (see the module doc).
            let b = self.materialized();
            self.ref_count.push(1);
            self.hash.push(NO_HASH);
            self.prev.push(NONE);
            self.next.push(NONE);
            self.queued_at.push(u64::from(b));
            self.num_free -= 1;
            return Some(b);
        }
        let b = self.head;
        if b == NONE {
            return None;
        }
        self.unlink(b);
        let h = std::mem::replace(&mut self.hash[b as usize], NO_HASH);
        if h != NO_HASH {
            self.cached.remove(&h);
        }
        self.ref_count[b as usize] = 1;
        Some(b)
    }

    /// Releases one reference; a block nobody references goes to the back of the free queue
    /// (and stays findable by its hash until it is evicted).
    pub fn release(&mut self, b: BlockId) {
        let rc = &mut self.ref_count[b as usize];
        debug_assert!(*rc > 0, "double free of block {b}");
        *rc -= 1;
        if *rc == 0 {
            self.push_back(b);
        }
    }

    /// Releases a request's blocks, last block first, so that a request's tail is evicted
    /// before its prefix (the prefix is the part other requests are likely to share).
    pub fn release_all(&mut self, blocks: &mut Vec<BlockId>) {
        for &b in blocks.iter().rev() {
            self.release(b);
        }
        blocks.clear();
    }

    /// The cached block holding `hash`, if any, and whether taking it would use up a free block
    /// (it is evictable: nobody references it now).
    pub fn lookup(&self, hash: u64) -> Option<(BlockId, bool)> {
        if !self.prefix_caching {
            return None;
        }
        self.cached
            .get(&hash)
            .map(|&b| (b, self.ref_count[b as usize] == 0))
    }

    /// Takes a reference to a cached block found by [`lookup`](Self::lookup).
    pub fn take_cached(&mut self, b: BlockId) {
        if self.ref_count[b as usize] == 0 {
            self.unlink(b);
        }
        self.ref_count[b as usize] += 1;
    }

    /// Records that block `b` is full and holds the content `hash`. If another block already
    /// holds that content, `b` stays unregistered (the first copy is the cached one).
    pub fn register(&mut self, b: BlockId, hash: u64) {
        if !self.prefix_caching || self.hash[b as usize] != NO_HASH {
            return;
        }
        let hash = hash.max(1); // 0 means "no hash"
        if let std::collections::hash_map::Entry::Vacant(e) = self.cached.entry(hash) {
            e.insert(b);
            self.hash[b as usize] = hash;
        }
    }

    /// The free queue from its front: the order in which allocations will take blocks.
    pub fn free_queue(&self) -> impl Iterator<Item = BlockId> + Clone + '_ {
        let mut b = self.head;
        let linked = std::iter::from_fn(move || {
            if b == NONE {
                return None;
            }
            let current = b;
            b = self.next[b as usize];
            Some(current)
        });
        (self.materialized()..self.num_blocks).chain(linked)
    }

    /// A free block's place in the queue: of two free blocks, the one with the smaller stamp
    /// is allocated first.
    pub fn queue_stamp(&self, b: BlockId) -> u64 {
        self.queued_at
            .get(b as usize)
            .copied()
            .unwrap_or(u64::from(b))
    }

    fn push_back(&mut self, b: BlockId) {
        self.queued_at[b as usize] = self.pushes;
        self.pushes += 1;
        self.prev[b as usize] = self.tail;
        self.next[b as usize] = NONE;
        if self.tail == NONE {
            self.head = b;
        } else {
            self.next[self.tail as usize] = b;
        }
        self.tail = b;
        self.num_free += 1;
    }

    fn unlink(&mut self, b: BlockId) {
        let (p, n) = (self.prev[b as usize], self.next[b as usize]);
        if p == NONE {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NONE {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.prev[b as usize] = NONE;
        self.next[b as usize] = NONE;
        self.num_free -= 1;
    }

    /// Checks the free queue against the reference counts (tests and debug builds).
    pub fn check_invariants(&self) -> Result<(), String> {
        let fresh = self.num_blocks - self.materialized();
        let mut seen = fresh;
        let mut b = self.head;
        let mut prev = NONE;
        while b != NONE {
            if self.ref_count[b as usize] != 0 {
                return Err(format!("block {b} is in the free queue but referenced"));
            }
            if self.prev[b as usize] != prev {
                return Err(format!("block {b} has a broken back link"));
            }
            seen += 1;
            if seen > self.num_blocks() {
                return Err("free queue has a cycle".into());
            }
            prev = b;
            b = self.next[b as usize];
        }
        if seen != self.num_free {
            return Err(format!(
                "free queue holds {seen} blocks, counter says {}",
                self.num_free
            ));
        }
        let unreferenced = fresh + self.ref_count.iter().filter(|&&r| r == 0).count() as u32;
        if unreferenced != self.num_free {
            return Err(format!(
                "{unreferenced} blocks are unreferenced but {} are free",
                self.num_free
            ));
        }
        for (&h, &b) in &self.cached {
            if self.hash[b as usize] != h {
                return Err(format!(
                    "cached hash {h:#x} points at block {b} holding another"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_takes_oldest_release_first_and_evicts_its_hash() {
        let mut kv = KvCache::new(3, true);
        let a = kv.allocate().unwrap();
        let b = kv.allocate().unwrap();
        let c = kv.allocate().unwrap();
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(kv.allocate(), None);
        kv.register(a, 11);
        kv.register(b, 22);
        kv.release(b);
        kv.release(a);
        assert_eq!(kv.num_free(), 2);
        // b was released first, so it is evicted first.
        assert_eq!(kv.lookup(22), Some((b, true)));
        let d = kv.allocate().unwrap();
        assert_eq!(d, b);
        assert_eq!(kv.lookup(22), None);
        assert_eq!(kv.lookup(11), Some((a, true)));
        kv.check_invariants().unwrap();
    }

    #[test]
    fn a_hit_on_an_evictable_block_takes_it_out_of_the_free_queue() {
        let mut kv = KvCache::new(4, true);
        let mut blocks: Vec<_> = (0..3).map(|_| kv.allocate().unwrap()).collect();
        for (i, &b) in blocks.iter().enumerate() {
            kv.register(b, 100 + i as u64);
        }
        kv.release_all(&mut blocks);
        assert_eq!(kv.num_free(), 4);
        let (b, evictable) = kv.lookup(101).unwrap();
        assert!(evictable);
        kv.take_cached(b);
        assert_eq!(kv.num_free(), 3);
        assert_eq!(kv.num_used(), 1);
        kv.check_invariants().unwrap();
        // Shared: a second reference keeps it out of the queue after one release.
        kv.take_cached(b);
        kv.release(b);
        assert_eq!(kv.num_used(), 1);
        kv.release(b);
        assert_eq!(kv.num_used(), 0);
        kv.check_invariants().unwrap();
    }

    #[test]
    fn without_prefix_caching_nothing_is_found() {
        let mut kv = KvCache::new(2, false);
        let a = kv.allocate().unwrap();
        kv.register(a, 5);
        kv.release(a);
        assert_eq!(kv.lookup(5), None);
    }

    #[test]
    fn a_duplicate_hash_keeps_the_first_copy() {
        let mut kv = KvCache::new(2, true);
        let a = kv.allocate().unwrap();
        let b = kv.allocate().unwrap();
        kv.register(a, 9);
        kv.register(b, 9);
        assert_eq!(kv.lookup(9), Some((a, false)));
        kv.release(a);
        kv.release(b);
        kv.check_invariants().unwrap();
    }

    #[test]
    fn a_huge_cache_allocates_state_only_for_the_blocks_it_uses() {
        let n = u32::MAX - 1;
        let mut kv = KvCache::new(n, true);
        assert_eq!((kv.num_free(), kv.materialized()), (n, 0));
        let mut blocks: Vec<_> = (0..1000).map(|_| kv.allocate().unwrap()).collect();
        assert_eq!(blocks, (0..1000).collect::<Vec<_>>());
        kv.release_all(&mut blocks);
        // Released blocks queue behind every never-used one.
        assert_eq!(kv.free_queue().next(), Some(1000));
        assert_eq!(kv.allocate(), Some(1000));
        assert_eq!(kv.materialized(), 1001);
        assert!(kv.ref_count.capacity() < 4096);
        assert_eq!(kv.num_used(), 1);
    }

    /// The eager free queue the lazy one must match: every block queued at the start, a plain
    /// list with O(n) removal.
    struct EagerModel {
        queue: Vec<u32>,
        ref_count: Vec<u32>,
        hash: Vec<u64>,
        cached: HashMap<u64, u32>,
    }

    impl EagerModel {
        fn allocate(&mut self) -> Option<u32> {
            if self.queue.is_empty() {
                return None;
            }
            let b = self.queue.remove(0);
            let h = std::mem::replace(&mut self.hash[b as usize], NO_HASH);
            self.cached.remove(&h);
            self.ref_count[b as usize] = 1;
            Some(b)
        }

        fn release(&mut self, b: u32) {
            self.ref_count[b as usize] -= 1;
            if self.ref_count[b as usize] == 0 {
                self.queue.push(b);
            }
        }

        fn take_cached(&mut self, b: u32) {
            if self.ref_count[b as usize] == 0 {
                self.queue.retain(|&q| q != b);
            }
            self.ref_count[b as usize] += 1;
        }

        fn register(&mut self, b: u32, hash: u64) {
            if self.hash[b as usize] == NO_HASH && !self.cached.contains_key(&hash) {
                self.cached.insert(hash, b);
                self.hash[b as usize] = hash;
            }
        }
    }

    #[test]
    fn lazy_growth_behaves_exactly_as_the_eager_queue() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let n = 48u32;
        let mut rng = StdRng::seed_from_u64(11);
        let mut kv = KvCache::new(n, true);
        let mut model = EagerModel {
            queue: (0..n).collect(),
            ref_count: vec![0; n as usize],
            hash: vec![NO_HASH; n as usize],
            cached: HashMap::new(),
        };
        let mut held: Vec<u32> = Vec::new();
        for _ in 0..20_000 {
            match rng.random_range(0..4) {
                0 | 1 => {
                    let b = kv.allocate();
                    assert_eq!(b, model.allocate());
                    if let Some(b) = b {
                        let h = rng.random_range(1..40u64);
                        kv.register(b, h);
                        model.register(b, h);
                        held.push(b);
                    }
                }
                2 if !held.is_empty() => {
                    let b = held.swap_remove(rng.random_range(0..held.len()));
                    kv.release(b);
                    model.release(b);
                }
                _ => {
                    let h = rng.random_range(1..40u64);
                    let found = kv.lookup(h);
                    let expected = model
                        .cached
                        .get(&h)
                        .map(|&b| (b, model.ref_count[b as usize] == 0));
                    assert_eq!(found, expected);
                    if let Some((b, _)) = found {
                        kv.take_cached(b);
                        model.take_cached(b);
                        held.push(b);
                    }
                }
            }
            assert_eq!(kv.num_free() as usize, model.queue.len());
            let queue: Vec<u32> = kv.free_queue().collect();
            assert_eq!(queue, model.queue);
            let stamps: Vec<u64> = queue.iter().map(|&b| kv.queue_stamp(b)).collect();
            assert!(stamps.windows(2).all(|w| w[0] < w[1]));
        }
        kv.check_invariants().unwrap();
        assert_eq!(kv.materialized(), n);
    }
}
