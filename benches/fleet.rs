//! Wall time of fleets: the shipped 8-replica chat fleet and its prefill/decode version, and
//! a 32-replica fleet of the chat engine with every router.
//!
//! `cargo bench --bench fleet` (add `-- 32x` etc. to filter). The million-request run the
//! README quotes is `benches/fleet_scale.sh` (one run, its peak memory too).

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use inference_lab::config::RouterKind;
use inference_lab::{Config, Simulator};

fn fleet(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut group = c.benchmark_group("fleet");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, path) in [
        ("configs/fleet-8x", "configs/fleet-llama3-8b-h100x8.toml"),
        ("configs/pd-2+6", "configs/pd-llama3-8b-h100x8.toml"),
    ] {
        let config = Config::load(&root.join(path)).expect("bench config loads");
        group.bench_function(name, |b| {
            b.iter(|| Simulator::new(&config).unwrap().run().unwrap())
        });
    }
    // 32 replicas at 360 req/s (11 per replica), 50,000 requests.
    let mut base = Config::load(&root.join("configs/fleet-llama3-8b-h100x8.toml")).unwrap();
    base.workload.arrival_rate = Some(360.0);
    base.workload.num_requests = Some(50_000);
    for router in [
        RouterKind::LeastOutstanding,
        RouterKind::RoundRobin,
        RouterKind::PowerOfTwo,
        RouterKind::LeastKv,
    ] {
        let mut config = base.clone();
        let cluster = config
            .cluster
            .as_mut()
            .expect("the fleet config has [cluster]");
        cluster.replicas = Some(32);
        cluster.router = router;
        group.bench_function(format!("32x_50k/{}", router.name()), |b| {
            b.iter(|| Simulator::new(&config).unwrap().run().unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, fleet);
criterion_main!(benches);
