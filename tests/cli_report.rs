//! End-to-end tests of what a single run reports: one name per metric across the `-o` JSON
//! and the sweep tables, and the overload warning of open-loop runs (both directions).

mod common;

use common::cli::{describe, run, TempDir, TINY};

use std::ffi::OsStr;
use std::process::Output;

use serde_json::Value;

/// `-q -c config -o - extra...`: the JSON document from stdout.
fn json_run(config: &str, extra: &[&str]) -> Value {
    let mut args = vec!["-q", "-c", config, "-o", "-"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    assert!(out.stderr.is_empty(), "{args:?}: {}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("-o - writes one JSON document on stdout")
}

#[test]
fn json_metric_names_are_the_sweep_table_columns() {
    let doc = json_run(TINY, &[]);
    let flat = doc["metrics"].as_object().expect("a flat metrics object");
    let dir = TempDir::new("vocabulary");
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, format!("name = \"names\"\nbase = {TINY:?}\n")).expect("write a spec");
    let results = dir.join("results");
    let out = run(&[
        OsStr::new("sweep"),
        spec.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("--format"),
        OsStr::new("csv"),
        OsStr::new("-o"),
        results.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let csv = std::fs::read_to_string(results.join("runs.csv")).expect("runs.csv");
    let header: Vec<&str> = csv.lines().next().expect("a header").split(',').collect();
    let wall = header
        .iter()
        .position(|h| *h == "wall_ms")
        .expect("wall_ms");
    let mut columns: Vec<&str> = header[wall + 1..].to_vec();
    columns.sort_unstable();
    let names: Vec<&str> = flat.keys().map(String::as_str).collect();
    assert_eq!(names, columns);
    // The seed-era paths are aliases of the same values.
    for (alias, name) in [
        ("/latency_metrics/ttft_ms/p99", "ttft_ms_p99"),
        ("/latency_metrics/per_token_ms/mean", "itl_ms_mean"),
        (
            "/throughput_metrics/output_tokens_per_sec",
            "output_tokens_per_s",
        ),
        ("/simulation/simulated_seconds", "simulated_s"),
    ] {
        assert_eq!(
            doc.pointer(alias),
            Some(&flat[name]),
            "{alias} vs metrics.{name}"
        );
    }
}

/// The tiny config as an open-loop run of `n` requests at `rate` per second.
fn open_loop(rate: &str, n: &str, extra: &[&str]) -> Output {
    let rate = format!("workload.arrival_rate={rate}");
    let n = format!("workload.num_requests={n}");
    let mut args = vec!["-c", TINY, "--set", &rate, "--set", &n];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn an_overloaded_open_loop_run_warns_and_an_underloaded_one_does_not() {
    // Twice what one H100 serves of these short requests (about 210 per second).
    let out = open_loop("400", "2000", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.starts_with("warning: offered ") && stderr.contains("overloaded"),
        "{stderr:?}"
    );
    let doc: Value =
        serde_json::from_slice(&open_loop("400", "2000", &["-q", "-o", "-"]).stdout).expect("JSON");
    let offered = doc["metrics"]["offered_requests_per_s"]
        .as_f64()
        .expect("offered");
    let served = doc["metrics"]["served_requests_per_s"]
        .as_f64()
        .expect("served");
    assert!(served < 0.9 * offered, "offered {offered}, served {served}");
    assert_eq!(doc["overloaded"], true);
    assert!(
        stderr.contains(&format!("offered {offered:.1} req/s")),
        "{stderr:?}"
    );

    // Well within capacity: no warning, and the two rates agree.
    let out = open_loop("5", "300", &["-o", "-"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let offered = doc["metrics"]["offered_requests_per_s"]
        .as_f64()
        .expect("offered");
    let served = doc["metrics"]["served_requests_per_s"]
        .as_f64()
        .expect("served");
    assert!(
        (served / offered - 1.0).abs() < 0.2,
        "offered {offered}, served {served}"
    );
    assert_eq!(doc["overloaded"], false);

    // Within capacity, but each request outlasts the arrival span (1,000-token outputs
    // arriving over 2 s): nothing completes while requests arrive, yet the queue does not
    // grow, and the drain tail is not an overload.
    let out = open_loop(
        "20",
        "40",
        &[
            "--set",
            "workload.output_len_dist={ type = \"fixed\", value = 1000 }",
            "-o",
            "-",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        doc["metrics"]["served_requests_per_s"].as_f64()
            < Some(
                0.5 * doc["metrics"]["offered_requests_per_s"]
                    .as_f64()
                    .expect("offered")
            ),
        "{}",
        doc["metrics"]
    );
    assert_eq!(doc["overloaded"], false);

    // Closed loop has no offered rate: never a warning, null rates.
    let doc = json_run(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/debug-closed-loop.toml"
        ),
        &[],
    );
    assert_eq!(doc["metrics"]["offered_requests_per_s"], Value::Null);
    assert_eq!(doc["overloaded"], false);
}
