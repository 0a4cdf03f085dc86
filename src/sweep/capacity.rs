//! Running capacity searches (see [`super::search`]) and the capacity table.
//!
//! A search grid's runs are its searches, one per point and seed. Searches run in parallel on
//! the sweep's threads, each walking its probes one after another (a probe depends on the
//! last one's verdict). A probe whose run already has an ok record in a journal is not run
//! again; a new one is journaled by the calling thread as it finishes, like any run.
//!
//! capacity (one row per point, in grid order): <other axis columns>, model, hardware,
//!   searched (the axis path), n (seeds with a capacity found inside [lo, hi]), mean, std,
//!   ci_low, ci_high, min, max (of those seeds' capacities; the interval is Student-t 95%),
//!   below_lo, at_hi, failed (seeds whose search ended otherwise: even lo missed the SLO,
//!   even hi met it, a probe failed or has no record), runs (probes run for the point),
//!   seeds and per_seed (each seed's result in seed order, `<lo` and `>=hi` where it fell
//!   outside the range); with `[compare]`, the paired comparison of the capacities with the
//!   baseline point's, seed by seed: baseline_mean, diff_mean, diff_ci_low, diff_ci_high,
//!   rel_diff, p_value, wins, ties, losses (higher is better).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::grid::{Grid, RunPoint};
use super::journal::{JournalWriter, RunRecord};
use super::records::Records;
use super::runner::{params_json, run_one, RunEnv, SweepProgress};
use super::search::{bisect, Found, Probe, Walk};
use super::stats::{describe, paired, Described, Paired};
use crate::Result;

mod table;
pub use table::capacity_frame;

/// One finished search.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// The search's run in the grid (its point and seed).
    pub template: usize,
    pub walk: Walk,
    /// The probes' runs, in the order they ran.
    pub runs: Vec<RunPoint>,
}

/// What a probe's record says about the SLO.
fn verdict(record: Option<&RunRecord>) -> Probe {
    let Some(record) = record else {
        return Probe::Missing;
    };
    if !record.is_ok() {
        return Probe::Failed(record.error.clone().unwrap_or_default());
    }
    match record.metrics.get("slo_met") {
        Some(x) if x >= 1.0 => Probe::Met,
        Some(_) => Probe::Missed,
        None => Probe::Failed("the run has no SLO verdict (slo_met is null)".into()),
    }
}

/// Walks the searches `todo` (indices into `grid.runs`) over the records alone, running
/// nothing: how `sweep merge` rebuilds a search from its journals.
pub fn replay(grid: &Grid, todo: &[usize], records: &dyn Records) -> Vec<SearchResult> {
    let search = &grid.search.as_ref().expect("a search grid").search;
    todo.iter()
        .map(|&template| {
            let mut runs = Vec::new();
            let walk = bisect(search, |x| {
                let run = grid.probe(template, x);
                let outcome = verdict(records.record(&run.run_id).as_deref());
                runs.push(run);
                outcome
            });
            SearchResult {
                template,
                walk,
                runs,
            }
        })
        .collect()
}

enum Message {
    /// A probe ran: journal it.
    Ran(RunRecord),
    /// A probe's ok record was already in a journal.
    Reused,
    Done(SearchResult),
}

/// What [`execute`] did.
pub struct Executed {
    /// Every search of `todo`, in its order.
    pub results: Vec<SearchResult>,
    /// Probes run now (journaled, not kept).
    pub ran: usize,
    /// Probes answered by a journal.
    pub reused: usize,
}

/// Runs the searches `todo` (indices into `grid.runs`) on `threads` workers, journaling each
/// new probe as it finishes. `records` are the journals' records: an ok one answers its probe.
/// Progress counts probes, against the most the searches can take (lowered as each ends).
pub fn execute(
    grid: &Grid,
    todo: &[usize],
    threads: usize,
    env: RunEnv,
    records: &dyn Records,
    journal: &mut JournalWriter,
    mut progress: impl FnMut(&SweepProgress),
) -> Result<Executed> {
    let search = &grid.search.as_ref().expect("a search grid").search;
    let (pool, threads) = super::runner::worker_pool(threads, todo.len(), "search")?;
    let next = AtomicUsize::new(0);
    // Set when the journal cannot be written: searches under way stop at their next probe.
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Message>();
    let mut state = SweepProgress {
        done: 0,
        total: todo.len() * search.max_probes(),
        failed: 0,
    };
    let mut executed = Executed {
        results: Vec::with_capacity(todo.len()),
        ran: 0,
        reused: 0,
    };
    let mut journal_error = None;
    std::thread::scope(|s| {
        let (next, stop) = (&next, &stop);
        s.spawn(move || {
            pool.scope(|ps| {
                for _ in 0..threads {
                    let tx = tx.clone();
                    ps.spawn(move |_| loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&template) = todo.get(i) else { break };
                        let mut runs = Vec::new();
                        let walk = bisect(search, |x| {
                            if stop.load(Ordering::Relaxed) {
                                return Probe::Missing;
                            }
                            let run = grid.probe(template, x);
                            let known = records
                                .is_ok(&run.run_id)
                                .then(|| records.record(&run.run_id))
                                .flatten();
                            let outcome = match known {
                                Some(record) => {
                                    let _ = tx.send(Message::Reused);
                                    verdict(Some(&record))
                                }
                                None => {
                                    let record = run_one(&run, params_json(grid, &run), env);
                                    let outcome = verdict(Some(&record));
                                    let _ = tx.send(Message::Ran(record));
                                    outcome
                                }
                            };
                            runs.push(run);
                            outcome
                        });
                        let result = SearchResult {
                            template,
                            walk,
                            runs,
                        };
                        if tx.send(Message::Done(result)).is_err() {
                            break;
                        }
                    });
                }
                drop(tx);
            });
        });
        for message in rx.iter() {
            match message {
                Message::Ran(record) => {
                    state.done += 1;
                    if journal_error.is_none() {
                        if let Err(e) = journal.append(&record) {
                            next.store(usize::MAX / 2, Ordering::Relaxed);
                            stop.store(true, Ordering::Relaxed);
                            journal_error = Some(e);
                        }
                    }
                    executed.ran += 1;
                }
                Message::Reused => {
                    state.done += 1;
                    executed.reused += 1;
                }
                Message::Done(result) => {
                    let unused = search.max_probes().saturating_sub(result.walk.probes.len());
                    state.total = state.total.saturating_sub(unused);
                    if matches!(result.walk.found, Found::Failed(_)) {
                        state.failed += 1;
                    }
                    executed.results.push(result);
                }
            }
            progress(&state);
        }
    });
    if let Some(e) = journal_error {
        return Err(e);
    }
    let order: HashMap<usize, usize> = todo.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    executed.results.sort_by_key(|r| order[&r.template]);
    Ok(executed)
}

/// The grid of every probe the searches ran, for the runs and summary tables: each probe is a
/// run, and each (point, value) a point, so the summary shows each probed value with the
/// seeds that probed it. Points are ordered by the search's point, then value; a point's runs
/// by seed.
pub fn probe_grid(grid: &Grid, results: &[SearchResult]) -> Grid {
    let column = grid.search.as_ref().expect("a search grid").column;
    let value_of = |run: &RunPoint| {
        let v = &run.params[column];
        v.as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .unwrap_or(f64::NAN)
    };
    let mut probes: Vec<(usize, f64, usize, RunPoint)> = results
        .iter()
        .flat_map(|r| {
            r.runs
                .iter()
                .map(move |run| (run.point, value_of(run), r.template, run.clone()))
        })
        .collect();
    probes.sort_by(|a, b| {
        (a.0, a.1, a.2)
            .partial_cmp(&(b.0, b.1, b.2))
            .expect("no NaN")
    });
    let mut runs = Vec::with_capacity(probes.len());
    let mut points = 0;
    let mut last: Option<(usize, f64)> = None;
    for (index, (point, value, _, mut run)) in probes.into_iter().enumerate() {
        if last != Some((point, value)) {
            points += 1;
            last = Some((point, value));
        }
        run.index = index;
        run.point = points - 1;
        runs.push(run);
    }
    Grid {
        columns: grid.columns.clone(),
        runs,
        points,
        excluded: grid.excluded,
        search: None,
    }
}

/// One row of the capacity table.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityRow {
    /// The point's first search (its axis values are the row's).
    pub template: usize,
    /// (seed, result, probes) for each of the point's searches.
    pub seeds: Vec<(u64, Found, usize)>,
    /// The capacities of the seeds where one was found: how many, their mean, std, interval
    /// and range.
    pub capacity: Described,
    /// With `[compare]`, for a point that is not a baseline: the baseline's mean over the
    /// paired seeds and the paired test of the differences, with (wins, ties, losses).
    pub comparison: Option<CapacityComparison>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CapacityComparison {
    pub baseline_mean: Option<f64>,
    pub test: Option<Paired>,
    pub record: (u64, u64, u64),
}

impl CapacityRow {
    /// Seeds whose search ended with this status (see [`Found::status`]).
    pub fn count(&self, status: &str) -> u64 {
        self.seeds.iter().filter(|s| s.1.status() == status).count() as u64
    }
}

/// The capacity rows, one per point in grid order. `baselines` maps each point to its
/// baseline point (see compare.rs), when the spec compares.
pub fn rows(
    grid: &Grid,
    results: &[SearchResult],
    baselines: Option<&[Option<usize>]>,
) -> Vec<CapacityRow> {
    let mut by_point: Vec<Vec<&SearchResult>> = vec![Vec::new(); grid.points];
    for r in results {
        by_point[grid.runs[r.template].point].push(r);
    }
    let capacity_by_seed = |point: usize| -> HashMap<u64, f64> {
        by_point[point]
            .iter()
            .filter_map(|r| Some((grid.runs[r.template].seed, r.walk.found.capacity()?)))
            .collect()
    };
    let mut rows = Vec::new();
    for (point, searches) in by_point.iter().enumerate() {
        let Some(first) = searches.iter().map(|r| r.template).min() else {
            continue;
        };
        let mut seeds: Vec<(u64, Found, usize)> = searches
            .iter()
            .map(|r| {
                (
                    grid.runs[r.template].seed,
                    r.walk.found.clone(),
                    r.runs.len(),
                )
            })
            .collect();
        seeds.sort_by_key(|s| s.0);
        let found: Vec<f64> = seeds.iter().filter_map(|s| s.1.capacity()).collect();
        let described = describe(&found);
        let comparison = baselines.and_then(|b| b[point]).map(|baseline| {
            let base = capacity_by_seed(baseline);
            let pairs: Vec<(f64, f64)> = seeds
                .iter()
                .filter_map(|(seed, found, _)| Some((found.capacity()?, *base.get(seed)?)))
                .collect();
            let diffs: Vec<f64> = pairs.iter().map(|(x, b)| x - b).collect();
            let mut record = (0, 0, 0);
            for (x, b) in &pairs {
                match x.partial_cmp(b) {
                    Some(std::cmp::Ordering::Greater) => record.0 += 1,
                    Some(std::cmp::Ordering::Equal) => record.1 += 1,
                    _ => record.2 += 1,
                }
            }
            CapacityComparison {
                baseline_mean: (!pairs.is_empty())
                    .then(|| pairs.iter().map(|p| p.1).sum::<f64>() / pairs.len() as f64),
                test: paired(&diffs),
                record,
            }
        });
        rows.push(CapacityRow {
            template: first,
            capacity: described,
            seeds,
            comparison,
        });
    }
    rows
}

#[cfg(test)]
mod tests;
