//! `hardware.preset` and `model.hf_config`, expanded into a config's TOML tables before it is
//! parsed: every number they supply is a key the config could have written itself, and any
//! key the config does write wins (key by key), so the result reads and validates like any
//! other config and the report shows where each number came from.

use std::path::Path;

use toml::{Table, Value};

use super::{gpus, hf};
use crate::config::CALIBRATION_KEYS;
use crate::{Error, Result};

/// Expands the catalogs a config table names. `base_dir` resolves a relative hf_config path.
/// Errors are (dotted key, message).
pub fn expand(root: &mut Table, base_dir: &Path) -> std::result::Result<(), (String, String)> {
    expand_model(root, base_dir).map_err(|e| ("model.hf_config".into(), e.to_string()))?;
    expand_hardware(root).map_err(|e| ("hardware.preset".into(), e.to_string()))
}

/// Whether a config table names a catalog entry (so it must be expanded before parsing).
pub fn names_catalog(root: &Table) -> bool {
    let has = |section: &str, key: &str| {
        root.get(section)
            .and_then(Value::as_table)
            .is_some_and(|t| t.contains_key(key))
    };
    has("model", "hf_config") || has("hardware", "preset")
}

fn section<'a>(root: &'a mut Table, name: &str) -> Option<&'a mut Table> {
    root.get_mut(name).and_then(Value::as_table_mut)
}

/// Inserts `key = value` unless the table already has the key.
fn fill(table: &mut Table, key: &str, value: impl Into<Value>) {
    table.entry(key).or_insert_with(|| value.into());
}

fn count(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn expand_model(root: &mut Table, base_dir: &Path) -> Result<()> {
    let Some(model) = section(root, "model") else {
        return Ok(());
    };
    let Some(name) = model.get("hf_config") else {
        return Ok(());
    };
    let Some(name) = name.as_str().map(str::to_string) else {
        crate::bail!(
            "model.hf_config must be a string: a config.json path or a model from models/"
        );
    };
    let (text, source, short) = read_hf_config(&name, base_dir)?;
    let m = hf::parse(&text, &source)?;
    fill(model, "name", short);
    fill(model, "num_parameters", count(m.num_parameters));
    fill(model, "num_layers", count(m.num_layers.into()));
    fill(model, "hidden_dim", count(m.hidden_dim.into()));
    fill(model, "num_heads", count(m.num_heads.into()));
    fill(model, "num_kv_heads", count(m.num_kv_heads.into()));
    fill(model, "head_dim", count(m.head_dim.into()));
    fill(model, "max_seq_len", count(m.max_seq_len.into()));
    if let Some((window, layers)) = m.sliding_window {
        fill(model, "sliding_window", count(window.into()));
        fill(model, "num_sliding_layers", count(layers.into()));
    }
    if let Some(latent) = m.kv_latent_dim {
        fill(model, "kv_latent_dim", count(latent.into()));
    }
    if let Some(moe) = &m.moe {
        fill(
            model,
            "num_active_parameters",
            count(m.num_active_parameters),
        );
        fill(model, "num_experts", count(moe.num_experts.into()));
        fill(
            model,
            "experts_per_token",
            count(moe.experts_per_token.into()),
        );
        if moe.num_shared_experts > 0 {
            fill(
                model,
                "num_shared_experts",
                count(moe.num_shared_experts.into()),
            );
        }
        fill(
            model,
            "expert_intermediate_size",
            count(moe.expert_intermediate_size.into()),
        );
        fill(model, "num_moe_layers", count(moe.num_moe_layers.into()));
    }
    if let Some(hardware) = section(root, "hardware") {
        fill(hardware, "bytes_per_param", m.bytes_per_param_hint);
    }
    Ok(())
}

/// The config.json text a `model.hf_config` value names: a model shipped in `models/` (by
/// name), else a file (relative to the config's folder). Returns (text, source for errors,
/// model name).
fn read_hf_config(name: &str, base_dir: &Path) -> Result<(String, String, String)> {
    let looks_like_path = name.ends_with(".json") || name.contains('/') || name.contains('\\');
    if !looks_like_path {
        let text = hf::find(name)?;
        return Ok((
            text.to_string(),
            format!("models/{name}.json"),
            name.to_string(),
        ));
    }
    let path = base_dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::new(format!(
            "model.hf_config: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let stem = path
        .file_stem()
        .map_or_else(|| name.to_string(), |s| s.to_string_lossy().into_owned());
    Ok((text, path.display().to_string(), stem))
}

fn expand_hardware(root: &mut Table) -> Result<()> {
    // An MoE model takes the preset's MoE calibration (after hf_config has filled the model).
    let moe = root
        .get("model")
        .and_then(Value::as_table)
        .is_some_and(|m| m.contains_key("num_experts"));
    let Some(hardware) = section(root, "hardware") else {
        return Ok(());
    };
    let Some(name) = hardware.get("preset") else {
        return Ok(());
    };
    let Some(name) = name.as_str() else {
        crate::bail!(
            "hardware.preset must be a string, one of: {}",
            preset_keys()
        );
    };
    let preset = gpus::find(name)?;
    fill(hardware, "name", preset.name.clone());
    fill(hardware, "memory_capacity", preset.memory_capacity);
    fill(hardware, "memory_bandwidth", preset.memory_bandwidth);
    fill(
        hardware,
        "interconnect_bandwidth",
        preset.interconnect_bandwidth,
    );
    fill(
        hardware,
        "interconnect_latency",
        preset.interconnect_latency,
    );
    // The peak for the weights' dtype: without bytes_per_param the parse names that key.
    if let Some(bytes) = hardware.get("bytes_per_param").and_then(as_f64) {
        fill(hardware, "compute_flops", preset.flops_for(bytes));
    }
    let roofline = hardware.get("step_model").and_then(Value::as_str) == Some("roofline");
    let own_calibration = CALIBRATION_KEYS.iter().any(|k| hardware.contains_key(*k));
    let (calibration, source) = if moe {
        (&preset.calibration_moe, &preset.calibration_moe_source)
    } else {
        (&preset.calibration, &preset.calibration_source)
    };
    if let (Some(calibration), false, false) = (calibration, roofline, own_calibration) {
        for (key, value) in calibration {
            fill(hardware, key, value.clone());
        }
        if let Some(source) = source {
            fill(hardware, "calibration_source", source.clone());
        }
    }
    Ok(())
}

fn as_f64(v: &Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

fn preset_keys() -> String {
    gpus::all()
        .iter()
        .map(|p| p.key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
