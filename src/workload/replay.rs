//! Trace replay (`arrival_pattern = "trace"`): a real trace's requests at their recorded
//! instants with their recorded lengths. The trace's own time is windowed
//! (`trace_start_secs`, `trace_duration_secs`), made relative to the window's start and divided
//! by `trace_time_scale`; lengths are fitted to the model as sampled ones are (and counted when
//! cut). Mooncake's prefix-block ids become the prompts' block hashes at the engine's block
//! size, so the prefix cache and prefix-aware routing see the trace's real sharing.

use std::sync::Arc;

use super::dataset::{Dataset, DatasetPrompt};
use super::trace::{self, CsvColumns, TraceFormat};
use crate::config::{ArrivalPattern, Config};
use crate::{bail, Result};

/// One request of the replay, before it is fitted to the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recorded {
    /// Simulated seconds (window-relative, scaled).
    pub arrival: f64,
    pub input_len: u32,
    pub output_len: u32,
    pub priority: i64,
    /// Its class: an index into [`Replay::class_names`] (0 without a class column).
    pub class: u16,
    /// A csv trace's session column: the conversation it is a turn of (ids in order of first
    /// appearance). Its prompt is taken to start with the session's earlier prompts and
    /// replies, as a chat client sends them, so its blocks are the session's stream.
    pub session: Option<u64>,
}

/// A loaded trace, ready to replay.
#[derive(Debug, Clone)]
pub struct Replay {
    pub requests: Vec<Recorded>,
    /// Mooncake: each request's prompt blocks (by its index in `requests`).
    pub prompts: Option<Arc<Dataset>>,
    /// A csv trace's class column: the classes in order of first appearance (per-class
    /// metrics are reported under these names). Empty without one.
    pub class_names: Vec<String>,
}

/// The replay a config asks for, or None when it asks for none.
pub fn load(config: &Config) -> Result<Option<Replay>> {
    let w = &config.workload;
    if w.arrival_pattern != ArrivalPattern::Trace {
        return Ok(None);
    }
    let (Some(path), Some(format)) = (&w.trace_path, w.trace_format) else {
        bail!("arrival_pattern = \"trace\" needs workload.trace_path and trace_format");
    };
    let path = config.base_dir.join(path);
    let mut columns = CsvColumns::default();
    if let Some(c) = &w.trace_columns {
        for (into, from) in [
            (&mut columns.arrival, &c.arrival),
            (&mut columns.input, &c.input),
            (&mut columns.output, &c.output),
        ] {
            if let Some(name) = from {
                *into = name.clone();
            }
        }
        columns.priority = c.priority.clone();
        columns.class = c.class.clone();
        columns.session = c.session.clone();
    }
    let windowed = w.trace_start_secs.is_some() || w.trace_duration_secs.is_some();
    // Without a window, num_requests is the first lines: the rest need not be read.
    let limit = if windowed { None } else { w.num_requests };
    let trace = trace::read(&path, format, &columns, limit)?;
    let start = w.trace_start_secs.unwrap_or(0.0);
    let end = w.trace_duration_secs.map_or(f64::INFINITY, |d| start + d);
    let scale = w.trace_time_scale.unwrap_or(1.0);
    let block_size = config.scheduler.block_size;
    let mut requests = Vec::new();
    let mut prompts = Vec::new();
    let mut class_names: Vec<String> = Vec::new();
    // Session names -> ids, for the traces that name sessions.
    let mut sessions: rustc_hash::FxHashMap<String, u64> = rustc_hash::FxHashMap::default();
    for r in trace
        .requests
        .iter()
        .filter(|r| r.arrival >= start && r.arrival < end)
    {
        let class = match &r.class {
            Some(name) => match class_names.iter().position(|c| c == name) {
                Some(k) => k,
                None if class_names.len() < crate::config::classes::MAX_CLASSES => {
                    class_names.push(name.clone());
                    class_names.len() - 1
                }
                None => bail!(
                    "trace {} line {}: more than {} distinct classes",
                    path.display(),
                    r.line,
                    crate::config::classes::MAX_CLASSES
                ),
            },
            None => 0,
        };
        if r.class.is_none() && !class_names.is_empty() {
            bail!(
                "trace {} line {}: no class, where earlier requests have one",
                path.display(),
                r.line
            );
        }
        let next_id = sessions.len() as u64;
        let session = r
            .session
            .as_ref()
            .map(|name| *sessions.entry(name.clone()).or_insert(next_id));
        requests.push(Recorded {
            arrival: (r.arrival - start) / scale,
            input_len: r.input_len,
            output_len: r.output_len,
            priority: r.priority,
            class: class as u16,
            session,
        });
        if format == TraceFormat::Mooncake {
            let prompt_len =
                super::clip_to_model(r.input_len, r.output_len, config.model.max_seq_len).0;
            prompts.push(DatasetPrompt {
                prompt_len,
                max_tokens: None,
                block_hashes: trace::mooncake_block_hashes(&r.hash_ids, prompt_len, block_size),
                line: r.line,
                turn: None,
            });
        }
    }
    if requests.is_empty() {
        bail!(
            "trace {}: no request arrives within trace_start_secs = {start} and \
             trace_duration_secs = {} (the trace spans {:.3} s)",
            path.display(),
            w.trace_duration_secs
                .map_or("unset".to_string(), |d| d.to_string()),
            trace.requests.last().map_or(0.0, |r| r.arrival)
        );
    }
    let prompts = (format == TraceFormat::Mooncake).then(|| {
        Arc::new(Dataset {
            prompts,
            conversations: Vec::new(),
            clipped: 0,
            path: path.clone(),
        })
    });
    Ok(Some(Replay {
        requests,
        prompts,
        class_names,
    }))
}
