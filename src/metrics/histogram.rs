//! A log-bucketed histogram: quantiles within a fixed relative error in memory that grows with
//! the spread of the values, not with how many there are.
//!
//! Bucket `i` holds the positive values in (γ^(i-1), γ^i] with γ = (1 + α) / (1 - α), and
//! stands for them all by r_i = 2 γ^i / (γ + 1). Every value x of the bucket is then within
//! |r_i - x| / x <= (γ - 1) / (γ + 1) = α of it. A type-7 quantile interpolates between two
//! ranks with non-negative weights, so the interpolated estimate stays within α of the exact
//! one. α = [`RELATIVE_ERROR`] = 1/2048 (0.049%) keeps the reported quantiles well inside 0.1%
//! even after floating-point rounding of the bucket index.
//!
//! Memory is one counter per bucket between the smallest and the largest bucket seen: ln(γ) is
//! about 2α, so a spread of six decades (1 µs to 1 s) takes about 14,000 buckets (113 KB), and
//! the whole range of positive f64 at most about 1.5 million. Zero (and anything below the
//! smallest normal f64) is counted in a separate bucket that stands for 0.

/// The largest relative error of a value's bucket representative (α above).
pub const RELATIVE_ERROR: f64 = 1.0 / 2048.0;

#[derive(Debug, Clone)]
pub struct LogHistogram {
    /// 1 / ln(γ): a positive value's bucket is ceil(ln(x) / ln(γ)).
    inv_ln_gamma: f64,
    gamma: f64,
    /// Samples at or below the smallest normal f64 (in a simulator's durations: exactly 0).
    zeros: u64,
    /// Bucket index of `counts[0]`.
    offset: i64,
    counts: Vec<u64>,
}

impl Default for LogHistogram {
    fn default() -> Self {
        let gamma = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);
        LogHistogram {
            inv_ln_gamma: 1.0 / gamma.ln(),
            gamma,
            zeros: 0,
            offset: 0,
            counts: Vec::new(),
        }
    }
}

impl LogHistogram {
    /// Counts `weight` samples of value `x`.
    pub fn add(&mut self, x: f64, weight: u64) {
        if x.is_nan() || x <= f64::MIN_POSITIVE {
            self.zeros += weight;
            return;
        }
        let i = (x.ln() * self.inv_ln_gamma).ceil() as i64;
        if self.counts.is_empty() {
            self.offset = i;
            self.counts.push(0);
        } else if i < self.offset {
            let mut grown = vec![0; (self.offset - i) as usize];
            grown.extend_from_slice(&self.counts);
            self.counts = grown;
            self.offset = i;
        } else if i - self.offset >= self.counts.len() as i64 {
            self.counts.resize((i - self.offset + 1) as usize, 0);
        }
        self.counts[(i - self.offset) as usize] += weight;
    }

    /// Buckets allocated (for memory accounting in tests).
    #[cfg(test)]
    pub fn num_buckets(&self) -> usize {
        self.counts.len()
    }

    /// The representative of the sample at 0-based `rank` in ascending order (ranks past the
    /// last sample give the last bucket's).
    pub fn value_at_rank(&self, rank: u64) -> f64 {
        if rank < self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        let mut last = 0.0;
        for (k, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            last = self.representative(self.offset + k as i64);
            seen += c;
            if rank < seen {
                break;
            }
        }
        last
    }

    /// 2 γ^i / (γ + 1): the point of (γ^(i-1), γ^i] with the same relative distance to both ends.
    fn representative(&self, i: i64) -> f64 {
        2.0 * self.gamma.powf(i as f64) / (self.gamma + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_within_the_relative_error_of_its_bucket() {
        let mut x = 1e-9;
        while x < 1e9 {
            let mut h = LogHistogram::default();
            h.add(x, 1);
            let r = h.value_at_rank(0);
            assert!(
                ((r - x) / x).abs() <= RELATIVE_ERROR * (1.0 + 1e-9),
                "x = {x}, representative {r}"
            );
            x *= 1.000_37;
        }
    }

    #[test]
    fn buckets_grow_both_ways_and_ranks_follow_the_order() {
        let mut h = LogHistogram::default();
        h.add(1.0, 2);
        h.add(0.001, 1);
        h.add(1000.0, 3);
        h.add(0.0, 1);
        let at = |rank| h.value_at_rank(rank);
        assert_eq!(at(0), 0.0);
        assert!((at(1) / 0.001 - 1.0).abs() <= RELATIVE_ERROR);
        assert!((at(2) - 1.0).abs() <= RELATIVE_ERROR && (at(3) - 1.0).abs() <= RELATIVE_ERROR);
        for rank in 4..7 {
            assert!((at(rank) / 1000.0 - 1.0).abs() <= RELATIVE_ERROR);
        }
        // Six decades: about ln(1e6) / (2 α) buckets.
        let expected = (1e6f64.ln() / (2.0 * RELATIVE_ERROR)) as usize;
        assert!(h.num_buckets().abs_diff(expected) < expected / 100 + 2);
    }
}
