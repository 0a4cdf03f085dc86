//! Parallelism, mixture of experts and the catalogs end to end: `inference-lab presets`, the
//! shipped configs that use them, `--roofline`, async scheduling, and what is refused.

mod common;

use common::cli::{describe, run, text, TempDir};
use serde_json::Value;

/// Runs a config with extra arguments and returns its `-o -` JSON.
fn json(config: &str, extra: &[&str]) -> Value {
    let mut args = vec!["-c", config, "-q", "-o", "-"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn metric(doc: &Value, name: &str) -> f64 {
    doc["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}"))
}

/// The one-line error of a config that must be refused.
fn refused(dir: &TempDir, name: &str, toml: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, toml).unwrap();
    let out = run(&["-c", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

const BLOG: &str = "configs/blog-llama3-70b-h100-tp2.toml";
const MOE: &str = "configs/moe-qwen3-30b-a3b-h100.toml";
/// Fewer requests, so debug builds run the shipped configs quickly.
const SHORT: [&str; 2] = ["--set", "workload.num_requests=96"];

#[test]
fn presets_lists_every_gpu_and_model() {
    let out = run(&["presets"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = text(&out.stdout);
    for key in [
        "h100-sxm",
        "h100-pcie",
        "h200",
        "b200",
        "gb200",
        "a100-40gb",
        "a100-80gb",
        "l40s",
        "l4",
        "mi300x",
        "mi325x",
        "mi355x",
    ] {
        assert!(stdout.contains(key), "{key}: {stdout}");
    }
    for slug in [
        "llama-3.1-8b",
        "mixtral-8x22b",
        "qwen3-30b-a3b",
        "deepseek-v3",
        "gpt-oss-120b",
    ] {
        assert!(stdout.contains(slug), "{slug}: {stdout}");
    }
    assert!(stdout.contains("8 of 128 experts"), "{stdout}");
    assert!(stdout.contains("MLA"), "{stdout}");
    let gpus = text(&run(&["presets", "--gpus"]).stdout);
    assert!(
        gpus.contains("h100-sxm") && !gpus.contains("llama-3.1-8b"),
        "{gpus}"
    );
    let models = text(&run(&["presets", "--models"]).stdout);
    assert!(
        models.contains("llama-3.1-8b") && !models.contains("mi300x"),
        "{models}"
    );
}

#[test]
fn the_blog_config_is_two_calibrated_gpus() {
    let doc = json(BLOG, &SHORT);
    assert_eq!(doc["config"]["parallel"]["tensor_parallel_size"], 2);
    assert_eq!(doc["config"]["hardware"]["preset"], "h100-sxm");
    assert_eq!(
        doc["config"]["hardware"]["memory_bandwidth"], 3.35e12,
        "one GPU"
    );
    assert_eq!(
        doc["config"]["hardware"]["compute_flops"], 1.979e15,
        "FP8 peak"
    );
    assert_eq!(doc["config"]["model"]["num_layers"], 80);
    let step_model = doc["step_model"].as_str().unwrap();
    assert!(step_model.starts_with("calibrated (fitted"), "{step_model}");
    assert_eq!(metric(&doc, "gpus"), 2.0);
    let per_gpu = metric(&doc, "output_tokens_per_s_per_gpu");
    assert_eq!(per_gpu, metric(&doc, "output_tokens_per_s") / 2.0);
    // The plain roofline is the upper bound: faster on every count.
    let plain = json(BLOG, &[SHORT[0], SHORT[1], "--roofline"]);
    assert!(plain["step_model"]
        .as_str()
        .unwrap()
        .starts_with("roofline, the upper bound"));
    assert!(metric(&plain, "tpot_ms_mean") < 0.8 * metric(&doc, "tpot_ms_mean"));
    // The report says so in words.
    let out = run(&[
        "-c",
        BLOG,
        "--set",
        "workload.num_requests=64",
        "--no-color",
    ]);
    let report = text(&out.stdout);
    assert!(
        report.contains("2 GPUs (TP 2); step times: calibrated"),
        "{report}"
    );
    assert!(report.contains("per GPU (of 2)"), "{report}");
}

#[test]
fn data_parallel_engines_share_the_traffic() {
    let doc = json(
        MOE,
        &[
            "--set",
            "workload.num_requests=60",
            "--set",
            "parallel.data_parallel_size=3",
        ],
    );
    assert_eq!(metric(&doc, "replicas"), 3.0);
    assert_eq!(metric(&doc, "gpus"), 3.0);
    assert_eq!(doc["replicas"].as_array().unwrap().len(), 3);
    assert_eq!(metric(&doc, "requests_completed"), 60.0);
}

/// Async scheduling, CPU overheads, parallelism and experts all price through the decode
/// fast path exactly as step by step.
#[test]
fn the_decode_fast_path_agrees_with_every_new_knob() {
    let knobs = [
        "--set",
        "workload.num_requests=48",
        "--set",
        "scheduler.async_scheduling=true",
        "--set",
        "scheduler.scheduling_overhead=0.004",
        "--set",
        "scheduler.request_overhead=0.01",
    ];
    for config in [BLOG, MOE] {
        let fast = json(config, &knobs);
        let mut slow_args = knobs.to_vec();
        slow_args.extend(["--set", "simulation.step_by_step=true"]);
        let slow = json(config, &slow_args);
        assert_eq!(fast["metrics"], slow["metrics"], "{config}");
    }
}

#[test]
fn overheads_show_in_ttft() {
    let base = json(MOE, &SHORT);
    let slow_api = json(
        MOE,
        &[
            SHORT[0],
            SHORT[1],
            "--set",
            "scheduler.request_overhead=0.05",
        ],
    );
    // Every request reaches the engine 50 ms later: its TTFT grows by at least that.
    assert!(metric(&slow_api, "ttft_ms_min") >= metric(&base, "ttft_ms_min") + 50.0 - 1e-9);
    let async_on = json(
        MOE,
        &[
            SHORT[0],
            SHORT[1],
            "--set",
            "scheduler.async_scheduling=true",
        ],
    );
    assert!(metric(&async_on, "ttft_ms_mean") > metric(&base, "ttft_ms_mean"));
}

#[test]
fn bad_parallel_and_catalog_input_is_one_line_naming_the_key() {
    let dir = TempDir::new("catalog-refusals");
    let blog = std::fs::read_to_string(format!("{}/{BLOG}", common::cli::ROOT)).unwrap();
    let e = refused(
        &dir,
        "tp3.toml",
        &blog.replace("tensor_parallel_size = 2", "tensor_parallel_size = 3"),
    );
    assert!(
        e.contains("parallel.tensor_parallel_size = 3 does not divide model.num_heads = 64"),
        "{e}"
    );
    let e = refused(
        &dir,
        "ep.toml",
        &blog.replace(
            "tensor_parallel_size = 2",
            "tensor_parallel_size = 2\nexpert_parallel_size = 2",
        ),
    );
    assert!(e.contains("needs a mixture-of-experts model"), "{e}");
    let e = refused(
        &dir,
        "gpu.toml",
        &blog.replace("\"h100-sxm\"", "\"h100-nvl\""),
    );
    assert!(
        e.contains("unknown hardware.preset \"h100-nvl\": known presets are h100-sxm"),
        "{e}"
    );
    let e = refused(
        &dir,
        "model.toml",
        &blog.replace("\"llama-3-70b\"", "\"llama-4\""),
    );
    assert!(e.contains("llama-3-70b"), "lists the shipped models: {e}");
    std::fs::write(
        dir.join("t5.json"),
        r#"{"architectures": ["T5ForConditionalGeneration"]}"#,
    )
    .unwrap();
    let e = refused(
        &dir,
        "arch.toml",
        &blog.replace("\"llama-3-70b\"", "\"t5.json\""),
    );
    assert!(e.contains("T5ForConditionalGeneration"), "{e}");
    let moe = std::fs::read_to_string(format!("{}/{MOE}", common::cli::ROOT)).unwrap();
    let e = refused(
        &dir,
        "k.toml",
        &moe.replace(
            "max_seq_len = 32768",
            "max_seq_len = 32768\nexperts_per_token = 200",
        ),
    );
    assert!(
        e.contains("model.experts_per_token = 200 is larger than model.num_experts = 128"),
        "{e}"
    );
    let e = refused(
        &dir,
        "kv.toml",
        &blog.replace("kv_cache_dtype = \"auto\"", "kv_cache_dtype = \"int4\""),
    );
    assert!(e.contains("kv_cache_dtype") && e.contains("int4"), "{e}");
}
