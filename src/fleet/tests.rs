use super::*;

#[test]
fn a_run_past_the_request_limit_stops_with_an_error() {
    // Closed loop bounded by duration alone: validation cannot count its requests.
    let config = crate::testing::toy_config(
        "arrival_pattern = \"closed_loop\"\nnum_concurrent_users = 4\nduration_secs = 1e6\n\
         input_len_dist = { type = \"fixed\", value = 10 }\n\
         output_len_dist = { type = \"fixed\", value = 2 }",
    );
    let mut sim = Simulator::new(&config).unwrap();
    sim.workload.set_max_requests(50);
    let err = sim.run().unwrap_err().to_string();
    assert!(err.contains("limit of 50 requests per run"), "{err}");
    assert!(err.contains("duration_secs"), "{err}");

    // At the limit exactly, the run completes.
    let mut config = config;
    config.workload.num_requests = Some(50);
    let mut sim = Simulator::new(&config).unwrap();
    sim.workload.set_max_requests(50);
    assert_eq!(sim.run().unwrap().requests_completed, 50);
}

use crate::config::Config;
use crate::testing::{toy_config, toy_text};

fn run(config: &Config) -> RunSummary {
    Simulator::new(config).unwrap().run().unwrap()
}

fn with_cluster(workload: &str, cluster: &str) -> Config {
    let text = format!("{}\n[cluster]\n{cluster}\n", toy_text(workload));
    Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

const POISSON: &str = "arrival_pattern = \"poisson\"\narrival_rate = 40\nnum_requests = 200\n\
    input_len_dist = { type = \"uniform\", min = 10, max = 300 }\n\
    output_len_dist = { type = \"uniform\", min = 1, max = 80 }\nseed = 3";

#[test]
fn a_fleet_of_one_is_the_plain_engine_bit_for_bit() {
    for workload in [
        POISSON,
        "arrival_pattern = \"closed_loop\"\nnum_concurrent_users = 5\nnum_requests = 60\n\
         input_len_dist = { type = \"uniform\", min = 10, max = 300 }\n\
         output_len_dist = { type = \"uniform\", min = 1, max = 80 }",
    ] {
        let plain = run(&toy_config(workload));
        for router in ["round_robin", "random", "least_kv", "power_of_two"] {
            let one = run(&with_cluster(
                workload,
                &format!("replicas = 1\nrouter = \"{router}\"\nrouter_staleness_ms = 5"),
            ));
            assert_eq!(one, plain, "{router}");
        }
    }
}

#[test]
fn round_robin_deals_requests_in_turn() {
    let workload = "arrival_pattern = \"batched\"\nnum_requests = 10\n\
        input_len_dist = { type = \"fixed\", value = 10 }\n\
        output_len_dist = { type = \"fixed\", value = 3 }";
    let s = run(&with_cluster(
        workload,
        "replicas = 4\nrouter = \"round_robin\"",
    ));
    let dealt: Vec<u64> = s.replicas.iter().map(|r| r.requests).collect();
    assert_eq!(dealt, [3, 3, 2, 2]);
    assert_eq!(s.fleet.replicas, 4);
    assert_eq!(s.fleet.request_imbalance, Some(1.2));
    assert_eq!(s.requests_completed, 10);
}

/// A fixed-rate stream of 4r into 4 round-robin replicas: replica k gets requests k, k+4,
/// ..., arriving at j/r + k/(4r), which is what one engine at rate r gets, shifted in time.
#[test]
fn four_round_robin_replicas_at_4r_each_serve_one_engine_at_r() {
    let workload = |rate: u32| {
        format!(
            "arrival_pattern = \"fixed_rate\"\narrival_rate = {rate}\nnum_requests = {}\n\
             input_len_dist = {{ type = \"fixed\", value = 120 }}\n\
             output_len_dist = {{ type = \"fixed\", value = 30 }}",
            if rate == 1 { 50 } else { 200 }
        )
    };
    let single = run(&toy_config(&workload(1)));
    let fleet = run(&with_cluster(
        &workload(4),
        "replicas = 4\nrouter = \"round_robin\"",
    ));
    assert_eq!(fleet.requests_completed, 200);
    for r in &fleet.replicas {
        assert_eq!(r.requests, 50);
        assert_eq!(r.steps, single.steps, "replica {}", r.index);
    }
    let close = |a: Option<f64>, b: Option<f64>, what: &str| {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{what}: {a} vs {b}");
    };
    for (f, s, what) in [
        (fleet.ttft_ms, single.ttft_ms, "ttft"),
        (fleet.e2e_ms, single.e2e_ms, "e2e"),
        (fleet.tpot_ms, single.tpot_ms, "tpot"),
    ] {
        close(f.mean, s.mean, what);
        close(f.p99, s.p99, what);
        close(f.max, s.max, what);
    }
}

#[test]
fn no_request_is_lost_or_served_twice_in_a_fleet() {
    for router in [
        "round_robin",
        "random",
        "least_outstanding",
        "least_kv",
        "power_of_two",
    ] {
        let s = run(&with_cluster(
            POISSON,
            &format!("replicas = 3\nrouter = \"{router}\"\nrouter_staleness_ms = 20"),
        ));
        assert_eq!(s.requests_completed, 200, "{router}");
        let routed: u64 = s.replicas.iter().map(|r| r.requests).sum();
        let done: u64 = s.replicas.iter().map(|r| r.requests_completed).sum();
        assert_eq!((routed, done), (200, 200), "{router}");
    }
}

#[test]
fn a_fleet_run_is_deterministic() {
    let config = with_cluster(POISSON, "replicas = 5\nrouter = \"power_of_two\"");
    assert_eq!(run(&config), run(&config));
}

/// One request of 160 prompt and 2 output tokens. Disaggregated, its prefill step is the one a
/// single engine runs (the same TTFT); its KV (160 tokens) then moves in latency + bytes /
/// bandwidth; the decode replica's one step is the single engine's second step.
#[test]
fn a_disaggregated_request_pays_its_transfer_between_first_and_second_token() {
    let workload = "arrival_pattern = \"batched\"\nnum_requests = 1\n\
        input_len_dist = { type = \"fixed\", value = 160 }\n\
        output_len_dist = { type = \"fixed\", value = 2 }";
    let single = run(&toy_config(workload));
    let config = with_cluster(
        workload,
        "[cluster.disaggregation]\nprefill_replicas = 1\ndecode_replicas = 1\n\
         kv_transfer_bandwidth = 1e9\nkv_transfer_latency_ms = 2",
    );
    let s = run(&config);
    // The toy model: 10 layers, 8 heads of 128 (no GQA), 2 bytes: K and V per token.
    let kv_bytes_per_token = 2.0 * 10.0 * 8.0 * 128.0 * 2.0;
    assert_eq!(config.kv_bytes_per_token(), kv_bytes_per_token);
    let bytes = 160.0 * kv_bytes_per_token;
    let transfer = 2e-3 + bytes / 1e9;
    assert_eq!(s.fleet.kv_transfers, 1);
    assert_eq!(s.fleet.kv_transfer_bytes, bytes);
    assert_eq!(s.fleet.kv_transfer_ms_mean, Some(transfer * 1e3));
    assert_eq!(s.ttft_ms.mean, single.ttft_ms.mean);
    let e2e = single.e2e_ms.mean.unwrap() + transfer * 1e3;
    assert!(
        (s.e2e_ms.mean.unwrap() - e2e).abs() < 1e-9,
        "{:?} vs {e2e}",
        s.e2e_ms.mean
    );
    assert_eq!(s.fleet.kv_backpressure_waits, 0);
    let pools: Vec<&str> = s.replicas.iter().map(|r| r.pool.as_str()).collect();
    assert_eq!(pools, ["prefill", "decode"]);
    assert_eq!(s.replicas[1].requests_completed, 1);
}

/// The decode replica's cache holds one full-length request (63 blocks of 16 tokens, 38 for a
/// 600-token prompt); eight prompts prefilled together cannot all move at once: transfers wait
/// for room.
#[test]
fn a_full_decode_pool_holds_transfers_back() {
    let workload = "arrival_pattern = \"batched\"\nnum_requests = 8\n\
        input_len_dist = { type = \"fixed\", value = 600 }\n\
        output_len_dist = { type = \"fixed\", value = 50 }";
    let mut config = with_cluster(
        workload,
        "[cluster.disaggregation]\nprefill_replicas = 1\ndecode_replicas = 1\n\
         kv_transfer_bandwidth = 1e10\n\
         [cluster.disaggregation.decode.hardware]\nkv_cache_capacity = 4.13e7",
    );
    config.scheduler.max_num_batched_tokens = 8192;
    let s = run(&config);
    assert_eq!(s.requests_completed, 8);
    assert!(s.fleet.kv_backpressure_waits >= 6, "{:?}", s.fleet);
    assert!(s.fleet.kv_backpressure_ms_mean.unwrap() > 0.0);
    assert_eq!(s.fleet.kv_transfers, 8);
}

#[test]
fn pools_take_their_own_hardware() {
    let s = run(&with_cluster(
        POISSON,
        "router = \"round_robin\"\n\
         [[cluster.pools]]\nname = \"fast\"\nreplicas = 1\n\
         [cluster.pools.hardware]\ncompute_flops = 4e12\nmemory_bandwidth = 4e11\n\
         [[cluster.pools]]\nname = \"slow\"\nreplicas = 1",
    ));
    let [fast, slow] = &s.replicas[..] else {
        panic!("two replicas")
    };
    assert_eq!((fast.pool.as_str(), slow.pool.as_str()), ("fast", "slow"));
    assert_eq!(fast.requests, slow.requests);
    assert!(fast.busy_fraction < slow.busy_fraction, "{fast:?} {slow:?}");
}

#[test]
fn bad_cluster_keys_are_one_line_errors_naming_the_key() {
    let cases = [
        ("replicas = 0", "cluster.replicas = 0 is invalid"),
        (
            "router = \"nearest\"",
            "cluster.router: unknown value `nearest`",
        ),
        (
            "router = \"prefix_affinity\"",
            "these synthetic requests share no content",
        ),
        (
            "router = \"session_affinity\"",
            "the workload has no sessions",
        ),
        (
            "router_staleness_ms = -1",
            "cluster.router_staleness_ms = -1 is invalid",
        ),
        (
            "[cluster.disaggregation]\nprefill_replicas = 0\ndecode_replicas = 1\n\
             kv_transfer_bandwidth = 1e9",
            "cluster.disaggregation.prefill_replicas = 0 is invalid",
        ),
        (
            "[cluster.disaggregation]\nprefill_replicas = 1\ndecode_replicas = 1\n\
             kv_transfer_bandwidth = 0",
            "cluster.disaggregation.kv_transfer_bandwidth = 0 is invalid",
        ),
        (
            "[cluster.disaggregation]\nprefill_replicas = 1\ndecode_replicas = 1\n\
             kv_transfer_bandwidth = 1e9\n\
             [cluster.disaggregation.decode.hardware]\nkv_cache_capacity = 1e6",
            "cluster.disaggregation.decode: the KV cache holds",
        ),
        (
            "[[cluster.pools]]\nname = \"a\"\nreplicas = 1\n\
             [cluster.pools.hardware]\ncompute_flops = \"fast\"",
            "cluster.pools[0] (a): hardware.compute_flops",
        ),
        (
            "[[cluster.pools]]\nname = \"a\"\nreplicas = 1\n\
             [cluster.pools.hardware]\nflops = 1e12",
            "unknown key `flops` in [hardware]",
        ),
    ];
    for (cluster, want) in cases {
        let text = format!("{}\n[cluster]\n{cluster}\n", toy_text(POISSON));
        let err = Config::from_toml_str(&text)
            .and_then(|c| Simulator::new(&c).map(|_| ()))
            .expect_err(cluster)
            .to_string();
        assert!(err.contains(want), "{cluster}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
