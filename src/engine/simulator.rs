//! The event loop: admit arrivals, schedule a step, price it, apply it, repeat.
//!
//! The simulator owns no terminal, file or thread: it takes a [`Config`] and returns a
//! [`RunSummary`], optionally calling a progress callback every `simulation.log_interval` steps.

use super::compute::{Roofline, StepCost, Work};
use super::kv_cache::KvCache;
use super::queue::{QueueKey, WaitingQueue};
use super::request::Request;
use crate::config::{Config, Policy};
use crate::metrics::{Collector, RunSummary, SloTally, Warmup};
use crate::workload::dataset::Dataset;
use crate::workload::Workload;
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
}

/// A snapshot for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Simulated seconds.
    pub now: f64,
    pub completed: u64,
    /// Requests the run will see, when known up front.
    pub total: Option<u64>,
    pub running: usize,
    pub waiting: usize,
    /// Fraction of KV blocks in use.
    pub kv_cache_util: f64,
    pub steps: u64,
}

/// What one call to [`Simulator::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepOutcome {
    /// A forward pass ran.
    Ran(StepCost),
    /// Nothing could run: the clock moved to the next arrival, or a preemption emptied the
    /// batch and the next call will readmit.
    Idle,
    /// Every request has completed and none will arrive.
    Done,
}

pub struct Simulator {
    pub(super) knobs: Knobs,
    pub(super) roofline: Roofline,
    pub(super) kv: KvCache,
    pub(super) workload: Workload,
    /// Request slots; a finished request's slot is reused.
    pub(super) requests: Vec<Request>,
    free_slots: Vec<usize>,
    /// Slots of running requests, in admission order.
    pub(super) running: Vec<usize>,
    pub(super) waiting: WaitingQueue,
    /// This step's (slot, new tokens).
    pub(super) batch: Vec<(usize, u32)>,
    pub(super) scratch_hits: Vec<(u32, bool)>,
    pub(super) reserved_blocks: u64,
    pub(super) finished: Vec<usize>,
    /// Dataset mode: the prompts whose block hashes requests share.
    pub(super) dataset: Option<Arc<Dataset>>,
    pub(super) metrics: Collector,
    pub(super) now: f64,
    last_completion: f64,
    log_interval: u64,
    /// Never take the decode fast path (see decode_span.rs).
    pub(super) step_by_step: bool,
    pub(super) span_scratch: super::decode_span::SpanScratch,
    /// Which requests the statistics measure (`[metrics]` warm-up).
    pub(super) warmup: Warmup,
    /// Warm-up requests that have arrived (left out of requests_total) and completed (still
    /// shown by the progress display).
    warmup_arrived: u64,
    warmup_completed: u64,
    /// Whether a measured request has arrived yet (the first one starts the window).
    measuring: bool,
}

impl Simulator {
    /// A simulator for a synthetic workload (a config without workload.dataset_path).
    pub fn new(config: &Config) -> Result<Simulator> {
        Simulator::with_dataset(config, None)
    }

    /// A simulator that replays a loaded dataset (required when workload.dataset_path is set).
    pub fn with_dataset(config: &Config, dataset: Option<Arc<Dataset>>) -> Result<Simulator> {
        config.validate()?;
        let blocks = config.kv_cache_blocks()?;
        let Ok(blocks) = u32::try_from(blocks) else {
            bail!(
                "the KV cache would have {blocks} blocks, more than this simulator supports \
                 (2^32 - 1): raise scheduler.block_size"
            );
        };
        let s = &config.scheduler;
        Ok(Simulator {
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
            },
            roofline: Roofline::new(config),
            kv: KvCache::new(blocks, s.enable_prefix_caching),
            workload: Workload::new(config, dataset.clone())?,
            requests: Vec::new(),
            free_slots: Vec::new(),
            running: Vec::new(),
            waiting: WaitingQueue::default(),
            batch: Vec::new(),
            scratch_hits: Vec::new(),
            reserved_blocks: 0,
            finished: Vec::new(),
            dataset,
            metrics: {
                let metrics = Collector::with_slo(SloTally::new(config.slo));
                // Only open-loop arrivals have an offered rate to check the served rate against.
                if config.workload.arrival_pattern.uses_rate() {
                    metrics.with_load_check()
                } else {
                    metrics
                }
            },
            now: 0.0,
            last_completion: 0.0,
            log_interval: config.simulation.log_interval,
            step_by_step: config.simulation.step_by_step,
            span_scratch: Default::default(),
            warmup: Warmup::new(config.metrics.as_ref()),
            warmup_arrived: 0,
            warmup_completed: 0,
            measuring: false,
        })
    }

    /// Runs to completion.
    pub fn run(self) -> Result<RunSummary> {
        self.run_with_progress(|_| {})
    }

    /// Runs to completion, calling `progress` every `simulation.log_interval` steps and once at
    /// the end.
    pub fn run_with_progress(mut self, mut progress: impl FnMut(&Progress)) -> Result<RunSummary> {
        let mut reported = 0;
        loop {
            match self.step()? {
                StepOutcome::Done => break,
                StepOutcome::Ran(_) if self.metrics.steps() / self.log_interval > reported => {
                    reported = self.metrics.steps() / self.log_interval;
                    progress(&self.progress());
                }
                _ => {}
            }
        }
        progress(&self.progress());
        let summary = self.finish();
        summary.check_finite()?;
        Ok(summary)
    }

    /// Advances the simulation by one engine iteration.
    pub fn step(&mut self) -> Result<StepOutcome> {
        self.admit_arrivals();
        if self.workload.over_limit() {
            bail!(
                "workload: the run reached the limit of {} requests per run at t = {:.3} s of \
                 simulated time and would go on (duration_secs alone does not bound it): set \
                 num_requests <= {0}, or shorten duration_secs",
                self.workload.max_requests(),
                self.now
            );
        }
        if self.running.is_empty() && self.waiting.is_empty() {
            return Ok(match self.workload.next_arrival() {
                Some(t) => {
                    self.now = self.now.max(t);
                    StepOutcome::Idle
                }
                None => StepOutcome::Done,
            });
        }
        if let Some(cost) = self.try_decode_span() {
            check_step(&cost, self.now)?;
            return Ok(StepOutcome::Ran(cost));
        }
        let preempted = self.schedule();
        if self.batch.is_empty() {
            if preempted {
                return Ok(StepOutcome::Idle);
            }
            if let Some(t) = self.workload.next_arrival().filter(|&t| t > self.now) {
                self.now = t;
                return Ok(StepOutcome::Idle);
            }
            bail!(
                "the engine stalled at t = {:.6} s with {} running and {} waiting requests and \
                 nothing schedulable (this is a bug: please report it with the config)",
                self.now,
                self.running.len(),
                self.waiting.len()
            );
        }
        let cost = self.roofline.step(self.batch.iter().map(|&(slot, n)| Work {
            cached: self.requests[slot].num_computed,
            new: n,
        }));
        check_step(&cost, self.now + cost.time)?;
        let kv_util = f64::from(self.kv.num_used()) / f64::from(self.kv.num_blocks());
        let step_start = self.now;
        self.now += cost.time;
        let (tokens, same_step_gaps) = self.apply_step(step_start);
        self.metrics
            .record_step(&cost, kv_util, tokens, same_step_gaps);
        self.retire_finished();
        Ok(StepOutcome::Ran(cost))
    }

    /// Moves every request that has arrived by now into the waiting queue.
    fn admit_arrivals(&mut self) {
        while let Some(spec) = self.workload.pop_arrived(self.now) {
            let measured = self.warmup.measures(&spec);
            if !measured {
                self.warmup_arrived += 1;
            } else if self.warmup.active() && !self.measuring {
                // Arrivals come in time order: this is the first measured one.
                self.measuring = true;
                self.metrics.set_window_start(spec.arrival);
            }
            let request = Request::new(spec, measured);
            let slot = match self.free_slots.pop() {
                Some(slot) => {
                    self.requests[slot] = request;
                    slot
                }
                None => {
                    self.requests.push(request);
                    self.requests.len() - 1
                }
            };
            self.waiting
                .push(QueueKey::new(self.knobs.policy, &spec), slot);
        }
    }

    /// Applies the scheduled tokens at the end of a step that began at `step_start`: KV grows,
    /// full blocks enter the prefix cache, and requests that computed their whole sequence emit
    /// a token. Returns the tokens emitted, and how many of them came exactly one step after
    /// their previous token.
    fn apply_step(&mut self, step_start: f64) -> (u64, u64) {
        let now = self.now;
        let mut same_step_gaps = 0;
        let mut tokens = 0;
        for i in 0..self.batch.len() {
            let (slot, n) = self.batch[i];
            self.requests[slot].num_computed += n;
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
            } else if measured {
                if r.last_token == step_start {
                    same_step_gaps += 1;
                } else {
                    self.metrics.record_gap(now - r.last_token);
                }
            }
            r.last_token = now;
            if r.num_output == r.spec.output_len {
                self.finished.push(slot);
            }
        }
        (tokens, same_step_gaps)
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
        if r.spec.dataset_index.is_none() {
            return;
        }
        let prompt_hashes = prompt_hashes(&self.dataset, r);
        let full = (r.num_computed / self.knobs.block_size).min(prompt_hashes.len() as u32);
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
        let prompt_hashes = prompt_hashes(&self.dataset, r);
        for index in 0..r.num_computed / self.knobs.block_size {
            self.kv
                .register(r.blocks[index as usize], r.block_hash(index, prompt_hashes));
        }
    }

    /// Frees finished requests' blocks and slots, and lets closed-loop users send again.
    pub(super) fn retire_finished(&mut self) {
        if self.finished.is_empty() {
            return;
        }
        for &slot in &self.finished {
            self.reserved_blocks -= self.reservation(slot);
            let r = &mut self.requests[slot];
            self.kv.release_all(&mut r.blocks);
            if r.measured {
                self.metrics.record_completion(
                    r.spec.arrival,
                    r.first_token
                        .expect("a finished request has emitted tokens"),
                    self.now,
                    r.spec.prompt_len,
                    r.spec.output_len,
                );
            } else {
                self.warmup_completed += 1;
            }
            self.free_slots.push(slot);
            self.workload.on_completion(self.now);
        }
        self.last_completion = self.now;
        let requests = &self.requests;
        let finished = &self.finished;
        self.running
            .retain(|&slot| requests[slot].num_output < requests[slot].spec.output_len);
        debug_assert!(finished.iter().all(|s| !self.running.contains(s)));
        self.finished.clear();
    }

    pub fn progress(&self) -> Progress {
        Progress {
            now: self.now,
            completed: self.metrics.completed() + self.warmup_completed,
            total: self.workload.expected_total(),
            running: self.running.len(),
            waiting: self.waiting.len(),
            kv_cache_util: f64::from(self.kv.num_used()) / f64::from(self.kv.num_blocks()),
            steps: self.metrics.steps(),
        }
    }

    /// Simulated seconds so far.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Running requests' (id, tokens computed, tokens generated), for tests and inspection.
    pub fn running(&self) -> impl Iterator<Item = (u64, u32, u32)> + '_ {
        self.running.iter().map(|&s| {
            let r = &self.requests[s];
            (r.spec.id, r.num_computed, r.num_output)
        })
    }

    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Requests generated by the workload so far (arrived or pending).
    pub fn num_generated(&self) -> u64 {
        self.workload.generated()
    }

    pub fn kv_blocks_used(&self) -> u32 {
        self.kv.num_used()
    }

    /// Checks the engine's invariants: each running request holds exactly the blocks its
    /// computed tokens need, waiting requests hold none, and the block count adds up.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        self.kv.check_invariants()?;
        let mut referenced = 0u64;
        for &slot in &self.running {
            let r = &self.requests[slot];
            let want = self.blocks_for(r.num_computed) as usize;
            if r.blocks.len() != want {
                return Err(format!(
                    "request {} holds {} blocks for {} computed tokens (needs {want})",
                    r.spec.id,
                    r.blocks.len(),
                    r.num_computed
                ));
            }
            if r.num_output >= r.spec.output_len {
                return Err(format!("request {} is running but finished", r.spec.id));
            }
            referenced += r.blocks.len() as u64;
        }
        for slot in self.waiting.slots() {
            let r = &self.requests[slot];
            if !r.blocks.is_empty() || r.num_computed != 0 {
                return Err(format!("waiting request {} holds KV", r.spec.id));
            }
        }
        if self.running.len() > self.knobs.max_seqs as usize {
            return Err(format!("{} running > max_num_seqs", self.running.len()));
        }
        // Shared prefix blocks are counted once per holder, so this is an upper bound.
        if referenced < u64::from(self.kv.num_used()) {
            return Err(format!(
                "{} blocks in use but running requests hold only {referenced}",
                self.kv.num_used()
            ));
        }
        Ok(())
    }

    fn finish(self) -> RunSummary {
        let total = self.workload.generated() - self.warmup_arrived;
        let blocks = u64::from(self.kv.num_blocks());
        self.metrics.finish(self.last_completion, total, blocks)
    }

    /// Ends the run now and summarises it (for callers driving [`step`](Self::step) themselves).
    pub fn into_summary(self) -> RunSummary {
        self.finish()
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
pub(super) fn prompt_hashes<'a>(dataset: &'a Option<Arc<Dataset>>, r: &Request) -> &'a [u64] {
    match (dataset, r.spec.dataset_index) {
        (Some(d), Some(i)) => &d.prompts[i as usize].block_hashes,
        _ => &[],
    }
}

#[cfg(test)]
mod tests;
