//! Argument parsing and the single-run command.

mod args;
mod calibrate;
mod progress;
mod report;
mod sweep;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::sync::Arc;

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
        None => {
            run(&cli.run)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Colors on each stream only when it is a terminal, never with --no-color or NO_COLOR.
fn set_colors(no_color: bool) {
    let color = !no_color && std::env::var_os("NO_COLOR").is_none();
    console::set_colors_enabled(color && std::io::stdout().is_terminal());
    console::set_colors_enabled_stderr(color && std::io::stderr().is_terminal());
}

/// Prints an error as one line on stderr (red when stderr is a terminal).
pub fn print_error(err: &anyhow::Error) {
    let prefix = console::style("error:").for_stderr().red().bold();
    eprintln!("{prefix} {err:#}");
}

fn run(args: &RunArgs) -> Result<()> {
    set_colors(args.no_color);

    let mut config = Config::load(&args.config)?;
    if let Some(seed) = args.seed {
        config.workload.seed = seed;
    }
    apply_dataset_flags(&mut config, args)?;
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
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !args.quiet {
        report::print_summary(&config, &summary);
    }
    Ok(())
}

/// `--tokenizer` and `--chat-template` (relative to the working directory) override the
/// config's workload.tokenizer and workload.chat_template; outside dataset mode they are an
/// error rather than silently ignored.
fn apply_dataset_flags(config: &mut Config, args: &RunArgs) -> Result<()> {
    if config.workload.dataset_path.is_none() {
        if args.tokenizer.is_some() || args.chat_template.is_some() {
            bail!(
                "--tokenizer and --chat-template apply to dataset mode only, but {} sets no \
                 workload.dataset_path",
                args.config.display()
            );
        }
        return Ok(());
    }
    if let Some(path) = &args.tokenizer {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        config.workload.tokenizer = Some(abs.display().to_string());
    }
    if let Some(template) = &args.chat_template {
        let as_file = std::path::Path::new(template);
        config.workload.chat_template = Some(if as_file.is_file() {
            std::path::absolute(as_file)
                .unwrap_or_else(|_| as_file.to_path_buf())
                .display()
                .to_string()
        } else {
            template.clone()
        });
    }
    Ok(())
}
