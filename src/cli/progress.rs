//! The live progress display of a single run (stderr, terminals only).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inference_lab::engine::Progress;

pub struct RunProgress {
    bar: ProgressBar,
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
        RunProgress { bar }
    }

    pub fn update(&self, p: &Progress) {
        if let Some(total) = p.total {
            self.bar.set_length(total);
        }
        self.bar.set_position(p.completed);
        self.bar.set_message(format!(
            "sim {:.1}s  running {}  waiting {}  KV {:.1}%",
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
