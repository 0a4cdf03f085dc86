//! The paged KV cache: fixed-size blocks, reference counts, and a prefix cache.
//!
//! Every block that is not referenced by a running request waits in one free queue, oldest
//! release first. A block that was full when it was released keeps its content hash, so a
//! later request whose token prefix hashes the same can take it back (a prefix-cache hit)
//! instead of recomputing it; allocation takes the front of the queue, evicting the least
//! recently released cached block.
//!
//! Each release gets a stamp (a counter), and the queue is the free blocks in stamp order. Two
//! kinds of free block share it:
//! - *cached* ones (holding a hash) sit in an intrusive doubly linked list in stamp order, so
//!   a hit takes one out of the middle in O(1);
//! - *plain* ones (no hash) are interchangeable: nobody can ever find their content. Only how
//!   many there are and their stamps matter, so their stamps wait in a FIFO while the blocks
//!   themselves wait in a LIFO stack: an allocation whose turn falls on a plain stamp takes the
//!   most recently released plain block, whose state is still in the processor's cache. The
//!   order in which hashes are evicted, and with it every result, is the single queue's.
//!
//! Per-block state is allocated as blocks are first used, not up front: a cache of 10^9 blocks
//! that a run only ever touches 10^4 of costs 10^4 blocks' memory and no start-up time. At the
//! start every block is a plain free block queued in block order (stamps 0..num_blocks, before
//! any release's); a block is materialized only when an allocation finds no used plain block.

use std::collections::{HashMap, VecDeque};
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

/// Marks "no block" in the free-queue links, and "no hash" in a block's state.
const NONE: u32 = u32::MAX;
const NO_HASH: u64 = 0;

/// A cached block's state, together so that an operation on it touches one cache line.
///
/// Only cached blocks (holding a hash) can be shared, so only theirs is kept up to date: a
/// plain block is referenced once while in use and not at all while free, and which it is
/// follows from where it is. Allocating and releasing plain blocks, nearly all of them in a
/// run without shared prompts, so never touch this state (it is cold by the time a long
/// request releases its blocks).
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Content hash of a full block registered in the prefix cache, or NO_HASH.
    hash: u64,
    /// When a cached free block joined the queue.
    queued_at: u64,
    /// References (cached blocks only).
    ref_count: u32,
    /// Links of the cached part of the free queue.
    prev: u32,
    next: u32,
}

#[derive(Debug, Clone)]
pub struct KvCache {
    /// Blocks the cache has (`blocks` holds only the materialized ones).
    num_blocks: u32,
    blocks: Vec<Block>,
    /// Whether each materialized block holds a hash (a small array that stays in cache).
    hashed: Vec<bool>,
    /// Front and back of the cached free blocks, in stamp order.
    head: u32,
    tail: u32,
    /// Used plain free blocks, most recently released last.
    plain: Vec<BlockId>,
    /// Stamps of plain free blocks released so far, oldest first (the never-used blocks'
    /// stamps, `fresh_stamp..num_blocks`, come before all of them).
    plain_stamps: VecDeque<u64>,
    /// The oldest never-used stamp not yet taken by an allocation.
    fresh_stamp: u64,
    /// Free blocks: plain (never-used included) and cached.
    num_free: u32,
    pushes: u64,
    cached: CacheMap,
    prefix_caching: bool,
}

impl KvCache {
    /// A cache of `num_blocks` free blocks. Allocates nothing per block until blocks are used.
    pub fn new(num_blocks: u32, prefix_caching: bool) -> KvCache {
        KvCache {
            num_blocks,
            blocks: Vec::new(),
            hashed: Vec::new(),
            head: NONE,
            tail: NONE,
            plain: Vec::new(),
            plain_stamps: VecDeque::new(),
            fresh_stamp: 0,
            num_free: num_blocks,
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
        self.blocks.len() as u32
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

    /// The stamp of the oldest plain free block, if any.
    fn oldest_plain(&self) -> Option<u64> {
        if self.fresh_stamp < u64::from(self.num_blocks) {
            Some(self.fresh_stamp)
        } else {
            self.plain_stamps.front().copied()
        }
    }

    /// Takes the front of the free queue: a plain block, or the least recently released
    /// cached block, whose content is evicted.
    pub fn allocate(&mut self) -> Option<BlockId> {
        let cached = (self.head != NONE).then(|| self.blocks[self.head as usize].queued_at);
        match (self.oldest_plain(), cached) {
            (None, None) => None,
            (Some(p), c) if c.is_none_or(|c| p < c) => {
                if self.fresh_stamp < u64::from(self.num_blocks) {
                    self.fresh_stamp += 1;
                } else {
                    self.plain_stamps.pop_front();
                }
                self.num_free -= 1;
                Some(self.plain.pop().unwrap_or_else(|| {
                    self.blocks.push(Block {
                        hash: NO_HASH,
                        queued_at: 0,
                        ref_count: 0,
                        prev: NONE,
                        next: NONE,
                    });
                    self.hashed.push(false);
                    self.materialized() - 1
                }))
            }
            _ => {
                let b = self.head;
                self.unlink(b);
                let h = std::mem::replace(&mut self.blocks[b as usize].hash, NO_HASH);
                self.hashed[b as usize] = false;
                self.cached.remove(&h);
                Some(b)
            }
        }
    }

    /// Releases one reference; a block nobody references joins the back of the free queue
    /// (and stays findable by its hash until it is evicted).
    pub fn release(&mut self, b: BlockId) {
        let stamp = self.pushes;
        if !self.hashed[b as usize] {
            self.pushes += 1;
            self.num_free += 1;
            self.plain.push(b);
            self.plain_stamps.push_back(stamp);
            return;
        }
        let block = &mut self.blocks[b as usize];
        debug_assert!(block.ref_count > 0, "double free of block {b}");
        block.ref_count -= 1;
        if block.ref_count > 0 {
            return;
        }
        self.pushes += 1;
        self.num_free += 1;
        block.queued_at = stamp;
        block.prev = self.tail;
        block.next = NONE;
        if self.tail == NONE {
            self.head = b;
        } else {
            self.blocks[self.tail as usize].next = b;
        }
        self.tail = b;
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
            .map(|&b| (b, self.blocks[b as usize].ref_count == 0))
    }

    /// Takes a reference to a cached block found by [`lookup`](Self::lookup).
    pub fn take_cached(&mut self, b: BlockId) {
        if self.blocks[b as usize].ref_count == 0 {
            self.unlink(b);
        }
        self.blocks[b as usize].ref_count += 1;
    }

    /// Records that block `b` (in use) is full and holds the content `hash`. If another block
    /// already holds that content, `b` stays unregistered (the first copy is the cached one).
    pub fn register(&mut self, b: BlockId, hash: u64) {
        if !self.prefix_caching || self.hashed[b as usize] {
            return;
        }
        let hash = hash.max(1); // 0 means "no hash"
        if let std::collections::hash_map::Entry::Vacant(e) = self.cached.entry(hash) {
            e.insert(b);
            // A plain block in use has one reference.
            let block = &mut self.blocks[b as usize];
            block.hash = hash;
            block.ref_count = 1;
            self.hashed[b as usize] = true;
        }
    }

    /// The stamps of the free queue from its front: allocation `i` from now takes the block
    /// queued with the `i`-th stamp. A cached block's stamp is its [`queue_stamp`]
    /// (Self::queue_stamp).
    pub fn free_stamps(&self) -> FreeStamps<'_> {
        FreeStamps {
            kv: self,
            fresh: self.fresh_stamp..u64::from(self.num_blocks),
            plain: self.plain_stamps.iter().peekable(),
            cached: self.head,
        }
    }

    /// A cached free block's place in the queue: of two free blocks, the one with the smaller
    /// stamp is allocated first.
    pub fn queue_stamp(&self, b: BlockId) -> u64 {
        self.blocks[b as usize].queued_at
    }

    fn unlink(&mut self, b: BlockId) {
        let Block { prev, next, .. } = self.blocks[b as usize];
        if prev == NONE {
            self.head = next;
        } else {
            self.blocks[prev as usize].next = next;
        }
        if next == NONE {
            self.tail = prev;
        } else {
            self.blocks[next as usize].prev = prev;
        }
        let block = &mut self.blocks[b as usize];
        block.prev = NONE;
        block.next = NONE;
        self.num_free -= 1;
    }

    /// Checks the free queue against the reference counts (tests and debug builds).
    pub fn check_invariants(&self) -> Result<(), String> {
        let fresh = self.num_blocks - self.materialized();
        let fresh_stamps = u64::from(self.num_blocks) - self.fresh_stamp;
        if u64::from(fresh) + self.plain.len() as u64
            != fresh_stamps + self.plain_stamps.len() as u64
        {
            return Err("plain free blocks and their stamps disagree".into());
        }
        let mut in_plain = vec![false; self.blocks.len()];
        for &b in &self.plain {
            if self.hashed[b as usize] || std::mem::replace(&mut in_plain[b as usize], true) {
                return Err(format!("plain free block {b} is cached or queued twice"));
            }
        }
        let mut seen = fresh + self.plain.len() as u32;
        let mut b = self.head;
        let mut prev = NONE;
        let mut last_stamp = None;
        while b != NONE {
            let block = &self.blocks[b as usize];
            if block.ref_count != 0 || !self.hashed[b as usize] {
                return Err(format!(
                    "block {b} is in the cached queue but referenced or plain"
                ));
            }
            if block.prev != prev {
                return Err(format!("block {b} has a broken back link"));
            }
            if last_stamp.is_some_and(|s| s >= block.queued_at) {
                return Err(format!("block {b} is out of stamp order"));
            }
            last_stamp = Some(block.queued_at);
            seen += 1;
            if seen > self.num_blocks() {
                return Err("free queue has a cycle".into());
            }
            prev = b;
            b = block.next;
        }
        if seen != self.num_free {
            return Err(format!(
                "free queue holds {seen} blocks, counter says {}",
                self.num_free
            ));
        }
        let unreferenced = fresh
            + self.plain.len() as u32
            + (0..self.blocks.len())
                .filter(|&b| self.hashed[b] && self.blocks[b].ref_count == 0)
                .count() as u32;
        if unreferenced != self.num_free {
            return Err(format!(
                "{unreferenced} blocks are unreferenced but {} are free",
                self.num_free
            ));
        }
        for (&h, &b) in &self.cached {
            if self.blocks[b as usize].hash != h || !self.hashed[b as usize] {
                return Err(format!(
                    "cached hash {h:#x} points at block {b} holding another"
                ));
            }
        }
        Ok(())
    }
}

/// The free queue's stamps in allocation order (see [`KvCache::free_stamps`]).
#[derive(Clone)]
pub struct FreeStamps<'a> {
    kv: &'a KvCache,
    fresh: std::ops::Range<u64>,
    plain: std::iter::Peekable<std::collections::vec_deque::Iter<'a, u64>>,
    cached: u32,
}

impl Iterator for FreeStamps<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if let Some(s) = self.fresh.next() {
            return Some(s); // never-used stamps precede every release
        }
        let cached = (self.cached != NONE).then(|| self.kv.blocks[self.cached as usize].queued_at);
        match (self.plain.peek().copied().copied(), cached) {
            (Some(p), c) if c.is_none_or(|c| p < c) => self.plain.next().copied(),
            (_, Some(c)) => {
                self.cached = self.kv.blocks[self.cached as usize].next;
                Some(c)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
