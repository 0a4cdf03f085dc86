//! The sweep's answer: for each objective of `[report] metrics`, the point with the best mean
//! over its seeds and, with `[compare]`, how it fares against its baseline, paired by seed.
//!
//! A sweep is run to answer a question ("which policy gives the lowest p99 TTFT?"); the tables
//! hold every number, but the command itself should say the answer. Objectives are run-table
//! metrics with a better direction ([`better`]): "best" means nothing for a utilisation.
//!
//! ```toml
//! [report]
//! metrics = ["ttft_ms_p99", "output_tokens_per_s"]   # default: DEFAULT_OBJECTIVES
//! ```

use toml::Value;

use super::compare::{better, Better, Comparison};
use super::stats::Described;
use crate::metrics::RunSummary;
use crate::{bail, Result};

/// The objectives of a spec without `[report]`: tail latency of the first token and of the
/// whole request, and output throughput, the three numbers a serving SLO is written in.
pub const DEFAULT_OBJECTIVES: [&str; 3] = ["ttft_ms_p99", "e2e_ms_p99", "output_tokens_per_s"];

/// Checks a spec's `[report]` table and returns its objectives (the default without one).
pub(super) fn parse_objectives(value: Option<&Value>) -> Result<Vec<&'static str>> {
    let schema = RunSummary::metric_schema();
    let known = |name: &str| schema.iter().map(|m| m.name).find(|&m| m == name);
    let Some(value) = value else {
        return Ok(DEFAULT_OBJECTIVES
            .iter()
            .map(|m| known(m).expect("default objectives are run-table metrics"))
            .collect());
    };
    let Value::Table(report) = value else {
        bail!("[report] must be a table, not {}", value.type_str());
    };
    for key in report.keys() {
        if key != "metrics" {
            bail!("unknown key `{key}` in [report]; allowed keys: metrics");
        }
    }
    let allowed = || {
        schema
            .iter()
            .map(|m| m.name)
            .filter(|m| better(m).is_some())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let list = match report.get("metrics") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => bail!("[report] metrics is empty: name at least one metric"),
        Some(other) => bail!(
            "[report] metrics must be a list of metric names, not {}",
            other.type_str()
        ),
        None => bail!("[report] needs metrics = [\"ttft_ms_p99\", ...]"),
    };
    let mut objectives = Vec::new();
    for item in list {
        let Some(name) = item.as_str() else {
            bail!(
                "[report] metrics: {item} is not a metric name (a string); allowed: {}",
                allowed()
            );
        };
        let Some(metric) = known(name) else {
            bail!(
                "[report] metrics: unknown metric {name:?}; allowed: {}",
                allowed()
            );
        };
        if better(metric).is_none() {
            bail!(
                "[report] metrics: {name} has no better direction, so it cannot be an objective; allowed: {}",
                allowed()
            );
        }
        if objectives.contains(&metric) {
            bail!("[report] metrics names {name} twice");
        }
        objectives.push(metric);
    }
    Ok(objectives)
}

/// The best point for one objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub metric: &'static str,
    pub better: Better,
    /// The best point's first run (index into `grid.runs`; its axis values name the point).
    pub run: usize,
    /// The point's mean of the metric over its successful runs that define it.
    pub mean: f64,
    /// Those runs.
    pub n: u64,
    /// With `[compare]`: the paired comparison of the point with its baseline; None when the
    /// point is a baseline itself, or the spec compares nothing.
    pub comparison: Option<Comparison>,
}

/// The objectives' means point by point, gathered as the summary is built, and the answer
/// from them: for each objective, the point with the best mean (the first in grid order on a
/// tie); objectives no run defines are left out.
#[derive(Debug)]
pub struct Tally {
    /// Each objective with its direction and position in the metric schema.
    objectives: Vec<(&'static str, Better, usize)>,
    /// The best so far per objective: (point's first run, mean, n).
    best: Vec<Option<(usize, f64, u64)>>,
    /// The best points' comparison rows (replaced when a better point comes).
    comparisons: Vec<Option<Comparison>>,
}

impl Tally {
    pub fn new(objectives: &[&'static str]) -> Tally {
        let schema = RunSummary::metric_schema();
        let objectives: Vec<(&'static str, Better, usize)> = objectives
            .iter()
            .filter_map(|&m| {
                let position = schema.iter().position(|s| s.name == m)?;
                Some((m, better(m)?, position))
            })
            .collect();
        Tally {
            best: vec![None; objectives.len()],
            comparisons: vec![None; objectives.len()],
            objectives,
        }
    }

    /// Adds a point: its first run, its statistics (metrics in schema order) and, with
    /// `[compare]`, its comparison rows (None for a baseline point).
    pub fn add(&mut self, first: usize, stats: &[Described], comparisons: Option<&[Comparison]>) {
        for (k, &(metric, direction, position)) in self.objectives.iter().enumerate() {
            let d = &stats[position];
            let Some(mean) = d.mean else { continue };
            let improves = self.best[k].is_none_or(|(_, b, _)| match direction {
                Better::Lower => mean < b,
                Better::Higher => mean > b,
            });
            if improves {
                self.best[k] = Some((first, mean, d.n));
                self.comparisons[k] =
                    comparisons.and_then(|rows| rows.iter().find(|c| c.metric == metric).cloned());
            }
        }
    }

    pub fn answer(self) -> Vec<Objective> {
        self.objectives
            .into_iter()
            .zip(self.best)
            .zip(self.comparisons)
            .filter_map(|(((metric, better, _), best), comparison)| {
                let (run, mean, n) = best?;
                Some(Objective {
                    metric,
                    better,
                    run,
                    mean,
                    n,
                    comparison,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<&'static str>> {
        let table: toml::Table = text.parse().unwrap();
        parse_objectives(table.get("report"))
    }

    #[test]
    fn objectives_default_and_parse() {
        assert_eq!(parse("").unwrap(), DEFAULT_OBJECTIVES);
        assert_eq!(
            parse("[report]\nmetrics = [\"itl_ms_p50\", \"requests_per_s\"]").unwrap(),
            ["itl_ms_p50", "requests_per_s"]
        );
    }

    #[test]
    fn bad_objectives_are_named_with_what_is_allowed() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        let unknown = err("[report]\nmetrics = [\"ttft_p99\"]");
        assert!(unknown.contains("\"ttft_p99\"") && unknown.contains("ttft_ms_p99"));
        let no_direction = err("[report]\nmetrics = [\"kv_cache_util_mean\"]");
        assert!(
            no_direction.contains("no better direction"),
            "{no_direction}"
        );
        assert!(!no_direction.contains("allowed: kv_cache_util_mean"));
        assert!(err("[report]\nmetrics = []").contains("empty"));
        assert!(err("[report]\nmetrics = \"ttft_ms_p99\"").contains("list"));
        assert!(err("[report]\nmetrics = [1]").contains("not a metric name"));
        assert!(err("[report]\nmetric = [\"ttft_ms_p99\"]").contains("allowed keys: metrics"));
        assert!(err("[report]\nmetrics = [\"e2e_ms_p99\", \"e2e_ms_p99\"]").contains("twice"));
        assert!(err("report = 3").contains("must be a table"));
    }
}
