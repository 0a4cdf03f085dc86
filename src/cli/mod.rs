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
    eprintln!("{prefix} {}", one_short_line(&format!("{err:#}")));
}

/// Prints a warning as one line on stderr (yellow when stderr is a terminal).
pub fn print_warning(message: &str) {
    let prefix = console::style("warning:").for_stderr().yellow().bold();
    eprintln!("{prefix} {}", one_short_line(message));
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

fn run(args: &RunArgs) -> Result<()> {
    set_colors(args.no_color);

    let mut config = Config::load(&args.config)?;
    if !args.quiet {
        for warning in config.warnings() {
            print_warning(&format!("{}: {warning}", args.config.display()));
        }
    }
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
