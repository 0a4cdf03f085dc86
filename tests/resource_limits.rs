//! Resource limits, end to end: every limit a run has is checked before the work it guards,
//! and a run that would pass one stops with exit code 1 and one line on stderr naming the
//! limit and the number that would be needed. Inputs that are merely large (a huge KV cache)
//! start at once with small memory.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use inference_lab::config::MAX_REQUESTS;
use inference_lab::workload::dataset::{MAX_LINE_BYTES, TEMPLATE_FUEL};

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const ROOT_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "inference-lab-limits-{}-{test}",
            std::process::id()
        ));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove a stale temp dir");
        }
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small config that runs in a fraction of a second.
fn valid_config() -> String {
    r#"[hardware]
name = "H100"
compute_flops = 1.513e15
memory_bandwidth = 3.35e12
memory_capacity = 85899345920
kv_cache_capacity = 68719476736
bytes_per_param = 2

[model]
name = "Llama-3-70B"
num_parameters = 70000000000
num_layers = 80
hidden_dim = 8192
num_heads = 64
num_kv_heads = 8
max_seq_len = 8192

[scheduler]
max_num_batched_tokens = 8192
max_num_seqs = 256
policy = "fcfs"
enable_chunked_prefill = true
block_size = 16

[workload]
arrival_pattern = "poisson"
arrival_rate = 5.0
num_requests = 20
seed = 42
input_len_dist = { type = "lognormal", mean = 6.0, std_dev = 0.5 }
output_len_dist = { type = "fixed", value = 50 }
"#
    .to_string()
}

/// Replaces the one occurrence of `from` (a test that edits nothing would prove nothing).
fn edit(config: &str, from: &str, to: &str) -> String {
    assert_eq!(config.matches(from).count(), 1, "`{from}` must occur once");
    config.replacen(from, to, 1)
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run inference-lab")
}

/// Checks the shape every failure must have and returns the error line.
fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert!(out.stdout.is_empty(), "stdout not empty: {}", describe(out));
    let stderr = String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "a panic: {stderr:?}");
    stderr.trim_end().to_string()
}

fn assert_mentions(line: &str, parts: &[&str]) {
    for part in parts {
        assert!(line.contains(part), "`{part}` is not in: {line}");
    }
}

/// Writes `config` in a fresh temp dir, runs it with `extra` flags, returns the error line.
fn error_for(case: &str, config: &str, extra: &[&str]) -> String {
    let dir = TempDir::new(case);
    let path = dir.join(&format!("{case}.toml"));
    std::fs::write(&path, config).expect("write the config");
    let mut args = vec![OsStr::new("-q"), OsStr::new("-c"), path.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    let line = one_line_error(&run(&args));
    assert!(line.contains(&format!("{case}.toml")), "no file: {line}");
    line
}

#[test]
fn num_requests_over_the_limit_is_rejected_up_front() {
    let over = MAX_REQUESTS + 1;
    let config = edit(
        &valid_config(),
        "num_requests = 20",
        &format!("num_requests = {over}"),
    );
    let line = error_for("num_requests_over", &config, &[]);
    assert_mentions(
        &line,
        &[
            &format!("workload.num_requests = {over}"),
            &format!("limit of {MAX_REQUESTS} requests per run"),
        ],
    );
}

#[test]
fn arrival_rate_times_duration_over_the_limit_is_rejected_up_front() {
    // 5 requests/s for twice the time the limit allows.
    let duration = 2 * MAX_REQUESTS / 5;
    let config = edit(
        &valid_config(),
        "num_requests = 20",
        &format!("duration_secs = {duration}"),
    );
    let line = error_for("rate_x_duration_over", &config, &[]);
    assert_mentions(
        &line,
        &[
            "arrival_rate x duration_secs",
            &format!("= {} requests", 2 * MAX_REQUESTS),
            &format!("limit of {MAX_REQUESTS}"),
        ],
    );
}

/// Peak resident memory of the largest child this process has waited for, in KiB.
fn children_max_rss_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialised by the successful call above.
    unsafe { usage.assume_init() }.ru_maxrss
}

#[test]
fn a_cache_of_a_billion_blocks_starts_at_once_in_little_memory() {
    // 5e14 bytes in blocks of one token of 327,680 KV bytes: 1,525,878,906 blocks, which
    // allocated up front at 28 bytes each would take 43 GB.
    let config = edit(
        &edit(
            &valid_config(),
            "kv_cache_capacity = 68719476736",
            "kv_cache_capacity = 5e14",
        ),
        "block_size = 16",
        "block_size = 1",
    );
    let kv_bytes_per_token = 2 * 8 * (8192 / 64) * 2 * 80;
    let blocks = (5e14 / f64::from(kv_bytes_per_token)).floor() as u64;
    assert!(blocks > 1_000_000_000 && blocks < u64::from(u32::MAX));
    let dir = TempDir::new("huge_cache");
    let path = dir.join("huge_cache.toml");
    let json = dir.join("out.json");
    std::fs::write(&path, config).unwrap();
    let started = Instant::now();
    let out = run(&[
        OsStr::new("-q"),
        OsStr::new("-c"),
        path.as_os_str(),
        OsStr::new("-o"),
        json.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(started.elapsed() < Duration::from_secs(60));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["simulation"]["kv_cache_blocks"].as_u64(), Some(blocks));
    let rss_mib = children_max_rss_kib() / 1024;
    assert!(rss_mib < 300, "peak RSS {rss_mib} MiB");
}

#[test]
fn a_cache_past_the_block_limit_is_rejected_naming_the_number() {
    // The largest cache validation allows (1e15 bytes), one-byte KV elements, one-token blocks.
    let config = edit(
        &edit(
            &edit(
                &valid_config(),
                "kv_cache_capacity = 68719476736",
                "kv_cache_capacity = 1e15",
            ),
            "block_size = 16",
            "block_size = 1",
        ),
        "bytes_per_param = 2",
        "bytes_per_param = 1",
    );
    let blocks = (1e15 / f64::from(2 * 8 * (8192 / 64) * 80)).floor() as u64;
    let line = error_for("too_many_blocks", &config, &[]);
    assert_mentions(
        &line,
        &[&format!("{blocks} blocks"), "2^32 - 1", "block_size"],
    );
}

fn tokenizer() -> String {
    format!("{ROOT_DIR}/data/tokenizers/qwen3/tokenizer.json")
}

/// A dataset-mode config replaying `dataset.jsonl` beside it.
fn dataset_config(dir: &Path) -> PathBuf {
    let config = edit(
        &valid_config(),
        "seed = 42",
        "seed = 42\ndataset_path = \"dataset.jsonl\"",
    );
    let config = edit(&config, "num_requests = 20\n", "");
    let path = dir.join("dataset.toml");
    std::fs::write(&path, config).unwrap();
    path
}

const LINE: &str = r#"{"messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 8}"#;

fn dataset_error(dir: &TempDir, template: &str) -> (String, Duration) {
    let config = dataset_config(&dir.0);
    let started = Instant::now();
    let out = run(&[
        OsStr::new("-q"),
        OsStr::new("-c"),
        config.as_os_str(),
        OsStr::new("--tokenizer"),
        OsStr::new(&tokenizer()),
        OsStr::new("--chat-template"),
        OsStr::new(template),
    ]);
    (one_line_error(&out), started.elapsed())
}

#[test]
fn a_dataset_line_over_the_limit_is_rejected_while_reading() {
    let dir = TempDir::new("long_line");
    let long = format!(
        r#"{{"messages": [{{"role": "user", "content": "{}"}}]}}"#,
        "a".repeat(MAX_LINE_BYTES)
    );
    std::fs::write(
        dir.join("dataset.jsonl"),
        format!("{LINE}\n{long}\n{LINE}\n"),
    )
    .unwrap();
    let (line, _) = dataset_error(&dir, "None");
    assert_mentions(
        &line,
        &[
            "dataset.jsonl",
            "line 2",
            &format!("limit of {MAX_LINE_BYTES} bytes"),
            "at least",
        ],
    );
    // The length it reports is a true lower bound, past the limit.
    let at_least: usize = line
        .split("at least ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no length in: {line}"));
    assert!(
        at_least > MAX_LINE_BYTES && at_least <= long.len(),
        "{line}"
    );
}

#[test]
fn a_line_just_under_the_limit_still_loads() {
    let dir = TempDir::new("long_line_ok");
    let frame = r#"{"messages": [{"role": "user", "content": ""}]}"#;
    let long = format!(
        r#"{{"messages": [{{"role": "user", "content": "{}"}}]}}"#,
        "a ".repeat((MAX_LINE_BYTES - frame.len()) / 2)
    );
    assert!(long.len() <= MAX_LINE_BYTES);
    std::fs::write(dir.join("dataset.jsonl"), format!("{long}\n")).unwrap();
    let config = dataset_config(&dir.0);
    let out = run(&[
        OsStr::new("-q"),
        OsStr::new("-c"),
        config.as_os_str(),
        OsStr::new("--tokenizer"),
        OsStr::new(&tokenizer()),
        OsStr::new("--chat-template"),
        OsStr::new("None"),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
}

fn assert_template_out_of_fuel(case: &str, template: &str) {
    let dir = TempDir::new(case);
    std::fs::write(dir.join("dataset.jsonl"), format!("{LINE}\n")).unwrap();
    let (line, took) = dataset_error(&dir, template);
    assert_mentions(
        &line,
        &[
            "dataset.jsonl",
            "line 1",
            "chat template",
            &format!("limit of {TEMPLATE_FUEL} fuel"),
            "exceeded",
        ],
    );
    // Fast even unoptimised: the budget is a few million instructions.
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_template_with_nested_huge_loops_runs_out_of_fuel() {
    assert_template_out_of_fuel(
        "nested_loops",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
    );
}

#[test]
fn a_template_that_doubles_a_string_runs_out_of_fuel() {
    assert_template_out_of_fuel(
        "doubling",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}\
         {% endfor %}{{ ns.s }}",
    );
}

#[test]
fn a_template_that_squares_a_string_with_replace_runs_out_of_fuel() {
    // Each replace("", s) squares the length in one call; it is charged before it runs.
    assert_template_out_of_fuel(
        "replace_square",
        "{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(8) %}\
         {% set ns.s = ns.s.replace('', ns.s) %}{% endfor %}{{ ns.s }}",
    );
}
