//! What a generated request carries besides its times and lengths, and the request classes
//! the generator draws (workload.classes).

use super::{prefix, LengthSampler};
use crate::config::Config;

/// What a request carries besides its times and lengths.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tags {
    pub(super) priority: i64,
    pub(super) dataset_index: Option<u32>,
    pub(super) class: u16,
    pub(super) session: Option<u64>,
}

impl Tags {
    pub(super) fn prompt(dataset_index: Option<u32>) -> Tags {
        Tags {
            dataset_index,
            ..Tags::default()
        }
    }
}

/// One of workload.classes as the generator draws it.
#[derive(Debug)]
pub(super) struct ClassGen {
    /// The fractions of this class and those before it (the last is 1).
    pub(super) cumulative: f64,
    pub(super) input: Option<LengthSampler>,
    pub(super) output: Option<LengthSampler>,
    pub(super) priority: i64,
    /// Its own shared prefix: (tokens, entry in the prefix table).
    pub(super) prefix: Option<(u32, u32)>,
}

impl ClassGen {
    pub(super) fn of(config: &Config) -> Vec<ClassGen> {
        let mut cumulative = 0.0;
        let mut entries = prefix::class_entries(config).into_iter();
        config
            .workload
            .classes
            .iter()
            .map(|c| {
                cumulative += c.fraction;
                ClassGen {
                    cumulative,
                    input: c.input_len_dist.as_ref().map(LengthSampler::new),
                    output: c.output_len_dist.as_ref().map(LengthSampler::new),
                    priority: c.priority,
                    prefix: entries
                        .next()
                        .flatten()
                        .map(|entry| (c.shared_prefix_tokens, entry)),
                }
            })
            .collect()
    }
}
