//! The live progress display of a single run (stderr, terminals only).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inference_lab::fleet::Progress;

pub struct RunProgress {
    bar: ProgressBar,
    start: Instant,
}

impl RunProgress {
    pub fn new() -> RunProgress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} requests  {msg}",
            )
            .expect("static template"),
        );
        RunProgress {
            bar,
            start: Instant::now(),
        }
    }

    pub fn update(&self, p: &Progress) {
        if let Some(total) = p.total {
            self.bar.set_length(total);
        }
        self.bar.set_position(p.completed);
        let eta = p
            .total
            .and_then(|total| eta(self.start.elapsed(), p.completed, total))
            .map_or(String::new(), |d| format!("ETA {}  ", format_duration(d)));
        self.bar.set_message(format!(
            "{eta}sim {:.1}s  running {}  waiting {}  KV {:.1}%",
            p.now,
            p.running,
            p.waiting,
            p.kv_cache_util * 100.0
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Time left if the remaining requests complete at the rate the done ones did; None before
/// the first completion (no rate yet) or without a known total.
fn eta(elapsed: Duration, done: u64, total: u64) -> Option<Duration> {
    if done == 0 || done > total {
        return None;
    }
    Some(elapsed.mul_f64((total - done) as f64 / done as f64))
}

/// `42s`, `3m07s`, `2h05m`.
fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_extrapolates_the_completion_rate() {
        let ten = Duration::from_secs(10);
        assert_eq!(eta(ten, 25, 100), Some(Duration::from_secs(30)));
        assert_eq!(eta(ten, 100, 100), Some(Duration::ZERO));
        assert_eq!(eta(ten, 0, 100), None);
        assert_eq!(eta(ten, 5, 4), None);
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(format_duration(Duration::from_secs(42)), "42s");
        assert_eq!(format_duration(Duration::from_secs(187)), "3m07s");
        assert_eq!(format_duration(Duration::from_secs(7500)), "2h05m");
    }
}
