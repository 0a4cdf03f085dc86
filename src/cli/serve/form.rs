//! From the page's form to a config: a base (a shipped config or an uploaded TOML) and the
//! form's edits, each a `section.field` and a value in `--set`'s syntax, applied by `--set`'s
//! own rule. The result is TOML text, and the config is that text read exactly as
//! `inference-lab -c` reads a file, so the page's errors are the CLI's and a run's JSON equals
//! the CLI's for the TOML the page shows.

use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};
use toml::Table;

use inference_lab::catalog::{gpus, hf};
use inference_lab::config::{ArrivalPattern, Policy, MAX_REQUESTS};
use inference_lab::Config;

use super::{shipped, Server};

/// An error for the page: its message, and the config key it names (shown beside that
/// field), if any.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    pub key: Option<String>,
    pub message: String,
}

impl Problem {
    fn new(message: impl Into<String>) -> Problem {
        let message = message.into();
        Problem {
            key: key_in(&message),
            message,
        }
    }
}

/// The form's state: where it started, and what the user changed since.
#[derive(Debug, Clone)]
pub struct Form {
    base: String,
    edits: Vec<(String, String)>,
}

/// The keys that choose a catalog entry: choosing one starts its section afresh, keeping
/// only the keys that describe the deployment rather than the entry (the weights' precision
/// picks the preset's FLOP/s).
type Preset = (&'static str, &'static str, &'static [&'static str]);
const PRESETS: [Preset; 2] = [
    (
        "hardware.preset",
        "hardware",
        &[
            "bytes_per_param",
            "kv_cache_dtype",
            "gpu_memory_utilization",
        ],
    ),
    ("model.hf_config", "model", &[]),
];

/// The config keys that name files: the server never reads a path a client names.
const FILE_KEYS: [&str; 5] = [
    "dataset_path",
    "trace_path",
    "tokenizer",
    "chat_template",
    "path",
];

impl Form {
    /// `{"base": {"config": NAME} | {"toml": TEXT}, "edits": [[PATH, VALUE], ...]}`.
    pub fn from_json(body: &Value) -> Result<Form, Problem> {
        let base = &body["base"];
        let base = if let Some(name) = base["config"].as_str() {
            shipped::find(name)
                .ok_or_else(|| Problem::new(format!("no shipped config {name:?}")))?
                .text
                .to_string()
        } else if let Some(text) = base["toml"].as_str() {
            text.to_string()
        } else {
            return Err(Problem::new(
                "base must be {\"config\": NAME} or {\"toml\": TEXT}",
            ));
        };
        let mut edits = Vec::new();
        for edit in body["edits"].as_array().into_iter().flatten() {
            match (edit[0].as_str(), edit[1].as_str()) {
                (Some(path), Some(value)) => edits.push((path.to_string(), value.to_string())),
                _ => return Err(Problem::new("each edit is [PATH, VALUE], both strings")),
            }
        }
        Ok(Form { base, edits })
    }

    /// The TOML that runs: the base as written when nothing was edited, else the base's
    /// table with the edits applied.
    pub fn toml(&self) -> Result<String, Problem> {
        if self.edits.is_empty() {
            return Ok(self.base.clone());
        }
        let mut table: Table = match self.base.parse() {
            Ok(table) => table,
            // The base's own syntax error, worded as a run of it would word it.
            Err(_) => return Err(config_problem(&self.base)),
        };
        for (path, value) in &self.edits {
            let (path, value) =
                super::super::args::parse_set(&format!("{path}={value}")).map_err(Problem::new)?;
            if let Some((_, section, kept)) = PRESETS.iter().find(|(key, _, _)| *key == path) {
                let old = table.get(*section).and_then(toml::Value::as_table);
                let mut fresh: Table = kept
                    .iter()
                    .filter_map(|k| Some((k.to_string(), old?.get(*k)?.clone())))
                    .collect();
                let key = path.rsplit('.').next().expect("section.key");
                fresh.insert(key.to_string(), value);
                table.insert(section.to_string(), toml::Value::Table(fresh));
                continue;
            }
            inference_lab::sweep::apply_overrides(&mut table, &[(path.clone(), value)], "form")
                .map_err(|e| Problem {
                    key: Some(path.clone()),
                    message: e.to_string(),
                })?;
        }
        toml::to_string(&table).map_err(|e| Problem::new(format!("cannot write the TOML: {e}")))
    }

    /// The config the form describes, read as `inference-lab -c` reads a file, and its TOML.
    pub fn config(&self) -> Result<(Config, String), (Problem, Option<String>)> {
        let text = self.toml().map_err(|p| (p, None))?;
        let table: Table = text
            .parse()
            .map_err(|_| (config_problem(&text), Some(text.clone())))?;
        if let Some(problem) = names_a_file(&table) {
            return Err((problem, Some(text)));
        }
        match Config::from_toml_str_in(&text, Path::new("")) {
            Ok(config) => Ok((config, text)),
            Err(e) => Err((Problem::new(e.to_string()), Some(text))),
        }
    }

    /// The reply to `POST /api/config`.
    pub fn check(&self) -> Value {
        match self.config() {
            Ok((config, text)) => {
                let derived = super::super::report::derived(&config)
                    .map(|parts| {
                        parts
                            .into_iter()
                            .map(|(what, value)| format!("{what} {value}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .ok();
                json!({ "ok": true, "toml": text, "config": config, "warnings": config.warnings(),
                        "error": null, "derived": derived })
            }
            Err((problem, text)) => json!({ "ok": false, "toml": text.unwrap_or_default(),
                "config": null, "warnings": [], "error": problem, "derived": null }),
        }
    }
}

/// The error a run of this TOML text gives.
fn config_problem(text: &str) -> Problem {
    match Config::from_toml_str_in(text, Path::new("")) {
        Err(e) => Problem::new(e.to_string()),
        Ok(_) => Problem::new("the TOML does not parse"),
    }
}

/// The first key of `table` (at any depth) that names a file, as a problem.
fn names_a_file(table: &Table) -> Option<Problem> {
    fn walk(table: &Table, at: &str) -> Option<String> {
        table.iter().find_map(|(k, v)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            let is_file = FILE_KEYS.contains(&k.as_str())
                || (k == "hf_config" && v.as_str().is_none_or(|s| hf::find(s).is_err()));
            match v {
                _ if is_file => Some(path),
                toml::Value::Table(t) => walk(t, &path),
                toml::Value::Array(items) => items
                    .iter()
                    .filter_map(toml::Value::as_table)
                    .find_map(|t| walk(t, &path)),
                _ => None,
            }
        })
    }
    let key = walk(table, "")?;
    Some(Problem {
        message: format!(
            "{key} names a file, and the web interface never reads a file a page names: run \
             this config with `inference-lab -c` (model.hf_config may name a model of the \
             catalog)"
        ),
        key: Some(key),
    })
}

/// The config key an error message names: the parser's "`field` in [section]", else the
/// first `section.field...` in it whose section is a config section.
fn key_in(message: &str) -> Option<String> {
    const SECTIONS: [&str; 9] = [
        "hardware",
        "model",
        "scheduler",
        "workload",
        "simulation",
        "slo",
        "metrics",
        "parallel",
        "cluster",
    ];
    let parsers = message.split_once("` in [").and_then(|(before, after)| {
        let field = before.rsplit('`').next()?;
        let section = after.split(']').next()?;
        Some(format!("{section}.{field}"))
    });
    if parsers.is_some() {
        return parsers;
    }
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map(|word| word.trim_end_matches('.'))
        .find(|word| {
            word.split_once('.')
                .is_some_and(|(section, rest)| SECTIONS.contains(&section) && !rest.is_empty())
        })
        .map(str::to_string)
}

/// The reply to `GET /api/catalog`.
pub fn catalog(server: &Server) -> Value {
    let gpus: Vec<Value> = gpus::all()
        .iter()
        .map(|g| {
            json!({ "key": g.key, "name": g.name, "memory_bytes": g.memory_capacity,
                    "memory_bandwidth": g.memory_bandwidth, "calibrated": g.calibration.is_some(),
                    "flops": { "bf16": g.flops_bf16, "fp8": g.flops_fp8, "fp4": g.flops_fp4 } })
        })
        .collect();
    let models: Vec<Value> = hf::catalog()
        .iter()
        .map(|(key, _)| json!({ "key": key, "summary": hf_summary(key) }))
        .collect();
    let configs: Vec<Value> = shipped::ALL
        .iter()
        .map(|c| json!({ "name": c.name, "title": c.title() }))
        .collect();
    let patterns: Vec<Value> = ArrivalPattern::ALL
        .iter()
        .filter(|p| **p != ArrivalPattern::Trace)
        .map(|p| json!({ "value": p.name(), "label": pattern_label(*p), "uses_rate": p.uses_rate() }))
        .collect();
    let policies: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "gpus": gpus,
        "models": models,
        "configs": configs,
        "default_config": shipped::DEFAULT,
        "policies": policies,
        "arrival_patterns": patterns,
        "length_dists": ["fixed", "uniform", "normal", "lognormal"],
        "limits": { "max_requests": MAX_REQUESTS, "max_body_bytes": super::http::MAX_BODY_BYTES,
                    "queue": server.runs.queue_limit() },
        "sweeps": server.sweeps.is_some(),
    })
}

fn pattern_label(p: ArrivalPattern) -> &'static str {
    match p {
        ArrivalPattern::Poisson => "Poisson",
        ArrivalPattern::Uniform => "Uniform (evenly spaced)",
        ArrivalPattern::UniformRandom => "Uniform random gaps",
        ArrivalPattern::Gamma => "Gamma (bursty, arrival_cv)",
        ArrivalPattern::Weibull => "Weibull (arrival_cv)",
        ArrivalPattern::Burst => "Bursts",
        ArrivalPattern::FixedRate => "Fixed rate",
        ArrivalPattern::ClosedLoop => "Closed Loop (N concurrent users)",
        ArrivalPattern::Batched => "Batched (all at t = 0)",
        ArrivalPattern::Trace => "Trace replay",
    }
}

/// A catalog model in a few words: parameters, layers, context.
fn hf_summary(key: &str) -> String {
    let parsed = hf::find(key).and_then(|text| hf::parse(text, key));
    match parsed {
        Ok(m) => format!(
            "{:.1}B params, {} layers, {} context",
            m.num_parameters as f64 / 1e9,
            m.num_layers,
            m.max_seq_len
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests;
