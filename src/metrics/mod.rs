//! A run's metrics: collected during the run, summarised exactly at the end.

mod collector;
mod quantiles;
mod slo;
mod summary;
mod verdict;
mod warmup;

pub use collector::Collector;
pub use quantiles::DistStats;
pub use slo::{SloSummary, SloTally};
pub use summary::{Metric, MetricValue, RunSummary};
pub use verdict::LoadVerdict;
pub use warmup::Warmup;
