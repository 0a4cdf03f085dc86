//! `[outputs]` in a sweep spec: every run writes its per-request records and time series as
//! Parquet partitioned by run, the same whatever the thread count, kept on resume, and
//! removed by --force without touching anything else in those folders.

mod common;

use common::sweep::{column_f64, column_str, describe, read_parquet, Scratch};

const OUTPUTS: &str = "seeds = 2\n[axes]\n\"scheduler.policy\" = [\"fcfs\", \"sjf\"]\n\
                       [outputs]\nrequests = true\ntimeseries = true\ninterval = 0.5\n";

fn part(s: &Scratch, name: &str, table: &str, run_id: &str) -> std::path::PathBuf {
    s.path(&format!(
        "results/{name}/{table}/run_id={run_id}/part-0.parquet"
    ))
}

#[test]
fn each_run_writes_its_records_partitioned_by_run() {
    let s = Scratch::new("il-outputs", "partitioned");
    s.spec("out", OUTPUTS);
    let out = s.run(&["sweep", "out.toml", "-q", "-j", "2"]);
    assert!(out.status.success(), "{}", describe(&out));
    let runs = read_parquet(&s.path("results/out/runs.parquet"));
    let ids = column_str(&runs, "run_id");
    let done = column_f64(&runs, "requests_completed");
    let steps = column_f64(&runs, "steps");
    assert_eq!(ids.len(), 4);
    let mut first = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let requests = read_parquet(&part(&s, "out", "requests", id));
        assert_eq!(Some(requests.height() as f64), done[k], "{id}");
        let series = read_parquet(&part(&s, "out", "timeseries", id));
        let total: f64 = column_f64(&series, "steps").into_iter().flatten().sum();
        assert_eq!(Some(total), steps[k], "{id}");
        first.push(std::fs::read(part(&s, "out", "requests", id)).unwrap());
    }
    // A user's own file among the records stays through everything below.
    let mine = s.path("results/out/requests/notes.txt");
    std::fs::write(&mine, "mine").unwrap();

    // Resumed: nothing runs again, the records stay.
    let out = s.run(&["sweep", "out.toml", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    // One thread, from scratch: the same bytes.
    let out = s.run(&["sweep", "out.toml", "-q", "--force", "-j", "1"]);
    assert!(out.status.success(), "{}", describe(&out));
    for (k, id) in ids.iter().enumerate() {
        assert_eq!(
            std::fs::read(part(&s, "out", "requests", id)).unwrap(),
            first[k],
            "{id}"
        );
    }
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine");

    // Without [outputs], --force removes the records and leaves the user's file.
    s.spec(
        "out",
        "seeds = 2\n[axes]\n\"scheduler.policy\" = [\"fcfs\", \"sjf\"]\n",
    );
    let out = s.run(&["sweep", "out.toml", "-q", "--force"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!s.path("results/out/timeseries").exists());
    assert!(!part(&s, "out", "requests", &ids[0]).exists());
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine");
}
