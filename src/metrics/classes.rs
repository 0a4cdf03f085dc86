//! Per-class latencies and throughput (`[[workload.classes]]`): each completed request is
//! also counted under its class, so a report can say how the chat tier fared beside the batch
//! tier. Memory per class is that of the run-wide latencies (flat past a million samples).

use serde::Serialize;

use super::quantiles::{DistStats, Samples};

#[derive(Debug, Clone, Default)]
struct Tally {
    completed: u64,
    output_tokens: u64,
    ttft: Samples,
    e2e: Samples,
    tpot: Samples,
}

/// The running tallies, one per class (none without classes).
#[derive(Debug, Clone, Default)]
pub struct ClassTally {
    names: Vec<String>,
    tallies: Vec<Tally>,
}

/// One class's numbers over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassSummary {
    pub name: String,
    pub requests_completed: u64,
    /// Over the same window as the run's throughputs.
    pub output_tokens_per_s: f64,
    pub ttft_ms: DistStats,
    pub e2e_ms: DistStats,
    pub tpot_ms: DistStats,
}

impl ClassTally {
    pub fn new(names: Vec<String>) -> ClassTally {
        let tallies = vec![Tally::default(); names.len()];
        ClassTally { names, tallies }
    }

    /// A request of class `class` completed (times in seconds).
    pub fn record(&mut self, class: u16, ttft: f64, e2e: f64, tpot: Option<f64>, output: u32) {
        let Some(t) = self.tallies.get_mut(usize::from(class)) else {
            return; // no classes
        };
        t.completed += 1;
        t.output_tokens += u64::from(output);
        t.ttft.push(ttft);
        t.e2e.push(e2e);
        if let Some(tpot) = tpot {
            t.tpot.push(tpot);
        }
    }

    /// The classes' summaries, throughput over `window` seconds.
    pub fn finish(self, window: f64) -> Vec<ClassSummary> {
        self.names
            .into_iter()
            .zip(self.tallies)
            .map(|(name, mut t)| ClassSummary {
                name,
                requests_completed: t.completed,
                output_tokens_per_s: if window > 0.0 {
                    t.output_tokens as f64 / window
                } else {
                    0.0
                },
                ttft_ms: t.ttft.stats().scaled(1e3),
                e2e_ms: t.e2e.stats().scaled(1e3),
                tpot_ms: t.tpot.stats().scaled(1e3),
            })
            .collect()
    }
}
