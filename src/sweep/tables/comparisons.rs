//! The comparisons table: one row per (non-baseline point, metric), axis columns first.

use polars::prelude::*;
use toml::Value;

use super::{polars_err, AxisKind};
use crate::sweep::compare::Comparison;
use crate::sweep::grid::Grid;
use crate::Result;

/// A piece of the comparisons table.
pub fn comparisons_frame(
    grid: &Grid,
    kinds: &[AxisKind],
    rows: &[Comparison],
) -> Result<DataFrame> {
    let mut columns: Vec<Column> = Vec::new();
    for (i, (name, kind)) in grid.columns.iter().zip(kinds).enumerate() {
        let values: Vec<&Value> = rows.iter().map(|r| &grid.runs[r.run].params[i]).collect();
        columns.push(kind.column(name, &values));
    }
    let f = |name: &str, get: &dyn Fn(&Comparison) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let c = |name: &str, get: &dyn Fn(&Comparison) -> Option<u64>| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    columns.push(Column::new(
        "metric".into(),
        rows.iter().map(|r| r.metric).collect::<Vec<_>>(),
    ));
    columns.push(c("n", &|r| Some(r.n)));
    columns.push(f("baseline_mean", &|r| r.baseline_mean));
    columns.push(f("mean", &|r| r.mean));
    columns.push(f("diff_mean", &|r| r.diff_mean));
    columns.push(f("diff_ci_low", &|r| r.diff_ci.map(|c| c.0)));
    columns.push(f("diff_ci_high", &|r| r.diff_ci.map(|c| c.1)));
    columns.push(f("rel_diff", &|r| r.rel_diff));
    columns.push(f("p_value", &|r| r.p_value));
    columns.push(c("wins", &|r| r.record.map(|w| w.0)));
    columns.push(c("ties", &|r| r.record.map(|w| w.1)));
    columns.push(c("losses", &|r| r.record.map(|w| w.2)));
    DataFrame::new_infer_height(columns).map_err(polars_err)
}
