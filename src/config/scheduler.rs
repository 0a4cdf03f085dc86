//! `[scheduler]`: the engine's batching and admission knobs (vLLM's names where vLLM has one).

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, within, OVERHEAD_SECONDS};
use crate::Result;

/// How the waiting queue is ordered (and whom preemption picks as its victim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// First come, first served (by arrival time).
    Fcfs,
    /// Shortest output first. `sjf` (shortest job first) is the seed system's name for it.
    #[serde(alias = "sjf")]
    Sof,
    /// Shortest input (prompt) first.
    Sif,
    /// Shortest total (prompt + output) first.
    Stf,
    /// Longest input first.
    Lif,
    /// Longest output first.
    Lof,
    /// Longest total first.
    Ltf,
    /// Lowest priority value first, then arrival.
    Priority,
}

impl Policy {
    pub const ALL: [Policy; 8] = [
        Policy::Fcfs,
        Policy::Sof,
        Policy::Sif,
        Policy::Stf,
        Policy::Lif,
        Policy::Lof,
        Policy::Ltf,
        Policy::Priority,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Fcfs => "fcfs",
            Policy::Sof => "sof",
            Policy::Sif => "sif",
            Policy::Stf => "stf",
            Policy::Lif => "lif",
            Policy::Lof => "lof",
            Policy::Ltf => "ltf",
            Policy::Priority => "priority",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Token budget of one step (prefill chunks + decodes).
    pub max_num_batched_tokens: u32,
    /// Most requests in the running batch.
    pub max_num_seqs: u32,
    pub policy: Policy,
    /// Split long prompts across steps so decodes keep flowing.
    pub enable_chunked_prefill: bool,
    /// Tokens per KV-cache block.
    pub block_size: u32,
    /// Most prompt tokens one request may prefill in one step. 0 = no cap, except that with
    /// max_num_partial_prefills > 1 it becomes 4% of model.max_seq_len (vLLM's rule).
    #[serde(default)]
    pub long_prefill_token_threshold: u32,
    /// Most requests that may be part-way through their prefill at once.
    #[serde(default = "one")]
    pub max_num_partial_prefills: u32,
    /// Admit a request only when every running request could grow to its full length without
    /// running out of blocks: no preemption can occur.
    #[serde(default)]
    pub enable_preemption_free: bool,
    /// Reuse KV blocks whose token prefix is already cached.
    #[serde(default = "yes")]
    pub enable_prefix_caching: bool,
    /// vLLM's --async-scheduling: the scheduler prepares step N+1 while the GPU runs step N, so
    /// its CPU time hides behind the GPU's (a step takes max(GPU, scheduling_overhead)), but a
    /// request that arrives during step N is first scheduled in step N+2.
    #[serde(default, skip_serializing_if = "is_false")]
    pub async_scheduling: bool,
    /// CPU seconds between forward passes: scheduling, preparing the inputs, processing the
    /// outputs. Without async scheduling they add to every step.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scheduling_overhead: f64,
    /// Seconds from a request's arrival to its entering the engine's queue: the API server's
    /// HTTP handling, tokenization and hand-over to the engine process. Counted in TTFT and
    /// E2E.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub request_overhead: f64,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

impl SchedulerConfig {
    pub(super) fn validate(&self) -> Result<()> {
        at_least_one(
            "scheduler.max_num_batched_tokens",
            self.max_num_batched_tokens.into(),
        )?;
        at_least_one("scheduler.max_num_seqs", self.max_num_seqs.into())?;
        at_least_one("scheduler.block_size", self.block_size.into())?;
        at_least_one(
            "scheduler.max_num_partial_prefills",
            self.max_num_partial_prefills.into(),
        )?;
        for (field, value) in [
            ("scheduler.scheduling_overhead", self.scheduling_overhead),
            ("scheduler.request_overhead", self.request_overhead),
        ] {
            within(field, value, OVERHEAD_SECONDS, "seconds")?;
        }
        Ok(())
    }

    /// The per-request prefill cap per step after defaults; None = uncapped.
    pub fn prefill_chunk_cap(&self, max_seq_len: u32) -> Option<u32> {
        match self.long_prefill_token_threshold {
            0 if self.max_num_partial_prefills > 1 => {
                Some((max_seq_len as f64 * 0.04) as u32).map(|v| v.max(1))
            }
            0 => None,
            t => Some(t),
        }
    }
}
