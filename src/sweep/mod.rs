//! The sweep orchestrator: a spec expands into a grid of runs, every run is an independent
//! simulation on a pool of threads, results are journaled as they finish, and tidy tables
//! (runs and summary, CSV and Parquet) are rebuilt from the journal.
//!
//! The three parts are kept apart, as in cargo-nextest: what to run ([`spec`], [`grid`]), how
//! it runs ([`runner`]), and what is reported ([`journal`], [`tables`], the manifest).
//!
//! To scale out, [`shard`] splits the grid into N parts that N machines run into one folder,
//! each appending to its own journal; [`merge`] builds the tables from the union of the
//! journals, and [`slurm`] writes the job scripts that do both on a Slurm cluster.

mod aggregate;
pub mod capacity;
pub mod compare;
pub mod folder;
pub mod grid;
pub mod journal;
pub mod limits;
mod manifest;
pub mod metric_row;
pub mod records;
pub mod report;
pub mod runner;
pub mod search;
pub mod shard;
pub mod slurm;
pub mod spec;
pub mod stats;
pub mod tables;

use rustc_hash::FxHashSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

pub use grid::{apply_overrides, config_with_overrides, expand, Grid, RunPoint, SearchPlan};
pub use journal::JournalFile;
pub use runner::SweepProgress;
pub use shard::Shard;
pub use spec::SweepSpec;
pub use tables::{Formats, TableWriter};

use crate::{Error, Result, VERSION};
use aggregate::write_tables;
use capacity::{CapacityRow, SearchResult};
use manifest::{write_atomic, write_manifest, write_shard_manifest};
use records::{RecordIndex, Records};

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub out_dir: PathBuf,
    pub threads: usize,
    /// Discard earlier results in `out_dir` and run everything.
    pub force: bool,
    pub formats: Formats,
}

/// What a sweep (or one shard of it) did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    /// Runs of the grid, or of the shard.
    pub runs: usize,
    pub points: usize,
    /// Runs already in a journal, not run again.
    pub skipped: usize,
    /// Runs executed now.
    pub ran: usize,
    /// Runs (of the grid, or of the shard) whose record is an error.
    pub failed: usize,
    /// Those runs (indices into `grid.runs`) with the first line of their error.
    pub failures: Vec<(usize, String)>,
    pub wall_s: f64,
    /// The journals found in the folder before running (their records count for resume).
    pub journals: Vec<JournalFile>,
    /// The best point for each objective of `[report]` (empty for a shard, which writes no
    /// tables, and for a capacity search, whose answer is `capacity`).
    pub answer: Vec<report::Objective>,
    /// A capacity search's table, one row per point (empty for a shard).
    pub capacity: Vec<CapacityRow>,
}

/// What [`merge`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    pub runs: usize,
    pub points: usize,
    pub ok: usize,
    /// Runs whose record is an error.
    pub failed: usize,
    /// Runs with no record in any journal (indices into `grid.runs`).
    pub missing: Vec<usize>,
    /// Records whose run id is no run of the grid: the spec, a base config or the tool
    /// version changed since they ran.
    pub unmatched: usize,
    pub journals: Vec<JournalFile>,
    pub wall_s: f64,
    /// The best point for each objective of `[report]`.
    pub answer: Vec<report::Objective>,
    /// A capacity search's table, one row per point.
    pub capacity: Vec<CapacityRow>,
}

/// The default results folder: results/<name>/ under the current directory.
pub fn default_out_dir(spec: &SweepSpec) -> PathBuf {
    Path::new("results").join(&spec.name)
}

/// The file a shard's manifest is written to.
pub fn shard_manifest_name(shard: Shard) -> String {
    format!("manifest.{}.json", shard.file_stem())
}

/// Where the spec a results folder was swept with is recorded, for `sweep merge`.
pub const SPEC_RECORD: &str = "spec.json";

/// The spec a results folder was swept with: its text, and the path and working directory it
/// was read with (relative base paths, and so dataset run ids, depend on both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecRecord {
    pub tool: String,
    pub version: String,
    /// The spec path as given on the command line.
    pub path: String,
    /// The working directory of that command.
    pub cwd: String,
    /// The spec file's text.
    pub text: String,
}

impl SpecRecord {
    /// Records `spec` as read now (None if its file cannot be read).
    pub fn of(spec: &SweepSpec) -> Option<SpecRecord> {
        let text = std::fs::read_to_string(&spec.path).ok()?;
        let cwd = std::env::current_dir().ok()?;
        Some(SpecRecord {
            tool: "inference-lab".into(),
            version: VERSION.into(),
            path: spec.path.display().to_string(),
            cwd: cwd.display().to_string(),
            text,
        })
    }

    /// The record in `dir`.
    pub fn read(dir: &Path) -> Result<SpecRecord> {
        let path = dir.join(SPEC_RECORD);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::new(format!(
                "cannot read {}: {e} (is {} the results folder of a sweep?)",
                path.display(),
                dir.display()
            ))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::new(format!("{}: not a spec record: {e}", path.display())))
    }

    /// Parses the recorded spec text as if read from the recorded path (relative to the
    /// current directory: run this from `cwd` to resolve relative paths as the sweep did).
    pub fn spec(&self) -> Result<SweepSpec> {
        let path = Path::new(&self.path);
        SweepSpec::parse(&self.text, path).map_err(|e| e.context(path.display()))
    }

    /// Writes the record to `dir` atomically (a temporary file unique to `tag`, then a
    /// rename), so concurrent shards writing the same record never interleave.
    fn write(&self, dir: &Path, tag: &str) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("json") + "\n";
        write_atomic(dir, SPEC_RECORD, tag, &text)
    }
}

/// Records `spec` in `dir/spec.json` for `sweep merge` (creating `dir`); every sweep does
/// this as it starts.
pub fn record_spec(dir: &Path, spec: &SweepSpec) -> Result<()> {
    folder::claim(dir)?;
    match SpecRecord::of(spec) {
        Some(record) => record.write(dir, "record"),
        None => Ok(()),
    }
}

/// Runs (or resumes) a sweep of the whole grid and writes its tables and manifest.
pub fn run(
    spec: &SweepSpec,
    grid: &Grid,
    options: &SweepOptions,
    progress: impl FnMut(&SweepProgress),
) -> Result<SweepOutcome> {
    run_shard(spec, grid, options, Shard::WHOLE, progress)
}

/// Runs (or resumes) one shard of a sweep: the shard's runs that no journal of the folder has
/// an ok record for, appended to the shard's own journal. Shards write no tables (other
/// shards may still be running): [`merge`] builds them. [`Shard::WHOLE`] is an ordinary
/// sweep, which also writes the tables and the manifest.
pub fn run_shard(
    spec: &SweepSpec,
    grid: &Grid,
    options: &SweepOptions,
    shard: Shard,
    progress: impl FnMut(&SweepProgress),
) -> Result<SweepOutcome> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let dir = &options.out_dir;
    if options.force && !shard.is_whole() {
        return Err(Error::new(format!(
            "--force with --shard {shard} would delete the results of shards that may be \
             running: clear {} once before starting the shards",
            dir.display()
        )));
    }
    folder::claim(dir)?;
    if options.force {
        folder::remove_results(dir)?;
    }
    if let Some(record) = SpecRecord::of(spec) {
        record.write(dir, &shard.file_stem())?;
    }
    let (records, journal_files) = RecordIndex::read(dir)?;
    let mine = shard.runs(grid);
    let shard_manifest = |outcome: Option<&SweepOutcome>| {
        write_shard_manifest(
            dir,
            spec,
            grid,
            options,
            shard,
            started,
            mine.len(),
            outcome,
        )
    };
    if !shard.is_whole() {
        shard_manifest(None)?;
    }
    let mut writer = journal::JournalWriter::open_shard(dir, shard)?;
    let mut outcome = SweepOutcome {
        runs: mine.len(),
        points: grid.points,
        skipped: 0,
        ran: 0,
        failed: 0,
        failures: Vec::new(),
        wall_s: 0.0,
        journals: journal_files,
        answer: Vec::new(),
        capacity: Vec::new(),
    };
    let mut searches = None;
    let outputs = runner::RecordsPlan {
        dir,
        outputs: spec.outputs,
    };
    if let Some(plan) = &grid.search {
        // Datasets for the range's two ends: a probe in between replays the same files.
        let his: Vec<RunPoint> = mine
            .iter()
            .map(|&t| grid.probe(t, plan.search.hi))
            .collect();
        let datasets = runner::load_datasets_of(mine.iter().map(|&t| &grid.runs[t]).chain(&his));
        let threads = options.threads.max(1);
        let executed = capacity::execute(
            grid,
            &mine,
            threads,
            runner::RunEnv {
                datasets: &datasets,
                outputs: Some(&outputs),
            },
            &records,
            &mut writer,
            progress,
        )?;
        outcome.ran = executed.ran;
        outcome.skipped = executed.reused;
        outcome.runs = outcome.ran + outcome.skipped;
        outcome.failures = search_failures(grid, &executed.results);
        searches = Some(executed.results);
    } else {
        let todo: Vec<usize> = mine
            .iter()
            .copied()
            .filter(|&i| !records.is_ok(&grid.runs[i].run_id))
            .collect();
        outcome.skipped = mine.len() - todo.len();
        let datasets = runner::load_datasets(grid, &todo);
        let threads = options.threads.max(1);
        outcome.ran = runner::execute(
            grid,
            &todo,
            threads,
            runner::RunEnv {
                datasets: &datasets,
                outputs: Some(&outputs),
            },
            &mut writer,
            progress,
        )?;
    }
    drop(writer);
    // The journals again, with what ran now (and what other shards journaled meanwhile).
    let (records, _) = RecordIndex::read(dir)?;
    if grid.search.is_none() {
        outcome.failures = mine
            .iter()
            .filter(|&&i| !records.is_ok(&grid.runs[i].run_id))
            .map(|&i| match records.record(&grid.runs[i].run_id) {
                Some(rec) => (i, rec.error.clone().unwrap_or_default()),
                None => (i, "no record: the run did not finish".to_string()),
            })
            .collect();
    }
    outcome.failed = outcome.failures.len();
    if shard.is_whole() {
        let tables = write_tables(
            dir,
            spec,
            grid,
            &records,
            searches.as_deref(),
            options.formats,
        )?;
        (outcome.answer, outcome.capacity) = tables;
        outcome.wall_s = clock.elapsed().as_secs_f64();
        let counts = serde_json::json!({
            "points": outcome.points,
            "runs": outcome.runs,
            "searches": searches.as_ref().map(Vec::len),
            "excluded": grid.excluded,
            "skipped_already_done": outcome.skipped,
            "ran": outcome.ran,
            "ok": outcome.runs - outcome.failed.min(outcome.runs),
            "failed": outcome.failed,
            "missing": if grid.search.is_some() { 0 } else { missing(grid, &records).len() },
        });
        let threads = serde_json::json!(options.threads);
        write_manifest(
            dir,
            spec,
            grid,
            &outcome.journals,
            started,
            outcome.wall_s,
            threads,
            counts,
        )?;
    } else {
        outcome.wall_s = clock.elapsed().as_secs_f64();
        shard_manifest(Some(&outcome))?;
    }
    Ok(outcome)
}

/// Builds the tables and manifest of `dir` from the union of its journals (deduplicated by
/// run id, as resume reads them), running nothing. Runs without a record are `missing` rows.
pub fn merge(spec: &SweepSpec, grid: &Grid, dir: &Path, formats: Formats) -> Result<MergeOutcome> {
    let started = SystemTime::now();
    let clock = Instant::now();
    if !dir.is_dir() {
        return Err(Error::new(format!("{} is not a folder", dir.display())));
    }
    folder::claim(dir)?;
    let (index, journal_files) = RecordIndex::read(dir)?;
    let records = &index;
    // A search is walked again over the records: its runs are the probes it reaches.
    let searches = grid.search.as_ref().map(|_| {
        let all: Vec<usize> = (0..grid.runs.len()).collect();
        capacity::replay(grid, &all, records)
    });
    let (ids, missing, failed, runs): (FxHashSet<&str>, Vec<usize>, usize, usize) = match &searches
    {
        Some(results) => {
            let probes = results.iter().flat_map(|r| &r.runs);
            let status =
                |s: &'static str| results.iter().filter(move |r| r.walk.found.status() == s);
            (
                probes.clone().map(|r| r.run_id.as_str()).collect(),
                status("missing").map(|r| r.template).collect(),
                status("failed").count(),
                probes.count(),
            )
        }
        None => (
            grid.runs.iter().map(|r| r.run_id.as_str()).collect(),
            missing(grid, records),
            grid.runs
                .iter()
                .filter(|r| records.contains(&r.run_id) && !records.is_ok(&r.run_id))
                .count(),
            grid.runs.len(),
        ),
    };
    let unmatched = records.ids().filter(|id| !ids.contains(id)).count();
    let (answer, capacity) = write_tables(dir, spec, grid, records, searches.as_deref(), formats)?;
    let outcome = MergeOutcome {
        runs,
        points: grid.points,
        ok: runs.saturating_sub(failed + missing.len()),
        failed,
        missing,
        unmatched,
        journals: journal_files,
        wall_s: clock.elapsed().as_secs_f64(),
        answer,
        capacity,
    };
    let counts = serde_json::json!({
        "points": outcome.points,
        "runs": outcome.runs,
        "excluded": grid.excluded,
        "skipped_already_done": outcome.runs - outcome.missing.len(),
        "ran": 0,
        "ok": outcome.ok,
        "failed": outcome.failed,
        "missing": outcome.missing.len(),
        "unmatched_records": outcome.unmatched,
    });
    write_manifest(
        dir,
        spec,
        grid,
        &outcome.journals,
        started,
        outcome.wall_s,
        serde_json::Value::Null,
        counts,
    )?;
    Ok(outcome)
}

/// Runs of the grid with no record.
fn missing(grid: &Grid, records: &RecordIndex) -> Vec<usize> {
    grid.runs
        .iter()
        .filter(|r| !records.contains(&r.run_id))
        .map(|r| r.index)
        .collect()
}

/// The failed searches, each as (its run in the grid, the probe value and first error line).
pub(crate) fn search_failures(grid: &Grid, results: &[SearchResult]) -> Vec<(usize, String)> {
    let path = grid.search.as_ref().map_or("", |p| p.search.path.as_str());
    results
        .iter()
        .filter_map(|r| {
            let search::Found::Failed(error) = &r.walk.found else {
                return None;
            };
            let x = r.walk.probes.last().copied().unwrap_or(f64::NAN);
            let why = error
                .as_deref()
                .unwrap_or("no record: the run did not finish");
            Some((r.template, format!("at {path} = {x}: {why}")))
        })
        .collect()
}
