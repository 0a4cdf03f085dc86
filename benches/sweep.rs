//! Sweep orchestrator costs: runs per second at 1 and 2 threads, the orchestrator's overhead
//! over calling the simulator directly, aggregating 100,000 journal rows into the tables, and
//! the fixed cost of a one-run sweep.
//!
//! `cargo bench --bench sweep`

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use inference_lab::sweep::journal::{JournalWriter, RunRecord};
use inference_lab::sweep::metric_row::MetricRow;
use inference_lab::sweep::runner::params_json;
use inference_lab::sweep::{self, Formats, SweepOptions, SweepSpec};
use inference_lab::Simulator;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("il-bench-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 240 small runs: reference config.toml cut to 60 requests, 4 policies x 3 budgets x 20 seeds.
fn small_grid(dir: &Path) -> SweepSpec {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-era/config.toml");
    let text = format!(
        "name = \"bench\"\nbase = {:?}\nseeds = 20\n[set]\nworkload.num_requests = 60\n\
         [axes]\nscheduler.policy = [\"fcfs\", \"sof\", \"sif\", \"lof\"]\n\
         scheduler.max_num_batched_tokens = [4096, 8192, 16384]\n",
        base.display().to_string()
    );
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).unwrap();
    SweepSpec::load(&path).unwrap()
}

fn orchestrator(c: &mut Criterion) {
    let dir = scratch("grid");
    let spec = small_grid(&dir);
    let grid = sweep::expand(&spec).unwrap();
    assert_eq!(grid.runs.len(), 240);
    let mut group = c.benchmark_group("sweep_240_runs");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("direct_simulator_loop", |b| {
        b.iter(|| {
            for run in &grid.runs {
                Simulator::new(run.config.as_ref().unwrap())
                    .unwrap()
                    .run()
                    .unwrap();
            }
        })
    });
    for threads in [1, 2] {
        group.bench_with_input(
            BenchmarkId::new("sweep_threads", threads),
            &threads,
            |b, &t| {
                b.iter(|| {
                    let options = SweepOptions {
                        out_dir: dir.join(format!("out-{t}")),
                        threads: t,
                        force: true,
                        formats: Formats {
                            csv: true,
                            parquet: true,
                        },
                    };
                    let outcome = sweep::run(&spec, &grid, &options, |_| {}).unwrap();
                    assert_eq!(outcome.failed, 0);
                })
            },
        );
    }
    group.finish();
    std::fs::remove_dir_all(dir).ok();
}

/// Every table from a 100,000-line journal (a 5,000-point x 20-seed grid with synthetic
/// metrics), as `sweep merge` builds them: reading the journal, runs, summary, summary_long,
/// comparisons (CSV and Parquet) and the manifest.
fn aggregation(c: &mut Criterion) {
    let dir = scratch("agg");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-era/quick_test.toml");
    let text = format!(
        "name = \"agg\"\nbase = {:?}\nseeds = 20\n[axes]\n\
         scheduler.max_num_batched_tokens = {{ range = [1024, 51014, 10] }}\n\
         [compare]\nbaseline = {{ \"scheduler.max_num_batched_tokens\" = 1024 }}\n",
        base.display().to_string()
    );
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).unwrap();
    let spec = SweepSpec::load(&path).unwrap();
    let grid = sweep::expand(&spec).unwrap();
    assert_eq!(grid.runs.len(), 100_000);
    let out = dir.join("out");
    sweep::record_spec(&out, &spec).unwrap();
    // The journal as a sweep writes it (through its writer): one JSON object per run, metrics
    // keyed by name (whole numbers, so that count metrics are valid too), the axis values.
    let schema = inference_lab::RunSummary::metric_schema();
    let mut journal = JournalWriter::open(&out).unwrap();
    for r in &grid.runs {
        let metrics = MetricRow::from_pairs(
            schema
                .iter()
                .enumerate()
                .map(|(i, m)| (m.name, Some(((r.index * 7 + i) % 1000) as f64))),
        );
        journal
            .append(&RunRecord {
                run_id: r.run_id.clone(),
                status: "ok".into(),
                error: None,
                wall_ms: 1.0,
                seed: r.seed,
                params: params_json(&grid, r),
                metrics,
                labels: Default::default(),
                classes: Vec::new(),
            })
            .unwrap();
    }
    let mut group = c.benchmark_group("tables_100k_rows");
    group.sample_size(10);
    group.bench_function("merge_all_tables_csv_parquet", |b| {
        b.iter(|| {
            let formats = Formats {
                csv: true,
                parquet: true,
            };
            let outcome = sweep::merge(&spec, &grid, &out, formats).unwrap();
            assert_eq!(outcome.ok, 100_000);
        })
    });
    // The same journal without [compare]: runs, summary and summary_long.
    let mut plain = spec.clone();
    plain.compare = None;
    group.bench_function("merge_without_comparisons_csv_parquet", |b| {
        b.iter(|| {
            let formats = Formats {
                csv: true,
                parquet: true,
            };
            let outcome = sweep::merge(&plain, &grid, &out, formats).unwrap();
            assert_eq!(outcome.ok, 100_000);
        })
    });
    group.finish();
    std::fs::remove_dir_all(dir).ok();
}

/// The fixed cost of a sweep: one run of the tiny test config, from spec to every table and
/// the manifest, in a warm process (the whole command adds process start-up: see README).
fn one_run(c: &mut Criterion) {
    let dir = scratch("one");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny.toml");
    let path = dir.join("spec.toml");
    let text = format!("name = \"one\"\nbase = {:?}\n", base.display().to_string());
    std::fs::write(&path, text).unwrap();
    let mut group = c.benchmark_group("sweep_one_run");
    group.sample_size(30);
    for (name, csv, parquet) in [("csv_and_parquet", true, true), ("csv", true, false)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let spec = SweepSpec::load(&path).unwrap();
                let grid = sweep::expand(&spec).unwrap();
                let options = SweepOptions {
                    out_dir: dir.join(format!("out-{name}")),
                    threads: 1,
                    force: true,
                    formats: Formats { csv, parquet },
                };
                let outcome = sweep::run(&spec, &grid, &options, |_| {}).unwrap();
                assert_eq!(outcome.failed, 0);
            })
        });
    }
    group.finish();
    std::fs::remove_dir_all(dir).ok();
}

criterion_group!(benches, orchestrator, aggregation, one_run);
criterion_main!(benches);

/// As the binary (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
