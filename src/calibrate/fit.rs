//! Fitting the calibration parameters to measured steps, predicting, error summaries and
//! cross-validation.
//!
//! The fit minimises the sum of squared log errors, ln(predicted / measured), over the chosen
//! rows: every row weighs by its relative error, so a 7 ms decode counts as much as a 250 ms
//! prefill. Predictions go through [`Roofline::price_sums`], the function the simulator uses,
//! so a fitted config reproduces the reported errors exactly.

use std::collections::BTreeMap;

use super::params::{round_significant, Param};
use super::solver::levenberg_marquardt;
use super::steps::{StepRow, StepsFile};
use crate::config::{Config, StepModel};
use crate::engine::{Roofline, StepSums};
use crate::{bail, Error, Result};

/// Significant digits of the fitted parameters as written and as evaluated.
pub const DIGITS: usize = 4;

/// What to fit, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Fit only the rows of this mode (compared ignoring case); None: every row. A file
    /// without a `mode` column always uses every row.
    pub mode: Option<String>,
    /// The parameters the fit varies.
    pub fitted: Vec<Param>,
    /// Parameters set before fitting and held.
    pub fixed: Vec<(Param, f64)>,
    /// `hardware.causal_attention` for the fit.
    pub causal_attention: bool,
    /// Solver iterations per start before the fit counts as not converged.
    pub max_iterations: usize,
}

impl Default for FitOptions {
    /// Graph-mode rows; the five parameters of [`Param::FITTED_BY_DEFAULT`]; attention as its
    /// own kernels (attention_overlap = 0) counted under a causal mask. memory_efficiency,
    /// step_overhead and sequence_overhead keep the config's values.
    fn default() -> Self {
        FitOptions {
            mode: Some("graph".into()),
            fitted: Param::FITTED_BY_DEFAULT.to_vec(),
            fixed: vec![(Param::AttentionOverlap, 0.0)],
            causal_attention: true,
            max_iterations: 5000,
        }
    }
}

impl FitOptions {
    /// Holds `param` at `value` (and stops fitting it).
    pub fn fix(&mut self, param: Param, value: f64) {
        self.fitted.retain(|&p| p != param);
        self.fixed.retain(|&(p, _)| p != param);
        self.fixed.push((param, value));
    }

    /// Fits `param` too.
    pub fn free(&mut self, param: Param) {
        self.fixed.retain(|&(p, _)| p != param);
        if !self.fitted.contains(&param) {
            self.fitted.push(param);
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The input config with the fitted `[hardware]` parameters.
    pub config: Config,
    /// The parameters varied, in options order.
    pub fitted: Vec<Param>,
    /// Per row of the file: whether the fit used it.
    pub used: Vec<bool>,
    /// Per row of the file: the fitted model's step time, ms.
    pub predicted_ms: Vec<f64>,
    /// Solver iterations of the best start.
    pub iterations: usize,
    /// Things the user should know (a parameter the rows cannot determine).
    pub warnings: Vec<String>,
}

/// One row's signed relative error, predicted / measured - 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowError {
    /// Index into the file's rows.
    pub row: usize,
    pub error: f64,
}

/// The errors of a set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Errors {
    pub rows: usize,
    /// Mean absolute percentage error, as a fraction.
    pub mape: f64,
    /// The row with the largest absolute error.
    pub worst: RowError,
}

/// [`Errors`] of one group of rows (`phase/mode`, a mode's total, or `all`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupErrors {
    pub group: String,
    pub errors: Errors,
}

/// One cross-validation holdout: the fit redone without `test` rows, judged on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub name: String,
    pub train: usize,
    pub test: usize,
    /// The held-out errors, or why the fold could not be fitted.
    pub outcome: std::result::Result<Errors, String>,
}

/// Cross-validation of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// Leave-one-phase-out and batch-range holdouts.
    pub holdouts: Vec<Fold>,
    /// The k folds of a k-fold split (rows dealt round-robin).
    pub kfold: Vec<Fold>,
    /// Every k-fold test row's error, pooled.
    pub kfold_pooled: Option<Errors>,
}

/// Rows' work sums, computed once (they do not depend on the calibration).
fn step_sums(config: &Config, steps: &StepsFile) -> Vec<StepSums> {
    let roofline = Roofline::new(config);
    steps.rows.iter().map(|r| roofline.sums(r.work())).collect()
}

fn price_ms(roofline: &Roofline, sums: &StepSums) -> f64 {
    roofline.price_sums(sums).time * 1e3
}

/// Bytes per weight a `weights_dtype` value means, where it is one we know.
fn dtype_bytes(dtype: &str) -> Option<f64> {
    match dtype.to_ascii_lowercase().as_str() {
        "bf16" | "bfloat16" | "fp16" | "float16" | "f16" | "half" => Some(2.0),
        "fp8" | "float8" | "e4m3" | "fp8_e4m3" | "e5m2" | "fp8_e5m2" | "int8" => Some(1.0),
        "fp32" | "float32" | "f32" => Some(4.0),
        _ => None,
    }
}

/// The file must describe the config's model: one model name, and weight types that match
/// hardware.bytes_per_param.
fn check_rows(config: &Config, steps: &StepsFile) -> Result<()> {
    let mut models: Vec<&str> = Vec::new();
    for row in &steps.rows {
        if !row.model.is_empty() && !models.contains(&row.model.as_str()) {
            models.push(&row.model);
        }
        if let Some(bytes) = dtype_bytes(&row.weights_dtype) {
            if bytes != config.hardware.bytes_per_param {
                bail!(
                    "{} line {}: weights_dtype {} means {bytes} bytes per weight, but the \
                     config's hardware.bytes_per_param = {}",
                    steps.name,
                    row.line,
                    row.weights_dtype,
                    config.hardware.bytes_per_param
                );
            }
        }
    }
    if models.len() > 1 {
        bail!(
            "{} holds rows of {} models ({}), but a config describes one: split the file by model",
            steps.name,
            models.len(),
            crate::shorten(&models.join(", "))
        );
    }
    Ok(())
}

/// The model's step time for every row of the file, ms.
pub fn predict(config: &Config, steps: &StepsFile) -> Result<Vec<f64>> {
    check_rows(config, steps)?;
    let roofline = Roofline::new(config);
    let sums = step_sums(config, steps);
    Ok(sums.iter().map(|s| price_ms(&roofline, s)).collect())
}

/// Whether the fit uses a row under `mode`.
fn selected(steps: &StepsFile, mode: Option<&str>) -> Vec<usize> {
    (0..steps.rows.len())
        .filter(|&i| {
            let row_mode = &steps.rows[i].mode;
            match mode {
                None => true,
                Some(_) if !steps.header.iter().any(|h| h == "mode") => true,
                Some(m) => row_mode.eq_ignore_ascii_case(m),
            }
        })
        .collect()
}

/// The rows a fit uses: those of the options' mode, each with a measured time.
fn fittable_rows(steps: &StepsFile, options: &FitOptions) -> Result<Vec<usize>> {
    let rows = selected(steps, options.mode.as_deref());
    if rows.is_empty() {
        let mut modes: Vec<&str> = steps.rows.iter().map(|r| r.mode.as_str()).collect();
        modes.sort_unstable();
        modes.dedup();
        bail!(
            "{} has no rows of mode {} (its modes: {})",
            steps.name,
            options.mode.as_deref().unwrap_or("any"),
            modes.join(", ")
        );
    }
    for &i in &rows {
        let row = &steps.rows[i];
        if row.measured_ms.is_none() {
            bail!(
                "{} line {}: no median_ms for {}: the fit needs a measured time on every row it \
                 uses (predict accepts rows without)",
                steps.name,
                row.line,
                row.sequences
            );
        }
    }
    Ok(rows)
}

/// Fits the calibration parameters to the measured rows.
pub fn fit(config: &Config, steps: &StepsFile, options: &FitOptions) -> Result<Fit> {
    check_rows(config, steps)?;
    let rows = fittable_rows(steps, options)?;
    let base = base_config(config, options)?;
    let sums = step_sums(config, steps);
    let (mut fitted_config, iterations) = fit_rows(&base, steps, &sums, &rows, options)?;
    fitted_config.base_dir = config.base_dir.clone();
    let roofline = Roofline::new(&fitted_config);
    let predicted_ms = sums.iter().map(|s| price_ms(&roofline, s)).collect();
    let warnings = identifiability(&fitted_config, &sums, &rows, &options.fitted);
    let mut used = vec![false; steps.rows.len()];
    for &i in &rows {
        used[i] = true;
    }
    Ok(Fit {
        config: fitted_config,
        fitted: options.fitted.clone(),
        used,
        predicted_ms,
        iterations,
        warnings,
    })
}

/// The config the fit starts from: the options' fixed values and form applied.
fn base_config(config: &Config, options: &FitOptions) -> Result<Config> {
    let mut base = config.clone();
    // A fit prices with the calibrated model, whatever the config asked for.
    base.hardware.step_model = StepModel::Calibrated;
    base.hardware.calibration_source = None;
    for &(param, value) in &options.fixed {
        if !param.allows(value) {
            bail!(
                "{} = {value} is invalid: it must be {}",
                param.name(),
                param.range_text()
            );
        }
        param.set(&mut base.hardware, value);
    }
    base.hardware.causal_attention = options.causal_attention;
    base.validate()?;
    Ok(base)
}

/// Fits `options.fitted` on `rows` (which all have measured times), from `base`. Tries a few
/// starting softnesses and keeps the best converged fit; the result is rounded to [`DIGITS`].
/// Returns the fitted config and the solver's iterations.
fn fit_rows(
    base: &Config,
    steps: &StepsFile,
    sums: &[StepSums],
    rows: &[usize],
    options: &FitOptions,
) -> Result<(Config, usize)> {
    let params = &options.fitted;
    if rows.len() <= params.len() {
        bail!(
            "{}: {} rows to fit ({}) but the fit has {} free parameters ({}): it needs at least \
             {} rows",
            steps.name,
            rows.len(),
            options
                .mode
                .as_deref()
                .map_or("every mode".to_string(), |m| format!("mode {m}")),
            params.len(),
            params
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", "),
            params.len() + 1
        );
    }
    let measured: Vec<f64> = rows
        .iter()
        .map(|&i| steps.rows[i].measured_ms.expect("checked by fit").ln())
        .collect();
    let mut work = base.clone();
    let mut residuals = |z: &[f64], out: &mut Vec<f64>| {
        for (p, &zj) in params.iter().zip(z) {
            p.set(&mut work.hardware, p.value_at(zj));
        }
        let roofline = Roofline::new(&work);
        out.clear();
        for (k, &i) in rows.iter().enumerate() {
            let t = price_ms(&roofline, &sums[i]);
            if !(t.is_finite() && t > 0.0) {
                return false;
            }
            out.push(t.ln() - measured[k]);
        }
        true
    };
    let softness_starts: &[f64] = if params.contains(&Param::RooflineSoftness) {
        &[0.2, 0.5, 0.8]
    } else {
        &[f64::NAN]
    };
    let mut best: Option<super::solver::Outcome> = None;
    let mut unconverged: Option<super::solver::Outcome> = None;
    for &soft in softness_starts {
        let z0: Vec<f64> = params
            .iter()
            .map(|&p| {
                let start = if p == Param::RooflineSoftness {
                    soft
                } else {
                    p.start()
                };
                p.z_of(start)
            })
            .collect();
        let (lower, upper): (Vec<f64>, Vec<f64>) = params.iter().map(|p| p.z_bounds()).unzip();
        let Some(outcome) =
            levenberg_marquardt(&mut residuals, &z0, &lower, &upper, options.max_iterations)
        else {
            continue;
        };
        let slot = if outcome.converged {
            &mut best
        } else {
            &mut unconverged
        };
        if slot.as_ref().is_none_or(|b| outcome.cost < b.cost) {
            *slot = Some(outcome);
        }
    }
    let Some(best) = best else {
        let detail = unconverged.map_or(String::new(), |o| {
            let mut r = Vec::new();
            residuals(&o.x, &mut r);
            let (k, e) = r
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .map(|(k, e)| (k, *e))
                .unwrap_or((0, 0.0));
            let row = &steps.rows[rows[k]];
            format!(
                " (worst row so far: line {}, {}, off by {:+.1}%)",
                row.line,
                row.sequences,
                (e.exp() - 1.0) * 100.0
            )
        });
        bail!(
            "{}: the fit did not converge in {} iterations{detail}; allow more iterations or \
             hold some parameters fixed",
            steps.name,
            options.max_iterations
        );
    };
    let mut fitted = base.clone();
    for (p, &z) in params.iter().zip(&best.x) {
        let value = round_significant(p.value_at(z), DIGITS);
        let value = if p.allows(value) {
            value
        } else {
            p.value_at(z)
        };
        p.set(&mut fitted.hardware, value);
    }
    fitted.validate().map_err(|e| {
        Error::new(format!(
            "{}: the fitted parameters are invalid: {e}",
            steps.name
        ))
    })?;
    Ok((fitted, best.iterations))
}

/// What the fitted rows cannot determine: a fitted parameter that changes no row's time, or
/// two whose effects on the rows' log times are (almost) proportional (|correlation| >
/// 0.9999), so any trade between them fits as well.
fn identifiability(
    config: &Config,
    sums: &[StepSums],
    rows: &[usize],
    params: &[Param],
) -> Vec<String> {
    let base = Roofline::new(config);
    let log_times = |roofline: &Roofline| -> Vec<f64> {
        rows.iter()
            .map(|&i| price_ms(roofline, &sums[i]).ln())
            .collect()
    };
    let before = log_times(&base);
    // Each parameter's effect: the change of every row's log time for a small nudge.
    let effects: Vec<Vec<f64>> = params
        .iter()
        .map(|&p| {
            let v = p.get(&config.hardware);
            let h = 1e-4 * v.abs().max(p.start());
            let nudged = if p.allows(v + h) { v + h } else { v - h };
            let mut probe = config.clone();
            p.set(&mut probe.hardware, nudged);
            log_times(&Roofline::new(&probe))
                .iter()
                .zip(&before)
                .map(|(a, b)| a - b)
                .collect()
        })
        .collect();
    let norm = |e: &[f64]| e.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut warnings = Vec::new();
    for (k, p) in params.iter().enumerate() {
        // At a bound (softness 0, an overhead of 0) a small nudge may do nothing, but the bound
        // is where the rows pushed it: that value is determined.
        let v = p.get(&config.hardware);
        let at_bound = v == 0.0 || v == 1.0;
        if !at_bound && norm(&effects[k]) < 1e-9 {
            warnings.push(format!(
                "{} changes no fitted row's time: its fitted value is arbitrary; hold it with \
                 --fix",
                p.name()
            ));
        }
    }
    for a in 0..params.len() {
        for b in a + 1..params.len() {
            let (na, nb) = (norm(&effects[a]), norm(&effects[b]));
            if na < 1e-9 || nb < 1e-9 {
                continue;
            }
            let dot: f64 = effects[a].iter().zip(&effects[b]).map(|(x, y)| x * y).sum();
            if (dot / (na * nb)).abs() > 0.9999 {
                warnings.push(format!(
                    "{} and {} change every fitted row's time in the same proportion: the rows \
                     cannot tell them apart, and the split between them is arbitrary; hold one \
                     with --fix",
                    params[a].name(),
                    params[b].name()
                ));
            }
        }
    }
    warnings
}

/// Errors of the rows in `rows` that have a measured time; None if none has.
pub fn errors_of(steps: &StepsFile, predicted_ms: &[f64], rows: &[usize]) -> Option<Errors> {
    let mut n = 0;
    let mut sum = 0.0;
    let mut worst: Option<RowError> = None;
    for &i in rows {
        let Some(measured) = steps.rows[i].measured_ms else {
            continue;
        };
        let error = predicted_ms[i] / measured - 1.0;
        n += 1;
        sum += error.abs();
        if worst.is_none_or(|w| error.abs() > w.error.abs()) {
            worst = Some(RowError { row: i, error });
        }
    }
    worst.map(|worst| Errors {
        rows: n,
        mape: sum / n as f64,
        worst,
    })
}

/// Errors by `phase/mode`, then by mode (`all/MODE`), then `all`, over the rows with measured
/// times. Groups are in alphabetical order.
pub fn error_summary(steps: &StepsFile, predicted_ms: &[f64]) -> Vec<GroupErrors> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut modes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut all = Vec::new();
    for (i, row) in steps.rows.iter().enumerate() {
        if row.measured_ms.is_none() {
            continue;
        }
        all.push(i);
        if !row.phase.is_empty() {
            groups.entry(row.group()).or_default().push(i);
        }
        if !row.mode.is_empty() {
            modes
                .entry(format!("all/{}", row.mode))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for (group, rows) in groups.into_iter().chain(modes) {
        if let Some(errors) = errors_of(steps, predicted_ms, &rows) {
            out.push(GroupErrors { group, errors });
        }
    }
    if let Some(errors) = errors_of(steps, predicted_ms, &all) {
        out.push(GroupErrors {
            group: "all".into(),
            errors,
        });
    }
    out
}

/// Folds of the k-fold split.
pub const KFOLD: usize = 5;

/// Refits without each holdout and measures the errors on it: every phase left out in turn
/// (with two or more phases), small batches (n_seqs <= 8), large batches (n_seqs >= 128),
/// large steps (>= 2048 new tokens), long contexts (>= 4096), and a 5-fold split.
pub fn cross_validate(
    config: &Config,
    steps: &StepsFile,
    options: &FitOptions,
) -> Result<CrossValidation> {
    check_rows(config, steps)?;
    let rows = fittable_rows(steps, options)?;
    let base = base_config(config, options)?;
    let sums = step_sums(config, steps);
    // Refits without `test`; returns the fold and the held-out rows' predictions.
    let run = |name: String, test: Vec<usize>| -> (Fold, Vec<f64>) {
        let train: Vec<usize> = rows.iter().copied().filter(|i| !test.contains(i)).collect();
        let mut predicted = vec![f64::NAN; steps.rows.len()];
        let outcome = fit_rows(&base, steps, &sums, &train, options).and_then(|(fitted, _)| {
            let roofline = Roofline::new(&fitted);
            for &i in &test {
                predicted[i] = price_ms(&roofline, &sums[i]);
            }
            errors_of(steps, &predicted, &test)
                .ok_or_else(|| Error::new("no measured rows held out"))
        });
        let fold = Fold {
            name,
            train: train.len(),
            test: test.len(),
            outcome: outcome.map_err(|e| e.message().to_string()),
        };
        (fold, predicted)
    };
    let pick = |f: &dyn Fn(&StepRow) -> bool| -> Vec<usize> {
        rows.iter()
            .copied()
            .filter(|&i| f(&steps.rows[i]))
            .collect()
    };
    let mut holdouts = Vec::new();
    let mut phases: Vec<&str> = Vec::new();
    for &i in &rows {
        let p = steps.rows[i].phase.as_str();
        if !p.is_empty() && !phases.contains(&p) {
            phases.push(p);
        }
    }
    if phases.len() > 1 {
        for p in phases {
            holdouts.push(run(format!("phase {p}"), pick(&|r| r.phase == p)).0);
        }
    }
    type Holdout<'a> = (&'a str, &'a dyn Fn(&StepRow) -> bool);
    let ranges: [Holdout; 4] = [
        ("n_seqs <= 8", &|r| r.n_seqs() <= 8),
        ("n_seqs >= 128", &|r| r.n_seqs() >= 128),
        ("new tokens >= 2048", &|r| r.total_new_tokens() >= 2048),
        ("context >= 4096", &|r| r.max_context() >= 4096),
    ];
    for (name, f) in ranges {
        let test = pick(f);
        if !test.is_empty() && test.len() < rows.len() {
            holdouts.push(run(name.to_string(), test).0);
        }
    }
    let mut kfold = Vec::new();
    let mut pooled_predicted = vec![f64::NAN; steps.rows.len()];
    let mut pooled_rows = Vec::new();
    if rows.len() >= KFOLD {
        for k in 0..KFOLD {
            let test: Vec<usize> = rows.iter().copied().skip(k).step_by(KFOLD).collect();
            let (fold, predicted) = run(format!("fold {}/{KFOLD}", k + 1), test.clone());
            if fold.outcome.is_ok() {
                for &i in &test {
                    pooled_predicted[i] = predicted[i];
                    pooled_rows.push(i);
                }
            }
            kfold.push(fold);
        }
    }
    let kfold_pooled = errors_of(steps, &pooled_predicted, &pooled_rows);
    Ok(CrossValidation {
        holdouts,
        kfold,
        kfold_pooled,
    })
}
