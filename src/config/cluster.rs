//! `[cluster]`: a fleet of engine replicas behind a router, and prefill/decode disaggregation.
//!
//! Without `[cluster]` a config is one engine: a fleet of one replica, with results identical
//! to what a single engine gives. Each replica is the whole `[hardware]`/`[model]`/`[scheduler]`
//! engine; `[[cluster.pools]]` and the disaggregation pools override those sections key by key
//! for some replicas (mixed GPU generations, a prefill pool on other hardware).

use serde::{Deserialize, Serialize};

use super::check::{count_within, non_negative, positive};
use crate::{bail, Result};

/// The most replicas a fleet may have: far beyond what a capacity question needs, small
/// enough that a fleet's per-replica state stays a few megabytes.
pub const MAX_REPLICAS: u64 = 4096;

/// How an arriving request picks its replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterKind {
    /// Replicas in turn: 0, 1, ..., n-1, 0, ...
    RoundRobin,
    /// Uniformly at random (a seeded stream of its own).
    Random,
    /// The replica with the fewest outstanding (running + waiting) requests.
    #[default]
    LeastOutstanding,
    /// The replica with the smallest fraction of its KV cache in use.
    LeastKv,
    /// Two replicas drawn at random; the one with fewer outstanding requests.
    PowerOfTwo,
    /// The replica holding the longest cached prefix of the prompt, among those whose load is
    /// within `prefix_affinity_load_cap` of the least loaded (dataset mode only).
    PrefixAffinity,
    /// A session's requests to one replica (needs sessions in the workload).
    SessionAffinity,
}

impl RouterKind {
    pub fn name(self) -> &'static str {
        match self {
            RouterKind::RoundRobin => "round_robin",
            RouterKind::Random => "random",
            RouterKind::LeastOutstanding => "least_outstanding",
            RouterKind::LeastKv => "least_kv",
            RouterKind::PowerOfTwo => "power_of_two",
            RouterKind::PrefixAffinity => "prefix_affinity",
            RouterKind::SessionAffinity => "session_affinity",
        }
    }
}

/// Overrides of the engine sections for some replicas: any key of `[hardware]`, `[model]` or
/// `[scheduler]`, merged over the base config's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<toml::Table>,
}

impl EngineOverrides {
    pub fn is_empty(&self) -> bool {
        self.hardware.is_none() && self.model.is_none() && self.scheduler.is_none()
    }
}

/// `[[cluster.pools]]`: `replicas` replicas built from the base config with `overrides`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub name: String,
    pub replicas: u32,
    #[serde(flatten)]
    pub overrides: EngineOverrides,
}

/// `[cluster.disaggregation]`: prefill on one pool, decode on another, KV moved between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisaggregationConfig {
    pub prefill_replicas: u32,
    pub decode_replicas: u32,
    /// Bytes per second of one KV transfer.
    pub kv_transfer_bandwidth: f64,
    /// Fixed time of one transfer, before its bytes move.
    #[serde(default)]
    pub kv_transfer_latency_ms: f64,
    /// Overrides for the prefill replicas (`[cluster.disaggregation.prefill.hardware]`, ...).
    #[serde(default, skip_serializing_if = "EngineOverrides::is_empty")]
    pub prefill: EngineOverrides,
    /// Overrides for the decode replicas.
    #[serde(default, skip_serializing_if = "EngineOverrides::is_empty")]
    pub decode: EngineOverrides,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Replicas of the base engine (the sum of the pools' replicas when pools are given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub router: RouterKind,
    /// The router sees replica state (outstanding requests, KV use) this many milliseconds
    /// old; 0 = exact.
    #[serde(default)]
    pub router_staleness_ms: f64,
    /// prefix_affinity: a replica is a candidate only while its outstanding requests exceed
    /// the least loaded replica's by at most this many.
    #[serde(default = "default_load_cap")]
    pub prefix_affinity_load_cap: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<PoolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<DisaggregationConfig>,
}

fn default_load_cap() -> u32 {
    8
}

impl ClusterConfig {
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(n) = self.replicas {
            count_within("cluster.replicas", u64::from(n), MAX_REPLICAS)?;
        }
        non_negative("cluster.router_staleness_ms", self.router_staleness_ms)?;
        let mut names = std::collections::HashSet::new();
        for (i, pool) in self.pools.iter().enumerate() {
            let key = format!("cluster.pools[{i}]");
            if pool.name.trim().is_empty() {
                bail!("{key}.name is empty: give each pool a name");
            }
            if !names.insert(pool.name.as_str()) {
                bail!("{key}.name = {:?} is used by two pools", pool.name);
            }
            count_within(
                &format!("{key}.replicas"),
                u64::from(pool.replicas),
                MAX_REPLICAS,
            )?;
        }
        if !self.pools.is_empty() {
            let total: u64 = self.pools.iter().map(|p| u64::from(p.replicas)).sum();
            count_within("cluster.pools (replicas in all)", total, MAX_REPLICAS)?;
            if let Some(n) = self.replicas.filter(|&n| u64::from(n) != total) {
                bail!(
                    "cluster.replicas = {n} but the pools have {total} replicas in all: \
                     leave cluster.replicas out when [[cluster.pools]] are given"
                );
            }
        }
        if let Some(d) = &self.disaggregation {
            count_within(
                "cluster.disaggregation.prefill_replicas",
                u64::from(d.prefill_replicas),
                MAX_REPLICAS,
            )?;
            count_within(
                "cluster.disaggregation.decode_replicas",
                u64::from(d.decode_replicas),
                MAX_REPLICAS,
            )?;
            positive(
                "cluster.disaggregation.kv_transfer_bandwidth",
                d.kv_transfer_bandwidth,
            )?;
            non_negative(
                "cluster.disaggregation.kv_transfer_latency_ms",
                d.kv_transfer_latency_ms,
            )?;
            if self.replicas.is_some() || !self.pools.is_empty() {
                bail!(
                    "[cluster.disaggregation] sizes the fleet with prefill_replicas and \
                     decode_replicas: leave cluster.replicas and [[cluster.pools]] out"
                );
            }
        }
        Ok(())
    }

    /// Replicas in the whole fleet.
    pub fn num_replicas(&self) -> u64 {
        if let Some(d) = &self.disaggregation {
            return u64::from(d.prefill_replicas) + u64::from(d.decode_replicas);
        }
        if !self.pools.is_empty() {
            return self.pools.iter().map(|p| u64::from(p.replicas)).sum();
        }
        u64::from(self.replicas.unwrap_or(1))
    }
}
