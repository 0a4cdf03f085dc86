//! Open-loop inter-arrival gaps: at the configured rate, or at rate 1 in operational time
//! when a `rate_schedule` maps them onto a time-varying rate (see schedule.rs).

use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::{Distribution, Exp, Gamma, Weibull};

use crate::config::ArrivalPattern;

/// The gaps of one open-loop pattern with mean `1 / rate`.
#[derive(Debug, Clone)]
pub(super) enum Gaps {
    Exp(Exp<f64>),
    /// Every gap the same.
    Even(f64),
    /// Uniform on [0, max].
    UniformRandom(f64),
    Gamma(Gamma<f64>),
    Weibull(Weibull<f64>),
}

impl Gaps {
    /// Gaps of mean `1 / rate` for a pattern; `cv` for gamma and weibull. None for the
    /// patterns without gaps (closed_loop, batched) and for burst and fixed_rate, whose
    /// instants the workload computes itself.
    pub fn new(pattern: ArrivalPattern, rate: f64, cv: f64) -> Option<Gaps> {
        let mean = 1.0 / rate;
        Some(match pattern {
            ArrivalPattern::Poisson => Gaps::Exp(Exp::new(rate).ok()?),
            ArrivalPattern::Uniform => Gaps::Even(mean),
            ArrivalPattern::UniformRandom => Gaps::UniformRandom(2.0 / rate),
            // Shape 1/cv^2 and scale mean x cv^2: mean `mean`, standard deviation cv x mean.
            ArrivalPattern::Gamma => Gaps::Gamma(Gamma::new(1.0 / (cv * cv), mean * cv * cv).ok()?),
            ArrivalPattern::Weibull => {
                let shape = weibull_shape(cv);
                let scale = mean / libm::tgamma(1.0 + 1.0 / shape);
                Gaps::Weibull(Weibull::new(scale, shape).ok()?)
            }
            _ => return None,
        })
    }

    pub fn sample(&self, rng: &mut StdRng) -> f64 {
        match self {
            Gaps::Exp(d) => d.sample(rng),
            Gaps::Even(g) => *g,
            Gaps::UniformRandom(max) => rng.random_range(0.0..=*max),
            Gaps::Gamma(d) => d.sample(rng),
            Gaps::Weibull(d) => d.sample(rng),
        }
    }
}

/// The coefficient of variation of a Weibull distribution of shape k:
/// sqrt(Γ(1 + 2/k) / Γ(1 + 1/k)^2 - 1) (independent of the scale).
pub fn weibull_cv(k: f64) -> f64 {
    let ratio = (libm::lgamma(1.0 + 2.0 / k) - 2.0 * libm::lgamma(1.0 + 1.0 / k)).exp();
    (ratio - 1.0).max(0.0).sqrt()
}

/// The Weibull shape whose coefficient of variation is `cv` (CV falls as the shape grows; 1
/// at shape 1, the exponential), by bisection on log k in [0.05, 1000].
pub fn weibull_shape(cv: f64) -> f64 {
    let (mut lo, mut hi) = (0.05f64.ln(), 1000f64.ln());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if weibull_cv(mid.exp()) > cv {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn moments(gaps: &Gaps, n: usize) -> (f64, f64) {
        let mut rng = StdRng::seed_from_u64(7);
        let xs: Vec<f64> = (0..n).map(|_| gaps.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn weibull_shape_inverts_its_cv() {
        assert!(
            (weibull_shape(1.0) - 1.0).abs() < 1e-9,
            "CV 1 is the exponential"
        );
        for cv in [0.2, 0.5, 2.0, 4.0] {
            assert!((weibull_cv(weibull_shape(cv)) - cv).abs() < 1e-9, "{cv}");
        }
        // Shape 2 (Rayleigh): CV = sqrt(4 / pi - 1) = 0.5227.
        assert!((weibull_cv(2.0) - (4.0 / std::f64::consts::PI - 1.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn gaps_have_the_asked_mean_and_burstiness() {
        // 200,000 gaps at 4 requests/s: the mean within 1%, the CV within 3% (fixed seed).
        for (pattern, cv) in [
            (ArrivalPattern::Poisson, 1.0),
            (ArrivalPattern::Gamma, 1.0),
            (ArrivalPattern::Gamma, 3.0),
            (ArrivalPattern::Gamma, 0.5),
            (ArrivalPattern::Weibull, 2.0),
            (ArrivalPattern::Weibull, 0.5),
        ] {
            let (mean, got_cv) = moments(&Gaps::new(pattern, 4.0, cv).unwrap(), 200_000);
            assert!(
                (mean - 0.25).abs() < 0.0025,
                "{pattern:?} {cv}: mean {mean}"
            );
            assert!(
                (got_cv - cv).abs() < 0.03 * cv,
                "{pattern:?} {cv}: cv {got_cv}"
            );
        }
        let (mean, cv) = moments(&Gaps::new(ArrivalPattern::Uniform, 4.0, 0.0).unwrap(), 10);
        assert_eq!((mean, cv), (0.25, 0.0), "uniform: evenly spaced");
    }
}
