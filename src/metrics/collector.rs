//! What a run records while it goes: per-request latencies, per-gap ITL, per-step integrals.

use super::quantiles::DistStats;
use super::slo::SloTally;
use super::summary::RunSummary;
use super::verdict::LoadVerdict;
use crate::engine::StepCost;

/// Accumulates a run's raw measurements; [`finish`](Collector::finish) turns them into a
/// [`RunSummary`]. Times are simulated seconds.
#[derive(Debug, Default, Clone)]
pub struct Collector {
    ttft: Vec<f64>,
    e2e: Vec<f64>,
    tpot: Vec<f64>,
    /// (arrival, first token, completion) of each completed request, for the load check.
    timeline: Vec<(f64, f64, f64)>,
    /// Inter-token gaps as (gap, how many tokens had it). Every decode that follows its previous
    /// token by exactly one step shares the step's duration, so a step adds one entry for all of
    /// them instead of one per token: memory grows with steps, not with output tokens.
    itl: Vec<(f64, u64)>,
    /// Prompt tokens of completed requests.
    input_tokens: u64,
    /// Output tokens emitted (counted as they are emitted, not from the requests' lengths).
    output_tokens: u64,
    completed: u64,
    preemptions: u64,
    prefix_hit_tokens: u64,
    prefix_miss_tokens: u64,
    kv_util_time: f64,
    flops_util_time: f64,
    bandwidth_util_time: f64,
    busy_time: f64,
    steps: u64,
    /// Good requests under `[slo]` (see slo.rs).
    slo: SloTally,
    /// Where the throughputs' window starts: 0, or with a warm-up the first measured arrival.
    window_start: f64,
}

impl Collector {
    /// A collector that also tallies requests meeting `[slo]`.
    pub fn with_slo(slo: SloTally) -> Collector {
        Collector {
            slo,
            ..Collector::default()
        }
    }

    /// With a warm-up, the throughputs are measured from the first measured arrival (`t`)
    /// to the last completion, not from t = 0.
    pub fn set_window_start(&mut self, t: f64) {
        self.window_start = t;
    }

    /// A step of `cost.time` seconds ran with `kv_util` of the cache in use and emitted
    /// `tokens` output tokens, `same_step_gaps` of them exactly one step after their previous
    /// token.
    pub fn record_step(&mut self, cost: &StepCost, kv_util: f64, tokens: u64, same_step_gaps: u64) {
        self.steps += 1;
        self.output_tokens += tokens;
        self.busy_time += cost.time;
        self.kv_util_time += kv_util * cost.time;
        self.flops_util_time += cost.flops_util * cost.time;
        self.bandwidth_util_time += cost.bandwidth_util * cost.time;
        if same_step_gaps > 0 {
            self.itl.push((cost.time, same_step_gaps));
        }
    }

    /// A token emitted `gap` seconds after the request's previous one, when that is not one
    /// step (after a preemption, or a step in which the request was not scheduled).
    pub fn record_gap(&mut self, gap: f64) {
        self.itl.push((gap, 1));
    }

    pub fn record_preemption(&mut self) {
        self.preemptions += 1;
    }

    /// An admission looked up `queried` tokens in the prefix cache and found `hit` of them.
    pub fn record_prefix_lookup(&mut self, queried: u64, hit: u64) {
        self.prefix_hit_tokens += hit;
        self.prefix_miss_tokens += queried - hit;
    }

    pub fn record_completion(
        &mut self,
        arrival: f64,
        first_token: f64,
        completion: f64,
        prompt_len: u32,
        output_len: u32,
    ) {
        self.completed += 1;
        self.input_tokens += u64::from(prompt_len);
        self.ttft.push(first_token - arrival);
        self.timeline.push((arrival, first_token, completion));
        self.e2e.push(completion - arrival);
        let tpot =
            (output_len >= 2).then(|| (completion - first_token) / f64::from(output_len - 1));
        if let Some(tpot) = tpot {
            self.tpot.push(tpot);
        }
        self.slo.record(
            first_token - arrival,
            tpot,
            completion - arrival,
            output_len,
        );
    }

    pub fn completed(&self) -> u64 {
        self.completed
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The run's metrics. `makespan` is the simulated time from t = 0 to the last completion;
    /// rates and time-weighted means are over it (idle time counts as zero use). `open_loop`
    /// says whether arrivals are independent of completions, the only case where an offered
    /// rate exists to compare the served rate with (see [`LoadCheck`]).
    pub fn finish(
        mut self,
        makespan: f64,
        requests_total: u64,
        kv_cache_blocks: u64,
        open_loop: bool,
    ) -> RunSummary {
        let load = open_loop.then(|| LoadCheck::of(&self.timeline)).flatten();
        let per_s = |x: f64| if makespan > 0.0 { x / makespan } else { 0.0 };
        // Without a warm-up, window_start = 0 and this is `makespan` exactly.
        let window = makespan - self.window_start;
        let per_window_s = |x: f64| if window > 0.0 { x / window } else { 0.0 };
        let lookups = self.prefix_hit_tokens + self.prefix_miss_tokens;
        RunSummary {
            ttft_ms: DistStats::of(&self.ttft).scaled(1e3),
            e2e_ms: DistStats::of(&self.e2e).scaled(1e3),
            tpot_ms: DistStats::of(&self.tpot).scaled(1e3),
            itl_ms: DistStats::of_weighted(&mut self.itl).scaled(1e3),
            input_tokens_per_s: per_window_s(self.input_tokens as f64),
            output_tokens_per_s: per_window_s(self.output_tokens as f64),
            requests_per_s: per_window_s(self.completed as f64),
            kv_cache_util_mean: per_s(self.kv_util_time),
            flops_util_mean: per_s(self.flops_util_time),
            bandwidth_util_mean: per_s(self.bandwidth_util_time),
            busy_fraction: per_s(self.busy_time),
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
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            simulated_seconds: makespan,
            steps: self.steps,
            kv_cache_blocks,
            offered_requests_per_s: load.map(|l| l.offered_per_s),
            served_requests_per_s: load.map(|l| l.served_per_s),
            overloaded: load.is_some_and(|l| l.overloaded()),
            load_verdict: load.and_then(|l| l.verdict()),
            slo: self.slo.finish(self.completed, window),
        }
    }
}

/// Whether an open-loop run kept up with its arrivals.
///
/// A finite run always ends with a drain tail (the last arrivals complete after the last
/// arrival), so comparing all requests with the makespan would blame every short run. Instead
/// both rates are measured over the second half of the arrival span, (first + last) / 2 to the
/// last arrival: by then an engine that keeps up completes requests as fast as they arrive,
/// whatever their latency, while an overloaded one completes them at its capacity and the
/// rest queue. A run counts as overloaded when both symptoms of a growing queue show:
/// - the served rate is below 90% of the offered rate, and
/// - requests arriving in that half waited on average more than twice as long for their first
///   token as those of the first quarter of the span (a queue that grows; a run whose long
///   requests merely had no time to finish keeps a flat TTFT),
///
/// with at least 20 arrivals in the window, fewer being too few to tell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadCheck {
    /// Arrivals per second in the window.
    pub offered_per_s: f64,
    /// Completions per second in the window.
    pub served_per_s: f64,
    /// Mean TTFT of the window's arrivals over that of the first quarter's.
    pub ttft_growth: f64,
    /// Arrivals in the window.
    pub arrivals: usize,
}

impl LoadCheck {
    pub const SERVED_FRACTION: f64 = 0.9;
    pub const TTFT_GROWTH: f64 = 2.0;
    pub const MIN_ARRIVALS: usize = 20;

    /// The check over (arrival, first token, completion) triples; None when the arrivals span
    /// no time (all at once) or there are none.
    pub fn of(timeline: &[(f64, f64, f64)]) -> Option<LoadCheck> {
        let first = timeline.iter().map(|t| t.0).min_by(f64::total_cmp)?;
        let last = timeline.iter().map(|t| t.0).max_by(f64::total_cmp)?;
        let half = (last - first) / 2.0;
        if half <= 0.0 || !half.is_finite() {
            return None;
        }
        let window = |t: f64| t > last - half && t <= last;
        let arrivals = timeline.iter().filter(|t| window(t.0)).count();
        let served = timeline.iter().filter(|t| window(t.2)).count();
        let mean_ttft = |keep: &dyn Fn(f64) -> bool| {
            let (sum, n) = timeline
                .iter()
                .filter(|t| keep(t.0))
                .fold((0.0, 0usize), |(s, n), t| (s + (t.1 - t.0), n + 1));
            (n > 0).then(|| sum / n as f64)
        };
        let early = mean_ttft(&|a| a <= first + half / 2.0);
        let late = mean_ttft(&|a| window(a));
        let ttft_growth = match (early, late) {
            (Some(e), Some(l)) if e > 0.0 => l / e,
            _ => 1.0,
        };
        Some(LoadCheck {
            offered_per_s: arrivals as f64 / half,
            served_per_s: served as f64 / half,
            ttft_growth,
            arrivals,
        })
    }

    /// The verdict is overloaded (see [`LoadCheck::verdict`]).
    pub fn overloaded(&self) -> bool {
        self.verdict() == Some(LoadVerdict::Overloaded)
    }
}

#[cfg(test)]
mod tests {
    use super::LoadCheck;

    /// Requests arriving every `gap` s, each served `service` s after its arrival plus the
    /// queue ahead of it when the engine finishes one request every `capacity_gap` s.
    fn timeline(n: usize, gap: f64, service: f64, capacity_gap: f64) -> Vec<(f64, f64, f64)> {
        let mut free_at: f64 = 0.0;
        (0..n)
            .map(|i| {
                let arrival = i as f64 * gap;
                let start = free_at.max(arrival);
                free_at = start + capacity_gap;
                (arrival, start + service / 10.0, start + service)
            })
            .collect()
    }

    #[test]
    fn a_queue_that_grows_is_overloaded() {
        // 10 arrivals/s, capacity 5/s.
        let check = LoadCheck::of(&timeline(200, 0.1, 0.05, 0.2)).expect("a span");
        assert!(check.overloaded(), "{check:?}");
        assert!((check.offered_per_s - 10.0).abs() < 0.2, "{check:?}");
        assert!((check.served_per_s - 5.0).abs() < 0.2, "{check:?}");
    }

    #[test]
    fn long_requests_with_room_to_spare_are_not_overloaded() {
        // 10 arrivals/s, capacity 20/s, but each request takes 5 s (longer than the window),
        // so no request of the window completes in it: only the TTFT trend tells.
        let check = LoadCheck::of(&timeline(40, 0.1, 5.0, 0.05)).expect("a span");
        assert!(check.served_per_s < 0.5 * check.offered_per_s, "{check:?}");
        assert!(!check.overloaded(), "{check:?}");
        // And with short requests the rates agree.
        let check = LoadCheck::of(&timeline(400, 0.1, 0.05, 0.05)).expect("a span");
        assert!(!check.overloaded(), "{check:?}");
        assert!(
            (check.served_per_s / check.offered_per_s - 1.0).abs() < 0.05,
            "{check:?}"
        );
    }

    #[test]
    fn simultaneous_arrivals_have_no_rate() {
        assert_eq!(LoadCheck::of(&[(1.0, 2.0, 3.0), (1.0, 2.0, 4.0)]), None);
        assert_eq!(LoadCheck::of(&[]), None);
    }

    #[test]
    fn too_few_arrivals_are_never_judged() {
        let check = LoadCheck::of(&timeline(10, 0.1, 0.05, 0.2)).expect("a span");
        assert!(check.arrivals < LoadCheck::MIN_ARRIVALS);
        assert!(!check.overloaded(), "{check:?}");
    }
}
