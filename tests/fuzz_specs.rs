//! Fuzzing the sweep with mutated specs: whatever the spec says, the binary exits 0 or 2 with
//! finite numbers in its tables, or 1 with a short message; within a time and memory cap,
//! never a panic (101) or a signal. A few dozen cases, each a small sweep of the tiny config,
//! so the whole test stays well under 30 s in a debug build.

mod capped;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use capped::run_capped;
use proptest::prelude::*;
use proptest::sample::select;

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny.toml");

/// Names a spec may give (some are not valid folder names).
const NAMES: &[&str] = &["\"s\"", "\"../up\"", "\"\"", "\"a/b\"", "3", "\"x.y-z_1\""];

/// `seeds = ...` right-hand sides: counts, lists, ranges, over the limits and of wrong types.
const SEEDS: &[&str] = &[
    "",
    "seeds = 2",
    "seeds = 0",
    "seeds = -3",
    "seeds = 9223372036854775807",
    "seeds = 4294967296",
    "seeds = [1, 1]",
    "seeds = [5, 9]",
    "seeds = []",
    "seeds = \"x\"",
    "seeds = 1.5",
    "seeds = { range = [1, 3] }",
    "seeds = { range = [-9223372036854775808, 9223372036854775807] }",
];

/// Config paths an axis may vary (some unknown, some fields of the wrong kind).
const PATHS: &[&str] = &[
    "scheduler.max_num_seqs",
    "scheduler.max_num_batched_tokens",
    "hardware.kv_cache_capacity",
    "workload.num_requests",
    "scheduler.policy",
    "scheduler.block_size",
    "workload.seed",
    "bogus.field",
    "hardware.no_such_key",
    "workload",
];

/// Axis values: small lists, empty ones, ranges small and absurd, values of every type.
const VALUES: &[&str] = &[
    "[4, 8]",
    "[1]",
    "[0]",
    "[-5]",
    "[1e11, 5e14]",
    "[1e300]",
    "[\"fcfs\", \"sif\"]",
    "[\"nonsense\"]",
    "[]",
    "\"scalar\"",
    "[true]",
    "[nan]",
    "{ range = [1, 3] }",
    "{ range = [16, 64, 16] }",
    "{ range = [1000000, 10000000] }",
    "{ range = [5, 1] }",
    "{ range = [-9223372036854775808, 9223372036854775807] }",
    "[1000000000000]",
    "{ nope = 1 }",
];

/// Extra sections: exclusions and zips matching or not matching the axes.
const EXTRAS: &[&str] = &[
    "",
    "[[exclude]]\nscheduler.max_num_seqs = 4\n",
    "[[exclude]]\nscheduler.max_num_seqs = \"4\"\n",
    "[[exclude]]\nscheduler.max_num_seqs = 4.0\n",
    "[[exclude]]\nscheduler.policy = [\"sif\", \"fcfs\"]\n",
    "[[exclude]]\n",
    "[[zip]]\nscheduler.max_num_seqs = [4, 8]\nworkload.num_requests = [5, 10]\n",
    "[[zip]]\nscheduler.max_num_seqs = [4, 8]\nworkload.num_requests = [5]\n",
    "[set]\nworkload.num_requests = 12\n",
    "[set]\nworkload.num_requests = \"many\"\n",
    "[[exclude]]\nhardware.kv_cache_capacity = 5e14\n",
];

/// Axes that parse, most of which run: what a mutation starts from.
const GOOD_AXES: &[(&str, &str)] = &[
    ("scheduler.max_num_seqs", "[4, 8]"),
    ("scheduler.max_num_seqs", "{ range = [1, 3] }"),
    ("scheduler.policy", "[\"fcfs\", \"sif\"]"),
    ("hardware.kv_cache_capacity", "[1e11, 5e14]"),
    ("hardware.kv_cache_capacity", "[1e300]"),
    ("workload.num_requests", "[1000000000000]"),
    ("workload.num_requests", "[0, 5]"),
    ("scheduler.block_size", "[0, 16]"),
    ("scheduler.block_size", "[1]"),
    (
        "scheduler.max_num_batched_tokens",
        "{ range = [16, 64, 16] }",
    ),
];

/// Seed lines that parse.
const GOOD_SEEDS: &[&str] = &["", "seeds = 2", "seeds = [5, 9]"];

/// Top-level lines, valid or not, that go before the tables.
const TOP: &[&str] = &["exclude = 3", "zip = \"x\"", "set = 1", "extra = 1"];

fn spec_text(top: [&str; 3], axes: &[(&str, &str)], extra: &str, cut: usize) -> String {
    let [name, seeds, line] = top;
    let mut text = format!(
        "name = {name}\nbase = {}\n{seeds}\n{line}\n[axes]\n",
        toml::Value::from(TINY)
    );
    let mut seen = Vec::new();
    for (path, values) in axes {
        // A path given twice is a TOML error every time: keep the first, vary the rest.
        if !seen.contains(path) {
            seen.push(*path);
            text.push_str(&format!("{path} = {values}\n"));
        }
    }
    text.push_str(extra);
    // Sometimes truncate the text mid-way (at a char boundary): a half-written spec.
    if cut > 0 {
        let keep = text.len() * cut / 8;
        let keep = (0..=keep)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(keep);
    }
    text
}

/// Every value of the CSV tables in `dir` that is not a finite number where a number stands.
fn non_finite(dir: &std::path::Path) -> Vec<String> {
    let mut bad = Vec::new();
    for table in ["runs.csv", "summary.csv"] {
        let text = std::fs::read_to_string(dir.join(table)).unwrap_or_default();
        for field in text.lines().skip(1).flat_map(|l| l.split(',')) {
            let f = field.trim().to_ascii_lowercase();
            if ["nan", "inf", "-inf", "infinity", "-infinity"].contains(&f.as_str()) {
                bad.push(format!("{table}: {field}"));
            }
        }
    }
    bad
}

fn scratch() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("inference-lab-fuzz-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_specs_never_crash_hang_or_print_non_numbers(
        name in prop_oneof![3 => Just("\"s\""), 1 => select(NAMES)],
        seeds in prop_oneof![3 => select(GOOD_SEEDS), 1 => select(SEEDS)],
        line in prop_oneof![6 => Just(""), 1 => select(TOP)],
        axes in prop::collection::vec(
            prop_oneof![3 => select(GOOD_AXES), 1 => (select(PATHS), select(VALUES))],
            0..3,
        ),
        extra in prop_oneof![2 => Just(""), 1 => select(EXTRAS)],
        cut in prop_oneof![6 => Just(0usize), 1 => 1usize..8],
        dry_run in any::<bool>(),
    ) {
        let dir = scratch();
        let text = spec_text([name, seeds, line], &axes, extra, cut);
        let spec = dir.join("spec.toml");
        std::fs::write(&spec, &text).expect("write the spec");
        let out_dir = dir.join("out");
        let mut cmd = Command::new(BIN);
        cmd.arg("sweep").arg(&spec).arg("-o").arg(&out_dir)
            .args(["-j", "2", "--format", "csv", "-q"])
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX");
        if dry_run {
            cmd.arg("--dry-run");
        }
        let out = run_capped(cmd, Duration::from_secs(20), 3 << 30);
        let what = format!("spec:\n{text}\n{}", out.describe());
        prop_assert!(out.status.is_some(), "hung: {what}");
        match out.code() {
            Some(0) | Some(2) => {
                if !dry_run {
                    prop_assert!(out_dir.join("runs.csv").is_file(), "no tables: {what}");
                    let bad = non_finite(&out_dir);
                    prop_assert!(bad.is_empty(), "{bad:?}: {what}");
                }
            }
            Some(1) => {
                let err = out.stderr.trim();
                prop_assert!(err.starts_with("error"), "no message: {what}");
                prop_assert!(err.lines().all(|l| l.len() < 600), "long message: {what}");
            }
            _ => prop_assert!(false, "crashed (panic or signal): {what}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
