//! Building every table of a results folder from the records, streaming.
//!
//! The runs go by in grid order, a point at a time (a point's runs are adjacent): each run's
//! record is read (from its journal line, see records.rs), added to the current piece of the
//! runs table, and dropped once the piece is written; each point's statistics become a
//! summary and summary_long row, its paired comparisons (with `[compare]`) comparison rows,
//! and its objectives' means a candidate for the answer. Memory holds one piece of each
//! table, the records of the baseline points (which every other point is paired with), and
//! the journal index: it grows with the points that must be remembered, not with every run
//! the journals hold.

use std::collections::{HashMap, HashSet};

use super::capacity::{self, CapacityRow, SearchResult};
use super::compare::{self, Comparison};
use super::grid::Grid;
use super::journal::RunRecord;
use super::metric_row::MetricRow;
use super::records::Records;
use super::report::{Objective, Tally};
use super::tables::{self, AxisKind, Formats, PointSummary, SummaryChunk, TableWriter};
use super::{folder, SweepSpec};
use crate::Result;
use rayon::prelude::*;

/// Runs per piece of the runs table.
const RUN_PIECE: usize = 4096;
/// Points per piece of the summary tables.
const POINT_PIECE: usize = 512;

/// Writes the tables of `dir` and returns the sweep's answer: the objectives' best points,
/// or for a capacity search (`searches`, every search of the grid) the capacity rows.
pub(super) fn write_tables(
    dir: &std::path::Path,
    spec: &SweepSpec,
    grid: &Grid,
    records: &dyn Records,
    searches: Option<&[SearchResult]>,
    formats: Formats,
) -> Result<(Vec<Objective>, Vec<CapacityRow>)> {
    folder::remove_stale_tables(dir, formats)?;
    let Some(results) = searches else {
        // A spec that no longer searches leaves no capacity table of an earlier grid behind.
        folder::remove_table(dir, "capacity")?;
        if spec.compare.is_none() {
            // Nor one that no longer compares a comparisons table.
            folder::remove_table(dir, "comparisons")?;
        }
        let tally = stream(dir, spec, grid, records, spec.compare.as_deref(), formats)?;
        return Ok((tally.answer(), Vec::new()));
    };
    // A search's runs and summary tables hold its probes. Probes of different points share
    // no values, so the comparison is of capacities, in the capacity table.
    folder::remove_table(dir, "comparisons")?;
    let probes = capacity::probe_grid(grid, results);
    stream(dir, spec, &probes, records, None, formats)?;
    let baselines = spec
        .compare
        .as_ref()
        .map(|baseline| compare::baseline_points(grid, &spec.axes, baseline));
    let rows = capacity::rows(grid, results, baselines.as_deref());
    let mut table = capacity::capacity_frame(grid, &rows, spec.compare.is_some())?;
    tables::write(dir, "capacity", &mut table, formats)?;
    Ok((Vec::new(), rows))
}

/// A point read and described: its records, statistics and comparison rows.
type DescribedPoint = (
    Vec<Option<RunRecord>>,
    PointSummary,
    Option<Vec<Comparison>>,
);

/// A point's runs as comparisons pair them: (seed, metrics of a successful run), for the runs
/// `runs` of the grid whose records are `records`.
fn seed_rows<'a>(
    grid: &Grid,
    runs: std::ops::Range<usize>,
    records: &'a [Option<RunRecord>],
) -> Vec<(u64, Option<&'a MetricRow>)> {
    runs.zip(records)
        .map(|(i, r)| {
            let ok = r.as_ref().filter(|r| r.is_ok());
            (grid.runs[i].seed, ok.map(|r| &r.metrics))
        })
        .collect()
}

/// Streams the runs into runs, summary, summary_long and (with `baseline`) comparisons.
fn stream(
    dir: &std::path::Path,
    spec: &SweepSpec,
    grid: &Grid,
    records: &dyn Records,
    baseline: Option<&[(String, toml::Value)]>,
    formats: Formats,
) -> Result<Tally> {
    let kinds = AxisKind::of_grid(grid);
    let read = |range: std::ops::Range<usize>| -> Vec<Option<RunRecord>> {
        grid.runs[range]
            .iter()
            .map(|r| records.record(&r.run_id).map(|c| c.into_owned()))
            .collect()
    };
    // Each point's range of runs (adjacent by construction).
    let mut spans: Vec<std::ops::Range<usize>> = Vec::with_capacity(grid.points);
    for (i, run) in grid.runs.iter().enumerate() {
        match spans.last_mut() {
            Some(span) if grid.runs[span.start].point == run.point => span.end = i + 1,
            _ => spans.push(i..i + 1),
        }
    }
    // The baseline points' runs, read once: every other point is paired with them.
    let (baselines, cached) = match baseline {
        Some(b) => {
            let baselines = compare::baseline_points(grid, &spec.axes, b);
            let needed: HashSet<usize> = baselines.iter().flatten().copied().collect();
            let cached: HashMap<usize, (std::ops::Range<usize>, Vec<Option<RunRecord>>)> = spans
                .iter()
                .filter(|s| needed.contains(&grid.runs[s.start].point))
                .map(|s| (grid.runs[s.start].point, (s.clone(), read(s.clone()))))
                .collect();
            (baselines, cached)
        }
        None => (Vec::new(), HashMap::new()),
    };
    let is_baseline = baseline.map(|b| compare::baseline_test(grid, b));

    // Pieces of about RUN_PIECE runs, whole points each.
    let mut pieces: Vec<&[std::ops::Range<usize>]> = Vec::new();
    let mut rest = &spans[..];
    while !rest.is_empty() {
        let mut runs = 0;
        let take = rest
            .iter()
            .take_while(|s| {
                let fits = runs < RUN_PIECE;
                runs += s.len();
                fits
            })
            .count();
        pieces.push(&rest[..take]);
        rest = &rest[take..];
    }
    let mut tally = Tally::new(&spec.report);
    // Stages, overlapped: this thread reads each piece's records and describes its points
    // (in parallel), and a writer thread per table turns earlier pieces into its rows.
    std::thread::scope(|scope| -> Result<()> {
        let kinds = &kinds;
        let writer = |table: Table| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(2);
            let handle = scope.spawn(move || write_pieces(dir, grid, kinds, table, formats, rx));
            (tx, handle)
        };
        let (runs_tx, runs_writer) = writer(Table::Runs);
        let (summary_tx, summary_writer) = writer(Table::Summary);
        let comparisons = baseline.map(|_| writer(Table::Comparisons));
        let mut summary = SummaryChunk::default();
        let mut pending_rows: Vec<Comparison> = Vec::new();
        for piece in pieces {
            let done: Vec<DescribedPoint> = piece
                .par_iter()
                .map(|span| {
                    let recs = read(span.clone());
                    let refs: Vec<Option<&RunRecord>> = recs.iter().map(Option::as_ref).collect();
                    let point = PointSummary::of(&refs);
                    let rows = match &is_baseline {
                        Some(is_base) if !is_base(&grid.runs[span.start]) => {
                            let id = grid.runs[span.start].point;
                            let base = baselines[id]
                                .and_then(|b| cached.get(&b))
                                .map(|(runs, recs)| seed_rows(grid, runs.clone(), recs))
                                .unwrap_or_default();
                            let own = seed_rows(grid, span.clone(), &recs);
                            Some(compare::point_rows(span.start, &own, &base))
                        }
                        _ => None,
                    };
                    (recs, point, rows)
                })
                .collect();
            let mut runs = Vec::new();
            let mut records = Vec::new();
            for (span, (recs, point, rows)) in piece.iter().zip(done) {
                tally.add(span.start, &point.stats, rows.as_deref());
                summary.push(span.start, point);
                pending_rows.extend(rows.into_iter().flatten());
                runs.extend(span.clone());
                records.extend(recs);
            }
            // A closed channel means its writer stopped on an error: it is returned below.
            let mut sent = runs_tx.send(Piece::Runs(runs, records)).is_ok();
            if summary.len() >= POINT_PIECE {
                sent &= summary_tx
                    .send(Piece::Summary(std::mem::take(&mut summary)))
                    .is_ok();
            }
            if let (Some((tx, _)), true) = (&comparisons, pending_rows.len() >= RUN_PIECE) {
                sent &= tx
                    .send(Piece::Comparisons(std::mem::take(&mut pending_rows)))
                    .is_ok();
            }
            if !sent {
                break;
            }
        }
        let _ = summary_tx.send(Piece::Summary(summary));
        drop((runs_tx, summary_tx));
        let mut results = vec![runs_writer.join(), summary_writer.join()];
        if let Some((tx, handle)) = comparisons {
            let _ = tx.send(Piece::Comparisons(pending_rows));
            drop(tx);
            results.push(handle.join());
        }
        results
            .into_iter()
            .try_for_each(|r| r.expect("table writers do not panic"))
    })?;
    Ok(tally)
}

/// A piece of the tables, from the reading stage to the writing one.
enum Piece {
    Runs(Vec<usize>, Vec<Option<RunRecord>>),
    Summary(SummaryChunk),
    Comparisons(Vec<Comparison>),
}

/// Which table (or pair of tables) a writer thread writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Runs,
    /// summary and summary_long.
    Summary,
    Comparisons,
}

/// A writing stage: every piece received, in order, into its table; then the table is
/// completed (a table with no rows still gets its columns).
fn write_pieces(
    dir: &std::path::Path,
    grid: &Grid,
    kinds: &[AxisKind],
    table: Table,
    formats: Formats,
    pieces: std::sync::mpsc::Receiver<Piece>,
) -> Result<()> {
    let create = |stem: &str| TableWriter::create(dir, stem, formats);
    // The runs' writer also writes the classes tables, when some run has classes.
    let mut classes_out = match table {
        Table::Runs => Some((create("classes")?, create("classes_summary")?)),
        _ => None,
    };
    let (mut out, mut long_out) = match table {
        Table::Runs => (create("runs")?, None),
        Table::Summary => (create("summary")?, Some(create("summary_long")?)),
        Table::Comparisons => (create("comparisons")?, None),
    };
    for piece in pieces {
        match piece {
            Piece::Runs(runs, records) => {
                let refs: Vec<Option<&RunRecord>> = records.iter().map(Option::as_ref).collect();
                out.write(&mut tables::runs_frame(grid, kinds, &runs, &refs)?)?;
                if let Some((per_run, per_point)) = &mut classes_out {
                    if let Some((mut a, mut b)) = tables::classes_frames(grid, kinds, &runs, &refs)?
                    {
                        per_run.write(&mut a)?;
                        per_point.write(&mut b)?;
                    }
                }
            }
            Piece::Summary(mut chunk) => {
                if chunk.is_empty() && !out.is_empty() {
                    continue;
                }
                let (mut wide, mut long) = chunk.take_frames(grid, kinds)?;
                out.write(&mut wide)?;
                if let Some(long_out) = &mut long_out {
                    long_out.write(&mut long)?;
                }
            }
            Piece::Comparisons(rows) => {
                if rows.is_empty() && !out.is_empty() {
                    continue;
                }
                out.write(&mut tables::comparisons_frame(grid, kinds, &rows)?)?;
            }
        }
    }
    out.finish()?;
    if let Some(long_out) = long_out {
        long_out.finish()?;
    }
    if let Some((per_run, per_point)) = classes_out {
        if per_run.is_empty() {
            // No classes: none of an earlier grid's are left behind either.
            folder::remove_table(dir, "classes")?;
            folder::remove_table(dir, "classes_summary")?;
        } else {
            per_run.finish()?;
            per_point.finish()?;
        }
    }
    Ok(())
}
