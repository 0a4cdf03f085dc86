//! The journal: one JSON line per finished run, appended and flushed as each run completes.
//!
//! It is the sweep's source of truth: the tables are rebuilt from it, and a rerun skips every
//! run whose id already has an `ok` record. A process killed mid-write leaves at most one torn
//! last line, which reading skips and appending starts a fresh line after.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub const JOURNAL_FILE: &str = "journal.jsonl";

/// The outcome of one run, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// "ok" or "error".
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub wall_ms: f64,
    pub seed: u64,
    /// Axis column -> value, for readers of the journal alone.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Flat metric name -> value (null when undefined or the run failed).
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

impl RunRecord {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

pub struct JournalWriter {
    file: File,
    path: PathBuf,
}

impl JournalWriter {
    /// Opens the journal for appending, starting a new line if the last one was torn.
    pub fn open(dir: &Path) -> Result<JournalWriter> {
        let path = dir.join(JOURNAL_FILE);
        let io = |e: std::io::Error| Error::new(format!("journal {}: {e}", path.display()));
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1)).map_err(io)?;
            file.read_exact(&mut last).map_err(io)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(io)?;
            }
        }
        Ok(JournalWriter { file, path })
    }

    /// Appends one record as a single write of a whole line, then flushes it to the OS, so a
    /// killed process loses nothing it has journaled.
    pub fn append(&mut self, record: &RunRecord) -> Result<()> {
        let mut line = serde_json::to_string(record).expect("records serialise");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::new(format!("journal {}: {e}", self.path.display())))
    }
}

/// Every record of the journal in `dir` (none if it does not exist), latest per run id.
pub fn read(dir: &Path) -> Result<HashMap<String, RunRecord>> {
    let path = dir.join(JOURNAL_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(Error::new(format!("journal {}: {e}", path.display()))),
    };
    let mut records = HashMap::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::new(format!("journal {}: {e}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        // A torn line (the process died mid-write) is skipped: its run simply reruns.
        if let Ok(record) = serde_json::from_str::<RunRecord>(&line) {
            records.insert(record.run_id.clone(), record);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, status: &str) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            status: status.into(),
            error: None,
            wall_ms: 1.5,
            seed: 1,
            params: Default::default(),
            metrics: serde_json::Map::from_iter([(
                "ttft_ms_p99".to_string(),
                serde_json::json!(2.5),
            )]),
        }
    }

    #[test]
    fn appends_survive_a_torn_last_line() {
        let dir = std::env::temp_dir().join(format!("il-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join(JOURNAL_FILE));
        let mut w = JournalWriter::open(&dir).unwrap();
        w.append(&record("a", "ok")).unwrap();
        w.append(&record("b", "error")).unwrap();
        drop(w);
        // Simulate a kill mid-write.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL_FILE))
            .unwrap();
        f.write_all(b"{\"run_id\":\"c\",\"sta").unwrap();
        drop(f);
        let mut w = JournalWriter::open(&dir).unwrap();
        w.append(&record("b", "ok")).unwrap();
        let records = read(&dir).unwrap();
        assert_eq!(records.len(), 2);
        assert!(records["a"].is_ok());
        assert!(records["b"].is_ok(), "the latest record of a run wins");
        assert_eq!(records["a"], record("a", "ok"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
