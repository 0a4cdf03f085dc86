//! The capacity table as a polars frame (columns in capacity.rs's module doc).

use polars::prelude::*;
use toml::Value;

use super::CapacityRow;
use crate::sweep::grid::Grid;
use crate::sweep::search::Found;
use crate::sweep::tables::{axis_column, name_columns};
use crate::{Error, Result};

/// The capacity table of a search grid; `compare` adds the comparison columns (null on
/// baseline points).
pub fn capacity_frame(grid: &Grid, rows: &[CapacityRow], compare: bool) -> Result<DataFrame> {
    let plan = grid.search.as_ref().expect("a search grid");
    let search = &plan.search;
    let mut columns: Vec<Column> = Vec::new();
    for (i, name) in grid.columns.iter().enumerate() {
        if i == plan.column {
            continue;
        }
        let values: Vec<&Value> = rows
            .iter()
            .map(|r| &grid.runs[r.template].params[i])
            .collect();
        columns.push(axis_column(name, &values));
    }
    columns.extend(name_columns(grid, rows.iter().map(|r| r.template)));
    let float = |name: &str, get: &dyn Fn(&CapacityRow) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let count = |name: &str, get: &dyn Fn(&CapacityRow) -> u64| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    columns.push(Column::new(
        "searched".into(),
        vec![search.path.as_str(); rows.len()],
    ));
    columns.push(count("n", &|r| r.capacity.n));
    columns.push(float("mean", &|r| r.capacity.mean));
    columns.push(float("std", &|r| r.capacity.std));
    columns.push(float("ci_low", &|r| r.capacity.ci.map(|c| c.0)));
    columns.push(float("ci_high", &|r| r.capacity.ci.map(|c| c.1)));
    columns.push(float("min", &|r| r.capacity.min));
    columns.push(float("max", &|r| r.capacity.max));
    columns.push(count("below_lo", &|r| r.count("below_lo")));
    columns.push(count("at_hi", &|r| r.count("at_hi")));
    columns.push(count("failed", &|r| r.count("failed") + r.count("missing")));
    columns.push(count("runs", &|r| r.seeds.iter().map(|s| s.2 as u64).sum()));
    let number = |x: f64| {
        if search.integer {
            format!("{}", x as i64)
        } else {
            format!("{x}")
        }
    };
    let text = |f: &dyn Fn(&CapacityRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    columns.push(Column::new(
        "seeds".into(),
        text(&|r| {
            let seeds: Vec<String> = r.seeds.iter().map(|s| s.0.to_string()).collect();
            seeds.join(" ")
        }),
    ));
    columns.push(Column::new(
        "per_seed".into(),
        text(&|r| {
            let values: Vec<String> = r
                .seeds
                .iter()
                .map(|(_, found, _)| match found {
                    Found::Capacity { value, .. } => number(*value),
                    Found::BelowLo => format!("<{}", number(search.lo)),
                    Found::AtHi => format!(">={}", number(search.hi)),
                    other => other.status().to_string(),
                })
                .collect();
            values.join(" ")
        }),
    ));
    if compare {
        fn cmp(r: &CapacityRow) -> Option<&super::CapacityComparison> {
            r.comparison.as_ref()
        }
        let test = |r: &CapacityRow| cmp(r).and_then(|c| c.test);
        columns.push(float("baseline_mean", &|r| {
            cmp(r).and_then(|c| c.baseline_mean)
        }));
        columns.push(float("diff_mean", &|r| test(r).map(|t| t.diff_mean)));
        columns.push(float("diff_ci_low", &|r| {
            test(r).and_then(|t| t.ci).map(|c| c.0)
        }));
        columns.push(float("diff_ci_high", &|r| {
            test(r).and_then(|t| t.ci).map(|c| c.1)
        }));
        columns.push(float("rel_diff", &|r| {
            let base = cmp(r).and_then(|c| c.baseline_mean).filter(|b| *b != 0.0)?;
            Some(test(r)?.diff_mean / base)
        }));
        columns.push(float("p_value", &|r| test(r).and_then(|t| t.p_value)));
        let record = |r: &CapacityRow| cmp(r).map(|c| c.record);
        let opt = |name: &str, get: &dyn Fn(&CapacityRow) -> Option<u64>| {
            Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
        };
        columns.push(opt("wins", &|r| record(r).map(|w| w.0)));
        columns.push(opt("ties", &|r| record(r).map(|w| w.1)));
        columns.push(opt("losses", &|r| record(r).map(|w| w.2)));
    }
    DataFrame::new_infer_height(columns)
        .map_err(|e| Error::new(format!("building the capacity table: {e}")))
}
