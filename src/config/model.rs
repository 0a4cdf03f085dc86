//! `[model]`: the transformer whose forward passes the engine prices.

use serde::{Deserialize, Serialize};

use super::check::{
    at_least_one, count_within, HEAD_DIM_MAX, HIDDEN_DIM_MAX, NUM_HEADS_MAX, NUM_LAYERS_MAX,
    NUM_PARAMETERS_MAX,
};
use crate::{bail, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    /// All weights (every expert of an MoE): what a step reads from memory.
    #[serde(deserialize_with = "super::de::count")]
    pub num_parameters: u64,
    /// Weights each token passes through (MoE: the active experts): what a token costs in
    /// FLOPs. Defaults to num_parameters (a dense model).
    #[serde(
        default,
        deserialize_with = "super::de::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub num_active_parameters: Option<u64>,
    pub num_layers: u32,
    pub hidden_dim: u32,
    pub num_heads: u32,
    /// Grouped-query attention: KV heads (default num_heads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_kv_heads: Option<u32>,
    /// Per-head dimension (default hidden_dim / num_heads). Many current models differ from the
    /// default (Qwen3-30B-A3B: hidden 2048, 32 heads, head_dim 128), and the KV size follows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<u32>,
    pub max_seq_len: u32,
    /// Tokens a sliding-window layer attends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<u32>,
    /// How many of num_layers use the sliding window (the rest attend to the whole context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_sliding_layers: Option<u32>,

    // Mixture of experts: a step reads the dense weights plus the experts its tokens touch.
    /// Routed experts per MoE layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_experts: Option<u32>,
    /// Routed experts each token passes through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experts_per_token: Option<u32>,
    /// Experts every token passes through (DeepSeek's shared experts): dense weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_shared_experts: Option<u32>,
    /// The MLP width of one expert: it holds 3 x hidden_dim x this many parameters (gate, up
    /// and down projections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_intermediate_size: Option<u32>,
    /// Layers with experts (default num_layers; DeepSeek-V3's first 3 are dense).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_moe_layers: Option<u32>,
    /// Multi-head latent attention (DeepSeek): elements cached per token per layer (the
    /// compressed KV plus the rotary key), in place of 2 x num_kv_heads x head_dim. The latent
    /// is shared by all heads, so tensor parallelism replicates it rather than splitting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_latent_dim: Option<u32>,
    /// The HuggingFace config.json the numbers above came from (a file, or a name from
    /// `models/`): expanded into these keys when the config is read, kept for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_config: Option<String>,
}

/// The routed experts of an MoE model, as the step-time model uses them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Experts {
    pub num_experts: u32,
    pub per_token: u32,
    pub layers: u32,
    /// Parameters of one routed expert in one layer.
    pub params_per_expert: f64,
}

impl Experts {
    /// Parameters of every routed expert of every layer.
    pub fn total_params(&self) -> f64 {
        f64::from(self.layers) * f64::from(self.num_experts) * self.params_per_expert
    }

    /// Expected distinct experts per MoE layer that `tokens` tokens touch when each picks
    /// `per_token` of `num_experts` uniformly: E (1 - (1 - k / E)^T). One token touches k;
    /// a long prefill touches nearly all E.
    pub fn expected_touched(&self, tokens: f64) -> f64 {
        let e = f64::from(self.num_experts);
        let miss = 1.0 - f64::from(self.per_token) / e;
        e * (1.0 - miss.powf(tokens))
    }
}

impl ModelConfig {
    /// Sizes must be at least 1 and at most the bounds of [`super::check`] (far beyond any
    /// published model), so that a step's FLOPs and bytes stay finite.
    pub(super) fn validate(&self) -> Result<()> {
        count_within(
            "model.num_parameters",
            self.num_parameters,
            NUM_PARAMETERS_MAX,
        )?;
        count_within(
            "model.num_layers",
            self.num_layers.into(),
            NUM_LAYERS_MAX.into(),
        )?;
        count_within(
            "model.hidden_dim",
            self.hidden_dim.into(),
            HIDDEN_DIM_MAX.into(),
        )?;
        count_within(
            "model.num_heads",
            self.num_heads.into(),
            NUM_HEADS_MAX.into(),
        )?;
        at_least_one("model.max_seq_len", self.max_seq_len.into())?;
        if self.max_seq_len < 2 {
            bail!("model.max_seq_len = 1 is invalid: a request needs at least one prompt and one output token");
        }
        if let Some(active) = self.num_active_parameters {
            count_within("model.num_active_parameters", active, NUM_PARAMETERS_MAX)?;
            if active > self.num_parameters {
                bail!(
                    "model.num_active_parameters = {active} is larger than model.num_parameters = {}",
                    self.num_parameters
                );
            }
        }
        if let Some(kv) = self.num_kv_heads {
            at_least_one("model.num_kv_heads", kv.into())?;
            if kv > self.num_heads {
                bail!(
                    "model.num_kv_heads = {kv} is larger than model.num_heads = {}",
                    self.num_heads
                );
            }
        }
        match self.head_dim {
            Some(d) => count_within("model.head_dim", d.into(), HEAD_DIM_MAX.into())?,
            None if self.hidden_dim % self.num_heads != 0 => bail!(
                "model.hidden_dim = {} is not divisible by model.num_heads = {}: set model.head_dim",
                self.hidden_dim,
                self.num_heads
            ),
            None => {}
        }
        match (self.sliding_window, self.num_sliding_layers) {
            (None, None) => {}
            (Some(w), Some(n)) => {
                at_least_one("model.sliding_window", w.into())?;
                if n > self.num_layers {
                    bail!(
                        "model.num_sliding_layers = {n} is larger than model.num_layers = {}",
                        self.num_layers
                    );
                }
            }
            (Some(_), None) => {
                bail!("model.sliding_window is set but model.num_sliding_layers is not: set both")
            }
            (None, Some(_)) => {
                bail!("model.num_sliding_layers is set but model.sliding_window is not: set both")
            }
        }
        self.validate_experts()?;
        if let Some(d) = self.kv_latent_dim {
            count_within("model.kv_latent_dim", d.into(), HEAD_DIM_MAX.into())?;
        }
        Ok(())
    }

    fn validate_experts(&self) -> Result<()> {
        let Some(e) = self.num_experts else {
            for (key, set) in [
                ("experts_per_token", self.experts_per_token.is_some()),
                ("num_shared_experts", self.num_shared_experts.is_some()),
                (
                    "expert_intermediate_size",
                    self.expert_intermediate_size.is_some(),
                ),
                ("num_moe_layers", self.num_moe_layers.is_some()),
            ] {
                if set {
                    bail!("model.{key} is set but model.num_experts is not: set num_experts for a mixture-of-experts model");
                }
            }
            return Ok(());
        };
        count_within("model.num_experts", e.into(), 65_536)?;
        let Some(k) = self.experts_per_token else {
            bail!("model.num_experts is set but model.experts_per_token is not: set both");
        };
        at_least_one("model.experts_per_token", k.into())?;
        if k > e {
            bail!("model.experts_per_token = {k} is larger than model.num_experts = {e}");
        }
        let Some(width) = self.expert_intermediate_size else {
            bail!("model.num_experts is set but model.expert_intermediate_size is not: set it (the MLP width of one expert)");
        };
        count_within(
            "model.expert_intermediate_size",
            width.into(),
            HIDDEN_DIM_MAX.into(),
        )?;
        if let Some(n) = self.num_moe_layers {
            at_least_one("model.num_moe_layers", n.into())?;
            if n > self.num_layers {
                bail!(
                    "model.num_moe_layers = {n} is larger than model.num_layers = {}",
                    self.num_layers
                );
            }
        }
        let routed = self.experts().map_or(0.0, |x| x.total_params());
        if routed > self.num_parameters as f64 {
            bail!(
                "model: the routed experts hold {routed:.4e} parameters (num_moe_layers x \
                 num_experts x 3 x hidden_dim x expert_intermediate_size), more than \
                 model.num_parameters = {}",
                self.num_parameters
            );
        }
        if let Some(active) = self.num_active_parameters {
            let floor = self.num_parameters as f64 - routed;
            if (active as f64) < floor {
                bail!(
                    "model.num_active_parameters = {active} is below the dense weights \
                     ({floor:.4e} = num_parameters minus every routed expert)"
                );
            }
        }
        Ok(())
    }

    /// The routed experts, for an MoE model.
    pub fn experts(&self) -> Option<Experts> {
        Some(Experts {
            num_experts: self.num_experts?,
            per_token: self.experts_per_token?,
            layers: self.num_moe_layers.unwrap_or(self.num_layers),
            params_per_expert: 3.0
                * f64::from(self.hidden_dim)
                * f64::from(self.expert_intermediate_size?),
        })
    }

    /// Weights each token passes through: num_active_parameters, or for an MoE model without
    /// it, every weight but the routed experts a token skips; else num_parameters.
    pub fn active_parameters(&self) -> u64 {
        if let Some(active) = self.num_active_parameters {
            return active;
        }
        match self.experts() {
            Some(x) => {
                let skipped = f64::from(x.layers)
                    * f64::from(x.num_experts - x.per_token)
                    * x.params_per_expert;
                (self.num_parameters as f64 - skipped).round() as u64
            }
            None => self.num_parameters,
        }
    }

    pub fn kv_heads(&self) -> u32 {
        self.num_kv_heads.unwrap_or(self.num_heads)
    }

    pub fn head_dim(&self) -> u32 {
        self.head_dim.unwrap_or(self.hidden_dim / self.num_heads)
    }

    /// Width of the attention projections: num_heads x head_dim (= hidden_dim unless head_dim
    /// is set to something else). Attention FLOPs scale with it.
    pub fn attention_dim(&self) -> f64 {
        f64::from(self.num_heads) * f64::from(self.head_dim())
    }

    /// Layers that attend to the whole context, and (window, layers) for sliding-window ones.
    pub fn attention_layers(&self) -> (u32, Option<(u32, u32)>) {
        match (self.sliding_window, self.num_sliding_layers) {
            (Some(w), Some(n)) if n > 0 => (self.num_layers - n, Some((w, n))),
            _ => (self.num_layers, None),
        }
    }

    /// KV-cache bytes one token occupies across all layers: K and V, each num_kv_heads x
    /// head_dim elements of `bytes_per_element` per layer (or the latent, with MLA).
    pub fn kv_bytes_per_token(&self, bytes_per_element: f64) -> f64 {
        if let Some(latent) = self.kv_latent_dim {
            return f64::from(latent) * bytes_per_element * f64::from(self.num_layers);
        }
        2.0 * f64::from(self.kv_heads())
            * f64::from(self.head_dim())
            * bytes_per_element
            * f64::from(self.num_layers)
    }
}
