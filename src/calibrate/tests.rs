use super::*;
use crate::Config;

/// Llama-3-8B on one H100 (as configs/chat-llama3-8b-h100.toml), plus `hardware` lines.
fn llama8b(hardware: &str) -> Config {
    Config::from_toml_str(&format!(
        r#"
        [hardware]
        name = "H100 SXM"
        compute_flops = 9.895e14
        memory_bandwidth = 3.35e12
        memory_capacity = 85899345920
        bytes_per_param = 2
        {hardware}
        [model]
        name = "Llama-3.1-8B"
        num_parameters = 8030000000
        num_layers = 32
        hidden_dim = 4096
        num_heads = 32
        num_kv_heads = 8
        max_seq_len = 8192
        [scheduler]
        max_num_batched_tokens = 8192
        max_num_seqs = 256
        policy = "fcfs"
        enable_chunked_prefill = true
        block_size = 16
        [workload]
        arrival_pattern = "batched"
        num_requests = 1
        input_len_dist = {{ type = "fixed", value = 100 }}
        output_len_dist = {{ type = "fixed", value = 10 }}
        "#
    ))
    .unwrap()
}

/// Known calibration: what the synthetic rows are generated from.
const TRUTH: &str = r#"
    compute_efficiency = 0.61
    attention_efficiency = 0.37
    memory_efficiency = 0.9
    kv_memory_efficiency = 0.74
    attention_overlap = 0.0
    roofline_softness = 0.42
    causal_attention = true
    layer_overhead = 4.1e-5
    sequence_overhead = 6.0e-6
"#;

/// Decodes, prefills, chunks on cached context and mixed steps, like the H100 file.
fn shapes() -> Vec<String> {
    let mut s = Vec::new();
    for ctx in [256, 1024, 2048, 4096] {
        for n in [1, 4, 16, 48, 96, 192] {
            s.push(format!("{n}x1@{ctx}"));
        }
    }
    for (new, ctx) in [
        (128, 128),
        (512, 512),
        (2048, 2048),
        (512, 2560),
        (1024, 3072),
        (512, 6656),
    ] {
        s.push(format!("1x{new}@{ctx}"));
    }
    for chunk in ["1x256@256", "1x512@512", "1x1024@3072", "1x2048@4096"] {
        for n in [16, 64, 128] {
            s.push(format!("{chunk};{n}x1@2048"));
        }
    }
    s
}

fn phase_of(seq: &str) -> &'static str {
    match (seq.contains(';'), seq.contains("x1@")) {
        (true, _) => "mixed",
        (false, true) => "decode",
        (false, false) => "prefill",
    }
}

/// A steps file of `shapes()` whose median_ms is `config`'s own prediction.
fn synthetic(config: &Config) -> StepsFile {
    let mut text = String::from("model,weights_dtype,phase,mode,sequences,median_ms\n");
    for seq in shapes() {
        text.push_str(&format!(
            "llama3-8b,bf16,{},graph,{seq},1\n",
            phase_of(&seq)
        ));
    }
    let mut steps = parse_steps(&text, "synthetic.csv").unwrap();
    let predicted = predict(config, &steps).unwrap();
    for (row, p) in steps.rows.iter_mut().zip(predicted) {
        row.measured_ms = Some(p);
    }
    steps
}

#[test]
fn sequences_parse() {
    assert_eq!(
        parse_sequences("64x1@2048").unwrap(),
        vec![SeqGroup {
            count: 64,
            new: 1,
            context: 2048
        }]
    );
    let g = parse_sequences(" 1x512@2560 ; 16x1@2048 ").unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(
        g[0],
        SeqGroup {
            count: 1,
            new: 512,
            context: 2560
        }
    );
}

#[test]
fn malformed_sequences_say_what_is_wrong() {
    for (text, says) in [
        ("", "empty"),
        ("64-1@2048", "no `x`"),
        ("64x1", "no `@`"),
        ("64x1@", "CONTEXT ``"),
        ("ax1@5", "COUNT `a`"),
        ("1x1@2048;", "group ``"),
        ("1x-1@5", "NEW `-1`"),
        ("0x1@512", "zero new tokens"),
        ("4x0@512", "zero new tokens"),
        ("1x512@256", "CONTEXT 256 < NEW 512"),
        ("1x1@99999999999", "CONTEXT `99999999999`"),
    ] {
        let err = parse_sequences(text).unwrap_err();
        assert!(err.contains(says), "{text:?}: {err}");
    }
}

#[test]
fn steps_file_errors_name_the_file_and_line() {
    let err = |text: &str| parse_steps(text, "s.csv").unwrap_err().to_string();
    assert!(err("").starts_with("s.csv is empty"), "{}", err(""));
    assert!(err("\n  \n").starts_with("s.csv is empty"));
    assert!(err("sequences,median_ms\n").contains("no rows"));
    assert!(err("phase,median_ms\ndecode,1\n").contains("line 1: no `sequences` column"));
    assert!(err("sequences,sequences\n1x1@2,1x1@2\n").contains("appears twice"));
    let e = err("sequences,median_ms\n1x1@8,1\n\n1x1@,2\n");
    assert!(
        e.starts_with("s.csv line 4: sequences `1x1@` is malformed"),
        "{e}"
    );
    assert!(err("sequences,median_ms\n0x1@8,1\n")
        .contains("line 2: sequences `0x1@8` is malformed: group `0x1@8` has zero new tokens"));
    assert!(
        err("sequences,median_ms\n1x1@8,1,3\n").contains("line 2: 3 fields, but the header has 2")
    );
    assert!(err("sequences,median_ms\n1x1@8,fast\n").contains("line 2: median_ms `fast`"));
    assert!(err("sequences,median_ms\n1x1@8,-2\n").contains("not a positive number"));
    assert!(err("sequences,total_new_tokens\n2x3@8,5\n")
        .contains("total_new_tokens = 5 does not match"));
    assert!(err("sequences,n_seqs\n2x3@8;1x1@4,2\n").contains("n_seqs = 2 does not match"));
    assert!(err("sequences,model\n1x1@8,\"open\n").contains("line 2: a quoted field is not closed"));
}

#[test]
fn steps_file_reads_quotes_blank_lines_and_optional_columns() {
    let text = "sequences,tag,median_ms\r\n\"1x1@8;2x4@16\",\"a,\"\"b\"\"\",\r\n\r\n3x1@4,,2.5\r\n";
    let f = parse_steps(text, "s.csv").unwrap();
    assert_eq!(f.rows.len(), 2);
    assert_eq!(f.rows[0].fields[1], "a,\"b\"");
    assert_eq!(f.rows[0].measured_ms, None);
    assert_eq!(f.rows[0].total_new_tokens(), 9);
    assert_eq!(f.rows[0].n_seqs(), 3);
    assert_eq!(f.rows[0].max_context(), 16);
    assert_eq!(f.rows[1].line, 4);
    assert_eq!(f.rows[1].measured_ms, Some(2.5));
    assert_eq!(f.rows[1].group(), "all");
    assert_eq!(steps::csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
}

#[test]
fn default_model_is_the_roofline() {
    // A prefill of 100 and a decode at 100 on the toy card of tests/engine_hand_computed.rs:
    // 0.2004096 s and 0.0200102912 s by hand.
    let config = crate::testing::hand_toy();
    let steps = parse_steps("sequences\n1x100@100\n1x1@101\n1x1@102\n", "s.csv").unwrap();
    let p = predict(&config, &steps).unwrap();
    for (got, want) in p.iter().zip([200.4096, 20.010_291_2, 20.010_393_6]) {
        assert!((got - want).abs() < 1e-12 * want, "{got} vs {want}");
    }
}

#[test]
fn fit_recovers_known_parameters() {
    let truth = llama8b(TRUTH);
    let steps = synthetic(&truth);
    let mut options = FitOptions::default();
    options.fix(Param::MemoryEfficiency, 0.9);
    options.free(Param::SequenceOverhead);
    let fitted = fit(&llama8b(""), &steps, &options).unwrap();
    assert!(fitted.warnings.is_empty(), "{:?}", fitted.warnings);
    assert_eq!(fitted.fitted.len(), 6);
    for p in fitted.fitted.iter().copied() {
        let (want, got) = (p.get(&truth.hardware), p.get(&fitted.config.hardware));
        assert!(
            (got / want - 1.0).abs() < 1e-3,
            "{}: fitted {got}, true {want}",
            p.name()
        );
    }
    assert!(fitted.config.hardware.causal_attention);
    assert_eq!(fitted.config.hardware.attention_overlap, 0.0);
    let used: Vec<usize> = (0..steps.rows.len()).collect();
    let errors = errors_of(&steps, &fitted.predicted_ms, &used).unwrap();
    assert!(errors.mape < 1e-4, "{errors:?}");
}

#[test]
fn fitted_config_predicts_the_reported_errors() {
    let steps = synthetic(&llama8b(TRUTH));
    let fitted = fit(&llama8b(""), &steps, &FitOptions::default()).unwrap();
    let again = predict(&fitted.config, &steps).unwrap();
    assert_eq!(again, fitted.predicted_ms);
    // Through the written text too.
    let text = output::calibrated_config_text(
        "[hardware]\nname = \"H100 SXM\"\ncompute_flops = 9.895e14\nmemory_bandwidth = 3.35e12\n\
         memory_capacity = 85899345920\nbytes_per_param = 2\n\n[model]\nname = \"Llama-3.1-8B\"\n\
         num_parameters = 8030000000\nnum_layers = 32\nhidden_dim = 4096\nnum_heads = 32\n\
         num_kv_heads = 8\nmax_seq_len = 8192\n[scheduler]\nmax_num_batched_tokens = 8192\n\
         max_num_seqs = 256\npolicy = \"fcfs\"\nenable_chunked_prefill = true\nblock_size = 16\n\
         [workload]\narrival_pattern = \"batched\"\nnum_requests = 1\n\
         input_len_dist = { type = \"fixed\", value = 100 }\n\
         output_len_dist = { type = \"fixed\", value = 10 }\n",
        &fitted.config,
        "test",
    )
    .unwrap();
    let reread = Config::from_toml_str(&text).unwrap();
    assert_eq!(reread.hardware, fitted.config.hardware);
    assert_eq!(predict(&reread, &steps).unwrap(), fitted.predicted_ms);
    assert_eq!(
        error_summary(&steps, &predict(&reread, &steps).unwrap()),
        error_summary(&steps, &fitted.predicted_ms)
    );
}

#[test]
fn cross_validation_of_exact_rows_is_exact() {
    let steps = synthetic(&llama8b(TRUTH));
    let mut options = FitOptions::default();
    options.fix(Param::MemoryEfficiency, 0.9);
    options.free(Param::SequenceOverhead);
    let cv = cross_validate(&llama8b(""), &steps, &options).unwrap();
    let names: Vec<&str> = cv.holdouts.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "phase decode",
            "phase prefill",
            "phase mixed",
            "n_seqs <= 8",
            "n_seqs >= 128",
            "new tokens >= 2048",
            "context >= 4096"
        ]
    );
    assert_eq!(cv.kfold.len(), KFOLD);
    for fold in cv.holdouts.iter().chain(&cv.kfold) {
        let e = fold
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", fold.name));
        assert!(e.mape < 2e-3, "{}: {e:?}", fold.name);
        assert_eq!(fold.train + fold.test, steps.rows.len());
    }
    assert_eq!(cv.kfold_pooled.unwrap().rows, steps.rows.len());
}

#[test]
fn fit_rejects_what_it_cannot_fit() {
    let config = llama8b("");
    let steps = synthetic(&llama8b(TRUTH));
    let err = |steps: &StepsFile, options: &FitOptions| {
        fit(&config, steps, options).unwrap_err().to_string()
    };
    // Too few rows for five parameters.
    let mut few = steps.clone();
    few.rows.truncate(5);
    let e = err(&few, &FitOptions::default());
    assert!(
        e.contains("5 rows to fit (mode graph) but the fit has 5 free parameters"),
        "{e}"
    );
    assert!(e.contains("at least 6 rows"), "{e}");
    // A fitted row without a measured time.
    let mut missing = steps.clone();
    missing.rows[3].measured_ms = None;
    let e = err(&missing, &FitOptions::default());
    assert!(
        e.contains("synthetic.csv line 5: no median_ms for 48x1@256"),
        "{e}"
    );
    // No rows of the mode.
    let e = err(
        &steps,
        &FitOptions {
            mode: Some("eager".into()),
            ..FitOptions::default()
        },
    );
    assert!(
        e.contains("no rows of mode eager (its modes: graph)"),
        "{e}"
    );
    // Not converged in the iterations allowed: names the worst row.
    let e = err(
        &steps,
        &FitOptions {
            max_iterations: 1,
            ..FitOptions::default()
        },
    );
    assert!(
        e.contains("did not converge in 1 iterations (worst row so far: line "),
        "{e}"
    );
    // Rows of two models, and a dtype the config does not have.
    let mut two = steps.clone();
    two.rows[0].model = "llama3-70b".into();
    assert!(err(&two, &FitOptions::default()).contains("rows of 2 models (llama3-70b, llama3-8b)"));
    let mut fp8 = steps.clone();
    fp8.rows[2].weights_dtype = "fp8".into();
    let e = err(&fp8, &FitOptions::default());
    assert!(
        e.contains("line 4: weights_dtype fp8 means 1 bytes per weight"),
        "{e}"
    );
    // A fixed value out of range.
    let mut bad = FitOptions::default();
    bad.fix(Param::MemoryEfficiency, 1.5);
    assert!(
        err(&steps, &bad).contains("memory_efficiency = 1.5 is invalid: it must be in [0.01, 1]")
    );
}

#[test]
fn fit_options_fix_and_free() {
    let mut o = FitOptions::default();
    o.fix(Param::LayerOverhead, 1e-5);
    assert!(!o.fitted.contains(&Param::LayerOverhead));
    assert!(o.fixed.contains(&(Param::LayerOverhead, 1e-5)));
    o.free(Param::AttentionOverlap);
    assert!(o.fitted.contains(&Param::AttentionOverlap));
    assert!(!o.fixed.iter().any(|(p, _)| *p == Param::AttentionOverlap));
}

#[test]
fn parameters_the_rows_cannot_separate_warn() {
    // A per-step and a per-layer overhead add the same time to every step.
    let steps = synthetic(&llama8b(TRUTH));
    let mut options = FitOptions::default();
    options.free(Param::StepOverhead);
    let fitted = fit(&llama8b(""), &steps, &options).unwrap();
    assert!(
        fitted
            .warnings
            .iter()
            .any(|w| w.starts_with("layer_overhead and step_overhead change every fitted row")),
        "{:?}",
        fitted.warnings
    );
}

#[test]
fn rounding_keeps_significant_digits() {
    assert_eq!(round_significant(0.652_549_9, 4), 0.6525);
    assert_eq!(round_significant(4.446_9e-5, 4), 4.447e-5);
    assert_eq!(round_significant(0.0, 4), 0.0);
}

#[test]
fn written_config_keeps_comments_and_replaces_an_earlier_calibration() {
    let original = "# top\n[hardware] # the card\nname = \"h\"\ncompute_flops = 1e15 # peak\n\
                    memory_bandwidth = 3e12\nmemory_capacity = 85899345920\nbytes_per_param = 2\n\
                    layer_overhead = 9e-3\n\n# about the model\n[model]\nname = \"m\"\n\
                    num_parameters = 8000000000\nnum_layers = 32\nhidden_dim = 4096\n\
                    num_heads = 32\nmax_seq_len = 8192\n[scheduler]\n\
                    max_num_batched_tokens = 8192\nmax_num_seqs = 256\npolicy = \"fcfs\"\n\
                    enable_chunked_prefill = true\nblock_size = 16\n[workload]\n\
                    arrival_pattern = \"batched\"\nnum_requests = 1\n\
                    input_len_dist = { type = \"fixed\", value = 100 }\n\
                    output_len_dist = { type = \"fixed\", value = 10 }\n";
    let mut config = Config::from_toml_str(original).unwrap();
    config.hardware.compute_efficiency = 0.6526;
    config.hardware.layer_overhead = 4.447e-5;
    config.hardware.causal_attention = true;
    let text = output::calibrated_config_text(original, &config, "first").unwrap();
    assert!(text.starts_with("# top\n[hardware] # the card\n"), "{text}");
    assert!(text.contains("compute_flops = 1e15 # peak\n"));
    assert!(text.contains("\n\n# about the model\n[model]\n"), "{text}");
    assert!(text.contains(&format!("{}: first\n", output::MARK)));
    assert!(text.contains("compute_efficiency = 0.6526 "));
    assert!(text.contains("layer_overhead = 4.447e-5 "));
    assert!(text.contains("causal_attention = true "));
    assert!(!text.contains("9e-3"));
    let reread = Config::from_toml_str(&text).unwrap();
    assert_eq!(reread.hardware, config.hardware);
    // Rewriting replaces the block rather than adding a second one.
    config.hardware.compute_efficiency = 0.5;
    let again = output::calibrated_config_text(&text, &config, "second").unwrap();
    assert_eq!(again.matches(output::MARK).count(), 1, "{again}");
    assert_eq!(again.matches("compute_efficiency").count(), 1);
    assert_eq!(
        Config::from_toml_str(&again).unwrap().hardware,
        config.hardware
    );
    // Without a [hardware] table header the whole config is written out.
    let inline = output::calibrated_config_text("", &config, "x").unwrap();
    assert_eq!(
        Config::from_toml_str(&inline).unwrap().hardware,
        config.hardware
    );
}
