//! Exact summary statistics of (possibly weighted) samples.
//!
//! Quantiles use linear interpolation between the two closest ranks (numpy's default,
//! Hyndman & Fan type 7): for n samples sorted ascending, the q-quantile sits at rank
//! h = q (n - 1) and is x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). A sample of
//! weight w counts as w equal samples, so weighting changes nothing but memory.

use serde::Serialize;

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
        let q = |p: f64| Some(quantile_sorted(&samples, count, p));
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

/// The type-7 quantile of sorted weighted samples with total weight `count`.
fn quantile_sorted(sorted: &[(f64, u64)], count: u64, p: f64) -> f64 {
    let h = p * (count - 1) as f64;
    let lo = h.floor() as u64;
    let frac = h - lo as f64;
    let x_lo = value_at_rank(sorted, lo);
    if frac == 0.0 {
        return x_lo;
    }
    let x_hi = value_at_rank(sorted, lo + 1);
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
}
