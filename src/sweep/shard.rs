//! Splitting a grid into N shards, so that N machines (a Slurm job array, a Kubernetes Indexed
//! Job, or hosts by hand) each run one part of a sweep into the same results folder.
//!
//! The split is a pure function of the grid and N: every shard computes it alone, with no
//! coordination, and gets the same answer. Runs are dealt longest expected cost first, each to
//! the shard with the least total cost so far (ties: the lower shard), so shards finish at
//! about the same time even when one axis makes some runs a hundred times longer than others.
//! Costs are rounded to whole integers first, so the sums are exact and the split does not
//! hinge on floating-point rounding.
//!
//! The split does not depend on what is already done: a shard rerun after a failure runs
//! exactly its own missing runs, whatever the other shards are doing. A run's id, its row in
//! the tables and the resume rule (skip a run that has an `ok` record in any journal of the
//! folder) are the same as without sharding.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use super::grid::Grid;
use crate::{bail, Error, Result};

/// Shard `index` of `count` (0-based, like SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// More shards than this is a typo, not a cluster.
pub const MAX_SHARDS: usize = 1_000_000;

/// The environment variable that gives the shard count next to JOB_COMPLETION_INDEX
/// (Kubernetes sets the index of an Indexed Job's pod, but not the Job's completions).
pub const SHARD_COUNT_ENV: &str = "INFERENCE_LAB_SHARD_COUNT";

impl Shard {
    /// The whole grid: an unsharded sweep.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            bail!("a sweep has at least 1 shard, not 0");
        }
        if count > MAX_SHARDS {
            bail!("{count} shards: at most {MAX_SHARDS}");
        }
        if index >= count {
            bail!(
                "shard index {index} is out of range for {count} shards: they are numbered 0 to {} \
                 (0-based, like SLURM_ARRAY_TASK_ID)",
                count - 1
            );
        }
        Ok(Shard { index, count })
    }

    /// Parses `K/N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            Error::new(format!(
                "--shard {text:?}: give K/N, shard K (0-based) of N, e.g. --shard 0/4"
            ))
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).map_err(|e| e.context(format!("--shard {text}")))
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// The shard a batch system assigned to this process, and the variables it came from:
    /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (an array numbered 0..N-1), else
    /// JOB_COMPLETION_INDEX with INFERENCE_LAB_SHARD_COUNT. None when neither is set.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<(Shard, String)>> {
        let num =
            |name: &str| -> Result<Option<usize>> {
                match get(name) {
                    None => Ok(None),
                    Some(v) if v.trim().is_empty() => Ok(None),
                    Some(v) => v.trim().parse().map(Some).map_err(|_| {
                        Error::new(format!("{name}={v:?} is not a non-negative integer"))
                    }),
                }
            };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let Some(count) = num("SLURM_ARRAY_TASK_COUNT")? else {
                bail!(
                    "SLURM_ARRAY_TASK_ID={id} is set but SLURM_ARRAY_TASK_COUNT is not: \
                     pass --shard {id}/N"
                );
            };
            let (min, max) = (num("SLURM_ARRAY_TASK_MIN")?, num("SLURM_ARRAY_TASK_MAX")?);
            let contiguous = min.is_none_or(|m| m == 0) && max.is_none_or(|m| m + 1 == count);
            if !contiguous || id >= count {
                bail!(
                    "this job array is not numbered 0..{} (SLURM_ARRAY_TASK_ID={id}, \
                     SLURM_ARRAY_TASK_COUNT={count}{}{}), so it does not say which shard to run: \
                     pass --shard \"$SLURM_ARRAY_TASK_ID/N\" with the number of shards N",
                    count.saturating_sub(1),
                    min.map_or(String::new(), |m| format!(", SLURM_ARRAY_TASK_MIN={m}")),
                    max.map_or(String::new(), |m| format!(", SLURM_ARRAY_TASK_MAX={m}")),
                );
            }
            let shard = Shard::new(id, count)?;
            let from = format!("from SLURM_ARRAY_TASK_ID={id} and SLURM_ARRAY_TASK_COUNT={count}");
            return Ok(Some((shard, from)));
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let Some(count) = num(SHARD_COUNT_ENV)? else {
                bail!(
                    "JOB_COMPLETION_INDEX={index} is set but not the number of shards: set \
                     {SHARD_COUNT_ENV} to the Job's completions, or pass --shard {index}/N"
                );
            };
            let shard = Shard::new(index, count)
                .map_err(|e| e.context(format!("JOB_COMPLETION_INDEX={index}")))?;
            let from = format!("from JOB_COMPLETION_INDEX={index} and {SHARD_COUNT_ENV}={count}");
            return Ok(Some((shard, from)));
        }
        Ok(None)
    }

    /// Indices (into `grid.runs`, in grid order) of this shard's runs.
    pub fn runs(&self, grid: &Grid) -> Vec<usize> {
        if self.is_whole() {
            return (0..grid.runs.len()).collect();
        }
        assign(grid, self.count)
            .into_iter()
            .enumerate()
            .filter(|&(_, s)| s == self.index)
            .map(|(i, _)| i)
            .collect()
    }

    /// `shard-K-of-N`: how the shard's files are named.
    pub fn file_stem(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A run's weight in the split: its expected cost rounded to an integer, at least 1.
pub fn weight(cost: f64) -> u64 {
    // The cap keeps the sum of 5 million runs inside u64; NaN counts as 1.
    if cost.is_nan() {
        return 1;
    }
    cost.clamp(1.0, 1e12).round() as u64
}

/// The shard of every run (indexed like `grid.runs`) for `count` shards: greedy
/// longest-processing-time, heaviest run first (ties by grid order), each to the least loaded
/// shard (ties to the lower index).
pub fn assign(grid: &Grid, count: usize) -> Vec<usize> {
    let count = count.max(1);
    let weights: Vec<u64> = grid.runs.iter().map(|r| weight(r.cost)).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (Reverse(weights[i]), i));
    let mut loads: BinaryHeap<Reverse<(u64, usize)>> =
        (0..count).map(|s| Reverse((0, s))).collect();
    let mut shard_of = vec![0; weights.len()];
    for i in order {
        let Reverse((load, s)) = loads.pop().expect("at least one shard");
        shard_of[i] = s;
        loads.push(Reverse((load + weights[i], s)));
    }
    shard_of
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert_eq!(Shard::parse(" 0 / 1 ").unwrap(), Shard::WHOLE);
        for bad in ["4/4", "1/0", "a/4", "2", "-1/4", "2/4/6", ""] {
            let err = Shard::parse(bad).unwrap_err().to_string();
            assert!(err.contains("--shard"), "{bad}: {err}");
        }
        assert!(Shard::parse("4/4")
            .unwrap_err()
            .to_string()
            .contains("numbered 0 to 3"));
        assert_eq!(Shard::new(3, 8).unwrap().to_string(), "3/8");
        assert_eq!(Shard::new(3, 8).unwrap().file_stem(), "shard-3-of-8");
    }

    #[test]
    fn reads_slurm_and_kubernetes_variables() {
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
        let (shard, from) = Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
            ("JOB_COMPLETION_INDEX", "1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(shard, Shard { index: 2, count: 4 });
        assert!(from.contains("SLURM_ARRAY_TASK_ID=2"), "{from}");

        // A 1-based array, or a resubmission of some tasks: not a 0..N-1 numbering.
        for vars in [
            &[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ][..],
            &[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "4"),
            ],
            &[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "x"),
            ],
            &[("SLURM_ARRAY_TASK_ID", "2")],
        ] {
            let err = Shard::from_env(env(vars)).unwrap_err().to_string();
            assert!(err.contains("--shard") || err.contains("integer"), "{err}");
        }

        let (shard, from) = Shard::from_env(env(&[
            ("JOB_COMPLETION_INDEX", "3"),
            (SHARD_COUNT_ENV, "5"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(shard, Shard { index: 3, count: 5 });
        assert!(from.contains("JOB_COMPLETION_INDEX=3"), "{from}");
        let err = Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "3")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(SHARD_COUNT_ENV), "{err}");
        assert!(Shard::from_env(env(&[
            ("JOB_COMPLETION_INDEX", "5"),
            (SHARD_COUNT_ENV, "5")
        ]))
        .is_err());
    }

    #[test]
    fn weights_are_whole_and_positive() {
        assert_eq!(weight(0.0), 1);
        assert_eq!(weight(f64::NAN), 1);
        assert_eq!(weight(1500.4), 1500);
        assert_eq!(weight(1e300), 1_000_000_000_000);
    }
}
