//! Scaling a sweep out: `sweep merge DIR` and `sweep SPEC --slurm`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use console::style;
use inference_lab::sweep::records::{RecordIndex, Records};
use inference_lab::sweep::slurm::{quote, SlurmPlan};
use inference_lab::sweep::{self, shard, Formats, Grid, SpecRecord, SweepOutcome, SweepSpec};

use super::super::args::{MergeArgs, SweepArgs};
use super::describe_point;

/// The exit code of `sweep merge` when runs have no record.
pub const EXIT_MISSING: u8 = 3;

/// Default array size: one task per run, at most this many.
const DEFAULT_MAX_TASKS: usize = 100;

/// `sweep merge DIR`: the tables from every journal of DIR, running nothing.
pub fn merge_main(args: &MergeArgs) -> Result<ExitCode> {
    super::super::set_colors(args.no_color);
    let formats = Formats::parse(&args.format)?;
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("results folder {}", args.dir.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a folder", args.dir.display());
    }
    let spec = match &args.spec {
        Some(path) => SweepSpec::load(path)?,
        None => {
            let record = SpecRecord::read(&dir)?;
            // Relative paths in the spec (and so dataset run ids) resolve from where the sweep
            // ran: merge from there too.
            if Path::new(&record.cwd).is_dir() {
                std::env::set_current_dir(&record.cwd)
                    .with_context(|| format!("cannot enter {}", record.cwd))?;
            } else if !args.quiet {
                eprintln!(
                    "{} the sweep ran in {}, which is not here: reading {} from the current directory",
                    style("warning:").for_stderr().yellow().bold(),
                    record.cwd,
                    record.path
                );
            }
            record.spec().with_context(|| {
                format!(
                    "the spec recorded in {} (pass --spec SPEC to use another)",
                    dir.join(sweep::SPEC_RECORD).display()
                )
            })?
        }
    };
    let grid = sweep::expand(&spec).with_context(|| {
        format!(
            "rebuilding the grid of {} from {} (pass --spec SPEC to use another copy)",
            dir.display(),
            spec.path.display()
        )
    })?;
    let outcome = sweep::merge(&spec, &grid, &dir, formats)
        .with_context(|| format!("sweep {}", spec.name))?;

    if outcome.unmatched > 0 && !args.quiet {
        eprintln!(
            "{} {} journal records match no run of this grid: the spec, a base config or the tool \
             version changed since they ran (they are not in the tables)",
            style("warning:").for_stderr().yellow().bold(),
            outcome.unmatched
        );
    }
    if !outcome.missing.is_empty() {
        report_missing(&spec, &grid, &dir, &outcome);
    }
    if !args.quiet {
        let failed = if outcome.failed > 0 {
            style(format!("{} failed", outcome.failed))
                .red()
                .to_string()
        } else {
            "0 failed".to_string()
        };
        let missing = if outcome.missing.is_empty() {
            "0 missing".to_string()
        } else {
            style(format!("{} missing", outcome.missing.len()))
                .red()
                .to_string()
        };
        outln!(
            "sweep {}: merged {} runs over {} points from {} journals ({} ok, {failed}, {missing}) in {:.2} s -> {}",
            spec.name,
            outcome.runs,
            outcome.points,
            outcome.journals.len(),
            outcome.ok,
            outcome.wall_s,
            dir.display()
        );
        super::answer::print(
            &spec,
            &grid,
            &dir,
            formats,
            &outcome.answer,
            &outcome.capacity,
        )?;
    }
    Ok(if !outcome.missing.is_empty() {
        ExitCode::from(EXIT_MISSING)
    } else if outcome.failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Says which runs are missing, which shards they belong to, and how to fill them in.
fn report_missing(spec: &SweepSpec, grid: &Grid, dir: &Path, outcome: &sweep::MergeOutcome) {
    let missing = &outcome.missing;
    eprintln!(
        "{} sweep {}: {} of {} runs are missing (no record in any journal of {})",
        style("error:").for_stderr().red().bold(),
        spec.name,
        missing.len(),
        outcome.runs,
        dir.display()
    );
    // The shard split(s) the journals were written with.
    let mut counts: Vec<usize> = outcome
        .journals
        .iter()
        .filter(|f| !f.shard.is_whole())
        .map(|f| f.shard.count)
        .collect();
    counts.sort_unstable();
    counts.dedup();
    let submit = dir.join("slurm").join("submit.sh");
    for n in counts {
        let assignment = shard::assign(grid, n);
        let mut per_shard: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in missing {
            *per_shard.entry(assignment[i]).or_default() += 1;
        }
        let list: Vec<String> = per_shard
            .iter()
            .map(|(k, m)| format!("shard {k}/{n}: {m}"))
            .collect();
        eprintln!("  by shard of {n}: {}", list.join(", "));
        let indices: Vec<usize> = per_shard.keys().copied().collect();
        if submit.is_file() {
            eprintln!(
                "  rerun those shards on Slurm: {} {}",
                quote(&submit),
                slurm_ranges(&indices)
            );
        } else {
            let shards = if indices.len() == 1 {
                format!("{}/{n}", indices[0])
            } else {
                format!("K/{n} for K in {}", slurm_ranges(&indices))
            };
            eprintln!(
                "  rerun: inference-lab sweep {} -o {} --shard {shards}",
                quote(&spec.path),
                quote(dir)
            );
        }
    }
    for &i in missing.iter().take(5) {
        let run = &grid.runs[i];
        eprintln!(
            "  missing: {} (run {})",
            describe_point(grid, run),
            run.run_id
        );
    }
    if missing.len() > 5 {
        eprintln!("  ... and {} more", missing.len() - 5);
    }
    eprintln!(
        "  the tables list them with status = missing; `inference-lab sweep {} -o {}` runs them here and merges",
        quote(&spec.path),
        quote(dir)
    );
}

/// Says when a local sweep read other shards' journals.
pub fn note_merged_shards(outcome: &SweepOutcome) {
    let shards: Vec<_> = outcome
        .journals
        .iter()
        .filter(|f| !f.shard.is_whole())
        .collect();
    if shards.is_empty() {
        return;
    }
    let records: usize = shards.iter().map(|f| f.records).sum();
    eprintln!(
        "{} merged {records} records from {} shard journals ({}{})",
        style("note:").for_stderr().cyan().bold(),
        shards.len(),
        shards[0].name,
        if shards.len() > 1 { ", ..." } else { "" }
    );
}

/// `sweep SPEC --slurm`: writes the array and merge job scripts, and submits them with
/// `--submit`.
pub fn slurm_main(args: &SweepArgs, sweeps: &[(SweepSpec, Grid)]) -> Result<ExitCode> {
    let [(spec, grid)] = sweeps else {
        bail!("--slurm takes one spec (give each spec its own array job)");
    };
    if let Some(n) = args.threads {
        sweep::limits::check_threads(n)?;
    }
    let out_dir = args
        .output
        .clone()
        .unwrap_or_else(|| sweep::default_out_dir(spec));
    let out_dir = std::path::absolute(&out_dir)
        .with_context(|| format!("results folder {}", out_dir.display()))?;
    let runs = grid.runs.len();
    let shards = match args.array_size {
        Some(0) => bail!("--array-size 0: give at least 1 task"),
        Some(n) if n > runs => {
            if !args.quiet {
                eprintln!(
                    "{} --array-size {n} is more than the {runs} runs: using {runs} tasks",
                    style("note:").for_stderr().cyan().bold()
                );
            }
            runs
        }
        Some(n) => n,
        None => runs.min(DEFAULT_MAX_TASKS),
    };
    let exe = std::env::current_exe().context("cannot locate the inference-lab binary")?;
    let workdir = std::env::current_dir().context("cannot read the working directory")?;
    let plan = SlurmPlan {
        name: spec.name.clone(),
        exe,
        workdir,
        spec: spec.path.clone(),
        out_dir: out_dir.clone(),
        shards,
        threads: args.threads,
        partition: args.partition.clone(),
        formats: args.format.clone(),
        extra: args.sbatch_args.clone(),
    };
    plan.check()?;
    sweep::record_spec(&out_dir, spec)?;
    plan.write()?;

    // What is left to do, by shard: a resubmission runs only the shards with work.
    let (records, _) = RecordIndex::read(&out_dir)?;
    let assignment = shard::assign(grid, shards);
    let mut todo = vec![0usize; shards];
    if grid.search.is_some() {
        // A search has work while its walk over the journals stops short of an answer (a
        // probe without a record, or one that failed and runs again).
        let all: Vec<usize> = (0..grid.runs.len()).collect();
        for result in sweep::capacity::replay(grid, &all, &records) {
            if matches!(result.walk.found, sweep::search::Found::Failed(_)) {
                todo[assignment[result.template]] += 1;
            }
        }
    } else {
        for run in &grid.runs {
            if !records.is_ok(&run.run_id) {
                todo[assignment[run.index]] += 1;
            }
        }
    }
    let pending: Vec<usize> = (0..shards).filter(|&k| todo[k] > 0).collect();
    let total_todo: usize = todo.iter().sum();
    let submit = plan.submit_script_path();
    let unit = if grid.search.is_some() {
        "searches"
    } else {
        "runs"
    };
    if !args.quiet {
        outln!(
            "sweep {}: wrote {} (array of {shards} tasks over {runs} {unit}, {total_todo} to do), {} and {}",
            spec.name,
            plan.array_script_path().display(),
            plan.merge_script_path().display(),
            submit.display()
        );
    }
    if pending.is_empty() {
        if !args.quiet {
            outln!(
                "every run already has an ok record: nothing to submit (tables: inference-lab sweep merge {})",
                quote(&out_dir)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let indices = (pending.len() < shards).then(|| slurm_ranges(&pending));
    if !args.submit {
        if !args.quiet {
            outln!(
                "submit with: {}{}   (or add --submit)",
                quote(&submit),
                indices
                    .as_deref()
                    .map_or(String::new(), |i| format!(" {i}"))
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if find_on_path("sbatch").is_none() {
        bail!(
            "sbatch is not on PATH: run {} on a machine that submits Slurm jobs",
            submit.display()
        );
    }
    let mut cmd = Command::new("bash");
    cmd.arg(&submit).args(indices.iter());
    let status = cmd
        .status()
        .with_context(|| format!("cannot run bash {}", submit.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", submit.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Sorted indices in Slurm's array syntax: 0-3,7,9-10.
pub fn slurm_ranges(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            indices[i].to_string()
        } else {
            format!("{}-{}", indices[i], indices[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    #[test]
    fn slurm_ranges_compress_runs_of_indices() {
        assert_eq!(super::slurm_ranges(&[0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
        assert_eq!(super::slurm_ranges(&[5]), "5");
        assert_eq!(super::slurm_ranges(&[]), "");
    }
}
