//! The classes tables and session columns of a sweep: a grid over a config with request
//! classes and sessions writes classes (a row per run and class) and classes_summary (a row
//! per point and class, with confidence intervals), whose numbers add up to the runs table's;
//! a grid without classes writes neither and removes an earlier grid's.

mod common;

use common::sweep::{column_f64, column_str, describe, read_parquet, Scratch, TINY};

const CLASSES: &str = r#"
[workload.sessions]
turns = { type = "uniform", min = 1, max = 3 }
think_time_secs = { type = "fixed", value = 0.5 }
new_input_len_dist = { type = "fixed", value = 20 }

[[workload.classes]]
name = "chat"
fraction = 0.6
priority = 0
slo = { ttft_ms = 100 }

[[workload.classes]]
name = "batch"
fraction = 0.4
priority = 5
"#;

#[test]
fn a_grid_with_classes_writes_the_classes_tables() {
    let s = Scratch::new("il-classes", "tables");
    let base = std::fs::read_to_string(TINY).unwrap() + CLASSES;
    std::fs::write(s.path("shaped.toml"), base).unwrap();
    std::fs::write(
        s.path("spec.toml"),
        "name = \"shaped\"\nbase = \"shaped.toml\"\nseeds = 3\n\
         [axes]\n\"scheduler.policy\" = [\"fcfs\", \"priority\"]\n",
    )
    .unwrap();
    let out = s.run(&["sweep", "spec.toml", "--format", "csv,parquet", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    let dir = s.path("results/shaped");
    let runs = read_parquet(&dir.join("runs.parquet"));
    let classes = read_parquet(&dir.join("classes.parquet"));
    let summary = read_parquet(&dir.join("classes_summary.parquet"));
    assert!(dir.join("classes.csv").exists());
    assert_eq!(runs.height(), 6);
    assert_eq!(classes.height(), 12, "two classes in each of six runs");
    assert_eq!(summary.height(), 4, "two classes at each of two points");
    // Each run's classes add up to its requests.
    let ids = column_str(&runs, "run_id");
    let done = column_f64(&runs, "requests_completed");
    let class_ids = column_str(&classes, "run_id");
    let class_done = column_f64(&classes, "requests_completed");
    for (id, total) in ids.iter().zip(&done) {
        let sum: f64 = class_ids
            .iter()
            .zip(&class_done)
            .filter(|(c, _)| *c == id)
            .map(|(_, n)| n.unwrap())
            .sum();
        assert_eq!(Some(sum), *total, "{id}");
    }
    // The summary's mean is the mean over the point's seeds.
    let policy = column_str(&classes, "scheduler.policy");
    let class = column_str(&classes, "class");
    let p50 = column_f64(&classes, "ttft_ms_p50");
    let rows = column_str(&summary, "class");
    let means = column_f64(&summary, "ttft_ms_p50_mean");
    let lo = column_f64(&summary, "ttft_ms_p50_ci95_lo");
    let n = column_f64(&summary, "n");
    let summary_policy = column_str(&summary, "scheduler.policy");
    for k in 0..4 {
        let values: Vec<f64> = (0..12)
            .filter(|&i| policy[i] == summary_policy[k] && class[i] == rows[k])
            .map(|i| p50[i].unwrap())
            .collect();
        assert_eq!(values.len(), 3);
        assert_eq!(n[k], Some(3.0));
        let mean = values.iter().sum::<f64>() / 3.0;
        assert!((means[k].unwrap() - mean).abs() < 1e-9 * mean.max(1.0));
        assert!(lo[k].unwrap() <= mean);
    }
    // Only the chat class has objectives, but every class is judged once any are set.
    let attainment = column_f64(&classes, "slo_attainment");
    assert!(attainment.iter().all(Option::is_some));
    // Sessions: their columns in the runs table.
    let started = column_f64(&runs, "sessions_started");
    assert!(started.iter().all(|&s| s == Some(30.0)), "{started:?}");
    assert!(column_f64(&runs, "session_turns_mean")
        .iter()
        .all(|t| t.is_some_and(|t| (1.0..=3.0).contains(&t))));

    // The same folder swept without classes: their tables go, the rest is rewritten.
    std::fs::write(
        s.path("shaped.toml"),
        std::fs::read_to_string(TINY).unwrap(),
    )
    .unwrap();
    let out = s.run(&[
        "sweep",
        "spec.toml",
        "--format",
        "csv,parquet",
        "-q",
        "--force",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!dir.join("classes.parquet").exists());
    assert!(!dir.join("classes_summary.csv").exists());
    let runs = read_parquet(&dir.join("runs.parquet"));
    assert!(column_f64(&runs, "sessions_started")
        .iter()
        .all(|&s| s == Some(0.0)));
    assert!(column_f64(&runs, "session_turns_mean")
        .iter()
        .all(Option::is_none));
}
