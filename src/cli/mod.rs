//! Argument parsing and the single-run command.

/// `println!` that returns a "cannot write to stdout" error from the enclosing function
/// instead of panicking (exit 101) when stdout is full, closed or otherwise unwritable.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::cli::stdout_error)?;
    }};
}

/// `print!` with the error handling of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*).map_err($crate::cli::stdout_error)?;
    }};
}

mod args;
mod calibrate;
mod html_report;
mod presets;
mod progress;
mod report;
mod serve;
mod sweep;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser};
use std::sync::Arc;

use inference_lab::records::{self, Recorders, RequestLog, TimeSeries};
use inference_lab::workload::DatasetKey;
use inference_lab::{Config, Simulator};

use args::{Cli, Command, RunArgs};

pub fn main() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return Ok(args::exit_for_clap_error(err)),
    };
    match &cli.command {
        Some(Command::Sweep(args)) => sweep::main(args),
        Some(Command::Calibrate(args)) => calibrate::main(args),
        Some(Command::Validate(args)) => validate::main(args),
        Some(Command::Presets(args)) => presets::main(args),
        Some(Command::Report(args)) => html_report::main(args),
        Some(Command::Serve(args)) => serve::main(args),
        Some(Command::Completions(args)) => {
            let mut script = Vec::new();
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "inference-lab",
                &mut script,
            );
            out!("{}", String::from_utf8_lossy(&script));
            Ok(ExitCode::SUCCESS)
        }
        None => {
            run(&cli.run)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The error of a failed write to stdout (a full disk, `> /dev/full`, a closed descriptor).
pub fn stdout_error(err: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot write to stdout: {err}")
}

/// Colors on each stream only when it is a terminal, never with --no-color or NO_COLOR.
fn set_colors(no_color: bool) {
    let color = !no_color && std::env::var_os("NO_COLOR").is_none();
    console::set_colors_enabled(color && std::io::stdout().is_terminal());
    console::set_colors_enabled_stderr(color && std::io::stderr().is_terminal());
}

/// Prints an error as one line on stderr (red when stderr is a terminal). If stderr itself
/// cannot be written there is nowhere left to say so: the exit code still tells.
pub fn print_error(err: &anyhow::Error) {
    use std::io::Write as _;
    let prefix = console::style("error:").for_stderr().red().bold();
    let mut err_line = std::io::stderr();
    let _ = writeln!(err_line, "{prefix} {}", one_short_line(&format!("{err:#}")));
}

/// Prints a warning as one line on stderr (yellow when stderr is a terminal).
pub fn print_warning(message: &str) {
    use std::io::Write as _;
    let prefix = console::style("warning:").for_stderr().yellow().bold();
    let _ = writeln!(std::io::stderr(), "{prefix} {}", one_short_line(message));
}

/// Most characters of one printed error or warning line.
const LINE_LIMIT: usize = 400;

/// The safety net behind the shortening every message does to the input it quotes: a message
/// printed on one line (newlines from nested causes become spaces) and never longer than
/// [`LINE_LIMIT`] characters, whatever a library put in it.
fn one_short_line(message: &str) -> String {
    let line = message.trim().replace(['\r', '\n'], " ");
    if line.chars().count() <= LINE_LIMIT {
        return line;
    }
    let head: String = line.chars().take(LINE_LIMIT - 60).collect();
    format!("{head}... ({} characters in all)", line.chars().count())
}
/// The config of a run or a validation: the file, then `--seed`, then each `--set` in order,
/// through the sweep's override rule when there are overrides (without any, exactly
/// `Config::load`, so plain runs are untouched).
fn load_config(
    path: &std::path::Path,
    seed: Option<u64>,
    set: &[(String, toml::Value)],
) -> Result<Config> {
    if set.is_empty() {
        let mut config = Config::load(path)?;
        if let Some(seed) = seed {
            config.workload.seed = seed;
        }
        return Ok(config);
    }
    let mut overrides = Vec::with_capacity(set.len() + 1);
    if let Some(seed) = seed {
        overrides.push((
            "workload.seed".to_string(),
            toml::Value::Integer(
                i64::try_from(seed)
                    .context("--seed is above 2^63 - 1, which a config cannot hold")?,
            ),
        ));
    }
    overrides.extend(set.iter().cloned());
    Ok(inference_lab::sweep::config_with_overrides(
        path, &overrides,
    )?)
}

fn run(args: &RunArgs) -> Result<()> {
    set_colors(args.no_color);
    // `-o -`: stdout carries the JSON alone, so nothing else may be printed there.
    let json_to_stdout = args.output.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let report = !args.quiet && !json_to_stdout;

    let mut set = args.set.clone();
    if args.roofline {
        set.push(("hardware.step_model".into(), toml::Value::from("roofline")));
    }
    let mut config = load_config(&args.config, args.seed, &set)?;
    if !args.quiet {
        for warning in config.warnings() {
            print_warning(&format!("{}: {warning}", args.config.display()));
        }
    }
    apply_dataset_flags(
        &mut config,
        &args.config,
        args.tokenizer.as_deref(),
        args.chat_template.as_deref(),
    )?;
    if args.verbose && !args.quiet {
        report::print_derived(&config)?;
    }
    let context = || args.config.display().to_string();
    let dataset = match DatasetKey::of(&config).with_context(context)? {
        None => None,
        Some(key) => {
            let dataset = key.load(config.workload.num_requests)?;
            if !args.quiet {
                report::warn_dataset(&config, &dataset);
            }
            Some(Arc::new(dataset))
        }
    };
    let dataset_info = dataset.as_ref().map(|d| report::dataset_json(&config, d));
    let simulator = Simulator::with_dataset(&config, dataset).with_context(context)?;
    let recorders = recorders(args, simulator.class_names())?;
    let simulator = simulator.with_recorders(recorders);
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let summary = if show_progress {
        let bar = progress::RunProgress::new();
        let summary = simulator.run_with_progress(|p| bar.update(p));
        bar.finish();
        summary?
    } else {
        simulator.run()?
    };

    if let Some(path) = &args.output {
        let mut doc = report::json_document(&config, &summary)?;
        if let Some(info) = dataset_info {
            doc["dataset"] = info;
        }
        if let Some(outputs) = outputs_json(args, path) {
            doc["outputs"] = outputs;
        }
        let text = serde_json::to_string_pretty(&doc)? + "\n";
        if json_to_stdout {
            out!("{text}");
        } else {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if !args.quiet {
        report::warn_overload(&summary);
        report::warn_all_warmup(&config, &summary);
    }
    if report {
        report::print_summary(&mut std::io::stdout().lock(), &config, &summary)
            .map_err(stdout_error)?;
    }
    Ok(())
}

/// The records `--requests` and `--timeseries` ask for, their files created.
fn recorders(args: &RunArgs, classes: &[String]) -> Result<Recorders> {
    let interval = args.interval.unwrap_or(1.0);
    if !(interval.is_finite() && interval > 0.0) {
        bail!("--interval {interval} is invalid: give a positive number of simulated seconds");
    }
    let mut recorders = Recorders::default();
    if let Some(path) = &args.requests {
        let sink = records::open(path).context("--requests")?;
        recorders.requests = Some(RequestLog::new(sink, classes.to_vec()));
    }
    if let Some(path) = &args.timeseries {
        let sink = records::open(path).context("--timeseries")?;
        recorders.timeseries = Some(TimeSeries::new(interval, sink));
    }
    Ok(recorders)
}

/// The JSON's `outputs`: where the records went, relative to the JSON's folder when they are
/// beside or under it (what `inference-lab report RUN.json` reads), else as given.
fn outputs_json(args: &RunArgs, json_path: &std::path::Path) -> Option<serde_json::Value> {
    let base = std::path::absolute(json_path)
        .ok()
        .and_then(|p| p.parent().map(|p| p.to_path_buf()));
    let show = |p: &std::path::PathBuf| {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let rel = base.as_ref().and_then(|b| abs.strip_prefix(b).ok());
        serde_json::Value::from(rel.unwrap_or(&abs).display().to_string())
    };
    let mut outputs = serde_json::Map::new();
    if let Some(p) = &args.requests {
        outputs.insert("requests".into(), show(p));
    }
    if let Some(p) = &args.timeseries {
        outputs.insert("timeseries".into(), show(p));
        outputs.insert(
            "timeseries_interval_s".into(),
            args.interval.unwrap_or(1.0).into(),
        );
    }
    (!outputs.is_empty()).then_some(serde_json::Value::Object(outputs))
}

/// `--tokenizer` and `--chat-template` (relative to the working directory) override the
/// config's workload.tokenizer and workload.chat_template; outside dataset mode they are an
/// error rather than silently ignored.
fn apply_dataset_flags(
    config: &mut Config,
    config_path: &std::path::Path,
    tokenizer: Option<&std::path::Path>,
    chat_template: Option<&str>,
) -> Result<()> {
    if config.workload.dataset_path.is_none() {
        if tokenizer.is_some() || chat_template.is_some() {
            bail!(
                "--tokenizer and --chat-template apply to dataset mode only, but {} sets no \
                 workload.dataset_path",
                config_path.display()
            );
        }
        return Ok(());
    }
    if let Some(path) = tokenizer {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        config.workload.tokenizer = Some(abs.display().to_string());
    }
    if let Some(template) = chat_template {
        let as_file = std::path::Path::new(template);
        config.workload.chat_template = Some(if as_file.is_file() {
            std::path::absolute(as_file)
                .unwrap_or_else(|_| as_file.to_path_buf())
                .display()
                .to_string()
        } else {
            template.to_string()
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_lines_are_single_and_capped() {
        assert_eq!(one_short_line("a\nb\r\nc "), "a b  c");
        let long = "x".repeat(10 * LINE_LIMIT);
        let line = one_short_line(&long);
        assert!(line.chars().count() <= LINE_LIMIT, "{}", line.len());
        assert!(line.ends_with("... (4000 characters in all)"), "{line}");
        let exactly = "y".repeat(LINE_LIMIT);
        assert_eq!(one_short_line(&exactly), exactly);
    }
}
