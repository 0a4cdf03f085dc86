//! Student's t: critical values for the summary table's confidence intervals, and the paired
//! t-test of the comparisons table.
//!
//! The 95% interval of a mean over n seeds is mean +- t(0.975, n - 1) x std / sqrt(n), with
//! std the sample standard deviation (n - 1 in the denominator). The t quantile is computed,
//! not tabulated: the t CDF through the regularised incomplete beta function, inverted by
//! bisection to full double precision.

/// The two-sided 95% critical value t(0.975, df). None for df = 0 (n = 1: no interval).
///
/// Each value is computed once per process and remembered: a sweep asks for the same few
/// degrees of freedom (seeds - 1) for every point and metric, and each inversion costs
/// about sixty evaluations of the incomplete beta function.
pub fn t_critical_95(df: u64) -> Option<f64> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<u64, f64>>> = OnceLock::new();
    if df == 0 {
        return None;
    }
    let known = KNOWN.get_or_init(Default::default);
    if let Some(&t) = known.lock().expect("not poisoned").get(&df) {
        return Some(t);
    }
    let t = invert_t_cdf_975(df);
    known.lock().expect("not poisoned").insert(df, t);
    Some(t)
}

/// t(0.975, df) by bisection on the t CDF, to full double precision.
fn invert_t_cdf_975(df: u64) -> f64 {
    let nu = df as f64;
    // P(T <= t) for t >= 0 is 1 - I_{nu / (nu + t^2)}(nu / 2, 1 / 2) / 2.
    let upper_tail = |t: f64| 0.5 * incomplete_beta(nu / (nu + t * t), nu / 2.0, 0.5);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while upper_tail(hi) > 0.025 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if upper_tail(mid) > 0.025 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= f64::EPSILON * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// (lo, hi) of the 95% confidence interval of the mean of `n` samples with this mean and
/// sample standard deviation; None when n < 2.
pub fn ci95(mean: f64, std: f64, n: u64) -> Option<(f64, f64)> {
    let t = t_critical_95(n.checked_sub(1)?)?;
    let half = t * std / (n as f64).sqrt();
    Some((mean - half, mean + half))
}

/// The two-sided p-value of a t statistic with `df` degrees of freedom: P(|T| >= |t|).
pub fn t_two_sided_p(t: f64, df: u64) -> f64 {
    let nu = df as f64;
    // P(|T| >= t) = I_{nu / (nu + t^2)}(nu / 2, 1 / 2).
    incomplete_beta(nu / (nu + t * t), nu / 2.0, 0.5).clamp(0.0, 1.0)
}

/// What the tables say about a sample: its size, mean, sample standard deviation (n - 1),
/// Student-t 95% interval of the mean, minimum and maximum. The spread and the interval are
/// None below two values (one sample says nothing about spread), everything is None when
/// there are none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Described {
    pub n: u64,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Describes `values` (two passes: the mean, then the squared deviations from it).
pub fn describe(values: &[f64]) -> Described {
    let n = values.len() as u64;
    if n == 0 {
        return Described::default();
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let std = (n > 1).then(|| {
        let ss: f64 = values.iter().map(|x| (x - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    Described {
        n,
        mean: Some(mean),
        std,
        ci: std.and_then(|s| ci95(mean, s, n)),
        min: values.iter().copied().reduce(f64::min),
        max: values.iter().copied().reduce(f64::max),
    }
}

/// A paired comparison: the differences x_i - baseline_i over the seeds both runs share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    pub n: u64,
    pub diff_mean: f64,
    /// The Student-t 95% interval of the mean difference (None with fewer than 2 pairs).
    pub ci: Option<(f64, f64)>,
    /// Two-sided paired-t p-value for "the mean difference is 0" (None with fewer than 2
    /// pairs). When every difference is the same, the statistic is infinite (p = 0) unless
    /// they are all 0 (p = 1).
    pub p_value: Option<f64>,
}

/// The paired t-test of `diffs` (None when empty).
pub fn paired(diffs: &[f64]) -> Option<Paired> {
    let n = diffs.len() as u64;
    if n == 0 {
        return None;
    }
    let mean = diffs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(Paired {
            n,
            diff_mean: mean,
            ci: None,
            p_value: None,
        });
    }
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let std = var.sqrt();
    let p_value = if std > 0.0 {
        t_two_sided_p(mean / (std / (n as f64).sqrt()), n - 1)
    } else if mean == 0.0 {
        1.0
    } else {
        0.0
    };
    Some(Paired {
        n,
        diff_mean: mean,
        ci: ci95(mean, std, n),
        p_value: Some(p_value),
    })
}

/// Regularised incomplete beta I_x(a, b), by the continued fraction (modified Lentz).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..10_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        // Even step.
        let aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        // Odd step.
        let aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// ln Gamma(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEF[0];
    for (i, &c) in COEF.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_t_quantiles() {
        // qt(0.975, df) in R.
        for (df, expected) in [
            (1, 12.706_204_736_174_7),
            (2, 4.302_652_729_749_46),
            (4, 2.776_445_105_197_8),
            (9, 2.262_157_162_798_2),
            (19, 2.093_024_054_408_26),
            (29, 2.045_229_642_132_7),
            (100, 1.983_971_518_523_55),
            (1_000_000, 1.959_966_357),
        ] {
            let t = t_critical_95(df).unwrap();
            assert!(
                (t - expected).abs() < 1e-9 * expected,
                "df {df}: {t} vs {expected}"
            );
        }
        assert_eq!(t_critical_95(0), None);
    }

    #[test]
    fn paired_t_matches_scipy() {
        // scipy.stats.ttest_rel(a, b) and the t interval of a - b, for
        // a = [10.5, 12.1, 9.8, 11.4, 10.9], b = [10.1, 11.0, 9.9, 10.2, 10.0]:
        // differences 0.4, 1.1, -0.1, 1.2, 0.9.
        let d = [0.4, 1.1, -0.1, 1.2, 0.9];
        let p = paired(&d).unwrap();
        assert_eq!(p.n, 5);
        assert!((p.diff_mean - 0.7).abs() < 1e-12);
        let expected_p = 0.044_929_225_753_676_41;
        assert!(
            (p.p_value.unwrap() - expected_p).abs() < 1e-9,
            "{:?}",
            p.p_value
        );
        let (lo, hi) = p.ci.unwrap();
        assert!((lo - 0.025_603_827_184_324_857).abs() < 1e-9, "{lo}");
        assert!((hi - 1.374_396_172_815_676).abs() < 1e-9, "{hi}");
    }

    #[test]
    fn paired_t_edge_cases() {
        assert_eq!(paired(&[]), None);
        let one = paired(&[2.0]).unwrap();
        assert_eq!((one.n, one.ci, one.p_value), (1, None, None));
        assert_eq!(paired(&[0.0, 0.0, 0.0]).unwrap().p_value, Some(1.0));
        let same = paired(&[3.0, 3.0]).unwrap();
        assert_eq!((same.p_value, same.ci), (Some(0.0), Some((3.0, 3.0))));
        // Symmetric in sign; t = 0 gives p = 1.
        assert_eq!(paired(&[-1.0, 1.0]).unwrap().p_value, Some(1.0));
        assert_eq!(
            paired(&[0.4, 1.1, -0.1]).unwrap().p_value,
            paired(&[-0.4, -1.1, 0.1]).unwrap().p_value
        );
    }

    #[test]
    fn interval_of_a_hand_computed_sample() {
        // Samples 1, 2, 3, 4, 5: mean 3, sample std sqrt(2.5); t(0.975, 4) = 2.7764451052.
        let std = 2.5f64.sqrt();
        let (lo, hi) = ci95(3.0, std, 5).unwrap();
        let half = 2.776_445_105_197_8 * std / 5f64.sqrt();
        assert!((lo - (3.0 - half)).abs() < 1e-12 && (hi - (3.0 + half)).abs() < 1e-12);
        assert_eq!(ci95(3.0, 0.0, 1), None);
    }
}
