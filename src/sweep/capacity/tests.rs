use super::*;
use crate::sweep::metric_row::MetricRow;
use crate::sweep::{expand, SweepSpec};
use crate::testing::toy_batched;

/// The shared toy config with an SLO to search against.
fn toy() -> String {
    format!("{}[slo]\nttft_ms = 100\nattainment = 0.9\n", toy_batched())
}

/// A search grid over max_num_seqs (integers, so capacities are exact), policies fcfs and
/// sif, seeds 1..=3, comparing with fcfs.
fn grid(test: &str) -> Grid {
    let dir = std::env::temp_dir().join(format!("il-capacity-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.toml"), toy()).unwrap();
    let path = dir.join("spec.toml");
    let body = "name = \"c\"\nbase = \"c.toml\"\nseeds = 3\n[axes]\n\
                scheduler.policy = [\"fcfs\", \"sif\"]\n\
                scheduler.max_num_seqs = { search = \"max\", lo = 1, hi = 64, tolerance = 0.001 }\n\
                [compare]\nbaseline = { \"scheduler.policy\" = \"fcfs\" }\n";
    std::fs::write(&path, body).unwrap();
    let grid = expand(&SweepSpec::load(&path).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    grid
}

/// Journals as a sweep would fill them, with a run meeting the SLO when its max_num_seqs is
/// at most `threshold(policy, seed)` (None: the run fails). Built by walking the searches
/// over the records again and again, adding the record each walk stops for.
fn simulate(
    grid: &Grid,
    threshold: impl Fn(&str, u64) -> Option<f64>,
) -> HashMap<String, RunRecord> {
    let all: Vec<usize> = (0..grid.runs.len()).collect();
    let mut records = HashMap::new();
    loop {
        let waiting: Vec<RunPoint> = replay(grid, &all, &records)
            .into_iter()
            .filter(|r| r.walk.found == Found::Failed(None))
            .map(|r| r.runs.last().unwrap().clone())
            .collect();
        if waiting.is_empty() {
            return records;
        }
        for run in waiting {
            let policy = run.params[0].as_str().unwrap().to_string();
            let value = run.params[1].as_integer().unwrap() as f64;
            let limit = threshold(&policy, run.seed);
            let met = limit.map(|l| if value <= l { 1.0 } else { 0.0 });
            records.insert(
                run.run_id.clone(),
                RunRecord {
                    run_id: run.run_id.clone(),
                    status: if met.is_some() { "ok" } else { "error" }.into(),
                    error: met.is_none().then(|| "boom".into()),
                    wall_ms: 1.0,
                    seed: run.seed,
                    params: Default::default(),
                    metrics: MetricRow::from_pairs([("slo_met", met)]),
                    labels: Default::default(),
                    classes: Vec::new(),
                },
            );
        }
    }
}

fn baselines(grid: &Grid) -> Vec<Option<usize>> {
    let baseline = vec![("scheduler.policy".to_string(), toml::Value::from("fcfs"))];
    let axes = vec![crate::sweep::spec::Axis {
        paths: vec!["scheduler.policy".into()],
        values: vec![vec!["fcfs".into()], vec!["sif".into()]],
    }];
    crate::sweep::compare::baseline_points(grid, &axes, &baseline)
}

#[test]
fn capacities_their_interval_and_the_paired_difference_by_hand() {
    let grid = grid("hand");
    assert_eq!(grid.columns, ["scheduler.policy", "scheduler.max_num_seqs"]);
    assert_eq!(grid.runs.len(), 6, "2 points x 3 seeds of searches");
    // fcfs fits 10, 12, 14 sequences on seeds 1, 2, 3; sif one, one and two more.
    let records = simulate(&grid, |policy, seed| {
        let fcfs = 8.0 + 2.0 * seed as f64;
        Some(if policy == "sif" {
            fcfs + [1.0, 1.0, 2.0][seed as usize - 1]
        } else {
            fcfs
        })
    });
    let all: Vec<usize> = (0..6).collect();
    let results = replay(&grid, &all, &records);
    let rows = rows(&grid, &results, Some(&baselines(&grid)));
    assert_eq!(rows.len(), 2);
    let (fcfs, sif) = (&rows[0], &rows[1]);
    let capacities: Vec<Option<f64>> = fcfs.seeds.iter().map(|s| s.1.capacity()).collect();
    assert_eq!(capacities, [Some(10.0), Some(12.0), Some(14.0)]);
    let c = &fcfs.capacity;
    assert_eq!((c.n, c.mean, c.std), (3, Some(12.0), Some(2.0)));
    // t(0.975, 2) = 4.302653: 12 +- 4.302653 x 2 / sqrt(3).
    let (lo, hi) = c.ci.unwrap();
    assert!((lo - (12.0 - 4.968_275)).abs() < 1e-5 && (hi - (12.0 + 4.968_275)).abs() < 1e-5);
    assert_eq!((c.min, c.max), (Some(10.0), Some(14.0)));
    assert!(
        fcfs.comparison.is_none(),
        "the baseline is compared with nothing"
    );
    let c = sif.comparison.as_ref().unwrap();
    assert_eq!(c.baseline_mean, Some(12.0));
    let test = c.test.unwrap();
    assert!((test.diff_mean - 4.0 / 3.0).abs() < 1e-12);
    assert_eq!(c.record, (3, 0, 0));
    // Diffs 1, 1, 2: std 1/sqrt(3), t = (4/3) / (1/3) = 4 on 2 degrees of freedom: p = 0.0572.
    assert!((test.p_value.unwrap() - 0.057_191).abs() < 1e-5, "{test:?}");
    // Every walk: lo, hi, then integer halvings down to a one-wide bracket.
    for r in &results {
        assert!(r.runs.len() <= grid.search.as_ref().unwrap().search.max_probes());
        assert_eq!(r.walk.probes.len(), r.runs.len());
    }
}

#[test]
fn searches_outside_the_range_or_failing_are_counted_not_averaged() {
    let grid = grid("edges");
    let records = simulate(&grid, |policy, seed| match (policy, seed) {
        ("fcfs", 1) => Some(0.5),
        ("fcfs", 2) => Some(100.0),
        ("fcfs", _) => Some(20.0),
        _ => None,
    });
    let results = replay(&grid, &(0..6).collect::<Vec<_>>(), &records);
    let rows = rows(&grid, &results, Some(&baselines(&grid)));
    let fcfs = &rows[0];
    assert_eq!(
        (
            fcfs.count("below_lo"),
            fcfs.count("at_hi"),
            fcfs.count("found")
        ),
        (1, 1, 1)
    );
    let c = &fcfs.capacity;
    assert_eq!((c.n, c.mean, c.ci), (1, Some(20.0), None));
    let sif = &rows[1];
    assert_eq!(
        (sif.count("failed"), sif.capacity.n, sif.capacity.mean),
        (3, 0, None)
    );
    let c = sif.comparison.as_ref().unwrap();
    assert_eq!((c.test, c.baseline_mean), (None, None), "no pairs");
    let frame = capacity_frame(&grid, &rows, true).unwrap();
    let per_seed = frame
        .column("per_seed")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(per_seed, "<1 >=64 20");
    assert_eq!(
        frame.column("failed").unwrap().u64().unwrap().get(1),
        Some(3)
    );
    // A failed search names the value it failed at.
    let failures = crate::sweep::search_failures(&grid, &results);
    assert_eq!(failures.len(), 3);
    assert!(
        failures[0]
            .1
            .starts_with("at scheduler.max_num_seqs = 1: boom"),
        "{failures:?}"
    );
}

#[test]
fn the_probe_grid_orders_points_by_value_and_runs_by_seed() {
    let grid = grid("probes");
    let records = simulate(&grid, |_, seed| Some(8.0 + seed as f64));
    let results = replay(&grid, &(0..6).collect::<Vec<_>>(), &records);
    let probes = probe_grid(&grid, &results);
    let total: usize = results.iter().map(|r| r.runs.len()).sum();
    assert_eq!(probes.runs.len(), total);
    let key = |r: &RunPoint| {
        let policy = r.params[0].as_str().unwrap().to_string();
        (policy, r.params[1].as_integer().unwrap(), r.seed)
    };
    for (i, pair) in probes.runs.windows(2).enumerate() {
        assert_eq!(pair[0].index, i);
        assert!(pair[0].point <= pair[1].point);
        assert!(key(&pair[0]) < key(&pair[1]) || pair[0].params[0] != pair[1].params[0]);
        let same_point = pair[0].params == pair[1].params;
        assert_eq!(
            same_point,
            pair[0].point == pair[1].point,
            "{:?} {:?}",
            key(&pair[0]),
            key(&pair[1])
        );
    }
    // lo = 1 and hi = 64 are probed by every search: a point each per policy, with 3 seeds.
    let at_lo = probes
        .runs
        .iter()
        .filter(|r| r.params[1].as_integer() == Some(1))
        .count();
    assert_eq!(at_lo, 6);
    assert_eq!(probes.points, probes.runs.last().unwrap().point + 1);
}
