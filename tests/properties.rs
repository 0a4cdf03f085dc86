//! Property tests over random small configs: the engine never panics or hangs, and the
//! invariants hold after every step (blocks never over-allocated, the free queue consistent,
//! waiting requests hold no KV), every request completes, all blocks are free at the end, and
//! the tokens emitted equal the tokens requested.

mod common;

use common::arb_config;
use inference_lab::config::Config;
use inference_lab::workload::Workload;
use proptest::prelude::*;

/// The output tokens the workload asks for, from an independent copy of the request stream.
fn requested_output_tokens(config: &Config) -> u64 {
    let mut w = Workload::new(config, None).unwrap();
    let mut total = 0;
    let mut now = 0.0;
    loop {
        while let Some(r) = w.pop_arrived(now) {
            total += u64::from(r.output_len);
            // Closed loop: completing one request lets its user send the next.
            w.on_completion(now);
        }
        match w.next_arrival() {
            Some(t) => now = t,
            None => return total,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_configs_complete_with_invariants(config in arb_config()) {
        prop_assert!(config.validate().is_ok(), "generated config invalid: {:?}", config.validate());
        let (s, _) = common::run_checked(&config, 2_000_000);
        prop_assert_eq!(s.requests_completed, s.requests_total);
        let sessions_started = s.sessions.as_ref().map(|x| x.started);
        match sessions_started {
            // num_requests counts sessions; their later turns come as earlier ones complete.
            Some(started) => {
                prop_assert_eq!(started, config.workload.num_requests.unwrap());
                prop_assert!(s.requests_total >= started);
                let sessions = s.sessions.as_ref().unwrap();
                prop_assert_eq!(sessions.completed, started, "every session ends");
            }
            None => {
                prop_assert_eq!(s.requests_total, config.workload.num_requests.unwrap());
                prop_assert_eq!(s.output_tokens, requested_output_tokens(&config));
            }
        }
        if config.scheduler.enable_preemption_free {
            prop_assert_eq!(s.preemptions_total, 0);
        }
        // Every emitted token after the first of each request is one ITL sample.
        prop_assert_eq!(s.itl_ms.count, s.output_tokens - s.requests_completed);
        prop_assert!(s.kv_cache_util_mean <= 1.0 + 1e-12);
        prop_assert!(s.flops_util_mean <= 1.0 + 1e-12 && s.bandwidth_util_mean <= 1.0 + 1e-12);
    }

    #[test]
    fn same_config_same_summary(config in arb_config()) {
        let a = inference_lab::Simulator::new(&config).unwrap().run().unwrap();
        let b = inference_lab::Simulator::new(&config).unwrap().run().unwrap();
        prop_assert_eq!(a, b);
    }
}
