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
    args_conflicts_with_subcommands = true
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
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
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
pub struct RunArgs {
    /// The simulation config (TOML).
    #[arg(short, long, default_value = "config.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Also write the results as JSON to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Override workload.seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Also print the quantities derived from the config (KV blocks, bytes per token, ...).
    #[arg(short, long)]
    pub verbose: bool,
    /// Never use colors (also: the NO_COLOR environment variable).
    #[arg(long)]
    pub no_color: bool,
    /// Dataset mode: a HuggingFace tokenizer.json.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Dataset mode: None, a Jinja template string, or a template file.
    #[arg(long, value_name = "TEMPLATE")]
    pub chat_template: Option<String>,
}

/// `--help` and `--version` exit 0; a usage error prints its first line and exits 1.
pub fn exit_for_clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print!("{err}");
            ExitCode::SUCCESS
        }
        _ => {
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first} (see --help)");
            ExitCode::from(1)
        }
    }
}
