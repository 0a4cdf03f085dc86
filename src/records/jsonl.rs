//! JSON-lines records: one object per row, keys in column order, null where undefined.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::{AnyValue, DataFrame};
use serde_json::Value;

use super::sink::RowSink;
use crate::{Error, Result};

pub struct JsonLines {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonLines {
    pub fn create(path: &Path) -> Result<Box<dyn RowSink>> {
        let file = File::create(path)
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
        Ok(Box::new(JsonLines {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        }))
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::new(format!("writing {}: {e}", self.path.display()))
    }
}

fn json(value: AnyValue) -> Value {
    match value {
        AnyValue::UInt32(x) => Value::from(x),
        AnyValue::UInt64(x) => Value::from(x),
        AnyValue::Int64(x) => Value::from(x),
        AnyValue::Float64(x) if x.is_finite() => Value::from(x),
        AnyValue::String(s) => Value::from(s),
        AnyValue::StringOwned(s) => Value::from(s.as_str()),
        AnyValue::Boolean(b) => Value::from(b),
        _ => Value::Null,
    }
}

impl RowSink for JsonLines {
    fn write(&mut self, frame: &mut DataFrame) -> Result<()> {
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let columns = frame.columns();
        let mut line = String::new();
        for row in 0..frame.height() {
            line.clear();
            line.push('{');
            for (k, (name, column)) in names.iter().zip(columns).enumerate() {
                if k > 0 {
                    line.push(',');
                }
                let value = column
                    .get(row)
                    .map_err(|e| Error::new(format!("writing {}: {e}", self.path.display())))?;
                line.push_str(&Value::from(name.as_str()).to_string());
                line.push(':');
                line.push_str(&json(value).to_string());
            }
            line.push_str("}\n");
            let result = self.out.write_all(line.as_bytes());
            result.map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let result = self.out.flush();
        result.map_err(|e| self.io(e))
    }
}
