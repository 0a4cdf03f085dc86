//! A run's metrics as a typed row in [`RunSummary::metric_schema`] order.
//!
//! The journal stores each run's metrics as a JSON object keyed by metric name (readable on
//! its own, and tolerant of tool versions that add metrics). Kept as a JSON map in memory,
//! building the tables meant some 50 name look-ups and `Value` conversions per run: 85% of the
//! time to aggregate 100,000 runs. A row is parsed once, straight from the journal line into
//! a `Vec<f64>` by schema position, and tables take columns from it by index.
//!
//! Null (an undefined statistic, or a key an older journal lacks) is NaN, which no metric can
//! otherwise hold: non-finite floats are journaled as null. Counts are held as f64, exact for
//! every count below 2^53 (no simulation comes near: 9e15 tokens), and read back as u64.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::metrics::{MetricValue, RunSummary};

/// The metric schema, looked up once.
struct Schema {
    names: Vec<&'static str>,
    is_count: Vec<bool>,
    index: HashMap<&'static str, usize>,
    /// Positions in name order: the journal's key order (serde_json's map sorts its keys).
    sorted: Vec<usize>,
    /// Each position's place in `sorted`.
    rank: Vec<usize>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let metrics = RunSummary::metric_schema();
        let names: Vec<&'static str> = metrics.iter().map(|m| m.name).collect();
        let mut sorted: Vec<usize> = (0..names.len()).collect();
        sorted.sort_by_key(|&i| names[i]);
        let mut rank = vec![0; names.len()];
        for (k, &i) in sorted.iter().enumerate() {
            rank[i] = k;
        }
        Schema {
            rank,
            is_count: metrics
                .iter()
                .map(|m| matches!(m.value, MetricValue::Count(_)))
                .collect(),
            index: names.iter().enumerate().map(|(i, &n)| (n, i)).collect(),
            names,
            sorted,
        }
    })
}

/// A run's metrics by schema position; empty for a run that failed.
#[derive(Debug, Clone, Default)]
pub struct MetricRow(Vec<f64>);

/// Rows are equal when they hold the same values, nulls included (NaN != NaN would make a
/// row unequal to itself).
impl PartialEq for MetricRow {
    fn eq(&self, other: &MetricRow) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits())
    }
}

impl MetricRow {
    /// The metrics of a finished run.
    pub fn of(summary: &RunSummary) -> MetricRow {
        MetricRow(
            summary
                .metrics()
                .into_iter()
                .map(|m| match m.value {
                    MetricValue::Float(Some(x)) if x.is_finite() => x,
                    MetricValue::Float(_) => f64::NAN,
                    MetricValue::Count(n) => n as f64,
                })
                .collect(),
        )
    }

    /// A row from (name, value) pairs, read as a journal line would be: unknown names are
    /// ignored, absent ones, non-finite floats and counts that are not whole are null.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<f64>)>) -> MetricRow {
        let s = schema();
        let mut row = vec![f64::NAN; s.names.len()];
        for (name, value) in pairs {
            if let (Some(&i), Some(x)) = (s.index.get(name), value) {
                let whole = x >= 0.0 && x.fract() == 0.0;
                if x.is_finite() && (whole || !s.is_count[i]) {
                    row[i] = x;
                }
            }
        }
        MetricRow(row)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at schema position `i` as a float (counts converted), None when null.
    pub fn f64_at(&self, i: usize) -> Option<f64> {
        self.0.get(i).copied().filter(|x| !x.is_nan())
    }

    /// The count at schema position `i`, None when null.
    pub fn u64_at(&self, i: usize) -> Option<u64> {
        self.f64_at(i).map(|x| x as u64)
    }

    /// A metric by name as a float, None when null or unknown.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.f64_at(*schema().index.get(name)?)
    }

    /// The schema position of a metric name.
    pub fn position(name: &str) -> Option<usize> {
        schema().index.get(name).copied()
    }
}

impl Serialize for MetricRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = schema();
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        if self.0.is_empty() {
            return map.end();
        }
        for &i in &s.sorted {
            let x = self.0[i];
            if x.is_nan() {
                map.serialize_entry(s.names[i], &())?;
            } else if s.is_count[i] {
                map.serialize_entry(s.names[i], &(x as u64))?;
            } else {
                map.serialize_entry(s.names[i], &x)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MetricRow, D::Error> {
        deserializer.deserialize_map(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = MetricRow;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of metric name -> number or null")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetricRow, A::Error> {
        let s = schema();
        let mut row: Vec<f64> = Vec::new();
        // Keys come in name order as written: try the next one in that order before hashing.
        let mut next = 0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let expected = s.sorted.get(next).copied();
            let position = match expected {
                Some(i) if s.names[i] == key.as_ref() => Some(i),
                _ => s.index.get(key.as_ref()).copied(),
            };
            let Some(i) = position else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            next = s.rank[i] + 1;
            let value: Option<serde_json::Number> = map.next_value()?;
            if row.is_empty() {
                row = vec![f64::NAN; s.names.len()];
            }
            // As the tables always read them: a count must be a whole number, a float any.
            let x = match value {
                Some(n) if s.is_count[i] => n.as_u64().map(|c| c as f64),
                Some(n) => n.as_f64().filter(|x| x.is_finite()),
                None => None,
            };
            row[i] = x.unwrap_or(f64::NAN);
        }
        Ok(MetricRow(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_round_trips_through_the_journal_format_unchanged() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");
        let config = crate::config::Config::load(std::path::Path::new(path)).unwrap();
        let summary = crate::Simulator::new(&config).unwrap().run().unwrap();
        let row = MetricRow::of(&summary);
        // The JSON the journal held before rows were typed: a serde_json map of to_json().
        let map: serde_json::Map<String, serde_json::Value> = summary
            .metrics()
            .into_iter()
            .map(|m| (m.name.to_string(), m.value.to_json()))
            .collect();
        let old = serde_json::to_string(&map).unwrap();
        assert_eq!(serde_json::to_string(&row).unwrap(), old);
        let back: MetricRow = serde_json::from_str(&old).unwrap();
        assert_eq!(back.0.len(), row.0.len());
        for (i, m) in summary.metrics().iter().enumerate() {
            match m.value {
                MetricValue::Count(n) => assert_eq!(back.u64_at(i), Some(n), "{}", m.name),
                MetricValue::Float(v) => {
                    let v = v.filter(|x| x.is_finite());
                    assert_eq!(back.f64_at(i).map(f64::to_bits), v.map(f64::to_bits));
                }
            }
        }
        assert_eq!(back.get("requests_total"), Some(30.0));
    }

    #[test]
    fn unknown_keys_are_skipped_and_missing_ones_null() {
        let row: MetricRow =
            serde_json::from_str(r#"{"future_metric": [1, 2], "ttft_ms_p99": 2.5, "steps": 3.5}"#)
                .unwrap();
        assert_eq!(row.get("ttft_ms_p99"), Some(2.5));
        // A count that is not a whole number is null, as the tables always read it.
        assert_eq!(row.get("steps"), None);
        assert_eq!(row.get("e2e_ms_p99"), None);
        assert_eq!(row.get("no_such_metric"), None);
        let empty: MetricRow = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
    }
}
