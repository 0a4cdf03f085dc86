//! `[hardware]`: the accelerator (or tensor-parallel group) one engine runs on.

use serde::{Deserialize, Serialize};

use super::check::{fraction, positive};
use super::model::ModelConfig;
use crate::{bail, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareConfig {
    pub name: String,
    /// Peak dense compute, FLOP/s.
    pub compute_flops: f64,
    /// Peak memory bandwidth, bytes/s.
    pub memory_bandwidth: f64,
    /// Total accelerator memory, bytes.
    pub memory_capacity: f64,
    /// Bytes per weight (and per KV-cache element): 1 for FP8, 2 for BF16.
    pub bytes_per_param: f64,
    /// Bytes given to the KV cache. Unset: memory_capacity x gpu_memory_utilization minus the
    /// weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_capacity: Option<f64>,
    /// Fraction of memory_capacity the engine may use (vLLM's --gpu-memory-utilization).
    #[serde(default = "default_gpu_memory_utilization")]
    pub gpu_memory_utilization: f64,
}

fn default_gpu_memory_utilization() -> f64 {
    0.9
}

impl HardwareConfig {
    pub(super) fn validate(&self) -> Result<()> {
        positive("hardware.compute_flops", self.compute_flops)?;
        positive("hardware.memory_bandwidth", self.memory_bandwidth)?;
        positive("hardware.memory_capacity", self.memory_capacity)?;
        positive("hardware.bytes_per_param", self.bytes_per_param)?;
        fraction(
            "hardware.gpu_memory_utilization",
            self.gpu_memory_utilization,
        )?;
        if let Some(kv) = self.kv_cache_capacity {
            positive("hardware.kv_cache_capacity", kv)?;
        }
        Ok(())
    }

    /// Bytes available to the KV cache: the explicit kv_cache_capacity, or what is left of the
    /// usable memory once the weights are loaded.
    pub fn kv_cache_bytes(&self, model: &ModelConfig) -> Result<f64> {
        if let Some(kv) = self.kv_cache_capacity {
            return Ok(kv);
        }
        let usable = self.memory_capacity * self.gpu_memory_utilization;
        let weights = model.num_parameters as f64 * self.bytes_per_param;
        if weights >= usable {
            bail!(
                "the weights ({:.1} GB = model.num_parameters x hardware.bytes_per_param) leave no \
                 room for a KV cache in {:.1} GB (hardware.memory_capacity x \
                 gpu_memory_utilization); set hardware.kv_cache_capacity or use more memory",
                weights / 1e9,
                usable / 1e9
            );
        }
        Ok(usable - weights)
    }
}
