//! Fuzzing the single-run CLI with mutated configs: every shipped config (configs/ and
//! examples/seed-era/) with one to three keys set to an extreme (0, -1, 1e-300, 1e300, NaN,
//! infinity, the largest integer, a 5,000-character string, a wrong type), removed, or
//! written twice. Whatever the mutation, the binary must either succeed with every metric in
//! its `-o` JSON finite (null only for the documented undefined latency statistics), or exit
//! 1 with one short `error:` line; within a time cap and a memory cap, never panicking (101)
//! or dying of a signal.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value as Json;
use toml::{Table, Value};

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A run of one of these configs (at most 40 requests) takes well under a second.
const TIME_CAP: Duration = Duration::from_secs(10);
/// Address space a run may map (the debug binary maps a few hundred MB when it starts).
const MEMORY_CAP: u64 = 4 << 30;
/// Requests per run: enough to exercise every pattern, few enough to stay fast.
const MAX_REQUESTS: i64 = 40;

/// Every shipped config as (its folder, its table).
fn shipped() -> Vec<(PathBuf, Table)> {
    let mut out = Vec::new();
    for dir in ["configs", "examples/seed-era"] {
        let dir = Path::new(ROOT).join(dir);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("shipped configs")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((dir.clone(), text.parse::<Table>().unwrap()));
        }
    }
    assert!(out.len() >= 10, "found only {} shipped configs", out.len());
    out
}

/// Makes a shipped config runnable from a temp folder and quick: absolute dataset and
/// tokenizer paths, at most MAX_REQUESTS requests.
fn prepare(dir: &Path, mut table: Table) -> Table {
    let workload = table
        .get_mut("workload")
        .and_then(Value::as_table_mut)
        .expect("[workload]");
    let n = workload
        .get("num_requests")
        .and_then(Value::as_integer)
        .unwrap_or(MAX_REQUESTS);
    workload.insert("num_requests".into(), Value::Integer(n.min(MAX_REQUESTS)));
    if let Some(Value::String(data)) = workload.get("dataset_path").cloned() {
        workload.insert(
            "dataset_path".into(),
            Value::String(dir.join(data).display().to_string()),
        );
        workload.insert(
            "tokenizer".into(),
            Value::String(format!("{ROOT}/data/tokenizers/qwen3/tokenizer.json")),
        );
        workload.insert("chat_template".into(), Value::String("None".into()));
    }
    table
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(Value),
    Remove,
    Duplicate,
}

fn extreme() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Integer(0)),
        Just(Value::Integer(-1)),
        Just(Value::Float(1e-300)),
        Just(Value::Float(1e300)),
        Just(Value::Float(-1e300)),
        Just(Value::Float(f64::NAN)),
        Just(Value::Float(f64::INFINITY)),
        Just(Value::Integer(i64::MAX)),
        Just(Value::Integer(u32::MAX.into())),
        Just(Value::String("x".repeat(5000))),
        Just(Value::Boolean(true)),
        Just(Value::Array(vec![])),
    ]
}

/// Values at the edges of what validation accepts for many keys (efficiencies, overheads,
/// FLOP/s, bandwidth, counts), so that mutated configs also run, not only fail.
fn edge() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Integer(1)),
        Just(Value::Integer(2)),
        Just(Value::Float(0.01)),
        Just(Value::Float(1.0)),
        Just(Value::Float(1e9)),
        Just(Value::Float(1e15)),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => extreme().prop_map(Mutation::Set),
        3 => edge().prop_map(Mutation::Set),
        1 => Just(Mutation::Remove),
        1 => Just(Mutation::Duplicate),
    ]
}

/// The (section, key) paths of a table, nested tables (length distributions) included.
fn keys(table: &Table) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (section, value) in table {
        if let Value::Table(t) = value {
            for (key, value) in t {
                out.push(vec![section.clone(), key.clone()]);
                if let Value::Table(inner) = value {
                    for k in inner.keys() {
                        out.push(vec![section.clone(), key.clone(), k.clone()]);
                    }
                }
            }
        }
    }
    out
}

/// Whether a mutation could only fail by running for long, which is not what this test is
/// about: the request count is the run's length (and another test bounds it).
fn makes_the_run_long(path: &[String], m: &Mutation) -> bool {
    path.last().is_some_and(|k| k == "num_requests")
        && matches!(
            m,
            Mutation::Remove | Mutation::Set(Value::Integer(_) | Value::Float(_))
        )
}

/// Applies `m` at `path`; returns the TOML text (a duplicate is written textually).
fn apply(mut table: Table, path: &[String], m: &Mutation) -> String {
    let (last, parents) = path.split_last().unwrap();
    let mut node = &mut table;
    for p in parents {
        node = node.get_mut(p).and_then(Value::as_table_mut).unwrap();
    }
    match m {
        Mutation::Set(v) => {
            node.insert(last.clone(), v.clone());
        }
        Mutation::Remove => {
            node.remove(last);
        }
        Mutation::Duplicate => {
            let text = toml::to_string(&table).unwrap();
            let prefix = format!("{last} = ");
            if let Some(line) = text.lines().find(|l| l.starts_with(&prefix)) {
                return text.replacen(line, &format!("{line}\n{line}"), 1);
            }
            return text;
        }
    }
    toml::to_string(&table).unwrap()
}

/// Runs the binary under the caps; returns (exit code or None for a signal, stderr, JSON).
fn run_capped(dir: &Path, config: &str) -> (Option<i32>, String, Option<String>) {
    let config_path = dir.join("config.toml");
    let json_path = dir.join("out.json");
    let _ = std::fs::remove_file(&json_path);
    std::fs::write(&config_path, config).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("-c")
        .arg(&config_path)
        .arg("-q")
        .arg("-o")
        .arg(&json_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_CAP,
                rlim_max: MEMORY_CAP,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start inference-lab");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIME_CAP {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no end after {TIME_CAP:?}:\n{config}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let json = std::fs::read_to_string(&json_path).ok();
    (status.code(), stderr, json)
}

/// Where the README documents a null: a latency statistic without samples (nested, or flat in
/// `metrics`), the offered and served rates and the load verdict of closed-loop and batched
/// runs (or too few arrivals), the SLO metrics of a config without `[slo]`, and the session
/// statistics of a run without sessions.
fn null_is_documented(path: &[String]) -> bool {
    let flat = |name: &str| {
        ["ttft_ms_", "e2e_ms_", "tpot_ms_", "itl_ms_"]
            .iter()
            .any(|p| name.starts_with(p))
            || [
                "offered_requests_per_s",
                "served_requests_per_s",
                "load_verdict",
                "slo_attainment",
                "slo_met",
                "goodput_requests_per_s",
                "goodput_output_tokens_per_s",
                "replica_request_imbalance",
                "replica_busy_imbalance",
                "kv_transfer_ms_mean",
                "kv_backpressure_ms_mean",
            ]
            .contains(&name)
            // Sessions' statistics, without sessions (or none completed).
            || name.starts_with("session_")
    };
    match path {
        [first, ..] if first == "latency_metrics" => true,
        [first, name] if first == "metrics" => flat(name),
        _ => false,
    }
}

/// Every number in the document is finite (serde_json would have written NaN as null), and
/// a null appears only where one is documented.
fn check_document(doc: &Json, path: &mut Vec<String>, problems: &mut Vec<String>) {
    match doc {
        Json::Null if null_is_documented(path) => {}
        Json::Null => problems.push(format!("null at {}", path.join("."))),
        Json::Number(n) if !n.as_f64().is_some_and(f64::is_finite) => {
            problems.push(format!("{n} at {}", path.join(".")))
        }
        Json::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                check_document(v, path, problems);
                path.pop();
            }
        }
        Json::Array(items) => {
            for v in items {
                check_document(v, path, problems);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_succeed_with_finite_results_or_fail_with_one_short_line(
        which in any::<Index>(),
        mutations in proptest::collection::vec((any::<Index>(), mutation()), 1..=3),
    ) {
        let configs = shipped();
        let (dir, table) = &configs[which.index(configs.len())];
        let mut table = prepare(dir, table.clone());
        let mut text = toml::to_string(&table).unwrap();
        for (at, m) in &mutations {
            let paths = keys(&table);
            let path = &paths[at.index(paths.len())];
            if makes_the_run_long(path, m) {
                continue;
            }
            text = apply(table.clone(), path, m);
            match text.parse::<Table>() {
                Ok(t) => table = t,
                Err(_) => break, // a duplicate key: the text is final
            }
        }
        let tmp = std::env::temp_dir().join(format!("inference-lab-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let (code, stderr, json) = run_capped(&tmp, &text);
        let _ = std::fs::remove_dir_all(&tmp);
        match code {
            Some(0) => {
                let doc: Json = serde_json::from_str(&json.expect("-o wrote the JSON")).unwrap();
                let mut problems = Vec::new();
                check_document(&doc, &mut Vec::new(), &mut problems);
                prop_assert!(problems.is_empty(), "{problems:?}\n{text}");
                let output_tokens = doc["simulation"]["output_tokens"].as_u64().unwrap();
                let rate = doc["throughput_metrics"]["output_tokens_per_sec"].as_f64().unwrap();
                prop_assert!(output_tokens == 0 || rate > 0.0, "zero throughput\n{text}");
            }
            Some(1) => {
                prop_assert_eq!(stderr.lines().count(), 1, "{}\n{}", stderr, text);
                prop_assert!(stderr.starts_with("error: "), "{}", stderr);
                prop_assert!(stderr.trim_end().chars().count() < 400, "{}", stderr);
            }
            other => prop_assert!(false, "exit {other:?} (a panic or a signal):\n{stderr}\n{text}"),
        }
    }
}
