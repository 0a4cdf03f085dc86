use super::*;

fn form(base: &str, edits: &[(&str, &str)]) -> Form {
    let edits: Vec<Value> = edits.iter().map(|(p, v)| json!([p, v])).collect();
    Form::from_json(&json!({ "base": { "config": base }, "edits": edits })).unwrap()
}

fn uploaded(text: &str) -> Form {
    Form::from_json(&json!({ "base": { "toml": text }, "edits": [] })).unwrap()
}

#[test]
fn without_edits_the_base_runs_as_written() {
    let f = form("configs/debug-closed-loop.toml", &[]);
    let (_, text) = f.config().unwrap();
    assert_eq!(
        text,
        shipped::find("configs/debug-closed-loop.toml")
            .unwrap()
            .text
    );
}

#[test]
fn every_shipped_config_is_valid_in_the_form() {
    for shipped in shipped::ALL {
        let reply = form(shipped.name, &[]).check();
        assert_eq!(reply["ok"], true, "{}: {}", shipped.name, reply["error"]);
        assert!(reply["derived"].as_str().unwrap().contains("KV"), "{reply}");
    }
}

#[test]
fn edits_follow_set_and_the_toml_reads_back_to_the_same_config() {
    let f = form(
        "configs/chat-llama3-8b-h100.toml",
        &[
            ("workload.arrival_pattern", "closed_loop"),
            ("workload.num_concurrent_users", "8"),
            ("workload.num_requests", "40"),
            (
                "workload.input_len_dist",
                "{ type = \"fixed\", value = 100 }",
            ),
            ("workload.num_requests", "41"),
        ],
    );
    let (config, text) = f.config().unwrap();
    assert_eq!(config.workload.num_concurrent_users, 8);
    assert_eq!(config.workload.num_requests, Some(41));
    // The TOML the page shows is what `inference-lab -c` would read.
    let again = Config::from_toml_str(&text).unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&config).unwrap()
    );
}

#[test]
fn choosing_a_preset_starts_its_section_afresh() {
    let f = form(
        "configs/debug-closed-loop.toml",
        &[
            ("hardware.preset", "\"h200\""),
            ("model.hf_config", "qwen3-8b"),
        ],
    );
    let (config, text) = f.config().unwrap();
    assert_eq!(config.hardware.name, "NVIDIA H200 SXM 141GB");
    assert_eq!(config.model.num_layers, 36);
    assert!(!text.contains("Llama-3-70B"), "{text}");
    // A field set after the preset wins over it.
    let f = form(
        "configs/debug-closed-loop.toml",
        &[
            ("hardware.preset", "h200"),
            ("hardware.memory_bandwidth", "1e12"),
        ],
    );
    let (config, _) = f.config().unwrap();
    assert_eq!(config.hardware.memory_bandwidth, 1e12);
    // The weights' precision stays (FP8: the preset's FP8 peak).
    assert_eq!(config.hardware.bytes_per_param, 1.0);
    assert_eq!(config.hardware.compute_flops, 1.979e15);
}

#[test]
fn an_invalid_value_names_its_field() {
    let reply = form(
        "configs/chat-llama3-8b-h100.toml",
        &[
            ("workload.arrival_pattern", "closed_loop"),
            ("workload.num_concurrent_users", "0"),
        ],
    )
    .check();
    assert_eq!(reply["ok"], false);
    assert_eq!(reply["error"]["key"], "workload.num_concurrent_users");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("num_concurrent_users = 0"), "{message}");
    assert!(reply["toml"]
        .as_str()
        .unwrap()
        .contains("num_concurrent_users = 0"));

    let reply = form(
        "configs/chat-llama3-8b-h100.toml",
        &[("scheduler.max_num_seqs", "lots")],
    )
    .check();
    assert_eq!(reply["error"]["key"], "scheduler.max_num_seqs", "{reply}");

    let reply = form("configs/chat-llama3-8b-h100.toml", &[("nosuch", "1")]).check();
    assert_eq!(reply["ok"], false);
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("section.field"));
}

#[test]
fn configs_that_name_files_are_refused() {
    let base = shipped::find("configs/chat-llama3-8b-h100.toml")
        .unwrap()
        .text;
    for (edit, key) in [
        (
            "workload.dataset_path = \"/etc/passwd\"",
            "workload.dataset_path",
        ),
        ("workload.trace_path = \"x.csv\"", "workload.trace_path"),
        ("workload.tokenizer = \"t.json\"", "workload.tokenizer"),
        (
            "workload.rate_schedule = { type = \"csv\", path = \"r.csv\" }",
            "workload.rate_schedule.path",
        ),
    ] {
        let (path, value) = edit.split_once(" = ").unwrap();
        let reply = form("configs/chat-llama3-8b-h100.toml", &[(path, value)]).check();
        assert_eq!(reply["error"]["key"], key, "{reply}");
        assert!(reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never reads a file"));
    }
    let _ = base;
    let blog = shipped::find("configs/blog-llama3-70b-h100-tp2.toml")
        .unwrap()
        .text;
    let text = blog.replace(
        "hf_config = \"llama-3-70b\"",
        "hf_config = \"../x/config.json\"",
    );
    assert_ne!(text, blog, "the base names its model by catalog");
    let reply = uploaded(&text).check();
    assert_eq!(reply["error"]["key"], "model.hf_config", "{reply}");
    // A catalog name is no file.
    assert_eq!(uploaded(blog).check()["ok"], true);
}

#[test]
fn an_uploaded_toml_is_read_like_a_file() {
    let reply = uploaded("[hardware]\nname = \"x\"\nbogus = 1\n").check();
    assert_eq!(reply["ok"], false);
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("line"), "{message}");
    let reply = uploaded("not toml [").check();
    assert_eq!(reply["ok"], false);
    // Seed-era configs load as they are.
    let seed = include_str!("../../../../examples/seed-era/config.toml");
    assert_eq!(uploaded(seed).check()["ok"], true);
}

#[test]
fn keys_are_found_in_messages() {
    assert_eq!(
        key_in("workload.num_concurrent_users = 0 is invalid: it must be at least 1"),
        Some("workload.num_concurrent_users".into())
    );
    assert_eq!(
        key_in("workload.input_len_dist.min = 0 is invalid"),
        Some("workload.input_len_dist.min".into())
    );
    assert_eq!(key_in("line 3: unknown field `x`"), None);
    assert_eq!(
        key_in("missing required key `compute_flops` in [hardware]"),
        Some("hardware.compute_flops".into())
    );
    assert_eq!(key_in("see configs/x.toml."), None);
}
