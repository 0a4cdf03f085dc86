//! Argument parsing and the single-run command.

mod args;
mod progress;
mod report;
mod sweep;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use inference_lab::{Config, Simulator};

use args::{Cli, Command, RunArgs};

pub fn main() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return Ok(args::exit_for_clap_error(err)),
    };
    match &cli.command {
        Some(Command::Sweep(args)) => sweep::main(args),
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
    check_dataset_flags(&config, args)?;
    if args.verbose && !args.quiet {
        report::print_derived(&config)?;
    }

    let simulator =
        Simulator::new(&config).with_context(|| format!("{}", args.config.display()))?;
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
        let doc = report::json_document(&config, &summary)?;
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !args.quiet {
        report::print_summary(&config, &summary);
    }
    Ok(())
}

/// Dataset mode needs a tokenizer; a tokenizer without a dataset would be silently ignored.
fn check_dataset_flags(config: &Config, args: &RunArgs) -> Result<()> {
    let dataset = &config.workload.dataset_path;
    if let (Some(path), None) = (dataset, &args.tokenizer) {
        bail!(
            "{}: workload.dataset_path = {path:?} selects dataset mode, which needs \
             --tokenizer FILE (a HuggingFace tokenizer.json) and --chat-template (None, a \
             template string or a template file)",
            args.config.display()
        );
    }
    if dataset.is_none() && (args.tokenizer.is_some() || args.chat_template.is_some()) {
        bail!(
            "--tokenizer and --chat-template apply to dataset mode only, but {} sets no \
             workload.dataset_path",
            args.config.display()
        );
    }
    Ok(())
}
