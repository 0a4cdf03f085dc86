//! The summary tables, a piece at a time: each point's statistics over its runs, as one wide
//! row (summary) and one row per metric (summary_long).

use polars::prelude::*;

use super::{key_columns, polars_err, AxisKind};
use crate::metrics::{MetricValue, RunSummary};
use crate::sweep::grid::Grid;
use crate::sweep::journal::RunRecord;
use crate::sweep::stats::{describe, Described};
use crate::Result;

/// One statistic of a description.
type Statistic = fn(&Described) -> Option<f64>;

/// Summary rows of consecutive points, until written.
#[derive(Debug, Default)]
pub struct SummaryChunk {
    /// Each point's first run (its axis values are the row's).
    firsts: Vec<usize>,
    n: Vec<u64>,
    n_error: Vec<u64>,
    /// Point-major: `stats[p * metrics + m]`.
    stats: Vec<Described>,
}

/// One point's statistics over its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSummary {
    /// Successful runs.
    pub n: u64,
    pub n_error: u64,
    /// Per metric in table order: the values of the successful runs that define it.
    pub stats: Vec<Described>,
}

impl PointSummary {
    /// The point whose runs have these records (None: no record).
    pub fn of(records: &[Option<&RunRecord>]) -> PointSummary {
        let ok: Vec<&RunRecord> = records
            .iter()
            .flatten()
            .copied()
            .filter(|r| r.is_ok())
            .collect();
        let errors = records
            .iter()
            .flatten()
            .filter(|r| r.status == "error")
            .count();
        let metrics = RunSummary::metric_schema().len();
        let mut values = Vec::with_capacity(ok.len());
        let stats = (0..metrics)
            .map(|m| {
                values.clear();
                values.extend(ok.iter().filter_map(|r| r.metrics.f64_at(m)));
                describe(&values)
            })
            .collect();
        PointSummary {
            n: ok.len() as u64,
            n_error: errors as u64,
            stats,
        }
    }
}

impl SummaryChunk {
    /// Adds a point, `first` its first run.
    pub fn push(&mut self, first: usize, point: PointSummary) {
        self.firsts.push(first);
        self.n.push(point.n);
        self.n_error.push(point.n_error);
        self.stats.extend(point.stats);
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.firsts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.firsts.is_empty()
    }

    /// The held points as pieces of summary and summary_long; empties the chunk.
    pub fn take_frames(
        &mut self,
        grid: &Grid,
        kinds: &[AxisKind],
    ) -> Result<(DataFrame, DataFrame)> {
        let schema = RunSummary::metric_schema();
        let m = schema.len();
        let points = self.firsts.len();
        let stat = |p: usize, k: usize| &self.stats[p * m + k];

        let keys = key_columns(grid, kinds, &self.firsts);
        let mut wide = keys.clone();
        wide.push(Column::new("n".into(), self.n.clone()));
        wide.push(Column::new("n_error".into(), self.n_error.clone()));
        for (k, metric) in schema.iter().enumerate() {
            let floats = |suffix: &str, get: &dyn Fn(&Described) -> Option<f64>| {
                Column::new(
                    format!("{}{suffix}", metric.name).into(),
                    (0..points).map(|p| get(stat(p, k))).collect::<Vec<_>>(),
                )
            };
            // A count's extremes stay counts; every mean and spread is a float.
            let extreme = |suffix: &str, get: &dyn Fn(&Described) -> Option<f64>| match metric.value
            {
                MetricValue::Count(_) => Column::new(
                    format!("{}{suffix}", metric.name).into(),
                    (0..points)
                        .map(|p| get(stat(p, k)).map(|x| x as u64))
                        .collect::<Vec<_>>(),
                ),
                MetricValue::Float(_) => floats(suffix, get),
            };
            wide.push(floats("_mean", &|d| d.mean));
            wide.push(floats("_std", &|d| d.std));
            wide.push(floats("_ci95_lo", &|d| d.ci.map(|c| c.0)));
            wide.push(floats("_ci95_hi", &|d| d.ci.map(|c| c.1)));
            wide.push(extreme("_min", &|d| d.min));
            wide.push(extreme("_max", &|d| d.max));
        }

        // Long: every point's keys repeated for each metric, point by point.
        let rows = || (0..points).flat_map(move |p| (0..m).map(move |k| (p, k)));
        // The keys gathered from the wide table's, rather than built again row by row.
        let index = IdxCa::from_vec("index".into(), rows().map(|(p, _)| p as IdxSize).collect());
        let keys = DataFrame::new_infer_height(keys).map_err(polars_err)?;
        let mut long: Vec<Column> = keys.take(&index).map_err(polars_err)?.into_columns();
        long.push(Column::new(
            "metric".into(),
            rows().map(|(_, k)| schema[k].name).collect::<Vec<_>>(),
        ));
        long.push(Column::new(
            "n".into(),
            rows().map(|(p, k)| stat(p, k).n).collect::<Vec<_>>(),
        ));
        let stats: [(&str, Statistic); 6] = [
            ("mean", |d| d.mean),
            ("std", |d| d.std),
            ("ci_low", |d| d.ci.map(|c| c.0)),
            ("ci_high", |d| d.ci.map(|c| c.1)),
            ("min", |d| d.min),
            ("max", |d| d.max),
        ];
        for (name, get) in stats {
            long.push(Column::new(
                name.into(),
                rows().map(|(p, k)| get(stat(p, k))).collect::<Vec<_>>(),
            ));
        }
        let frames = (
            DataFrame::new_infer_height(wide).map_err(polars_err)?,
            DataFrame::new_infer_height(long).map_err(polars_err)?,
        );
        *self = SummaryChunk::default();
        Ok(frames)
    }
}
