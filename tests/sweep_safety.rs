//! What a user writes never makes a sweep abort, hang, eat the machine or touch files it did
//! not write (issue #11): one end-to-end test per defect, on small specs over
//! tests/fixtures/tiny.toml, each run by the real binary under a time and memory cap.

mod capped;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use capped::{run_capped, Capped};
use polars::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");
/// Far below the 34 GB that `seeds = 4294967296` once asked for, far above a small sweep.
const MEMORY_CAP: u64 = 3 << 30;

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "inference-lab-safety-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a spec over the tiny config to `<file_stem>.toml`; returns its path.
    fn spec(&self, file_stem: &str, body: &str) -> PathBuf {
        let path = self.join(&format!("{file_stem}.toml"));
        let text = format!("name = \"s\"\nbase = {}\n{body}", toml::Value::from(TINY));
        std::fs::write(&path, text).expect("write a spec");
        path
    }

    /// `inference-lab ARGS...` in this folder, capped at 60 s and [`MEMORY_CAP`].
    fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Capped {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(&self.0).env("NO_COLOR", "1");
        for var in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "JOB_COMPLETION_INDEX",
        ] {
            cmd.env_remove(var);
        }
        let out = run_capped(cmd, Duration::from_secs(60), MEMORY_CAP);
        assert!(
            out.status.is_some(),
            "killed at the time cap: {}",
            out.describe()
        );
        out
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_exit(out: &Capped, code: i32) {
    assert_eq!(out.code(), Some(code), "{}", out.describe());
}

/// Exit 1 with one short line on stderr that contains every needle.
fn assert_refused(out: &Capped, needles: &[&str]) {
    assert_exit(out, 1);
    let err = out.stderr.trim();
    assert_eq!(err.lines().count(), 1, "one line: {}", out.describe());
    assert!(err.len() < 400, "short: {err}");
    for needle in needles {
        assert!(err.contains(needle), "no {needle:?} in {err}");
    }
}

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
    let values = c.str().unwrap();
    (0..values.len())
        .map(|i| values.get(i).map(str::to_string))
        .collect()
}

#[test]
fn a_point_that_cannot_run_is_an_error_row_and_the_rest_is_tabled() {
    let dir = TempDir::new("failing-point");
    let spec = dir.spec(
        "spec",
        "seeds = 3\n[axes]\nworkload.num_requests = [30, 20000000]\n",
    );
    // Every rerun gives the same tables: the failing point never aborts the sweep.
    for attempt in 0..2 {
        let out = dir.run(&[
            "sweep".as_ref(),
            spec.as_os_str(),
            "--format".as_ref(),
            "csv".as_ref(),
        ]);
        assert_exit(&out, 2);
        assert!(
            out.stderr.contains("3 runs failed")
                && out.stderr.contains("workload.num_requests = 20000000"),
            "attempt {attempt}: the failed point is named: {}",
            out.describe()
        );
        let runs = read_csv(&dir.join("results/s/runs.csv"));
        let status = strings(&runs, "status");
        let error = strings(&runs, "error");
        assert_eq!(runs.height(), 6);
        for i in 0..6 {
            // Grid order: the axis outermost, the seeds innermost.
            let huge = i >= 3;
            assert_eq!(
                status[i].as_deref(),
                Some(if huge { "error" } else { "ok" }),
                "row {i}"
            );
            if huge {
                let e = error[i].as_deref().unwrap_or("");
                assert!(e.contains("10000000") && !e.contains('\n'), "row {i}: {e}");
            }
        }
        let summary = read_csv(&dir.join("results/s/summary.csv"));
        let n = strings(&summary, "n");
        let n_error = strings(&summary, "n_error");
        assert_eq!(
            n,
            [Some("3".into()), Some("0".into())],
            "only ok runs count"
        );
        assert_eq!(n_error, [Some("0".into()), Some("3".into())]);
    }
}

#[test]
fn a_dataset_that_does_not_load_fails_only_its_own_runs() {
    let dir = TempDir::new("dataset");
    let good = dir.join("good.jsonl");
    let line = r#"{"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 4}"#;
    std::fs::write(&good, format!("{line}\n{line}\n")).unwrap();
    let tokenizer = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/tokenizers/qwen3/tokenizer.json"
    );
    let values = [
        good.display().to_string(),
        dir.join("missing.jsonl").display().to_string(),
    ];
    let spec = dir.spec(
        "spec",
        &format!(
            "[set]\nworkload.tokenizer = {}\nworkload.chat_template = \"None\"\nworkload.num_requests = 2\n\
             [axes]\nworkload.dataset_path = [{}, {}]\n",
            toml::Value::from(tokenizer),
            toml::Value::from(values[0].as_str()),
            toml::Value::from(values[1].as_str()),
        ),
    );
    let out = dir.run(&[
        "sweep".as_ref(),
        spec.as_os_str(),
        "--format".as_ref(),
        "csv".as_ref(),
    ]);
    assert_exit(&out, 2);
    assert!(out.stderr.contains("missing.jsonl"), "{}", out.describe());
    let runs = read_csv(&dir.join("results/s/runs.csv"));
    assert_eq!(
        strings(&runs, "status"),
        [Some("ok".into()), Some("error".into())]
    );
}

#[test]
fn grid_seed_and_thread_limits_are_checked_before_any_work() {
    let dir = TempDir::new("limits");
    let huge_seeds = i64::MAX.to_string();
    for (body, needles) in [
        (
            format!("seeds = {huge_seeds}\n"),
            vec![huge_seeds.as_str(), "10000"],
        ),
        (
            "seeds = 4294967296\n".to_string(),
            vec!["4294967296", "10000"],
        ),
        (
            "[axes]\nscheduler.max_num_seqs = { range = [1000000, 10000000] }\n\
             scheduler.max_num_batched_tokens = { range = [1000000, 10000000] }\n\
             workload.num_requests = { range = [1000000, 10000000] }\n"
                .to_string(),
            vec!["runs", "1000000"],
        ),
    ] {
        let spec = dir.spec("big", &body);
        for dry_run in [false, true] {
            let mut args = vec!["sweep".as_ref(), spec.as_os_str()];
            if dry_run {
                args.push("--dry-run".as_ref());
            }
            let out = dir.run(&args);
            assert_refused(&out, &needles);
            assert!(!out.stderr.contains("excluded"), "{}", out.describe());
            assert!(out.elapsed < Duration::from_secs(10), "{}", out.describe());
        }
    }
    let spec = dir.spec("small", "");
    let out = dir.run(&[
        "sweep".as_ref(),
        spec.as_os_str(),
        "-j".as_ref(),
        "100000".as_ref(),
    ]);
    assert_refused(&out, &["100000", "1024"]);
    assert!(!dir.join("results").exists(), "refused before writing");
}

#[test]
fn exclusions_that_match_no_value_are_errors() {
    let dir = TempDir::new("exclude");
    for value in ["\"4\"", "4.0", "5"] {
        let spec = dir.spec(
            "spec",
            &format!("[axes]\nscheduler.max_num_seqs = [4, 8]\n[[exclude]]\nscheduler.max_num_seqs = {value}\n"),
        );
        let out = dir.run(&["sweep".as_ref(), spec.as_os_str(), "--dry-run".as_ref()]);
        assert_refused(
            &out,
            &["[[exclude]] #1", "scheduler.max_num_seqs", value, "4, 8"],
        );
    }
    let spec = dir.spec(
        "spec",
        "[axes]\nscheduler.max_num_seqs = [4, 8]\n[[exclude]]\nscheduler.max_num_seqs = 4\n",
    );
    let out = dir.run(&["sweep".as_ref(), spec.as_os_str(), "--dry-run".as_ref()]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("1 points x 1 seeds = 1 runs (1 excluded)"),
        "{}",
        out.describe()
    );
}

#[test]
fn results_go_only_into_the_tools_own_folders() {
    let dir = TempDir::new("folders");
    let spec = dir.spec("spec", "[axes]\nscheduler.max_num_seqs = [4, 8]\n");
    let spec = spec.as_os_str();

    // A folder of the user's own files: refused, with or without --force; nothing touched.
    let mine = dir.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let theirs = ["runs.csv", "manifest.json", "journal.jsonl"];
    for name in theirs {
        std::fs::write(mine.join(name), format!("the user's {name}\n")).unwrap();
    }
    for force in [false, true] {
        let mut args = vec!["sweep".as_ref(), spec, "-o".as_ref(), mine.as_os_str()];
        if force {
            args.push("--force".as_ref());
        }
        let out = dir.run(&args);
        assert_refused(&out, &["mine", "not an inference-lab results folder"]);
    }
    let out = dir.run(&[
        "sweep".as_ref(),
        spec,
        "-o".as_ref(),
        mine.as_os_str(),
        "--dry-run".as_ref(),
    ]);
    assert_refused(&out, &["not an inference-lab results folder"]);
    for name in theirs {
        let text = std::fs::read_to_string(mine.join(name)).unwrap();
        assert_eq!(text, format!("the user's {name}\n"));
    }
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), theirs.len());
    assert_refused(
        &dir.run(&["sweep".as_ref(), spec, "-o".as_ref(), "/".as_ref()]),
        &["/ is not empty", "not an inference-lab results folder"],
    );

    // The tool's own folder: created and marked, resumed, and a format switch leaves no stale
    // table; --force deletes only what the tool wrote.
    let out_dir = dir.join("res");
    let run = |format: &str, force: bool| {
        let mut args = vec![
            "sweep".as_ref(),
            spec,
            "-o".as_ref(),
            out_dir.as_os_str(),
            "--format".as_ref(),
            format.as_ref(),
        ];
        if force {
            args.push("--force".as_ref());
        }
        dir.run(&args)
    };
    assert_exit(&run("parquet", false), 0);
    assert!(out_dir.join(".inference-lab").is_file());
    assert!(out_dir.join("runs.parquet").is_file());
    let out = run("csv", false);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("(0 ran, 2 already done"),
        "resumes: {}",
        out.describe()
    );
    assert!(out_dir.join("runs.csv").is_file());
    assert!(!out_dir.join("runs.parquet").exists() && !out_dir.join("summary.parquet").exists());
    std::fs::write(out_dir.join("notes.txt"), "mine\n").unwrap();
    let out = run("csv", true);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("(2 ran, 0 already done"),
        "{}",
        out.describe()
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("notes.txt")).unwrap(),
        "mine\n"
    );
}

#[test]
fn slurm_scripts_never_run_what_a_path_holds() {
    let dir = TempDir::new("slurm");
    // A results path with a command substitution, a space and quotes: #SBATCH lines cannot
    // quote it, so it is refused before anything is written.
    // (Without a space, the old submit.sh ran it in an echo line.)
    let spec = dir.spec("spec", "[axes]\nscheduler.max_num_seqs = [4, 8]\n");
    for name in [
        "res $(touch PWNED) 'q\"",
        "res$(touch${IFS}PWNED)",
        "res`touch PWNED`",
    ] {
        let hostile_out = dir.join(name);
        let out = dir.run(&[
            "sweep".as_ref(),
            spec.as_os_str(),
            "--slurm".as_ref(),
            "-o".as_ref(),
            hostile_out.as_os_str(),
        ]);
        assert_refused(&out, &["#SBATCH"]);
        assert!(!hostile_out.exists());
    }

    // A spec path with the same: quoted in the scripts. A fake sbatch runs each script with
    // bash, as Slurm would; the sweep runs and merges, and nothing runs what the path holds.
    let hostile_spec = dir.spec(
        "spec $(touch PWNED) 'q\"",
        "[axes]\nscheduler.max_num_seqs = [4, 8]\n",
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sbatch = bin.join("sbatch");
    std::fs::write(
        &sbatch,
        "#!/bin/bash\n# Fake sbatch: run the script (the last argument) now, as array task 0 of 1.\n\
         script=\"${@: -1}\"\nSLURM_ARRAY_TASK_ID=0 bash \"$script\" >>\"$(dirname \"$script\")/fake.log\" 2>&1\necho 42\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(BIN);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.args([
        "sweep".as_ref(),
        hostile_spec.file_name().unwrap(),
        "--slurm".as_ref(),
        "--array-size".as_ref(),
        "1".as_ref(),
        "--submit".as_ref(),
        "--format".as_ref(),
        "csv".as_ref(),
    ])
    .current_dir(&dir.0)
    .env("PATH", path)
    .env("NO_COLOR", "1")
    .env_remove("SLURM_ARRAY_TASK_ID");
    let out = run_capped(cmd, Duration::from_secs(60), MEMORY_CAP);
    assert_exit(&out, 0);
    let log = std::fs::read_to_string(dir.join("results/s/slurm/fake.log")).unwrap_or_default();
    assert!(
        dir.join("results/s/runs.csv").is_file(),
        "the merge job wrote the tables: {}\n--- jobs\n{log}",
        out.describe()
    );
    assert!(!dir.join("PWNED").exists() && !dir.join("results/s/slurm/PWNED").exists());
    let runs = read_csv(&dir.join("results/s/runs.csv"));
    assert_eq!(
        strings(&runs, "status"),
        [Some("ok".into()), Some("ok".into())]
    );
}

#[test]
fn calibrate_never_writes_over_its_input() {
    let dir = TempDir::new("calibrate");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/h100-steps/h100-llama3-8b-bf16-train.csv"
    );
    let steps = dir.join("steps.csv");
    std::fs::copy(data, &steps).unwrap();
    let before = std::fs::read(&steps).unwrap();
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/chat-llama3-8b-h100.toml"
    );
    let fit = dir.run(&[
        "calibrate".as_ref(),
        "fit".as_ref(),
        "--steps".as_ref(),
        steps.as_os_str(),
        "-c".as_ref(),
        config.as_ref(),
        "--no-cv".as_ref(),
        "-o".as_ref(),
        steps.as_os_str(),
    ]);
    assert_refused(&fit, &["--steps", "overwrite"]);
    let predict = dir.run(&[
        "calibrate".as_ref(),
        "predict".as_ref(),
        "--steps".as_ref(),
        "steps.csv".as_ref(),
        "-c".as_ref(),
        config.as_ref(),
        "-o".as_ref(),
        steps.as_os_str(),
    ]);
    assert_refused(&predict, &["--steps", "overwrite"]);
    assert_eq!(
        std::fs::read(&steps).unwrap(),
        before,
        "the steps file is untouched"
    );
}
