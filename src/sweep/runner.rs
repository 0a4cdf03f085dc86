//! Running a grid: a rayon pool of workers pulling runs longest-first, each run an independent
//! simulation; results come back to the calling thread, which journals them as they finish.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use std::sync::Arc;

use super::grid::{Grid, RunPoint};
use super::journal::{ClassRecord, JournalWriter, RunRecord};
use super::metric_row::MetricRow;
use super::spec::Outputs;
use crate::records::{Recorders, RequestLog, TimeSeries};
use crate::workload::dataset::Dataset;
use crate::workload::DatasetKey;
use crate::{Error, Result, Simulator};

/// Datasets loaded once for a sweep, shared by every run that replays the same file with the
/// same tokenizer, template, max_seq_len and block size. A dataset that fails to load is its
/// error: the runs that replay it become error rows, the others still run.
pub type Datasets = HashMap<DatasetKey, std::result::Result<Arc<Dataset>, String>>;

/// Loads every dataset that the runs `todo` replay, each once (as many requests as the
/// largest of those runs needs).
pub fn load_datasets(grid: &Grid, todo: &[usize]) -> Datasets {
    load_datasets_of(todo.iter().map(|&i| &grid.runs[i]))
}

/// Loads every dataset that `runs` replay, each once (as many requests as the largest of
/// those runs needs).
pub fn load_datasets_of<'a>(runs: impl IntoIterator<Item = &'a RunPoint>) -> Datasets {
    let mut limits: HashMap<DatasetKey, Option<u64>> = HashMap::new();
    for run in runs {
        let Ok(config) = &run.config else {
            continue;
        };
        // A config without tokenizer or template fails in its own run, with that message.
        let Ok(Some(key)) = DatasetKey::of(config) else {
            continue;
        };
        let want = config.workload.num_requests;
        limits
            .entry(key)
            .and_modify(|l| *l = l.zip(want).map(|(a, b)| a.max(b)))
            .or_insert(want);
    }
    let mut keys: Vec<_> = limits.into_iter().collect();
    keys.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    keys.into_iter()
        .map(|(key, limit)| {
            let loaded = catch_unwind(AssertUnwindSafe(|| key.load(limit)));
            let dataset = match loaded {
                Ok(Ok(dataset)) => Ok(Arc::new(dataset)),
                Ok(Err(e)) => Err(e.to_string()),
                Err(payload) => Err(format!("panic: {}", panic_message(payload.as_ref()))),
            };
            (key, dataset)
        })
        .collect()
}

/// Where a sweep stands, reported after every finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepProgress {
    /// Runs finished in this invocation.
    pub done: usize,
    /// Runs to do in this invocation (the grid minus what the journal already has).
    pub total: usize,
    pub failed: usize,
}

/// Where the runs of a sweep with `[outputs]` write their records: the results folder.
#[derive(Debug, Clone, Copy)]
pub struct RecordsPlan<'a> {
    pub dir: &'a std::path::Path,
    pub outputs: Outputs,
}

impl RecordsPlan<'_> {
    /// The records of `run`, their files (`<table>/run_id=<id>/part-0.parquet`) made ready.
    fn recorders(&self, run_id: &str, classes: &[String]) -> Result<Recorders> {
        let file = |table: &str| -> Result<Box<dyn crate::records::RowSink>> {
            let folder = self.dir.join(table).join(format!("run_id={run_id}"));
            std::fs::create_dir_all(&folder)
                .map_err(|e| Error::new(format!("cannot create {}: {e}", folder.display())))?;
            crate::records::open(&folder.join("part-0.parquet"))
        };
        let mut recorders = Recorders::default();
        if self.outputs.requests {
            recorders.requests = Some(RequestLog::new(file("requests")?, classes.to_vec()));
        }
        if self.outputs.timeseries {
            recorders.timeseries =
                Some(TimeSeries::new(self.outputs.interval, file("timeseries")?));
        }
        Ok(recorders)
    }
}

/// What every run of a sweep reads and where it writes: the loaded datasets, and with
/// `[outputs]` the plan of its records.
#[derive(Clone, Copy)]
pub struct RunEnv<'a> {
    pub datasets: &'a Datasets,
    pub outputs: Option<&'a RecordsPlan<'a>>,
}

/// Runs one grid point to a record, turning errors and panics into error records; with
/// `plan`, the run also writes its records.
pub fn run_one(
    run: &RunPoint,
    params: serde_json::Map<String, serde_json::Value>,
    env: RunEnv,
) -> RunRecord {
    let (datasets, plan) = (env.datasets, env.outputs);
    let start = Instant::now();
    let simulate = |config: &crate::Config| {
        let dataset = match DatasetKey::of(config)?.map(|key| datasets.get(&key)) {
            Some(Some(Err(msg))) => return Err(Error::new(msg.clone())),
            Some(Some(Ok(dataset))) => Some(dataset.clone()),
            Some(None) | None => None,
        };
        let simulator = Simulator::with_dataset(config, dataset)?;
        match plan.filter(|p| p.outputs.any()) {
            Some(plan) => {
                let recorders = plan.recorders(&run.run_id, simulator.class_names())?;
                simulator.with_recorders(recorders).run()
            }
            None => simulator.run(),
        }
    };
    let result = match &run.config {
        Err(msg) => Err(msg.clone()),
        Ok(config) => match catch_unwind(AssertUnwindSafe(|| simulate(config))) {
            Ok(Ok(summary)) => Ok(summary),
            Ok(Err(e)) => Err(e.to_string()),
            Err(payload) => Err(format!("panic: {}", panic_message(payload.as_ref()))),
        },
    };
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    let (status, error, metrics) = match result {
        Ok(summary) => (
            "ok",
            None,
            (
                MetricRow::of(&summary),
                labels_of(&summary),
                summary.classes.iter().map(ClassRecord::of).collect(),
            ),
        ),
        // The first line names the problem; the row and the CLI's list stay one line each.
        Err(msg) => (
            "error",
            Some(msg.lines().next().unwrap_or("").to_string()),
            (MetricRow::default(), Default::default(), Vec::new()),
        ),
    };
    let (metrics, labels, classes) = metrics;
    RunRecord {
        run_id: run.run_id.clone(),
        status: status.to_string(),
        error,
        wall_ms,
        seed: run.seed,
        params,
        metrics,
        labels,
        classes,
    }
}

/// The run's text-valued fields that are set (the load verdict), by name.
fn labels_of(summary: &crate::RunSummary) -> std::collections::BTreeMap<String, String> {
    summary
        .labels()
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_string(), value?.to_string())))
        .collect()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Axis column -> value as JSON, for a run's journal record.
pub fn params_json(grid: &Grid, run: &RunPoint) -> serde_json::Map<String, serde_json::Value> {
    grid.columns
        .iter()
        .zip(&run.params)
        .map(|(c, v)| (c.clone(), serde_json::to_value(v).unwrap_or_default()))
        .collect()
}

/// A pool of at most `threads` workers for `jobs` jobs (no more workers than jobs: each idle
/// one would only cost a thread), named `<name>-<i>`; returns it with its size.
pub(super) fn worker_pool(
    threads: usize,
    jobs: usize,
    name: &'static str,
) -> Result<(rayon::ThreadPool, usize)> {
    let threads = threads.min(jobs).max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .map_err(|e| Error::new(format!("cannot start {threads} worker threads: {e}")))?;
    Ok((pool, threads))
}

/// Runs `todo` (indices into `grid.runs`) on `threads` workers, journaling each record as it
/// arrives (and keeping none: the tables read them back from the journal). Returns how many
/// ran.
pub fn execute(
    grid: &Grid,
    todo: &[usize],
    threads: usize,
    env: RunEnv,
    journal: &mut JournalWriter,
    mut progress: impl FnMut(&SweepProgress),
) -> Result<usize> {
    // Longest expected first, so no long run starts last and leaves cores idle at the end.
    let mut order = todo.to_vec();
    order.sort_by(|&a, &b| {
        grid.runs[b]
            .cost
            .total_cmp(&grid.runs[a].cost)
            .then(a.cmp(&b))
    });
    let (pool, threads) = worker_pool(threads, order.len(), "sweep")?;
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<RunRecord>();
    let mut state = SweepProgress {
        done: 0,
        total: order.len(),
        failed: 0,
    };
    let mut journal_error = None;
    std::thread::scope(|s| {
        let order = &order;
        let next = &next;
        s.spawn(move || {
            pool.scope(|ps| {
                for _ in 0..threads {
                    let tx = tx.clone();
                    ps.spawn(move |_| loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&index) = order.get(i) else { break };
                        let run = &grid.runs[index];
                        let record = run_one(run, params_json(grid, run), env);
                        if tx.send(record).is_err() {
                            break;
                        }
                    });
                }
                drop(tx);
            });
        });
        for record in rx.iter() {
            state.done += 1;
            if !record.is_ok() {
                state.failed += 1;
            }
            if journal_error.is_none() {
                if let Err(e) = journal.append(&record) {
                    // Stop handing out work; finished runs already journaled are kept.
                    next.store(usize::MAX / 2, Ordering::Relaxed);
                    journal_error = Some(e);
                }
            }
            progress(&state);
        }
    });
    match journal_error {
        Some(e) => Err(e),
        None => Ok(state.done),
    }
}
