//! A write that fails (a full disk, `> /dev/full`) is an error line and exit 1 in every
//! subcommand, never a panic (exit 101). /dev/full accepts opening and fails every write with
//! ENOSPC, as a full disk does.
#![cfg(target_os = "linux")]

use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");
const DEBUG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/configs/debug-closed-loop.toml"
);
const STEPS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/h100-steps/h100-llama3-8b-bf16-train.csv"
);
const CHAT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/configs/chat-llama3-8b-h100.toml"
);
const CALIBRATED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/configs/chat-llama3-8b-h100-calibrated.toml"
);

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "inference-lab-write-errors-{}-{test}",
            std::process::id()
        ));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove a stale temp dir");
        }
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary with stdout on /dev/full.
fn run_full<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .stdout(Stdio::from(
            File::create("/dev/full").expect("open /dev/full"),
        ))
        .stderr(Stdio::piped())
        .output()
        .expect("run inference-lab")
}

/// Exit 1 and exactly one `error:` line on stderr that says what could not be written.
fn assert_write_error(out: &Output, what: &str, names: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: stderr {stderr:?}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{what}: {stderr:?}");
    assert!(errors[0].contains(names), "{what}: {stderr:?}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr:?}");
}

#[test]
fn every_command_reports_a_full_stdout() {
    let dir = TempDir::new("stdout");
    let spec = dir.0.join("spec.toml");
    std::fs::write(&spec, format!("name = \"full\"\nbase = {TINY:?}\n")).expect("write a spec");
    let spec = spec.to_str().expect("UTF-8 path").to_string();
    let results = dir.0.join("results");
    let results = results.to_str().expect("UTF-8 path").to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["-c", DEBUG],
        vec!["-c", DEBUG, "-o", "-"],
        vec!["-c", DEBUG, "-v"],
        vec!["--help"],
        vec!["sweep", "--help"],
        vec!["--version"],
        vec!["sweep", &spec, "--dry-run"],
        vec!["sweep", &spec, "-o", &results, "--format", "csv"],
        vec!["calibrate", "predict", "--steps", STEPS, "-c", CALIBRATED],
        vec![
            "calibrate",
            "predict",
            "--steps",
            STEPS,
            "-c",
            CALIBRATED,
            "-o",
            "-",
            "-q",
        ],
        vec![
            "calibrate",
            "fit",
            "--steps",
            STEPS,
            "-c",
            CHAT,
            "--no-cv",
            "--fix",
            "memory_efficiency=0.9",
        ],
        vec!["validate", DEBUG, TINY],
        vec!["completions", "bash"],
    ];
    for args in &cases {
        assert_write_error(&run_full(args), &format!("{args:?}"), "stdout");
    }
}

#[test]
fn a_full_disk_under_the_json_file_is_an_error() {
    let out = Command::new(BIN)
        .args(["-q", "-c", DEBUG, "-o", "/dev/full"])
        .output()
        .expect("run inference-lab");
    assert_write_error(&out, "-o /dev/full", "/dev/full");
    assert!(out.stdout.is_empty());
}
