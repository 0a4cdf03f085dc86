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

/// A point's runs as comparisons pair them: (seed, metrics of a successful run).
type SeedRows = Vec<(u64, Option<MetricRow>)>;

fn seed_rows(grid: &Grid, runs: std::ops::Range<usize>, records: &[Option<RunRecord>]) -> SeedRows {
    runs.zip(records)
        .map(|(i, r)| {
            let ok = r.as_ref().filter(|r| r.is_ok());
            (grid.runs[i].seed, ok.map(|r| r.metrics.clone()))
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
            let cached: HashMap<usize, SeedRows> = spans
                .iter()
                .filter(|s| needed.contains(&grid.runs[s.start].point))
                .map(|s| {
                    let rows = seed_rows(grid, s.clone(), &read(s.clone()));
                    (grid.runs[s.start].point, rows)
                })
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
    // Two stages, overlapped: this thread reads each piece's records and describes its
    // points (in parallel), a writer thread turns the previous piece into rows of the tables.
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(2);
        let kinds = &kinds;
        let writer =
            scope.spawn(move || write_pieces(dir, grid, kinds, baseline.is_some(), formats, rx));
        let mut summary = SummaryChunk::default();
        let mut comparisons: Vec<Comparison> = Vec::new();
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
                            let base = baselines[id].and_then(|b| cached.get(&b));
                            let own: Vec<(u64, Option<&MetricRow>)> = span
                                .clone()
                                .zip(&recs)
                                .map(|(i, r)| {
                                    let ok = r.as_ref().filter(|r| r.is_ok());
                                    (grid.runs[i].seed, ok.map(|r| &r.metrics))
                                })
                                .collect();
                            let base = base.map_or(&[][..], Vec::as_slice);
                            Some(compare::point_rows(span.start, &own, base))
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
                comparisons.extend(rows.into_iter().flatten());
                runs.extend(span.clone());
                records.extend(recs);
            }
            let mut pending = vec![Piece::Runs(runs, records)];
            if summary.len() >= POINT_PIECE {
                pending.push(Piece::Summary(std::mem::take(&mut summary)));
            }
            if comparisons.len() >= RUN_PIECE {
                pending.push(Piece::Comparisons(std::mem::take(&mut comparisons)));
            }
            // A closed channel means the writer stopped on an error: it is returned below.
            if pending.into_iter().any(|p| tx.send(p).is_err()) {
                break;
            }
        }
        let _ = tx.send(Piece::Summary(summary));
        let _ = tx.send(Piece::Comparisons(comparisons));
        drop(tx);
        writer.join().expect("the table writer does not panic")
    })?;
    Ok(tally)
}

/// A piece of the tables, from the reading stage to the writing one.
enum Piece {
    Runs(Vec<usize>, Vec<Option<RunRecord>>),
    Summary(SummaryChunk),
    Comparisons(Vec<Comparison>),
}

/// The writing stage: every piece received, in order, into its table; then the tables are
/// completed (a table with no rows still gets its columns).
fn write_pieces(
    dir: &std::path::Path,
    grid: &Grid,
    kinds: &[AxisKind],
    compare: bool,
    formats: Formats,
    pieces: std::sync::mpsc::Receiver<Piece>,
) -> Result<()> {
    let mut runs_out = TableWriter::create(dir, "runs", formats)?;
    let mut summary_out = TableWriter::create(dir, "summary", formats)?;
    let mut long_out = TableWriter::create(dir, "summary_long", formats)?;
    let mut comparisons_out = match compare {
        true => Some(TableWriter::create(dir, "comparisons", formats)?),
        false => None,
    };
    for piece in pieces {
        match piece {
            Piece::Runs(runs, records) => {
                let refs: Vec<Option<&RunRecord>> = records.iter().map(Option::as_ref).collect();
                runs_out.write(&mut tables::runs_frame(grid, kinds, &runs, &refs)?)?;
            }
            Piece::Summary(mut chunk) => {
                if chunk.is_empty() && !summary_out.is_empty() {
                    continue;
                }
                let (mut wide, mut long) = chunk.take_frames(grid, kinds)?;
                summary_out.write(&mut wide)?;
                long_out.write(&mut long)?;
            }
            Piece::Comparisons(rows) => {
                let Some(out) = &mut comparisons_out else {
                    continue;
                };
                if rows.is_empty() && !out.is_empty() {
                    continue;
                }
                out.write(&mut tables::comparisons_frame(grid, kinds, &rows)?)?;
            }
        }
    }
    runs_out.finish()?;
    summary_out.finish()?;
    long_out.finish()?;
    if let Some(out) = comparisons_out {
        out.finish()?;
    }
    Ok(())
}
