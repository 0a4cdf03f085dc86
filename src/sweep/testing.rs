//! What the sweep module's unit tests share.

/// A toy model and card (1e9 parameters, 1 TFLOP/s, 100 GB/s, a 1 GB KV cache) with five
/// batched requests of 10 prompt and 5 output tokens: simulates in microseconds.
pub(crate) const TOY: &str = r#"
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
[workload]
arrival_pattern = "batched"
num_requests = 5
input_len_dist = { type = "fixed", value = 10 }
output_len_dist = { type = "fixed", value = 5 }
"#;
