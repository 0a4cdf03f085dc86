//! Shared helpers for the library-level tests.
#![allow(dead_code)]

use inference_lab::config::{ArrivalPattern, LengthDist, Policy};
use inference_lab::engine::StepCost;
use inference_lab::fleet::StepOutcome;
use inference_lab::{Config, RunSummary, Simulator};
use proptest::prelude::*;

/// A toy model and card whose step times are easy to compute by hand:
/// 1e9 parameters x 2 bytes, 10 layers, hidden 1024 (8 heads of 128), 2 KV heads, so
/// kv_bytes_per_token = 2 x 2 x 128 x 2 x 10 = 10240; 1 TFLOP/s and 100 GB/s;
/// a 1 GB KV cache = floor(1e9 / (16 x 10240)) = 6103 blocks of 16 tokens.
pub fn toy_config(scheduler: &str, workload: &str) -> Config {
    let text = format!(
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
        {scheduler}
        [workload]
        {workload}
        "#
    );
    Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Steps a simulator to the end, checking its invariants after every step; returns the
/// summary and every step's cost. Panics past `max_steps` (a hang).
pub fn run_checked(config: &Config, max_steps: u64) -> (RunSummary, Vec<StepCost>) {
    let mut sim = Simulator::new(config).expect("valid config");
    let mut costs = Vec::new();
    let mut calls = 0u64;
    loop {
        calls += 1;
        assert!(calls <= max_steps, "no end after {max_steps} iterations");
        match sim.step().expect("no engine error") {
            StepOutcome::Done => break,
            StepOutcome::Ran(cost) => costs.push(cost),
            StepOutcome::Idle => {}
        }
        if let Err(e) = sim.check_invariants() {
            panic!("invariant broken after step {}: {e}", costs.len());
        }
    }
    assert_eq!(sim.kv_blocks_used(), 0, "blocks still in use at the end");
    (sim.into_summary(), costs)
}

/// Two summaries of the same fleet run, one with decode spans and one step by step, agree:
/// counts exactly, every other number to 1e-9 relative (the fleet's collector sums the
/// replicas' steps in another interleaving, which moves the last bits of sums), and each
/// replica's counts exactly. Returns the first disagreement.
pub fn fleet_summaries_agree(fast: &RunSummary, slow: &RunSummary) -> Result<(), String> {
    for (f, s) in fast.metrics().iter().zip(slow.metrics()) {
        match (f.value.as_f64(), s.value.as_f64()) {
            (Some(a), Some(b)) if (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12) => {}
            (None, None) => {}
            (a, b) => return Err(format!("{}: {a:?} vs {b:?}", f.name)),
        }
    }
    if fast.replicas.len() != slow.replicas.len() {
        return Err("different replica counts".into());
    }
    for (f, s) in fast.replicas.iter().zip(&slow.replicas) {
        let counts = |r: &inference_lab::metrics::ReplicaSummary| {
            (r.requests, r.requests_completed, r.steps, r.preemptions)
        };
        if counts(f) != counts(s) {
            return Err(format!("replica {}: {f:?} vs {s:?}", f.index));
        }
    }
    Ok(())
}

/// Relative closeness for hand-computed floating-point values.
pub fn assert_close(actual: f64, expected: f64, what: &str) {
    let tol = 1e-12 * expected.abs().max(1e-300);
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual:.15e}, expected {expected:.15e}"
    );
}

/// Random small configs: tiny KV caches (down to one full-length request), every policy and
/// arrival pattern, all scheduler switches.
pub fn arb_pattern() -> impl Strategy<Value = ArrivalPattern> {
    prop_oneof![
        Just(ArrivalPattern::Poisson),
        Just(ArrivalPattern::Uniform),
        Just(ArrivalPattern::UniformRandom),
        Just(ArrivalPattern::Gamma),
        Just(ArrivalPattern::Weibull),
        Just(ArrivalPattern::Burst),
        Just(ArrivalPattern::FixedRate),
        Just(ArrivalPattern::ClosedLoop),
        Just(ArrivalPattern::Batched),
    ]
}

pub fn arb_len(max: u32) -> impl Strategy<Value = LengthDist> {
    prop_oneof![
        (1..max).prop_map(|value| LengthDist::Fixed { value }),
        (1..max, 0..max).prop_map(|(min, extra)| LengthDist::Uniform {
            min,
            max: min + extra
        }),
        (0.0..f64::from(max), 0.0..50.0f64)
            .prop_map(|(mean, std_dev)| LengthDist::Normal { mean, std_dev }),
        (0.0..(f64::from(max)).ln(), 0.0..1.5f64)
            .prop_map(|(mean, std_dev)| LengthDist::Lognormal { mean, std_dev }),
    ]
}

/// The engine's newer knobs, off or on: (async scheduling, CPU seconds per step, API seconds
/// per request, an MoE model, tensor-parallel size, expert parallelism).
pub fn arb_engine_extras() -> impl Strategy<Value = (bool, f64, f64, bool, u32, bool)> {
    (
        any::<bool>(),
        prop_oneof![Just(0.0), 0.0f64..0.02],
        prop_oneof![Just(0.0), 0.0f64..0.05],
        any::<bool>(),
        prop_oneof![Just(1u32), Just(2), Just(4)],
        any::<bool>(),
    )
}

prop_compose! {
    pub fn arb_config()(
        block_size in prop_oneof![Just(1u32), Just(4), Just(16)],
        max_seq_len in 16u32..400,
        spare_blocks in 0u32..60,
        budget in 1u32..300,
        max_seqs in 1u32..20,
        policy in proptest::sample::select(Policy::ALL.to_vec()),
        chunked in any::<bool>(),
        threshold in prop_oneof![Just(0u32), 1u32..64],
        partial in 1u32..4,
        preemption_free in any::<bool>(),
        prefix_caching in any::<bool>(),
        pattern in arb_pattern(),
        num_requests in 1u64..40,
        users in 1u32..10,
        rate in 0.5f64..200.0,
        input in arb_len(300),
        output in arb_len(100),
        seed in any::<u64>(),
        extras in arb_engine_extras(),
        cv in 0.2f64..4.0,
        shared_prefix in prop_oneof![Just(0u32), 1u32..200],
        prefix_groups in 1u32..4,
        priorities in proptest::collection::vec(0i64..3, 0..3),
        sessions in proptest::option::of((1u32..4, 0.0f64..0.5, 1u32..40)),
    ) -> Config {
        let mut c = toy_config(
            "max_num_batched_tokens = 1\nmax_num_seqs = 1\npolicy = \"fcfs\"\nenable_chunked_prefill = true\nblock_size = 16",
            "arrival_pattern = \"batched\"\nnum_requests = 1\ninput_len_dist = { type = \"fixed\", value = 1 }\noutput_len_dist = { type = \"fixed\", value = 1 }",
        );
        let (async_scheduling, scheduling_overhead, request_overhead, moe, tp, ep) = extras;
        c.scheduler.async_scheduling = async_scheduling;
        c.scheduler.scheduling_overhead = scheduling_overhead;
        c.scheduler.request_overhead = request_overhead;
        if moe {
            // 8 experts of width 256 in each of the toy's 10 layers, 2 per token.
            c.model.num_experts = Some(8);
            c.model.experts_per_token = Some(2);
            c.model.expert_intermediate_size = Some(256);
        }
        if tp > 1 {
            c.parallel = Some(inference_lab::config::ParallelConfig {
                tensor_parallel_size: tp,
                expert_parallel_size: if moe && ep { 2 } else { 1 },
                data_parallel_size: 1,
            });
            c.hardware.interconnect_bandwidth = Some(1e10);
            c.hardware.interconnect_latency = Some(1e-6);
        }
        // KV sized in blocks: just enough for one full-length request, plus some spare (per
        // GPU: each holds its share of every block).
        let blocks = max_seq_len.div_ceil(block_size) + spare_blocks;
        c.hardware.kv_cache_capacity = Some(
            f64::from(blocks * block_size) * (c.kv_bytes_per_token() * c.kv_share_per_gpu()),
        );
        c.model.max_seq_len = max_seq_len;
        let s = &mut c.scheduler;
        s.block_size = block_size;
        s.max_num_batched_tokens = budget;
        s.max_num_seqs = max_seqs;
        s.policy = policy;
        s.enable_chunked_prefill = chunked;
        s.long_prefill_token_threshold = threshold;
        s.max_num_partial_prefills = partial;
        s.enable_preemption_free = preemption_free;
        s.enable_prefix_caching = prefix_caching;
        let w = &mut c.workload;
        w.arrival_pattern = pattern;
        w.arrival_rate = Some(rate);
        w.num_requests = Some(num_requests);
        w.num_concurrent_users = users;
        w.burst_size = 3;
        w.input_len_dist = Some(input);
        w.output_len_dist = Some(output);
        w.seed = seed;
        if matches!(pattern, ArrivalPattern::Gamma | ArrivalPattern::Weibull) {
            w.arrival_cv = Some(cv);
        }
        // Multi-turn sessions, where the pattern starts them (not closed_loop).
        if let (Some((turns, think, new)), false) =
            (sessions, pattern == ArrivalPattern::ClosedLoop)
        {
            w.sessions = Some(inference_lab::config::SessionsConfig {
                turns: Some(LengthDist::Uniform { min: 1, max: turns }),
                think_time_secs: inference_lab::config::ThinkTime::Fixed { value: think },
                new_input_len_dist: Some(LengthDist::Fixed { value: new }),
            });
        }
        // A shared prefix leaves room for a token of the prompt's own and an output token.
        w.shared_prefix_tokens = shared_prefix.min(max_seq_len - 2);
        w.num_prefix_groups = prefix_groups;
        // Classes of equal shares and their own priorities (the priority policy's victims).
        let n = priorities.len();
        w.classes = priorities
            .iter()
            .enumerate()
            .map(|(i, &priority)| inference_lab::config::RequestClass {
                name: format!("c{i}"),
                fraction: 1.0 / n as f64,
                priority,
                input_len_dist: None,
                output_len_dist: None,
                shared_prefix_tokens: 0,
                slo: None,
            })
            .collect();
        c
    }
}
pub mod cli;
pub mod sweep;
