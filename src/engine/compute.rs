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

use crate::config::Config;

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
    active_params: f64,
    weight_bytes: f64,
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
        Roofline {
            compute_flops: hw.compute_flops,
            memory_bandwidth: hw.memory_bandwidth,
            active_params: m.active_parameters() as f64,
            weight_bytes: m.num_parameters as f64 * hw.bytes_per_param,
            attention_dim: m.attention_dim(),
            kv_bytes_per_token_layer: config.kv_bytes_per_token() / f64::from(m.num_layers),
            full_layers: f64::from(full),
            sliding: sliding.map(|(w, n)| (f64::from(w), f64::from(n))),
            cal: Calibration {
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
        let gemm_flops = 2.0 * sums.tokens * self.active_params;
        let attn_flops =
            4.0 * self.attention_dim * (self.full_layers * attn_full + slide_layers * attn_slide);
        let flops = gemm_flops + attn_flops;
        let kv_bytes = self.kv_bytes_per_token_layer
            * (self.full_layers * sums.kv_full + slide_layers * sums.kv_slide);
        let bytes = self.weight_bytes + kv_bytes;

        // Effective work: what the achieved fractions of the peaks make of it.
        let attn_work = attn_flops / cal.attention_efficiency;
        let kv_traffic = kv_bytes / cal.kv_memory_efficiency;
        let overlap = cal.attention_overlap;
        let compute_time =
            (gemm_flops / cal.compute_efficiency + overlap * attn_work) / self.compute_flops;
        let memory_time = (self.weight_bytes / cal.memory_efficiency + overlap * kv_traffic)
            / self.memory_bandwidth;
        let serial =
            (1.0 - overlap) * (attn_work / self.compute_flops + kv_traffic / self.memory_bandwidth);
        let time = cal.fixed_overhead
            + cal.sequence_overhead * sums.seqs
            + combine(compute_time, memory_time, cal.softness)
            + serial;
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
mod tests {
    use super::*;
    use crate::config::Config;

    fn tiny() -> Config {
        crate::testing::hand_toy()
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

    /// An FP8 cache under BF16 weights: the decode step reads the same weights and half the
    /// KV bytes (5120 per token instead of 10240).
    #[test]
    fn an_fp8_kv_cache_halves_the_kv_bytes_a_step_reads() {
        let mut c = tiny();
        c.hardware.kv_cache_dtype = Some(crate::config::KvCacheDtype::Fp8);
        let cost = Roofline::new(&c).step([Work {
            cached: 100,
            new: 1,
        }]);
        assert_eq!(cost.bytes, 2e9 + 5120.0 * 100.5);
        assert_eq!(
            cost.flops,
            2e9 + 4_136_960.0,
            "FLOPs do not depend on the cache"
        );
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

    /// The roofline exactly as the seed system wrote it, for the bit-identity check.
    fn plain_roofline(r: &Roofline, sums: &StepSums) -> (f64, f64, f64) {
        let slide_layers = r.sliding.map_or(0.0, |(_, n)| n);
        let flops = 2.0 * sums.tokens * r.active_params
            + 4.0
                * r.attention_dim
                * (r.full_layers * sums.attn_full + slide_layers * sums.attn_slide);
        let bytes = r.weight_bytes
            + r.kv_bytes_per_token_layer
                * (r.full_layers * sums.kv_full + slide_layers * sums.kv_slide);
        let time = (flops / r.compute_flops).max(bytes / r.memory_bandwidth);
        (flops, bytes, time)
    }

    #[test]
    fn default_calibration_is_the_plain_roofline_bit_for_bit() {
        let mut c = tiny();
        c.model.sliding_window = Some(64);
        c.model.num_sliding_layers = Some(4);
        for config in [tiny(), c] {
            let r = Roofline::new(&config);
            // A small LCG: batches of random (cached, new) pairs.
            let mut state = 12345u64;
            let mut next = |m: u64| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) % m
            };
            for _ in 0..2000 {
                let n = 1 + next(40);
                let batch: Vec<Work> = (0..n)
                    .map(|_| Work {
                        cached: next(5000) as u32,
                        new: if next(3) == 0 {
                            1 + next(3000) as u32
                        } else {
                            1
                        },
                    })
                    .collect();
                let sums = r.sums(batch.iter().copied());
                let cost = r.price_sums(&sums);
                let (flops, bytes, time) = plain_roofline(&r, &sums);
                assert_eq!(cost.flops.to_bits(), flops.to_bits());
                assert_eq!(cost.bytes.to_bits(), bytes.to_bits());
                assert_eq!(cost.time.to_bits(), time.to_bits(), "{sums:?}");
                let (c, m) = (flops / r.compute_flops, bytes / r.memory_bandwidth);
                assert_eq!(cost.flops_util.to_bits(), (c / time).to_bits());
                assert_eq!(cost.bandwidth_util.to_bits(), (m / time).to_bits());
            }
        }
    }

    #[test]
    fn causal_pairs_count_each_new_token_s_keys() {
        // Brute force: token k of `new` attends min(cached + k, window) keys.
        for cached in 0..40u64 {
            for new in 1..40u64 {
                for window in [1u64, 5, 16, 50, u64::MAX] {
                    let brute: u64 = (1..=new).map(|k| (cached + k).min(window)).sum();
                    assert_eq!(
                        causal_pairs(cached, new, window),
                        brute,
                        "{cached} {new} {window}"
                    );
                }
            }
        }
        // A decode's causal pairs are its keys: s t with s = 1.
        let r = Roofline::new(&tiny());
        let sums = r.sums([Work { cached: 7, new: 1 }, Work { cached: 0, new: 4 }]);
        assert_eq!(sums.attn_full, 8.0 + 16.0);
        assert_eq!(sums.attn_full_causal, 8.0 + 10.0);
        assert_eq!(sums.seqs, 2.0);
    }

    #[test]
    fn combine_spans_max_to_sum() {
        assert_eq!(combine(3.0, 4.0, 0.0), 4.0);
        assert_eq!(combine(3.0, 4.0, 1.0), 7.0);
        assert!((combine(3.0, 4.0, 0.5) - 5.0).abs() < 1e-12); // (3^2 + 4^2)^(1/2)
        assert!((combine(4.0, 3.0, 0.5) - 5.0).abs() < 1e-12);
        assert_eq!(combine(0.0, 0.0, 0.5), 0.0);
        // A tiny softness underflows to the max, never to a wrong value.
        assert_eq!(combine(1e-3, 2e-3, 1e-3), 2e-3);
    }

    #[test]
    fn calibrated_step_matches_the_formula_by_hand() {
        let mut c = tiny();
        let hw = &mut c.hardware;
        hw.compute_efficiency = 0.5;
        hw.attention_efficiency = 0.25;
        hw.memory_efficiency = 0.8;
        hw.kv_memory_efficiency = 0.64;
        hw.attention_overlap = 0.0;
        hw.roofline_softness = 0.5;
        hw.causal_attention = true;
        hw.step_overhead = 1e-3;
        hw.layer_overhead = 1e-4;
        hw.sequence_overhead = 1e-5;
        let r = Roofline::new(&c);
        // A 100-token prefill on 28 cached tokens, and a decode at 300.
        let cost = r.step([
            Work {
                cached: 28,
                new: 100,
            },
            Work {
                cached: 300,
                new: 1,
            },
        ]);
        // gemm = 2 x 101 x 1e9 = 2.02e11 -> / 0.5 / 1e12 = 0.404 s
        // causal pairs = 100 x 28 + 100 x 101 / 2 + 301 = 8151; attention FLOPs =
        //   4 x 1024 x 10 x 8151 = 333_864_960 -> / 0.25 / 1e12 = 0.001_335_459_84 s
        // weights 2e9 B / 0.8 / 1e11 = 0.025 s; KV = 1024 B x 10 layers x (78 + 300.5) =
        //   3_875_840 B -> / 0.64 / 1e11 = 0.000_060_56 s
        // combine(0.404, 0.025, 0.5) = sqrt(0.404^2 + 0.025^2)
        // time = 1e-3 + 10 x 1e-4 + 2 x 1e-5 + combine + 0.001_335_459_84 + 0.000_060_56
        let expected = 1e-3
            + 1e-3
            + 2e-5
            + (0.404f64 * 0.404 + 0.025 * 0.025).sqrt()
            + 0.001_335_459_84
            + 0.000_060_56;
        assert!(
            (cost.time - expected).abs() < 1e-15,
            "{} vs {expected}",
            cost.time
        );
        assert_eq!(cost.flops, 2.02e11 + 333_864_960.0);
        assert_eq!(cost.bytes, 2e9 + 3_875_840.0);
        // Utilisations stay against the datasheet peaks.
        assert_eq!(cost.flops_util, (cost.flops / 1e12) / cost.time);
    }
}
