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

pub mod compare;
pub mod folder;
pub mod grid;
pub mod journal;
pub mod limits;
pub mod metric_row;
pub mod report;
pub mod runner;
pub mod shard;
pub mod slurm;
pub mod spec;
pub mod stats;
pub mod tables;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

pub use grid::{config_with_overrides, expand, Grid, RunPoint};
pub use journal::JournalFile;
pub use runner::SweepProgress;
pub use shard::Shard;
pub use spec::SweepSpec;
pub use tables::Formats;

use crate::{Error, Result, VERSION};

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
    /// tables).
    pub answer: Vec<report::Objective>,
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
    let journals = journal::read_all(dir)?;
    let mut records = journals.records;
    let mine = shard.runs(grid);
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| {
            !records
                .get(&grid.runs[i].run_id)
                .is_some_and(|rec| rec.is_ok())
        })
        .collect();
    let skipped = mine.len() - todo.len();
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
    let datasets = runner::load_datasets(grid, &todo);
    let mut writer = journal::JournalWriter::open_shard(dir, shard)?;
    let new = runner::execute(
        grid,
        &todo,
        options.threads.max(1),
        &datasets,
        &mut writer,
        progress,
    )?;
    let ran = new.len();
    records.extend(new);

    let failures: Vec<(usize, String)> = mine
        .iter()
        .filter_map(|&i| match records.get(&grid.runs[i].run_id) {
            Some(rec) if rec.is_ok() => None,
            Some(rec) => Some((i, rec.error.clone().unwrap_or_default())),
            None => Some((i, "no record: the run did not finish".to_string())),
        })
        .collect();
    let failed = failures.len();
    let mut outcome = SweepOutcome {
        runs: mine.len(),
        points: grid.points,
        skipped,
        ran,
        failed,
        failures,
        wall_s: 0.0,
        journals: journals.files,
        answer: Vec::new(),
    };
    if shard.is_whole() {
        outcome.answer = write_tables(dir, spec, grid, &records, options.formats)?;
        outcome.wall_s = clock.elapsed().as_secs_f64();
        let counts = serde_json::json!({
            "points": outcome.points,
            "runs": outcome.runs,
            "excluded": grid.excluded,
            "skipped_already_done": outcome.skipped,
            "ran": outcome.ran,
            "ok": outcome.runs - outcome.failed,
            "failed": outcome.failed,
            "missing": missing(grid, &records).len(),
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
    let journals = journal::read_all(dir)?;
    let records = &journals.records;
    let ids: HashSet<&str> = grid.runs.iter().map(|r| r.run_id.as_str()).collect();
    let unmatched = records
        .keys()
        .filter(|id| !ids.contains(id.as_str()))
        .count();
    let missing = missing(grid, records);
    let failed = grid
        .runs
        .iter()
        .filter(|r| records.get(&r.run_id).is_some_and(|rec| !rec.is_ok()))
        .count();
    let answer = write_tables(dir, spec, grid, records, formats)?;
    let runs = grid.runs.len();
    let outcome = MergeOutcome {
        runs,
        points: grid.points,
        ok: runs - failed - missing.len(),
        failed,
        missing,
        unmatched,
        journals: journals.files,
        wall_s: clock.elapsed().as_secs_f64(),
        answer,
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
fn missing(grid: &Grid, records: &HashMap<String, journal::RunRecord>) -> Vec<usize> {
    grid.runs
        .iter()
        .filter(|r| !records.contains_key(&r.run_id))
        .map(|r| r.index)
        .collect()
}

/// Writes the tables of `dir` and returns the sweep's answer (the objectives' best points).
fn write_tables(
    dir: &Path,
    spec: &SweepSpec,
    grid: &Grid,
    records: &HashMap<String, journal::RunRecord>,
    formats: Formats,
) -> Result<Vec<report::Objective>> {
    let mut runs = tables::runs_frame(grid, records)?;
    let (mut summary, mut summary_long) = tables::summary_frames(grid, &runs)?;
    folder::remove_stale_tables(dir, formats)?;
    tables::write(dir, "runs", &mut runs, formats)?;
    tables::write(dir, "summary", &mut summary, formats)?;
    tables::write(dir, "summary_long", &mut summary_long, formats)?;
    let comparisons = match &spec.compare {
        Some(baseline) => {
            let rows = compare::comparisons(grid, &spec.axes, baseline, records);
            let mut table = tables::comparisons_frame(grid, &rows)?;
            tables::write(dir, "comparisons", &mut table, formats)?;
            Some(rows)
        }
        // A spec that no longer compares leaves no comparisons of an earlier grid behind.
        None => {
            folder::remove_table(dir, "comparisons")?;
            None
        }
    };
    Ok(report::answer(
        grid,
        &spec.report,
        records,
        comparisons.as_deref(),
    ))
}

#[allow(clippy::too_many_arguments)]
fn write_manifest(
    dir: &Path,
    spec: &SweepSpec,
    grid: &Grid,
    journals: &[JournalFile],
    started: SystemTime,
    wall_s: f64,
    threads: serde_json::Value,
    counts: serde_json::Value,
) -> Result<()> {
    let shards: Vec<serde_json::Value> = journals
        .iter()
        .filter(|f| !f.shard.is_whole())
        .filter_map(|f| {
            let text = std::fs::read_to_string(dir.join(shard_manifest_name(f.shard))).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect();
    let mut manifest = serde_json::json!({
        "tool": "inference-lab",
        "version": VERSION,
        "spec": spec.to_json(),
        "columns": grid.columns,
        "started_at": rfc3339(started),
        "finished_at": rfc3339(SystemTime::now()),
        "wall_s": wall_s,
        "threads": threads,
        "counts": counts,
        "journals": journals
            .iter()
            .map(|f| serde_json::json!({"file": f.name, "records": f.records}))
            .collect::<Vec<_>>(),
    });
    if !shards.is_empty() {
        manifest["shards"] = serde_json::Value::Array(shards);
    }
    let text = serde_json::to_string_pretty(&manifest).expect("json") + "\n";
    write_atomic(dir, "manifest.json", "main", &text)
}

/// A shard's own manifest: where and when it ran, and its counts (None while it runs).
#[allow(clippy::too_many_arguments)]
fn write_shard_manifest(
    dir: &Path,
    spec: &SweepSpec,
    grid: &Grid,
    options: &SweepOptions,
    shard: Shard,
    started: SystemTime,
    runs: usize,
    outcome: Option<&SweepOutcome>,
) -> Result<()> {
    let counts = outcome.map(|o| {
        serde_json::json!({
            "skipped_already_done": o.skipped,
            "ran": o.ran,
            "ok": o.runs - o.failed,
            "failed": o.failed,
        })
    });
    let manifest = serde_json::json!({
        "tool": "inference-lab",
        "version": VERSION,
        "spec": spec.name,
        "shard": shard.to_string(),
        "grid_runs": grid.runs.len(),
        "runs": runs,
        "host": hostname(),
        "pid": std::process::id(),
        "threads": options.threads,
        "started_at": rfc3339(started),
        "finished_at": outcome.map(|_| rfc3339(SystemTime::now())),
        "wall_s": outcome.map(|o| o.wall_s),
        "counts": counts,
    });
    let text = serde_json::to_string_pretty(&manifest).expect("json") + "\n";
    write_atomic(dir, &shard_manifest_name(shard), &shard.file_stem(), &text)
}

/// Writes `dir/name` via `.name.TAG.PID.tmp` and a rename: readers never see half a file,
/// and writers with different tags never share a temporary file.
fn write_atomic(dir: &Path, name: &str, tag: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{tag}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
}

/// This machine's host name ("" if unknown).
#[cfg(unix)]
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// This machine's host name ("" if unknown).
#[cfg(not(unix))]
fn hostname() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// UTC time as RFC 3339 (seconds), without a date-time dependency.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(super::rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_300_000);
        assert_eq!(super::rfc3339(t), "2026-11-21T22:26:40Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(super::rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
