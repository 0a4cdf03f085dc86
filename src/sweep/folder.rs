//! Results folders: the tool writes only into folders it created (or that were empty), and
//! deletes only files it wrote.
//!
//! `-o DIR` is a path the user types; a slip (`-o .`, `-o ~/data`, `-o /`) must not overwrite
//! or delete their own `runs.csv` or `manifest.json`. So a folder is claimed before anything
//! is written: the [`MARKER`] file goes in first, and a folder that holds anything but lacks
//! the marker is refused. Folders written by versions before the marker (their `spec.json` or
//! `manifest.json` names the tool) are still recognised, so they resume.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::{journal, tables::Formats, SPEC_RECORD};
use crate::{bail, Error, Result};

/// The file that marks a folder as an inference-lab results folder.
pub const MARKER: &str = ".inference-lab";

/// The tables, by file stem; their extensions are the formats.
pub const TABLES: [&str; 7] = [
    "runs",
    "summary",
    "summary_long",
    "comparisons",
    "capacity",
    "classes",
    "classes_summary",
];

/// Refuses `dir` unless the tool may write into it: it does not exist yet, is empty, or is
/// one of the tool's results folders.
pub fn check(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => bail!("cannot read results folder {}: {e}", dir.display()),
        Ok(m) if !m.is_dir() => bail!(
            "results folder {} is a file: name a new or empty folder with -o",
            dir.display()
        ),
        Ok(_) => {}
    }
    if dir.join(MARKER).is_file() || written_by_us_before_markers(dir) {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| Error::new(format!("cannot list {}: {e}", dir.display())))?;
    if entries.next().is_none() {
        return Ok(());
    }
    bail!(
        "{} is not empty and is not an inference-lab results folder (it has no {MARKER} file): \
         refusing to write into it; name a new or empty folder with -o",
        dir.display()
    )
}

/// Creates `dir` (or takes an empty one) and marks it as the tool's; accepts a folder that is
/// already the tool's. Safe to call from many shards at once: the marker is created with
/// `create_new`, so it is never half-written by one while another reads it.
pub fn claim(dir: &Path) -> Result<()> {
    check(dir)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(MARKER);
    match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(mut file) => file
            .write_all(
                b"inference-lab results folder: `sweep --force` deletes only the files the \
                  tool wrote here.\n",
            )
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display()))),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::new(format!("cannot write {}: {e}", path.display()))),
    }
}

/// A folder from before the marker: its spec record or manifest says the tool wrote it.
fn written_by_us_before_markers(dir: &Path) -> bool {
    [SPEC_RECORD, "manifest.json"].iter().any(|name| {
        std::fs::read_to_string(dir.join(name))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|v| v["tool"] == "inference-lab")
    })
}

/// Whether `name` is a file the tool writes into a results folder (journals, shard
/// manifests, tables, manifest).
fn is_result_file(name: &str) -> bool {
    let table = name
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| TABLES.contains(&stem) && ["csv", "parquet"].contains(&ext));
    journal::parse_file_name(name).is_some()
        || (name.starts_with("manifest.shard-") && name.ends_with(".json"))
        || name == "manifest.json"
        || table
}

/// The folders of the runs' records (`[outputs]`), each holding `run_id=<id>/part-0.parquet`.
pub const RECORD_FOLDERS: [&str; 2] = ["requests", "timeseries"];

/// Removes the runs' record files (and the folders they leave empty); anything else stays.
fn remove_records(dir: &Path) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| {
        Error::new(format!("cannot remove {}: {e}", path.display()))
    };
    for table in RECORD_FOLDERS {
        let top = dir.join(table);
        let Ok(runs) = std::fs::read_dir(&top) else {
            continue;
        };
        for run in runs.flatten() {
            let name = run.file_name().to_string_lossy().into_owned();
            if !name.starts_with("run_id=") || !run.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let folder = run.path();
            for file in ["part-0.parquet", ".part-0.parquet.tmp"] {
                let path = folder.join(file);
                if path.is_file() {
                    std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                }
            }
            let _ = std::fs::remove_dir(&folder); // only if empty
        }
        let _ = std::fs::remove_dir(&top); // only if empty
    }
    Ok(())
}

/// Removes the tool's result files from `dir` (for `--force`); anything else stays.
pub fn remove_results(dir: &Path) -> Result<()> {
    remove_records(dir)?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::new(format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::new(format!("cannot list {}: {e}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_result_file(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let path = entry.path();
            std::fs::remove_file(&path)
                .map_err(|e| Error::new(format!("cannot remove {}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// Removes the tables of the formats not in `formats` (left by an earlier `--format`), so
/// the folder never holds tables of two different grids.
pub fn remove_stale_tables(dir: &Path, formats: Formats) -> Result<()> {
    for (ext, wanted) in [("csv", formats.csv), ("parquet", formats.parquet)] {
        if !wanted {
            for stem in TABLES {
                remove_if_present(&dir.join(format!("{stem}.{ext}")))?;
            }
        }
    }
    Ok(())
}

/// Removes a table the tool no longer writes (in every format), if it is there.
pub fn remove_table(dir: &Path, stem: &str) -> Result<()> {
    debug_assert!(TABLES.contains(&stem), "only the tool's own tables");
    for ext in ["csv", "parquet"] {
        remove_if_present(&dir.join(format!("{stem}.{ext}")))?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => bail!("cannot remove the stale table {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "inference-lab-folder-{}-{name}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn claims_new_and_empty_folders_and_refuses_foreign_ones() {
        let s = Scratch::new("claim");
        let fresh = s.0.join("a/b");
        claim(&fresh).unwrap();
        assert!(fresh.join(MARKER).is_file());
        claim(&fresh).unwrap();

        let foreign = s.0.join("mine");
        std::fs::create_dir_all(&foreign).unwrap();
        claim(&foreign).unwrap(); // empty: taken
        let user = s.0.join("user");
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join("runs.csv"), "my data\n").unwrap();
        let e = claim(&user).unwrap_err().to_string();
        assert!(e.contains("not an inference-lab results folder"), "{e}");
        assert!(!user.join(MARKER).exists());
        assert!(check(Path::new("/")).is_err());

        let legacy = s.0.join("legacy");
        std::fs::create_dir_all(&legacy).unwrap();
        std::fs::write(legacy.join("spec.json"), r#"{"tool": "inference-lab"}"#).unwrap();
        claim(&legacy).unwrap();
    }

    #[test]
    fn force_and_format_switches_remove_only_the_tools_files() {
        let s = Scratch::new("remove");
        for name in [
            "runs.csv",
            "summary.parquet",
            "manifest.json",
            "journal.jsonl",
            "notes.txt",
            "runs.csv.bak",
            "my-runs.csv",
        ] {
            std::fs::write(s.0.join(name), "x").unwrap();
        }
        let csv_only = Formats {
            csv: true,
            parquet: false,
        };
        remove_stale_tables(&s.0, csv_only).unwrap();
        assert!(!s.0.join("summary.parquet").exists());
        assert!(s.0.join("runs.csv").exists());
        remove_results(&s.0).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&s.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["my-runs.csv", "notes.txt", "runs.csv.bak"]);
    }
}
