//! Routers: which replica of a group an arriving request goes to.
//!
//! Every router decides at the request's arrival from what [`LoadView`] shows it (exact, or
//! `router_staleness_ms` old). `random` and `power_of_two` draw from a seeded stream of their
//! own, so a run stays deterministic and the workload's streams are untouched.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::view::{LoadView, StepLoad};
use crate::config::RouterKind;

pub struct Router {
    kind: RouterKind,
    view: LoadView,
    /// round_robin: the next replica.
    next: usize,
    rng: StdRng,
    /// random and power_of_two: the replicas the next arrivals will draw (one, or two), drawn
    /// ahead from `rng` in the order the picks use them, so the driver can tell which
    /// arrivals may reach a replica.
    ahead: VecDeque<(usize, usize)>,
    load_cap: u64,
}

impl Router {
    /// A router over replicas with these KV cache sizes (blocks).
    pub fn new(
        kind: RouterKind,
        kv_blocks: Vec<u32>,
        staleness_secs: f64,
        seed: u64,
        load_cap: u32,
    ) -> Router {
        Router {
            kind,
            view: LoadView::new(kv_blocks, staleness_secs, kind == RouterKind::LeastKv),
            next: 0,
            rng: StdRng::seed_from_u64(seed),
            ahead: VecDeque::new(),
            load_cap: u64::from(load_cap),
        }
    }

    /// The replica for a request arriving at `t`. `cached_blocks(i)` is how many leading blocks
    /// of its prompt replica `i` holds in its prefix cache (asked by prefix_affinity only).
    pub fn pick(&mut self, t: f64, cached_blocks: impl Fn(usize) -> u32) -> usize {
        let n = self.view.len();
        if n == 1 {
            return 0;
        }
        self.view.advance(t);
        match self.kind {
            RouterKind::RoundRobin => {
                let i = self.next;
                self.next = (i + 1) % n;
                i
            }
            RouterKind::Random => self.next_draw().0,
            RouterKind::LeastOutstanding | RouterKind::SessionAffinity => {
                self.view.least_outstanding()
            }
            RouterKind::LeastKv => self.view.least_kv(),
            RouterKind::PowerOfTwo => {
                let (a, b) = self.next_draw();
                let (la, lb) = (self.view.outstanding(a), self.view.outstanding(b));
                if lb < la || (lb == la && b < a) {
                    b
                } else {
                    a
                }
            }
            RouterKind::PrefixAffinity => self.prefix_affinity(cached_blocks),
        }
    }

    /// The next arrival's draw, from those drawn ahead.
    fn next_draw(&mut self) -> (usize, usize) {
        if self.ahead.is_empty() {
            self.draw_ahead();
        }
        self.ahead.pop_front().expect("drawn above")
    }

    /// Draws one more arrival's replicas: one for random, two distinct for power_of_two.
    fn draw_ahead(&mut self) {
        let n = self.view.len();
        let a = self.rng.random_range(0..n);
        let b = match self.kind {
            RouterKind::PowerOfTwo => (a + 1 + self.rng.random_range(0..n - 1)) % n,
            _ => a,
        };
        self.ahead.push_back((a, b));
    }

    /// The longest cached prefix among replicas whose load is within the cap of the least
    /// loaded; then the fewer outstanding requests; then the lower index. Without a hit
    /// anywhere this is least_outstanding.
    fn prefix_affinity(&self, cached_blocks: impl Fn(usize) -> u32) -> usize {
        let limit = self.view.min_outstanding().saturating_add(self.load_cap);
        let mut best = self.view.least_outstanding();
        let mut best_key = (
            cached_blocks(best),
            std::cmp::Reverse(self.view.outstanding(best)),
        );
        for i in 0..self.view.len() {
            let load = self.view.outstanding(i);
            if load > limit || i == best {
                continue;
            }
            let key = (cached_blocks(i), std::cmp::Reverse(load));
            if key > best_key || (key == best_key && i < best) {
                best = i;
                best_key = key;
            }
        }
        best
    }

    /// How many of the next arrivals it takes, at the least, before one can go to replica
    /// `i` (1: the very next may), as the router stands at `t` with `i` at a step boundary.
    /// The driver lets `i` run ahead of the arrivals that cannot reach it.
    ///
    /// round_robin knows its turn. least_outstanding (exact view) picks `i` only once every
    /// replica ordered before it is at least as loaded: completions elsewhere only lower
    /// others' loads and each arrival raises one replica's by one, so that takes at least the
    /// summed shortfall of arrivals. Other routers may send any arrival anywhere.
    pub fn arrivals_before_reaching(&mut self, i: usize, t: f64) -> usize {
        let n = self.view.len();
        match self.kind {
            _ if n == 1 => 1,
            RouterKind::RoundRobin => (i + n - self.next) % n + 1,
            RouterKind::LeastOutstanding if self.view.is_exact() => {
                self.view.advance(t);
                let own = self.view.outstanding(i);
                let shortfall: u64 = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| (own + u64::from(j < i)).saturating_sub(self.view.outstanding(j)))
                    .sum();
                usize::try_from(shortfall).unwrap_or(usize::MAX - 1) + 1
            }
            // Only an arrival that draws `i` can go to it: look at the draws ahead.
            RouterKind::Random | RouterKind::PowerOfTwo => {
                // Past 8n draws without `i` (rare), stop looking: a span that long is plenty.
                let limit = 8 * n;
                let mut k = 0;
                loop {
                    if k == self.ahead.len() {
                        if k == limit {
                            return limit + 1;
                        }
                        self.draw_ahead();
                    }
                    let (a, b) = self.ahead[k];
                    if a == i || b == i {
                        return k + 1;
                    }
                    k += 1;
                }
            }
            _ => 1,
        }
    }

    /// See [`LoadView::kv_lookback`].
    pub fn kv_lookback(&self) -> f64 {
        if self.view.len() == 1 {
            return 0.0; // nothing to choose between
        }
        self.view.kv_lookback()
    }

    /// A request went to replica `i` at `t`.
    pub fn routed(&mut self, i: usize, t: f64) {
        self.view.routed(i, t);
    }

    /// Replica `i` ran a step.
    pub fn stepped(&mut self, i: usize, step: StepLoad) {
        self.view.stepped(i, step);
    }

    /// Whether the router uses the replicas' load at all (round_robin and random do not).
    pub fn needs_load(&self) -> bool {
        !matches!(self.kind, RouterKind::RoundRobin | RouterKind::Random) && self.view.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(kind: RouterKind, n: usize) -> Router {
        Router::new(kind, vec![100; n], 0.0, 7, 2)
    }

    #[test]
    fn round_robin_deals_in_turn() {
        let mut r = router(RouterKind::RoundRobin, 3);
        let picks: Vec<usize> = (0..7).map(|k| r.pick(k as f64, |_| 0)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn arrivals_that_cannot_reach_a_replica_are_counted() {
        let mut r = router(RouterKind::RoundRobin, 4);
        r.pick(0.0, |_| 0);
        assert_eq!(r.arrivals_before_reaching(1, 0.0), 1);
        assert_eq!(r.arrivals_before_reaching(0, 0.0), 4);
        let mut r = router(RouterKind::LeastOutstanding, 3);
        for (i, n) in [(0, 3), (1, 1), (2, 5)] {
            for _ in 0..n {
                r.routed(i, 0.0);
            }
        }
        // Replica 0 (3): replica 1 needs 2 more (3 - 1), replica 2 none.
        assert_eq!(r.arrivals_before_reaching(0, 0.0), 3);
        // Replica 2 (5): replica 0 needs 3 (5 + 1 - 3: it wins ties), replica 1 needs 5.
        assert_eq!(r.arrivals_before_reaching(2, 0.0), 9);
        assert_eq!(r.arrivals_before_reaching(1, 0.0), 1);
        // Check by routing: the 9th arrival is the first that can go to replica 2.
        let mut picks = Vec::new();
        for k in 0..9 {
            let i = r.pick(0.0, |_| 0);
            r.routed(i, 0.0);
            picks.push(i);
            if k < 8 {
                assert_ne!(i, 2);
            }
        }
        assert_eq!(picks[8], 2, "the bound is tight here: {picks:?}");

        // Random routers know the draws ahead: the arrival that draws a replica first.
        for kind in [RouterKind::Random, RouterKind::PowerOfTwo] {
            let mut r = router(kind, 5);
            let k = r.arrivals_before_reaching(3, 0.0);
            let mut picks = Vec::new();
            let mut seen = router(kind, 5);
            for _ in 0..k {
                picks.push(r.pick(0.0, |_| 0));
                let draw = seen.next_draw();
                assert!(picks.len() == k || (draw.0 != 3 && draw.1 != 3));
            }
            if kind == RouterKind::Random {
                assert_eq!(picks.last(), Some(&3), "{picks:?}");
                assert!(picks[..k - 1].iter().all(|&p| p != 3), "{picks:?}");
            }
        }
    }

    #[test]
    fn least_outstanding_fills_the_emptiest_first() {
        let mut r = router(RouterKind::LeastOutstanding, 3);
        let mut picks = Vec::new();
        for k in 0..6 {
            let i = r.pick(k as f64, |_| 0);
            r.routed(i, k as f64);
            picks.push(i);
        }
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn power_of_two_picks_two_distinct_replicas_and_the_lighter() {
        let mut r = router(RouterKind::PowerOfTwo, 2);
        // Two replicas: both are always drawn, so the lighter one always wins.
        r.routed(0, 0.0);
        for k in 1..20 {
            assert_eq!(r.pick(k as f64, |_| 0), 1);
        }
        // Same seed, same picks.
        let mut a = router(RouterKind::Random, 5);
        let mut b = router(RouterKind::Random, 5);
        let pa: Vec<usize> = (0..50).map(|k| a.pick(k as f64, |_| 0)).collect();
        let pb: Vec<usize> = (0..50).map(|k| b.pick(k as f64, |_| 0)).collect();
        assert_eq!(pa, pb);
        assert!((0..5).all(|i| pa.contains(&i)), "{pa:?}");
    }

    #[test]
    fn prefix_affinity_prefers_hits_within_the_load_cap() {
        let mut r = router(RouterKind::PrefixAffinity, 3);
        let hits = |i: usize| [0, 5, 9][i];
        assert_eq!(r.pick(0.0, hits), 2, "the longest cached prefix");
        for _ in 0..3 {
            r.routed(2, 0.0);
        }
        // Replica 2 now has 3 outstanding, the least loaded 0: over the cap of 2.
        assert_eq!(r.pick(0.0, hits), 1);
        assert_eq!(r.pick(0.0, |_| 0), 0, "no hits anywhere: the least loaded");
    }
}
