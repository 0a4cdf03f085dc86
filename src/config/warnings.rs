//! Keys a config sets that its arrival pattern ignores.
//!
//! These are warnings, not errors: the seed-era configs set `arrival_rate` with `closed_loop`
//! and `batched` (their parser required it), and they must keep loading unchanged. The library
//! never prints; [`Config::warnings`] returns one line per ignored key, and the command line
//! prints them (the single run unless `-q`, the sweep each distinct one once).

use super::{ArrivalPattern, Config};

/// The `[workload]` keys whose use depends on the arrival pattern.
const PATTERN_KEYS: [&str; 4] = [
    "arrival_rate",
    "num_concurrent_users",
    "burst_size",
    "duration_secs",
];

impl Config {
    /// One line per `[workload]` key that the config sets but its arrival pattern ignores,
    /// naming the key and the pattern; empty when every key it sets is used.
    pub fn warnings(&self) -> Vec<String> {
        let pattern = self.workload.arrival_pattern;
        let mut out = Vec::new();
        for key in &self.given_workload_keys {
            let why = match key.as_str() {
                "arrival_rate" if !pattern.uses_rate() => {
                    "only the open-loop patterns (poisson, gamma, weibull, uniform, \
                     uniform_random, burst, fixed_rate) use it"
                }
                "num_concurrent_users" if pattern != ArrivalPattern::ClosedLoop => {
                    "only closed_loop uses it"
                }
                "burst_size" if pattern != ArrivalPattern::Burst => "only burst uses it",
                "duration_secs" if pattern == ArrivalPattern::Batched => {
                    "every batched request arrives at t = 0"
                }
                _ => continue,
            };
            out.push(format!(
                "workload.{key} is ignored with arrival_pattern = \"{}\" ({why})",
                pattern.name()
            ));
        }
        out
    }
}

/// Which pattern-dependent `[workload]` keys a config table sets (a default cannot tell a key
/// left out from one written with its default value).
pub(super) fn given_pattern_keys(root: Option<&toml::Table>) -> Vec<String> {
    let workload = root
        .and_then(|t| t.get("workload"))
        .and_then(toml::Value::as_table);
    PATTERN_KEYS
        .iter()
        .filter(|key| workload.is_some_and(|w| w.contains_key(**key)))
        .map(|key| key.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{minimal, REFERENCE};
    use crate::Config;

    fn warnings(workload: &str) -> Vec<String> {
        let text = minimal("").replace("[workload]", &format!("[workload]\n{workload}"));
        Config::from_toml_str(&text).unwrap().warnings()
    }

    #[test]
    fn keys_the_pattern_ignores_are_named_with_the_pattern() {
        assert_eq!(
            warnings("num_concurrent_users = 8\nburst_size = 2"),
            [
                "workload.num_concurrent_users is ignored with arrival_pattern = \"poisson\" \
                 (only closed_loop uses it)",
                "workload.burst_size is ignored with arrival_pattern = \"poisson\" (only burst \
                 uses it)",
            ]
        );
        // Written with its default value, a key is still ignored.
        assert_eq!(warnings("burst_size = 8").len(), 1);
        // Keys the pattern uses, or keys left out, say nothing.
        assert!(warnings("duration_secs = 60").is_empty());
    }

    #[test]
    fn closed_loop_and_batched_ignore_the_rate_and_batched_the_duration() {
        let closed = warnings("").len();
        assert_eq!(closed, 0);
        let text = minimal("").replace("\"poisson\"", "\"batched\"");
        let text = text.replace("[workload]", "[workload]\nduration_secs = 5");
        let w = Config::from_toml_str(&text).unwrap().warnings();
        assert_eq!(
            w,
            [
                "workload.arrival_rate is ignored with arrival_pattern = \"batched\" (only the \
                 open-loop patterns (poisson, gamma, weibull, uniform, uniform_random, burst, \
                 fixed_rate) use it)",
                "workload.duration_secs is ignored with arrival_pattern = \"batched\" (every \
                 batched request arrives at t = 0)",
            ]
        );
        let text = minimal("").replace("\"poisson\"", "\"closed_loop\"");
        let w = Config::from_toml_str(&text).unwrap().warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with(
            "workload.arrival_rate is ignored with arrival_pattern = \"closed_loop\""
        ));
    }

    #[test]
    fn a_table_built_config_notes_its_keys_too() {
        let text = minimal("").replace("[workload]", "[workload]\nnum_concurrent_users = 3");
        let table: toml::Value = toml::from_str(&text).unwrap();
        let config = Config::from_toml_value(table).unwrap();
        assert_eq!(config.warnings().len(), 1);
    }

    #[test]
    fn seed_era_configs_load_and_warn_only_about_their_unused_rate() {
        for name in ["test_blog.toml", "qwen3_30b_a3b.toml"] {
            let path = std::path::Path::new(REFERENCE).join(name);
            let w = Config::load(&path).unwrap().warnings();
            assert_eq!(w.len(), 1, "{name}: {w:?}");
            assert!(
                w[0].starts_with("workload.arrival_rate is ignored"),
                "{w:?}"
            );
        }
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
        for entry in std::fs::read_dir(shipped).unwrap() {
            let path = entry.unwrap().path();
            let w = Config::load(&path).unwrap().warnings();
            assert!(w.is_empty(), "{}: {w:?}", path.display());
        }
    }
}
