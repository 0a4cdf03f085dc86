//! Did an open-loop run keep up with its arrivals? ([`LoadCheck`]), measured on a
//! fixed-size timeline ([`LoadTimeline`]) so that memory does not grow with the run.

/// Bins of the timeline: its memory is fixed (3 x 16,384 f64, 384 KiB) whatever the run's
/// length, and a window of the arrival span is measured to a small fraction of a bin at each
/// edge.
const BINS: usize = 1 << 14;

/// Arrivals, TTFT sums (by arrival time) and completions (by completion time) in equal-width
/// time bins from t = 0. When a time falls past the last bin, the width doubles and pairs of
/// bins merge, so the bins always cover the run so far.
#[derive(Debug, Clone)]
pub struct LoadTimeline {
    width: f64,
    arrivals: Vec<f64>,
    ttft: Vec<f64>,
    completions: Vec<f64>,
    first: f64,
    last: f64,
}

impl Default for LoadTimeline {
    fn default() -> LoadTimeline {
        LoadTimeline {
            width: 1e-6,
            arrivals: vec![0.0; BINS],
            ttft: vec![0.0; BINS],
            completions: vec![0.0; BINS],
            first: f64::INFINITY,
            last: f64::NEG_INFINITY,
        }
    }
}

impl LoadTimeline {
    /// A completed request: when it arrived, its first token, its completion (seconds).
    pub fn record(&mut self, arrival: f64, first_token: f64, completion: f64) {
        if !(arrival.is_finite() && completion.is_finite() && arrival >= 0.0) {
            return;
        }
        self.cover(arrival.max(completion));
        let a = self.bin(arrival);
        self.arrivals[a] += 1.0;
        self.ttft[a] += first_token - arrival;
        let c = self.bin(completion);
        self.completions[c] += 1.0;
        self.first = self.first.min(arrival);
        self.last = self.last.max(arrival);
    }

    fn bin(&self, t: f64) -> usize {
        ((t / self.width) as usize).min(BINS - 1)
    }

    /// Widens the bins until `t` falls inside them.
    fn cover(&mut self, t: f64) {
        while t >= self.width * BINS as f64 {
            for v in [&mut self.arrivals, &mut self.ttft, &mut self.completions] {
                for i in 0..BINS / 2 {
                    v[i] = v[2 * i] + v[2 * i + 1];
                }
                v[BINS / 2..].fill(0.0);
            }
            self.width *= 2.0;
        }
    }

    /// The sum of `v` over times in (lo, hi], each bin's content spread evenly over its width.
    fn sum(&self, v: &[f64], lo: f64, hi: f64) -> f64 {
        let w = self.width;
        v.iter()
            .enumerate()
            .filter(|(_, x)| **x != 0.0)
            .map(|(i, x)| {
                let (b0, b1) = (i as f64 * w, (i + 1) as f64 * w);
                x * ((hi.min(b1) - lo.max(b0)).max(0.0) / w)
            })
            .sum()
    }
}

/// Whether an open-loop run kept up with its arrivals.
///
/// A finite run always ends with a drain tail (the last arrivals complete after the last
/// arrival), so comparing all requests with the makespan would blame every short run. Instead
/// both rates are measured over the second half of the arrival span, (first + last) / 2 to the
/// last arrival: by then an engine that keeps up completes requests as fast as they arrive,
/// whatever their latency, while an overloaded one completes them at its capacity and the
/// rest queue. A run counts as overloaded when both symptoms of a growing queue show:
/// - the served rate is below 90% of the offered rate, and
/// - requests arriving in that half waited on average more than twice as long for their first
///   token as those of the first quarter of the span (a queue that grows; a run whose long
///   requests merely had no time to finish keeps a flat TTFT),
///
/// with at least 20 arrivals in the window, fewer being too few to tell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadCheck {
    /// Arrivals per second in the window.
    pub offered_per_s: f64,
    /// Completions per second in the window.
    pub served_per_s: f64,
    /// Mean TTFT of the window's arrivals over that of the first quarter's.
    pub ttft_growth: f64,
    /// Arrivals in the window.
    pub arrivals: f64,
}

impl LoadCheck {
    pub const SERVED_FRACTION: f64 = 0.9;
    pub const TTFT_GROWTH: f64 = 2.0;
    pub const MIN_ARRIVALS: f64 = 20.0;

    /// The check over a run's timeline; None when the arrivals span no time (all at once) or
    /// there are none.
    pub fn of(t: &LoadTimeline) -> Option<LoadCheck> {
        let (first, last) = (t.first, t.last);
        let half = (last - first) / 2.0;
        if half <= 0.0 || !half.is_finite() {
            return None;
        }
        // Nothing arrives after `last`, so the arrival sums may close the window at infinity
        // (the bin holding `last` counts whole); completions continue, so theirs stop there.
        let window = (last - half, f64::INFINITY);
        let early = (f64::NEG_INFINITY, first + half / 2.0);
        let arrivals = t.sum(&t.arrivals, window.0, window.1);
        let served = t.sum(&t.completions, window.0, last);
        let mean_ttft = |(lo, hi): (f64, f64)| {
            let n = t.sum(&t.arrivals, lo, hi);
            (n > 0.0).then(|| t.sum(&t.ttft, lo, hi) / n)
        };
        let ttft_growth = match (mean_ttft(early), mean_ttft(window)) {
            (Some(e), Some(l)) if e > 0.0 => l / e,
            _ => 1.0,
        };
        Some(LoadCheck {
            offered_per_s: arrivals / half,
            served_per_s: served / half,
            ttft_growth,
            arrivals,
        })
    }

    /// The verdict is overloaded (see [`LoadCheck::verdict`], where the rule lives).
    pub fn overloaded(&self) -> bool {
        self.verdict() == Some(super::LoadVerdict::Overloaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests arriving every `gap` s, each served `service` s after its arrival plus the
    /// queue ahead of it when the engine finishes one request every `capacity_gap` s.
    fn timeline(n: usize, gap: f64, service: f64, capacity_gap: f64) -> LoadTimeline {
        let mut t = LoadTimeline::default();
        let mut free_at: f64 = 0.0;
        for i in 0..n {
            let arrival = i as f64 * gap;
            let start = free_at.max(arrival);
            free_at = start + capacity_gap;
            t.record(arrival, start + service / 10.0, start + service);
        }
        t
    }

    #[test]
    fn a_queue_that_grows_is_overloaded() {
        // 10 arrivals/s, capacity 5/s.
        let check = LoadCheck::of(&timeline(200, 0.1, 0.05, 0.2)).expect("a span");
        assert!(check.overloaded(), "{check:?}");
        assert!((check.offered_per_s - 10.0).abs() < 0.2, "{check:?}");
        assert!((check.served_per_s - 5.0).abs() < 0.2, "{check:?}");
    }

    #[test]
    fn long_requests_with_room_to_spare_are_not_overloaded() {
        // 10 arrivals/s, capacity 20/s, but each request takes 5 s (longer than the window),
        // so no request of the window completes in it: only the TTFT trend tells.
        let check = LoadCheck::of(&timeline(40, 0.1, 5.0, 0.05)).expect("a span");
        assert!(check.served_per_s < 0.5 * check.offered_per_s, "{check:?}");
        assert!(!check.overloaded(), "{check:?}");
        // And with short requests the rates agree.
        let check = LoadCheck::of(&timeline(400, 0.1, 0.05, 0.05)).expect("a span");
        assert!(!check.overloaded(), "{check:?}");
        assert!(
            (check.served_per_s / check.offered_per_s - 1.0).abs() < 0.05,
            "{check:?}"
        );
    }

    #[test]
    fn simultaneous_arrivals_have_no_rate() {
        let mut t = LoadTimeline::default();
        t.record(1.0, 2.0, 3.0);
        t.record(1.0, 2.0, 4.0);
        assert_eq!(LoadCheck::of(&t), None);
        assert_eq!(LoadCheck::of(&LoadTimeline::default()), None);
    }

    #[test]
    fn too_few_arrivals_are_never_judged() {
        let check = LoadCheck::of(&timeline(10, 0.1, 0.05, 0.2)).expect("a span");
        assert!(check.arrivals < LoadCheck::MIN_ARRIVALS);
        assert!(!check.overloaded(), "{check:?}");
    }

    #[test]
    fn the_timeline_keeps_its_size_and_counts_over_a_long_run() {
        // A million requests over a day: the bins widen, nothing is lost, memory stays put.
        let t = timeline(1_000_000, 0.0864, 0.05, 0.05);
        assert_eq!(t.arrivals.len(), BINS);
        let total: f64 = t.arrivals.iter().sum();
        assert_eq!(total, 1e6);
        assert_eq!(t.completions.iter().sum::<f64>(), 1e6);
        let check = LoadCheck::of(&t).expect("a span");
        assert!(
            (check.offered_per_s * 0.0864 - 1.0).abs() < 1e-3,
            "{check:?}"
        );
        assert!(!check.overloaded(), "{check:?}");
    }
}
