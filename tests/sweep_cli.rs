//! End-to-end tests of `inference-lab sweep`: the real binary on small specs written into
//! temp folders, with the tables read back through polars.
//!
//! Every spec sweeps tests/fixtures/tiny.toml (30 requests, a few milliseconds a run), named by
//! its absolute path, so the specs can live anywhere. Every command runs with the test's temp
//! folder as its working directory, so a default `results/<name>/` lands there too.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use polars::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");
/// qt(0.975, 2) in R.
const T_975_DF2: f64 = 4.302_652_729_749_464;

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("inference-lab-sweep-{}-{test}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove a stale temp dir");
        }
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a spec named `name` over the tiny config (`base` first, then `body`) to
    /// `<name>.toml`; returns its path.
    fn spec(&self, name: &str, body: &str) -> PathBuf {
        self.spec_text(
            name,
            &format!("name = {}\nbase = {}\n{body}", quote(name), quote(TINY)),
        )
    }

    /// Writes `text` verbatim to `<file_stem>.toml`; returns its path.
    fn spec_text(&self, file_stem: &str, text: &str) -> PathBuf {
        let path = self.join(&format!("{file_stem}.toml"));
        std::fs::write(&path, text).expect("write a spec");
        path
    }

    /// Runs `inference-lab sweep args...` in this folder (stdin empty, stdout and stderr piped).
    fn sweep<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.command(args).output().expect("run inference-lab")
    }

    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("sweep")
            .args(args)
            .current_dir(&self.0)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        // Run inside a Slurm array or an Indexed Job, the sweep would shard itself.
        for var in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "JOB_COMPLETION_INDEX",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::from(s).to_string()
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

fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(out.status.code(), Some(code), "{what}: {}", describe(out));
}

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    ParquetReader::new(file)
        .finish()
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn names(df: &DataFrame) -> Vec<String> {
    df.get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect()
}

fn dtype(df: &DataFrame, name: &str) -> DataType {
    df.column(name)
        .unwrap_or_else(|e| panic!("no column {name}: {e}"))
        .dtype()
        .clone()
}

/// A column as f64 (integers cast), nulls as None.
fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let column = df
        .column(name)
        .unwrap_or_else(|e| panic!("no column {name}: {e}"))
        .cast(&DataType::Float64)
        .unwrap_or_else(|e| panic!("column {name} as f64: {e}"));
    let values = column.f64().expect("cast to f64");
    (0..values.len()).map(|i| values.get(i)).collect()
}

/// A column as text (numbers formatted by polars), nulls as None.
fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    let column = df
        .column(name)
        .unwrap_or_else(|e| panic!("no column {name}: {e}"))
        .cast(&DataType::String)
        .unwrap_or_else(|e| panic!("column {name} as text: {e}"));
    let values = column.str().expect("cast to text");
    (0..values.len())
        .map(|i| values.get(i).map(str::to_string))
        .collect()
}

fn ints(df: &DataFrame, name: &str) -> Vec<i64> {
    let column = df
        .column(name)
        .unwrap_or_else(|e| panic!("no column {name}: {e}"))
        .cast(&DataType::Int64)
        .unwrap_or_else(|e| panic!("column {name} as i64: {e}"));
    let values = column.i64().expect("cast to i64");
    (0..values.len())
        .map(|i| values.get(i).unwrap_or_else(|| panic!("null in {name}")))
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
        "{what}: {a} vs {b} (expected)"
    );
}

/// Splits one CSV line into fields (double-quoted fields may hold commas and "").
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The lines of a CSV file split into fields, the header first.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    csv_text_rows(&read(path))
}

fn csv_text_rows(content: &str) -> Vec<Vec<String>> {
    content.lines().map(csv_fields).collect()
}

/// The lines of a CSV file with the column `drop` removed (found by its header name).
fn csv_without(path: &Path, drop: &str) -> Vec<Vec<String>> {
    let mut rows = csv_rows(path);
    let at = rows[0]
        .iter()
        .position(|h| h == drop)
        .unwrap_or_else(|| panic!("{}: no column {drop} in {:?}", path.display(), rows[0]));
    for row in &mut rows {
        row.remove(at);
    }
    rows
}

/// Two CSV tables (as split by [`csv_rows`]) hold exactly the same cells: tables rebuilt from
/// the journal must be byte-identical to a fresh sweep's (floats round-trip exactly).
fn assert_same_table(got: &[Vec<String>], want: &[Vec<String>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: row counts differ");
    assert_eq!(got[0], want[0], "{what}: headers differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate().skip(1) {
        assert_eq!(g.len(), w.len(), "{what}: row {i} field counts differ");
        for (j, (a, b)) in g.iter().zip(w).enumerate() {
            assert_eq!(a, b, "{what}: row {i}, column {}", want[0][j]);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn journal_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join("manifest.json"))).expect("manifest.json is JSON")
}

fn manifest_count(doc: &serde_json::Value, key: &str) -> u64 {
    doc["counts"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("manifest counts.{key} is {}", doc["counts"][key]))
}

/// The ran / already-done counts of the one-line summary on stdout.
fn ran_and_done(out: &Output) -> (usize, usize) {
    let stdout = text(&out.stdout);
    let number_before = |marker: &str| -> usize {
        let end = stdout
            .find(marker)
            .unwrap_or_else(|| panic!("no `{marker}` in the summary line: {stdout}"));
        let start = stdout[..end].rfind(['(', ' ']).map_or(0, |i| i + 1);
        stdout[start..end]
            .parse()
            .unwrap_or_else(|e| panic!("`{marker}` count in {stdout}: {e}"))
    };
    (number_before(" ran,"), number_before(" already done"))
}

const POLICY_X_TOKENS: &str = r#"seeds = 3

[axes]
scheduler.policy = ["fcfs", "sif"]
scheduler.max_num_batched_tokens = [2048, 8192]
"#;

#[test]
fn a_sweep_writes_tidy_tables_with_hand_checkable_statistics() {
    let dir = TempDir::new("e2e");
    let spec = dir.spec("grid", POLICY_X_TOKENS);
    // No -o: the results go to results/<name>/ under the working directory.
    let out = dir.sweep(&[spec.as_os_str(), OsStr::new("-j"), OsStr::new("2")]);
    assert_exit(&out, 0, "sweep");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("sweep grid: 12 runs over 4 points (12 ran, 0 already done, 0 failed)"),
        "{}",
        describe(&out)
    );
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let res = dir.join("results/grid");
    for file in [
        "runs.csv",
        "runs.parquet",
        "summary.csv",
        "summary.parquet",
        "manifest.json",
        "journal.jsonl",
    ] {
        assert!(res.join(file).is_file(), "no {file} in {}", res.display());
    }
    let leftovers: Vec<String> = std::fs::read_dir(&res)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    assert_eq!(journal_lines(&res), 12);

    // The runs table: one row per run, grid order, seeds innermost.
    let runs = read_parquet(&res.join("runs.parquet"));
    let runs_csv = read_csv(&res.join("runs.csv"));
    assert_eq!(runs.height(), 12);
    assert_eq!(runs_csv.height(), 12);
    let columns = names(&runs);
    assert_eq!(
        columns[..10],
        [
            "run_id",
            "scheduler.policy",
            "scheduler.max_num_batched_tokens",
            "model",
            "hardware",
            "seed",
            "status",
            "error",
            "wall_ms",
            "ttft_ms_mean",
        ]
    );
    assert_eq!(names(&runs_csv), columns, "CSV and Parquet columns differ");
    for metric in [
        "e2e_ms_p99",
        "output_tokens_per_s",
        "requests_completed",
        "steps",
    ] {
        assert!(columns.iter().any(|c| c == metric), "no {metric} column");
    }
    assert_eq!(dtype(&runs, "run_id"), DataType::String);
    assert_eq!(dtype(&runs, "scheduler.policy"), DataType::String);
    assert_eq!(
        dtype(&runs, "scheduler.max_num_batched_tokens"),
        DataType::Int64
    );
    assert_eq!(dtype(&runs, "seed"), DataType::UInt64);
    assert_eq!(dtype(&runs, "status"), DataType::String);
    assert_eq!(dtype(&runs, "wall_ms"), DataType::Float64);
    assert_eq!(dtype(&runs, "ttft_ms_mean"), DataType::Float64);
    assert_eq!(dtype(&runs, "e2e_ms_p99"), DataType::Float64);
    assert_eq!(dtype(&runs, "requests_completed"), DataType::UInt64);
    assert_eq!(dtype(&runs, "steps"), DataType::UInt64);
    let policies: Vec<_> = strings(&runs, "scheduler.policy")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let expected: Vec<&str> = ["fcfs"; 6].into_iter().chain(["sif"; 6]).collect();
    assert_eq!(policies, expected);
    assert_eq!(
        ints(&runs, "scheduler.max_num_batched_tokens"),
        [2048, 2048, 2048, 8192, 8192, 8192].repeat(2)
    );
    assert_eq!(ints(&runs, "seed"), [1, 2, 3].repeat(4));
    assert!(strings(&runs, "status")
        .iter()
        .all(|s| s.as_deref() == Some("ok")));
    assert_eq!(runs.column("error").unwrap().null_count(), 12);
    assert_eq!(floats(&runs, "requests_completed"), vec![Some(30.0); 12]);
    let ids: BTreeSet<_> = strings(&runs, "run_id").into_iter().collect();
    assert_eq!(ids.len(), 12, "run ids are not unique");

    // The summary: one row per point, in grid order.
    let summary = read_parquet(&res.join("summary.parquet"));
    let summary_csv = read_csv(&res.join("summary.csv"));
    assert_eq!(summary.height(), 4);
    assert_eq!(summary_csv.height(), 4);
    let columns = names(&summary);
    assert_eq!(
        columns[..12],
        [
            "scheduler.policy",
            "scheduler.max_num_batched_tokens",
            "model",
            "hardware",
            "n",
            "n_error",
            "ttft_ms_mean_mean",
            "ttft_ms_mean_std",
            "ttft_ms_mean_ci95_lo",
            "ttft_ms_mean_ci95_hi",
            "ttft_ms_mean_min",
            "ttft_ms_mean_max",
        ]
    );
    assert_eq!(
        names(&summary_csv),
        columns,
        "CSV and Parquet columns differ"
    );
    assert_eq!(dtype(&summary, "scheduler.policy"), DataType::String);
    assert_eq!(
        dtype(&summary, "scheduler.max_num_batched_tokens"),
        DataType::Int64
    );
    assert_eq!(dtype(&summary, "n"), DataType::UInt64);
    assert_eq!(dtype(&summary, "n_error"), DataType::UInt64);
    assert_eq!(dtype(&summary, "e2e_ms_mean_mean"), DataType::Float64);
    assert_eq!(dtype(&summary, "e2e_ms_mean_std"), DataType::Float64);
    assert_eq!(dtype(&summary, "e2e_ms_mean_ci95_lo"), DataType::Float64);
    assert_eq!(dtype(&summary, "steps_mean"), DataType::Float64);
    assert_eq!(dtype(&summary, "steps_min"), DataType::UInt64);
    assert_eq!(dtype(&summary, "steps_max"), DataType::UInt64);
    assert_eq!(
        strings(&summary, "scheduler.policy"),
        ["fcfs", "fcfs", "sif", "sif"].map(|s| Some(s.to_string()))
    );
    assert_eq!(
        ints(&summary, "scheduler.max_num_batched_tokens"),
        [2048, 8192, 2048, 8192]
    );
    assert_eq!(ints(&summary, "n"), [3; 4]);
    assert_eq!(ints(&summary, "n_error"), [0; 4]);

    // The statistics of point 3 (sif, 2048) and one metric, by hand from runs.csv.
    let metric = "e2e_ms_mean";
    let all = floats(&runs_csv, metric);
    let policy = strings(&runs_csv, "scheduler.policy");
    let tokens = ints(&runs_csv, "scheduler.max_num_batched_tokens");
    let xs: Vec<f64> = (0..12)
        .filter(|&i| policy[i].as_deref() == Some("sif") && tokens[i] == 2048)
        .map(|i| all[i].expect("an ok run has the metric"))
        .collect();
    assert_eq!(xs.len(), 3);
    let mean = xs.iter().sum::<f64>() / 3.0;
    let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!(std > 0.0, "the seeds give identical {metric}: {xs:?}");
    let half = T_975_DF2 * std / 3f64.sqrt();
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for (table, what) in [(&summary_csv, "summary.csv"), (&summary, "summary.parquet")] {
        let get = |suffix: &str| {
            floats(table, &format!("{metric}{suffix}"))[2]
                .unwrap_or_else(|| panic!("{what}: {metric}{suffix} is null"))
        };
        close(get("_mean"), mean, &format!("{what} mean"));
        close(get("_std"), std, &format!("{what} std"));
        close(get("_ci95_lo"), mean - half, &format!("{what} ci95_lo"));
        close(get("_ci95_hi"), mean + half, &format!("{what} ci95_hi"));
        close(get("_min"), min, &format!("{what} min"));
        close(get("_max"), max, &format!("{what} max"));
    }

    let doc = manifest(&res);
    assert_eq!(doc["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(doc["tool"].as_str(), Some("inference-lab"));
    assert_eq!(
        doc["columns"],
        serde_json::json!(["scheduler.policy", "scheduler.max_num_batched_tokens"])
    );
    for (key, expected) in [
        ("runs", 12),
        ("points", 4),
        ("ok", 12),
        ("failed", 0),
        ("ran", 12),
        ("skipped_already_done", 0),
        ("excluded", 0),
    ] {
        assert_eq!(manifest_count(&doc, key), expected, "manifest counts.{key}");
    }
}

#[test]
fn one_seed_gives_null_spread_and_the_run_itself_as_mean_min_and_max() {
    let dir = TempDir::new("one-seed");
    let spec = dir.spec(
        "single",
        "seeds = 1\n\n[axes]\nscheduler.max_num_batched_tokens = [2048, 8192]\n",
    );
    let res = dir.join("out");
    let out = dir.sweep(&[
        spec.as_os_str(),
        OsStr::new("-o"),
        res.as_os_str(),
        OsStr::new("-q"),
    ]);
    assert_exit(&out, 0, "sweep");
    let runs = read_csv(&res.join("runs.csv"));
    let summary = read_csv(&res.join("summary.csv"));
    assert_eq!((runs.height(), summary.height()), (2, 2));
    assert_eq!(ints(&summary, "n"), [1, 1]);
    // The numeric metrics; the text labels after them (load_verdict) are not summarised.
    let metrics: Vec<String> = names(&runs)
        .into_iter()
        .skip_while(|c| c != "ttft_ms_mean")
        .filter(|c| c != "load_verdict")
        .collect();
    assert!(metrics.len() > 20, "metric columns: {metrics:?}");
    for m in &metrics {
        let run_values = floats(&runs, m);
        for stat in ["mean", "min", "max"] {
            assert_eq!(
                floats(&summary, &format!("{m}_{stat}")),
                run_values,
                "{m}_{stat} is not the single run's value"
            );
        }
        for stat in ["std", "ci95_lo", "ci95_hi"] {
            let column = format!("{m}_{stat}");
            assert_eq!(
                floats(&summary, &column),
                [None, None],
                "{column} is not null with one seed"
            );
        }
    }
    // Null is an empty CSV field, not NaN or 0.
    let rows = csv_rows(&res.join("summary.csv"));
    let header = &rows[0];
    let at = header.iter().position(|h| h == "ttft_ms_p99_std").unwrap();
    let lo = header
        .iter()
        .position(|h| h == "ttft_ms_p99_ci95_lo")
        .unwrap();
    for row in &rows[1..] {
        assert_eq!(row[at], "", "ttft_ms_p99_std: {row:?}");
        assert_eq!(row[lo], "", "ttft_ms_p99_ci95_lo: {row:?}");
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dir = TempDir::new("threads");
    let spec = dir.spec("threads", POLICY_X_TOKENS);
    let one = dir.join("j1");
    let two = dir.join("j2");
    for (res, threads) in [(&one, "1"), (&two, "2")] {
        let out = dir.sweep(&[
            spec.as_os_str(),
            OsStr::new("-q"),
            OsStr::new("-j"),
            OsStr::new(threads),
            OsStr::new("-o"),
            res.as_os_str(),
        ]);
        assert_exit(&out, 0, &format!("-j {threads}"));
    }
    assert_eq!(
        read(&one.join("summary.csv")),
        read(&two.join("summary.csv")),
        "summary.csv differs between -j 1 and -j 2"
    );
    let runs_one = csv_without(&one.join("runs.csv"), "wall_ms");
    assert_eq!(runs_one.len(), 13);
    assert_eq!(
        runs_one,
        csv_without(&two.join("runs.csv"), "wall_ms"),
        "runs.csv (without wall_ms) differs between -j 1 and -j 2"
    );
}

#[test]
fn a_rerun_resumes_and_force_starts_over() {
    let dir = TempDir::new("resume");
    let res = dir.join("out");
    let spec = dir.spec("resume", POLICY_X_TOKENS);
    let args = |spec: &Path, extra: &[&str]| {
        let mut args = vec![
            spec.as_os_str().to_owned(),
            "-o".into(),
            res.as_os_str().to_owned(),
            "-j".into(),
            "2".into(),
        ];
        args.extend(extra.iter().map(Into::into));
        args
    };

    let out = dir.sweep(&args(&spec, &[]));
    assert_exit(&out, 0, "first sweep");
    assert_eq!(ran_and_done(&out), (12, 0));
    let journal = read(&res.join("journal.jsonl"));
    let runs_csv = read(&res.join("runs.csv"));
    assert_eq!(journal.lines().count(), 12);

    let out = dir.sweep(&args(&spec, &[]));
    assert_exit(&out, 0, "rerun");
    assert_eq!(ran_and_done(&out), (0, 12), "{}", describe(&out));
    assert_eq!(
        read(&res.join("journal.jsonl")),
        journal,
        "a rerun with nothing to do changed the journal"
    );
    // To 1e-12: that the tables are rewritten bit for bit is
    // tables_rebuilt_from_the_journal_are_exact.
    assert_same_table(
        &csv_rows(&res.join("runs.csv")),
        &csv_text_rows(&runs_csv),
        "runs.csv after a rerun with nothing to do",
    );
    let doc = manifest(&res);
    assert_eq!(manifest_count(&doc, "skipped_already_done"), 12);
    assert_eq!(manifest_count(&doc, "ran"), 0);

    // One more value on an axis: 2 policies x 1 new value x 3 seeds = 6 new runs.
    let grown = dir.spec(
        "resume",
        &POLICY_X_TOKENS.replace("[2048, 8192]", "[2048, 8192, 4096]"),
    );
    assert_eq!(grown, spec);
    let out = dir.sweep(&args(&spec, &[]));
    assert_exit(&out, 0, "grown sweep");
    assert_eq!(ran_and_done(&out), (6, 12), "{}", describe(&out));
    let after = read(&res.join("journal.jsonl"));
    assert_eq!(after.lines().count(), 18);
    assert!(
        after.starts_with(&journal),
        "the earlier journal lines were rewritten"
    );
    let runs = read_csv(&res.join("runs.csv"));
    assert_eq!(runs.height(), 18);
    assert!(strings(&runs, "status")
        .iter()
        .all(|s| s.as_deref() == Some("ok")));
    assert_eq!(read_csv(&res.join("summary.csv")).height(), 6);

    let out = dir.sweep(&args(&spec, &["--force"]));
    assert_exit(&out, 0, "--force");
    assert_eq!(ran_and_done(&out), (18, 0), "{}", describe(&out));
    assert_eq!(
        journal_lines(&res),
        18,
        "--force did not start a new journal"
    );
    assert_eq!(read_csv(&res.join("runs.csv")).height(), 18);
}

#[test]
fn tables_rebuilt_from_the_journal_are_exact() {
    let dir = TempDir::new("exact");
    let spec = dir.spec("exact", POLICY_X_TOKENS);
    let res = dir.join("out");
    let args = [
        spec.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("-o"),
        res.as_os_str(),
    ];
    assert_exit(&dir.sweep(&args), 0, "sweep");
    let runs = read(&res.join("runs.csv"));
    let summary = read(&res.join("summary.csv"));
    // Nothing to run: both tables are rebuilt from the journal alone.
    assert_exit(&dir.sweep(&args), 0, "rerun");
    assert_eq!(
        read(&res.join("runs.csv")),
        runs,
        "runs.csv rebuilt from the journal differs from the fresh sweep's"
    );
    assert_eq!(
        read(&res.join("summary.csv")),
        summary,
        "summary.csv rebuilt from the journal differs from the fresh sweep's"
    );
}

#[test]
fn a_killed_sweep_resumes_to_the_same_tables() {
    let dir = TempDir::new("kill");
    // 120 runs of 600 requests: a few seconds on one thread in a debug build.
    let spec = dir.spec(
        "kill",
        "seeds = 40\n\n[set]\nworkload.num_requests = 600\n\n\
         [axes]\nscheduler.max_num_batched_tokens = [2048, 4096, 8192]\n",
    );
    let killed = dir.join("killed");
    let mut child = dir
        .command(&[
            spec.as_os_str(),
            OsStr::new("-q"),
            OsStr::new("-j"),
            OsStr::new("1"),
            OsStr::new("-o"),
            killed.as_os_str(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the sweep");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finished_early = false;
    loop {
        if journal_lines(&killed) >= 3 {
            break;
        }
        if child.try_wait().expect("poll the sweep").is_some() {
            finished_early = true;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no journal lines after 60 s: {}",
            killed.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    if !finished_early {
        // SIGKILL: no cleanup, the journal is all that is left (maybe with a torn line).
        let _ = child.kill();
    }
    let status = child.wait().expect("reap the sweep");
    let done_at_kill = journal_lines(&killed);
    if status.success() {
        eprintln!("note: the sweep finished before it could be killed; only equality is tested");
    } else {
        assert!(
            done_at_kill < 120,
            "killed after {done_at_kill} journal lines"
        );
    }

    let out = dir.sweep(&[
        spec.as_os_str(),
        OsStr::new("-j"),
        OsStr::new("2"),
        OsStr::new("-o"),
        killed.as_os_str(),
    ]);
    assert_exit(&out, 0, "resume after the kill");
    let (ran, done) = ran_and_done(&out);
    assert_eq!(ran + done, 120, "{}", describe(&out));
    // A torn last line is not a record: at most one journaled line reruns.
    assert!(
        done + 1 >= done_at_kill.min(120) && done <= done_at_kill,
        "{done} already done with {done_at_kill} journal lines: {}",
        describe(&out)
    );

    let whole = dir.join("whole");
    let out = dir.sweep(&[
        spec.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("-j"),
        OsStr::new("2"),
        OsStr::new("-o"),
        whole.as_os_str(),
    ]);
    assert_exit(&out, 0, "uninterrupted sweep");
    let runs = csv_without(&killed.join("runs.csv"), "wall_ms");
    assert_eq!(runs.len(), 121);
    assert_same_table(
        &runs,
        &csv_without(&whole.join("runs.csv"), "wall_ms"),
        "runs.csv after kill + resume vs an uninterrupted sweep",
    );
    assert_same_table(
        &csv_rows(&killed.join("summary.csv")),
        &csv_rows(&whole.join("summary.csv")),
        "summary.csv after kill + resume vs an uninterrupted sweep",
    );
    let doc = manifest(&killed);
    assert_eq!(manifest_count(&doc, "ok"), 120);
    assert_eq!(manifest_count(&doc, "failed"), 0);
}

#[test]
fn an_invalid_point_fails_alone() {
    let dir = TempDir::new("failure");
    let spec = dir.spec(
        "failure",
        "seeds = 2\n\n[axes]\nscheduler.max_num_seqs = [0, 8]\n",
    );
    let res = dir.join("out");
    let out = dir.sweep(&[spec.as_os_str(), OsStr::new("-o"), res.as_os_str()]);
    assert_exit(&out, 2, "a sweep with invalid runs");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning:")
            && stderr.contains("2 of 4 runs")
            && stderr.contains("scheduler.max_num_seqs = 0, seed = 1")
            && stderr.contains("scheduler.max_num_seqs = 0, seed = 2"),
        "{}",
        describe(&out)
    );
    assert!(text(&out.stdout).contains("2 failed"), "{}", describe(&out));

    let runs = read_csv(&res.join("runs.csv"));
    assert_eq!(runs.height(), 4);
    assert_eq!(ints(&runs, "scheduler.max_num_seqs"), [0, 0, 8, 8]);
    let status = strings(&runs, "status");
    let error = strings(&runs, "error");
    let ttft = floats(&runs, "ttft_ms_mean");
    for i in 0..2 {
        assert_eq!(status[i].as_deref(), Some("error"), "row {i}");
        let message = error[i].as_deref().unwrap_or("");
        assert!(
            message.contains("max_num_seqs"),
            "row {i} error: {message:?}"
        );
        assert_eq!(ttft[i], None, "a failed run has metrics");
    }
    for i in 2..4 {
        assert_eq!(status[i].as_deref(), Some("ok"), "row {i}");
        assert_eq!(error[i], None, "row {i}");
        assert!(ttft[i].is_some_and(|x| x > 0.0), "row {i}: {:?}", ttft[i]);
    }

    let summary = read_csv(&res.join("summary.csv"));
    assert_eq!(ints(&summary, "scheduler.max_num_seqs"), [0, 8]);
    assert_eq!(ints(&summary, "n"), [0, 2]);
    assert_eq!(ints(&summary, "n_error"), [2, 0]);
    let mean = floats(&summary, "ttft_ms_mean_mean");
    assert_eq!(mean[0], None);
    assert!(mean[1].is_some());

    let doc = manifest(&res);
    assert_eq!(manifest_count(&doc, "ok"), 2);
    assert_eq!(manifest_count(&doc, "failed"), 2);
}

#[test]
fn spec_errors_stop_the_sweep_before_it_runs() {
    let dir = TempDir::new("spec-errors");
    let header = format!("name = \"bad\"\nbase = {}\n", quote(TINY));
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown path",
            format!("{header}[axes]\nscheduler.polcy = [\"fcfs\"]\n"),
            vec!["scheduler.polcy"],
        ),
        (
            "empty axis",
            format!("{header}[axes]\nscheduler.policy = []\n"),
            vec!["scheduler.policy", "empty"],
        ),
        (
            "type mismatch",
            format!("{header}[axes]\nscheduler.max_num_seqs = [\"x\"]\n"),
            vec!["scheduler.max_num_seqs", "\"x\""],
        ),
        (
            "unequal zip",
            format!(
                "{header}[[zip]]\nscheduler.max_num_seqs = [8, 16]\n\
                 workload.num_requests = [10, 20, 30]\n"
            ),
            vec!["zip", "scheduler.max_num_seqs", "workload.num_requests"],
        ),
        (
            "exclude of a non-axis",
            format!(
                "{header}[axes]\nscheduler.max_num_seqs = [8, 16]\n\n\
                 [[exclude]]\nscheduler.policy = \"fcfs\"\n"
            ),
            vec!["exclude", "scheduler.policy", "not an axis"],
        ),
        (
            "unknown top-level key",
            format!("{header}seedz = 3\n"),
            vec!["seedz"],
        ),
        (
            "missing base",
            "name = \"bad\"\nbase = \"no-such-config.toml\"\n".to_string(),
            vec!["no-such-config.toml"],
        ),
        (
            "malformed TOML",
            format!("{header}\n[axes]\nscheduler.policy = [\"fcfs\", \n"),
            vec!["line 5"],
        ),
    ];
    for (what, spec_text, needles) in cases {
        let spec = dir.spec_text("bad", &spec_text);
        let out = dir.sweep(&[spec.as_os_str()]);
        assert_exit(&out, 1, what);
        assert!(out.stdout.is_empty(), "{what}: {}", describe(&out));
        let stderr = text(&out.stderr);
        assert_eq!(
            stderr.lines().count(),
            1,
            "{what}: not one line: {}",
            describe(&out)
        );
        assert!(stderr.starts_with("error: "), "{what}: {}", describe(&out));
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{what}: stderr does not name `{needle}`: {}",
                describe(&out)
            );
        }
        assert!(
            !dir.join("results").exists(),
            "{what}: a results folder was created"
        );
    }
}

#[test]
fn ranges_zips_excludes_base_globs_and_dry_run() {
    let dir = TempDir::new("grid");
    let tiny = read(Path::new(TINY));
    assert_eq!(tiny.matches("num_requests = 30").count(), 1);
    std::fs::write(dir.join("cfg-a.toml"), &tiny).unwrap();
    std::fs::write(
        dir.join("cfg-b.toml"),
        tiny.replace("num_requests = 30", "num_requests = 20")
            .replace("name = \"Llama-3.1-8B\"", "name = \"Llama-B\""),
    )
    .unwrap();
    let spec = dir.spec_text(
        "features",
        r#"name = "features"
base = "cfg-*.toml"
seeds = [5, 9]

[axes]
scheduler.max_num_batched_tokens = { range = [1024, 4096, 1024] }

[[zip]]
scheduler.max_num_seqs = [8, 64]
scheduler.policy = ["fcfs", "sif"]

[[exclude]]
scheduler.max_num_batched_tokens = 2048
scheduler.max_num_seqs = 64
"#,
    );
    // 2 bases x 4 token budgets x 2 zipped pairs = 16 points, less 2 excluded: 14 x 2 seeds.
    let res = dir.join("out");

    let out = dir.sweep(&[
        spec.as_os_str(),
        OsStr::new("--dry-run"),
        OsStr::new("-o"),
        res.as_os_str(),
    ]);
    assert_exit(&out, 0, "--dry-run");
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("sweep features: 14 points x 2 seeds = 28 runs (4 excluded)"),
        "{stdout}"
    );
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "run_id",
            "base",
            "scheduler.max_num_batched_tokens",
            "scheduler.max_num_seqs",
            "scheduler.policy",
            "seed",
            "config"
        ]
    );
    assert_eq!(lines.len(), 2 + 10 + 1, "{stdout}");
    assert_eq!(lines[12], "... 18 more");
    let first: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(first[1..], ["cfg-a.toml", "1024", "8", "fcfs", "5", "ok"]);
    assert!(!res.exists(), "--dry-run wrote {}", res.display());
    assert!(!dir.join("results").exists(), "--dry-run wrote results/");

    let out = dir.sweep(&[spec.as_os_str(), OsStr::new("-o"), res.as_os_str()]);
    assert_exit(&out, 0, "sweep");
    let runs = read_parquet(&res.join("runs.parquet"));
    assert_eq!(runs.height(), 28);
    assert_eq!(
        names(&runs)[..10],
        [
            "run_id",
            "base",
            "scheduler.max_num_batched_tokens",
            "scheduler.max_num_seqs",
            "scheduler.policy",
            "model",
            "hardware",
            "seed",
            "status",
            "error"
        ]
    );
    assert_eq!(
        strings(&runs, "run_id")[0].as_deref(),
        Some(first[0]),
        "the dry run's first run id is not the sweep's"
    );
    let base = strings(&runs, "base");
    let tokens = ints(&runs, "scheduler.max_num_batched_tokens");
    let seqs = ints(&runs, "scheduler.max_num_seqs");
    let policy = strings(&runs, "scheduler.policy");
    let seed = ints(&runs, "seed");
    let requests = floats(&runs, "requests_total");
    assert_eq!(dtype(&runs, "base"), DataType::String);
    assert_eq!(dtype(&runs, "scheduler.max_num_seqs"), DataType::Int64);

    let bases: BTreeSet<_> = base.iter().map(|b| b.clone().unwrap()).collect();
    assert_eq!(
        bases,
        BTreeSet::from(["cfg-a.toml".to_string(), "cfg-b.toml".to_string()])
    );
    for i in 0..28 {
        // Each base's own request count: the base column names the file that ran.
        let expected = if base[i].as_deref() == Some("cfg-a.toml") {
            30.0
        } else {
            20.0
        };
        assert_eq!(requests[i], Some(expected), "row {i}: {:?}", base[i]);
    }
    // The model column names each base's model.name; hardware.name is the same in both.
    let models = strings(&runs, "model");
    for i in 0..28 {
        let expected = match base[i].as_deref() {
            Some("cfg-a.toml") => "Llama-3.1-8B",
            _ => "Llama-B",
        };
        assert_eq!(models[i].as_deref(), Some(expected), "row {i}");
    }
    assert!(strings(&runs, "hardware")
        .iter()
        .all(|h| h.as_deref() == Some("H100 SXM")));
    let budgets: BTreeSet<_> = tokens.iter().copied().collect();
    assert_eq!(budgets, BTreeSet::from([1024, 2048, 3072, 4096]));
    let pairs: BTreeSet<(i64, String)> = seqs
        .iter()
        .zip(&policy)
        .map(|(&s, p)| (s, p.clone().unwrap()))
        .collect();
    assert_eq!(
        pairs,
        BTreeSet::from([(8, "fcfs".to_string()), (64, "sif".to_string())]),
        "zipped values crossed"
    );
    assert!(
        !(0..28).any(|i| tokens[i] == 2048 && seqs[i] == 64),
        "the excluded point ran"
    );
    assert_eq!(
        (0..28)
            .filter(|&i| tokens[i] == 2048 && seqs[i] == 8)
            .count(),
        4,
        "exclusion removed more than its point"
    );
    assert_eq!(seed, [5, 9].repeat(14));
    assert_eq!(read_parquet(&res.join("summary.parquet")).height(), 14);

    let doc = manifest(&res);
    for (key, expected) in [("points", 14), ("runs", 28), ("excluded", 4), ("ok", 28)] {
        assert_eq!(manifest_count(&doc, key), expected, "manifest counts.{key}");
    }
}

#[test]
fn formats_and_quietness() {
    let dir = TempDir::new("formats");
    let spec = dir.spec(
        "fmt",
        "seeds = 2\n\n[axes]\nscheduler.policy = [\"fcfs\", \"lof\"]\n",
    );

    let csv_only = dir.join("csv");
    let out = dir.sweep(&[
        spec.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("--format"),
        OsStr::new("csv"),
        OsStr::new("-o"),
        csv_only.as_os_str(),
    ]);
    assert_exit(&out, 0, "--format csv");
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "-q printed something: {}",
        describe(&out)
    );
    let files: BTreeSet<String> = std::fs::read_dir(&csv_only)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for file in ["runs.csv", "summary.csv", "manifest.json", "journal.jsonl"] {
        assert!(files.contains(file), "no {file}: {files:?}");
    }
    assert!(
        !files.iter().any(|f| f.contains("parquet")),
        "--format csv wrote Parquet: {files:?}"
    );
    assert_eq!(read_csv(&csv_only.join("runs.csv")).height(), 4);

    let xml = dir.join("xml");
    let out = dir.sweep(&[
        spec.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("xml"),
        OsStr::new("-o"),
        xml.as_os_str(),
    ]);
    assert_exit(&out, 1, "--format xml");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{}", describe(&out));
    for needle in ["xml", "csv", "parquet"] {
        assert!(stderr.contains(needle), "{needle}: {}", describe(&out));
    }
    assert!(!xml.exists(), "--format xml created {}", xml.display());

    // On a pipe: the summary line first, then the answer; no progress bar, nothing on stderr.
    let plain = dir.join("plain");
    let out = dir.sweep(&[spec.as_os_str(), OsStr::new("-o"), plain.as_os_str()]);
    assert_exit(&out, 0, "sweep on a pipe");
    assert!(
        out.stderr.is_empty(),
        "stderr on a pipe: {}",
        describe(&out)
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().nth(1),
        Some(
            format!(
                "tables: runs, summary, summary_long (csv, parquet) in {}",
                plain.display()
            )
            .as_str()
        ),
        "{}",
        describe(&out)
    );
    assert!(
        stdout.starts_with("sweep fmt: 4 runs over 2 points (4 ran, 0 already done, 0 failed)"),
        "{}",
        describe(&out)
    );
    assert!(
        !stdout.contains('\x1b'),
        "colour codes on a pipe: {stdout:?}"
    );
    assert!(plain.join("runs.parquet").is_file() && plain.join("runs.csv").is_file());
}
