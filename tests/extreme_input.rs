//! Extreme input, end to end: numbers that cannot describe hardware, a model or a workload are
//! rejected with their allowed range (never run into NaN, infinite or zero-throughput results);
//! keys the arrival pattern ignores are warned about; and no error line echoes a huge input back.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use polars::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");
/// What any error line may be at most (the quoted input is cut to about 80 characters).
const SHORT_LINE: usize = 400;

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "inference-lab-extreme-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tiny() -> String {
    std::fs::read_to_string(TINY).expect("the tiny fixture")
}

/// Replaces the one occurrence of `from` (an edit that changes nothing would prove nothing).
fn edit(config: &str, from: &str, to: &str) -> String {
    assert_eq!(config.matches(from).count(), 1, "`{from}` must occur once");
    config.replacen(from, to, 1)
}

fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run inference-lab")
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Exit 1, nothing on stdout, one short `error:` line on stderr; returns that line.
fn short_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert!(out.stdout.is_empty(), "{}", describe(out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{}", describe(out));
    assert!(stderr.starts_with("error: "), "{}", describe(out));
    assert!(
        stderr.trim_end().chars().count() < SHORT_LINE,
        "an error line of {} characters: {}...",
        stderr.len(),
        &stderr[..SHORT_LINE.min(stderr.len())]
    );
    stderr.trim_end().to_string()
}

/// Runs `config` as a single run and returns its one error line.
fn config_error(case: &str, config: &str) -> String {
    config_error_in(&TempDir::new(case), config)
}

/// As [`config_error`], with the config written into `dir` (beside the files it names).
fn config_error_in(dir: &TempDir, config: &str) -> String {
    let path = dir.write("config.toml", config);
    short_error(&run(&[OsStr::new("-c"), path.as_os_str()]))
}

fn assert_mentions(line: &str, parts: &[&str]) {
    for part in parts {
        assert!(line.contains(part), "`{part}` not in: {line}");
    }
}

#[test]
fn compute_flops_of_1e_minus_300_is_rejected_with_its_range() {
    let config = edit(
        &tiny(),
        "compute_flops = 9.895e14",
        "compute_flops = 1e-300",
    );
    let line = config_error("flops", &config);
    assert_mentions(
        &line,
        &["hardware.compute_flops = 1e-300", "from 1e9 to 1e18 FLOP/s"],
    );
}

#[test]
fn an_efficiency_of_1e_minus_300_is_rejected_with_its_range() {
    let config = edit(
        &tiny(),
        "bytes_per_param = 2",
        "bytes_per_param = 2\nattention_efficiency = 1e-300",
    );
    let line = config_error("efficiency", &config);
    assert_mentions(
        &line,
        &["hardware.attention_efficiency = 1e-300", "from 0.01 to 1"],
    );
}

#[test]
fn an_overhead_of_1e300_is_rejected_with_its_range() {
    let config = edit(
        &tiny(),
        "bytes_per_param = 2",
        "bytes_per_param = 2\nstep_overhead = 1e300",
    );
    let line = config_error("overhead", &config);
    assert_mentions(
        &line,
        &["hardware.step_overhead = 1e300", "from 0 to 1 seconds"],
    );
}

/// Every other extreme found to give NaN, infinite or zero-throughput results (or to overflow
/// the clock) before the ranges existed.
#[test]
fn other_extremes_are_rejected_with_their_range() {
    for (from, to, says) in [
        (
            "memory_bandwidth = 3.35e12",
            "memory_bandwidth = 1e-300",
            "hardware.memory_bandwidth = 1e-300 is invalid: it must be a number from 1e8 to 1e15",
        ),
        (
            "compute_flops = 9.895e14",
            "compute_flops = 1e300",
            "hardware.compute_flops = 1e300 is invalid",
        ),
        (
            "bytes_per_param = 2",
            "bytes_per_param = 1e-300",
            "hardware.bytes_per_param = 1e-300 is invalid: it must be a number from 0.125 to 8",
        ),
        (
            "memory_capacity = 85899345920",
            "memory_capacity = 1e300",
            "hardware.memory_capacity = 1e300 is invalid: it must be a number from 1e6 to 1e15",
        ),
        (
            "bytes_per_param = 2",
            "bytes_per_param = 2\nkv_cache_capacity = 1e300",
            "hardware.kv_cache_capacity = 1e300 is invalid",
        ),
        (
            "bytes_per_param = 2",
            "bytes_per_param = 2\nlayer_overhead = 1e300",
            "hardware.layer_overhead = 1e300 is invalid",
        ),
        (
            "bytes_per_param = 2",
            "bytes_per_param = 2\nmemory_efficiency = 1e-300",
            "hardware.memory_efficiency = 1e-300 is invalid",
        ),
        (
            "arrival_rate = 20.0",
            "arrival_rate = 1e-300",
            "workload.arrival_rate = 1e-300 is invalid: it must be a number from 1e-6 to 1e9 requests/s",
        ),
        (
            "num_requests = 30",
            "num_requests = 30\nduration_secs = 1e300",
            "workload.duration_secs = 1e300 is invalid: it must be greater than 0 and at most 1e9 seconds",
        ),
        (
            "num_parameters = 8030000000",
            "num_parameters = 1e18",
            "model.num_parameters = 1000000000000000000 is invalid: it must be a whole number from 1 to 1000000000000000",
        ),
        (
            "num_layers = 32",
            "num_layers = 4000000000",
            "model.num_layers = 4000000000 is invalid: it must be a whole number from 1 to 10000",
        ),
        (
            "hidden_dim = 4096",
            "hidden_dim = 4096\nhead_dim = 4000000000",
            "model.head_dim = 4000000000 is invalid",
        ),
    ] {
        let line = config_error("others", &edit(&tiny(), from, to));
        assert_mentions(&line, &[says]);
    }
}

/// In a sweep, an extreme point is an error row that says why, not an `ok` row with NaN (or
/// null) latencies and zero throughput counted in `n`.
#[test]
fn an_extreme_sweep_point_is_an_error_row() {
    let dir = TempDir::new("sweep");
    let spec = dir.write(
        "spec.toml",
        &format!(
            "name = \"extreme\"\nbase = {TINY:?}\n[axes]\nhardware.compute_flops = [9.895e14, 1e-300]\n"
        ),
    );
    let res = dir.0.join("out");
    let out = Command::new(BIN)
        .args([OsStr::new("sweep"), spec.as_os_str(), OsStr::new("-o")])
        .arg(&res)
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("run the sweep");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let runs = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(res.join("runs.csv")))
        .and_then(|r| r.finish())
        .expect("runs.csv");
    let column = |name: &str| -> Vec<Option<String>> {
        let values = runs.column(name).unwrap().str().unwrap().clone();
        (0..values.len())
            .map(|i| values.get(i).map(str::to_string))
            .collect()
    };
    let (status, error) = (column("status"), column("error"));
    assert_eq!(status[0].as_deref(), Some("ok"));
    assert_eq!(status[1].as_deref(), Some("error"));
    let message = error[1].as_deref().unwrap_or("");
    assert!(
        message.contains("hardware.compute_flops = 1e-300 is invalid"),
        "{message}"
    );
}

#[test]
fn keys_the_pattern_ignores_are_one_warning_line_each() {
    let dir = TempDir::new("warn");
    let config = edit(
        &tiny(),
        "num_requests = 30",
        "num_requests = 30\nnum_concurrent_users = 4\nburst_size = 3",
    );
    let path = dir.write("config.toml", &config);
    let out = run(&[OsStr::new("-c"), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert_mentions(
        warnings[0],
        &[
            "workload.num_concurrent_users is ignored",
            "arrival_pattern = \"poisson\"",
        ],
    );
    assert_mentions(
        warnings[1],
        &[
            "workload.burst_size is ignored",
            "arrival_pattern = \"poisson\"",
        ],
    );
    // -q prints nothing but errors.
    let quiet = run(&[OsStr::new("-c"), path.as_os_str(), OsStr::new("-q")]);
    assert_eq!(quiet.status.code(), Some(0), "{}", describe(&quiet));
    assert!(quiet.stderr.is_empty(), "{}", describe(&quiet));
    // The seed-era configs that set arrival_rate with closed_loop still run, and say so.
    let seed_era = format!("{ROOT}/examples/seed-era/test_blog.toml");
    let out = run(&["-c", &seed_era, "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l.starts_with("warning: ")
            && l.ends_with(
                "test_blog.toml: workload.arrival_rate is ignored with arrival_pattern = \
                 \"closed_loop\" (only the open-loop patterns (poisson, gamma, weibull, \
                 uniform, uniform_random, burst, fixed_rate) use it)"
            )),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_sweep_prints_each_distinct_warning_once() {
    let dir = TempDir::new("sweep-warn");
    let base = dir.write(
        "base.toml",
        &edit(
            &tiny(),
            "num_requests = 30",
            "num_requests = 5\nburst_size = 3",
        ),
    );
    let spec = dir.write(
        "spec.toml",
        &format!(
            "name = \"warned\"\nbase = {:?}\n[axes]\nscheduler.max_num_seqs = [8, 16, 32]\n",
            base.display().to_string()
        ),
    );
    let out = Command::new(BIN)
        .args([
            OsStr::new("sweep"),
            spec.as_os_str(),
            OsStr::new("--dry-run"),
        ])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("run the sweep");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warned = stderr
        .lines()
        .filter(|l| l.contains("workload.burst_size is ignored"))
        .count();
    assert_eq!(warned, 1, "{}", describe(&out));
}

/// A 100,000-character value, key or line gives a short error line that says how long it was.
#[test]
fn a_huge_bad_value_is_not_echoed() {
    let huge = "x".repeat(100_000);
    let cases = [
        edit(
            &tiny(),
            "policy = \"fcfs\"",
            &format!("policy = \"{huge}\""),
        ),
        edit(
            &tiny(),
            "compute_flops = 9.895e14",
            &format!("compute_flops = \"{huge}\""),
        ),
        edit(
            &tiny(),
            "block_size = 16",
            &format!("block_size = 16\n{huge} = 1"),
        ),
        edit(&tiny(), "[model]", &format!("[{huge}]\n[model]")),
        edit(&tiny(), "block_size = 16", &format!("block_size = {huge}")),
        edit(
            &tiny(),
            "block_size = 16",
            &format!("block_size = 16\nblock_size = \"{huge}\""),
        ),
    ];
    for (i, config) in cases.iter().enumerate() {
        let line = config_error(&format!("huge-{i}"), config);
        assert!(!line.contains(&"x".repeat(100)), "case {i}: {line}");
    }
    let line = config_error("huge-policy", &cases[0]);
    assert_mentions(&line, &["(100000 characters)", "unknown value"]);
}

#[test]
fn a_20_mb_calibrate_field_is_not_echoed() {
    let dir = TempDir::new("calibrate");
    let field = "1x1@".to_string() + &"9".repeat(20_000_000);
    let steps = dir.write("steps.csv", &format!("sequences,median_ms\n{field},1.0\n"));
    let config = format!("{ROOT}/configs/chat-llama3-8b-h100.toml");
    let out = run(&[
        OsStr::new("calibrate"),
        OsStr::new("predict"),
        OsStr::new("--steps"),
        steps.as_os_str(),
        OsStr::new("-c"),
        OsStr::new(&config),
    ]);
    let line = short_error(&out);
    assert_mentions(
        &line,
        &["line 2: sequences `1x1@999", "(20000004 characters)"],
    );
}

#[test]
fn a_huge_dataset_value_is_not_echoed() {
    let dir = TempDir::new("dataset");
    let huge = "y".repeat(100_000);
    dir.write(
        "data.jsonl",
        &format!(
            "{{\"messages\": [{{\"role\": \"user\", \"content\": \"hi\"}}], \"max_tokens\": \"{huge}\"}}\n"
        ),
    );
    let config = edit(
        &tiny(),
        "num_requests = 30",
        &format!(
            "num_requests = 1\ndataset_path = \"data.jsonl\"\ntokenizer = {:?}\nchat_template = \"None\"",
            format!("{ROOT}/data/tokenizers/qwen3/tokenizer.json")
        ),
    );
    let line = config_error_in(&dir, &config);
    assert_mentions(
        &line,
        &[
            "line 1: max_tokens = \"yyy",
            "(100000 characters)\" is invalid",
        ],
    );
}

#[test]
fn a_huge_sweep_spec_value_is_not_echoed() {
    let dir = TempDir::new("spec");
    let huge = "z".repeat(100_000);
    for (i, body) in [
        format!("[axes]\nscheduler.policy = [\"fcfs\", \"{huge}\"]\n"),
        format!("[axes]\nscheduler.{huge} = [1, 2]\n"),
        format!("{huge} = 1\n"),
    ]
    .iter()
    .enumerate()
    {
        let spec = dir.write(
            &format!("spec{i}.toml"),
            &format!("name = \"s{i}\"\nbase = {TINY:?}\n{body}"),
        );
        let out = Command::new(BIN)
            .args([
                OsStr::new("sweep"),
                spec.as_os_str(),
                OsStr::new("--dry-run"),
            ])
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .output()
            .expect("run the sweep");
        if out.status.code() == Some(1) {
            let line = short_error(&out);
            assert!(!line.contains(&"z".repeat(100)), "spec {i}: {line}");
        } else {
            // An invalid point is listed, not fatal: its listing must be short too.
            for line in String::from_utf8_lossy(&out.stderr).lines() {
                assert!(line.chars().count() < SHORT_LINE, "spec {i}: {line}");
            }
        }
    }
}
