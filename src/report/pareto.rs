//! The throughput/interactivity Pareto frontier: a point is on it when no other point is at
//! least as good on both axes and better on one. Both axes are "higher is better" here
//! (tokens/s per GPU, and tokens/s one request sees).

/// For each point, whether it is on the frontier (not dominated). Points with a non-finite
/// coordinate are never on it and never dominate.
pub fn frontier(points: &[(f64, f64)]) -> Vec<bool> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    points
        .iter()
        .map(|p| {
            finite(p)
                && !points
                    .iter()
                    .any(|q| finite(q) && q.0 >= p.0 && q.1 >= p.1 && (q.0 > p.0 || q.1 > p.1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_points_are_off() {
        // (1,5) and (5,1) and (3,3) trade off; (2,2) is below (3,3); (1,4) is below (1,5).
        let points = [(1.0, 5.0), (5.0, 1.0), (3.0, 3.0), (2.0, 2.0), (1.0, 4.0)];
        assert_eq!(frontier(&points), [true, true, true, false, false]);
    }

    #[test]
    fn ties_both_stay() {
        let points = [(2.0, 2.0), (2.0, 2.0), (1.0, 2.0)];
        assert_eq!(frontier(&points), [true, true, false]);
    }

    #[test]
    fn non_finite_points_are_ignored() {
        let points = [(f64::NAN, 9.0), (1.0, 1.0), (f64::INFINITY, 0.0)];
        assert_eq!(frontier(&points), [false, true, false]);
    }

    #[test]
    fn empty_and_single() {
        assert!(frontier(&[]).is_empty());
        assert_eq!(frontier(&[(0.0, 0.0)]), [true]);
    }
}
