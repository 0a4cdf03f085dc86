//! The tables of a sweep's page: its points, its failed runs, its manifest.

use serde_json::Value;

use super::html::Page;
use super::load::Table;
use super::sweep_charts::{frontier_column, PARETO_TPOT, PARETO_Y};

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
