//! One engine replica: a waiting queue, a running batch, a paged KV cache, and the step that
//! schedules, prices and applies one forward pass.
//!
//! The engine owns no clock beyond its own position in simulated time and no workload: a
//! driver (see [`crate::fleet`]) hands it requests as they arrive and asks it to step, bounding
//! each call by the next instant something could reach it. What a step does is reported to an
//! [`Observer`]; the engine keeps no statistics of its own.

use super::compute::{Roofline, StepCost, Work};
use super::handoff::Handoff;
use super::kv_cache::KvCache;
use super::queue::WaitingQueue;
use super::request::Request;
use crate::config::{Config, Policy};
use crate::metrics::Warmup;
use crate::observe::{Completion, Observer, StepEvent};
use crate::workload::dataset::Dataset;
use crate::workload::RequestSpec;
use crate::{bail, Result};
use std::sync::Arc;

/// The scheduler's knobs, resolved once from the config.
#[derive(Debug, Clone)]
pub(super) struct Knobs {
    pub max_batched: u32,
    pub max_seqs: u32,
    pub policy: Policy,
    pub chunked_prefill: bool,
    pub chunk_cap: Option<u32>,
    pub max_partial: u32,
    pub preemption_free: bool,
    pub block_size: u32,
    /// A disaggregated prefill replica: a request leaves as its first token is emitted.
    pub prefill_only: bool,
    /// See async_sched.rs.
    pub async_scheduling: bool,
}

impl Knobs {
    /// Whether a request that has just emitted a token leaves this replica: it emitted its
    /// last, or (prefill replica) its first. The one rule for the step, the decode span and
    /// retiring.
    pub fn leaves(&self, r: &Request) -> bool {
        r.num_output == r.spec.output_len || (self.prefill_only && r.num_output > 0)
    }
}

/// What one call to [`Engine::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EngineStep {
    /// One forward pass, or a span of pure decode steps, ran; `cost` is the last step's.
    /// `completions` requests finished at its end.
    Ran { cost: StepCost, completions: u32 },
    /// Nothing could be scheduled. After a preemption the next call readmits; otherwise the
    /// engine waits for something new to reach it.
    Blocked { preempted: bool },
}

pub struct Engine {
    pub(super) knobs: Knobs,
    pub(super) roofline: Roofline,
    pub(super) kv: KvCache,
    /// Request slots; a finished request's slot is reused.
    pub(super) requests: Vec<Request>,
    free_slots: Vec<usize>,
    /// Slots of running requests, in admission order.
    pub(super) running: Vec<usize>,
    pub(super) waiting: WaitingQueue,
    /// Arrivals the current decision missed (async scheduling).
    pub(super) held: super::async_sched::Held,
    /// This step's (slot, new tokens).
    pub(super) batch: Vec<(usize, u32)>,
    pub(super) scratch_hits: Vec<(u32, bool)>,
    pub(super) reserved_blocks: u64,
    pub(super) finished: Vec<usize>,
    /// Dataset mode: the prompts whose block hashes requests share.
    pub(super) dataset: Option<Arc<Dataset>>,
    /// This engine's position in simulated time: the end of its last step, or the instant it
    /// was last woken.
    pub(super) now: f64,
    last_completion: f64,
    /// Never take the decode fast path (see decode_span.rs).
    pub(super) step_by_step: bool,
    pub(super) span_scratch: super::decode_span::SpanScratch,
    /// Whether `[metrics]` may leave requests out (then spans count measured requests).
    pub(super) warmup_active: bool,
    /// Requests finished so far, warm-up ones included (for progress displays).
    completed_all: u64,
    /// The last call's last step: when it began, the KV blocks it held, and the requests that
    /// completed (or, on a prefill replica, left for decode) at its end.
    pub(super) last_step_start: f64,
    last_kv_in_step: u32,
    last_completions: u32,
    last_left: u32,
    /// Prefill replica: requests that emitted their first token and leave for a decode
    /// replica, with the instant they left.
    pub(super) handoffs: Vec<Handoff>,
    /// Decode replica: slots of requests whose KV is arriving (blocks held, not yet running).
    pub(super) transferring: Vec<usize>,
    /// Session turns that completed since the driver last took them (their next turn is due).
    session_turns: Vec<RequestSpec>,
}

impl Engine {
    /// An engine for `config` (its `[workload]` is not read). `dataset` holds the prompts
    /// whose block hashes dataset-mode requests share.
    pub fn new(config: &Config, dataset: Option<Arc<Dataset>>) -> Result<Engine> {
        let blocks = config.kv_cache_blocks()?;
        let Ok(blocks) = u32::try_from(blocks) else {
            bail!(
                "the KV cache would have {blocks} blocks, more than this simulator supports \
                 (2^32 - 1): raise scheduler.block_size"
            );
        };
        let s = &config.scheduler;
        Ok(Engine {
            knobs: Knobs {
                max_batched: s.max_num_batched_tokens,
                max_seqs: s.max_num_seqs,
                policy: s.policy,
                chunked_prefill: s.enable_chunked_prefill,
                chunk_cap: s
                    .enable_chunked_prefill
                    .then(|| s.prefill_chunk_cap(config.model.max_seq_len))
                    .flatten(),
                max_partial: s.max_num_partial_prefills,
                preemption_free: s.enable_preemption_free,
                block_size: s.block_size,
                prefill_only: false,
                async_scheduling: s.async_scheduling,
            },
            roofline: Roofline::new(config),
            kv: KvCache::new(blocks, s.enable_prefix_caching),
            requests: Vec::new(),
            free_slots: Vec::new(),
            running: Vec::new(),
            waiting: WaitingQueue::default(),
            held: Default::default(),
            batch: Vec::new(),
            scratch_hits: Vec::new(),
            reserved_blocks: 0,
            finished: Vec::new(),
            dataset,
            now: 0.0,
            last_completion: 0.0,
            step_by_step: config.simulation.step_by_step,
            span_scratch: Default::default(),
            warmup_active: Warmup::new(config.metrics.as_ref()).active(),
            completed_all: 0,
            last_step_start: 0.0,
            last_kv_in_step: 0,
            last_completions: 0,
            last_left: 0,
            handoffs: Vec::new(),
            transferring: Vec::new(),
            session_turns: Vec::new(),
        })
    }

    /// Makes this a disaggregated prefill replica: requests leave as their first token is
    /// emitted (see [`take_handoffs`](Self::take_handoffs)), except those whose first token
    /// is their last.
    pub fn prefill_only(mut self) -> Engine {
        self.knobs.prefill_only = true;
        self
    }

    /// A request reaches this engine: it waits for admission in policy order. `measured`
    /// says whether the statistics count it (see `[metrics]`).
    pub fn add_request(&mut self, spec: RequestSpec, measured: bool) {
        let slot = self.new_slot(Request::new(spec, measured));
        self.enqueue_arrival(slot);
    }

    pub(super) fn new_slot(&mut self, request: Request) -> usize {
        match self.free_slots.pop() {
            Some(slot) => {
                self.requests[slot] = request;
                slot
            }
            None => {
                self.requests.push(request);
                self.requests.len() - 1
            }
        }
    }

    /// Moves an idle engine's clock forward to `t` (a request reaches it then).
    pub fn wait_until(&mut self, t: f64) {
        self.now = self.now.max(t);
    }

    /// Whether the engine has nothing to run or admit.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty() && self.waiting.is_empty() && self.held.is_empty()
    }

    /// Sequences counted against max_num_seqs: running, and (decode replica) arriving.
    pub(super) fn seqs_in_use(&self) -> u32 {
        (self.running.len() + self.transferring.len()) as u32
    }

    /// Runs the next forward pass, or a span of pure decode steps that ends before the first
    /// step starting at or after `bound` (the next instant a request could reach this engine).
    pub fn step<O: Observer>(&mut self, bound: Option<f64>, obs: &mut O) -> Result<EngineStep> {
        self.last_step_start = self.now;
        self.last_left = 0;
        self.release_held();
        if self.held.is_empty() {
            if let Some(cost) = self.try_decode_span(bound, obs) {
                check_step(&cost, self.now)?;
                return Ok(self.ran(cost));
            }
        }
        let mut preempted = self.schedule(obs);
        if self.batch.is_empty() && !preempted && self.release_all_held() {
            preempted = self.schedule(obs);
        }
        if self.batch.is_empty() {
            self.last_completions = 0;
            self.last_kv_in_step = self.kv.num_used();
            return Ok(EngineStep::Blocked { preempted });
        }
        let cost = self.roofline.step(self.batch.iter().map(|&(slot, n)| Work {
            cached: self.requests[slot].num_computed,
            new: n,
        }));
        check_step(&cost, self.now + cost.time)?;
        let kv_util = f64::from(self.kv.num_used()) / f64::from(self.kv.num_blocks());
        let step_start = self.now;
        self.now += cost.time;
        let (tokens, same_step_gaps, (prefill_tokens, decode_tokens)) =
            self.apply_step(step_start, obs);
        obs.step(&StepEvent {
            start: step_start,
            duration: cost.time,
            flops_util: cost.flops_util,
            bandwidth_util: cost.bandwidth_util,
            kv_util,
            output_tokens: tokens,
            same_step_gaps,
            prefill_tokens,
            decode_tokens,
            running: self.running.len() as u32,
            waiting: self.waiting.len() as u32,
        });
        self.retire_finished(obs);
        Ok(self.ran(cost))
    }

    fn ran(&mut self, cost: StepCost) -> EngineStep {
        EngineStep::Ran {
            cost,
            completions: self.last_completions,
        }
    }

    /// Applies the scheduled tokens at the end of a step that began at `step_start`: KV grows,
    /// full blocks enter the prefix cache, and requests that computed their whole sequence emit
    /// a token. Returns the tokens emitted, how many of them came exactly one step after
    /// their previous token, and the tokens computed in prefill and in decode.
    fn apply_step<O: Observer>(&mut self, step_start: f64, obs: &mut O) -> (u64, u64, (u32, u32)) {
        let now = self.now;
        let mut same_step_gaps = 0;
        let mut tokens = 0;
        let mut split = (0, 0);
        for i in 0..self.batch.len() {
            let (slot, n) = self.batch[i];
            let r = &mut self.requests[slot];
            // Decoding: one token, the last of the sequence, after the first output.
            if r.num_output > 0 && n == 1 && r.num_computed + 1 == r.total_tokens() {
                split.1 += 1;
            } else {
                split.0 += n;
            }
            r.num_computed += n;
            self.register_full_blocks(slot);
            let r = &mut self.requests[slot];
            if r.num_computed < r.total_tokens() {
                continue;
            }
            r.num_output += 1;
            let measured = r.measured;
            tokens += u64::from(measured);
            if r.first_token.is_none() {
                r.first_token = Some(now);
                if measured {
                    obs.first_token(&r.spec, now);
                }
            } else if measured {
                if r.last_token == step_start {
                    same_step_gaps += 1;
                } else {
                    obs.gap(now - r.last_token);
                }
            }
            r.last_token = now;
            if self.knobs.leaves(r) {
                self.finished.push(slot);
            }
        }
        (tokens, same_step_gaps, split)
    }

    /// Registers a request's newly full *shareable* blocks in the prefix cache: the blocks of a
    /// dataset prompt, whose content other requests may share while this one still runs.
    ///
    /// Every other block (a synthetic prompt, output tokens) has content unique to its request,
    /// so nobody else can ever hit it; only the request itself can, after a preemption. Those
    /// blocks are registered when the request is preempted (see `preempt`), and never when it
    /// finishes. The prefix cache answers every lookup exactly as if all full blocks were
    /// registered the moment they filled, without hashing a block that nobody will look for.
    pub(super) fn register_full_blocks(&mut self, slot: usize) {
        if !self.kv.prefix_caching() {
            return;
        }
        let r = &mut self.requests[slot];
        let computed_blocks = r.num_computed / self.knobs.block_size;
        let prompt_hashes = prompt_hashes(&self.dataset, &r.spec);
        let full = match (r.spec.session, r.spec.dataset_index) {
            // A session's every block is history its next turn sends again.
            (Some(_), _) => computed_blocks,
            (None, Some(_)) => computed_blocks.min(prompt_hashes.len() as u32),
            (None, None) => return,
        };
        while r.num_registered < full {
            let index = r.num_registered;
            self.kv
                .register(r.blocks[index as usize], r.block_hash(index, prompt_hashes));
            r.num_registered += 1;
        }
    }

    /// Registers every full block of a request about to be preempted, so that it finds them
    /// again when it is readmitted (unless they are evicted first).
    pub(super) fn register_before_preemption(&mut self, slot: usize) {
        if !self.kv.prefix_caching() {
            return;
        }
        let r = &self.requests[slot];
        let prompt_hashes = prompt_hashes(&self.dataset, &r.spec);
        for index in 0..r.num_computed / self.knobs.block_size {
            self.kv
                .register(r.blocks[index as usize], r.block_hash(index, prompt_hashes));
        }
    }

    /// Frees finished requests' blocks and slots, and reports their completion. On a prefill
    /// replica, requests with output still to come leave as handoffs instead.
    pub(super) fn retire_finished<O: Observer>(&mut self, obs: &mut O) {
        self.last_kv_in_step = self.kv.num_used();
        self.last_left = self.finished.len() as u32;
        self.last_completions = self.last_left;
        if self.finished.is_empty() {
            return;
        }
        for &slot in &self.finished {
            self.reserved_blocks -= self.reservation(slot);
            let r = &mut self.requests[slot];
            self.kv.release_all(&mut r.blocks);
            if r.num_output < r.spec.output_len {
                // Prefill replica: the request goes on elsewhere.
                self.handoffs.push(Handoff {
                    spec: r.spec,
                    measured: r.measured,
                    first_token: self.now,
                    first_scheduled: r.first_scheduled.unwrap_or(self.now),
                    cached_prompt: r.cached_prompt,
                    preemptions: r.preemptions,
                });
                self.last_completions -= 1;
            } else {
                if r.spec.session.is_some() {
                    self.session_turns.push(r.spec);
                }
                if r.measured {
                    let first_token = r
                        .first_token
                        .expect("a finished request has emitted tokens");
                    obs.completion(&Completion {
                        spec: r.spec,
                        first_scheduled: r.first_scheduled.unwrap_or(first_token),
                        first_token,
                        completion: self.now,
                        cached_prompt_tokens: r.cached_prompt,
                        preemptions: r.preemptions,
                    });
                }
            }
            self.free_slots.push(slot);
        }
        self.completed_all += u64::from(self.last_completions);
        if self.last_completions > 0 {
            self.last_completion = self.now;
        }
        let (requests, knobs) = (&self.requests, &self.knobs);
        self.running.retain(|&slot| !knobs.leaves(&requests[slot]));
        debug_assert!(self.finished.iter().all(|s| !self.running.contains(s)));
        self.finished.clear();
    }

    /// Simulated seconds at the end of this engine's last step.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// When the engine's last step began: while the driver's clock is before [`now`]
    /// (Self::now), that step is in flight.
    pub fn last_step_start(&self) -> f64 {
        self.last_step_start
    }

    /// What the last step did to this replica's load, as a router sees it.
    pub fn last_step_load(&self) -> (f64, u32, u32) {
        (self.last_step_start, self.last_kv_in_step, self.last_left)
    }

    /// The instant of the latest completion (0 before any).
    pub fn last_completion(&self) -> f64 {
        self.last_completion
    }

    /// Requests finished so far, warm-up ones included.
    pub fn completed(&self) -> u64 {
        self.completed_all
    }

    /// Running requests' (id, tokens computed, tokens generated), for tests and inspection.
    pub fn running(&self) -> impl Iterator<Item = (u64, u32, u32)> + '_ {
        self.running.iter().map(|&s| {
            let r = &self.requests[s];
            (r.spec.id, r.num_computed, r.num_output)
        })
    }

    /// The session turns completed since the last call, for the driver to send their next.
    pub fn take_session_turns(&mut self) -> std::vec::Drain<'_, RequestSpec> {
        self.session_turns.drain(..)
    }

    pub fn num_running(&self) -> usize {
        self.running.len()
    }

    /// Requests waiting for admission (held ones too, under async scheduling).
    pub fn num_waiting(&self) -> usize {
        self.waiting.len() + self.held.len()
    }

    /// Requests on this engine: running plus waiting.
    pub fn outstanding(&self) -> usize {
        self.running.len() + self.num_waiting()
    }

    pub fn kv_blocks_used(&self) -> u32 {
        self.kv.num_used()
    }

    pub fn kv_blocks(&self) -> u32 {
        self.kv.num_blocks()
    }

    /// Fraction of KV blocks in use.
    pub fn kv_cache_util(&self) -> f64 {
        f64::from(self.kv.num_used()) / f64::from(self.kv.num_blocks())
    }
}

/// Belt and braces behind config validation: a step must take a finite, positive time and
/// leave the clock finite, or the run is an error naming the cause (never a result built
/// from infinite or NaN times).
fn check_step(cost: &StepCost, clock_after: f64) -> Result<()> {
    if !(cost.time.is_finite() && cost.time > 0.0) {
        bail!(
            "a step of {:e} FLOPs and {:e} bytes was priced at {} s: the [hardware] and [model] \
             numbers are too extreme to simulate",
            cost.flops,
            cost.bytes,
            cost.time
        );
    }
    if !clock_after.is_finite() {
        bail!(
            "the simulated clock overflowed ({clock_after} s): the [hardware] and [model] \
             numbers are too extreme to simulate"
        );
    }
    Ok(())
}

/// The dataset block hashes of a request's prompt (empty for synthetic requests).
pub(super) fn prompt_hashes<'a>(
    dataset: &'a Option<Arc<Dataset>>,
    spec: &RequestSpec,
) -> &'a [u64] {
    match (dataset, spec.dataset_index) {
        (Some(d), Some(i)) => &d.prompts[i as usize].block_hashes,
        _ => &[],
    }
}

#[cfg(test)]
mod tests;
