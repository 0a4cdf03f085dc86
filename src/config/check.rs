//! Small validation helpers that word their errors the same way everywhere, and the ranges
//! within which a number can describe real hardware, a real model or a real workload.
//!
//! The ranges are wide (orders of magnitude around today's accelerators and models) but finite:
//! inside them every step time, clock reading and metric of a run is a finite double, while a
//! value like `compute_flops = 1e-300` would make step times overflow to infinity and every
//! latency NaN.

use crate::{bail, Result};

/// Peak FLOP/s: from a small CPU (1 GFLOP/s) to a rack of today's GPUs (1 EFLOP/s).
pub const COMPUTE_FLOPS: (f64, f64) = (1e9, 1e18);
/// Memory bandwidth in bytes/s: from 100 MB/s to 1 PB/s (a GB200 NVL72 rack has ~0.58 PB/s).
pub const MEMORY_BANDWIDTH: (f64, f64) = (1e8, 1e15);
/// Memory (and KV-cache) bytes: from 1 MB to 1 PB.
pub const MEMORY_BYTES: (f64, f64) = (1e6, 1e15);
/// Bytes per weight and KV element: from 1-bit (0.125) to FP64 (8).
pub const BYTES_PER_PARAM: (f64, f64) = (0.125, 8.0);
/// Efficiencies divide the roofline's times: below 1% no real kernel runs, and 1e-300 would
/// turn a step's time into infinity.
pub const EFFICIENCY: (f64, f64) = (0.01, 1.0);
/// Seconds of fixed overhead per step, per layer or per sequence: measured ones are micro- to
/// milliseconds; a second per step is already far beyond any engine.
pub const OVERHEAD_SECONDS: (f64, f64) = (0.0, 1.0);
/// Weights of a model: up to 1e15 (a thousand times today's largest).
pub const NUM_PARAMETERS_MAX: u64 = 1_000_000_000_000_000;
/// Layers, heads, and per-head and hidden sizes: far beyond any published model, small enough
/// that the attention FLOPs of a step stay finite.
pub const NUM_LAYERS_MAX: u32 = 10_000;
pub const HIDDEN_DIM_MAX: u32 = 1_000_000;
pub const NUM_HEADS_MAX: u32 = 65_536;
pub const HEAD_DIM_MAX: u32 = 65_536;
/// Requests per second: from one a week-and-a-half (1e-6) to a billion.
pub const ARRIVAL_RATE: (f64, f64) = (1e-6, 1e9);
/// Simulated seconds a workload may last: up to about 30 years.
pub const DURATION_SECONDS_MAX: f64 = 1e9;

/// A number as a message shows it: plain when short, in exponent form when very large or very
/// small (so `1e-300` is not printed as three hundred zeros).
pub fn num(value: f64) -> String {
    let magnitude = value.abs();
    if value.is_finite() && magnitude != 0.0 && !(1e-4..1e6).contains(&magnitude) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// `value` must be finite and in [lo, hi]; `unit` follows the range in the message.
pub fn within(field: &str, value: f64, (lo, hi): (f64, f64), unit: &str) -> Result<()> {
    if !(value.is_finite() && value >= lo && value <= hi) {
        bail!(
            "{field} = {} is invalid: it must be a number from {} to {} {unit}",
            num(value),
            num(lo),
            num(hi)
        );
    }
    Ok(())
}

/// `value` must be a finite number > 0 (a threshold or a time with no natural upper bound).
pub fn positive(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        bail!(
            "{field} = {} is invalid: it must be a number greater than 0",
            num(value)
        );
    }
    Ok(())
}

/// An integer that must be from 1 to `max`.
pub fn count_within(field: &str, value: u64, max: u64) -> Result<()> {
    if value == 0 || value > max {
        bail!("{field} = {value} is invalid: it must be a whole number from 1 to {max}");
    }
    Ok(())
}

/// `value` must be finite and >= 0.
pub fn non_negative(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        bail!(
            "{field} = {} is invalid: it must be a number >= 0",
            num(value)
        );
    }
    Ok(())
}

/// `value` must be in (0, 1].
pub fn fraction(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0 && value <= 1.0) {
        bail!("{field} = {} is invalid: it must be in (0, 1]", num(value));
    }
    Ok(())
}

/// `value` must be in [0, 1].
pub fn unit_interval(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
        bail!("{field} = {} is invalid: it must be in [0, 1]", num(value));
    }
    Ok(())
}

/// An integer count that must be at least 1.
pub fn at_least_one(field: &str, value: u64) -> Result<()> {
    if value == 0 {
        bail!("{field} = 0 is invalid: it must be at least 1");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_numbers_print_short() {
        assert_eq!(num(1e-300), "1e-300");
        assert_eq!(num(1e300), "1e300");
        assert_eq!(num(989.5e12), "9.895e14");
        assert_eq!(num(4096.0), "4096");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "NaN");
    }

    #[test]
    fn ranges_include_their_ends_and_name_them() {
        assert!(within("a.b", 1e9, COMPUTE_FLOPS, "FLOP/s").is_ok());
        assert!(within("a.b", 1e18, COMPUTE_FLOPS, "FLOP/s").is_ok());
        let err = within("a.b", 1e-300, COMPUTE_FLOPS, "FLOP/s").unwrap_err();
        assert_eq!(
            err.message(),
            "a.b = 1e-300 is invalid: it must be a number from 1e9 to 1e18 FLOP/s"
        );
        assert!(within("a.b", f64::INFINITY, (0.0, f64::MAX), "").is_err());
        assert!(count_within("a.b", 0, 5).is_err());
        assert!(count_within("a.b", 6, 5).is_err());
        assert!(count_within("a.b", 5, 5).is_ok());
    }
}
