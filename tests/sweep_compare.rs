//! End-to-end tests of `[compare]`: the real binary writes comparisons.{csv,parquet} whose
//! differences agree with the runs table paired by seed, drops the table when the spec stops
//! comparing, and gives a baseline that failed empty rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use polars::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");

struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("il-compare-e2e-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn sweep(&self, body: &str) -> Output {
        let spec = self.0.join("spec.toml");
        let base = toml::Value::from(TINY).to_string();
        std::fs::write(&spec, format!("name = \"cmp\"\nbase = {base}\n{body}")).unwrap();
        Command::new(BIN)
            .args(["sweep", "spec.toml", "-j", "2"])
            .current_dir(&self.0)
            .stdin(Stdio::null())
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_ARRAY_TASK_COUNT")
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap()
    }

    fn results(&self) -> PathBuf {
        self.0.join("results/cmp")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().unwrap()
}

fn column_f64(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let c = df.column(name).unwrap().cast(&DataType::Float64).unwrap();
    let c = c.f64().unwrap();
    (0..c.len()).map(|i| c.get(i)).collect()
}

fn column_str(df: &DataFrame, name: &str) -> Vec<String> {
    let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
    let c = c.str().unwrap();
    (0..c.len())
        .map(|i| c.get(i).unwrap_or("").to_string())
        .collect()
}

fn describe(out: &Output) -> String {
    format!(
        "{:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const GRID: &str = "seeds = 3\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\", \"lof\"]\n\
                    scheduler.max_num_batched_tokens = [256, 8192]\n";

#[test]
fn comparisons_pair_the_runs_table_by_seed() {
    let s = Scratch::new("pairs");
    let out = s.sweep(&format!(
        "{GRID}[compare]\nbaseline = {{ \"scheduler.policy\" = \"fcfs\" }}\n"
    ));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let dir = s.results();
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
    let out = s.sweep(GRID);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!dir.join("comparisons.csv").exists());
    assert!(!dir.join("comparisons.parquet").exists());
    assert!(dir.join("summary.parquet").exists());
}

#[test]
fn a_baseline_that_failed_gives_rows_with_nothing_paired() {
    let s = Scratch::new("failed");
    // max_num_seqs = 0 is invalid: the baseline point's runs are error rows.
    let out = s.sweep(
        "seeds = 2\n[axes]\nscheduler.max_num_seqs = [0, 16]\n\
         [compare]\nbaseline = { \"scheduler.max_num_seqs\" = 0 }\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let cmp = read_parquet(&s.results().join("comparisons.parquet"));
    assert!(cmp.height() > 10);
    assert!(column_f64(&cmp, "n").iter().all(|n| *n == Some(0.0)));
    assert!(column_f64(&cmp, "diff_mean").iter().all(Option::is_none));
    assert!(column_f64(&cmp, "p_value").iter().all(Option::is_none));
}

#[test]
fn a_baseline_that_is_no_axis_value_stops_the_sweep() {
    let s = Scratch::new("bad");
    let out = s.sweep(&format!(
        "{GRID}[compare]\nbaseline = {{ \"scheduler.policy\" = \"sjf_typo\" }}\n"
    ));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("none of the axis values"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
