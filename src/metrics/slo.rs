//! SLO attainment and goodput: how many requests met every per-request threshold of `[slo]`.
//!
//! Thresholds are per request, as `vllm bench serve --goodput` defines them: a request is good
//! when its TTFT, TPOT and end-to-end latency are each at most their threshold (unset ones are
//! not checked). A request with one output token has no TPOT and passes that threshold. Counted
//! as each request completes, so memory stays flat however long the run.

use super::summary::{Metric, MetricValue};
use crate::config::SloConfig;

/// The running tally of good requests; inert (every result null) without an `[slo]` section.
#[derive(Debug, Default, Clone)]
pub struct SloTally {
    slo: Option<SloConfig>,
    good: u64,
    good_output_tokens: u64,
}

impl SloTally {
    pub fn new(slo: Option<SloConfig>) -> SloTally {
        SloTally {
            slo,
            ..SloTally::default()
        }
    }

    /// A measured request completed with these latencies (seconds); `tpot` is None for a
    /// request with one output token.
    pub fn record(&mut self, ttft: f64, tpot: Option<f64>, e2e: f64, output_len: u32) {
        let Some(slo) = &self.slo else { return };
        let within = |limit_ms: Option<f64>, secs: Option<f64>| match (limit_ms, secs) {
            (Some(limit), Some(s)) => s * 1e3 <= limit,
            _ => true,
        };
        if within(slo.ttft_ms, Some(ttft))
            && within(slo.tpot_ms, tpot)
            && within(slo.e2e_ms, Some(e2e))
        {
            self.good += 1;
            self.good_output_tokens += u64::from(output_len);
        }
    }

    /// The results for `completed` measured requests over a window of `window` seconds (the
    /// same window as the run's other throughputs).
    pub fn finish(&self, completed: u64, window: f64) -> SloSummary {
        let Some(slo) = &self.slo else {
            return SloSummary::default();
        };
        let per_s = |x: u64| if window > 0.0 { x as f64 / window } else { 0.0 };
        // No completed request: nothing was attained, and there is no share to report.
        let attainment = (completed > 0).then(|| self.good as f64 / completed as f64);
        SloSummary {
            attainment,
            goodput_requests_per_s: Some(per_s(self.good)),
            goodput_output_tokens_per_s: Some(per_s(self.good_output_tokens)),
            met: slo
                .attainment
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
        t.record(0.1, Some(0.01), 1.0, 7); // exactly at every threshold: good
        t.record(0.2, Some(0.01), 1.0, 11); // TTFT too long
        t.record(0.05, Some(0.02), 0.5, 13); // TPOT too long
        t.record(0.05, None, 1.5, 17); // E2E too long
        t.record(0.05, None, 0.5, 19); // one output token: no TPOT, good
        let s = t.finish(5, 2.0);
        assert_eq!(s.attainment, Some(2.0 / 5.0));
        assert_eq!(s.goodput_requests_per_s, Some(2.0 / 2.0));
        assert_eq!(s.goodput_output_tokens_per_s, Some((7.0 + 19.0) / 2.0));
        assert_eq!(s.met, Some(false));
    }

    #[test]
    fn no_section_gives_nulls_and_no_target_gives_no_verdict() {
        let mut t = SloTally::new(None);
        t.record(0.1, Some(0.01), 1.0, 7);
        assert_eq!(t.finish(1, 1.0), SloSummary::default());
        assert!(SloSummary::default()
            .metrics()
            .iter()
            .all(|m| m.value.as_f64().is_none()));
        let mut t = SloTally::new(Some(slo(Some(100.0), None, None, None)));
        t.record(0.1, Some(0.01), 1.0, 7);
        let s = t.finish(1, 1.0);
        assert_eq!((s.attainment, s.met), (Some(1.0), None));
        let met = SloTally::new(Some(slo(None, None, None, Some(1.0)))).finish(0, 1.0);
        assert_eq!((met.attainment, met.met), (None, None));
    }
}
