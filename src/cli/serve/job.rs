//! One web run on a worker: the CLI's simulation of the config, watched between steps for
//! Stop and paced to the chosen speed, its progress and time series streamed to the page,
//! and at the end the CLI's own JSON document.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use inference_lab::fleet::Progress;
use inference_lab::records::{Recorders, TimeSeries};
use inference_lab::Simulator;

use super::live::{self, FrameSink, SampleWatch, Samples};
use super::runs::{Job, Run};

/// Steps between two looks at the run (its stop flag, its pace, its progress).
const WATCH_STEPS: u64 = 8;
/// The least wall time between two progress events.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// The most time-series rows a run keeps and a page is sent (live and in the result); past
/// that the series is dropped and the page told to choose a longer interval.
pub const MAX_POINTS: usize = 20_000;

pub fn execute(run: &Run) {
    let Some(job) = run.take_job() else { return };
    if run.cancelled() {
        return run.finish("cancelled", &json!({ "now": 0.0, "completed": 0 }));
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| simulate(run, &job)));
    match outcome {
        Ok(Ok(Some(result))) => run.finish("result", &result),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => run.finish("error", &json!({ "message": format!("{e:#}") })),
        Err(_) => run.finish(
            "error",
            &json!({ "message": "the simulation failed (an internal error): please report it" }),
        ),
    }
}

/// The result event's data, or `None` when the run was stopped (its `cancelled` event sent).
fn simulate(run: &Run, job: &Job) -> anyhow::Result<Option<Value>> {
    let started = Instant::now();
    let simulator = Simulator::new(&job.config)?;
    let samples = Arc::new(Mutex::new(Samples::default()));
    let frame = Arc::new(Mutex::new(None));
    let recorders = Recorders {
        watcher: Some(Box::new(SampleWatch(Arc::clone(&samples)))),
        timeseries: Some(
            TimeSeries::new(job.interval, Box::new(FrameSink(Arc::clone(&frame))))
                .with_max_intervals(MAX_POINTS),
        ),
        ..Recorders::default()
    };
    run.emit("started", &json!({ "total": simulator.progress().total }));
    let mut last_progress: Option<Instant> = None;
    let mut too_many = false;
    let mut last = None;
    let summary = simulator
        .with_recorders(recorders)
        .run_watched(WATCH_STEPS, |p, records| {
            last = Some(*p);
            if run.cancelled() {
                return ControlFlow::Break(());
            }
            // A series longer than the page is sent is dropped; the run goes on without it.
            if records
                .timeseries
                .as_ref()
                .is_some_and(TimeSeries::overflowed)
            {
                records.timeseries = None;
                too_many = true;
            }
            if last_progress.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
                last_progress = Some(Instant::now());
                run.emit_progress(&progress_json(p, started));
                if let Some(series) = records.timeseries.as_mut() {
                    if let Ok(Some(rows)) = series.settled(p.settled, p.replicas) {
                        run.emit("points", &json!({ "rows": live::rows(&rows) }));
                    }
                }
            }
            pace(run, job.speed, p.now, started)
        })?;
    let Some(summary) = summary else {
        let (now, completed) = last.map_or((0.0, 0), |p| (p.now, p.completed));
        run.finish("cancelled", &json!({ "now": now, "completed": completed }));
        return Ok(None);
    };
    let doc = super::super::report::json_document(&job.config, &summary)?;
    let json_text = serde_json::to_string_pretty(&doc)? + "\n";
    let frame = frame.lock().expect("no panic holds the frame").take();
    let series = match (too_many, frame.as_ref()) {
        (false, Some(frame)) => json!({ "interval_s": job.interval, "rows": live::rows(frame) }),
        _ => json!({ "interval_s": job.interval, "rows": [], "too_many": MAX_POINTS }),
    };
    let histograms = samples
        .lock()
        .expect("no panic holds the samples")
        .histograms();
    Ok(Some(json!({
        "json": doc,
        "json_text": json_text,
        "toml": job.toml,
        "timeseries": series,
        "histograms": histograms,
        "warnings": job.config.warnings(),
        "wall_s": started.elapsed().as_secs_f64(),
    })))
}

fn progress_json(p: &Progress, started: Instant) -> Value {
    json!({
        "now": p.now,
        "completed": p.completed,
        "total": p.total,
        "running": p.running,
        "waiting": p.waiting,
        "kv_cache_util": p.kv_cache_util,
        "steps": p.steps,
        "wall_s": started.elapsed().as_secs_f64(),
    })
}

/// Holds the run back until wall time catches up with simulated time at `speed` (simulated
/// seconds per second), watching the stop flag meanwhile.
fn pace(run: &Run, speed: Option<f64>, now: f64, started: Instant) -> ControlFlow<()> {
    let Some(speed) = speed else {
        return ControlFlow::Continue(());
    };
    let due = Duration::from_secs_f64((now / speed).min(1e9));
    loop {
        if run.cancelled() {
            return ControlFlow::Break(());
        }
        let elapsed = started.elapsed();
        if elapsed >= due {
            return ControlFlow::Continue(());
        }
        std::thread::sleep((due - elapsed).min(Duration::from_millis(50)));
    }
}
