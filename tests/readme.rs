//! The README cannot drift from the code: every runnable block in it runs here.
//!
//! - ```` ```sh ```` blocks are commands a user types. Each runs as one `bash -euo pipefail`
//!   script, in document order, in a scratch folder holding copies of the repository's configs,
//!   sweeps, examples and data, with `inference-lab` on `PATH` as the binary under test and
//!   `cargo run --release --` spelled as `inference-lab`. The cargo commands that build, install
//!   or test (`cargo test`, `cargo install`, `cargo build`, `cargo bench`, `cargo fmt`,
//!   `cargo clippy`) are run by `.ci/run` instead.
//! - ```` ```python ```` blocks run afterwards in the same folder (so they read the tables the
//!   sweeps above wrote). They need the `duckdb` Python package: `.ci/run` installs it, and
//!   under `CI=true` its absence is a failure; elsewhere the test says it skipped them.
//! - ```` ```toml ```` blocks that start with `name =` are sweep specs, checked with
//!   `sweep --dry-run`; other TOML blocks are fragments and must parse.
//! - ```` ```console ````, ```` ```yaml ```` and ```` ```rust ```` blocks are illustrations
//!   (they need a cluster, or are library code compiled by the doc tests).
//!
//! The table of contents is checked too: run with `UPDATE_README=1` to rewrite it.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_inference-lab");

/// A fenced block: its info string and its text.
struct Block {
    lang: String,
    line: usize,
    text: String,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                current = Some(Block {
                    lang: lang.trim().to_string(),
                    line: i + 1,
                    text: String::new(),
                })
            }
            (Some(_), Some(_)) => out.push(current.take().unwrap()),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "README.md has an unclosed ``` block");
    out
}

/// The commands of a `sh` block as a bash script for the scratch folder.
fn shell_script(block: &str) -> String {
    let ci_only = [
        "cargo test",
        "cargo install",
        "cargo build",
        "cargo bench",
        "cargo fmt",
        "cargo clippy",
    ];
    let mut script = String::from("set -euo pipefail\n");
    for line in block.lines() {
        let trimmed = line.trim_start();
        if ci_only.iter().any(|c| trimmed.starts_with(c)) {
            script.push_str(&format!(": run by .ci/run: {trimmed}\n"));
        } else {
            script.push_str(&line.replace("cargo run --release --", "inference-lab"));
            script.push('\n');
        }
    }
    script
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch folder with the user-facing parts of the repository and a `bin/inference-lab`.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inference-lab-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["configs", "sweeps", "examples", "data"] {
        copy_dir(&Path::new(ROOT).join(sub), &dir.join(sub));
    }
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(BIN, dir.join("bin/inference-lab")).unwrap();
    dir
}

fn run_in(dir: &Path, program: &str, args: &[&str], what: &str) {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {program}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn have_duckdb() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_runnable_block_in_the_readme_runs() {
    let text = readme();
    let blocks = blocks(&text);
    let dir = scratch();
    let mut ran = 0;
    for b in blocks.iter().filter(|b| b.lang == "sh") {
        let script = shell_script(&b.text);
        run_in(
            &dir,
            "bash",
            &["-c", &script],
            &format!("README.md:{} (sh)", b.line),
        );
        ran += 1;
    }
    for (i, b) in blocks.iter().filter(|b| b.lang == "toml").enumerate() {
        if !b.text.starts_with("name =") {
            // A fragment of a spec or config: it must at least be TOML.
            let parsed: Result<toml::Table, _> = b.text.parse();
            assert!(parsed.is_ok(), "README.md:{}: {parsed:?}", b.line);
            continue;
        }
        // Sweep specs name their base config relative to themselves, as if in sweeps/.
        let spec = dir.join(format!("sweeps/readme-{i}.toml"));
        std::fs::write(&spec, &b.text).unwrap();
        let spec = spec.display().to_string();
        let what = format!("README.md:{} (toml, sweep --dry-run)", b.line);
        run_in(&dir, BIN, &["sweep", &spec, "--dry-run"], &what);
        ran += 1;
    }
    let python: Vec<&Block> = blocks.iter().filter(|b| b.lang == "python").collect();
    if have_duckdb() {
        for b in &python {
            let what = format!("README.md:{} (python)", b.line);
            run_in(&dir, "python3", &["-c", &b.text], &what);
            ran += 1;
        }
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but python3 cannot import duckdb: .ci/run installs it");
    } else {
        eprintln!(
            "skipped {} python blocks: `pip install duckdb` to run them",
            python.len()
        );
    }
    let known = ["sh", "python", "toml", "console", "yaml", "rust"];
    for b in &blocks {
        assert!(
            known.contains(&b.lang.as_str()),
            "README.md:{}: a ``` block of unknown kind {:?} (one of {known:?})",
            b.line,
            b.lang
        );
    }
    assert!(ran >= 8, "only {ran} README blocks ran");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every heading outside code blocks: (level, text, anchor). A repeated anchor gets `-1`,
/// `-2`, ... as GitHub numbers them.
fn headings(text: &str) -> Vec<(usize, String, String)> {
    let mut in_block = false;
    let mut out = Vec::new();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
        }
        let level = line.chars().take_while(|&c| c == '#').count();
        if in_block || level == 0 || !line[level..].starts_with(' ') {
            continue;
        }
        let title = line[level + 1..].to_string();
        let base = anchor(&title);
        let n = seen.entry(base.clone()).or_insert(0);
        let id = if *n == 0 { base } else { format!("{base}-{n}") };
        *n += 1;
        out.push((level, title, id));
    }
    out
}

fn toc(text: &str) -> String {
    let mut out = String::new();
    for (level, title, id) in headings(text) {
        match level {
            2 if title != "Contents" => out.push_str(&format!("- [{title}](#{id})\n")),
            3 => out.push_str(&format!("  - [{title}](#{id})\n")),
            _ => {}
        }
    }
    out
}

#[test]
fn the_table_of_contents_lists_every_section() {
    let text = readme();
    let open = "<!-- toc: every ## heading, in order (tests/readme.rs checks it) -->\n";
    let close = "<!-- /toc -->";
    let start = text.find(open).expect("README.md has a toc marker") + open.len();
    let end = start + text[start..].find(close).expect("README.md closes its toc");
    let want = toc(&text);
    if text[start..end] != want {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{want}{}", &text[..start], &text[end..]);
            std::fs::write(Path::new(ROOT).join("README.md"), updated).unwrap();
        } else {
            panic!(
                "README.md's table of contents is stale (UPDATE_README=1 cargo test --test \
                 readme rewrites it); it should be:\n{want}"
            );
        }
    }
    // Every in-page link points at a heading that exists.
    let anchors: Vec<String> = headings(&text).into_iter().map(|h| h.2).collect();
    for (i, _) in text.match_indices("](#") {
        let rest = &text[i + 3..];
        let target = &rest[..rest.find(')').unwrap()];
        assert!(
            anchors.iter().any(|a| a == target),
            "README.md links to #{target}, which is no heading"
        );
    }
}

#[test]
fn shell_lines_map_to_the_binary_and_skip_ci_only_cargo() {
    let s = shell_script("cargo run --release -- -c a.toml\ncargo test --locked\n# note\n");
    assert!(s.contains("inference-lab -c a.toml\n"));
    assert!(s.contains(": run by .ci/run: cargo test --locked\n"));
    assert!(!s.contains("\ncargo test"));
}
