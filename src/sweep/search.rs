//! Capacity search: an axis given as `{ search = "max", lo, hi, tolerance }` instead of a
//! list of values.
//!
//! For every combination of the other axes and every seed, the search finds the largest value
//! of the axis whose run meets the SLO (`slo_met`), by bisection between `lo` and `hi`:
//!
//! 1. `lo` is run first. If it misses the SLO, the capacity is below the range (`below_lo`).
//! 2. `hi` is run next. If it meets the SLO, the capacity is at least `hi` (`at_hi`).
//! 3. Otherwise the bracket [last met, first missed] is halved until `missed <= met x (1 +
//!    tolerance)` (relative tolerance); the capacity is the last value that met the SLO.
//!
//! The midpoint is geometric (sqrt(met x missed)), so every step halves the bracket in
//! relative terms whatever the range's span, and is rounded to the fewest significant digits
//! that keep the rounding well under the tolerance (tables read 11.31, not 11.3137084989848).
//! Integer axes (lo and hi written as integers: users, say) probe integers and stop when the
//! bracket is one apart or within the tolerance.
//!
//! Bisection assumes the SLO holds below the capacity and fails above it. With common random
//! numbers (the same seed gives the same requests at every rate, only time-scaled) that holds
//! for each seed in practice; where it does not, the search returns one crossing of the
//! SLO boundary, not necessarily the last.
//!
//! Every probe is an ordinary run: journaled, resumed and tabled like any other. Walking a
//! search again over the journal repeats the same probes (the walk is a function of the
//! outcomes), so a killed search resumes where it stopped, and `sweep merge` rebuilds it
//! without running anything.

use toml::Value;

use crate::{bail, Result};

/// A searched axis, as the spec gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The config path searched (`workload.arrival_rate`).
    pub path: String,
    pub lo: f64,
    pub hi: f64,
    /// Relative width at which the bracket is narrow enough, in (0, 1).
    pub tolerance: f64,
    /// Probes are integers (lo and hi were written as integers).
    pub integer: bool,
}

/// The keys of a search table.
const KEYS: &str = "search, lo, hi, tolerance";
/// The tolerance when the spec gives none.
pub const DEFAULT_TOLERANCE: f64 = 0.02;

impl Search {
    /// Whether an axis value asks for a search rather than listing values.
    pub fn is_search(value: &Value) -> bool {
        matches!(value, Value::Table(t) if t.contains_key("search"))
    }

    /// Parses `{ search = "max", lo = .., hi = .., tolerance = .. }` for axis `path`.
    pub fn parse(path: &str, value: &Value) -> Result<Search> {
        let Value::Table(t) = value else {
            bail!("axis {path}: a search is a table {{ search = \"max\", lo, hi, tolerance }}");
        };
        for key in t.keys() {
            if !KEYS.split(", ").any(|k| k == key) {
                bail!("axis {path}: unknown key `{key}` in a search; allowed keys: {KEYS}");
            }
        }
        match t.get("search") {
            Some(Value::String(s)) if s == "max" => {}
            Some(other) => bail!(
                "axis {path}: search = {}: only \"max\" is supported (the largest value that meets the SLO)",
                crate::shorten(&other.to_string())
            ),
            None => unreachable!("is_search checked the key"),
        }
        let number = |key: &str| -> Result<Option<(f64, bool)>> {
            match t.get(key) {
                None => Ok(None),
                Some(Value::Integer(i)) => Ok(Some((*i as f64, true))),
                Some(Value::Float(f)) if f.is_finite() => Ok(Some((*f, false))),
                Some(other) => bail!(
                    "axis {path}: {key} must be a finite number, not {}",
                    crate::shorten(&other.to_string())
                ),
            }
        };
        let (Some((lo, lo_int)), Some((hi, hi_int))) = (number("lo")?, number("hi")?) else {
            bail!("axis {path}: a search needs lo and hi (the range to search)");
        };
        if lo <= 0.0 || hi <= lo {
            bail!("axis {path}: a search needs 0 < lo < hi, not lo = {lo}, hi = {hi}");
        }
        let tolerance = number("tolerance")?.map_or(DEFAULT_TOLERANCE, |(t, _)| t);
        if !(tolerance > 0.0 && tolerance < 1.0) {
            bail!(
                "axis {path}: tolerance = {tolerance}: give a relative width in (0, 1), e.g. 0.02"
            );
        }
        Ok(Search {
            path: path.to_string(),
            lo,
            hi,
            tolerance,
            integer: lo_int && hi_int,
        })
    }

    /// A probe value as the config takes it.
    pub fn value(&self, x: f64) -> Value {
        if self.integer {
            Value::Integer(x as i64)
        } else {
            Value::Float(x)
        }
    }

    /// The most runs one search can take: lo, hi and the halvings of the bracket.
    pub fn max_probes(&self) -> usize {
        let halvings = if self.integer {
            (self.hi - self.lo).log2().ceil()
        } else {
            ((self.hi / self.lo).ln() / self.tolerance.ln_1p())
                .log2()
                .ceil()
        };
        // One more for a rounded midpoint that halves a little less than exactly.
        2 + halvings.max(0.0) as usize + 1
    }

    /// Whether the bracket (met, missed) is narrow enough to stop.
    fn converged(&self, met: f64, missed: f64) -> bool {
        let relative = missed <= met * (1.0 + self.tolerance);
        if self.integer {
            missed - met <= 1.0 || relative
        } else {
            relative
        }
    }

    /// The next probe inside the bracket (met, missed).
    fn midpoint(&self, met: f64, missed: f64) -> f64 {
        let mid = (met * missed).sqrt();
        if self.integer {
            return mid.round().clamp(met + 1.0, missed - 1.0);
        }
        // Enough significant digits that rounding moves the probe by under a tenth of the
        // tolerance; keep the exact midpoint if rounding lands on an end of the bracket.
        let digits = (-(self.tolerance / 10.0).log10()).ceil() as i32 + 1;
        let rounded = round_significant(mid, digits);
        if rounded > met && rounded < missed {
            rounded
        } else {
            mid
        }
    }
}

/// `x` rounded to `digits` significant digits.
fn round_significant(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    let rounded = (x * scale).round() / scale;
    if rounded.is_finite() {
        rounded
    } else {
        x
    }
}

/// What one probe's run says.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// The run met the SLO.
    Met,
    /// The run missed it.
    Missed,
    /// The run failed, or its SLO verdict is undefined: the search stops here.
    Failed(String),
    /// No record (`sweep merge` walking journals): the search stops here.
    Missing,
}

/// Where a search ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The largest value probed that met the SLO, with the smallest that missed it.
    Capacity { value: f64, missed: f64 },
    /// Even `lo` misses the SLO.
    BelowLo,
    /// Even `hi` meets it: the capacity is at least `hi`.
    AtHi,
    /// A probe failed (its error) or has no record (None): no answer.
    Failed(Option<String>),
}

impl Found {
    /// The value for means and intervals: a found capacity only.
    pub fn capacity(&self) -> Option<f64> {
        match self {
            Found::Capacity { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// The status word of the capacity table.
    pub fn status(&self) -> &'static str {
        match self {
            Found::Capacity { .. } => "found",
            Found::BelowLo => "below_lo",
            Found::AtHi => "at_hi",
            Found::Failed(Some(_)) => "failed",
            Found::Failed(None) => "missing",
        }
    }
}

/// A finished search: its probes in the order they ran, and what it found.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    pub probes: Vec<f64>,
    pub found: Found,
}

/// Walks one search, asking `probe` about each value in turn.
pub fn bisect(search: &Search, mut probe: impl FnMut(f64) -> Probe) -> Walk {
    let mut probes = Vec::new();
    let mut ask = |x: f64, probes: &mut Vec<f64>| {
        probes.push(x);
        probe(x)
    };
    let stop = |outcome: Probe, probes: Vec<f64>| {
        let found = match outcome {
            Probe::Failed(e) => Found::Failed(Some(e)),
            _ => Found::Failed(None),
        };
        Walk { probes, found }
    };
    match ask(search.lo, &mut probes) {
        Probe::Met => {}
        Probe::Missed => {
            return Walk {
                probes,
                found: Found::BelowLo,
            }
        }
        other => return stop(other, probes),
    }
    match ask(search.hi, &mut probes) {
        Probe::Missed => {}
        Probe::Met => {
            return Walk {
                probes,
                found: Found::AtHi,
            }
        }
        other => return stop(other, probes),
    }
    let (mut met, mut missed) = (search.lo, search.hi);
    while !search.converged(met, missed) {
        let mid = search.midpoint(met, missed);
        match ask(mid, &mut probes) {
            Probe::Met => met = mid,
            Probe::Missed => missed = mid,
            other => return stop(other, probes),
        }
    }
    Walk {
        probes,
        found: Found::Capacity { value: met, missed },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(lo: f64, hi: f64, tolerance: f64, integer: bool) -> Search {
        Search {
            path: "workload.arrival_rate".into(),
            lo,
            hi,
            tolerance,
            integer,
        }
    }

    fn threshold(limit: f64) -> impl FnMut(f64) -> Probe {
        move |x| {
            if x <= limit {
                Probe::Met
            } else {
                Probe::Missed
            }
        }
    }

    #[test]
    fn finds_the_threshold_within_the_tolerance_in_few_probes() {
        let s = search(0.5, 64.0, 0.02, false);
        for limit in [0.5, 0.77, 3.0, 11.3, 40.0, 63.9] {
            let walk = bisect(&s, threshold(limit));
            let Found::Capacity { value, missed } = walk.found else {
                panic!("{limit}: {walk:?}");
            };
            assert!(
                value <= limit && limit < missed,
                "{limit}: {value} {missed}"
            );
            assert!(missed <= value * 1.02, "{limit}: bracket {value}..{missed}");
            assert!(walk.probes.len() <= s.max_probes(), "{walk:?}");
        }
        // ln(128) / ln(1.02) = 245 brackets: 8 halvings, so 10 probes at most.
        assert_eq!(s.max_probes(), 11);
    }

    #[test]
    fn reports_a_capacity_outside_the_range() {
        let s = search(1.0, 10.0, 0.05, false);
        let below = bisect(&s, threshold(0.5));
        assert_eq!(below.found, Found::BelowLo);
        assert_eq!(below.probes, vec![1.0]);
        let above = bisect(&s, threshold(20.0));
        assert_eq!(above.found, Found::AtHi);
        assert_eq!(above.probes, vec![1.0, 10.0]);
    }

    #[test]
    fn stops_at_a_failed_or_missing_probe() {
        let s = search(1.0, 10.0, 0.05, false);
        let mut n = 0;
        let walk = bisect(&s, |_| {
            n += 1;
            if n == 3 {
                Probe::Failed("boom".into())
            } else if n == 1 {
                Probe::Met
            } else {
                Probe::Missed
            }
        });
        assert_eq!(walk.found, Found::Failed(Some("boom".into())));
        assert_eq!(walk.probes.len(), 3);
        let walk = bisect(&s, |_| Probe::Missing);
        assert_eq!(walk.found.status(), "missing");
    }

    #[test]
    fn integer_searches_probe_integers_and_end_one_apart() {
        let s = search(1.0, 300.0, 0.001, true);
        let walk = bisect(&s, threshold(97.0));
        assert!(walk.probes.iter().all(|p| p.fract() == 0.0), "{walk:?}");
        assert_eq!(
            walk.found,
            Found::Capacity {
                value: 97.0,
                missed: 98.0
            }
        );
        assert!(walk.probes.len() <= s.max_probes());
    }

    #[test]
    fn probes_are_rounded_and_repeatable() {
        let s = search(0.5, 64.0, 0.02, false);
        let a = bisect(&s, threshold(11.3));
        assert_eq!(a, bisect(&s, threshold(11.3)));
        // The first midpoint: sqrt(32) = 5.656854..., to 4 significant digits.
        assert_eq!(a.probes[2], 5.657);
    }

    #[test]
    fn parse_checks_the_table() {
        let parse = |text: &str| {
            let v: toml::Table = format!("a = {text}").parse().unwrap();
            Search::parse("workload.arrival_rate", &v["a"]).map_err(|e| e.to_string())
        };
        let s = parse("{ search = \"max\", lo = 0.5, hi = 64 }").unwrap();
        assert_eq!(
            (s.lo, s.hi, s.tolerance, s.integer),
            (0.5, 64.0, 0.02, false)
        );
        assert!(
            parse("{ search = \"max\", lo = 1, hi = 64 }")
                .unwrap()
                .integer
        );
        for (text, needle) in [
            ("{ search = \"min\", lo = 1, hi = 2 }", "only \"max\""),
            ("{ search = \"max\", hi = 2 }", "needs lo and hi"),
            ("{ search = \"max\", lo = 2, hi = 2 }", "0 < lo < hi"),
            ("{ search = \"max\", lo = 0, hi = 2 }", "0 < lo < hi"),
            (
                "{ search = \"max\", lo = 1, hi = 2, tolerance = 1.5 }",
                "(0, 1)",
            ),
            ("{ search = \"max\", lo = 1, hi = \"x\" }", "finite number"),
            ("{ search = \"max\", lo = 1, hi = nan }", "finite number"),
            (
                "{ search = \"max\", lo = 1, hi = 2, step = 1 }",
                "unknown key `step`",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
