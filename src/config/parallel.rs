//! `[parallel]`: how many GPUs one engine spans, and how many engines serve side by side.
//!
//! With this section `[hardware]` describes ONE GPU and its interconnect; without it,
//! `[hardware]` describes whatever one engine runs on (a GPU, or a tensor-parallel group's
//! totals), as configs meant before the section existed, and they give the same numbers.

use serde::{Deserialize, Serialize};

use super::check::count_within;
use super::{HardwareConfig, ModelConfig};
use crate::{bail, Result};

/// The most GPUs one engine may span (far beyond any NVLink domain).
pub const MAX_PARALLEL: u64 = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParallelConfig {
    /// GPUs one engine spans (vLLM's --tensor-parallel-size): weights, KV heads and FLOPs
    /// divide across them, and every layer all-reduces its activations twice.
    #[serde(default = "one")]
    pub tensor_parallel_size: u32,
    /// How many of those GPUs the experts are spread over (vLLM's --enable-expert-parallel
    /// makes it the tensor-parallel size): an MoE layer then exchanges its tokens with two
    /// all-to-alls instead of an all-reduce. Must divide tensor_parallel_size.
    #[serde(default = "one")]
    pub expert_parallel_size: u32,
    /// Independent engines of tensor_parallel_size GPUs each (vLLM's --data-parallel-size),
    /// behind vLLM's load balancer: a fleet of this many replicas (see `[cluster]`).
    #[serde(default = "one")]
    pub data_parallel_size: u32,
}

fn one() -> u32 {
    1
}

impl ParallelConfig {
    /// GPUs per engine.
    pub fn gpus_per_engine(&self) -> u32 {
        self.tensor_parallel_size
    }

    /// The checks that need the model and the hardware too.
    pub(super) fn validate(&self, model: &ModelConfig, hardware: &HardwareConfig) -> Result<()> {
        let tp = self.tensor_parallel_size;
        let ep = self.expert_parallel_size;
        count_within("parallel.tensor_parallel_size", tp.into(), MAX_PARALLEL)?;
        count_within("parallel.expert_parallel_size", ep.into(), MAX_PARALLEL)?;
        count_within(
            "parallel.data_parallel_size",
            self.data_parallel_size.into(),
            super::MAX_REPLICAS,
        )?;
        if model.num_heads % tp != 0 {
            bail!(
                "parallel.tensor_parallel_size = {tp} does not divide model.num_heads = {}: \
                 each GPU must hold whole attention heads",
                model.num_heads
            );
        }
        let kv = model.kv_heads();
        if model.kv_latent_dim.is_none() && kv % tp != 0 && tp % kv != 0 {
            bail!(
                "parallel.tensor_parallel_size = {tp} and model.num_kv_heads = {kv}: one must \
                 divide the other (KV heads are split across GPUs, or replicated when there are \
                 fewer of them than GPUs)"
            );
        }
        if ep > 1 {
            let Some(experts) = model.num_experts else {
                bail!(
                    "parallel.expert_parallel_size = {ep} needs a mixture-of-experts model: \
                     set model.num_experts (and experts_per_token, expert_intermediate_size)"
                );
            };
            if tp % ep != 0 {
                bail!(
                    "parallel.expert_parallel_size = {ep} does not divide \
                     parallel.tensor_parallel_size = {tp}: experts are spread over the GPUs \
                     of one engine (expert parallelism across data-parallel engines is not \
                     modelled)"
                );
            }
            if experts % ep != 0 {
                bail!(
                    "parallel.expert_parallel_size = {ep} does not divide model.num_experts = \
                     {experts}"
                );
            }
        }
        if tp > 1 && hardware.interconnect_bandwidth.is_none() {
            bail!(
                "parallel.tensor_parallel_size = {tp} needs hardware.interconnect_bandwidth \
                 (bytes/s per GPU, one direction) to price the all-reduces: set it, or use a \
                 hardware.preset"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
