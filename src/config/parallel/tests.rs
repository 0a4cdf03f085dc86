use crate::config::Config;
use crate::testing::toy_text;

/// The toy (8 heads, 8 KV heads) with extra `[model]` keys and a `[parallel]` section.
fn with(model: &str, parallel: &str) -> crate::Result<Config> {
    let text = toy_text(
        "arrival_pattern = \"batched\"\nnum_requests = 1\n\
                         input_len_dist = { type = \"fixed\", value = 10 }\n\
                         output_len_dist = { type = \"fixed\", value = 5 }",
    )
    .replace(
        "num_heads = 8\n",
        if model.contains("num_heads") {
            ""
        } else {
            "num_heads = 8\n"
        },
    )
    .replace("[model]\n", &format!("[model]\n{model}\n"))
    .replace(
        "[hardware]\n",
        "[hardware]\ninterconnect_bandwidth = 4.5e11\ninterconnect_latency = 2e-6\n",
    );
    Config::from_toml_str(&format!("{text}\n[parallel]\n{parallel}\n"))
}

fn error(model: &str, parallel: &str) -> String {
    with(model, parallel).unwrap_err().to_string()
}

const MOE: &str = "num_experts = 8\nexperts_per_token = 2\nexpert_intermediate_size = 256";

#[test]
fn parallel_sizes_must_fit_the_model() {
    assert!(with("", "tensor_parallel_size = 4").is_ok());
    let e = error("", "tensor_parallel_size = 3");
    assert!(
        e.contains("parallel.tensor_parallel_size = 3 does not divide model.num_heads = 8"),
        "{e}"
    );
    assert!(
        with("num_kv_heads = 4", "tensor_parallel_size = 8").is_ok(),
        "KV heads replicate"
    );
    let e = error(
        "num_heads = 12\nhead_dim = 64\nnum_kv_heads = 4",
        "tensor_parallel_size = 6",
    );
    assert!(
        e.contains("model.num_kv_heads = 4: one must divide the other"),
        "{e}"
    );
    let e = error("", "tensor_parallel_size = 0");
    assert!(e.contains("parallel.tensor_parallel_size = 0"), "{e}");
    let e = error("", "pipeline_parallel_size = 2");
    assert!(
        e.contains("unknown key `pipeline_parallel_size` in [parallel]"),
        "{e}"
    );
}

#[test]
fn expert_parallelism_needs_experts_that_divide() {
    let e = error("", "tensor_parallel_size = 2\nexpert_parallel_size = 2");
    assert!(
        e.contains("parallel.expert_parallel_size = 2 needs a mixture-of-experts model"),
        "{e}"
    );
    assert!(with(MOE, "tensor_parallel_size = 2\nexpert_parallel_size = 2").is_ok());
    let e = error(MOE, "tensor_parallel_size = 2\nexpert_parallel_size = 4");
    assert!(
        e.contains("does not divide parallel.tensor_parallel_size = 2"),
        "{e}"
    );
    let e = error(
        &MOE.replace("num_experts = 8", "num_experts = 6"),
        "tensor_parallel_size = 4\nexpert_parallel_size = 4",
    );
    assert!(e.contains("does not divide model.num_experts = 6"), "{e}");
}

#[test]
fn experts_are_checked_as_a_set() {
    let e = error(
        &MOE.replace("experts_per_token = 2", "experts_per_token = 9"),
        "",
    );
    assert!(
        e.contains("model.experts_per_token = 9 is larger than model.num_experts = 8"),
        "{e}"
    );
    let e = error("experts_per_token = 2", "");
    assert!(
        e.contains("model.experts_per_token is set but model.num_experts is not"),
        "{e}"
    );
    let e = error("num_experts = 8\nexperts_per_token = 2", "");
    assert!(e.contains("model.expert_intermediate_size"), "{e}");
    let e = error(&MOE.replace("256", "500000"), "");
    assert!(e.contains("more than model.num_parameters"), "{e}");
    let e = error(&format!("{MOE}\nnum_moe_layers = 11"), "");
    assert!(
        e.contains("model.num_moe_layers = 11 is larger than model.num_layers = 10"),
        "{e}"
    );
}

#[test]
fn tensor_parallelism_needs_an_interconnect() {
    let text = toy_text(
        "arrival_pattern = \"batched\"\nnum_requests = 1\n\
                         input_len_dist = { type = \"fixed\", value = 10 }\n\
                         output_len_dist = { type = \"fixed\", value = 5 }",
    );
    let e = Config::from_toml_str(&format!("{text}\n[parallel]\ntensor_parallel_size = 2\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs hardware.interconnect_bandwidth"), "{e}");
    // One GPU needs none.
    assert!(
        Config::from_toml_str(&format!("{text}\n[parallel]\ntensor_parallel_size = 1\n")).is_ok()
    );
}

#[test]
fn data_parallel_engines_are_replicas_and_count_gpus() {
    let c = with("", "tensor_parallel_size = 2\ndata_parallel_size = 3").unwrap();
    assert_eq!(c.num_gpus(), 6);
    assert_eq!(c.describe_gpus(), "6 GPUs (3 engines x TP 2)");
    let summary = crate::Simulator::new(&c).unwrap().run().unwrap();
    assert_eq!(summary.fleet.replicas, 3);
    let both = format!(
        "{}\n[cluster]\nreplicas = 2\n",
        toy_text(
            "arrival_pattern = \"batched\"\nnum_requests = 1\n\
                  input_len_dist = { type = \"fixed\", value = 10 }\n\
                  output_len_dist = { type = \"fixed\", value = 5 }"
        )
    ) + "[parallel]\ndata_parallel_size = 2\n";
    let e = Config::from_toml_str(&both).unwrap_err().to_string();
    assert!(
        e.contains("parallel.data_parallel_size = 2 and [cluster] both"),
        "{e}"
    );
}
