//! The journals' records, indexed rather than held.
//!
//! A million-run sweep journals about 2 KB a run: holding every record to build the tables
//! would take gigabytes. [`RecordIndex`] reads the journals once, keeping for each run id
//! only where its winning line is (file, offset, length) and whether it succeeded (about 80
//! bytes a run); the tables are then built run by run in grid order, each record read back
//! from its line when it is needed and dropped after.
//!
//! The winning line of a run id follows the journals' rule (see journal.rs): an ok record
//! beats an error, and among records of the same status the later one wins (files in
//! `journal.jsonl`, then shard order; lines in order). A torn line is not a record.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::journal::{self, JournalFile, RunRecord};
use crate::{Error, Result};

/// Anything that answers "the record of this run id": the index of a results folder, or
/// records in memory (tests, and a sweep's own fresh records).
pub trait Records: Sync {
    fn record(&self, run_id: &str) -> Option<Cow<'_, RunRecord>>;

    /// Whether the run's record succeeded (false without one).
    fn is_ok(&self, run_id: &str) -> bool {
        self.record(run_id).is_some_and(|r| r.is_ok())
    }
}

impl Records for HashMap<String, RunRecord> {
    fn record(&self, run_id: &str) -> Option<Cow<'_, RunRecord>> {
        self.get(run_id).map(Cow::Borrowed)
    }
}

/// Where a record's line is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    file: u32,
    len: u32,
    offset: u64,
    ok: bool,
}

/// The journals of a results folder, by run id (see the module doc).
#[derive(Debug, Default)]
pub struct RecordIndex {
    files: Vec<File>,
    paths: Vec<std::path::PathBuf>,
    entries: rustc_hash::FxHashMap<Box<str>, Entry>,
}

/// The fields of a line the index needs; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    run_id: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default)]
    #[allow(dead_code)]
    metrics: IgnoredAny,
}

impl RecordIndex {
    /// Indexes every journal of `dir` (none if the folder does not exist), and lists them.
    pub fn read(dir: &Path) -> Result<(RecordIndex, Vec<JournalFile>)> {
        let mut index = RecordIndex::default();
        let mut listed = Vec::new();
        for (shard, name) in journal::list(dir)? {
            let path = dir.join(&name);
            let file = match File::open(&path) {
                Ok(f) => f,
                // Removed between listing and opening (a --force elsewhere): nothing to read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::new(format!("journal {}: {e}", path.display()))),
            };
            let records = index.add(file, &path)?;
            listed.push(JournalFile {
                name,
                shard,
                records,
            });
        }
        Ok((index, listed))
    }

    /// Indexes one journal file; returns how many records it held. The file is read in large
    /// blocks and its lines looked at where they lie, without copying each one out.
    fn add(&mut self, file: File, path: &Path) -> Result<usize> {
        self.add_in_blocks(file, path, 1 << 22)
    }

    fn add_in_blocks(&mut self, mut file: File, path: &Path, block: usize) -> Result<usize> {
        let io = |e: std::io::Error| Error::new(format!("journal {}: {e}", path.display()));
        let number = u32::try_from(self.files.len()).expect("fewer than 2^32 journals");
        let mut block = vec![0u8; block];
        // Bytes at the start of `block` carried over from the last read (a partial line).
        let mut carried = 0;
        // The file offset of block[0].
        let mut base = 0u64;
        let mut count = 0;
        loop {
            if carried == block.len() {
                // A line longer than the block: grow it (lines are bounded by what a record
                // holds, so this is rare and small).
                block.resize(block.len() * 2, 0);
            }
            let read = file.read(&mut block[carried..]).map_err(io)?;
            let filled = carried + read;
            let mut start = 0;
            while let Some(end) = memchr::memchr(b'\n', &block[start..filled]) {
                let line = &block[start..start + end];
                count += usize::from(self.note(number, base + start as u64, line));
                start += end + 1;
            }
            if read == 0 {
                // The last line, without its newline (a torn one is not a record).
                if start < filled {
                    let line = &block[start..filled];
                    count += usize::from(self.note(number, base + start as u64, line));
                }
                break;
            }
            block.copy_within(start..filled, 0);
            carried = filled - start;
            base += start as u64;
        }
        self.files.push(file);
        self.paths.push(path.to_path_buf());
        Ok(count)
    }

    /// Notes the record of one line at `offset` of journal `file`; false if it is none.
    fn note(&mut self, file: u32, offset: u64, line: &[u8]) -> bool {
        // A torn line (its writer died mid-write, or is still writing it on another host) is
        // skipped: its run simply reruns, or is read next time.
        let Some((run_id, status)) = head(line) else {
            return false;
        };
        let Ok(len) = u32::try_from(line.len()) else {
            return false;
        };
        let entry = Entry {
            file,
            len,
            offset,
            ok: status == "ok",
        };
        match self.entries.get_mut(run_id.as_ref()) {
            Some(old) if old.ok && !entry.ok => {}
            Some(old) => *old = entry,
            None => {
                self.entries.insert(run_id.into(), entry);
            }
        }
        true
    }

    /// Run ids with a record.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, run_id: &str) -> bool {
        self.entries.contains_key(run_id)
    }

    /// Every run id with a record.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(|k| k.as_ref())
    }

    /// Reads the record of `run_id` back from its line (None without one, or if the line
    /// changed or no longer parses: a file edited under a running sweep).
    fn read_record(&self, entry: Entry) -> Option<RunRecord> {
        thread_local! {
            // One line buffer per thread, reused: a fresh zeroed one per record was 5% of
            // building the tables.
            static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        LINE.with_borrow_mut(|buf| {
            buf.resize(entry.len as usize, 0);
            read_at(&self.files[entry.file as usize], buf, entry.offset).ok()?;
            serde_json::from_slice(buf).ok()
        })
    }
}

impl Records for RecordIndex {
    fn record(&self, run_id: &str) -> Option<Cow<'_, RunRecord>> {
        let entry = *self.entries.get(run_id)?;
        self.read_record(entry).map(Cow::Owned)
    }

    fn is_ok(&self, run_id: &str) -> bool {
        self.entries.get(run_id).is_some_and(|e| e.ok)
    }
}

/// The run id and status of a journal line, or None for a line that is not one whole
/// record (torn). The writer puts them first (`{"run_id":"…","status":"…",…`) and ends every
/// line with [`journal::END_MARK`]: a line with both is read without parsing the rest; any
/// other (an older journal's line, another spelling, a torn line) goes through serde, which
/// checks the whole line.
fn head(line: &[u8]) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    fn quoted(bytes: &[u8]) -> Option<(&str, &[u8])> {
        let end = bytes.iter().position(|&b| b == b'"' || b == b'\\')?;
        if bytes[end] != b'"' {
            return None;
        }
        Some((std::str::from_utf8(&bytes[..end]).ok()?, &bytes[end + 1..]))
    }
    let fast = || {
        if !line.ends_with(journal::END_MARK.as_bytes()) {
            return None;
        }
        let rest = line.strip_prefix(b"{\"run_id\":\"")?;
        let (run_id, rest) = quoted(rest)?;
        let rest = rest.strip_prefix(b",\"status\":\"")?;
        let (status, _) = quoted(rest)?;
        Some((Cow::Borrowed(run_id), Cow::Borrowed(status)))
    };
    fast().or_else(|| {
        let head = serde_json::from_slice::<Head>(line).ok()?;
        Some((head.run_id, head.status))
    })
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::journal::{JournalWriter, JOURNAL_FILE};
    use crate::sweep::metric_row::MetricRow;
    use crate::sweep::Shard;
    use std::io::Write;

    fn record(id: &str, status: &str, ttft: f64) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            status: status.into(),
            error: (status != "ok").then(|| "boom".into()),
            wall_ms: 1.5,
            seed: 1,
            params: Default::default(),
            metrics: MetricRow::from_pairs([("ttft_ms_p99", Some(ttft))]),
            labels: Default::default(),
            classes: Vec::new(),
        }
    }

    fn scratch(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("il-records-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_back_the_winning_line_of_each_run() {
        let dir = scratch("win");
        let mut w = JournalWriter::open(&dir).unwrap();
        w.append(&record("a", "error", 1.0)).unwrap();
        w.append(&record("a", "ok", 2.0)).unwrap();
        w.append(&record("b", "ok", 3.0)).unwrap();
        w.append(&record("b", "ok", 4.0)).unwrap();
        w.append(&record("a", "error", 5.0)).unwrap();
        drop(w);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL_FILE))
            .unwrap();
        f.write_all(b"{\"run_id\":\"c\",\"sta").unwrap();
        let mut s = JournalWriter::open_shard(&dir, Shard::new(0, 2).unwrap()).unwrap();
        s.append(&record("c", "error", 6.0)).unwrap();
        let (index, files) = RecordIndex::read(&dir).unwrap();
        assert_eq!(files.iter().map(|f| f.records).collect::<Vec<_>>(), [5, 1]);
        assert_eq!(index.len(), 3);
        assert_eq!(
            index.record("a").unwrap().into_owned(),
            record("a", "ok", 2.0)
        );
        assert_eq!(
            index.record("b").unwrap().into_owned(),
            record("b", "ok", 4.0)
        );
        assert!(index.is_ok("b") && !index.is_ok("c") && !index.is_ok("zz"));
        assert_eq!(index.record("c").unwrap().error.as_deref(), Some("boom"));
        assert!(index.record("zz").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn heads_are_read_only_from_whole_lines() {
        let dir = scratch("heads");
        let mut w = JournalWriter::open(&dir).unwrap();
        w.append(&record("ab", "ok", 1.5)).unwrap();
        let text = std::fs::read_to_string(dir.join(JOURNAL_FILE)).unwrap();
        let line = text.trim_end();
        assert!(line.ends_with(journal::END_MARK), "{line}");
        let (id, status) = head(line.as_bytes()).unwrap();
        assert_eq!((id.as_ref(), status.as_ref()), ("ab", "ok"));
        // Every cut of a whole line is torn, however it ends.
        for cut in 1..line.len() {
            assert!(head(&line.as_bytes()[..cut]).is_none(), "{}", &line[..cut]);
        }
        // A line of an older journal (no end mark), other key orders and escapes: serde.
        let old = serde_json::to_string(&record("cd", "error", 2.0)).unwrap();
        assert_eq!(head(old.as_bytes()).unwrap().0, "cd");
        let reordered = r#"{"status":"error","wall_ms":1,"seed":1,"run_id":"x\"y"}"#;
        let (id, status) = head(reordered.as_bytes()).unwrap();
        assert_eq!((id.as_ref(), status.as_ref()), ("x\"y", "error"));
        assert!(head(b"garbage").is_none() && head(b"").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn blocks_smaller_than_a_line_read_the_same_records() {
        let dir = scratch("blocks");
        let mut w = JournalWriter::open(&dir).unwrap();
        for i in 0..50 {
            w.append(&record(
                &format!("r{i}"),
                if i % 7 == 0 { "error" } else { "ok" },
                i as f64,
            ))
            .unwrap();
        }
        drop(w);
        let path = dir.join(JOURNAL_FILE);
        for block in [1, 7, 64, 1000, 1 << 20] {
            let mut index = RecordIndex::default();
            let count = index
                .add_in_blocks(File::open(&path).unwrap(), &path, block)
                .unwrap();
            assert_eq!((count, index.len()), (50, 50), "block {block}");
            for i in [0, 13, 49] {
                let r = index.record(&format!("r{i}")).unwrap();
                assert_eq!(
                    r.metrics.get("ttft_ms_p99"),
                    Some(i as f64),
                    "block {block}"
                );
            }
            assert!(!index.is_ok("r14") && index.is_ok("r15"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_folder_has_no_records() {
        let (index, files) = RecordIndex::read(Path::new("/nonexistent/il-records")).unwrap();
        assert!(index.is_empty() && files.is_empty());
    }
}
