//! `[workload]`: when requests arrive and how long they are.

use serde::{Deserialize, Serialize};

use super::arrivals::RateSchedule;
use super::check::{at_least_one, non_negative, num, within, ARRIVAL_RATE, DURATION_SECONDS_MAX};
use super::classes::RequestClass;
use super::sessions::SessionsConfig;
use crate::workload::trace::TraceFormat;
use crate::{bail, Result};

/// The most requests one run may have: num_requests, a dataset's lines, or what
/// arrival_rate x duration_secs implies. A closed-loop run of this many keeps its memory flat
/// (the metrics stop growing past a million samples; README, Performance, has the measured
/// peak), but requests that wait at once hold about 400 bytes each (engine slot, queue entry,
/// metrics), so a batched run of this many needs about 4 GB: the limit keeps that worst case
/// within a workstation's memory.
pub const MAX_REQUESTS: u64 = 10_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalPattern {
    /// Exponential inter-arrival times with mean 1 / arrival_rate.
    Poisson,
    /// Evenly spaced: one request every 1 / arrival_rate seconds, the first at 1 /
    /// arrival_rate (the seed system's `uniform`).
    Uniform,
    /// Inter-arrival times uniform on [0, 2 / arrival_rate] (mean 1 / arrival_rate): what
    /// `uniform` meant here before it took the seed system's meaning.
    UniformRandom,
    /// Gamma inter-arrival times with mean 1 / arrival_rate and coefficient of variation
    /// arrival_cv (1 = Poisson; above 1, burstier).
    Gamma,
    /// Weibull inter-arrival times with mean 1 / arrival_rate and coefficient of variation
    /// arrival_cv.
    Weibull,
    /// Groups of burst_size simultaneous requests; the groups arrive as a Poisson process at
    /// arrival_rate / burst_size, so the long-run rate is still arrival_rate.
    Burst,
    /// Exactly one request every 1 / arrival_rate seconds, the first at t = 0.
    FixedRate,
    /// num_concurrent_users users each send a request at t = 0 (or spread over
    /// workload.ramp_up_secs) and the next one the instant the previous completes.
    ClosedLoop,
    /// Every request arrives at t = 0.
    Batched,
    /// The requests of a real trace (workload.trace_path), at their recorded instants and
    /// with their recorded lengths.
    Trace,
}

impl ArrivalPattern {
    /// Every pattern, in the order a menu lists them.
    pub const ALL: [ArrivalPattern; 10] = [
        ArrivalPattern::Poisson,
        ArrivalPattern::ClosedLoop,
        ArrivalPattern::Gamma,
        ArrivalPattern::Weibull,
        ArrivalPattern::Burst,
        ArrivalPattern::Uniform,
        ArrivalPattern::UniformRandom,
        ArrivalPattern::FixedRate,
        ArrivalPattern::Batched,
        ArrivalPattern::Trace,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ArrivalPattern::Poisson => "poisson",
            ArrivalPattern::Uniform => "uniform",
            ArrivalPattern::UniformRandom => "uniform_random",
            ArrivalPattern::Gamma => "gamma",
            ArrivalPattern::Weibull => "weibull",
            ArrivalPattern::Burst => "burst",
            ArrivalPattern::FixedRate => "fixed_rate",
            ArrivalPattern::ClosedLoop => "closed_loop",
            ArrivalPattern::Batched => "batched",
            ArrivalPattern::Trace => "trace",
        }
    }

    /// Whether arrival times depend on arrival_rate.
    pub fn uses_rate(self) -> bool {
        !matches!(
            self,
            ArrivalPattern::ClosedLoop | ArrivalPattern::Batched | ArrivalPattern::Trace
        )
    }
}

/// A distribution of token counts. Samples are rounded to the nearest integer and clipped to at
/// least 1 (see [`crate::workload`] for the max_seq_len rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LengthDist {
    Fixed {
        value: u32,
    },
    /// Integers uniform on [min, max], both included.
    Uniform {
        min: u32,
        max: u32,
    },
    Normal {
        mean: f64,
        std_dev: f64,
    },
    /// exp(N(mean, std_dev)): mean and std_dev are those of the logarithm (mean = 6.9 gives a
    /// median of about e^6.9 = 1000 tokens).
    Lognormal {
        mean: f64,
        std_dev: f64,
    },
}

impl LengthDist {
    pub(super) fn validate(&self, field: &str) -> Result<()> {
        match *self {
            LengthDist::Fixed { value } => at_least_one(&format!("{field}.value"), value.into()),
            LengthDist::Uniform { min, max } => {
                at_least_one(&format!("{field}.min"), min.into())?;
                if min > max {
                    bail!("{field}: min = {min} is greater than max = {max}: uniform needs min <= max");
                }
                Ok(())
            }
            LengthDist::Normal { mean, std_dev } | LengthDist::Lognormal { mean, std_dev } => {
                if !mean.is_finite() {
                    bail!(
                        "{field}.mean = {} is invalid: it must be a finite number",
                        num(mean)
                    );
                }
                if !(std_dev.is_finite() && std_dev >= 0.0) {
                    bail!(
                        "{field}.std_dev = {} is invalid: it must be >= 0",
                        num(std_dev)
                    );
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    pub arrival_pattern: ArrivalPattern,
    /// Requests per second (poisson, uniform, burst, fixed_rate). Accepted but unused by
    /// closed_loop and batched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
    /// How many requests to generate. With duration_secs too, whichever limit comes first.
    #[serde(
        default,
        deserialize_with = "super::de::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub num_requests: Option<u64>,
    /// No request arrives after this many simulated seconds (the ones already in the system
    /// run to completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// closed_loop: the number of users, each with one request in flight.
    #[serde(default = "default_users")]
    pub num_concurrent_users: u32,
    /// closed_loop: user k of N sends its first request at k x ramp_up_secs / N instead of
    /// every user at t = 0 (a start-up burst that would otherwise dominate the tail latencies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_up_secs: Option<f64>,
    /// burst: requests per burst.
    #[serde(default = "default_burst_size")]
    pub burst_size: u32,
    /// gamma and weibull: the inter-arrival times' standard deviation over their mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_cv: Option<f64>,
    /// A request rate that varies in time, in place of arrival_rate (open-loop patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_schedule: Option<RateSchedule>,
    /// Synthetic prompts: this many leading tokens are a prefix shared within the request's
    /// group (a system prompt), so the prefix cache has something to find without a dataset.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shared_prefix_tokens: u32,
    /// How many different shared prefixes there are; each request draws one uniformly.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub num_prefix_groups: u32,
    /// Seeds the request stream (arrival times and lengths), nothing else: two configs that
    /// differ only in scheduler knobs see the same requests.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Required, except with a trace (which records every request's lengths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_len_dist: Option<LengthDist>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_len_dist: Option<LengthDist>,
    /// Multi-turn conversations: the arrival process starts sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionsConfig>,
    /// Kinds of requests in the stream, each drawn with its fraction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<RequestClass>,
    /// arrival_pattern = "trace": the trace file, relative to the config's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_path: Option<String>,
    /// The trace's layout: azure, mooncake or csv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_format: Option<TraceFormat>,
    /// Replays the trace this many times as fast (2.0: every gap halved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_time_scale: Option<f64>,
    /// Replays the requests from this many seconds into the trace (its own time, before
    /// scaling); they arrive relative to this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_start_secs: Option<f64>,
    /// Replays only the requests within this many seconds of trace_start_secs (trace time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_duration_secs: Option<f64>,
    /// A csv trace's column names (defaults: arrival_secs, input_tokens, output_tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_columns: Option<TraceColumns>,
    /// A JSONL file of real requests (dataset mode), relative to the config file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_path: Option<String>,
    /// Dataset mode: a HuggingFace tokenizer.json, relative to the config file's folder
    /// (`--tokenizer` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// Dataset mode: "None" (join the message contents), a Jinja chat template, or a template
    /// file relative to the config file's folder (`--chat-template` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template: Option<String>,
}

/// `workload.trace_columns`: which CSV columns hold what.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceColumns {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn default_users() -> u32 {
    64
}

fn default_burst_size() -> u32 {
    8
}

fn default_seed() -> u64 {
    42
}

impl WorkloadConfig {
    pub(super) fn validate(&self) -> Result<()> {
        let pattern = self.arrival_pattern.name();
        super::arrivals::validate_cv(
            self.arrival_cv,
            pattern,
            matches!(
                self.arrival_pattern,
                ArrivalPattern::Gamma | ArrivalPattern::Weibull
            ),
        )?;
        if let Some(schedule) = &self.rate_schedule {
            if !self.arrival_pattern.uses_rate() {
                bail!(
                    "workload.rate_schedule is set but arrival_pattern = \"{pattern}\": a \
                     schedule shapes open-loop arrivals (poisson, gamma, weibull, uniform, \
                     uniform_random, burst, fixed_rate)"
                );
            }
            if self.arrival_rate.is_some() {
                bail!(
                    "workload.arrival_rate and workload.rate_schedule both give the rate: set \
                     one of them"
                );
            }
            schedule.validate()?;
        } else if self.arrival_pattern.uses_rate() {
            match self.arrival_rate {
                None => bail!(
                    "workload.arrival_rate is missing: arrival_pattern = \"{pattern}\" needs a rate in requests/s"
                ),
                Some(rate) => within(
                    "workload.arrival_rate",
                    rate,
                    ARRIVAL_RATE,
                    "requests/s",
                )?,
            }
        }
        if let Some(n) = self.num_requests {
            at_least_one("workload.num_requests", n)?;
            if n > MAX_REQUESTS {
                bail!(
                    "workload.num_requests = {n} is over the limit of {MAX_REQUESTS} requests per \
                     run (memory and time grow with it): split it into runs of at most \
                     {MAX_REQUESTS}"
                );
            }
        }
        if let Some(d) = self.duration_secs {
            if !(d > 0.0 && d <= DURATION_SECONDS_MAX) {
                bail!(
                    "workload.duration_secs = {} is invalid: it must be greater than 0 and at \
                     most {} seconds",
                    num(d),
                    num(DURATION_SECONDS_MAX)
                );
            }
        }
        if let (None, Some(d), Some(rate), true) = (
            self.num_requests,
            self.duration_secs,
            self.arrival_rate,
            self.arrival_pattern.uses_rate(),
        ) {
            let expected = rate * d;
            if expected > MAX_REQUESTS as f64 {
                bail!(
                    "workload: arrival_rate x duration_secs = {rate} x {d} = {expected:.0} \
                     requests, over the limit of {MAX_REQUESTS} per run: shorten \
                     duration_secs, or set num_requests <= {MAX_REQUESTS}"
                );
            }
        }
        if let (None, Some(d), Some(schedule)) =
            (self.num_requests, self.duration_secs, &self.rate_schedule)
        {
            // A CSV schedule is read with the workload, which checks the count as it goes.
            if !matches!(schedule, RateSchedule::Csv { .. }) {
                let cumulative =
                    crate::workload::schedule::Cumulative::new(schedule, std::path::Path::new(""))?;
                let expected = cumulative.at(d);
                if expected > MAX_REQUESTS as f64 {
                    bail!(
                        "workload: the rate_schedule over duration_secs = {d} brings {expected:.0} \
                         requests, over the limit of {MAX_REQUESTS} per run: shorten \
                         duration_secs, or set num_requests <= {MAX_REQUESTS}"
                    );
                }
            }
        }
        // A dataset or a trace bounds the run by its own length.
        if self.num_requests.is_none()
            && self.dataset_path.is_none()
            && self.arrival_pattern != ArrivalPattern::Trace
        {
            match self.arrival_pattern {
                ArrivalPattern::Batched => bail!(
                    "workload.num_requests is missing: arrival_pattern = \"batched\" needs it (all requests arrive at t = 0)"
                ),
                _ if self.duration_secs.is_none() => bail!(
                    "workload: set num_requests or duration_secs (or both): arrival_pattern = \"{pattern}\" would never stop"
                ),
                _ => {}
            }
        }
        at_least_one(
            "workload.num_concurrent_users",
            self.num_concurrent_users.into(),
        )?;
        at_least_one("workload.burst_size", self.burst_size.into())?;
        if let Some(ramp) = self.ramp_up_secs {
            non_negative("workload.ramp_up_secs", ramp)?;
            if self.arrival_pattern != ArrivalPattern::ClosedLoop {
                bail!(
                    "workload.ramp_up_secs is set but arrival_pattern = \"{pattern}\": it applies to closed_loop only"
                );
            }
        }
        if let Some(rate) = self.arrival_rate {
            // Ignored by this pattern (Config::warnings says so), but still a number.
            non_negative("workload.arrival_rate", rate)?;
        }
        if self.dataset_path.is_none() {
            for (key, value) in [
                ("tokenizer", &self.tokenizer),
                ("chat_template", &self.chat_template),
            ] {
                if value.is_some() {
                    bail!("workload.{key} is set but workload.dataset_path is not: it applies to dataset mode only");
                }
            }
        }
        at_least_one("workload.num_prefix_groups", self.num_prefix_groups.into())?;
        if self.shared_prefix_tokens > 0 && self.dataset_path.is_some() {
            bail!(
                "workload.shared_prefix_tokens is set with workload.dataset_path: a dataset's \
                 prompts share what their text shares; leave shared_prefix_tokens out"
            );
        }
        self.validate_trace()?;
        if let Some(sessions) = &self.sessions {
            let refused = match self.arrival_pattern {
                ArrivalPattern::ClosedLoop => {
                    Some("closed_loop (its users already wait for replies)")
                }
                ArrivalPattern::Trace => Some("a trace"),
                _ => None,
            };
            if let Some(what) = refused {
                bail!(
                    "workload.sessions is set with {what}: sessions start by an open-loop \
                     arrival process or batched"
                );
            }
            sessions.validate(self.dataset_path.is_some())?;
        }
        if !self.classes.is_empty() {
            if self.arrival_pattern == ArrivalPattern::Trace || self.dataset_path.is_some() {
                bail!(
                    "workload.classes is set with a {}: its requests are what they are; \
                     classes shape synthetic requests",
                    if self.dataset_path.is_some() {
                        "dataset"
                    } else {
                        "trace"
                    }
                );
            }
            super::classes::validate(
                &self.classes,
                self.input_len_dist.as_ref(),
                self.output_len_dist.as_ref(),
            )?;
        }
        // With classes that all give their lengths, the workload's own are not needed.
        let classes_give = |key: &str| {
            !self.classes.is_empty()
                && self.classes.iter().all(|c| match key {
                    "input_len_dist" => c.input_len_dist.is_some(),
                    _ => c.output_len_dist.is_some(),
                })
        };
        // A trace records both lengths; a dataset's prompts are its own.
        let recorded = |key: &str| {
            self.arrival_pattern == ArrivalPattern::Trace
                || (self.dataset_path.is_some() && key == "input_len_dist")
        };
        for (key, dist) in [
            ("input_len_dist", &self.input_len_dist),
            ("output_len_dist", &self.output_len_dist),
        ] {
            match dist {
                Some(d) => d.validate(&format!("workload.{key}"))?,
                None if !recorded(key) && !classes_give(key) => {
                    bail!("missing required key `{key}` in [workload]")
                }
                None => {}
            }
        }
        Ok(())
    }
}

impl WorkloadConfig {
    /// arrival_pattern = "trace" and the trace keys go together.
    fn validate_trace(&self) -> Result<()> {
        let is_trace = self.arrival_pattern == ArrivalPattern::Trace;
        if !is_trace {
            for (key, set) in [
                ("trace_path", self.trace_path.is_some()),
                ("trace_format", self.trace_format.is_some()),
                ("trace_time_scale", self.trace_time_scale.is_some()),
                ("trace_start_secs", self.trace_start_secs.is_some()),
                ("trace_duration_secs", self.trace_duration_secs.is_some()),
                ("trace_columns", self.trace_columns.is_some()),
            ] {
                if set {
                    bail!(
                        "workload.{key} is set but arrival_pattern = \"{}\": it applies to \
                         arrival_pattern = \"trace\" only",
                        self.arrival_pattern.name()
                    );
                }
            }
            return Ok(());
        }
        let Some(path) = &self.trace_path else {
            bail!("arrival_pattern = \"trace\" needs workload.trace_path (the trace file)");
        };
        if path.is_empty() {
            bail!("workload.trace_path is empty: name the trace file");
        }
        let Some(format) = self.trace_format else {
            bail!(
                "workload.trace_format is missing: say which layout {path:?} has: \"azure\", \
                 \"mooncake\" or \"csv\""
            );
        };
        if self.trace_columns.is_some() && format != TraceFormat::Csv {
            bail!("workload.trace_columns applies to trace_format = \"csv\" only");
        }
        if self.dataset_path.is_some() {
            bail!("workload.trace_path and workload.dataset_path both give the requests: set one");
        }
        if let Some(scale) = self.trace_time_scale {
            if !(scale.is_finite() && scale > 0.0 && scale <= 1e6) {
                bail!(
                    "workload.trace_time_scale = {} is invalid: it must be greater than 0 (2 \
                     replays twice as fast) and at most 1e6",
                    num(scale)
                );
            }
        }
        if let Some(start) = self.trace_start_secs {
            non_negative("workload.trace_start_secs", start)?;
        }
        if let Some(d) = self.trace_duration_secs {
            if !(d > 0.0 && d <= DURATION_SECONDS_MAX) {
                bail!(
                    "workload.trace_duration_secs = {} is invalid: it must be greater than 0 \
                     and at most {} seconds",
                    num(d),
                    num(DURATION_SECONDS_MAX)
                );
            }
        }
        Ok(())
    }
}
