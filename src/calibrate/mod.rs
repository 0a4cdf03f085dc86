//! Calibrating the step-time model against measured forward passes.
//!
//! [`steps`] reads the measured-steps CSV (`COUNTxNEW@CONTEXT` groups joined by `;` describe
//! each step's work); [`fit`] fits the `[hardware]` calibration parameters of
//! [`Roofline`](crate::engine::Roofline) to the rows with a small Levenberg–Marquardt solver
//! ([`solver`]) on log errors, predicts, summarises errors by phase and mode, and
//! cross-validates; [`output`] writes the fitted parameters into a copy of the config.
//!
//! ```no_run
//! use inference_lab::calibrate::{fit, read_steps, FitOptions};
//! let config = inference_lab::Config::load("configs/chat-llama3-8b-h100.toml".as_ref())?;
//! let steps = read_steps("steps.csv".as_ref())?;
//! let fitted = fit(&config, &steps, &FitOptions::default())?;
//! println!("{}", fitted.config.hardware.compute_efficiency);
//! # Ok::<(), inference_lab::Error>(())
//! ```

mod fit;
pub mod output;
mod params;
pub mod solver;
pub mod steps;

pub use fit::{
    cross_validate, error_summary, errors_of, fit, predict, CrossValidation, Errors, Fit,
    FitOptions, Fold, GroupErrors, RowError, DIGITS, KFOLD,
};
pub use params::{round_significant, Param, Range};
pub use steps::{parse_sequences, parse_steps, read_steps, SeqGroup, StepRow, StepsFile};

#[cfg(test)]
mod tests;
