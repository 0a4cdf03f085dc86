//! Helpers for end-to-end sweep tests: a scratch folder with a spec over a fixture config, the
//! real binary run in it, and typed reads of the tables it writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use polars::prelude::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
pub const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");

/// A scratch folder, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(prefix: &str, test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `<name>.toml`: a spec named `name` over the tiny fixture, then `body`.
    pub fn spec(&self, name: &str, body: &str) -> PathBuf {
        let spec = self.0.join(format!("{name}.toml"));
        let base = toml::Value::from(TINY).to_string();
        std::fs::write(&spec, format!("name = \"{name}\"\nbase = {base}\n{body}")).unwrap();
        spec
    }

    /// Runs the binary in the folder, with no scheduler environment leaking in.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(&self.0)
            .stdin(Stdio::null())
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_ARRAY_TASK_COUNT")
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Exit code, stdout and stderr, for assertion messages.
#[allow(unused_imports)] // not every test binary describes sweep output
pub use super::cli::describe;

pub fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().unwrap()
}

pub fn column_f64(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let c = df.column(name).unwrap().cast(&DataType::Float64).unwrap();
    let c = c.f64().unwrap();
    (0..c.len()).map(|i| c.get(i)).collect()
}

pub fn column_str(df: &DataFrame, name: &str) -> Vec<String> {
    let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
    let c = c.str().unwrap();
    (0..c.len())
        .map(|i| c.get(i).unwrap_or("").to_string())
        .collect()
}
