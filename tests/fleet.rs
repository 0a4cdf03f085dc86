//! Fleets end to end: random fleets keep every request exactly once and every replica's
//! invariants; the CLI writes per-replica numbers; a sweep over fleets is deterministic
//! whatever the thread count.

mod common;

use common::arb_config;
use common::sweep::{describe, Scratch};
use inference_lab::config::{ClusterConfig, DisaggregationConfig, RouterKind};
use inference_lab::fleet::StepOutcome;
use inference_lab::{Config, Simulator};
use proptest::prelude::*;

fn arb_router() -> impl Strategy<Value = RouterKind> {
    proptest::sample::select(vec![
        RouterKind::RoundRobin,
        RouterKind::Random,
        RouterKind::LeastOutstanding,
        RouterKind::LeastKv,
        RouterKind::PowerOfTwo,
    ])
}

prop_compose! {
    fn arb_fleet()(
        config in arb_config(),
        replicas in 1u32..6,
        router in arb_router(),
        staleness in prop_oneof![Just(0.0f64), 0.0f64..50.0],
        disaggregated in any::<bool>(),
        decode in 1u32..4,
        bandwidth in 1e8f64..1e11,
        latency in 0.0f64..5.0,
    ) -> Config {
        let mut config = config;
        config.cluster = Some(ClusterConfig {
            replicas: (!disaggregated).then_some(replicas),
            router,
            router_staleness_ms: staleness,
            prefix_affinity_load_cap: 8,
            pools: Vec::new(),
            disaggregation: disaggregated.then(|| DisaggregationConfig {
                prefill_replicas: replicas,
                decode_replicas: decode,
                kv_transfer_bandwidth: bandwidth,
                kv_transfer_latency_ms: latency,
                prefill: Default::default(),
                decode: Default::default(),
            }),
        });
        config
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Every request generated completes exactly once, on one replica; blocks are never
    /// over-allocated on any replica (invariants after every event); nothing is held at the
    /// end; and the same config gives the same numbers.
    #[test]
    fn random_fleets_serve_every_request_exactly_once(config in arb_fleet()) {
        let mut sim = Simulator::new(&config).unwrap();
        let mut events = 0u64;
        loop {
            events += 1;
            prop_assert!(events < 5_000_000, "no end");
            if sim.step().unwrap() == StepOutcome::Done {
                break;
            }
            if let Err(e) = sim.check_invariants() {
                prop_assert!(false, "after event {events}: {e}");
            }
        }
        prop_assert_eq!(sim.kv_blocks_used(), 0);
        let generated = sim.num_generated();
        let s = sim.into_summary();
        prop_assert_eq!(s.requests_completed, generated);
        prop_assert_eq!(s.requests_total, generated);
        let replicas = config.cluster.as_ref().unwrap().num_replicas();
        prop_assert_eq!(s.fleet.replicas, replicas);
        if replicas > 1 {
            let done: u64 = s.replicas.iter().map(|r| r.requests_completed).sum();
            prop_assert_eq!(done, generated);
            let routed: u64 = s.replicas.iter()
                .filter(|r| r.pool != "decode")
                .map(|r| r.requests)
                .sum();
            prop_assert_eq!(routed, generated);
        }
        let again = Simulator::new(&config).unwrap().run().unwrap();
        prop_assert_eq!(again, s);
    }
}

#[test]
fn the_json_has_each_replica_and_the_fleet_columns() {
    let dir = Scratch::new("fleet", "json");
    let config = dir.path("fleet.toml");
    let tiny = std::fs::read_to_string(common::sweep::TINY).unwrap();
    std::fs::write(
        &config,
        format!("{tiny}\n[cluster]\nreplicas = 3\nrouter = \"round_robin\"\n"),
    )
    .unwrap();
    let out = dir.run(&["-c", "fleet.toml", "-q", "-o", "out.json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("out.json")).unwrap()).unwrap();
    let replicas = doc["replicas"].as_array().expect("a replicas array");
    assert_eq!(replicas.len(), 3);
    let dealt: Vec<u64> = replicas
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(dealt, [10, 10, 10], "30 requests dealt in turn");
    assert_eq!(doc["metrics"]["replicas"], 3);
    assert_eq!(doc["metrics"]["replica_request_imbalance"], 1.0);
    assert_eq!(doc["config"]["cluster"]["router"], "round_robin");

    // The report names the fleet.
    let out = dir.run(&["-c", "fleet.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 replicas"), "{stdout}");

    // A bad key: one line naming it, exit 1.
    std::fs::write(&config, format!("{tiny}\n[cluster]\nreplicas = 0\n")).unwrap();
    let out = dir.run(&["-c", "fleet.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cluster.replicas = 0 is invalid"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn a_sweep_over_fleets_does_not_depend_on_the_thread_count() {
    let dir = Scratch::new("fleet", "sweep");
    let spec = dir.spec(
        "fleets",
        "seeds = 2\n[axes]\n\"cluster.replicas\" = [1, 2, 4]\n\
         \"cluster.router\" = [\"round_robin\", \"power_of_two\", \"least_outstanding\"]\n\
         \"workload.arrival_rate\" = [40.0]\n",
    );
    let spec = spec.to_str().unwrap();
    for (threads, out) in [("1", "one"), ("2", "two")] {
        let res = dir.run(&["sweep", spec, "-q", "-j", threads, "-o", out]);
        assert!(res.status.success(), "{}", describe(&res));
    }
    let one = std::fs::read_to_string(dir.path("one/summary.csv")).unwrap();
    let two = std::fs::read_to_string(dir.path("two/summary.csv")).unwrap();
    assert_eq!(one, two);
    assert_eq!(one.lines().count(), 1 + 9, "{one}");
    let header = one.lines().next().unwrap();
    for column in [
        "cluster.replicas",
        "replica_request_imbalance_mean",
        "kv_transfers_mean",
    ] {
        assert!(header.contains(column), "{column} in {header}");
    }

    // A nested disaggregation key sweeps like any other.
    let spec = dir.spec(
        "pd",
        "[set]\n\"cluster.disaggregation.prefill_replicas\" = 1\n\
         \"cluster.disaggregation.kv_transfer_bandwidth\" = 5e10\n\
         [axes]\n\"cluster.disaggregation.decode_replicas\" = [1, 2]\n",
    );
    let res = dir.run(&["sweep", spec.to_str().unwrap(), "-q", "-o", "pd"]);
    assert!(res.status.success(), "{}", describe(&res));
    let df = common::sweep::read_parquet(&dir.path("pd/summary.parquet"));
    let replicas = common::sweep::column_f64(&df, "replicas_mean");
    assert_eq!(replicas, [Some(2.0), Some(3.0)]);
    let transfers = common::sweep::column_f64(&df, "kv_transfers_mean");
    assert!(transfers.iter().all(|t| t.unwrap() > 0.0), "{transfers:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Decode spans in a fleet (which run past arrivals the router cannot send a replica)
    /// change nothing: every metric equals the step-by-step run's. The fleet's collector sums
    /// the replicas' steps in another interleaving, so sums may differ in the last bits;
    /// counts are exact.
    #[test]
    fn fleet_spans_equal_step_by_step(config in arb_fleet()) {
        let mut slow = config.clone();
        slow.simulation.step_by_step = true;
        let fast = Simulator::new(&config).unwrap().run().unwrap();
        let slow = Simulator::new(&slow).unwrap().run().unwrap();
        if let Err(e) = common::fleet_summaries_agree(&fast, &slow) {
            prop_assert!(false, "{}", e);
        }
    }
}
