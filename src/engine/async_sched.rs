//! vLLM's async scheduling (`scheduler.async_scheduling`): the scheduler decides step N+1
//! while the GPU runs step N, so a request that reaches a busy engine during step N is not in
//! step N+1's decision and is first scheduled in step N+2. A request that reaches an engine
//! with nothing running is scheduled at once, as the scheduler is waiting for work.
//!
//! Held requests wait outside the policy-ordered queue: `fresh` ones arrived during the step
//! in flight; at each step's start they become `ready`, and ready ones join the queue (so each
//! sits out exactly one decision). If a decision would be empty while requests are held,
//! vLLM's loop would run the scheduler again at once with them in view: they join at once.

use super::engine::Engine;
use super::queue::QueueKey;

/// Requests that reached the engine too late for the decision already made.
#[derive(Debug, Default)]
pub(super) struct Held {
    fresh: Vec<usize>,
    ready: Vec<usize>,
}

impl Held {
    pub fn len(&self) -> usize {
        self.fresh.len() + self.ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fresh.is_empty() && self.ready.is_empty()
    }

    pub fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.fresh.iter().chain(&self.ready).copied()
    }
}

impl Engine {
    /// Queues a newly arrived request's slot: held back if a step is in flight and the next
    /// decision is already made (async scheduling), else into the waiting queue.
    pub(super) fn enqueue_arrival(&mut self, slot: usize) {
        if self.knobs.async_scheduling && !self.running.is_empty() {
            self.held.fresh.push(slot);
        } else {
            self.enqueue(slot);
        }
    }

    fn enqueue(&mut self, slot: usize) {
        let key = QueueKey::new(self.knobs.policy, &self.requests[slot].spec);
        self.waiting.push(key, slot);
    }

    /// A step begins: requests that sat out one decision join the queue; those that arrived
    /// during the last step sit out this one.
    pub(super) fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let ready = std::mem::replace(&mut self.held.ready, std::mem::take(&mut self.held.fresh));
        for slot in ready {
            self.enqueue(slot);
        }
    }

    /// The decision came out empty: everything held joins the queue now.
    pub(super) fn release_all_held(&mut self) -> bool {
        if self.held.is_empty() {
            return false;
        }
        let mut all = std::mem::take(&mut self.held.ready);
        all.append(&mut self.held.fresh);
        for slot in all {
            self.enqueue(slot);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, Observer};
    use crate::workload::RequestSpec;

    struct Quiet;
    impl Observer for Quiet {}

    fn request(id: u64, arrival: f64) -> RequestSpec {
        RequestSpec {
            id,
            arrival,
            prompt_len: 100,
            output_len: 10,
            priority: 0,
            dataset_index: None,
            class: 0,
            session: None,
        }
    }

    /// Runs request 0 alone for one step, then request 1 arrives mid-step; returns how many
    /// requests run after each of the next two steps.
    fn running_after_arrival_mid_step(async_scheduling: bool) -> (usize, usize) {
        let mut config = crate::testing::hand_toy();
        config.scheduler.async_scheduling = async_scheduling;
        config.simulation.step_by_step = true; // one step per call
        let mut engine = Engine::new(&config, None).unwrap();
        engine.add_request(request(0, 0.0), true);
        engine.step(None, &mut Quiet).unwrap();
        assert_eq!(engine.num_running(), 1, "an idle engine schedules at once");
        let mid_step = engine.now() / 2.0;
        engine.wait_until(mid_step);
        engine.add_request(request(1, mid_step), true);
        engine.step(None, &mut Quiet).unwrap();
        let after_next = engine.num_running();
        engine.step(None, &mut Quiet).unwrap();
        (after_next, engine.num_running())
    }

    #[test]
    fn an_arrival_during_step_n_is_first_scheduled_in_step_n_plus_2() {
        assert_eq!(running_after_arrival_mid_step(false), (2, 2));
        assert_eq!(running_after_arrival_mid_step(true), (1, 2));
    }

    #[test]
    fn an_engine_with_nothing_running_schedules_an_arrival_at_once() {
        let mut config = crate::testing::hand_toy();
        config.scheduler.async_scheduling = true;
        let mut engine = Engine::new(&config, None).unwrap();
        // A one-token reply is done after its first step: nothing runs any more, so the
        // scheduler is waiting for work and takes the next arrival in the very next step.
        let mut short = request(0, 0.0);
        short.output_len = 1;
        engine.add_request(short, true);
        engine.step(None, &mut Quiet).unwrap();
        assert!(engine.is_idle());
        engine.add_request(request(1, engine.now()), true);
        engine.step(None, &mut Quiet).unwrap();
        assert_eq!(engine.num_running(), 1);
    }
}
