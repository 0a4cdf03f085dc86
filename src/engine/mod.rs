//! The engine: request state, the KV-cache block manager with its prefix cache, the waiting
//! queue, the scheduler, the roofline step-time model, and the step that ties them. An engine
//! is one replica; [`crate::fleet`] drives one or many.

mod async_sched;
mod compute;
mod decode_span;
#[allow(clippy::module_inception)]
mod engine;
mod handoff;
mod invariants;
mod kv_cache;
mod queue;
mod request;
mod scheduler;

pub use crate::observe::Observer;
pub use compute::{Roofline, StepCost, StepSums, Work};
pub use engine::{Engine, EngineStep};
pub use handoff::Handoff;
pub use kv_cache::{BlockId, KvCache};
pub use queue::{QueueKey, WaitingQueue};
pub use request::Request;
