//! Prefill/decode disaggregation: the KV of a prefilled request moves to a decode replica.
//!
//! A request prefills on a prefill replica; the step that computes its last prompt token emits
//! its first token (its TTFT) and it leaves that replica, whose blocks are freed at once (the
//! KV is assumed staged for transfer outside the cache, as connector-based deployments do).
//! The decode router picks a decode replica at that instant. The replica's scheduler takes the
//! transfer at its first step boundary at or after it (at once if the replica is idle): if it
//! has room (blocks for the prompt's KV, a sequence slot) the transfer starts and holds those
//! blocks; it takes `kv_transfer_latency_ms + bytes / kv_transfer_bandwidth`, where bytes are
//! the prompt's KV on the decode replica. When it lands the request joins the running batch
//! and decodes from its next step. Without room the transfer is held back (backpressure,
//! counted, and timed from the handoff to its start) in that replica's queue, first come
//! first served, until a step boundary with room.

use std::collections::VecDeque;

use super::router::Router;
use super::timeline::Timeline;
use super::Replica;
use crate::config::DisaggregationConfig;
use crate::engine::{Engine, Handoff};
use crate::metrics::FleetMetrics;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// A request left a prefill replica.
    Handoff(Handoff),
    /// A transfer into decode replica `decode` (index within the pool) landed.
    Landed { decode: usize, slot: usize },
}

pub struct Disaggregation {
    pub router: Router,
    bandwidth: f64,
    latency: f64,
    /// KV bytes per token on each decode replica.
    kv_bytes_per_token: Vec<f64>,
    events: Timeline<Event>,
    /// Per decode replica: transfers waiting for a step boundary with room, with the instant
    /// of their handoff and whether they were held back for room.
    held: Vec<VecDeque<(f64, Handoff, bool)>>,
    transfers: u64,
    bytes: f64,
    transfer_time: f64,
    waits: u64,
    wait_time: f64,
}

impl Disaggregation {
    pub fn new(
        config: &DisaggregationConfig,
        router: Router,
        kv_bytes_per_token: Vec<f64>,
    ) -> Self {
        let n = kv_bytes_per_token.len();
        Disaggregation {
            router,
            bandwidth: config.kv_transfer_bandwidth,
            latency: config.kv_transfer_latency_ms / 1e3,
            kv_bytes_per_token,
            events: Timeline::default(),
            held: vec![VecDeque::new(); n],
            transfers: 0,
            bytes: 0.0,
            transfer_time: 0.0,
            waits: 0,
            wait_time: 0.0,
        }
    }

    /// A request left a prefill replica.
    pub fn handoff(&mut self, handoff: Handoff) {
        self.events
            .push(handoff.first_token, Event::Handoff(handoff));
    }

    /// The instant of the next handoff or landing.
    pub fn next_event(&self) -> Option<f64> {
        self.events.next_at()
    }

    /// Whether anything is still moving or held back.
    pub fn is_idle(&self) -> bool {
        self.events.is_empty() && self.held.iter().all(VecDeque::is_empty)
    }

    /// Whether decode replica `d` has a transfer to start at its next step boundary, even
    /// with nothing to run.
    pub fn ready(&self, d: usize, engine: &Engine) -> bool {
        self.held[d]
            .front()
            .is_some_and(|(_, h, _)| engine.can_accept(&h.spec))
    }

    /// Processes the next event against the decode replicas; returns the decode replica (index
    /// within the pool) it changed.
    pub fn process_next(&mut self, decode: &mut [Replica]) -> Option<usize> {
        let (at, event) = self.events.pop()?;
        match event {
            Event::Handoff(handoff) => {
                let d = self.router.pick(at, |_| 0);
                if self.router.needs_load() {
                    self.router.routed(d, at);
                }
                decode[d].stats.routed += 1;
                // An idle replica's scheduler runs now; a busy one's at its step's end.
                decode[d].engine.wait_until(at);
                self.held[d].push_back((at, handoff, false));
                Some(d)
            }
            Event::Landed { decode: d, slot } => {
                let engine = &mut decode[d].engine;
                engine.wait_until(at);
                engine.end_transfer(slot);
                Some(d)
            }
        }
    }

    /// At a step boundary `now` of decode replica `d`: starts held-back transfers that fit.
    pub fn retry(&mut self, d: usize, engine: &mut Engine) {
        let now = engine.now();
        while let Some(&mut (since, handoff, ref mut held_back)) = self.held[d].front_mut() {
            if !engine.can_accept(&handoff.spec) {
                if !*held_back {
                    *held_back = true;
                    self.waits += 1;
                }
                break;
            }
            if *held_back {
                self.wait_time += now - since;
            }
            self.held[d].pop_front();
            self.start(now, d, &handoff, engine);
        }
    }

    fn start(&mut self, at: f64, d: usize, handoff: &Handoff, engine: &mut Engine) {
        let slot = engine.begin_transfer(handoff);
        let bytes = f64::from(handoff.spec.prompt_len) * self.kv_bytes_per_token[d];
        let time = transfer_time(bytes, self.bandwidth, self.latency);
        self.transfers += 1;
        self.bytes += bytes;
        self.transfer_time += time;
        self.events
            .push(at + time, Event::Landed { decode: d, slot });
    }

    /// The transfer columns of the fleet's metrics.
    pub fn fill(&self, fleet: &mut FleetMetrics) {
        fleet.kv_transfers = self.transfers;
        fleet.kv_transfer_bytes = self.bytes;
        fleet.kv_transfer_ms_mean =
            (self.transfers > 0).then(|| self.transfer_time / self.transfers as f64 * 1e3);
        fleet.kv_backpressure_waits = self.waits;
        fleet.kv_backpressure_ms_mean =
            (self.waits > 0).then(|| self.wait_time / self.waits as f64 * 1e3);
    }
}

/// Seconds to move `bytes` of KV: a fixed latency, then the bytes at the link's bandwidth.
pub fn transfer_time(bytes: f64, bandwidth: f64, latency: f64) -> f64 {
    latency + bytes / bandwidth
}
