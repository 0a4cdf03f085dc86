//! Wall time of whole simulations of the configs users run most.
//!
//! `cargo bench --bench simulate` (add `-- qwen3` etc. to filter). Each config runs with the
//! decode fast path (group `simulate`) and step by step (`simulate_step_by_step`). Reference configs come from
//! examples/seed-era; the shipped ones from configs/.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use inference_lab::{Config, Simulator};

const CASES: &[(&str, &str)] = &[
    ("reference/config", "examples/seed-era/config.toml"),
    ("reference/test_blog", "examples/seed-era/test_blog.toml"),
    ("configs/chat-llama3-8b", "configs/chat-llama3-8b-h100.toml"),
    (
        "configs/moe-qwen3-30b-a3b",
        "configs/moe-qwen3-30b-a3b-h100.toml",
    ),
    (
        "reference/qwen3_30b_a3b",
        "examples/seed-era/qwen3_30b_a3b.toml",
    ),
    (
        "reference/long_benchmark",
        "examples/seed-era/long_benchmark.toml",
    ),
];

fn simulate(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for &(name, path) in CASES {
        let config = Config::load(&root.join(path)).expect("bench config loads");
        group.bench_function(name, |b| {
            b.iter(|| Simulator::new(&config).unwrap().run().unwrap())
        });
    }
    group.finish();

    // The same runs without the decode fast path: what it saves (results are identical).
    let mut group = c.benchmark_group("simulate_step_by_step");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for &(name, path) in CASES {
        let mut config = Config::load(&root.join(path)).expect("bench config loads");
        config.simulation.step_by_step = true;
        group.bench_function(name, |b| {
            b.iter(|| Simulator::new(&config).unwrap().run().unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, simulate);
criterion_main!(benches);
