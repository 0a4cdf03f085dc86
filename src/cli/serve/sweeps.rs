//! The Sweeps tab: the results folders under `--results DIR` (the folder itself and each
//! folder directly under it that has a sweep's summary table), and each one's report, built
//! by `inference-lab report`'s own code. A page names a folder by the name this listing
//! gave it; nothing outside the listing is ever opened.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::http::Refusal;
use super::Server;

pub struct Sweeps {
    root: PathBuf,
}

impl Sweeps {
    pub fn open(root: &Path) -> Result<Sweeps> {
        if !root.is_dir() {
            bail!(
                "--results {}: not a folder: give the folder sweeps write their results in",
                root.display()
            );
        }
        Ok(Sweeps {
            root: root.to_path_buf(),
        })
    }

    /// (name, folder) of every results folder, by name; "." is the root itself.
    fn folders(&self) -> Vec<(String, PathBuf)> {
        let mut found = Vec::new();
        if has_tables(&self.root) {
            found.push((".".to_string(), self.root.clone()));
        }
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() && has_tables(&path) && !name.starts_with('.') {
                    found.push((name, path));
                }
            }
        }
        found.sort();
        found
    }
}

fn has_tables(dir: &Path) -> bool {
    dir.join("summary.parquet").is_file() || dir.join("summary.csv").is_file()
}

/// `GET /api/sweeps`.
pub fn list(server: &Server) -> Value {
    let Some(sweeps) = &server.sweeps else {
        return json!({ "root": null, "folders": [] });
    };
    let folders: Vec<Value> = sweeps
        .folders()
        .into_iter()
        .map(|(name, path)| {
            let modified = std::fs::metadata(path.join("spec.json"))
                .or_else(|_| std::fs::metadata(&path))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            json!({ "name": name, "modified_unix_s": modified })
        })
        .collect();
    json!({ "root": sweeps.root.display().to_string(), "folders": folders })
}

/// `GET /sweeps/NAME/report.html`: the report of the listed folder `name`.
pub fn report(server: &Server, name: &str) -> Result<String, Refusal> {
    let Some(sweeps) = &server.sweeps else {
        return Err(Refusal::new(
            404,
            "no results folder: start the server with --results DIR",
        ));
    };
    let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let Some((_, path)) = sweeps.folders().into_iter().find(|(n, _)| *n == *name) else {
        return Err(Refusal::new(
            404,
            format!("no results folder {name:?} under {}", sweeps.root.display()),
        ));
    };
    inference_lab::report::build(&path)
        .map(|report| report.html)
        .map_err(|e| Refusal::new(500, e.to_string()))
}
