//! The runs table: one row per run, built a piece at a time from the runs' records.

use polars::prelude::*;

use super::{key_columns, polars_err, AxisKind};
use crate::metrics::{MetricValue, RunSummary};
use crate::sweep::grid::Grid;
use crate::sweep::journal::RunRecord;
use crate::Result;

/// The rows of `runs` (indices into `grid.runs`, in table order), with their records (None:
/// the run has no record, a `missing` row).
pub fn runs_frame(
    grid: &Grid,
    kinds: &[AxisKind],
    runs: &[usize],
    records: &[Option<&RunRecord>],
) -> Result<DataFrame> {
    let mut columns: Vec<Column> = Vec::new();
    columns.push(Column::new(
        "run_id".into(),
        runs.iter()
            .map(|&i| grid.runs[i].run_id.as_str())
            .collect::<Vec<_>>(),
    ));
    let mut keys = key_columns(grid, kinds, runs);
    // run_id, the axes, model, hardware, then seed.
    columns.append(&mut keys);
    columns.push(Column::new(
        "seed".into(),
        runs.iter()
            .map(|&i| grid.runs[i].seed)
            .collect::<Vec<u64>>(),
    ));
    columns.push(Column::new(
        "status".into(),
        records
            .iter()
            .map(|r| r.map_or("missing", |r| r.status.as_str()))
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "error".into(),
        records
            .iter()
            .map(|r| r.and_then(|r| r.error.as_deref()))
            .collect::<Vec<Option<&str>>>(),
    ));
    columns.push(Column::new(
        "wall_ms".into(),
        records
            .iter()
            .map(|r| r.map(|r| r.wall_ms))
            .collect::<Vec<_>>(),
    ));
    // Columns by schema position from the typed rows: no name look-ups per run.
    for (i, metric) in RunSummary::metric_schema().iter().enumerate() {
        let column = match metric.value {
            MetricValue::Count(_) => Column::new(
                metric.name.into(),
                records
                    .iter()
                    .map(|r| r.and_then(|r| r.metrics.u64_at(i)))
                    .collect::<Vec<_>>(),
            ),
            MetricValue::Float(_) => Column::new(
                metric.name.into(),
                records
                    .iter()
                    .map(|r| r.and_then(|r| r.metrics.f64_at(i)))
                    .collect::<Vec<_>>(),
            ),
        };
        columns.push(column);
    }
    // Text-valued fields (the load verdict): a string column each, after the numeric metrics,
    // in the runs table only (they have no mean).
    for (name, _) in RunSummary::default().labels() {
        columns.push(Column::new(
            name.into(),
            records
                .iter()
                .map(|r| r.and_then(|r| r.labels.get(name)).map(String::as_str))
                .collect::<Vec<Option<&str>>>(),
        ));
    }
    DataFrame::new_infer_height(columns).map_err(polars_err)
}
