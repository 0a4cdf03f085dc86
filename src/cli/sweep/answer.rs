//! The end of a sweep on stdout: where the tables went, and the answer to the spec's question
//! (the best point for each `[report]` objective, with its paired comparison against the
//! baseline when the spec has `[compare]`). Never printed with `-q`.

use std::path::Path;

use inference_lab::sweep::capacity::CapacityRow;
use inference_lab::sweep::compare::Better;
use inference_lab::sweep::report::Objective;
use inference_lab::sweep::{Formats, Grid, SweepSpec};

/// Prints the tables' location and the objectives' best points.
pub fn print(
    spec: &SweepSpec,
    grid: &Grid,
    dir: &Path,
    formats: Formats,
    answer: &[Objective],
    capacity: &[CapacityRow],
) -> anyhow::Result<()> {
    let mut tables = vec!["runs", "summary", "summary_long"];
    if grid.search.is_some() {
        tables.push("capacity");
    } else if spec.compare.is_some() {
        tables.push("comparisons");
    }
    // Written when some run has request classes.
    let ext = if formats.csv { "csv" } else { "parquet" };
    if dir.join(format!("classes.{ext}")).exists() {
        tables.extend(["classes", "classes_summary"]);
    }
    let extensions: Vec<&str> = [("csv", formats.csv), ("parquet", formats.parquet)]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(ext, _)| *ext)
        .collect();
    outln!(
        "tables: {} ({}) in {}",
        tables.join(", "),
        extensions.join(", "),
        dir.display()
    );
    if grid.search.is_some() {
        return super::capacity::print(grid, capacity);
    }
    if answer.is_empty() {
        outln!(
            "no run succeeded with {}: no best point",
            spec.report.join(", ")
        );
    }
    for objective in answer {
        let direction = match objective.better {
            Better::Lower => "lower",
            Better::Higher => "higher",
        };
        outln!(
            "best {} ({direction} is better): {} (mean of {} runs) at {}",
            objective.metric,
            number(objective.mean),
            objective.n,
            point(grid, objective.run)
        );
        let Some(baseline) = &spec.compare else {
            continue;
        };
        let baseline = baseline
            .iter()
            .map(|(path, value)| format!("{path} = {}", plain(value)))
            .collect::<Vec<_>>()
            .join(", ");
        let Some(c) = &objective.comparison else {
            outln!("  it is a baseline point ({baseline}): nothing to compare it with");
            continue;
        };
        let Some(diff) = c.diff_mean else {
            outln!("  vs its baseline ({baseline}): no seed where both runs succeeded");
            continue;
        };
        let mut line = format!("  vs its baseline ({baseline}): {}", signed(diff));
        if let Some(rel) = c.rel_diff {
            line += &format!(" ({:+.1}%)", 100.0 * rel);
        }
        if let Some((lo, hi)) = c.diff_ci {
            line += &format!(", 95% CI [{}, {}]", number(lo), number(hi));
        }
        if let Some(p) = c.p_value {
            line += &format!(", p = {}", p_value(p));
        }
        if let Some((wins, ties, losses)) = c.record {
            line += &format!(
                ", better on {wins} of {} seeds ({ties} equal, {losses} worse)",
                c.n
            );
        }
        outln!("{line}");
    }
    Ok(())
}

/// A point by its axis values ("the only point" when the grid has no axes).
fn point(grid: &Grid, run: usize) -> String {
    if grid.columns.is_empty() {
        return "the only point".into();
    }
    grid.columns
        .iter()
        .zip(&grid.runs[run].params)
        .map(|(c, v)| format!("{c} = {}", plain(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TOML value as a person writes it: strings without quotes.
pub(super) fn plain(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A metric value with about four significant digits, without exponent notation for the
/// magnitudes metrics have.
pub(super) fn number(x: f64) -> String {
    let digits = match x.abs() {
        a if a >= 1000.0 => 0,
        a if a >= 100.0 => 1,
        a if a >= 10.0 => 2,
        a if a >= 1.0 => 3,
        _ => 4,
    };
    format!("{x:.digits$}")
}

pub(super) fn signed(x: f64) -> String {
    let text = number(x);
    if x >= 0.0 {
        format!("+{text}")
    } else {
        text
    }
}

pub(super) fn p_value(p: f64) -> String {
    if p > 0.0 && p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_about_four_significant_digits() {
        assert_eq!(number(2404.6), "2405");
        assert_eq!(number(636.04), "636.0");
        assert_eq!(number(12.3456), "12.35");
        assert_eq!(number(0.012345), "0.0123");
        assert_eq!(signed(-499.0), "-499.0");
        assert_eq!(signed(3.0), "+3.000");
        assert_eq!(p_value(0.000_6), "0.0006");
        assert_eq!(p_value(0.000_012), "1.2e-5");
        assert_eq!(p_value(0.0), "0.0000");
    }
}
