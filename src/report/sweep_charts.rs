//! The charts of a sweep, each from one table's columns as written: a metric's `_mean` against
//! an axis with its `_ci95_lo`/`_ci95_hi` as bars, the Pareto frontier of throughput per GPU
//! against tokens/s per user, and each group's capacity.

use std::collections::BTreeMap;

use serde_json::Value;

use super::charts::{file_stem, Chart, Mark, Point, Series};
use super::load::{cell_text, Table};
use super::pareto::frontier;

/// True when an axis column holds numbers only (drawn as an x axis); else it is categorical.
pub fn is_numeric(table: &Table, axis: &str) -> bool {
    let Some(i) = table.index(axis) else {
        return false;
    };
    table
        .rows
        .iter()
        .all(|r| r[i].is_number() || r[i].is_null())
        && table.has_numbers(axis)
}

/// The label of a row's values of `axes` ("scheduler.policy=fcfs, ..."); empty with no axes.
pub fn point_label(table: &Table, row: usize, axes: &[String]) -> String {
    axes.iter()
        .map(|a| format!("{a}={}", table.text(row, a)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `metric`'s mean against the axis `x` (numeric, or categorical when `categorical`), one
/// series per combination of the `others` axes, bars from the summary's 95% interval columns.
pub fn metric_chart(
    summary: &Table,
    metric: &str,
    x: &str,
    others: &[String],
    categorical: bool,
) -> Option<Chart> {
    let mean = summary.numbers(&format!("{metric}_mean"))?;
    let lo = summary.numbers(&format!("{metric}_ci95_lo"));
    let hi = summary.numbers(&format!("{metric}_ci95_hi"));
    let xi = summary.index(x)?;
    let mut categories: Vec<String> = Vec::new();
    if categorical {
        for row in &summary.rows {
            let name = cell_text(&row[xi]);
            if !categories.contains(&name) {
                categories.push(name);
            }
        }
    }
    // Series in order of first appearance (grid order), keyed by the other axes' values.
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for (r, row) in summary.rows.iter().enumerate() {
        let Some(y) = mean[r] else { continue };
        let px = if categorical {
            let name = cell_text(&row[xi]);
            categories.iter().position(|c| *c == name).unwrap_or(0) as f64
        } else {
            match row[xi].as_f64() {
                Some(v) => v,
                None => continue,
            }
        };
        let interval = match (&lo, &hi) {
            (Some(lo), Some(hi)) => lo[r].zip(hi[r]),
            _ => None,
        };
        let key = point_label(summary, r, others);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(Point {
            interval,
            ..Point::new(px, y)
        });
    }
    let series = order
        .into_iter()
        .map(|name| {
            let mut points = groups.remove(&name).unwrap_or_default();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series {
                name,
                mark: if categorical { Mark::Dots } else { Mark::Line },
                grey: false,
                points,
            }
        })
        .collect();
    Some(Chart {
        name: file_stem(&format!("{metric}-vs-{x}")),
        title: format!("{metric} vs {x}"),
        x_label: x.to_string(),
        y_label: format!("{metric} (mean, 95% CI)"),
        x_categories: categorical.then_some(categories),
        series,
    })
}

/// Summary columns of the Pareto chart: y, and the TPOT whose reciprocal is x.
pub const PARETO_Y: &str = "output_tokens_per_s_per_gpu_mean";
pub const PARETO_TPOT: &str = "tpot_ms_mean_mean";

/// Most frontier points labelled: more labels would overlap.
const MAX_LABELS: usize = 10;

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let head: String = text.chars().take(limit - 1).collect();
    format!("{head}…")
}

/// The Pareto chart, and per summary row whether it is on the frontier (None: not drawn).
pub fn pareto_chart(summary: &Table, axes: &[String]) -> Option<(Chart, Vec<Option<bool>>)> {
    let y = summary.numbers(PARETO_Y)?;
    let tpot = summary.numbers(PARETO_TPOT)?;
    let rows: Vec<usize> = (0..summary.rows.len())
        .filter(|&r| y[r].is_some() && tpot[r].is_some_and(|t| t > 0.0))
        .collect();
    let points: Vec<(f64, f64)> = rows
        .iter()
        .map(|&r| {
            (
                1000.0 / tpot[r].unwrap_or(f64::NAN),
                y[r].unwrap_or(f64::NAN),
            )
        })
        .collect();
    let on = frontier(&points);
    let mut front = Vec::new();
    let mut dominated = Vec::new();
    let mut flags = vec![None; summary.rows.len()];
    // Frontier points at the same place (equal means) share one marker; their labels list
    // each axis's values there, `/`-separated.
    let mut places: Vec<(f64, f64, Vec<Vec<String>>)> = Vec::new();
    for (k, &r) in rows.iter().enumerate() {
        let (x, y) = points[k];
        flags[r] = Some(on[k]);
        if !on[k] {
            dominated.push(Point::new(x, y));
            continue;
        }
        let values: Vec<String> = axes.iter().map(|a| summary.text(r, a)).collect();
        match places.iter_mut().find(|p| p.0 == x && p.1 == y) {
            Some(place) => {
                for (seen, v) in place.2.iter_mut().zip(values) {
                    if !seen.contains(&v) {
                        seen.push(v);
                    }
                }
            }
            None => places.push((x, y, values.into_iter().map(|v| vec![v]).collect())),
        }
    }
    // A label on every point up to MAX_LABELS, else on evenly spaced ones.
    places.sort_by(|a, b| a.0.total_cmp(&b.0));
    let every = places.len().div_ceil(MAX_LABELS).max(1);
    for (i, (x, y, values)) in places.into_iter().enumerate() {
        let text: Vec<String> = values.iter().map(|v| v.join("/")).collect();
        let text = text.join(", ");
        let label = (!text.is_empty() && i % every == 0).then(|| shorten(&text, 48));
        front.push(Point {
            label,
            ..Point::new(x, y)
        });
    }
    front.sort_by(|a, b| a.x.total_cmp(&b.x));
    let chart = Chart {
        name: "pareto-throughput-per-gpu-vs-tokens-per-user".to_string(),
        title: "Pareto frontier: throughput per GPU vs tokens/s per user".to_string(),
        x_label: "tokens/s per user (1000 / tpot_ms_mean)".to_string(),
        y_label: "output tokens/s per GPU".to_string(),
        x_categories: None,
        series: vec![
            Series {
                name: "dominated".to_string(),
                mark: Mark::Dots,
                grey: true,
                points: dominated,
            },
            Series {
                name: "frontier".to_string(),
                mark: Mark::Line,
                grey: false,
                points: front,
            },
        ],
    };
    Some((chart, flags))
}

/// Each capacity group's mean with its 95% interval (the capacity table's ci_low/ci_high).
pub fn capacity_chart(capacity: &Table, groups: &[String]) -> Option<Chart> {
    let mean = capacity.numbers("mean")?;
    let lo = capacity.numbers("ci_low");
    let hi = capacity.numbers("ci_high");
    let searched = if capacity.rows.is_empty() {
        String::new()
    } else {
        capacity.text(0, "searched")
    };
    let mut names = Vec::new();
    let mut points = Vec::new();
    for r in 0..capacity.rows.len() {
        let name = point_label(capacity, r, groups);
        let name = if name.is_empty() {
            "all".to_string()
        } else {
            name
        };
        names.push(name);
        if let Some(y) = mean[r] {
            let interval = match (&lo, &hi) {
                (Some(lo), Some(hi)) => lo[r].zip(hi[r]),
                _ => None,
            };
            points.push(Point {
                interval,
                ..Point::new(r as f64, y)
            });
        }
    }
    Some(Chart {
        name: "capacity".to_string(),
        title: format!("Capacity: largest {searched} meeting the SLO"),
        x_label: "group".to_string(),
        y_label: format!("{searched} (mean, 95% CI)"),
        x_categories: Some(names),
        series: vec![Series {
            name: String::new(),
            mark: Mark::Dots,
            grey: false,
            points,
        }],
    })
}

/// The values of the frontier flags as a table column.
pub fn frontier_column(flags: &[Option<bool>]) -> Vec<Value> {
    flags
        .iter()
        .map(|f| match f {
            Some(true) => Value::String("frontier".into()),
            Some(false) => Value::String("dominated".into()),
            None => Value::Null,
        })
        .collect()
}
