//! Time-varying arrival rates by a time change: the cumulative rate Λ(t) = ∫₀ᵗ rate, and its
//! inverse. An arrival process is generated at rate 1 in operational time u (Poisson: Exp(1)
//! gaps; gamma and weibull: their gaps of mean 1) and each u becomes the arrival instant
//! Λ⁻¹(u), the first t where Λ reaches u. A Poisson process so transformed is exactly the
//! non-homogeneous Poisson process of that rate; a renewal process keeps its burstiness
//! relative to the local rate. The random stream is the same whatever the schedule, so two
//! schedules that agree up to t give the same arrivals up to t (common random numbers).

use std::f64::consts::TAU;
use std::path::Path;

use crate::config::arrivals::validate_steps;
use crate::config::RateSchedule;
use crate::{bail, Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Cumulative {
    /// Piecewise-constant rates; `at[i]` = Λ(times[i]).
    Steps {
        times: Vec<f64>,
        rates: Vec<f64>,
        at: Vec<f64>,
    },
    /// mid + amp sin(2 pi t / period).
    Sine { mid: f64, amp: f64, period: f64 },
    /// from + (to - from) t / d up to d, then to.
    Ramp { from: f64, to: f64, d: f64 },
}

impl Cumulative {
    /// The schedule's cumulative rate; a CSV schedule is read (relative to `base_dir`), with
    /// errors naming the file and line.
    pub fn new(schedule: &RateSchedule, base_dir: &Path) -> Result<Cumulative> {
        Ok(match schedule {
            RateSchedule::Steps { times, rates } => Cumulative::steps(times.clone(), rates.clone()),
            RateSchedule::Sine {
                min,
                max,
                period_secs,
            } => Cumulative::Sine {
                mid: (min + max) / 2.0,
                amp: (max - min) / 2.0,
                period: *period_secs,
            },
            RateSchedule::Ramp {
                from,
                to,
                duration_secs,
            } => Cumulative::Ramp {
                from: *from,
                to: *to,
                d: *duration_secs,
            },
            RateSchedule::Csv { path } => {
                let path = base_dir.join(path);
                let (times, rates) = read_csv(&path)?;
                validate_steps(
                    &format!("workload.rate_schedule file {}", path.display()),
                    &times,
                    &rates,
                )?;
                Cumulative::steps(times, rates)
            }
        })
    }

    fn steps(times: Vec<f64>, rates: Vec<f64>) -> Cumulative {
        let mut at = Vec::with_capacity(times.len());
        let mut total = 0.0;
        for i in 0..times.len() {
            if i > 0 {
                total += rates[i - 1] * (times[i] - times[i - 1]);
            }
            at.push(total);
        }
        Cumulative::Steps { times, rates, at }
    }

    /// The rate at `t` (requests/s).
    pub fn rate(&self, t: f64) -> f64 {
        match self {
            Cumulative::Steps { times, rates, .. } => {
                rates[times.partition_point(|&x| x <= t).max(1) - 1]
            }
            Cumulative::Sine { mid, amp, period } => mid + amp * (TAU * t / period).sin(),
            Cumulative::Ramp { from, to, d } => {
                if t >= *d {
                    *to
                } else {
                    from + (to - from) * t / d
                }
            }
        }
    }

    /// Λ(t): the expected arrivals in [0, t].
    pub fn at(&self, t: f64) -> f64 {
        match self {
            Cumulative::Steps { times, rates, at } => {
                let i = times.partition_point(|&x| x <= t).max(1) - 1;
                at[i] + rates[i] * (t - times[i])
            }
            Cumulative::Sine { mid, amp, period } => {
                mid * t + amp * period / TAU * (1.0 - (TAU * t / period).cos())
            }
            Cumulative::Ramp { from, to, d } => {
                if t <= *d {
                    from * t + (to - from) / (2.0 * d) * t * t
                } else {
                    (from + to) / 2.0 * d + to * (t - d)
                }
            }
        }
    }

    /// Λ⁻¹(u): the first instant at which Λ reaches `u`, or None if it never does (the rate
    /// ends at 0 first).
    pub fn inverse(&self, u: f64) -> Option<f64> {
        match self {
            Cumulative::Steps { times, rates, at } => {
                // The first segment whose end reaches u; the last one never ends.
                let i = at[1..].partition_point(|&end| end < u);
                if u <= at[i] {
                    return Some(times[i]);
                }
                if rates[i] == 0.0 {
                    return None; // the last segment, at rate 0
                }
                Some(times[i] + (u - at[i]) / rates[i])
            }
            Cumulative::Sine { mid, period, .. } => {
                // Λ grows by mid x period each period; find u's period, then bisect within it
                // (Λ is non-decreasing: the rate is never negative).
                let per_period = mid * period;
                let k = (u / per_period).floor();
                let (mut lo, mut hi) = (k * period, (k + 1.0) * period);
                for _ in 0..100 {
                    let m = 0.5 * (lo + hi);
                    if m <= lo || m >= hi {
                        break;
                    }
                    if self.at(m) < u {
                        lo = m;
                    } else {
                        hi = m;
                    }
                }
                Some(hi)
            }
            Cumulative::Ramp { from, to, d } => {
                let end = (from + to) / 2.0 * d;
                if u > end {
                    return Some(d + (u - end) / to);
                }
                let a = (to - from) / (2.0 * d);
                // from t + a t^2 = u, the stable root (from and a may be 0, not both).
                Some(2.0 * u / (from + (from * from + 4.0 * a * u).max(0.0).sqrt()))
            }
        }
    }
}

/// Reads `time,rate` rows after a header line.
fn read_csv(path: &Path) -> Result<(Vec<f64>, Vec<f64>)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(format!(
            "workload.rate_schedule: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let (mut times, mut rates) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parse = |s: &str| s.parse::<f64>().ok().filter(|x| x.is_finite());
        match (fields.as_slice(), fields.first().and_then(|s| parse(s))) {
            ([_, r], Some(t)) if parse(r).is_some() => {
                times.push(t);
                rates.push(parse(r).unwrap_or_default());
            }
            _ => bail!(
                "{} line {}: expected `time,rate` (two numbers), found {:?}",
                path.display(),
                i + 1,
                crate::shorten(line)
            ),
        }
    }
    if times.is_empty() {
        bail!("{}: no `time,rate` rows after the header", path.display());
    }
    Ok((times, rates))
}

#[cfg(test)]
mod tests;
