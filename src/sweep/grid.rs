//! Expanding a spec into the list of runs, each with its resolved, validated config.
//!
//! Order: base files (outermost), then the axes in spec order, then the seeds (innermost), so
//! the runs of one point are adjacent. Every run's config is built up front: a path the
//! config schema does not know, or a value of the wrong type, aborts the sweep before anything
//! runs, naming the axis and value; a config that parses but fails validation (a KV cache too
//! small for one combination, say), or whose run would need more memory than
//! [`limits::MAX_RUN_BYTES`], is kept as a run that fails with that message, so the rest of
//! the grid still runs.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::limits;
use super::search::Search;
use super::spec::{SweepSpec, BASE_AXIS, SEED_PATH};
use crate::config::{Config, LengthDist};
use crate::{bail, shorten, Error, Result, VERSION};

/// One simulation of the sweep.
#[derive(Debug, Clone)]
pub struct RunPoint {
    /// Position in the grid (the row order of the tables).
    pub index: usize,
    /// The point (all axes but the seed) this run belongs to.
    pub point: usize,
    /// Stable hash of the tool version and the resolved config: the resume key.
    pub run_id: String,
    /// Values of `Grid::columns`, in order.
    pub params: Vec<Value>,
    pub seed: u64,
    /// The resolved config, or why it is invalid.
    pub config: std::result::Result<Config, String>,
    /// Rough relative cost (expected output tokens), to start long runs first.
    pub cost: f64,
}

#[derive(Debug, Clone)]
pub struct Grid {
    /// Axis columns: `base` when several base files are given, then every axis path.
    pub columns: Vec<String>,
    pub runs: Vec<RunPoint>,
    pub points: usize,
    /// Point x seed combinations removed by [[exclude]].
    pub excluded: usize,
    /// With a searched axis: what [`Grid::probe`] needs. The grid's runs are then the
    /// searches (one per point and seed), each at the search's `lo`, and the searched axis
    /// is the last column.
    pub search: Option<SearchPlan>,
}

/// A capacity search over a grid.
#[derive(Debug, Clone)]
pub struct SearchPlan {
    pub search: Search,
    /// The searched axis's index in `Grid::columns`.
    pub column: usize,
    /// Each run's config table (index as `Grid::runs`), into which a probe sets its value.
    templates: Vec<Table>,
}

impl Grid {
    pub fn invalid(&self) -> impl Iterator<Item = &RunPoint> {
        self.runs.iter().filter(|r| r.config.is_err())
    }
}

pub fn expand(spec: &SweepSpec) -> Result<Grid> {
    let mut columns = Vec::new();
    if spec.has_base_axis() {
        columns.push(BASE_AXIS.to_string());
    }
    for axis in &spec.axes {
        columns.extend(axis.paths.iter().cloned());
    }
    columns.extend(spec.search.iter().map(|s| s.path.clone()));
    let seeds: Vec<Option<u64>> = match &spec.seeds {
        Some(s) => s.iter().copied().map(Some).collect(),
        None => vec![None],
    };
    // A spec built in code skips the parser's count: check again, before listing any run.
    let lengths: Vec<u128> = std::iter::once(spec.bases.len())
        .chain(spec.axes.iter().map(|a| a.len()))
        .map(|n| n as u128)
        .collect();
    limits::check_runs(&lengths, seeds.len() as u128)?;

    let mut runs = Vec::new();
    let mut templates = Vec::new();
    // A search's runs start at its lo: the grid's run of each point and seed.
    let search_lo = spec
        .search
        .as_ref()
        .map(|s| (s.path.as_str(), s.value(s.lo)));
    let mut points = 0;
    let mut excluded = 0;
    for (label, base_path) in &spec.bases {
        let base = load_table(base_path)?;
        let base_dir = base_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut with_set = base.clone();
        for (path, value) in &spec.set {
            set_path(&mut with_set, path, value.clone());
        }
        let axis_combos: usize = spec.axes.iter().map(|a| a.len()).product();
        for combo in 0..axis_combos {
            // Mixed-radix digits, first axis outermost.
            let mut digits = vec![0; spec.axes.len()];
            let mut rest = combo;
            for (d, axis) in digits.iter_mut().zip(&spec.axes).rev() {
                *d = rest % axis.len();
                rest /= axis.len();
            }
            let mut params = Vec::with_capacity(columns.len());
            if spec.has_base_axis() {
                params.push(Value::String(label.clone()));
            }
            let mut overrides: Vec<(&str, &Value)> = Vec::new();
            for (axis, &d) in spec.axes.iter().zip(&digits) {
                for (path, value) in axis.paths.iter().zip(&axis.values[d]) {
                    params.push(value.clone());
                    overrides.push((path, value));
                }
            }
            if let Some((path, value)) = &search_lo {
                params.push(value.clone());
                overrides.push((path, value));
            }
            if is_excluded(spec, &columns, &params) {
                excluded += seeds.len();
                continue;
            }
            let point = points;
            points += 1;
            for seed in &seeds {
                let mut table = with_set.clone();
                for &(path, value) in &overrides {
                    set_path(&mut table, path, value.clone());
                }
                if let Some(seed) = seed {
                    set_path(&mut table, SEED_PATH, Value::Integer(*seed as i64));
                }
                if spec.search.is_some() {
                    // Probes set the searched path again, over lo.
                    templates.push(table.clone());
                }
                let mut run = resolve(table, &base_dir)
                    .map_err(|(path, msg)| blame(spec, base_path, &overrides, &path, &msg))?;
                run.index = runs.len();
                run.point = point;
                run.params = params.clone();
                runs.push(run);
            }
        }
    }
    if runs.is_empty() {
        bail!("every point of the grid is excluded: nothing to run");
    }
    let search = match &spec.search {
        Some(search) => {
            check_search_slo(search, &runs)?;
            Some(SearchPlan {
                search: search.clone(),
                column: columns.len() - 1,
                templates,
            })
        }
        None => None,
    };
    Ok(Grid {
        columns,
        runs,
        points,
        excluded,
        search,
    })
}

/// A run from its config table, built as every run is: parsed (a failure is the sweep's,
/// returned as (path, message) to blame), its id and cost taken, then validated and its
/// memory checked (a failure there is the run's own error). Position and parameters are the
/// caller's to fill in.
fn resolve(table: Table, base_dir: &Path) -> std::result::Result<RunPoint, (String, String)> {
    let config = Config::from_toml_value_unvalidated(Value::Table(table), base_dir)?;
    let run_id = run_id(&config);
    let cost = expected_cost(&config);
    let seed = config.workload.seed;
    let checked = config
        .validate()
        .and_then(|()| limits::check_run_memory(&config));
    Ok(RunPoint {
        index: 0,
        point: 0,
        run_id,
        params: Vec::new(),
        seed,
        config: checked.map(|()| config).map_err(|e| e.to_string()),
        cost,
    })
}

/// A capacity search judges runs by `slo_met`: every run must have an SLO with a target.
fn check_search_slo(search: &Search, runs: &[RunPoint]) -> Result<()> {
    for run in runs {
        let Ok(config) = &run.config else { continue };
        let slo = config.slo.unwrap_or_default();
        let has_threshold = slo.ttft_ms.is_some() || slo.tpot_ms.is_some() || slo.e2e_ms.is_some();
        if slo.attainment.is_none() || !has_threshold {
            bail!(
                "axis {} is searched for the largest value that meets the SLO, but the runs' \
                 config has no [slo] with a threshold and an attainment target: add them to \
                 the base config or [set] (e.g. slo.ttft_ms = 500, slo.attainment = 0.99)",
                search.path
            );
        }
    }
    Ok(())
}

impl Grid {
    /// The run of a capacity search at value `x`: the search's run `template` (an index into
    /// `runs`, one per point and seed) with the searched axis set to `x`, built exactly as
    /// the grid's own runs are. Its `index` is the template's; the caller numbers probes.
    pub fn probe(&self, template: usize, x: f64) -> RunPoint {
        let plan = self.search.as_ref().expect("a search grid");
        let base = &self.runs[template];
        let value = plan.search.value(x);
        let mut table = plan.templates[template].clone();
        set_path(&mut table, &plan.search.path, value.clone());
        let base_dir = base
            .config
            .as_ref()
            .map(|c| c.base_dir.clone())
            .unwrap_or_default();
        let mut run = resolve(table, &base_dir).unwrap_or_else(|(path, msg)| RunPoint {
            config: Err(format!("{path}: {msg}")),
            ..base.clone()
        });
        run.index = template;
        run.point = base.point;
        run.params = base.params.clone();
        run.params[plan.column] = value;
        run
    }
}

fn load_table(path: &PathBuf) -> Result<Table> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(format!("cannot read base config {}: {e}", path.display())))?;
    // Parse strictly once, so a broken base reports like a single run would.
    Config::load(path)?;
    text.parse::<Table>()
        .map_err(|e| Error::new(format!("{}: {}", path.display(), e.message())))
}

/// A config file with `section.field = value` overrides applied in order (a later one wins),
/// built and validated exactly as a sweep builds each of its runs: the single run's `--set`
/// uses this, so a path means the same on the command line as in a spec.
pub fn config_with_overrides(base_path: &Path, overrides: &[(String, Value)]) -> Result<Config> {
    // The file alone first, so its own errors read exactly as a plain run's.
    Config::load(base_path)?;
    let mut table = load_table(&base_path.to_path_buf())?;
    apply_overrides(&mut table, overrides, "--set")?;
    let base_dir = base_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let config = Config::from_toml_value_unvalidated(Value::Table(table), &base_dir).map_err(
        |(error_path, message)| {
            let named = |p: &str| {
                error_path == p
                    || error_path.starts_with(&format!("{p}."))
                    || message.contains(&format!("`{}`", p.rsplit('.').next().unwrap_or(p)))
            };
            match overrides.iter().rev().find(|(p, _)| named(p)) {
                Some((p, v)) => Error::new(format!("--set {p}={v}: {message}")),
                None => Error::new(format!("{}: {message}", base_path.display())),
            }
        },
    )?;
    config
        .validate()
        .map_err(|e| e.context(format!("{} with --set", base_path.display())))?;
    Ok(config)
}

/// Sets `section.field` (or `cluster.disaggregation.field`) in a config table, creating the
/// tables the base lacks.
/// Sets each `section.field = value` of `overrides` in a config's table, in order: the rule
/// of `--set`, of a sweep's axes and of the web interface's form (`where_` names the source in
/// errors).
pub fn apply_overrides(
    table: &mut Table,
    overrides: &[(String, Value)],
    where_: &str,
) -> Result<()> {
    for (path, value) in overrides {
        super::spec::check_path(path, where_)?;
        set_path(table, path, value.clone());
    }
    Ok(())
}

fn set_path(table: &mut Table, path: &str, value: Value) {
    let (tables, field) = path.rsplit_once('.').expect("spec paths are section.field");
    let mut node = table;
    for key in tables.split('.') {
        let entry = node
            .entry(key.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        node = entry.as_table_mut().expect("made a table above");
    }
    node.insert(field.to_string(), value);
}

fn is_excluded(spec: &SweepSpec, columns: &[String], params: &[Value]) -> bool {
    spec.exclude.iter().any(|ex| {
        ex.conditions.iter().all(|(path, allowed)| {
            columns
                .iter()
                .position(|c| c == path)
                .is_some_and(|i| allowed.contains(&params[i]))
        })
    })
}

/// Names the axis (or [set] entry, or base file) responsible for a config that does not parse.
fn blame(
    spec: &SweepSpec,
    base: &Path,
    overrides: &[(&str, &Value)],
    error_path: &str,
    message: &str,
) -> Error {
    let hits = |path: &str| error_path == path || error_path.starts_with(&format!("{path}."));
    // Paths and values come from the spec: quote at most a short piece of each.
    let quote =
        |path: &str, value: &Value| format!("{} = {}", shorten(path), shorten(&value.to_string()));
    if let Some((path, value)) = overrides.iter().find(|(p, _)| hits(p)) {
        return Error::new(format!("axis {}: {message}", quote(path, value)));
    }
    if let Some((path, value)) = spec.set.iter().find(|(p, _)| hits(p)) {
        return Error::new(format!("[set] {}: {message}", quote(path, value)));
    }
    // An unknown key: serde names the section it was found in.
    if let Some((path, value)) = overrides
        .iter()
        .copied()
        .chain(spec.set.iter().map(|(p, v)| (p.as_str(), v)))
        .find(|(p, _)| message.contains(&format!("`{}`", p.rsplit('.').next().unwrap_or(p))))
    {
        return Error::new(format!("{}: {message}", quote(path, value)));
    }
    Error::new(format!("base config {}: {message}", base.display()))
}

/// FNV-1a over the tool version and the resolved config (and the folder its relative paths
/// resolve against): the same config gives the same id on every machine and run.
fn run_id(config: &Config) -> String {
    let json = serde_json::to_string(config).expect("configs serialise");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let dataset = config.dataset_path().map(|p| p.display().to_string());
    for part in [VERSION, &json, dataset.as_deref().unwrap_or("")] {
        for &b in part.as_bytes().iter().chain(b"\0") {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Expected output tokens of a run: the dominant term of simulation cost.
fn expected_cost(config: &Config) -> f64 {
    let w = &config.workload;
    let mean = |d: &LengthDist| match *d {
        LengthDist::Fixed { value } => f64::from(value),
        LengthDist::Uniform { min, max } => (f64::from(min) + f64::from(max)) / 2.0,
        LengthDist::Normal { mean, .. } => mean.max(1.0),
        LengthDist::Lognormal { mean, std_dev } => (mean + std_dev * std_dev / 2.0).exp(),
    };
    let requests = match (w.num_requests, w.duration_secs, w.arrival_rate) {
        (Some(n), _, _) => n as f64,
        (None, Some(d), Some(r)) => d * r,
        (None, Some(d), None) => d * f64::from(w.num_concurrent_users),
        _ => 1.0,
    };
    // A trace's lengths are unknown until it is read: a typical chat reply.
    let output = w.output_len_dist.as_ref().map_or(256.0, mean);
    requests * output.min(f64::from(config.model.max_seq_len))
}

#[cfg(test)]
mod tests;
