//! What spreading an engine over GPUs, and routing tokens to experts, adds to a step.
//!
//! With `[parallel]` every GPU of a tensor-parallel group of t holds 1/t of the weights and of
//! the attention heads, so it does 1/t of the matmul and attention FLOPs and reads 1/t of the
//! weights; its KV share is 1/t of a token's KV (1/num_kv_heads when heads are replicated, all
//! of MLA's latent). The GPUs then wait for each other at every layer's collectives, priced
//! from the bytes they move on a ring (NCCL's algorithm for large messages):
//!
//! ```text
//! all-reduce of M bytes:  2 (t - 1) x latency + 2 (t - 1) / t x M / interconnect_bandwidth
//! all-to-all (EP = e):    (e - 1) x latency + (T / t) k h a (e - 1) / e / interconnect_bandwidth
//! ```
//!
//! A ring all-reduce is 2 (t - 1) steps (reduce-scatter, then all-gather), each moving 1/t of
//! the message and paying `hardware.interconnect_latency` (NCCL's cost model prices a ring
//! step the same way); an all-to-all is e - 1 pairwise exchanges.
//!
//! where M = T h a (the step's T tokens' hidden states of h elements of a bytes), and the
//! all-to-all sends each GPU's share of the tokens to the k experts they chose, (e - 1) / e of
//! them on another GPU. Every layer all-reduces after attention and after its MLP; an MoE
//! layer under expert parallelism replaces the second all-reduce with a dispatch and a combine
//! all-to-all. Collectives are not overlapped with compute (vLLM runs them in line), so their
//! time adds to the step's.
//!
//! An MoE step reads the dense weights plus, per MoE layer, the experts its T tokens touch:
//! E (1 - (1 - k / E)^T) of E under uniform routing ([`Experts::expected_touched`]), spread
//! evenly over the GPUs in expectation whether experts are split by tensor or expert
//! parallelism.

use crate::config::{Config, Experts};

/// Expert weights a step reads, per GPU.
#[derive(Debug, Clone)]
pub(super) struct ExpertReads {
    experts: Experts,
    /// Bytes of one expert in every MoE layer, divided over the group's GPUs.
    bytes_per_touched: f64,
}

impl ExpertReads {
    pub(super) fn new(config: &Config) -> Option<ExpertReads> {
        let experts = config.model.experts()?;
        let gpus = f64::from(config.tensor_parallel_size());
        Some(ExpertReads {
            experts,
            bytes_per_touched: f64::from(experts.layers)
                * experts.params_per_expert
                * config.hardware.bytes_per_param
                / gpus,
        })
    }

    /// Group-total bytes of every routed expert (what a dense reading would add).
    pub(super) fn all_expert_bytes(config: &Config) -> f64 {
        config
            .model
            .experts()
            .map_or(0.0, |x| x.total_params() * config.hardware.bytes_per_param)
    }

    /// Expert bytes one GPU reads in a step of `tokens` tokens.
    pub(super) fn bytes(&self, tokens: f64) -> f64 {
        self.experts.expected_touched(tokens) * self.bytes_per_touched
    }
}

/// The collectives of a step across a tensor-parallel group (None for one GPU).
#[derive(Debug, Clone)]
pub(super) struct Collectives {
    /// Seconds of latency in one all-reduce (2 (t - 1) steps) and one all-to-all (e - 1).
    all_reduce_latency: f64,
    all_to_all_latency: f64,
    bandwidth: f64,
    /// All-reduces per step: one after every layer's attention, one after every MLP that is
    /// not an expert-parallel MoE layer.
    all_reduces: f64,
    /// All-to-alls per step: a dispatch and a combine per expert-parallel MoE layer.
    all_to_alls: f64,
    /// Bytes each GPU sends per token in one all-reduce: 2 (t - 1) / t x h x a.
    all_reduce_bytes_per_token: f64,
    /// Bytes each GPU sends per token of the step in one all-to-all: k h a (e - 1) / e / t.
    all_to_all_bytes_per_token: f64,
}

impl Collectives {
    pub(super) fn new(config: &Config) -> Option<Collectives> {
        let parallel = config.parallel.as_ref()?;
        let t = parallel.tensor_parallel_size;
        if t == 1 {
            return None;
        }
        let hw = &config.hardware;
        let m = &config.model;
        let (t, e) = (f64::from(t), f64::from(parallel.expert_parallel_size));
        let hidden_bytes = f64::from(m.hidden_dim) * activation_bytes(hw.bytes_per_param);
        let layers = f64::from(m.num_layers);
        let (moe_layers, k) = m.experts().map_or((0.0, 0.0), |x| {
            (f64::from(x.layers), f64::from(x.per_token))
        });
        let ep_layers = if e > 1.0 { moe_layers } else { 0.0 };
        let latency = hw.interconnect_latency.unwrap_or(0.0);
        Some(Collectives {
            all_reduce_latency: 2.0 * (t - 1.0) * latency,
            all_to_all_latency: (e - 1.0) * latency,
            bandwidth: hw
                .interconnect_bandwidth
                .expect("validated: TP > 1 has an interconnect bandwidth"),
            all_reduces: layers + (layers - ep_layers),
            all_to_alls: 2.0 * ep_layers,
            all_reduce_bytes_per_token: 2.0 * (t - 1.0) / t * hidden_bytes,
            all_to_all_bytes_per_token: k * hidden_bytes * (e - 1.0) / e / t,
        })
    }

    /// Seconds a step of `tokens` tokens spends in collectives.
    pub(super) fn time(&self, tokens: f64) -> f64 {
        let all_reduce =
            self.all_reduce_latency + tokens * self.all_reduce_bytes_per_token / self.bandwidth;
        let all_to_all =
            self.all_to_all_latency + tokens * self.all_to_all_bytes_per_token / self.bandwidth;
        self.all_reduces * all_reduce + self.all_to_alls * all_to_all
    }
}

/// Bytes of one activation element: the model computes in 16 bits for 16-bit and quantized
/// weights alike (what vLLM's `auto` dtype means), in 32 for FP32 weights.
pub(super) fn activation_bytes(bytes_per_param: f64) -> f64 {
    bytes_per_param.max(2.0)
}
