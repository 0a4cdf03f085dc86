//! SLO attainment and goodput: how many requests met every per-request threshold of `[slo]`
//! (or of their class's `slo`, key by key over `[slo]`'s).
//!
//! Thresholds are per request, as `vllm bench serve --goodput` defines them: a request is good
//! when its TTFT, TPOT and end-to-end latency are each at most their threshold (unset ones are
//! not checked). A request with one output token has no TPOT and passes that threshold. Counted
//! as each request completes, so memory stays flat however long the run.

use super::summary::{Metric, MetricValue};
use crate::config::SloConfig;

/// The running tally of good requests; inert (every result null) when neither `[slo]` nor any
/// class sets objectives.
#[derive(Debug, Default, Clone)]
pub struct SloTally {
    /// `[slo]`: the objectives of requests of no class with its own, and the run's target.
    base: Option<SloConfig>,
    /// Each class's objectives (`workload.classes[k].slo` over `[slo]`), by class index;
    /// empty when no class sets any.
    per_class: Vec<SloConfig>,
    good: u64,
    good_output_tokens: u64,
}

impl SloTally {
    pub fn new(slo: Option<SloConfig>) -> SloTally {
        SloTally {
            base: slo,
            ..SloTally::default()
        }
    }

    /// Judges requests of class `k` by `classes[k]` (each key over `[slo]`'s) instead.
    pub fn with_classes(mut self, classes: &[Option<SloConfig>]) -> SloTally {
        if classes.iter().any(Option::is_some) {
            let base = self.base.as_ref();
            self.per_class = classes
                .iter()
                .map(|c| c.unwrap_or_default().over(base))
                .collect();
        }
        self
    }

    /// Whether any objectives are set (otherwise every result is null).
    pub fn judges(&self) -> bool {
        self.base.is_some() || !self.per_class.is_empty()
    }

    /// The objectives a request of `class` is judged by.
    fn objectives(&self, class: u16) -> SloConfig {
        match self.per_class.get(usize::from(class)) {
            Some(o) => *o,
            None => self.base.unwrap_or_default(),
        }
    }

    /// The share of good requests a class must reach (its own target, else `[slo]`'s).
    pub fn class_target(&self, class: u16) -> Option<f64> {
        self.judges()
            .then(|| self.objectives(class).attainment)
            .flatten()
    }

    /// A measured request of `class` completed with these latencies (seconds); `tpot` is
    /// None for a request with one output token. Whether it was good (None without SLOs).
    pub fn record(
        &mut self,
        class: u16,
        ttft: f64,
        tpot: Option<f64>,
        e2e: f64,
        output_len: u32,
    ) -> Option<bool> {
        if !self.judges() {
            return None;
        }
        let good = self.objectives(class).meets(ttft, tpot, e2e);
        if good {
            self.good += 1;
            self.good_output_tokens += u64::from(output_len);
        }
        Some(good)
    }

    /// The results for `completed` measured requests over a window of `window` seconds (the
    /// same window as the run's other throughputs).
    pub fn finish(&self, completed: u64, window: f64) -> SloSummary {
        if !self.judges() {
            return SloSummary::default();
        }
        let per_s = |x: u64| if window > 0.0 { x as f64 / window } else { 0.0 };
        // No completed request: nothing was attained, and there is no share to report.
        let attainment = (completed > 0).then(|| self.good as f64 / completed as f64);
        SloSummary {
            attainment,
            goodput_requests_per_s: Some(per_s(self.good)),
            goodput_output_tokens_per_s: Some(per_s(self.good_output_tokens)),
            met: self
                .base
                .and_then(|b| b.attainment)
                .zip(attainment)
                .map(|(target, got)| got >= target),
        }
    }
}

/// A run's SLO results; every field None when the config has no `[slo]`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SloSummary {
    /// Share of completed (measured) requests that met every threshold.
    pub attainment: Option<f64>,
    /// Good requests per second.
    pub goodput_requests_per_s: Option<f64>,
    /// Output tokens of good requests per second.
    pub goodput_output_tokens_per_s: Option<f64>,
    /// attainment >= slo.attainment; None without a target.
    pub met: Option<bool>,
}

impl SloSummary {
    /// The SLO metrics, in table order. `slo_met` is 1 or 0 (null without a target) so that it
    /// is a number in the JSON and in both tables: its mean over seeds in the summary table is
    /// the share of seeds that met the target.
    pub fn metrics(&self) -> [Metric; 4] {
        let metric = |name, value| Metric {
            name,
            json_paths: &[],
            value: MetricValue::Float(value),
        };
        [
            metric("slo_attainment", self.attainment),
            metric("goodput_requests_per_s", self.goodput_requests_per_s),
            metric(
                "goodput_output_tokens_per_s",
                self.goodput_output_tokens_per_s,
            ),
            metric("slo_met", self.met.map(|m| if m { 1.0 } else { 0.0 })),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(
        ttft: Option<f64>,
        tpot: Option<f64>,
        e2e: Option<f64>,
        target: Option<f64>,
    ) -> SloConfig {
        SloConfig {
            ttft_ms: ttft,
            tpot_ms: tpot,
            e2e_ms: e2e,
            attainment: target,
        }
    }

    #[test]
    fn a_request_is_good_only_when_it_meets_every_threshold() {
        let mut t = SloTally::new(Some(slo(Some(100.0), Some(10.0), Some(1000.0), Some(0.5))));
        t.record(0, 0.1, Some(0.01), 1.0, 7); // exactly at every threshold: good
        t.record(0, 0.2, Some(0.01), 1.0, 11); // TTFT too long
        t.record(0, 0.05, Some(0.02), 0.5, 13); // TPOT too long
        t.record(0, 0.05, None, 1.5, 17); // E2E too long
        t.record(0, 0.05, None, 0.5, 19); // one output token: no TPOT, good
        let s = t.finish(5, 2.0);
        assert_eq!(s.attainment, Some(2.0 / 5.0));
        assert_eq!(s.goodput_requests_per_s, Some(2.0 / 2.0));
        assert_eq!(s.goodput_output_tokens_per_s, Some((7.0 + 19.0) / 2.0));
        assert_eq!(s.met, Some(false));
    }

    #[test]
    fn no_section_gives_nulls_and_no_target_gives_no_verdict() {
        let mut t = SloTally::new(None);
        t.record(0, 0.1, Some(0.01), 1.0, 7);
        assert_eq!(t.finish(1, 1.0), SloSummary::default());
        assert!(SloSummary::default()
            .metrics()
            .iter()
            .all(|m| m.value.as_f64().is_none()));
        let mut t = SloTally::new(Some(slo(Some(100.0), None, None, None)));
        t.record(0, 0.1, Some(0.01), 1.0, 7);
        let s = t.finish(1, 1.0);
        assert_eq!((s.attainment, s.met), (Some(1.0), None));
        let met = SloTally::new(Some(slo(None, None, None, Some(1.0)))).finish(0, 1.0);
        assert_eq!((met.attainment, met.met), (None, None));
    }

    #[test]
    fn a_class_is_judged_by_its_own_thresholds_over_the_runs() {
        let base = slo(Some(100.0), None, Some(1000.0), Some(0.9));
        let strict = slo(Some(50.0), None, None, Some(0.99));
        let mut t = SloTally::new(Some(base)).with_classes(&[Some(strict), None]);
        // TTFT 80 ms: too slow for class 0 (50 ms), fine for class 1 ([slo]'s 100 ms).
        assert_eq!(t.record(0, 0.08, None, 0.5, 1), Some(false));
        assert_eq!(t.record(1, 0.08, None, 0.5, 1), Some(true));
        // Class 0 keeps [slo]'s E2E limit, which it does not set.
        assert_eq!(t.record(0, 0.01, None, 1.5, 1), Some(false));
        assert_eq!(t.record(0, 0.01, None, 0.5, 1), Some(true));
        assert_eq!(
            (t.class_target(0), t.class_target(1)),
            (Some(0.99), Some(0.9))
        );
        assert_eq!(t.finish(4, 1.0).attainment, Some(0.5));
        // Class objectives alone switch the SLO metrics on; a class without any passes all.
        let mut t = SloTally::new(None).with_classes(&[None, Some(strict)]);
        assert_eq!(t.record(0, 9.0, None, 9.0, 1), Some(true));
        assert_eq!(t.record(1, 0.06, None, 0.1, 1), Some(false));
        let s = t.finish(2, 1.0);
        assert_eq!((s.attainment, s.met), (Some(0.5), None));
    }
}
