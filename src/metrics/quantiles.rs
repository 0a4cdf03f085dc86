//! Summary statistics of (possibly weighted) samples: exact up to [`EXACT_SAMPLE_LIMIT`] stored
//! samples per metric, then from a log-bucketed histogram within 0.05% (see [`Samples`]).
//!
//! Quantiles use linear interpolation between the two closest ranks (numpy's default,
//! Hyndman & Fan type 7): for n samples sorted ascending, the q-quantile sits at rank
//! h = q (n - 1) and is x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). A sample of
//! weight w counts as w equal samples, so weighting changes nothing but memory.

use serde::Serialize;

use super::histogram::LogHistogram;

/// (value, weight) entries a metric keeps exactly before it switches to a histogram: 16 MiB per
/// metric. Every run of up to about a million requests (and as many ITL entries: one per
/// step, plus one per irregular gap) reports exact quantiles; longer runs keep memory flat.
pub const EXACT_SAMPLE_LIMIT: usize = 1 << 20;

/// One metric's samples as a run goes. Count, mean, min and max are always exact. Quantiles are
/// exact (bit for bit what [`DistStats::of_weighted`] gives) while at most `limit` entries have
/// been recorded; past that the entries move into a [`LogHistogram`] and every quantile is
/// within [`super::histogram::RELATIVE_ERROR`] (1/2048) of the exact one.
#[derive(Debug, Clone)]
pub struct Samples {
    exact: Vec<(f64, u64)>,
    histogram: Option<LogHistogram>,
    limit: usize,
    count: u64,
    /// Sum of value x weight in recording order (the order the exact path sums in).
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for Samples {
    fn default() -> Self {
        Samples::with_limit(EXACT_SAMPLE_LIMIT)
    }
}

impl Samples {
    /// Samples that switch to a histogram past `limit` entries (tests use small limits).
    pub fn with_limit(limit: usize) -> Samples {
        Samples {
            exact: Vec::new(),
            histogram: None,
            limit,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Records one sample.
    pub fn push(&mut self, x: f64) {
        self.push_weighted(x, 1);
    }

    /// Records `weight` samples of value `x` (a weight of 0 records nothing).
    pub fn push_weighted(&mut self, x: f64, weight: u64) {
        if weight == 0 {
            return;
        }
        self.count += weight;
        self.sum += x * weight as f64;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        match &mut self.histogram {
            Some(h) => h.add(x, weight),
            None if self.exact.len() < self.limit => self.exact.push((x, weight)),
            None => {
                let mut h = LogHistogram::default();
                for (v, w) in std::mem::take(&mut self.exact) {
                    h.add(v, w);
                }
                h.add(x, weight);
                self.histogram = Some(h);
            }
        }
    }

    /// Whether quantiles are still exact.
    pub fn is_exact(&self) -> bool {
        self.histogram.is_none()
    }

    /// The statistics of everything recorded.
    pub fn stats(&mut self) -> DistStats {
        let Some(h) = &self.histogram else {
            return DistStats::of_weighted(&mut self.exact);
        };
        let (count, min, max) = (self.count, self.min, self.max);
        let value_at = |rank: u64| {
            if rank == 0 {
                min
            } else if rank + 1 >= count {
                max
            } else {
                h.value_at_rank(rank).clamp(min, max)
            }
        };
        let q = |p: f64| Some(quantile(count, p, value_at));
        DistStats {
            count,
            mean: Some(self.sum / count as f64),
            min: Some(min),
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            max: Some(max),
        }
    }
}

/// mean, min, max and the quantiles the reports show, in the samples' unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct DistStats {
    /// Number of samples (sum of weights).
    pub count: u64,
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl DistStats {
    /// Statistics of unweighted samples; an empty slice gives count 0 and no values.
    pub fn of(samples: &[f64]) -> DistStats {
        let mut weighted: Vec<(f64, u64)> = samples.iter().map(|&x| (x, 1)).collect();
        DistStats::of_weighted(&mut weighted)
    }

    /// Statistics of (value, weight) pairs; sorts `samples` in place.
    pub fn of_weighted(samples: &mut [(f64, u64)]) -> DistStats {
        let count: u64 = samples.iter().map(|&(_, w)| w).sum();
        if count == 0 {
            return DistStats::default();
        }
        let sum: f64 = samples.iter().map(|&(x, w)| x * w as f64).sum();
        samples.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let samples: Vec<(f64, u64)> = samples.iter().copied().filter(|&(_, w)| w > 0).collect();
        let q = |p: f64| Some(quantile(count, p, |rank| value_at_rank(&samples, rank)));
        DistStats {
            count,
            mean: Some(sum / count as f64),
            min: Some(samples[0].0),
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            max: Some(samples[samples.len() - 1].0),
        }
    }

    /// The same statistics with every value multiplied by `factor` (seconds -> ms).
    pub fn scaled(self, factor: f64) -> DistStats {
        let s = |v: Option<f64>| v.map(|x| x * factor);
        DistStats {
            count: self.count,
            mean: s(self.mean),
            min: s(self.min),
            p50: s(self.p50),
            p90: s(self.p90),
            p95: s(self.p95),
            p99: s(self.p99),
            max: s(self.max),
        }
    }
}

/// The type-7 quantile of `count` samples whose value at 0-based rank r is `value_at(r)`.
fn quantile(count: u64, p: f64, value_at: impl Fn(u64) -> f64) -> f64 {
    let h = p * (count - 1) as f64;
    let lo = h.floor() as u64;
    let frac = h - lo as f64;
    let x_lo = value_at(lo);
    if frac == 0.0 {
        return x_lo;
    }
    let x_hi = value_at(lo + 1);
    x_lo + frac * (x_hi - x_lo)
}

/// The value of the sample at 0-based `rank` in the expanded (unweighted) order.
fn value_at_rank(sorted: &[(f64, u64)], rank: u64) -> f64 {
    let mut seen = 0u64;
    for &(x, w) in sorted {
        seen += w;
        if rank < seen {
            return x;
        }
    }
    sorted[sorted.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear_quantiles() {
        // numpy.percentile([1,2,3,4,5,6,7,8,9,10], [50,90,95,99]) = 5.5, 9.1, 9.55, 9.91
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = DistStats::of(&xs);
        assert_eq!(s.count, 10);
        assert_eq!(s.mean, Some(5.5));
        assert_eq!(s.p50, Some(5.5));
        assert!((s.p90.unwrap() - 9.1).abs() < 1e-12);
        assert!((s.p95.unwrap() - 9.55).abs() < 1e-12);
        assert!((s.p99.unwrap() - 9.91).abs() < 1e-12);
        assert_eq!((s.min, s.max), (Some(1.0), Some(10.0)));
    }

    #[test]
    fn weights_count_as_repeated_samples() {
        let expanded = [1.0, 1.0, 1.0, 2.0, 5.0, 5.0];
        let mut weighted = [(5.0, 2), (1.0, 3), (2.0, 1)];
        assert_eq!(
            DistStats::of(&expanded),
            DistStats::of_weighted(&mut weighted)
        );
    }

    #[test]
    fn empty_and_single_samples() {
        assert_eq!(DistStats::of(&[]).mean, None);
        let one = DistStats::of(&[3.0]);
        assert_eq!(
            (one.p50, one.p99, one.max),
            (Some(3.0), Some(3.0), Some(3.0))
        );
    }

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, LogNormal};

    /// Log-normal latencies around 50 ms spanning several decades, and ITL-like weights.
    fn latencies(n: usize, seed: u64, weighted: bool) -> Vec<(f64, u64)> {
        let mut rng = StdRng::seed_from_u64(seed);
        let dist = LogNormal::new(-3.0, 1.5).unwrap();
        (0..n)
            .map(|_| {
                let w = if weighted {
                    rng.random_range(1..=64)
                } else {
                    1
                };
                (dist.sample(&mut rng), w)
            })
            .collect()
    }

    fn recorded(samples: &[(f64, u64)], limit: usize) -> Samples {
        let mut s = Samples::with_limit(limit);
        for &(x, w) in samples {
            s.push_weighted(x, w);
        }
        s
    }

    #[test]
    fn up_to_the_limit_samples_are_the_exact_path_bit_for_bit() {
        for weighted in [false, true] {
            let data = latencies(10_000, 7, weighted);
            let mut s = recorded(&data, data.len());
            assert!(s.is_exact());
            assert_eq!(s.stats(), DistStats::of_weighted(&mut data.clone()));
        }
    }

    #[test]
    fn past_the_limit_quantiles_stay_within_a_tenth_of_a_percent() {
        for (n, seed, weighted) in [(3_000_000, 1, false), (2_000_000, 2, true)] {
            let data = latencies(n, seed, weighted);
            let mut s = recorded(&data, 1000);
            assert!(!s.is_exact());
            let approx = s.stats();
            let exact = DistStats::of_weighted(&mut data.clone());
            assert_eq!(approx.count, exact.count);
            assert_eq!((approx.min, approx.max), (exact.min, exact.max));
            assert_eq!(
                approx.mean, exact.mean,
                "the mean is summed in the same order"
            );
            for (a, e) in [
                (approx.p50, exact.p50),
                (approx.p90, exact.p90),
                (approx.p95, exact.p95),
                (approx.p99, exact.p99),
            ] {
                let (a, e) = (a.unwrap(), e.unwrap());
                let error = ((a - e) / e).abs();
                assert!(
                    error <= super::super::histogram::RELATIVE_ERROR * (1.0 + 1e-6),
                    "weighted = {weighted}: {a} vs exact {e}: relative error {error}"
                );
                assert!(error < 1e-3);
            }
        }
    }

    #[test]
    fn past_the_limit_memory_stops_growing() {
        let mut s = recorded(&latencies(200_000, 3, false), 1000);
        let buckets = s.histogram.as_ref().unwrap().num_buckets();
        for &(x, w) in &latencies(200_000, 4, false) {
            s.push_weighted(x, w);
        }
        assert!(s.exact.capacity() == 0 && s.exact.is_empty());
        // Buckets cover the values' spread only: a second batch from the same distribution
        // adds at most a few at the tails.
        let after = s.histogram.as_ref().unwrap().num_buckets();
        assert!(after < buckets + buckets / 10, "{buckets} -> {after}");
    }
}
