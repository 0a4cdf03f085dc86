//! A fleet's metrics beyond the per-run ones: how evenly its replicas were loaded, each
//! replica's own numbers, and (prefill/decode disaggregation) the KV transfers.

use serde::Serialize;

use super::summary::{Metric, MetricValue};

/// Fleet-wide columns. A single engine is a fleet of one: one replica, imbalance 1.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetMetrics {
    pub replicas: u64,
    /// GPUs in all: replicas x parallel.tensor_parallel_size (an engine without `[parallel]`
    /// counts as one).
    pub gpus: u64,
    /// Output tokens per second divided by the GPUs: what fleets of different shapes (and
    /// published benchmarks) compare.
    pub output_tokens_per_s_per_gpu: f64,
    /// Max over replicas of the requests routed to it, divided by the mean (1 = even).
    pub request_imbalance: Option<f64>,
    /// Max over replicas of the busy fraction, divided by the mean.
    pub busy_imbalance: Option<f64>,
    /// Disaggregation: KV transfers from prefill to decode replicas.
    pub kv_transfers: u64,
    pub kv_transfer_bytes: f64,
    /// Mean time of one transfer (latency + bytes / bandwidth).
    pub kv_transfer_ms_mean: Option<f64>,
    /// Transfers held back because their decode replica had no room.
    pub kv_backpressure_waits: u64,
    /// Mean time a held-back transfer waited for room.
    pub kv_backpressure_ms_mean: Option<f64>,
}

impl FleetMetrics {
    pub fn metrics(&self) -> Vec<Metric> {
        let f = MetricValue::Float;
        let c = MetricValue::Count;
        [
            ("replicas", c(self.replicas)),
            ("gpus", c(self.gpus)),
            (
                "output_tokens_per_s_per_gpu",
                f(Some(self.output_tokens_per_s_per_gpu)),
            ),
            ("replica_request_imbalance", f(self.request_imbalance)),
            ("replica_busy_imbalance", f(self.busy_imbalance)),
            ("kv_transfers", c(self.kv_transfers)),
            ("kv_transfer_bytes", f(Some(self.kv_transfer_bytes))),
            ("kv_transfer_ms_mean", f(self.kv_transfer_ms_mean)),
            ("kv_backpressure_waits", c(self.kv_backpressure_waits)),
            ("kv_backpressure_ms_mean", f(self.kv_backpressure_ms_mean)),
        ]
        .into_iter()
        .map(|(name, value)| Metric {
            name,
            json_paths: &[],
            value,
        })
        .collect()
    }
}

/// One replica's numbers over the fleet's whole run (rates over the fleet's makespan).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReplicaSummary {
    pub index: usize,
    /// The pool it belongs to ("default" without pools; "prefill"/"decode" when disaggregated).
    pub pool: String,
    /// Requests routed to it (for a decode replica: KV transfers into it).
    pub requests: u64,
    pub requests_completed: u64,
    pub output_tokens_per_s: f64,
    pub busy_fraction: f64,
    pub kv_cache_util_mean: f64,
    pub flops_util_mean: f64,
    pub bandwidth_util_mean: f64,
    pub preemptions: u64,
    pub prefix_cache_hit_rate: f64,
    pub steps: u64,
}

/// The max/mean ratio of non-negative loads (None when they are all zero).
pub fn imbalance(loads: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let n = loads.clone().count();
    let sum: f64 = loads.clone().sum();
    if n == 0 || sum <= 0.0 {
        return None;
    }
    let max = loads.fold(0.0, f64::max);
    Some(max / (sum / n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imbalance_is_max_over_mean() {
        assert_eq!(imbalance([1.0, 1.0, 1.0].into_iter()), Some(1.0));
        assert_eq!(imbalance([3.0, 1.0].into_iter()), Some(1.5));
        assert_eq!(imbalance([0.0, 0.0].into_iter()), None);
    }
}
