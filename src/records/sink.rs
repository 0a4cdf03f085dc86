//! Where a record's rows go: one small trait, one file per format (table.rs: CSV and
//! Parquet through polars, as the sweep tables are written; jsonl.rs: JSON lines).

use std::path::Path;

use polars::prelude::DataFrame;

use crate::{bail, Result};

/// A table written a batch of rows at a time; every batch has the same columns.
pub trait RowSink: Send {
    /// Appends the rows of `frame`.
    fn write(&mut self, frame: &mut DataFrame) -> Result<()>;
    /// Completes the file.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A sink for `path`, its format by extension: `.csv`, `.parquet` or `.jsonl`.
pub fn open(path: &Path) -> Result<Box<dyn RowSink>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "csv" | "parquet" => super::table::TableSink::create(path, ext),
        "jsonl" => super::jsonl::JsonLines::create(path),
        _ => bail!(
            "{}: unknown format {:?}: name the file .csv, .parquet or .jsonl",
            path.display(),
            ext
        ),
    }
}
