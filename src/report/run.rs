//! The page of one run: the JSON `inference-lab -c CONFIG -o RUN.json` writes, and the
//! per-request rows and time series its `outputs` object names, when it names them.

use std::path::Path;

use serde_json::{Map, Value};

use super::charts::{Chart, Mark, Point, Series};
use super::html::Page;
use super::load::{read_file, Table};
use super::outputs::{latency_cdfs, timeseries_charts};
use crate::{Error, Result};

/// The headline metrics, in this order, those the JSON has.
const KEY_METRICS: [&str; 18] = [
    "requests_completed",
    "requests_total",
    "simulated_s",
    "requests_per_s",
    "input_tokens_per_s",
    "output_tokens_per_s",
    "output_tokens_per_s_per_gpu",
    "gpus",
    "ttft_ms_p50",
    "ttft_ms_p99",
    "tpot_ms_p50",
    "tpot_ms_p99",
    "e2e_ms_p99",
    "kv_cache_util_mean",
    "preemptions_total",
    "prefix_cache_hit_rate",
    "slo_attainment",
    "goodput_requests_per_s",
];

/// Latencies of the distribution table and chart, and the statistics shown of each.
const LATENCIES: [&str; 4] = ["ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"];
const STATS: [&str; 7] = ["min", "mean", "p50", "p90", "p95", "p99", "max"];
const PERCENTILES: [&str; 4] = ["p50", "p90", "p95", "p99"];

/// Parses `text` (read from `path`) as a run's JSON: an object with a `metrics` object.
pub fn parse(path: &Path, text: &str) -> Result<Value> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Error::new(format!(
            "{}: not a results folder nor a run's JSON ({e}); give a sweep's results folder or the file `inference-lab -c CONFIG -o RUN.json` writes",
            path.display()
        ))
    })?;
    if !value.get("metrics").is_some_and(Value::is_object) {
        return Err(Error::new(format!(
            "{}: JSON without a \"metrics\" object, so not a run's JSON; give a sweep's results folder or the file `inference-lab -c CONFIG -o RUN.json` writes",
            path.display()
        )));
    }
    Ok(value)
}

/// The page of the run JSON at `path`.
pub fn page(path: &Path, run: &Value) -> Result<Page> {
    let name = path
        .file_name()
        .map_or("run".into(), |n| n.to_string_lossy().to_string());
    let mut page = Page::new(&format!("inference-lab report: {name}"));
    let metrics = run
        .get("metrics")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if run.get("overloaded").and_then(Value::as_bool) == Some(true) {
        page.note("The run was overloaded: requests arrived faster than the engine served them.");
    }

    page.heading("Key metrics");
    let rows = KEY_METRICS
        .iter()
        // A metric the run leaves undefined (the SLO's without [slo]) is left out.
        .filter_map(|k| {
            metrics
                .get(*k)
                .filter(|v| !v.is_null())
                .map(|v| vec![Value::String(k.to_string()), v.clone()])
        })
        .collect();
    page.table(
        &Table {
            columns: vec!["metric".into(), "value".into()],
            rows,
        },
        false,
        &[],
    );
    page.data("run-metrics", Value::Object(metrics.clone()));

    page.heading("Latency distribution");
    let mut columns = vec!["latency".to_string()];
    columns.extend(STATS.map(String::from));
    let rows = LATENCIES
        .iter()
        .map(|l| {
            let mut row = vec![Value::String(l.to_string())];
            row.extend(STATS.iter().map(|s| {
                metrics
                    .get(&format!("{l}_{s}"))
                    .cloned()
                    .unwrap_or(Value::Null)
            }));
            row
        })
        .collect();
    page.table(&Table { columns, rows }, false, &[]);
    for chart in percentile_charts(&metrics) {
        page.chart(
            chart,
            "The percentiles the run's JSON reports (metrics.<latency>_p50 ... _p99).",
        );
    }

    for key in ["classes", "sessions", "replicas"] {
        if let Some(value) = run.get(key) {
            page.heading(&format!("{}{}", key[..1].to_uppercase(), &key[1..]));
            page.table(&generic_table(value), true, &[]);
        }
    }

    page.heading("Requests and time series");
    outputs(&mut page, path, run)?;

    if let Some(config) = run.get("config") {
        page.heading("Config");
        page.preformatted(&serde_json::to_string_pretty(config).unwrap_or_default());
    }
    if let Some(version) = run.get("version").and_then(Value::as_str) {
        page.paragraph(&format!("Written by inference-lab {version}."));
    }
    Ok(page)
}

/// One chart per latency (their scales differ a hundredfold: TTFT against E2E).
fn percentile_charts(metrics: &Map<String, Value>) -> Vec<Chart> {
    LATENCIES
        .iter()
        .map(|l| Chart {
            name: format!("percentiles-{l}"),
            title: format!("{l} percentiles"),
            x_label: "percentile".into(),
            y_label: (*l).into(),
            x_categories: Some(PERCENTILES.map(String::from).to_vec()),
            series: vec![Series {
                name: String::new(),
                mark: Mark::Line,
                grey: false,
                points: PERCENTILES
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| {
                        let y = metrics.get(&format!("{l}_{p}"))?.as_f64()?;
                        Some(Point::new(i as f64, y))
                    })
                    .collect(),
            }],
        })
        .filter(|c| c.has_points())
        .collect()
}

/// The files the JSON's `outputs` object names (relative to the JSON's folder), drawn.
fn outputs(page: &mut Page, path: &Path, run: &Value) -> Result<()> {
    let Some(outputs) = run.get("outputs").and_then(Value::as_object) else {
        page.note("This run's JSON names no per-request rows or time series (no \"outputs\" object): only its summary is shown.");
        return Ok(());
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    for (key, what) in [
        ("requests", "per-request rows"),
        ("timeseries", "time series"),
    ] {
        let Some(file) = outputs.get(key).and_then(Value::as_str) else {
            page.note(&format!("No {what} (outputs.{key} absent)."));
            continue;
        };
        let file = folder.join(file);
        if !file.is_file() {
            page.note(&format!("The {what} file {} is missing.", file.display()));
            continue;
        }
        let table = read_file(&file)?;
        let charts = if key == "requests" {
            latency_cdfs(&table, "", "")
        } else {
            timeseries_charts(&table, "", "")
        };
        if charts.is_empty() {
            page.note(&format!(
                "The {what} file {} has none of the columns drawn.",
                file.display()
            ));
        }
        for chart in charts {
            let caption = if key == "requests" {
                "Fraction of requests at or below each latency, from the per-request rows."
            } else {
                "From the run's time series, over simulated time."
            };
            page.chart(chart, caption);
        }
    }
    Ok(())
}

/// A JSON value as a table: an array of objects or an object of objects a row each, any other
/// object one row per key. Nested objects flatten to dotted column names.
fn generic_table(value: &Value) -> Table {
    let entries: Vec<(Option<String>, &Value)> = match value {
        Value::Array(items) => items.iter().map(|v| (None, v)).collect(),
        Value::Object(map) if map.values().all(Value::is_object) => {
            map.iter().map(|(k, v)| (Some(k.clone()), v)).collect()
        }
        other => vec![(None, other)],
    };
    let mut table = Table::default();
    let keyed = entries.iter().any(|(k, _)| k.is_some());
    if keyed {
        table.columns.push("name".into());
    }
    let flat: Vec<Vec<(String, Value)>> = entries
        .iter()
        .map(|(_, v)| {
            let mut out = Vec::new();
            flatten(v, "", &mut out);
            out
        })
        .collect();
    for row in &flat {
        for (c, _) in row {
            if !table.columns.contains(c) {
                table.columns.push(c.clone());
            }
        }
    }
    for ((key, _), row) in entries.iter().zip(&flat) {
        let mut cells = vec![Value::Null; table.columns.len()];
        if let Some(key) = key {
            cells[0] = Value::String(key.clone());
        }
        for (c, v) in row {
            if let Some(i) = table.index(c) {
                cells[i] = v.clone();
            }
        }
        table.rows.push(cells);
    }
    table
}

fn flatten(value: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &name, out);
            }
        }
        Value::Array(items) => out.push((
            prefix.to_string(),
            Value::String(Value::Array(items.clone()).to_string()),
        )),
        other => out.push((
            if prefix.is_empty() {
                "value".into()
            } else {
                prefix.to_string()
            },
            other.clone(),
        )),
    }
}
