//! `inference-lab calibrate fit|predict`: fit the step-time model to measured forward passes,
//! and predict step times with a config.
//!
//! Exit codes: 0 success; 1 any error (bad steps file, bad config, a fit that does not
//! converge), with a one-line message naming the file and the row.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use console::style;
use inference_lab::calibrate::{
    self, output, CrossValidation, Errors, Fit, FitOptions, Fold, Param, StepsFile,
};
use inference_lab::Config;

#[derive(Debug, clap::Args)]
#[command(
    subcommand_required = true,
    arg_required_else_help = false,
    after_help = super::args::CALIBRATE_HELP
)]
pub struct CalibrateArgs {
    #[command(subcommand)]
    pub command: CalibrateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CalibrateCommand {
    /// Fit the [hardware] step-time parameters to measured step times and report the errors.
    #[command(after_help = super::args::FIT_HELP)]
    Fit(FitArgs),
    /// Predict the step time of every row of a steps file with a config.
    #[command(after_help = super::args::PREDICT_HELP)]
    Predict(PredictArgs),
}

#[derive(Debug, clap::Args)]
pub struct FitArgs {
    /// Measured steps (CSV: a `sequences` column of COUNTxNEW@CONTEXT groups joined by `;`,
    /// and `median_ms`).
    #[arg(long, value_name = "STEPS.csv")]
    pub steps: PathBuf,
    /// The config whose model and hardware the steps were measured on.
    #[arg(short, long, value_name = "CONFIG.toml")]
    pub config: PathBuf,
    /// Write the config with the fitted parameters in [hardware] to this file.
    #[arg(short, long, value_name = "CALIBRATED.toml")]
    pub output: Option<PathBuf>,
    /// Fit the rows of this mode (the `mode` column): graph, eager, or all.
    #[arg(long, default_value = "graph", value_name = "MODE")]
    pub mode: String,
    /// Hold a parameter at a value instead of fitting it (repeatable), e.g.
    /// memory_efficiency=0.9 or causal_attention=false.
    #[arg(long, value_name = "NAME=VALUE")]
    pub fix: Vec<String>,
    /// Also fit a parameter that is held by default (repeatable): memory_efficiency,
    /// step_overhead, sequence_overhead or attention_overlap.
    #[arg(long, value_name = "NAME")]
    pub free: Vec<String>,
    /// Solver iterations per start before the fit counts as not converged.
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub max_iterations: usize,
    /// Skip the cross-validation.
    #[arg(long)]
    pub no_cv: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Never use colors.
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// Steps to price (CSV with a `sequences` column; `median_ms` optional).
    #[arg(long, value_name = "STEPS.csv")]
    pub steps: PathBuf,
    /// The config (its [hardware] calibration parameters set the model).
    #[arg(short, long, value_name = "CONFIG.toml")]
    pub config: PathBuf,
    /// Write the rows with a `predicted_ms` column (and `error_pct` where measured) to this
    /// CSV file; `-` writes it to stdout and the report to stderr.
    #[arg(short, long, value_name = "OUT.csv")]
    pub output: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Never use colors.
    #[arg(long)]
    pub no_color: bool,
}

pub fn main(args: &CalibrateArgs) -> Result<ExitCode> {
    match &args.command {
        CalibrateCommand::Fit(a) => fit(a)?,
        CalibrateCommand::Predict(a) => predict(a)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn options(args: &FitArgs) -> Result<FitOptions> {
    let mut options = FitOptions {
        mode: (!args.mode.eq_ignore_ascii_case("all")).then(|| args.mode.clone()),
        max_iterations: args.max_iterations,
        ..FitOptions::default()
    };
    if args.max_iterations == 0 {
        bail!("--max-iterations 0: give at least 1");
    }
    let names = || {
        Param::ALL
            .iter()
            .map(|p| p.name())
            .chain(["causal_attention"])
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in &args.free {
        match Param::from_name(name) {
            Some(p) => options.free(p),
            None => bail!("--free {name}: not a fittable parameter; they are: {}", {
                Param::ALL.map(|p| p.name()).join(", ")
            }),
        }
    }
    for item in &args.fix {
        let Some((name, value)) = item.split_once('=') else {
            bail!("--fix {item}: expected NAME=VALUE, like memory_efficiency=0.9");
        };
        let (name, value) = (name.trim(), value.trim());
        if name == "causal_attention" {
            options.causal_attention = match value {
                "true" => true,
                "false" => false,
                _ => bail!("--fix {item}: causal_attention is true or false"),
            };
            continue;
        }
        let Some(param) = Param::from_name(name) else {
            bail!(
                "--fix {item}: unknown parameter {name}; the parameters are: {}",
                names()
            );
        };
        let v: f64 = value
            .parse()
            .ok()
            .filter(|&v| param.allows(v))
            .with_context(|| format!("--fix {item}: {name} must be {}", param.range_text()))?;
        options.fix(param, v);
    }
    Ok(options)
}

fn fit(args: &FitArgs) -> Result<()> {
    super::set_colors(args.no_color);
    if let Some(path) = &args.output {
        refuse_overwriting(path, &[("--steps", &args.steps)])?;
    }
    let options = options(args)?;
    let config = Config::load(&args.config)?;
    let steps = calibrate::read_steps(&args.steps)?;
    let fitted = calibrate::fit(&config, &steps, &options)?;
    let cv = if args.no_cv {
        None
    } else {
        Some(calibrate::cross_validate(&config, &steps, &options)?)
    };
    if let Some(path) = &args.output {
        let original = std::fs::read_to_string(&args.config)
            .with_context(|| format!("cannot read {}", args.config.display()))?;
        let used: Vec<usize> = (0..steps.rows.len()).filter(|&i| fitted.used[i]).collect();
        let errors = calibrate::errors_of(&steps, &fitted.predicted_ms, &used)
            .context("no fitted row has a measured time")?;
        let note = format!(
            "{}, {} rows ({}), MAPE {:.2}%",
            args.steps.display(),
            errors.rows,
            mode_text(&options),
            errors.mape * 100.0
        );
        let text = output::calibrated_config_text(&original, &fitted.config, &note)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !args.quiet {
        for w in &fitted.warnings {
            let warn = style("warning:").for_stderr().yellow().bold();
            eprintln!("{warn} {w}");
        }
        out!(
            "{}",
            fit_report(&config, &steps, &fitted, &options, cv.as_ref())
        );
        if let Some(path) = &args.output {
            outln!("\nwrote {}", path.display());
        }
    }
    Ok(())
}

/// Refuses an output file that is one of the inputs: writing it would destroy the data the
/// command reads (the measured steps cannot be regenerated).
fn refuse_overwriting(output: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    let Ok(out) = output.canonicalize() else {
        return Ok(()); // not there yet: no input can be it
    };
    for (flag, input) in inputs {
        if input.canonicalize().is_ok_and(|i| i == out) {
            bail!(
                "-o {} is the {flag} file: writing there would overwrite the input; name \
                 another output file",
                output.display()
            );
        }
    }
    Ok(())
}

fn mode_text(options: &FitOptions) -> String {
    options
        .mode
        .as_deref()
        .map_or("every mode".into(), |m| format!("mode {m}"))
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{}", style(title).bold().underlined());
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// The row a [`calibrate::RowError`] names, for tables.
fn row_name(steps: &StepsFile, row: usize) -> String {
    let r = &steps.rows[row];
    format!("line {} {} {}", r.line, r.group(), r.sequences)
}

/// Every row: measured, predicted, error; `used` marks the fitted rows with `*`.
fn rows_table(out: &mut String, steps: &StepsFile, predicted_ms: &[f64], used: Option<&[bool]>) {
    let seq_width = steps
        .rows
        .iter()
        .map(|r| r.sequences.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let group_width = steps
        .rows
        .iter()
        .map(|r| r.group().len())
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(
        out,
        "  {}{:>5}  {:<group_width$}  {:<seq_width$}  {:>10}  {:>10}  {:>7}",
        if used.is_some() { "  " } else { "" },
        "line",
        "group",
        "sequences",
        "measured",
        "predicted",
        "error"
    );
    for (i, r) in steps.rows.iter().enumerate() {
        let mark = match used {
            Some(u) if u[i] => "* ",
            Some(_) => "  ",
            None => "",
        };
        let (measured, error) = match r.measured_ms {
            Some(m) => (format!("{m:.3}"), pct(predicted_ms[i] / m - 1.0)),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "  {mark}{:>5}  {:<group_width$}  {:<seq_width$}  {measured:>10}  {:>10.3}  {error:>7}",
            r.line,
            r.group(),
            r.sequences,
            predicted_ms[i]
        );
    }
}

/// The error table by group: the same text from `fit` and `predict` for the same predictions.
fn errors_table(out: &mut String, steps: &StepsFile, predicted_ms: &[f64]) {
    let groups = calibrate::error_summary(steps, predicted_ms);
    let width = groups
        .iter()
        .map(|g| g.group.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>5}  {:>7}  {:>8}  worst row",
        "group", "rows", "MAPE", "worst"
    );
    for g in groups {
        let e = &g.errors;
        let _ = writeln!(
            out,
            "  {:<width$}  {:>5}  {:>6.2}%  {:>8}  {}",
            g.group,
            e.rows,
            e.mape * 100.0,
            pct(e.worst.error),
            row_name(steps, e.worst.row)
        );
    }
}

fn fold_line(out: &mut String, fold: &Fold, steps: &StepsFile) {
    match &fold.outcome {
        Ok(e) => {
            let _ = writeln!(
                out,
                "  {:<20}  {:>5}  {:>4}  {:>6.2}%  {:>8}  {}",
                fold.name,
                fold.train,
                fold.test,
                e.mape * 100.0,
                pct(e.worst.error),
                row_name(steps, e.worst.row)
            );
        }
        Err(why) => {
            let _ = writeln!(
                out,
                "  {:<20}  {:>5}  {:>4}  not fitted: {why}",
                fold.name, fold.train, fold.test
            );
        }
    }
}

fn cv_table(out: &mut String, cv: &CrossValidation, steps: &StepsFile) {
    let _ = writeln!(
        out,
        "  {:<20}  {:>5}  {:>4}  {:>7}  {:>8}  worst held-out row",
        "held out", "train", "test", "MAPE", "worst"
    );
    for fold in cv.holdouts.iter().chain(&cv.kfold) {
        fold_line(out, fold, steps);
    }
    if let Some(Errors { rows, mape, worst }) = &cv.kfold_pooled {
        let _ = writeln!(
            out,
            "  {:<20}  {:>5}  {:>4}  {:>6.2}%  {:>8}  {}",
            format!("{}-fold pooled", calibrate::KFOLD),
            "",
            rows,
            mape * 100.0,
            pct(worst.error),
            row_name(steps, worst.row)
        );
    }
}

fn fit_report(
    config: &Config,
    steps: &StepsFile,
    fitted: &Fit,
    options: &FitOptions,
    cv: Option<&CrossValidation>,
) -> String {
    let mut out = String::new();
    let used: Vec<usize> = (0..steps.rows.len()).filter(|&i| fitted.used[i]).collect();
    let _ = writeln!(
        out,
        "{} on {}: fitted to {} rows of {} ({}), {} parameters, {} solver iterations",
        style(&config.model.name).bold(),
        style(&config.hardware.name).bold(),
        used.len(),
        steps.name,
        mode_text(options),
        fitted.fitted.len(),
        fitted.iterations
    );

    heading(&mut out, "Rows (ms; * = fitted)");
    rows_table(&mut out, steps, &fitted.predicted_ms, Some(&fitted.used));

    heading(&mut out, "Errors (every measured row)");
    errors_table(&mut out, steps, &fitted.predicted_ms);
    if let Some(e) = calibrate::errors_of(steps, &fitted.predicted_ms, &used) {
        let r = &steps.rows[e.worst.row];
        let _ = writeln!(
            out,
            "\n  fitted rows: MAPE {:.2}%; worst: line {} {} {}: measured {:.3} ms, predicted \
             {:.3} ms ({})",
            e.mape * 100.0,
            r.line,
            r.group(),
            r.sequences,
            r.measured_ms.unwrap_or(f64::NAN),
            fitted.predicted_ms[e.worst.row],
            pct(e.worst.error)
        );
    }

    heading(&mut out, "Parameters [hardware]");
    let hw = &fitted.config.hardware;
    for p in Param::ALL {
        let how = if fitted.fitted.contains(&p) {
            "fitted"
        } else {
            "held"
        };
        let _ = writeln!(
            out,
            "  {:<22}{:>12}  {how:<6}  {}",
            p.name(),
            format!("{}", p.get(hw)),
            p.meaning()
        );
    }
    let _ = writeln!(
        out,
        "  {:<22}{:>12}  held    attention counted under a causal mask",
        "causal_attention", hw.causal_attention
    );

    if let Some(cv) = cv {
        heading(
            &mut out,
            "Cross-validation (refit without the held-out rows, errors on them)",
        );
        cv_table(&mut out, cv, steps);
    }
    out
}

fn predict(args: &PredictArgs) -> Result<()> {
    super::set_colors(args.no_color);
    if let Some(path) = args.output.as_ref().filter(|p| p.as_os_str() != "-") {
        refuse_overwriting(
            path,
            &[("--steps", &args.steps), ("--config", &args.config)],
        )?;
    }
    let config = Config::load(&args.config)?;
    let steps = calibrate::read_steps(&args.steps)?;
    let predicted = calibrate::predict(&config, &steps)?;
    let to_stdout = args.output.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if let Some(path) = args.output.as_ref().filter(|_| !to_stdout) {
        std::fs::write(path, predictions_csv(&steps, &predicted))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if to_stdout {
        out!("{}", predictions_csv(&steps, &predicted));
    }
    if !args.quiet {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} on {}: {} rows of {}",
            style(&config.model.name).bold(),
            style(&config.hardware.name).bold(),
            steps.rows.len(),
            steps.name
        );
        heading(&mut out, "Rows (ms)");
        rows_table(&mut out, &steps, &predicted, None);
        if steps.rows.iter().any(|r| r.measured_ms.is_some()) {
            heading(&mut out, "Errors (every measured row)");
            errors_table(&mut out, &steps, &predicted);
        }
        if let Some(path) = args.output.as_ref().filter(|_| !to_stdout) {
            let _ = writeln!(out, "\nwrote {}", path.display());
        }
        if to_stdout {
            eprint!("{out}");
        } else {
            out!("{out}");
        }
    }
    Ok(())
}

/// The input rows with `predicted_ms` (and `error_pct` where the file has `median_ms`).
fn predictions_csv(steps: &StepsFile, predicted: &[f64]) -> String {
    let has_measured = steps.header.iter().any(|h| h == "median_ms");
    let mut out = String::new();
    let mut header: Vec<String> = steps
        .header
        .iter()
        .map(|h| calibrate::steps::csv_field(h))
        .collect();
    header.push("predicted_ms".into());
    if has_measured {
        header.push("error_pct".into());
    }
    let _ = writeln!(out, "{}", header.join(","));
    for (row, p) in steps.rows.iter().zip(predicted) {
        let mut fields: Vec<String> = row
            .fields
            .iter()
            .map(|f| calibrate::steps::csv_field(f))
            .collect();
        fields.push(format!("{p:.4}"));
        if has_measured {
            fields.push(
                row.measured_ms
                    .map_or(String::new(), |m| format!("{:.2}", (p / m - 1.0) * 100.0)),
            );
        }
        let _ = writeln!(out, "{}", fields.join(","));
    }
    out
}
