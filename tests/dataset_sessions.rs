//! Dataset conversations replayed turn by turn (`[workload.sessions]` with a dataset): every
//! turn sends its rendered history, which the prefix cache serves from the turn before, and
//! the shipped example runs from the CLI.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::cli::{describe, run, text};
use inference_lab::workload::DatasetKey;
use inference_lab::{Config, Simulator};

const ROOT_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// ChatML: a history renders as it did when it was the prompt, so turn k + 1 starts with
/// turn k's prompt and reply, token for token (the loader's unit tests check this).
const CHATML: &str = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}\
                      <|im_end|>\n{% endfor %}{% if add_generation_prompt %}\
                      <|im_start|>assistant\n{% endif %}";

fn config(dir: &Path, think: &str) -> Config {
    let text = format!(
        r#"
        [hardware]
        preset = "h100-sxm"
        bytes_per_param = 2
        [model]
        hf_config = "qwen3-8b"
        max_seq_len = 8192
        [scheduler]
        max_num_batched_tokens = 8192
        max_num_seqs = 64
        policy = "fcfs"
        enable_chunked_prefill = true
        block_size = 16
        [workload]
        dataset_path = {dataset:?}
        tokenizer = "{ROOT_DIR}/data/tokenizers/qwen3/tokenizer.json"
        chat_template = {CHATML:?}
        arrival_pattern = "poisson"
        arrival_rate = 0.5
        output_len_dist = {{ type = "fixed", value = 30 }}
        seed = 3
        [workload.sessions]
        think_time_secs = {think}
        "#,
        dataset = format!("{ROOT_DIR}/examples/conversations/conversations.jsonl"),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("il-dsessions-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn each_turn_finds_the_previous_turns_prompt_and_reply_in_the_cache() {
    let dir = temp_dir("hits");
    let config = config(&dir, r#"{ type = "fixed", value = 2.0 }"#);
    let key = DatasetKey::of(&config).unwrap().unwrap();
    let dataset = Arc::new(key.load(None).unwrap());
    let s = Simulator::with_dataset(&config, Some(dataset.clone()))
        .unwrap()
        .run()
        .unwrap();
    let turns = dataset.prompts.len() as u64;
    assert_eq!(dataset.conversations.len(), 6);
    assert_eq!(s.requests_completed, turns);
    assert_eq!(
        s.input_tokens,
        dataset
            .prompts
            .iter()
            .map(|p| u64::from(p.prompt_len))
            .sum::<u64>()
    );
    let sessions = s.sessions.clone().unwrap();
    assert_eq!((sessions.started, sessions.completed), (6, 6));
    assert_eq!(sessions.turns_mean, Some(turns as f64 / 6.0));
    // Turn k leaves its prompt and all but the last reply token computed; turn k + 1 finds
    // every full block of that, up to its own prompt less one token. Different system
    // prompts: no conversation shares a block with another.
    let b = 16;
    let mut expected = 0;
    for (k, next) in dataset.prompts.iter().enumerate().skip(1) {
        if dataset.conversations.contains(&(k as u32)) {
            continue; // a first turn
        }
        let this = &dataset.prompts[k - 1];
        let reply = this.turn.unwrap().reply_len.unwrap();
        let held = (this.prompt_len + reply - 1) / b;
        expected += u64::from(held.min((next.prompt_len - 1) / b) * b);
    }
    assert!(expected > 0);
    assert_eq!(s.prefix_cache_hits, expected);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_shipped_conversation_example_runs_from_the_cli() {
    let out = run(&[
        "-c",
        "examples/conversations/dataset-sessions.toml",
        "--no-color",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = text(&out.stdout);
    for part in ["Sessions", "turns each (mean)", "Prefix cache"] {
        assert!(report.contains(part), "{part}: {report}");
    }
    let out = run(&[
        "-c",
        "examples/conversations/dataset-sessions.toml",
        "-q",
        "-o",
        "-",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sessions"]["started"], 6);
    assert_eq!(doc["sessions"]["completed"], 6);
    assert_eq!(doc["metrics"]["requests_completed"], 18);
    assert!(doc["metrics"]["prefix_cache_hit_rate"].as_f64().unwrap() > 0.5);
}

#[test]
fn synthetic_session_keys_are_refused_with_a_dataset() {
    let dir = temp_dir("refused");
    let path = dir.join("bad.toml");
    let config = std::fs::read_to_string(format!(
        "{ROOT_DIR}/examples/conversations/dataset-sessions.toml"
    ))
    .unwrap()
    .replace(
        "[workload.sessions]\n",
        "[workload.sessions]\nturns = { type = \"fixed\", value = 3 }\n",
    );
    // Relative paths resolve against the config's folder.
    let config = config
        .replace("\"../../", &format!("\"{ROOT_DIR}/"))
        .replace(
            "\"conversations.jsonl\"",
            &format!("\"{ROOT_DIR}/examples/conversations/conversations.jsonl\""),
        );
    std::fs::write(&path, config).unwrap();
    let out = run(&["-c", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("workload.sessions.turns is set with a dataset"),
        "{}",
        describe(&out)
    );
    std::fs::remove_dir_all(dir).unwrap();
}
