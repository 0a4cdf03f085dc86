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
        + 4.0 * r.attention_dim * (r.full_layers * sums.attn_full + slide_layers * sums.attn_slide);
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

// ---- [parallel] and mixture of experts (compute/parallel.rs) ----

use crate::config::ParallelConfig;

/// The hand toy spread over `tp` GPUs (experts over `ep`), linked at 10 GB/s with 1 us per
/// collective step.
fn parallel(mut c: Config, tp: u32, ep: u32) -> Config {
    c.parallel = Some(ParallelConfig {
        tensor_parallel_size: tp,
        expert_parallel_size: ep,
        data_parallel_size: 1,
    });
    c.hardware.interconnect_bandwidth = Some(1e10);
    c.hardware.interconnect_latency = Some(1e-6);
    c
}

/// The hand toy as an MoE: 16 experts of width 512 in every layer, 2 per token.
/// One expert: 3 x 1024 x 512 = 1,572,864 parameters; all of them: 10 x 16 x that =
/// 251,658,240 of the 1e9; active: 1e9 - 10 x 14 x 1,572,864 = 779,799,040.
fn moe_toy() -> Config {
    let mut c = tiny();
    c.model.num_experts = Some(16);
    c.model.experts_per_token = Some(2);
    c.model.expert_intermediate_size = Some(512);
    c.validate().unwrap();
    c
}

#[test]
fn tensor_parallel_one_is_the_config_without_parallel_bit_for_bit() {
    let plain = Roofline::new(&tiny());
    let one = Roofline::new(&parallel(tiny(), 1, 1));
    for batch in [
        vec![Work {
            cached: 100,
            new: 1,
        }],
        vec![
            Work {
                cached: 0,
                new: 1000,
            },
            Work { cached: 7, new: 1 },
        ],
    ] {
        let (a, b) = (plain.step(batch.clone()), one.step(batch));
        assert_eq!(a.time.to_bits(), b.time.to_bits());
        assert_eq!(a.flops.to_bits(), b.flops.to_bits());
        assert_eq!(a.bytes.to_bits(), b.bytes.to_bits());
    }
}

#[test]
fn tensor_parallel_two_halves_the_work_and_pays_the_all_reduces() {
    let r = Roofline::new(&parallel(tiny(), 2, 1));
    let cost = r.step([Work {
        cached: 100,
        new: 1,
    }]);
    // Per GPU: FLOPs (2e9 + 4_136_960) / 2; weights 2e9 / 2 B; 2 KV heads over 2 GPUs, so
    // half of 10240 x 100.5 KV bytes.
    assert_eq!(cost.flops, 1e9 + 2_068_480.0);
    assert_eq!(cost.bytes, 1e9 + 514_560.0);
    // memory 1.00051456e9 / 1e11 = 0.0100051456 s (compute is 0.001002 s).
    // Collectives: 2 all-reduces x 10 layers, each 2 (2 - 1) x 1e-6 s of latency plus
    // 2 (2 - 1) / 2 x 1 token x 1024 x 2 B = 2048 B at 1e10 B/s = 2.048e-7 s:
    // 20 x 2.2048e-6 = 4.4096e-5 s.
    let expected = 0.010_005_145_6 + 4.4096e-5;
    assert!((cost.time - expected).abs() < 1e-15, "{}", cost.time);
}

#[test]
fn more_gpus_than_kv_heads_replicate_them() {
    // 2 KV heads on 8 GPUs: each GPU keeps one head, half of a token's KV.
    let c = parallel(tiny(), 8, 1);
    assert_eq!(c.kv_share_per_gpu(), 0.5);
    let cost = Roofline::new(&c).step([Work {
        cached: 100,
        new: 1,
    }]);
    assert_eq!(cost.bytes, 2e9 / 8.0 + 514_560.0);
    // The cache: 1e9 B per GPU / (16 tokens x 5120 B) = 12207 blocks (1e9 / 10240 / 16 = 6103
    // on one GPU).
    assert_eq!(c.kv_cache_blocks().unwrap(), 12_207);
    assert_eq!(tiny().kv_cache_blocks().unwrap(), 6103);
}

#[test]
fn expected_experts_touched_follow_uniform_routing() {
    let qwen = crate::config::Experts {
        num_experts: 128,
        per_token: 8,
        layers: 48,
        params_per_expert: 1.0,
    };
    // E (1 - (1 - k / E)^T): T = 1 -> k; T = 8 -> 128 (1 - 0.9375^8) = 128 x
    // 0.40328052616678 = 51.6199...; T = 512 -> all 128 but 128 x 0.9375^512 ~ 6e-13.
    assert_eq!(qwen.expected_touched(1.0), 8.0);
    assert!((qwen.expected_touched(8.0) - 51.619_907_349_348_07).abs() < 1e-11);
    assert!((qwen.expected_touched(512.0) - 128.0).abs() < 1e-9);
    // Measured on the H100 (data/h100-steps MoE rows, experts_active_mean): 28.79 at 4
    // decodes, 82.81 at 16, 126.06 at 64; uniform routing gives 29.12, 82.41, 125.95.
    for (tokens, measured) in [(4.0, 28.79), (16.0, 82.81), (64.0, 126.06)] {
        let model = qwen.expected_touched(tokens);
        assert!(
            (model - measured).abs() / measured < 0.015,
            "{tokens}: {model}"
        );
    }
}

#[test]
fn an_moe_step_reads_the_dense_weights_and_the_experts_it_touches() {
    let c = moe_toy();
    assert_eq!(c.model.active_parameters(), 779_799_040);
    let r = Roofline::new(&c);
    // One decode touches 2 experts per layer: 2 x 10 x 1,572,864 x 2 B = 62,914,560 B, on
    // top of the dense (1e9 - 251,658,240) x 2 B = 1,496,683,520 B and 10240 x 100.5 KV.
    let one = r.step([Work {
        cached: 100,
        new: 1,
    }]);
    assert_eq!(one.bytes, 1_496_683_520.0 + 62_914_560.0 + 1_029_120.0);
    assert_eq!(one.flops, 2.0 * 779_799_040.0 + 4_136_960.0);
    assert!((one.time - one.bytes / 1e11).abs() < 1e-15, "memory-bound");
    // Eight decodes touch 16 (1 - (7/8)^8) = 10.50225734710693 experts per layer.
    let eight = r.step(vec![
        Work {
            cached: 100,
            new: 1
        };
        8
    ]);
    let experts = 10.502_257_347_106_93 * 31_457_280.0;
    let expected = 1_496_683_520.0 + experts + 8.0 * 1_029_120.0;
    assert!((eight.bytes - expected).abs() < 1e-3, "{}", eight.bytes);
    // A long prefill touches them all: every weight is read, as a dense model's.
    let prefill = r.step([Work {
        cached: 0,
        new: 2000,
    }]);
    let weights = prefill.bytes - 10240.0 * 1000.0;
    assert!((weights - 2e9).abs() < 1e-3, "{weights}");
}

#[test]
fn expert_parallel_layers_exchange_tokens_with_all_to_alls() {
    let r = Roofline::new(&parallel(moe_toy(), 2, 2));
    let tp_only = Roofline::new(&parallel(moe_toy(), 2, 1));
    let work = [Work {
        cached: 100,
        new: 1,
    }];
    let (ep, tp) = (r.step(work), tp_only.step(work));
    assert_eq!(ep.bytes, tp.bytes, "experts are read the same either way");
    // TP only: 20 all-reduces of 2.2048e-6 s = 4.4096e-5 s. EP: 10 attention all-reduces
    // (2.2048e-5 s) and 20 all-to-alls, each (2 - 1) x 1e-6 s plus 1 token / 2 GPUs x 2
    // experts x 2048 B x (2 - 1) / 2 = 1024 B at 1e10 B/s: 20 x 1.1024e-6 = 2.2048e-5 s.
    let compute_and_memory = tp.time - 4.4096e-5;
    assert!((ep.time - (compute_and_memory + 2.2048e-5 + 2.2048e-5)).abs() < 1e-15);
}

#[test]
fn scheduling_overhead_adds_or_hides_behind_the_gpu() {
    let mut c = tiny();
    let gpu = Roofline::new(&c)
        .step([Work {
            cached: 100,
            new: 1,
        }])
        .time;
    c.scheduler.scheduling_overhead = 0.004;
    let sync = Roofline::new(&c)
        .step([Work {
            cached: 100,
            new: 1,
        }])
        .time;
    assert!((sync - (gpu + 0.004)).abs() < 1e-15);
    c.scheduler.async_scheduling = true;
    let hidden = Roofline::new(&c)
        .step([Work {
            cached: 100,
            new: 1,
        }])
        .time;
    assert_eq!(hidden, gpu, "0.004 s of CPU hides behind a 0.02 s step");
    c.scheduler.scheduling_overhead = 0.05;
    let cpu_bound = Roofline::new(&c)
        .step([Work {
            cached: 100,
            new: 1,
        }])
        .time;
    assert_eq!(cpu_bound, 0.05);
}

#[test]
fn step_model_roofline_ignores_the_calibration() {
    let mut c = tiny();
    c.hardware.compute_efficiency = 0.5;
    c.hardware.layer_overhead = 1e-3;
    let plain = Roofline::new(&tiny()).step([Work {
        cached: 100,
        new: 1,
    }]);
    assert_ne!(
        Roofline::new(&c).step([Work {
            cached: 100,
            new: 1
        }]),
        plain
    );
    c.hardware.step_model = crate::config::StepModel::Roofline;
    assert_eq!(
        Roofline::new(&c).step([Work {
            cached: 100,
            new: 1
        }]),
        plain
    );
}
