//! Multi-turn sessions (`[workload.sessions]`): the arrival process starts sessions; when a
//! turn completes, the session's next turn arrives a think time later with the whole history
//! (every earlier prompt and reply) plus new tokens as its prompt. The engine gives a session's
//! blocks hashes of the session's token stream, so the next turn finds its history in the
//! prefix cache unless it was evicted meanwhile.
//!
//! Only live sessions are remembered (id -> turns left, start, replica): memory grows with the sessions
//! in flight, not with those seen.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{stream_seed, LengthSampler, RequestSpec, Workload};
use crate::config::{SessionsConfig, ThinkTime};
use crate::metrics::{DistStats, Metric, MetricValue, Samples};

/// Turn counts, think times and follow-up lengths come from their own stream.
const SESSION_STREAM: u64 = 6;

/// A session still going.
#[derive(Debug, Clone, Copy)]
struct Live {
    /// Turns still to send after the current one.
    left: u32,
    /// Its first arrival.
    start: f64,
    /// session_affinity: the replica its turns go to, once its first is routed.
    replica: Option<usize>,
}

#[derive(Debug)]
pub(super) struct Sessions {
    /// Synthetic sessions: turns per session and tokens a later turn adds (a dataset's
    /// conversations have their own).
    turns: Option<LengthSampler>,
    think: ThinkTime,
    new_input: Option<LengthSampler>,
    rng: StdRng,
    /// The sessions still going, by id.
    live: FxHashMap<u64, Live>,
    pub(super) started: u64,
    completed: u64,
    truncated: u64,
    turns_done: u64,
    durations: Samples,
}

/// What the run's sessions did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    pub started: u64,
    /// Sessions whose every turn completed (or that outgrew the context).
    pub completed: u64,
    /// Sessions ended early because the next turn's history would not fit max_seq_len.
    pub truncated: u64,
    /// Turns per completed session.
    pub turns_mean: Option<f64>,
    /// First arrival to last completion, seconds.
    pub duration_s: DistStats,
}

impl SessionSummary {
    /// The sessions' columns of the runs and summary tables (and the JSON's flat
    /// `metrics`): counts of 0 and null statistics for a run without sessions.
    pub fn metrics(summary: Option<&SessionSummary>) -> [Metric; 7] {
        let count = |get: fn(&SessionSummary) -> u64| MetricValue::Count(summary.map_or(0, get));
        let float =
            |get: fn(&SessionSummary) -> Option<f64>| MetricValue::Float(summary.and_then(get));
        [
            ("sessions_started", count(|s| s.started)),
            ("sessions_completed", count(|s| s.completed)),
            ("sessions_truncated", count(|s| s.truncated)),
            ("session_turns_mean", float(|s| s.turns_mean)),
            ("session_duration_s_mean", float(|s| s.duration_s.mean)),
            ("session_duration_s_p50", float(|s| s.duration_s.p50)),
            ("session_duration_s_p99", float(|s| s.duration_s.p99)),
        ]
        .map(|(name, value)| Metric {
            name,
            json_paths: &[],
            value,
        })
    }
}

impl Sessions {
    pub fn new(config: &SessionsConfig, seed: u64) -> Sessions {
        Sessions {
            turns: config.turns.as_ref().map(LengthSampler::new),
            think: config.think_time_secs,
            new_input: config.new_input_len_dist.as_ref().map(LengthSampler::new),
            rng: StdRng::seed_from_u64(stream_seed(seed, SESSION_STREAM)),
            live: FxHashMap::default(),
            started: 0,
            completed: 0,
            truncated: 0,
            turns_done: 0,
            durations: Samples::default(),
        }
    }

    /// A new session of `turns` turns (a recorded conversation's), or of a sampled number,
    /// starts at `arrival`: its id.
    pub fn start(&mut self, arrival: f64, turns: Option<u32>) -> u64 {
        let id = self.started;
        self.started += 1;
        let turns = match (turns, &self.turns) {
            (Some(n), _) => n,
            (None, Some(sampler)) => sampler.sample(&mut self.rng),
            (None, None) => 1,
        };
        let live = Live {
            left: turns - 1,
            start: arrival,
            replica: None,
        };
        self.live.insert(id, live);
        id
    }

    fn think_time(&mut self) -> f64 {
        match self.think {
            ThinkTime::Fixed { value } => value,
            ThinkTime::Exponential { mean } if mean > 0.0 => Exp::new(1.0 / mean)
                .expect("mean > 0")
                .sample(&mut self.rng),
            ThinkTime::Exponential { .. } => 0.0,
            ThinkTime::Uniform { min, max } => self.rng.random_range(min..=max),
        }
    }

    fn end(&mut self, session: u64, now: f64, truncated: bool) {
        if let Some(live) = self.live.remove(&session) {
            self.completed += 1;
            self.truncated += u64::from(truncated);
            self.durations.push(now - live.start);
        }
    }

    pub fn summary(&mut self) -> SessionSummary {
        SessionSummary {
            started: self.started,
            completed: self.completed,
            truncated: self.truncated,
            turns_mean: (self.completed > 0)
                .then(|| self.turns_done as f64 / self.completed as f64),
            duration_s: self.durations.stats(),
        }
    }
}

impl Workload {
    /// A session's turn completed at `now`: its next turn is queued a think time later,
    /// with the history plus new tokens as its prompt (a recorded conversation's next turn),
    /// or the session ends. Later turns keep the first's class, priority and shared prefix.
    pub fn on_turn_done(&mut self, spec: &RequestSpec, now: f64) {
        let (Some(sessions), Some(session)) = (self.sessions.as_mut(), spec.session) else {
            return;
        };
        sessions.turns_done += 1;
        let Some(&Live { left, .. }) = sessions.live.get(&session) else {
            return;
        };
        let recorded = self
            .dataset
            .as_ref()
            .filter(|d| !d.conversations.is_empty())
            .zip(spec.dataset_index);
        let (prompt, output, dataset_index) = match recorded {
            Some((d, i)) => {
                if left == 0 {
                    let cut = d.prompts[i as usize].turn.is_some_and(|t| t.cut);
                    return sessions.end(session, now, cut);
                }
                let p = &d.prompts[i as usize + 1];
                let output = super::recorded_or_sampled(p, &self.output, &mut sessions.rng);
                (p.prompt_len, output, Some(i + 1))
            }
            None => {
                if left == 0 {
                    return sessions.end(session, now, false);
                }
                let new_input = sessions.new_input.as_ref().expect("synthetic sessions");
                let new_tokens = new_input.sample(&mut sessions.rng);
                let history = spec.prompt_len.saturating_add(spec.output_len);
                let prompt = history.saturating_add(new_tokens);
                // The history and one output token must fit the context, or the session is over.
                if prompt >= self.max_seq_len {
                    return sessions.end(session, now, true);
                }
                let output = self.output.sample(&mut sessions.rng);
                (prompt, output, spec.dataset_index)
            }
        };
        let arrival = now + sessions.think_time();
        if let Some(live) = sessions.live.get_mut(&session) {
            live.left -= 1;
        }
        let tags = super::Tags {
            priority: spec.priority,
            dataset_index,
            class: spec.class,
            session: Some(session),
        };
        self.push_spec(arrival, prompt, output, tags, true);
    }

    /// session_affinity: the replica a live session's turns go to, once its first is routed.
    pub fn session_replica(&self, session: u64) -> Option<usize> {
        self.sessions.as_ref()?.live.get(&session)?.replica
    }

    /// session_affinity: a session's turns go to `replica` from now on (while it lives).
    pub fn bind_session(&mut self, session: u64, replica: usize) {
        if let Some(s) = self.sessions.as_mut() {
            if let Some(live) = s.live.get_mut(&session) {
                live.replica = Some(replica);
            }
        }
    }

    /// What the sessions did, if the workload has them.
    pub fn session_summary(&mut self) -> Option<SessionSummary> {
        self.sessions.as_mut().map(Sessions::summary)
    }
}
