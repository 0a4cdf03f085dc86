//! The decode fast path: a run of pure decode steps advanced in one go.
//!
//! Between two events (an arrival, a completion, a preemption, an admission) a batch in which
//! every running request decodes one token is predictable: the batch is fixed, each request
//! gains one token per step, its KV needs a new block every `block_size` steps at a known
//! phase, and the step's work sums grow by a known amount per step. So instead of scheduling
//! and applying each step request by request (O(batch) per step), the span is priced step by
//! step from those sums (O(1) per step) and the requests are updated once at its end.
//!
//! The span is exact, not an approximation: each step's sums are the same integers (or
//! half-integers) that the step-by-step path adds up, priced by the same function, blocks are
//! allocated in the same order, and the metrics are recorded in the same order, so every number
//! of the run is bit-identical to `simulation.step_by_step = true`
//! (tests/fast_path_equivalence.rs checks this). A span only covers steps that step-by-step
//! scheduling would schedule identically:
//! - every running request is decoding and the budget covers them all;
//! - the waiting queue's head cannot be admitted now, and nothing in the span can change
//!   that: the free block count only falls, and the span stops before an allocation would
//!   evict one of the head's prefix-cache hits;
//! - it stops before a step that needs more blocks than are free (a preemption), at the first
//!   step that starts at or after the driver's bound (the next instant a request could reach
//!   the engine), and at the first completion (which ends
//!   the span as its last step).
//!
//! Models with sliding-window layers, whose attention cost is not linear in the context,
//! always take the step-by-step path.

use super::compute::{StepCost, StepSums};
use super::engine::Engine;
use crate::observe::{Observer, StepEvent};

/// The shortest span worth taking. Even one pure-decode step is cheaper here than through the
/// scheduler (callgrind on qwen3_30b_a3b: 1.237 G instructions at 1, 1.248 G at 2, 1.266 G at 3).
const MIN_SPAN: u64 = 1;

/// Reusable buffers, so a span allocates nothing.
#[derive(Debug, Default, Clone)]
pub(super) struct SpanScratch {
    /// Running slots ordered by allocation phase (counting sort), and where each phase starts.
    by_phase: Vec<usize>,
    phase_start: Vec<usize>,
    /// The waiting head's evictable cached blocks as (queue stamp, index in its prefix),
    /// in free-queue order.
    head_hits: Vec<(u64, u32)>,
    /// evictable_before[i]: how many of the head's first i cached blocks are evictable.
    evictable_before: Vec<u32>,
}

/// What the span must watch about a blocked waiting head whose cached prefix sits in the free
/// queue: allocations may evict part of it, which shortens the prefix and can make the head
/// admittable (when the step budget, not the cache, limits its first chunk).
#[derive(Debug, Clone, Copy)]
struct BlockedHead {
    total_tokens: u32,
    hits: u32,
}

/// How many requests take a block at phase `p`.
fn phase_count(phase_start: &[usize], p: usize) -> u64 {
    (phase_start[p + 1] - phase_start[p]) as u64
}

impl Engine {
    /// Advances a span of pure decode steps if the state allows one; returns the last step's
    /// cost, or None (nothing changed) when the next step needs the step-by-step path. The
    /// span's last step is the first that starts at or after `bound` (the next instant a
    /// request could reach this engine).
    pub(super) fn try_decode_span<O: Observer>(
        &mut self,
        horizon: Option<f64>,
        obs: &mut O,
    ) -> Option<StepCost> {
        if self.step_by_step || self.roofline.has_sliding_window() || self.running.is_empty() {
            return None;
        }
        let n = self.running.len();
        if n as u64 > u64::from(self.knobs.max_batched) {
            return None;
        }
        let block_size = self.knobs.block_size as usize;
        let mut steps_left = u64::MAX;
        let mut sum_cached = 0u64;
        let mut scratch = std::mem::take(&mut self.span_scratch);
        scratch.phase_start.clear();
        scratch.phase_start.resize(block_size + 1, 0);
        for &slot in &self.running {
            let r = &self.requests[slot];
            if r.in_prefill() {
                self.span_scratch = scratch;
                return None;
            }
            steps_left = steps_left.min(u64::from(r.spec.output_len - r.num_output));
            sum_cached += u64::from(r.num_computed);
            // Tokens that still fit the last block: the step at which (mod block_size) the
            // request takes a new block.
            let phase = r.blocks.len() * block_size - r.num_computed as usize;
            scratch.phase_start[phase + 1] += 1;
        }
        for p in 0..block_size {
            scratch.phase_start[p + 1] += scratch.phase_start[p];
        }
        // Cheap bound first: steps until a completion or until the free blocks run out.
        let free = u64::from(self.kv.num_free());
        let mut bound = 0;
        let mut need = 0;
        while bound < steps_left && bound < MIN_SPAN {
            need += phase_count(&scratch.phase_start, bound as usize % block_size);
            if need > free {
                break;
            }
            bound += 1;
        }
        if bound < MIN_SPAN {
            self.span_scratch = scratch;
            return None;
        }
        let budget_left = self.knobs.max_batched - n as u32;
        let head = match self.admission_stays_blocked(budget_left, &mut scratch) {
            Ok(head) => head,
            Err(()) => {
                self.span_scratch = scratch;
                return None;
            }
        };
        scratch.by_phase.clear();
        scratch.by_phase.resize(n, 0);
        let mut fill = scratch.phase_start.clone();
        for &slot in &self.running {
            let r = &self.requests[slot];
            let phase = r.blocks.len() * block_size - r.num_computed as usize;
            scratch.by_phase[fill[phase]] = slot;
            fill[phase] += 1;
        }

        let total_blocks = f64::from(self.kv.num_blocks());
        let used_before = u64::from(self.kv.num_used());
        let n_f = n as f64;
        // Tokens and gaps of warm-up requests are not counted (all of them without a warm-up).
        let measured = if self.warmup_active {
            let requests = &self.requests;
            self.running
                .iter()
                .filter(|&&slot| requests[slot].measured)
                .count() as u64
        } else {
            n as u64
        };
        let mut queue = self.kv.free_stamps();
        let mut head_hits_left = head.map_or(0, |h| h.hits);
        let mut next_head_hit = 0;
        let mut allocated = 0u64;
        let mut now = self.now;
        let mut steps = 0u64;
        let mut last = None;
        let mut last_start = now;
        'span: while steps < steps_left {
            if steps > 0 && horizon.is_some_and(|a| a <= now) {
                break;
            }
            let allocations = phase_count(&scratch.phase_start, steps as usize % block_size);
            if allocated + allocations > free {
                break;
            }
            if let Some(head) = head.filter(|_| allocations > 0) {
                // This step's allocations take the next blocks of the free queue. If one of
                // them holds the head's cached prefix, the prefix shrinks: stop before this
                // step if that would let the head in (the step-by-step path admits it then).
                let mut ahead = queue.clone();
                let mut hits = head_hits_left;
                let mut next_hit = next_head_hit;
                for _ in 0..allocations {
                    let taken = ahead.next().expect("the span checked free blocks");
                    if let Some(&(stamp, index)) = scratch.head_hits.get(next_hit) {
                        if taken == stamp {
                            hits = hits.min(index);
                            next_hit += 1;
                        }
                    }
                }
                if hits < head_hits_left {
                    let free_after = free - allocated - allocations;
                    if self.head_fits(head, hits, budget_left, free_after, &scratch) {
                        break 'span;
                    }
                    head_hits_left = hits;
                }
                next_head_hit = next_hit;
                queue = ahead;
            }
            allocated += allocations;
            let j = steps as f64;
            // One new token per request: its causal pairs equal its keys, c + 1.
            let attn = sum_cached as f64 + n_f * (j + 1.0);
            let sums = StepSums {
                tokens: n_f,
                seqs: n_f,
                attn_full: attn,
                attn_full_causal: attn,
                kv_full: sum_cached as f64 + n_f * (j + 0.5),
                attn_slide: 0.0,
                attn_slide_causal: 0.0,
                kv_slide: 0.0,
            };
            let cost = self.roofline.price_sums(&sums);
            let kv_util = (used_before + allocated) as f64 / total_blocks;
            let end = now + cost.time;
            last_start = now;
            let same_step_gaps = if steps == 0 {
                // As the step-by-step path: gaps that are not exactly one step, in batch order.
                let mut regular = 0;
                for &slot in &self.running {
                    let last_token = self.requests[slot].last_token;
                    if !self.requests[slot].measured {
                        continue;
                    }
                    if last_token == now {
                        regular += 1;
                    } else {
                        obs.gap(end - last_token);
                    }
                }
                regular
            } else {
                measured
            };
            obs.step(&StepEvent {
                start: now,
                duration: cost.time,
                flops_util: cost.flops_util,
                bandwidth_util: cost.bandwidth_util,
                kv_util,
                output_tokens: measured,
                same_step_gaps,
                prefill_tokens: 0,
                decode_tokens: n as u32,
                running: n as u32,
                waiting: self.waiting.len() as u32,
            });
            now = end;
            steps += 1;
            last = Some(cost);
        }
        if steps == 0 {
            self.span_scratch = scratch;
            return None;
        }

        // Allocate exactly as the step-by-step path would: step by step, in batch order, so
        // that the same physical blocks go to the same requests and the free queue (and with
        // it every later eviction) ends up the same.
        for j in 0..steps as usize {
            let p = j % block_size;
            for &slot in &scratch.by_phase[scratch.phase_start[p]..scratch.phase_start[p + 1]] {
                let b = self.kv.allocate().expect("the span checked free blocks");
                self.requests[slot].blocks.push(b);
            }
        }
        debug_assert_eq!(u64::from(self.kv.num_used()), used_before + allocated);
        self.span_scratch = scratch;
        let steps32 = steps as u32;
        for i in 0..n {
            let slot = self.running[i];
            let r = &mut self.requests[slot];
            r.num_computed += steps32;
            r.num_output += steps32;
            r.last_token = now;
            if self.knobs.leaves(r) {
                self.finished.push(slot);
            }
            self.register_full_blocks(slot);
        }
        self.now = now;
        self.last_step_start = last_start;
        self.retire_finished(obs);
        last
    }

    /// Whether the waiting queue's head is unadmittable now. Err(()) if it could be admitted
    /// this step; Ok(None) if nothing during a span can change that; Ok(Some(head)) if it stays
    /// blocked only while allocations leave enough of its cached prefix (see [`BlockedHead`]);
    /// `scratch.head_hits` and `scratch.evictable_before` then describe that prefix.
    fn admission_stays_blocked(
        &mut self,
        budget_left: u32,
        scratch: &mut SpanScratch,
    ) -> Result<Option<BlockedHead>, ()> {
        if self.waiting.is_empty() || budget_left == 0 || self.seqs_in_use() >= self.knobs.max_seqs
        {
            return Ok(None);
        }
        let slot = self.waiting.peek().ok_or(())?;
        if !self.reservation_fits(self.reservation(slot)) {
            return Ok(None); // reservations do not change during the span
        }
        let hits = self.lookup_prefix(slot);
        let r = &self.requests[slot];
        let head = BlockedHead {
            total_tokens: r.total_tokens(),
            hits,
        };
        scratch.evictable_before.clear();
        scratch.evictable_before.push(0);
        scratch.head_hits.clear();
        for (index, &(block, evictable)) in self.scratch_hits.iter().enumerate() {
            let before = *scratch.evictable_before.last().expect("starts with 0");
            scratch.evictable_before.push(before + u32::from(evictable));
            if evictable {
                scratch
                    .head_hits
                    .push((self.kv.queue_stamp(block), index as u32));
            }
        }
        scratch.head_hits.sort_unstable();
        let free = u64::from(self.kv.num_free());
        if self.head_fits(head, hits, budget_left, free, scratch) {
            return Err(());
        }
        // Free blocks only fall during the span, so the head stays blocked while its cached
        // prefix stays whole.
        Ok((!scratch.head_hits.is_empty()).then_some(head))
    }

    /// Whether the blocked head would be admitted with only its first `hits` cached blocks
    /// left and `free` free blocks: the scheduler's own rule ([`Engine::admits`]), with no
    /// partial prefill in a batch of decodes.
    fn head_fits(
        &self,
        head: BlockedHead,
        hits: u32,
        budget_left: u32,
        free: u64,
        scratch: &SpanScratch,
    ) -> bool {
        let evictable = scratch.evictable_before[hits as usize];
        self.admits(head.total_tokens, hits, evictable, budget_left, 0, free)
            .is_some()
    }
}
