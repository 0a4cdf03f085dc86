//! Student's t critical values for the summary table's confidence intervals.
//!
//! The 95% interval of a mean over n seeds is mean +- t(0.975, n - 1) x std / sqrt(n), with
//! std the sample standard deviation (n - 1 in the denominator). The t quantile is computed,
//! not tabulated: the t CDF through the regularised incomplete beta function, inverted by
//! bisection to full double precision.

/// The two-sided 95% critical value t(0.975, df). None for df = 0 (n = 1: no interval).
pub fn t_critical_95(df: u64) -> Option<f64> {
    if df == 0 {
        return None;
    }
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
    Some(0.5 * (lo + hi))
}

/// (lo, hi) of the 95% confidence interval of the mean of `n` samples with this mean and
/// sample standard deviation; None when n < 2.
pub fn ci95(mean: f64, std: f64, n: u64) -> Option<(f64, f64)> {
    let t = t_critical_95(n.checked_sub(1)?)?;
    let half = t * std / (n as f64).sqrt();
    Some((mean - half, mean + half))
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
    fn interval_of_a_hand_computed_sample() {
        // Samples 1, 2, 3, 4, 5: mean 3, sample std sqrt(2.5); t(0.975, 4) = 2.7764451052.
        let std = 2.5f64.sqrt();
        let (lo, hi) = ci95(3.0, std, 5).unwrap();
        let half = 2.776_445_105_197_8 * std / 5f64.sqrt();
        assert!((lo - (3.0 - half)).abs() < 1e-12 && (hi - (3.0 + half)).abs() < 1e-12);
        assert_eq!(ci95(3.0, 0.0, 1), None);
    }
}
