//! The driver: one clock, the workload, a router, and the engine replicas it feeds.
//!
//! The driver owns simulated time. Its events are the workload's arrivals, (disaggregated)
//! handoffs and landed KV transfers, and each busy replica's next step boundary; it always
//! handles the earliest, arrivals before a step boundary at the same instant, so a step sees
//! every request that has arrived by its start. A replica's step may be a span of decode steps
//! (see the engine's decode_span.rs); the driver bounds it by the next instant something could
//! reach that replica: the next arrival or landing, and, when one replica's progress creates
//! work for another (closed-loop users, disaggregation), the next step boundary of any other
//! replica. So whenever the router decides, no replica has started a step after that instant.
//!
//! A single engine (no `[cluster]`) is a fleet of one, and gives exactly the results it gave
//! before fleets existed.

mod agenda;
mod build;
mod disagg;
mod route;
mod router;
mod run;
mod stats;
mod timeline;
mod view;

use std::sync::Arc;

use crate::config::{ArrivalPattern, Config, RouterKind};
use crate::engine::{Engine, EngineStep, StepCost};
use crate::metrics::{imbalance, Collector, RunSummary, SloTally, Warmup};
use crate::records::Recorders;
use crate::workload::dataset::Dataset;
use crate::workload::{stream_seed, Workload};
use crate::{bail, Result};

use agenda::Agenda;
pub use build::Role;
use disagg::Disaggregation;
use router::Router;
pub use run::Progress;
use run::Upcoming;
use stats::ReplicaStats;
use view::StepLoad;

/// The router's random stream (random, power_of_two), apart from the workload's.
const ROUTER_STREAM: u64 = 3;
const DECODE_ROUTER_STREAM: u64 = 4;

/// What one call to [`Simulator::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepOutcome {
    /// A replica ran a forward pass (or a span of decode steps; the cost is the last one's).
    Ran(StepCost),
    /// No forward pass: a request arrived or moved, or a replica waited.
    Idle,
    /// Every request has completed and none will arrive.
    Done,
}

struct Replica {
    engine: Engine,
    stats: ReplicaStats,
    pool: String,
    role: Role,
}

/// A whole run: a workload driving a fleet of engine replicas (one without `[cluster]`).
pub struct Simulator {
    replicas: Vec<Replica>,
    /// Replicas with work, by their next step boundary (fleets of more than one).
    agenda: Agenda,
    workload: Workload,
    /// Routes arrivals over the replicas that take them (all, or the prefill pool).
    router: Router,
    /// Replicas 0..entry take arrivals (the rest are decode replicas).
    entry: usize,
    /// session_affinity: a session's later turns go where its first went.
    sticky_sessions: bool,
    /// GPUs in all (Config::num_gpus).
    gpus: u64,
    disagg: Option<Disaggregation>,
    metrics: Collector,
    /// Per-request records and the time series, when asked for (`with_recorders`).
    recorders: Recorders,
    /// Which requests the statistics measure (`[metrics]` warm-up).
    warmup: Warmup,
    /// Warm-up requests that have arrived (left out of requests_total).
    warmup_arrived: u64,
    /// Whether a measured request has arrived yet (the first one starts the window).
    measuring: bool,
    log_interval: u64,
    /// Whether a replica's progress can create work for another one, at instants not known in
    /// advance (closed-loop users, disaggregation): then spans also stop at other replicas'
    /// step boundaries.
    coupled: bool,
    /// prefix_affinity: the dataset whose block hashes the router looks up.
    uses_prefix: bool,
}

impl Simulator {
    /// A simulation of a synthetic workload (a config without workload.dataset_path).
    pub fn new(config: &Config) -> Result<Simulator> {
        Simulator::with_dataset(config, None)
    }

    /// A simulation that replays a loaded dataset (required when workload.dataset_path is
    /// set).
    pub fn with_dataset(config: &Config, dataset: Option<Arc<Dataset>>) -> Result<Simulator> {
        config.validate()?;
        let plans = build::plan(config)?;
        // What engines look prompts' shared blocks up in: the dataset, or the synthetic
        // shared prefixes.
        let workload = Workload::new(config, dataset.clone())?;
        let classes = workload.class_names(config);
        let prompts = dataset
            .clone()
            .or_else(|| crate::workload::prefix::shared_prefixes(config))
            .or_else(|| workload.replay_prompts());
        let mut replicas = Vec::with_capacity(plans.len());
        for plan in &plans {
            let engine = Engine::new(&plan.config, prompts.clone())?;
            replicas.push(Replica {
                engine: match plan.role {
                    Role::Prefill => engine.prefill_only(),
                    _ => engine,
                },
                stats: ReplicaStats::default(),
                pool: plan.pool.clone(),
                role: plan.role,
            });
        }
        let cluster = config.cluster.as_ref();
        let kind = cluster.map_or(RouterKind::LeastOutstanding, |c| c.router);
        let staleness = cluster.map_or(0.0, |c| c.router_staleness_ms / 1e3);
        let load_cap = cluster.map_or(0, |c| c.prefix_affinity_load_cap);
        let seed = config.workload.seed;
        let entry = plans.iter().filter(|p| p.role != Role::Decode).count();
        let blocks = |range: std::ops::Range<usize>| -> Vec<u32> {
            replicas[range]
                .iter()
                .map(|r| r.engine.kv_blocks())
                .collect()
        };
        let router = Router::new(
            kind,
            blocks(0..entry),
            staleness,
            stream_seed(seed, ROUTER_STREAM),
            load_cap,
        );
        let disagg = match cluster.and_then(|c| c.disaggregation.as_ref()) {
            None => None,
            Some(d) => {
                // Prefix affinity has no prompt to match at the decode side: least loaded.
                let decode_kind = match kind {
                    RouterKind::PrefixAffinity => RouterKind::LeastOutstanding,
                    k => k,
                };
                let decode_router = Router::new(
                    decode_kind,
                    blocks(entry..replicas.len()),
                    staleness,
                    stream_seed(seed, DECODE_ROUTER_STREAM),
                    load_cap,
                );
                let bytes = plans[entry..]
                    .iter()
                    .map(|p| p.config.kv_bytes_per_token())
                    .collect();
                Some(Disaggregation::new(d, decode_router, bytes))
            }
        };
        // Completions create arrivals: a closed-loop user's next request, a session's next turn.
        let closed_loop = config.workload.arrival_pattern == ArrivalPattern::ClosedLoop
            || config.workload.sessions.is_some();
        Ok(Simulator {
            coupled: (closed_loop && replicas.len() > 1) || disagg.is_some(),
            uses_prefix: kind == RouterKind::PrefixAffinity,
            sticky_sessions: kind == RouterKind::SessionAffinity,
            agenda: Agenda::new(replicas.len()),
            replicas,
            workload,
            router,
            entry,
            gpus: config.num_gpus(),
            disagg,
            recorders: Recorders::default(),
            metrics: {
                let metrics = {
                    let class_slos: Vec<_> =
                        config.workload.classes.iter().map(|c| c.slo).collect();
                    Collector::with_slo(SloTally::new(config.slo).with_classes(&class_slos))
                        .with_classes(classes)
                };
                // Only open-loop arrivals have an offered rate to check the served rate against.
                if config.workload.arrival_pattern.uses_rate() {
                    metrics.with_load_check()
                } else {
                    metrics
                }
            },
            warmup: Warmup::new(config.metrics.as_ref()),
            warmup_arrived: 0,
            measuring: false,
            log_interval: config.simulation.log_interval,
        })
    }

    /// Also writes these records as the run goes (see [`crate::records`]).
    pub fn with_recorders(mut self, recorders: Recorders) -> Simulator {
        self.recorders = recorders;
        self
    }

    /// The request classes the run reports (workload.classes or a trace's), by index.
    pub fn class_names(&self) -> &[String] {
        self.metrics.class_names()
    }

    /// Handles the next event: an arrival, a handoff or landed transfer, or one replica's step.
    pub fn step(&mut self) -> Result<StepOutcome> {
        let Upcoming {
            replica,
            arrival,
            moved,
        } = self.upcoming();
        let at = replica.map(|(_, t)| t);
        // Arrivals and transfers at a step boundary come first: the step sees them.
        if let Some(t) = arrival.filter(|&t| at.is_none_or(|b| t <= b)) {
            if moved.is_none_or(|m| t <= m) {
                self.route_arrival();
                return Ok(StepOutcome::Idle);
            }
        }
        if moved.is_some_and(|m| at.is_none_or(|b| m <= b)) {
            self.move_kv();
            return Ok(StepOutcome::Idle);
        }
        let Some((i, _)) = replica else {
            debug_assert!(self.disagg.as_ref().is_none_or(Disaggregation::is_idle));
            return Ok(StepOutcome::Done);
        };
        self.step_replica(i)
    }

    /// The events that may come next, for `step` to choose from and `Progress::settled` to
    /// bound the past by.
    fn upcoming(&self) -> Upcoming {
        Upcoming {
            replica: self
                .next_replica()
                .map(|i| (i, self.replicas[i].engine.now())),
            arrival: self.workload.next_arrival(),
            moved: self.disagg.as_ref().and_then(Disaggregation::next_event),
        }
    }

    /// The replica whose next step boundary comes first (the lowest index among equals), of
    /// those with work.
    fn next_replica(&self) -> Option<usize> {
        if self.replicas.len() == 1 {
            return (!self.replicas[0].engine.is_idle()).then_some(0);
        }
        self.agenda.first()
    }

    /// Puts replica `i` in the agenda at its step boundary if it has work: requests to run or
    /// admit, or (a decode replica) a transfer to start.
    fn refresh(&mut self, i: usize) {
        if self.replicas.len() == 1 {
            return;
        }
        let r = &self.replicas[i];
        let ready = r.role == Role::Decode
            && self
                .disagg
                .as_ref()
                .is_some_and(|d| d.ready(i - self.entry, &r.engine));
        let busy = !r.engine.is_idle() || ready;
        self.agenda.set(i, busy.then(|| r.engine.now()));
    }

    /// Handles the next handoff or landed KV transfer.
    fn move_kv(&mut self) {
        let disagg = self
            .disagg
            .as_mut()
            .expect("only disaggregated fleets move KV");
        if let Some(d) = disagg.process_next(&mut self.replicas[self.entry..]) {
            self.refresh(self.entry + d);
        }
    }

    /// Runs replica `i`'s next step, bounded by the next instant work could reach it.
    fn step_replica(&mut self, i: usize) -> Result<StepOutcome> {
        let outcome = self.run_replica(i);
        self.refresh(i);
        outcome
    }

    fn run_replica(&mut self, i: usize) -> Result<StepOutcome> {
        let entry = self.entry;
        if let (Role::Decode, Some(d)) = (self.replicas[i].role, self.disagg.as_mut()) {
            // The scheduler starts the transfers that fit first (their landings bound the
            // step below).
            let engine = &mut self.replicas[i].engine;
            d.retry(i - entry, engine);
            if engine.is_idle() {
                return Ok(StepOutcome::Idle); // waiting for its transfers to land
            }
        }
        // The first arrival that could reach this replica: arrivals the router cannot send
        // here do not change it (a fleet of one: the next arrival).
        let mut bound = if self.coupled {
            self.workload.next_arrival()
        } else {
            let k = self
                .router
                .arrivals_before_reaching(i, self.replicas[i].engine.now());
            self.workload.nth_arrival(k)
        };
        let mut earlier = |t: Option<f64>| {
            if let Some(t) = t {
                bound = Some(bound.map_or(t, |b| b.min(t)));
            }
        };
        if self.coupled {
            earlier(self.disagg.as_ref().and_then(Disaggregation::next_event));
            earlier(self.agenda.earliest_other(i));
        }
        let lookback = self
            .router
            .kv_lookback()
            .max(self.disagg.as_ref().map_or(0.0, |d| d.router.kv_lookback()));
        let bound = bound.map(|b| b - lookback);
        let single = self.replicas.len() == 1;
        let r = &mut self.replicas[i];
        self.recorders.replica = i as u32;
        let records = &mut self.recorders;
        let outcome = if single {
            r.engine.step(bound, &mut (&mut self.metrics, records))?
        } else {
            let observers = &mut (&mut self.metrics, &mut r.stats);
            r.engine.step(bound, &mut (observers, records))?
        };
        let (cost, completions) = match outcome {
            EngineStep::Ran { cost, completions } => (cost, completions),
            EngineStep::Blocked { preempted: true } => return Ok(StepOutcome::Idle),
            EngineStep::Blocked { preempted: false } => {
                let now = r.engine.now();
                let next = [
                    self.workload.next_arrival(),
                    self.disagg.as_ref().and_then(Disaggregation::next_event),
                ]
                .into_iter()
                .flatten()
                .filter(|&t| t > now)
                .min_by(f64::total_cmp);
                if let Some(t) = next {
                    r.engine.wait_until(t);
                    return Ok(StepOutcome::Idle);
                }
                bail!(
                    "the engine stalled at t = {now:.6} s with {} running and {} waiting \
                     requests and nothing schedulable (this is a bug: please report it with \
                     the config)",
                    r.engine.num_running(),
                    r.engine.num_waiting()
                );
            }
        };
        let now = r.engine.now();
        for _ in 0..completions {
            self.workload.on_completion(now);
        }
        for turn in r.engine.take_session_turns() {
            self.workload.on_turn_done(&turn, now);
        }
        let (start, kv_in_step, left) = r.engine.last_step_load();
        let load = StepLoad {
            start,
            end: now,
            kv_in_step,
            left,
            kv_after: r.engine.kv_blocks_used(),
        };
        match (r.role, self.disagg.as_mut()) {
            (Role::Decode, Some(d)) => {
                if d.router.needs_load() {
                    d.router.stepped(i - entry, load);
                }
            }
            (role, disagg) => {
                if self.router.needs_load() {
                    self.router.stepped(i, load);
                }
                if let (Role::Prefill, Some(d)) = (role, disagg) {
                    for handoff in r.engine.take_handoffs() {
                        d.handoff(handoff);
                    }
                }
            }
        }
        if self.workload.over_limit() {
            bail!(
                "workload: the run reached the limit of {} requests per run at t = {:.3} s of \
                 simulated time and would go on (duration_secs alone does not bound it): set \
                 num_requests <= {0}, or shorten duration_secs",
                self.workload.max_requests(),
                now
            );
        }
        Ok(StepOutcome::Ran(cost))
    }

    pub fn progress(&self) -> Progress {
        let engines = || self.replicas.iter().map(|r| &r.engine);
        let used: u64 = engines().map(|e| u64::from(e.kv_blocks_used())).sum();
        let blocks: u64 = engines().map(|e| u64::from(e.kv_blocks())).sum();
        Progress {
            now: self.now(),
            completed: engines().map(Engine::completed).sum(),
            total: self.workload.expected_total(),
            running: engines().map(Engine::num_running).sum(),
            waiting: engines().map(Engine::num_waiting).sum(),
            kv_cache_util: used as f64 / blocks as f64,
            steps: self.metrics.steps(),
            replicas: self.replicas.len(),
            settled: self.upcoming().earliest(),
        }
    }

    /// Simulated seconds so far: the latest step boundary of any replica.
    pub fn now(&self) -> f64 {
        self.replicas
            .iter()
            .map(|r| r.engine.now())
            .fold(0.0, f64::max)
    }

    /// Running requests' (id, tokens computed, tokens generated) over the fleet, for tests
    /// and inspection.
    pub fn running(&self) -> impl Iterator<Item = (u64, u32, u32)> + '_ {
        self.replicas.iter().flat_map(|r| r.engine.running())
    }

    pub fn num_waiting(&self) -> usize {
        self.replicas.iter().map(|r| r.engine.num_waiting()).sum()
    }

    /// Requests generated by the workload so far (arrived or pending).
    pub fn num_generated(&self) -> u64 {
        self.workload.generated()
    }

    pub fn kv_blocks_used(&self) -> u64 {
        self.replicas
            .iter()
            .map(|r| u64::from(r.engine.kv_blocks_used()))
            .sum()
    }

    /// Checks every replica's invariants (see [`Engine::check_invariants`]).
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        for (i, r) in self.replicas.iter().enumerate() {
            r.engine
                .check_invariants()
                .map_err(|e| format!("replica {i}: {e}"))?;
        }
        Ok(())
    }

    /// Ends the run now and summarises it (for callers driving [`step`](Self::step) themselves).
    pub fn into_summary(self) -> RunSummary {
        self.finish()
    }

    pub(super) fn finish(mut self) -> RunSummary {
        let total = self.workload.generated() - self.warmup_arrived;
        let engines = || self.replicas.iter().map(|r| &r.engine);
        let blocks: u64 = engines().map(|e| u64::from(e.kv_blocks())).sum();
        let makespan = engines().map(Engine::last_completion).fold(0.0, f64::max);
        let n = self.replicas.len();
        let mut summary = self.metrics.finish(makespan, total, blocks, n as u64);
        summary.requests_clipped = self.workload.clipped();
        summary.sessions = self.workload.session_summary();
        summary.fleet.gpus = self.gpus;
        summary.fleet.output_tokens_per_s_per_gpu = summary.output_tokens_per_s / self.gpus as f64;
        if n > 1 {
            summary.replicas = self
                .replicas
                .iter()
                .enumerate()
                .map(|(i, r)| r.stats.summary(i, &r.pool, makespan))
                .collect();
            let entry = &summary.replicas[..self.entry];
            summary.fleet.request_imbalance = imbalance(entry.iter().map(|r| r.requests as f64));
            summary.fleet.busy_imbalance = imbalance(entry.iter().map(|r| r.busy_fraction));
        } else {
            summary.fleet.request_imbalance = Some(1.0);
            summary.fleet.busy_imbalance = Some(1.0);
        }
        if let Some(d) = &self.disagg {
            d.fill(&mut summary.fleet);
        }
        summary
    }
}

#[cfg(test)]
mod tests;
