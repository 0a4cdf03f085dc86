//! What a run records while it goes: per-request latencies, per-gap ITL, per-step integrals.

use super::classes::ClassTally;
use super::fleet::FleetMetrics;
use super::load::{LoadCheck, LoadTimeline};
use super::quantiles::Samples;
use super::slo::SloTally;
use super::summary::RunSummary;
use crate::observe::{Completion, Observer, StepEvent};

/// Accumulates a run's raw measurements; [`finish`](Collector::finish) turns them into a
/// [`RunSummary`]. Times are simulated seconds.
#[derive(Debug, Default, Clone)]
pub struct Collector {
    /// Latencies of completed requests. Each is exact up to a million samples, then a
    /// histogram (see [`Samples`]), so memory stays flat however many requests a run has.
    ttft: Samples,
    e2e: Samples,
    tpot: Samples,
    /// Open loop only: arrivals, first tokens and completions on a fixed-size timeline, for
    /// the load check (closed-loop and batched arrivals have no offered rate to check).
    timeline: Option<LoadTimeline>,
    /// Inter-token gaps as (gap, how many tokens had it). Every decode that follows its previous
    /// token by exactly one step shares the step's duration, so a step adds one entry for all of
    /// them instead of one per token: memory grows with steps, not with output tokens.
    itl: Samples,
    /// Prompt tokens of completed requests.
    input_tokens: u64,
    /// Steps, output tokens and the time integrals of utilisation.
    totals: StepTotals,
    completed: u64,
    preemptions: u64,
    prefix_hit_tokens: u64,
    prefix_miss_tokens: u64,
    /// Good requests under `[slo]` (see slo.rs).
    slo: SloTally,
    /// Where the throughputs' window starts: 0, or with a warm-up the first measured arrival.
    window_start: f64,
    /// Per-class latencies (workload.classes).
    classes: ClassTally,
}

/// What every step adds up: the count, output tokens (as they are emitted, not from the
/// requests' lengths), and the time integrals of busy time and utilisations. The run's
/// collector and each replica's tally add steps up through this one function.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepTotals {
    pub steps: u64,
    pub output_tokens: u64,
    pub busy_time: f64,
    pub kv_util_time: f64,
    pub flops_util_time: f64,
    pub bandwidth_util_time: f64,
}

impl StepTotals {
    pub fn add(&mut self, step: &StepEvent) {
        self.steps += 1;
        self.output_tokens += step.output_tokens;
        self.busy_time += step.duration;
        self.kv_util_time += step.kv_util * step.duration;
        self.flops_util_time += step.flops_util * step.duration;
        self.bandwidth_util_time += step.bandwidth_util * step.duration;
    }
}

impl Collector {
    /// A collector that also tallies requests meeting `[slo]`.
    pub fn with_slo(slo: SloTally) -> Collector {
        Collector {
            slo,
            ..Collector::default()
        }
    }

    /// The request classes tallied (empty without classes).
    pub fn class_names(&self) -> &[String] {
        self.classes.names()
    }

    /// Also tallies each of these request classes (workload.classes, in order), judging them
    /// by the SLO tally's objectives when it has any.
    pub fn with_classes(mut self, names: Vec<String>) -> Collector {
        let n = names.len() as u16;
        let mut classes = ClassTally::new(names);
        if self.slo.judges() {
            classes = classes.with_targets((0..n).map(|k| self.slo.class_target(k)).collect());
        }
        self.classes = classes;
        self
    }

    /// Also keeps the timeline of the load check (open-loop arrivals only).
    pub fn with_load_check(mut self) -> Collector {
        self.timeline = Some(LoadTimeline::default());
        self
    }

    /// With a warm-up, the throughputs are measured from the first measured arrival (`t`)
    /// to the last completion, not from t = 0.
    pub fn set_window_start(&mut self, t: f64) {
        self.window_start = t;
    }
}

/// The run's metrics watch the engines like any observer.
impl Observer for Collector {
    fn step(&mut self, step: &StepEvent) {
        self.totals.add(step);
        if step.same_step_gaps > 0 {
            self.itl.push_weighted(step.duration, step.same_step_gaps);
        }
    }

    /// A token emitted `gap` seconds after the request's previous one, when that is not one
    /// step (after a preemption, or a step in which the request was not scheduled).
    fn gap(&mut self, gap: f64) {
        self.itl.push(gap);
    }

    fn preemption(&mut self, _spec: &crate::workload::RequestSpec, _now: f64) {
        self.preemptions += 1;
    }

    /// An admission looked up `queried` tokens in the prefix cache and found `hit` of them.
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        self.prefix_hit_tokens += hit;
        self.prefix_miss_tokens += queried - hit;
    }

    fn completion(&mut self, done: &Completion) {
        let (arrival, first_token, completion) =
            (done.spec.arrival, done.first_token, done.completion);
        let (prompt_len, output_len, class) =
            (done.spec.prompt_len, done.spec.output_len, done.spec.class);
        self.completed += 1;
        self.input_tokens += u64::from(prompt_len);
        let (ttft, e2e, tpot) = (done.ttft(), done.e2e(), done.tpot());
        self.ttft.push(ttft);
        if let Some(timeline) = &mut self.timeline {
            timeline.record(arrival, first_token, completion);
        }
        self.e2e.push(e2e);
        if let Some(tpot) = tpot {
            self.tpot.push(tpot);
        }
        let good = self.slo.record(class, ttft, tpot, e2e, output_len);
        self.classes
            .record(class, ttft, e2e, tpot, output_len, good);
    }
}

impl Collector {
    pub fn completed(&self) -> u64 {
        self.completed
    }

    pub fn steps(&self) -> u64 {
        self.totals.steps
    }

    /// The run's metrics. `makespan` is the simulated time from t = 0 to the last completion;
    /// rates and time-weighted means are over it (idle time counts as zero use). The load check
    /// ([`LoadCheck`]) is made only with [`with_load_check`](Collector::with_load_check).
    ///
    /// A fleet's collector sees every replica's steps: its time-weighted means are divided by
    /// `replicas` (the fleet's mean replica), and `kv_cache_blocks` is the fleet's total.
    pub fn finish(
        mut self,
        makespan: f64,
        requests_total: u64,
        kv_cache_blocks: u64,
        replicas: u64,
    ) -> RunSummary {
        let load = self.timeline.as_ref().and_then(LoadCheck::of);
        let per_s = |x: f64| if makespan > 0.0 { x / makespan } else { 0.0 };
        let replicas = replicas as f64;
        // x / 1.0 is x exactly: a single engine's numbers are unchanged.
        let per_replica_s = |x: f64| per_s(x) / replicas;
        // Without a warm-up, window_start = 0 and this is `makespan` exactly.
        let window = makespan - self.window_start;
        let per_window_s = |x: f64| if window > 0.0 { x / window } else { 0.0 };
        let lookups = self.prefix_hit_tokens + self.prefix_miss_tokens;
        RunSummary {
            ttft_ms: self.ttft.stats().scaled(1e3),
            e2e_ms: self.e2e.stats().scaled(1e3),
            tpot_ms: self.tpot.stats().scaled(1e3),
            itl_ms: self.itl.stats().scaled(1e3),
            input_tokens_per_s: per_window_s(self.input_tokens as f64),
            output_tokens_per_s: per_window_s(self.totals.output_tokens as f64),
            requests_per_s: per_window_s(self.completed as f64),
            kv_cache_util_mean: per_replica_s(self.totals.kv_util_time),
            flops_util_mean: per_replica_s(self.totals.flops_util_time),
            bandwidth_util_mean: per_replica_s(self.totals.bandwidth_util_time),
            busy_fraction: per_replica_s(self.totals.busy_time),
            preemptions_total: self.preemptions,
            preemptions_per_request: if requests_total > 0 {
                self.preemptions as f64 / requests_total as f64
            } else {
                0.0
            },
            prefix_cache_hits: self.prefix_hit_tokens,
            prefix_cache_misses: self.prefix_miss_tokens,
            prefix_cache_hit_rate: if lookups > 0 {
                self.prefix_hit_tokens as f64 / lookups as f64
            } else {
                0.0
            },
            requests_completed: self.completed,
            requests_total,
            requests_clipped: 0, // the workload's count, filled in by the simulator
            input_tokens: self.input_tokens,
            output_tokens: self.totals.output_tokens,
            simulated_seconds: makespan,
            steps: self.totals.steps,
            kv_cache_blocks,
            offered_requests_per_s: load.map(|l| l.offered_per_s),
            served_requests_per_s: load.map(|l| l.served_per_s),
            overloaded: load.is_some_and(|l| l.overloaded()),
            load_verdict: load.and_then(|l| l.verdict()),
            slo: self.slo.finish(self.completed, window),
            classes: self.classes.finish(window),
            sessions: None, // the workload's, filled in by the simulator
            fleet: FleetMetrics {
                replicas: replicas as u64,
                ..FleetMetrics::default()
            },
            replicas: Vec::new(),
        }
    }
}
