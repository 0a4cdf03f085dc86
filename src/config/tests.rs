use super::*;

pub(super) const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-era");

pub(super) fn minimal(extra_scheduler: &str) -> String {
    format!(
        r#"
        [hardware]
        name = "h"
        compute_flops = 1e15
        memory_bandwidth = 3e12
        memory_capacity = 85899345920
        bytes_per_param = 2
        [model]
        name = "m"
        num_parameters = 8000000000
        num_layers = 32
        hidden_dim = 4096
        num_heads = 32
        max_seq_len = 8192
        [scheduler]
        max_num_batched_tokens = 8192
        max_num_seqs = 256
        policy = "fcfs"
        enable_chunked_prefill = true
        block_size = 16
        {extra_scheduler}
        [workload]
        arrival_pattern = "poisson"
        arrival_rate = 1.0
        num_requests = 10
        input_len_dist = {{ type = "fixed", value = 100 }}
        output_len_dist = {{ type = "fixed", value = 10 }}
        "#
    )
}

#[test]
fn every_reference_config_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(REFERENCE).expect("examples/seed-era is in the repo") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 8, "found only {n} reference configs");
}

#[test]
fn documented_defaults_apply() {
    let c = Config::from_toml_str(&minimal("")).unwrap();
    assert_eq!(c.hardware.gpu_memory_utilization, 0.9);
    assert_eq!(c.hardware.kv_cache_capacity, None);
    assert_eq!(c.model.kv_heads(), 32);
    assert_eq!(c.model.head_dim(), 128);
    assert_eq!(c.model.active_parameters(), 8_000_000_000);
    assert_eq!(c.scheduler.long_prefill_token_threshold, 0);
    assert_eq!(c.scheduler.max_num_partial_prefills, 1);
    assert!(!c.scheduler.enable_preemption_free);
    assert!(c.scheduler.enable_prefix_caching);
    assert_eq!(c.scheduler.prefill_chunk_cap(8192), None);
    assert_eq!(c.workload.num_concurrent_users, 64);
    assert_eq!(c.workload.seed, 42);
    assert_eq!(c.simulation.log_interval, 100);
}

#[test]
fn partial_prefills_imply_a_four_percent_chunk_cap() {
    let c = Config::from_toml_str(&minimal("max_num_partial_prefills = 2")).unwrap();
    // 4% of 8192 = 327.68 -> 327 tokens.
    assert_eq!(c.scheduler.prefill_chunk_cap(8192), Some(327));
    let c = Config::from_toml_str(&minimal("long_prefill_token_threshold = 512")).unwrap();
    assert_eq!(c.scheduler.prefill_chunk_cap(8192), Some(512));
}

#[test]
fn kv_cache_size_follows_the_formula() {
    // test_blog.toml: 171798691840 x 0.9 - 70e9 x 1 = 84618822656 bytes; per token
    // 2 x 8 x 128 x 1 x 80 = 163840 bytes; per block x16 = 2621440; 32279 blocks.
    let c = Config::load(format!("{REFERENCE}/test_blog.toml").as_ref()).unwrap();
    assert_eq!(c.kv_bytes_per_token(), 163_840.0);
    assert_eq!(
        c.hardware.kv_cache_bytes(&c.model, 1).unwrap(),
        84_618_822_656.0
    );
    assert_eq!(c.kv_cache_blocks().unwrap(), 32_279);
}

/// test_blog's FP8 weights (bytes_per_param = 1): without kv_cache_dtype the cache is FP8
/// too (its seed-era meaning, unchanged); vLLM's `auto` keeps the activations' BF16, which
/// doubles every token's KV bytes and halves the blocks.
#[test]
fn kv_cache_dtype_sets_the_cache_element_apart_from_the_weights() {
    let base = Config::load(format!("{REFERENCE}/test_blog.toml").as_ref()).unwrap();
    assert_eq!(base.hardware.kv_cache_dtype, None);
    let with = |dtype: &str| {
        let mut c = base.clone();
        c.hardware.kv_cache_dtype = Some(toml::Value::String(dtype.into()).try_into().unwrap());
        c.validate().unwrap();
        c
    };
    // Per token: 2 x 8 KV heads x 128 x bytes x 80 layers.
    for (dtype, bytes) in [
        ("auto", 2.0),
        ("bf16", 2.0),
        ("bfloat16", 2.0),
        ("fp16", 2.0),
        ("fp8", 1.0),
        ("fp8_e5m2", 1.0),
    ] {
        assert_eq!(
            with(dtype).kv_bytes_per_token(),
            163_840.0 * bytes,
            "{dtype}"
        );
    }
    assert_eq!(
        with("fp8").kv_cache_blocks().unwrap(),
        32_279,
        "fp8 = the seed-era cache"
    );
    // The same bytes hold half the blocks at BF16 (floor(84618822656 / (16 x 327680))).
    assert_eq!(with("auto").kv_cache_blocks().unwrap(), 16_139);
    // auto follows wider weights: FP32 weights keep an FP32 cache.
    let mut wide = with("auto");
    wide.hardware.bytes_per_param = 4.0;
    assert_eq!(wide.hardware.kv_bytes_per_element(), 4.0);

    let text = minimal("").replace("[model]", "kv_cache_dtype = \"int3\"\n[model]");
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(err.contains("hardware.kv_cache_dtype"), "{err}");
    assert!(err.contains("auto"), "{err}");
}

#[test]
fn head_dim_overrides_hidden_over_heads() {
    let c = Config::load(format!("{REFERENCE}/qwen3_30b_a3b.toml").as_ref()).unwrap();
    // Without head_dim: 2048 / 32 = 64.
    assert_eq!(c.model.head_dim(), 64);
    let mut c2 = c.clone();
    c2.model.head_dim = Some(128);
    assert_eq!(c2.kv_bytes_per_token(), 2.0 * c.kv_bytes_per_token());
    assert_eq!(c2.model.attention_dim(), 4096.0);
}

#[test]
fn large_counts_may_be_written_as_floats() {
    let text = minimal("").replace("num_parameters = 8000000000", "num_parameters = 8e9");
    assert_eq!(
        Config::from_toml_str(&text).unwrap().model.num_parameters,
        8_000_000_000
    );
    let text = minimal("").replace("num_parameters = 8000000000", "num_parameters = 8.5");
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(err.contains("model.num_parameters"), "{err}");
}

#[test]
fn errors_name_the_key_section_and_line() {
    let err = Config::from_toml_str(&minimal("speed = 3"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key `speed` in [scheduler]"), "{err}");
    assert!(err.starts_with("line 21:"), "{err}");
    let err = Config::from_toml_str(&minimal("").replace("[model]", "[modle]"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown section `modle`"), "{err}");
    let err = Config::from_toml_str(&minimal("").replace("max_num_seqs = 256", ""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing required key `max_num_seqs` in [scheduler]"),
        "{err}"
    );
    let err = Config::from_toml_str(&minimal("").replace("\"fcfs\"", "\"random\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("scheduler.policy") && err.contains("`sif`"),
        "{err}"
    );
}

#[test]
fn cross_section_checks() {
    let text = minimal("").replace("num_heads = 32", "num_heads = 32\nnum_kv_heads = 64");
    assert!(Config::from_toml_str(&text)
        .unwrap_err()
        .to_string()
        .contains("num_kv_heads"));
    let text = minimal("").replace("hidden_dim = 4096", "hidden_dim = 4100");
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        err.contains("not divisible") && err.contains("head_dim"),
        "{err}"
    );
    let text = minimal("").replace("memory_capacity = 85899345920", "memory_capacity = 16e9");
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(err.contains("no room for a KV cache"), "{err}");
    let text = minimal("").replace(
        "max_seq_len = 8192",
        "max_seq_len = 8192\nsliding_window = 512",
    );
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(err.contains("num_sliding_layers"), "{err}");
}

#[test]
fn dataset_configs_need_no_request_count() {
    let text = minimal("").replace("num_requests = 10\n", "dataset_path = \"data.jsonl\"\n");
    let c = Config::from_toml_str(&text).unwrap();
    assert_eq!(
        c.dataset_path(),
        Some(std::path::PathBuf::from("data.jsonl"))
    );
}

#[test]
fn calibration_keys_default_to_the_roofline_and_are_checked() {
    let c = Config::from_toml_str(&minimal("")).unwrap();
    let hw = &c.hardware;
    assert_eq!(
        (
            hw.compute_efficiency,
            hw.attention_efficiency,
            hw.memory_efficiency,
            hw.kv_memory_efficiency,
            hw.attention_overlap,
        ),
        (1.0, 1.0, 1.0, 1.0, 1.0)
    );
    assert_eq!(
        (
            hw.roofline_softness,
            hw.step_overhead,
            hw.layer_overhead,
            hw.sequence_overhead
        ),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert!(!hw.causal_attention && !hw.is_calibrated());
    let with = |line: &str| {
        minimal("").replace(
            "bytes_per_param = 2",
            &format!("bytes_per_param = 2\n        {line}"),
        )
    };
    let c = Config::from_toml_str(&with("layer_overhead = 4.5e-5")).unwrap();
    assert_eq!(c.hardware.layer_overhead, 4.5e-5);
    assert!(c.hardware.is_calibrated());
    for (line, says) in [
        (
            "compute_efficiency = 1.5",
            "hardware.compute_efficiency = 1.5 is invalid: it must be a number from 0.01 to 1",
        ),
        (
            "kv_memory_efficiency = 0",
            "hardware.kv_memory_efficiency = 0 is invalid: it must be a number from 0.01 to 1",
        ),
        (
            "roofline_softness = -0.1",
            "hardware.roofline_softness = -0.1 is invalid: it must be in [0, 1]",
        ),
        (
            "attention_overlap = 2",
            "hardware.attention_overlap = 2 is invalid: it must be in [0, 1]",
        ),
        (
            "layer_overhead = -1e-5",
            "hardware.layer_overhead = -1e-5 is invalid: it must be a number from 0 to 1 seconds",
        ),
        ("causal_attention = 1", "hardware.causal_attention"),
        (
            "compute_eficiency = 0.5",
            "unknown key `compute_eficiency` in [hardware]",
        ),
    ] {
        let err = Config::from_toml_str(&with(line)).unwrap_err().to_string();
        assert!(err.contains(says), "{line}: {err}");
    }
}

#[test]
fn sjf_is_the_seed_era_name_of_shortest_output_first() {
    let sjf = Config::from_toml_str(&minimal("").replace("\"fcfs\"", "\"sjf\"")).expect("sjf");
    assert_eq!(sjf.scheduler.policy, Policy::Sof);
    // Written back under the one name.
    let json = serde_json::to_value(&sjf.scheduler).expect("serialise");
    assert_eq!(json["policy"], "sof");
}
