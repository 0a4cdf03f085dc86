//! Real and shaped traffic end to end: the shipped trace config replays the Azure hour, and a
//! config with classes and sessions reports both, in the JSON and the console report.

mod common;

use common::cli::{describe, run, text, TempDir};

#[test]
fn the_shipped_azure_trace_config_replays_every_request() {
    let out = run(&[
        "-c",
        "configs/trace-azure-conv-llama3-8b-h100.toml",
        "-q",
        "-o",
        "-",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["metrics"]["requests_completed"], 19_366);
    assert_eq!(doc["metrics"]["requests_total"], 19_366);
    let span = doc["metrics"]["simulated_s"].as_f64().unwrap();
    assert!(span > 3_400.0 && span < 3_700.0, "an hour: {span}");
}

const SHAPED: &str = r#"
[hardware]
preset = "h100-sxm"
bytes_per_param = 2

[model]
hf_config = "llama-3.1-8b"
max_seq_len = 8192

[scheduler]
max_num_batched_tokens = 8192
max_num_seqs = 256
policy = "priority"
enable_chunked_prefill = true
block_size = 16

[workload]
arrival_pattern = "gamma"
arrival_cv = 2.0
arrival_rate = 4.0
num_requests = 60
output_len_dist = { type = "lognormal", mean = 5.0, std_dev = 0.5 }
input_len_dist = { type = "lognormal", mean = 5.5, std_dev = 0.6 }

[workload.sessions]
turns = { type = "uniform", min = 1, max = 4 }
think_time_secs = { type = "exponential", mean = 2.0 }
new_input_len_dist = { type = "fixed", value = 40 }

[[workload.classes]]
name = "interactive"
fraction = 0.7
priority = 0
shared_prefix_tokens = 512

[[workload.classes]]
name = "batch"
fraction = 0.3
priority = 10
"#;

#[test]
fn classes_and_sessions_show_in_the_report_and_the_json() {
    let dir = TempDir::new("shaped");
    let path = dir.join("shaped.toml");
    std::fs::write(&path, SHAPED).unwrap();
    let path = path.to_str().unwrap();
    let out = run(&["-c", path, "--no-color"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = text(&out.stdout);
    for part in [
        "Classes",
        "interactive",
        "batch",
        "Sessions",
        "turns each (mean)",
    ] {
        assert!(report.contains(part), "{part}: {report}");
    }
    let out = run(&["-c", path, "-q", "-o", "-"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sessions"]["started"], 60);
    assert_eq!(doc["sessions"]["completed"], 60);
    let classes = doc["classes"].as_array().unwrap();
    let done: u64 = classes
        .iter()
        .map(|c| c["requests_completed"].as_u64().unwrap())
        .sum();
    assert_eq!(done, doc["metrics"]["requests_completed"].as_u64().unwrap());
    assert!(doc["metrics"]["prefix_cache_hit_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn each_class_is_judged_by_its_own_objectives() {
    let dir = TempDir::new("class-slo");
    let path = dir.join("class-slo.toml");
    // Nothing meets a 1 µs TTFT; everything meets a day-long E2E; [slo] asks for 90%.
    let config = SHAPED
        .replace(
            "priority = 0\n",
            "priority = 0\nslo = { ttft_ms = 0.001, attainment = 0.5 }\n",
        )
        .replace(
            "priority = 10\n",
            "priority = 10\nslo = { e2e_ms = 86400000 }\n",
        )
        + "\n[slo]\nttft_ms = 0.001\nattainment = 0.9\n";
    std::fs::write(&path, config).unwrap();
    let out = run(&["-c", path.to_str().unwrap(), "-q", "-o", "-"]);
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes = doc["classes"].as_array().unwrap();
    let (chat, batch) = (&classes[0], &classes[1]);
    assert_eq!(chat["slo_attainment"], 0.0);
    assert_eq!(chat["slo_met"], false);
    // The batch class sets only e2e_ms: it keeps [slo]'s TTFT, which nothing meets.
    assert_eq!(batch["slo_attainment"], 0.0);
    assert_eq!(batch["slo_met"], false, "[slo]'s target of 0.9");
    // Without [slo]'s TTFT the batch class passes everything.
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[slo]\nttft_ms = 0.001\n", "[slo]\n");
    std::fs::write(&path, config).unwrap();
    let out = run(&["-c", path.to_str().unwrap(), "-q", "-o", "-"]);
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes = doc["classes"].as_array().unwrap();
    let batch_done = classes[1]["requests_completed"].as_f64().unwrap();
    let done = doc["metrics"]["requests_completed"].as_f64().unwrap();
    assert_eq!(classes[1]["slo_attainment"], 1.0);
    assert_eq!(classes[1]["slo_met"], true);
    let run_attainment = doc["metrics"]["slo_attainment"].as_f64().unwrap();
    assert!((run_attainment - batch_done / done).abs() < 1e-12);
    // A bad class objective names where it is.
    let config = SHAPED.replace("priority = 10\n", "priority = 10\nslo = { ttft_ms = -1 }\n");
    std::fs::write(&path, config).unwrap();
    let out = run(&["-c", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("workload.classes[1].slo.ttft_ms"),
        "{}",
        describe(&out)
    );
}
