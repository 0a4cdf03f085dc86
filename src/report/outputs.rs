//! Charts from a run's own outputs: its per-request rows (latency CDFs) and its time series
//! (queue depth, KV cache, throughput over simulated time). Either may be absent; the page
//! then says so.

use super::charts::{file_stem, Chart, Mark, Point, Series};
use super::load::Table;

/// Latency columns of the per-request rows drawn as CDFs, with their chart titles.
const CDF_COLUMNS: [(&str, &str); 2] = [("ttft_ms", "TTFT"), ("e2e_ms", "E2E latency")];

/// Time-series columns drawn, each in its own chart, in this order when present.
const SERIES_COLUMNS: [(&str, &str); 5] = [
    ("running", "Running requests"),
    ("waiting", "Waiting requests"),
    ("kv_cache_util", "KV cache utilisation"),
    ("output_tokens_per_s", "Output tokens/s"),
    ("input_tokens_per_s", "Input tokens/s"),
];

/// Most points a CDF or time series keeps: more would only make the page heavier.
const MAX_POINTS: usize = 2000;

/// The empirical CDF of each latency column present (fraction of requests at or below x).
/// `prefix` keeps chart names apart when one page holds several runs' charts.
pub fn latency_cdfs(requests: &Table, prefix: &str, whose: &str) -> Vec<Chart> {
    let mut charts = Vec::new();
    for (column, title) in CDF_COLUMNS {
        let Some(values) = requests.numbers(column) else {
            continue;
        };
        let mut xs: Vec<f64> = values
            .into_iter()
            .flatten()
            .filter(|x| x.is_finite())
            .collect();
        if xs.is_empty() {
            continue;
        }
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let step = n.div_ceil(MAX_POINTS).max(1);
        let mut points: Vec<Point> = (0..n)
            .step_by(step)
            .map(|i| Point::new(xs[i], (i + 1) as f64 / n as f64))
            .collect();
        if points.last().is_some_and(|p| p.y < 1.0) {
            points.push(Point::new(xs[n - 1], 1.0));
        }
        charts.push(step_chart(
            file_stem(&format!("{prefix}cdf-{column}")),
            format!("{title} CDF{whose}"),
            (column, "fraction of requests"),
            points,
        ));
    }
    charts
}

/// A chart of one unnamed step line; `labels` are the x and y axes'.
fn step_chart(name: String, title: String, labels: (&str, &str), points: Vec<Point>) -> Chart {
    Chart {
        name,
        title,
        x_label: labels.0.to_string(),
        y_label: labels.1.to_string(),
        x_categories: None,
        series: vec![Series {
            name: String::new(),
            mark: Mark::Step,
            grey: false,
            points,
        }],
    }
}

/// One chart per time-series column present, against `time_s`.
pub fn timeseries_charts(series: &Table, prefix: &str, whose: &str) -> Vec<Chart> {
    let Some(time) = series.numbers("time_s") else {
        return Vec::new();
    };
    let mut charts = Vec::new();
    for (column, title) in SERIES_COLUMNS {
        let Some(values) = series.numbers(column) else {
            continue;
        };
        let all: Vec<Point> = time
            .iter()
            .zip(&values)
            .filter_map(|(t, v)| Some(Point::new((*t)?, (*v)?)))
            .collect();
        if all.is_empty() {
            continue;
        }
        let step = all.len().div_ceil(MAX_POINTS).max(1);
        let points = all.into_iter().step_by(step).collect();
        charts.push(step_chart(
            file_stem(&format!("{prefix}timeseries-{column}")),
            format!("{title} over time{whose}"),
            ("time_s (simulated)", column),
            points,
        ));
    }
    charts
}
