//! `inference-lab report`: one self-contained HTML page from a sweep's results folder or a
//! run's JSON, and each of its charts as an SVG or PNG file.
//!
//! The page must open anywhere, offline and years later: styles, the sort script and every
//! chart (inline SVG) are in the one file, and nothing is fetched. Charts only draw numbers
//! read from the tables (means, and the `_ci95_lo`/`_ci95_hi` columns as interval bars); the
//! summary rows are embedded as JSON (`<script type="application/json" id="summary-data">`)
//! so a test or a script can check that the page shows what the tables hold.
//!
//! This module sits beside the simulator and is used only by the CLI: the simulation core never
//! depends on plotters.

mod charts;
mod html;
mod load;
mod outputs;
mod pareto;
mod run;
mod sweep;
mod sweep_charts;
mod sweep_tables;

use std::path::{Path, PathBuf};

pub use charts::Chart;
pub use load::{table_of, Table};
pub use pareto::frontier;

use crate::{Error, Result};

/// A rendered report: the page, and its charts for `--svg`/`--png`.
#[derive(Debug)]
pub struct Report {
    pub html: String,
    pub charts: Vec<Chart>,
}

/// Where the report of `input` goes by default: `DIR/report.html` for a results folder,
/// `RUN.html` beside a run's JSON.
pub fn default_output(input: &Path) -> PathBuf {
    if input.is_dir() {
        input.join("report.html")
    } else {
        input.with_extension("html")
    }
}

/// The report of a results folder (with its summary table) or of a run's JSON.
pub fn build(input: &Path) -> Result<Report> {
    let page = if input.is_dir() {
        if !sweep::has_tables(input) {
            return Err(Error::new(format!(
                "{}: a folder without the sweep's tables (summary.parquet or summary.csv): run the sweep \
                 (inference-lab sweep SPEC -o DIR) or merge its shards (inference-lab sweep merge DIR) first",
                input.display()
            )));
        }
        sweep::page(input)?
    } else if input.is_file() {
        let text = std::fs::read_to_string(input)
            .map_err(|e| Error::new(format!("{}: cannot read: {e}", input.display())))?;
        let value = run::parse(input, &text)?;
        run::page(input, &value)?
    } else {
        return Err(Error::new(format!(
            "{}: no such file or folder; give a sweep's results folder or a run's JSON",
            input.display()
        )));
    };
    Ok(Report {
        html: page.render(),
        charts: page.charts,
    })
}

/// Writes each chart as `DIR/<name>.svg`; returns the files written.
pub fn write_svgs(charts: &[Chart], dir: &Path) -> Result<Vec<PathBuf>> {
    create(dir)?;
    charts
        .iter()
        .map(|chart| {
            let path = dir.join(format!("{}.svg", chart.name));
            std::fs::write(&path, chart.to_svg()?)
                .map_err(|e| Error::new(format!("writing {}: {e}", path.display())))?;
            Ok(path)
        })
        .collect()
}

/// Writes each chart as `DIR/<name>.png`; returns the files written.
pub fn write_pngs(charts: &[Chart], dir: &Path) -> Result<Vec<PathBuf>> {
    create(dir)?;
    charts
        .iter()
        .map(|chart| {
            let path = dir.join(format!("{}.png", chart.name));
            chart.write_png(&path)?;
            Ok(path)
        })
        .collect()
}

fn create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))
}
