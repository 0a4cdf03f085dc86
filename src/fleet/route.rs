//! Where each arrival goes: the router's pick (or its session's replica), recorded, and
//! handed to that replica's engine at its delivery time.

use super::Simulator;
use crate::observe::Observer;

impl Simulator {
    /// Routes the next arrival to a replica.
    pub(super) fn route_arrival(&mut self) {
        let spec = self.workload.pop_next().expect("an arrival is pending");
        let measured = self.warmup.measures(&spec);
        if !measured {
            self.warmup_arrived += 1;
        } else if self.warmup.active() && !self.measuring {
            // Arrivals come in time order: this is the first measured one.
            self.measuring = true;
            self.metrics.set_window_start(spec.arrival);
        }
        let at = self.workload.delivered(&spec);
        let sticky = spec
            .session
            .filter(|_| self.sticky_sessions)
            .and_then(|s| self.workload.session_replica(s));
        let replicas = &self.replicas;
        let i = if let Some(i) = sticky {
            i
        } else if self.uses_prefix {
            self.router
                .pick(at, |i| replicas[i].engine.cached_prefix_blocks(&spec))
        } else {
            self.router.pick(at, |_| 0)
        };
        if self.router.needs_load() {
            self.router.routed(i, at);
        }
        if let (true, Some(session)) = (self.sticky_sessions, spec.session) {
            self.workload.bind_session(session, i);
        }
        if measured {
            self.recorders.arrival(&spec, at);
        }
        let r = &mut self.replicas[i];
        r.stats.routed += 1;
        r.engine.wait_until(at);
        r.engine.add_request(spec, measured);
        self.refresh(i);
    }
}
