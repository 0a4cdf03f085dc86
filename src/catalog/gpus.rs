//! GPU presets (`hardware.preset = "h100-sxm"`): one GPU's datasheet numbers per entry, from
//! the embedded `gpus.toml`, whose header states the conventions (GiB capacities, dense
//! FLOP/s, one-direction interconnect bandwidth) and whose comments cite each number.

use std::sync::OnceLock;

use crate::{bail, shorten, Result};

/// One GPU's datasheet numbers, in plain SI units.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuPreset {
    /// The table's key in `gpus.toml` (lowercase slug).
    #[serde(skip)]
    pub key: String,
    pub name: String,
    /// Bytes.
    pub memory_capacity: f64,
    /// Bytes/s.
    pub memory_bandwidth: f64,
    /// Dense BF16 tensor-core peak, FLOP/s.
    pub flops_bf16: f64,
    /// Dense FP8 peak, FLOP/s; `None` where the GPU has no FP8 tensor cores.
    #[serde(default)]
    pub flops_fp8: Option<f64>,
    /// Dense FP4 peak, FLOP/s; `None` where the GPU has no FP4 tensor cores.
    #[serde(default)]
    pub flops_fp4: Option<f64>,
    /// Per GPU, one direction, bytes/s.
    pub interconnect_bandwidth: f64,
    /// Seconds per collective step.
    pub interconnect_latency: f64,
    pub sources: Vec<String>,
    /// Calibration parameters of the step-time model measured on this GPU, if any, kept as a raw table (merged into [hardware] by the config loader).
    #[serde(default)]
    pub calibration: Option<toml::Table>,
    /// Where the calibration comes from.
    #[serde(default)]
    pub calibration_source: Option<String>,
    /// The calibration for mixture-of-experts models, where their steps were measured (their
    /// grouped expert matmuls reach a different fraction of the peak than dense ones).
    #[serde(default)]
    pub calibration_moe: Option<toml::Table>,
    #[serde(default)]
    pub calibration_moe_source: Option<String>,
}

impl GpuPreset {
    /// Dense peak FLOP/s for weights of `bytes_per_param` bytes: 2 (or more) -> bf16, 1 -> fp8 (falls back to bf16 where there is no fp8), 0.5 or less -> fp4 (falls back to fp8, then bf16).
    ///
    /// In between, the narrowest format that still holds the weights is used (1.5 -> bf16,
    /// 0.75 -> fp8).
    pub fn flops_for(&self, bytes_per_param: f64) -> f64 {
        let fp8 = self.flops_fp8.unwrap_or(self.flops_bf16);
        if bytes_per_param <= 0.5 {
            self.flops_fp4.unwrap_or(fp8)
        } else if bytes_per_param <= 1.0 {
            fp8
        } else {
            self.flops_bf16
        }
    }
}

/// Every preset, in file order (use toml's preserve_order feature, already enabled, so iteration follows the file).
pub fn all() -> &'static [GpuPreset] {
    static PRESETS: OnceLock<Vec<GpuPreset>> = OnceLock::new();
    PRESETS.get_or_init(|| parse(include_str!("gpus.toml")))
}

/// One preset by key (case-insensitive); unknown -> an error naming every known key.
pub fn find(key: &str) -> Result<&'static GpuPreset> {
    let presets = all();
    if let Some(preset) = presets.iter().find(|p| p.key.eq_ignore_ascii_case(key)) {
        return Ok(preset);
    }
    let known: Vec<&str> = presets.iter().map(|p| p.key.as_str()).collect();
    bail!(
        "unknown hardware.preset \"{}\": known presets are {}",
        shorten(key),
        known.join(", ")
    )
}

/// Parses the embedded catalog. It ships inside the binary and the tests below parse it, so a
/// malformed entry is a build defect, not a user error: it panics with the entry's key.
fn parse(text: &str) -> Vec<GpuPreset> {
    let table: toml::Table = text.parse().expect("gpus.toml is valid TOML");
    table
        .into_iter()
        .map(|(key, value)| {
            let mut preset: GpuPreset = value
                .try_into()
                .unwrap_or_else(|e| panic!("gpus.toml: [{key}]: {e}"));
            preset.key = key;
            preset
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: [&str; 12] = [
        "h100-sxm",
        "h100-pcie",
        "h200",
        "b200",
        "gb200",
        "a100-40gb",
        "a100-80gb",
        "l40s",
        "l4",
        "mi300x",
        "mi325x",
        "mi355x",
    ];
    const GIB: f64 = (1u64 << 30) as f64;

    fn in_range(what: &str, key: &str, value: f64, low: f64, high: f64) {
        assert!(
            value.is_finite() && value >= low && value <= high,
            "[{key}] {what} = {value:e} is outside [{low:e}, {high:e}]"
        );
    }

    #[test]
    fn every_required_gpu_is_present_in_file_order() {
        let keys: Vec<&str> = all().iter().map(|p| p.key.as_str()).collect();
        for key in REQUIRED {
            assert!(keys.contains(&key), "missing preset {key}");
        }
        assert_eq!(keys[0], "h100-sxm", "file order is kept");
        assert_eq!(&keys[..REQUIRED.len()], &REQUIRED, "file order is kept");
        for key in &keys {
            assert_eq!(*key, key.to_ascii_lowercase(), "keys are lowercase slugs");
        }
    }

    #[test]
    fn every_preset_has_plausible_numbers_and_a_source() {
        for p in all() {
            let k = p.key.as_str();
            assert!(!p.name.trim().is_empty(), "[{k}] has a name");
            in_range(
                "memory_capacity",
                k,
                p.memory_capacity,
                8.0 * GIB,
                400.0 * GIB,
            );
            in_range("memory_bandwidth", k, p.memory_bandwidth, 0.2e12, 10e12);
            in_range("flops_bf16", k, p.flops_bf16, 0.05e15, 3e15);
            if let Some(fp8) = p.flops_fp8 {
                in_range("flops_fp8", k, fp8, p.flops_bf16 * 1.01, 10e15);
            }
            if let Some(fp4) = p.flops_fp4 {
                let fp8 = p.flops_fp8.expect("a GPU with fp4 also lists fp8");
                in_range("flops_fp4", k, fp4, fp8 * 1.01, 30e15);
            }
            in_range(
                "interconnect_bandwidth",
                k,
                p.interconnect_bandwidth,
                1e9,
                2e12,
            );
            in_range(
                "interconnect_latency",
                k,
                p.interconnect_latency,
                1e-7,
                1e-4,
            );
            assert!(
                p.sources.iter().any(|s| s.starts_with("https://")),
                "[{k}] cites at least one https source"
            );
            assert!(p.calibration.is_none() || p.calibration_source.is_some());
            assert!(p.calibration_moe.is_none() || p.calibration_moe_source.is_some());
        }
    }

    #[test]
    fn find_ignores_case_and_lists_every_key_when_unknown() {
        assert_eq!(find("H100-SXM").unwrap().key, "h100-sxm");
        assert_eq!(find("Mi300X").unwrap().key, "mi300x");
        let message = find("h800").unwrap_err().message().to_string();
        assert!(
            message.starts_with(
                "unknown hardware.preset \"h800\": known presets are h100-sxm, h100-pcie, "
            ),
            "{message}"
        );
        assert!(!message.contains('\n'));
        for p in all() {
            assert!(
                message.contains(p.key.as_str()),
                "{message} lists {}",
                p.key
            );
        }
        let long = find(&"x".repeat(10_000)).unwrap_err();
        assert!(
            long.message().contains("(10000 characters)"),
            "a long key is shortened"
        );
    }

    #[test]
    fn flops_for_picks_the_weight_dtype_and_falls_back() {
        let h100 = find("h100-sxm").unwrap();
        assert_eq!(h100.flops_for(2.0), 989.5e12);
        assert_eq!(h100.flops_for(4.0), 989.5e12);
        assert_eq!(h100.flops_for(1.0), 1979e12);
        assert_eq!(h100.flops_for(0.5), 1979e12, "no fp4 on Hopper: fp8");
        let a100 = find("a100-80gb").unwrap();
        assert_eq!(a100.flops_fp8, None);
        assert_eq!(a100.flops_for(1.0), 312e12, "no fp8 on Ampere: bf16");
        assert_eq!(a100.flops_for(0.5), 312e12, "no fp4 or fp8: bf16");
        let b200 = find("b200").unwrap();
        assert_eq!(b200.flops_for(0.5), 9e15);
        assert_eq!(b200.flops_for(0.25), 9e15);
        assert_eq!(b200.flops_for(1.0), 4.5e15);
        assert_eq!(b200.flops_for(2.0), 2.25e15);
    }

    #[test]
    fn documented_values_are_exact() {
        let h100 = find("h100-sxm").unwrap();
        assert_eq!(h100.flops_bf16, 989.5e12);
        assert_eq!(h100.memory_bandwidth, 3.35e12);
        assert_eq!(h100.memory_capacity, 80.0 * GIB);
        assert_eq!(h100.interconnect_bandwidth, 450e9);
        let a100 = find("a100-80gb").unwrap();
        assert_eq!(a100.flops_bf16, 312e12);
        assert_eq!(a100.memory_bandwidth, 2.039e12);
        let mi300x = find("mi300x").unwrap();
        assert_eq!(mi300x.flops_bf16, 1307.4e12);
        assert_eq!(mi300x.memory_bandwidth, 5.3e12);
        assert_eq!(mi300x.memory_capacity, 192.0 * GIB);
        assert_eq!(find("h200").unwrap().memory_capacity, 141.0 * GIB);
    }
}
