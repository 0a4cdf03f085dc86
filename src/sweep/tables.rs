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
//! classes and classes_summary (runs with request classes): each class's metrics per run
//!   and per point (see tables/classes.rs).
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

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use toml::Value;

use super::grid::Grid;
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

/// The columns naming each run's model and hardware (`model.name`, `hardware.name`).
pub const MODEL: &str = "model";
pub const HARDWARE: &str = "hardware";

pub(super) fn polars_err(e: PolarsError) -> Error {
    Error::new(format!("building tables: {e}"))
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

/// The type of an axis column, decided once from all of its values, so that every table
/// and every chunk of a table written in pieces has the same type for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    /// Every value a whole number, however spelled.
    Integer,
    /// Numbers, some with a fraction.
    Float,
    Boolean,
    /// Anything else (a table value becomes its inline TOML text).
    Text,
}

impl AxisKind {
    pub fn of<'a>(values: impl Iterator<Item = &'a Value> + Clone) -> AxisKind {
        let all = |f: fn(&Value) -> bool| values.clone().all(f);
        if all(|v| whole(v).is_some()) {
            AxisKind::Integer
        } else if all(|v| v.is_integer() || v.is_float()) {
            AxisKind::Float
        } else if all(|v| v.is_bool()) {
            AxisKind::Boolean
        } else {
            AxisKind::Text
        }
    }

    /// The kind of every axis column of a grid.
    pub fn of_grid(grid: &Grid) -> Vec<AxisKind> {
        (0..grid.columns.len())
            .map(|i| AxisKind::of(grid.runs.iter().map(move |r| &r.params[i])))
            .collect()
    }

    /// A column of this kind.
    pub fn column(self, name: &str, values: &[&Value]) -> Column {
        match self {
            AxisKind::Integer => Column::new(
                name.into(),
                values.iter().map(|v| whole(v)).collect::<Vec<_>>(),
            ),
            AxisKind::Float => {
                let as_f64 = |v: &Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
                Column::new(
                    name.into(),
                    values.iter().map(|v| as_f64(v)).collect::<Vec<_>>(),
                )
            }
            AxisKind::Boolean => Column::new(
                name.into(),
                values.iter().map(|v| v.as_bool()).collect::<Vec<_>>(),
            ),
            AxisKind::Text => {
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
    }
}

/// An axis column with the values' natural type (see [`AxisKind`]).
pub(super) fn axis_column(name: &str, values: &[&Value]) -> Column {
    AxisKind::of(values.iter().copied()).column(name, values)
}

/// The axis columns (kinds as the grid's) and `model`, `hardware` of the given runs.
pub(super) fn key_columns(grid: &Grid, kinds: &[AxisKind], runs: &[usize]) -> Vec<Column> {
    let mut columns: Vec<Column> = grid
        .columns
        .iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (name, kind))| {
            let values: Vec<&Value> = runs.iter().map(|&r| &grid.runs[r].params[i]).collect();
            kind.column(name, &values)
        })
        .collect();
    columns.extend(name_columns(grid, runs.iter().copied()));
    columns
}

/// Writes `<stem>.csv` and/or `<stem>.parquet` into `dir` (via a temporary file and a rename,
/// so a reader never sees half a table).
pub fn write(dir: &Path, stem: &str, df: &mut DataFrame, formats: Formats) -> Result<()> {
    let mut writer = TableWriter::create(dir, stem, formats)?;
    writer.write(df)?;
    writer.finish()
}

/// A table written in pieces (every piece with the same columns), to temporary files renamed
/// into place by [`TableWriter::finish`]: a reader never sees half a table, and a table of a
/// million rows never has to be in memory at once.
pub struct TableWriter {
    dir: std::path::PathBuf,
    stem: String,
    formats: Formats,
    csv: Option<polars::io::csv::write::BatchedWriter<Buffered>>,
    parquet: Option<polars::io::parquet::write::BatchedWriter<Buffered>>,
    /// The first error of a buffer's last flush (when a finished writer drops it).
    flush_error: Arc<Mutex<Option<std::io::Error>>>,
    /// Nothing written yet: writers open on the first piece (its schema is the table's).
    empty: bool,
}

fn tmp_name(stem: &str, ext: &str) -> String {
    format!(".{stem}.{ext}.tmp")
}

impl TableWriter {
    pub fn create(dir: &Path, stem: &str, formats: Formats) -> Result<TableWriter> {
        Ok(TableWriter {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            formats,
            csv: None,
            parquet: None,
            flush_error: Arc::default(),
            empty: true,
        })
    }

    /// Whether no piece has been written yet.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    fn io(&self, ext: &str, e: &dyn std::fmt::Display) -> Error {
        let path = self.dir.join(format!("{}.{ext}", self.stem));
        Error::new(format!("writing {}: {e}", path.display()))
    }

    /// Appends a piece of the table.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        if self.empty {
            self.empty = false;
            let schema = df.schema().clone();
            if self.formats.csv {
                let file = File::create(self.dir.join(tmp_name(&self.stem, "csv")))
                    .map_err(|e| self.io("csv", &e))?;
                // Buffered: the writers issue many small writes (a parquet page header is
                // several), each a system call on a bare file.
                let mut file = Buffered::new(file, &self.flush_error);
                // The header line is written here: polars' own header writer fills a large
                // zeroed buffer once per process, a third of a one-run sweep's time.
                file.write_all(csv_header(&schema).as_bytes())
                    .map_err(|e| self.io("csv", &e))?;
                let writer = CsvWriter::new(file).include_header(false).batched(&schema);
                self.csv = Some(writer.map_err(|e| self.io("csv", &e))?);
            }
            if self.formats.parquet {
                let file = File::create(self.dir.join(tmp_name(&self.stem, "parquet")))
                    .map_err(|e| self.io("parquet", &e))?;
                let file = Buffered::new(file, &self.flush_error);
                // Snappy: what pyarrow and Spark write by default, and cheap to start (zstd
                // builds a compression context per column chunk: 7 ms of a one-run sweep).
                // No column statistics: readers of these tables scan them whole, and the
                // statistics of the wide summary's 370 columns were 3 ms of a one-run sweep.
                let writer = ParquetWriter::new(file)
                    .with_compression(ParquetCompression::Snappy)
                    .with_statistics(StatisticsOptions::empty())
                    .batched(&schema);
                self.parquet = Some(writer.map_err(|e| self.io("parquet", &e))?);
            }
        }
        df.rechunk_mut();
        if let Some(w) = &mut self.csv {
            let done = w.write_batch(df);
            done.map_err(|e| Error::new(format!("writing {}.csv: {e}", self.stem)))?;
        }
        if let Some(w) = &mut self.parquet {
            let done = w.write_batch(df);
            done.map_err(|e| Error::new(format!("writing {}.parquet: {e}", self.stem)))?;
        }
        Ok(())
    }

    /// Completes the files and renames them into place.
    pub fn finish(mut self) -> Result<()> {
        if self.empty {
            return Err(Error::new(format!("table {} has no columns", self.stem)));
        }
        if let Some(mut w) = self.csv.take() {
            w.finish().map_err(|e| self.io("csv", &e))?;
            drop(w);
            if let Some(e) = self.flush_error.lock().expect("not poisoned").take() {
                return Err(self.io("csv", &e));
            }
        }
        if let Some(w) = self.parquet.take() {
            w.finish().map_err(|e| self.io("parquet", &e))?;
            drop(w);
            if let Some(e) = self.flush_error.lock().expect("not poisoned").take() {
                return Err(self.io("parquet", &e));
            }
        }
        for (ext, on) in [("csv", self.formats.csv), ("parquet", self.formats.parquet)] {
            if on {
                let tmp = self.dir.join(tmp_name(&self.stem, ext));
                let path = self.dir.join(format!("{}.{ext}", self.stem));
                std::fs::rename(&tmp, &path).map_err(|e| self.io(ext, &e))?;
            }
        }
        Ok(())
    }
}

/// A CSV header line for these columns, quoted as the rows are (RFC 4180: a name with a
/// comma, quote or line break in quotes, quotes doubled).
fn csv_header(schema: &Schema) -> String {
    let names: Vec<String> = schema
        .iter_names()
        .map(|name| {
            let name = name.as_str();
            if name.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", name.replace('"', "\"\""))
            } else {
                name.to_string()
            }
        })
        .collect();
    names.join(",") + "\n"
}

/// A table file behind a large buffer. The polars writers issue many small writes (a parquet
/// page header is several), each a system call on a bare file; and they never hand their
/// writer back, so the last flush happens on drop, where its error is kept for
/// [`TableWriter::finish`] to report rather than lost.
struct Buffered {
    inner: BufWriter<File>,
    flush_error: Arc<Mutex<Option<std::io::Error>>>,
}

impl Buffered {
    fn new(file: File, flush_error: &Arc<Mutex<Option<std::io::Error>>>) -> Buffered {
        Buffered {
            inner: BufWriter::with_capacity(1 << 20, file),
            flush_error: flush_error.clone(),
        }
    }
}

impl Write for Buffered {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Drop for Buffered {
    fn drop(&mut self) {
        if let Err(e) = self.inner.flush() {
            self.flush_error
                .lock()
                .expect("not poisoned")
                .get_or_insert(e);
        }
    }
}

mod classes;
mod comparisons;
mod runs;
mod summary;

pub use classes::classes_frames;
pub use comparisons::comparisons_frame;
pub use runs::runs_frame;
pub use summary::{PointSummary, SummaryChunk};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_headers_quote_what_needs_quoting() {
        let schema = Schema::from_iter([
            Field::new("scheduler.policy".into(), DataType::String),
            Field::new("a,b".into(), DataType::Int64),
            Field::new("say \"hi\"".into(), DataType::Int64),
        ]);
        assert_eq!(
            csv_header(&schema),
            "scheduler.policy,\"a,b\",\"say \"\"hi\"\"\"\n"
        );
    }

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
