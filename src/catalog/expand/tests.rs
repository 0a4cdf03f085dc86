use std::path::Path;

use crate::config::{Config, StepModel};

/// A config on `hardware` and `model` sections given whole, with a small workload.
fn config(hardware: &str, model: &str) -> crate::Result<Config> {
    Config::from_toml_str(&format!(
        "[hardware]\n{hardware}\n[model]\n{model}\n[scheduler]\nmax_num_batched_tokens = 2048\n\
         max_num_seqs = 16\npolicy = \"fcfs\"\nenable_chunked_prefill = true\nblock_size = 16\n\
         [workload]\narrival_pattern = \"batched\"\nnum_requests = 4\n\
         input_len_dist = {{ type = \"fixed\", value = 100 }}\n\
         output_len_dist = {{ type = \"fixed\", value = 10 }}\n"
    ))
}

const LLAMA_8B: &str = "hf_config = \"llama-3.1-8b\"\nmax_seq_len = 8192";

#[test]
fn a_preset_fills_one_gpus_datasheet_and_its_calibration() {
    let c = config("preset = \"h100-sxm\"\nbytes_per_param = 2", LLAMA_8B).unwrap();
    let hw = &c.hardware;
    assert_eq!(hw.name, "NVIDIA H100 SXM 80GB");
    assert_eq!(hw.compute_flops, 9.895e14);
    assert_eq!(hw.memory_bandwidth, 3.35e12);
    assert_eq!(hw.memory_capacity, 85_899_345_920.0);
    assert_eq!(hw.interconnect_bandwidth, Some(4.5e11));
    assert_eq!(
        hw.compute_efficiency, 0.659,
        "H100 steps were measured: calibrated"
    );
    assert!(hw
        .calibration_source
        .as_deref()
        .unwrap()
        .contains("h100-llama3-8b"));
    assert!(hw.describe_step_model().starts_with("calibrated (fitted"));
    // FP8 weights compute at the FP8 peak.
    let fp8 = config("preset = \"h100-sxm\"\nbytes_per_param = 1", LLAMA_8B).unwrap();
    assert_eq!(fp8.hardware.compute_flops, 1.979e15);
}

#[test]
fn keys_the_config_writes_win_and_calibration_is_all_or_nothing() {
    let c = config(
        "preset = \"H100-SXM\"\nbytes_per_param = 2\nmemory_bandwidth = 3e12\nname = \"mine\"",
        LLAMA_8B,
    )
    .unwrap();
    assert_eq!(
        (c.hardware.memory_bandwidth, c.hardware.name.as_str()),
        (3e12, "mine")
    );
    // One calibration key of its own: the preset's fitted set is not mixed in.
    let own = config(
        "preset = \"h100-sxm\"\nbytes_per_param = 2\nstep_overhead = 1e-3",
        LLAMA_8B,
    )
    .unwrap();
    assert_eq!(own.hardware.compute_efficiency, 1.0);
    assert_eq!(own.hardware.step_overhead, 1e-3);
    assert_eq!(own.hardware.calibration_source, None);
    // The plain roofline on request.
    let plain = config(
        "preset = \"h100-sxm\"\nbytes_per_param = 2\nstep_model = \"roofline\"",
        LLAMA_8B,
    )
    .unwrap();
    assert_eq!(plain.hardware.step_model, StepModel::Roofline);
    assert!(!plain.hardware.is_calibrated());
    // A GPU nobody measured: the roofline.
    let l40s = config("preset = \"l40s\"\nbytes_per_param = 2", LLAMA_8B).unwrap();
    assert!(!l40s.hardware.is_calibrated());
}

#[test]
fn an_unknown_preset_lists_the_known_ones() {
    let e = config("preset = \"h1000\"\nbytes_per_param = 2", LLAMA_8B)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown hardware.preset \"h1000\""), "{e}");
    for key in ["h100-sxm", "a100-80gb", "mi355x", "l4"] {
        assert!(e.contains(key), "{e}");
    }
}

#[test]
fn an_hf_config_fills_the_model_and_the_weights_dtype() {
    let c = config(
        "preset = \"h100-sxm\"",
        "hf_config = \"qwen3-30b-a3b\"\nmax_seq_len = 4096",
    )
    .unwrap();
    let m = &c.model;
    assert_eq!(m.name, "qwen3-30b-a3b");
    assert_eq!((m.num_layers, m.hidden_dim, m.num_heads), (48, 2048, 32));
    assert_eq!((m.kv_heads(), m.head_dim()), (4, 128));
    assert_eq!((m.num_experts, m.experts_per_token), (Some(128), Some(8)));
    assert_eq!(m.expert_intermediate_size, Some(768));
    assert_eq!(m.max_seq_len, 4096, "the config's own key wins");
    assert_eq!(c.hardware.bytes_per_param, 2.0, "bf16 checkpoint");
    assert_eq!(c.kv_bytes_per_token(), 2.0 * 4.0 * 128.0 * 2.0 * 48.0);
    assert_eq!(m.hf_config.as_deref(), Some("qwen3-30b-a3b"));
}

#[test]
fn an_hf_config_path_resolves_against_the_config_and_names_bad_files() {
    let dir = std::env::temp_dir().join(format!("il-hf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("my-model.json"),
        crate::catalog::hf::find("mistral-7b-v0.3").unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("bert.json"),
        r#"{"architectures": ["BertModel"], "hidden_size": 768}"#,
    )
    .unwrap();
    let text = |model: &str| {
        format!(
            "[hardware]\npreset = \"l4\"\nbytes_per_param = 2\n[model]\nhf_config = \"{model}\"\n\
             max_seq_len = 4096\n[scheduler]\nmax_num_batched_tokens = 2048\nmax_num_seqs = 16\n\
             policy = \"fcfs\"\nenable_chunked_prefill = true\nblock_size = 16\n[workload]\n\
             arrival_pattern = \"batched\"\nnum_requests = 1\n\
             input_len_dist = {{ type = \"fixed\", value = 10 }}\n\
             output_len_dist = {{ type = \"fixed\", value = 5 }}\n"
        )
    };
    let c = Config::from_toml_str_in(&text("my-model.json"), &dir).unwrap();
    assert_eq!(
        (c.model.name.as_str(), c.model.num_layers),
        ("my-model", 32)
    );
    let e = Config::from_toml_str_in(&text("bert.json"), &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("BertModel"), "{e}");
    let e = Config::from_toml_str_in(&text("missing.json"), &dir)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.hf_config: cannot read") && e.contains("missing.json"),
        "{e}"
    );
    let e = Config::from_toml_str_in(&text("llama-9"), Path::new(""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("llama-3.1-8b"), "lists the shipped models: {e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_preset_and_every_shipped_model_makes_a_valid_config() {
    for gpu in crate::catalog::gpus::all() {
        for &(slug, _) in crate::catalog::hf::catalog() {
            // The smallest GPUs cannot hold the largest models: that must be the error.
            let result = config(
                &format!("preset = \"{}\"\nbytes_per_param = 1", gpu.key),
                &format!("hf_config = \"{slug}\"\nmax_seq_len = 4096"),
            );
            match result {
                Ok(c) => assert_eq!(c.hardware.preset.as_deref(), Some(gpu.key.as_str())),
                Err(e) => assert!(
                    e.to_string().contains("leave no room for a KV cache"),
                    "{} / {slug}: {e}",
                    gpu.key
                ),
            }
        }
    }
}
