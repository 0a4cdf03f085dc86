//! Shared helpers for the library-level tests.
#![allow(dead_code)]

use inference_lab::engine::{StepCost, StepOutcome};
use inference_lab::{Config, RunSummary, Simulator};

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

/// Relative closeness for hand-computed floating-point values.
pub fn assert_close(actual: f64, expected: f64, what: &str) {
    let tol = 1e-12 * expected.abs().max(1e-300);
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual:.15e}, expected {expected:.15e}"
    );
}
