//! The three-way load verdict of an open-loop run, built on [`LoadCheck`]'s window.

use super::load::LoadCheck;

/// Whether an open-loop run kept up with its arrivals, from the rates and TTFT trend of the
/// second half of the arrival span (see [`LoadCheck`]):
/// - `Overloaded`: served below 90% of offered *and* TTFT more than doubled (the queue grew
///   through the second half of the arrivals; latencies grow with the run's length);
/// - `Backlogged`: served below 90% of offered but TTFT flat (requests were still in flight or
///   queued when arrivals stopped, and drained afterwards: the run ended before a steady state,
///   but the queue was not growing);
/// - `Stable`: served at least 90% of offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadVerdict {
    Stable,
    Backlogged,
    Overloaded,
}

impl LoadVerdict {
    pub fn name(self) -> &'static str {
        match self {
            LoadVerdict::Stable => "stable",
            LoadVerdict::Backlogged => "backlogged",
            LoadVerdict::Overloaded => "overloaded",
        }
    }
}

impl LoadCheck {
    /// The verdict; None with fewer than [`LoadCheck::MIN_ARRIVALS`] arrivals in the window
    /// (too few to tell).
    pub fn verdict(&self) -> Option<LoadVerdict> {
        if self.arrivals < Self::MIN_ARRIVALS {
            return None;
        }
        Some(
            if self.served_per_s >= Self::SERVED_FRACTION * self.offered_per_s {
                LoadVerdict::Stable
            } else if self.ttft_growth > Self::TTFT_GROWTH {
                LoadVerdict::Overloaded
            } else {
                LoadVerdict::Backlogged
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(offered: f64, served: f64, growth: f64, arrivals: f64) -> LoadCheck {
        LoadCheck {
            offered_per_s: offered,
            served_per_s: served,
            ttft_growth: growth,
            arrivals,
        }
    }

    #[test]
    fn each_verdict_and_the_flag_agree() {
        let cases = [
            (check(10.0, 9.0, 5.0, 20.0), Some(LoadVerdict::Stable)),
            (check(10.0, 8.9, 2.0, 20.0), Some(LoadVerdict::Backlogged)),
            (check(10.0, 8.9, 2.1, 20.0), Some(LoadVerdict::Overloaded)),
            (check(10.0, 1.0, 9.0, 19.0), None),
        ];
        for (c, want) in cases {
            assert_eq!(c.verdict(), want, "{c:?}");
            assert_eq!(
                c.overloaded(),
                want == Some(LoadVerdict::Overloaded),
                "{c:?}"
            );
        }
    }
}
