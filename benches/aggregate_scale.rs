//! How the aggregation of a sweep's tables scales: time and extra peak memory of
//! `sweep merge` (every table, CSV and Parquet) over a synthetic journal of N runs, for N =
//! 100,000 and (with `SCALE_RUNS=1000000`) a million.
//!
//! `cargo bench --bench aggregate_scale` (Linux: peak memory from /proc/self/status)
//!
//! Extra peak memory is the resident-set high-water mark during the merge minus the resident
//! set just before it (the grid itself, which any sweep of N runs holds, is excluded).

use std::path::Path;
use std::time::Instant;

use inference_lab::sweep::journal::{JournalWriter, RunRecord};
use inference_lab::sweep::metric_row::MetricRow;
use inference_lab::sweep::runner::params_json;
use inference_lab::sweep::{self, Formats, SweepSpec};

/// As the binary (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let runs: usize = std::env::var("SCALE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seeds = 20;
    let points = runs / seeds;
    let dir = std::env::temp_dir().join(format!("il-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-era/quick_test.toml");
    let spec_text = format!(
        "name = \"scale\"\nbase = {:?}\nseeds = {seeds}\n[axes]\n\
         scheduler.max_num_batched_tokens = {{ range = [1024, {}] }}\n\
         [compare]\nbaseline = {{ \"scheduler.max_num_batched_tokens\" = 1024 }}\n",
        base.display().to_string(),
        1024 + points - 1
    );
    let spec_path = dir.join("spec.toml");
    std::fs::write(&spec_path, spec_text).unwrap();
    let spec = SweepSpec::load(&spec_path).unwrap();
    let clock = Instant::now();
    let grid = sweep::expand(&spec).unwrap();
    assert_eq!(grid.runs.len(), runs);
    let expand_s = clock.elapsed().as_secs_f64();
    let out = dir.join("out");
    sweep::record_spec(&out, &spec).unwrap();
    let schema = inference_lab::RunSummary::metric_schema();
    let mut journal = JournalWriter::open(&out).unwrap();
    for r in &grid.runs {
        // Realistic values: fractions with every digit, as latencies are.
        let metrics = MetricRow::from_pairs(schema.iter().enumerate().map(|(i, m)| {
            let x = ((r.index * 7 + i) % 1000) as f64;
            let value = if m.name.ends_with("_total") || !m.name.contains('_') {
                x
            } else {
                x / 7.0 + 0.1
            };
            (m.name, Some(value))
        }));
        let record = RunRecord {
            run_id: r.run_id.clone(),
            status: "ok".into(),
            error: None,
            wall_ms: 1.0,
            seed: r.seed,
            params: params_json(&grid, r),
            metrics,
            labels: Default::default(),
            classes: Vec::new(),
        };
        journal.append(&record).unwrap();
    }
    drop(journal);
    let journal_mib =
        std::fs::metadata(out.join("journal.jsonl")).unwrap().len() as f64 / 1048576.0;
    // Reset the high-water mark, so that it measures the merge alone.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:").unwrap_or(0);
    let formats = Formats {
        csv: true,
        parquet: true,
    };
    let clock = Instant::now();
    let outcome = sweep::merge(&spec, &grid, &out, formats).unwrap();
    let merge_s = clock.elapsed().as_secs_f64();
    assert_eq!(outcome.ok, runs);
    let peak = status_kib("VmHWM:").unwrap_or(0);
    println!(
        "{runs} runs ({points} points x {seeds} seeds, journal {journal_mib:.0} MiB): expand {expand_s:.2} s, \
         merge {merge_s:.2} s, resident before merge {} MiB, extra peak during merge {} MiB",
        before / 1024,
        peak.saturating_sub(before) / 1024
    );
    std::fs::remove_dir_all(&dir).ok();
}
