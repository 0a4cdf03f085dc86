//! Small validation helpers that word their errors the same way everywhere.

use crate::{bail, Result};

/// `value` must be a finite number > 0.
pub fn positive(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        bail!("{field} = {value} is invalid: it must be a number greater than 0");
    }
    Ok(())
}

/// `value` must be finite and >= 0.
pub fn non_negative(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        bail!("{field} = {value} is invalid: it must be a number >= 0");
    }
    Ok(())
}

/// `value` must be in (0, 1].
pub fn fraction(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0 && value <= 1.0) {
        bail!("{field} = {value} is invalid: it must be in (0, 1]");
    }
    Ok(())
}

/// `value` must be in [0, 1].
pub fn unit_interval(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
        bail!("{field} = {value} is invalid: it must be in [0, 1]");
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
