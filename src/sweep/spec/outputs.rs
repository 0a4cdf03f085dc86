//! `[outputs]` of a sweep spec: what each run writes beside its journal record. With
//! `requests = true` every run writes its per-request records, with `timeseries = true` its
//! time series (`interval` seconds a row, default 1), as Parquet partitioned by run under the
//! results folder: `requests/run_id=<id>/part-0.parquet` and the same under `timeseries/`,
//! which DuckDB, polars and pyarrow read as one table with a `run_id` column.

use toml::Value;

use crate::{bail, Result};

/// What each run writes (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outputs {
    pub requests: bool,
    pub timeseries: bool,
    /// The time series' interval, simulated seconds.
    pub interval: f64,
}

impl Default for Outputs {
    fn default() -> Outputs {
        Outputs {
            requests: false,
            timeseries: false,
            interval: 1.0,
        }
    }
}

impl Outputs {
    /// Whether any run writes records.
    pub fn any(&self) -> bool {
        self.requests || self.timeseries
    }

    pub fn parse(value: Option<&Value>) -> Result<Outputs> {
        let mut outputs = Outputs::default();
        let Some(value) = value else {
            return Ok(outputs);
        };
        let Value::Table(table) = value else {
            bail!("[outputs] must be a table, not {}", value.type_str());
        };
        for (key, value) in table {
            match (key.as_str(), value) {
                ("requests", Value::Boolean(b)) => outputs.requests = *b,
                ("timeseries", Value::Boolean(b)) => outputs.timeseries = *b,
                ("interval", Value::Float(_) | Value::Integer(_)) => {
                    let x = value
                        .as_float()
                        .unwrap_or_else(|| value.as_integer().unwrap_or(0) as f64);
                    if !(x.is_finite() && x > 0.0) {
                        bail!("outputs.interval = {x} is invalid: give a positive number of simulated seconds");
                    }
                    outputs.interval = x;
                }
                ("requests" | "timeseries", other) => {
                    bail!(
                        "outputs.{key} must be true or false, not {}",
                        other.type_str()
                    )
                }
                ("interval", other) => {
                    bail!(
                        "outputs.interval must be a number of seconds, not {}",
                        other.type_str()
                    )
                }
                _ => bail!(
                    "unknown key `{key}` in [outputs]; allowed keys: requests, timeseries, interval"
                ),
            }
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Outputs> {
        let table: toml::Table = text.parse().unwrap();
        Outputs::parse(table.get("outputs"))
    }

    #[test]
    fn outputs_default_to_none_and_check_their_keys() {
        assert_eq!(parse("").unwrap(), Outputs::default());
        let o = parse("[outputs]\nrequests = true\ninterval = 2").unwrap();
        assert!(o.requests && !o.timeseries && o.interval == 2.0 && o.any());
        for (text, message) in [
            (
                "[outputs]\nrequests = 1",
                "outputs.requests must be true or false",
            ),
            ("[outputs]\ninterval = 0", "outputs.interval = 0 is invalid"),
            (
                "[outputs]\nrecords = true",
                "unknown key `records` in [outputs]",
            ),
            ("outputs = 3", "[outputs] must be a table"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(message), "{text}: {e}");
        }
    }
}
