//! Which replica acts next: those with work, ordered by their next step boundary (then index),
//! so the driver finds the earliest in O(log replicas) instead of scanning the fleet.

use std::collections::BTreeSet;

#[derive(Debug, Default)]
pub struct Agenda {
    /// (step boundary as f64 bits, replica): simulated times are >= 0, whose bits order like
    /// the numbers.
    queue: BTreeSet<(u64, usize)>,
    /// Each replica's entry in `queue`, if it has one.
    keys: Vec<Option<u64>>,
}

impl Agenda {
    pub fn new(replicas: usize) -> Agenda {
        Agenda {
            queue: BTreeSet::new(),
            keys: vec![None; replicas],
        }
    }

    /// Replica `i` next acts at `at`, or (None) has nothing to do.
    pub fn set(&mut self, i: usize, at: Option<f64>) {
        debug_assert!(at.is_none_or(|t| t >= 0.0));
        let key = at.map(f64::to_bits);
        if self.keys[i] == key {
            return;
        }
        if let Some(old) = self.keys[i] {
            self.queue.remove(&(old, i));
        }
        if let Some(new) = key {
            self.queue.insert((new, i));
        }
        self.keys[i] = key;
    }

    /// The replica that acts first (the lowest index among equals).
    pub fn first(&self) -> Option<usize> {
        self.queue.first().map(|&(_, i)| i)
    }

    /// The earliest step boundary of a replica other than `i`.
    pub fn earliest_other(&self, i: usize) -> Option<f64> {
        self.queue
            .iter()
            .find(|&&(_, j)| j != i)
            .map(|&(bits, _)| f64::from_bits(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_acts_first_and_ties_go_to_the_lower_index() {
        let mut a = Agenda::new(3);
        assert_eq!(a.first(), None);
        a.set(2, Some(1.0));
        a.set(1, Some(1.0));
        a.set(0, Some(3.0));
        assert_eq!(a.first(), Some(1));
        assert_eq!(a.earliest_other(1), Some(1.0));
        a.set(1, None);
        a.set(2, Some(4.0));
        assert_eq!(a.first(), Some(0));
        assert_eq!(a.earliest_other(0), Some(4.0));
        a.set(0, None);
        a.set(2, None);
        assert_eq!(a.first(), None);
    }
}
