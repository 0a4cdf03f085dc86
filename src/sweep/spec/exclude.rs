//! `[[exclude]]` entries: parsing, and checking that every value names a value of its axis.

use std::path::PathBuf;

use toml::{Table, Value};

use super::super::limits;
use super::{check_path, flatten, Axis, Exclusion, BASE_AXIS};
use crate::{bail, Result};

pub(super) fn parse_exclusion(item: &Value, index: usize) -> Result<Exclusion> {
    let where_ = format!("exclude #{}", index + 1);
    let Value::Table(t) = item else {
        bail!(
            "[[exclude]] #{}: each entry is a table of path = value",
            index + 1
        );
    };
    let mut conditions = Vec::new();
    for (key, value) in t {
        if key == BASE_AXIS {
            conditions.push((key.clone(), one_or_many(value)));
            continue;
        }
        let Value::Table(_) = value else {
            if key.contains('.') {
                check_path(key, &where_)?;
                conditions.push((key.clone(), one_or_many(value)));
                continue;
            }
            bail!("[{where_}] {key}: paths are section.field");
        };
        let mut single = Table::new();
        single.insert(key.clone(), value.clone());
        for (path, v) in flatten(&single, &where_)? {
            conditions.push((path, one_or_many(&v)));
        }
    }
    if conditions.is_empty() {
        bail!("[{where_}] is empty: it would exclude every point");
    }
    Ok(Exclusion { conditions })
}

/// Refuses an `[[exclude]]` value that is no value of its axis: it would exclude nothing,
/// silently (`"4"` or `4.0` against an axis of `[4, 8]`: TOML types must match too).
pub(super) fn check_exclusion_values(
    exclude: &[Exclusion],
    axes: &[Axis],
    bases: &[(String, PathBuf)],
) -> Result<()> {
    for (i, ex) in exclude.iter().enumerate() {
        for (path, allowed) in &ex.conditions {
            let values: Vec<Value> = if path == BASE_AXIS {
                bases
                    .iter()
                    .map(|(l, _)| Value::String(l.clone()))
                    .collect()
            } else {
                axes.iter()
                    .find_map(|a| {
                        let j = a.paths.iter().position(|p| p == path)?;
                        Some(a.values.iter().map(|row| row[j].clone()).collect())
                    })
                    .unwrap_or_default()
            };
            if let Some(bad) = allowed.iter().find(|v| !values.contains(v)) {
                let mut shown: Vec<String> = values.iter().take(6).map(limits::short).collect();
                if values.len() > shown.len() {
                    shown.push(format!("... {} values", values.len()));
                }
                bail!(
                    "[[exclude]] #{}: {path} = {} ({}) is no value of the axis [{}]: \
                     it would exclude nothing (types must match: 4 is not 4.0 or \"4\")",
                    i + 1,
                    limits::short(bad),
                    bad.type_str(),
                    shown.join(", ")
                );
            }
        }
    }
    Ok(())
}

fn one_or_many(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}
