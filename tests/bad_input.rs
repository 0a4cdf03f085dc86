//! Bad input, end to end: each case must exit 1 with an empty stdout and exactly one line on
//! stderr, starting with `error:` and naming the problem.
//!
//! Every case starts from [`valid_config`] (checked to run in `the_valid_config_runs`) and
//! makes one textual edit, so a failure is caused by that edit alone.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "inference-lab-bad-input-{}-{test}",
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
    assert_eq!(
        config.matches(from).count(),
        1,
        "`{from}` must occur exactly once in the config"
    );
    config.replacen(from, to, 1)
}

/// The 1-based line of the first line containing `needle`.
fn line_of(config: &str, needle: &str) -> usize {
    config
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in the config"))
        + 1
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run inference-lab")
}

/// Checks the shape every failure must have and returns the error line (without its newline).
fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert!(out.stdout.is_empty(), "stdout not empty: {}", describe(out));
    let stderr = String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8");
    assert_eq!(
        stderr.lines().count(),
        1,
        "not exactly one line on stderr: {stderr:?}"
    );
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes on a pipe: {stderr:?}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic, not an error: {stderr:?}"
    );
    stderr.trim_end().to_string()
}

/// Writes `config` as `<case>.toml` in a fresh temp dir, runs it, and returns the error line.
fn error_for(case: &str, config: &str, extra: &[&str]) -> String {
    let dir = TempDir::new(case);
    let path = dir.join(&format!("{case}.toml"));
    std::fs::write(&path, config).expect("write the config");
    let mut args = vec![OsStr::new("-c"), path.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    let line = one_line_error(&run(&args));
    // Errors about the file's content name the file.
    assert!(
        line.contains(&format!("{case}.toml")),
        "the message does not name the file: {line}"
    );
    // The same with -q: errors are never silenced.
    args.push(OsStr::new("-q"));
    assert_eq!(one_line_error(&run(&args)), line, "-q changed the error");
    line
}

fn assert_mentions(line: &str, parts: &[&str]) {
    for part in parts {
        assert!(line.contains(part), "`{part}` is not in: {line}");
    }
}

#[test]
fn the_valid_config_runs() {
    let dir = TempDir::new("valid");
    let path = dir.join("valid.toml");
    std::fs::write(&path, valid_config()).expect("write the config");
    let out = run([OsStr::new("-q"), OsStr::new("-c"), path.as_os_str()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        describe(&out)
    );
}

#[test]
fn malformed_toml_gives_the_line() {
    let config = edit(&valid_config(), "seed = 42", "seed = = 42");
    let line = error_for("malformed", &config, &[]);
    let n = line_of(&config, "seed = = 42");
    assert_mentions(&line, &[&format!("line {n}:")]);

    let config = edit(&valid_config(), "[model]", "[model");
    let line = error_for("unclosed_header", &config, &[]);
    let n = line_of(&config, "[model");
    assert_mentions(&line, &[&format!("line {n}:")]);
}

#[test]
fn unknown_key_names_the_key_and_its_section() {
    let config = edit(
        &valid_config(),
        "block_size = 16\n",
        "block_size = 16\nfoo = 1\n",
    );
    let line = error_for("unknown_key", &config, &[]);
    assert_mentions(&line, &["`foo`", "[scheduler]", "block_size"]);
}

#[test]
fn unknown_key_gives_its_line() {
    let config = edit(
        &valid_config(),
        "block_size = 16\n",
        "block_size = 16\nfoo = 1\n",
    );
    let line = error_for("unknown_key_line", &config, &[]);
    let n = line_of(&config, "foo = 1");
    assert_mentions(&line, &[&format!("line {n}:"), "`foo`"]);
}

#[test]
fn unknown_key_in_an_inline_table_names_it() {
    let config = edit(
        &valid_config(),
        "{ type = \"fixed\", value = 50 }",
        "{ type = \"fixed\", value = 50, vaule = 3 }",
    );
    let line = error_for("unknown_inline_key", &config, &[]);
    assert_mentions(&line, &["`vaule`", "output_len_dist"]);
}

#[test]
fn unknown_section_names_it_and_the_allowed_ones() {
    let config = valid_config() + "\n[extras]\nx = 1\n";
    let line = error_for("unknown_section", &config, &[]);
    assert_mentions(&line, &["`extras`", "hardware", "workload", "simulation"]);
}

#[test]
fn missing_required_field_names_it() {
    let config = edit(&valid_config(), "num_layers = 80\n", "");
    let line = error_for("missing_field", &config, &[]);
    assert_mentions(&line, &["missing", "`num_layers`", "[model]"]);
}

#[test]
fn missing_section_names_it() {
    let config = edit(
        &valid_config(),
        "[scheduler]\nmax_num_batched_tokens = 8192\nmax_num_seqs = 256\npolicy = \"fcfs\"\nenable_chunked_prefill = true\nblock_size = 16\n",
        "",
    );
    let line = error_for("missing_section", &config, &[]);
    assert_mentions(&line, &["missing", "scheduler"]);
}

#[test]
fn zero_arrival_rate_is_rejected() {
    let config = edit(&valid_config(), "arrival_rate = 5.0", "arrival_rate = 0.0");
    let line = error_for("zero_rate", &config, &[]);
    assert_mentions(
        &line,
        &["workload.arrival_rate = 0", "from 1e-6 to 1e9 requests/s"],
    );
}

#[test]
fn negative_arrival_rate_is_rejected() {
    let config = edit(&valid_config(), "arrival_rate = 5.0", "arrival_rate = -1.5");
    let line = error_for("negative_rate", &config, &[]);
    assert_mentions(&line, &["workload.arrival_rate = -1.5", "from 1e-6 to 1e9"]);
}

#[test]
fn missing_arrival_rate_for_poisson_is_rejected() {
    let config = edit(&valid_config(), "arrival_rate = 5.0\n", "");
    let line = error_for("missing_rate", &config, &[]);
    assert_mentions(&line, &["arrival_rate", "poisson"]);
}

#[test]
fn zero_block_size_is_rejected() {
    let config = edit(&valid_config(), "block_size = 16", "block_size = 0");
    let line = error_for("zero_block_size", &config, &[]);
    assert_mentions(&line, &["scheduler.block_size = 0", "at least 1"]);
}

#[test]
fn negative_block_size_is_rejected() {
    let config = edit(&valid_config(), "block_size = 16", "block_size = -16");
    let line = error_for("negative_block_size", &config, &[]);
    let n = line_of(&config, "block_size = -16");
    assert_mentions(
        &line,
        &[
            &format!("line {n}:"),
            "scheduler.block_size",
            "-16",
            "whole number",
        ],
    );
}

#[test]
fn zero_max_num_seqs_is_rejected() {
    let config = edit(&valid_config(), "max_num_seqs = 256", "max_num_seqs = 0");
    let line = error_for("zero_max_num_seqs", &config, &[]);
    assert_mentions(&line, &["scheduler.max_num_seqs = 0", "at least 1"]);
}

#[test]
fn zero_max_num_batched_tokens_is_rejected() {
    let config = edit(
        &valid_config(),
        "max_num_batched_tokens = 8192",
        "max_num_batched_tokens = 0",
    );
    let line = error_for("zero_batched_tokens", &config, &[]);
    assert_mentions(
        &line,
        &["scheduler.max_num_batched_tokens = 0", "at least 1"],
    );
}

#[test]
fn negative_lognormal_std_dev_is_rejected() {
    let config = edit(&valid_config(), "std_dev = 0.5", "std_dev = -0.5");
    let line = error_for("negative_std_dev", &config, &[]);
    assert_mentions(&line, &["workload.input_len_dist.std_dev = -0.5", ">= 0"]);
}

#[test]
fn uniform_with_min_above_max_is_rejected() {
    let config = edit(
        &valid_config(),
        "output_len_dist = { type = \"fixed\", value = 50 }",
        "output_len_dist = { type = \"uniform\", min = 100, max = 10 }",
    );
    let line = error_for("uniform_min_max", &config, &[]);
    assert_mentions(
        &line,
        &["workload.output_len_dist", "min = 100", "max = 10"],
    );
}

#[test]
fn kv_cache_too_small_for_one_request_is_rejected() {
    let config = edit(
        &valid_config(),
        "kv_cache_capacity = 68719476736",
        "kv_cache_capacity = 100000000",
    );
    let line = error_for("kv_too_small", &config, &[]);
    assert_mentions(
        &line,
        &["KV cache", "model.max_seq_len = 8192", "kv_cache_capacity"],
    );
}

#[test]
fn weights_larger_than_memory_are_rejected() {
    let config = edit(&valid_config(), "kv_cache_capacity = 68719476736\n", "");
    let config = edit(
        &config,
        "memory_capacity = 85899345920",
        "memory_capacity = 1e11",
    );
    let line = error_for("weights_too_big", &config, &[]);
    assert_mentions(&line, &["weights", "kv_cache_capacity"]);
}

#[test]
fn zero_concurrent_users_is_rejected() {
    let config = edit(
        &valid_config(),
        "arrival_pattern = \"poisson\"",
        "arrival_pattern = \"closed_loop\"\nnum_concurrent_users = 0",
    );
    let line = error_for("zero_users", &config, &[]);
    assert_mentions(&line, &["workload.num_concurrent_users = 0", "at least 1"]);
}

#[test]
fn closed_loop_without_a_limit_is_rejected() {
    let config = edit(
        &valid_config(),
        "arrival_pattern = \"poisson\"",
        "arrival_pattern = \"closed_loop\"",
    );
    let config = edit(&config, "num_requests = 20\n", "");
    let line = error_for("closed_loop_unbounded", &config, &[]);
    assert_mentions(&line, &["num_requests", "duration_secs", "closed_loop"]);
}

#[test]
fn zero_num_requests_is_rejected() {
    let config = edit(&valid_config(), "num_requests = 20", "num_requests = 0");
    let line = error_for("zero_requests", &config, &[]);
    assert_mentions(&line, &["workload.num_requests = 0", "at least 1"]);
}

#[test]
fn unknown_policy_lists_the_allowed_ones() {
    let config = edit(&valid_config(), "policy = \"fcfs\"", "policy = \"lifo\"");
    let line = error_for("unknown_policy", &config, &[]);
    let n = line_of(&config, "policy = \"lifo\"");
    assert_mentions(
        &line,
        &[&format!("line {n}:"), "scheduler.policy", "`lifo`"],
    );
    for policy in ["fcfs", "sof", "sif", "stf", "lif", "lof", "ltf", "priority"] {
        assert!(
            line.contains(&format!("`{policy}`")),
            "`{policy}` is not listed: {line}"
        );
    }
}

#[test]
fn unknown_length_distribution_lists_the_allowed_ones() {
    let config = edit(&valid_config(), "type = \"lognormal\"", "type = \"zipf\"");
    let line = error_for("unknown_dist", &config, &[]);
    assert_mentions(
        &line,
        &[
            "workload.input_len_dist",
            "`zipf`",
            "`fixed`",
            "`uniform`",
            "`normal`",
            "`lognormal`",
        ],
    );
}

#[test]
fn unknown_arrival_pattern_lists_the_allowed_ones() {
    let config = edit(
        &valid_config(),
        "arrival_pattern = \"poisson\"",
        "arrival_pattern = \"pareto\"",
    );
    let line = error_for("unknown_pattern", &config, &[]);
    assert_mentions(
        &line,
        &[
            "arrival_pattern",
            "`pareto`",
            "`poisson`",
            "`closed_loop`",
            "`gamma`",
            "`trace`",
        ],
    );
}

#[test]
fn wrong_value_type_names_the_key() {
    let config = edit(&valid_config(), "block_size = 16", "block_size = \"16\"");
    let line = error_for("wrong_type", &config, &[]);
    assert_mentions(&line, &["scheduler.block_size", "string"]);
}

#[test]
fn duplicate_key_names_the_key_and_its_line() {
    let config = edit(
        &valid_config(),
        "block_size = 16\n",
        "block_size = 16\nblock_size = 32\n",
    );
    let line = error_for("duplicate_key", &config, &[]);
    let n = line_of(&config, "block_size = 32");
    assert_mentions(&line, &[&format!("line {n}:"), "duplicate", "block_size"]);
}

#[test]
fn out_of_range_count_says_it_is_too_large() {
    let config = edit(
        &valid_config(),
        "max_num_seqs = 256",
        "max_num_seqs = 4294967296",
    );
    let line = error_for("count_too_large", &config, &[]);
    assert_mentions(&line, &["scheduler.max_num_seqs", "4294967296"]);
    assert!(
        !line.contains(">= 0"),
        "a positive value is not wrong for being < 0: {line}"
    );
}

#[test]
fn missing_config_file_names_the_path() {
    let dir = TempDir::new("missing_file");
    let path = dir.join("does-not-exist.toml");
    let line = one_line_error(&run([OsStr::new("-c"), path.as_os_str()]));
    assert_mentions(&line, &[&path.display().to_string(), "cannot read"]);
}

#[test]
fn config_that_is_a_directory_names_the_path() {
    let dir = TempDir::new("directory");
    let path = dir.join("config.toml");
    std::fs::create_dir(&path).expect("create a directory");
    let line = one_line_error(&run([OsStr::new("-c"), path.as_os_str()]));
    assert_mentions(&line, &[&path.display().to_string(), "cannot read"]);
}

#[test]
fn empty_config_file_names_the_first_missing_section() {
    let line = error_for("empty", "", &[]);
    assert_mentions(&line, &["missing", "hardware"]);
}

#[test]
fn tokenizer_without_a_dataset_is_rejected() {
    let dir = TempDir::new("tokenizer_without_dataset");
    let tokenizer = dir.join("tokenizer.json");
    std::fs::write(&tokenizer, "{}").expect("write a tokenizer");
    let tokenizer = tokenizer.to_str().expect("a UTF-8 temp path");
    let line = error_for(
        "tokenizer_no_dataset",
        &valid_config(),
        &["--tokenizer", tokenizer],
    );
    assert_mentions(&line, &["--tokenizer", "dataset_path"]);

    let line = error_for(
        "chat_template_no_dataset",
        &valid_config(),
        &["--chat-template", "None"],
    );
    assert_mentions(&line, &["--chat-template", "dataset_path"]);
}

#[test]
fn seed_override_does_not_hide_a_bad_config() {
    let config = edit(&valid_config(), "block_size = 16", "block_size = 0");
    let line = error_for("seed_and_bad_config", &config, &["--seed", "7"]);
    assert_mentions(&line, &["scheduler.block_size = 0"]);
}
