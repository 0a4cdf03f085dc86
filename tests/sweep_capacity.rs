//! End-to-end tests of capacity search (`{ search = "max", lo, hi, tolerance }`): the found
//! value agrees with a dense ladder of the same axis seed by seed, a killed search resumes to
//! the same table, shards merge to it, thread counts do not change it, and specs that cannot
//! be searched are refused before anything runs.

mod common;

use std::collections::HashMap;

use common::sweep::{column_f64, column_str, describe, read_parquet, Scratch};

/// The SLO every search and ladder here is judged by: 90% of 100 tiny requests with their
/// first token within 60 ms.
const SET: &str = "[set]\nworkload.num_requests = 100\nslo.ttft_ms = 60\nslo.attainment = 0.9\n";
const SEARCH: &str =
    "workload.arrival_rate = { search = \"max\", lo = 1.0, hi = 400.0, tolerance = 0.05 }\n";

fn search_spec(extra_axes: &str) -> String {
    format!("seeds = 3\n{SET}[axes]\n{extra_axes}{SEARCH}")
}

fn ok(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
}

/// (seed, rate) -> slo_met of every run in a runs table.
fn verdicts(dir: &std::path::Path) -> HashMap<(u64, u64), bool> {
    let runs = read_parquet(&dir.join("runs.parquet"));
    let seeds = column_f64(&runs, "seed");
    let rates = column_f64(&runs, "workload.arrival_rate");
    let met = column_f64(&runs, "slo_met");
    (0..runs.height())
        .map(|i| {
            let key = (seeds[i].unwrap() as u64, rates[i].unwrap().to_bits());
            (key, met[i].unwrap() == 1.0)
        })
        .collect()
}

#[test]
fn the_search_agrees_with_a_dense_ladder_seed_by_seed() {
    let tmp = Scratch::new("il-capacity", "ladder");
    tmp.spec("search", &search_spec(""));
    ok(&tmp.run(&["sweep", "search.toml", "-j", "2"]));
    let capacity = read_parquet(&tmp.path("results/search/capacity.parquet"));
    assert_eq!(capacity.height(), 1);
    assert_eq!(column_str(&capacity, "searched"), ["workload.arrival_rate"]);
    assert_eq!(column_f64(&capacity, "n"), [Some(3.0)]);
    let per_seed: Vec<f64> = column_str(&capacity, "per_seed")[0]
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(per_seed.len(), 3);
    let mean = per_seed.iter().sum::<f64>() / 3.0;
    assert!((column_f64(&capacity, "mean")[0].unwrap() - mean).abs() < 1e-9);
    let lo = column_f64(&capacity, "ci_low")[0].unwrap();
    let hi = column_f64(&capacity, "ci_high")[0].unwrap();
    assert!(lo < mean && mean < hi, "{lo} {mean} {hi}");

    // A ladder of the same axis in 2% steps over the region the capacities fall in.
    let from = per_seed.iter().copied().fold(f64::INFINITY, f64::min) * 0.8;
    let to = per_seed.iter().copied().fold(0.0, f64::max) * 1.2;
    let mut ladder = vec![from];
    while *ladder.last().unwrap() < to {
        let next = (ladder.last().unwrap() * 1.02 * 100.0).round() / 100.0;
        ladder.push(next);
    }
    let values: Vec<String> = ladder.iter().map(|v| format!("{v:?}")).collect();
    tmp.spec(
        "ladder",
        &format!(
            "seeds = 3\n{SET}[axes]\nworkload.arrival_rate = [{}]\n",
            values.join(", ")
        ),
    );
    ok(&tmp.run(&["sweep", "ladder.toml", "-j", "2"]));
    let ladder_runs = verdicts(&tmp.path("results/ladder"));
    for (seed, found) in (1..=3).zip(&per_seed) {
        // The ladder's last passing value before its first miss.
        let last_pass = ladder
            .iter()
            .take_while(|v| ladder_runs[&(seed, v.to_bits())])
            .last()
            .copied()
            .unwrap_or_else(|| panic!("seed {seed}: the ladder's first value already misses"));
        let step = last_pass * 0.02;
        assert!(
            (found - last_pass).abs() <= found * 0.05 + step + 1e-9,
            "seed {seed}: search found {found}, ladder's last pass {last_pass}"
        );
    }
}

#[test]
fn a_killed_search_resumes_to_the_same_table_and_threads_do_not_change_it() {
    let tmp = Scratch::new("il-capacity", "resume");
    let spec = search_spec("scheduler.policy = [\"fcfs\", \"lof\"]\n");
    tmp.spec(
        "cap",
        &format!("{spec}[compare]\nbaseline = {{ \"scheduler.policy\" = \"fcfs\" }}\n"),
    );
    let whole = tmp.run(&["sweep", "cap.toml", "-j", "2", "-o", "whole"]);
    ok(&whole);
    let stdout = String::from_utf8_lossy(&whole.stdout);
    assert!(
        stdout.contains("capacity: the largest workload.arrival_rate in [1.000, 400.0]")
            && stdout.contains("scheduler.policy = lof")
            && stdout.contains("vs its baseline:"),
        "{stdout}"
    );
    let table = std::fs::read_to_string(tmp.path("whole/capacity.csv")).unwrap();
    let header = table.lines().next().unwrap();
    assert!(header.ends_with("p_value,wins,ties,losses"), "{header}");
    assert!(!tmp.path("whole/comparisons.csv").exists());

    // Kill it halfway: keep the first half of the journal and a torn line.
    ok(&tmp.run(&["sweep", "cap.toml", "-j", "2", "-o", "killed"]));
    let journal = tmp.path("killed/journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kept = lines[..lines.len() / 2].join("\n") + "\n{\"run_id\": \"torn";
    std::fs::write(&journal, kept).unwrap();
    std::fs::remove_file(tmp.path("killed/capacity.csv")).unwrap();
    let resumed = tmp.run(&["sweep", "cap.toml", "-j", "1", "-o", "killed"]);
    ok(&resumed);
    let said = String::from_utf8_lossy(&resumed.stdout);
    let done = format!("{} already done", lines.len() / 2);
    assert!(said.contains(&done), "{said}");
    assert_eq!(
        std::fs::read_to_string(tmp.path("killed/capacity.csv")).unwrap(),
        table,
        "resumed on one thread"
    );

    // Two shards into one folder, then a merge that walks the searches over their journals.
    for shard in ["0/2", "1/2"] {
        ok(&tmp.run(&["sweep", "cap.toml", "-o", "sharded", "--shard", shard]));
    }
    ok(&tmp.run(&["sweep", "merge", "sharded"]));
    assert_eq!(
        std::fs::read_to_string(tmp.path("sharded/capacity.csv")).unwrap(),
        table,
        "merged shards"
    );
    let runs =
        |dir: &str| std::fs::read_to_string(tmp.path(&format!("{dir}/summary.csv"))).unwrap();
    assert_eq!(runs("sharded"), runs("whole"));
}

#[test]
fn specs_that_cannot_be_searched_are_refused() {
    let tmp = Scratch::new("il-capacity", "refused");
    let cases = [
        (
            format!("[axes]\n{SEARCH}"),
            "no [slo] with a threshold and an attainment target",
        ),
        (
            format!("{SET}[axes]\n{SEARCH}scheduler.max_num_seqs = {{ search = \"max\", lo = 1, hi = 9 }}\n"),
            "a sweep searches one axis",
        ),
        (
            format!("{SET}[axes]\n{SEARCH}[compare]\nbaseline = {{ \"workload.arrival_rate\" = 1.0 }}\n"),
            "which is searched",
        ),
        (
            format!("{SET}[axes]\nworkload.arrival_rate = {{ search = \"max\", lo = 8, hi = 2 }}\n"),
            "0 < lo < hi",
        ),
    ];
    for (body, needle) in cases {
        tmp.spec("bad", &body);
        let out = tmp.run(&["sweep", "bad.toml", "--dry-run"]);
        assert_eq!(out.status.code(), Some(1), "{body}\n{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{body}\n{stderr}");
    }
}

#[test]
fn the_dry_run_says_what_a_search_will_do() {
    let tmp = Scratch::new("il-capacity", "dry");
    tmp.spec(
        "cap",
        &search_spec("scheduler.policy = [\"fcfs\", \"lof\"]\n"),
    );
    let out = tmp.run(&["sweep", "cap.toml", "--dry-run"]);
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 points x 3 seeds = 6 searches of workload.arrival_rate in [1, 400] to 5%, up to 10 runs each"),
        "{stdout}"
    );
}

#[test]
fn slurm_counts_searches_with_work_left() {
    let tmp = Scratch::new("il-capacity", "slurm");
    tmp.spec("cap", &search_spec(""));
    let slurm = |out: &str| {
        let run = tmp.run(&[
            "sweep",
            "cap.toml",
            "--slurm",
            "--array-size",
            "2",
            "-o",
            out,
        ]);
        ok(&run);
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    assert!(slurm("res").contains("array of 2 tasks over 3 searches, 3 to do"));
    // Done locally, nothing is left; with the journal cut short (lo probes done, searches
    // not), every search has work again.
    ok(&tmp.run(&["sweep", "cap.toml", "-o", "res"]));
    assert!(slurm("res").contains("3 searches, 0 to do"));
    let journal = tmp.path("res/journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let first: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&journal, first.join("\n") + "\n").unwrap();
    let said = slurm("res");
    assert!(said.contains("3 searches, 3 to do"), "{said}");
}
