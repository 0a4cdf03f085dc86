//! The tables of a sweep's page: its points, its failed runs, its manifest.

use serde_json::Value;

use super::html::Page;
use super::load::Table;
use super::sweep_charts::{frontier_column, is_numeric, metric_chart, PARETO_TPOT, PARETO_Y};

/// The points table: axes, run counts, each objective's mean and interval, the Pareto inputs,
/// and whether the point is on the frontier.
pub fn points_table(
    summary: &Table,
    axes: &[String],
    metrics: &[String],
    flags: &[Option<bool>],
) -> Table {
    let mut columns: Vec<String> = axes.to_vec();
    columns.extend(["n", "n_error"].map(String::from));
    for m in metrics {
        for s in ["mean", "ci95_lo", "ci95_hi"] {
            columns.push(format!("{m}_{s}"));
        }
    }
    for extra in [PARETO_Y, PARETO_TPOT, "slo_attainment_mean"] {
        if !columns.iter().any(|c| c == extra) && summary.has_numbers(extra) {
            columns.push(extra.to_string());
        }
    }
    columns.retain(|c| summary.index(c).is_some());
    let idx: Vec<usize> = columns.iter().filter_map(|c| summary.index(c)).collect();
    let mut rows: Vec<Vec<Value>> = summary
        .rows
        .iter()
        .map(|row| idx.iter().map(|&i| row[i].clone()).collect())
        .collect();
    if !flags.is_empty() {
        columns.push("pareto".to_string());
        for (row, flag) in rows.iter_mut().zip(frontier_column(flags)) {
            row.push(flag);
        }
    }
    Table { columns, rows }
}

/// The rows of runs that did not finish.
pub fn failed_rows(runs: &Table) -> Vec<usize> {
    (0..runs.rows.len())
        .filter(|&r| {
            let status = runs.text(r, "status");
            !status.is_empty() && status != "ok"
        })
        .collect()
}

/// The failed runs with their errors.
pub fn failures(page: &mut Page, runs: &Table, axes: &[String]) {
    page.heading("Failed runs");
    let failed = failed_rows(runs);
    if failed.is_empty() {
        page.paragraph("None: every run finished.");
        return;
    }
    let mut columns = vec!["run_id".to_string()];
    columns.extend(axes.iter().cloned());
    columns.extend(["seed", "status", "error"].map(String::from));
    columns.retain(|c| runs.index(c).is_some());
    let rows = failed
        .iter()
        .map(|&r| {
            columns
                .iter()
                .map(|c| Value::String(runs.text(r, c)))
                .collect()
        })
        .collect();
    page.table(&Table { columns, rows }, true, &[]);
}

/// The tool, its version, when it ran, the run counts and the spec's text.
pub fn manifest_section(page: &mut Page, manifest: Option<&Value>, spec: Option<&Value>) {
    page.heading("Manifest");
    match manifest {
        Some(m) => {
            let get = |k: &str| {
                m.get(k)
                    .map(|v| v.as_str().map_or(v.to_string(), String::from))
            };
            page.paragraph(&format!(
                "{} {}, started {}, finished {}.",
                get("tool").unwrap_or_else(|| "inference-lab".into()),
                get("version").unwrap_or_default(),
                get("started_at").unwrap_or_else(|| "?".into()),
                get("finished_at").unwrap_or_else(|| "?".into()),
            ));
            if let Some(counts) = m.get("counts") {
                page.preformatted(&serde_json::to_string_pretty(counts).unwrap_or_default());
            }
        }
        None => page.note("No manifest.json in the folder."),
    }
    match spec.and_then(|s| s.get("text")).and_then(Value::as_str) {
        Some(text) => page.preformatted(text),
        None => page.note("No spec.json in the folder."),
    }
}

/// Class metrics shown when none of the objective metrics is a class metric.
const CLASS_METRICS: [&str; 3] = ["ttft_ms_p99", "tpot_ms_p99", "slo_attainment"];

/// The classes_summary table (runs with request classes): each class's objective metrics per
/// point, and the first against the first numeric axis, one line per class (and other axes).
pub fn classes_section(page: &mut Page, classes: &Table, axes: &[String], metrics: &[String]) {
    page.heading("Request classes");
    let has = |m: &str| classes.index(&format!("{m}_mean")).is_some();
    let mut shown: Vec<String> = metrics.iter().filter(|m| has(m)).cloned().collect();
    if shown.is_empty() {
        shown = CLASS_METRICS
            .iter()
            .filter(|m| has(m))
            .map(|m| m.to_string())
            .collect();
    }
    let x = axes.iter().find(|a| is_numeric(classes, a));
    if let (Some(x), Some(metric)) = (x, shown.first()) {
        let mut others: Vec<String> = axes.iter().filter(|a| *a != x).cloned().collect();
        others.push("class".to_string());
        if let Some(mut chart) = metric_chart(classes, metric, x, &others, false) {
            chart.name = format!("classes-{}", chart.name);
            chart.title = format!("{} per class", chart.title);
            page.chart(
                chart,
                &format!("Each class's mean {metric} over seeds; bars: classes_summary's {metric}_ci95_lo and _ci95_hi."),
            );
        }
    }
    let mut columns: Vec<String> = axes.to_vec();
    columns.extend(["class", "n"].map(String::from));
    for m in &shown {
        for s in ["mean", "ci95_lo", "ci95_hi"] {
            columns.push(format!("{m}_{s}"));
        }
    }
    columns.retain(|c| classes.index(c).is_some());
    let idx: Vec<usize> = columns.iter().filter_map(|c| classes.index(c)).collect();
    let rows = classes
        .rows
        .iter()
        .map(|row| idx.iter().map(|&i| row[i].clone()).collect())
        .collect();
    page.table(&Table { columns, rows }, true, &[]);
    page.data("classes-summary-data", classes.to_json_rows());
}
