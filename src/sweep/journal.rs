//! The journal: one JSON line per finished run, appended and flushed as each run completes.
//!
//! It is the sweep's source of truth: the tables are rebuilt from it, and a rerun skips every
//! run whose id already has an `ok` record. A process killed mid-write leaves at most one torn
//! last line, which reading skips and appending starts a fresh line after.
//!
//! An unsharded sweep appends to `journal.jsonl`; shard K of N appends only to its own
//! `journal.shard-K-of-N.jsonl`, so concurrent shards on a shared filesystem (NFS) never write
//! to the same file. Reading takes the union of every journal in the folder, deduplicated by
//! run id: an `ok` record beats an error, and among records of the same status the later one
//! (file order: `journal.jsonl`, then shard journals by N and K; then line order) wins.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::metric_row::MetricRow;
use super::shard::Shard;
use crate::{Error, Result};

pub const JOURNAL_FILE: &str = "journal.jsonl";

/// How every line the writer appends ends: a last field no nested object of a record can
/// end with (axis paths have a dot; metric and label names are others), so a line that ends
/// with it is whole, and one that does not (a torn line, or a line of an older journal) is
/// checked by parsing it. Readers ignore the field.
pub const END_MARK: &str = ",\"end\":true}";

/// The journal a shard writes: `journal.jsonl` for the whole grid, else
/// `journal.shard-K-of-N.jsonl`.
pub fn file_name(shard: Shard) -> String {
    if shard.is_whole() {
        JOURNAL_FILE.to_string()
    } else {
        format!("journal.{}.jsonl", shard.file_stem())
    }
}

/// The shard whose journal `name` is, if it is one (as [`file_name`] spells it).
pub fn parse_file_name(name: &str) -> Option<Shard> {
    if name == JOURNAL_FILE {
        return Some(Shard::WHOLE);
    }
    let (k, n) = name
        .strip_prefix("journal.shard-")?
        .strip_suffix(".jsonl")?
        .split_once("-of-")?;
    let shard = Shard::new(k.parse().ok()?, n.parse().ok()?).ok()?;
    (file_name(shard) == name).then_some(shard)
}

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
    /// Flat metric name -> value (null when undefined; empty when the run failed), parsed
    /// straight into a typed row.
    #[serde(default)]
    pub metrics: MetricRow,
    /// Text-valued per-run fields (the load verdict), by name; absent when unset.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Per request class (`[[workload.classes]]`, a trace's class column): its metrics, for
    /// the classes tables; absent without classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassRecord>,
}

/// One class's metrics in one run, by [`ClassSummary::metrics`](crate::metrics::ClassSummary::metrics)
/// name (null where undefined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRecord {
    pub class: String,
    pub metrics: std::collections::BTreeMap<String, Option<f64>>,
}

impl ClassRecord {
    pub fn of(summary: &crate::metrics::ClassSummary) -> ClassRecord {
        ClassRecord {
            class: summary.name.clone(),
            metrics: summary
                .metrics()
                .into_iter()
                .map(|(name, value)| (name.to_string(), value.filter(|x| x.is_finite())))
                .collect(),
        }
    }
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
    /// Opens `journal.jsonl` for appending, starting a new line if the last one was torn.
    pub fn open(dir: &Path) -> Result<JournalWriter> {
        JournalWriter::open_shard(dir, Shard::WHOLE)
    }

    /// Opens the journal of `shard` (see [`file_name`]) for appending, starting a new line if
    /// the last one was torn.
    pub fn open_shard(dir: &Path, shard: Shard) -> Result<JournalWriter> {
        let path = dir.join(file_name(shard));
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
        // The end mark: `line` is an object, and its last field says it is whole.
        line.pop();
        line.push_str(END_MARK);
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::new(format!("journal {}: {e}", self.path.display())))
    }
}

/// One journal file of a results folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFile {
    pub name: String,
    pub shard: Shard,
    /// Records read from it (torn or unreadable lines not counted).
    pub records: usize,
}

/// The journals of `dir` (`journal.jsonl` and every `journal.shard-K-of-N.jsonl`), in the
/// order their records are merged: `journal.jsonl` first, then shard journals by N and K.
/// None if the folder does not exist.
pub fn list(dir: &Path) -> Result<Vec<(Shard, String)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::new(format!("cannot list {}: {e}", dir.display()))),
    };
    let mut names: Vec<(Shard, String)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::new(format!("cannot list {}: {e}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(shard) = parse_file_name(&name) {
            names.push((shard, name));
        }
    }
    names.sort_by_key(|(shard, _)| (shard.count, shard.index));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::records::{RecordIndex, Records};

    fn record(id: &str, status: &str) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            status: status.into(),
            error: None,
            wall_ms: 1.5,
            seed: 1,
            params: Default::default(),
            metrics: MetricRow::from_pairs([("ttft_ms_p99", Some(2.5))]),
            labels: Default::default(),
            classes: Vec::new(),
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
        let (records, _) = RecordIndex::read(&dir).unwrap();
        assert_eq!(records.len(), 2);
        assert!(records.is_ok("a"));
        assert!(records.is_ok("b"), "the latest record of a run wins");
        assert_eq!(records.record("a").unwrap().into_owned(), record("a", "ok"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shard_journal_names_round_trip() {
        let shard = Shard::new(3, 8).unwrap();
        assert_eq!(file_name(shard), "journal.shard-3-of-8.jsonl");
        assert_eq!(parse_file_name("journal.shard-3-of-8.jsonl"), Some(shard));
        assert_eq!(file_name(Shard::WHOLE), JOURNAL_FILE);
        assert_eq!(parse_file_name(JOURNAL_FILE), Some(Shard::WHOLE));
        for other in [
            "journal.shard-8-of-8.jsonl",
            "journal.shard-03-of-8.jsonl",
            "journal.shard-0-of-1.jsonl",
            "journal.shard-1-of-2.jsonl.tmp",
            "manifest.shard-1-of-2.json",
        ] {
            assert_eq!(parse_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn the_union_of_journals_prefers_ok_records() {
        let dir = std::env::temp_dir().join(format!("il-journals-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let s0 = Shard::new(0, 2).unwrap();
        let s1 = Shard::new(1, 2).unwrap();
        let mut w = JournalWriter::open_shard(&dir, s1).unwrap();
        w.append(&record("a", "error")).unwrap();
        w.append(&record("b", "ok")).unwrap();
        w.append(&record("c", "error")).unwrap();
        let mut w = JournalWriter::open_shard(&dir, s0).unwrap();
        w.append(&record("a", "ok")).unwrap();
        w.append(&record("b", "error")).unwrap();
        let mut w = JournalWriter::open(&dir).unwrap();
        w.append(&record("c", "error")).unwrap();
        // Not a journal: ignored.
        std::fs::write(dir.join("journal.shard-x.jsonl"), "garbage\n").unwrap();
        let (r, files) = RecordIndex::read(&dir).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                JOURNAL_FILE,
                "journal.shard-0-of-2.jsonl",
                "journal.shard-1-of-2.jsonl"
            ]
        );
        assert_eq!(
            files.iter().map(|f| f.records).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(r.len(), 3);
        assert!(r.is_ok("a"), "an ok record in an earlier file wins");
        assert!(r.is_ok("b"), "an ok record in a later file wins");
        assert!(!r.is_ok("c"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
