//! The repository stands alone: no tracked source, config, script or document reaches outside
//! it for data (a user's clone has nothing beside it). CI also runs the whole suite in a fresh
//! clone with nothing beside it (`.ci/run`).

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn visit(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "target" || name == ".git" || name == "results" {
            continue;
        }
        if path.is_dir() {
            visit(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_reads_from_a_folder_beside_the_repository() {
    // Spelled in two pieces so that this file does not match itself.
    let needle = format!("{}{}", "../", "shared");
    let mut files = Vec::new();
    visit(Path::new(ROOT), &mut files);
    assert!(files.len() > 50, "walked only {} files", files.len());
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).contains(&needle))
                .unwrap_or(false)
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "files naming {needle}: {offenders:?}");
}

#[test]
fn every_data_folder_says_where_its_data_came_from() {
    for dir in [
        "data",
        "data/tokenizers/qwen3",
        "data/h100-steps",
        "examples/seed-era",
    ] {
        let readme = Path::new(ROOT).join(dir).join("README.md");
        let text = std::fs::read_to_string(&readme)
            .unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
        assert!(
            text.contains("rigin") && text.to_lowercase().contains("licen"),
            "{} names no origin or licence",
            readme.display()
        );
    }
}
