//! The step-time model of one forward pass: the roofline, optionally calibrated.
//!
//! For a step that processes s_i new tokens of request i, whose KV length after the step is
//! t_i = c_i + s_i (c_i tokens were already cached):
//!
//! ```text
//! flops = 2 (sum s_i) active_params + sum_i 4 L s_i t_i (num_heads x head_dim)
//! bytes = num_parameters x bytes_per_param + sum_i kv_bytes_per_token (c_i + s_i / 2)
//! time  = max(flops / compute_flops, bytes / memory_bandwidth)
//! ```
//!
//! The first term of `flops` is the weight matmuls (2 FLOPs per weight per token), the second
//! is attention (QK^T and AV, 2 each per head-dim element, per layer L, over t_i keys). `bytes`
//! reads every weight once and each request's KV cache; the s_i / 2 term is the average of the
//! KV being written while it is read. num_heads x head_dim equals hidden_dim unless the model
//! sets a different head_dim. Sliding-window layers see at most `sliding_window` keys: their
//! t_i and c_i + s_i / 2 are capped at the window.
//!
//! The calibrated model (the `[hardware]` calibration parameters, fitted by `inference-lab
//! calibrate fit`) splits both sums into the weights' part and attention's part:
//!
//! ```text
//! G = 2 (sum s_i) active_params / compute_efficiency        weight matmul FLOPs
//! A = attention FLOPs / attention_efficiency                (causal pairs with causal_attention)
//! W = weight bytes / memory_efficiency
//! K = KV bytes / kv_memory_efficiency
//! c = (G + o A) / compute_flops,  m = (W + o K) / memory_bandwidth     (o = attention_overlap)
//! time = step_overhead + L layer_overhead + (sequences) sequence_overhead
//!        + combine(c, m) + (1 - o) (A / compute_flops + K / memory_bandwidth)
//! combine(c, m) = max(c, m) if roofline_softness = 0, else (c^(1/s) + m^(1/s))^s
//! ```
//!
//! With every parameter at its default (efficiencies 1, overlap 1, softness 0, no causal
//! counting, no overheads) each operation reduces exactly to the roofline's, so the plain
//! roofline is reproduced bit for bit. Everything is a function of the step's [`StepSums`], so
//! the decode fast path, which builds those sums in closed form, prices steps identically.

use crate::config::{Config, StepModel};

mod parallel;

use parallel::{Collectives, ExpertReads};

/// What one scheduled request contributes to a step.
#[derive(Debug, Clone, Copy)]
pub struct Work {
    /// Tokens already in the KV cache before the step (c_i).
    pub cached: u32,
    /// New tokens computed in this step (s_i).
    pub new: u32,
}

/// A step's work, summed over its requests: tokens = sum s_i, seqs = the number of requests,
/// attn = sum s_i t_i, attn_causal = sum (s_i c_i + s_i (s_i + 1) / 2) (the query-key pairs a
/// causal mask keeps), kv = sum (c_i + s_i / 2), for full-attention and sliding-window layers.
/// Every field is an integer or a half-integer, so any summation order gives the same bits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepSums {
    pub tokens: f64,
    pub seqs: f64,
    pub attn_full: f64,
    pub attn_full_causal: f64,
    pub kv_full: f64,
    pub attn_slide: f64,
    pub attn_slide_causal: f64,
    pub kv_slide: f64,
}

/// The price of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepCost {
    pub flops: f64,
    pub bytes: f64,
    /// Seconds.
    pub time: f64,
    /// (flops / compute_flops) / time.
    pub flops_util: f64,
    /// (bytes / memory_bandwidth) / time.
    pub bandwidth_util: f64,
}

/// The constants of the roofline, precomputed from a config.
#[derive(Debug, Clone)]
pub struct Roofline {
    compute_flops: f64,
    memory_bandwidth: f64,
    /// Group totals of the weight matmuls, per token.
    active_params: f64,
    /// Weights every step reads, per GPU: all of them for a dense model, the dense part of an
    /// MoE one (whose experts are read as touched, see [`ExpertReads`]).
    weight_bytes: f64,
    experts: Option<ExpertReads>,
    /// GPUs of the tensor-parallel group the FLOPs divide over (1 without `[parallel]`).
    gpus: f64,
    /// The share of each token's KV one GPU holds and reads.
    kv_share: f64,
    collectives: Option<Collectives>,
    /// CPU seconds per step (scheduling, input preparation, output processing).
    scheduling_overhead: f64,
    /// vLLM's async scheduling: the CPU work of step N+1 overlaps the GPU's step N.
    async_scheduling: bool,
    attention_dim: f64,
    kv_bytes_per_token_layer: f64,
    full_layers: f64,
    /// (window, layers) for sliding-window layers.
    sliding: Option<(f64, f64)>,
    cal: Calibration,
}

/// The calibration parameters of `[hardware]`, with the per-step overheads folded together.
#[derive(Debug, Clone)]
struct Calibration {
    compute_efficiency: f64,
    attention_efficiency: f64,
    memory_efficiency: f64,
    kv_memory_efficiency: f64,
    attention_overlap: f64,
    softness: f64,
    causal: bool,
    /// step_overhead + num_layers x layer_overhead.
    fixed_overhead: f64,
    sequence_overhead: f64,
}

impl Calibration {
    /// Every parameter at the value that reduces to the plain roofline.
    const PLAIN: Calibration = Calibration {
        compute_efficiency: 1.0,
        attention_efficiency: 1.0,
        memory_efficiency: 1.0,
        kv_memory_efficiency: 1.0,
        attention_overlap: 1.0,
        softness: 0.0,
        causal: false,
        fixed_overhead: 0.0,
        sequence_overhead: 0.0,
    };
}

/// How compute and memory time combine: max(c, m) at softness 0, c + m at 1, and in between
/// the p-norm with p = 1 / softness (computed as hi (1 + (lo / hi)^p)^(1/p), which cannot
/// overflow or underflow to a wrong value).
fn combine(c: f64, m: f64, softness: f64) -> f64 {
    if softness == 0.0 {
        return c.max(m);
    }
    if softness == 1.0 {
        return c + m;
    }
    let (hi, lo) = if c >= m { (c, m) } else { (m, c) };
    if hi <= 0.0 {
        return hi;
    }
    hi * (1.0 + (lo / hi).powf(1.0 / softness)).powf(softness)
}

/// Query-key pairs of `new` tokens on top of `cached` ones under a causal mask, each key
/// capped at `window`: sum over k = 1..=new of min(cached + k, window). Exact in integers.
fn causal_pairs(cached: u64, new: u64, window: u64) -> u64 {
    if cached + new <= window {
        new * cached + new * (new + 1) / 2
    } else if cached >= window {
        new * window
    } else {
        let below = window - cached; // tokens whose keys stay within the window
        below * cached + below * (below + 1) / 2 + (new - below) * window
    }
}

impl Roofline {
    pub fn new(config: &Config) -> Roofline {
        let m = &config.model;
        let hw = &config.hardware;
        let (full, sliding) = m.attention_layers();
        let gpus = f64::from(config.tensor_parallel_size());
        let experts = ExpertReads::new(config);
        let dense_bytes =
            m.num_parameters as f64 * hw.bytes_per_param - ExpertReads::all_expert_bytes(config);
        Roofline {
            compute_flops: hw.compute_flops,
            memory_bandwidth: hw.memory_bandwidth,
            active_params: m.active_parameters() as f64,
            weight_bytes: dense_bytes / gpus,
            experts,
            gpus,
            kv_share: config.kv_share_per_gpu(),
            collectives: Collectives::new(config),
            scheduling_overhead: config.scheduler.scheduling_overhead,
            async_scheduling: config.scheduler.async_scheduling,
            attention_dim: m.attention_dim(),
            kv_bytes_per_token_layer: config.kv_bytes_per_token() / f64::from(m.num_layers),
            full_layers: f64::from(full),
            sliding: sliding.map(|(w, n)| (f64::from(w), f64::from(n))),
            cal: match hw.step_model {
                StepModel::Calibrated => Calibration {
                    compute_efficiency: hw.compute_efficiency,
                    attention_efficiency: hw.attention_efficiency,
                    memory_efficiency: hw.memory_efficiency,
                    kv_memory_efficiency: hw.kv_memory_efficiency,
                    attention_overlap: hw.attention_overlap,
                    softness: hw.roofline_softness,
                    causal: hw.causal_attention,
                    fixed_overhead: hw.step_overhead + f64::from(m.num_layers) * hw.layer_overhead,
                    sequence_overhead: hw.sequence_overhead,
                },
                StepModel::Roofline => Calibration::PLAIN,
            },
        }
    }

    /// Prices a step from the work of each scheduled request.
    pub fn step(&self, batch: impl IntoIterator<Item = Work>) -> StepCost {
        self.price_sums(&self.sums(batch))
    }

    /// Sums a step's work over its requests.
    pub fn sums(&self, batch: impl IntoIterator<Item = Work>) -> StepSums {
        let mut sums = StepSums::default();
        for w in batch {
            let s = f64::from(w.new);
            let c = f64::from(w.cached);
            let t = c + s;
            let read = c + s / 2.0;
            sums.tokens += s;
            sums.seqs += 1.0;
            sums.attn_full += s * t;
            let (cached, new) = (u64::from(w.cached), u64::from(w.new));
            sums.attn_full_causal += causal_pairs(cached, new, u64::MAX) as f64;
            sums.kv_full += read;
            if let Some((window, _)) = self.sliding {
                sums.attn_slide += s * t.min(window);
                sums.attn_slide_causal += causal_pairs(cached, new, window as u64) as f64;
                sums.kv_slide += read.min(window);
            }
        }
        sums
    }

    /// Whether the model has sliding-window layers (whose per-step cost is not linear in the
    /// context length).
    pub fn has_sliding_window(&self) -> bool {
        self.sliding.is_some()
    }

    /// Prices a step from its sums; [`step`](Self::step) and the decode fast path share this,
    /// so both produce bit-identical step times.
    ///
    /// At the default calibration every operation below reduces exactly to the roofline's
    /// (x / 1 = x, 1 x = x, 0 + x = x, x + 0 x = x), so the times are the roofline's bits.
    pub fn price_sums(&self, sums: &StepSums) -> StepCost {
        let cal = &self.cal;
        let slide_layers = self.sliding.map_or(0.0, |(_, n)| n);
        let (attn_full, attn_slide) = if cal.causal {
            (sums.attn_full_causal, sums.attn_slide_causal)
        } else {
            (sums.attn_full, sums.attn_slide)
        };
        // One GPU's share of the work (the whole of it without [parallel]: / 1 and x 1 are
        // exact, so the numbers stay the roofline's bits).
        let gemm_flops = 2.0 * sums.tokens * self.active_params / self.gpus;
        let attn_flops =
            4.0 * self.attention_dim * (self.full_layers * attn_full + slide_layers * attn_slide)
                / self.gpus;
        let flops = gemm_flops + attn_flops;
        let kv_bytes = self.kv_bytes_per_token_layer
            * (self.full_layers * sums.kv_full + slide_layers * sums.kv_slide)
            * self.kv_share;
        let weight_bytes = match &self.experts {
            Some(experts) => self.weight_bytes + experts.bytes(sums.tokens),
            None => self.weight_bytes,
        };
        let bytes = weight_bytes + kv_bytes;

        // Effective work: what the achieved fractions of the peaks make of it.
        let attn_work = attn_flops / cal.attention_efficiency;
        let kv_traffic = kv_bytes / cal.kv_memory_efficiency;
        let overlap = cal.attention_overlap;
        let compute_time =
            (gemm_flops / cal.compute_efficiency + overlap * attn_work) / self.compute_flops;
        let memory_time =
            (weight_bytes / cal.memory_efficiency + overlap * kv_traffic) / self.memory_bandwidth;
        let serial =
            (1.0 - overlap) * (attn_work / self.compute_flops + kv_traffic / self.memory_bandwidth);
        let mut time = cal.fixed_overhead
            + cal.sequence_overhead * sums.seqs
            + combine(compute_time, memory_time, cal.softness)
            + serial;
        if let Some(collectives) = &self.collectives {
            time += collectives.time(sums.tokens);
        }
        time = if self.async_scheduling {
            time.max(self.scheduling_overhead)
        } else {
            time + self.scheduling_overhead
        };
        StepCost {
            flops,
            bytes,
            time,
            flops_util: (flops / self.compute_flops) / time,
            bandwidth_util: (bytes / self.memory_bandwidth) / time,
        }
    }
}

#[cfg(test)]
mod tests;
