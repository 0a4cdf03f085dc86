//! The sweep orchestrator: a spec expands into a grid of runs, every run is an independent
//! simulation on a pool of threads, results are journaled as they finish, and tidy tables
//! (runs and summary, CSV and Parquet) are rebuilt from the journal.
//!
//! The three parts are kept apart, as in cargo-nextest: what to run ([`spec`], [`grid`]), how
//! it runs ([`runner`]), and what is reported ([`journal`], [`tables`], the manifest).

pub mod grid;
pub mod journal;
pub mod runner;
pub mod spec;
pub mod stats;
pub mod tables;

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

pub use grid::{expand, Grid, RunPoint};
pub use runner::SweepProgress;
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

/// What a sweep did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    pub runs: usize,
    pub points: usize,
    /// Runs already in the journal, not run again.
    pub skipped: usize,
    /// Runs executed now.
    pub ran: usize,
    /// Runs of the grid whose latest record is an error.
    pub failed: usize,
    pub wall_s: f64,
}

/// The default results folder: results/<name>/ under the current directory.
pub fn default_out_dir(spec: &SweepSpec) -> PathBuf {
    Path::new("results").join(&spec.name)
}

/// Runs (or resumes) a sweep and writes its tables and manifest.
pub fn run(
    spec: &SweepSpec,
    grid: &Grid,
    options: &SweepOptions,
    progress: impl FnMut(&SweepProgress),
) -> Result<SweepOutcome> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let dir = &options.out_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    if options.force {
        for file in [
            journal::JOURNAL_FILE,
            "runs.csv",
            "runs.parquet",
            "summary.csv",
            "summary.parquet",
            "manifest.json",
        ] {
            let path = dir.join(file);
            if path.exists() {
                std::fs::remove_file(&path)
                    .map_err(|e| Error::new(format!("cannot remove {}: {e}", path.display())))?;
            }
        }
    }
    let mut records = journal::read(dir)?;
    let todo: Vec<usize> = grid
        .runs
        .iter()
        .filter(|r| !records.get(&r.run_id).is_some_and(|rec| rec.is_ok()))
        .map(|r| r.index)
        .collect();
    let skipped = grid.runs.len() - todo.len();
    let datasets = runner::load_datasets(grid, &todo)?;
    let mut writer = journal::JournalWriter::open(dir)?;
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

    let mut runs = tables::runs_frame(grid, &records)?;
    let mut summary = tables::summary_frame(grid, &runs)?;
    tables::write(dir, "runs", &mut runs, options.formats)?;
    tables::write(dir, "summary", &mut summary, options.formats)?;

    let failed = grid
        .runs
        .iter()
        .filter(|r| records.get(&r.run_id).is_none_or(|rec| !rec.is_ok()))
        .count();
    let outcome = SweepOutcome {
        runs: grid.runs.len(),
        points: grid.points,
        skipped,
        ran,
        failed,
        wall_s: clock.elapsed().as_secs_f64(),
    };
    write_manifest(dir, spec, grid, options, &outcome, started)?;
    Ok(outcome)
}

fn write_manifest(
    dir: &Path,
    spec: &SweepSpec,
    grid: &Grid,
    options: &SweepOptions,
    outcome: &SweepOutcome,
    started: SystemTime,
) -> Result<()> {
    let manifest = serde_json::json!({
        "tool": "inference-lab",
        "version": VERSION,
        "spec": spec.to_json(),
        "columns": grid.columns,
        "started_at": rfc3339(started),
        "finished_at": rfc3339(SystemTime::now()),
        "wall_s": outcome.wall_s,
        "threads": options.threads,
        "counts": {
            "points": outcome.points,
            "runs": outcome.runs,
            "excluded": grid.excluded,
            "skipped_already_done": outcome.skipped,
            "ran": outcome.ran,
            "ok": outcome.runs - outcome.failed,
            "failed": outcome.failed,
        },
    });
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).expect("json") + "\n";
    std::fs::write(&path, text)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
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
