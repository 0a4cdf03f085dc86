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
    // Released blocks queue behind every never-used one...
    assert_eq!(kv.free_stamps().next(), Some(1000));
    // ...but plain blocks are interchangeable: the allocation whose turn is a never-used
    // stamp reuses a released block (the one released last), and materializes nothing.
    assert_eq!(kv.allocate(), Some(0));
    assert_eq!(kv.materialized(), 1000);
    assert!(kv.blocks.capacity() < 4096);
    assert_eq!(kv.num_used(), 1);
    kv.check_invariants().unwrap();
}

/// The eager free queue the lazy one must match: every block queued at the start with its
/// stamp, a plain list with O(n) removal. Physical block ids may differ (plain blocks are
/// interchangeable), so the test maps the model's ids to the cache's as they are handed
/// out, and compares everything that can matter: which hashes are found and evictable,
/// which are evicted when, and the queue's stamps.
struct EagerModel {
    queue: Vec<(u32, u64)>,
    pushes: u64,
    ref_count: Vec<u32>,
    hash: Vec<u64>,
    cached: HashMap<u64, u32>,
}

impl EagerModel {
    fn allocate(&mut self) -> Option<u32> {
        if self.queue.is_empty() {
            return None;
        }
        let (b, _) = self.queue.remove(0);
        let h = std::mem::replace(&mut self.hash[b as usize], NO_HASH);
        self.cached.remove(&h);
        self.ref_count[b as usize] = 1;
        Some(b)
    }

    fn release(&mut self, b: u32) {
        self.ref_count[b as usize] -= 1;
        if self.ref_count[b as usize] == 0 {
            self.queue.push((b, self.pushes));
            self.pushes += 1;
        }
    }

    fn take_cached(&mut self, b: u32) {
        if self.ref_count[b as usize] == 0 {
            self.queue.retain(|&(q, _)| q != b);
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
fn the_cache_behaves_exactly_as_the_eager_queue() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let n = 48u32;
    let mut rng = StdRng::seed_from_u64(11);
    let mut kv = KvCache::new(n, true);
    let mut model = EagerModel {
        queue: (0..n).map(|b| (b, u64::from(b))).collect(),
        pushes: u64::from(n),
        ref_count: vec![0; n as usize],
        hash: vec![NO_HASH; n as usize],
        cached: HashMap::new(),
    };
    // Model id -> cache id, for blocks the model holds or caches.
    let mut id = vec![NONE; n as usize];
    let mut held: Vec<u32> = Vec::new();
    for step in 0..20_000 {
        match rng.random_range(0..5) {
            0 | 1 => {
                let b = kv.allocate();
                let m = model.allocate();
                assert_eq!(b.is_some(), m.is_some());
                if let (Some(b), Some(m)) = (b, m) {
                    id[m as usize] = b;
                    // Some blocks stay plain (output tokens, synthetic prompts).
                    if rng.random_range(0..3) > 0 {
                        let h = rng.random_range(1..40u64);
                        kv.register(b, h);
                        model.register(m, h);
                    }
                    held.push(m);
                }
            }
            2 | 3 if !held.is_empty() => {
                let m = held.swap_remove(rng.random_range(0..held.len()));
                kv.release(id[m as usize]);
                model.release(m);
            }
            _ => {
                let h = rng.random_range(1..40u64);
                let found = kv.lookup(h);
                let expected = model
                    .cached
                    .get(&h)
                    .map(|&m| (id[m as usize], model.ref_count[m as usize] == 0));
                assert_eq!(found, expected, "step {step}");
                if let Some((b, _)) = found {
                    let m = model.cached[&h];
                    kv.take_cached(b);
                    model.take_cached(m);
                    held.push(m);
                }
            }
        }
        assert_eq!(kv.num_free() as usize, model.queue.len());
        let stamps: Vec<u64> = kv.free_stamps().collect();
        let expected: Vec<u64> = model.queue.iter().map(|&(_, s)| s).collect();
        assert_eq!(stamps, expected, "step {step}");
        kv.check_invariants().unwrap();
    }
    assert!(kv.materialized() <= n);
}
