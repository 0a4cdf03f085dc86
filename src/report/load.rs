//! Reading what the tool wrote: a results folder's tables (Parquet when present, else CSV),
//! its manifest and spec, and the per-request / time-series files a run may point to.
//!
//! Tables become plain rows of JSON values: the page embeds them as they are, so the numbers a
//! reader sees, the charts draw and a test checks are one and the same.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// One table, column-major names and row-major values.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// A column as numbers (None where null or not a number); None when there is no column.
    pub fn numbers(&self, column: &str) -> Option<Vec<Option<f64>>> {
        let i = self.index(column)?;
        Some(self.rows.iter().map(|r| r[i].as_f64()).collect())
    }

    /// True when the column exists and holds at least one number.
    pub fn has_numbers(&self, column: &str) -> bool {
        self.numbers(column)
            .is_some_and(|v| v.iter().any(Option::is_some))
    }

    /// A cell as display text (empty for null).
    pub fn text(&self, row: usize, column: &str) -> String {
        self.index(column)
            .map(|i| cell_text(&self.rows[row][i]))
            .unwrap_or_default()
    }

    /// The rows as JSON objects, column name to value.
    pub fn to_json_rows(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let object: Map<String, Value> = self
                        .columns
                        .iter()
                        .cloned()
                        .zip(row.iter().cloned())
                        .collect();
                    Value::Object(object)
                })
                .collect(),
        )
    }
}

/// A cell as a person reads it: numbers shortened to 4 significant digits.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => short_number(n.as_f64().unwrap_or(f64::NAN)),
        other => other.to_string(),
    }
}

/// A float with 4 significant digits, without an exponent for everyday magnitudes.
pub fn short_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    if (1e-3..1e7).contains(&x.abs()) {
        let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{x:.digits$}");
        if text.contains('.') {
            return text.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return text;
    }
    format!("{x:.3e}")
}

/// The table `stem` in `dir`: `stem.parquet` when present, else `stem.csv`; None when neither.
pub fn read_table(dir: &Path, stem: &str) -> Result<Option<Table>> {
    let parquet = dir.join(format!("{stem}.parquet"));
    let csv = dir.join(format!("{stem}.csv"));
    if parquet.is_file() {
        read_file(&parquet).map(Some)
    } else if csv.is_file() {
        read_file(&csv).map(Some)
    } else {
        Ok(None)
    }
}

/// A Parquet or CSV file (by extension) as a table.
pub fn read_file(path: &Path) -> Result<Table> {
    let fail = |e: PolarsError| Error::new(format!("reading {}: {e}", path.display()));
    let frame = if path.extension().is_some_and(|e| e == "parquet") {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::new(format!("reading {}: {e}", path.display())))?;
        ParquetReader::new(file).finish().map_err(fail)?
    } else {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .map_err(fail)?
            .finish()
            .map_err(fail)?
    };
    to_table(&frame).map_err(fail)
}

/// Every Parquet or CSV file directly under `dir`, in name order, stacked (a partitioned
/// `requests/run_id=<id>/` folder).
pub fn read_partition(dir: &Path) -> Result<Option<Table>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet" || e == "csv"))
        .collect();
    files.sort();
    let mut out: Option<Table> = None;
    for file in files {
        let table = read_file(&file)?;
        match &mut out {
            None => out = Some(table),
            Some(all) if all.columns == table.columns => all.rows.extend(table.rows),
            Some(_) => {}
        }
    }
    Ok(out)
}

/// A frame as a [`Table`] (the rule every page embeds tables by).
pub fn table_of(frame: &DataFrame) -> Result<Table> {
    to_table(frame).map_err(|e| Error::new(format!("reading a table: {e}")))
}

fn to_table(frame: &DataFrame) -> PolarsResult<Table> {
    let columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut values: Vec<Vec<Value>> = Vec::with_capacity(columns.len());
    for column in frame.columns() {
        values.push(column_values(column)?);
    }
    let rows = (0..frame.height())
        .map(|r| values.iter().map(|c| c[r].clone()).collect())
        .collect();
    Ok(Table { columns, rows })
}

/// A column's values: integers stay integers, floats floats (NaN and infinities null, as JSON
/// has no spelling for them), booleans booleans, anything else its text.
fn column_values(column: &Column) -> PolarsResult<Vec<Value>> {
    let dtype = column.dtype();
    Ok(if dtype.is_integer() {
        let c = column.cast(&DataType::Int64)?;
        c.i64()?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::from))
            .collect()
    } else if dtype.is_float() {
        let c = column.cast(&DataType::Float64)?;
        c.f64()?
            .iter()
            .map(|v| {
                v.and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            })
            .collect()
    } else if dtype == &DataType::Boolean {
        column
            .bool()?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Bool))
            .collect()
    } else {
        let c = column.cast(&DataType::String)?;
        c.str()?
            .iter()
            .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
            .collect()
    })
}

/// A JSON file, or None when it is absent or unreadable (the page says so instead).
pub fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short_number(12.34567), "12.35");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(1234.0), "1234");
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(1.5e9), "1.500e9");
    }
}
