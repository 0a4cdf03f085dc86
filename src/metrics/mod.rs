//! A run's metrics: collected during the run, summarised at the end (exactly, up to
//! [`EXACT_SAMPLE_LIMIT`] samples per metric; within 0.05% past it).

mod classes;
mod collector;
mod fleet;
mod histogram;
mod load;
mod quantiles;
mod slo;
mod summary;
mod verdict;
mod warmup;

pub use classes::{ClassSummary, ClassTally};
pub use collector::{Collector, StepTotals};
pub use fleet::{imbalance, FleetMetrics, ReplicaSummary};
pub use load::{LoadCheck, LoadTimeline};
pub use quantiles::{DistStats, Samples, EXACT_SAMPLE_LIMIT};
pub use slo::{SloSummary, SloTally};
pub use summary::{Metric, MetricValue, RunSummary};
pub use verdict::LoadVerdict;
pub use warmup::Warmup;
