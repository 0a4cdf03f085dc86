//! The event vocabulary between the engines and whoever watches them. An engine (and the fleet
//! driving it) reports what happens as it happens: a request arrives, is first scheduled,
//! emits its first token, is preempted, completes; a step runs. It keeps no statistics itself.
//! The run's metrics ([`Collector`](crate::metrics::Collector)) are one observer, each
//! replica's tallies another, per-request records and time series ([`crate::records`]) more.
//!
//! Observers are static (generic) parameters and every event has a default that does nothing, so an observer that is not asked for costs nothing. Warm-up
//! requests (see `[metrics]`) are never reported, except as part of a step.

use crate::workload::RequestSpec;

/// What one forward pass did, as observers see it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepEvent {
    /// When the step started and how long it took (simulated seconds).
    pub start: f64,
    pub duration: f64,
    /// Shares of the engine's peak FLOPS and memory bandwidth the step used.
    pub flops_util: f64,
    pub bandwidth_util: f64,
    /// Share of the KV cache in use as the step ran.
    pub kv_util: f64,
    /// Output tokens of measured requests the step emitted.
    pub output_tokens: u64,
    /// Of those, tokens that came exactly one step after their request's previous token.
    pub same_step_gaps: u64,
    /// Tokens the step computed for requests still in (or back in) prefill, and for decoding
    /// requests (one each).
    pub prefill_tokens: u32,
    pub decode_tokens: u32,
    /// Requests running (in the batch or holding KV) and waiting, as the step ran.
    pub running: u32,
    pub waiting: u32,
}

/// A request that completed: everything a per-request record holds. Times in simulated
/// seconds; `arrival` is when the client sent it, what latencies count from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Completion {
    pub spec: RequestSpec,
    /// When a scheduler first gave it a place in a batch.
    pub first_scheduled: f64,
    pub first_token: f64,
    pub completion: f64,
    /// Prompt tokens found in the prefix cache when it was first scheduled.
    pub cached_prompt_tokens: u32,
    pub preemptions: u32,
}

impl Completion {
    /// Seconds from arrival to the first output token.
    pub fn ttft(&self) -> f64 {
        self.first_token - self.spec.arrival
    }

    /// Seconds from arrival to the last output token.
    pub fn e2e(&self) -> f64 {
        self.completion - self.spec.arrival
    }

    /// Seconds per output token after the first; None with one output token.
    pub fn tpot(&self) -> Option<f64> {
        let output = self.spec.output_len;
        (output >= 2).then(|| (self.completion - self.first_token) / f64::from(output - 1))
    }
}

/// What an engine reports as it runs. Times are simulated seconds.
pub trait Observer {
    /// A request reached an engine at `now` (its arrival plus the API server's overhead).
    fn arrival(&mut self, _spec: &RequestSpec, _now: f64) {}
    /// A request was scheduled for the first time at `now`, with `cached` prompt tokens found
    /// in the prefix cache.
    fn first_scheduled(&mut self, _spec: &RequestSpec, _now: f64, _cached: u32) {}
    /// A request emitted its first output token at `now`.
    fn first_token(&mut self, _spec: &RequestSpec, _now: f64) {}
    /// A step ran.
    fn step(&mut self, _step: &StepEvent) {}
    /// A token came `gap` seconds after its request's previous one, which was not one step.
    fn gap(&mut self, _gap: f64) {}
    /// A running request was preempted (recompute) at `now`.
    fn preemption(&mut self, _spec: &RequestSpec, _now: f64) {}
    /// An admission looked up `queried` prompt tokens in the prefix cache and found `hit`.
    fn prefix_lookup(&mut self, _queried: u64, _hit: u64) {}
    /// A request finished.
    fn completion(&mut self, _done: &Completion) {}
}

/// Two observers watching the same engine, in order.
impl<A: Observer, B: Observer> Observer for (&mut A, &mut B) {
    fn arrival(&mut self, spec: &RequestSpec, now: f64) {
        self.0.arrival(spec, now);
        self.1.arrival(spec, now);
    }
    fn first_scheduled(&mut self, spec: &RequestSpec, now: f64, cached: u32) {
        self.0.first_scheduled(spec, now, cached);
        self.1.first_scheduled(spec, now, cached);
    }
    fn first_token(&mut self, spec: &RequestSpec, now: f64) {
        self.0.first_token(spec, now);
        self.1.first_token(spec, now);
    }
    fn step(&mut self, step: &StepEvent) {
        self.0.step(step);
        self.1.step(step);
    }
    fn gap(&mut self, gap: f64) {
        self.0.gap(gap);
        self.1.gap(gap);
    }
    fn preemption(&mut self, spec: &RequestSpec, now: f64) {
        self.0.preemption(spec, now);
        self.1.preemption(spec, now);
    }
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        self.0.prefix_lookup(queried, hit);
        self.1.prefix_lookup(queried, hit);
    }
    fn completion(&mut self, done: &Completion) {
        self.0.completion(done);
        self.1.completion(done);
    }
}

/// An observer chosen at run time (one a driver attaches).
impl<A: Observer + ?Sized> Observer for Box<A> {
    fn arrival(&mut self, spec: &RequestSpec, now: f64) {
        (**self).arrival(spec, now);
    }
    fn first_scheduled(&mut self, spec: &RequestSpec, now: f64, cached: u32) {
        (**self).first_scheduled(spec, now, cached);
    }
    fn first_token(&mut self, spec: &RequestSpec, now: f64) {
        (**self).first_token(spec, now);
    }
    fn step(&mut self, step: &StepEvent) {
        (**self).step(step);
    }
    fn gap(&mut self, gap: f64) {
        (**self).gap(gap);
    }
    fn preemption(&mut self, spec: &RequestSpec, now: f64) {
        (**self).preemption(spec, now);
    }
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        (**self).prefix_lookup(queried, hit);
    }
    fn completion(&mut self, done: &Completion) {
        (**self).completion(done);
    }
}

/// An observer that may not be there: events go to it when it is.
impl<A: Observer> Observer for Option<A> {
    fn arrival(&mut self, spec: &RequestSpec, now: f64) {
        if let Some(a) = self {
            a.arrival(spec, now);
        }
    }
    fn first_scheduled(&mut self, spec: &RequestSpec, now: f64, cached: u32) {
        if let Some(a) = self {
            a.first_scheduled(spec, now, cached);
        }
    }
    fn first_token(&mut self, spec: &RequestSpec, now: f64) {
        if let Some(a) = self {
            a.first_token(spec, now);
        }
    }
    fn step(&mut self, step: &StepEvent) {
        if let Some(a) = self {
            a.step(step);
        }
    }
    fn gap(&mut self, gap: f64) {
        if let Some(a) = self {
            a.gap(gap);
        }
    }
    fn preemption(&mut self, spec: &RequestSpec, now: f64) {
        if let Some(a) = self {
            a.preemption(spec, now);
        }
    }
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        if let Some(a) = self {
            a.prefix_lookup(queried, hit);
        }
    }
    fn completion(&mut self, done: &Completion) {
        if let Some(a) = self {
            a.completion(done);
        }
    }
}
