//! Running a whole simulation: to completion, with a progress callback, or watched by a
//! driver that can look at the records so far and stop the run between steps (the web
//! interface's Stop button). All three are one loop, and the progress they report says what
//! is final.

use std::ops::ControlFlow;

use super::{Simulator, StepOutcome};
use crate::metrics::RunSummary;
use crate::records::Recorders;
use crate::Result;

/// A snapshot for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Simulated seconds.
    pub now: f64,
    pub completed: u64,
    /// Requests the run will see, when known up front.
    pub total: Option<u64>,
    pub running: usize,
    pub waiting: usize,
    /// Fraction of KV blocks in use (over the fleet).
    pub kv_cache_util: f64,
    pub steps: u64,
    /// Engine replicas in the fleet (1 without `[cluster]`).
    pub replicas: usize,
    /// The instant of the next event (infinite when none is left): nothing the run does
    /// from here on happens earlier, so whatever was recorded before it is final.
    pub settled: f64,
}

/// The candidates for the next event: the busy replica whose step boundary comes first (and
/// that boundary), the next arrival, and the next handoff or landed KV transfer.
pub(super) struct Upcoming {
    pub replica: Option<(usize, f64)>,
    pub arrival: Option<f64>,
    pub moved: Option<f64>,
}

impl Upcoming {
    /// When the next event happens (infinite when none is left): nothing the run does from
    /// then on is earlier.
    pub fn earliest(&self) -> f64 {
        [self.arrival, self.replica.map(|(_, t)| t), self.moved]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min)
    }
}

impl Simulator {
    /// Runs to completion.
    pub fn run(self) -> Result<RunSummary> {
        self.run_with_progress(|_| {})
    }

    /// Runs to completion, calling `progress` every `simulation.log_interval` steps and once at
    /// the end.
    pub fn run_with_progress(self, mut progress: impl FnMut(&Progress)) -> Result<RunSummary> {
        let every = self.log_interval;
        let summary = self.run_watched(every, |p, _| {
            progress(p);
            ControlFlow::Continue(())
        })?;
        Ok(summary.expect("a watcher that never breaks runs to completion"))
    }

    /// Runs until done or until `watch` breaks, calling it every `every` steps (forward
    /// passes) with the progress and the records written so far (see
    /// [`TimeSeries::settled`](crate::records::TimeSeries::settled)), and once at the end.
    /// Returns `None` when `watch` stopped the run: a stopped run has no summary, and its
    /// records are dropped unwritten.
    pub fn run_watched(
        mut self,
        every: u64,
        mut watch: impl FnMut(&Progress, &mut Recorders) -> ControlFlow<()>,
    ) -> Result<Option<RunSummary>> {
        let every = every.max(1);
        let mut reported = 0;
        loop {
            match self.step()? {
                StepOutcome::Done => break,
                StepOutcome::Ran(_) if self.metrics.steps() / every > reported => {
                    reported = self.metrics.steps() / every;
                    let progress = self.progress();
                    if watch(&progress, &mut self.recorders).is_break() {
                        return Ok(None);
                    }
                }
                _ => {}
            }
        }
        let progress = self.progress();
        if watch(&progress, &mut self.recorders).is_break() {
            return Ok(None);
        }
        let recorders = std::mem::take(&mut self.recorders);
        let replicas = self.replicas.len();
        let summary = self.finish();
        summary.check_finite()?;
        recorders.finish(replicas)?;
        Ok(Some(summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn config() -> Config {
        Config::from_toml_str(include_str!("../../configs/debug-closed-loop.toml")).unwrap()
    }

    #[test]
    fn a_watched_run_that_never_stops_equals_a_plain_run() {
        let plain = Simulator::new(&config()).unwrap().run().unwrap();
        let mut calls = 0;
        let watched = Simulator::new(&config())
            .unwrap()
            .run_watched(1, |_, _| {
                calls += 1;
                ControlFlow::Continue(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(plain.to_json(), watched.to_json());
        // At most once per step (a span of decode steps is one call), and once at the end.
        assert!(calls >= 2 && calls <= plain.steps + 1, "{calls}");
    }

    #[test]
    fn a_watcher_stops_the_run_between_steps() {
        let mut seen = Vec::new();
        let stopped = Simulator::new(&config())
            .unwrap()
            .run_watched(5, |p, _| {
                seen.push(p.steps);
                if p.steps >= 20 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert!(stopped.is_none());
        // It stopped at the first look past 20 steps, and looked once per 5 steps crossed.
        assert!(seen.windows(2).all(|w| w[1] / 5 > w[0] / 5), "{seen:?}");
        assert!(seen[..seen.len() - 1].iter().all(|&s| s < 20), "{seen:?}");
        assert!(*seen.last().unwrap() >= 20);
    }
}
