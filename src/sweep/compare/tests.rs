use super::*;
use crate::sweep::journal::RunRecord;
use crate::sweep::{expand, SweepSpec};
use std::path::PathBuf;

use crate::testing::toy_batched;

fn spec(test: &str, body: &str) -> (PathBuf, std::result::Result<SweepSpec, String>) {
    let dir = std::env::temp_dir().join(format!("il-compare-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.toml"), toy_batched()).unwrap();
    let path = dir.join("spec.toml");
    std::fs::write(&path, format!("name = \"c\"\nbase = \"c.toml\"\n{body}")).unwrap();
    let spec = SweepSpec::load(&path).map_err(|e| e.to_string());
    (dir, spec)
}

/// A record for each run: `value(run)` is its ttft_ms_p99 (None = the run failed).
fn records(
    grid: &Grid,
    value: impl Fn(&crate::sweep::RunPoint) -> Option<f64>,
) -> HashMap<String, RunRecord> {
    grid.runs
        .iter()
        .map(|r| {
            let v = value(r);
            let metrics = crate::sweep::metric_row::MetricRow::from_pairs([
                ("ttft_ms_p99", v),
                ("kv_cache_util_mean", Some(0.5)),
            ]);
            let record = RunRecord {
                run_id: r.run_id.clone(),
                status: if v.is_some() { "ok" } else { "error" }.into(),
                error: v.is_none().then(|| "boom".into()),
                wall_ms: 1.0,
                seed: r.seed,
                params: Default::default(),
                metrics,
                labels: Default::default(),
                classes: Vec::new(),
            };
            (r.run_id.clone(), record)
        })
        .collect()
}

fn policy(r: &crate::sweep::RunPoint) -> &str {
    r.params[0].as_str().unwrap()
}

#[test]
fn pairs_runs_by_seed_against_the_baseline_sharing_the_other_axes() {
    let (dir, spec) = spec(
        "pairs",
        "seeds = 5\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\nscheduler.max_num_seqs = [4, 8]\n\
         [compare]\nbaseline = { \"scheduler.policy\" = \"fcfs\" }",
    );
    let spec = spec.unwrap();
    let grid = expand(&spec).unwrap();
    // fcfs: 10 + seed (+100 at 8 seqs); sif: the same minus the scipy example's differences.
    let d = [0.4, 1.1, -0.1, 1.2, 0.9];
    let recs = records(&grid, |r| {
        let seqs = r.params[1].as_integer().unwrap();
        let base = 10.0 + r.seed as f64 + if seqs == 8 { 100.0 } else { 0.0 };
        Some(match policy(r) {
            "fcfs" => base,
            _ => base - d[(r.seed - 1) as usize],
        })
    });
    let rows = comparisons(&grid, &spec.axes, spec.compare.as_ref().unwrap(), &recs);
    let schema = RunSummary::metric_schema().len();
    assert_eq!(rows.len(), 2 * schema, "two sif points x every metric");
    let p99: Vec<&Comparison> = rows.iter().filter(|r| r.metric == "ttft_ms_p99").collect();
    for (row, seqs) in p99.iter().zip([4, 8]) {
        let run = &grid.runs[row.run];
        assert_eq!(
            (policy(run), run.params[1].as_integer()),
            ("sif", Some(seqs))
        );
        assert_eq!(row.n, 5);
        let base_mean = 13.0 + if seqs == 8 { 100.0 } else { 0.0 };
        assert!((row.baseline_mean.unwrap() - base_mean).abs() < 1e-12);
        assert!((row.diff_mean.unwrap() + 0.7).abs() < 1e-12);
        assert!((row.mean.unwrap() - (base_mean - 0.7)).abs() < 1e-12);
        // scipy.stats.ttest_rel: p = 0.04492922575367641; interval of the negated differences.
        assert!((row.p_value.unwrap() - 0.044_929_225_753_676_41).abs() < 1e-9);
        let (lo, hi) = row.diff_ci.unwrap();
        assert!(
            (lo + 1.374_396_172_815_676).abs() < 1e-9
                && (hi + 0.025_603_827_184_324_857).abs() < 1e-9
        );
        assert!((row.rel_diff.unwrap() + 0.7 / base_mean).abs() < 1e-12);
        // Lower TTFT is better: 4 seeds better, 1 worse (the -0.1 difference).
        assert_eq!(row.record, Some((4, 0, 1)));
    }
    // A metric with no better direction has no wins/ties/losses; identical values give p = 1.
    let util = rows
        .iter()
        .find(|r| r.metric == "kv_cache_util_mean")
        .unwrap();
    assert_eq!((util.record, util.p_value, util.n), (None, Some(1.0), 5));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_failed_baseline_leaves_nothing_to_pair() {
    let (dir, spec) = spec(
        "failed",
        "seeds = 3\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\", \"lof\"]\n\
         [compare]\nbaseline = { \"scheduler.policy\" = \"fcfs\" }",
    );
    let spec = spec.unwrap();
    let grid = expand(&spec).unwrap();
    // The baseline fails on every seed; lof's seed 2 fails too.
    let recs = records(&grid, |r| match (policy(r), r.seed) {
        ("fcfs", _) | ("lof", 2) => None,
        _ => Some(r.seed as f64),
    });
    let rows = comparisons(&grid, &spec.axes, spec.compare.as_ref().unwrap(), &recs);
    let p99: Vec<&Comparison> = rows.iter().filter(|r| r.metric == "ttft_ms_p99").collect();
    assert_eq!(p99.len(), 2);
    for row in p99 {
        assert_eq!(row.n, 0);
        assert_eq!(
            (row.mean, row.diff_mean, row.p_value, row.diff_ci),
            (None, None, None, None)
        );
        assert_eq!(row.record, Some((0, 0, 0)));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn only_seeds_where_both_succeeded_pair() {
    let (dir, spec) = spec(
        "partial",
        "seeds = 3\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\n\
         [compare]\nbaseline = { \"scheduler.policy\" = \"fcfs\" }",
    );
    let spec = spec.unwrap();
    let grid = expand(&spec).unwrap();
    let recs = records(&grid, |r| match (policy(r), r.seed) {
        ("sif", 3) => None,
        ("fcfs", s) => Some(10.0 * s as f64),
        (_, s) => Some(10.0 * s as f64 + 1.0),
    });
    let rows = comparisons(&grid, &spec.axes, spec.compare.as_ref().unwrap(), &recs);
    let row = rows.iter().find(|r| r.metric == "ttft_ms_p99").unwrap();
    assert_eq!(
        (row.n, row.baseline_mean, row.mean),
        (2, Some(15.0), Some(16.0))
    );
    assert_eq!(
        (row.diff_mean, row.p_value, row.diff_ci),
        (Some(1.0), Some(0.0), Some((1.0, 1.0)))
    );
    assert_eq!(row.record, Some((0, 0, 2)));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_zipped_baseline_moves_its_whole_group_and_excluded_baselines_give_empty_rows() {
    let (dir, spec) = spec(
        "zip",
        "seeds = 2\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\n\
         [[zip]]\nworkload.num_concurrent_users = [2, 4]\nworkload.num_requests = [20, 40]\n\
         [[exclude]]\nscheduler.policy = \"sif\"\nworkload.num_concurrent_users = 2\n\
         [compare]\nbaseline = { \"workload.num_concurrent_users\" = 2 }",
    );
    let spec = spec.unwrap();
    let grid = expand(&spec).unwrap();
    let recs = records(&grid, |r| {
        Some(r.params[1].as_integer().unwrap() as f64 + r.seed as f64)
    });
    let rows = comparisons(&grid, &spec.axes, spec.compare.as_ref().unwrap(), &recs);
    let p99: Vec<&Comparison> = rows.iter().filter(|r| r.metric == "ttft_ms_p99").collect();
    // (fcfs, 4 users) against (fcfs, 2 users); (sif, 4 users) has no baseline: excluded.
    assert_eq!(p99.len(), 2);
    assert_eq!(policy(&grid.runs[p99[0].run]), "fcfs");
    assert_eq!((p99[0].n, p99[0].diff_mean), (2, Some(2.0)));
    assert_eq!(policy(&grid.runs[p99[1].run]), "sif");
    assert_eq!((p99[1].n, p99[1].mean), (0, None));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_baseline_must_name_axis_values() {
    let cases = [
        (
            "[compare]\nbaseline = { \"scheduler.policy\" = \"lof\" }",
            "none of the axis values [\"fcfs\", \"sif\"]",
        ),
        (
            "[compare]\nbaseline = { \"scheduler.max_num_seqs\" = 4 }",
            "not an axis of this sweep",
        ),
        (
            "[compare]\nbaseline = { \"workload.seed\" = 1 }",
            "seeds are what comparisons pair",
        ),
        ("[compare]\nbaseline = {}", "baseline is empty"),
        (
            "[compare]\nbase_line = 1",
            "unknown key `base_line` in [compare]",
        ),
        ("[compare]\nbaseline = \"fcfs\"", "must be a table"),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        let (dir, spec) = spec(
            &format!("bad{i}"),
            &format!("seeds = 2\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\n{body}"),
        );
        let e = spec.unwrap_err();
        assert!(e.contains(want), "{body}: {e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
    // Numbers match whatever their TOML spelling.
    let (dir, spec) = spec(
        "float",
        "[axes]\nscheduler.max_num_seqs = [4, 8]\n[compare]\nbaseline = { \"scheduler.max_num_seqs\" = 4.0 }",
    );
    assert!(spec.is_ok(), "{spec:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn directions() {
    assert_eq!(better("ttft_ms_p99"), Some(Better::Lower));
    assert_eq!(better("output_tokens_per_s"), Some(Better::Higher));
    assert_eq!(better("preemptions_total"), Some(Better::Lower));
    assert_eq!(better("kv_cache_util_mean"), None);
    assert_eq!(better("steps"), None);
}
