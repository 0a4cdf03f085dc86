//! Sharded sweeps: the split (library), shards run by the real binary into one folder,
//! `sweep merge`, the environment-variable fallbacks, resume across shards, and the Slurm
//! scripts (written, and submitted to a fake sbatch: the real one is tests/slurm/e2e.sh).
//!
//! Every spec sweeps tests/fixtures/tiny.toml (a few milliseconds a run), named by its
//! absolute path; every command runs in the test's temp folder.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use inference_lab::sweep::{self, shard, Grid, Shard, SweepSpec};

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");
/// Variables that make a sweep pick its shard by itself.
const SHARD_VARS: [&str; 6] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "JOB_COMPLETION_INDEX",
    "INFERENCE_LAB_SHARD_COUNT",
];

/// 2 policies x 3 request counts (costs 1 : 3 : 9) x 3 seeds = 18 runs.
const GRID: &str = r#"seeds = 3

[axes]
scheduler.policy = ["fcfs", "sif"]
workload.num_requests = [10, 30, 90]
"#;

struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("inference-lab-shard-{}-{test}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove a stale temp dir");
        }
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes the spec `name` over the tiny config to `<name>.toml`; returns the file name
    /// (relative to the temp folder, where commands run).
    fn spec(&self, name: &str, body: &str) -> PathBuf {
        let text = format!("name = {}\nbase = {}\n{body}", quote(name), quote(TINY));
        let file = PathBuf::from(format!("{name}.toml"));
        std::fs::write(self.0.join(&file), text).expect("write a spec");
        file
    }

    /// The grid of a spec written by [`TempDir::spec`], as the binary expands it.
    fn grid(&self, spec: &Path) -> (SweepSpec, Grid) {
        let spec = SweepSpec::load(&self.0.join(spec)).expect("spec");
        let grid = sweep::expand(&spec).expect("grid");
        (spec, grid)
    }

    /// `inference-lab <args...>` in this folder, with no shard variables set.
    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(&self.0)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        for var in SHARD_VARS {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.command(args).output().expect("run inference-lab")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn quote(s: &str) -> String {
    toml::Value::from(s).to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
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

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Run ids of a journal's parseable lines.
fn journal_ids(path: &Path) -> Vec<String> {
    read(path)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["run_id"].as_str().expect("run_id").to_string())
        .collect()
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

/// runs.csv without its wall_ms column, as lines of fields.
fn runs_without_wall_ms(dir: &Path) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = read(&dir.join("runs.csv"))
        .lines()
        .map(csv_fields)
        .collect();
    let at = rows[0]
        .iter()
        .position(|h| h == "wall_ms")
        .expect("wall_ms");
    for row in &mut rows {
        row.remove(at);
    }
    rows
}

/// The column `name` of runs.csv.
fn runs_column(dir: &Path, name: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = read(&dir.join("runs.csv"))
        .lines()
        .map(csv_fields)
        .collect();
    let at = rows[0].iter().position(|h| h == name).expect("column");
    rows[1..].iter().map(|r| r[at].clone()).collect()
}

/// Merged tables are the unsharded sweep's, byte for byte, but for wall_ms.
fn assert_same_tables(got: &Path, want: &Path) {
    let (g, w) = (runs_without_wall_ms(got), runs_without_wall_ms(want));
    assert_eq!(g.len(), w.len(), "runs.csv row counts");
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert_eq!(a, b, "runs.csv row {i}");
    }
    assert_eq!(
        read(&got.join("summary.csv")),
        read(&want.join("summary.csv")),
        "summary.csv differs"
    );
    assert_eq!(
        std::fs::read(got.join("summary.parquet")).unwrap(),
        std::fs::read(want.join("summary.parquet")).unwrap(),
        "summary.parquet differs"
    );
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join("manifest.json"))).expect("manifest.json")
}

/// The ran / already-done counts of a sweep's summary line.
fn ran_and_done(out: &Output) -> (usize, usize) {
    let stdout = text(&out.stdout);
    let number_before = |marker: &str| -> usize {
        let end = stdout
            .find(marker)
            .unwrap_or_else(|| panic!("no `{marker}` in: {stdout}"));
        let start = stdout[..end].rfind(['(', ' ']).map_or(0, |i| i + 1);
        stdout[start..end].parse().expect("a count")
    };
    (number_before(" ran,"), number_before(" already done"))
}

/// An unsharded sweep of `spec` into `dir`, the reference tables.
fn unsharded(tmp: &TempDir, spec: &Path, dir: &str) -> PathBuf {
    let out = tmp.run(&[
        OsStr::new("sweep"),
        spec.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("-j"),
        OsStr::new("2"),
        OsStr::new("-o"),
        OsStr::new(dir),
    ]);
    assert_exit(&out, 0, "unsharded sweep");
    tmp.join(dir)
}

fn shard_args<'a>(spec: &'a Path, dir: &'a str, shard: &'a str) -> Vec<&'a OsStr> {
    vec![
        OsStr::new("sweep"),
        spec.as_os_str(),
        OsStr::new("-j"),
        OsStr::new("1"),
        OsStr::new("-o"),
        OsStr::new(dir),
        OsStr::new("--shard"),
        OsStr::new(shard),
    ]
}

#[test]
fn the_split_is_deterministic_complete_and_balanced() {
    let tmp = TempDir::new("split");
    // Costs 1 : 10 : 100, so a split by count alone would be badly unbalanced.
    let spec = tmp.spec(
        "split",
        "seeds = 5\n\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\n\
         workload.num_requests = [10, 100, 1000]\n",
    );
    let (_, grid) = tmp.grid(&spec);
    let (_, again) = tmp.grid(&spec);
    assert_eq!(grid.runs.len(), 30);
    let weights: Vec<u64> = grid.runs.iter().map(|r| shard::weight(r.cost)).collect();
    let max_weight = *weights.iter().max().unwrap();
    assert!(
        max_weight >= 50 * weights.iter().min().unwrap(),
        "{weights:?}"
    );
    for n in 1..=8 {
        let assignment = shard::assign(&grid, n);
        assert_eq!(
            assignment,
            shard::assign(&again, n),
            "N = {n}: not deterministic"
        );
        assert!(assignment.iter().all(|&s| s < n));
        // Shard::runs partitions the grid.
        let mut seen = vec![0; grid.runs.len()];
        let mut loads = vec![0u64; n];
        for (k, load) in loads.iter_mut().enumerate() {
            let runs = Shard::new(k, n).unwrap().runs(&grid);
            assert!(runs.windows(2).all(|w| w[0] < w[1]), "grid order");
            for i in runs {
                seen[i] += 1;
                assert_eq!(assignment[i], k);
                *load += weights[i];
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "N = {n}: {seen:?}");
        let (lo, hi) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
        assert!(
            hi - lo <= max_weight,
            "N = {n}: loads {loads:?} differ by more than the largest run ({max_weight})"
        );
    }
    // Equal costs: counts differ by at most one (round robin in grid order).
    let uniform = tmp.spec("uniform", "seeds = 10\n");
    let (_, grid) = tmp.grid(&uniform);
    for n in 1..=4 {
        let counts: Vec<usize> = (0..n)
            .map(|k| Shard::new(k, n).unwrap().runs(&grid).len())
            .collect();
        assert!(
            counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
            "{counts:?}"
        );
    }
    assert_eq!(
        Shard::new(1, 3).unwrap().runs(&grid),
        [1, 4, 7],
        "equal costs deal in grid order"
    );
}

#[test]
fn concurrent_shards_write_their_own_journals_and_merge_to_the_unsharded_tables() {
    let tmp = TempDir::new("merge");
    let spec = tmp.spec("merge", GRID);
    let (_, grid) = tmp.grid(&spec);
    let whole = unsharded(&tmp, &spec, "whole");

    // Three shards at once, into one folder.
    let children: Vec<_> = (0..3)
        .map(|k| {
            let shard = format!("{k}/3");
            tmp.command(&shard_args(&spec, "sharded", &shard))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a shard")
        })
        .collect();
    for (k, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("shard output");
        assert_exit(&out, 0, &format!("shard {k}/3"));
        let stdout = text(&out.stdout);
        let mine = Shard::new(k, 3).unwrap().runs(&grid).len();
        assert!(
            stdout.starts_with(&format!(
                "sweep merge shard {k}/3: {mine} of 18 runs ({mine} ran, 0 already done, 0 failed)"
            )) && stdout.contains("sweep merge sharded"),
            "{}",
            describe(&out)
        );
    }
    let dir = tmp.join("sharded");
    let names = files(&dir);
    for k in 0..3 {
        let journal = dir.join(format!("journal.shard-{k}-of-3.jsonl"));
        let want: BTreeSet<String> = Shard::new(k, 3)
            .unwrap()
            .runs(&grid)
            .into_iter()
            .map(|i| grid.runs[i].run_id.clone())
            .collect();
        let ids = journal_ids(&journal);
        assert_eq!(ids.len(), want.len(), "shard {k}: duplicate lines");
        assert_eq!(
            ids.into_iter().collect::<BTreeSet<_>>(),
            want,
            "shard {k} ran another shard's runs"
        );
        let m: serde_json::Value =
            serde_json::from_str(&read(&dir.join(format!("manifest.shard-{k}-of-3.json"))))
                .unwrap();
        assert_eq!(m["shard"], format!("{k}/3"));
        assert_eq!(m["counts"]["ran"], want.len());
        assert!(m["finished_at"].is_string() && m["host"].is_string(), "{m}");
    }
    assert!(names.contains("spec.json"), "{names:?}");
    for table in ["runs.csv", "summary.csv", "manifest.json", "journal.jsonl"] {
        assert!(!names.contains(table), "a shard wrote {table}: {names:?}");
    }
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");

    let out = tmp.run(&["sweep", "merge", "sharded"]);
    assert_exit(&out, 0, "merge");
    assert!(
        text(&out.stdout).starts_with(
            "sweep merge: merged 18 runs over 6 points from 3 journals (18 ok, 0 failed, 0 missing)"
        ),
        "{}",
        describe(&out)
    );
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    assert_same_tables(&dir, &whole);
    let doc = manifest(&dir);
    assert_eq!(doc["counts"]["ok"], 18);
    assert_eq!(doc["counts"]["missing"], 0);
    assert_eq!(doc["journals"].as_array().unwrap().len(), 3);
    assert_eq!(doc["shards"].as_array().unwrap().len(), 3);
    // Merging twice changes nothing.
    let runs = read(&dir.join("runs.csv"));
    assert_exit(
        &tmp.run(&["sweep", "merge", "sharded", "-q"]),
        0,
        "merge again",
    );
    assert_eq!(read(&dir.join("runs.csv")), runs);
}

#[test]
fn a_local_sweep_merges_shard_journals_it_finds() {
    let tmp = TempDir::new("auto");
    let spec = tmp.spec("auto", GRID);
    let (_, grid) = tmp.grid(&spec);
    let whole = unsharded(&tmp, &spec, "whole");
    for k in ["0/3", "2/3"] {
        assert_exit(&tmp.run(&shard_args(&spec, "out", k)), 0, k);
    }
    let left = Shard::new(1, 3).unwrap().runs(&grid).len();
    let out = tmp.run(&[
        OsStr::new("sweep"),
        spec.as_os_str(),
        OsStr::new("-o"),
        OsStr::new("out"),
    ]);
    assert_exit(&out, 0, "local sweep over shard journals");
    assert_eq!(ran_and_done(&out), (left, 18 - left), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("merged")
            && stderr.contains(&format!("{} records from 2 shard journals", 18 - left)),
        "{}",
        describe(&out)
    );
    assert_same_tables(&tmp.join("out"), &whole);
    // Its own runs went to journal.jsonl.
    assert_eq!(journal_ids(&tmp.join("out/journal.jsonl")).len(), left);
}

#[test]
fn shard_variables_are_used_and_announced() {
    let tmp = TempDir::new("env");
    let spec = tmp.spec("env", GRID);
    let sweep = |dir: &str, vars: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = tmp.command(&[
            OsStr::new("sweep"),
            spec.as_os_str(),
            OsStr::new("-o"),
            OsStr::new(dir),
        ]);
        cmd.args(extra);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().expect("run")
    };

    let out = sweep(
        "slurm",
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "1"),
        ],
        &[],
    );
    assert_exit(&out, 0, "Slurm array task");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("shard 1/2")
            && stderr.contains("SLURM_ARRAY_TASK_ID=1")
            && stderr.contains("SLURM_ARRAY_TASK_COUNT=2"),
        "not announced: {}",
        describe(&out)
    );
    assert!(
        text(&out.stdout).contains("shard 1/2"),
        "{}",
        describe(&out)
    );
    assert!(files(&tmp.join("slurm")).contains("journal.shard-1-of-2.jsonl"));

    let out = sweep(
        "k8s",
        &[
            ("JOB_COMPLETION_INDEX", "0"),
            ("INFERENCE_LAB_SHARD_COUNT", "3"),
        ],
        &[],
    );
    assert_exit(&out, 0, "Indexed Job pod");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("shard 0/3")
            && stderr.contains("JOB_COMPLETION_INDEX=0")
            && stderr.contains("INFERENCE_LAB_SHARD_COUNT=3"),
        "{}",
        describe(&out)
    );
    assert!(files(&tmp.join("k8s")).contains("journal.shard-0-of-3.jsonl"));

    // -q: no announcement; --shard wins over the environment, 0/1 is the whole grid.
    let slurm_vars = [
        ("SLURM_ARRAY_TASK_ID", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
    ];
    let out = sweep("quiet", &slurm_vars, &["-q"]);
    assert_exit(&out, 0, "-q");
    assert!(
        out.stderr.is_empty() && out.stdout.is_empty(),
        "{}",
        describe(&out)
    );
    let out = sweep("whole", &slurm_vars, &["--shard", "0/1"]);
    assert_exit(&out, 0, "--shard 0/1");
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let names = files(&tmp.join("whole"));
    assert!(
        names.contains("journal.jsonl") && names.contains("runs.csv"),
        "{names:?}"
    );

    for (what, vars, needle) in [
        (
            "index without a count",
            &[("JOB_COMPLETION_INDEX", "2")][..],
            "INFERENCE_LAB_SHARD_COUNT",
        ),
        (
            "a 1-based array",
            &[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "4"),
            ],
            "--shard",
        ),
    ] {
        let out = sweep("bad", vars, &[]);
        assert_exit(&out, 1, what);
        let stderr = text(&out.stderr);
        assert!(
            stderr.lines().count() == 1 && stderr.contains(needle),
            "{what}: {}",
            describe(&out)
        );
    }
    assert!(!tmp.join("bad").exists());
}

#[test]
fn merge_reports_missing_runs_and_a_rerun_of_the_shard_fills_them_in() {
    let tmp = TempDir::new("missing");
    let spec = tmp.spec("missing", GRID);
    let (_, grid) = tmp.grid(&spec);
    let whole = unsharded(&tmp, &spec, "whole");
    for k in ["0/2", "1/2"] {
        assert_exit(&tmp.run(&shard_args(&spec, "out", k)), 0, k);
    }
    // Shard 1 "died" after its first two runs: the rest of its journal is lost, and its last
    // line is torn.
    let journal = tmp.join("out/journal.shard-1-of-2.jsonl");
    let lines: Vec<String> = read(&journal).lines().map(str::to_string).collect();
    let shard1 = Shard::new(1, 2).unwrap().runs(&grid).len();
    assert_eq!(lines.len(), shard1);
    std::fs::write(
        &journal,
        format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..40]),
    )
    .unwrap();
    let lost = shard1 - 2;

    let out = tmp.run(&["sweep", "merge", "out"]);
    assert_exit(&out, 3, "merge with missing runs");
    let stderr = text(&out.stderr);
    for needle in [
        format!("{lost} of 18 runs are missing"),
        format!("shard 1/2: {lost}"),
        "--shard 1/2".to_string(),
        "missing: scheduler.policy = ".to_string(),
        "status = missing".to_string(),
    ] {
        assert!(
            stderr.contains(&needle),
            "no {needle:?}: {}",
            describe(&out)
        );
    }
    assert!(
        text(&out.stdout).contains(&format!("{lost} missing")),
        "{}",
        describe(&out)
    );
    let status = runs_column(&tmp.join("out"), "status");
    assert_eq!(status.iter().filter(|s| *s == "missing").count(), lost);
    let doc = manifest(&tmp.join("out"));
    assert_eq!(doc["counts"]["missing"], lost);
    assert_eq!(doc["counts"]["ok"], 18 - lost);

    // Rerun only shard 1: it runs exactly what it lost.
    let out = tmp.run(&shard_args(&spec, "out", "1/2"));
    assert_exit(&out, 0, "rerun of shard 1");
    assert_eq!(ran_and_done(&out), (lost, 2), "{}", describe(&out));
    // Shard 0 has nothing left to do.
    let out = tmp.run(&shard_args(&spec, "out", "0/2"));
    assert_exit(&out, 0, "rerun of shard 0");
    assert_eq!(ran_and_done(&out), (0, 18 - shard1));
    let out = tmp.run(&["sweep", "merge", "out"]);
    assert_exit(&out, 0, "merge after the rerun");
    assert_same_tables(&tmp.join("out"), &whole);
}

#[test]
fn resume_works_across_shard_counts_and_failed_runs_exit_2() {
    let tmp = TempDir::new("recount");
    let spec = tmp.spec("recount", GRID);
    let (_, grid) = tmp.grid(&spec);
    let whole = unsharded(&tmp, &spec, "whole");
    // Half the work done as 2 shards, the rest as 3: nothing runs twice.
    assert_exit(&tmp.run(&shard_args(&spec, "out", "0/2")), 0, "0/2");
    let done = Shard::new(0, 2).unwrap().runs(&grid).len();
    let mut ran = 0;
    for k in 0..3 {
        let out = tmp.run(&shard_args(&spec, "out", &format!("{k}/3")));
        assert_exit(&out, 0, "a shard of 3");
        ran += ran_and_done(&out).0;
    }
    assert_eq!(ran, 18 - done);
    let out = tmp.run(&["sweep", "merge", "out", "-q"]);
    assert_exit(&out, 0, "merge of 2 + 3 shards");
    assert_same_tables(&tmp.join("out"), &whole);

    // Invalid points are error rows: the shard and the merge exit 2, nothing is missing.
    let bad = tmp.spec(
        "bad",
        "seeds = 2\n\n[axes]\nscheduler.max_num_seqs = [0, 8]\n",
    );
    let mut failed = 0;
    for k in ["0/2", "1/2"] {
        let out = tmp.run(&shard_args(&bad, "bad-out", k));
        failed += usize::from(out.status.code() == Some(2));
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{}",
            describe(&out)
        );
    }
    assert!(failed >= 1);
    let out = tmp.run(&["sweep", "merge", "bad-out"]);
    assert_exit(&out, 2, "merge with failed runs");
    assert!(
        text(&out.stdout).contains("2 ok, 2 failed, 0 missing"),
        "{}",
        describe(&out)
    );
}

#[test]
fn merge_needs_a_sweep_folder_and_can_run_from_anywhere() {
    let tmp = TempDir::new("where");
    let spec = tmp.spec("where", GRID);
    for k in ["0/2", "1/2"] {
        assert_exit(&tmp.run(&shard_args(&spec, "out", k)), 0, k);
    }
    // From another directory: the relative spec path resolves where the sweep ran.
    let abs = tmp.join("out");
    let out = Command::new(BIN)
        .args([OsStr::new("sweep"), OsStr::new("merge"), abs.as_os_str()])
        .current_dir("/")
        .output()
        .unwrap();
    assert_exit(&out, 0, "merge from /");
    // --spec instead of the recorded one.
    let out = tmp.run(&[
        OsStr::new("sweep"),
        OsStr::new("merge"),
        OsStr::new("out"),
        OsStr::new("--spec"),
        spec.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("csv"),
    ]);
    assert_exit(&out, 0, "merge --spec");

    for (args, needle) in [
        (vec!["sweep", "merge", "nowhere"], "nowhere"),
        (vec!["sweep", "merge", "."], "spec.json"),
        (vec!["sweep", "merge", "out", "--format", "xml"], "xml"),
    ] {
        let out = tmp.run(&args);
        assert_exit(&out, 1, &args.join(" "));
        let stderr = text(&out.stderr);
        assert!(
            stderr.lines().count() == 1 && stderr.contains(needle),
            "{}",
            describe(&out)
        );
    }
}

#[test]
fn bad_shards_force_and_stray_sbatch_options_are_refused() {
    let tmp = TempDir::new("refuse");
    let spec = tmp.spec("refuse", GRID);
    let s = spec.to_str().unwrap();
    for (args, needle) in [
        (vec!["sweep", s, "--shard", "3/3"], "numbered 0 to 2"),
        (vec!["sweep", s, "--shard", "1of3"], "K/N"),
        (vec!["sweep", s, "--shard", "0/0"], "at least 1"),
        (
            vec!["sweep", s, "--shard", "1/3", "--force"],
            "--force with shard 1/3",
        ),
        (vec!["sweep", s, "--", "--time=1:00"], "--slurm only"),
        (vec!["sweep", s, "--array-size", "3"], "go with --slurm"),
        (vec!["sweep", s, "--slurm", "--shard", "0/2"], "--shard"),
    ] {
        let out = tmp.run(&args);
        assert_exit(&out, 1, &args.join(" "));
        let stderr = text(&out.stderr);
        assert!(
            stderr.lines().count() == 1 && stderr.contains(needle),
            "{}: {}",
            args.join(" "),
            describe(&out)
        );
    }
    assert!(
        !tmp.join("results").exists(),
        "a refused sweep wrote results"
    );

    // An unsharded --force clears shard journals too.
    assert_exit(&tmp.run(&shard_args(&spec, "out", "0/2")), 0, "0/2");
    let out = tmp.run(&["sweep", s, "-o", "out", "--force", "-q"]);
    assert_exit(&out, 0, "--force");
    let names = files(&tmp.join("out"));
    assert!(
        !names.iter().any(|n| n.contains("shard")),
        "--force kept shard files: {names:?}"
    );
}

#[test]
#[cfg(unix)] // a fake sbatch shell script
fn slurm_scripts_are_written_and_submitted_with_the_merge_after_the_array() {
    let tmp = TempDir::new("slurm");
    let spec = tmp.spec("slurm", GRID);
    let (_, grid) = tmp.grid(&spec);
    let s = spec.to_str().unwrap();
    let out = tmp.run(&[
        "sweep",
        s,
        "--slurm",
        "--array-size",
        "3",
        "--partition",
        "debug",
        "-o",
        "res",
        "--format",
        "csv",
        "--",
        "--time=0:05:00",
        "--mem=1G",
    ]);
    assert_exit(&out, 0, "--slurm");
    let stdout = text(&out.stdout);
    let res = tmp.join("res");
    let slurm = res.join("slurm");
    assert!(
        stdout.contains("array of 3 tasks over 18 runs, 18 to do")
            && stdout.contains(&format!(
                "submit with: {}",
                slurm.join("submit.sh").display()
            )),
        "{}",
        describe(&out)
    );
    assert!(files(&slurm).is_superset(&BTreeSet::from([
        "sweep.sbatch".to_string(),
        "merge.sbatch".to_string(),
        "submit.sh".to_string(),
        "logs".to_string()
    ])));
    assert!(files(&res).contains("spec.json"), "merge needs the spec");
    let array = read(&slurm.join("sweep.sbatch"));
    for needle in [
        "#SBATCH --array=0-2\n".to_string(),
        "#SBATCH --job-name=slurm\n".to_string(),
        format!("#SBATCH --chdir={}\n", tmp.0.display()),
        format!("#SBATCH --output={}/logs/shard-%a.job-%A.out\n", slurm.display()),
        "#SBATCH --partition=debug\n".to_string(),
        "#SBATCH --time=0:05:00\n#SBATCH --mem=1G\n".to_string(),
        format!(
            "exec {BIN} sweep slurm.toml -o {} --shard \"$SLURM_ARRAY_TASK_ID/3\" -j \"${{SLURM_CPUS_PER_TASK:-1}}\" --format csv --no-color\n",
            res.display()
        ),
    ] {
        assert!(array.contains(&needle), "no {needle:?} in\n{array}");
    }
    let merge = read(&slurm.join("merge.sbatch"));
    for needle in [
        "#SBATCH --job-name=slurm-merge\n".to_string(),
        "#SBATCH --partition=debug\n".to_string(),
        format!(
            "exec {BIN} sweep merge {} --format csv --no-color\n",
            res.display()
        ),
    ] {
        assert!(merge.contains(&needle), "no {needle:?} in\n{merge}");
    }

    // Submit to a fake sbatch that records its arguments and hands out job ids.
    let bin = tmp.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = tmp.join("sbatch-calls.txt");
    let fake = bin.join("sbatch");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/bash\necho \"$*\" >> {}\nn=$(wc -l < {})\necho $((100 + n))\n",
            calls.display(),
            calls.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let submit = |extra: &[&str]| {
        let mut args = vec!["sweep", s, "--slurm", "--array-size", "3", "-o", "res"];
        args.extend(extra);
        let mut cmd = tmp.command(&args);
        cmd.env("PATH", &path);
        cmd.output().unwrap()
    };
    let out = submit(&["--submit"]);
    assert_exit(&out, 0, "--submit");
    let calls_text = read(&calls);
    let lines: Vec<&str> = calls_text.lines().collect();
    assert_eq!(
        lines,
        [
            format!("--parsable --array=0-2 {}/sweep.sbatch", slurm.display()),
            format!(
                "--parsable --dependency=afterany:101 --kill-on-invalid-dep=yes {}/merge.sbatch",
                slurm.display()
            ),
        ]
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("submitted array job 101") && stdout.contains("squeue -j 101,102"),
        "{}",
        describe(&out)
    );
    assert!(read(&slurm.join("jobs.txt")).contains("array=101 merge=102 shards=0-2/3"));

    // A resubmission after shards 0 and 2 finished submits only shard 1.
    for k in ["0/3", "2/3"] {
        assert_exit(&tmp.run(&shard_args(&spec, "res", k)), 0, k);
    }
    let left = Shard::new(1, 3).unwrap().runs(&grid).len();
    let out = submit(&["--submit"]);
    assert_exit(&out, 0, "resubmission");
    assert!(
        text(&out.stdout).contains(&format!("{left} to do")),
        "{}",
        describe(&out)
    );
    let calls_text = read(&calls);
    assert!(
        calls_text
            .lines()
            .nth(2)
            .is_some_and(|l| l.starts_with("--parsable --array=1 ")),
        "{calls_text}"
    );
    assert!(calls_text.contains("--dependency=afterany:103"));

    // Once everything is done there is nothing to submit.
    assert_exit(&tmp.run(&shard_args(&spec, "res", "1/3")), 0, "1/3");
    let out = submit(&["--submit"]);
    assert_exit(&out, 0, "nothing left");
    assert!(
        text(&out.stdout).contains("nothing to submit"),
        "{}",
        describe(&out)
    );
    assert_eq!(read(&calls).lines().count(), 4, "submitted again");

    // No sbatch on PATH: a clear error.
    let mut cmd = tmp.command(&["sweep", s, "--slurm", "--submit", "-o", "res2"]);
    cmd.env("PATH", "/nonexistent");
    let out = cmd.output().unwrap();
    assert_exit(&out, 1, "--submit without sbatch");
    assert!(
        text(&out.stderr).contains("sbatch is not on PATH"),
        "{}",
        describe(&out)
    );
}
