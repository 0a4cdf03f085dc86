//! One scheduling decision per step, vLLM V1 style.
//!
//! 1. Running requests first, in admission order: each gets its next tokens (a decoding
//!    request 1, a prefilling one the rest of its prompt, capped by the per-request chunk cap
//!    and by what is left of the step's token budget). If its KV blocks cannot be allocated, a
//!    victim is preempted (recompute: its blocks are released and it waits again with no KV),
//!    until the allocation fits or the request itself is the victim.
//! 2. Only if nothing was preempted: waiting requests in policy order, while the budget,
//!    max_num_seqs, the partial-prefill limit, preemption-free reservations and the free blocks
//!    allow. Admission stops at the first request that does not fit (no skipping ahead), so a
//!    policy's order is also the order of service.
//!
//! Without chunked prefill a prompt must fit the remaining budget whole; a prompt longer than
//! the whole budget (which vLLM would reject) is computed in budget-sized pieces.

use super::engine::Engine;
use super::queue::QueueKey;
use crate::config::Policy;
use crate::observe::Observer;

impl Engine {
    /// Fills `self.batch` with (slot, new tokens). Returns whether anything was preempted.
    pub(super) fn schedule<O: Observer>(&mut self, obs: &mut O) -> bool {
        self.batch.clear();
        let mut budget = self.knobs.max_batched;
        let mut preempted = false;
        let mut partial = 0u32;

        let mut i = 0;
        while i < self.running.len() && budget > 0 {
            let slot = self.running[i];
            let r = &self.requests[slot];
            let remaining = r.remaining();
            let Some(n) = self.tokens_for(remaining, r.in_prefill(), budget) else {
                i += 1;
                continue;
            };
            let needed = self.blocks_for(r.num_computed + n);
            let mut scheduled = true;
            while needed > self.requests[slot].blocks.len() as u32 + self.kv.num_free() {
                let victim = self.pick_victim(i);
                if victim < i {
                    // Scheduled earlier this step (priority policy): its tokens go back.
                    let (returned, was_partial) = self.unschedule(self.running[victim]);
                    budget += returned;
                    partial -= u32::from(was_partial);
                }
                self.preempt(victim, obs);
                preempted = true;
                if victim == i {
                    scheduled = false;
                    break;
                }
                if victim < i {
                    i -= 1; // running[i] moved down by one
                }
            }
            if !scheduled {
                continue; // running[i] is now the next request
            }
            self.grow(slot, needed);
            if n < remaining {
                partial += 1;
            }
            self.batch.push((slot, n));
            budget -= n;
            i += 1;
        }

        if preempted {
            return true;
        }
        while budget > 0 && self.seqs_in_use() < self.knobs.max_seqs {
            let Some(slot) = self.waiting.peek() else {
                break;
            };
            let hits = self.lookup_prefix(slot);
            let total = self.requests[slot].total_tokens();
            let evictable_hits = self.scratch_hits.iter().filter(|&&(_, e)| e).count() as u32;
            let free = u64::from(self.kv.num_free());
            let Some(n) = self.admits(total, hits, evictable_hits, budget, partial, free) else {
                break;
            };
            let reservation = self.reservation(slot);
            if !self.reservation_fits(reservation) {
                break;
            }
            let cached = hits * self.knobs.block_size;
            let remaining = total - cached;
            let needed = self.blocks_for(cached + n);
            // Commit the admission.
            self.waiting.pop();
            self.reserved_blocks += reservation;
            for &(block, _) in &self.scratch_hits {
                self.kv.take_cached(block);
            }
            let r = &mut self.requests[slot];
            r.blocks.extend(self.scratch_hits.iter().map(|&(b, _)| b));
            r.num_computed = cached;
            r.num_registered = hits;
            if r.first_scheduled.is_none() {
                r.first_scheduled = Some(self.now);
                r.cached_prompt = cached;
                if r.measured {
                    obs.first_scheduled(&r.spec, self.now, cached);
                }
            }
            if self.kv.prefix_caching() && r.measured {
                obs.prefix_lookup(u64::from(r.total_tokens()), u64::from(cached));
            }
            self.grow(slot, needed);
            if n < remaining {
                partial += 1;
            }
            self.running.push(slot);
            self.batch.push((slot, n));
            budget -= n;
        }
        false
    }

    /// The admission rule, in one place for the scheduler and the decode fast path: whether a
    /// waiting request of `total` tokens whose first `hits` blocks are in the prefix cache
    /// (`evictable` of them sitting in the free queue, which admitting takes out of it) gets
    /// in with `budget` tokens of the step left, `partial` partial prefills already in the
    /// batch and `free` free blocks. Returns the tokens it computes this step.
    pub(super) fn admits(
        &self,
        total: u32,
        hits: u32,
        evictable: u32,
        budget: u32,
        partial: u32,
        free: u64,
    ) -> Option<u32> {
        let cached = hits * self.knobs.block_size;
        let remaining = total - cached;
        let n = self.tokens_for(remaining, true, budget)?;
        if n < remaining && partial >= self.knobs.max_partial {
            return None;
        }
        let needed = self.blocks_for(cached + n) - hits;
        (u64::from(needed) + u64::from(evictable) <= free).then_some(n)
    }

    /// How many tokens a request with `remaining` tokens to compute gets from `budget`, or None
    /// if it must wait for a later step.
    pub(super) fn tokens_for(&self, remaining: u32, in_prefill: bool, budget: u32) -> Option<u32> {
        if !in_prefill {
            return Some(remaining.min(budget));
        }
        if self.knobs.chunked_prefill {
            let capped = self.knobs.chunk_cap.map_or(remaining, |c| remaining.min(c));
            return Some(capped.min(budget));
        }
        if remaining <= budget {
            Some(remaining)
        } else if remaining > self.knobs.max_batched && budget == self.knobs.max_batched {
            Some(budget)
        } else {
            None
        }
    }

    /// Preemption-free mode: the blocks a request could ever need (prompt + output), reserved
    /// from its admission until it completes or is preempted. 0 in the normal mode.
    pub(super) fn reservation(&self, slot: usize) -> u64 {
        self.reservation_of(&self.requests[slot].spec)
    }

    pub(super) fn reservation_of(&self, spec: &crate::workload::RequestSpec) -> u64 {
        if !self.knobs.preemption_free {
            return 0;
        }
        u64::from(self.blocks_for(spec.prompt_len + spec.output_len))
    }

    /// Whether `blocks` more can be reserved without exceeding the cache.
    pub(super) fn reservation_fits(&self, blocks: u64) -> bool {
        self.reserved_blocks + blocks <= u64::from(self.kv.num_blocks())
    }

    /// Blocks that hold `tokens` tokens.
    pub(super) fn blocks_for(&self, tokens: u32) -> u32 {
        tokens.div_ceil(self.knobs.block_size)
    }

    /// Allocates blocks until the request holds `needed` (the caller checked they are free).
    pub(super) fn grow(&mut self, slot: usize, needed: u32) {
        let r = &mut self.requests[slot];
        while (r.blocks.len() as u32) < needed {
            let b = self.kv.allocate().expect("caller checked free blocks");
            r.blocks.push(b);
        }
    }

    /// Leading blocks of the request found in the prefix cache, into `scratch_hits`. At least
    /// one token is always left to compute (the step that computes it emits the next token).
    pub(super) fn lookup_prefix(&mut self, slot: usize) -> u32 {
        self.scratch_hits.clear();
        let r = &self.requests[slot];
        // A synthetic request that was never computed cannot have cached blocks.
        let shareable = r.spec.dataset_index.is_some() || r.spec.session.is_some();
        if !self.kv.prefix_caching() || (r.preemptions == 0 && !shareable) {
            return 0;
        }
        let prompt_hashes = super::engine::prompt_hashes(&self.dataset, &r.spec);
        let max_blocks = (r.total_tokens() - 1) / self.knobs.block_size;
        for index in 0..max_blocks {
            match self.kv.lookup(r.block_hash(index, prompt_hashes)) {
                Some(hit) => self.scratch_hits.push(hit),
                None => break,
            }
        }
        self.scratch_hits.len() as u32
    }

    /// The running request the policy values least: for fcfs the most recently admitted;
    /// for priority the lowest priority (largest value, then latest arrival) of ALL running
    /// requests, scheduled this step or not, as vLLM's priority scheduler picks; otherwise the
    /// one not yet scheduled this step (at index >= `from`) that would sort last in the
    /// waiting queue.
    fn pick_victim(&self, from: usize) -> usize {
        if self.knobs.policy == Policy::Fcfs {
            return self.running.len() - 1;
        }
        let from = if self.knobs.policy == Policy::Priority {
            0
        } else {
            from
        };
        (from..self.running.len())
            .max_by_key(|&i| QueueKey::new(self.knobs.policy, &self.requests[self.running[i]].spec))
            .expect("the request being scheduled is a candidate")
    }

    /// Takes a request out of this step's batch, if it is in it (a running request before
    /// the current one may have been given no tokens). Returns its tokens and whether they
    /// were a partial prefill.
    fn unschedule(&mut self, slot: usize) -> (u32, bool) {
        match self.batch.iter().position(|&(s, _)| s == slot) {
            Some(at) => {
                let (_, n) = self.batch.remove(at);
                (n, n < self.requests[slot].remaining())
            }
            None => (0, false),
        }
    }

    /// Recompute preemption: release the blocks, forget the KV, wait again.
    fn preempt<O: Observer>(&mut self, running_index: usize, obs: &mut O) {
        let slot = self.running.remove(running_index);
        self.register_before_preemption(slot);
        self.reserved_blocks -= self.reservation(slot);
        let r = &mut self.requests[slot];
        self.kv.release_all(&mut r.blocks);
        r.num_computed = 0;
        r.num_registered = 0;
        r.preemptions += 1;
        if r.measured {
            obs.preemption(&r.spec, self.now);
        }
        let key = QueueKey::new(self.knobs.policy, &r.spec);
        self.waiting.push(key, slot);
    }
}
