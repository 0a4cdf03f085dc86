//! Dataset mode through the engine and the CLI: real prompts, a real tokenizer, real prefix
//! hits, max_tokens caps, cycling, and a sweep over a dataset.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use inference_lab::workload::DatasetKey;
use inference_lab::{Config, RunSummary, Simulator};

const ROOT_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn tokenizer() -> String {
    format!("{ROOT_DIR}/data/tokenizers/qwen3/tokenizer.json")
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("il-dataset-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JSONL dataset of `n` chat requests; with `shared_system`, all start with the same long
/// system prompt, otherwise each has its own.
fn write_dataset(dir: &Path, n: usize, shared_system: bool, max_tokens: u32) -> PathBuf {
    let long = |seed: usize| -> String {
        (0..120)
            .map(|i| format!("w{}x{}", (i * 7 + seed * 13) % 97, i % 11))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let system = if shared_system { long(0) } else { long(i + 1) };
            serde_json::json!({
                "custom_id": format!("r{i}"),
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "messages": [
                        {"role": "system", "content": system},
                        {"role": "user", "content": format!("question number {i}?")}
                    ],
                    "max_tokens": max_tokens
                }
            })
            .to_string()
        })
        .collect();
    let path = dir.join("data.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn config(dir: &Path, num_requests: Option<u64>) -> Config {
    let requests = num_requests.map_or(String::new(), |n| format!("num_requests = {n}"));
    let text = format!(
        r#"
        [hardware]
        name = "H100 SXM"
        compute_flops = 9.895e14
        memory_bandwidth = 3.35e12
        memory_capacity = 85899345920
        bytes_per_param = 2
        [model]
        name = "Llama-3.1-8B"
        num_parameters = 8030000000
        num_layers = 32
        hidden_dim = 4096
        num_heads = 32
        num_kv_heads = 8
        max_seq_len = 8192
        [scheduler]
        max_num_batched_tokens = 8192
        max_num_seqs = 64
        policy = "fcfs"
        enable_chunked_prefill = true
        block_size = 16
        [workload]
        dataset_path = "data.jsonl"
        tokenizer = {tokenizer:?}
        chat_template = "None"
        arrival_pattern = "poisson"
        arrival_rate = 2.0
        {requests}
        input_len_dist = {{ type = "fixed", value = 1 }}
        output_len_dist = {{ type = "fixed", value = 20 }}
        "#,
        tokenizer = tokenizer()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

fn simulate(config: &Config) -> RunSummary {
    let key = DatasetKey::of(config).unwrap().expect("dataset mode");
    let dataset = key.load(config.workload.num_requests).unwrap();
    Simulator::with_dataset(config, Some(Arc::new(dataset)))
        .unwrap()
        .run()
        .unwrap()
}

#[test]
fn a_shared_system_prompt_gives_prefix_hits_and_distinct_prompts_do_not() {
    let dir = temp_dir("hits");
    write_dataset(&dir, 20, true, 50);
    let shared = simulate(&config(&dir, None));
    write_dataset(&dir, 20, false, 50);
    let distinct = simulate(&config(&dir, None));
    assert_eq!(shared.requests_completed, 20);
    assert_eq!(distinct.requests_completed, 20);
    // Same total prompt tokens looked up (hits + misses) in both...
    assert!(
        shared.prefix_cache_hits > 0,
        "no hits with a shared system prompt"
    );
    assert!(
        shared.prefix_cache_hit_rate > 0.5,
        "{}",
        shared.prefix_cache_hit_rate
    );
    // ... but nothing to share without a common prefix.
    assert_eq!(distinct.prefix_cache_hits, 0);
    // Hits save prefill work: TTFT is lower.
    assert!(shared.ttft_ms.mean < distinct.ttft_ms.mean);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn max_tokens_caps_the_sampled_output_and_a_short_dataset_is_cycled() {
    let dir = temp_dir("cycle");
    write_dataset(&dir, 5, false, 7);
    let s = simulate(&config(&dir, Some(12)));
    // output_len_dist says 20, every line caps at 7; 12 requests from 5 lines.
    assert_eq!((s.requests_completed, s.requests_total), (12, 12));
    assert_eq!(s.output_tokens, 12 * 7);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_a_loaded_dataset_the_simulator_refuses() {
    let dir = temp_dir("refuse");
    write_dataset(&dir, 3, false, 7);
    let err = Simulator::new(&config(&dir, None))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("dataset_path") && err.contains("loaded"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_inference-lab"))
}

#[test]
fn cli_replays_the_reference_dataset_config_with_a_template_file() {
    let dir = temp_dir("cli");
    let out = dir.join("out.json");
    let reference = format!("{ROOT_DIR}/examples/seed-era");
    let status = bin()
        .args([
            "-c",
            &format!("{reference}/dataset_config.toml"),
            "-q",
            "-o",
        ])
        .arg(&out)
        .args(["--tokenizer", &tokenizer()])
        .args([
            "--chat-template",
            &format!("{reference}/examples/llama_template.txt"),
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(status.stderr.is_empty() && status.stdout.is_empty());
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["requests"]["completed"], 5);
    assert_eq!(doc["dataset"]["prompts_loaded"], 5);
    assert_eq!(doc["dataset"]["clipped_prompts"], 0);
    assert_eq!(doc["dataset"]["cycled"], false);
    // The flags are recorded in the resolved config.
    assert!(doc["config"]["workload"]["tokenizer"]
        .as_str()
        .unwrap()
        .ends_with("tokenizer.json"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_dataset_errors_name_what_is_missing() {
    let reference = format!("{ROOT_DIR}/examples/seed-era");
    let run = |extra: &[&str]| {
        let out = bin()
            .args(["-c", &format!("{reference}/dataset_config.toml"), "-q"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(run(&[]).contains("--tokenizer"));
    assert!(run(&["--tokenizer", &tokenizer()]).contains("--chat-template"));
    let missing = run(&[
        "--tokenizer",
        "/nonexistent/tokenizer.json",
        "--chat-template",
        "None",
    ]);
    assert!(missing.contains("/nonexistent/tokenizer.json"), "{missing}");
    let e = bin()
        .args(["-c", &format!("{reference}/dataset_closed_loop.toml"), "-q"])
        .args(["--tokenizer", &tokenizer(), "--chat-template", "None"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(e.stderr).unwrap();
    assert_eq!(e.status.code(), Some(1));
    assert!(stderr.contains("wildchat_50k.jsonl"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_sweep_runs_over_a_dataset_loaded_once() {
    let dir = temp_dir("sweep");
    write_dataset(&dir, 8, true, 30);
    config(&dir, None); // writes config.toml
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        "name = \"ds\"\nbase = \"config.toml\"\nseeds = 2\n[axes]\nscheduler.policy = [\"fcfs\", \"sof\"]\n",
    )
    .unwrap();
    let out = bin()
        .arg("sweep")
        .arg(&spec)
        .args(["-q", "--format", "csv", "-o"])
        .arg(dir.join("results"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = std::fs::read_to_string(dir.join("results/runs.csv")).unwrap();
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let status = header.iter().position(|&c| c == "status").unwrap();
    let hits = header
        .iter()
        .position(|&c| c == "prefix_cache_hit_tokens")
        .unwrap();
    let rows: Vec<Vec<&str>> = runs
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert_eq!(row[status], "ok");
        assert!(
            row[hits].parse::<u64>().unwrap() > 0,
            "no prefix hits in a dataset sweep"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A dataset of `n` requests in `groups` conversations, each group sharing its own long
/// system prompt, the groups interleaved (request i belongs to group i % groups).
fn write_grouped_dataset(dir: &Path, n: usize, groups: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let g = i % groups;
            let system: String = (0..200)
                .map(|k| format!("g{g}w{}", (k * 7 + g * 31) % 89))
                .collect::<Vec<_>>()
                .join(" ");
            serde_json::json!({
                "body": {
                    "messages": [
                        {"role": "system", "content": system},
                        {"role": "user", "content": format!("question number {i}?")}
                    ],
                    "max_tokens": 20
                }
            })
            .to_string()
        })
        .collect();
    std::fs::write(dir.join("data.jsonl"), lines.join("\n") + "\n").unwrap();
}

/// Four replicas, nine system prompts (nine and four are coprime, so round robin deals every
/// prompt to every replica): each replica computes each prompt once. Prefix affinity sends a group back where its prompt is cached,
/// so the fleet computes each prompt about once.
#[test]
fn prefix_affinity_routes_requests_to_their_cached_prefix() {
    let dir = temp_dir("affinity");
    write_grouped_dataset(&dir, 160, 9);
    let run = |router: &str| {
        let mut config = config(&dir, None);
        config.workload.arrival_rate = Some(20.0);
        config.cluster =
            Some(toml::from_str(&format!("replicas = 4\nrouter = \"{router}\"")).unwrap());
        simulate(&config)
    };
    let affinity = run("prefix_affinity");
    let round_robin = run("round_robin");
    assert_eq!(affinity.requests_completed, 160);
    assert_eq!(round_robin.requests_completed, 160);
    assert!(
        affinity.prefix_cache_misses < round_robin.prefix_cache_misses,
        "affinity computed {} prompt tokens, round robin {}",
        affinity.prefix_cache_misses,
        round_robin.prefix_cache_misses
    );
    assert!(affinity.prefix_cache_hit_rate > round_robin.prefix_cache_hit_rate);
    // Round robin dealt evenly; affinity leaves load imbalanced only within its cap.
    assert_eq!(round_robin.fleet.request_imbalance, Some(1.0));
    std::fs::remove_dir_all(dir).unwrap();
}
