//! Engine behaviours: closed loop, preemption, preemption-free admission, policies,
//! determinism.

mod common;

use common::{run_checked, toy_config};
use inference_lab::fleet::StepOutcome;
use inference_lab::Simulator;

fn sched(extra: &str) -> String {
    format!(
        r#"
        max_num_batched_tokens = 512
        max_num_seqs = 64
        enable_chunked_prefill = true
        block_size = 16
        {extra}
        "#
    )
}

#[test]
fn closed_loop_keeps_exactly_n_requests_in_flight() {
    let config = toy_config(
        &sched(r#"policy = "fcfs""#),
        r#"
        arrival_pattern = "closed_loop"
        num_concurrent_users = 4
        num_requests = 12
        input_len_dist = { type = "uniform", min = 10, max = 300 }
        output_len_dist = { type = "uniform", min = 1, max = 40 }
        "#,
    );
    let mut sim = Simulator::new(&config).unwrap();
    // At t = 0 exactly 4 requests exist.
    assert_eq!(sim.num_generated(), 4);
    let mut steps = 0;
    loop {
        let outcome = sim.step().unwrap();
        let completed = sim.progress().completed;
        let in_flight = sim.num_generated() - completed;
        // A completion immediately issues the user's next request while any remain.
        assert_eq!(in_flight, 4.min(12 - completed), "after step {steps}");
        // ... and it is admitted at the very instant, so nobody is left outside the engine.
        if outcome == StepOutcome::Done {
            break;
        }
        steps += 1;
        assert!(steps < 10_000);
    }
    let s = sim.into_summary();
    assert_eq!((s.requests_completed, s.requests_total), (12, 12));
}

#[test]
fn closed_loop_next_request_arrives_at_the_completion_instant() {
    // One user: each request's TTFT is pure service time (no queueing), and the makespan is
    // the sum of the E2Es, because each request arrives when the previous completes.
    let config = toy_config(
        &sched(r#"policy = "fcfs""#),
        r#"
        arrival_pattern = "closed_loop"
        num_concurrent_users = 1
        num_requests = 5
        input_len_dist = { type = "fixed", value = 100 }
        output_len_dist = { type = "fixed", value = 3 }
        "#,
    );
    let (s, _) = run_checked(&config, 1000);
    let e2e_sum = s.e2e_ms.mean.unwrap() * 5.0 / 1e3;
    common::assert_close(s.simulated_seconds, e2e_sum, "makespan = sum of E2E");
    // Every request is the one-request case: TTFT 200.4096 ms.
    common::assert_close(s.ttft_ms.max.unwrap(), 200.409_6, "ttft");
    common::assert_close(s.ttft_ms.min.unwrap(), 200.409_6, "ttft");
}

/// KV cache of 3 MB = floor(3e6 / 163840) = 18 blocks of 16 tokens (288 tokens): far too
/// small for 8 requests of up to 200 + 60 tokens at once.
fn tight(extra_sched: &str) -> inference_lab::Config {
    let mut c = toy_config(
        &sched(extra_sched),
        r#"
        arrival_pattern = "batched"
        num_requests = 8
        input_len_dist = { type = "uniform", min = 50, max = 200 }
        output_len_dist = { type = "uniform", min = 20, max = 60 }
        "#,
    );
    c.hardware.kv_cache_capacity = Some(3e6);
    c.model.max_seq_len = 280;
    c.validate().unwrap();
    c
}

#[test]
fn a_tight_cache_preempts_and_every_preempted_request_completes() {
    for policy in ["fcfs", "sif", "lof", "priority"] {
        let config = tight(&format!("policy = \"{policy}\""));
        let (s, _) = run_checked(&config, 100_000);
        assert!(s.preemptions_total > 0, "{policy}: expected preemptions");
        assert_eq!(s.requests_completed, 8, "{policy}");
        // Recomputed requests find their own blocks again in the prefix cache.
        assert!(
            s.prefix_cache_hits > 0,
            "{policy}: no prefix hits after preemption"
        );
    }
}

#[test]
fn preemption_free_mode_never_preempts() {
    let config = tight("policy = \"fcfs\"\nenable_preemption_free = true");
    let (s, _) = run_checked(&config, 100_000);
    assert_eq!(s.preemptions_total, 0);
    assert_eq!(s.requests_completed, 8);
}

#[test]
fn without_prefix_caching_preempted_requests_recompute_everything() {
    let config = tight("policy = \"fcfs\"\nenable_prefix_caching = false");
    let (s, _) = run_checked(&config, 100_000);
    assert!(s.preemptions_total > 0);
    assert_eq!(s.prefix_cache_hits, 0);
    assert_eq!(s.requests_completed, 8);
}

#[test]
fn shortest_input_first_beats_longest_input_first_on_mean_ttft() {
    let workload = r#"
        arrival_pattern = "batched"
        num_requests = 40
        input_len_dist = { type = "uniform", min = 16, max = 2000 }
        output_len_dist = { type = "fixed", value = 8 }
    "#;
    let small_batch = |policy: &str| {
        toy_config(
            &format!(
                r#"
                max_num_batched_tokens = 2048
                max_num_seqs = 2
                enable_chunked_prefill = true
                block_size = 16
                policy = "{policy}"
                "#
            ),
            workload,
        )
    };
    let (sif, _) = run_checked(&small_batch("sif"), 100_000);
    let (lif, _) = run_checked(&small_batch("lif"), 100_000);
    let (fcfs, _) = run_checked(&small_batch("fcfs"), 100_000);
    let (sif, lif, fcfs) = (
        sif.ttft_ms.mean.unwrap(),
        lif.ttft_ms.mean.unwrap(),
        fcfs.ttft_ms.mean.unwrap(),
    );
    assert!(sif < fcfs && fcfs < lif, "sif {sif} fcfs {fcfs} lif {lif}");
}

#[test]
fn max_num_seqs_caps_the_running_batch() {
    let config = toy_config(
        r#"
        max_num_batched_tokens = 4096
        max_num_seqs = 3
        policy = "fcfs"
        enable_chunked_prefill = true
        block_size = 16
        "#,
        r#"
        arrival_pattern = "batched"
        num_requests = 10
        input_len_dist = { type = "fixed", value = 20 }
        output_len_dist = { type = "fixed", value = 5 }
        "#,
    );
    let mut sim = Simulator::new(&config).unwrap();
    let mut max_running = 0;
    while sim.step().unwrap() != StepOutcome::Done {
        max_running = max_running.max(sim.running().count());
    }
    assert_eq!(max_running, 3);
}

#[test]
fn same_seed_same_summary_and_seed_changes_it() {
    let mk = |seed: u64| {
        let mut c = toy_config(
            &sched(r#"policy = "fcfs""#),
            r#"
            arrival_pattern = "poisson"
            arrival_rate = 20.0
            num_requests = 50
            input_len_dist = { type = "lognormal", mean = 5.0, std_dev = 0.8 }
            output_len_dist = { type = "normal", mean = 30.0, std_dev = 10.0 }
            "#,
        );
        c.workload.seed = seed;
        Simulator::new(&c).unwrap().run().unwrap()
    };
    assert_eq!(mk(1), mk(1));
    assert_ne!(mk(1), mk(2));
}

#[test]
fn duration_stops_arrivals_but_admitted_requests_finish() {
    let config = toy_config(
        &sched(r#"policy = "fcfs""#),
        r#"
        arrival_pattern = "fixed_rate"
        arrival_rate = 10.0
        duration_secs = 1.0
        input_len_dist = { type = "fixed", value = 10 }
        output_len_dist = { type = "fixed", value = 10 }
        "#,
    );
    let (s, _) = run_checked(&config, 100_000);
    // Arrivals at 0.0, 0.1, ..., 1.0 (the last one is <= duration): 11 requests.
    assert_eq!(s.requests_total, 11);
    assert_eq!(s.requests_completed, 11);
    assert!(s.simulated_seconds > 1.0);
}
