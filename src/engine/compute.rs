//! The roofline model of one forward pass.
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

use crate::config::Config;

/// What one scheduled request contributes to a step.
#[derive(Debug, Clone, Copy)]
pub struct Work {
    /// Tokens already in the KV cache before the step (c_i).
    pub cached: u32,
    /// New tokens computed in this step (s_i).
    pub new: u32,
}

/// A step's work, summed over its requests: tokens = sum s_i, attn = sum s_i t_i,
/// kv = sum (c_i + s_i / 2), for full-attention and sliding-window layers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepSums {
    pub tokens: f64,
    pub attn_full: f64,
    pub kv_full: f64,
    pub attn_slide: f64,
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
    active_params: f64,
    weight_bytes: f64,
    attention_dim: f64,
    kv_bytes_per_token_layer: f64,
    full_layers: f64,
    /// (window, layers) for sliding-window layers.
    sliding: Option<(f64, f64)>,
}

impl Roofline {
    pub fn new(config: &Config) -> Roofline {
        let m = &config.model;
        let hw = &config.hardware;
        let (full, sliding) = m.attention_layers();
        Roofline {
            compute_flops: hw.compute_flops,
            memory_bandwidth: hw.memory_bandwidth,
            active_params: m.active_parameters() as f64,
            weight_bytes: m.num_parameters as f64 * hw.bytes_per_param,
            attention_dim: m.attention_dim(),
            kv_bytes_per_token_layer: config.kv_bytes_per_token() / f64::from(m.num_layers),
            full_layers: f64::from(full),
            sliding: sliding.map(|(w, n)| (f64::from(w), f64::from(n))),
        }
    }

    /// Prices a step from the work of each scheduled request.
    pub fn step(&self, batch: impl IntoIterator<Item = Work>) -> StepCost {
        let mut sums = StepSums::default();
        for w in batch {
            let s = f64::from(w.new);
            let c = f64::from(w.cached);
            let t = c + s;
            let read = c + s / 2.0;
            sums.tokens += s;
            sums.attn_full += s * t;
            sums.kv_full += read;
            if let Some((window, _)) = self.sliding {
                sums.attn_slide += s * t.min(window);
                sums.kv_slide += read.min(window);
            }
        }
        self.price_sums(&sums)
    }

    /// Whether the model has sliding-window layers (whose per-step cost is not linear in the
    /// context length).
    pub fn has_sliding_window(&self) -> bool {
        self.sliding.is_some()
    }

    /// Prices a step from its sums; [`step`](Self::step) and the decode fast path share this,
    /// so both produce bit-identical step times.
    pub fn price_sums(&self, sums: &StepSums) -> StepCost {
        let slide_layers = self.sliding.map_or(0.0, |(_, n)| n);
        let flops = 2.0 * sums.tokens * self.active_params
            + 4.0
                * self.attention_dim
                * (self.full_layers * sums.attn_full + slide_layers * sums.attn_slide);
        let bytes = self.weight_bytes
            + self.kv_bytes_per_token_layer
                * (self.full_layers * sums.kv_full + slide_layers * sums.kv_slide);
        self.price(flops, bytes)
    }

    fn price(&self, flops: f64, bytes: f64) -> StepCost {
        let compute_time = flops / self.compute_flops;
        let memory_time = bytes / self.memory_bandwidth;
        let time = compute_time.max(memory_time);
        StepCost {
            flops,
            bytes,
            time,
            flops_util: compute_time / time,
            bandwidth_util: memory_time / time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn tiny() -> Config {
        Config::from_toml_str(
            r#"
            [hardware]
            name = "toy"
            compute_flops = 1e12
            memory_bandwidth = 1e11
            memory_capacity = 1e10
            kv_cache_capacity = 1e9
            bytes_per_param = 2
            [model]
            name = "toy"
            num_parameters = 1000000000
            num_layers = 10
            hidden_dim = 1024
            num_heads = 8
            num_kv_heads = 2
            max_seq_len = 4096
            [scheduler]
            max_num_batched_tokens = 2048
            max_num_seqs = 16
            policy = "fcfs"
            enable_chunked_prefill = true
            block_size = 16
            [workload]
            arrival_pattern = "batched"
            num_requests = 1
            input_len_dist = { type = "fixed", value = 100 }
            output_len_dist = { type = "fixed", value = 10 }
            "#,
        )
        .unwrap()
    }

    #[test]
    fn decode_step_is_memory_bound_and_matches_the_formula() {
        let r = Roofline::new(&tiny());
        // One decode token at context 100 -> 101.
        let cost = r.step([Work {
            cached: 100,
            new: 1,
        }]);
        // flops = 2 * 1 * 1e9 + 4 * 10 * 1 * 101 * 1024 = 2e9 + 4_136_960
        assert_eq!(cost.flops, 2e9 + 4_136_960.0);
        // kv bytes/token = 2 * 2 heads * 128 dim * 2 bytes * 10 layers = 10240
        // bytes = 2e9 + 10240 * (100 + 0.5) = 2e9 + 1_029_120
        assert_eq!(cost.bytes, 2e9 + 1_029_120.0);
        // memory time = 2.00102912e9 / 1e11 = 0.0200102912 s; compute = 0.002004136960 s
        assert!((cost.time - 0.020_010_291_2).abs() < 1e-15);
        assert!((cost.bandwidth_util - 1.0).abs() < 1e-15);
        assert!((cost.flops_util - 0.002_004_136_96 / 0.020_010_291_2).abs() < 1e-12);
    }

    #[test]
    fn prefill_step_is_compute_bound() {
        let r = Roofline::new(&tiny());
        let cost = r.step([Work {
            cached: 0,
            new: 1000,
        }]);
        // flops = 2 * 1000 * 1e9 + 4 * 10 * 1000 * 1000 * 1024 = 2e12 + 4.096e10
        assert_eq!(cost.flops, 2.0409_6e12);
        assert!((cost.time - 2.040_96).abs() < 1e-12);
        assert_eq!(cost.flops_util, 1.0);
    }

    #[test]
    fn sliding_window_caps_attention_context() {
        let mut c = tiny();
        c.model.sliding_window = Some(50);
        c.model.num_sliding_layers = Some(10);
        let r = Roofline::new(&c);
        let cost = r.step([Work {
            cached: 100,
            new: 1,
        }]);
        // every layer sees 50 keys: 4 * 10 * 1 * 50 * 1024 = 2_048_000; KV read capped at 50
        assert_eq!(cost.flops, 2e9 + 2_048_000.0);
        assert_eq!(cost.bytes, 2e9 + 1024.0 * 10.0 * 50.0);
    }
}
