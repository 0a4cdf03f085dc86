//! The console report and the `-o` JSON document.

use anyhow::Result;
use console::style;
use inference_lab::metrics::DistStats;
use inference_lab::workload::dataset::Dataset;
use inference_lab::{Config, RunSummary, VERSION};
use serde_json::Value;

/// The `-o` JSON: every metric at its documented path, plus the resolved config and version.
pub fn json_document(config: &Config, summary: &RunSummary) -> Result<Value> {
    let mut doc = summary.to_json();
    let obj = doc.as_object_mut().expect("metrics are an object");
    obj.insert("config".into(), serde_json::to_value(config)?);
    obj.insert("version".into(), Value::from(VERSION));
    Ok(doc)
}

fn heading(title: &str) {
    println!("\n{}", style(title).bold().underlined());
}

fn row(label: &str, value: String) {
    println!("  {label:<22}{value:>16}");
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.2}"))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn latency_row(label: &str, d: &DistStats) {
    println!(
        "  {label:<8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        ms(d.mean),
        ms(d.p50),
        ms(d.p90),
        ms(d.p95),
        ms(d.p99),
        ms(d.min),
        ms(d.max)
    );
}

/// The final report, as aligned tables on stdout.
pub fn print_summary(config: &Config, s: &RunSummary) {
    let w = &config.workload;
    println!(
        "{} on {}: {} policy, {} arrivals, seed {}",
        style(&config.model.name).bold(),
        style(&config.hardware.name).bold(),
        config.scheduler.policy.name(),
        w.arrival_pattern.name(),
        w.seed
    );

    heading("Latency (ms)");
    println!(
        "  {:<8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "", "mean", "p50", "p90", "p95", "p99", "min", "max"
    );
    latency_row("TTFT", &s.ttft_ms);
    latency_row("E2E", &s.e2e_ms);
    latency_row("TPOT", &s.tpot_ms);
    latency_row("ITL", &s.itl_ms);

    heading("Throughput");
    row("input tokens/s", format!("{:.1}", s.input_tokens_per_s));
    row("output tokens/s", format!("{:.1}", s.output_tokens_per_s));
    row("requests/s", format!("{:.3}", s.requests_per_s));

    heading("Utilisation (time-weighted)");
    row("KV cache", pct(s.kv_cache_util_mean));
    row("FLOPS", pct(s.flops_util_mean));
    row("bandwidth", pct(s.bandwidth_util_mean));
    row("busy", pct(s.busy_fraction));

    heading("Preemptions");
    row("total", s.preemptions_total.to_string());
    row("per request", format!("{:.3}", s.preemptions_per_request));

    heading("Prefix cache (tokens)");
    row("hits", s.prefix_cache_hits.to_string());
    row("misses", s.prefix_cache_misses.to_string());
    row("hit rate", pct(s.prefix_cache_hit_rate));

    heading("Summary");
    row(
        "requests completed",
        format!("{} / {}", s.requests_completed, s.requests_total),
    );
    row("input tokens", s.input_tokens.to_string());
    row("output tokens", s.output_tokens.to_string());
    row("simulated time", format!("{:.3} s", s.simulated_seconds));
    row("engine steps", s.steps.to_string());
}

/// What the config implies, for checking numbers by hand (stderr, with -v).
pub fn print_derived(config: &Config) -> Result<()> {
    let kv_bytes = config.hardware.kv_cache_bytes(&config.model)?;
    let per_token = config.kv_bytes_per_token();
    let blocks = config.kv_cache_blocks()?;
    let m = &config.model;
    eprintln!("derived from the config:");
    eprintln!(
        "  weights            {:.3} GB ({} params x {} B)",
        m.num_parameters as f64 * config.hardware.bytes_per_param / 1e9,
        m.num_parameters,
        config.hardware.bytes_per_param
    );
    eprintln!("  KV cache           {:.3} GB", kv_bytes / 1e9);
    eprintln!(
        "  KV bytes/token     {per_token} (2 x {} kv heads x {} head_dim x {} B x {} layers)",
        m.kv_heads(),
        m.head_dim(),
        config.hardware.bytes_per_param,
        m.num_layers
    );
    eprintln!(
        "  KV blocks          {blocks} x {} tokens = {} tokens",
        config.scheduler.block_size,
        blocks * u64::from(config.scheduler.block_size)
    );
    eprintln!("  active params      {}", m.active_parameters());
    let hw = &config.hardware;
    eprintln!(
        "  step time          {}",
        if hw.is_calibrated() {
            format!(
                "calibrated: compute x{}, attention x{}, weights x{}, KV x{} of peak; overlap {}, \
                 softness {}, causal {}; overheads {} s/step + {} s/layer + {} s/sequence",
                hw.compute_efficiency,
                hw.attention_efficiency,
                hw.memory_efficiency,
                hw.kv_memory_efficiency,
                hw.attention_overlap,
                hw.roofline_softness,
                hw.causal_attention,
                hw.step_overhead,
                hw.layer_overhead,
                hw.sequence_overhead
            )
        } else {
            "roofline (no calibration parameters set)".to_string()
        }
    );
    eprintln!(
        "  prefill chunk cap  {}",
        config
            .scheduler
            .prefill_chunk_cap(m.max_seq_len)
            .filter(|_| config.scheduler.enable_chunked_prefill)
            .map_or("none".to_string(), |c| c.to_string())
    );
    Ok(())
}

/// Says up front what a dataset run will do differently from what was asked (stderr).
pub fn warn_dataset(config: &Config, dataset: &Dataset) {
    let warn = style("warning:").for_stderr().yellow().bold();
    let lines = dataset.prompts.len() as u64;
    if let Some(n) = config.workload.num_requests.filter(|&n| n > lines) {
        eprintln!(
            "{warn} workload.num_requests = {n} but {} has {lines} requests: replaying it from \
             the first line again ({:.1} times through)",
            dataset.path.display(),
            n as f64 / lines as f64
        );
    }
    if dataset.clipped > 0 {
        eprintln!(
            "{warn} {} of {lines} prompts were longer than model.max_seq_len - 1 = {} tokens and \
             were clipped to their first {} tokens",
            dataset.clipped,
            config.model.max_seq_len - 1,
            config.model.max_seq_len - 1
        );
    }
}

/// The `dataset` section of the JSON: what was replayed.
pub fn dataset_json(config: &Config, dataset: &Dataset) -> Value {
    let lines = dataset.prompts.len() as u64;
    let requests = config.workload.num_requests.unwrap_or(lines);
    serde_json::json!({
        "path": dataset.path.display().to_string(),
        "prompts_loaded": lines,
        "clipped_prompts": dataset.clipped,
        "prompt_tokens_total": dataset.prompts.iter().map(|p| u64::from(p.prompt_len)).sum::<u64>(),
        "cycled": requests > lines,
    })
}
