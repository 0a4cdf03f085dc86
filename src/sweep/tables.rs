//! The runs and summary tables (polars), written as CSV and/or Parquet.
//!
//! runs: one row per run in grid order —
//!   run_id, <axis columns>, model, hardware, seed, status, error, wall_ms, <every RunSummary
//!   metric>.
//! summary: one row per point (the seed folded) in grid order —
//!   <axis columns>, model, hardware, n (ok runs), n_error, then for each metric
//!   <metric>_mean, _std, _ci95_lo, _ci95_hi, _min, _max.
//! summary_long: the same statistics, one row per (point, metric), for tools that would
//!   rather filter on a `metric` column than pick among 300 wide ones —
//!   <axis columns>, model, hardware, metric, n, mean, std, ci_low, ci_high, min, max
//!   (n counts the runs that define the metric; min and max are floats for every metric).
//!
//! comparisons (with `[compare]` in the spec): one row per point that is not a baseline and
//!   metric — <axis columns>, metric, n, baseline_mean, mean, diff_mean, diff_ci_low,
//!   diff_ci_high, rel_diff, p_value, wins, ties, losses (see compare.rs).
//!
//! Axis columns keep their natural type (integer, float, string, boolean), decided by the
//! values rather than their TOML spelling: an axis whose numbers are all whole (8192 and
//! 8192.0) is an integer column, one with a fraction anywhere a float column, so the same
//! grid written two ways gives the same tables. Table values (a length distribution) become
//! their inline TOML text. `model` and `hardware` are each run's `model.name` and
//! `hardware.name` (null for a run whose config is invalid), so a grid over base configs
//! reads by name rather than file. `_std` is the sample standard
//! deviation (n - 1); the 95% interval is mean +- t(0.975, n - 1) std / sqrt(n), null when
//! fewer than two runs define the metric. A run that failed has null metrics and counts in
//! n_error only.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use toml::Value;

use super::compare::Comparison;
use super::grid::Grid;
use super::journal::RunRecord;
use super::stats::ci95;
use crate::metrics::{MetricValue, RunSummary};
use crate::{Error, Result};

/// Which files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub csv: bool,
    pub parquet: bool,
}

impl Formats {
    /// Parses "csv,parquet" (either or both).
    pub fn parse(text: &str) -> Result<Formats> {
        let mut f = Formats {
            csv: false,
            parquet: false,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "csv" => f.csv = true,
                "parquet" => f.parquet = true,
                other => {
                    return Err(Error::new(format!(
                        "--format {other:?}: allowed formats are csv and parquet (comma-separated)"
                    )))
                }
            }
        }
        if !f.csv && !f.parquet {
            return Err(Error::new("--format: name csv, parquet or both"));
        }
        Ok(f)
    }
}

const POINT: &str = "__point";
/// The columns naming each run's model and hardware (`model.name`, `hardware.name`).
pub const MODEL: &str = "model";
pub const HARDWARE: &str = "hardware";
const N_SUFFIX: &str = "__n";

fn polars_err(e: PolarsError) -> Error {
    Error::new(format!("building tables: {e}"))
}

/// The runs table, in grid order. Runs without a record are `missing`.
pub fn runs_frame(grid: &Grid, records: &HashMap<String, RunRecord>) -> Result<DataFrame> {
    let rows: Vec<Option<&RunRecord>> = grid.runs.iter().map(|r| records.get(&r.run_id)).collect();
    let mut columns: Vec<Column> = Vec::new();
    columns.push(Column::new(
        "run_id".into(),
        grid.runs
            .iter()
            .map(|r| r.run_id.as_str())
            .collect::<Vec<_>>(),
    ));
    for (i, name) in grid.columns.iter().enumerate() {
        let values: Vec<&Value> = grid.runs.iter().map(|r| &r.params[i]).collect();
        columns.push(axis_column(name, &values));
    }
    columns.extend(name_columns(grid, grid.runs.iter().map(|r| r.index)));
    columns.push(Column::new(
        "seed".into(),
        grid.runs.iter().map(|r| r.seed).collect::<Vec<u64>>(),
    ));
    columns.push(Column::new(
        "status".into(),
        rows.iter()
            .map(|r| r.map_or("missing", |r| r.status.as_str()))
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "error".into(),
        rows.iter()
            .map(|r| r.and_then(|r| r.error.as_deref()))
            .collect::<Vec<Option<&str>>>(),
    ));
    columns.push(Column::new(
        "wall_ms".into(),
        rows.iter()
            .map(|r| r.map(|r| r.wall_ms))
            .collect::<Vec<_>>(),
    ));
    // Columns by schema position from the typed rows: no name look-ups per run.
    for (i, metric) in RunSummary::metric_schema().iter().enumerate() {
        let column = match metric.value {
            MetricValue::Count(_) => Column::new(
                metric.name.into(),
                rows.iter()
                    .map(|r| r.and_then(|r| r.metrics.u64_at(i)))
                    .collect::<Vec<_>>(),
            ),
            MetricValue::Float(_) => Column::new(
                metric.name.into(),
                rows.iter()
                    .map(|r| r.and_then(|r| r.metrics.f64_at(i)))
                    .collect::<Vec<_>>(),
            ),
        };
        columns.push(column);
    }
    // Text-valued fields (the load verdict): a string column each, after the numeric metrics,
    // in the runs table only (they have no mean).
    for (name, _) in RunSummary::default().labels() {
        columns.push(Column::new(
            name.into(),
            rows.iter()
                .map(|r| r.and_then(|r| r.labels.get(name)).map(String::as_str))
                .collect::<Vec<Option<&str>>>(),
        ));
    }
    DataFrame::new_infer_height(columns).map_err(polars_err)
}

/// The `model` and `hardware` columns of the given runs (indices into `grid.runs`).
pub(super) fn name_columns(grid: &Grid, runs: impl Iterator<Item = usize> + Clone) -> [Column; 2] {
    let config = |i: usize| grid.runs[i].config.as_ref().ok();
    [
        Column::new(
            MODEL.into(),
            runs.clone()
                .map(|i| config(i).map(|c| c.model.name.as_str()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            HARDWARE.into(),
            runs.map(|i| config(i).map(|c| c.hardware.name.as_str()))
                .collect::<Vec<_>>(),
        ),
    ]
}

/// A number's value as an i64 when it is whole and in range (8192 and 8192.0 alike).
fn whole(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        // i64::MAX as f64 rounds up to 2^63: anything at or past it does not fit an i64.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < i64::MAX as f64 => Some(*f as i64),
        _ => None,
    }
}

/// An axis column with the values' natural type: integers when every value is a whole
/// number however it is spelled, floats when some number has a fraction, else booleans or
/// text.
pub(super) fn axis_column(name: &str, values: &[&Value]) -> Column {
    let all = |f: fn(&Value) -> bool| values.iter().all(|v| f(v));
    if all(|v| whole(v).is_some()) {
        Column::new(
            name.into(),
            values.iter().map(|v| whole(v)).collect::<Vec<_>>(),
        )
    } else if all(|v| v.is_integer() || v.is_float()) {
        let as_f64 = |v: &Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        Column::new(
            name.into(),
            values.iter().map(|v| as_f64(v)).collect::<Vec<_>>(),
        )
    } else if all(|v| v.is_bool()) {
        Column::new(
            name.into(),
            values.iter().map(|v| v.as_bool()).collect::<Vec<_>>(),
        )
    } else {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Column::new(
            name.into(),
            values.iter().map(|v| text(v)).collect::<Vec<_>>(),
        )
    }
}

/// The summary table: the runs grouped by point, in grid order.
pub fn summary_frame(grid: &Grid, runs: &DataFrame) -> Result<DataFrame> {
    summary_frames(grid, runs).map(|(wide, _)| wide)
}

/// The summary table and its long form (summary_long), from one grouping of the runs.
pub fn summary_frames(grid: &Grid, runs: &DataFrame) -> Result<(DataFrame, DataFrame)> {
    let metrics = RunSummary::metric_schema();
    let points = Column::new(
        POINT.into(),
        grid.runs.iter().map(|r| r.point as u64).collect::<Vec<_>>(),
    );
    let mut runs = runs.clone();
    runs.with_column(points).map_err(polars_err)?;

    let keys: Vec<&str> = grid
        .columns
        .iter()
        .map(String::as_str)
        .chain([MODEL, HARDWARE])
        .collect();
    let mut aggs: Vec<Expr> = keys.iter().map(|c| col(*c).first()).collect();
    aggs.push(
        col("status")
            .eq(lit("ok"))
            .sum()
            .cast(DataType::UInt64)
            .alias("n"),
    );
    aggs.push(
        col("status")
            .eq(lit("error"))
            .sum()
            .cast(DataType::UInt64)
            .alias("n_error"),
    );
    for m in &metrics {
        let c = || col(m.name);
        aggs.push(c().mean().alias(format!("{}_mean", m.name)));
        aggs.push(
            c().cast(DataType::Float64)
                .std(1)
                .alias(format!("{}_std", m.name)),
        );
        aggs.push(c().min().alias(format!("{}_min", m.name)));
        aggs.push(c().max().alias(format!("{}_max", m.name)));
        aggs.push(
            c().count()
                .cast(DataType::UInt64)
                .alias(format!("{}{N_SUFFIX}", m.name)),
        );
    }
    let grouped = runs
        .lazy()
        .group_by_stable([col(POINT)])
        .agg(aggs)
        .collect()
        .map_err(polars_err)?;

    let mut out: Vec<Column> = Vec::new();
    for name in keys.iter().copied().chain(["n", "n_error"]) {
        out.push(grouped.column(name).map_err(polars_err)?.clone());
    }
    let points = grouped.height();
    let mut long = LongColumns::default();
    for m in &metrics {
        let get = |suffix: &str| {
            grouped
                .column(&format!("{}{suffix}", m.name))
                .map_err(polars_err)
        };
        let mean = get("_mean")?.cast(&DataType::Float64).map_err(polars_err)?;
        let std = get("_std")?.clone();
        let count = get(N_SUFFIX)?.clone();
        let (mean_v, std_v, n_v) = (
            mean.f64().map_err(polars_err)?,
            std.f64().map_err(polars_err)?,
            count.u64().map_err(polars_err)?,
        );
        let intervals: Vec<Option<(f64, f64)>> = (0..grouped.height())
            .map(|i| match (mean_v.get(i), std_v.get(i), n_v.get(i)) {
                (Some(mu), Some(sd), Some(n)) => ci95(mu, sd, n),
                _ => None,
            })
            .collect();
        // n = 1: std is null by definition (n - 1 = 0), and so is the interval.
        let std = Column::new(
            format!("{}_std", m.name).into(),
            (0..grouped.height())
                .map(|i| n_v.get(i).filter(|&n| n >= 2).and(std_v.get(i)))
                .collect::<Vec<_>>(),
        );
        let as_f64 = |c: &Column| -> Result<Vec<Option<f64>>> {
            let c = c.cast(&DataType::Float64).map_err(polars_err)?;
            Ok(c.f64().map_err(polars_err)?.iter().collect())
        };
        long.push(
            m.name,
            &count,
            &mean,
            &std,
            &intervals,
            &as_f64(get("_min")?)?,
            &as_f64(get("_max")?)?,
        )?;
        out.push(mean.with_name(format!("{}_mean", m.name).into()));
        out.push(std);
        out.push(Column::new(
            format!("{}_ci95_lo", m.name).into(),
            intervals
                .iter()
                .map(|ci| ci.map(|c| c.0))
                .collect::<Vec<_>>(),
        ));
        out.push(Column::new(
            format!("{}_ci95_hi", m.name).into(),
            intervals
                .iter()
                .map(|ci| ci.map(|c| c.1))
                .collect::<Vec<_>>(),
        ));
        out.push(get("_min")?.clone());
        out.push(get("_max")?.clone());
    }
    let wide = DataFrame::new_infer_height(out).map_err(polars_err)?;
    let long = long.frame(&wide.select(keys).map_err(polars_err)?, points)?;
    Ok((wide, long))
}

/// summary_long's statistics, gathered metric by metric (each a column over the points) and
/// laid out point by point, metrics in table order, by [`LongColumns::frame`].
#[derive(Default)]
struct LongColumns {
    metrics: Vec<&'static str>,
    n: Vec<Vec<Option<u64>>>,
    stats: Vec<[Vec<Option<f64>>; 6]>,
}

impl LongColumns {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        metric: &'static str,
        n: &Column,
        mean: &Column,
        std: &Column,
        intervals: &[Option<(f64, f64)>],
        min: &[Option<f64>],
        max: &[Option<f64>],
    ) -> Result<()> {
        let floats = |c: &Column| -> Result<Vec<Option<f64>>> {
            Ok(c.f64().map_err(polars_err)?.iter().collect())
        };
        self.metrics.push(metric);
        self.n.push(n.u64().map_err(polars_err)?.iter().collect());
        self.stats.push([
            floats(mean)?,
            floats(std)?,
            intervals.iter().map(|c| c.map(|c| c.0)).collect(),
            intervals.iter().map(|c| c.map(|c| c.1)).collect(),
            min.to_vec(),
            max.to_vec(),
        ]);
        Ok(())
    }

    /// The long table: `keys` (one row per point) repeated for every metric, then the
    /// metric's name and statistics.
    fn frame(self, keys: &DataFrame, points: usize) -> Result<DataFrame> {
        let m = self.metrics.len();
        let rows = || (0..points).flat_map(move |p| (0..m).map(move |k| (p, k)));
        let index = IdxCa::from_vec("index".into(), rows().map(|(p, _)| p as IdxSize).collect());
        let mut columns: Vec<Column> = keys.take(&index).map_err(polars_err)?.into_columns();
        columns.push(Column::new(
            "metric".into(),
            rows().map(|(_, k)| self.metrics[k]).collect::<Vec<_>>(),
        ));
        columns.push(Column::new(
            "n".into(),
            rows().map(|(p, k)| self.n[k][p]).collect::<Vec<_>>(),
        ));
        let names = ["mean", "std", "ci_low", "ci_high", "min", "max"];
        for (s, name) in names.iter().enumerate() {
            columns.push(Column::new(
                (*name).into(),
                rows().map(|(p, k)| self.stats[k][s][p]).collect::<Vec<_>>(),
            ));
        }
        DataFrame::new_infer_height(columns).map_err(polars_err)
    }
}

/// The comparisons table: one row per (non-baseline point, metric), axis columns first.
pub fn comparisons_frame(grid: &Grid, rows: &[Comparison]) -> Result<DataFrame> {
    let mut columns: Vec<Column> = Vec::new();
    for (i, name) in grid.columns.iter().enumerate() {
        let values: Vec<&Value> = rows.iter().map(|r| &grid.runs[r.run].params[i]).collect();
        columns.push(axis_column(name, &values));
    }
    let f = |name: &str, get: &dyn Fn(&Comparison) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let c = |name: &str, get: &dyn Fn(&Comparison) -> Option<u64>| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    columns.push(Column::new(
        "metric".into(),
        rows.iter().map(|r| r.metric).collect::<Vec<_>>(),
    ));
    columns.push(c("n", &|r| Some(r.n)));
    columns.push(f("baseline_mean", &|r| r.baseline_mean));
    columns.push(f("mean", &|r| r.mean));
    columns.push(f("diff_mean", &|r| r.diff_mean));
    columns.push(f("diff_ci_low", &|r| r.diff_ci.map(|c| c.0)));
    columns.push(f("diff_ci_high", &|r| r.diff_ci.map(|c| c.1)));
    columns.push(f("rel_diff", &|r| r.rel_diff));
    columns.push(f("p_value", &|r| r.p_value));
    columns.push(c("wins", &|r| r.record.map(|w| w.0)));
    columns.push(c("ties", &|r| r.record.map(|w| w.1)));
    columns.push(c("losses", &|r| r.record.map(|w| w.2)));
    DataFrame::new_infer_height(columns).map_err(polars_err)
}

/// Writes `<stem>.csv` and/or `<stem>.parquet` into `dir` (via a temporary file and a rename,
/// so a reader never sees half a table).
pub fn write(dir: &Path, stem: &str, df: &mut DataFrame, formats: Formats) -> Result<()> {
    let io =
        |p: &Path, e: &dyn std::fmt::Display| Error::new(format!("writing {}: {e}", p.display()));
    if formats.csv {
        let path = dir.join(format!("{stem}.csv"));
        let tmp = dir.join(format!(".{stem}.csv.tmp"));
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, &e))?;
        CsvWriter::new(&mut file)
            .finish(df)
            .map_err(|e| io(&path, &e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, &e))?;
    }
    if formats.parquet {
        let path = dir.join(format!("{stem}.parquet"));
        let tmp = dir.join(format!(".{stem}.parquet.tmp"));
        let file = File::create(&tmp).map_err(|e| io(&tmp, &e))?;
        ParquetWriter::new(file)
            .finish(df)
            .map_err(|e| io(&path, &e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_integers_however_spelled() {
        let v = |text: &str| -> Value { text.parse::<toml::Table>().unwrap()["x"].clone() };
        let column = |texts: &[&str]| {
            let values: Vec<Value> = texts.iter().map(|t| v(&format!("x = {t}"))).collect();
            axis_column("a", &values.iter().collect::<Vec<_>>())
        };
        let ints = column(&["8192", "8192.0", "16384"]);
        assert_eq!(ints.dtype(), &DataType::Int64);
        assert_eq!(
            ints.i64().unwrap().iter().collect::<Vec<_>>(),
            [Some(8192), Some(8192), Some(16384)]
        );
        assert_eq!(column(&["10", "20.5"]).dtype(), &DataType::Float64);
        // Past i64's range, or not a number at all, a float stays a float.
        assert_eq!(column(&["1", "1e19"]).dtype(), &DataType::Float64);
        assert_eq!(column(&["1", "nan"]).dtype(), &DataType::Float64);
        assert_eq!(column(&["1", "inf"]).dtype(), &DataType::Float64);
        assert_eq!(column(&["true", "false"]).dtype(), &DataType::Boolean);
        assert_eq!(column(&["1", "\"a\""]).dtype(), &DataType::String);
        assert_eq!(whole(&Value::Float(i64::MIN as f64)), None);
        assert_eq!(whole(&Value::Float(-0.0)), Some(0));
    }
}
