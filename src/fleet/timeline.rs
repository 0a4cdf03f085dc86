//! A queue of events in time order, first in first out among events at the same instant (so
//! a run never depends on how a heap breaks ties).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

struct At<T> {
    at: f64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for At<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for At<T> {}
impl<T> PartialOrd for At<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for At<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.total_cmp(&other.at).then(self.seq.cmp(&other.seq))
    }
}

pub struct Timeline<T> {
    heap: BinaryHeap<Reverse<At<T>>>,
    seq: u64,
}

impl<T> Default for Timeline<T> {
    fn default() -> Self {
        Timeline {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> Timeline<T> {
    pub fn push(&mut self, at: f64, item: T) {
        self.seq += 1;
        self.heap.push(Reverse(At {
            at,
            seq: self.seq,
            item,
        }));
    }

    /// The instant of the earliest event.
    pub fn next_at(&self) -> Option<f64> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Removes the earliest event.
    pub fn pop(&mut self) -> Option<(f64, T)> {
        self.heap.pop().map(|Reverse(e)| (e.at, e.item))
    }

    /// Removes the earliest event if it is at or before `t`.
    pub fn pop_until(&mut self, t: f64) -> Option<(f64, T)> {
        if self.next_at()? > t {
            return None;
        }
        self.pop()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_in_time_order_then_in_push_order() {
        let mut t = Timeline::default();
        t.push(2.0, "c");
        t.push(1.0, "a");
        t.push(1.0, "b");
        assert_eq!(t.next_at(), Some(1.0));
        assert_eq!(t.pop_until(0.5), None);
        let order: Vec<&str> = std::iter::from_fn(|| t.pop().map(|(_, x)| x)).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert!(t.is_empty());
    }
}
