//! `[metrics]`: which requests the statistics measure.

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, positive};
use crate::Result;

/// Warm-up: requests arriving before `warmup_secs`, or among the first `warmup_requests` (by
/// id), are simulated like any other but left out of every per-request statistic, so that a
/// start-up burst (an empty cache, every closed-loop user at once) does not dominate the tail.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Requests arriving earlier than this many simulated seconds are not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_secs: Option<f64>,
    /// Requests with an id below this (the first N generated) are not measured.
    #[serde(
        default,
        deserialize_with = "super::de::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub warmup_requests: Option<u64>,
}

impl MetricsConfig {
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(s) = self.warmup_secs {
            positive("metrics.warmup_secs", s)?;
        }
        if let Some(n) = self.warmup_requests {
            at_least_one("metrics.warmup_requests", n)?;
        }
        Ok(())
    }
}
