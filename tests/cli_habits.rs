//! End-to-end tests of the command line's everyday habits: shell completions, examples and
//! exit codes in every `--help`, usage errors that name what is missing, `-o -`, `--set`,
//! `validate`, and the seed-era spellings (`-t`, `policy = "sjf"`). The report's own habits (one
//! metric vocabulary, the overload warning) are in tests/cli_report.rs.

mod common;

use common::cli::{describe, run, text, TempDir, ROOT, TINY};

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// Asserts exit 1, nothing on stdout and one `error:` line on stderr; returns that line.
fn one_line_error(out: &Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", describe(out));
    assert!(out.stdout.is_empty(), "{what}: {}", describe(out));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr:?}");
    assert!(stderr.starts_with("error:"), "{what}: {stderr:?}");
    stderr
}

/// `-q -c config -o - extra...`: the JSON document from stdout.
fn json_run(config: &str, extra: &[&str]) -> Value {
    let mut args = vec!["-q", "-c", config, "-o", "-"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    assert!(out.stderr.is_empty(), "{args:?}: {}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("-o - writes one JSON document on stdout")
}

fn metrics_only(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let obj = doc.as_object_mut().expect("the document is an object");
    obj.remove("config");
    obj.remove("version");
    doc
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", describe(&out));
        let script = text(&out.stdout);
        assert!(script.contains("inference-lab"), "{shell}: {script}");
        for word in ["sweep", "calibrate", "validate", "config", "set"] {
            assert!(script.contains(word), "{shell}: no {word} in the script");
        }
    }
    let stderr = one_line_error(&run(&["completions", "tcsh"]), "tcsh");
    assert!(stderr.contains("tcsh"), "{stderr:?}");
}

#[test]
fn every_help_has_examples_and_exit_codes() {
    let commands: [&[&str]; 9] = [
        &[],
        &["sweep"],
        &["sweep", "merge"],
        &["calibrate"],
        &["calibrate", "fit"],
        &["calibrate", "predict"],
        &["validate"],
        &["report"],
        &["completions"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
        let help = text(&out.stdout);
        let examples = help
            .find("\nExamples:\n")
            .unwrap_or_else(|| panic!("{args:?}: no Examples:\n{help}"));
        let codes = help
            .find("\nExit codes:\n")
            .unwrap_or_else(|| panic!("{args:?}: no Exit codes:\n{help}"));
        assert!(examples < codes, "{args:?}: exit codes before examples");
        // Each example is a command of this subcommand, and exit codes 0 and 1 are explained.
        let prefix = ["inference-lab"]
            .iter()
            .chain(command)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            help[examples..codes].contains(&prefix),
            "{args:?}: examples of `{prefix}`:\n{help}"
        );
        assert!(
            help[codes..].contains("  0  ") && help[codes..].contains("  1  "),
            "{args:?}:\n{help}"
        );
    }
}

#[test]
fn a_missing_required_argument_is_named() {
    let cases: [(&[&str], &[&str]); 6] = [
        (&["calibrate", "fit"], &["--steps", "--config"]),
        (&["calibrate", "predict", "--steps", "x.csv"], &["--config"]),
        (&["validate"], &["CONFIG"]),
        (&["sweep"], &["SPEC_OR_GLOB"]),
        (&["report"], &["RESULTS_DIR|RUN.json"]),
        (&["completions"], &["SHELL"]),
    ];
    for (args, names) in cases {
        let stderr = one_line_error(&run(args), &format!("{args:?}"));
        for name in names {
            assert!(
                stderr.contains(name),
                "{args:?}: {name} not named in {stderr:?}"
            );
        }
        let command: Vec<&str> = args
            .iter()
            .copied()
            .take_while(|a| !a.starts_with('-'))
            .collect();
        let help = format!("inference-lab {} --help", command.join(" "));
        assert!(
            stderr.contains(&help),
            "{args:?}: no {help:?} in {stderr:?}"
        );
    }
    let stderr = one_line_error(&run(&["calibrate"]), "calibrate");
    assert!(
        stderr.contains("fit") && stderr.contains("predict"),
        "{stderr:?}"
    );
}

#[test]
fn output_dash_writes_only_the_json_to_stdout() {
    let dir = TempDir::new("output_dash");
    let file = dir.join("out.json");
    let out = run(&[
        OsStr::new("-c"),
        OsStr::new(TINY),
        OsStr::new("-o"),
        file.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let from_file: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("-o FILE")).expect("JSON");
    // Not quiet: still nothing but the JSON on stdout.
    let out = run(&["-c", TINY, "-o", "-"]);
    assert!(out.status.success(), "{}", describe(&out));
    let from_stdout: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert_eq!(from_stdout, from_file);
    assert!(
        !Path::new(ROOT).join("-").exists(),
        "-o - wrote a file named -"
    );
}

#[test]
fn set_overrides_fields_after_seed_and_later_sets_win() {
    let seven = json_run(TINY, &["--seed", "7"]);
    let set_seed = json_run(TINY, &["--set", "workload.seed=7"]);
    assert_eq!(
        seven, set_seed,
        "--set workload.seed=7 differs from --seed 7"
    );

    let five = json_run(TINY, &["--seed", "5"]);
    assert_ne!(
        metrics_only(&five),
        metrics_only(&seven),
        "seeds 5 and 7 gave equal runs"
    );
    let both = json_run(TINY, &["--seed", "7", "--set", "workload.seed=5"]);
    assert_eq!(both, five, "--set applies after --seed");
    let twice = json_run(
        TINY,
        &["--set", "workload.seed=7", "--set", "workload.seed=5"],
    );
    assert_eq!(twice, five, "the later --set wins");

    // TOML values: a number, a bare string, an inline table.
    let doc = json_run(
        TINY,
        &[
            "--set",
            "scheduler.max_num_seqs=3",
            "--set",
            "scheduler.policy=lof",
            "--set",
            "workload.output_len_dist={ type = \"fixed\", value = 5 }",
        ],
    );
    let scheduler = &doc["config"]["scheduler"];
    assert_eq!(scheduler["max_num_seqs"], 3);
    assert_eq!(scheduler["policy"], "lof");
    assert_eq!(
        doc["config"]["workload"]["output_len_dist"],
        serde_json::json!({"type": "fixed", "value": 5})
    );
    let requests = doc["metrics"]["requests_completed"]
        .as_u64()
        .expect("a count");
    assert_eq!(doc["metrics"]["output_tokens"].as_u64(), Some(5 * requests));
}

#[test]
fn bad_set_arguments_are_one_line_errors_naming_the_override() {
    let cases: [(&str, &[&str]); 6] = [
        ("scheduler.policy", &["no `=`"]),
        ("bogus.key=1", &["bogus.key", "sections"]),
        ("scheduler=1", &["scheduler", "section.field"]),
        (
            "scheduler.bogus=1",
            &["--set scheduler.bogus=1", "allowed keys"],
        ),
        (
            "scheduler.max_num_seqs=many",
            &["--set scheduler.max_num_seqs=\"many\""],
        ),
        ("scheduler.max_num_seqs=0", &["max_num_seqs", "--set"]),
    ];
    for (set, needles) in cases {
        let stderr = one_line_error(&run(&["-q", "-c", TINY, "--set", set]), set);
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "--set {set}: no {needle:?} in {stderr:?}"
            );
        }
    }
}

#[test]
fn sjf_is_shortest_output_first() {
    // Two running requests at most, so requests queue and the policy matters.
    let seqs = "scheduler.max_num_seqs=2";
    let sjf = json_run(TINY, &["--set", seqs, "--set", "scheduler.policy=sjf"]);
    let sof = json_run(TINY, &["--set", seqs, "--set", "scheduler.policy=sof"]);
    assert_eq!(sjf, sof, "sjf and sof differ");
    let fcfs = json_run(TINY, &["--set", seqs]);
    assert_ne!(
        metrics_only(&sof),
        metrics_only(&fcfs),
        "the policy had no effect to compare"
    );

    // In a config file too.
    let dir = TempDir::new("sjf");
    let config = dir.join("sjf.toml");
    let tiny = std::fs::read_to_string(TINY).expect("read tiny.toml");
    std::fs::write(
        &config,
        tiny.replace("policy = \"fcfs\"", "policy = \"sjf\""),
    )
    .expect("write");
    let from_file = json_run(config.to_str().expect("UTF-8 path"), &["--set", seqs]);
    assert_eq!(metrics_only(&from_file), metrics_only(&sof));
}

#[test]
fn sjf_in_a_sweep_gives_the_rows_of_sof() {
    let dir = TempDir::new("sjf_sweep");
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"sjf\"\nbase = {TINY:?}\n[set]\nscheduler.max_num_seqs = 2\n\
             [axes]\nscheduler.policy = [\"sjf\", \"sof\", \"fcfs\"]\n"
        ),
    )
    .expect("write a spec");
    let results = dir.join("results");
    let out = run(&[
        OsStr::new("sweep"),
        spec.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("--format"),
        OsStr::new("csv"),
        OsStr::new("-o"),
        results.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let csv = std::fs::read_to_string(results.join("runs.csv")).expect("runs.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let wall = header
        .iter()
        .position(|h| *h == "wall_ms")
        .expect("wall_ms");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert_eq!(
        rows[0][wall + 1..],
        rows[1][wall + 1..],
        "sjf and sof rows differ:\n{csv}"
    );
    assert_ne!(
        rows[0][wall + 1..],
        rows[2][wall + 1..],
        "the policy had no effect:\n{csv}"
    );
}

#[test]
fn validate_prints_one_line_per_config_and_fails_on_any_invalid() {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("configs"))
        .expect("configs/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension() == Some(OsStr::new("toml")))
        .collect();
    configs.sort();
    let mut args = vec![OsStr::new("validate")];
    args.extend(configs.iter().map(|p| p.as_os_str()));
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), configs.len(), "{stdout}");
    for (line, config) in stdout.lines().zip(&configs) {
        assert!(
            line.starts_with(&format!("ok: {}: ", config.display())),
            "{line}"
        );
        assert!(
            line.contains("KV blocks") && line.contains("KV bytes/token"),
            "{line}"
        );
    }

    let dir = TempDir::new("validate");
    let bad = dir.join("bad.toml");
    let tiny = std::fs::read_to_string(TINY).expect("read tiny.toml");
    std::fs::write(&bad, tiny.replace("max_num_seqs = 256", "max_num_seqs = 0")).expect("write");
    let out = run(&[OsStr::new("validate"), OsStr::new(TINY), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(text(&out.stdout).lines().count(), 1, "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.starts_with("error:")
            && stderr.contains("bad.toml")
            && stderr.contains("max_num_seqs"),
        "{stderr:?}"
    );

    // --set is checked like a run's.
    let out = run(&["validate", TINY, "--set", "scheduler.max_num_seqs=0"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

#[test]
fn validate_loads_a_dataset_only_with_a_tokenizer_and_t_is_tokenizer() {
    let config = "examples/seed-era/dataset_config.toml";
    let out = run(&["validate", config]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let line = text(&out.stdout);
    assert!(
        line.contains("not loaded") && line.contains("--tokenizer"),
        "{line}"
    );

    let tokenizer = "data/tokenizers/qwen3/tokenizer.json";
    let long = run(&[
        "validate",
        config,
        "--tokenizer",
        tokenizer,
        "--chat-template",
        "None",
    ]);
    let short = run(&[
        "validate",
        config,
        "-t",
        tokenizer,
        "--chat-template",
        "None",
    ]);
    assert_eq!(long.status.code(), Some(0), "{}", describe(&long));
    assert!(
        text(&long.stdout).contains("requests loaded"),
        "{}",
        describe(&long)
    );
    assert_eq!(long.stdout, short.stdout, "-t differs from --tokenizer");

    // A run takes -t too.
    let run_short = run(&[
        "-q",
        "-c",
        config,
        "-t",
        tokenizer,
        "--chat-template",
        "None",
        "-o",
        "-",
    ]);
    let run_long = run(&[
        "-q",
        "-c",
        config,
        "--tokenizer",
        tokenizer,
        "--chat-template",
        "None",
        "-o",
        "-",
    ]);
    assert!(run_short.status.success(), "{}", describe(&run_short));
    assert_eq!(run_short.stdout, run_long.stdout);
}
