//! The command-line interface (clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Simulate a vLLM-style LLM inference engine: continuous batching, chunked prefill, paged KV
/// cache with prefix caching, preemption, and a roofline model of each forward pass.
#[derive(Debug, Parser)]
#[command(
    name = "inference-lab",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = RUN_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a grid of simulations from a sweep spec, writing runs and summary tables.
    Sweep(SweepArgs),
    /// Fit the step-time model to measured forward-pass times, or predict step times.
    Calibrate(super::calibrate::CalibrateArgs),
    /// Check configs and print what each implies (KV blocks, bytes per token, ...) without
    /// running them.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// List the catalogs: GPU presets (hardware.preset) and shipped model configs
    /// (model.hf_config).
    #[command(after_help = PRESETS_HELP)]
    Presets(PresetsArgs),
    /// Turn a sweep's results folder or a run's JSON into one self-contained HTML page, and
    /// optionally its charts as SVG or PNG files.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Serve the web interface: a page to set up, run and watch simulations, and browse
    /// sweep results.
    #[command(after_help = super::serve::SERVE_HELP)]
    Serve(super::serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

/// Every `--help` ends with examples and the exit codes, so a newcomer can copy a working
/// command and a script can tell failures apart.
const RUN_HELP: &str = "\
Examples:
  inference-lab -c configs/debug-closed-loop.toml
  inference-lab -c configs/chat-llama3-8b-h100.toml --seed 3 -o results.json
  inference-lab -c configs/chat-llama3-8b-h100.toml --set workload.arrival_rate=20 \\
      --set scheduler.policy=sof -o - | jq .metrics.ttft_ms_p99
  inference-lab validate configs/*.toml
  inference-lab sweep sweeps/policies.toml

Exit codes:
  0  the run finished
  1  any error (bad config, bad flag, unreadable or unwritable file), one line on stderr";

const SWEEP_HELP: &str = "\
Examples:
  inference-lab sweep sweeps/policies.toml
  inference-lab sweep sweeps/policies.toml --dry-run
  inference-lab sweep 'sweeps/*.toml' -j 8 -o results/all
  inference-lab sweep sweeps/policies.toml -o /shared/policies --shard 0/4
  inference-lab sweep sweeps/policies.toml --slurm --array-size 16 --submit -- --time=1:00:00

Exit codes:
  0  every run succeeded
  1  the sweep could not start (bad spec, unreadable or unwritable file)
  2  it ran, but at least one run failed (its row in the tables says why)";

const MERGE_HELP: &str = "\
Examples:
  inference-lab sweep merge results/policies
  inference-lab sweep merge /shared/policies --spec sweeps/policies.toml --format csv

Exit codes:
  0  every run has an ok record
  1  the merge could not run (no spec.json, unreadable journal, unwritable table)
  2  at least one run failed
  3  runs are missing: no journal has a record of them (the tables still list them)";

const VALIDATE_HELP: &str = "\
Examples:
  inference-lab validate configs/*.toml
  inference-lab validate my.toml --set scheduler.max_num_seqs=512
  inference-lab validate examples/seed-era/dataset_config.toml \\
      -t data/tokenizers/qwen3/tokenizer.json --chat-template None

Prints `ok: PATH: <derived numbers>` on stdout for each valid config and `error: PATH: ...` on
stderr for each invalid one. A dataset-mode config without a tokenizer is checked without
loading its dataset (the line says so); with one, the dataset is read and tokenised too.

Exit codes:
  0  every config is valid
  1  at least one config is invalid (or a flag is bad)";

const PRESETS_HELP: &str = "\
Examples:
  inference-lab presets
  inference-lab presets --gpus
  inference-lab presets --models

In a config: [hardware] preset = \"h100-sxm\" fills one GPU's datasheet numbers (and, where
steps were measured, its calibration); [model] hf_config = \"llama-3.1-8b\" (or a path to any
config.json) fills the model's. Keys the config writes itself win.

Exit codes:
  0  the catalogs were printed
  1  stdout could not be written";

const COMPLETIONS_HELP: &str = "\
Examples:
  inference-lab completions bash > ~/.local/share/bash-completion/completions/inference-lab
  inference-lab completions zsh > ~/.zfunc/_inference-lab
  inference-lab completions fish > ~/.config/fish/completions/inference-lab.fish

Exit codes:
  0  the script was written
  1  a bad shell name, or stdout could not be written";

/// Calibrate's help texts live here too, beside the others.
pub const FIT_HELP: &str = "\
Examples:
  inference-lab calibrate fit --steps data/h100-steps/h100-llama3-8b-bf16-train.csv \\
      -c configs/chat-llama3-8b-h100.toml --fix memory_efficiency=0.9 -o calibrated.toml
  inference-lab calibrate fit --steps STEPS.csv -c CONFIG.toml --mode all --no-cv

Exit codes:
  0  the fit converged (and -o was written)
  1  any error: a bad steps file or config, a fit that does not converge, an unwritable file";

pub const PREDICT_HELP: &str = "\
Examples:
  inference-lab calibrate predict --steps STEPS.csv -c configs/chat-llama3-8b-h100-calibrated.toml
  inference-lab calibrate predict --steps STEPS.csv -c CONFIG.toml -o - > predicted.csv

Exit codes:
  0  every row was priced (and -o was written)
  1  any error: a bad steps file or config, an unwritable file";

pub const CALIBRATE_HELP: &str = "\
Examples:
  inference-lab calibrate fit --steps STEPS.csv -c CONFIG.toml -o CALIBRATED.toml
  inference-lab calibrate predict --steps STEPS.csv -c CALIBRATED.toml

Exit codes:
  0  success
  1  any error, one line on stderr";

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Config files (TOML) to check.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// Override a config field, as for a run (repeatable; applied in order).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, toml::Value)>,
    /// Dataset mode: a HuggingFace tokenizer.json; with it the dataset is loaded and checked.
    #[arg(short = 't', long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Dataset mode: None, a Jinja template string, or a template file.
    #[arg(long, value_name = "TEMPLATE")]
    pub chat_template: Option<String>,
    /// Never use colors.
    #[arg(long)]
    pub no_color: bool,
}

pub const REPORT_HELP: &str = "\
Examples:
  inference-lab report results/policies
  inference-lab report results/policies -o policies.html --svg figures --png figures
  inference-lab report run.json -o run.html

The page opens offline: its styles, script and charts (SVG) are inline.

Exit codes:
  0  success
  1  any error, one line on stderr: not a results folder nor a run's JSON, a folder without
     the sweep's tables, an unwritable output";

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A sweep's results folder (with its summary table), or a run's JSON (`-o` of a run).
    #[arg(value_name = "RESULTS_DIR|RUN.json")]
    pub input: PathBuf,
    /// The HTML file to write [default: RESULTS_DIR/report.html, or RUN.html beside RUN.json].
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write each chart as DIR/<chart>.svg.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Also write each chart as DIR/<chart>.png.
    #[arg(long, value_name = "DIR")]
    pub png: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = SWEEP_HELP
)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// Sweep spec files (TOML), or globs of them.
    #[arg(required = true, value_name = "SPEC_OR_GLOB")]
    pub specs: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Results folder (default results/<name>/). With several specs: the parent of one
    /// folder per spec name.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Check the spec and show the grid without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Discard earlier results in the folder and run every point again.
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Table formats to write: csv, parquet, or both.
    #[arg(long, default_value = "csv,parquet", value_name = "LIST")]
    pub format: String,
    /// Never use colors.
    #[arg(long)]
    pub no_color: bool,
    /// Run only shard K of N (0-based): a fixed, cost-balanced part of the grid, journaled to
    /// journal.shard-K-of-N.jsonl. Default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or
    /// JOB_COMPLETION_INDEX/INFERENCE_LAB_SHARD_COUNT, when set; 0/1 is the whole grid.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Write a Slurm array job (one task per shard) and a merge job to <results>/slurm/.
    #[arg(long, conflicts_with_all = ["shard", "dry_run", "force"])]
    pub slurm: bool,
    /// --slurm: array tasks, i.e. shards (default: one per run, at most 100).
    #[arg(long, value_name = "N")]
    pub array_size: Option<usize>,
    /// --slurm: the partition both jobs go to.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// --slurm: also submit both jobs with sbatch.
    #[arg(long)]
    pub submit: bool,
    /// --slurm: extra sbatch options for both jobs, after `--` (e.g. -- --time=2:00:00).
    #[arg(last = true, value_name = "SBATCH_OPTION")]
    pub sbatch_args: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum SweepAction {
    /// Build a results folder's tables from all its journals (every shard's), running nothing.
    /// Exits 3 if runs have no record.
    #[command(after_help = MERGE_HELP)]
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The results folder.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Rebuild the grid from this spec instead of the one recorded in DIR/spec.json.
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// Table formats to write: csv, parquet, or both.
    #[arg(long, default_value = "csv,parquet", value_name = "LIST")]
    pub format: String,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Never use colors.
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, clap::Args)]
pub struct PresetsArgs {
    /// Only the GPU presets.
    #[arg(long, conflicts_with = "models")]
    pub gpus: bool,
    /// Only the shipped models.
    #[arg(long)]
    pub models: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The simulation config (TOML).
    #[arg(short, long, default_value = "config.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Also write the results as JSON to this file; `-o -` writes only the JSON, on stdout
    /// (no report).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Override workload.seed (applied before every --set).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Override any config field with the sweep's path syntax, e.g. --set
    /// scheduler.policy=sof (repeatable; applied in order after --seed, a later one wins).
    /// VALUE is TOML (a number, true/false, "text", { inline = "table" }) or else a bare
    /// string.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, toml::Value)>,
    /// Price steps with the plain roofline (the upper bound), ignoring any calibration, the
    /// config's or its preset's (the same as --set hardware.step_model=roofline).
    #[arg(long)]
    pub roofline: bool,
    /// Also print the quantities derived from the config (KV blocks, bytes per token, ...).
    #[arg(short, long)]
    pub verbose: bool,
    /// Never use colors (also: the NO_COLOR environment variable).
    #[arg(long)]
    pub no_color: bool,
    /// Dataset mode: a HuggingFace tokenizer.json (`-t` is the seed-era spelling).
    #[arg(short = 't', long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Dataset mode: None, a Jinja template string, or a template file.
    #[arg(long, value_name = "TEMPLATE")]
    pub chat_template: Option<String>,
    /// Also write a record of every measured request (times, lengths, cached tokens,
    /// preemptions, latencies) to FILE: .csv, .parquet or .jsonl.
    #[arg(long, value_name = "FILE")]
    pub requests: Option<PathBuf>,
    /// Also write the run's time series (arrivals, running, waiting, KV use, tokens,
    /// throughput, preemptions, interval TTFT/TPOT) to FILE: .csv, .parquet or .jsonl.
    #[arg(long, value_name = "FILE")]
    pub timeseries: Option<PathBuf>,
    /// The time series' interval in simulated seconds [default: 1].
    #[arg(long, value_name = "SECS", requires = "timeseries")]
    pub interval: Option<f64>,
}

/// `SECTION.KEY=VALUE` of `--set`: VALUE as a TOML value (so `8192` is an integer and
/// `{ type = "fixed", value = 5 }` a table), or, when it does not parse as one, the bare text as
/// a string (so `--set scheduler.policy=sof` needs no quotes). The path is checked when the
/// override is applied, by the sweep's own rule.
pub(super) fn parse_set(arg: &str) -> Result<(String, toml::Value), String> {
    let Some((path, value)) = arg.split_once('=') else {
        return Err(format!(
            "{arg:?} has no `=`: give SECTION.KEY=VALUE, e.g. scheduler.policy=sof"
        ));
    };
    let path = path.trim();
    let value = value.trim();
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    Ok((path.to_string(), parsed))
}

/// `--help` and `--version` print on stdout and exit 0 (1 if stdout cannot be written); a
/// usage error prints one line naming the problem and exits 1.
pub fn exit_for_clap_error(err: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            match write!(stdout, "{err}").and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    super::print_error(&super::stdout_error(e));
                    ExitCode::from(1)
                }
            }
        }
        kind => {
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            // clap puts what is missing on the following lines; keep it on this one.
            let names = |context| match err.get(context) {
                Some(ContextValue::Strings(names)) => names.join(", "),
                Some(ContextValue::String(name)) => name.clone(),
                _ => String::new(),
            };
            let line = match kind {
                ErrorKind::MissingRequiredArgument => format!(
                    "error: missing required argument: {}",
                    names(ContextKind::InvalidArg)
                ),
                ErrorKind::MissingSubcommand => format!(
                    "{first}; one of: {}",
                    names(ContextKind::ValidSubcommand)
                        .split(", ")
                        .filter(|name| *name != "help")
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => first.to_string(),
            };
            let usage = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Usage: "))
                .map_or("--help".to_string(), |u| {
                    let command: Vec<&str> = u
                        .split_whitespace()
                        .take_while(|w| !w.starts_with(['[', '<', '-']))
                        .collect();
                    format!("{} --help", command.join(" "))
                });
            let mut stderr = std::io::stderr().lock();
            let _ = std::io::Write::write_fmt(&mut stderr, format_args!("{line} (see {usage})\n"));
            ExitCode::from(1)
        }
    }
}
