//! A run's metrics: collected during the run, summarised exactly at the end.

mod collector;
mod quantiles;
mod summary;

pub use collector::Collector;
pub use quantiles::DistStats;
pub use summary::{Metric, MetricValue, RunSummary};
