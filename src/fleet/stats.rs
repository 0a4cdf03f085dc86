//! Each replica's own tallies, an [`Observer`] beside the fleet's collector.

use crate::metrics::{ReplicaSummary, StepTotals};
use crate::observe::{Completion, Observer, StepEvent};
use crate::workload::RequestSpec;

#[derive(Debug, Clone, Default)]
pub struct ReplicaStats {
    /// Requests sent to the replica (decode replicas: transfers into it).
    pub routed: u64,
    completed: u64,
    totals: StepTotals,
    preemptions: u64,
    prefix_hit_tokens: u64,
    prefix_lookup_tokens: u64,
}

impl Observer for ReplicaStats {
    fn step(&mut self, step: &StepEvent) {
        self.totals.add(step);
    }
    fn gap(&mut self, _gap: f64) {}
    fn preemption(&mut self, _spec: &RequestSpec, _now: f64) {
        self.preemptions += 1;
    }
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        self.prefix_lookup_tokens += queried;
        self.prefix_hit_tokens += hit;
    }
    fn completion(&mut self, _done: &Completion) {
        self.completed += 1;
    }
}

impl ReplicaStats {
    /// The replica's numbers over the fleet's makespan.
    pub fn summary(&self, index: usize, pool: &str, makespan: f64) -> ReplicaSummary {
        let per_s = |x: f64| if makespan > 0.0 { x / makespan } else { 0.0 };
        ReplicaSummary {
            index,
            pool: pool.to_string(),
            requests: self.routed,
            requests_completed: self.completed,
            output_tokens_per_s: per_s(self.totals.output_tokens as f64),
            busy_fraction: per_s(self.totals.busy_time),
            kv_cache_util_mean: per_s(self.totals.kv_util_time),
            flops_util_mean: per_s(self.totals.flops_util_time),
            bandwidth_util_mean: per_s(self.totals.bandwidth_util_time),
            preemptions: self.preemptions,
            prefix_cache_hit_rate: if self.prefix_lookup_tokens > 0 {
                self.prefix_hit_tokens as f64 / self.prefix_lookup_tokens as f64
            } else {
                0.0
            },
            steps: self.totals.steps,
        }
    }
}
