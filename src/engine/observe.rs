//! The seam between the engine and whoever watches it: an engine reports what each step did
//! to an [`Observer`], and keeps no statistics itself. The run's metrics ([`Collector`]) are
//! one observer; a fleet adds per-replica tallies beside them.
//!
//! Observers are static (generic) parameters, so one that is not asked for costs nothing.

use super::compute::StepCost;
use crate::metrics::Collector;

/// What an engine reports as it runs. Times are simulated seconds. Warm-up requests (see
/// `[metrics]`) are never reported, except as part of a step's cost.
pub trait Observer {
    /// A step of `cost.time` seconds ran with `kv_util` of the cache in use, emitting
    /// `tokens` output tokens, `same_step_gaps` of them exactly one step after the previous.
    fn step(&mut self, cost: &StepCost, kv_util: f64, tokens: u64, same_step_gaps: u64);
    /// A token came `gap` seconds after its request's previous one, which was not one step.
    fn gap(&mut self, gap: f64);
    /// A running request was preempted (recompute).
    fn preemption(&mut self);
    /// An admission looked up `queried` prompt tokens in the prefix cache and found `hit`.
    fn prefix_lookup(&mut self, queried: u64, hit: u64);
    /// A request (of workload class `class`) finished.
    fn completion(
        &mut self,
        arrival: f64,
        first_token: f64,
        now: f64,
        prompt: u32,
        output: u32,
        class: u16,
    );
}

impl Observer for Collector {
    fn step(&mut self, cost: &StepCost, kv_util: f64, tokens: u64, same_step_gaps: u64) {
        self.record_step(cost, kv_util, tokens, same_step_gaps);
    }
    fn gap(&mut self, gap: f64) {
        self.record_gap(gap);
    }
    fn preemption(&mut self) {
        self.record_preemption();
    }
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        self.record_prefix_lookup(queried, hit);
    }
    fn completion(
        &mut self,
        arrival: f64,
        first_token: f64,
        now: f64,
        prompt: u32,
        output: u32,
        class: u16,
    ) {
        self.record_completion(arrival, first_token, now, prompt, output, class);
    }
}

/// Two observers watching the same engine, in order.
impl<A: Observer, B: Observer> Observer for (&mut A, &mut B) {
    fn step(&mut self, cost: &StepCost, kv_util: f64, tokens: u64, same_step_gaps: u64) {
        self.0.step(cost, kv_util, tokens, same_step_gaps);
        self.1.step(cost, kv_util, tokens, same_step_gaps);
    }
    fn gap(&mut self, gap: f64) {
        self.0.gap(gap);
        self.1.gap(gap);
    }
    fn preemption(&mut self) {
        self.0.preemption();
        self.1.preemption();
    }
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        self.0.prefix_lookup(queried, hit);
        self.1.prefix_lookup(queried, hit);
    }
    fn completion(
        &mut self,
        arrival: f64,
        first_token: f64,
        now: f64,
        prompt: u32,
        output: u32,
        class: u16,
    ) {
        self.0
            .completion(arrival, first_token, now, prompt, output, class);
        self.1
            .completion(arrival, first_token, now, prompt, output, class);
    }
}
