//! The configuration: TOML sections, parsed strictly and validated before anything runs.
//!
//! Parsing rejects unknown keys (naming the key, its section and the line) so that a typo never
//! falls back to a default. Validation checks each section and then what only the whole config
//! can tell (a KV cache too small for one full-length request).

pub mod arrivals;
pub(crate) mod check;
pub mod classes;
mod cluster;
mod de;
mod hardware;
mod model;
mod parallel;
mod scheduler;
pub mod sessions;
mod simulation;
mod slo;
mod warmup;
mod warnings;
mod workload;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use arrivals::RateSchedule;
pub use classes::RequestClass;
pub use cluster::{
    ClusterConfig, DisaggregationConfig, EngineOverrides, PoolConfig, RouterKind, MAX_REPLICAS,
};
pub use hardware::{HardwareConfig, KvCacheDtype, StepModel, CALIBRATION_KEYS};
pub use model::{Experts, ModelConfig};
pub use parallel::{ParallelConfig, MAX_PARALLEL};
pub use scheduler::{Policy, SchedulerConfig};
pub use sessions::{SessionsConfig, ThinkTime};
pub use simulation::SimulationConfig;
pub use slo::SloConfig;
pub use warmup::MetricsConfig;
pub use workload::{ArrivalPattern, LengthDist, WorkloadConfig, MAX_REQUESTS};

use crate::{bail, shorten, shorten_quoted, Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub hardware: HardwareConfig,
    pub model: ModelConfig,
    pub scheduler: SchedulerConfig,
    pub workload: WorkloadConfig,
    #[serde(default)]
    pub simulation: SimulationConfig,
    /// Service-level objectives; without them the SLO metrics are null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloConfig>,
    /// Warm-up exclusion; without it every request is measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    /// GPUs per engine and engines side by side; without it, `[hardware]` is one engine's
    /// totals (see [`ParallelConfig`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<ParallelConfig>,
    /// A fleet of replicas behind a router; without it, one engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
    /// The folder relative paths inside the config (dataset_path) resolve against.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The pattern-dependent `[workload]` keys the TOML set (see [`Config::warnings`]).
    #[serde(skip)]
    given_workload_keys: Vec<String>,
}

impl Config {
    /// Reads, parses and validates a config file. Errors name the file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(format!("cannot read config file {}: {e}", path.display())))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::from_toml_str_in(&text, &base_dir).map_err(|e| e.context(path.display()))
    }

    /// Parses and validates TOML text; relative paths inside resolve against the current
    /// folder. Errors carry the line number where TOML gives one.
    pub fn from_toml_str(text: &str) -> Result<Config> {
        Config::from_toml_str_in(text, Path::new(""))
    }

    /// Parses and validates TOML text whose relative paths (dataset_path, hf_config) resolve
    /// against `base_dir`.
    pub fn from_toml_str_in(text: &str, base_dir: &Path) -> Result<Config> {
        // A config naming a catalog entry is expanded as a table first (its errors then name
        // keys, not lines); any other keeps the parser's line numbers.
        if let Ok(table) = toml::from_str::<toml::Table>(text) {
            if crate::catalog::expand::names_catalog(&table) {
                let config =
                    Config::from_toml_value_unvalidated(toml::Value::Table(table), base_dir)
                        .map_err(|(_, m)| Error::new(m))?;
                config.validate()?;
                return Ok(config);
            }
        }
        let de =
            toml::Deserializer::parse(text).map_err(|e| describe_toml_error(text, &e, None))?;
        let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            describe_toml_error(text, e.inner(), Some(&path))
        })?;
        config.given_workload_keys =
            warnings::given_pattern_keys(toml::from_str::<toml::Table>(text).ok().as_ref());
        config.base_dir = base_dir.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// Builds a config from an already-parsed TOML table (the sweep runner edits tables),
    /// without validating it. On failure returns the dotted path of the offending key (empty at
    /// the top level) and a message.
    /// `hardware.preset` and `model.hf_config` are expanded first (relative paths against
    /// `base_dir`, which the config keeps).
    pub fn from_toml_value_unvalidated(
        mut value: toml::Value,
        base_dir: &Path,
    ) -> std::result::Result<Config, (String, String)> {
        if let Some(table) = value.as_table_mut() {
            crate::catalog::expand::expand(table, base_dir)?;
        }
        let given = warnings::given_pattern_keys(value.as_table());
        let mut config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let message = describe_serde_message(e.inner().message(), &path);
            (path, message)
        })?;
        config.given_workload_keys = given;
        config.base_dir = base_dir.to_path_buf();
        Ok(config)
    }

    /// Builds and validates a config from an already-parsed TOML table (relative paths
    /// against the current folder).
    pub fn from_toml_value(value: toml::Value) -> Result<Config> {
        let config = Config::from_toml_value_unvalidated(value, Path::new(""))
            .map_err(|(_, m)| Error::new(m))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every section, then the constraints that span sections.
    pub fn validate(&self) -> Result<()> {
        self.hardware.validate()?;
        self.model.validate()?;
        self.scheduler.validate()?;
        self.workload.validate()?;
        self.simulation.validate()?;
        if let Some(slo) = &self.slo {
            slo.validate("slo")?;
        }
        if let Some(metrics) = &self.metrics {
            metrics.validate()?;
        }
        if let Some(parallel) = &self.parallel {
            parallel.validate(&self.model, &self.hardware)?;
            if parallel.data_parallel_size > 1 && self.cluster.is_some() {
                bail!(
                    "parallel.data_parallel_size = {} and [cluster] both say how many engines \
                     serve: set cluster.replicas (or pools) instead",
                    parallel.data_parallel_size
                );
            }
        }
        if let Some(cluster) = &self.cluster {
            cluster.validate()?;
            if cluster.router == RouterKind::SessionAffinity && self.workload.sessions.is_none() {
                bail!(
                    "cluster.router = \"session_affinity\" sends a session's turns to one \
                     replica, but the workload has no sessions: add [workload.sessions], or \
                     choose round_robin, random, least_outstanding, least_kv, power_of_two or \
                     prefix_affinity"
                );
            }
            let mooncake =
                self.workload.trace_format == Some(crate::workload::trace::TraceFormat::Mooncake);
            if cluster.router == RouterKind::PrefixAffinity
                && self.workload.dataset_path.is_none()
                && self.workload.shared_prefix_tokens == 0
                && self
                    .workload
                    .classes
                    .iter()
                    .all(|c| c.shared_prefix_tokens == 0)
                && !mooncake
            {
                bail!(
                    "cluster.router = \"prefix_affinity\" routes by the prompt's cached blocks, \
                     but these synthetic requests share no content: use it with \
                     workload.dataset_path, workload.shared_prefix_tokens or a mooncake trace, \
                     or choose another router"
                );
            }
        }
        let class_prefixes = self.workload.classes.iter().enumerate().map(|(i, c)| {
            (
                format!("workload.classes[{i}].shared_prefix_tokens"),
                c.shared_prefix_tokens,
            )
        });
        let prefixes = class_prefixes.chain([(
            "workload.shared_prefix_tokens".to_string(),
            self.workload.shared_prefix_tokens,
        )]);
        for (key, shared) in prefixes {
            if shared > 0 && shared + 2 > self.model.max_seq_len {
                bail!(
                    "{key} = {shared} leaves no room in model.max_seq_len = {} for a prompt \
                     token of its own and an output token: it must be at most {}",
                    self.model.max_seq_len,
                    self.model.max_seq_len.saturating_sub(2)
                );
            }
        }
        let blocks = self.kv_cache_blocks()?;
        let block_size = u64::from(self.scheduler.block_size);
        let max_len = u64::from(self.model.max_seq_len);
        let needed = max_len.div_ceil(block_size);
        if blocks < needed {
            bail!(
                "the KV cache holds {blocks} blocks of {block_size} tokens ({} tokens) but one \
                 request of model.max_seq_len = {max_len} tokens needs {needed}: raise \
                 hardware.kv_cache_capacity (or memory), or lower model.max_seq_len",
                blocks * block_size
            );
        }
        Ok(())
    }

    /// KV-cache bytes per token, at the cache's element size (`hardware.kv_cache_dtype`), over
    /// all layers and all of the engine's GPUs.
    pub fn kv_bytes_per_token(&self) -> f64 {
        self.model
            .kv_bytes_per_token(self.hardware.kv_bytes_per_element())
    }

    /// Tensor-parallel GPUs per engine (1 without `[parallel]`).
    pub fn tensor_parallel_size(&self) -> u32 {
        self.parallel.as_ref().map_or(1, |p| p.tensor_parallel_size)
    }

    /// The share of a token's KV cache one GPU of the engine holds: 1 / TP while there are at
    /// least as many KV heads as GPUs; 1 / num_kv_heads when GPUs replicate heads (vLLM does
    /// for TP > num_kv_heads); all of it for MLA's latent, which every GPU keeps whole.
    pub fn kv_share_per_gpu(&self) -> f64 {
        let tp = self.tensor_parallel_size();
        if tp == 1 || self.model.kv_latent_dim.is_some() {
            return 1.0;
        }
        1.0 / f64::from(tp.min(self.model.kv_heads()))
    }

    /// Number of KV-cache blocks: floor(capacity / (block_size x kv_bytes_per_token)), per GPU
    /// (every GPU of an engine holds its share of every block).
    pub fn kv_cache_blocks(&self) -> Result<u64> {
        let bytes = self
            .hardware
            .kv_cache_bytes(&self.model, self.tensor_parallel_size())?;
        let per_block = f64::from(self.scheduler.block_size)
            * (self.kv_bytes_per_token() * self.kv_share_per_gpu());
        Ok((bytes / per_block).floor() as u64)
    }

    /// The GPUs a run simulates, in words: "2 GPUs (TP 2)", "16 GPUs (8 engines x TP 2, EP
    /// 2)", or without `[parallel]` the engines ("1 engine").
    pub fn describe_gpus(&self) -> String {
        let gpus = self.num_gpus();
        let plural = if gpus == 1 { "GPU" } else { "GPUs" };
        let Some(p) = &self.parallel else {
            // Without [parallel] an engine is whatever [hardware] describes.
            return match gpus {
                1 => "1 engine".to_string(),
                n => format!("{n} engines"),
            };
        };
        let engines = gpus / u64::from(p.tensor_parallel_size);
        let mut shape = format!("TP {}", p.tensor_parallel_size);
        if p.expert_parallel_size > 1 {
            shape += &format!(", EP {}", p.expert_parallel_size);
        }
        if engines > 1 {
            shape = format!("{engines} engines x {shape}");
        }
        format!("{gpus} {plural} ({shape})")
    }

    /// GPUs of the whole deployment: engines x GPUs per engine.
    pub fn num_gpus(&self) -> u64 {
        let engines = match (&self.cluster, &self.parallel) {
            (Some(c), _) => c.num_replicas(),
            (None, Some(p)) => u64::from(p.data_parallel_size),
            (None, None) => 1,
        };
        engines * u64::from(self.tensor_parallel_size())
    }

    /// The dataset file, resolved against the config's folder.
    pub fn dataset_path(&self) -> Option<PathBuf> {
        self.workload
            .dataset_path
            .as_ref()
            .map(|p| self.base_dir.join(p))
    }
}

/// Turns a TOML parse or type error into one line: `line N: [section] key: problem`.
fn describe_toml_error(text: &str, err: &toml::de::Error, path: Option<&str>) -> Error {
    let span = err
        .span()
        .map(|s| s.start.min(text.len())..s.end.min(text.len()));
    let line = span
        .as_ref()
        .map(|s| text[..s.start].matches('\n').count() + 1);
    let mut message = describe_serde_message(err.message(), path.unwrap_or(""));
    // toml says "duplicate key" without naming it; the span does.
    if let (Some(span), "duplicate key") = (&span, message.as_str()) {
        message = format!("duplicate key `{}`", shorten(text[span.clone()].trim()));
    }
    match line {
        Some(line) => Error::new(format!("line {line}: {message}")),
        None => Error::new(message),
    }
}

/// Rewords serde's messages for people who write TOML, not Rust. serde quotes the offending
/// value or key whole; those quotes are shortened (a 100,000-character value gives a short
/// line, not a 200 KB one).
fn describe_serde_message(message: &str, path: &str) -> String {
    shorten_quoted(&reword_serde_message(message, path))
}

fn reword_serde_message(message: &str, path: &str) -> String {
    let message = message.trim().replace('\n', " ");
    let path = path.trim_end_matches('?');
    let path = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        // "`foo`, expected one of `a`, `b`"
        let (key, allowed) = rest.split_once(", expected").unwrap_or((rest, ""));
        let allowed = allowed
            .trim_start_matches(" one of ")
            .trim_start_matches(' ');
        return match section_of(path, key) {
            Some(section) => format!("unknown key {key} in [{section}]; allowed keys: {allowed}"),
            None => format!("unknown section {key}; allowed sections: {allowed}"),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let section = if path.is_empty() {
            "the config".to_string()
        } else {
            format!("[{path}]")
        };
        return format!("missing required key {rest} in {section}");
    }
    let message = message
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected u64", "expected a whole number >= 0")
        .replace("expected f64", "expected a number")
        .replace("unknown variant", "unknown value");
    if path.is_empty() {
        message
    } else {
        format!("{path}: {message}")
    }
}

/// serde_path_to_error reports an unknown key's path as "section.key"; the section is what a
/// user looks for. None at the top level.
fn section_of(path: &str, key: &str) -> Option<String> {
    let key = key.trim_matches('`');
    let section = path
        .strip_suffix(key)
        .map(|p| p.trim_end_matches('.'))
        .unwrap_or(path);
    (!section.is_empty()).then(|| section.to_string())
}

#[cfg(test)]
mod tests;
