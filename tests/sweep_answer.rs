//! End-to-end tests of what a sweep tells at its end (`[report]` objectives, their best points
//! and paired comparisons) and of the summary_long table, model/hardware columns and axis
//! types: the real binary on specs over tests/fixtures/tiny.toml, the tables read back
//! through polars and the expected answer computed from them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use polars::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "inference-lab-answer-{}-{test}",
            std::process::id()
        ));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove a stale temp dir");
        }
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    /// Writes a spec named `name` over the tiny config; returns its path.
    fn spec(&self, name: &str, body: &str) -> PathBuf {
        let path = self.0.join(format!("{name}.toml"));
        let base = toml::Value::from(TINY).to_string();
        std::fs::write(&path, format!("name = \"{name}\"\nbase = {base}\n{body}"))
            .expect("write a spec");
        path
    }

    fn sweep(&self, args: &[&OsStr]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("sweep")
            .args(args)
            .current_dir(&self.0)
            .stdin(Stdio::null());
        for var in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "JOB_COMPLETION_INDEX",
        ] {
            cmd.env_remove(var);
        }
        cmd.output().expect("run inference-lab")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    ParquetReader::new(file)
        .finish()
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let column = df
        .column(name)
        .unwrap_or_else(|e| panic!("no column {name}: {e}"))
        .cast(&DataType::Float64)
        .unwrap();
    column.f64().unwrap().iter().collect()
}

fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    let column = df
        .column(name)
        .unwrap_or_else(|e| panic!("no column {name}: {e}"));
    column
        .str()
        .unwrap()
        .iter()
        .map(|s| s.expect("no nulls").to_string())
        .collect()
}

fn ints(df: &DataFrame, name: &str) -> Vec<i64> {
    let column = df.column(name).unwrap().cast(&DataType::Int64).unwrap();
    column.i64().unwrap().iter().map(|v| v.unwrap()).collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// Two policies x two arrival rates (spelled 5 and 40.0), three seeds, compared with fcfs.
const GRID: &str = r#"seeds = 3

[axes]
scheduler.policy = ["fcfs", "sif"]
workload.arrival_rate = [5, 40.0]

[compare]
baseline = { "workload.arrival_rate" = 5 }
"#;

#[test]
fn the_sweep_names_the_best_point_of_each_objective_and_its_paired_comparison() {
    let dir = TempDir::new("best");
    let body = format!("{GRID}\n[report]\nmetrics = [\"e2e_ms_p99\", \"output_tokens_per_s\"]\n");
    let spec = dir.spec("best", &body);
    let res = dir.0.join("out");
    let out = dir.sweep(&[spec.as_os_str(), OsStr::new("-o"), res.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("sweep best: 12 runs over 4 points"));
    assert_eq!(
        lines[1],
        format!(
            "tables: runs, summary, summary_long, comparisons (csv, parquet) in {}",
            res.display()
        )
    );

    // The expected answer, from the tables: the point with the best mean over its seeds.
    let summary = read_parquet(&res.join("summary.parquet"));
    let comparisons = read_parquet(&res.join("comparisons.parquet"));
    let policies = strings(&summary, "scheduler.policy");
    let rates = ints(&summary, "workload.arrival_rate");
    let mut printed = 0;
    for (metric, lower) in [("e2e_ms_p99", true), ("output_tokens_per_s", false)] {
        let means = floats(&summary, &format!("{metric}_mean"));
        let key = |i: usize| means[i].unwrap() * if lower { 1.0 } else { -1.0 };
        let best = (0..summary.height())
            .min_by(|&a, &b| key(a).total_cmp(&key(b)))
            .unwrap();
        let direction = if lower { "lower" } else { "higher" };
        let head = format!("best {metric} ({direction} is better): ");
        let at = lines
            .iter()
            .position(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("no `{head}` line: {stdout}"));
        assert!(
            lines[at].ends_with(&format!(
                "(mean of 3 runs) at scheduler.policy = {}, workload.arrival_rate = {}",
                policies[best],
                if rates[best] == 5 { "5" } else { "40.0" }
            )),
            "{metric}: expected point {best}: {stdout}"
        );
        let next = lines[at + 1];
        if rates[best] == 5 {
            assert_eq!(
                next,
                "  it is a baseline point (workload.arrival_rate = 5): nothing to compare it with"
            );
            continue;
        }
        // Its comparison row: the same point and metric in comparisons.parquet.
        let row = (0..comparisons.height())
            .find(|&i| {
                strings(&comparisons, "metric")[i] == metric
                    && strings(&comparisons, "scheduler.policy")[i] == policies[best]
            })
            .expect("a comparison row");
        let wins = floats(&comparisons, "wins")[row].expect("wins of a metric with a direction");
        let n = ints(&comparisons, "n")[row];
        assert!(
            next.starts_with("  vs its baseline (workload.arrival_rate = 5): "),
            "{next}"
        );
        assert!(
            next.contains(&format!("better on {wins} of {n} seeds")),
            "{next}"
        );
        assert!(
            next.contains("95% CI [") && next.contains(", p = "),
            "{next}"
        );
        printed += 1;
    }
    // At 40 req/s the 30 requests arrive 8 times sooner than at 5: the throughput objective's
    // best point is not a baseline, so the paired line above was checked at least once.
    assert!(
        printed >= 1,
        "no objective compared with its baseline: {stdout}"
    );
    assert!(
        !stdout.contains("ttft_ms_p99"),
        "an objective not asked for: {stdout}"
    );

    // -q: nothing at all.
    let out = dir.sweep(&[
        spec.as_os_str(),
        OsStr::new("-o"),
        res.as_os_str(),
        OsStr::new("-q"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        describe(&out)
    );
}

#[test]
fn without_report_the_default_objectives_are_named() {
    let dir = TempDir::new("default");
    let spec = dir.spec(
        "plain",
        "seeds = 2\n\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\n",
    );
    let out = dir.sweep(&[spec.as_os_str(), OsStr::new("--format"), OsStr::new("csv")]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let heads: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("best "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(heads, ["ttft_ms_p99", "e2e_ms_p99", "output_tokens_per_s"]);
    assert!(
        stdout.contains("tables: runs, summary, summary_long (csv) in results/plain"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("vs its baseline"),
        "no [compare], no comparison: {stdout}"
    );
}

#[test]
fn a_bad_report_is_one_line_naming_the_allowed_metrics() {
    let dir = TempDir::new("bad");
    for (body, needles) in [
        (
            "[report]\nmetrics = [\"ttft_p99\"]\n",
            &["\"ttft_p99\"", "allowed", "ttft_ms_p99"][..],
        ),
        (
            "[report]\nmetrics = [\"kv_cache_util_mean\"]\n",
            &["kv_cache_util_mean", "no better direction"][..],
        ),
        ("[report]\nmetric = []\n", &["allowed keys: metrics"][..]),
        ("[reports]\n", &["`reports`", "report"][..]),
    ] {
        let spec = dir.spec("bad", body);
        let out = dir.sweep(&[spec.as_os_str()]);
        assert_eq!(out.status.code(), Some(1), "{body}: {}", describe(&out));
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{body}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{body}: no {needle} in {stderr}");
        }
        assert!(
            !dir.0.join("results").exists(),
            "{body}: results were written"
        );
    }
}

#[test]
fn summary_long_holds_the_summary_statistics_one_row_per_point_and_metric() {
    let dir = TempDir::new("long");
    let spec = dir.spec("long", GRID);
    let res = dir.0.join("out");
    let out = dir.sweep(&[spec.as_os_str(), OsStr::new("-o"), res.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let runs = read_parquet(&res.join("runs.parquet"));
    let summary = read_parquet(&res.join("summary.parquet"));
    let long = read_parquet(&res.join("summary_long.parquet"));
    let long_csv = read_csv(&res.join("summary_long.csv"));
    let comparisons = read_parquet(&res.join("comparisons.parquet"));
    let columns: Vec<String> = long
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        columns,
        [
            "scheduler.policy",
            "workload.arrival_rate",
            "model",
            "hardware",
            "metric",
            "n",
            "mean",
            "std",
            "ci_low",
            "ci_high",
            "min",
            "max"
        ]
    );
    assert_eq!(long_csv.get_column_names(), long.get_column_names());
    assert_eq!(long_csv.height(), long.height());

    // One type per axis column, whatever the spelling (5 and 40.0): integers in every table.
    for (table, name) in [
        (&runs, "runs"),
        (&summary, "summary"),
        (&long, "summary_long"),
        (&comparisons, "comparisons"),
    ] {
        let dtype = table.column("workload.arrival_rate").unwrap().dtype();
        assert_eq!(dtype, &DataType::Int64, "{name}");
    }
    assert_eq!(
        ints(&runs, "workload.arrival_rate"),
        [5, 5, 5, 40, 40, 40].repeat(2)
    );

    // The metrics in the wide summary's order, every point's rows together.
    let metrics: Vec<String> = summary
        .get_column_names()
        .iter()
        .filter_map(|c| c.strip_suffix("_mean").map(str::to_string))
        .collect();
    assert_eq!(long.height(), summary.height() * metrics.len());
    let long_metric = strings(&long, "metric");
    let long_policy = strings(&long, "scheduler.policy");
    let long_rate = ints(&long, "workload.arrival_rate");
    let policy = strings(&summary, "scheduler.policy");
    let rate = ints(&summary, "workload.arrival_rate");
    let n = ints(&long, "n");
    let stat = |name: &str| floats(&long, name);
    let (mean, std, lo, hi, min, max) = (
        stat("mean"),
        stat("std"),
        stat("ci_low"),
        stat("ci_high"),
        stat("min"),
        stat("max"),
    );
    for p in 0..summary.height() {
        for (k, metric) in metrics.iter().enumerate() {
            let row = p * metrics.len() + k;
            assert_eq!(&long_metric[row], metric, "row {row}");
            assert_eq!(long_policy[row], policy[p], "row {row}");
            assert_eq!(long_rate[row], rate[p], "row {row}");
            let wide = |suffix: &str| floats(&summary, &format!("{metric}_{suffix}"))[p];
            for (got, suffix) in [
                (mean[row], "mean"),
                (std[row], "std"),
                (lo[row], "ci95_lo"),
                (hi[row], "ci95_hi"),
                (min[row], "min"),
                (max[row], "max"),
            ] {
                assert_eq!(got, wide(suffix), "{metric} {suffix} of point {p}");
            }
            // n and the mean again, straight from the runs of the point.
            let values: Vec<f64> = (0..runs.height())
                .filter(|&r| {
                    strings(&runs, "scheduler.policy")[r] == policy[p]
                        && ints(&runs, "workload.arrival_rate")[r] == rate[p]
                })
                .filter_map(|r| floats(&runs, metric)[r])
                .collect();
            assert_eq!(n[row], values.len() as i64, "{metric} n of point {p}");
            if let Some(m) = mean[row] {
                close(m, values.iter().sum::<f64>() / values.len() as f64, metric);
            }
        }
    }
    // model and hardware name each point, from the config's model.name and hardware.name.
    for table in [&runs, &summary, &long] {
        assert!(strings(table, "model").iter().all(|m| m == "Llama-3.1-8B"));
        assert!(strings(table, "hardware").iter().all(|h| h == "H100 SXM"));
    }
}
