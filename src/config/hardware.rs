//! `[hardware]`: the accelerator (or tensor-parallel group) one engine runs on.

use serde::{Deserialize, Serialize};

use super::check::{
    fraction, unit_interval, within, BYTES_PER_PARAM, COMPUTE_FLOPS, EFFICIENCY, MEMORY_BANDWIDTH,
    MEMORY_BYTES, OVERHEAD_SECONDS,
};
use super::model::ModelConfig;
use crate::{bail, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareConfig {
    pub name: String,
    /// The GPU catalog entry (src/catalog/gpus.toml) the datasheet numbers came from: expanded
    /// into these keys when the config is read, kept for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Peak dense compute, FLOP/s.
    pub compute_flops: f64,
    /// Peak memory bandwidth, bytes/s.
    pub memory_bandwidth: f64,
    /// Total accelerator memory, bytes.
    pub memory_capacity: f64,
    /// Bytes per weight: 1 for FP8, 2 for BF16 (and per KV-cache element without
    /// `kv_cache_dtype`).
    pub bytes_per_param: f64,
    /// The KV cache's element type, as vLLM's --kv-cache-dtype. Unset: `bytes_per_param`, what
    /// configs meant before the key existed (so they give the same numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_dtype: Option<KvCacheDtype>,
    /// Bytes given to the KV cache. Unset: memory_capacity x gpu_memory_utilization minus the
    /// weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_capacity: Option<f64>,
    /// Fraction of memory_capacity the engine may use (vLLM's --gpu-memory-utilization).
    #[serde(default = "default_gpu_memory_utilization")]
    pub gpu_memory_utilization: f64,
    /// Bytes/s one GPU sends to its peers (one direction: NVLink 4 is 900 GB/s both ways, so
    /// 450e9), for tensor- and expert-parallel collectives (`[parallel]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interconnect_bandwidth: Option<f64>,
    /// Seconds each step of a collective costs however little it moves (a ring all-reduce over
    /// t GPUs takes 2 (t - 1) steps; NCCL's cost model prices them the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interconnect_latency: Option<f64>,
    /// Which model prices a step: `calibrated` (the default) uses the calibration parameters
    /// below, the config's or the preset's; `roofline` ignores them all and gives the plain
    /// upper bound (the CLI's --roofline).
    #[serde(default, skip_serializing_if = "StepModel::is_default")]
    pub step_model: StepModel,
    /// Where the calibration parameters came from (a preset fills it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_source: Option<String>,

    // The calibrated step-time model (src/engine/compute.rs). Every default reproduces the plain
    // roofline bit for bit; `inference-lab calibrate fit` fits them to measured step times.
    /// Fraction of compute_flops the weight matmuls reach, in [0.01, 1].
    #[serde(default = "one")]
    pub compute_efficiency: f64,
    /// Fraction of compute_flops attention reaches, in [0.01, 1].
    #[serde(default = "one")]
    pub attention_efficiency: f64,
    /// Fraction of memory_bandwidth reached reading the weights, in [0.01, 1].
    #[serde(default = "one")]
    pub memory_efficiency: f64,
    /// Fraction of memory_bandwidth reached reading the KV cache, in [0.01, 1].
    #[serde(default = "one")]
    pub kv_memory_efficiency: f64,
    /// How much of attention (its FLOPs and KV bytes) shares the one compute/memory roofline
    /// with the weight matmuls, in [0, 1]: 1 = all of it (the plain roofline), 0 = attention
    /// runs as separate kernels whose time adds to the matmuls'.
    #[serde(default = "one")]
    pub attention_overlap: f64,
    /// How compute time c and memory time m combine, in [0, 1]: 0 = max(c, m) (perfect overlap),
    /// s > 0 = (c^(1/s) + m^(1/s))^s, 1 = c + m (no overlap).
    #[serde(default)]
    pub roofline_softness: f64,
    /// Count attention work under a causal mask (new token k of s attends c + k keys) instead
    /// of every new token attending all c + s keys.
    #[serde(default)]
    pub causal_attention: bool,
    /// Seconds added to every step.
    #[serde(default)]
    pub step_overhead: f64,
    /// Seconds added to every step per model layer.
    #[serde(default)]
    pub layer_overhead: f64,
    /// Seconds added to every step per scheduled sequence.
    #[serde(default)]
    pub sequence_overhead: f64,
}

/// What the KV cache stores its keys and values as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvCacheDtype {
    /// vLLM's default: the model's activation dtype, which is 16-bit for 16-bit and for
    /// quantized (FP8, INT4) checkpoints alike: an FP8-weight model keeps a BF16 cache.
    /// Wider weights (FP32) compute, and cache, at their own width.
    Auto,
    #[serde(alias = "bfloat16")]
    Bf16,
    #[serde(alias = "float16", alias = "half")]
    Fp16,
    /// 8-bit floats (vLLM's fp8, fp8_e4m3 and fp8_e5m2 are all one byte).
    #[serde(alias = "fp8_e4m3", alias = "fp8_e5m2")]
    Fp8,
}

/// Which step-time model prices a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepModel {
    #[default]
    Calibrated,
    Roofline,
}

impl StepModel {
    fn is_default(&self) -> bool {
        *self == StepModel::Calibrated
    }
}

/// The `[hardware]` keys of the calibrated step-time model: a preset's calibration applies
/// only when the config sets none of them (fitted parameters are a set, not a menu).
pub const CALIBRATION_KEYS: [&str; 10] = [
    "compute_efficiency",
    "attention_efficiency",
    "memory_efficiency",
    "kv_memory_efficiency",
    "attention_overlap",
    "roofline_softness",
    "causal_attention",
    "step_overhead",
    "layer_overhead",
    "sequence_overhead",
];

fn one() -> f64 {
    1.0
}

fn default_gpu_memory_utilization() -> f64 {
    0.9
}

impl HardwareConfig {
    /// Bytes per KV-cache element (see [`KvCacheDtype`]).
    pub fn kv_bytes_per_element(&self) -> f64 {
        match self.kv_cache_dtype {
            None => self.bytes_per_param,
            Some(KvCacheDtype::Auto) => self.bytes_per_param.max(2.0),
            Some(KvCacheDtype::Bf16 | KvCacheDtype::Fp16) => 2.0,
            Some(KvCacheDtype::Fp8) => 1.0,
        }
    }

    /// Every number must describe real hardware (the ranges of [`super::check`]): outside them
    /// a step's time can overflow to infinity and the run's metrics to NaN.
    pub(super) fn validate(&self) -> Result<()> {
        within(
            "hardware.compute_flops",
            self.compute_flops,
            COMPUTE_FLOPS,
            "FLOP/s",
        )?;
        within(
            "hardware.memory_bandwidth",
            self.memory_bandwidth,
            MEMORY_BANDWIDTH,
            "bytes/s",
        )?;
        within(
            "hardware.memory_capacity",
            self.memory_capacity,
            MEMORY_BYTES,
            "bytes",
        )?;
        within(
            "hardware.bytes_per_param",
            self.bytes_per_param,
            BYTES_PER_PARAM,
            "bytes",
        )?;
        fraction(
            "hardware.gpu_memory_utilization",
            self.gpu_memory_utilization,
        )?;
        if let Some(kv) = self.kv_cache_capacity {
            within(
                "hardware.kv_cache_capacity",
                kv,
                (1.0, MEMORY_BYTES.1),
                "bytes",
            )?;
        }
        for (field, value) in [
            ("hardware.compute_efficiency", self.compute_efficiency),
            ("hardware.attention_efficiency", self.attention_efficiency),
            ("hardware.memory_efficiency", self.memory_efficiency),
            ("hardware.kv_memory_efficiency", self.kv_memory_efficiency),
        ] {
            within(field, value, EFFICIENCY, "(a fraction of the peak)")?;
        }
        unit_interval("hardware.attention_overlap", self.attention_overlap)?;
        unit_interval("hardware.roofline_softness", self.roofline_softness)?;
        if let Some(bw) = self.interconnect_bandwidth {
            within(
                "hardware.interconnect_bandwidth",
                bw,
                MEMORY_BANDWIDTH,
                "bytes/s",
            )?;
        }
        if let Some(latency) = self.interconnect_latency {
            within(
                "hardware.interconnect_latency",
                latency,
                OVERHEAD_SECONDS,
                "seconds",
            )?;
        }
        for (field, value) in [
            ("hardware.step_overhead", self.step_overhead),
            ("hardware.layer_overhead", self.layer_overhead),
            ("hardware.sequence_overhead", self.sequence_overhead),
        ] {
            within(field, value, OVERHEAD_SECONDS, "seconds")?;
        }
        Ok(())
    }

    /// Which model prices a step, in words, for the report.
    pub fn describe_step_model(&self) -> String {
        if self.step_model == StepModel::Roofline {
            return "roofline, the upper bound (step_model = \"roofline\")".to_string();
        }
        if !self.is_calibrated() {
            return "roofline (no calibration parameters set)".to_string();
        }
        match &self.calibration_source {
            Some(source) => format!("calibrated ({source})"),
            None => "calibrated (the config's parameters)".to_string(),
        }
    }

    /// Whether any calibration parameter differs from its default (the plain roofline).
    pub fn is_calibrated(&self) -> bool {
        self.compute_efficiency != 1.0
            || self.attention_efficiency != 1.0
            || self.memory_efficiency != 1.0
            || self.kv_memory_efficiency != 1.0
            || self.attention_overlap != 1.0
            || self.roofline_softness != 0.0
            || self.causal_attention
            || self.step_overhead != 0.0
            || self.layer_overhead != 0.0
            || self.sequence_overhead != 0.0
    }

    /// Bytes available to the KV cache on one of `gpus` GPUs that share the weights (1 without
    /// `[parallel]`, where this describes the whole engine): the explicit kv_cache_capacity, or
    /// what is left of the usable memory once its share of the weights is loaded.
    pub fn kv_cache_bytes(&self, model: &ModelConfig, gpus: u32) -> Result<f64> {
        if let Some(kv) = self.kv_cache_capacity {
            return Ok(kv);
        }
        let usable = self.memory_capacity * self.gpu_memory_utilization;
        let weights = model.num_parameters as f64 * self.bytes_per_param / f64::from(gpus);
        if weights >= usable {
            let share = if gpus > 1 {
                format!(" / parallel.tensor_parallel_size = {gpus}")
            } else {
                String::new()
            };
            bail!(
                "the weights ({:.1} GB = model.num_parameters x hardware.bytes_per_param{share}) \
                 leave no room for a KV cache in {:.1} GB (hardware.memory_capacity x \
                 gpu_memory_utilization); set hardware.kv_cache_capacity or use more memory",
                weights / 1e9,
                usable / 1e9
            );
        }
        Ok(usable - weights)
    }
}
