//! `[workload.sessions]`: multi-turn conversations. The arrival process starts sessions; a
//! session's turn k+1 arrives a think time after turn k completes and sends the whole history
//! (every earlier prompt and reply) plus new tokens, so its prefix is the same content the
//! previous turns computed: the prefix cache finds it unless it was evicted meanwhile.
//!
//! With a dataset, each line is one conversation and its turns are the recorded ones (see
//! `workload::dataset`): only the think time is the config's.

use serde::{Deserialize, Serialize};

use super::check::num;
use super::workload::LengthDist;
use crate::{bail, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// Turns per session (at least 1; the first turn's prompt is input_len_dist). Synthetic
    /// sessions only: a dataset's conversations have their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<LengthDist>,
    /// Seconds between a turn's completion and the next turn's arrival.
    pub think_time_secs: ThinkTime,
    /// Tokens each later turn adds to the history (the user's new message). Synthetic
    /// sessions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_input_len_dist: Option<LengthDist>,
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
    /// Checks the section; `dataset` says whether the conversations come from a dataset
    /// (which gives the turns) or are synthetic (which need them).
    pub(super) fn validate(&self, dataset: bool) -> Result<()> {
        for (key, dist) in [
            ("turns", &self.turns),
            ("new_input_len_dist", &self.new_input_len_dist),
        ] {
            match (dist, dataset) {
                (Some(_), true) => bail!(
                    "workload.sessions.{key} is set with a dataset: each line is a whole \
                     conversation whose turns are its own; leave {key} out"
                ),
                (None, false) => bail!(
                    "workload.sessions.{key} is missing: synthetic sessions need turns (a \
                     length distribution of turns per session) and new_input_len_dist (the \
                     tokens each later turn adds)"
                ),
                (Some(d), false) => d.validate(&format!("workload.sessions.{key}"))?,
                (None, true) => {}
            }
        }
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
