//! Releasing requests as simulated time passes: the arrival process's queue and the session
//! turns' follow-up queue, merged by arrival (then id).

use super::{RequestSpec, Workload};
use crate::config::ArrivalPattern;

impl Workload {
    /// The arrival time of the next request not yet released, if any.
    pub fn next_arrival(&self) -> Option<f64> {
        let next = match self.next_is_followup()? {
            true => &self.followups[0],
            false => &self.pending[0],
        };
        Some(self.delivered(next))
    }

    /// Whether the next request to release is a follow-up rather than the arrival process's:
    /// the earlier front, by arrival then id. None when both queues are empty.
    fn next_is_followup(&self) -> Option<bool> {
        match (self.pending.front(), self.followups.front()) {
            (Some(p), Some(f)) => Some((f.arrival, f.id) < (p.arrival, p.id)),
            (Some(_), None) => Some(false),
            (None, Some(_)) => Some(true),
            (None, None) => None,
        }
    }

    /// When a request reaches the engines: its arrival plus the API server's overhead.
    pub fn delivered(&self, spec: &RequestSpec) -> f64 {
        spec.arrival + self.delivery_delay
    }

    /// The arrival time of the `k`-th request not yet released (k = 1 is the next one),
    /// generating ahead as needed. Open-loop requests do not depend on the engine, so
    /// generating them early changes none of them; a closed loop has only what its users sent.
    pub fn nth_arrival(&mut self, k: usize) -> Option<f64> {
        while self.pending.len() < k && self.pattern != ArrivalPattern::ClosedLoop {
            let before = self.generated;
            self.refill();
            if self.generated == before {
                break;
            }
        }
        // The k-th of the two queues merged.
        let (mut p, mut f) = (
            self.pending.iter().peekable(),
            self.followups.iter().peekable(),
        );
        let mut nth = None;
        for _ in 0..k.max(1) {
            nth = match (p.peek(), f.peek()) {
                (Some(a), Some(b)) if (b.arrival, b.id) < (a.arrival, a.id) => f.next(),
                (Some(_), _) => p.next(),
                (None, _) => f.next(),
            };
        }
        nth.map(|r| self.delivered(r))
    }

    /// Releases the next request if it has arrived by `now`.
    pub fn pop_arrived(&mut self, now: f64) -> Option<RequestSpec> {
        let from_pending = !self.next_is_followup()?;
        let queue = if from_pending {
            &mut self.pending
        } else {
            &mut self.followups
        };
        if queue[0].arrival + self.delivery_delay > now {
            return None;
        }
        let spec = queue.pop_front();
        if from_pending && self.pattern != ArrivalPattern::ClosedLoop && self.pending.is_empty() {
            self.refill();
        }
        spec
    }

    /// Releases the next request, whenever it arrives (the driver handles events in time
    /// order, so its clock has reached that arrival).
    pub fn pop_next(&mut self) -> Option<RequestSpec> {
        self.pop_arrived(f64::INFINITY)
    }
}
