//! End to end: the `[slo]` and `[metrics]` sections and `workload.ramp_up_secs` from a config,
//! `--set` and a sweep spec; the load verdict in the `-o` JSON and the sweep's runs table; and
//! every bad value of the new keys as a one-line error with exit code 1.

mod common;

use common::cli::{describe, run, TempDir, TINY};

use std::ffi::OsStr;

use serde_json::Value;

/// The tiny config with `--set` overrides, as the `-o -` JSON document.
fn json(sets: &[&str]) -> Value {
    let mut args = vec!["-q", "-c", TINY, "-o", "-"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = run(&args);
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn the_load_verdict_is_in_the_json() {
    let verdict = |sets: &[&str]| json(sets)["metrics"]["load_verdict"].clone();
    // Twice one H100's capacity for these requests: the queue grows.
    let overloaded = json(&["workload.arrival_rate=400", "workload.num_requests=2000"]);
    assert_eq!(overloaded["metrics"]["load_verdict"], "overloaded");
    assert_eq!(
        overloaded["overloaded"], true,
        "the flag and the verdict agree"
    );
    assert_eq!(
        verdict(&["workload.arrival_rate=5", "workload.num_requests=300"]),
        "stable"
    );
    // Requests that outlast the 2 s arrival span: served below offered, but no growing queue.
    assert_eq!(
        verdict(&[
            "workload.arrival_rate=20",
            "workload.num_requests=40",
            "workload.output_len_dist={ type = \"fixed\", value = 1000 }",
        ]),
        "backlogged"
    );
    // Too few arrivals to judge, and closed loop has no offered rate: null.
    assert_eq!(verdict(&[]), Value::Null);
    assert_eq!(
        verdict(&["workload.arrival_pattern=closed_loop"]),
        Value::Null
    );
}

#[test]
fn slo_and_warmup_from_set_and_from_a_sweep_spec() {
    // A threshold nobody misses: every request is good, goodput is the throughput.
    let doc = json(&["slo.ttft_ms=1e9", "slo.attainment=1"]);
    let m = &doc["metrics"];
    assert_eq!(m["slo_attainment"], 1.0);
    assert_eq!(m["slo_met"], 1.0);
    assert_eq!(m["goodput_requests_per_s"], m["requests_per_s"]);
    assert_eq!(m["goodput_output_tokens_per_s"], m["output_tokens_per_s"]);
    // Without [slo], null; the resolved config in the JSON has no [slo] either.
    assert_eq!(doc["config"]["slo"]["ttft_ms"], 1e9);
    let plain = json(&[]);
    assert_eq!(plain["metrics"]["slo_attainment"], Value::Null);
    assert_eq!(plain["config"].get("slo"), None);
    assert_eq!(plain["config"].get("metrics"), None);
    let total = plain["metrics"]["requests_total"].as_u64().expect("total");

    let dir = TempDir::new("spec");
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"slo\"\nbase = {TINY:?}\n[set]\nslo.ttft_ms = 1e9\n\
             [axes]\nmetrics.warmup_requests = [1, 5]\n"
        ),
    )
    .expect("write a spec");
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
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    for (row, warmup) in rows.iter().zip([1u64, 5]) {
        assert_eq!(row[col("requests_total")], (total - warmup).to_string());
        assert_eq!(row[col("slo_attainment")].parse::<f64>(), Ok(1.0));
        // 30 arrivals: too few for a verdict, an empty string column.
        assert_eq!(row[col("load_verdict")], "");
    }
    // The verdict is a per-run label: it has no mean in the summary.
    let summary = std::fs::read_to_string(results.join("summary.csv")).expect("summary.csv");
    assert!(!summary.contains("load_verdict"), "{summary}");
    assert!(summary.contains("slo_attainment_mean"), "{summary}");
}

#[test]
fn the_verdict_is_a_string_column_of_the_runs_table() {
    let dir = TempDir::new("verdict");
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"verdict\"\nbase = {TINY:?}\n[set]\nworkload.num_requests = 2000\n\
             [axes]\nworkload.arrival_rate = [5.0, 400.0]\n"
        ),
    )
    .expect("write a spec");
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
    let at = header
        .iter()
        .position(|h| *h == "load_verdict")
        .expect("a load_verdict column");
    let verdicts: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(at).expect("a field"))
        .collect();
    assert_eq!(verdicts, ["stable", "overloaded"]);
}

/// Each bad value exits 1 with one line on stderr naming the key and what is allowed.
#[test]
fn bad_slo_metrics_and_ramp_values_are_one_line_errors() {
    let tiny = std::fs::read_to_string(TINY).expect("the tiny config");
    let with_section = |section: &str| format!("{tiny}\n{section}\n");
    let with_workload = |line: &str| tiny.replacen("seed = 7", &format!("seed = 7\n{line}"), 1);
    let closed = |line: &str| {
        with_workload(line).replacen(
            "arrival_pattern = \"poisson\"",
            "arrival_pattern = \"closed_loop\"",
            1,
        )
    };
    let cases = [
        (with_section("[slo]\nttft_ms = -5"), "slo.ttft_ms = -5 is invalid: it must be a number greater than 0"),
        (with_section("[slo]\ntpot_ms = nan"), "slo.tpot_ms = NaN is invalid"),
        (with_section("[slo]\ne2e_ms = 0"), "slo.e2e_ms = 0 is invalid"),
        (with_section("[slo]\nattainment = 1.5"), "slo.attainment = 1.5 is invalid: it must be in (0, 1]"),
        (with_section("[slo]\nattainment = 0"), "slo.attainment = 0 is invalid"),
        (with_section("[slo]\nttft = 500"), "unknown key `ttft` in [slo]; allowed keys: `ttft_ms`"),
        (with_section("[metrics]\nwarmup_secs = 0"), "metrics.warmup_secs = 0 is invalid"),
        (with_section("[metrics]\nwarmup_requests = 0"), "metrics.warmup_requests = 0 is invalid: it must be at least 1"),
        (with_section("[metrics]\nwarmup = 1"), "unknown key `warmup` in [metrics]"),
        (with_workload("ramp_up_secs = 1.0"), "workload.ramp_up_secs is set but arrival_pattern = \"poisson\": it applies to closed_loop only"),
        (closed("ramp_up_secs = -1.0"), "workload.ramp_up_secs = -1 is invalid: it must be a number >= 0"),
    ];
    let dir = TempDir::new("bad");
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.join(&format!("bad{i}.toml"));
        std::fs::write(&path, text).expect("write a config");
        let out = run(&[OsStr::new("-q"), OsStr::new("-c"), path.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{want}: {}", describe(&out));
        assert!(out.stdout.is_empty(), "{want}: {}", describe(&out));
        assert_eq!(stderr.lines().count(), 1, "{want}: {stderr}");
        assert!(stderr.starts_with("error:"), "{stderr}");
        assert!(stderr.contains(want), "want {want:?} in {stderr}");
    }
    // The same ramp is fine for closed_loop.
    let path = dir.join("ok.toml");
    std::fs::write(&path, closed("ramp_up_secs = 1.0")).expect("write a config");
    let out = run(&[OsStr::new("-q"), OsStr::new("-c"), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn a_warmup_that_leaves_out_every_request_warns() {
    // tiny.toml has 30 requests.
    let out = run(&["-c", TINY, "--set", "metrics.warmup_requests=30", "-o", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("warning: [metrics] left every request out as warm-up"),
        "{stderr}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["metrics"]["requests_total"], 0);
    assert_eq!(doc["metrics"]["ttft_ms_p99"], Value::Null);
    // One request fewer left out: measured, no warning.
    let out = run(&["-c", TINY, "--set", "metrics.warmup_requests=29", "-o", "-"]);
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}
