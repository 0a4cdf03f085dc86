//! A run's metrics: collected during the run, summarised at the end (exactly, up to
//! [`EXACT_SAMPLE_LIMIT`] samples per metric; within 0.05% past it).

mod collector;
mod histogram;
mod load;
mod quantiles;
mod summary;

pub use collector::Collector;
pub use load::{LoadCheck, LoadTimeline};
pub use quantiles::{DistStats, Samples, EXACT_SAMPLE_LIMIT};
pub use summary::{Metric, MetricValue, RunSummary};
