//! Paired comparisons against a baseline point: `[compare] baseline = { path = value, ... }`.
//!
//! Every policy (or any engine knob) sees the same requests for a given seed (common random
//! numbers), so the runs of two points with the same seed form a pair, and the right question
//! is whether the mean *difference* over the pairs is zero (a paired t-test), not whether two
//! independent intervals overlap: seed-to-seed noise that moves both points together cancels.
//!
//! For every point that is not itself a baseline, its baseline point shares every other axis
//! value and has the baseline's value on the named axes (a zipped group moves as one: naming
//! one of its paths picks the whole step). For every metric, the seeds where both runs
//! succeeded and define the metric are the pairs; the table gives their count `n`, both
//! means over those pairs, the mean difference (point - baseline) with its Student-t 95%
//! interval, the relative difference (diff_mean / baseline_mean), the two-sided paired-t
//! p-value, and wins/ties/losses: seeds where the point is better / equal / worse than its
//! baseline, for metrics that have a better direction ([`better`]); null for the others.

use std::collections::HashMap;

use toml::Value;

use super::grid::Grid;
use super::metric_row::MetricRow;
use super::records::Records;
use super::spec::{Axis, BASE_AXIS, SEED_PATH};
use super::stats::paired;
use crate::metrics::RunSummary;
use crate::{bail, Result};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// The direction in which a metric is better, by its name; None where neither is (a
/// utilisation, a count of tokens or steps the workload fixes).
pub fn better(metric: &str) -> Option<Better> {
    let lower_latency = ["ttft_ms_", "e2e_ms_", "tpot_ms_", "itl_ms_"];
    if lower_latency.iter().any(|p| metric.starts_with(p)) {
        return Some(Better::Lower);
    }
    match metric {
        "preemptions_total"
        | "preemptions_per_request"
        | "prefix_cache_miss_tokens"
        | "simulated_s" => Some(Better::Lower),
        m if m.ends_with("_per_s") => Some(Better::Higher),
        "prefix_cache_hit_tokens"
        | "prefix_cache_hit_rate"
        | "requests_completed"
        | "slo_attainment" => Some(Better::Higher),
        _ => None,
    }
}

/// Checks a spec's `[compare]` table and returns the baseline as (path, value) pairs.
/// `flatten` turns the baseline table into paths the way `[axes]` are read.
pub(super) fn parse_baseline(
    value: Option<&Value>,
    axes: &[Axis],
    bases: &[(String, std::path::PathBuf)],
    flatten: impl Fn(&toml::Table, &str) -> Result<Vec<(String, Value)>>,
) -> Result<Option<Vec<(String, Value)>>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let Value::Table(compare) = value else {
        bail!("[compare] must be a table, not {}", value.type_str());
    };
    for key in compare.keys() {
        if key != "baseline" {
            bail!("unknown key `{key}` in [compare]; allowed keys: baseline");
        }
    }
    let baseline = match compare.get("baseline") {
        Some(Value::Table(t)) => t,
        Some(other) => bail!(
            "[compare] baseline must be a table of axis = value, not {}",
            other.type_str()
        ),
        None => bail!("[compare] needs baseline = {{ \"section.field\" = value, ... }}"),
    };
    let mut without_base = baseline.clone();
    let mut pairs = Vec::new();
    if let Some(label) = without_base.remove(BASE_AXIS) {
        let labels: Vec<&str> = bases.iter().map(|(l, _)| l.as_str()).collect();
        match label.as_str() {
            Some(l) if bases.len() > 1 && labels.contains(&l) => {
                pairs.push((BASE_AXIS.to_string(), label.clone()))
            }
            _ if bases.len() < 2 => {
                bail!("[compare] baseline names base, but this sweep has one base config")
            }
            _ => bail!("[compare] baseline base = {label}: not one of the base configs {labels:?}"),
        }
    }
    pairs.extend(flatten(&without_base, "compare.baseline")?);
    if pairs.is_empty() {
        bail!("[compare] baseline is empty: name the axis values of the baseline point");
    }
    for (path, value) in &pairs {
        if path == BASE_AXIS {
            continue;
        }
        if path == SEED_PATH {
            bail!("[compare] baseline names {SEED_PATH}: seeds are what comparisons pair, not an axis to compare");
        }
        let Some((axis, j)) = axes
            .iter()
            .find_map(|a| a.paths.iter().position(|p| p == path).map(|j| (a, j)))
        else {
            bail!("[compare] baseline names {path}, which is not an axis of this sweep");
        };
        if !axis.values.iter().any(|step| same_value(&step[j], value)) {
            let allowed: Vec<String> = axis.values.iter().map(|s| s[j].to_string()).collect();
            bail!(
                "[compare] baseline {path} = {value} is none of the axis values [{}]",
                allowed.join(", ")
            );
        }
    }
    Ok(Some(pairs))
}

/// Axis values are the same point: equal TOML values, or equal numbers (8192 and 8192.0).
fn same_value(a: &Value, b: &Value) -> bool {
    let num = |v: &Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
    a == b || matches!((num(a), num(b)), (Some(x), Some(y)) if x == y)
}

/// One row of the comparisons table.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The point's first run (its axis values are the row's axis columns).
    pub run: usize,
    pub metric: &'static str,
    pub n: u64,
    pub baseline_mean: Option<f64>,
    pub mean: Option<f64>,
    pub diff_mean: Option<f64>,
    pub diff_ci: Option<(f64, f64)>,
    pub rel_diff: Option<f64>,
    pub p_value: Option<f64>,
    /// (wins, ties, losses), for metrics with a better direction.
    pub record: Option<(u64, u64, u64)>,
}

/// For each point of the grid, the point that is its baseline (None for baseline points
/// themselves, and for points whose baseline was excluded).
pub(super) fn baseline_points(
    grid: &Grid,
    axes: &[Axis],
    baseline: &[(String, Value)],
) -> Vec<Option<usize>> {
    // The columns each named axis moves, and the values of its baseline step.
    let mut replace: Vec<(usize, Value)> = Vec::new();
    for (path, value) in baseline {
        let column = |p: &str| grid.columns.iter().position(|c| c == p);
        if path == BASE_AXIS {
            replace.extend(column(BASE_AXIS).map(|c| (c, value.clone())));
            continue;
        }
        for axis in axes {
            let Some(j) = axis.paths.iter().position(|p| p == path) else {
                continue;
            };
            let step = axis
                .values
                .iter()
                .find(|s| same_value(&s[j], value))
                .expect("checked when the spec was parsed");
            for (p, v) in axis.paths.iter().zip(step) {
                replace.extend(column(p).map(|c| (c, v.clone())));
            }
        }
    }
    let key = |params: &[Value]| -> String {
        params
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    let mut point_of: HashMap<String, usize> = HashMap::new();
    for r in &grid.runs {
        point_of.entry(key(&r.params)).or_insert(r.point);
    }
    let mut out = vec![None; grid.points];
    for r in &grid.runs {
        let mut params = r.params.clone();
        for (c, v) in &replace {
            params[*c] = v.clone();
        }
        // A point that is its own baseline gets None (it is compared with nothing).
        out[r.point] = point_of
            .get(&key(&params))
            .copied()
            .filter(|&b| b != r.point);
    }
    out
}

/// Every comparison row, in grid order of the points, metrics in table order. Points whose
/// baseline point does not exist (excluded) get rows with n = 0. (The sweep builds the same
/// rows point by point as it streams the journal, through [`point_rows`].)
pub fn comparisons(
    grid: &Grid,
    axes: &[Axis],
    baseline: &[(String, Value)],
    records: &dyn Records,
) -> Vec<Comparison> {
    let baselines = baseline_points(grid, axes, baseline);
    let is_baseline = baseline_test(grid, baseline);
    let mut runs_of: Vec<Vec<usize>> = vec![Vec::new(); grid.points];
    for r in &grid.runs {
        runs_of[r.point].push(r.index);
    }
    let rows_of = |point: usize| -> Vec<(u64, Option<MetricRow>)> {
        runs_of[point]
            .iter()
            .map(|&i| {
                let run = &grid.runs[i];
                let record = records.record(&run.run_id).filter(|r| r.is_ok());
                (run.seed, record.map(|r| r.into_owned().metrics))
            })
            .collect()
    };
    let mut out = Vec::new();
    for (point, runs) in runs_of.iter().enumerate() {
        if is_baseline(&grid.runs[runs[0]]) {
            continue;
        }
        let base = baselines[point].map(rows_of).unwrap_or_default();
        let own = rows_of(point);
        out.extend(point_rows(runs[0], &refs(&own), &refs(&base)));
    }
    out
}

/// Borrowed (seed, metrics) rows, as [`point_rows`] takes them.
fn refs(rows: &[(u64, Option<MetricRow>)]) -> Vec<(u64, Option<&MetricRow>)> {
    rows.iter().map(|(s, r)| (*s, r.as_ref())).collect()
}

/// Whether a run belongs to a baseline point (it has every baseline value).
pub(super) fn baseline_test<'a>(
    grid: &'a Grid,
    baseline: &'a [(String, Value)],
) -> impl Fn(&super::grid::RunPoint) -> bool + 'a {
    move |run| {
        baseline.iter().all(|(path, value)| {
            grid.columns
                .iter()
                .position(|c| c == path)
                .is_some_and(|c| same_value(&run.params[c], value))
        })
    }
}

/// One point's comparison rows, one per metric in table order: `runs` are the point's
/// (seed, metrics of a successful run), `baseline` its baseline point's; the seeds where both
/// succeeded and define the metric are the pairs. `first` is the point's first run.
pub fn point_rows(
    first: usize,
    runs: &[(u64, Option<&MetricRow>)],
    baseline: &[(u64, Option<&MetricRow>)],
) -> Vec<Comparison> {
    let base: HashMap<u64, &MetricRow> = baseline
        .iter()
        .filter_map(|(seed, row)| Some((*seed, (*row)?)))
        .collect();
    // The runs paired by seed once, for every metric.
    let paired_rows: Vec<(&MetricRow, &MetricRow)> = runs
        .iter()
        .filter_map(|(seed, row)| Some(((*row)?, *base.get(seed)?)))
        .collect();
    let value = |row: &MetricRow, m: usize| row.f64_at(m).filter(|x| x.is_finite());
    RunSummary::metric_schema()
        .iter()
        .enumerate()
        .map(|(m, metric)| {
            let pairs: Vec<(f64, f64)> = paired_rows
                .iter()
                .filter_map(|(own, b)| Some((value(own, m)?, value(b, m)?)))
                .collect();
            row(first, metric.name, &pairs)
        })
        .collect()
}

/// A comparison row from (point value, baseline value) pairs.
fn row(run: usize, metric: &'static str, pairs: &[(f64, f64)]) -> Comparison {
    let n = pairs.len() as u64;
    let diffs: Vec<f64> = pairs.iter().map(|(x, b)| x - b).collect();
    let mean_of =
        |f: fn(&(f64, f64)) -> f64| (n > 0).then(|| pairs.iter().map(f).sum::<f64>() / n as f64);
    let baseline_mean = mean_of(|p| p.1);
    let test = paired(&diffs);
    let record = better(metric).map(|dir| {
        let mut wtl = (0, 0, 0);
        for &(x, b) in pairs {
            let point_better = match dir {
                Better::Lower => x < b,
                Better::Higher => x > b,
            };
            if x == b {
                wtl.1 += 1;
            } else if point_better {
                wtl.0 += 1;
            } else {
                wtl.2 += 1;
            }
        }
        wtl
    });
    Comparison {
        run,
        metric,
        n,
        baseline_mean,
        mean: mean_of(|p| p.0),
        diff_mean: test.map(|t| t.diff_mean),
        diff_ci: test.and_then(|t| t.ci),
        rel_diff: match (test, baseline_mean) {
            (Some(t), Some(b)) if b != 0.0 => Some(t.diff_mean / b),
            _ => None,
        },
        p_value: test.and_then(|t| t.p_value),
        record,
    }
}

#[cfg(test)]
mod tests;
