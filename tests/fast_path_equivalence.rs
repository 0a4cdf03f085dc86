//! The decode fast path (src/engine/decode_span.rs) must not change any result: every metric
//! of every run equals the step-by-step simulation's, bit for bit, over random configs and
//! over every shipped and reference config.

mod common;

use common::arb_config;
use inference_lab::{Config, RunSummary, Simulator};
use proptest::prelude::*;

fn both_modes(config: &Config) -> (RunSummary, RunSummary) {
    let mut slow = config.clone();
    slow.simulation.step_by_step = true;
    let mut fast = config.clone();
    fast.simulation.step_by_step = false;
    let slow = Simulator::new(&slow).unwrap().run().unwrap();
    let fast = Simulator::new(&fast).unwrap().run().unwrap();
    (slow, fast)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_configs_give_identical_summaries(config in arb_config()) {
        let (slow, fast) = both_modes(&config);
        prop_assert_eq!(&slow, &fast);
        // The fast path keeps the invariants too (checked after every call to step()).
        let mut fast_config = config.clone();
        fast_config.simulation.step_by_step = false;
        let (checked, _) = common::run_checked(&fast_config, 2_000_000);
        prop_assert_eq!(checked, fast);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The calibrated step-time model prices from the step's sums too, so the fast path stays
    /// bit-identical with every calibration parameter set.
    #[test]
    fn random_calibrated_configs_give_identical_summaries(
        config in arb_config(),
        efficiencies in proptest::array::uniform4(0.05f64..=1.0),
        overlap in prop_oneof![Just(0.0f64), Just(1.0), 0.0f64..=1.0],
        softness in prop_oneof![Just(0.0f64), Just(1.0), 0.0f64..=1.0],
        causal in any::<bool>(),
        overheads in proptest::array::uniform3(prop_oneof![Just(0.0f64), 0.0f64..1e-2]),
    ) {
        let mut config = config;
        let hw = &mut config.hardware;
        hw.compute_efficiency = efficiencies[0];
        hw.attention_efficiency = efficiencies[1];
        hw.memory_efficiency = efficiencies[2];
        hw.kv_memory_efficiency = efficiencies[3];
        hw.attention_overlap = overlap;
        hw.roofline_softness = softness;
        hw.causal_attention = causal;
        hw.step_overhead = overheads[0];
        hw.layer_overhead = overheads[1];
        hw.sequence_overhead = overheads[2];
        config.validate().unwrap();
        let (slow, fast) = both_modes(&config);
        prop_assert_eq!(slow, fast);
    }
}

#[test]
fn every_shipped_and_reference_config_gives_identical_summaries() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<_> = std::fs::read_dir(root.join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for name in [
        "config.toml",
        "quick_test.toml",
        "test_blog.toml",
        "qwen3_30b_a3b.toml",
        "qwen3_30b_preemption_free.toml",
        "long_benchmark.toml",
    ] {
        paths.push(root.join("examples/seed-era").join(name));
    }
    for path in paths {
        let config = Config::load(&path).unwrap();
        let (slow, fast) = both_modes(&config);
        if config.cluster.is_some() {
            // A fleet's sums may differ in their last bits (see fleet_summaries_agree).
            common::fleet_summaries_agree(&fast, &slow)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            assert_eq!(slow, fast, "{}", path.display());
        }
        assert_eq!(slow.requests_completed, slow.requests_total);
    }
}
