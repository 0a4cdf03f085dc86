//! RunSummary: the one definition of a run's metrics.
//!
//! [`RunSummary::metrics`] lists every metric once, with its flat snake_case column name (unit
//! in the name) and the JSON path(s) it is written to. The `-o` JSON, and the sweep's CSV and
//! Parquet tables, are all built from that list, so a metric added here appears everywhere.
//! The JSON carries every metric under its column name in a flat `metrics` object (one
//! vocabulary for JSON and tables), and again at the nested paths that users of the seed-era
//! CLI parse (`latency_metrics.ttft_ms.p99`, `throughput_metrics.output_tokens_per_sec`, ...),
//! kept as aliases; metrics newer than the seed era have no alias.

use serde_json::{Map, Value};

use super::fleet::{FleetMetrics, ReplicaSummary};
use super::quantiles::DistStats;
use super::slo::SloSummary;
use super::verdict::LoadVerdict;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSummary {
    /// Time to first token per request: first token instant - arrival.
    pub ttft_ms: DistStats,
    /// End-to-end latency per request: completion - arrival.
    pub e2e_ms: DistStats,
    /// Time per output token per request: (E2E - TTFT) / (output tokens - 1), requests with
    /// at least two output tokens.
    pub tpot_ms: DistStats,
    /// Inter-token latency: every gap between consecutive output tokens of a request.
    pub itl_ms: DistStats,
    pub input_tokens_per_s: f64,
    pub output_tokens_per_s: f64,
    pub requests_per_s: f64,
    /// Time-weighted mean fraction of KV blocks referenced by requests.
    pub kv_cache_util_mean: f64,
    /// Time-weighted mean of (compute time / step time).
    pub flops_util_mean: f64,
    /// Time-weighted mean of (memory time / step time).
    pub bandwidth_util_mean: f64,
    /// Fraction of the makespan during which a step was running.
    pub busy_fraction: f64,
    pub preemptions_total: u64,
    pub preemptions_per_request: f64,
    /// Prompt tokens found in the prefix cache at admission.
    pub prefix_cache_hits: u64,
    /// Prompt tokens looked up and not found (they were computed).
    pub prefix_cache_misses: u64,
    pub prefix_cache_hit_rate: f64,
    pub requests_completed: u64,
    pub requests_total: u64,
    /// Requests whose prompt or output was cut to fit model.max_seq_len (sampled, dataset
    /// or trace lengths alike).
    pub requests_clipped: u64,
    /// Prompt tokens of completed requests.
    pub input_tokens: u64,
    /// Output tokens emitted.
    pub output_tokens: u64,
    /// Simulated seconds from t = 0 to the last completion.
    pub simulated_seconds: f64,
    pub steps: u64,
    pub kv_cache_blocks: u64,
    /// Open-loop runs: arrivals per second over the second half of the arrival span (see
    /// [`LoadCheck`](super::load::LoadCheck)); None for closed_loop and batched.
    pub offered_requests_per_s: Option<f64>,
    /// Open-loop runs: completions per second over the same window.
    pub served_requests_per_s: Option<f64>,
    /// The engine served clearly less than it was offered and its queue grew.
    pub overloaded: bool,
    /// Open-loop runs with enough arrivals: stable, backlogged or overloaded.
    pub load_verdict: Option<LoadVerdict>,
    /// Attainment and goodput under `[slo]` (all None without one).
    pub slo: SloSummary,
    /// Fleet-wide columns (a single engine is a fleet of one).
    pub fleet: FleetMetrics,
    /// Each replica's own numbers (empty for a single engine).
    pub replicas: Vec<ReplicaSummary>,
    /// Each request class's numbers (empty without workload.classes).
    pub classes: Vec<super::classes::ClassSummary>,
    /// What the sessions did (workload.sessions).
    pub sessions: Option<crate::workload::SessionSummary>,
}

/// A metric's value: counts stay integers, an undefined statistic is null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    Float(Option<f64>),
    Count(u64),
}

impl MetricValue {
    pub fn as_f64(self) -> Option<f64> {
        match self {
            MetricValue::Float(v) => v,
            MetricValue::Count(n) => Some(n as f64),
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            MetricValue::Float(Some(x)) if x.is_finite() => Value::from(x),
            MetricValue::Float(_) => Value::Null,
            MetricValue::Count(n) => Value::from(n),
        }
    }
}

/// One metric: its column name, where it goes in the JSON, and its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub json_paths: &'static [&'static [&'static str]],
    pub value: MetricValue,
}

/// Pushes the seven statistics of one latency distribution, named `<prefix>_<stat>` and
/// written to `latency_metrics.<alias>.<stat>` for each JSON alias.
macro_rules! dist_metrics {
    ($out:ident, $dist:expr, $prefix:literal, [$($alias:literal),+]) => {
        dist_metrics!(@one $out, $dist, $prefix, [$($alias),+], mean);
        dist_metrics!(@one $out, $dist, $prefix, [$($alias),+], p50);
        dist_metrics!(@one $out, $dist, $prefix, [$($alias),+], p90);
        dist_metrics!(@one $out, $dist, $prefix, [$($alias),+], p95);
        dist_metrics!(@one $out, $dist, $prefix, [$($alias),+], p99);
        dist_metrics!(@one $out, $dist, $prefix, [$($alias),+], min);
        dist_metrics!(@one $out, $dist, $prefix, [$($alias),+], max);
    };
    (@one $out:ident, $dist:expr, $prefix:literal, [$($alias:literal),+], $stat:ident) => {
        $out.push(Metric {
            name: concat!($prefix, "_", stringify!($stat)),
            json_paths: &[$(&["latency_metrics", $alias, stringify!($stat)]),+],
            value: MetricValue::Float($dist.$stat),
        });
    };
}

impl RunSummary {
    /// Every metric, in the stable column order of the tables.
    pub fn metrics(&self) -> Vec<Metric> {
        let mut m = Vec::with_capacity(48);
        dist_metrics!(m, self.ttft_ms, "ttft_ms", ["ttft_ms"]);
        dist_metrics!(m, self.e2e_ms, "e2e_ms", ["e2e_ms"]);
        dist_metrics!(m, self.tpot_ms, "tpot_ms", ["tpot_ms"]);
        dist_metrics!(m, self.itl_ms, "itl_ms", ["itl_ms", "per_token_ms"]);
        let f = |x: f64| MetricValue::Float(Some(x));
        let c = MetricValue::Count;
        let rows: [(
            &'static str,
            &'static [&'static [&'static str]],
            MetricValue,
        ); 23] = [
            (
                "input_tokens_per_s",
                &[&["throughput_metrics", "input_tokens_per_sec"]],
                f(self.input_tokens_per_s),
            ),
            (
                "output_tokens_per_s",
                &[&["throughput_metrics", "output_tokens_per_sec"]],
                f(self.output_tokens_per_s),
            ),
            (
                "requests_per_s",
                &[&["throughput_metrics", "requests_per_sec"]],
                f(self.requests_per_s),
            ),
            (
                "kv_cache_util_mean",
                &[&["utilization", "avg_kv_cache_util"]],
                f(self.kv_cache_util_mean),
            ),
            (
                "flops_util_mean",
                &[&["utilization", "avg_flops_util"]],
                f(self.flops_util_mean),
            ),
            (
                "bandwidth_util_mean",
                &[&["utilization", "avg_bandwidth_util"]],
                f(self.bandwidth_util_mean),
            ),
            (
                "busy_fraction",
                &[&["utilization", "busy_fraction"]],
                f(self.busy_fraction),
            ),
            (
                "preemptions_total",
                &[&["preemptions", "total"]],
                c(self.preemptions_total),
            ),
            (
                "preemptions_per_request",
                &[&["preemptions", "per_request_mean"]],
                f(self.preemptions_per_request),
            ),
            (
                "prefix_cache_hit_tokens",
                &[&["prefix_cache", "hits"]],
                c(self.prefix_cache_hits),
            ),
            (
                "prefix_cache_miss_tokens",
                &[&["prefix_cache", "misses"]],
                c(self.prefix_cache_misses),
            ),
            (
                "prefix_cache_hit_rate",
                &[&["prefix_cache", "hit_rate"]],
                f(self.prefix_cache_hit_rate),
            ),
            (
                "requests_completed",
                &[&["requests", "completed"]],
                c(self.requests_completed),
            ),
            (
                "requests_total",
                &[&["requests", "total"]],
                c(self.requests_total),
            ),
            (
                "requests_clipped",
                &[&["requests", "clipped"]],
                c(self.requests_clipped),
            ),
            (
                "input_tokens",
                &[&["simulation", "input_tokens"]],
                c(self.input_tokens),
            ),
            (
                "output_tokens",
                &[&["simulation", "output_tokens"]],
                c(self.output_tokens),
            ),
            (
                "simulated_s",
                &[&["simulation", "simulated_seconds"]],
                f(self.simulated_seconds),
            ),
            ("steps", &[&["simulation", "steps"]], c(self.steps)),
            (
                "kv_cache_blocks",
                &[&["simulation", "kv_cache_blocks"]],
                c(self.kv_cache_blocks),
            ),
            (
                "latency_samples_itl",
                &[&["latency_metrics", "itl_ms", "count"]],
                c(self.itl_ms.count),
            ),
            // Newer than the seed era: in the flat `metrics` object only.
            (
                "offered_requests_per_s",
                &[],
                MetricValue::Float(self.offered_requests_per_s),
            ),
            (
                "served_requests_per_s",
                &[],
                MetricValue::Float(self.served_requests_per_s),
            ),
        ];
        m.extend(rows.into_iter().map(|(name, json_paths, value)| Metric {
            name,
            json_paths,
            value,
        }));
        m.extend(self.slo.metrics());
        m.extend(self.fleet.metrics());
        m.extend(crate::workload::SessionSummary::metrics(
            self.sessions.as_ref(),
        ));
        m
    }

    /// Belt and braces behind config validation: a summary whose numbers are not all finite
    /// (or whose requests completed in no simulated time, which makes every rate 0) describes
    /// no real engine, and is an error naming the first such metric rather than a result
    /// with NaN, null or zero throughput in it. Undefined statistics (no samples) are `None`
    /// and allowed: they are written as null.
    pub fn check_finite(&self) -> crate::Result<()> {
        for metric in self.metrics() {
            if let MetricValue::Float(Some(x)) = metric.value {
                if !x.is_finite() {
                    crate::bail!(
                        "the run's {} came out as {x}: the config's numbers (hardware, model, \
                         workload) are too extreme to simulate",
                        metric.name
                    );
                }
            }
        }
        if self.requests_completed > 0 && self.simulated_seconds <= 0.0 {
            crate::bail!(
                "{} requests completed in {} simulated seconds, so every rate would be \
                 meaningless: the config's step times are too small to simulate",
                self.requests_completed,
                self.simulated_seconds
            );
        }
        Ok(())
    }

    /// The text-valued per-run fields (name, value): written to the flat `metrics` object of
    /// the JSON and as string columns of the sweep's runs table, but not summarised over seeds.
    pub fn labels(&self) -> [(&'static str, Option<&'static str>); 1] {
        [("load_verdict", self.load_verdict.map(LoadVerdict::name))]
    }

    /// The metric names and kinds, without a run (for table schemas).
    pub fn metric_schema() -> Vec<Metric> {
        RunSummary::default().metrics()
    }

    /// The metrics as JSON: every metric under its column name in the flat `metrics` object
    /// (the primary names, the same as the sweep tables'), and again at its seed-era nested
    /// path(s), which scripts written for the seed-era CLI parse. Keys sorted.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        let mut flat = Map::new();
        for metric in self.metrics() {
            for path in metric.json_paths {
                insert_path(&mut root, path, metric.value.to_json());
            }
            flat.insert(metric.name.to_string(), metric.value.to_json());
        }
        for (name, value) in self.labels() {
            flat.insert(name.to_string(), value.map_or(Value::Null, Value::from));
        }
        root.insert("metrics".to_string(), Value::Object(flat));
        root.insert("overloaded".to_string(), Value::Bool(self.overloaded));
        if !self.replicas.is_empty() {
            let replicas = serde_json::to_value(&self.replicas).expect("plain numbers serialize");
            root.insert("replicas".to_string(), replicas);
        }
        if let Some(sessions) = &self.sessions {
            let sessions = serde_json::to_value(sessions).expect("plain numbers serialize");
            root.insert("sessions".to_string(), sessions);
        }
        if !self.classes.is_empty() {
            let classes = serde_json::to_value(&self.classes).expect("plain numbers serialize");
            root.insert("classes".to_string(), classes);
        }
        Value::Object(root)
    }
}

fn insert_path(root: &mut Map<String, Value>, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("metric paths are not empty");
    let mut node = root;
    for key in parents {
        node = node
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("metric paths do not overlap a value");
    }
    node.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(base: f64) -> DistStats {
        DistStats {
            count: base as u64,
            mean: Some(base + 0.1),
            min: Some(base + 0.2),
            p50: Some(base + 0.3),
            p90: Some(base + 0.4),
            p95: Some(base + 0.5),
            p99: Some(base + 0.6),
            max: Some(base + 0.7),
        }
    }

    #[test]
    fn the_flat_names_are_unique_and_every_alias_holds_the_same_value() {
        // Distinct values everywhere, so a swapped alias shows.
        let s = RunSummary {
            ttft_ms: dist(10.0),
            e2e_ms: dist(20.0),
            tpot_ms: dist(30.0),
            itl_ms: dist(40.0),
            input_tokens_per_s: 1.5,
            output_tokens_per_s: 2.5,
            requests_per_s: 3.5,
            kv_cache_util_mean: 0.11,
            flops_util_mean: 0.12,
            bandwidth_util_mean: 0.13,
            busy_fraction: 0.14,
            preemptions_total: 5,
            preemptions_per_request: 0.15,
            prefix_cache_hits: 6,
            prefix_cache_misses: 7,
            prefix_cache_hit_rate: 0.16,
            requests_completed: 8,
            requests_total: 9,
            requests_clipped: 29,
            input_tokens: 11,
            output_tokens: 12,
            simulated_seconds: 13.5,
            steps: 14,
            kv_cache_blocks: 15,
            offered_requests_per_s: Some(16.5),
            served_requests_per_s: Some(17.5),
            overloaded: true,
            load_verdict: Some(LoadVerdict::Overloaded),
            slo: SloSummary {
                attainment: Some(0.25),
                goodput_requests_per_s: Some(18.5),
                goodput_output_tokens_per_s: Some(19.5),
                met: Some(false),
            },
            fleet: FleetMetrics {
                replicas: 20,
                request_imbalance: Some(20.5),
                busy_imbalance: Some(21.5),
                kv_transfers: 22,
                kv_transfer_bytes: 23.5,
                kv_transfer_ms_mean: Some(24.5),
                kv_backpressure_waits: 25,
                kv_backpressure_ms_mean: Some(26.5),
                gpus: 27,
                output_tokens_per_s_per_gpu: 28.5,
            },
            replicas: Vec::new(),
            classes: Vec::new(),
            sessions: None,
        };
        let json = s.to_json();
        let flat = json["metrics"].as_object().expect("a flat metrics object");
        let metrics = s.metrics();
        assert_eq!(
            flat.len(),
            metrics.len() + s.labels().len(),
            "two metrics share a name"
        );
        assert_eq!(flat["load_verdict"], "overloaded");
        assert_eq!(flat["slo_met"], 0.0);
        for m in &metrics {
            assert_eq!(flat[m.name], m.value.to_json(), "{}", m.name);
            for path in m.json_paths {
                let at = path.iter().fold(&json, |node, key| &node[*key]);
                assert_eq!(at, &m.value.to_json(), "{} at {}", m.name, path.join("."));
            }
        }
        assert_eq!(json["overloaded"], true);
        assert_eq!(flat["served_requests_per_s"], 17.5);
    }

    #[test]
    fn non_finite_metrics_are_an_error_naming_the_metric() {
        let mut s = RunSummary {
            requests_completed: 1,
            simulated_seconds: 2.0,
            ..RunSummary::default()
        };
        assert!(s.check_finite().is_ok());
        s.ttft_ms.p99 = Some(f64::NAN);
        let err = s.check_finite().unwrap_err();
        assert!(
            err.message().contains("ttft_ms_p99 came out as NaN"),
            "{err}"
        );
        s.ttft_ms.p99 = None;
        s.output_tokens_per_s = f64::INFINITY;
        let err = s.check_finite().unwrap_err();
        assert!(
            err.message()
                .contains("output_tokens_per_s came out as inf"),
            "{err}"
        );
    }

    #[test]
    fn completions_in_zero_time_are_an_error() {
        let s = RunSummary {
            requests_completed: 3,
            ..RunSummary::default()
        };
        let err = s.check_finite().unwrap_err();
        assert!(
            err.message()
                .contains("3 requests completed in 0 simulated seconds"),
            "{err}"
        );
        // Nothing completed (an empty run): no rate is claimed, nothing to reject.
        assert!(RunSummary::default().check_finite().is_ok());
    }
}
