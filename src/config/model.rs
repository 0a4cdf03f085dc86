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
        Ok(())
    }

    pub fn active_parameters(&self) -> u64 {
        self.num_active_parameters.unwrap_or(self.num_parameters)
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
    /// head_dim elements of `bytes_per_element` per layer.
    pub fn kv_bytes_per_token(&self, bytes_per_element: f64) -> f64 {
        2.0 * f64::from(self.kv_heads())
            * f64::from(self.head_dim())
            * bytes_per_element
            * f64::from(self.num_layers)
    }
}
