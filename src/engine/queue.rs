//! The waiting queue, kept in policy order so that the next request to admit is the first
//! entry of a B-tree (O(log n) per insert or pop, never a scan of the queue).

use std::collections::BTreeMap;

use crate::config::Policy;
use crate::workload::RequestSpec;

/// Sort key: the policy's primary key, then arrival time, then id, so ties break the same way
/// in every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueueKey {
    primary: i64,
    /// Arrival time as f64 bits: for non-negative floats the bit order is the numeric order.
    arrival: u64,
    id: u64,
}

impl QueueKey {
    pub fn new(policy: Policy, spec: &RequestSpec) -> QueueKey {
        let prompt = i64::from(spec.prompt_len);
        let output = i64::from(spec.output_len);
        let primary = match policy {
            Policy::Fcfs => 0,
            Policy::Sif => prompt,
            Policy::Lif => -prompt,
            Policy::Sof => output,
            Policy::Lof => -output,
            Policy::Stf => prompt + output,
            Policy::Ltf => -(prompt + output),
            Policy::Priority => spec.priority,
        };
        QueueKey {
            primary,
            arrival: spec.arrival.max(0.0).to_bits(),
            id: spec.id,
        }
    }
}

/// Requests waiting for admission, by policy order. Values are request slots.
#[derive(Debug, Default, Clone)]
pub struct WaitingQueue {
    entries: BTreeMap<QueueKey, usize>,
}

impl WaitingQueue {
    pub fn push(&mut self, key: QueueKey, slot: usize) {
        self.entries.insert(key, slot);
    }

    pub fn peek(&self) -> Option<usize> {
        self.entries.first_key_value().map(|(_, &slot)| slot)
    }

    pub fn pop(&mut self) -> Option<usize> {
        self.entries.pop_first().map(|(_, slot)| slot)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.values().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: u64, arrival: f64, prompt: u32, output: u32) -> RequestSpec {
        RequestSpec {
            id,
            arrival,
            prompt_len: prompt,
            output_len: output,
            priority: 0,
            dataset_index: None,
            class: 0,
            session: None,
        }
    }

    fn order(policy: Policy) -> Vec<usize> {
        let specs = [
            spec(0, 0.0, 300, 10),
            spec(1, 1.0, 100, 50),
            spec(2, 2.0, 200, 5),
            spec(3, 3.0, 100, 50),
        ];
        let mut q = WaitingQueue::default();
        for (slot, s) in specs.iter().enumerate() {
            q.push(QueueKey::new(policy, s), slot);
        }
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn each_policy_orders_by_its_key_then_arrival() {
        assert_eq!(order(Policy::Fcfs), [0, 1, 2, 3]);
        assert_eq!(order(Policy::Sif), [1, 3, 2, 0]);
        assert_eq!(order(Policy::Lif), [0, 2, 1, 3]);
        assert_eq!(order(Policy::Sof), [2, 0, 1, 3]);
        assert_eq!(order(Policy::Lof), [1, 3, 0, 2]);
        assert_eq!(order(Policy::Stf), [1, 3, 2, 0]);
        assert_eq!(order(Policy::Ltf), [0, 2, 1, 3]);
        assert_eq!(order(Policy::Priority), [0, 1, 2, 3]);
    }
}
