//! inference-lab: a discrete-event simulator of a vLLM-style LLM serving engine.
//!
//! ```no_run
//! use inference_lab::{Config, Simulator};
//! let config = Config::load("configs/blog-llama3-70b-h100-tp2.toml".as_ref())?;
//! let summary = Simulator::new(&config)?.run()?;
//! println!("p99 TTFT: {:?} ms", summary.ttft_ms.p99);
//! # Ok::<(), inference_lab::Error>(())
//! ```
//!
//! The library never touches terminals, files (beyond reading a config and the inputs it names:
//! traces, rate schedules, model configs) or threads; the
//! `inference-lab` binary and the sweep runner are drivers around [`Simulator`].

pub mod calibrate;
pub mod catalog;
pub mod config;
pub mod engine;
mod error;
pub mod fleet;
pub mod metrics;
pub mod observe;
pub mod records;
pub mod report;
pub mod sweep;
#[cfg(test)]
mod testing;
pub mod workload;

pub use config::Config;
pub use error::{shorten, shorten_quoted, Error, Result, QUOTE_LIMIT};
pub use fleet::Simulator;
pub use metrics::RunSummary;

/// The tool version written into every result file.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
