//! Per-request records and time series (`--requests`, `--timeseries`): the rows reproduce
//! the run's summary (means and quantiles recomputed from them), the series integrates to
//! its utilisations and counts, every format reads back, and bad flags are refused.

mod common;

use common::cli::{describe, run, text, TempDir, ROOT};
use common::sweep::{column_f64, column_str, read_parquet};
use polars::prelude::*;

/// numpy's default quantile (linear between the closest ranks), as the summary computes it.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = p * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    if frac == 0.0 {
        sorted[lo]
    } else {
        sorted[lo] + frac * (sorted[lo + 1] - sorted[lo])
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-9)
}

fn simulate(dir: &TempDir, config: &str, extra: &[&str]) -> serde_json::Value {
    let json = dir.join("run.json");
    let config = format!("{ROOT}/{config}");
    let mut args = vec!["-c", &config, "-q", "-o", json.to_str().unwrap()];
    args.extend(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn numbers(frame: &DataFrame, name: &str) -> Vec<f64> {
    column_f64(frame, name).into_iter().flatten().collect()
}

#[test]
fn request_rows_reproduce_the_summary() {
    let dir = TempDir::new("rows");
    let requests = dir.join("requests.parquet");
    let doc = simulate(
        &dir,
        "configs/chat-llama3-8b-h100.toml",
        &["--requests", requests.to_str().unwrap()],
    );
    let m = &doc["metrics"];
    assert_eq!(doc["outputs"]["requests"], "requests.parquet");
    let rows = read_parquet(&requests);
    assert_eq!(
        rows.height() as u64,
        m["requests_completed"].as_u64().unwrap()
    );
    for metric in ["ttft_ms", "e2e_ms", "tpot_ms"] {
        let mut values = numbers(&rows, metric);
        values.sort_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let summary = |s: &str| m[format!("{metric}_{s}")].as_f64().unwrap();
        assert!(close(mean, summary("mean")), "{metric} mean");
        for (p, s) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
            assert!(close(quantile(&values, p), summary(s)), "{metric} {s}");
        }
        assert!(close(values[0], summary("min")), "{metric} min");
    }
    let prompt: f64 = numbers(&rows, "prompt_tokens").iter().sum();
    assert_eq!(prompt, m["input_tokens"].as_f64().unwrap());
    let output: f64 = numbers(&rows, "output_tokens").iter().sum();
    assert_eq!(output, m["output_tokens"].as_f64().unwrap());
    // Every request was scheduled after it arrived and before its first token.
    let arrival = numbers(&rows, "arrival_s");
    let scheduled = numbers(&rows, "first_scheduled_s");
    let first = numbers(&rows, "first_token_s");
    for i in 0..rows.height() {
        assert!(
            arrival[i] <= scheduled[i] && scheduled[i] <= first[i],
            "row {i}"
        );
    }
    let ids = numbers(&rows, "id");
    let mut unique = ids.clone();
    unique.sort_by(f64::total_cmp);
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "each request once");
}

#[test]
fn the_time_series_integrates_to_the_summary() {
    let dir = TempDir::new("series");
    let series = dir.join("series.csv");
    let doc = simulate(
        &dir,
        "configs/chat-llama3-8b-h100.toml",
        &[
            "--timeseries",
            series.to_str().unwrap(),
            "--interval",
            "0.25",
        ],
    );
    let m = &doc["metrics"];
    let frame = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(series.clone()))
        .unwrap()
        .finish()
        .unwrap();
    let times = numbers(&frame, "time_s");
    assert_eq!(times[1] - times[0], 0.25);
    let sum = |name: &str| numbers(&frame, name).iter().sum::<f64>();
    let makespan = m["simulated_s"].as_f64().unwrap();
    for (column, metric) in [
        ("kv_cache_util", "kv_cache_util_mean"),
        ("busy_fraction", "busy_fraction"),
    ] {
        let integral = sum(column) * 0.25 / makespan;
        assert!(
            close(integral, m[metric].as_f64().unwrap()),
            "{column}: {integral}"
        );
    }
    for (column, metric) in [
        ("arrivals", "requests_total"),
        ("completions", "requests_completed"),
        ("output_tokens", "output_tokens"),
        ("preemptions", "preemptions_total"),
        ("steps", "steps"),
    ] {
        assert_eq!(sum(column), m[metric].as_f64().unwrap(), "{column}");
    }
    // Without preemptions every prompt token is computed once in prefill (less what the
    // prefix cache held) and every output token but the first once in decode.
    assert_eq!(m["preemptions_total"], 0);
    let count = |k: &str| m[k].as_f64().unwrap();
    assert_eq!(
        sum("decode_tokens"),
        count("output_tokens") - count("requests_completed")
    );
    assert_eq!(
        sum("prefill_tokens"),
        count("input_tokens") - count("prefix_cache_hit_tokens")
    );
    // JSON lines: one object per completed request.
    let requests = dir.join("requests.jsonl");
    simulate(
        &dir,
        "configs/chat-llama3-8b-h100.toml",
        &["--requests", requests.to_str().unwrap()],
    );
    let lines = std::fs::read_to_string(&requests).unwrap();
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len() as u64, m["requests_completed"].as_u64().unwrap());
    assert!(rows[0]["class"].is_null() && rows[0]["tpot_ms"].is_number());
}

#[test]
fn a_fleet_names_each_requests_replica_and_its_class() {
    let dir = TempDir::new("fleet");
    let requests = dir.join("requests.csv");
    let config = dir.join("fleet.toml");
    let base = std::fs::read_to_string(format!("{ROOT}/tests/fixtures/tiny.toml")).unwrap();
    std::fs::write(
        &config,
        base + "\n[cluster]\nreplicas = 3\n\n[[workload.classes]]\nname = \"chat\"\nfraction = 0.5\n\n\
                [[workload.classes]]\nname = \"batch\"\nfraction = 0.5\n",
    )
    .unwrap();
    let out = run(&[
        "-c",
        config.to_str().unwrap(),
        "-q",
        "--requests",
        requests.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let frame = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(requests.clone()))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(frame.height(), 30);
    let replicas = numbers(&frame, "replica");
    assert!(replicas.iter().all(|&r| r < 3.0));
    assert!(
        (0..3).all(|r| replicas.contains(&f64::from(r))),
        "{replicas:?}"
    );
    let classes = column_str(&frame, "class");
    assert!(classes.iter().all(|c| c == "chat" || c == "batch"));
    // The same seed writes the same file.
    let again = dir.join("again.csv");
    let out = run(&[
        "-c",
        config.to_str().unwrap(),
        "-q",
        "--requests",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(&requests).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn bad_record_flags_are_refused() {
    let dir = TempDir::new("bad");
    let config = format!("{ROOT}/tests/fixtures/tiny.toml");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--requests", "out.txt"],
            "name the file .csv, .parquet or .jsonl",
        ),
        (
            &["--timeseries", "t.csv", "--interval", "0"],
            "--interval 0 is invalid",
        ),
        (
            &["--timeseries", "t.csv", "--interval", "NaN"],
            "--interval NaN is invalid",
        ),
        (&["--requests", "/nonexistent/dir/r.csv"], "does not exist"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["-c", &config, "-q"];
        args.extend(flags);
        let out = std::process::Command::new(common::cli::BIN)
            .args(&args)
            .current_dir(&dir.0)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {}", describe(&out));
        assert!(
            text(&out.stderr).contains(message),
            "{flags:?}: {}",
            describe(&out)
        );
    }
    let out = run(&["-c", &config, "-q", "--interval", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("--timeseries"),
        "{}",
        describe(&out)
    );
}

#[test]
fn disaggregated_and_warmed_up_runs_record_what_the_summary_counts() {
    let dir = TempDir::new("pd");
    let requests = dir.join("pd.parquet");
    // Prefill/decode disaggregation: each request is recorded once, on its decode replica,
    // with the history of its prefill.
    let doc = simulate(
        &dir,
        "configs/pd-llama3-8b-h100x8.toml",
        &["--requests", requests.to_str().unwrap()],
    );
    let rows = read_parquet(&requests);
    assert_eq!(
        rows.height() as u64,
        doc["metrics"]["requests_completed"].as_u64().unwrap()
    );
    let scheduled = numbers(&rows, "first_scheduled_s");
    let first = numbers(&rows, "first_token_s");
    let done = numbers(&rows, "completion_s");
    for i in 0..rows.height() {
        assert!(scheduled[i] <= first[i] && first[i] <= done[i], "row {i}");
    }
    let mut ttft = numbers(&rows, "ttft_ms");
    ttft.sort_by(f64::total_cmp);
    assert!(close(
        quantile(&ttft, 0.99),
        doc["metrics"]["ttft_ms_p99"].as_f64().unwrap()
    ));
    // A warm-up leaves its requests out of the records as out of the summary.
    let warm = dir.join("warm.csv");
    let doc = simulate(
        &dir,
        "tests/fixtures/tiny.toml",
        &[
            "--set",
            "metrics.warmup_requests=10",
            "--requests",
            warm.to_str().unwrap(),
        ],
    );
    let rows = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(warm))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(doc["metrics"]["requests_completed"], 20);
    assert_eq!(rows.height(), 20);
    assert!(numbers(&rows, "id").iter().all(|&id| id >= 10.0));
}
