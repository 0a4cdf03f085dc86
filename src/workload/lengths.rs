//! Token-count sampling, and the clipping rule that makes every request fit the model.

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};

use crate::config::LengthDist;

/// A ready-to-sample length distribution.
#[derive(Debug, Clone)]
pub enum LengthSampler {
    Fixed(u32),
    Uniform(u32, u32),
    Normal(Normal<f64>),
    LogNormal(LogNormal<f64>),
}

impl LengthSampler {
    /// Built from a validated [`LengthDist`] (std_dev >= 0 and finite, so construction holds).
    pub fn new(dist: &LengthDist) -> LengthSampler {
        match *dist {
            LengthDist::Fixed { value } => LengthSampler::Fixed(value),
            LengthDist::Uniform { min, max } => LengthSampler::Uniform(min, max),
            LengthDist::Normal { mean, std_dev } => LengthSampler::Normal(
                Normal::new(mean, std_dev).expect("validated: std_dev >= 0 and finite"),
            ),
            LengthDist::Lognormal { mean, std_dev } => LengthSampler::LogNormal(
                LogNormal::new(mean, std_dev).expect("validated: std_dev >= 0 and finite"),
            ),
        }
    }

    /// One sample, rounded to the nearest integer and clipped to at least 1.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> u32 {
        let raw = match *self {
            LengthSampler::Fixed(v) => return v.max(1),
            LengthSampler::Uniform(lo, hi) => return rng.random_range(lo..=hi).max(1),
            LengthSampler::Normal(d) => d.sample(rng),
            LengthSampler::LogNormal(d) => d.sample(rng),
        };
        // `as` saturates: huge samples become u32::MAX and are clipped to the model later.
        (raw.round() as u32).max(1)
    }
}

/// The clipping rule: the prompt keeps at least one token and leaves room for one output
/// token (1 <= prompt <= max_seq_len - 1); the output then fills at most what is left
/// (1 <= output <= max_seq_len - prompt). So prompt + output <= max_seq_len always.
pub fn clip_to_model(prompt: u32, output: u32, max_seq_len: u32) -> (u32, u32) {
    let prompt = prompt.clamp(1, max_seq_len - 1);
    let output = output.clamp(1, max_seq_len - prompt);
    (prompt, output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn clipping_keeps_requests_inside_the_model() {
        assert_eq!(clip_to_model(0, 0, 100), (1, 1));
        assert_eq!(clip_to_model(500, 10, 100), (99, 1));
        assert_eq!(clip_to_model(60, 60, 100), (60, 40));
        assert_eq!(clip_to_model(10, 20, 100), (10, 20));
    }

    #[test]
    fn samples_are_at_least_one_and_inside_uniform_bounds() {
        let mut rng = StdRng::seed_from_u64(1);
        let normal = LengthSampler::new(&LengthDist::Normal {
            mean: 0.0,
            std_dev: 5.0,
        });
        let uniform = LengthSampler::new(&LengthDist::Uniform { min: 3, max: 7 });
        for _ in 0..1000 {
            assert!(normal.sample(&mut rng) >= 1);
            let u = uniform.sample(&mut rng);
            assert!((3..=7).contains(&u));
        }
    }

    #[test]
    fn lognormal_median_follows_the_log_mean() {
        let mut rng = StdRng::seed_from_u64(7);
        let d = LengthSampler::new(&LengthDist::Lognormal {
            mean: 1000f64.ln(),
            std_dev: 0.7,
        });
        let mut xs: Vec<u32> = (0..20_001).map(|_| d.sample(&mut rng)).collect();
        xs.sort_unstable();
        let median = f64::from(xs[10_000]);
        assert!((median - 1000.0).abs() < 40.0, "median {median}");
    }
}
