use super::*;
use crate::config::Config;

fn config(workload: &str) -> Config {
    crate::testing::toy_config(workload)
}

fn drain(w: &mut Workload) -> Vec<RequestSpec> {
    let mut out = Vec::new();
    while let Some(t) = w.next_arrival() {
        while let Some(r) = w.pop_arrived(t) {
            out.push(r);
        }
    }
    out
}

const LENGTHS: &str = r#"
    input_len_dist = { type = "lognormal", mean = 6.0, std_dev = 1.0 }
    output_len_dist = { type = "normal", mean = 200.0, std_dev = 100.0 }
"#;

#[test]
fn scheduler_knobs_do_not_change_the_request_stream() {
    let base = config(&format!(
        "arrival_pattern = \"poisson\"\narrival_rate = 3.0\nnum_requests = 200\n{LENGTHS}"
    ));
    let mut other = base.clone();
    other.scheduler.policy = crate::config::Policy::Lof;
    other.scheduler.max_num_batched_tokens = 64;
    other.hardware.compute_flops = 5e12;
    let a = drain(&mut Workload::new(&base, None).unwrap());
    let b = drain(&mut Workload::new(&other, None).unwrap());
    assert_eq!(a.len(), 200);
    assert_eq!(a, b);
}

#[test]
fn lengths_follow_the_index_whatever_the_arrival_pattern() {
    let poisson = config(&format!(
        "arrival_pattern = \"poisson\"\narrival_rate = 3.0\nnum_requests = 50\n{LENGTHS}"
    ));
    let batched = config(&format!(
        "arrival_pattern = \"batched\"\nnum_requests = 50\n{LENGTHS}"
    ));
    let lens = |c: &Config| -> Vec<(u32, u32)> {
        drain(&mut Workload::new(c, None).unwrap())
            .iter()
            .map(|r| (r.prompt_len, r.output_len))
            .collect()
    };
    assert_eq!(lens(&poisson), lens(&batched));
}

#[test]
fn every_request_fits_the_model() {
    let c = config(
        "arrival_pattern = \"batched\"\nnum_requests = 2000\n\
         input_len_dist = { type = \"lognormal\", mean = 6.5, std_dev = 1.5 }\n\
         output_len_dist = { type = \"normal\", mean = 300.0, std_dev = 400.0 }",
    );
    for r in drain(&mut Workload::new(&c, None).unwrap()) {
        assert!(r.prompt_len >= 1 && r.output_len >= 1);
        assert!(r.prompt_len + r.output_len <= 1000, "{r:?}");
    }
}

#[test]
fn arrival_patterns_have_their_shape() {
    let fixed = config(&format!(
        "arrival_pattern = \"fixed_rate\"\narrival_rate = 4.0\nnum_requests = 5\n{LENGTHS}"
    ));
    let times: Vec<f64> = drain(&mut Workload::new(&fixed, None).unwrap())
        .iter()
        .map(|r| r.arrival)
        .collect();
    assert_eq!(times, [0.0, 0.25, 0.5, 0.75, 1.0]);

    let batched = config(&format!(
        "arrival_pattern = \"batched\"\nnum_requests = 3000\n{LENGTHS}"
    ));
    let all = drain(&mut Workload::new(&batched, None).unwrap());
    assert_eq!(all.len(), 3000);
    assert!(all.iter().all(|r| r.arrival == 0.0));

    let burst = config(&format!(
        "arrival_pattern = \"burst\"\narrival_rate = 10.0\nburst_size = 4\nnum_requests = 10\n{LENGTHS}"
    ));
    let b = drain(&mut Workload::new(&burst, None).unwrap());
    assert_eq!(b.len(), 10);
    // Groups of 4, 4, 2 at three distinct instants.
    assert!(b[0].arrival > 0.0);
    assert!(b[..4].iter().all(|r| r.arrival == b[0].arrival));
    assert!(b[4..8].iter().all(|r| r.arrival == b[4].arrival));
    assert!(
        b[8].arrival == b[9].arrival && b[8].arrival > b[4].arrival && b[4].arrival > b[0].arrival
    );

    for (pattern, mean_gap) in [
        ("poisson", 0.1),
        ("uniform_random", 0.1),
        ("gamma\narrival_cv = 2.5", 0.1),
        ("weibull\narrival_cv = 0.5", 0.1),
    ] {
        let (pattern, extra) = pattern.split_once('\n').unwrap_or((pattern, ""));
        let c = config(&format!(
            "arrival_pattern = \"{pattern}\"\n{extra}\narrival_rate = 10.0\nnum_requests = 20000\n{LENGTHS}"
        ));
        let r = drain(&mut Workload::new(&c, None).unwrap());
        let observed = r.last().unwrap().arrival / r.len() as f64;
        assert!(
            (observed - mean_gap).abs() < 0.005,
            "{pattern}: mean gap {observed}"
        );
        assert!(r.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    }
}

#[test]
fn duration_bounds_open_loop_arrivals() {
    let c = config(&format!(
        "arrival_pattern = \"poisson\"\narrival_rate = 50.0\nduration_secs = 2.0\n{LENGTHS}"
    ));
    let r = drain(&mut Workload::new(&c, None).unwrap());
    assert!(r.iter().all(|r| r.arrival <= 2.0));
    assert!(
        (60..140).contains(&r.len()),
        "{} arrivals in 2 s at 50/s",
        r.len()
    );
}

#[test]
fn num_requests_and_duration_stop_at_whichever_comes_first() {
    let c = config(&format!(
        "arrival_pattern = \"fixed_rate\"\narrival_rate = 1.0\nnum_requests = 3\nduration_secs = 100.0\n{LENGTHS}"
    ));
    assert_eq!(drain(&mut Workload::new(&c, None).unwrap()).len(), 3);
}

#[test]
fn closed_loop_releases_one_request_per_user_then_one_per_completion() {
    let c = config(&format!(
        "arrival_pattern = \"closed_loop\"\nnum_concurrent_users = 3\nnum_requests = 5\n{LENGTHS}"
    ));
    let mut w = Workload::new(&c, None).unwrap();
    let first: Vec<_> = std::iter::from_fn(|| w.pop_arrived(0.0)).collect();
    assert_eq!(first.len(), 3);
    assert_eq!(w.next_arrival(), None);
    w.on_completion(1.5);
    let next = w.pop_arrived(1.5).unwrap();
    assert_eq!((next.id, next.arrival), (3, 1.5));
    w.on_completion(2.0);
    w.on_completion(2.5);
    assert_eq!(w.pop_arrived(3.0).map(|r| r.id), Some(4));
    assert_eq!(w.pop_arrived(3.0), None);
    assert_eq!(w.generated(), 5);
}

#[test]
fn fixed_rate_over_a_duration_stops_at_the_request_limit_and_says_so() {
    // 100 requests/s for 10 s: arrivals at i / 100 for i = 0..=1000, one more than 1000.
    let c = config(&format!(
        "arrival_pattern = \"fixed_rate\"\narrival_rate = 100.0\nduration_secs = 10.0\n{LENGTHS}"
    ));
    let mut w = Workload::new(&c, None).unwrap();
    w.set_max_requests(1000);
    assert_eq!(drain(&mut w).len(), 1000);
    assert!(w.over_limit());
    let mut w = Workload::new(&c, None).unwrap();
    w.set_max_requests(1001);
    assert_eq!(drain(&mut w).len(), 1001);
    assert!(!w.over_limit());
    assert_eq!(
        Workload::new(&c, None).unwrap().max_requests(),
        MAX_REQUESTS
    );
}

#[cfg(test)]
mod arrival_shapes;
#[cfg(test)]
mod classes;
#[cfg(test)]
mod replay;
#[cfg(test)]
mod sessions;
#[cfg(test)]
mod shared_prefix;
