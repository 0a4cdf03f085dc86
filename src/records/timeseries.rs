//! The run's time series (`--timeseries FILE --interval S`): one row per interval of
//! simulated time [t, t + S), for the whole fleet.
//!
//! - Counts by when they happened: `arrivals` (requests reaching an engine), `completions`,
//!   `preemptions`; and by the end of the step that did them: `steps`, `prefill_tokens`,
//!   `decode_tokens`, `output_tokens`, with `input_tokens_per_s` (prefill tokens / S) and
//!   `output_tokens_per_s`.
//! - Time-weighted means over the interval, a step's values holding while it runs and the
//!   engine counting as empty between steps: `running`, `waiting` (summed over replicas),
//!   `kv_cache_util` and `busy_fraction` (averaged over replicas). These integrate to the
//!   run's `kv_cache_util_mean` and `busy_fraction`: the same step-time weights.
//! - `ttft_ms_mean`: the MEAN time to first token of the requests whose first token came in
//!   the interval; `tpot_ms_mean`: the MEAN time per output token of those that completed in
//!   it (null when none did).
//!
//! Memory is one row per interval so far; a run longer than [`MAX_INTERVALS`] intervals is an
//! error at the end rather than unbounded memory.

use polars::prelude::*;

use super::sink::RowSink;
use crate::observe::{Completion, StepEvent};
use crate::workload::RequestSpec;
use crate::{bail, Error, Result};

/// The most intervals one run's series may have (ten million rows, about a gigabyte).
pub const MAX_INTERVALS: usize = 10_000_000;

#[derive(Debug, Clone, Copy, Default)]
struct Interval {
    arrivals: u64,
    completions: u64,
    preemptions: u64,
    steps: u64,
    prefill_tokens: u64,
    decode_tokens: u64,
    output_tokens: u64,
    /// Integrals over the interval (value x seconds).
    running: f64,
    waiting: f64,
    kv: f64,
    busy: f64,
    ttft_sum: f64,
    ttft_n: u64,
    tpot_sum: f64,
    tpot_n: u64,
}

/// The time-series observer.
pub struct TimeSeries {
    interval: f64,
    rows: Vec<Interval>,
    sink: Box<dyn RowSink>,
    /// The most intervals it keeps ([`MAX_INTERVALS`] unless a driver asks for fewer).
    max_intervals: usize,
    /// An event past `max_intervals` intervals was seen.
    too_long: bool,
    /// Intervals already handed out by [`TimeSeries::settled`].
    settled: usize,
}

impl TimeSeries {
    /// A series of `interval` seconds (> 0 and finite, checked by the caller) into `sink`.
    pub fn new(interval: f64, sink: Box<dyn RowSink>) -> TimeSeries {
        TimeSeries {
            interval,
            rows: Vec::new(),
            sink,
            max_intervals: MAX_INTERVALS,
            too_long: false,
            settled: 0,
        }
    }

    /// Keeps at most `max` intervals (at most [`MAX_INTERVALS`]): a driver that shows the
    /// series rather than writing it bounds its memory so, and drops the series once it
    /// [overflows](TimeSeries::overflowed).
    pub fn with_max_intervals(mut self, max: usize) -> TimeSeries {
        self.max_intervals = max.min(MAX_INTERVALS);
        self
    }

    /// Whether an event came past the last interval it keeps (`finish` then fails).
    pub fn overflowed(&self) -> bool {
        self.too_long
    }

    /// The interval holding instant `t`, created (with those before it) as needed.
    fn at(&mut self, t: f64) -> Option<&mut Interval> {
        let k = (t.max(0.0) / self.interval).floor();
        if k >= self.max_intervals as f64 {
            self.too_long = true;
            return None;
        }
        let k = k as usize;
        if self.rows.len() <= k {
            self.rows.resize(k + 1, Interval::default());
        }
        Some(&mut self.rows[k])
    }

    pub fn arrival(&mut self, _spec: &RequestSpec, now: f64) {
        if let Some(i) = self.at(now) {
            i.arrivals += 1;
        }
    }

    pub fn first_token(&mut self, spec: &RequestSpec, now: f64) {
        if let Some(i) = self.at(now) {
            i.ttft_sum += now - spec.arrival;
            i.ttft_n += 1;
        }
    }

    pub fn preemption(&mut self, _spec: &RequestSpec, now: f64) {
        if let Some(i) = self.at(now) {
            i.preemptions += 1;
        }
    }

    pub fn completion(&mut self, done: &Completion) {
        let tpot = done.tpot();
        if let Some(i) = self.at(done.completion) {
            i.completions += 1;
            if let Some(tpot) = tpot {
                i.tpot_sum += tpot;
                i.tpot_n += 1;
            }
        }
    }

    pub fn step(&mut self, step: &StepEvent) {
        let end = step.start + step.duration;
        if let Some(i) = self.at(end) {
            i.steps += 1;
            i.prefill_tokens += u64::from(step.prefill_tokens);
            i.decode_tokens += u64::from(step.decode_tokens);
            i.output_tokens += step.output_tokens;
        }
        // The step's time, spread over the intervals it overlaps.
        let mut t = step.start;
        while t < end {
            let k = (t / self.interval).floor();
            let boundary = ((k + 1.0) * self.interval).min(end);
            // A step shorter than the float spacing at t still ends: take it whole.
            let boundary = if boundary <= t { end } else { boundary };
            let overlap = boundary - t;
            let Some(i) = self.at(t) else { return };
            i.running += f64::from(step.running) * overlap;
            i.waiting += f64::from(step.waiting) * overlap;
            i.kv += step.kv_util * overlap;
            i.busy += overlap;
            t = boundary;
        }
    }

    /// The rows of the intervals that ended by `settled` (a [`Progress`]'s: the next event's
    /// instant, before which nothing more will be recorded) and were not handed out before;
    /// none when no new one did. For a driver that shows the series as the run goes: these
    /// rows are the written series' own, each handed out once, in order.
    ///
    /// [`Progress`]: crate::fleet::Progress
    pub fn settled(&mut self, settled: f64, replicas: usize) -> Result<Option<DataFrame>> {
        let ended = (settled.max(0.0) / self.interval).floor();
        let ended = if ended.is_finite() {
            ended as usize
        } else {
            usize::MAX
        };
        let ended = ended.min(self.rows.len());
        if ended <= self.settled {
            return Ok(None);
        }
        let frame = frame(
            &self.rows[self.settled..ended],
            self.settled,
            self.interval,
            replicas,
        )?;
        self.settled = ended;
        Ok(Some(frame))
    }

    /// Writes the series; utilisations are averaged over `replicas`.
    pub fn finish(mut self, replicas: usize) -> Result<()> {
        if self.too_long {
            bail!(
                "--timeseries: the run is longer than {} intervals of {} s: use a longer \
                 --interval",
                self.max_intervals,
                self.interval
            );
        }
        let mut frame = frame(&self.rows, 0, self.interval, replicas)?;
        self.sink.write(&mut frame)?;
        self.sink.finish()
    }
}

/// The rows of intervals `first..` of `s` seconds; utilisations averaged over `replicas`.
fn frame(rows: &[Interval], first: usize, s: f64, replicas: usize) -> Result<DataFrame> {
    let r = replicas.max(1) as f64;
    let counts = |f: fn(&Interval) -> u64| rows.iter().map(f).collect::<Vec<u64>>();
    let floats = |f: &dyn Fn(&Interval) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let mean = |sum: f64, n: u64| (n > 0).then(|| sum / n as f64 * 1e3);
    let columns = vec![
        Column::new(
            "time_s".into(),
            (first..first + rows.len())
                .map(|k| k as f64 * s)
                .collect::<Vec<f64>>(),
        ),
        Column::new("arrivals".into(), counts(|i| i.arrivals)),
        Column::new("completions".into(), counts(|i| i.completions)),
        Column::new("preemptions".into(), counts(|i| i.preemptions)),
        Column::new("steps".into(), counts(|i| i.steps)),
        Column::new("prefill_tokens".into(), counts(|i| i.prefill_tokens)),
        Column::new("decode_tokens".into(), counts(|i| i.decode_tokens)),
        Column::new("output_tokens".into(), counts(|i| i.output_tokens)),
        Column::new(
            "input_tokens_per_s".into(),
            floats(&|i| i.prefill_tokens as f64 / s),
        ),
        Column::new(
            "output_tokens_per_s".into(),
            floats(&|i| i.output_tokens as f64 / s),
        ),
        Column::new("running".into(), floats(&|i| i.running / s)),
        Column::new("waiting".into(), floats(&|i| i.waiting / s)),
        Column::new("kv_cache_util".into(), floats(&|i| i.kv / (s * r))),
        Column::new("busy_fraction".into(), floats(&|i| i.busy / (s * r))),
        Column::new(
            "ttft_ms_mean".into(),
            rows.iter()
                .map(|i| mean(i.ttft_sum, i.ttft_n))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tpot_ms_mean".into(),
            rows.iter()
                .map(|i| mean(i.tpot_sum, i.tpot_n))
                .collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new_infer_height(columns)
        .map_err(|e| Error::new(format!("building the time series: {e}")))
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::records::Recorders;
    use crate::{Config, Simulator};

    /// Keeps the frames written to it.
    struct Keep(Arc<Mutex<Vec<DataFrame>>>);

    impl RowSink for Keep {
        fn write(&mut self, frame: &mut DataFrame) -> Result<()> {
            self.0.lock().unwrap().push(frame.clone());
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<()> {
            Ok(())
        }
    }

    /// The rows handed out as the run goes are final: together they are the written series'
    /// rows, each once, in order, in a single engine, a fleet and a disaggregated fleet.
    #[test]
    fn settled_rows_are_the_series_rows_once_each() {
        for text in [
            include_str!("../../configs/chat-llama3-8b-h100.toml"),
            include_str!("../../configs/fleet-llama3-8b-h100x8.toml"),
            include_str!("../../configs/pd-llama3-8b-h100x8.toml"),
        ] {
            settled_rows_are_final(Config::from_toml_str(text).unwrap());
        }
    }

    fn settled_rows_are_final(config: Config) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let recorders = Recorders {
            timeseries: Some(TimeSeries::new(0.5, Box::new(Keep(Arc::clone(&written))))),
            ..Recorders::default()
        };
        let mut settled: Option<DataFrame> = None;
        let summary = Simulator::new(&config)
            .unwrap()
            .with_recorders(recorders)
            .run_watched(16, |p, records| {
                let series = records.timeseries.as_mut().unwrap();
                if let Some(rows) = series.settled(p.settled, p.replicas).unwrap() {
                    match &mut settled {
                        None => settled = Some(rows),
                        Some(all) => {
                            all.vstack_mut(&rows).unwrap();
                        }
                    }
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        assert!(summary.is_some());
        let written = written.lock().unwrap();
        let series = &written[0];
        let settled = settled.expect("a run of many intervals settles some");
        assert!(settled.height() > 10, "{}", settled.height());
        // The last call comes after the last event: every row was handed out.
        assert_eq!(settled.height(), series.height());
        assert!(settled.equals_missing(series));
    }
}
