//! `inference-lab validate CONFIG...`: check configs without running them.
//!
//! Each config gets one line: `ok: PATH: <what it implies>` on stdout, or `error: PATH: ...`
//! on stderr. The exit code is 1 if any config is invalid, so a script or CI job can check a
//! folder of configs in one call.

use std::process::ExitCode;

use anyhow::{Context, Result};
use console::style;
use inference_lab::workload::DatasetKey;
use inference_lab::Config;

use super::args::ValidateArgs;
use super::report;

pub fn main(args: &ValidateArgs) -> Result<ExitCode> {
    super::set_colors(args.no_color);
    let mut invalid = 0usize;
    for path in &args.configs {
        match check(path, args) {
            Ok(line) => outln!("{} {}: {line}", style("ok:").green().bold(), path.display()),
            Err(err) => {
                invalid += 1;
                // Most errors name the file already (config errors do); the rest get it here.
                let place = path.display().to_string();
                let err = if format!("{err:#}").contains(&place) {
                    err
                } else {
                    err.context(place)
                };
                super::print_error(&err);
            }
        }
    }
    Ok(if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The derived numbers of one valid config, joined on one line, or why it is invalid.
fn check(path: &std::path::Path, args: &ValidateArgs) -> Result<String> {
    let mut config = super::load_config(path, None, &args.set)?;
    super::apply_dataset_flags(
        &mut config,
        path,
        args.tokenizer.as_deref(),
        args.chat_template.as_deref(),
    )?;
    let mut parts: Vec<String> = report::derived(&config)?
        .into_iter()
        .map(|(what, value)| format!("{what} {value}"))
        .collect();
    if let Some(note) = check_dataset(&config)? {
        parts.push(note);
    }
    Ok(parts.join("; "))
}

/// Dataset mode: loading the dataset needs a tokenizer and can take a while, so without one
/// only the file's presence is checked, and the line says so.
fn check_dataset(config: &Config) -> Result<Option<String>> {
    let Some(path) = config.dataset_path() else {
        return Ok(None);
    };
    if config.workload.tokenizer.is_none() {
        std::fs::metadata(&path)
            .with_context(|| format!("dataset {}: cannot read it", path.display()))?;
        return Ok(Some(format!(
            "dataset {} found but not loaded (no tokenizer: give --tokenizer to check it too)",
            path.display()
        )));
    }
    let key = DatasetKey::of(config)?.context("dataset mode without a dataset key")?;
    let dataset = key.load(config.workload.num_requests)?;
    Ok(Some(format!(
        "dataset {}: {} requests loaded, {} prompts clipped",
        path.display(),
        dataset.prompts.len(),
        dataset.clipped
    )))
}
