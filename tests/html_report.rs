//! End-to-end tests of `inference-lab report`: the real binary runs a tiny sweep, renders its
//! page, and the page is self-contained, draws charts, and embeds exactly the summary table's
//! numbers; `--svg` writes chart files; bad inputs fail with one line and exit code 1.

mod common;

use std::path::Path;

use common::sweep::{describe, read_parquet, Scratch};
use polars::prelude::*;
use serde_json::Value;

/// A two-axis sweep with a baseline, over the tiny fixture, in `results/rep`.
fn sweep(s: &Scratch) {
    s.spec(
        "rep",
        "seeds = 2\n\n[axes]\nscheduler.policy = [\"fcfs\", \"sof\"]\n\
         workload.arrival_rate = [10.0, 40.0]\n\n[compare]\nbaseline = { \"scheduler.policy\" = \"fcfs\" }\n",
    );
    let out = s.run(&["sweep", "rep.toml", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The JSON of the page's `<script type="application/json" id="{id}">` block.
fn embedded(html: &str, id: &str) -> Value {
    let open = format!("<script type=\"application/json\" id=\"{id}\">");
    let start = html.find(&open).expect("data block") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
}

#[test]
fn sweep_report_is_self_contained_and_embeds_the_summary() {
    let s = Scratch::new("html-report", "sweep");
    sweep(&s);
    let out = s.run(&["report", "results/rep", "--svg", "figures"]);
    assert!(out.status.success(), "{}", describe(&out));
    let html = read(&s.path("results/rep/report.html"));

    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
    ] {
        assert!(!html.contains(attr), "the page fetches something: {attr}");
    }
    assert!(html.contains("<svg"), "no inline chart");
    assert!(html.contains("ttft_ms_p99 vs workload.arrival_rate"));
    assert!(html.contains("Pareto frontier"));
    assert!(html.contains("Paired comparisons"));

    // Every number of the summary table is in the page's data, unchanged.
    let summary = read_parquet(&s.path("results/rep/summary.parquet"));
    let rows = embedded(&html, "summary-data");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), summary.height());
    let mut checked = 0;
    for column in summary.columns() {
        let name = column.name().as_str();
        if !column.dtype().is_primitive_numeric() {
            continue;
        }
        let values = column.cast(&DataType::Float64).unwrap();
        let values = values.f64().unwrap();
        for (r, row) in rows.iter().enumerate() {
            let page = row.get(name).unwrap_or_else(|| panic!("no {name}"));
            match values.get(r).filter(|v| v.is_finite()) {
                Some(v) => assert_eq!(page.as_f64(), Some(v), "{name} row {r}"),
                None => assert!(page.is_null(), "{name} row {r}: {page}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} numbers checked");

    let svgs: Vec<_> = std::fs::read_dir(s.path("figures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(svgs.len() >= 3, "{svgs:?}");
    for svg in &svgs {
        assert_eq!(svg.extension().unwrap(), "svg");
        assert!(read(svg).starts_with("<svg"), "{}", svg.display());
    }
}

#[test]
fn run_json_report_says_what_is_missing() {
    let s = Scratch::new("html-report", "run");
    let out = s.run(&["-c", common::sweep::TINY, "-q", "-o", "run.json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = s.run(&["report", "run.json", "-o", "page.html", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    let html = read(&s.path("page.html"));
    assert!(html.contains("<svg") && html.contains("ttft_ms percentiles"));
    assert!(
        html.contains("no &quot;outputs&quot; object"),
        "absent outputs not said"
    );
    let run: Value = serde_json::from_str(&read(&s.path("run.json"))).unwrap();
    assert_eq!(embedded(&html, "run-metrics"), run["metrics"]);
}

#[test]
fn a_sweep_whose_runs_all_failed_still_renders() {
    let s = Scratch::new("html-report", "failed");
    s.spec("bad", "seeds = 2\n\n[axes]\nscheduler.max_num_seqs = [0]\n");
    let out = s.run(&["sweep", "bad.toml", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = s.run(&["report", "results/bad", "-o", "bad.html"]);
    assert!(out.status.success(), "{}", describe(&out));
    let html = read(&s.path("bad.html"));
    assert!(html.contains("Every run of this sweep failed"));
    assert!(html.contains("max_num_seqs"), "errors not listed");
}

#[test]
fn bad_inputs_fail_with_one_line() {
    let s = Scratch::new("html-report", "bad");
    std::fs::create_dir_all(s.path("empty")).unwrap();
    std::fs::write(s.path("other.json"), "{\"a\": 1}").unwrap();
    std::fs::write(s.path("spec.toml"), "name = \"x\"\n").unwrap();
    let cases = [
        ("missing", "no such file or folder"),
        ("empty", "run the sweep"),
        ("other.json", "not a run's JSON"),
        ("spec.toml", "not a results folder nor a run's JSON"),
    ];
    for (input, message) in cases {
        let out = s.run(&["report", input]);
        assert_eq!(out.status.code(), Some(1), "{input}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{input}: {}", describe(&out));
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{input}: {}",
            describe(&out)
        );
        assert!(!stderr.contains("panicked"), "{input}");
    }
}

/// Writes `rows` under `header` as a CSV file.
fn write_csv(path: &Path, header: &str, rows: usize, row: impl Fn(usize) -> String) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = format!("{header}\n");
    for i in 0..rows {
        text.push_str(&row(i));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn requests_csv(path: &Path) {
    write_csv(path, "request_id,ttft_ms,tpot_ms,e2e_ms", 50, |i| {
        format!("{i},{},{},{}", 10 + i, 5.0 + i as f64 / 10.0, 100 + 3 * i)
    });
}

fn timeseries_csv(path: &Path) {
    write_csv(
        path,
        "time_s,running,waiting,kv_cache_util,output_tokens_per_s",
        40,
        |i| {
            format!(
                "{},{},{},{},{}",
                i as f64 / 4.0,
                i % 7,
                i % 3,
                i as f64 / 80.0,
                100 * i
            )
        },
    );
}

#[test]
fn run_json_outputs_are_drawn() {
    let s = Scratch::new("html-report", "outputs");
    let out = s.run(&["-c", common::sweep::TINY, "-q", "-o", "run.json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let mut run: Value = serde_json::from_str(&read(&s.path("run.json"))).unwrap();
    run["outputs"] =
        serde_json::json!({ "requests": "out/requests.csv", "timeseries": "out/ts.csv" });
    std::fs::write(s.path("run.json"), run.to_string()).unwrap();
    requests_csv(&s.path("out/requests.csv"));
    timeseries_csv(&s.path("out/ts.csv"));
    let out = s.run(&["report", "run.json", "--svg", "figs", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    let html = read(&s.path("run.html"));
    for title in [
        "TTFT CDF",
        "E2E latency CDF",
        "Running requests over time",
        "Waiting requests over time",
        "KV cache utilisation over time",
    ] {
        assert!(html.contains(title), "no chart {title}");
    }
    assert!(s.path("figs/cdf-ttft_ms.svg").is_file());
    assert!(s.path("figs/timeseries-kv_cache_util.svg").is_file());
}

#[test]
fn a_sweep_with_per_run_requests_draws_the_best_point() {
    let s = Scratch::new("html-report", "partitions");
    sweep(&s);
    let runs = read_parquet(&s.path("results/rep/runs.parquet"));
    for id in common::sweep::column_str(&runs, "run_id") {
        requests_csv(&s.path(&format!("results/rep/requests/run_id={id}/part-0.csv")));
        timeseries_csv(&s.path(&format!("results/rep/timeseries/run_id={id}/part-0.csv")));
    }
    let out = s.run(&["report", "results/rep", "--png", "pngs", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    let html = read(&s.path("results/rep/report.html"));
    assert!(html.contains("Best point&#39;s requests and time series"));
    assert!(html.contains("TTFT CDF (run "));
    assert!(html.contains("Running requests over time (run "));
    let png = std::fs::read(s.path("pngs/best-cdf-ttft_ms.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn request_classes_get_their_section() {
    let s = Scratch::new("html-report", "classes");
    let classes = "\n[[workload.classes]]\nname = \"chat\"\nfraction = 0.6\n\n\
                   [[workload.classes]]\nname = \"batch\"\nfraction = 0.4\n";
    let base = std::fs::read_to_string(common::sweep::TINY).unwrap() + classes;
    std::fs::write(s.path("classy.toml"), base).unwrap();
    std::fs::write(
        s.path("spec.toml"),
        "name = \"classy\"\nbase = \"classy.toml\"\nseeds = 2\n\
         [axes]\nworkload.arrival_rate = [10.0, 30.0]\n",
    )
    .unwrap();
    let out = s.run(&["sweep", "spec.toml", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = s.run(&["report", "results/classy", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    let html = read(&s.path("results/classy/report.html"));
    assert!(html.contains("Request classes"));
    assert!(html.contains("per class"), "no per-class chart");
    let table = read_parquet(&s.path("results/classy/classes_summary.parquet"));
    let rows = embedded(&html, "classes-summary-data");
    assert_eq!(rows.as_array().unwrap().len(), table.height());
}
