//! `inference-lab presets`: the GPU presets and the shipped models, as tables a person can
//! pick from (every number is the one a config naming the entry gets).

use std::io;
use std::process::ExitCode;

use anyhow::Result;
use inference_lab::catalog::{gpus, hf};

use super::args::PresetsArgs;
use super::report::table::{count, number, write_table, Layout, Table};
use super::stdout_error;

pub fn main(args: &PresetsArgs) -> Result<ExitCode> {
    let mut tables = Vec::new();
    if !args.models {
        tables.push(gpu_table());
    }
    if !args.gpus {
        tables.push(model_table()?);
    }
    let mut out = io::stdout().lock();
    for table in &tables {
        let layout = Layout::of(&[table], 0, 0);
        write_table(&mut out, table, &layout).map_err(stdout_error)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn tera(x: f64) -> String {
    number(x / 1e12, 1)
}

fn gpu_table() -> Table {
    let mut table = Table::new("GPU presets (hardware.preset): one GPU's dense peaks");
    table.header = Some(
        [
            "memory GiB",
            "HBM TB/s",
            "bf16 TFLOPS",
            "fp8 TFLOPS",
            "fp4 TFLOPS",
            "link GB/s",
            "calibrated",
            "name",
        ]
        .map(String::from)
        .to_vec(),
    );
    for p in gpus::all() {
        let opt = |x: Option<f64>| x.map_or("-".to_string(), tera);
        table.row(
            &p.key,
            vec![
                number(p.memory_capacity / (1u64 << 30) as f64, 0),
                number(p.memory_bandwidth / 1e12, 2),
                tera(p.flops_bf16),
                opt(p.flops_fp8),
                opt(p.flops_fp4),
                number(p.interconnect_bandwidth / 1e9, 0),
                if p.calibration.is_some() { "yes" } else { "no" }.to_string(),
                format!("  {}", p.name),
            ],
        );
    }
    table
}

fn model_table() -> Result<Table> {
    let mut table = Table::new("Models (model.hf_config), from models/*.json");
    table.header = Some(
        [
            "params",
            "active",
            "layers",
            "hidden",
            "heads/kv",
            "KV B/token",
            "context",
            "architecture",
        ]
        .map(String::from)
        .to_vec(),
    );
    for &(slug, text) in hf::catalog() {
        let m = hf::parse(text, &format!("models/{slug}.json"))?;
        let mut arch = m.architecture.clone();
        if let Some(moe) = &m.moe {
            arch += &format!(", {} of {} experts", moe.experts_per_token, moe.num_experts);
        }
        if let Some((window, layers)) = m.sliding_window {
            arch += &format!(", {layers} layers windowed at {window}");
        }
        if m.kv_latent_dim.is_some() {
            arch += ", MLA";
        }
        table.row(
            slug,
            vec![
                format!("{:.1}B", m.num_parameters as f64 / 1e9),
                format!("{:.1}B", m.num_active_parameters as f64 / 1e9),
                count(m.num_layers.into()),
                count(m.hidden_dim.into()),
                format!("{}/{}", m.num_heads, m.num_kv_heads),
                // 16-bit cache, the `auto` dtype of a 16-bit or quantized checkpoint.
                count(m.kv_elements_per_token * 2),
                count(m.max_seq_len.into()),
                format!("  {arch}"),
            ],
        );
    }
    Ok(table)
}
