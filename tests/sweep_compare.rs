//! End-to-end tests of `[compare]`: the real binary writes comparisons.{csv,parquet} whose
//! differences agree with the runs table paired by seed, drops the table when the spec stops
//! comparing, and gives a baseline that failed empty rows.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;

use common::sweep::{column_f64, column_str, describe, read_parquet, Scratch};

/// A spec named `cmp` over the tiny fixture, swept on two threads.
fn sweep(s: &Scratch, body: &str) -> Output {
    s.spec("cmp", body);
    s.run(&["sweep", "cmp.toml", "-j", "2"])
}

fn results(s: &Scratch) -> PathBuf {
    s.path("results/cmp")
}

const GRID: &str = "seeds = 3\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\", \"lof\"]\n\
                    scheduler.max_num_batched_tokens = [256, 8192]\n";

#[test]
fn comparisons_pair_the_runs_table_by_seed() {
    let s = Scratch::new("il-compare-e2e", "pairs");
    let out = sweep(
        &s,
        &format!("{GRID}[compare]\nbaseline = {{ \"scheduler.policy\" = \"fcfs\" }}\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let dir = results(&s);
    assert!(dir.join("comparisons.csv").is_file());
    let cmp = read_parquet(&dir.join("comparisons.parquet"));
    let runs = read_parquet(&dir.join("runs.parquet"));
    let want: Vec<&str> = vec![
        "scheduler.policy",
        "scheduler.max_num_batched_tokens",
        "metric",
        "n",
        "baseline_mean",
        "mean",
        "diff_mean",
        "diff_ci_low",
        "diff_ci_high",
        "rel_diff",
        "p_value",
        "wins",
        "ties",
        "losses",
    ];
    let got: Vec<String> = cmp
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(got, want);

    // The differences of TTFT p99, recomputed from the runs table by pairing seeds.
    let policy = column_str(&runs, "scheduler.policy");
    let budget = column_str(&runs, "scheduler.max_num_batched_tokens");
    let seed = column_str(&runs, "seed");
    let p99 = column_f64(&runs, "ttft_ms_p99");
    let mut by: HashMap<(String, String, String), f64> = HashMap::new();
    for i in 0..runs.height() {
        by.insert(
            (policy[i].clone(), budget[i].clone(), seed[i].clone()),
            p99[i].unwrap(),
        );
    }
    let metric = column_str(&cmp, "metric");
    let c_policy = column_str(&cmp, "scheduler.policy");
    let c_budget = column_str(&cmp, "scheduler.max_num_batched_tokens");
    let diff = column_f64(&cmp, "diff_mean");
    let n = column_f64(&cmp, "n");
    let p = column_f64(&cmp, "p_value");
    let mut checked = 0;
    for i in 0..cmp.height() {
        assert_ne!(c_policy[i], "fcfs", "the baseline is compared with nothing");
        if metric[i] != "ttft_ms_p99" {
            continue;
        }
        let diffs: Vec<f64> = ["1", "2", "3"]
            .iter()
            .map(|sd| {
                let key = |pol: &str| (pol.to_string(), c_budget[i].clone(), sd.to_string());
                by[&key(&c_policy[i])] - by[&key("fcfs")]
            })
            .collect();
        let mean = diffs.iter().sum::<f64>() / 3.0;
        assert!((diff[i].unwrap() - mean).abs() <= 1e-9 * mean.abs().max(1.0));
        assert_eq!(n[i], Some(3.0));
        let p = p[i].unwrap();
        assert!((0.0..=1.0).contains(&p), "p = {p}");
        checked += 1;
    }
    assert_eq!(checked, 4, "sif and lof at two budgets");

    // Without [compare] the next run removes the table of the earlier one.
    let out = sweep(&s, GRID);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!dir.join("comparisons.csv").exists());
    assert!(!dir.join("comparisons.parquet").exists());
    assert!(dir.join("summary.parquet").exists());
}

#[test]
fn a_baseline_that_failed_gives_rows_with_nothing_paired() {
    let s = Scratch::new("il-compare-e2e", "failed");
    // max_num_seqs = 0 is invalid: the baseline point's runs are error rows.
    let out = sweep(
        &s,
        "seeds = 2\n[axes]\nscheduler.max_num_seqs = [0, 16]\n\
         [compare]\nbaseline = { \"scheduler.max_num_seqs\" = 0 }\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let cmp = read_parquet(&results(&s).join("comparisons.parquet"));
    assert!(cmp.height() > 10);
    assert!(column_f64(&cmp, "n").iter().all(|n| *n == Some(0.0)));
    assert!(column_f64(&cmp, "diff_mean").iter().all(Option::is_none));
    assert!(column_f64(&cmp, "p_value").iter().all(Option::is_none));
}

#[test]
fn a_baseline_that_is_no_axis_value_stops_the_sweep() {
    let s = Scratch::new("il-compare-e2e", "bad");
    let out = sweep(
        &s,
        &format!("{GRID}[compare]\nbaseline = {{ \"scheduler.policy\" = \"sjf_typo\" }}\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("none of the axis values"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
