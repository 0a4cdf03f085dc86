use super::*;

fn model(slug: &str) -> HfModel {
    parse(find(slug).unwrap(), &format!("models/{slug}.json")).unwrap()
}

/// A shipped config with some keys replaced (`null` removes a key's value).
fn edited(slug: &str, edits: &[(&str, Value)]) -> Result<HfModel> {
    let mut value: Value = serde_json::from_str(find(slug).unwrap()).unwrap();
    for (key, v) in edits {
        value[*key] = v.clone();
    }
    parse(&value.to_string(), "edited.json")
}

#[test]
fn every_shipped_model_parses() {
    for (slug, json) in catalog() {
        let m = parse(json, slug).unwrap_or_else(|e| panic!("{slug}: {e}"));
        assert!(
            ARCHITECTURES
                .iter()
                .any(|(name, _)| *name == m.architecture),
            "{slug}"
        );
        assert!(m.num_active_parameters <= m.num_parameters, "{slug}");
        assert_eq!(
            m.moe.is_some(),
            m.num_active_parameters < m.num_parameters,
            "{slug}"
        );
    }
}

#[test]
fn the_catalog_is_the_models_folder() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut slugs: Vec<String> = catalog().iter().map(|(s, _)| s.to_string()).collect();
    slugs.sort();
    assert_eq!(files, slugs);
}

/// A model card's parameter counts (models/README.md has the URLs).
struct Card {
    slug: &'static str,
    total: f64,
    active: Option<f64>,
    /// The active count is checked to within 1%, or to within one unit of its last digit
    /// where the card states only two significant figures and rounds by more than 1%:
    /// Qwen3-30B-A3B's "3.3B" (we derive 3.353B) and DeepSeek-V3's "37B" (37.55B).
    active_unit: f64,
    /// gpt-oss's card counts the unembedding but not the input embedding towards active
    /// ("Unembedding parameters are counted towards active, but not embeddings", Table 1 of
    /// the gpt-oss model card, arXiv 2508.10925); the others count both.
    active_without_embedding: bool,
}

const fn dense(slug: &'static str, total: f64) -> Card {
    let (active, active_unit, active_without_embedding) = (None, 0.0, false);
    Card {
        slug,
        total,
        active,
        active_unit,
        active_without_embedding,
    }
}

const fn moe(slug: &'static str, total: f64, active: f64) -> Card {
    Card {
        active: Some(active),
        ..dense(slug, total)
    }
}

const CARDS: &[Card] = &[
    dense("llama-3.1-8b", 8e9),
    dense("llama-3.1-70b", 70e9),
    dense("llama-3-70b", 70e9),
    dense("llama-3.1-405b", 405e9),
    dense("mistral-7b-v0.3", 7.3e9),
    moe("mixtral-8x7b", 46.7e9, 12.9e9),
    moe("mixtral-8x22b", 141e9, 39e9),
    dense("qwen2.5-7b", 7.61e9),
    dense("qwen2.5-72b", 72.7e9),
    dense("qwen3-8b", 8.2e9),
    dense("qwen3-32b", 32.8e9),
    Card {
        active_unit: 0.1e9,
        ..moe("qwen3-30b-a3b", 30.5e9, 3.3e9)
    },
    moe("qwen3-235b-a22b", 235e9, 22e9),
    Card {
        active_unit: 1e9,
        ..moe("deepseek-v3", 671e9, 37e9)
    },
    Card {
        active_without_embedding: true,
        ..moe("gpt-oss-20b", 20.91e9, 3.61e9)
    },
    Card {
        active_without_embedding: true,
        ..moe("gpt-oss-120b", 116.83e9, 5.13e9)
    },
];

impl Card {
    /// The derived active count, counted the way this card counts it.
    fn comparable_active(&self, m: &HfModel) -> f64 {
        let embedding = f64::from(m.hidden_dim) * vocab(self.slug);
        m.num_active_parameters as f64
            - if self.active_without_embedding {
                embedding
            } else {
                0.0
            }
    }
}

#[test]
fn parameter_counts_match_the_model_cards() {
    assert_eq!(CARDS.len(), catalog().len());
    for c in CARDS {
        let m = model(c.slug);
        let total = m.num_parameters as f64;
        assert!(
            (total - c.total).abs() <= 0.01 * c.total,
            "{}: total {total:e} vs card {:e}",
            c.slug,
            c.total
        );
        match c.active {
            Some(card) => {
                let active = c.comparable_active(&m);
                let tolerance = (0.01 * card).max(c.active_unit);
                assert!(
                    (active - card).abs() <= tolerance,
                    "{}: active {active:e} vs card {card:e}",
                    c.slug
                );
            }
            None => assert!(m.moe.is_none(), "{}", c.slug),
        }
    }
}

fn vocab(slug: &str) -> f64 {
    let value: Value = serde_json::from_str(find(slug).unwrap()).unwrap();
    value["vocab_size"].as_f64().unwrap()
}

#[test]
fn exact_counts_worked_by_hand() {
    // Llama-3.1-8B: embeddings and lm_head 2 x 128256 x 4096 = 1,050,673,152; a layer's
    // attention 2 x 4096 x 4096 + 2 x 4096 x 1024 = 41,943,040, MLP 3 x 4096 x 14336 =
    // 176,160,768, norms 2 x 4096: 218,112,000 x 32 layers = 6,979,584,000; final norm 4096.
    assert_eq!(model("llama-3.1-8b").num_parameters, 8_030_261_248);
    // gpt-oss-120b per layer: q 2880x4096+4096, k and v 2880x512+512 each, o 4096x2880+2880,
    // 64 sinks = 26,550,144; router 2880x128+128 = 368,768; 128 experts of
    // 3x2880x2880 + 2x2880 + 2880 = 24,891,840; norms 5,760: 3,213,080,192 x 36; embeddings
    // 2 x 201088 x 2880 = 1,158,266,880; final norm 2880.
    let oss = model("gpt-oss-120b");
    assert_eq!(
        oss.num_parameters,
        3_213_080_192 * 36 + 1_158_266_880 + 2880
    );
    assert_eq!(oss.moe.as_ref().unwrap().params_per_expert, 24_891_840);
    assert_eq!(
        oss.num_parameters - oss.num_active_parameters,
        124 * 24_891_840 * 36
    );
}

#[test]
fn kv_elements_per_token_worked_by_hand() {
    assert_eq!(
        model("llama-3.1-8b").kv_elements_per_token,
        2 * 8 * 128 * 32
    ); // 65,536
    assert_eq!(model("deepseek-v3").kv_elements_per_token, 576 * 61); // 35,136
    assert_eq!(model("gpt-oss-120b").kv_elements_per_token, 2 * 8 * 64 * 36); // 36,864
    assert_eq!(
        model("qwen3-30b-a3b").kv_elements_per_token,
        2 * 4 * 128 * 48
    ); // 49,152
}

#[test]
fn deepseek_v3_has_mla_and_58_moe_layers() {
    let m = model("deepseek-v3");
    assert_eq!(m.kv_latent_dim, Some(512 + 64));
    assert_eq!(m.head_dim, (128 + 64 + 128) / 2);
    assert_eq!(m.bytes_per_param_hint, 1.0);
    let x = m.moe.unwrap();
    assert_eq!(
        (
            x.num_experts,
            x.experts_per_token,
            x.num_shared_experts,
            x.num_moe_layers
        ),
        (256, 8, 1, 61 - 3)
    );
    assert_eq!(
        (x.expert_intermediate_size, x.params_per_expert),
        (2048, 3 * 7168 * 2048)
    );
}

#[test]
fn sliding_windows() {
    // gpt-oss: layer_types alternates sliding_attention and full_attention.
    assert_eq!(model("gpt-oss-120b").sliding_window, Some((128, 18)));
    assert_eq!(model("gpt-oss-20b").sliding_window, Some((128, 12)));
    for slug in [
        "mistral-7b-v0.3",
        "mixtral-8x7b",
        "qwen2.5-7b",
        "qwen3-8b",
        "llama-3.1-8b",
    ] {
        assert_eq!(model(slug).sliding_window, None, "{slug}");
    }
    // Mistral-7B-v0.1's sliding_window 4096 covers every layer.
    let v01 = edited("mistral-7b-v0.3", &[("sliding_window", 4096.into())]).unwrap();
    assert_eq!(v01.sliding_window, Some((4096, 32)));
    // Qwen slides the layers from max_window_layers on, once use_sliding_window is on.
    let on = [
        ("use_sliding_window", true.into()),
        ("max_window_layers", 20.into()),
    ];
    assert_eq!(
        edited("qwen2.5-7b", &on).unwrap().sliding_window,
        Some((131072, 8))
    );
    // Without layer_types, gpt-oss's default alternation (sliding on even layers).
    let plain = edited("gpt-oss-20b", &[("layer_types", Value::Null)]).unwrap();
    assert_eq!(plain.sliding_window, Some((128, 12)));
}

#[test]
fn qwen3_moe_respects_sparse_step_and_mlp_only_layers() {
    let base = model("qwen3-30b-a3b");
    let x = base.moe.as_ref().unwrap();
    assert_eq!(
        (x.num_moe_layers, x.params_per_expert),
        (48, 3 * 2048 * 768)
    );
    let two_dense = edited(
        "qwen3-30b-a3b",
        &[("mlp_only_layers", serde_json::json!([0, 47]))],
    );
    let two_dense = two_dense.unwrap();
    assert_eq!(two_dense.moe.as_ref().unwrap().num_moe_layers, 46);
    // A dense layer swaps 128 experts and the router for one 6144-wide MLP.
    let moe_layer = 128 * 3 * 2048 * 768 + 2048 * 128;
    assert_eq!(
        base.num_parameters - two_dense.num_parameters,
        2 * (moe_layer - 3 * 2048 * 6144)
    );
    let every_other = edited("qwen3-30b-a3b", &[("decoder_sparse_step", 2.into())]).unwrap();
    assert_eq!(every_other.moe.unwrap().num_moe_layers, 24);
}

#[test]
fn biases_and_norms_by_architecture() {
    // Qwen2.5-7B: q/k/v biases (3584 + 2 x 512 per layer), none on o_proj.
    let qwen = model("qwen2.5-7b");
    let no_bias = edited(
        "qwen2.5-7b",
        &[("architectures", serde_json::json!(["LlamaForCausalLM"]))],
    );
    assert_eq!(
        qwen.num_parameters - no_bias.unwrap().num_parameters,
        (3584 + 2 * 512) * 28
    );
    // Qwen3-8B: q_norm and k_norm, 2 x 128 per layer, over the same shapes as a Llama.
    let qwen3 = model("qwen3-8b");
    let as_llama = edited(
        "qwen3-8b",
        &[("architectures", serde_json::json!(["LlamaForCausalLM"]))],
    );
    assert_eq!(
        qwen3.num_parameters - as_llama.unwrap().num_parameters,
        2 * 128 * 36
    );
    // Tied embeddings drop lm_head.
    let tied = edited("llama-3.1-8b", &[("tie_word_embeddings", true.into())]).unwrap();
    assert_eq!(
        model("llama-3.1-8b").num_parameters - tied.num_parameters,
        128256 * 4096
    );
}

#[test]
fn bytes_per_parameter_hints() {
    assert_eq!(model("llama-3.1-70b").bytes_per_param_hint, 2.0);
    let fp32 = edited("qwen3-8b", &[("torch_dtype", "float32".into())]).unwrap();
    assert_eq!(fp32.bytes_per_param_hint, 4.0);
    // gpt-oss: the weighted average reproduces the card's checkpoint sizes (60.8 / 12.8 GiB).
    for (slug, gib) in [("gpt-oss-120b", 60.8), ("gpt-oss-20b", 12.8)] {
        let m = model(slug);
        let size = m.num_parameters as f64 * m.bytes_per_param_hint / f64::from(1 << 30);
        assert!((size - gib).abs() < 0.01 * gib, "{slug}: {size} GiB");
    }
}

#[test]
fn unsupported_architecture_names_it_the_file_and_the_list() {
    let json = r#"{"architectures": ["GPT2LMHeadModel"], "n_embd": 768}"#;
    let err = parse(json, "models/gpt2.json").unwrap_err().to_string();
    assert!(
        err.contains("GPT2LMHeadModel") && err.contains("models/gpt2.json"),
        "{err}"
    );
    assert!(
        err.contains("LlamaForCausalLM") && err.contains("GptOssForCausalLM"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn missing_and_invalid_keys_are_named() {
    let err = edited("llama-3.1-8b", &[("hidden_size", Value::Null)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`hidden_size`") && err.contains("edited.json"),
        "{err}"
    );
    let err = edited("deepseek-v3", &[("kv_lora_rank", Value::Null)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`kv_lora_rank`") && err.contains("missing"),
        "{err}"
    );
    let err = edited("mixtral-8x7b", &[("num_local_experts", "eight".into())]).unwrap_err();
    assert!(
        err.to_string().contains("`num_local_experts`") && err.to_string().contains("eight"),
        "{err}"
    );
    let err = edited("qwen3-8b", &[("num_attention_heads", 0.into())]).unwrap_err();
    assert!(err.to_string().contains("`num_attention_heads`"), "{err}");
    let err = parse("[1, 2]", "list.json").unwrap_err().to_string();
    assert!(err.contains("list.json"), "{err}");
    let err = parse("{", "broken.json").unwrap_err().to_string();
    assert!(err.contains("broken.json") && !err.contains('\n'), "{err}");
    let err = parse("{}", "empty.json").unwrap_err().to_string();
    assert!(err.contains("`architectures`"), "{err}");
}

#[test]
fn find_is_case_insensitive_and_lists_the_slugs() {
    assert_eq!(find("Llama-3.1-8B").unwrap(), find("llama-3.1-8b").unwrap());
    let err = find("llama-9").unwrap_err().to_string();
    assert!(err.contains("`llama-9`"), "{err}");
    for (slug, _) in catalog() {
        assert!(err.contains(slug), "{err}");
    }
}

/// The derived numbers, as a table: `cargo test --lib catalog::hf -- --nocapture table`.
#[test]
fn table() {
    println!("| slug | total (card) | active (card) | KV elems/token | head_dim | sliding | moe |");
    println!("|---|---|---|---|---|---|---|");
    for c in CARDS {
        let m = model(c.slug);
        let b = |n: f64| format!("{:.3}B", n / 1e9);
        let active = match c.active {
            Some(card) if c.active_without_embedding => format!(
                "{} ({} w/o input embedding; card {})",
                b(m.num_active_parameters as f64),
                b(c.comparable_active(&m)),
                b(card)
            ),
            Some(card) => format!("{} (card {})", b(m.num_active_parameters as f64), b(card)),
            None => "-".to_string(),
        };
        let moe = m.moe.as_ref().map_or("-".to_string(), |x| {
            let (e, k, shared, layers) = (
                x.num_experts,
                x.experts_per_token,
                x.num_shared_experts,
                x.num_moe_layers,
            );
            format!("{e} experts, top-{k}, {shared} shared, {layers} MoE layers")
        });
        let sliding = m
            .sliding_window
            .map_or("-".to_string(), |(w, n)| format!("{w} x {n} layers"));
        let total = format!("{} (card {})", b(m.num_parameters as f64), b(c.total));
        let (slug, kv, hd) = (c.slug, m.kv_elements_per_token, m.head_dim);
        println!("| {slug} | {total} | {active} | {kv} | {hd} | {sliding} | {moe} |");
    }
}
