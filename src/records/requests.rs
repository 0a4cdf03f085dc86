//! Per-request records (`--requests FILE`): one row per measured request that completed, in
//! completion order, with the times and counts its latencies come from. The run's summary is
//! computed from the same events, so its means and quantiles can be recomputed from these rows.

use polars::prelude::*;

use super::sink::RowSink;
use crate::observe::Completion;
use crate::{Error, Result};

/// Rows held before they are written.
const BATCH: usize = 8192;

/// The per-request observer: rows into its sink, a batch at a time.
pub struct RequestLog {
    sink: Option<Box<dyn RowSink>>,
    /// The request classes' names (empty without classes: the class column is null).
    classes: Vec<String>,
    rows: Vec<(Completion, u32)>,
    /// The first write error; later rows are dropped and the error reported at the end.
    error: Option<Error>,
}

impl RequestLog {
    pub fn new(sink: Box<dyn RowSink>, classes: Vec<String>) -> RequestLog {
        RequestLog {
            sink: Some(sink),
            classes,
            rows: Vec::with_capacity(BATCH),
            error: None,
        }
    }

    /// A request completed on `replica`.
    pub fn record(&mut self, done: &Completion, replica: u32) {
        self.rows.push((*done, replica));
        if self.rows.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.error.is_some() {
            self.rows.clear();
            return;
        }
        let result = self.frame().and_then(|mut frame| {
            let sink = self.sink.as_mut().expect("open until finished");
            sink.write(&mut frame)
        });
        if let Err(e) = result {
            self.error = Some(e);
        }
        self.rows.clear();
    }

    /// The held rows as a frame (the columns even when there are none).
    fn frame(&self) -> Result<DataFrame> {
        let rows = &self.rows;
        let ms = |x: f64| x * 1e3;
        let u64s =
            |f: &dyn Fn(&Completion) -> u64| rows.iter().map(|(c, _)| f(c)).collect::<Vec<u64>>();
        let u32s =
            |f: &dyn Fn(&Completion) -> u32| rows.iter().map(|(c, _)| f(c)).collect::<Vec<u32>>();
        let f64s =
            |f: &dyn Fn(&Completion) -> f64| rows.iter().map(|(c, _)| f(c)).collect::<Vec<f64>>();
        let class: Vec<Option<&str>> = rows
            .iter()
            .map(|(c, _)| {
                self.classes
                    .get(usize::from(c.spec.class))
                    .map(String::as_str)
            })
            .collect();
        let columns = vec![
            Column::new("id".into(), u64s(&|c| c.spec.id)),
            Column::new(
                "replica".into(),
                rows.iter().map(|&(_, r)| r).collect::<Vec<u32>>(),
            ),
            Column::new("arrival_s".into(), f64s(&|c| c.spec.arrival)),
            Column::new("first_scheduled_s".into(), f64s(&|c| c.first_scheduled)),
            Column::new("first_token_s".into(), f64s(&|c| c.first_token)),
            Column::new("completion_s".into(), f64s(&|c| c.completion)),
            Column::new("prompt_tokens".into(), u32s(&|c| c.spec.prompt_len)),
            Column::new("output_tokens".into(), u32s(&|c| c.spec.output_len)),
            Column::new(
                "cached_prompt_tokens".into(),
                u32s(&|c| c.cached_prompt_tokens),
            ),
            Column::new("preemptions".into(), u32s(&|c| c.preemptions)),
            Column::new("ttft_ms".into(), f64s(&|c| ms(c.ttft()))),
            Column::new("e2e_ms".into(), f64s(&|c| ms(c.e2e()))),
            Column::new(
                "tpot_ms".into(),
                rows.iter()
                    .map(|(c, _)| c.tpot().map(ms))
                    .collect::<Vec<Option<f64>>>(),
            ),
            Column::new(
                "queue_wait_ms".into(),
                f64s(&|c| ms(c.first_scheduled - c.spec.arrival)),
            ),
            Column::new("class".into(), class),
            Column::new(
                "session".into(),
                rows.iter()
                    .map(|(c, _)| c.spec.session)
                    .collect::<Vec<Option<u64>>>(),
            ),
        ];
        DataFrame::new_infer_height(columns)
            .map_err(|e| Error::new(format!("building the request records: {e}")))
    }

    /// Writes the rows left and completes the file.
    pub fn finish(mut self) -> Result<()> {
        // The last batch, or the columns alone when no request completed.
        self.flush();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.sink.take().expect("open until finished").finish()
    }
}
