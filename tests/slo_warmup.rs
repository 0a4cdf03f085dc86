//! SLO attainment, goodput, warm-up exclusion and the closed-loop ramp, on tiny runs whose
//! per-request latencies follow from the run's own numbers.
//!
//! The queue runs: with `max_num_seqs = 1`, batched requests of equal length are served one
//! after another, so request k (from 0) completes at (k + 1) x E, E being one request's
//! service time (the run's smallest end-to-end latency), and has its first token at
//! k x E + P, P being one prefill (the run's smallest TTFT).

mod common;

use common::{assert_close, toy_config};
use inference_lab::{Config, RunSummary, Simulator};

const ONE_AT_A_TIME: &str = r#"
    max_num_batched_tokens = 8192
    max_num_seqs = 1
    policy = "fcfs"
    enable_chunked_prefill = true
    block_size = 16
"#;

/// Four equal requests, all at t = 0, plus `extra` TOML (sections after [workload]).
fn queue_config(extra: &str) -> Config {
    toy_config(
        ONE_AT_A_TIME,
        &format!(
            r#"
            arrival_pattern = "batched"
            num_requests = 4
            input_len_dist = {{ type = "fixed", value = 100 }}
            output_len_dist = {{ type = "fixed", value = 10 }}
            {extra}"#
        ),
    )
}

fn run(config: &Config) -> RunSummary {
    Simulator::new(config).unwrap().run().unwrap()
}

/// (E, P) in ms, from a run without SLO or warm-up.
fn service_and_prefill() -> (f64, f64) {
    let s = run(&queue_config(""));
    let e = s.e2e_ms.min.unwrap();
    // The queue model holds: the last request completes after four service times.
    assert_close(s.e2e_ms.max.unwrap(), 4.0 * e, "the last request's E2E");
    assert_close(s.simulated_seconds * 1e3, 4.0 * e, "the makespan");
    (e, s.ttft_ms.min.unwrap())
}

#[test]
fn attainment_and_goodput_by_hand() {
    let (e, p) = service_and_prefill();
    let plain = run(&queue_config(""));
    assert_eq!(plain.slo.attainment, None, "no [slo]: null, not 1");
    assert_eq!(plain.slo.met, None);

    // E2E of the four requests: E, 2E, 3E, 4E. At most 2.5 E: requests 0 and 1.
    let s = run(&queue_config(&format!(
        "[slo]\ne2e_ms = {}\nattainment = 0.5",
        2.5 * e
    )));
    assert_eq!(s.slo.attainment, Some(2.0 / 4.0));
    assert_eq!(s.slo.met, Some(true), "0.5 >= 0.5");
    assert_close(
        s.slo.goodput_requests_per_s.unwrap(),
        2.0 / s.simulated_seconds,
        "goodput requests",
    );
    assert_close(
        s.slo.goodput_output_tokens_per_s.unwrap(),
        2.0 * 10.0 / s.simulated_seconds,
        "goodput tokens",
    );

    // TTFT: P, E + P, 2E + P, 3E + P. At most P + E / 2 as well: request 0 alone.
    let s = run(&queue_config(&format!(
        "[slo]\nttft_ms = {}\ne2e_ms = {}\nattainment = 0.5",
        p + 0.5 * e,
        2.5 * e
    )));
    assert_eq!(s.slo.attainment, Some(1.0 / 4.0));
    assert_eq!(s.slo.met, Some(false), "0.25 < 0.5");
    assert_close(
        s.slo.goodput_requests_per_s.unwrap(),
        1.0 / s.simulated_seconds,
        "goodput requests",
    );

    // TPOT is the same for every request here (one at a time): a threshold below it fails all.
    let tpot = plain.tpot_ms.min.unwrap();
    let s = run(&queue_config(&format!("[slo]\ntpot_ms = {}", tpot * 0.99)));
    assert_eq!(s.slo.attainment, Some(0.0));
    assert_eq!(s.slo.goodput_requests_per_s, Some(0.0));
    assert_eq!(s.slo.met, None, "no attainment target: no verdict");

    // The JSON and the tables carry them under their names.
    let json = s.to_json();
    assert_eq!(json["metrics"]["slo_attainment"], 0.0);
    assert!(json["metrics"]["slo_met"].is_null());
    assert!(plain.to_json()["metrics"]["goodput_requests_per_s"].is_null());
}

#[test]
fn warmup_requests_are_simulated_but_not_counted() {
    let (e, _) = service_and_prefill();
    let s = run(&queue_config("[metrics]\nwarmup_requests = 1"));
    // Request 0 still runs first, so the measured three complete at 2E, 3E, 4E.
    assert_eq!(s.requests_total, 3);
    assert_eq!(s.requests_completed, 3);
    assert_eq!(s.output_tokens, 3 * 10);
    assert_eq!(s.input_tokens, 3 * 100);
    assert_close(s.e2e_ms.min.unwrap(), 2.0 * e, "first measured E2E");
    assert_close(
        s.simulated_seconds * 1e3,
        4.0 * e,
        "the makespan is the run's",
    );
    // All arrived at t = 0: the window is the whole makespan.
    assert_close(s.requests_per_s, 3.0 / s.simulated_seconds, "requests/s");
    // The excluded request's nine inter-token gaps are gone too.
    let all = run(&queue_config(""));
    assert_eq!(s.itl_ms.count, all.itl_ms.count * 3 / 4);
    // SLO counts only measured requests: E2E <= 2.5 E is request 1 of the three.
    let s = run(&queue_config(&format!(
        "[metrics]\nwarmup_requests = 1\n[slo]\ne2e_ms = {}",
        2.5 * e
    )));
    assert_eq!(s.slo.attainment, Some(1.0 / 3.0));
}

/// `n` requests at exactly i / rate, short enough to finish before the next one.
fn fixed_rate_config(n: u64, rate: f64, extra: &str) -> Config {
    toy_config(
        ONE_AT_A_TIME,
        &format!(
            r#"
            arrival_pattern = "fixed_rate"
            arrival_rate = {rate}
            num_requests = {n}
            input_len_dist = {{ type = "fixed", value = 100 }}
            output_len_dist = {{ type = "fixed", value = 10 }}
            {extra}"#
        ),
    )
}

#[test]
fn warmup_secs_excludes_earlier_arrivals_and_starts_the_window_at_the_first_measured() {
    // Arrivals at 0, 0.5, 1.0, ...: warmup_secs = 1.2 leaves out the first three.
    let s = run(&fixed_rate_config(10, 2.0, "[metrics]\nwarmup_secs = 1.2"));
    let excluded = (1.2_f64 * 2.0).ceil() as u64;
    assert_eq!(s.requests_total, 10 - excluded);
    assert_eq!(s.requests_completed, 10 - excluded);
    let first_measured = excluded as f64 / 2.0;
    assert_close(
        s.requests_per_s,
        (10 - excluded) as f64 / (s.simulated_seconds - first_measured),
        "requests/s over [first measured arrival, last completion]",
    );
    // Both keys: a request is left out when either says so.
    let both = run(&fixed_rate_config(
        10,
        2.0,
        "[metrics]\nwarmup_secs = 1.2\nwarmup_requests = 5",
    ));
    assert_eq!(both.requests_total, 5);
}

#[test]
fn no_warmup_keys_means_todays_results() {
    let config = fixed_rate_config(10, 2.0, "");
    let mut with_empty = config.clone();
    with_empty.metrics = Some(Default::default());
    assert_eq!(run(&config), run(&with_empty));
}

#[test]
fn ramp_up_spreads_the_first_requests() {
    let closed = |extra: &str| {
        toy_config(
            ONE_AT_A_TIME,
            &format!(
                r#"
                arrival_pattern = "closed_loop"
                num_concurrent_users = 4
                num_requests = 4
                input_len_dist = {{ type = "fixed", value = 100 }}
                output_len_dist = {{ type = "fixed", value = 10 }}
                {extra}"#
            ),
        )
    };
    let burst = run(&closed(""));
    let e = burst.e2e_ms.min.unwrap();
    assert_close(burst.e2e_ms.max.unwrap(), 4.0 * e, "all at t = 0: a queue");
    // Users start at 0, 1, 2, 3 s; each request takes E << 1 s, so none waits.
    let ramped = run(&closed("ramp_up_secs = 4.0"));
    assert_close(ramped.e2e_ms.max.unwrap(), e, "no queue with the ramp");
    assert_close(
        ramped.simulated_seconds,
        3.0 + e / 1e3,
        "the last user starts at 3 x 4 / 4 s",
    );
    // More requests than users: user 0's next requests (at E, 2E, ...) arrive before user 1
    // starts at 2 s, and are served in arrival order, still without a queue.
    assert!(4.0 * e < 2e3, "E = {e} ms is too long for this case");
    let closed8 = |extra: &str| {
        let mut c = closed(extra);
        c.workload.num_requests = Some(8);
        c
    };
    let ramped = run(&closed8("ramp_up_secs = 8.0"));
    assert_eq!(ramped.requests_completed, 8);
    assert_close(ramped.e2e_ms.max.unwrap(), e, "no queue, in arrival order");
    assert_close(
        ramped.simulated_seconds,
        6.0 + e / 1e3,
        "user 3 last, at 3 x 8 / 4 s",
    );
    // 0 is today's behaviour exactly.
    assert_eq!(run(&closed("ramp_up_secs = 0")), burst);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    /// The decode fast path leaves out exactly the warm-up tokens and gaps that the step-by-step
    /// path leaves out, and tallies the same good requests, bit for bit; a ramp changes nothing
    /// about that either.
    #[test]
    fn the_fast_path_agrees_with_warmup_slo_and_ramp(
        config in common::arb_config(),
        warmup_requests in proptest::option::of(1u64..20),
        warmup_secs in proptest::option::of(0.01f64..2.0),
        ramp in proptest::option::of(0.0f64..2.0),
        ttft_ms in proptest::option::of(1.0f64..500.0),
        tpot_ms in proptest::option::of(0.1f64..50.0),
    ) {
        let mut config = config;
        config.metrics = Some(inference_lab::config::MetricsConfig { warmup_secs, warmup_requests });
        config.slo = Some(inference_lab::config::SloConfig {
            ttft_ms,
            tpot_ms,
            e2e_ms: None,
            attainment: Some(0.9),
        });
        if config.workload.arrival_pattern == inference_lab::config::ArrivalPattern::ClosedLoop {
            config.workload.ramp_up_secs = ramp;
        }
        config.validate().unwrap();
        let mut slow = config.clone();
        slow.simulation.step_by_step = true;
        let (checked, _) = common::run_checked(&config, 2_000_000);
        let slow = run(&slow);
        proptest::prop_assert_eq!(&checked, &slow);
        proptest::prop_assert_eq!(checked.requests_completed, checked.requests_total);
    }
}
