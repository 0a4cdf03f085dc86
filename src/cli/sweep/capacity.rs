//! A capacity search's answer on stdout: the largest value of the searched axis that meets
//! the SLO, for every point, with its interval over seeds and, with `[compare]`, the paired
//! difference from the baseline point's capacity.

use inference_lab::sweep::capacity::CapacityRow;
use inference_lab::sweep::Grid;

use super::answer::{number, p_value, plain, signed};

/// Prints the capacity table of a search grid.
pub fn print(grid: &Grid, rows: &[CapacityRow]) -> anyhow::Result<()> {
    let Some(plan) = &grid.search else {
        return Ok(());
    };
    let search = &plan.search;
    outln!(
        "capacity: the largest {} in [{}, {}] that meets the SLO ({}), to {}%:",
        search.path,
        number(search.lo),
        number(search.hi),
        slo_text(grid),
        100.0 * search.tolerance
    );
    let label = |row: &CapacityRow| -> String {
        let params = &grid.runs[row.template].params;
        let parts: Vec<String> = grid
            .columns
            .iter()
            .zip(params)
            .enumerate()
            .filter(|(i, _)| *i != plan.column)
            .map(|(_, (c, v))| format!("{c} = {}", plain(v)))
            .collect();
        if parts.is_empty() {
            "the only point".into()
        } else {
            parts.join(", ")
        }
    };
    let labels: Vec<String> = rows.iter().map(label).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    for (row, label) in rows.iter().zip(&labels) {
        let seeds = row.seeds.len();
        let mut line = match row.capacity.mean {
            Some(mean) => format!("  {label:<width$}  {:>9}", number(mean)),
            None => format!("  {label:<width$}  {:>9}", "-"),
        };
        if let Some((lo, hi)) = row.capacity.ci {
            line += &format!("  95% CI [{}, {}]", number(lo), number(hi));
        }
        line += &format!("  found on {} of {seeds} seeds", row.capacity.n);
        let below = row.count("below_lo");
        let above = row.count("at_hi");
        let failed = row.count("failed") + row.count("missing");
        if below > 0 {
            line += &format!(", {below} below lo (widen the range down)");
        }
        if above > 0 {
            line += &format!(", {above} at hi or above (widen the range up)");
        }
        if failed > 0 {
            line += &format!(", {failed} failed");
        }
        outln!("{line}");
        if let Some(c) = &row.comparison {
            let Some(test) = c.test else {
                outln!("    vs its baseline: no seed where both searches found a capacity");
                continue;
            };
            let mut line = format!("    vs its baseline: {}", signed(test.diff_mean));
            if let Some(b) = c.baseline_mean.filter(|b| *b != 0.0) {
                line += &format!(" ({:+.1}%)", 100.0 * test.diff_mean / b);
            }
            if let Some((lo, hi)) = test.ci {
                line += &format!(", 95% CI [{}, {}]", number(lo), number(hi));
            }
            if let Some(p) = test.p_value {
                line += &format!(", p = {}", p_value(p));
            }
            let (wins, ties, losses) = c.record;
            line += &format!(
                ", higher on {wins} of {} seeds ({ties} equal, {losses} lower)",
                test.n
            );
            outln!("{line}");
        }
    }
    // The first point in grid order on a tie.
    let mut best: Option<(f64, &str)> = None;
    for (row, label) in rows.iter().zip(&labels) {
        if let Some(mean) = row.capacity.mean {
            if best.is_none_or(|(b, _)| mean > b) {
                best = Some((mean, label));
            }
        }
    }
    if let (Some((mean, label)), true) = (best, rows.len() > 1) {
        outln!("most capacity: {} at {label}", number(mean));
    }
    Ok(())
}

/// The SLO the runs are judged by (the first search's config: `[set]` and the axes may
/// change it per point, in which case the table's points say so).
fn slo_text(grid: &Grid) -> String {
    let Some(slo) = grid
        .runs
        .iter()
        .find_map(|r| r.config.as_ref().ok().and_then(|c| c.slo))
    else {
        return "no SLO".into();
    };
    let mut parts = Vec::new();
    for (name, value) in [
        ("ttft_ms", slo.ttft_ms),
        ("tpot_ms", slo.tpot_ms),
        ("e2e_ms", slo.e2e_ms),
    ] {
        if let Some(v) = value {
            parts.push(format!("{name} <= {}", number(v)));
        }
    }
    if let Some(a) = slo.attainment {
        parts.push(format!("for {}% of requests", 100.0 * a));
    }
    parts.join(", ")
}
