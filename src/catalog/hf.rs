//! HuggingFace `config.json` import: derives a model's numbers (parameters, attention shape,
//! KV-cache width, experts) from its public config, counting every weight tensor the
//! architecture's HuggingFace code creates. [`catalog`] embeds the configs shipped in `models/`.

use serde_json::{Map, Value};

use crate::{bail, shorten, Error, Result};

/// The architectures [`parse`] understands, by their `architectures[0]` name.
const ARCHITECTURES: [(&str, Arch); 8] = [
    ("LlamaForCausalLM", Arch::Llama),
    ("MistralForCausalLM", Arch::Mistral),
    ("MixtralForCausalLM", Arch::Mixtral),
    ("Qwen2ForCausalLM", Arch::Qwen2),
    ("Qwen3ForCausalLM", Arch::Qwen3),
    ("Qwen3MoeForCausalLM", Arch::Qwen3Moe),
    ("DeepseekV3ForCausalLM", Arch::DeepseekV3),
    ("GptOssForCausalLM", Arch::GptOss),
];

/// More decoder layers than any model has: a bound on the per-layer work a config can ask for.
const MAX_LAYERS: u32 = 65_536;

/// A model's numbers, derived from its config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct HfModel {
    /// architectures[0], e.g. "LlamaForCausalLM".
    pub architecture: String,
    /// Every weight incl. embeddings, lm_head when untied, norms, biases, router/gate weights,
    /// every expert. Not DeepSeek-V3's multi-token-prediction layer (14B of the 685B in its
    /// checkpoint): plain decoding never runs it, and the card's 671B leaves it out too.
    pub num_parameters: u64,
    /// Weights one token passes through: total minus the (num_experts - experts_per_token)
    /// routed experts of every MoE layer; both embedding tables count, as in the total. The
    /// cards of Mixtral (12.9B, 39B) and Qwen3 (3.3B, 22B) count the same way and agree to the
    /// digits they state; gpt-oss's (5.13B, 3.61B) leaves out the input embedding, so this is
    /// 0.58B higher; DeepSeek-V3's 37B lies between 37.55B (this) and 36.63B (without it).
    pub num_active_parameters: u64,
    pub num_layers: u32,
    pub hidden_dim: u32,
    pub num_heads: u32,
    /// num_key_value_heads as the config states it (DeepSeek-V3: 128, though MLA caches one
    /// latent per layer; see `kv_latent_dim`).
    pub num_kv_heads: u32,
    /// Per-head dimension used for attention FLOPs: `head_dim`, or hidden_size / heads. For MLA
    /// (DeepSeek-V3) the mean of the QK and V head widths, as scores use 192-wide q.k products
    /// and outputs 128-wide values: (qk_nope + qk_rope + v_head_dim) / 2 = (128+64+128) / 2 = 160.
    pub head_dim: u32,
    /// max_position_embeddings.
    pub max_seq_len: u32,
    /// Sliding-window layers: (window, how many layers use it). From `layer_types` when listed
    /// (gpt-oss alternates sliding 128 and full); Mistral/Mixtral: every layer when
    /// `sliding_window` is set (null in Mistral-7B-v0.3 -> None); Qwen: only with
    /// use_sliding_window true (false in every shipped config), from max_window_layers on.
    pub sliding_window: Option<(u32, u32)>,
    pub moe: Option<HfMoe>,
    /// MLA: elements cached per token per layer (kv_lora_rank + qk_rope_head_dim = 512 + 64 =
    /// 576 for DeepSeek-V3), replacing 2 x num_kv_heads x head_dim.
    pub kv_latent_dim: Option<u32>,
    /// KV-cache elements per token over all layers: 2 x kv_heads x head_dim x layers, or
    /// kv_latent_dim x layers for MLA. Sliding layers count in full (capping them is the
    /// cache model's business).
    pub kv_elements_per_token: u64,
    /// The checkpoint's weight bytes per parameter, as a hint: torch_dtype bf16/fp16 -> 2,
    /// float32 -> 4; quantization_config fp8 -> 1 (DeepSeek-V3), `bits` -> bits / 8. gpt-oss's
    /// mxfp4 holds only the routed experts' matrices in 4.25 bits (4-bit values, an 8-bit scale
    /// per 32) and the rest in bf16: the hint is the weighted average (0.559 for gpt-oss-120b),
    /// so num_parameters x hint is the checkpoint's 60.8 GiB, not 2 bytes' 218 GiB.
    pub bytes_per_param_hint: f64,
}

/// The routed experts of a mixture-of-experts model.
#[derive(Debug, Clone, PartialEq)]
pub struct HfMoe {
    /// Routed experts per MoE layer (num_local_experts / num_experts / n_routed_experts).
    pub num_experts: u32,
    /// num_experts_per_tok / experts_per_token.
    pub experts_per_token: u32,
    /// DeepSeek's n_shared_experts (every token passes through them); 0 elsewhere.
    pub num_shared_experts: u32,
    /// moe_intermediate_size, or intermediate_size for Mixtral and gpt-oss.
    pub expert_intermediate_size: u32,
    /// Layers with experts (DeepSeek-V3: num_hidden_layers - first_k_dense_replace = 58;
    /// Qwen3-MoE: those decoder_sparse_step selects and mlp_only_layers leaves out).
    pub num_moe_layers: u32,
    /// Parameters of one routed expert in one layer: gate, up and down projections, 3 x hidden
    /// x expert_intermediate, plus gpt-oss's biases (2 x expert_intermediate + hidden).
    pub params_per_expert: u64,
}

/// The shipped catalog, in a fixed order.
#[rustfmt::skip]
static CATALOG: &[(&str, &str)] = &[
    ("llama-3.1-8b", include_str!("../../models/llama-3.1-8b.json")),
    ("llama-3.1-70b", include_str!("../../models/llama-3.1-70b.json")),
    ("llama-3-70b", include_str!("../../models/llama-3-70b.json")),
    ("llama-3.1-405b", include_str!("../../models/llama-3.1-405b.json")),
    ("mistral-7b-v0.3", include_str!("../../models/mistral-7b-v0.3.json")),
    ("mixtral-8x7b", include_str!("../../models/mixtral-8x7b.json")),
    ("mixtral-8x22b", include_str!("../../models/mixtral-8x22b.json")),
    ("qwen2.5-7b", include_str!("../../models/qwen2.5-7b.json")),
    ("qwen2.5-72b", include_str!("../../models/qwen2.5-72b.json")),
    ("qwen3-8b", include_str!("../../models/qwen3-8b.json")),
    ("qwen3-32b", include_str!("../../models/qwen3-32b.json")),
    ("qwen3-30b-a3b", include_str!("../../models/qwen3-30b-a3b.json")),
    ("qwen3-235b-a22b", include_str!("../../models/qwen3-235b-a22b.json")),
    ("deepseek-v3", include_str!("../../models/deepseek-v3.json")),
    ("gpt-oss-20b", include_str!("../../models/gpt-oss-20b.json")),
    ("gpt-oss-120b", include_str!("../../models/gpt-oss-120b.json")),
];

/// The shipped catalog: (slug, config.json text) for every file in models/, in a fixed order.
pub fn catalog() -> &'static [(&'static str, &'static str)] {
    CATALOG
}

/// One shipped model's config.json text by slug (case-insensitive).
pub fn find(slug: &str) -> Result<&'static str> {
    if let Some((_, json)) = CATALOG.iter().find(|(s, _)| s.eq_ignore_ascii_case(slug)) {
        return Ok(json);
    }
    let known: Vec<&str> = CATALOG.iter().map(|(s, _)| *s).collect();
    let (slug, known) = (shorten(slug), known.join(", "));
    bail!("unknown model `{slug}`; shipped: {known}")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Arch {
    Llama,
    Mistral,
    Mixtral,
    Qwen2,
    Qwen3,
    Qwen3Moe,
    DeepseekV3,
    GptOss,
}

/// A config.json, loosely: any key may be absent (or null), unknown keys are ignored; each
/// accessor checks the type of the key it reads and names the key and file when it is wrong.
struct Keys<'a> {
    map: &'a Map<String, Value>,
    source: &'a str,
}

impl Keys<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, want: &str, got: &Value) -> Error {
        let got = got.to_string();
        let (source, got) = (self.source, shorten(&got));
        Error::new(format!("{source}: key `{key}` must be {want}, got `{got}`"))
    }

    fn missing(&self, key: &str) -> Error {
        Error::new(format!("{}: required key `{key}` is missing", self.source))
    }

    /// The key's value converted by `f`, None when absent; `want` says what `f` accepts.
    fn typed<'v, T>(
        &'v self,
        key: &str,
        want: &str,
        f: impl FnOnce(&'v Value) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or_else(|| self.wrong(key, want, v)),
        }
    }

    /// A non-negative integer that fits in u32.
    fn int(&self, key: &str) -> Result<Option<u32>> {
        let fits = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
        self.typed(key, "a non-negative integer below 2^32", fits)
    }

    fn required_int(&self, key: &str) -> Result<u32> {
        self.int(key)?.ok_or_else(|| self.missing(key))
    }

    /// An integer of at least 1; `default` when absent, an error when that is None.
    fn positive(&self, key: &str, default: Option<u32>) -> Result<u32> {
        match (self.int(key)?, default) {
            (Some(0), _) => Err(self.wrong(key, "at least 1", &Value::from(0))),
            (Some(n), _) | (None, Some(n)) => Ok(n),
            (None, None) => Err(self.missing(key)),
        }
    }

    fn count(&self, key: &str) -> Result<u32> {
        self.positive(key, None)
    }

    fn flag(&self, key: &str) -> Result<bool> {
        let flag = self.typed(key, "true or false", Value::as_bool)?;
        Ok(flag.unwrap_or(false))
    }

    fn text(&self, key: &str) -> Result<Option<&str>> {
        self.typed(key, "a string", Value::as_str)
    }

    fn list(&self, key: &str) -> Result<Option<&Vec<Value>>> {
        self.typed(key, "a list", Value::as_array)
    }
}

/// Parses a config.json text. `source` names the file for errors.
pub fn parse(json: &str, source: &str) -> Result<HfModel> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("{source}: not valid JSON: {e}")))?;
    let not_object = || Error::new(format!("{source}: not a JSON object"));
    let map = value.as_object().ok_or_else(not_object)?;
    let keys = Keys { map, source };
    let architecture = match keys.list("architectures")?.and_then(|a| a.first()) {
        Some(Value::String(name)) => name.clone(),
        Some(other) => return Err(keys.wrong("architectures", "a list of names", other)),
        None => return Err(keys.missing("architectures")),
    };
    let Some(&(_, arch)) = ARCHITECTURES.iter().find(|(name, _)| *name == architecture) else {
        let supported: Vec<&str> = ARCHITECTURES.iter().map(|(name, _)| *name).collect();
        let (name, supported) = (shorten(&architecture), supported.join(", "));
        bail!("{source}: unsupported architecture `{name}`; supported: {supported}")
    };
    derive(&keys, arch, architecture)
}

fn derive(keys: &Keys, arch: Arch, architecture: String) -> Result<HfModel> {
    let source = keys.source;
    let h = keys.count("hidden_size")?;
    let layers = keys.count("num_hidden_layers")?;
    if layers > MAX_LAYERS {
        return Err(keys.wrong("num_hidden_layers", "at most 65536", &layers.into()));
    }
    let heads = keys.count("num_attention_heads")?;
    let kv_heads = keys.positive("num_key_value_heads", Some(heads))?;
    let vocab = keys.count("vocab_size")?;
    let max_seq_len = keys.count("max_position_embeddings")?;
    let dense_width = keys.count("intermediate_size")?;
    if keys.get("head_dim").is_none() && h % heads != 0 {
        bail!("{source}: no `head_dim`, and hidden_size {h} is not a multiple of {heads} heads");
    }
    let head_dim = keys.positive("head_dim", Some(h / heads))?;
    let bias = keys.flag("attention_bias")?;
    let w = |x: u32| u128::from(x);
    let (h_, heads_, kv_, hd_) = (w(h), w(heads), w(kv_heads), w(head_dim));

    // Attention of one layer, and the elements it caches per token.
    let (attention, kv_per_layer, flops_head_dim, kv_latent_dim) = if arch == Arch::DeepseekV3 {
        let nope = w(keys.count("qk_nope_head_dim")?);
        let rope = w(keys.count("qk_rope_head_dim")?);
        let (v, rank) = (w(keys.count("v_head_dim")?), w(keys.count("kv_lora_rank")?));
        let b = w(bias.into());
        let q = match keys.int("q_lora_rank")?.map(w) {
            // q_a_proj (+ bias), q_a_layernorm, q_b_proj.
            Some(r) if r > 0 => h_ * r + r * (b + 1) + r * heads_ * (nope + rope),
            _ => h_ * heads_ * (nope + rope),
        };
        let kv = (h_ + b) * (rank + rope) // kv_a_proj_with_mqa
            + rank // kv_a_layernorm
            + rank * heads_ * (nope + v); // kv_b_proj
        let o = heads_ * v * h_ + b * h_;
        let Ok(latent) = u32::try_from(rank + rope) else {
            bail!("{source}: kv_lora_rank + qk_rope_head_dim does not fit in 32 bits")
        };
        let mean = u32::try_from((nope + rope + v) / 2).unwrap_or(u32::MAX);
        (q + kv + o, w(latent), mean, Some(latent))
    } else {
        let (q_out, kv_out) = (heads_ * hd_, kv_ * hd_);
        let mut p = 2 * h_ * q_out + 2 * h_ * kv_out; // q, k, v, o
        p += match arch {
            Arch::Qwen2 => q_out + 2 * kv_out, // q/k/v biases, none on o_proj
            Arch::Llama | Arch::Qwen3 | Arch::Qwen3Moe | Arch::GptOss if bias => {
                q_out + 2 * kv_out + h_
            }
            _ => 0,
        };
        if matches!(arch, Arch::Qwen3 | Arch::Qwen3Moe) {
            p += 2 * hd_; // q_norm, k_norm
        }
        if arch == Arch::GptOss {
            p += heads_; // attention sinks
        }
        (p, 2 * kv_ * hd_, head_dim, None)
    };

    let mlp_bias = arch == Arch::Llama && keys.flag("mlp_bias")?;
    let dense_mlp = 3 * h_ * w(dense_width) + w(mlp_bias.into()) * (2 * w(dense_width) + h_);
    let experts = experts(keys, arch, layers, h, dense_width)?;
    let (mut total, mut skipped) = (0u128, 0u128);
    let mut expert_weights = 0u128; // the routed experts' weight matrices, for mxfp4
    for layer in 0..layers {
        total += attention + 2 * h_; // + input and post-attention norms
        match &experts {
            Some(x) if x.in_layer[layer as usize] => {
                let (m, per_expert) = (&x.moe, u128::from(x.moe.params_per_expert));
                total += x.router + x.shared + w(m.num_experts) * per_expert;
                skipped += w(m.num_experts - m.experts_per_token) * per_expert;
                expert_weights += w(m.num_experts) * 3 * h_ * w(m.expert_intermediate_size);
            }
            _ => total += dense_mlp,
        }
    }
    let tied = keys.flag("tie_word_embeddings")?;
    total += w(vocab) * h_ * (2 - u128::from(tied)) + h_; // embeddings, lm_head, final norm
    let fits = |n: u128| {
        u64::try_from(n).map_err(|_| Error::new(format!("{source}: the counts overflow 64 bits")))
    };
    Ok(HfModel {
        architecture,
        num_parameters: fits(total)?,
        num_active_parameters: fits(total - skipped)?,
        num_layers: layers,
        hidden_dim: h,
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim: flops_head_dim,
        max_seq_len,
        sliding_window: sliding_window(keys, arch, layers)?,
        moe: experts.map(|x| x.moe).filter(|m| m.num_moe_layers > 0),
        kv_latent_dim,
        kv_elements_per_token: fits(kv_per_layer * w(layers))?,
        bytes_per_param_hint: bytes_hint(keys, expert_weights as f64 / total as f64)?,
    })
}

/// The experts, and what the layer loop needs beyond [`HfMoe`].
struct Experts {
    moe: HfMoe,
    /// Router weights (and biases), and shared experts, of one MoE layer.
    router: u128,
    shared: u128,
    /// Per decoder layer: whether it has experts (else a dense MLP).
    in_layer: Vec<bool>,
}

fn experts(keys: &Keys, arch: Arch, layers: u32, h: u32, dense: u32) -> Result<Option<Experts>> {
    let moe_width = || keys.count("moe_intermediate_size");
    let (num, width, num_shared) = match arch {
        Arch::Mixtral | Arch::GptOss => (keys.count("num_local_experts")?, dense, 0),
        Arch::Qwen3Moe => (keys.count("num_experts")?, moe_width()?, 0),
        Arch::DeepseekV3 => {
            let shared = keys.required_int("n_shared_experts")?;
            (keys.count("n_routed_experts")?, moe_width()?, shared)
        }
        _ => return Ok(None),
    };
    let per_token = match keys.get("num_experts_per_tok") {
        Some(_) => keys.count("num_experts_per_tok")?,
        None => keys.count("experts_per_token")?, // gpt-oss spells it both ways
    };
    if per_token > num {
        bail!("{}: {per_token} experts per token, of {num}", keys.source);
    }
    let (h_, w, e) = (u128::from(h), u128::from(width), u128::from(num));
    let (mut router, mut per_expert) = (h_ * e, 3 * h_ * w);
    let in_layer = match arch {
        Arch::GptOss => {
            router += e; // router bias
            per_expert += 2 * w + h_; // gate_up_proj_bias, down_proj_bias
            vec![true; layers as usize]
        }
        // Layer i has experts when i >= first_k_dense_replace and i % moe_layer_freq == 0.
        Arch::DeepseekV3 => {
            router += e; // e_score_correction_bias
            let first = keys.required_int("first_k_dense_replace")?;
            let freq = keys.positive("moe_layer_freq", Some(1))?;
            (0..layers).map(|i| i >= first && i % freq == 0).collect()
        }
        // When i is not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0.
        Arch::Qwen3Moe => {
            let mut dense = Vec::new();
            for v in keys.list("mlp_only_layers")?.into_iter().flatten() {
                let wrong = || keys.wrong("mlp_only_layers", "a list of layer numbers", v);
                dense.push(v.as_u64().ok_or_else(wrong)?);
            }
            let step = keys.positive("decoder_sparse_step", Some(1))?;
            let sparse = |i: u32| !dense.contains(&u64::from(i)) && (i + 1) % step == 0;
            (0..layers).map(sparse).collect()
        }
        _ => vec![true; layers as usize],
    };
    let moe = HfMoe {
        num_experts: num,
        experts_per_token: per_token,
        num_shared_experts: num_shared,
        expert_intermediate_size: width,
        num_moe_layers: in_layer.iter().filter(|&&x| x).count() as u32,
        params_per_expert: u64::try_from(per_expert)
            .map_err(|_| Error::new(format!("{}: an expert is too large", keys.source)))?,
    };
    let shared = 3 * h_ * w * u128::from(num_shared);
    Ok(Some(Experts {
        moe,
        router,
        shared,
        in_layer,
    }))
}

fn sliding_window(keys: &Keys, arch: Arch, layers: u32) -> Result<Option<(u32, u32)>> {
    let sliding = |n: u32| match n {
        0 => Ok(None),
        n => Ok(Some((keys.count("sliding_window")?, n))),
    };
    if let Some(types) = keys.list("layer_types")? {
        let (source, listed) = (keys.source, types.len());
        if listed != layers as usize {
            bail!("{source}: `layer_types` lists {listed} layers, num_hidden_layers {layers}");
        }
        return sliding(types.iter().filter(|t| *t == "sliding_attention").count() as u32);
    }
    match arch {
        Arch::Mistral | Arch::Mixtral => Ok(keys.int("sliding_window")?.map(|w| (w, layers))),
        Arch::Qwen2 | Arch::Qwen3 | Arch::Qwen3Moe if keys.flag("use_sliding_window")? => {
            sliding(layers.saturating_sub(keys.required_int("max_window_layers")?))
        }
        // GptOssConfig's default layer_types: sliding on even layers, full on odd ones.
        Arch::GptOss => sliding(layers.div_ceil(2)),
        _ => Ok(None),
    }
}

/// Bytes per parameter of the checkpoint; `expert_share` is the routed experts' weight
/// matrices as a fraction of all parameters (what mxfp4 quantizes).
fn bytes_hint(keys: &Keys, expert_share: f64) -> Result<f64> {
    let (source, key) = (keys.source, ["torch_dtype", "dtype"]);
    let key = key
        .into_iter()
        .find(|k| keys.get(k).is_some())
        .unwrap_or(key[0]);
    let plain = match keys.text(key)? {
        None | Some("bfloat16" | "float16" | "bf16" | "fp16" | "half") => 2.0,
        Some("float32" | "fp32" | "float") => 4.0,
        Some(d) if d.starts_with("float8") => 1.0,
        Some(d) => bail!(
            "{source}: `{key}` {} is not bfloat16, float16, float32 or float8_*",
            shorten(d)
        ),
    };
    let Some(quant) = keys.get("quantization_config") else {
        return Ok(plain);
    };
    let Some(map) = quant.as_object() else {
        return Err(keys.wrong("quantization_config", "an object", quant));
    };
    let q = Keys { map, source };
    Ok(match q.text("quant_method")? {
        Some("fp8") => 1.0,
        // mxfp4: 4-bit values with one 8-bit scale per 32 (4.25 bits), on the experts only.
        Some("mxfp4") if expert_share > 0.0 => {
            expert_share * (4.25 / 8.0) + (1.0 - expert_share) * plain
        }
        _ if q.get("bits").is_some() => f64::from(q.count("bits")?) / 8.0,
        method => {
            let method = shorten(method.unwrap_or("(none)"));
            bail!("{source}: quant_method `{method}` is not fp8, mxfp4 (experts) or with `bits`")
        }
    })
}

#[cfg(test)]
mod tests;
