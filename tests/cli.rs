//! End-to-end tests of the `inference-lab` binary: flags, the console report, the `-o` JSON
//! document, and every shipped config (the project's own and the upstream reference ones).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const PROJECT_CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
const REFERENCE_CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-era");

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("inference-lab-cli-{}-{test}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove a stale temp dir");
        }
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
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

fn reference(name: &str) -> PathBuf {
    Path::new(REFERENCE_CONFIGS).join(name)
}

/// Runs the binary with `args` (stdin empty, stdout and stderr piped).
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

/// Asserts a quiet, successful run: exit 0 and nothing at all on stdout or stderr.
fn assert_quiet_success(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", describe(out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{what}: -q printed something: {}",
        describe(out)
    );
}

/// Runs `-q -c config -o <dir>/<json_name> extra...`, checks it was silent, and returns the
/// JSON text.
fn run_quiet_json(config: &Path, dir: &TempDir, json_name: &str, extra: &[&str]) -> String {
    let json_path = dir.join(json_name);
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("-q"),
        OsStr::new("-c"),
        config.as_os_str(),
        OsStr::new("-o"),
        json_path.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let out = run(&args);
    assert_quiet_success(&out, &config.display().to_string());
    std::fs::read_to_string(&json_path)
        .unwrap_or_else(|e| panic!("{}: no JSON written: {e}", config.display()))
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("-o writes valid JSON")
}

/// The value at a dotted path, or a panic naming the path.
fn at<'a>(doc: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(doc, |node, key| {
        node.get(key)
            .unwrap_or_else(|| panic!("the JSON has no `{path}` (missing `{key}`)"))
    })
}

fn number(doc: &Value, path: &str) -> f64 {
    let v = at(doc, path);
    v.as_f64()
        .unwrap_or_else(|| panic!("`{path}` is {v}, not a number"))
}

fn count(doc: &Value, path: &str) -> u64 {
    let v = at(doc, path);
    v.as_u64()
        .unwrap_or_else(|| panic!("`{path}` is {v}, not a whole number"))
}

/// Every path a `-o` document must have, the seed-era ones and the new ones, and the
/// invariants that hold for any finished run.
fn assert_complete_document(doc: &Value, what: &str) {
    let mut numeric: Vec<String> = Vec::new();
    for dist in ["ttft_ms", "e2e_ms", "per_token_ms"] {
        for stat in ["mean", "min", "p50", "p90", "p99"] {
            numeric.push(format!("latency_metrics.{dist}.{stat}"));
        }
    }
    for dist in ["tpot_ms", "itl_ms"] {
        for stat in ["p95", "max"] {
            numeric.push(format!("latency_metrics.{dist}.{stat}"));
        }
    }
    for key in [
        "throughput_metrics.input_tokens_per_sec",
        "throughput_metrics.output_tokens_per_sec",
        "throughput_metrics.requests_per_sec",
        "utilization.avg_kv_cache_util",
        "utilization.avg_flops_util",
        "utilization.avg_bandwidth_util",
        "preemptions.total",
        "preemptions.per_request_mean",
        "prefix_cache.hits",
        "prefix_cache.misses",
        "prefix_cache.hit_rate",
        "requests.completed",
        "requests.total",
        "simulation.simulated_seconds",
    ] {
        numeric.push(key.to_string());
    }
    for path in &numeric {
        let x = number(doc, path);
        assert!(x.is_finite() && x >= 0.0, "{what}: `{path}` = {x}");
    }

    let completed = count(doc, "requests.completed");
    let total = count(doc, "requests.total");
    assert!(total > 0, "{what}: no requests");
    assert_eq!(completed, total, "{what}: not every request completed");
    count(doc, "preemptions.total");
    count(doc, "prefix_cache.hits");
    count(doc, "prefix_cache.misses");
    assert!(number(doc, "simulation.simulated_seconds") > 0.0, "{what}");

    let ttft_min = number(doc, "latency_metrics.ttft_ms.min");
    let ttft_p50 = number(doc, "latency_metrics.ttft_ms.p50");
    let ttft_p99 = number(doc, "latency_metrics.ttft_ms.p99");
    assert!(
        ttft_min <= ttft_p50 && ttft_p50 <= ttft_p99,
        "{what}: TTFT quantiles out of order"
    );
    assert!(
        number(doc, "latency_metrics.e2e_ms.min") >= ttft_min,
        "{what}: a request ended before its first token"
    );

    let config = at(doc, "config");
    assert!(config.is_object(), "{what}: `config` is {config}");
    for section in ["hardware", "model", "scheduler", "workload"] {
        assert!(
            at(config, section).is_object(),
            "{what}: config.{section} is not an object"
        );
    }
    assert_eq!(
        at(doc, "version").as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "{what}: version"
    );
}

/// Every configs/*.toml, sorted.
fn project_configs() -> Vec<PathBuf> {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(PROJECT_CONFIGS)
        .expect("read configs/")
        .map(|entry| entry.expect("a configs/ entry").path())
        .filter(|p| p.extension() == Some(OsStr::new("toml")))
        .collect();
    configs.sort();
    configs
}

#[test]
fn every_project_config_runs_quietly_and_writes_a_complete_document() {
    let configs = project_configs();
    assert!(!configs.is_empty(), "no configs/*.toml found");
    let dir = TempDir::new("project_configs");
    for config in &configs {
        let what = config.display().to_string();
        let doc = parse(&run_quiet_json(config, &dir, "out.json", &[]));
        assert_complete_document(&doc, &what);
    }
}

#[test]
fn small_reference_configs_complete_every_request() {
    let dir = TempDir::new("small_reference");
    for name in ["config.toml", "quick_test.toml", "test_blog.toml"] {
        let doc = parse(&run_quiet_json(&reference(name), &dir, "out.json", &[]));
        assert_complete_document(&doc, name);
    }
}

#[test]
fn preemption_free_reference_config_never_preempts() {
    let dir = TempDir::new("preemption_free");
    let name = "qwen3_30b_preemption_free.toml";
    let doc = parse(&run_quiet_json(&reference(name), &dir, "out.json", &[]));
    assert_complete_document(&doc, name);
    assert_eq!(count(&doc, "preemptions.total"), 0, "{name}");
    assert_eq!(number(&doc, "preemptions.per_request_mean"), 0.0, "{name}");
}

/// The two slow reference configs (several seconds each in a debug build), in one test.
#[test]
fn long_reference_configs_complete_and_qwen3_batched_preempts() {
    let dir = TempDir::new("long_reference");

    let name = "long_benchmark.toml";
    let doc = parse(&run_quiet_json(&reference(name), &dir, "long.json", &[]));
    assert_complete_document(&doc, name);
    assert_eq!(count(&doc, "requests.total"), 40_000, "{name}");

    let name = "qwen3_30b_a3b.toml";
    let doc = parse(&run_quiet_json(&reference(name), &dir, "qwen.json", &[]));
    assert_complete_document(&doc, name);
    assert_eq!(count(&doc, "requests.total"), 3_000, "{name}");
    assert!(
        count(&doc, "preemptions.total") > 0,
        "{name}: 3000 batched long requests should overflow the KV cache and preempt"
    );
    assert!(number(&doc, "preemptions.per_request_mean") > 0.0, "{name}");
}

#[test]
fn dataset_configs_without_tokenizer_fail_with_one_line() {
    for name in ["dataset_config.toml", "dataset_closed_loop.toml"] {
        let config = reference(name);
        for quiet in [false, true] {
            let mut args = vec![OsStr::new("-c"), config.as_os_str()];
            if quiet {
                args.push(OsStr::new("-q"));
            }
            let out = run(&args);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", describe(&out));
            assert!(out.stdout.is_empty(), "{name}: {}", describe(&out));
            let stderr = text(&out.stderr);
            assert_eq!(stderr.lines().count(), 1, "{name}: {stderr:?}");
            assert!(stderr.starts_with("error:"), "{name}: {stderr:?}");
            assert!(stderr.contains("--tokenizer"), "{name}: {stderr:?}");
            assert!(stderr.contains("dataset_path"), "{name}: {stderr:?}");
            assert!(
                stderr.contains(name),
                "{name}: names the config: {stderr:?}"
            );
        }
    }
}

#[test]
fn same_seed_twice_gives_byte_identical_json() {
    let dir = TempDir::new("same_seed");
    let config = reference("config.toml");
    let first = run_quiet_json(&config, &dir, "first.json", &[]);
    let second = run_quiet_json(&config, &dir, "second.json", &[]);
    assert!(first == second, "two runs of the same config differ");

    let config = Path::new(PROJECT_CONFIGS).join("debug-closed-loop.toml");
    let first = run_quiet_json(&config, &dir, "first.json", &["--seed", "3"]);
    let second = run_quiet_json(&config, &dir, "second.json", &["--seed", "3"]);
    assert!(first == second, "two runs with --seed 3 differ");
}

/// The document without its `config` and `version`: what the run measured.
fn metrics_only(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let obj = doc.as_object_mut().expect("the document is an object");
    obj.remove("config");
    obj.remove("version");
    doc
}

#[test]
fn seed_flag_overrides_the_config_seed() {
    let dir = TempDir::new("seed_flag");
    // Poisson arrivals and lognormal lengths, seed = 42 in the file.
    let config = reference("quick_test.toml");

    let from_file = parse(&run_quiet_json(&config, &dir, "file.json", &[]));
    assert_eq!(count(&from_file, "config.workload.seed"), 42);

    let seven = parse(&run_quiet_json(
        &config,
        &dir,
        "seven.json",
        &["--seed", "7"],
    ));
    assert_eq!(count(&seven, "config.workload.seed"), 7);
    assert_complete_document(&seven, "--seed 7");
    assert_ne!(
        metrics_only(&seven),
        metrics_only(&from_file),
        "--seed 7 gave the same results as the file's seed 42"
    );
    assert_ne!(
        number(&seven, "latency_metrics.e2e_ms.mean"),
        number(&from_file, "latency_metrics.e2e_ms.mean")
    );

    // Naming the file's own seed changes nothing.
    let forty_two = parse(&run_quiet_json(&config, &dir, "42.json", &["--seed", "42"]));
    assert_eq!(forty_two, from_file);
}

#[test]
fn report_has_every_section_and_no_progress_junk_when_piped() {
    let config = Path::new(PROJECT_CONFIGS).join("debug-closed-loop.toml");
    let out = run([OsStr::new("-c"), config.as_os_str()]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);

    for heading in [
        "Latency",
        "Throughput",
        "Utilisation",
        "Preemptions",
        "Prefix cache",
        "Summary",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(heading)),
            "no `{heading}` heading in\n{stdout}"
        );
    }
    for row in ["TTFT", "E2E", "TPOT", "ITL"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(row)),
            "no `{row}` row in\n{stdout}"
        );
    }
    assert!(stdout.contains("12 / 12"), "requests completed:\n{stdout}");

    // Not terminals: no progress bar, no carriage returns, no colors.
    assert!(stderr.is_empty(), "stderr: {stderr:?}");
    assert!(!stdout.contains('\r'), "carriage return on stdout");
    assert!(
        !stdout.contains('\u{1b}'),
        "escape codes on a pipe:\n{stdout:?}"
    );
}

#[test]
fn verbose_prints_derived_quantities_on_stderr_unless_quiet() {
    let config = Path::new(PROJECT_CONFIGS).join("debug-closed-loop.toml");
    let out = run([OsStr::new("-v"), OsStr::new("-c"), config.as_os_str()]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("KV blocks"), "stderr: {stderr:?}");
    assert!(!stderr.contains('\r'), "stderr: {stderr:?}");
    assert!(text(&out.stdout).contains("Summary"));

    let out = run([
        OsStr::new("-v"),
        OsStr::new("-q"),
        OsStr::new("-c"),
        config.as_os_str(),
    ]);
    assert_quiet_success(&out, "-v -q");
}

#[test]
fn version_flag_prints_the_version() {
    for flag in ["--version", "-V"] {
        let out = run([flag]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let stdout = text(&out.stdout);
        assert_eq!(
            stdout.trim(),
            concat!("inference-lab ", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
        assert!(out.stderr.is_empty(), "{}", describe(&out));
    }
}

#[test]
fn help_flag_lists_every_option() {
    for flag in ["--help", "-h"] {
        let out = run([flag]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let stdout = text(&out.stdout);
        for option in [
            "--config",
            "--output",
            "--quiet",
            "--seed",
            "--tokenizer",
            "--chat-template",
            "--verbose",
            "--version",
        ] {
            assert!(stdout.contains(option), "{flag} does not mention {option}");
        }
        assert!(stdout.contains("config.toml"), "{flag}: the -c default");
        assert!(out.stderr.is_empty(), "{}", describe(&out));
    }
}

#[test]
fn unknown_flag_is_a_one_line_error() {
    for args in [
        &["--bogus"][..],
        &["-c", "config.toml", "--frobnicate"][..],
        &["--seed", "not-a-number"][..],
        &["extra-positional"][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr:?}");
    }
    let stderr = text(&run(["--bogus"]).stderr);
    assert!(stderr.contains("--bogus"), "{stderr:?}");
}

#[test]
fn config_defaults_to_config_toml_in_the_working_directory() {
    let dir = TempDir::new("default_config");
    std::fs::copy(reference("quick_test.toml"), dir.join("config.toml")).expect("copy a config");
    let out = Command::new(BIN)
        .args(["-q", "-o", "out.json"])
        .current_dir(dir.path())
        .output()
        .expect("run inference-lab");
    assert_quiet_success(&out, "no -c");
    let json = std::fs::read_to_string(dir.join("out.json")).expect("out.json in the cwd");
    let doc = parse(&json);
    assert_complete_document(&doc, "config.toml in the cwd");
    assert_eq!(count(&doc, "requests.total"), 50);

    // The same as naming the file.
    let named = run_quiet_json(&dir.join("config.toml"), &dir, "named.json", &[]);
    assert!(named == json, "-c config.toml differs from the default");
}

#[test]
fn missing_default_config_names_config_toml() {
    let dir = TempDir::new("no_default_config");
    let out = Command::new(BIN)
        .arg("-q")
        .current_dir(dir.path())
        .output()
        .expect("run inference-lab");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("error:"), "{stderr:?}");
    assert!(stderr.contains("config.toml"), "{stderr:?}");
}

#[test]
fn unwritable_output_path_is_a_one_line_error() {
    let dir = TempDir::new("unwritable_output");
    let config = Path::new(PROJECT_CONFIGS).join("debug-closed-loop.toml");
    let target = dir.join("no-such-folder").join("out.json");
    let out = run([
        OsStr::new("-q"),
        OsStr::new("-c"),
        config.as_os_str(),
        OsStr::new("-o"),
        target.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("error:"), "{stderr:?}");
    assert!(stderr.contains("out.json"), "{stderr:?}");
}
