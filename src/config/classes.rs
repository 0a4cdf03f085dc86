//! `[[workload.classes]]`: kinds of requests in one stream (a chat tier, a batch tier), each
//! with its share of the arrivals, its priority, its lengths and its shared system prompt.

use serde::{Deserialize, Serialize};

use super::workload::LengthDist;
use crate::{bail, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestClass {
    pub name: String,
    /// The share of requests of this class; the classes' fractions sum to 1.
    pub fraction: f64,
    /// Lower is more urgent (the `priority` policy, and its preemption victims).
    #[serde(default)]
    pub priority: i64,
    /// This class's lengths (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_len_dist: Option<LengthDist>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_len_dist: Option<LengthDist>,
    /// A prefix of this many tokens every request of the class starts with (its system
    /// prompt), in place of the workload's shared prefix.
    #[serde(default)]
    pub shared_prefix_tokens: u32,
    /// This class's service-level objectives (`slo = { ttft_ms = 200 }`): each key it sets
    /// replaces `[slo]`'s for its requests; those it leaves out are `[slo]`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<super::SloConfig>,
}

/// The most classes one workload may have.
pub const MAX_CLASSES: usize = 1000;

/// Checks the classes as a set: names, fractions, and that each has lengths to sample.
pub(super) fn validate(
    classes: &[RequestClass],
    input: Option<&LengthDist>,
    output: Option<&LengthDist>,
) -> Result<()> {
    if classes.len() > MAX_CLASSES {
        bail!(
            "workload.classes: {} classes, more than the {MAX_CLASSES} allowed",
            classes.len()
        );
    }
    let mut total = 0.0;
    for (i, c) in classes.iter().enumerate() {
        let at = format!("workload.classes[{i}]");
        if c.name.trim().is_empty() {
            bail!("{at}.name is empty: name the class");
        }
        if classes[..i].iter().any(|other| other.name == c.name) {
            bail!("{at}.name = {:?} is used by two classes", c.name);
        }
        if !(c.fraction > 0.0 && c.fraction <= 1.0) {
            bail!(
                "{at}.fraction = {} is invalid: it must be greater than 0 and at most 1",
                c.fraction
            );
        }
        total += c.fraction;
        if let Some(slo) = &c.slo {
            slo.validate(&format!("{at}.slo"))?;
        }
        for (key, own, fallback) in [
            ("input_len_dist", &c.input_len_dist, input),
            ("output_len_dist", &c.output_len_dist, output),
        ] {
            match (own, fallback) {
                (Some(d), _) => d.validate(&format!("{at}.{key}"))?,
                (None, Some(_)) => {}
                (None, None) => bail!(
                    "{at} ({}) has no {key}, and [workload] gives none to fall back on",
                    c.name
                ),
            }
        }
    }
    if !classes.is_empty() && (total - 1.0).abs() > 1e-9 {
        let list: Vec<String> = classes.iter().map(|c| format!("{}", c.fraction)).collect();
        bail!(
            "workload.classes: the fractions sum to {total} ({}), not 1",
            list.join(" + ")
        );
    }
    Ok(())
}
