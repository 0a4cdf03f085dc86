//! The runs of the web interface: a fixed pool of workers behind a bounded queue shared by
//! every page, one run per page at a time, and each run's outbox of events for its page.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};

use inference_lab::Config;

use super::form::Form;
use super::http::Refusal;

/// Finished runs kept for a page that has not read their result yet (the oldest go first).
const KEEP_FINISHED: usize = 64;

/// What a worker needs to run one config.
pub struct Job {
    pub config: Config,
    pub toml: String,
    /// Simulated seconds per wall-clock second; `None`: as fast as the machine goes.
    pub speed: Option<f64>,
    /// The time series' interval, simulated seconds.
    pub interval: f64,
}

/// One run: its job until a worker takes it, its stop flag, and its events.
pub struct Run {
    pub id: String,
    page: String,
    job: Mutex<Option<Job>>,
    cancel: AtomicBool,
    outbox: Mutex<Outbox>,
    ready: Condvar,
}

#[derive(Default)]
struct Outbox {
    events: VecDeque<(&'static str, String)>,
    /// The latest progress not yet read (a slow reader sees the newest, not a backlog).
    progress: Option<String>,
    finished: bool,
    watched: bool,
}

impl Run {
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().expect("no panic holds an outbox")
    }

    pub fn emit(&self, name: &'static str, data: &Value) {
        let mut outbox = self.outbox();
        if !outbox.finished {
            outbox.events.push_back((name, data.to_string()));
            self.ready.notify_all();
        }
    }

    pub fn emit_progress(&self, data: &Value) {
        let mut outbox = self.outbox();
        if !outbox.finished {
            outbox.progress = Some(data.to_string());
            self.ready.notify_all();
        }
    }

    /// The last event: `result`, `error` or `cancelled`.
    pub fn finish(&self, name: &'static str, data: &Value) {
        let mut outbox = self.outbox();
        if !outbox.finished {
            if let Some(progress) = outbox.progress.take() {
                outbox.events.push_back(("progress", progress));
            }
            outbox.events.push_back((name, data.to_string()));
            outbox.finished = true;
            self.ready.notify_all();
        }
    }

    pub fn is_finished(&self) -> bool {
        self.outbox().finished
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Claims the event stream; only the first caller gets it.
    pub fn watch(&self) -> bool {
        !std::mem::replace(&mut self.outbox().watched, true)
    }

    /// The events since the last call, waiting up to `timeout` for one; and whether the run
    /// has finished (its last event among them).
    pub fn next_events(&self, timeout: Duration) -> (Vec<(&'static str, String)>, bool) {
        let outbox = self.outbox();
        let (mut outbox, _) = self
            .ready
            .wait_timeout_while(outbox, timeout, |o| {
                o.events.is_empty() && o.progress.is_none()
            })
            .expect("no panic holds an outbox");
        let mut events: Vec<_> = outbox.events.drain(..).collect();
        if let Some(progress) = outbox.progress.take() {
            events.push(("progress", progress));
        }
        (events, outbox.finished)
    }

    pub fn take_job(&self) -> Option<Job> {
        self.job.lock().expect("no panic holds a job").take()
    }
}

/// The queue and its workers.
#[derive(Clone)]
pub struct Runs(Arc<Shared>);

pub struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    workers: usize,
    queue_limit: usize,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Arc<Run>>,
    busy: usize,
    /// Every run by id, the oldest first.
    all: VecDeque<Arc<Run>>,
    next: u64,
    shutdown: bool,
}

impl Runs {
    /// `workers` threads running at most that many simulations at once; at most
    /// `queue_limit` more may wait.
    pub fn start(workers: usize, queue_limit: usize) -> Runs {
        let runs = Runs(Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            workers,
            queue_limit,
        }));
        for _ in 0..workers {
            let runs = runs.clone();
            std::thread::spawn(move || runs.work());
        }
        runs
    }

    pub fn queue_limit(&self) -> usize {
        self.0.queue_limit
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().expect("no panic holds the queue")
    }

    pub fn find(&self, id: &str) -> Option<Arc<Run>> {
        self.state().all.iter().find(|r| r.id == id).cloned()
    }

    /// Asks a run to stop: a waiting one leaves the queue at once, a running one stops at its
    /// next step. False when there is no such run.
    pub fn stop(&self, id: &str) -> bool {
        let mut state = self.state();
        let Some(run) = state.all.iter().find(|r| r.id == id).cloned() else {
            return false;
        };
        run.cancel();
        if let Some(at) = state.waiting.iter().position(|r| r.id == id) {
            state.waiting.remove(at);
            run.finish("cancelled", &json!({ "now": 0.0, "completed": 0 }));
            announce_positions(&state);
        }
        true
    }

    /// Stops everything: no more runs start, and running ones stop at their next step.
    pub fn shutdown(&self) {
        let mut state = self.state();
        state.shutdown = true;
        for run in &state.all {
            run.cancel();
        }
        state.waiting.clear();
        self.0.wake.notify_all();
    }

    /// Queues a run for `page`; returns its id and how many runs wait before it.
    fn queue(&self, page: &str, job: Job) -> Result<(String, usize), Refusal> {
        let mut state = self.state();
        if state.shutdown {
            return Err(Refusal::new(503, "the server is stopping"));
        }
        if let Some(run) = state
            .all
            .iter()
            .find(|r| r.page == page && !r.is_finished() && !r.cancelled())
        {
            return Err(Refusal::new(
                409,
                format!("this page already has a run ({}): stop it first", run.id),
            ));
        }
        if state.busy + state.waiting.len() >= self.0.workers + self.0.queue_limit {
            return Err(Refusal::new(
                503,
                format!(
                    "the server is busy: {} runs are running and {} waiting (the most it \
                     queues); try again when one finishes",
                    state.busy,
                    state.waiting.len()
                ),
            ));
        }
        state.next += 1;
        let id = format!("{}-{:08x}", state.next, rand::random::<u32>());
        let run = Arc::new(Run {
            id: id.clone(),
            page: page.to_string(),
            job: Mutex::new(Some(job)),
            cancel: AtomicBool::new(false),
            outbox: Mutex::new(Outbox::default()),
            ready: Condvar::new(),
        });
        let position = state.waiting.len();
        run.emit("queued", &json!({ "position": position }));
        state.waiting.push_back(Arc::clone(&run));
        state.all.push_back(run);
        evict_finished(&mut state);
        self.0.wake.notify_one();
        Ok((id, position))
    }

    fn work(&self) {
        loop {
            let run = {
                let mut state = self.state();
                loop {
                    if state.shutdown {
                        return;
                    }
                    if let Some(run) = state.waiting.pop_front() {
                        state.busy += 1;
                        announce_positions(&state);
                        break run;
                    }
                    state = self.0.wake.wait(state).expect("no panic holds the queue");
                }
            };
            super::job::execute(&run);
            self.state().busy -= 1;
        }
    }
}

/// Tells each waiting run how many wait before it.
fn announce_positions(state: &State) {
    for (position, run) in state.waiting.iter().enumerate() {
        run.emit("queued", &json!({ "position": position }));
    }
}

/// Forgets the oldest finished runs past [`KEEP_FINISHED`].
fn evict_finished(state: &mut State) {
    let finished = state.all.iter().filter(|r| r.is_finished()).count();
    let mut excess = finished.saturating_sub(KEEP_FINISHED);
    state.all.retain(|r| {
        if excess > 0 && r.is_finished() {
            excess -= 1;
            false
        } else {
            true
        }
    });
}

/// `POST /api/runs` `{page, base, edits, speed, interval}`.
pub fn submit(runs: &Runs, body: &Value) -> Result<Value, Refusal> {
    let page = body["page"].as_str().unwrap_or("");
    if page.is_empty() || page.len() > 64 {
        return Err(Refusal::new(
            400,
            "page must be the page's id, 1 to 64 characters",
        ));
    }
    let form = Form::from_json(body).map_err(|problem| Refusal {
        status: 400,
        problem,
    })?;
    let (config, toml) = form.config().map_err(|(problem, _)| Refusal {
        status: 400,
        problem,
    })?;
    let speed = match &body["speed"] {
        Value::Null => None,
        v => match v.as_f64() {
            Some(s) if s.is_finite() && s > 0.0 && s <= 1e9 => Some(s),
            _ => {
                return Err(Refusal::new(
                    400,
                    format!("speed {v} is invalid: give null (as fast as possible) or simulated seconds per second, from 1e-9 to 1e9"),
                ))
            }
        },
    };
    let interval = match &body["interval"] {
        Value::Null => 1.0,
        v => match v.as_f64() {
            Some(s) if s.is_finite() && s > 0.0 => s,
            _ => {
                return Err(Refusal::new(
                    400,
                    format!("interval {v} is invalid: give a positive number of simulated seconds"),
                ))
            }
        },
    };
    let job = Job {
        config,
        toml,
        speed,
        interval,
    };
    let (id, position) = runs.queue(page, job)?;
    Ok(json!({ "id": id, "position": position }))
}
