//! `[workload.sessions]`: multi-turn conversations. The arrival process starts sessions; a
//! session's turn k+1 arrives a think time after turn k completes and sends the whole history
//! (every earlier prompt and reply) plus new tokens, so its prefix is the same content the
//! previous turns computed: the prefix cache finds it unless it was evicted meanwhile.

use serde::{Deserialize, Serialize};

use super::check::num;
use super::workload::LengthDist;
use crate::{bail, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// Turns per session (at least 1; the first turn's prompt is input_len_dist).
    pub turns: LengthDist,
    /// Seconds between a turn's completion and the next turn's arrival.
    pub think_time_secs: ThinkTime,
    /// Tokens each later turn adds to the history (the user's new message).
    pub new_input_len_dist: LengthDist,
}

/// A distribution of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ThinkTime {
    Fixed { value: f64 },
    Exponential { mean: f64 },
    Uniform { min: f64, max: f64 },
}

/// The longest think time accepted (a day).
const THINK_MAX: f64 = 86_400.0;

impl SessionsConfig {
    pub(super) fn validate(&self) -> Result<()> {
        self.turns.validate("workload.sessions.turns")?;
        self.new_input_len_dist
            .validate("workload.sessions.new_input_len_dist")?;
        let ok = |x: f64| x.is_finite() && (0.0..=THINK_MAX).contains(&x);
        let bad = match self.think_time_secs {
            ThinkTime::Fixed { value } => (!ok(value)).then_some(value),
            ThinkTime::Exponential { mean } => (!ok(mean)).then_some(mean),
            ThinkTime::Uniform { min, max } => {
                if ok(min) && ok(max) && min > max {
                    bail!(
                        "workload.sessions.think_time_secs: min = {} is greater than max = {}",
                        num(min),
                        num(max)
                    );
                }
                [min, max].into_iter().find(|&x| !ok(x))
            }
        };
        if let Some(x) = bad {
            bail!(
                "workload.sessions.think_time_secs: {} is invalid: seconds from 0 to {}",
                num(x),
                num(THINK_MAX)
            );
        }
        Ok(())
    }
}
