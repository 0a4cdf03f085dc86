//! The sweep spec: a TOML file naming a base config and what to vary.
//!
//! ```toml
//! name = "policies"              # results/<name>/ unless -o says otherwise
//! base = "../configs/blog.toml"  # relative to this file; a list or globs make a `base` axis
//! seeds = 5                      # shorthand for workload.seed = 1..=5 (or a list of seeds)
//!
//! [set]                          # fixed overrides for every run
//! workload.num_requests = 320
//!
//! [axes]                         # dotted config paths -> values; their product is the grid
//! scheduler.policy = ["fcfs", "sif"]
//! scheduler.max_num_batched_tokens = { range = [2048, 8192, 2048] }
//!
//! [[zip]]                        # paths that vary together, value by value
//! workload.num_concurrent_users = [16, 64]
//! scheduler.max_num_seqs = [16, 64]
//!
//! [[exclude]]                    # drop points matching every key (a list matches any of it)
//! scheduler.policy = "sif"
//! workload.num_concurrent_users = 16
//!
//! [compare]                      # paired comparisons with this point (see compare.rs)
//! baseline = { "scheduler.policy" = "fcfs" }
//!
//! [report]                       # the objectives the sweep's answer names (see report.rs)
//! metrics = ["ttft_ms_p99", "output_tokens_per_s"]
//! ```
//!
//! A path is `section.field`; its value replaces the whole field (a length distribution is
//! given as a whole table). Paths may also be written quoted: `"scheduler.policy" = [...]`.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::limits;
use super::search::Search;
use crate::{bail, shorten_quoted, Error, Result};
use exclude::{check_exclusion_values, parse_exclusion};

/// The path of the seed axis: what the summary folds over.
pub const SEED_PATH: &str = "workload.seed";
/// The column of the config-file axis.
pub const BASE_AXIS: &str = "base";

/// One dimension of the grid: a single path, or several zipped paths that advance together.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub paths: Vec<String>,
    /// `values[i][j]` is the i-th step's value for `paths[j]`.
    pub values: Vec<Vec<Value>>,
}

impl Axis {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A point filter: a point is dropped when, for every (path, allowed) pair, its value for the
/// path is one of `allowed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusion {
    pub conditions: Vec<(String, Vec<Value>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    pub name: String,
    /// The spec file (errors and relative paths refer to it).
    pub path: PathBuf,
    /// Base config files, each as written relative to the spec (its label in the `base`
    /// column) and resolved.
    pub bases: Vec<(String, PathBuf)>,
    pub set: Vec<(String, Value)>,
    /// Axes in spec order, seed axis excluded.
    pub axes: Vec<Axis>,
    /// The seeds, when the spec varies them (`seeds` or an axis on workload.seed).
    pub seeds: Option<Vec<u64>>,
    pub exclude: Vec<Exclusion>,
    /// `[compare] baseline`: the axis values of the baseline point of paired comparisons.
    pub compare: Option<Vec<(String, Value)>>,
    /// `[report] metrics`: the objectives of the sweep's answer (run-table metrics with a
    /// better direction), or the default ones.
    pub report: Vec<&'static str>,
    /// The axis searched for its largest value that meets the SLO, when one is (see
    /// search.rs); it is not among `axes`.
    pub search: Option<Search>,
    /// `[outputs]`: the records each run writes beside its journal record.
    pub outputs: Outputs,
}

const TOP_KEYS: &str = "name, base, seeds, set, axes, zip, exclude, compare, report, outputs";
const SECTIONS: [&str; 9] = [
    "hardware",
    "model",
    "scheduler",
    "parallel",
    "workload",
    "simulation",
    "slo",
    "metrics",
    "cluster",
];

impl SweepSpec {
    pub fn load(path: &Path) -> Result<SweepSpec> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(format!("cannot read sweep spec {}: {e}", path.display())))?;
        SweepSpec::parse(&text, path).map_err(|e| e.context(path.display()))
    }

    /// Parses spec text; `path` locates relative base paths. Errors quote at most a short
    /// piece of any key or value of the spec.
    pub fn parse(text: &str, path: &Path) -> Result<SweepSpec> {
        SweepSpec::parse_full(text, path).map_err(|e| Error::new(shorten_quoted(e.message())))
    }

    fn parse_full(text: &str, path: &Path) -> Result<SweepSpec> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().to_string();
            Error::new(match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            })
        })?;
        for key in table.keys() {
            if !TOP_KEYS.split(", ").any(|k| k == key) {
                bail!("unknown key `{key}` in the sweep spec; allowed keys: {TOP_KEYS}");
            }
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        let name = match table.get("name") {
            Some(Value::String(s)) if valid_name(s) => s.clone(),
            Some(Value::String(s)) => bail!(
                "name = {s:?}: a sweep name becomes a folder name: use letters, digits, '-', '_' and '.'"
            ),
            Some(other) => bail!("name must be a string, not {}", other.type_str()),
            None => bail!("missing key `name` (the results folder is results/<name>/)"),
        };
        let bases = parse_bases(table.get("base"), dir)?;
        limits::check_size(&table, bases.len())?;

        let set = match table.get("set") {
            None => Vec::new(),
            Some(Value::Table(t)) => flatten(t, "set")?,
            Some(other) => bail!("[set] must be a table, not {}", other.type_str()),
        };

        let mut axes = Vec::new();
        let mut seeds = None;
        let mut search = None;
        if let Some(value) = table.get("axes") {
            let Value::Table(t) = value else {
                bail!("[axes] must be a table, not {}", value.type_str());
            };
            for (path, value) in flatten(t, "axes")? {
                if Search::is_search(&value) {
                    if path == SEED_PATH {
                        bail!("axis {SEED_PATH}: seeds cannot be searched");
                    }
                    if let Some(first) = &search {
                        let first: &Search = first;
                        bail!(
                            "axes {} and {path} are both searched: a sweep searches one axis",
                            first.path
                        );
                    }
                    search = Some(Search::parse(&path, &value)?);
                    continue;
                }
                let values = axis_values(&path, &value)?;
                if path == SEED_PATH {
                    seeds = Some(seed_list(&values, "axes.workload.seed")?);
                } else {
                    axes.push(Axis {
                        paths: vec![path],
                        values: values.into_iter().map(|v| vec![v]).collect(),
                    });
                }
            }
        }
        match table.get("zip") {
            None => {}
            Some(Value::Array(groups)) => {
                for (i, group) in groups.iter().enumerate() {
                    axes.push(parse_zip(group, i)?);
                }
            }
            Some(other) => bail!(
                "zip must be an array of tables ([[zip]]), not {}",
                other.type_str()
            ),
        }
        if let Some(value) = table.get("seeds") {
            if seeds.is_some() {
                bail!("seeds and [axes] workload.seed both set the seeds: keep one");
            }
            seeds = Some(match value {
                Value::Integer(n) if *n >= 1 => (1..=*n as u64).collect(),
                Value::Integer(n) => bail!("seeds = {n}: give a count >= 1 or a list of seeds"),
                Value::Array(_) | Value::Table(_) => {
                    seed_list(&axis_values("seeds", value)?, "seeds")?
                }
                other => bail!("seeds must be a count or a list, not {}", other.type_str()),
            });
        }
        let exclude = match table.get("exclude") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_exclusion(item, i))
                .collect::<Result<_>>()?,
            Some(other) => bail!(
                "exclude must be an array of tables ([[exclude]]), not {}",
                other.type_str()
            ),
        };

        let mut seen: Vec<&str> = Vec::new();
        let searched = search.iter().map(|s: &Search| &s.path);
        for path in axes.iter().flat_map(|a| a.paths.iter()).chain(searched) {
            if seen.contains(&path.as_str()) {
                bail!("{path} is varied twice (in [axes] and/or [[zip]] groups)");
            }
            if set.iter().any(|(p, _)| p == path) {
                bail!("{path} is both in [set] and varied: keep one");
            }
            seen.push(path);
        }
        for ex in &exclude {
            for (path, _) in &ex.conditions {
                if search.as_ref().is_some_and(|s| &s.path == path) {
                    bail!("[[exclude]] names {path}, which is searched: exclude points of the other axes");
                }
                let is_base_axis = path == BASE_AXIS && bases.len() > 1;
                if !seen.contains(&path.as_str()) && !is_base_axis {
                    bail!("[[exclude]] names {path}, which is not an axis of this sweep");
                }
            }
        }
        check_exclusion_values(&exclude, &axes, &bases)?;
        if let (Some(s), Some(Value::Table(c))) = (&search, table.get("compare")) {
            let names_it = |t: &Table| {
                flatten(t, "compare.baseline")
                    .is_ok_and(|pairs| pairs.iter().any(|(p, _)| p == &s.path))
            };
            if matches!(c.get("baseline"), Some(Value::Table(b)) if names_it(b)) {
                bail!(
                    "[compare] baseline names {}, which is searched: name values of the other axes; capacities are compared with the baseline's",
                    s.path
                );
            }
        }
        let compare = super::compare::parse_baseline(table.get("compare"), &axes, &bases, flatten)?;
        let report = super::report::parse_objectives(table.get("report"))?;
        Ok(SweepSpec {
            name,
            path: path.to_path_buf(),
            bases,
            set,
            axes,
            seeds,
            exclude,
            compare,
            report,
            search,
            outputs: Outputs::parse(table.get("outputs"))?,
        })
    }

    /// Whether the base config is itself an axis (several files).
    pub fn has_base_axis(&self) -> bool {
        self.bases.len() > 1
    }

    /// The spec as JSON, for the manifest.
    pub fn to_json(&self) -> serde_json::Value {
        let v = |x: &Value| serde_json::to_value(x).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "name": self.name,
            "path": self.path.display().to_string(),
            "base": self.bases.iter().map(|(label, p)| serde_json::json!({"label": label, "path": p.display().to_string()})).collect::<Vec<_>>(),
            "set": self.set.iter().map(|(p, x)| (p.clone(), v(x))).collect::<serde_json::Map<_, _>>(),
            "axes": self.axes.iter().map(|a| serde_json::json!({
                "paths": a.paths,
                "values": a.values.iter().map(|row| row.iter().map(v).collect::<Vec<_>>()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "seeds": self.seeds,
            "report": self.report,
            "search": self.search.as_ref().map(|s| serde_json::json!({
                "path": s.path, "search": "max", "lo": s.lo, "hi": s.hi,
                "tolerance": s.tolerance, "integer": s.integer,
            })),
            "compare": self.compare.as_ref().map(|b| b.iter().map(|(p, x)| (p.clone(), v(x))).collect::<serde_json::Map<_, _>>()),
            "exclude": self.exclude.iter().map(|e| e.conditions.iter().map(|(p, vals)| (p.clone(), serde_json::Value::Array(vals.iter().map(v).collect()))).collect::<serde_json::Map<_, _>>()).collect::<Vec<_>>(),
        })
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// `base` is a path or a list of paths, each possibly a glob, relative to the spec's folder.
fn parse_bases(value: Option<&Value>, dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let patterns: Vec<&str> = match value {
        None => {
            bail!("missing key `base` (the config file the sweep varies, relative to the spec)")
        }
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str()
                    .ok_or_else(|| Error::new("base: every entry must be a path string"))
            })
            .collect::<Result<_>>()?,
        Some(Value::Array(_)) => bail!("base = []: name at least one config file"),
        Some(other) => bail!(
            "base must be a path or a list of paths, not {}",
            other.type_str()
        ),
    };
    let mut bases = Vec::new();
    for pattern in patterns {
        let is_glob = pattern.contains(['*', '?', '[']);
        if !is_glob {
            bases.push((pattern.to_string(), dir.join(pattern)));
            continue;
        }
        let full = dir.join(pattern);
        let full_str = full.to_string_lossy();
        let paths = glob::glob(&full_str)
            .map_err(|e| Error::new(format!("base = {pattern:?}: bad glob: {e}")))?;
        let mut matched: Vec<PathBuf> = paths.filter_map(|p| p.ok()).collect();
        matched.sort();
        if matched.is_empty() {
            bail!(
                "base = {pattern:?} matches no file (looked in {})",
                dir.display()
            );
        }
        for p in matched {
            let label = p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            bases.push((label, p));
        }
    }
    let mut labels: Vec<&str> = bases.iter().map(|(l, _)| l.as_str()).collect();
    labels.sort_unstable();
    if let Some(w) = labels.windows(2).find(|w| w[0] == w[1]) {
        bail!("base lists {} twice", w[0]);
    }
    Ok(bases)
}

/// Turns `{ scheduler = { policy = [...] } }` (what dotted keys parse to) and
/// `{ "scheduler.policy" = [...] }` into ("scheduler.policy", value) pairs. Paths stop at
/// `section.field`: deeper tables are a field's value.
pub(super) fn flatten(table: &Table, where_: &str) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for (key, value) in table {
        if key.contains('.') {
            check_path(key, where_)?;
            out.push((key.clone(), value.clone()));
            continue;
        }
        if !SECTIONS.contains(&key.as_str()) {
            bail!(
                "[{where_}] {key}: not a config section; paths are section.field with sections {}",
                SECTIONS.join(", ")
            );
        }
        let Value::Table(fields) = value else {
            bail!("[{where_}] {key} = ...: a path needs a field: {key}.FIELD");
        };
        for (field, v) in fields {
            out.push((format!("{key}.{field}"), v.clone()));
        }
    }
    Ok(out)
}

/// Checks that `path` is `section.field` with a known section; `where_` names the place it was
/// given (`set`, `axes`, `--set`) in the error.
pub(crate) fn check_path(path: &str, where_: &str) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    let well_formed = match parts[..] {
        [section, field] => SECTIONS.contains(&section) && !field.is_empty(),
        // The one nested section a fleet question sweeps.
        ["cluster", "disaggregation", field] => !field.is_empty(),
        _ => false,
    };
    if !well_formed {
        bail!(
            "[{where_}] {path:?}: paths are section.field (or cluster.disaggregation.field) \
             with sections {}",
            SECTIONS.join(", ")
        );
    }
    Ok(())
}

/// An axis's values: a non-empty list, or an integer range table.
fn axis_values(path: &str, value: &Value) -> Result<Vec<Value>> {
    let values = match value {
        Value::Array(items) => items.clone(),
        Value::Table(t) if t.contains_key("range") => range_values(path, t)?,
        other => bail!(
            "axis {path}: give a list of values or {{ range = [start, end] }}, not a single {}",
            other.type_str()
        ),
    };
    if values.is_empty() {
        bail!("axis {path} is empty: give at least one value");
    }
    Ok(values)
}

/// `{ range = [a, b] }` is a..=b; `{ range = [a, b, step] }` steps by `step` up to b.
fn range_values(path: &str, t: &Table) -> Result<Vec<Value>> {
    if t.len() != 1 {
        bail!("axis {path}: a range table has only the key `range`");
    }
    let bad = || {
        Error::new(format!(
            "axis {path}: range must be [start, end] or [start, end, step] with integers, start <= end and step >= 1"
        ))
    };
    let nums: Vec<i64> = match &t["range"] {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_integer().ok_or_else(bad))
            .collect::<Result<_>>()?,
        _ => return Err(bad()),
    };
    let (start, end, step) = match nums[..] {
        [a, b] => (a, b, 1),
        [a, b, s] => (a, b, s),
        _ => return Err(bad()),
    };
    if start > end || step < 1 {
        return Err(bad());
    }
    // Wide arithmetic: the bounds may span all of i64.
    let count = (i128::from(end) - i128::from(start)) / i128::from(step) + 1;
    if count > i128::from(limits::MAX_RUNS) {
        bail!(
            "axis {path}: range has {count} values, more than the limit of {} runs per sweep",
            limits::MAX_RUNS
        );
    }
    let count = count as i64;
    Ok((0..count)
        .map(|i| Value::Integer(start + i * step))
        .collect())
}

fn seed_list(values: &[Value], where_: &str) -> Result<Vec<u64>> {
    let seeds: Vec<u64> = values
        .iter()
        .map(|v| match v {
            Value::Integer(n) if *n >= 0 => Ok(*n as u64),
            other => Err(Error::new(format!(
                "{where_}: seeds are integers >= 0, not {}",
                limits::short(other)
            ))),
        })
        .collect::<Result<_>>()?;
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        bail!("{where_}: seed {} appears twice", w[0]);
    }
    Ok(seeds)
}

fn parse_zip(group: &Value, index: usize) -> Result<Axis> {
    let where_ = format!("zip #{}", index + 1);
    let Value::Table(t) = group else {
        bail!(
            "[[zip]] #{}: each group is a table of path = [values]",
            index + 1
        );
    };
    let entries = flatten(t, &where_)?;
    if entries.len() < 2 {
        bail!("[{where_}]: a zip group links two or more paths (use [axes] for one)");
    }
    let mut columns = Vec::new();
    for (path, value) in &entries {
        if path == SEED_PATH {
            bail!("[{where_}]: workload.seed cannot be zipped: it is folded by the summary");
        }
        columns.push(axis_values(path, value)?);
    }
    let len = columns[0].len();
    if let Some((i, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != len) {
        bail!(
            "[{where_}]: {} has {} values but {} has {}: zipped lists must be equally long",
            entries[0].0,
            len,
            entries[i].0,
            c.len()
        );
    }
    Ok(Axis {
        paths: entries.into_iter().map(|(p, _)| p).collect(),
        values: (0..len)
            .map(|i| columns.iter().map(|c| c[i].clone()).collect())
            .collect(),
    })
}

mod exclude;
mod outputs;
pub use outputs::Outputs;

#[cfg(test)]
mod tests;
