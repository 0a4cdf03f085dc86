//! Per-class latencies and throughput (`[[workload.classes]]`): each completed request is
//! also counted under its class, so a report can say how the chat tier fared beside the batch
//! tier. Memory per class is that of the run-wide latencies (flat past a million samples).

use serde::Serialize;

use super::quantiles::{DistStats, Samples};

#[derive(Debug, Clone, Default)]
struct Tally {
    completed: u64,
    output_tokens: u64,
    /// Completed requests that met their objectives.
    good: u64,
    ttft: Samples,
    e2e: Samples,
    tpot: Samples,
}

/// The running tallies, one per class (none without classes).
#[derive(Debug, Clone, Default)]
pub struct ClassTally {
    names: Vec<String>,
    tallies: Vec<Tally>,
    /// Whether requests are judged against objectives (`[slo]` or a class's `slo`), and each
    /// class's target share.
    judged: bool,
    targets: Vec<Option<f64>>,
}

/// One class's numbers over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ClassSummary {
    pub name: String,
    pub requests_completed: u64,
    /// Over the same window as the run's throughputs.
    pub output_tokens_per_s: f64,
    pub ttft_ms: DistStats,
    pub e2e_ms: DistStats,
    pub tpot_ms: DistStats,
    /// The share of its completed requests that met its objectives (null without SLOs).
    pub slo_attainment: Option<f64>,
    /// Its good requests per second (null without SLOs).
    pub goodput_requests_per_s: Option<f64>,
    /// Whether it reached its target share (null without one).
    pub slo_met: Option<bool>,
}

impl ClassTally {
    pub fn new(names: Vec<String>) -> ClassTally {
        let tallies = vec![Tally::default(); names.len()];
        ClassTally {
            targets: vec![None; names.len()],
            names,
            tallies,
            judged: false,
        }
    }

    /// The classes' names, in index order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Judges each class against objectives, with these target shares (by class index).
    pub fn with_targets(mut self, targets: Vec<Option<f64>>) -> ClassTally {
        self.judged = true;
        self.targets = targets;
        self
    }

    /// A request of class `class` completed (times in seconds); `good` says whether it met
    /// its objectives.
    pub fn record(
        &mut self,
        class: u16,
        ttft: f64,
        e2e: f64,
        tpot: Option<f64>,
        output: u32,
        good: Option<bool>,
    ) {
        let Some(t) = self.tallies.get_mut(usize::from(class)) else {
            return; // no classes
        };
        t.completed += 1;
        t.good += u64::from(good == Some(true));
        t.output_tokens += u64::from(output);
        t.ttft.push(ttft);
        t.e2e.push(e2e);
        if let Some(tpot) = tpot {
            t.tpot.push(tpot);
        }
    }

    /// The classes' summaries, throughput over `window` seconds.
    pub fn finish(self, window: f64) -> Vec<ClassSummary> {
        let per_s = |x: u64| if window > 0.0 { x as f64 / window } else { 0.0 };
        let judged = self.judged;
        self.names
            .into_iter()
            .zip(self.tallies)
            .zip(self.targets)
            .map(|((name, mut t), target)| {
                let attainment =
                    (judged && t.completed > 0).then(|| t.good as f64 / t.completed as f64);
                ClassSummary {
                    name,
                    requests_completed: t.completed,
                    output_tokens_per_s: per_s(t.output_tokens),
                    ttft_ms: t.ttft.stats().scaled(1e3),
                    e2e_ms: t.e2e.stats().scaled(1e3),
                    tpot_ms: t.tpot.stats().scaled(1e3),
                    slo_attainment: attainment,
                    goodput_requests_per_s: judged.then(|| per_s(t.good)),
                    slo_met: target.zip(attainment).map(|(target, got)| got >= target),
                }
            })
            .collect()
    }
}

impl ClassSummary {
    /// The class's numbers as the sweep's classes tables have them: (column, value), null
    /// where undefined. `slo_met` is 1 or 0, so that its mean over seeds is the share of
    /// seeds in which the class met its target.
    pub fn metrics(&self) -> Vec<(&'static str, Option<f64>)> {
        let mut m = vec![
            ("requests_completed", Some(self.requests_completed as f64)),
            ("output_tokens_per_s", Some(self.output_tokens_per_s)),
        ];
        for (names, d) in [
            (
                ["ttft_ms_mean", "ttft_ms_p50", "ttft_ms_p90", "ttft_ms_p99"],
                &self.ttft_ms,
            ),
            (
                ["e2e_ms_mean", "e2e_ms_p50", "e2e_ms_p90", "e2e_ms_p99"],
                &self.e2e_ms,
            ),
            (
                ["tpot_ms_mean", "tpot_ms_p50", "tpot_ms_p90", "tpot_ms_p99"],
                &self.tpot_ms,
            ),
        ] {
            m.extend(names.into_iter().zip([d.mean, d.p50, d.p90, d.p99]));
        }
        m.extend([
            ("slo_attainment", self.slo_attainment),
            ("goodput_requests_per_s", self.goodput_requests_per_s),
            ("slo_met", self.slo_met.map(|met| f64::from(u8::from(met)))),
        ]);
        m
    }

    /// The classes tables' metric columns, in order.
    pub fn metric_names() -> Vec<&'static str> {
        ClassSummary::default()
            .metrics()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }
}
