//! The classes tables, for runs with request classes (`[[workload.classes]]`, or a csv
//! trace's class column): how each class fared, beside the run-wide tables.
//!
//! classes: one row per (run, class) of the successful runs that have classes —
//!   run_id, <axis columns>, model, hardware, seed, class, then the class's metrics
//!   (requests_completed, output_tokens_per_s, ttft/e2e/tpot _ms_mean/_p50/_p90/_p99,
//!   slo_attainment, goodput_requests_per_s, slo_met).
//! classes_summary: one row per (point, class), classes in order of first appearance —
//!   <axis columns>, model, hardware, class, n (runs with the class), then for each metric
//!   <metric>_mean, _std, _ci95_lo, _ci95_hi, the same statistics as the summary table's.
//!
//! Both are built from a piece of whole points of the runs table, so they stream with it.

use polars::prelude::*;

use super::{key_columns, polars_err, AxisKind};
use crate::metrics::ClassSummary;
use crate::sweep::grid::Grid;
use crate::sweep::journal::RunRecord;
use crate::sweep::stats::{describe, Described};
use crate::Result;

/// The classes and classes_summary rows of a piece of whole points (`runs`, indices into
/// `grid.runs`, with their records); None when no run of the piece has classes.
pub fn classes_frames(
    grid: &Grid,
    kinds: &[AxisKind],
    runs: &[usize],
    records: &[Option<&RunRecord>],
) -> Result<Option<(DataFrame, DataFrame)>> {
    let names = ClassSummary::metric_names();
    // Rows of the classes table: (run, its record's class k).
    let rows: Vec<(usize, &RunRecord, usize)> = runs
        .iter()
        .zip(records)
        .filter_map(|(&run, r)| r.filter(|r| r.is_ok()).map(|r| (run, r)))
        .flat_map(|(run, r)| (0..r.classes.len()).map(move |k| (run, r, k)))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let value =
        |r: &RunRecord, k: usize, name: &str| r.classes[k].metrics.get(name).copied().flatten();

    let row_runs: Vec<usize> = rows.iter().map(|&(run, _, _)| run).collect();
    let mut columns = vec![Column::new(
        "run_id".into(),
        row_runs
            .iter()
            .map(|&i| grid.runs[i].run_id.as_str())
            .collect::<Vec<_>>(),
    )];
    columns.extend(key_columns(grid, kinds, &row_runs));
    columns.push(Column::new(
        "seed".into(),
        row_runs
            .iter()
            .map(|&i| grid.runs[i].seed)
            .collect::<Vec<u64>>(),
    ));
    columns.push(Column::new(
        "class".into(),
        rows.iter()
            .map(|&(_, r, k)| r.classes[k].class.as_str())
            .collect::<Vec<_>>(),
    ));
    for name in &names {
        let values: Vec<Option<f64>> = rows.iter().map(|&(_, r, k)| value(r, k, name)).collect();
        columns.push(metric_column(name, "", values));
    }
    let per_run = DataFrame::new_infer_height(columns).map_err(polars_err)?;

    // (a run of the point, class, each metric's statistics) in table order.
    let mut groups: Vec<(usize, String, u64, Vec<Described>)> = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let point = grid.runs[rows[start].0].point;
        let end = start
            + rows[start..]
                .iter()
                .take_while(|&&(run, _, _)| grid.runs[run].point == point)
                .count();
        let point_rows = &rows[start..end];
        let mut classes: Vec<&str> = Vec::new();
        for &(_, r, k) in point_rows {
            let class = r.classes[k].class.as_str();
            if !classes.contains(&class) {
                classes.push(class);
            }
        }
        // Any run of the point has its axis values (they differ only in the seed).
        let first = point_rows[0].0;
        for class in classes {
            let of_class: Vec<(&RunRecord, usize)> = point_rows
                .iter()
                .filter(|&&(_, r, k)| r.classes[k].class == class)
                .map(|&(_, r, k)| (r, k))
                .collect();
            let stats = names
                .iter()
                .map(|name| {
                    let values: Vec<f64> = of_class
                        .iter()
                        .filter_map(|&(r, k)| value(r, k, name))
                        .collect();
                    describe(&values)
                })
                .collect();
            groups.push((first, class.to_string(), of_class.len() as u64, stats));
        }
        start = end;
    }
    let firsts: Vec<usize> = groups.iter().map(|g| g.0).collect();
    let mut columns = key_columns(grid, kinds, &firsts);
    columns.push(Column::new(
        "class".into(),
        groups.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "n".into(),
        groups.iter().map(|g| g.2).collect::<Vec<u64>>(),
    ));
    type Statistic = fn(&Described) -> Option<f64>;
    let statistics: [(&str, Statistic); 4] = [
        ("_mean", |d| d.mean),
        ("_std", |d| d.std),
        ("_ci95_lo", |d| d.ci.map(|c| c.0)),
        ("_ci95_hi", |d| d.ci.map(|c| c.1)),
    ];
    for (m, name) in names.iter().enumerate() {
        for (suffix, get) in statistics {
            let values = groups.iter().map(|g| get(&g.3[m])).collect();
            columns.push(metric_column(name, suffix, values));
        }
    }
    let summary = DataFrame::new_infer_height(columns).map_err(polars_err)?;
    Ok(Some((per_run, summary)))
}

fn metric_column(name: &str, suffix: &str, values: Vec<Option<f64>>) -> Column {
    Column::new(format!("{name}{suffix}").into(), values)
}
