//! `[workload]`'s open-loop arrival shapes beyond a constant rate: a burstiness (`arrival_cv`
//! for gamma and weibull gaps) and a rate that varies in time (`rate_schedule`).

use serde::{Deserialize, Serialize};

use super::check::{num, ARRIVAL_RATE, DURATION_SECONDS_MAX};
use crate::{bail, Result};

/// The widest burstiness accepted: a gap's standard deviation over its mean. 1 is Poisson;
/// measured LLM traffic sits around 1-4.
pub const ARRIVAL_CV_MAX: f64 = 20.0;

/// A request rate that varies in simulated time (requests/s at t seconds after the start).
/// Arrivals follow it by a time change: the arrival process runs at rate 1 in "operational
/// time" u, and a request at u arrives at the t where the cumulative rate first reaches u. Two
/// schedules that agree up to some t give the same arrivals up to t (same seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RateSchedule {
    /// `rates[i]` from `times[i]` until `times[i + 1]` (the last rate holds forever);
    /// `times` starts at 0 and increases.
    Steps { times: Vec<f64>, rates: Vec<f64> },
    /// min + (max - min) (1 + sin(2 pi t / period_secs)) / 2: starts halfway up, rising.
    Sine {
        min: f64,
        max: f64,
        period_secs: f64,
    },
    /// `from` at t = 0 to `to` at `duration_secs`, linearly; `to` after.
    Ramp {
        from: f64,
        to: f64,
        duration_secs: f64,
    },
    /// A CSV file (relative to the config's folder) of `time,rate` rows after a header, read
    /// as `steps`.
    Csv { path: String },
}

/// A rate must be a finite number in [0, the largest arrival_rate].
fn rate(field: &str, r: f64) -> Result<()> {
    if !(r.is_finite() && (0.0..=ARRIVAL_RATE.1).contains(&r)) {
        bail!(
            "{field} = {} is invalid: a rate must be from 0 to {} requests/s",
            num(r),
            num(ARRIVAL_RATE.1)
        );
    }
    Ok(())
}

fn seconds(field: &str, s: f64) -> Result<()> {
    if !(s.is_finite() && s > 0.0 && s <= DURATION_SECONDS_MAX) {
        bail!(
            "{field} = {} is invalid: it must be greater than 0 and at most {} seconds",
            num(s),
            num(DURATION_SECONDS_MAX)
        );
    }
    Ok(())
}

/// Checks steps as a schedule: `where_` names them in errors.
pub fn validate_steps(where_: &str, times: &[f64], rates: &[f64]) -> Result<()> {
    if times.is_empty() || times.len() != rates.len() {
        bail!(
            "{where_}: times and rates must be as long as each other and not empty ({} times, \
             {} rates)",
            times.len(),
            rates.len()
        );
    }
    if times[0] != 0.0 {
        bail!(
            "{where_}: times must start at 0 (the first is {})",
            num(times[0])
        );
    }
    for (i, pair) in times.windows(2).enumerate() {
        if !(pair[1] > pair[0] && pair[1] <= DURATION_SECONDS_MAX) {
            bail!(
                "{where_}: times must increase: times[{}] = {} follows {}",
                i + 1,
                num(pair[1]),
                num(pair[0])
            );
        }
    }
    for (i, &r) in rates.iter().enumerate() {
        rate(&format!("{where_}: rates[{i}]"), r)?;
    }
    if rates.iter().all(|&r| r == 0.0) {
        bail!("{where_}: every rate is 0: no request would ever arrive");
    }
    Ok(())
}

impl RateSchedule {
    pub fn name(&self) -> &'static str {
        match self {
            RateSchedule::Steps { .. } => "steps",
            RateSchedule::Sine { .. } => "sine",
            RateSchedule::Ramp { .. } => "ramp",
            RateSchedule::Csv { .. } => "csv",
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        const W: &str = "workload.rate_schedule";
        match self {
            RateSchedule::Steps { times, rates } => validate_steps(W, times, rates),
            RateSchedule::Sine {
                min,
                max,
                period_secs,
            } => {
                rate(&format!("{W}.min"), *min)?;
                rate(&format!("{W}.max"), *max)?;
                if max < min || *max == 0.0 {
                    bail!(
                        "{W}: max = {} must be at least min = {} and above 0",
                        num(*max),
                        num(*min)
                    );
                }
                seconds(&format!("{W}.period_secs"), *period_secs)
            }
            RateSchedule::Ramp {
                from,
                to,
                duration_secs,
            } => {
                rate(&format!("{W}.from"), *from)?;
                rate(&format!("{W}.to"), *to)?;
                if *to == 0.0 {
                    bail!("{W}.to = 0: no request would arrive after the ramp; end it above 0");
                }
                seconds(&format!("{W}.duration_secs"), *duration_secs)
            }
            RateSchedule::Csv { path } => {
                if path.is_empty() {
                    bail!("{W}.path is empty: name a CSV file of time,rate rows");
                }
                Ok(())
            }
        }
    }
}

/// The burstiness of gamma and weibull gaps.
pub(super) fn validate_cv(cv: Option<f64>, pattern: &str, needs: bool) -> Result<()> {
    match (cv, needs) {
        (None, true) => bail!(
            "workload.arrival_cv is missing: arrival_pattern = \"{pattern}\" needs the gaps' \
             coefficient of variation (1 = as bursty as Poisson, above 1 burstier)"
        ),
        (Some(cv), true) if !(cv > 0.0 && cv <= ARRIVAL_CV_MAX) => bail!(
            "workload.arrival_cv = {} is invalid: it must be greater than 0 and at most \
             {ARRIVAL_CV_MAX}",
            num(cv)
        ),
        (Some(_), false) => bail!(
            "workload.arrival_cv is set but arrival_pattern = \"{pattern}\": it applies to \
             gamma and weibull only"
        ),
        _ => Ok(()),
    }
}
