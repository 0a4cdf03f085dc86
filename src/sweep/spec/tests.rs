use super::*;

fn parse(text: &str) -> Result<SweepSpec> {
    SweepSpec::parse(text, Path::new("/specs/s.toml"))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn dotted_and_quoted_paths_flatten_in_spec_order() {
    let s = parse(
        r#"
        name = "x"
        base = "c.toml"
        [set]
        workload.num_requests = 10
        "scheduler.block_size" = 32
        [axes]
        scheduler.policy = ["fcfs", "sif"]
        "workload.arrival_rate" = [1.0, 2.0]
        scheduler.max_num_seqs = { range = [8, 32, 8] }
        "#,
    )
    .unwrap();
    assert_eq!(
        s.bases,
        [("c.toml".to_string(), PathBuf::from("/specs/c.toml"))]
    );
    assert_eq!(
        s.set,
        [
            ("workload.num_requests".to_string(), Value::Integer(10)),
            ("scheduler.block_size".to_string(), Value::Integer(32)),
        ]
    );
    // TOML groups dotted keys by table: a section's paths come together, sections in order of
    // first appearance.
    let paths: Vec<&str> = s.axes.iter().map(|a| a.paths[0].as_str()).collect();
    assert_eq!(
        paths,
        [
            "scheduler.policy",
            "scheduler.max_num_seqs",
            "workload.arrival_rate"
        ]
    );
    let range: Vec<i64> = s.axes[1]
        .values
        .iter()
        .map(|v| v[0].as_integer().unwrap())
        .collect();
    assert_eq!(range, [8, 16, 24, 32]);
    assert_eq!(s.seeds, None);
}

#[test]
fn ranges_include_both_ends_and_step_up_to_the_end() {
    let s = parse("name = \"x\"\nbase = \"c.toml\"\n[axes]\nworkload.num_requests = { range = [1, 10] }\nscheduler.max_num_seqs = { range = [1, 10, 4] }").unwrap();
    assert_eq!(s.axes[0].len(), 10);
    let v: Vec<i64> = s.axes[1]
        .values
        .iter()
        .map(|v| v[0].as_integer().unwrap())
        .collect();
    assert_eq!(v, [1, 5, 9]);
}

#[test]
fn seeds_come_from_the_shorthand_or_the_seed_axis() {
    let s = parse("name = \"x\"\nbase = \"c.toml\"\nseeds = 3").unwrap();
    assert_eq!(s.seeds, Some(vec![1, 2, 3]));
    let s = parse("name = \"x\"\nbase = \"c.toml\"\nseeds = [7, 9]").unwrap();
    assert_eq!(s.seeds, Some(vec![7, 9]));
    let s = parse("name = \"x\"\nbase = \"c.toml\"\n[axes]\nworkload.seed = { range = [4, 6] }")
        .unwrap();
    assert_eq!(s.seeds, Some(vec![4, 5, 6]));
    assert!(s.axes.is_empty(), "the seed axis is not a point axis");
    assert!(
        err("name = \"x\"\nbase = \"c.toml\"\nseeds = 2\n[axes]\nworkload.seed = [1]")
            .contains("keep one")
    );
    assert!(err("name = \"x\"\nbase = \"c.toml\"\nseeds = [1, 1]").contains("twice"));
    assert!(err("name = \"x\"\nbase = \"c.toml\"\nseeds = 0").contains("seeds = 0"));
}

#[test]
fn zip_groups_pair_values() {
    let s = parse(
        r#"
        name = "x"
        base = "c.toml"
        [[zip]]
        workload.num_concurrent_users = [16, 32]
        scheduler.max_num_seqs = [16, 32]
        "#,
    )
    .unwrap();
    assert_eq!(s.axes.len(), 1);
    assert_eq!(
        s.axes[0].paths,
        ["workload.num_concurrent_users", "scheduler.max_num_seqs"]
    );
    assert_eq!(
        s.axes[0].values[1],
        [Value::Integer(32), Value::Integer(32)]
    );
}

#[test]
fn spec_errors_name_the_problem() {
    let base = "name = \"x\"\nbase = \"c.toml\"\n";
    let cases = [
        ("name = \"x\"", "missing key `base`"),
        ("base = \"c.toml\"", "missing key `name`"),
        ("name = \"a/b\"\nbase = \"c.toml\"", "folder name"),
        (&format!("{base}bogus = 1"), "unknown key `bogus`"),
        (&format!("{base}[axes]\nscheduler.policy = []"), "axis scheduler.policy is empty"),
        (&format!("{base}[axes]\nscheduler.policy = \"fcfs\""), "give a list"),
        (&format!("{base}[axes]\nschedular.policy = [1]"), "schedular: not a config section"),
        (&format!("{base}[axes]\n\"a.b.c\" = [1]"), "paths are section.field"),
        (&format!("{base}[axes]\n\"cluster.pools.replicas\" = [1]"), "paths are section.field"),
        (&format!("{base}[axes]\nscheduler.max_num_seqs = {{ range = [5, 1] }}"), "start <= end"),
        (&format!("{base}[axes]\nscheduler.max_num_seqs = {{ range = [1, 5, 0] }}"), "step >= 1"),
        (&format!("{base}[[zip]]\nscheduler.max_num_seqs = [1, 2]\nworkload.num_requests = [1]"), "equally long"),
        (&format!("{base}[[zip]]\nscheduler.max_num_seqs = [1, 2]"), "two or more paths"),
        (&format!("{base}[set]\nscheduler.policy = \"sif\"\n[axes]\nscheduler.policy = [\"fcfs\"]"), "both in [set] and varied"),
        (&format!("{base}[axes]\nscheduler.policy = [\"fcfs\"]\n[[zip]]\nscheduler.policy = [\"a\", \"b\"]\nscheduler.max_num_seqs = [1, 2]"), "varied twice"),
        (&format!("{base}[axes]\nscheduler.policy = [\"fcfs\"]\n[[exclude]]\nscheduler.max_num_seqs = 4"), "not an axis"),
        ("name = \"x\"\nbase = [\n", "line"),
    ];
    for (text, expected) in cases {
        let e = err(text);
        assert!(
            e.contains(expected),
            "{text:?}\n  gave: {e}\n  wanted: {expected}"
        );
    }
}

#[test]
fn exclusions_take_scalars_or_lists() {
    let s = parse(
        r#"
        name = "x"
        base = "c.toml"
        [axes]
        scheduler.policy = ["fcfs", "sif", "lif"]
        workload.num_concurrent_users = [1, 2]
        [[exclude]]
        scheduler.policy = ["sif", "lif"]
        workload.num_concurrent_users = 1
        "#,
    )
    .unwrap();
    assert_eq!(s.exclude.len(), 1);
    assert_eq!(s.exclude[0].conditions[0].1.len(), 2);
    assert_eq!(s.exclude[0].conditions[1].1, [Value::Integer(1)]);
}

#[test]
fn sizes_are_refused_from_the_spec_text_before_anything_is_built() {
    let base = "name = \"x\"\nbase = \"c.toml\"\n";
    let max = i64::MAX;
    let e = err(&format!("{base}seeds = {max}"));
    assert!(
        e.contains(&max.to_string()) && e.contains("10000 seeds"),
        "{e}"
    );
    let e = err(&format!(
        "{base}[axes]\nworkload.seed = {{ range = [0, {max}] }}"
    ));
    assert!(e.contains("10000 seeds"), "{e}");
    // 9,000,001 values cubed: counted in wide arithmetic, never listed.
    let range = "{ range = [1000000, 10000000] }";
    let e = err(&format!(
        "{base}[axes]\nscheduler.max_num_seqs = {range}\nscheduler.block_size = {range}\n\
         workload.num_requests = {range}"
    ));
    let n: u128 = 9_000_001;
    assert!(
        e.contains(&(n * n * n).to_string()) && e.contains("1000000 runs"),
        "{e}"
    );
    assert!(!e.contains("excluded"), "{e}");
    // At the limit exactly: accepted.
    parse(&format!(
        "{base}seeds = 10\n[axes]\nscheduler.max_num_seqs = {{ range = [1, 100000] }}"
    ))
    .unwrap();
    let e = err(&format!(
        "{base}seeds = 11\n[axes]\nscheduler.max_num_seqs = {{ range = [1, 100000] }}"
    ));
    assert!(e.contains("1100000 runs"), "{e}");
}

#[test]
fn exclusion_values_must_be_values_of_their_axis() {
    let base =
        "name = \"x\"\nbase = [\"a.toml\", \"b.toml\"]\n[axes]\nscheduler.max_num_seqs = [4, 8]\n";
    for bad in ["\"4\"", "4.0", "[4, 5]"] {
        let e = err(&format!(
            "{base}[[exclude]]\nscheduler.max_num_seqs = {bad}"
        ));
        assert!(
            e.contains("[[exclude]] #1") && e.contains("no value of the axis [4, 8]"),
            "{e}"
        );
    }
    let e = err(&format!("{base}[[exclude]]\nbase = \"c.toml\""));
    assert!(e.contains("\"a.toml\", \"b.toml\""), "{e}");
    parse(&format!(
        "{base}[[exclude]]\nscheduler.max_num_seqs = [4, 8]\nbase = \"b.toml\""
    ))
    .unwrap();
}
