//! End-to-end tests of `inference-lab calibrate fit|predict`: the real binary on the measured
//! H100 file (data/h100-steps) and on small files written into temp folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn train_csv() -> PathBuf {
    Path::new(ROOT).join("data/h100-steps/h100-llama3-8b-bf16-train.csv")
}

fn chat_config() -> PathBuf {
    Path::new(ROOT).join("configs/chat-llama3-8b-h100.toml")
}

/// A scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "inference-lab-calibrate-{}-{test}",
            std::process::id()
        ));
        if path.exists() {
            std::fs::remove_dir_all(&path).unwrap();
        }
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run inference-lab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// Exit 1 with one line on stderr containing every one of `says`.
fn fails_with(o: &Output, says: &[&str]) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for s in says {
        assert!(err.contains(s), "stderr lacks {s:?}: {err}");
    }
}

/// The text between a heading line and the next blank line.
fn section(text: &str, heading: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in:\n{text}"));
    let rest = &text[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    rest[..end].trim_end().to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn fit_on_the_h100_file_then_predict_reproduces_its_errors() {
    let dir = TempDir::new("fit-predict");
    let out = dir.join("calibrated.toml");
    let fit = run(&[
        "calibrate",
        "fit",
        "--steps",
        s(&train_csv()),
        "--config",
        s(&chat_config()),
        "--fix",
        "memory_efficiency=0.9",
        "-o",
        s(&out),
    ]);
    ok(&fit);
    let fit_text = stdout(&fit);
    assert!(fit_text.contains("fitted to 55 rows"), "{fit_text}");
    assert!(fit_text.contains("fitted rows: MAPE "), "{fit_text}");
    assert!(fit_text.contains("Cross-validation"), "{fit_text}");
    for fold in [
        "phase decode",
        "phase prefill",
        "phase mixed",
        "n_seqs >= 128",
        "5-fold pooled",
    ] {
        assert!(fit_text.contains(fold), "no {fold} in {fit_text}");
    }
    // The fit is good on its own rows: graph-mode MAPE under 3%.
    let graph = fit_text
        .lines()
        .find(|l| l.trim_start().starts_with("all/graph"))
        .unwrap();
    let mape: f64 = graph
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(mape < 3.0, "{graph}");

    // The written config loads, keeps the source config's comments, and predict with it
    // prints exactly the fit's error table.
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("# NVIDIA H100 Tensor Core GPU datasheet"));
    assert!(written.contains("# Calibrated by inference-lab calibrate fit: "));
    assert!(written.contains("memory_efficiency = 0.9 "));
    let predict = run(&[
        "calibrate",
        "predict",
        "--steps",
        s(&train_csv()),
        "-c",
        s(&out),
    ]);
    ok(&predict);
    let predict_text = stdout(&predict);
    assert_eq!(
        section(&predict_text, "Errors (every measured row)"),
        section(&fit_text, "Errors (every measured row)")
    );
    // And the simulator runs with it.
    ok(&run(&["-c", s(&out), "-q"]));
}

#[test]
fn predict_writes_a_csv_with_predicted_ms() {
    let dir = TempDir::new("predict-csv");
    let steps = dir.write(
        "steps.csv",
        "phase,sequences,median_ms\ndecode,1x1@512,5.0\nprefill,\"1x512@512\",\nmixed,1x512@512;64x1@2048,20\n",
    );
    let out = dir.join("out.csv");
    let o = run(&[
        "calibrate",
        "predict",
        "--steps",
        s(&steps),
        "-c",
        s(&chat_config()),
        "-o",
        s(&out),
    ]);
    ok(&o);
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "phase,sequences,median_ms,predicted_ms,error_pct");
    assert_eq!(lines.len(), 4);
    // The uncalibrated config is the plain roofline: 64 decodes and nothing else at context
    // 512 -> 1 decode: bytes = 8.03e9 x 2 + 131072 x 511.5 = 16_127_043_328 B / 3.35e12 B/s.
    let decode: Vec<&str> = lines[1].split(',').collect();
    let predicted: f64 = decode[3].parse().unwrap();
    assert!(
        (predicted - 16_127_043_328.0 / 3.35e12 * 1e3).abs() < 1e-4,
        "{}",
        lines[1]
    );
    assert_eq!(decode[4], format!("{:.2}", (predicted / 5.0 - 1.0) * 100.0));
    // The unmeasured row has no error.
    assert!(lines[2].ends_with(','), "{}", lines[2]);
    let text = stdout(&o);
    assert!(text.contains("Errors (every measured row)"), "{text}");
    assert!(text.contains(&format!("wrote {}", out.display())));

    // `-o -`: the CSV on stdout, the report on stderr.
    let o = run(&[
        "calibrate",
        "predict",
        "--steps",
        s(&steps),
        "-c",
        s(&chat_config()),
        "-o",
        "-",
    ]);
    ok(&o);
    assert_eq!(stdout(&o), csv);
    assert!(stderr(&o).contains("Rows (ms)"));
}

#[test]
fn predict_without_measured_times() {
    let dir = TempDir::new("predict-unmeasured");
    let steps = dir.write("steps.csv", "sequences\n8x1@1024\n1x2048@2048\n");
    let o = run(&[
        "calibrate",
        "predict",
        "--steps",
        s(&steps),
        "-c",
        s(&chat_config()),
    ]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("8x1@1024"));
    assert!(!text.contains("Errors"), "{text}");
}

#[test]
fn bad_steps_files_fail_with_one_line_naming_the_row() {
    let dir = TempDir::new("bad");
    let config = chat_config();
    let header = "phase,mode,sequences,median_ms\n";
    let good: String = (0..10)
        .map(|i| format!("decode,graph,{}x1@1024,{}\n", 1 + 8 * i, 7.0 + f64::from(i)))
        .collect();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "malformed.csv",
            format!("{header}{good}decode,graph,8x1@,9\n"),
            vec!["malformed.csv line 12: sequences `8x1@` is malformed"],
        ),
        (
            "zero.csv",
            format!("{header}decode,graph,0x1@512,9\n{good}"),
            vec!["zero.csv line 2:", "zero new tokens"],
        ),
        ("empty.csv", String::new(), vec!["empty.csv is empty"]),
        (
            "header-only.csv",
            header.to_string(),
            vec!["has a header but no rows"],
        ),
        (
            "few.csv",
            format!("{header}decode,graph,1x1@512,6.7\ndecode,graph,8x1@512,7.1\n"),
            vec![
                "2 rows to fit (mode graph) but the fit has 5 free parameters",
                "at least 6 rows",
            ],
        ),
        (
            "unmeasured.csv",
            format!("{header}{good}decode,graph,4x1@512,\n"),
            vec!["unmeasured.csv line 12: no median_ms for 4x1@512"],
        ),
        (
            "bad-median.csv",
            format!("{header}decode,graph,4x1@512,abc\n"),
            vec!["bad-median.csv line 2: median_ms `abc`"],
        ),
        (
            "ragged.csv",
            format!("{header}decode,graph,4x1@512\n"),
            vec!["ragged.csv line 2: 3 fields, but the header has 4 columns"],
        ),
        (
            "no-sequences.csv",
            "phase,median_ms\ndecode,1\n".to_string(),
            vec!["no-sequences.csv line 1: no `sequences` column"],
        ),
    ];
    for (name, text, says) in cases {
        let path = dir.write(name, &text);
        let o = run(&[
            "calibrate",
            "fit",
            "--steps",
            s(&path),
            "-c",
            s(&config),
            "--no-cv",
        ]);
        fails_with(&o, &says);
    }
    // predict reads the same way.
    let path = dir.write("p.csv", "sequences\n1x1@512\n1xx@3\n");
    fails_with(
        &run(&[
            "calibrate",
            "predict",
            "--steps",
            s(&path),
            "-c",
            s(&config),
        ]),
        &["p.csv line 3: sequences `1xx@3` is malformed"],
    );
    // A missing file.
    fails_with(
        &run(&[
            "calibrate",
            "predict",
            "--steps",
            s(&dir.join("nope.csv")),
            "-c",
            s(&config),
        ]),
        &["cannot read steps file", "nope.csv"],
    );
}

#[test]
fn a_fit_that_does_not_converge_names_the_worst_row() {
    let o = run(&[
        "calibrate",
        "fit",
        "--steps",
        s(&train_csv()),
        "-c",
        s(&chat_config()),
        "--max-iterations",
        "1",
        "--no-cv",
    ]);
    fails_with(
        &o,
        &["the fit did not converge in 1 iterations (worst row so far: line "],
    );
}

#[test]
fn bad_fit_options_fail_clearly() {
    let config = chat_config();
    let csv = train_csv();
    let base = [
        "calibrate",
        "fit",
        "--steps",
        s(&csv),
        "-c",
        s(&config),
        "--no-cv",
    ];
    let with = |extra: &[&str]| run(&[&base[..], extra].concat());
    fails_with(
        &with(&["--fix", "memory_efficiency"]),
        &["expected NAME=VALUE"],
    );
    fails_with(&with(&["--fix", "speed=2"]), &["unknown parameter speed"]);
    fails_with(
        &with(&["--fix", "compute_efficiency=1.5"]),
        &["--fix compute_efficiency=1.5: compute_efficiency must be in [0.01, 1]"],
    );
    fails_with(
        &with(&["--fix", "causal_attention=maybe"]),
        &["true or false"],
    );
    fails_with(
        &with(&["--free", "causal_attention"]),
        &["not a fittable parameter"],
    );
    fails_with(&run(&["calibrate"]), &["requires a subcommand"]);
    fails_with(&with(&["--max-iterations", "0"]), &["give at least 1"]);
    fails_with(
        &with(&["--mode", "turbo"]),
        &["no rows of mode turbo (its modes: eager, graph)"],
    );
}

#[test]
fn fit_options_change_what_is_fitted() {
    // All rows, with causal counting off and the overlap held at the roofline's: a worse fit,
    // but a fit; the parameters table says what was held.
    let o = run(&[
        "calibrate",
        "fit",
        "--steps",
        s(&train_csv()),
        "-c",
        s(&chat_config()),
        "--mode",
        "all",
        "--fix",
        "causal_attention=false",
        "--fix",
        "attention_overlap=1",
        "--no-cv",
    ]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("fitted to 102 rows"), "{text}");
    assert!(text.contains("(every mode)"), "{text}");
    let overlap = text
        .lines()
        .find(|l| l.trim_start().starts_with("attention_overlap"))
        .unwrap();
    assert!(overlap.contains(" 1  held"), "{overlap}");
    let causal = text
        .lines()
        .find(|l| l.trim_start().starts_with("causal_attention"))
        .unwrap();
    assert!(causal.contains("false"), "{causal}");
}

#[test]
fn the_shipped_calibrated_config_matches_a_fresh_fit() {
    // configs/chat-llama3-8b-h100-calibrated.toml is what the README's command writes.
    let dir = TempDir::new("shipped");
    let out = dir.join("fresh.toml");
    ok(&run(&[
        "calibrate",
        "fit",
        "--steps",
        s(&train_csv()),
        "-c",
        s(&chat_config()),
        "--fix",
        "memory_efficiency=0.9",
        "--no-cv",
        "-q",
        "-o",
        s(&out),
    ]));
    let fresh = inference_lab::Config::load(&out).unwrap();
    let shipped = inference_lab::Config::load(
        &Path::new(ROOT).join("configs/chat-llama3-8b-h100-calibrated.toml"),
    )
    .unwrap();
    assert_eq!(fresh.hardware, shipped.hardware);
}

#[test]
fn the_calibration_sweep_sets_the_shipped_parameters_by_dotted_path() {
    // sweeps/calibration.toml's second values are the shipped calibrated config's.
    let spec: toml::Table =
        std::fs::read_to_string(Path::new(ROOT).join("sweeps/calibration.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let shipped = inference_lab::Config::load(
        &Path::new(ROOT).join("configs/chat-llama3-8b-h100-calibrated.toml"),
    )
    .unwrap();
    let hw = serde_json::to_value(&shipped.hardware).unwrap();
    let zip = spec["zip"].as_array().unwrap()[0].as_table().unwrap();
    assert_eq!(zip.len(), 8);
    for (path, values) in zip {
        let key = path.strip_prefix("hardware.").unwrap();
        let calibrated = &values.as_array().unwrap()[1];
        let want = &hw[key];
        match calibrated {
            toml::Value::Boolean(b) => assert_eq!(want.as_bool(), Some(*b), "{key}"),
            v => assert_eq!(want.as_f64(), v.as_float(), "{key}"),
        }
    }

    // Run it: the calibrated chat point is the shipped config's run, number for number.
    let dir = TempDir::new("sweep");
    let results = dir.join("results");
    let spec_path = Path::new(ROOT).join("sweeps/calibration.toml");
    ok(&run(&[
        "sweep",
        s(&spec_path),
        "-o",
        s(&results),
        "--format",
        "csv",
        "-q",
    ]));
    let runs = std::fs::read_to_string(results.join("runs.csv")).unwrap();
    let mut lines = runs.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    let json = dir.join("run.json");
    ok(&run(&[
        "-c",
        s(&Path::new(ROOT).join("configs/chat-llama3-8b-h100-calibrated.toml")),
        "-q",
        "-o",
        s(&json),
    ]));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let calibrated_chat = rows
        .iter()
        .find(|r| r[col("base")].contains("chat") && r[col("hardware.causal_attention")] == "true")
        .unwrap();
    let ttft: f64 = calibrated_chat[col("ttft_ms_mean")].parse().unwrap();
    assert_eq!(
        ttft,
        doc["latency_metrics"]["ttft_ms"]["mean"].as_f64().unwrap()
    );
    // And calibration slows every point down.
    for base in ["blog", "chat"] {
        let ttft = |causal: &str| -> f64 {
            rows.iter()
                .find(|r| {
                    r[col("base")].contains(base) && r[col("hardware.causal_attention")] == causal
                })
                .unwrap()[col("ttft_ms_mean")]
            .parse()
            .unwrap()
        };
        assert!(ttft("true") > 1.4 * ttft("false"), "{base}");
    }
}

fn moe_csv() -> PathBuf {
    Path::new(ROOT).join("data/h100-steps/h100-qwen3-30b-a3b-moe-bf16-train.csv")
}

/// The MoE rows: the shipped MoE config (H100 preset, its MoE calibration) prices them as
/// its fit did, the fit recovers that calibration with the README's command, and the dense
/// (Llama) calibration transfers with the error the README quotes.
#[test]
fn moe_rows_fit_and_the_dense_calibration_transfers_in_shape() {
    let config = Path::new(ROOT).join("configs/moe-qwen3-30b-a3b-h100.toml");
    let (csv, config) = (moe_csv(), config);
    let (csv, config) = (csv.to_str().unwrap(), config.to_str().unwrap());
    let fit = run(&[
        "calibrate",
        "fit",
        "--steps",
        csv,
        "-c",
        config,
        "--fix",
        "memory_efficiency=0.9",
        "--fix",
        "attention_efficiency=0.3308",
        "--fix",
        "kv_memory_efficiency=0.7483",
    ]);
    let text = stdout(&fit);
    assert!(fit.status.success(), "{}", stderr(&fit));
    assert!(text.contains("fitted rows: MAPE 8.24%"), "{text}");
    assert!(
        text.contains("compute_efficiency          0.2954  fitted"),
        "{text}"
    );
    assert!(
        text.contains("5-fold pooled                  13   15.16%"),
        "{text}"
    );
    let predict = run(&["calibrate", "predict", "--steps", csv, "-c", config]);
    let text = stdout(&predict);
    assert!(
        text.contains("all               13    8.24%"),
        "the preset's MoE calibration is that fit: {text}"
    );

    // The dense fit's parameters, written into the MoE config: one decode 43% too fast.
    let dir = TempDir::new("moe-dense");
    let dense = std::fs::read_to_string(config).unwrap().replace(
        "bytes_per_param = 2",
        "bytes_per_param = 2\ncompute_efficiency = 0.659\nattention_efficiency = 0.3308\n\
         memory_efficiency = 0.9\nkv_memory_efficiency = 0.7483\nattention_overlap = 0.0\n\
         roofline_softness = 0.4562\ncausal_attention = true\nlayer_overhead = 4.532e-5",
    );
    let dense = dir.write("dense.toml", &dense);
    let predict = run(&[
        "calibrate",
        "predict",
        "--steps",
        csv,
        "-c",
        dense.to_str().unwrap(),
    ]);
    let text = stdout(&predict);
    assert!(text.contains("all               13   27.05%"), "{text}");
    assert!(
        text.contains("1x1@1024                  7.797       4.442   -43.0%"),
        "{text}"
    );
}
