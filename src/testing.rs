//! What the crate's unit tests share.

use crate::config::Config;

/// A toy card and model (1e9 parameters, 1 TFLOP/s, 100 GB/s, a 1 GB KV cache) and its
/// scheduler: every section but `[workload]`, which comes last.
const TOY_ENGINE: &str = r#"
[hardware]
name = "toy"
compute_flops = 1e12
memory_bandwidth = 1e11
memory_capacity = 1e10
kv_cache_capacity = 1e9
bytes_per_param = 2
[model]
name = "toy"
num_parameters = 1000000000
num_layers = 10
hidden_dim = 1024
num_heads = 8
max_seq_len = 1000
[scheduler]
max_num_batched_tokens = 512
max_num_seqs = 8
policy = "fcfs"
enable_chunked_prefill = true
block_size = 16
"#;

/// The toy config's text with these `[workload]` keys.
pub(crate) fn toy_text(workload: &str) -> String {
    format!("{TOY_ENGINE}[workload]\n{workload}\n")
}

/// The toy config with these `[workload]` keys.
pub(crate) fn toy_config(workload: &str) -> Config {
    Config::from_toml_str(&toy_text(workload)).unwrap_or_else(|e| panic!("{e}"))
}

/// The toy config's text with five batched requests of 10 prompt and 5 output tokens:
/// simulates in microseconds.
pub(crate) fn toy_batched() -> String {
    toy_text(
        "arrival_pattern = \"batched\"\nnum_requests = 5\n\
         input_len_dist = { type = \"fixed\", value = 10 }\n\
         output_len_dist = { type = \"fixed\", value = 5 }",
    )
}

/// The card and model whose step times the hand-computed tests write out (the toy of
/// tests/engine_hand_computed.rs): the toy with 2 KV heads (10,240 KV bytes per token), a
/// 4096-token context, a 2048-token budget and 16 sequences; one batched request of 100
/// prompt and 10 output tokens.
pub(crate) fn hand_toy() -> Config {
    let mut text = toy_text(
        "arrival_pattern = \"batched\"\nnum_requests = 1\n\
         input_len_dist = { type = \"fixed\", value = 100 }\n\
         output_len_dist = { type = \"fixed\", value = 10 }",
    );
    for (from, to) in [
        ("max_seq_len = 1000", "num_kv_heads = 2\nmax_seq_len = 4096"),
        (
            "max_num_batched_tokens = 512",
            "max_num_batched_tokens = 2048",
        ),
        ("max_num_seqs = 8", "max_num_seqs = 16"),
    ] {
        assert!(text.contains(from), "the toy has {from}");
        text = text.replace(from, to);
    }
    Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}"))
}
