//! The sweep's resource limits, checked before anything is materialised or started.
//!
//! A spec is a few lines of text, but `seeds = 9223372036854775807` or three ranges of ten
//! million values each describe more runs than any machine can list. So the size of the grid
//! is computed from the axis lengths, range bounds and seed count alone (checked arithmetic,
//! nothing allocated), and refused with the number it would need when it is over a limit.

use toml::{Table, Value};

use super::spec::{flatten, SEED_PATH};
use crate::config::Config;
use crate::{bail, Result};

/// Most runs (points x seeds, counted before `[[exclude]]`) one sweep may have. Every run's
/// resolved config is held in memory while the sweep runs (about a kilobyte each), and a
/// million runs is already days of simulation: split larger studies into several specs.
pub const MAX_RUNS: u64 = 1_000_000;

/// Most seeds per point. Repeats beyond this no longer narrow the confidence interval
/// usefully, and a typo here multiplies the whole grid.
pub const MAX_SEEDS: u64 = 10_000;

/// Most worker threads (`-j`). Runs are CPU-bound: more threads than cores only costs memory
/// (each holds a simulation), and starting tens of thousands of threads stalls the machine.
pub const MAX_THREADS: usize = 1024;

/// Counts the runs the spec asks for from the axis lengths, range bounds and seed count,
/// before any axis is built, and refuses a grid over the limits of this module. Malformed
/// entries count as one value: the parse that follows reports them in detail.
pub fn check_size(table: &Table, bases: usize) -> Result<()> {
    let mut lengths = vec![bases as u128];
    let mut seeds = 1;
    if let Some(Value::Table(t)) = table.get("axes") {
        for (path, value) in flatten(t, "axes").unwrap_or_default() {
            if path == SEED_PATH {
                seeds = value_count(&value);
                check_seeds(seeds, "axes.workload.seed")?;
            } else {
                lengths.push(value_count(&value));
            }
        }
    }
    if let Some(Value::Array(groups)) = table.get("zip") {
        for group in groups {
            if let Value::Table(t) = group {
                let entries = flatten(t, "zip").unwrap_or_default();
                let longest = entries.iter().map(|(_, v)| value_count(v)).max();
                lengths.push(longest.unwrap_or(1));
            }
        }
    }
    if let Some(value) = table.get("seeds") {
        seeds = seeds_count(value);
        check_seeds(seeds, &format!("seeds = {}", short(value)))?;
    }
    check_runs(&lengths, seeds)
}

/// A value for an error message: inline TOML, cut short when long (by the crate's one rule
/// for quoting input, [`crate::shorten`]).
pub fn short(value: &Value) -> String {
    crate::shorten(&value.to_string()).into_owned()
}

/// Most memory one run of a sweep may be expected to need (bytes). Several runs share the
/// machine (`-j`), and an allocation that fails aborts the whole process, not just the run:
/// a point over this is an error row before it starts, never an out-of-memory kill.
pub const MAX_RUN_BYTES: f64 = 4.0 * (1u64 << 30) as f64;

/// The engine's bookkeeping per KV block (reference count, content hash, free-queue links and
/// queue stamp: 4 + 8 + 4 + 4 + 8 bytes), allocated when the block is first used.
const KV_BLOCK_BYTES: f64 = 28.0;

/// What a run keeps per request while its latency samples are exact (three latencies and its
/// share of the inter-token gaps; measured at ~100 bytes); past
/// [`EXACT_SAMPLE_LIMIT`](crate::metrics::EXACT_SAMPLE_LIMIT) samples the metrics switch to
/// fixed-size histograms and stop growing.
const REQUEST_BYTES: f64 = 100.0;

/// Estimates the most memory a run can need and refuses it over [`MAX_RUN_BYTES`], naming the
/// need. KV-block state is allocated as blocks are first used, so a run touches at most the
/// blocks its requests' tokens fill (each request at most `max_seq_len` tokens), never more
/// than the cache has.
pub fn check_run_memory(config: &Config) -> Result<()> {
    let w = &config.workload;
    let requests = match (w.num_requests, w.arrival_rate, w.duration_secs) {
        (Some(n), _, _) => n as f64,
        (None, Some(rate), Some(d)) => rate * d,
        _ => crate::config::MAX_REQUESTS as f64,
    };
    let per_request =
        (f64::from(config.model.max_seq_len) / f64::from(config.scheduler.block_size)).ceil();
    let blocks = (config.kv_cache_blocks()? as f64).min(requests * per_request);
    let samples = requests.min(crate::metrics::EXACT_SAMPLE_LIMIT as f64);
    let need = blocks * KV_BLOCK_BYTES + samples * REQUEST_BYTES;
    if need > MAX_RUN_BYTES {
        let gib = |b: f64| b / (1u64 << 30) as f64;
        bail!(
            "this run could need about {:.1} GiB ({blocks:.0} KV blocks of its tokens), more than \
             the limit of {:.0} GiB per sweep run: lower hardware.kv_cache_capacity or \
             workload.num_requests, or raise scheduler.block_size",
            gib(need),
            gib(MAX_RUN_BYTES)
        );
    }
    Ok(())
}

/// Checks `-j N` against [`MAX_THREADS`].
pub fn check_threads(threads: usize) -> Result<usize> {
    if threads == 0 {
        bail!("-j/--threads 0: give at least 1 thread");
    }
    if threads > MAX_THREADS {
        bail!(
            "-j/--threads {threads}: more than the limit of {MAX_THREADS} worker threads \
             (runs are CPU-bound: use about one per core)"
        );
    }
    Ok(threads)
}

/// How many values an axis entry (a list or a `{ range = [...] }` table) has, without
/// building them. Malformed entries count as one: parsing reports them properly.
pub fn value_count(value: &Value) -> u128 {
    match value {
        Value::Array(items) => items.len() as u128,
        Value::Table(t) => range_count(t).unwrap_or(1),
        _ => 1,
    }
}

/// The length of `{ range = [start, end] }` or `{ range = [start, end, step] }`, in wide
/// arithmetic so that no bounds overflow (None when malformed).
pub fn range_count(t: &Table) -> Option<u128> {
    let Some(Value::Array(items)) = t.get("range") else {
        return None;
    };
    let nums: Vec<i128> = items
        .iter()
        .map(|v| v.as_integer().map(i128::from))
        .collect::<Option<_>>()?;
    let (start, end, step) = match nums[..] {
        [a, b] => (a, b, 1),
        [a, b, s] => (a, b, s),
        _ => return None,
    };
    if start > end || step < 1 {
        return None;
    }
    u128::try_from((end - start) / step + 1).ok()
}

/// The number of seeds `seeds = ...` asks for, without building them.
pub fn seeds_count(value: &Value) -> u128 {
    match value {
        Value::Integer(n) => u128::try_from(*n).unwrap_or(1),
        other => value_count(other),
    }
}

/// Refuses a seed count over [`MAX_SEEDS`], naming where it was asked for.
pub fn check_seeds(count: u128, where_: &str) -> Result<()> {
    if count > u128::from(MAX_SEEDS) {
        bail!("{where_}: {count} seeds, more than the limit of {MAX_SEEDS} seeds per point");
    }
    Ok(())
}

/// Refuses a grid of more than [`MAX_RUNS`] runs. `axis_lengths` are the lengths of the
/// base-file axis and of every axis or zip group; the product saturates instead of wrapping.
pub fn check_runs(axis_lengths: &[u128], seeds: u128) -> Result<()> {
    let points = axis_lengths
        .iter()
        .fold(1u128, |acc, &n| acc.saturating_mul(n));
    let runs = points.saturating_mul(seeds);
    if runs > u128::from(MAX_RUNS) {
        bail!(
            "the grid has {runs} runs ({points} points x {seeds} seeds), more than the limit \
             of {MAX_RUNS} runs per sweep: split it into several specs"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(capacity: &str, block_size: u32, requests: u64) -> Config {
        Config::from_toml_str(&format!(
            r#"
            [hardware]
            name = "toy"
            compute_flops = 1e12
            memory_bandwidth = 1e11
            memory_capacity = 1e10
            kv_cache_capacity = {capacity}
            bytes_per_param = 1
            [model]
            name = "toy"
            num_parameters = 1000000
            num_layers = 1
            hidden_dim = 64
            num_heads = 1
            max_seq_len = 100000
            [scheduler]
            max_num_batched_tokens = 512
            max_num_seqs = 8
            policy = "fcfs"
            enable_chunked_prefill = true
            block_size = {block_size}
            [workload]
            arrival_pattern = "batched"
            num_requests = {requests}
            input_len_dist = {{ type = "fixed", value = 10 }}
            output_len_dist = {{ type = "fixed", value = 5 }}
            "#
        ))
        .unwrap()
    }

    #[test]
    fn run_memory_counts_the_blocks_a_run_can_fill() {
        // A cache of 3.9e9 one-token blocks: a short run touches a few, and passes...
        assert!(check_run_memory(&config("5e11", 1, 30)).is_ok());
        // ...ten million requests of up to 100,000 tokens could touch all of them (109 GiB).
        let e = check_run_memory(&config("5e11", 1, 10_000_000))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GiB") && e.contains("3906250000 KV blocks"),
            "{e}"
        );
        // 32-token blocks: 1.2e8 blocks (3.4 GB) fit under 4 GiB again.
        assert!(check_run_memory(&config("5e11", 32, 10_000_000)).is_ok());
    }

    fn range(text: &str) -> Table {
        format!("range = {text}").parse().unwrap()
    }

    #[test]
    fn ranges_are_counted_without_overflow() {
        assert_eq!(range_count(&range("[1, 10]")), Some(10));
        assert_eq!(range_count(&range("[1, 10, 4]")), Some(3));
        let full = range_count(&range(&format!("[{}, {}]", i64::MIN, i64::MAX))).unwrap();
        assert_eq!(full, 1u128 << 64);
        assert_eq!(range_count(&range("[5, 1]")), None);
        assert_eq!(range_count(&range("[1, 5, 0]")), None);
    }

    #[test]
    fn the_run_limit_names_the_runs_asked_for() {
        check_runs(&[1000, 1000], 1).unwrap();
        let e = check_runs(&[1000, 1000], 2).unwrap_err().to_string();
        let runs = 1000 * 1000 * 2;
        assert!(e.contains(&format!("{runs} runs")), "{e}");
        assert!(e.contains(&MAX_RUNS.to_string()), "{e}");
        // Three ranges of ten million values: counted, never listed, never wrapped.
        let huge = 10_000_000u128;
        let e = check_runs(&[huge, huge, huge], 1).unwrap_err().to_string();
        assert!(e.contains(&(huge * huge * huge).to_string()), "{e}");
    }

    #[test]
    fn seeds_and_threads_have_limits_named_in_the_error() {
        check_seeds(u128::from(MAX_SEEDS), "seeds").unwrap();
        let e = check_seeds(u128::from(MAX_SEEDS) + 1, "seeds")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&(MAX_SEEDS + 1).to_string()) && e.contains(&MAX_SEEDS.to_string()),
            "{e}"
        );
        assert_eq!(check_threads(MAX_THREADS).unwrap(), MAX_THREADS);
        let e = check_threads(100_000).unwrap_err().to_string();
        assert!(
            e.contains("100000") && e.contains(&MAX_THREADS.to_string()),
            "{e}"
        );
        assert!(check_threads(0).is_err());
        assert_eq!(seeds_count(&Value::Integer(i64::MAX)), i64::MAX as u128);
    }
}
