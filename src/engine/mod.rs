//! The engine: request state, the KV-cache block manager with its prefix cache, the waiting
//! queue, the scheduler, the roofline step-time model, and the event loop that ties them.

mod compute;
mod decode_span;
mod kv_cache;
mod queue;
mod request;
mod scheduler;
mod simulator;

pub use compute::{Roofline, StepCost, StepSums, Work};
pub use kv_cache::{BlockId, KvCache};
pub use queue::{QueueKey, WaitingQueue};
pub use request::Request;
pub use simulator::{Progress, Simulator, StepOutcome};
