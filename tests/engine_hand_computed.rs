//! Cases small enough that every number follows from the roofline formulas by hand
//! (docs: src/engine/compute.rs). Toy model: see `common::toy_config`.
//!
//! Per step, with s_i new tokens on top of c_i cached ones, t_i = c_i + s_i:
//!   flops = 2 (sum s_i) 1e9 + 4 x 10 layers x 1024 x sum s_i t_i = 2e9 sum s + 40960 sum s t
//!   bytes = 2e9 + 10240 x sum (c_i + s_i / 2)
//!   time  = max(flops / 1e12, bytes / 1e11)

mod common;

use common::{assert_close, toy_config};
use inference_lab::engine::StepCost;
use inference_lab::{Config, RunSummary, Simulator};

/// Runs step by step, so that every engine step is observable, and checks that the decode
/// fast path gives the same summary.
fn run_checked(config: &Config, max_steps: u64) -> (RunSummary, Vec<StepCost>) {
    let mut slow = config.clone();
    slow.simulation.step_by_step = true;
    let (summary, costs) = common::run_checked(&slow, max_steps);
    let fast = Simulator::new(config).unwrap().run().unwrap();
    assert_eq!(summary, fast, "the fast path changed the result");
    (summary, costs)
}

const SCHED: &str = r#"
    max_num_batched_tokens = 2048
    max_num_seqs = 16
    policy = "fcfs"
    enable_chunked_prefill = true
    block_size = 16
"#;

#[test]
fn one_request_prefill_then_two_decodes() {
    let config = toy_config(
        SCHED,
        r#"
        arrival_pattern = "batched"
        num_requests = 1
        input_len_dist = { type = "fixed", value = 100 }
        output_len_dist = { type = "fixed", value = 3 }
        "#,
    );
    let (s, costs) = run_checked(&config, 100);
    assert_eq!(costs.len(), 3);
    // Step 1, prefill 100: flops = 2e11 + 40960 x 100 x 100 = 2.004096e11 -> 0.2004096 s;
    //   bytes = 2e9 + 10240 x 50 = 2.000512e9 -> 0.02000512 s. Compute-bound: 0.2004096 s.
    assert_close(costs[0].time, 0.200_409_6, "prefill step");
    assert_close(costs[0].bytes, 2.000_512e9, "prefill bytes");
    // Step 2, decode at c = 100: bytes = 2e9 + 10240 x 100.5 = 2.00102912e9 -> 0.0200102912 s
    //   (flops 2e9 + 40960 x 101 = 2.00413696e9 -> 0.00200413696 s).
    assert_close(costs[1].time, 0.020_010_291_2, "first decode");
    assert_close(costs[1].flops, 2.004_136_96e9, "first decode flops");
    // Step 3, decode at c = 101: bytes = 2e9 + 10240 x 101.5 -> 0.0200103936 s.
    assert_close(costs[2].time, 0.020_010_393_6, "second decode");

    // The prefill step emits the first token: TTFT = 200.4096 ms.
    assert_close(s.ttft_ms.mean.unwrap(), 200.409_6, "ttft");
    // E2E = 0.2004096 + 0.0200102912 + 0.0200103936 = 0.2404302848 s.
    let e2e = 240.430_284_8;
    assert_close(s.e2e_ms.mean.unwrap(), e2e, "e2e");
    assert_close(s.e2e_ms.p99.unwrap(), e2e, "e2e p99 of one sample");
    // TPOT = (E2E - TTFT) / (3 - 1) = 40.0206848 / 2 ms.
    assert_close(s.tpot_ms.mean.unwrap(), 20.010_342_4, "tpot");
    // ITL: the two decode gaps. Type-7 median of two = their mean.
    assert_eq!(s.itl_ms.count, 2);
    assert_close(s.itl_ms.min.unwrap(), 20.010_291_2, "itl min");
    assert_close(s.itl_ms.max.unwrap(), 20.010_393_6, "itl max");
    assert_close(s.itl_ms.p50.unwrap(), 20.010_342_4, "itl p50");
    // Throughput over the makespan 0.2404302848 s.
    assert_close(s.simulated_seconds, 0.240_430_284_8, "makespan");
    assert_close(s.output_tokens_per_s, 3.0 / 0.240_430_284_8, "output tok/s");
    assert_close(s.input_tokens_per_s, 100.0 / 0.240_430_284_8, "input tok/s");
    assert_close(s.requests_per_s, 1.0 / 0.240_430_284_8, "req/s");
    // FLOPS utilisation: compute seconds / makespan
    //   = (0.2004096 + 0.00200413696 + (2e9 + 40960 x 102) / 1e12) / 0.2404302848.
    let compute = 0.200_409_6 + 0.002_004_136_96 + 0.002_004_177_92;
    assert_close(s.flops_util_mean, compute / 0.240_430_284_8, "flops util");
    let memory = 0.020_005_12 + 0.020_010_291_2 + 0.020_010_393_6;
    assert_close(
        s.bandwidth_util_mean,
        memory / 0.240_430_284_8,
        "bandwidth util",
    );
    // 100..102 tokens use ceil(102 / 16) = 7 of 6103 blocks for the whole run.
    assert_eq!(s.kv_cache_blocks, 6103);
    assert_close(s.kv_cache_util_mean, 7.0 / 6103.0, "kv util");
    assert_eq!((s.steps, s.output_tokens, s.input_tokens), (3, 3, 100));
    assert_eq!(s.preemptions_total, 0);
}

#[test]
fn two_requests_share_a_small_budget_through_chunked_prefill() {
    let config = toy_config(
        r#"
        max_num_batched_tokens = 64
        max_num_seqs = 16
        policy = "fcfs"
        enable_chunked_prefill = true
        block_size = 16
        "#,
        r#"
        arrival_pattern = "batched"
        num_requests = 2
        input_len_dist = { type = "fixed", value = 100 }
        output_len_dist = { type = "fixed", value = 2 }
        "#,
    );
    let (s, costs) = run_checked(&config, 100);
    assert_eq!(costs.len(), 5);
    // Step 1: r0 takes the whole budget, a 64-token chunk.
    //   flops = 2e9 x 64 + 40960 x 64 x 64 = 1.2816777216e11 -> 0.12816777216 s.
    assert_close(costs[0].time, 0.128_167_772_16, "step 1");
    // Step 2: r0 finishes its prompt (36 on 64 cached, t = 100) and emits token 1; r1 starts
    //   with the 28 tokens left (t = 28). flops = 2e9 x 64 + 40960 x (36 x 100 + 28 x 28)
    //   = 1.28e11 + 179568640 -> 0.12817956864 s.
    assert_close(costs[1].time, 0.128_179_568_64, "step 2");
    // Step 3: r0 decodes (1 on 100 cached), r1 continues with 63 (on 28, t = 91).
    //   flops = 2e9 x 64 + 40960 x (101 + 63 x 91) = 1.28e11 + 238960640 -> 0.12823896064 s.
    assert_close(costs[2].time, 0.128_238_960_64, "step 3");
    // Step 4: r1's last 9 prompt tokens (on 91): flops = 1.8e10 + 40960 x 900 -> 0.018036864 s
    //   but bytes = 2e9 + 10240 x (91 + 4.5) -> 0.0200097792 s: memory-bound.
    assert_close(costs[3].time, 0.020_009_779_2, "step 4");
    // Step 5: r1 decodes on 100: 0.0200102912 s.
    assert_close(costs[4].time, 0.020_010_291_2, "step 5");

    let t2 = 0.128_167_772_16 + 0.128_179_568_64;
    let t3 = t2 + 0.128_238_960_64;
    let t4 = t3 + 0.020_009_779_2;
    let t5 = t4 + 0.020_010_291_2;
    // r0: first token at t2, done at t3; r1: first token at t4, done at t5.
    assert_close(s.ttft_ms.min.unwrap(), t2 * 1e3, "r0 ttft");
    assert_close(s.ttft_ms.max.unwrap(), t4 * 1e3, "r1 ttft");
    assert_close(s.ttft_ms.mean.unwrap(), (t2 + t4) / 2.0 * 1e3, "mean ttft");
    assert_close(s.e2e_ms.min.unwrap(), t3 * 1e3, "r0 e2e");
    assert_close(s.e2e_ms.max.unwrap(), t5 * 1e3, "r1 e2e");
    assert_close(s.itl_ms.min.unwrap(), (t5 - t4) * 1e3, "r1 gap");
    assert_close(s.itl_ms.max.unwrap(), (t3 - t2) * 1e3, "r0 gap");
    assert_close(s.simulated_seconds, t5, "makespan");
}

#[test]
fn without_chunked_prefill_a_prompt_waits_for_a_step_with_room() {
    // Budget 150: r0 (100) fits, r1 (100) does not fit the 50 left, so it waits a step even
    // though 50 tokens of budget are free; the next step has r0's decode (1) + r1's 100.
    let config = toy_config(
        r#"
        max_num_batched_tokens = 150
        max_num_seqs = 16
        policy = "fcfs"
        enable_chunked_prefill = false
        block_size = 16
        "#,
        r#"
        arrival_pattern = "batched"
        num_requests = 2
        input_len_dist = { type = "fixed", value = 100 }
        output_len_dist = { type = "fixed", value = 2 }
        "#,
    );
    let (s, costs) = run_checked(&config, 100);
    // Step 1: r0 alone, 100 tokens: 0.2004096 s (as in the one-request case).
    assert_close(costs[0].time, 0.200_409_6, "step 1");
    // Step 2: r0 decode (1 on 100) + r1 prefill (100):
    //   flops = 2e9 x 101 + 40960 x (101 + 100 x 100) = 2.02e11 + 413736960 -> 0.20241373696 s.
    assert_close(costs[1].time, 0.202_413_736_96, "step 2");
    assert_eq!(costs.len(), 3);
    assert_eq!(s.requests_completed, 2);
}
