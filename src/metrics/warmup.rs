//! Warm-up exclusion: which requests the statistics measure.

use crate::config::MetricsConfig;
use crate::workload::RequestSpec;

/// Requests arriving before `secs`, or with an id below `requests`, are warm-up: simulated
/// normally, left out of every per-request statistic. The default measures every request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Warmup {
    secs: Option<f64>,
    requests: Option<u64>,
}

impl Warmup {
    pub fn new(config: Option<&MetricsConfig>) -> Warmup {
        Warmup {
            secs: config.and_then(|m| m.warmup_secs),
            requests: config.and_then(|m| m.warmup_requests),
        }
    }

    /// Whether any request can be excluded (otherwise every result is today's, bit for bit).
    pub fn active(&self) -> bool {
        self.secs.is_some() || self.requests.is_some()
    }

    /// Whether the statistics count this request.
    pub fn measures(&self, spec: &RequestSpec) -> bool {
        self.secs.is_none_or(|s| spec.arrival >= s) && self.requests.is_none_or(|n| spec.id >= n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: u64, arrival: f64) -> RequestSpec {
        RequestSpec {
            id,
            arrival,
            prompt_len: 1,
            output_len: 1,
            priority: 0,
            dataset_index: None,
            class: 0,
            session: None,
        }
    }

    #[test]
    fn either_key_excludes_and_both_must_pass() {
        let none = Warmup::new(None);
        assert!(!none.active() && none.measures(&spec(0, 0.0)));
        let both = Warmup::new(Some(&MetricsConfig {
            warmup_secs: Some(2.0),
            warmup_requests: Some(3),
        }));
        assert!(both.active());
        assert!(!both.measures(&spec(5, 1.9)), "arrived before warmup_secs");
        assert!(!both.measures(&spec(2, 9.0)), "among the first 3 requests");
        assert!(
            both.measures(&spec(3, 2.0)),
            "arrives exactly at warmup_secs"
        );
    }
}
