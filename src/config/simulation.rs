//! `[simulation]`: how the run is driven (not what is simulated).

use serde::{Deserialize, Serialize};

use super::check::at_least_one;
use crate::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationConfig {
    /// Engine steps between progress reports (the live display refreshes at this pace).
    #[serde(default = "default_log_interval")]
    pub log_interval: u64,
    /// Simulate every engine step one by one, without the closed-form fast path for runs of
    /// pure decode steps. Both give identical results; this mode exists to check that.
    #[serde(default)]
    pub step_by_step: bool,
}

fn default_log_interval() -> u64 {
    100
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            log_interval: default_log_interval(),
            step_by_step: false,
        }
    }
}

impl SimulationConfig {
    pub(super) fn validate(&self) -> Result<()> {
        at_least_one("simulation.log_interval", self.log_interval)
    }
}
