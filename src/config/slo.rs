//! `[slo]`: per-request service-level objectives, judged the way `vllm bench serve --goodput`
//! judges them: a request is good when it meets every threshold that is set.

use serde::{Deserialize, Serialize};

use super::check::{fraction, positive};
use crate::Result;

/// Thresholds in milliseconds (each optional) and the share of requests that must meet them.
/// A section with no thresholds counts every completed request as good.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// Most time to first token a good request may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Most time per output token; requests with one output token have none and pass it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    /// Most end-to-end latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
    /// The target share of good requests, in (0, 1]; without it `slo_met` is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attainment: Option<f64>,
}

impl SloConfig {
    /// Checks the thresholds; `at` is where the section is ("slo", "workload.classes[0].slo").
    pub(super) fn validate(&self, at: &str) -> Result<()> {
        for (key, value) in [
            ("ttft_ms", self.ttft_ms),
            ("tpot_ms", self.tpot_ms),
            ("e2e_ms", self.e2e_ms),
        ] {
            if let Some(v) = value {
                positive(&format!("{at}.{key}"), v)?;
            }
        }
        if let Some(a) = self.attainment {
            fraction(&format!("{at}.attainment"), a)?;
        }
        Ok(())
    }

    /// A class's objectives: its own thresholds, and `[slo]`'s where it sets none.
    pub fn over(&self, base: Option<&SloConfig>) -> SloConfig {
        let base = base.copied().unwrap_or_default();
        SloConfig {
            ttft_ms: self.ttft_ms.or(base.ttft_ms),
            tpot_ms: self.tpot_ms.or(base.tpot_ms),
            e2e_ms: self.e2e_ms.or(base.e2e_ms),
            attainment: self.attainment.or(base.attainment),
        }
    }

    /// Whether a request with these latencies (seconds) meets every threshold that is set; a
    /// request with one output token has no TPOT (`None`) and passes that one.
    pub fn meets(&self, ttft: f64, tpot: Option<f64>, e2e: f64) -> bool {
        let within = |limit_ms: Option<f64>, secs: Option<f64>| match (limit_ms, secs) {
            (Some(limit), Some(s)) => s * 1e3 <= limit,
            _ => true,
        };
        within(self.ttft_ms, Some(ttft))
            && within(self.tpot_ms, tpot)
            && within(self.e2e_ms, Some(e2e))
    }
}
