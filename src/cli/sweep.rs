//! `inference-lab sweep`: expand, check, run, and report a sweep; or one shard of it, the
//! merge of the shards' journals, and Slurm job scripts for both (in [`cluster`]).
//!
//! Exit codes: 0 every run succeeded; 1 the sweep could not run (bad spec, unreadable file,
//! I/O error); 2 the sweep ran but at least one run failed (its row says why); 3 (`sweep
//! merge`) runs have no record in any journal.

mod answer;
mod capacity;
mod cluster;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inference_lab::shorten;
use inference_lab::sweep::records::{RecordIndex, Records};
use inference_lab::sweep::{self, Formats, Grid, Shard, SweepOptions, SweepSpec};

use super::args::{SweepAction, SweepArgs};

/// Prints each distinct warning of the runs' configs once (a key the arrival pattern
/// ignores is usually in the base config, and so in every run).
fn print_config_warnings<'a>(grids: impl Iterator<Item = &'a Grid>) {
    let mut seen = std::collections::HashSet::new();
    for run in grids.flat_map(|g| &g.runs) {
        for warning in run.config.iter().flat_map(|c| c.warnings()) {
            if seen.insert(warning.clone()) {
                super::print_warning(&warning);
            }
        }
    }
}

pub fn main(args: &SweepArgs) -> Result<ExitCode> {
    if let Some(SweepAction::Merge(merge)) = &args.action {
        return cluster::merge_main(merge);
    }
    super::set_colors(args.no_color);
    let formats = Formats::parse(&args.format)?;
    let threads = match args.threads {
        Some(n) => sweep::limits::check_threads(n)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let paths = spec_paths(&args.specs)?;
    // Check every spec before running any.
    let mut sweeps = Vec::new();
    for path in &paths {
        let spec = SweepSpec::load(path)?;
        let grid = sweep::expand(&spec).with_context(|| path.display().to_string())?;
        sweeps.push((spec, grid));
    }
    if !args.quiet {
        print_config_warnings(sweeps.iter().map(|(_, grid)| grid));
    }
    let mut names: Vec<&str> = sweeps.iter().map(|(s, _)| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "two specs are named {:?}: their results would share a folder",
            w[0]
        );
    }
    if args.slurm {
        return cluster::slurm_main(args, &sweeps);
    }
    if args.array_size.is_some() || args.partition.is_some() || args.submit {
        bail!("--array-size, --partition and --submit go with --slurm");
    }
    if !args.sbatch_args.is_empty() {
        bail!(
            "{:?} after `--`: options there are sbatch options, for --slurm only",
            args.sbatch_args.join(" ")
        );
    }
    let shard = match &args.shard {
        Some(text) => Shard::parse(text)?,
        None => match Shard::from_env(|k| std::env::var(k).ok())? {
            Some((shard, from)) => {
                if !args.quiet {
                    eprintln!(
                        "{} running shard {shard} {from} (--shard K/N overrides; --shard 0/1 runs the whole grid)",
                        style("note:").for_stderr().cyan().bold()
                    );
                }
                shard
            }
            None => Shard::WHOLE,
        },
    };
    if args.force && !shard.is_whole() {
        bail!(
            "--force with shard {shard} would delete the results of shards that may be running: \
             clear the results folder once before starting the shards"
        );
    }

    let mut any_failed = false;
    for (spec, grid) in &sweeps {
        let out_dir = match (&args.output, sweeps.len()) {
            (Some(dir), 1) => dir.clone(),
            (Some(dir), _) => dir.join(&spec.name),
            (None, _) => sweep::default_out_dir(spec),
        };
        let mine = shard.runs(grid);
        if args.dry_run {
            print_dry_run(spec, grid, &out_dir, args.force, shard, &mine)?;
            continue;
        }
        if !args.quiet {
            warn_invalid(grid, &mine);
        }
        let options = SweepOptions {
            out_dir: out_dir.clone(),
            threads,
            force: args.force,
            formats,
        };
        let bar = (!args.quiet && std::io::stderr().is_terminal()).then(new_bar);
        // A panicking run becomes an error row; keep the default hook from drawing over the
        // progress bar.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let outcome = sweep::run_shard(spec, grid, &options, shard, |p| {
            if let Some(bar) = &bar {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
                bar.set_message(format!("failed {}", p.failed));
            }
        });
        std::panic::set_hook(hook);
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let outcome = outcome.with_context(|| format!("sweep {}", spec.name))?;
        any_failed |= outcome.failed > 0;
        if args.quiet {
            continue;
        }
        report_failures(grid, &outcome.failures);
        let failed = if outcome.failed > 0 {
            style(format!("{} failed", outcome.failed))
                .red()
                .to_string()
        } else {
            "0 failed".to_string()
        };
        if shard.is_whole() {
            cluster::note_merged_shards(&outcome);
            let what = match &grid.search {
                Some(_) => format!(
                    "{} searches over {} points took {} runs",
                    grid.runs.len(),
                    outcome.points,
                    outcome.runs
                ),
                None => format!("{} runs over {} points", outcome.runs, outcome.points),
            };
            outln!(
                "sweep {}: {what} ({} ran, {} already done, {failed}) in {:.2} s on {threads} threads -> {}",
                spec.name,
                outcome.ran,
                outcome.skipped,
                outcome.wall_s,
                out_dir.display()
            );
            answer::print(
                spec,
                grid,
                &out_dir,
                formats,
                &outcome.answer,
                &outcome.capacity,
            )?;
        } else {
            outln!(
                "sweep {} shard {shard}: {} of {} runs ({} ran, {} already done, {failed}) in {:.2} s on {threads} threads -> {} (tables: inference-lab sweep merge {} once every shard is done)",
                spec.name,
                outcome.runs,
                grid.runs.len(),
                outcome.ran,
                outcome.skipped,
                outcome.wall_s,
                out_dir.display(),
                sweep::slurm::quote(&out_dir),
            );
        }
    }
    Ok(if any_failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Expands globs; plain paths must exist.
fn spec_paths(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for pattern in patterns {
        if pattern.contains(['*', '?', '[']) {
            let mut matched: Vec<PathBuf> = glob::glob(pattern)
                .with_context(|| format!("bad glob {pattern:?}"))?
                .filter_map(|p| p.ok())
                .collect();
            if matched.is_empty() {
                bail!("{pattern:?} matches no sweep spec");
            }
            matched.sort();
            paths.extend(matched);
        } else {
            paths.push(PathBuf::from(pattern));
        }
    }
    Ok(paths)
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs  {per_sec}  ETA {eta}  {msg}",
        )
        .expect("static template"),
    );
    bar
}

/// Warns about the invalid configs among `runs` (indices into the grid).
fn warn_invalid(grid: &Grid, runs: &[usize]) {
    let invalid: Vec<_> = runs
        .iter()
        .map(|&i| &grid.runs[i])
        .filter(|r| r.config.is_err())
        .collect();
    if invalid.is_empty() {
        return;
    }
    eprintln!(
        "{} {} of {} runs have invalid configs and will be error rows:",
        style("warning:").for_stderr().yellow().bold(),
        invalid.len(),
        runs.len()
    );
    for run in invalid.iter().take(5) {
        eprintln!(
            "  {}: {}",
            describe_point(grid, run),
            run.config.as_ref().err().map_or("", String::as_str)
        );
    }
    if invalid.len() > 5 {
        eprintln!("  ... and {} more", invalid.len() - 5);
    }
}

/// Names the failed runs (the first few) with their first error line, on stderr.
fn report_failures(grid: &Grid, failures: &[(usize, String)]) {
    if failures.is_empty() {
        return;
    }
    eprintln!(
        "{} {} runs failed (error rows in the tables):",
        style("error:").for_stderr().red().bold(),
        failures.len()
    );
    for (i, error) in failures.iter().take(10) {
        eprintln!("  {}: {error}", describe_point(grid, &grid.runs[*i]));
    }
    if failures.len() > 10 {
        eprintln!("  ... and {} more", failures.len() - 10);
    }
}

pub(super) fn describe_point(grid: &Grid, run: &sweep::RunPoint) -> String {
    let mut parts: Vec<String> = grid
        .columns
        .iter()
        .zip(&run.params)
        .map(|(c, v)| format!("{} = {}", shorten(c), shorten(&v.to_string())))
        .collect();
    parts.push(format!("seed = {}", run.seed));
    parts.join(", ")
}

fn print_dry_run(
    spec: &SweepSpec,
    grid: &Grid,
    out_dir: &std::path::Path,
    force: bool,
    shard: Shard,
    mine: &[usize],
) -> Result<()> {
    let seeds = spec.seeds.as_ref().map_or(1, Vec::len);
    // The run itself would refuse a foreign folder: say so now.
    sweep::folder::check(out_dir)?;
    let records = if force {
        Default::default()
    } else {
        RecordIndex::read(out_dir)?.0
    };
    let is_done = |i: &usize| records.is_ok(&grid.runs[*i].run_id);
    let done = (0..grid.runs.len()).filter(is_done).count();
    if let Some(plan) = &grid.search {
        let s = &plan.search;
        outln!(
            "sweep {}: {} points x {seeds} seeds = {} searches of {} in [{}, {}] to {}%, up to {} runs each ({} excluded), {} invalid; results -> {}",
            spec.name,
            grid.points,
            grid.runs.len(),
            s.path,
            s.lo,
            s.hi,
            100.0 * s.tolerance,
            s.max_probes(),
            grid.excluded,
            grid.invalid().count(),
            out_dir.display()
        );
        outln!("each search starts at lo = {}; its first runs:", s.lo);
    } else {
        outln!(
        "sweep {}: {} points x {seeds} seeds = {} runs ({} excluded), {} invalid, {done} already done; results -> {}",
        spec.name,
        grid.points,
        grid.runs.len(),
        grid.excluded,
        grid.invalid().count(),
        out_dir.display()
        );
    }
    if !shard.is_whole() {
        let weight = |i: &usize| sweep::shard::weight(grid.runs[*i].cost) as f64;
        let total: f64 = (0..grid.runs.len()).map(|i| weight(&i)).sum();
        let share: f64 = mine.iter().map(weight).sum();
        outln!(
            "shard {shard}: {} of {} runs ({:.1}% of the expected cost), {} of them already done",
            mine.len(),
            grid.runs.len(),
            100.0 * share / total.max(1.0),
            mine.iter().filter(|i| is_done(i)).count()
        );
    }
    let mut header = vec!["run_id".to_string()];
    header.extend(grid.columns.iter().cloned());
    header.push("seed".into());
    header.push("config".into());
    let rows: Vec<Vec<String>> = mine
        .iter()
        .map(|&i| &grid.runs[i])
        .take(10)
        .map(|r| {
            let mut row = vec![r.run_id.clone()];
            row.extend(r.params.iter().map(|v| match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
            row.push(r.seed.to_string());
            row.push(match &r.config {
                Ok(_) => "ok".into(),
                Err(e) => format!("invalid: {e}"),
            });
            row
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    outln!("{}", style(line(&header)).bold());
    for row in &rows {
        outln!("{}", line(row));
    }
    if mine.len() > rows.len() {
        outln!("... {} more", mine.len() - rows.len());
    }
    warn_invalid(grid, mine);
    Ok(())
}
