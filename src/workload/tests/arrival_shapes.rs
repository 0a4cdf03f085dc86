//! Gamma and weibull burstiness, the seed system's evenly spaced `uniform`, and rate
//! schedules, measured on generated arrivals with fixed seeds.

use super::{config, drain, LENGTHS};
use crate::workload::Workload;

fn arrivals(workload: &str) -> Vec<f64> {
    let c = config(&format!("{workload}\n{LENGTHS}"));
    drain(&mut Workload::new(&c, None).unwrap())
        .iter()
        .map(|r| r.arrival)
        .collect()
}

/// Variance over mean of the arrivals counted in 1-second windows over [0, span): 1 for a
/// Poisson process, above 1 for a burstier one.
fn dispersion(times: &[f64], span: usize) -> f64 {
    let mut counts = vec![0f64; span];
    for &t in times {
        if (t as usize) < span {
            counts[t as usize] += 1.0;
        }
    }
    let mean = counts.iter().sum::<f64>() / span as f64;
    let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (span - 1) as f64;
    var / mean
}

#[test]
fn uniform_is_evenly_spaced_as_in_the_seed_system() {
    let t = arrivals("arrival_pattern = \"uniform\"\narrival_rate = 4.0\nnum_requests = 4");
    assert_eq!(t, [0.25, 0.5, 0.75, 1.0]);
}

#[test]
fn gamma_with_cv_1_counts_like_poisson_and_a_higher_cv_is_burstier() {
    let spec = |pattern: &str, cv: &str| {
        format!("arrival_pattern = \"{pattern}\"\n{cv}\narrival_rate = 20.0\nduration_secs = 2000")
    };
    let poisson = dispersion(&arrivals(&spec("poisson", "")), 2000);
    let gamma1 = dispersion(&arrivals(&spec("gamma", "arrival_cv = 1.0")), 2000);
    let gamma3 = dispersion(&arrivals(&spec("gamma", "arrival_cv = 3.0")), 2000);
    let weibull3 = dispersion(&arrivals(&spec("weibull", "arrival_cv = 3.0")), 2000);
    let smooth = dispersion(&arrivals(&spec("gamma", "arrival_cv = 0.3")), 2000);
    // Counts of a Poisson process have dispersion 1: 2000 windows put the estimate within
    // about +-0.1 (3 standard errors of sqrt(2 / 2000)).
    assert!((poisson - 1.0).abs() < 0.1, "poisson {poisson}");
    assert!((gamma1 - 1.0).abs() < 0.1, "gamma cv 1 {gamma1}");
    // A renewal process's count dispersion tends to CV^2 over long windows.
    assert!(gamma3 > 4.0, "gamma cv 3: {gamma3}");
    assert!(weibull3 > 4.0, "weibull cv 3: {weibull3}");
    assert!(smooth < 0.3, "gamma cv 0.3: {smooth}");
}

#[test]
fn a_step_schedule_gives_each_segment_its_rate() {
    let t = arrivals(
        "arrival_pattern = \"poisson\"\nduration_secs = 400\n\
         rate_schedule = { type = \"steps\", times = [0, 100, 200, 300], rates = [5, 20, 0, 2] }",
    );
    let count = |lo: f64, hi: f64| t.iter().filter(|&&x| x >= lo && x < hi).count() as f64;
    // Expected 500, 2000, 0, 200; Poisson standard deviations 22, 45, 0, 14: within 4 of them.
    assert!(
        (count(0.0, 100.0) - 500.0).abs() < 90.0,
        "{}",
        count(0.0, 100.0)
    );
    assert!(
        (count(100.0, 200.0) - 2000.0).abs() < 180.0,
        "{}",
        count(100.0, 200.0)
    );
    assert_eq!(count(200.0, 300.0), 0.0);
    assert!(
        (count(300.0, 400.0) - 200.0).abs() < 56.0,
        "{}",
        count(300.0, 400.0)
    );
}

#[test]
fn schedules_that_agree_up_to_t_give_the_same_arrivals_up_to_t() {
    let run = |later: u32| {
        arrivals(&format!(
            "arrival_pattern = \"gamma\"\narrival_cv = 2.0\nduration_secs = 200\n\
             rate_schedule = {{ type = \"steps\", times = [0, 100], rates = [8, {later}] }}"
        ))
    };
    let (a, b) = (run(8), run(30));
    let before = |v: &[f64]| v.iter().copied().filter(|&x| x < 100.0).collect::<Vec<_>>();
    assert!(!before(&a).is_empty());
    assert_eq!(
        before(&a),
        before(&b),
        "common random numbers before the change"
    );
    assert!(b.len() > 2 * a.len() - before(&a).len(), "more after it");
}

#[test]
fn a_schedule_ending_at_zero_stops_the_arrivals() {
    let t = arrivals(
        "arrival_pattern = \"poisson\"\nnum_requests = 100000\n\
         rate_schedule = { type = \"steps\", times = [0, 50], rates = [4, 0] }",
    );
    assert!(t.iter().all(|&x| x < 50.0));
    assert!((t.len() as f64 - 200.0).abs() < 60.0, "{}", t.len());
}

#[test]
fn ramp_and_sine_follow_their_rates() {
    let ramp = arrivals(
        "arrival_pattern = \"poisson\"\nduration_secs = 100\n\
         rate_schedule = { type = \"ramp\", from = 0, to = 40, duration_secs = 100 }",
    );
    // Λ(50) = 500 of Λ(100) = 2000: a quarter arrive in the first half.
    let first_half = ramp.iter().filter(|&&x| x < 50.0).count() as f64;
    assert!((first_half / ramp.len() as f64 - 0.25).abs() < 0.03);
    let sine = arrivals(
        "arrival_pattern = \"uniform\"\nnum_requests = 600\n\
         rate_schedule = { type = \"sine\", min = 0, max = 20, period_secs = 60 }",
    );
    // Evenly spaced in operational time: the 600th at Λ⁻¹(600) = 60 s (one period of mean
    // rate 10), and the first quarter period (rate 10 rising to 20) holds 150 + 300 / pi =
    // 245.5 of them.
    assert!((sine[599] - 60.0).abs() < 1e-9, "{}", sine[599]);
    let quarter = sine.iter().filter(|&&x| x <= 15.0).count();
    assert_eq!(quarter, 245);
}

#[test]
fn bad_shapes_are_one_line_errors_naming_the_key() {
    let err = |workload: &str| {
        let text = crate::testing::toy_text(&format!("{workload}\n{LENGTHS}"));
        crate::Config::from_toml_str(&text).unwrap_err().to_string()
    };
    let e = err("arrival_pattern = \"gamma\"\narrival_rate = 2.0\nnum_requests = 5");
    assert!(e.contains("workload.arrival_cv is missing"), "{e}");
    let e =
        err("arrival_pattern = \"weibull\"\narrival_cv = 0\narrival_rate = 2.0\nnum_requests = 5");
    assert!(e.contains("workload.arrival_cv = 0 is invalid"), "{e}");
    let e =
        err("arrival_pattern = \"poisson\"\narrival_cv = 2\narrival_rate = 2.0\nnum_requests = 5");
    assert!(e.contains("applies to gamma and weibull only"), "{e}");
    let e = err("arrival_pattern = \"poisson\"\nnum_requests = 5\n\
         rate_schedule = { type = \"steps\", times = [0, 10, 5], rates = [1, 2, 3] }");
    assert!(
        e.contains("times must increase: times[2] = 5 follows 10"),
        "{e}"
    );
    let e = err("arrival_pattern = \"poisson\"\nnum_requests = 5\n\
         rate_schedule = { type = \"steps\", times = [0, 10], rates = [1, -2] }");
    assert!(e.contains("rates[1] = -2 is invalid"), "{e}");
    let e = err(
        "arrival_pattern = \"poisson\"\narrival_rate = 3\nnum_requests = 5\n\
         rate_schedule = { type = \"sine\", min = 1, max = 2, period_secs = 10 }",
    );
    assert!(e.contains("both give the rate"), "{e}");
    let e = err("arrival_pattern = \"closed_loop\"\nnum_requests = 5\n\
         rate_schedule = { type = \"sine\", min = 1, max = 2, period_secs = 10 }");
    assert!(e.contains("a schedule shapes open-loop arrivals"), "{e}");
}
