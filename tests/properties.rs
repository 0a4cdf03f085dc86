//! Property tests over random small configs: the engine never panics or hangs, and the
//! invariants hold after every step (blocks never over-allocated, the free queue consistent,
//! waiting requests hold no KV), every request completes, all blocks are free at the end, and
//! the tokens emitted equal the tokens requested.

mod common;

use inference_lab::config::{ArrivalPattern, Config, LengthDist, Policy};
use inference_lab::workload::Workload;
use proptest::prelude::*;

fn arb_pattern() -> impl Strategy<Value = ArrivalPattern> {
    prop_oneof![
        Just(ArrivalPattern::Poisson),
        Just(ArrivalPattern::Uniform),
        Just(ArrivalPattern::Burst),
        Just(ArrivalPattern::FixedRate),
        Just(ArrivalPattern::ClosedLoop),
        Just(ArrivalPattern::Batched),
    ]
}

fn arb_len(max: u32) -> impl Strategy<Value = LengthDist> {
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

prop_compose! {
    fn arb_config()(
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
    ) -> Config {
        let mut c = common::toy_config(
            "max_num_batched_tokens = 1\nmax_num_seqs = 1\npolicy = \"fcfs\"\nenable_chunked_prefill = true\nblock_size = 16",
            "arrival_pattern = \"batched\"\nnum_requests = 1\ninput_len_dist = { type = \"fixed\", value = 1 }\noutput_len_dist = { type = \"fixed\", value = 1 }",
        );
        // KV sized in blocks: just enough for one full-length request, plus some spare.
        let blocks = max_seq_len.div_ceil(block_size) + spare_blocks;
        c.hardware.kv_cache_capacity = Some(f64::from(blocks * block_size) * c.kv_bytes_per_token());
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
        w.input_len_dist = input;
        w.output_len_dist = output;
        w.seed = seed;
        c
    }
}

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
        prop_assert_eq!(s.requests_total, config.workload.num_requests.unwrap());
        prop_assert_eq!(s.output_tokens, requested_output_tokens(&config));
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
