//! `inference-lab report`: writes the HTML page of a results folder or a run's JSON (see
//! `inference_lab::report`), and its charts as files with `--svg`/`--png`. Not to be confused
//! with `report.rs`, the console tables a single run prints.

use std::process::ExitCode;

use anyhow::{Context, Result};
use inference_lab::report;

use super::args::ReportArgs;

pub fn main(args: &ReportArgs) -> Result<ExitCode> {
    let built = report::build(&args.input)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| report::default_output(&args.input));
    std::fs::write(&output, &built.html)
        .with_context(|| format!("writing {}", output.display()))?;
    let mut written = vec![output.display().to_string()];
    if let Some(dir) = &args.svg {
        let files = report::write_svgs(&built.charts, dir)?;
        written.push(format!("{} SVG charts in {}", files.len(), dir.display()));
    }
    if let Some(dir) = &args.png {
        let files = report::write_pngs(&built.charts, dir)?;
        written.push(format!("{} PNG charts in {}", files.len(), dir.display()));
    }
    if !args.quiet {
        outln!("report: {}", written.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
