//! The paged KV cache: fixed-size blocks, reference counts, and a prefix cache.
//!
//! Every block that is not referenced by a running request sits in one free queue, oldest
//! release first. A block that was full when it was released keeps its content hash, so a
//! later request whose token prefix hashes the same can take it back (a prefix-cache hit)
//! instead of recomputing it; allocation takes from the front of the queue, evicting the least
//! recently released cached block. The queue is an intrusive doubly linked list, so taking a
//! cached block out of the middle on a hit costs O(1).

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
    ref_count: Vec<u32>,
    /// Content hash of a full block registered in the prefix cache, or NO_HASH.
    hash: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
    num_free: u32,
    /// When each block last joined the free queue: the queue is in increasing stamp order.
    queued_at: Vec<u64>,
    pushes: u64,
    cached: CacheMap,
    prefix_caching: bool,
}

impl KvCache {
    pub fn new(num_blocks: u32, prefix_caching: bool) -> KvCache {
        let n = num_blocks as usize;
        let mut kv = KvCache {
            ref_count: vec![0; n],
            hash: vec![NO_HASH; n],
            prev: vec![NONE; n],
            next: vec![NONE; n],
            head: NONE,
            tail: NONE,
            num_free: 0,
            queued_at: vec![0; n],
            pushes: 0,
            cached: CacheMap::default(),
            prefix_caching,
        };
        for b in 0..num_blocks {
            kv.push_back(b);
        }
        kv
    }

    pub fn num_blocks(&self) -> u32 {
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
        std::iter::from_fn(move || {
            if b == NONE {
                return None;
            }
            let current = b;
            b = self.next[b as usize];
            Some(current)
        })
    }

    /// A free block's place in the queue: of two free blocks, the one with the smaller stamp
    /// is allocated first.
    pub fn queue_stamp(&self, b: BlockId) -> u64 {
        self.queued_at[b as usize]
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
        let mut seen = 0u32;
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
        let unreferenced = self.ref_count.iter().filter(|&&r| r == 0).count() as u32;
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
}
