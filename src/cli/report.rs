//! The console report and the `-o` JSON document.

use anyhow::Result;
use console::style;
use inference_lab::metrics::{DistStats, LoadVerdict};
use inference_lab::workload::dataset::Dataset;
use inference_lab::{Config, RunSummary, VERSION};
use serde_json::Value;

/// The `-o` JSON: every metric under its column name in `metrics` and at its seed-era path,
/// plus the resolved config and version.
pub fn json_document(config: &Config, summary: &RunSummary) -> Result<Value> {
    let mut doc = summary.to_json();
    let obj = doc.as_object_mut().expect("metrics are an object");
    obj.insert("config".into(), serde_json::to_value(config)?);
    obj.insert(
        "step_model".into(),
        Value::from(config.hardware.describe_step_model()),
    );
    obj.insert("version".into(), Value::from(VERSION));
    Ok(doc)
}

pub(super) mod table;
mod traffic;

use std::io::{self, Write};

use table::{count, number, write_table, Layout, Table};

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| number(x, 2))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn latency_cells(d: &DistStats) -> Vec<String> {
    [d.mean, d.p50, d.p90, d.p95, d.p99, d.min, d.max]
        .into_iter()
        .map(ms)
        .collect()
}

/// The final report as aligned tables. Every column is as wide as its widest value, so
/// nothing overflows; the one-value tables share one layout so their numbers line up too.
pub fn print_summary(out: &mut impl Write, config: &Config, s: &RunSummary) -> io::Result<()> {
    let w = &config.workload;
    writeln!(
        out,
        "{} on {}: {} policy, {} arrivals, seed {}",
        style(&config.model.name).bold(),
        style(&config.hardware.name).bold(),
        config.scheduler.policy.name(),
        w.arrival_pattern.name(),
        w.seed
    )?;
    writeln!(
        out,
        "{}; step times: {}",
        config.describe_gpus(),
        config.hardware.describe_step_model()
    )?;
    if let Some(cluster) = &config.cluster {
        let fleet = &s.fleet;
        let disaggregated = match &cluster.disaggregation {
            Some(d) => format!(
                " ({} prefill, {} decode)",
                d.prefill_replicas, d.decode_replicas
            ),
            None => String::new(),
        };
        writeln!(
            out,
            "{} replicas{disaggregated}, {} router",
            fleet.replicas,
            cluster.router.name()
        )?;
    }

    let mut latency = Table::new("Latency (ms)");
    latency.header = Some(
        ["mean", "p50", "p90", "p95", "p99", "min", "max"]
            .map(String::from)
            .to_vec(),
    );
    latency.row("TTFT", latency_cells(&s.ttft_ms));
    latency.row("E2E", latency_cells(&s.e2e_ms));
    latency.row("TPOT", latency_cells(&s.tpot_ms));
    latency.row("ITL", latency_cells(&s.itl_ms));

    let mut throughput = Table::new("Throughput");
    throughput.row("input tokens/s", vec![number(s.input_tokens_per_s, 1)]);
    throughput.row("output tokens/s", vec![number(s.output_tokens_per_s, 1)]);
    if s.fleet.gpus > 1 {
        throughput.row(
            &format!("  per GPU (of {})", s.fleet.gpus),
            vec![number(s.fleet.output_tokens_per_s_per_gpu, 1)],
        );
    }
    throughput.row("requests/s", vec![number(s.requests_per_s, 3)]);
    if let (Some(offered), Some(served)) = (s.offered_requests_per_s, s.served_requests_per_s) {
        throughput.row("offered requests/s", vec![number(offered, 3)]);
        throughput.row("served requests/s", vec![number(served, 3)]);
    }

    let mut utilisation = Table::new("Utilisation (time-weighted)");
    utilisation.row("KV cache", vec![pct(s.kv_cache_util_mean)]);
    utilisation.row("FLOPS", vec![pct(s.flops_util_mean)]);
    utilisation.row("bandwidth", vec![pct(s.bandwidth_util_mean)]);
    utilisation.row("busy", vec![pct(s.busy_fraction)]);

    let mut preemptions = Table::new("Preemptions");
    preemptions.row("total", vec![count(s.preemptions_total)]);
    preemptions.row("per request", vec![number(s.preemptions_per_request, 3)]);

    let mut prefix = Table::new("Prefix cache (tokens)");
    prefix.row("hits", vec![count(s.prefix_cache_hits)]);
    prefix.row("misses", vec![count(s.prefix_cache_misses)]);
    prefix.row("hit rate", vec![pct(s.prefix_cache_hit_rate)]);

    let mut summary = Table::new("Summary");
    summary.row(
        "requests completed",
        vec![format!(
            "{} / {}",
            count(s.requests_completed),
            count(s.requests_total)
        )],
    );
    summary.row("input tokens", vec![count(s.input_tokens)]);
    summary.row("output tokens", vec![count(s.output_tokens)]);
    summary.row(
        "simulated time",
        vec![format!("{} s", number(s.simulated_seconds, 3))],
    );
    summary.row("engine steps", vec![count(s.steps)]);

    write_table(out, &latency, &Layout::of(&[&latency], 8, 10))?;
    let singles = [&throughput, &utilisation, &preemptions, &prefix, &summary];
    let layout = Layout::of(&singles, 22, 16);
    for table in singles {
        write_table(out, table, &layout)?;
    }
    if !s.replicas.is_empty() {
        let (replicas, others) = fleet_tables(s);
        write_table(out, &replicas, &Layout::of(&[&replicas], 6, 10))?;
        let refs: Vec<&Table> = others.iter().collect();
        for table in &others {
            write_table(out, table, &Layout::of(&refs, 22, 16))?;
        }
    }
    for table in traffic::traffic_tables(s) {
        write_table(out, &table, &Layout::of(&[&table], 22, 10))?;
    }
    Ok(())
}

/// A fleet's per-replica table, its imbalance, and its KV transfers when disaggregated.
fn fleet_tables(s: &RunSummary) -> (Table, Vec<Table>) {
    let mut replicas = Table::new("Replicas");
    replicas.header = Some(
        [
            "pool",
            "requests",
            "done",
            "busy",
            "KV",
            "preempted",
            "prefix hit",
        ]
        .map(String::from)
        .to_vec(),
    );
    for r in &s.replicas {
        replicas.row(
            &format!("#{}", r.index),
            vec![
                r.pool.clone(),
                count(r.requests),
                count(r.requests_completed),
                pct(r.busy_fraction),
                pct(r.kv_cache_util_mean),
                count(r.preemptions),
                pct(r.prefix_cache_hit_rate),
            ],
        );
    }
    let f = &s.fleet;
    let ratio = |x: Option<f64>| x.map_or("-".to_string(), |x| number(x, 3));
    let mut balance = Table::new("Balance (max / mean over routed replicas)");
    balance.row("requests", vec![ratio(f.request_imbalance)]);
    balance.row("busy", vec![ratio(f.busy_imbalance)]);
    let mut tables = vec![balance];
    if f.kv_transfers > 0 {
        let mut transfers = Table::new("KV transfers");
        transfers.row("transfers", vec![count(f.kv_transfers)]);
        transfers.row("GB moved", vec![number(f.kv_transfer_bytes / 1e9, 3)]);
        transfers.row("mean time (ms)", vec![ms(f.kv_transfer_ms_mean)]);
        transfers.row("held back", vec![count(f.kv_backpressure_waits)]);
        transfers.row("mean hold (ms)", vec![ms(f.kv_backpressure_ms_mean)]);
        tables.push(transfers);
    }
    (replicas, tables)
}

/// Warns on stderr when an open-loop run could not keep up with its arrivals: its load
/// verdict (`LoadVerdict` in the metrics) is overloaded. A backlogged run gets no warning: its
/// queue did not grow, its requests merely outlasted the arrival span.
pub fn warn_overload(s: &RunSummary) {
    if let (Some(LoadVerdict::Overloaded), Some(offered), Some(served)) = (
        s.load_verdict,
        s.offered_requests_per_s,
        s.served_requests_per_s,
    ) {
        let warn = style("warning:").for_stderr().yellow().bold();
        let _ = writeln!(
            io::stderr(),
            "{warn} offered {} req/s, served {} req/s: overloaded; latencies grow with the \
             run's length",
            number(offered, 1),
            number(served, 1)
        );
    }
}

/// Warns on stderr when `[metrics]` left every request out as warm-up: every statistic is then
/// empty (latencies null, throughputs 0), which a reader must not take for a measurement.
pub fn warn_all_warmup(config: &Config, s: &RunSummary) {
    if config.metrics.is_some() && s.requests_total == 0 {
        let warn = style("warning:").for_stderr().yellow().bold();
        let _ = writeln!(
            io::stderr(),
            "{warn} [metrics] left every request out as warm-up, so no statistic measures \
             anything: lower metrics.warmup_secs or metrics.warmup_requests"
        );
    }
}

/// What the config implies, for checking numbers by hand: (what, value) pairs.
/// The fleet a config describes, in one line.
fn fleet_line(config: &Config) -> String {
    let Some(cluster) = &config.cluster else {
        return "one engine (no [cluster])".to_string();
    };
    let router = cluster.router.name();
    if let Some(d) = &cluster.disaggregation {
        let bytes = f64::from(config.model.max_seq_len) * config.kv_bytes_per_token();
        return format!(
            "{} prefill + {} decode replicas, {router} router; moving a max_seq_len prompt's \
             KV takes {:.2} ms",
            d.prefill_replicas,
            d.decode_replicas,
            (d.kv_transfer_latency_ms / 1e3 + bytes / d.kv_transfer_bandwidth) * 1e3
        );
    }
    if cluster.pools.is_empty() {
        return format!("{} replicas, {router} router", cluster.num_replicas());
    }
    let pools: Vec<String> = cluster
        .pools
        .iter()
        .map(|p| format!("{} x {}", p.replicas, p.name))
        .collect();
    format!(
        "{} replicas ({}), {router} router",
        cluster.num_replicas(),
        pools.join(", ")
    )
}

pub fn derived(config: &Config) -> Result<Vec<(&'static str, String)>> {
    let kv_bytes = config
        .hardware
        .kv_cache_bytes(&config.model, config.tensor_parallel_size())?;
    let per_token = config.kv_bytes_per_token();
    let blocks = config.kv_cache_blocks()?;
    let m = &config.model;
    let hw = &config.hardware;
    let tp = config.tensor_parallel_size();
    let per_gpu = |total: f64| {
        if tp > 1 {
            format!(", {:.3} GB per GPU", total / f64::from(tp) / 1e9)
        } else {
            String::new()
        }
    };
    let weights = m.num_parameters as f64 * hw.bytes_per_param;
    let dtype = match hw.kv_cache_dtype {
        None => "the weights' bytes_per_param".to_string(),
        Some(dtype) => format!("kv_cache_dtype {dtype:?}").to_lowercase(),
    };
    let kv_shape = match m.kv_latent_dim {
        Some(latent) => format!("{latent} latent elements (MLA)"),
        None => format!("2 x {} kv heads x {} head_dim", m.kv_heads(), m.head_dim()),
    };
    let kv_share = config.kv_share_per_gpu();
    Ok(vec![
        (
            "weights",
            format!(
                "{:.3} GB ({} params x {} B{})",
                weights / 1e9,
                count(m.num_parameters),
                hw.bytes_per_param,
                per_gpu(weights)
            ),
        ),
        (
            "KV cache",
            if tp > 1 {
                format!("{:.3} GB on each of {tp} GPUs", kv_bytes / 1e9)
            } else {
                format!("{:.3} GB", kv_bytes / 1e9)
            },
        ),
        (
            "KV bytes/token",
            format!(
                "{per_token} ({kv_shape} x {} B x {} layers; {dtype}){}",
                hw.kv_bytes_per_element(),
                m.num_layers,
                if kv_share < 1.0 {
                    format!(", {} per GPU", per_token * kv_share)
                } else {
                    String::new()
                }
            ),
        ),
        (
            "KV blocks",
            format!(
                "{} x {} tokens = {} tokens",
                count(blocks),
                config.scheduler.block_size,
                count(blocks * u64::from(config.scheduler.block_size))
            ),
        ),
        ("active params", count(m.active_parameters())),
        ("fleet", fleet_line(config)),
        (
            "step time",
            if hw.is_calibrated() {
                format!(
                    "{}: compute x{}, attention x{}, weights x{}, KV x{} of peak; \
                     overlap {}, softness {}, causal {}; overheads {} s/step + {} s/layer + {} \
                     s/sequence",
                    hw.describe_step_model(),
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
                hw.describe_step_model()
            },
        ),
        (
            "prefill chunk cap",
            config
                .scheduler
                .prefill_chunk_cap(m.max_seq_len)
                .filter(|_| config.scheduler.enable_chunked_prefill)
                .map_or("none".to_string(), |c| count(u64::from(c))),
        ),
    ])
}

/// The derived quantities, one per line (stderr, with -v).
pub fn print_derived(config: &Config) -> Result<()> {
    let mut text = String::from("derived from the config:\n");
    for (what, value) in derived(config)? {
        text.push_str(&format!("  {what:<19}{value}\n"));
    }
    let _ = io::stderr().write_all(text.as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary whose every value is far wider than the default columns.
    fn huge_summary() -> RunSummary {
        let huge = DistStats {
            count: 10_000_000_000,
            mean: Some(1.0e7),
            p50: Some(1.0e7),
            p90: Some(1.2e7),
            p95: Some(1.5e7),
            p99: Some(9.9e7),
            min: Some(0.5),
            max: Some(1.0e8),
        };
        RunSummary {
            ttft_ms: huge,
            e2e_ms: huge,
            tpot_ms: DistStats::default(),
            itl_ms: huge,
            input_tokens_per_s: 1.0e10,
            output_tokens_per_s: 1.0e10,
            requests_per_s: 1.0e7,
            preemptions_total: 10_000_000_000,
            prefix_cache_hits: 10_000_000_000,
            prefix_cache_misses: 10_000_000_000,
            requests_completed: 10_000_000_000,
            requests_total: 10_000_000_000,
            input_tokens: 10_000_000_000,
            output_tokens: 10_000_000_000,
            simulated_seconds: 1.0e7,
            steps: 10_000_000_000,
            offered_requests_per_s: Some(1.0e7),
            served_requests_per_s: Some(1.0e6),
            ..RunSummary::default()
        }
    }

    fn config() -> Config {
        Config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml").as_ref())
            .expect("the tiny config")
    }

    #[test]
    fn huge_values_keep_every_table_aligned() {
        let mut text = Vec::new();
        print_summary(&mut text, &config(), &huge_summary()).expect("write to memory");
        let text = String::from_utf8(text).expect("UTF-8");
        // Tables are separated by blank lines; their first line is the title.
        let tables: Vec<&str> = text.split("\n\n").skip(1).collect();
        assert_eq!(tables.len(), 6, "{text}");
        for table in &tables {
            let widths: Vec<usize> = table.lines().skip(1).map(|l| l.chars().count()).collect();
            assert!(
                widths.iter().all(|&w| w == widths[0]),
                "ragged table {widths:?}:\n{table}"
            );
        }
        // Every single-value table shares one layout.
        let single: Vec<usize> = tables[1..]
            .iter()
            .flat_map(|t| t.lines().skip(1).map(|l| l.chars().count()))
            .collect();
        assert!(single.iter().all(|&w| w == single[0]), "{single:?}\n{text}");
        assert!(text.contains("10,000,000.00"), "{text}");
        assert!(text.contains("10,000,000,000 / 10,000,000,000"), "{text}");
        assert!(
            text.contains("  -"),
            "an undefined statistic prints as -:\n{text}"
        );
    }

    #[test]
    fn the_report_fails_when_its_writer_does() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = print_summary(&mut Full, &config(), &huge_summary()).expect_err("a full writer");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
