//! The request stream: when requests arrive and how many tokens each has.
//!
//! Two seeded random streams, derived from `workload.seed` alone, feed it: one for lengths and
//! one for arrival times. Request `i` always gets the `i`-th lengths whatever the scheduler does,
//! and in open-loop patterns the `i`-th arrival time too, so two configs that differ only in an
//! engine knob see exactly the same requests (common random numbers across a sweep). Closed-loop
//! arrival times depend on completions by design, but the lengths still follow the index.
//!
//! Lengths are sampled, rounded, clipped to at least 1, then fitted to the model with
//! [`lengths::clip_to_model`]: 1 <= prompt <= max_seq_len - 1 and 1 <= output <= max_seq_len -
//! prompt.

mod arrivals;
pub mod dataset;
mod dataset_key;
mod lengths;
pub mod prefix;
mod release;
pub mod replay;
pub mod schedule;
mod sessions;
mod tags;
pub mod trace;

use std::collections::VecDeque;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};

pub use dataset_key::DatasetKey;
pub use lengths::{clip_to_model, LengthSampler};
pub use sessions::SessionSummary;
use tags::{ClassGen, Tags};

use crate::config::{ArrivalPattern, Config, LengthDist, MAX_REQUESTS};
use crate::{bail, Result};
use dataset::Dataset;

/// One request as the workload defines it, before the engine touches it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestSpec {
    /// 0, 1, 2, ... in generation order.
    pub id: u64,
    /// Seconds of simulated time.
    pub arrival: f64,
    pub prompt_len: u32,
    pub output_len: u32,
    /// Lower is more urgent (the priority policy); 0 for synthetic requests.
    pub priority: i64,
    /// Dataset mode: the index of the dataset prompt this request replays (also a shared
    /// prefix's or a Mooncake prompt's entry: whose block hashes the prompt starts with).
    pub dataset_index: Option<u32>,
    /// Its index in workload.classes (0 without classes).
    pub class: u16,
    /// The conversation it is a turn of (workload.sessions): its history's blocks are the
    /// session's, shared with its earlier turns.
    pub session: Option<u64>,
}

/// A dataset prompt's output length: its recorded reply's, or (with none recorded) a sampled
/// length, which plays the model's EOS, capped by the request's max_tokens.
fn recorded_or_sampled(
    p: &dataset::DatasetPrompt,
    output: &LengthSampler,
    rng: &mut StdRng,
) -> u32 {
    if let Some(reply) = p.turn.and_then(|t| t.reply_len) {
        return reply;
    }
    let sampled = output.sample(rng);
    p.max_tokens.map_or(sampled, |m| sampled.min(m))
}

/// Derives independent stream seeds from one user seed (SplitMix64 finaliser).
pub(crate) fn stream_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const LENGTH_STREAM: u64 = 1;
/// What a trace replay's unused samplers hold (a trace gives every length).
const UNSAMPLED: LengthDist = LengthDist::Fixed { value: 1 };
const ARRIVAL_STREAM: u64 = 2;
/// Which shared prefix each synthetic request starts with (its own stream, so lengths and
/// arrivals are the same with and without shared prefixes).
const PREFIX_STREAM: u64 = 4;
/// Which class each synthetic request is (its own stream, like the prefixes').
const CLASS_STREAM: u64 = 5;

/// Generates requests lazily, in id order, and releases them as simulated time passes.
#[derive(Debug)]
pub struct Workload {
    pattern: ArrivalPattern,
    rate: f64,
    burst_size: u32,
    users: u32,
    /// closed_loop: the span over which users send their first requests.
    ramp_up: f64,
    limit: Option<u64>,
    duration: Option<f64>,
    max_seq_len: u32,
    input: LengthSampler,
    output: LengthSampler,
    /// Dataset mode: prompts replayed in file order (cycled when num_requests exceeds them).
    dataset: Option<Arc<Dataset>>,
    length_rng: StdRng,
    arrival_rng: StdRng,
    /// Requests generated so far (the next id).
    generated: u64,
    /// Open loop: the arrival clock (the last arrival or burst start).
    clock: f64,
    /// Requests of the arrival process already generated whose arrival time has not been
    /// reached, in arrival order. In open loop it holds the process's next arrival whenever
    /// there is one, so that the earliest unreleased request is always known.
    pending: VecDeque<RequestSpec>,
    /// Session turns sent after a completion, in arrival order: apart from `pending`, whose
    /// refilling they must not hold back.
    followups: VecDeque<RequestSpec>,
    /// Seconds from a request's arrival to its reaching an engine (scheduler.request_overhead):
    /// the times below are when requests reach the engines; `RequestSpec::arrival` stays when
    /// the client sent them, what latencies count from.
    delivery_delay: f64,
    /// Open loop: the gaps between arrivals (at rate 1 under a schedule).
    gaps: Option<arrivals::Gaps>,
    /// A time-varying rate: arrivals are generated in operational time and mapped by it.
    schedule: Option<schedule::Cumulative>,
    /// Under a schedule: the operational clock (the expected arrivals so far).
    op_clock: f64,
    /// Under a schedule that ends at rate 0: no arrival comes any more.
    exhausted: bool,
    /// Trace replay: the recorded requests, and how many have been released.
    replay: Option<replay::Replay>,
    replayed: usize,
    /// Requests whose lengths were cut to fit the model.
    clipped: u64,
    /// Synthetic shared prefixes: (tokens, groups), and the stream that picks a group.
    prefix: Option<(u32, u32)>,
    prefix_rng: StdRng,
    /// workload.sessions: the live conversations and what they did.
    sessions: Option<sessions::Sessions>,
    /// workload.classes, as the generator draws them, and the stream that draws.
    classes: Vec<ClassGen>,
    class_rng: StdRng,
    /// The most requests this run may generate: [`MAX_REQUESTS`] (tests lower it).
    max_requests: u64,
    /// The run wanted more than `max_requests` requests (possible only with duration_secs
    /// alone, whose count validation can only estimate); nothing more is generated.
    over_limit: bool,
}

impl Workload {
    /// A synthetic workload, or (with `dataset`) one that replays a loaded dataset: prompt
    /// lengths come from the dataset in file order, output lengths from output_len_dist capped
    /// by each line's max_tokens. Without num_requests a dataset runs once through; with more
    /// requests than lines it starts over from the first line.
    pub fn new(config: &Config, dataset: Option<Arc<Dataset>>) -> Result<Workload> {
        let w = &config.workload;
        let limit = match (&dataset, config.dataset_path()) {
            (None, Some(path)) => bail!(
                "workload.dataset_path = {:?} needs its dataset loaded first \
                 (workload::dataset::load, with a tokenizer and a chat template)",
                path.display().to_string()
            ),
            (Some(_), None) => bail!("a dataset was given but workload.dataset_path is not set"),
            (Some(d), Some(_)) if d.prompts.is_empty() => bail!("the dataset has no requests"),
            // Recorded conversations: one session each.
            (Some(d), Some(_)) if !d.conversations.is_empty() => {
                Some(w.num_requests.unwrap_or(d.conversations.len() as u64))
            }
            (Some(d), Some(_)) => Some(w.num_requests.unwrap_or(d.prompts.len() as u64)),
            (None, None) => w.num_requests,
        };
        let schedule = w
            .rate_schedule
            .as_ref()
            .map(|s| schedule::Cumulative::new(s, &config.base_dir))
            .transpose()?;
        // Under a schedule the process runs at rate 1, and the schedule gives the rate.
        let rate = match schedule {
            Some(_) => 1.0,
            None => w.arrival_rate.unwrap_or(0.0),
        };
        let mut workload = Workload {
            pattern: w.arrival_pattern,
            rate,
            burst_size: w.burst_size,
            users: w.num_concurrent_users,
            ramp_up: w.ramp_up_secs.unwrap_or(0.0),
            limit,
            duration: w.duration_secs,
            max_seq_len: config.model.max_seq_len,
            // A trace records its lengths: no distribution is given or sampled.
            input: LengthSampler::new(w.input_len_dist.as_ref().unwrap_or(&UNSAMPLED)),
            output: LengthSampler::new(w.output_len_dist.as_ref().unwrap_or(&UNSAMPLED)),
            dataset,
            length_rng: StdRng::seed_from_u64(stream_seed(w.seed, LENGTH_STREAM)),
            arrival_rng: StdRng::seed_from_u64(stream_seed(w.seed, ARRIVAL_STREAM)),
            generated: 0,
            clock: 0.0,
            pending: VecDeque::new(),
            followups: VecDeque::new(),
            delivery_delay: config.scheduler.request_overhead,
            gaps: arrivals::Gaps::new(w.arrival_pattern, rate, w.arrival_cv.unwrap_or(1.0)),
            schedule,
            op_clock: 0.0,
            exhausted: false,
            replay: replay::load(config)?,
            replayed: 0,
            clipped: 0,
            prefix: (w.shared_prefix_tokens > 0)
                .then_some((w.shared_prefix_tokens, w.num_prefix_groups)),
            prefix_rng: StdRng::seed_from_u64(stream_seed(w.seed, PREFIX_STREAM)),
            classes: ClassGen::of(config),
            sessions: w
                .sessions
                .as_ref()
                .map(|c| sessions::Sessions::new(c, w.seed)),
            class_rng: StdRng::seed_from_u64(stream_seed(w.seed, CLASS_STREAM)),
            max_requests: MAX_REQUESTS,
            over_limit: false,
        };
        match workload.pattern {
            ArrivalPattern::ClosedLoop => {
                for k in 0..workload.users {
                    let start = workload.ramp_up * f64::from(k) / f64::from(workload.users);
                    if !workload.push_at(start) {
                        break;
                    }
                }
            }
            _ => workload.refill(),
        }
        Ok(workload)
    }

    /// Whether the run wanted more than [`max_requests`](Self::max_requests) requests: the
    /// simulator stops with an error rather than report a run cut short.
    pub fn over_limit(&self) -> bool {
        self.over_limit
    }

    /// The most requests the run may generate ([`MAX_REQUESTS`]).
    pub fn max_requests(&self) -> u64 {
        self.max_requests
    }

    /// Lowers the request limit, so that tests can reach it without millions of requests.
    #[cfg(test)]
    pub(crate) fn set_max_requests(&mut self, n: u64) {
        self.max_requests = n;
    }

    /// The number of requests the run will see, when it is known up front.
    pub fn expected_total(&self) -> Option<u64> {
        self.limit
    }

    pub fn generated(&self) -> u64 {
        self.generated
    }

    /// A request completed at `now`: in closed loop its user sends the next one at once.
    pub fn on_completion(&mut self, now: f64) {
        if self.pattern == ArrivalPattern::ClosedLoop {
            self.push_at(now);
        }
    }

    /// Whether a new request (with sessions: a new session) may start at `arrival`.
    fn may_generate(&self, arrival: f64) -> bool {
        let count = self.sessions.as_ref().map_or(self.generated, |s| s.started);
        self.limit.is_none_or(|n| count < n) && self.duration.is_none_or(|d| arrival <= d)
    }

    /// Generates the next request with the given arrival time, if the limits allow it.
    fn push_at(&mut self, arrival: f64) -> bool {
        if !self.may_generate(arrival) {
            return false;
        }
        // A recorded conversation's turns (dataset sessions).
        let mut turns = None;
        let (prompt, output, mut tags) = match &self.dataset {
            Some(d) => {
                let index = match &self.sessions {
                    // Each session replays the next conversation, its first turn first.
                    Some(s) if !d.conversations.is_empty() => {
                        d.conversations[(s.started % d.conversations.len() as u64) as usize]
                            as usize
                    }
                    _ => (self.generated % d.prompts.len() as u64) as usize,
                };
                let p = &d.prompts[index];
                turns = p.turn.map(|t| t.turns_after + 1);
                let output = recorded_or_sampled(p, &self.output, &mut self.length_rng);
                (p.prompt_len, output, Tags::prompt(Some(index as u32)))
            }
            None if !self.classes.is_empty() => {
                let draw: f64 = self.class_rng.random();
                let last = self.classes.len() - 1;
                let k = self.classes[..last].partition_point(|c| c.cumulative <= draw);
                let class = &self.classes[k];
                let input = class.input.as_ref().unwrap_or(&self.input);
                let prompt = input.sample(&mut self.length_rng);
                let output = class.output.as_ref().unwrap_or(&self.output);
                let output = output.sample(&mut self.length_rng);
                let (priority, own_prefix) = (class.priority, class.prefix);
                let (prompt, index) = match (own_prefix, self.prefix) {
                    (Some((tokens, entry)), _) => (tokens.saturating_add(prompt), Some(entry)),
                    (None, Some((tokens, groups))) => {
                        let group = self.prefix_rng.random_range(0..groups);
                        (tokens.saturating_add(prompt), Some(group))
                    }
                    (None, None) => (prompt, None),
                };
                let tags = Tags {
                    priority,
                    dataset_index: index,
                    class: k as u16,
                    session: None,
                };
                (prompt, output, tags)
            }
            None => {
                let prompt = self.input.sample(&mut self.length_rng);
                let output = self.output.sample(&mut self.length_rng);
                match self.prefix {
                    // The group's prefix, then the sampled prompt of its own.
                    Some((tokens, groups)) => {
                        let group = self.prefix_rng.random_range(0..groups);
                        (
                            tokens.saturating_add(prompt),
                            output,
                            Tags::prompt(Some(group)),
                        )
                    }
                    None => (prompt, output, Tags::default()),
                }
            }
        };
        if let Some(sessions) = &mut self.sessions {
            tags.session = Some(sessions.start(arrival, turns));
        }
        self.push_spec(arrival, prompt, output, tags, false)
    }

    /// Fits a request's lengths to the model (counting it when they are cut) and queues it
    /// in arrival order (a session's later turn among the follow-ups); false (and the run
    /// over its limit) past [`MAX_REQUESTS`].
    fn push_spec(
        &mut self,
        arrival: f64,
        prompt: u32,
        output: u32,
        tags: Tags,
        followup: bool,
    ) -> bool {
        if self.generated >= self.max_requests {
            self.over_limit = true;
            return false;
        }
        let (prompt_len, output_len) = clip_to_model(prompt, output, self.max_seq_len);
        if (prompt_len, output_len) != (prompt, output) {
            self.clipped += 1;
        }
        // Arrival order: a closed-loop user's next request may arrive before another user's
        // ramped-up first one. Without a ramp every arrival is at or after the last pending
        // one, and this is a push at the back.
        let queue = if followup {
            &mut self.followups
        } else {
            &mut self.pending
        };
        let at = queue.partition_point(|r| r.arrival <= arrival);
        queue.insert(
            at,
            RequestSpec {
                id: self.generated,
                arrival,
                prompt_len,
                output_len,
                priority: tags.priority,
                dataset_index: tags.dataset_index,
                class: tags.class,
                session: tags.session,
            },
        );
        self.generated += 1;
        true
    }

    /// Trace replay: releases the next recorded request, if the limits allow it.
    fn refill_replay(&mut self) {
        let Some(replay) = &self.replay else { return };
        let Some(&r) = replay.requests.get(self.replayed) else {
            return;
        };
        let index = replay.prompts.as_ref().map(|_| self.replayed as u32);
        if !self.may_generate(r.arrival) {
            return;
        }
        self.replayed += 1;
        let tags = Tags {
            priority: r.priority,
            class: r.class,
            session: r.session,
            ..Tags::prompt(index)
        };
        self.push_spec(r.arrival, r.input_len, r.output_len, tags, false);
    }

    /// Requests so far whose lengths were cut to fit model.max_seq_len.
    pub fn clipped(&self) -> u64 {
        self.clipped
    }

    /// The request classes metrics are kept for: workload.classes, or a trace's class column.
    pub fn class_names(&self, config: &Config) -> Vec<String> {
        match &self.replay {
            Some(r) => r.class_names.clone(),
            None => config
                .workload
                .classes
                .iter()
                .map(|c| c.name.clone())
                .collect(),
        }
    }

    /// Trace replay: the prompt blocks engines look shared prefixes up in (Mooncake traces).
    pub fn replay_prompts(&self) -> Option<Arc<Dataset>> {
        self.replay.as_ref().and_then(|r| r.prompts.clone())
    }

    /// Open loop: generates the next arrival (or the next burst) into `pending`.
    fn refill(&mut self) {
        if self.schedule.is_some() {
            return self.refill_scheduled();
        }
        match self.pattern {
            ArrivalPattern::ClosedLoop => {}
            ArrivalPattern::Trace => self.refill_replay(),
            ArrivalPattern::Batched => {
                // All at t = 0; generate lazily in chunks to keep memory flat.
                for _ in 0..1024 {
                    if !self.push_at(0.0) {
                        break;
                    }
                }
            }
            ArrivalPattern::FixedRate => {
                let t = self.generated as f64 / self.rate;
                self.push_at(t);
            }
            ArrivalPattern::Burst => {
                let gap = Exp::new(self.rate / f64::from(self.burst_size)).expect("validated");
                self.clock += gap.sample(&mut self.arrival_rng);
                for _ in 0..self.burst_size {
                    if !self.push_at(self.clock) {
                        break;
                    }
                }
            }
            ArrivalPattern::Poisson
            | ArrivalPattern::UniformRandom
            | ArrivalPattern::Uniform
            | ArrivalPattern::Gamma
            | ArrivalPattern::Weibull => {
                let gaps = self.gaps.as_ref().expect("an open-loop pattern has gaps");
                self.clock += gaps.sample(&mut self.arrival_rng);
                self.push_at(self.clock);
            }
        }
    }

    /// Under a rate schedule: the next arrival (or burst) at rate 1 in operational time,
    /// mapped onto simulated time by the schedule's cumulative rate.
    fn refill_scheduled(&mut self) {
        if self.exhausted {
            return;
        }
        let (u, count) = match self.pattern {
            ArrivalPattern::FixedRate => (self.generated as f64, 1),
            ArrivalPattern::Burst => {
                let gap = Exp::new(1.0 / f64::from(self.burst_size)).expect("burst_size >= 1");
                self.op_clock += gap.sample(&mut self.arrival_rng);
                (self.op_clock, self.burst_size)
            }
            _ => {
                let gaps = self.gaps.as_ref().expect("an open-loop pattern has gaps");
                self.op_clock += gaps.sample(&mut self.arrival_rng);
                (self.op_clock, 1)
            }
        };
        let schedule = self.schedule.as_ref().expect("scheduled");
        let Some(t) = schedule.inverse(u) else {
            self.exhausted = true;
            return;
        };
        for _ in 0..count {
            if !self.push_at(t) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests;
