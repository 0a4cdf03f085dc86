//! What a web run keeps for the page: its completed requests' values, watched as they
//! complete, and the library's own time series (the observer `--timeseries` uses) into a sink
//! that keeps its table instead of writing a file.
//!
//! - [`Samples`]: the latencies and lengths of the completed requests, for the histograms; at
//!   most [`SAMPLES`] of each, a uniform sample (reservoir, seeded) past that, so memory stays
//!   flat however long the run.
//! - [`Frame`]: the time series' final table.

use std::sync::{Arc, Mutex};

use polars::prelude::DataFrame;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use inference_lab::observe::{Completion, Observer};
use inference_lab::records::RowSink;
use inference_lab::report::table_of;

/// The most values of each kind a histogram is drawn from.
pub const SAMPLES: usize = 200_000;
/// Bars of a histogram.
const BINS: usize = 40;
/// The histograms: (name, how a row gives it).
const KINDS: [&str; 5] = [
    "ttft_ms",
    "e2e_ms",
    "tpot_ms",
    "prompt_tokens",
    "output_tokens",
];

/// A uniform sample of the requests' values (algorithm R), one per kind: a kind a request
/// lacks (TPOT of a one-token output) is left out of that kind's count.
pub struct Samples {
    /// (values seen, the sample) per kind.
    kinds: [(u64, Vec<f64>); 5],
    rng: StdRng,
}

impl Default for Samples {
    fn default() -> Samples {
        Samples {
            kinds: Default::default(),
            rng: StdRng::seed_from_u64(0x5eed),
        }
    }
}

impl Samples {
    /// One request's values.
    fn add(&mut self, row: [Option<f64>; 5]) {
        for ((seen, values), v) in self.kinds.iter_mut().zip(row) {
            let Some(v) = v.filter(|v| v.is_finite()) else {
                continue;
            };
            *seen += 1;
            if values.len() < SAMPLES {
                values.push(v);
            } else if let Ok(k) = usize::try_from(self.rng.random_range(0..*seen)) {
                if k < SAMPLES {
                    values[k] = v;
                }
            }
        }
    }

    /// `{"ttft_ms": H, ...}`, H = `{"edges": [...], "counts": [...], "samples": n, "of": n}`.
    pub fn histograms(&self) -> Value {
        let mut out = Map::new();
        for (name, (seen, values)) in KINDS.iter().zip(&self.kinds) {
            let (edges, counts) = histogram(values, BINS);
            out.insert(
                name.to_string(),
                json!({ "edges": edges, "counts": counts, "samples": values.len(),
                        "of": seen }),
            );
        }
        Value::Object(out)
    }
}

/// Equal-width bins from the least value to the greatest (one bin of width 1 when they are
/// all equal; none when there are no values).
fn histogram(values: &[f64], bins: usize) -> (Vec<f64>, Vec<u64>) {
    let Some(lo) = values.iter().copied().reduce(f64::min) else {
        return (Vec::new(), Vec::new());
    };
    let hi = values.iter().copied().fold(lo, f64::max);
    if hi <= lo {
        return (vec![lo, lo + 1.0], vec![values.len() as u64]);
    }
    let width = (hi - lo) / bins as f64;
    let edges = (0..=bins).map(|k| lo + k as f64 * width).collect();
    let mut counts = vec![0u64; bins];
    for v in values {
        let k = (((v - lo) / width) as usize).min(bins - 1);
        counts[k] += 1;
    }
    (edges, counts)
}

/// Watches the run's completed requests into the samples (the observer `--requests` is
/// built on sees the same ones).
pub struct SampleWatch(pub Arc<Mutex<Samples>>);

impl Observer for SampleWatch {
    fn completion(&mut self, done: &Completion) {
        let ms = |s: f64| s * 1e3;
        let row = [
            Some(ms(done.ttft())),
            Some(ms(done.e2e())),
            done.tpot().map(ms),
            Some(f64::from(done.spec.prompt_len)),
            Some(f64::from(done.spec.output_len)),
        ];
        self.0.lock().expect("no panic holds the samples").add(row);
    }
}

/// The time series' sink: keeps its table.
pub struct FrameSink(pub Arc<Mutex<Option<DataFrame>>>);

impl RowSink for FrameSink {
    fn write(&mut self, frame: &mut DataFrame) -> inference_lab::Result<()> {
        *self.0.lock().expect("no panic holds the frame") = Some(frame.clone());
        Ok(())
    }

    fn finish(self: Box<Self>) -> inference_lab::Result<()> {
        Ok(())
    }
}

/// A table's rows as JSON objects (numbers, or null where a value is missing).
pub fn rows(frame: &DataFrame) -> Vec<Value> {
    match table_of(frame).map(|t| t.to_json_rows()) {
        Ok(Value::Array(rows)) => rows,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_value_once() {
        let values: Vec<f64> = (0..1000).map(|i| (i % 97) as f64).collect();
        let (edges, counts) = histogram(&values, 10);
        assert_eq!(edges.len(), 11);
        assert_eq!(edges[0], 0.0);
        assert_eq!(edges[10], 96.0);
        assert_eq!(counts.iter().sum::<u64>(), 1000);
        // The greatest value falls in the last bin.
        assert!(counts[9] > 0);
        assert_eq!(histogram(&[5.0, 5.0], 10), (vec![5.0, 6.0], vec![2]));
        assert_eq!(histogram(&[], 10), (vec![], vec![]));
    }

    #[test]
    fn samples_stay_bounded_and_uniform() {
        let mut s = Samples::default();
        let n = 3 * SAMPLES;
        for i in 0..n {
            let v = i as f64;
            s.add([Some(v), Some(v), None, Some(v), Some(v)]);
        }
        assert_eq!(s.kinds[0].0, n as u64);
        assert_eq!(s.kinds[0].1.len(), SAMPLES);
        assert_eq!(s.kinds[2], (0, vec![]));
        // A uniform sample of 0..n has its mean near n / 2.
        let mean = s.kinds[0].1.iter().sum::<f64>() / SAMPLES as f64;
        assert!((mean / (n as f64 / 2.0) - 1.0).abs() < 0.01, "{mean}");
        let h = s.histograms();
        assert_eq!(h["ttft_ms"]["samples"], SAMPLES);
        assert_eq!(h["ttft_ms"]["of"], n);
    }
}
