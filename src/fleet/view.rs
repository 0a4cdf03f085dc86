//! What a router knows of its replicas' load: outstanding requests and KV blocks in use, as of
//! `router_staleness_ms` ago, and never anything the replicas will only do later.
//!
//! The driver steps an engine when its step starts and learns its effects at once, but a
//! router deciding during that step must not see them: the step's completions become visible
//! at its end, its allocations at its start. So every change is an event with the instant it
//! becomes visible (the instant it happens, plus the staleness), kept in a heap and applied as
//! the router's clock passes it. The same rule serves an exact router (staleness 0) and a
//! stale one.
//!
//! Loads are also kept in ordered sets, so the least loaded replica is found in O(log n).

use std::collections::BTreeSet;

use super::timeline::Timeline;

#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Change {
    /// Outstanding requests change by this much.
    Outstanding(i64),
    /// KV blocks in use become this many.
    KvUsed(u32),
}

/// The load of a group of replicas (indices 0..n within the group), as the router sees it.
pub struct LoadView {
    staleness: f64,
    /// Whether KV use is tracked (least_kv); otherwise only outstanding requests are.
    track_kv: bool,
    outstanding: Vec<u64>,
    kv_used: Vec<u32>,
    kv_blocks: Vec<u32>,
    by_outstanding: BTreeSet<(u64, usize)>,
    /// KV fraction as f64 bits (non-negative floats order like their bits).
    by_kv: BTreeSet<(u64, usize)>,
    /// Changes not yet visible: (replica, change).
    events: Timeline<(usize, Change)>,
}

impl LoadView {
    /// A view of replicas with these KV cache sizes (blocks), all idle.
    pub fn new(kv_blocks: Vec<u32>, staleness_secs: f64, track_kv: bool) -> LoadView {
        let n = kv_blocks.len();
        LoadView {
            staleness: staleness_secs,
            track_kv,
            outstanding: vec![0; n],
            kv_used: vec![0; n],
            by_outstanding: (0..n).map(|i| (0, i)).collect(),
            by_kv: (0..n).map(|i| (0f64.to_bits(), i)).collect(),
            kv_blocks,
            events: Timeline::default(),
        }
    }

    /// Whether the router sees the present (no staleness).
    pub fn is_exact(&self) -> bool {
        self.staleness == 0.0
    }

    /// How far back the view looks at KV use (0 when it does not track it). Within a span of
    /// decode steps KV use changes every step but is published once, at the last step's
    /// start; a stale view of KV must not look into a span, so spans end that long before the
    /// next arrival.
    pub fn kv_lookback(&self) -> f64 {
        if self.track_kv {
            self.staleness
        } else {
            0.0
        }
    }

    pub fn len(&self) -> usize {
        self.outstanding.len()
    }

    fn publish(&mut self, at: f64, replica: usize, change: Change) {
        self.events.push(at + self.staleness, (replica, change));
    }

    /// A request was sent to `replica` at `t`.
    pub fn routed(&mut self, replica: usize, t: f64) {
        self.publish(t, replica, Change::Outstanding(1));
    }

    /// `replica` ran a step from `start` to `end` holding `kv_in_step` blocks, after which
    /// `completions` requests had left it and `kv_after` blocks were in use.
    pub fn stepped(&mut self, replica: usize, step: StepLoad) {
        if self.track_kv {
            self.publish(step.start, replica, Change::KvUsed(step.kv_in_step));
        }
        if step.left > 0 {
            self.publish(
                step.end,
                replica,
                Change::Outstanding(-i64::from(step.left)),
            );
        }
        if self.track_kv {
            self.publish(step.end, replica, Change::KvUsed(step.kv_after));
        }
    }

    /// Applies every change visible at `t`.
    pub fn advance(&mut self, t: f64) {
        while let Some((_, (i, change))) = self.events.pop_until(t) {
            match change {
                Change::Outstanding(delta) => {
                    self.by_outstanding.remove(&(self.outstanding[i], i));
                    self.outstanding[i] = self.outstanding[i].saturating_add_signed(delta);
                    self.by_outstanding.insert((self.outstanding[i], i));
                }
                Change::KvUsed(used) => {
                    self.by_kv.remove(&(self.kv_key(i), i));
                    self.kv_used[i] = used;
                    self.by_kv.insert((self.kv_key(i), i));
                }
            }
        }
    }

    fn kv_key(&self, i: usize) -> u64 {
        (f64::from(self.kv_used[i]) / f64::from(self.kv_blocks[i])).to_bits()
    }

    pub fn outstanding(&self, i: usize) -> u64 {
        self.outstanding[i]
    }

    /// The replica with the fewest outstanding requests (the lowest index among equals).
    pub fn least_outstanding(&self) -> usize {
        self.by_outstanding.first().expect("a fleet has replicas").1
    }

    /// The smallest outstanding count.
    pub fn min_outstanding(&self) -> u64 {
        self.by_outstanding.first().expect("a fleet has replicas").0
    }

    /// The replica with the smallest fraction of its KV cache in use (then the lowest index).
    pub fn least_kv(&self) -> usize {
        self.by_kv.first().expect("a fleet has replicas").1
    }
}

/// What one engine step did to a replica's load (see [`LoadView::stepped`]).
#[derive(Debug, Clone, Copy)]
pub struct StepLoad {
    pub start: f64,
    pub end: f64,
    pub kv_in_step: u32,
    pub left: u32,
    pub kv_after: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(start: f64, end: f64, left: u32) -> StepLoad {
        StepLoad {
            start,
            end,
            kv_in_step: 10,
            left,
            kv_after: 4,
        }
    }

    #[test]
    fn a_step_in_flight_hides_its_completions_until_it_ends() {
        let mut v = LoadView::new(vec![100, 100], 0.0, true);
        v.routed(0, 0.0);
        v.routed(0, 0.0);
        v.routed(1, 0.5);
        v.advance(0.5);
        assert_eq!((v.outstanding(0), v.outstanding(1)), (2, 1));
        v.stepped(0, step(1.0, 2.0, 2));
        v.advance(1.5);
        assert_eq!(
            v.outstanding(0),
            2,
            "completions at 2.0 are not visible at 1.5"
        );
        assert_eq!(v.least_outstanding(), 1);
        assert_eq!(v.least_kv(), 1, "replica 0 holds 10 blocks during its step");
        v.advance(2.0);
        assert_eq!(v.outstanding(0), 0);
        assert_eq!(v.least_outstanding(), 0);
        assert_eq!(v.kv_used[0], 4);
    }

    #[test]
    fn a_stale_view_lags_by_the_staleness() {
        let mut v = LoadView::new(vec![100, 100], 0.25, true);
        v.routed(0, 1.0);
        v.advance(1.2);
        assert_eq!(v.outstanding(0), 0);
        assert_eq!(
            v.least_outstanding(),
            0,
            "the router does not see its own send yet"
        );
        v.advance(1.25);
        assert_eq!(v.outstanding(0), 1);
        assert_eq!(v.least_outstanding(), 1);
        assert_eq!(v.min_outstanding(), 0);
    }
}
