//! Property tests of the records over random small configs (sessions, classes, preemptions,
//! parallelism, async scheduling): every completed request is recorded exactly once, with
//! times in order, and the time series adds up to the summary's counts and utilisations.

mod common;

use std::sync::{Arc, Mutex};

use common::arb_config;
use inference_lab::records::{Recorders, RequestLog, RowSink, TimeSeries};
use inference_lab::Simulator;
use polars::prelude::*;
use proptest::prelude::*;

/// A sink that keeps what it is given.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<DataFrame>>>);

impl RowSink for Memory {
    fn write(&mut self, frame: &mut DataFrame) -> inference_lab::Result<()> {
        self.0.lock().unwrap().push(frame.clone());
        Ok(())
    }
    fn finish(self: Box<Self>) -> inference_lab::Result<()> {
        Ok(())
    }
}

impl Memory {
    fn column(&self, name: &str) -> Vec<f64> {
        let frames = self.0.lock().unwrap();
        frames
            .iter()
            .flat_map(|f| {
                let c = f.column(name).unwrap().cast(&DataType::Float64).unwrap();
                let c = c.f64().unwrap().clone();
                (0..c.len())
                    .map(|i| c.get(i).unwrap_or(f64::NAN))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn every_completed_request_is_recorded_once_and_the_series_adds_up(config in arb_config()) {
        let (requests, series) = (Memory::default(), Memory::default());
        let interval = 0.05;
        let simulator = Simulator::new(&config).unwrap();
        let recorders = Recorders {
            requests: Some(RequestLog::new(Box::new(requests.clone()), simulator.class_names().to_vec())),
            timeseries: Some(TimeSeries::new(interval, Box::new(series.clone()))),
            ..Recorders::default()
        };
        let s = simulator.with_recorders(recorders).run().unwrap();

        let mut ids = requests.column("id");
        prop_assert_eq!(ids.len() as u64, s.requests_completed);
        ids.sort_by(f64::total_cmp);
        ids.dedup();
        prop_assert_eq!(ids.len() as u64, s.requests_completed, "a request recorded twice");
        let (arrival, scheduled, first, done) = (
            requests.column("arrival_s"),
            requests.column("first_scheduled_s"),
            requests.column("first_token_s"),
            requests.column("completion_s"),
        );
        for i in 0..arrival.len() {
            prop_assert!(arrival[i] <= scheduled[i] && scheduled[i] <= first[i] && first[i] <= done[i]);
        }
        let prompt: f64 = requests.column("prompt_tokens").iter().sum();
        prop_assert_eq!(prompt, s.input_tokens as f64);
        let preempted: f64 = requests.column("preemptions").iter().sum();
        prop_assert_eq!(preempted, s.preemptions_total as f64);

        let sum = |name: &str| series.column(name).iter().sum::<f64>();
        prop_assert_eq!(sum("completions"), s.requests_completed as f64);
        prop_assert_eq!(sum("output_tokens"), s.output_tokens as f64);
        prop_assert_eq!(sum("steps"), s.steps as f64);
        prop_assert_eq!(sum("preemptions"), s.preemptions_total as f64);
        let kv = sum("kv_cache_util") * interval;
        let expected = s.kv_cache_util_mean * s.simulated_seconds;
        prop_assert!((kv - expected).abs() <= 1e-9 * expected.max(1e-9), "{} vs {}", kv, expected);
    }
}
