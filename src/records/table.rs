//! CSV and Parquet records, written as the sweep tables are (temporary file, renamed into
//! place when complete).

use std::path::Path;

use polars::prelude::DataFrame;

use super::sink::RowSink;
use crate::sweep::{Formats, TableWriter};
use crate::Result;

pub struct TableSink(TableWriter);

impl TableSink {
    pub fn create(path: &Path, ext: &str) -> Result<Box<dyn RowSink>> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("records")
            .to_string();
        let formats = Formats {
            csv: ext == "csv",
            parquet: ext == "parquet",
        };
        if !dir.is_dir() {
            crate::bail!(
                "{}: the folder {} does not exist",
                path.display(),
                dir.display()
            );
        }
        Ok(Box::new(TableSink(TableWriter::create(
            &dir, &stem, formats,
        )?)))
    }
}

impl RowSink for TableSink {
    fn write(&mut self, frame: &mut DataFrame) -> Result<()> {
        self.0.write(frame)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        self.0.finish()
    }
}
