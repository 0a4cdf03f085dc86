//! The replicas a config describes: one engine without `[cluster]`, `cluster.replicas` copies
//! of it, `[[cluster.pools]]` of differently configured copies, or a prefill and a decode pool.

use crate::config::{Config, EngineOverrides};
use crate::{Error, Result};

/// What a replica does in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Serves requests from arrival to completion.
    Whole,
    /// Disaggregated: computes prompts and emits first tokens.
    Prefill,
    /// Disaggregated: receives prefilled KV and decodes.
    Decode,
}

/// One replica's pool name, role and engine config.
#[derive(Debug, Clone)]
pub struct ReplicaPlan {
    pub pool: String,
    pub role: Role,
    pub config: Config,
}

/// The fleet's replicas, in index order (pools in the order given; prefill before decode).
/// Each pool's engine config is the base config with the pool's overrides, validated, with
/// errors naming the pool.
pub fn plan(config: &Config) -> Result<Vec<ReplicaPlan>> {
    let Some(cluster) = &config.cluster else {
        // `parallel.data_parallel_size` engines behind the default router, as vLLM's
        // data-parallel load balancer puts them (1 without [parallel]).
        let engines = config.parallel.as_ref().map_or(1, |p| p.data_parallel_size);
        return Ok((0..engines)
            .map(|_| ReplicaPlan {
                pool: "default".into(),
                role: Role::Whole,
                config: config.clone(),
            })
            .collect());
    };
    let mut plans = Vec::new();
    let mut add = |pool: &str, role, n: u32, config: Config| {
        for _ in 0..n {
            plans.push(ReplicaPlan {
                pool: pool.to_string(),
                role,
                config: config.clone(),
            });
        }
    };
    if let Some(d) = &cluster.disaggregation {
        let prefill = overridden(config, &d.prefill, "cluster.disaggregation.prefill")?;
        let decode = overridden(config, &d.decode, "cluster.disaggregation.decode")?;
        add("prefill", Role::Prefill, d.prefill_replicas, prefill);
        add("decode", Role::Decode, d.decode_replicas, decode);
    } else if cluster.pools.is_empty() {
        add(
            "default",
            Role::Whole,
            cluster.replicas.unwrap_or(1),
            config.clone(),
        );
    } else {
        for (i, pool) in cluster.pools.iter().enumerate() {
            let place = format!("cluster.pools[{i}] ({})", pool.name);
            let engine = overridden(config, &pool.overrides, &place)?;
            add(&pool.name, Role::Whole, pool.replicas, engine);
        }
    }
    Ok(plans)
}

/// The base config with `overrides` merged key by key into its engine sections.
fn overridden(config: &Config, overrides: &EngineOverrides, place: &str) -> Result<Config> {
    let mut base = config.clone();
    base.cluster = None;
    if overrides.is_empty() {
        return Ok(base);
    }
    let mut value = toml::Value::try_from(&base)
        .map_err(|e| Error::new(format!("{place}: cannot apply the overrides: {e}")))?;
    let root = value.as_table_mut().expect("a config is a table");
    for (section, keys) in [
        ("hardware", &overrides.hardware),
        ("model", &overrides.model),
        ("scheduler", &overrides.scheduler),
    ] {
        let Some(keys) = keys else { continue };
        let table = root
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("engine sections are tables");
        for (key, v) in keys {
            table.insert(key.clone(), v.clone());
        }
    }
    let engine = Config::from_toml_value_unvalidated(value, &config.base_dir)
        .map_err(|(_, message)| Error::new(format!("{place}: {message}")))?;
    engine.validate().map_err(|e| e.context(place))?;
    Ok(engine)
}
