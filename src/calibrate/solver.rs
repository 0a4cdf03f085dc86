//! A small Levenberg–Marquardt least-squares solver with box bounds (forward-difference
//! Jacobian, Marquardt's diagonal scaling, steps projected onto the box), enough for a handful
//! of parameters and a few hundred residuals.

/// What the solver found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub x: Vec<f64>,
    /// Half the sum of squared residuals at `x`.
    pub cost: f64,
    pub iterations: usize,
    /// False when the iteration limit was reached before the cost settled.
    pub converged: bool,
}

/// Minimises half the sum of squares of `residuals(x)` from `x0` over the box
/// `lower <= x <= upper` (use infinities for no bound). `residuals` fills its output (always
/// the same length) and returns false where it cannot be evaluated (a non-finite value); the
/// solver then treats that point as infinitely bad. Returns None if `x0` (moved into the box)
/// cannot be evaluated.
pub fn levenberg_marquardt(
    mut residuals: impl FnMut(&[f64], &mut Vec<f64>) -> bool,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    max_iterations: usize,
) -> Option<Outcome> {
    let n = x0.len();
    assert!(
        lower.len() == n && upper.len() == n,
        "one bound per parameter"
    );
    let clamp = |v: f64, j: usize| v.max(lower[j]).min(upper[j]);
    let mut x: Vec<f64> = (0..n).map(|j| clamp(x0[j], j)).collect();
    let mut r = Vec::new();
    if !residuals(&x, &mut r) {
        return None;
    }
    let m = r.len();
    let mut cost = half_sum_sq(&r);
    let mut lambda = 1e-3;
    let mut nu = 2.0;
    let mut trial = vec![0.0; n];
    let mut r_trial = Vec::with_capacity(m);
    let mut jac = vec![0.0; m * n]; // row-major m x n
    let mut r_step = Vec::with_capacity(m);
    for iteration in 1..=max_iterations {
        // Central-difference Jacobian (one-sided at a bound): accurate enough for the
        // ill-conditioned valleys this fit has (per-step and per-sequence times trade off).
        for j in 0..n {
            let h = 1e-6 * x[j].abs().max(1.0);
            let up = (x[j] + h).min(upper[j]);
            let down = (x[j] - h).max(lower[j]);
            let mut eval = |v: f64, out: &mut Vec<f64>| {
                trial.copy_from_slice(&x);
                trial[j] = v;
                residuals(&trial, out)
            };
            let ok = if up > x[j] && down < x[j] {
                eval(up, &mut r_step) && eval(down, &mut r_trial)
            } else if up > x[j] {
                r_trial.clone_from(&r);
                eval(up, &mut r_step)
            } else {
                r_step.clone_from(&r);
                eval(down, &mut r_trial)
            };
            let (hi, lo) = (
                if up > x[j] { up } else { x[j] },
                if down < x[j] { down } else { x[j] },
            );
            if !ok || hi == lo {
                return Some(Outcome {
                    x,
                    cost,
                    iterations: iteration,
                    converged: false,
                });
            }
            for i in 0..m {
                jac[i * n + j] = (r_step[i] - r_trial[i]) / (hi - lo);
            }
        }
        // Normal equations: A = J^T J, g = J^T r.
        let mut a = vec![0.0; n * n];
        let mut g = vec![0.0; n];
        for i in 0..m {
            let row = &jac[i * n..(i + 1) * n];
            for p in 0..n {
                g[p] += row[p] * r[i];
                for q in 0..n {
                    a[p * n + q] += row[p] * row[q];
                }
            }
        }
        if cost < 1e-30 || g.iter().all(|v| v.abs() < 1e-15) {
            return Some(Outcome {
                x,
                cost,
                iterations: iteration,
                converged: true,
            });
        }
        let max_diag = (0..n).map(|p| a[p * n + p]).fold(0.0, f64::max);
        let diag: Vec<f64> = (0..n)
            .map(|p| a[p * n + p] + 1e-12 * max_diag + 1e-300)
            .collect();
        // A parameter at a bound that the gradient pushes further out stays there this
        // iteration: it leaves the system (its step is 0), so the others can move freely.
        let held: Vec<bool> = (0..n)
            .map(|p| (x[p] <= lower[p] && g[p] > 0.0) || (x[p] >= upper[p] && g[p] < 0.0))
            .collect();
        if (0..n).all(|p| held[p] || g[p].abs() < 1e-15) {
            return Some(Outcome {
                x,
                cost,
                iterations: iteration,
                converged: true,
            });
        }
        // Damped steps until one lowers the cost; the damping follows the ratio of actual to
        // predicted decrease (Nielsen's rule).
        loop {
            let mut damped = a.clone();
            let mut rhs: Vec<f64> = g.iter().map(|v| -v).collect();
            for p in 0..n {
                damped[p * n + p] += lambda * diag[p];
                if held[p] {
                    for q in 0..n {
                        damped[p * n + q] = 0.0;
                        damped[q * n + p] = 0.0;
                    }
                    damped[p * n + p] = 1.0;
                    rhs[p] = 0.0;
                }
            }
            let step = solve(&mut damped, rhs, n);
            if let Some(step) = step {
                for p in 0..n {
                    trial[p] = clamp(x[p] + step[p], p);
                }
                if residuals(&trial, &mut r_trial) {
                    let new_cost = half_sum_sq(&r_trial);
                    // Decrease the linear model predicts for the (projected) step.
                    let d: Vec<f64> = (0..n).map(|p| trial[p] - x[p]).collect();
                    let predicted: f64 = (0..n)
                        .map(|p| 0.5 * d[p] * (lambda * diag[p] * d[p] - g[p]))
                        .sum();
                    if new_cost < cost {
                        let rho = if predicted > 0.0 {
                            (cost - new_cost) / predicted
                        } else {
                            1.0
                        };
                        let decrease = cost - new_cost;
                        let moved = trial
                            .iter()
                            .zip(&x)
                            .map(|(t, v)| (t - v).abs() / v.abs().max(1.0))
                            .fold(0.0, f64::max);
                        x.copy_from_slice(&trial);
                        std::mem::swap(&mut r, &mut r_trial);
                        cost = new_cost;
                        lambda = (lambda * (1.0 / 3.0f64).max(1.0 - (2.0 * rho - 1.0).powi(3)))
                            .max(1e-12);
                        nu = 2.0;
                        if decrease <= 1e-12 * cost || moved < 1e-10 {
                            return Some(Outcome {
                                x,
                                cost,
                                iterations: iteration,
                                converged: true,
                            });
                        }
                        break;
                    }
                }
            }
            lambda *= nu;
            nu *= 2.0;
            if lambda > 1e16 {
                // No step along any damped direction lowers the cost: a minimum, as far as the
                // finite-difference gradient can tell.
                return Some(Outcome {
                    x,
                    cost,
                    iterations: iteration,
                    converged: true,
                });
            }
        }
    }
    Some(Outcome {
        x,
        cost,
        iterations: max_iterations,
        converged: false,
    })
}

fn half_sum_sq(r: &[f64]) -> f64 {
    0.5 * r.iter().map(|v| v * v).sum::<f64>()
}

/// Solves the n x n system `a x = b` by Gaussian elimination with partial pivoting; None if it
/// is singular.
fn solve(a: &mut [f64], mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-300 || !a[pivot * n + col].is_finite() {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        for i in col + 1..n {
            let f = a[i * n + col] / a[col * n + col];
            if f != 0.0 {
                for k in col..n {
                    a[i * n + k] -= f * a[col * n + k];
                }
                b[i] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[i * n + k] * x[k];
        }
        x[i] = s / a[i * n + i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_an_exponential_decay() {
        // y = 3 exp(-0.5 t) sampled exactly: the solver recovers (3, 0.5) from (1, 1).
        let ts: Vec<f64> = (0..20).map(|i| f64::from(i) * 0.3).collect();
        let ys: Vec<f64> = ts.iter().map(|t| 3.0 * (-0.5 * t).exp()).collect();
        let out = levenberg_marquardt(
            |p, r| {
                r.clear();
                r.extend(
                    ts.iter()
                        .zip(&ys)
                        .map(|(t, y)| p[0] * (-p[1] * t).exp() - y),
                );
                true
            },
            &[1.0, 1.0],
            &[f64::NEG_INFINITY; 2],
            &[f64::INFINITY; 2],
            200,
        )
        .unwrap();
        assert!(out.converged);
        assert!((out.x[0] - 3.0).abs() < 1e-6, "{:?}", out.x);
        assert!((out.x[1] - 0.5).abs() < 1e-6, "{:?}", out.x);
    }

    #[test]
    fn rosenbrock_converges_or_reports_the_limit() {
        let rosen = |p: &[f64], r: &mut Vec<f64>| {
            r.clear();
            r.push(10.0 * (p[1] - p[0] * p[0]));
            r.push(1.0 - p[0]);
            true
        };
        let free = ([f64::NEG_INFINITY; 2], [f64::INFINITY; 2]);
        let out = levenberg_marquardt(rosen, &[-1.2, 1.0], &free.0, &free.1, 500).unwrap();
        assert!(out.converged);
        assert!((out.x[0] - 1.0).abs() < 1e-5 && (out.x[1] - 1.0).abs() < 1e-5);
        let short = levenberg_marquardt(rosen, &[-1.2, 1.0], &free.0, &free.1, 1).unwrap();
        assert!(!short.converged);
        assert_eq!(short.iterations, 1);
    }

    #[test]
    fn stops_at_a_bound() {
        // Minimum of (x - 2)^2 over x <= 1 is at the bound; from below the bound x >= -5.
        let out = levenberg_marquardt(
            |p, r| {
                r.clear();
                r.push(p[0] - 2.0);
                true
            },
            &[-3.0],
            &[-5.0],
            &[1.0],
            100,
        )
        .unwrap();
        assert!(out.converged);
        assert_eq!(out.x[0], 1.0);
    }

    #[test]
    fn unevaluable_start_is_none() {
        assert!(levenberg_marquardt(|_, _| false, &[1.0], &[0.0], &[2.0], 10).is_none());
    }

    #[test]
    fn solves_a_linear_system() {
        let mut a = vec![2.0, 1.0, 1.0, 3.0];
        let x = solve(&mut a, vec![3.0, 5.0], 2).unwrap();
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
        assert!(solve(&mut [1.0, 2.0, 2.0, 4.0], vec![1.0, 2.0], 2).is_none());
    }
}
