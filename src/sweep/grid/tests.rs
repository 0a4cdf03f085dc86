use super::*;
use crate::testing::toy_batched;
use std::path::PathBuf;

/// Writes a config and a spec into a fresh folder; returns the spec.
fn setup(test: &str, spec_body: &str) -> (PathBuf, SweepSpec) {
    let dir = std::env::temp_dir().join(format!("il-grid-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.toml"), toy_batched()).unwrap();
    let text = format!("name = \"g\"\nbase = \"c.toml\"\n{spec_body}");
    let path = dir.join("spec.toml");
    std::fs::write(&path, &text).unwrap();
    let spec = SweepSpec::load(&path).unwrap();
    (dir, spec)
}

#[test]
fn product_order_is_axes_outer_to_inner_then_seeds() {
    let (dir, spec) = setup(
        "product",
        "seeds = 2\n[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\nscheduler.max_num_seqs = [4, 8, 16]",
    );
    let grid = expand(&spec).unwrap();
    assert_eq!(grid.columns, ["scheduler.policy", "scheduler.max_num_seqs"]);
    assert_eq!((grid.runs.len(), grid.points, grid.excluded), (12, 6, 0));
    let r = &grid.runs[3];
    assert_eq!(r.params, [Value::from("fcfs"), Value::Integer(8)]);
    assert_eq!((r.seed, r.point, r.index), (2, 1, 3));
    let c = r.config.as_ref().unwrap();
    assert_eq!(c.scheduler.max_num_seqs, 8);
    assert_eq!(c.workload.seed, 2);
    assert_eq!(
        grid.runs[11].params,
        [Value::from("sif"), Value::Integer(16)]
    );
    // Ids differ between runs, and are stable across expansions.
    let again = expand(&spec).unwrap();
    let ids: std::collections::HashSet<_> = grid.runs.iter().map(|r| &r.run_id).collect();
    assert_eq!(ids.len(), 12);
    assert!(grid
        .runs
        .iter()
        .zip(&again.runs)
        .all(|(a, b)| a.run_id == b.run_id));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn zip_and_exclude_shape_the_grid() {
    let (dir, spec) = setup(
        "zip",
        "[axes]\nscheduler.policy = [\"fcfs\", \"sif\"]\n\
         [[zip]]\nworkload.num_concurrent_users = [2, 4]\nworkload.num_requests = [20, 40]\n\
         [[exclude]]\nscheduler.policy = \"sif\"\nworkload.num_concurrent_users = 2",
    );
    let grid = expand(&spec).unwrap();
    assert_eq!((grid.runs.len(), grid.excluded), (3, 1));
    let rows: Vec<_> = grid.runs.iter().map(|r| r.params.clone()).collect();
    assert_eq!(
        rows,
        [
            vec![Value::from("fcfs"), Value::Integer(2), Value::Integer(20)],
            vec![Value::from("fcfs"), Value::Integer(4), Value::Integer(40)],
            vec![Value::from("sif"), Value::Integer(4), Value::Integer(40)],
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn set_and_whole_table_values_replace_fields() {
    let (dir, spec) = setup(
        "tables",
        "[set]\nsimulation.log_interval = 7\n[axes]\n\
         workload.input_len_dist = [{ type = \"uniform\", min = 1, max = 9 }, { type = \"fixed\", value = 3 }]",
    );
    let grid = expand(&spec).unwrap();
    let c = grid.runs[0].config.as_ref().unwrap();
    assert_eq!(c.simulation.log_interval, 7);
    assert_eq!(
        c.workload.input_len_dist,
        Some(LengthDist::Uniform { min: 1, max: 9 })
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_paths_and_type_mismatches_abort_naming_the_axis() {
    let (dir, spec) = setup("badpath", "[axes]\nscheduler.polcy = [\"fcfs\"]");
    let e = expand(&spec).unwrap_err().to_string();
    assert!(
        e.contains("scheduler.polcy") && e.contains("unknown key"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();

    let (dir, spec) = setup("badtype", "[axes]\nscheduler.max_num_seqs = [4, \"x\"]");
    let e = expand(&spec).unwrap_err().to_string();
    assert!(e.contains("axis scheduler.max_num_seqs = \"x\""), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn invalid_points_become_failing_runs_not_spec_errors() {
    let (dir, spec) = setup("invalid", "[axes]\nscheduler.max_num_seqs = [0, 4]");
    let grid = expand(&spec).unwrap();
    assert_eq!(grid.runs.len(), 2);
    let bad = grid.runs[0].config.as_ref().unwrap_err();
    assert!(bad.contains("max_num_seqs"), "{bad}");
    assert!(grid.runs[1].config.is_ok());
    assert_eq!(grid.invalid().count(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}
