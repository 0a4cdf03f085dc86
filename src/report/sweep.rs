//! The page of a sweep's results folder.

use std::path::Path;

use serde_json::Value;

use super::html::Page;
use super::load::{read_json, read_partition, read_table, Table};
use super::outputs::{latency_cdfs, timeseries_charts};
use super::sweep_charts::{
    capacity_chart, is_numeric, metric_chart, pareto_chart, point_label, PARETO_TPOT, PARETO_Y,
};
use super::sweep_tables::{classes_section, failed_rows, failures, manifest_section, points_table};
use crate::sweep::compare::{better, Better};
use crate::{Error, Result};

/// Objective metrics when the spec has no `[report]` list: the ones the sweep's console
/// answer uses, so the page and the terminal speak of the same metrics.
const DEFAULT_METRICS: [&str; 3] = crate::sweep::report::DEFAULT_OBJECTIVES;

/// Significance level of the comparisons table's marks.
const ALPHA: f64 = 0.05;

/// True when `dir` holds a summary table (the sign of a finished or merged sweep).
pub fn has_tables(dir: &Path) -> bool {
    ["summary.parquet", "summary.csv"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// The page of the results folder `dir`.
pub fn page(dir: &Path) -> Result<Page> {
    let summary = read_table(dir, "summary")?.ok_or_else(|| {
        Error::new(format!(
            "{}: no summary table (summary.parquet or summary.csv): run the sweep \
             (inference-lab sweep SPEC -o DIR) or merge its shards (inference-lab sweep merge DIR) first",
            dir.display()
        ))
    })?;
    let runs = read_table(dir, "runs")?;
    let manifest = read_json(&dir.join("manifest.json"));
    let spec = read_json(&dir.join("spec.json"));
    let name = manifest
        .as_ref()
        .and_then(|m| m.pointer("/spec/name"))
        .and_then(Value::as_str)
        .unwrap_or("sweep");
    let mut page = Page::new(&format!("inference-lab report: {name}"));
    let axes = axes(manifest.as_ref(), &summary);
    let metrics = objective_metrics(manifest.as_ref(), spec.as_ref(), &summary);
    overview(&mut page, &summary, runs.as_ref(), &axes);

    page.heading("Objective metrics");
    let groups = axis_groups(manifest.as_ref(), &axes);
    metric_charts(&mut page, &summary, &metrics, &axes, &groups);

    if let Some(comparisons) = read_table(dir, "comparisons")? {
        page.heading("Paired comparisons");
        comparison_table(&mut page, &comparisons, &metrics, manifest.as_ref());
    }

    page.heading("Throughput vs interactivity (Pareto frontier)");
    let flags = match pareto_chart(&summary, &axes) {
        Some((chart, flags)) => {
            let caption = format!(
                "Each point is a sweep point, means over its seeds. x: tokens/s per user = \
                 1000 / tpot_ms_mean, the decode speed one request sees; y: \
                 output_tokens_per_s_per_gpu. Grey points are dominated (another point is at \
                 least as good on both); frontier points are labelled with their values of {} \
                 (the pareto column of the table below marks every point).",
                axes.join(", ")
            );
            page.chart(chart, &caption);
            flags
        }
        None => {
            page.note(&format!(
                "No {PARETO_Y} and {PARETO_TPOT} in the summary table."
            ));
            Vec::new()
        }
    };

    capacity_section(&mut page, dir, &summary, &axes, &groups)?;

    if let Some(classes) = read_table(dir, "classes_summary")? {
        classes_section(&mut page, &classes, &axes, &metrics);
    }

    page.heading("All points");
    page.note("Click a column header to sort. The page's summary-data block holds every column of summary.");
    page.table(&points_table(&summary, &axes, &metrics, &flags), true, &[]);
    page.data("summary-data", summary.to_json_rows());

    if let Some(runs) = &runs {
        best_point_outputs(&mut page, dir, &summary, runs, &axes, &metrics)?;
        failures(&mut page, runs, &axes);
    }
    manifest_section(&mut page, manifest.as_ref(), spec.as_ref());
    Ok(page)
}

/// The axis columns: the manifest's list, else the summary's columns before `model`.
fn axes(manifest: Option<&Value>, summary: &Table) -> Vec<String> {
    if let Some(columns) = manifest
        .and_then(|m| m.get("columns"))
        .and_then(Value::as_array)
    {
        return columns
            .iter()
            .filter_map(Value::as_str)
            .filter(|c| summary.index(c).is_some())
            .map(String::from)
            .collect();
    }
    summary
        .columns
        .iter()
        .take_while(|c| *c != "model")
        .cloned()
        .collect()
}

/// The spec's `[report]` metrics (as the manifest records them, else from the spec's text in
/// spec.json), else the defaults; those the summary has.
fn objective_metrics(
    manifest: Option<&Value>,
    spec: Option<&Value>,
    summary: &Table,
) -> Vec<String> {
    let strings = |a: &Vec<Value>| -> Vec<String> {
        a.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    let recorded = manifest
        .and_then(|m| m.pointer("/spec/report"))
        .and_then(Value::as_array)
        .map(strings);
    let written = || {
        let text = spec?.get("text")?.as_str()?;
        let table: toml::Table = text.parse().ok()?;
        let metrics = table.get("report")?.get("metrics")?.as_array()?;
        Some(
            metrics
                .iter()
                .filter_map(|m| m.as_str())
                .map(String::from)
                .collect(),
        )
    };
    let named: Vec<String> = recorded
        .or_else(written)
        .filter(|v: &Vec<String>| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_METRICS.map(String::from).to_vec());
    named
        .into_iter()
        .filter(|m| summary.index(&format!("{m}_mean")).is_some())
        .collect()
}

fn overview(page: &mut Page, summary: &Table, runs: Option<&Table>, axes: &[String]) {
    let total = runs.map_or(0, |r| r.rows.len());
    let failed = runs.map_or(0, |r| failed_rows(r).len());
    page.paragraph(&format!(
        "{} points, {total} runs ({failed} failed). Axes: {}.",
        summary.rows.len(),
        if axes.is_empty() {
            "none".to_string()
        } else {
            axes.join(", ")
        }
    ));
    if total > 0 && failed == total {
        page.note(
            "Every run of this sweep failed: there are no metrics to draw. The errors are listed under Failed runs.",
        );
    }
}

/// The group of axes `axis` moves with (a `[[zip]]`), itself included.
fn group_of<'a>(groups: &'a [Vec<String>], axis: &'a String) -> &'a [String] {
    groups
        .iter()
        .find(|g| g.contains(axis))
        .map_or(std::slice::from_ref(axis), Vec::as_slice)
}

/// The axis groups of the manifest's spec (zipped axes together), else one group per axis.
fn axis_groups(manifest: Option<&Value>, axes: &[String]) -> Vec<Vec<String>> {
    let listed = manifest
        .and_then(|m| m.pointer("/spec/axes"))
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g.get("paths")?.as_array())
                .map(|paths| {
                    paths
                        .iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .collect::<Vec<Vec<String>>>()
        })
        .unwrap_or_default();
    let mut groups: Vec<Vec<String>> = listed
        .into_iter()
        .map(|g: Vec<String>| {
            g.into_iter()
                .filter(|a| axes.contains(a))
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect();
    for a in axes {
        if !groups.iter().any(|g| g.contains(a)) {
            groups.push(vec![a.clone()]);
        }
    }
    groups
}

/// Each metric against each numeric axis (one chart per zipped group, against its first
/// numeric axis), lines per combination of the other groups' values.
fn metric_charts(
    page: &mut Page,
    summary: &Table,
    metrics: &[String],
    axes: &[String],
    groups: &[Vec<String>],
) {
    if axes.is_empty() {
        page.note("The sweep has no axes: its single point is in the table below.");
        return;
    }
    let mut numeric: Vec<&String> = Vec::new();
    for a in axes.iter().filter(|a| is_numeric(summary, a)) {
        if !numeric.iter().any(|n| group_of(groups, n).contains(a)) {
            numeric.push(a);
        }
    }
    for metric in metrics {
        let mut xs: Vec<(&String, bool)> = numeric.iter().map(|a| (*a, false)).collect();
        if xs.is_empty() {
            xs.push((&axes[0], true));
        }
        for (x, categorical) in xs {
            let group = group_of(groups, x);
            let others: Vec<String> = axes
                .iter()
                .filter(|a| !group.contains(a))
                .cloned()
                .collect();
            let zipped: Vec<&String> = group.iter().filter(|a| *a != x).collect();
            let along = if zipped.is_empty() {
                String::new()
            } else {
                format!(
                    " {} moves with {x} ([[zip]]).",
                    zipped
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            if let Some(chart) = metric_chart(summary, metric, x, &others, categorical) {
                page.chart(
                    chart,
                    &format!(
                        "Mean of {metric} over seeds; bars: the summary's {metric}_ci95_lo and \
                         {metric}_ci95_hi (95% interval). One line per value of {}.{along}",
                        if others.is_empty() {
                            "-".to_string()
                        } else {
                            others.join(", ")
                        }
                    ),
                );
            }
        }
    }
    if metrics.is_empty() {
        page.note("None of the objective metrics is in the summary table.");
    }
}

/// The comparisons of the objective metrics (every metric when none is), p < 0.05 marked.
fn comparison_table(page: &mut Page, table: &Table, metrics: &[String], manifest: Option<&Value>) {
    let baseline = manifest
        .and_then(|m| m.pointer("/spec/compare"))
        .map(Value::to_string)
        .unwrap_or_else(|| "the spec's [compare] baseline".into());
    let metric = table.index("metric");
    let keep: Vec<usize> = (0..table.rows.len())
        .filter(|&r| {
            metrics.is_empty()
                || metric.is_none_or(|i| {
                    table.rows[r][i]
                        .as_str()
                        .is_some_and(|m| metrics.iter().any(|x| x == m))
                })
        })
        .collect();
    let shown = Table {
        columns: table.columns.clone(),
        rows: keep.iter().map(|&r| table.rows[r].clone()).collect(),
    };
    let p = shown.numbers("p_value").unwrap_or_default();
    let marked: Vec<bool> = p.iter().map(|p| p.is_some_and(|p| p < ALPHA)).collect();
    page.paragraph(&format!(
        "Each point against the baseline {baseline}, paired by seed, for the objective metrics \
         (comparisons has every metric). Highlighted rows: p_value < {ALPHA} ({} of {}).",
        marked.iter().filter(|m| **m).count(),
        marked.len()
    ));
    page.table(&shown, true, &marked);
}

fn capacity_section(
    page: &mut Page,
    dir: &Path,
    summary: &Table,
    axes: &[String],
    groups: &[Vec<String>],
) -> Result<()> {
    if let Some(capacity) = read_table(dir, "capacity")? {
        page.heading("Capacity");
        let end = capacity.index("searched").unwrap_or(0);
        let groups: Vec<String> = capacity.columns[..end]
            .iter()
            .filter(|c| *c != "model" && *c != "hardware")
            .cloned()
            .collect();
        if let Some(chart) = capacity_chart(&capacity, &groups) {
            page.chart(chart, "Mean over seeds of the largest value that meets the SLO; bars: the capacity table's ci_low and ci_high.");
        }
        // With a baseline, each group's capacity is compared with it seed by seed.
        let p = capacity.numbers("p_value").unwrap_or_default();
        let marked: Vec<bool> = p.iter().map(|p| p.is_some_and(|p| p < ALPHA)).collect();
        if !p.is_empty() {
            page.paragraph(&format!(
                "Highlighted rows: capacity differs from the baseline's with p_value < {ALPHA}."
            ));
        }
        page.table(&capacity, true, &marked);
    }
    if summary.has_numbers("slo_attainment_mean") {
        page.heading("SLO attainment");
        metric_charts(page, summary, &["slo_attainment".to_string()], axes, groups);
    }
    Ok(())
}

/// The latency CDFs and time series of the best point's first run, when the folder has
/// `requests/run_id=<id>/` or `timeseries/run_id=<id>/` files.
fn best_point_outputs(
    page: &mut Page,
    dir: &Path,
    summary: &Table,
    runs: &Table,
    axes: &[String],
    metrics: &[String],
) -> Result<()> {
    if !dir.join("requests").is_dir() && !dir.join("timeseries").is_dir() {
        return Ok(());
    }
    let Some(metric) = metrics.first() else {
        return Ok(());
    };
    let Some(means) = summary.numbers(&format!("{metric}_mean")) else {
        return Ok(());
    };
    let higher = better(metric) == Some(Better::Higher);
    let best = (0..means.len())
        .filter_map(|r| means[r].map(|m| (r, m)))
        .max_by(|a, b| {
            if higher {
                a.1.total_cmp(&b.1)
            } else {
                b.1.total_cmp(&a.1)
            }
        });
    let Some((best, _)) = best else { return Ok(()) };
    let label = point_label(summary, best, axes);
    let run = (0..runs.rows.len()).find(|&r| {
        runs.text(r, "status") == "ok"
            && axes
                .iter()
                .all(|a| runs.text(r, a) == summary.text(best, a))
    });
    let Some(run) = run else { return Ok(()) };
    let id = runs.text(run, "run_id");
    page.heading("Best point's requests and time series");
    page.paragraph(&format!("Best {metric}: {label}, run {id}."));
    let whose = format!(" (run {id})");
    let requests = read_partition(&dir.join("requests").join(format!("run_id={id}")))?;
    match requests {
        Some(t) => latency_cdfs(&t, "best-", &whose).into_iter().for_each(|c| {
            page.chart(
                c,
                "Fraction of the run's requests at or below each latency.",
            )
        }),
        None => page.note("No per-request rows for this run."),
    }
    let series = read_partition(&dir.join("timeseries").join(format!("run_id={id}")))?;
    match series {
        Some(t) => timeseries_charts(&t, "best-", &whose)
            .into_iter()
            .for_each(|c| page.chart(c, "Sampled over the run's simulated time.")),
        None => page.note("No time series for this run."),
    }
    Ok(())
}
