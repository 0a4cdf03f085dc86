//! What a run can write beside its summary: a record of every request, and the run's time
//! series. Both are [observers](crate::observe) the driver attaches when asked for; their
//! rows go to a [`RowSink`] (a CSV, Parquet or JSON-lines file, by extension), in batches, so
//! memory holds one batch of requests and one row per interval of the time series.

mod jsonl;
mod requests;
mod sink;
mod table;
mod timeseries;

pub use requests::RequestLog;
pub use sink::{open, RowSink};
pub use timeseries::{TimeSeries, MAX_INTERVALS};

use crate::observe::{Completion, Observer, StepEvent};
use crate::workload::RequestSpec;
use crate::Result;

/// The records a run was asked for, watching every engine of the fleet.
#[derive(Default)]
pub struct Recorders {
    pub requests: Option<RequestLog>,
    pub timeseries: Option<TimeSeries>,
    /// Any other observer a driver attaches (the web interface's histograms), seeing what
    /// the records see.
    pub watcher: Option<Box<dyn Observer + Send>>,
    /// The replica whose events come next (set by the driver before it steps one).
    pub replica: u32,
}

impl Recorders {
    /// Writes what is left and closes the files. `replicas` is the fleet's size (the time
    /// series' utilisations are per replica).
    pub fn finish(self, replicas: usize) -> Result<()> {
        if let Some(log) = self.requests {
            log.finish()?;
        }
        if let Some(series) = self.timeseries {
            series.finish(replicas)?;
        }
        Ok(())
    }
}

impl Observer for Recorders {
    fn arrival(&mut self, spec: &RequestSpec, now: f64) {
        if let Some(t) = &mut self.timeseries {
            t.arrival(spec, now);
        }
        self.watcher.arrival(spec, now);
    }
    fn first_scheduled(&mut self, spec: &RequestSpec, now: f64, cached: u32) {
        self.watcher.first_scheduled(spec, now, cached);
    }
    fn first_token(&mut self, spec: &RequestSpec, now: f64) {
        if let Some(t) = &mut self.timeseries {
            t.first_token(spec, now);
        }
        self.watcher.first_token(spec, now);
    }
    fn step(&mut self, step: &StepEvent) {
        if let Some(t) = &mut self.timeseries {
            t.step(step);
        }
        self.watcher.step(step);
    }
    fn gap(&mut self, gap: f64) {
        self.watcher.gap(gap);
    }
    fn preemption(&mut self, spec: &RequestSpec, now: f64) {
        if let Some(t) = &mut self.timeseries {
            t.preemption(spec, now);
        }
        self.watcher.preemption(spec, now);
    }
    fn prefix_lookup(&mut self, queried: u64, hit: u64) {
        self.watcher.prefix_lookup(queried, hit);
    }
    fn completion(&mut self, done: &Completion) {
        if let Some(log) = &mut self.requests {
            log.record(done, self.replica);
        }
        if let Some(t) = &mut self.timeseries {
            t.completion(done);
        }
        self.watcher.completion(done);
    }
}
