//! Slurm job scripts for a sharded sweep, written into `<results>/slurm/`:
//!
//! - `sweep.sbatch`: a job array with one task per shard; task K runs
//!   `inference-lab sweep SPEC -o RESULTS --shard K/N` (its shard's runs not yet done);
//! - `merge.sbatch`: `inference-lab sweep merge RESULTS`, submitted with
//!   `--dependency=afterany:<array>` so it runs once every task has ended, however it ended,
//!   and reports the runs that are missing;
//! - `submit.sh [INDICES]`: submits both (optionally only some array indices) and prints how
//!   to watch them; every submission is appended to `jobs.txt`.
//!
//! The jobs call the binary by the absolute path it was started from and run in the directory
//! the helper ran in (`--chdir`), with the spec path as given there, so run ids, resume and the
//! tables are exactly those of a local sweep started from that directory.

use std::path::{Path, PathBuf};

use crate::{bail, Error, Result};

/// Everything the scripts need.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmPlan {
    /// The sweep's name (the job name).
    pub name: String,
    /// The inference-lab binary, absolute.
    pub exe: PathBuf,
    /// Where the jobs run (absolute): the directory the spec path is relative to.
    pub workdir: PathBuf,
    /// The spec, as given on the command line.
    pub spec: PathBuf,
    /// The results folder, absolute.
    pub out_dir: PathBuf,
    /// Array tasks, one per shard.
    pub shards: usize,
    /// CPUs per array task (`--cpus-per-task`; the task runs that many threads). None: the
    /// cluster's default, and as many threads as SLURM_CPUS_PER_TASK says (else 1).
    pub threads: Option<usize>,
    pub partition: Option<String>,
    /// The `--format` list for the tables.
    pub formats: String,
    /// Extra sbatch options, written as #SBATCH lines into both scripts.
    pub extra: Vec<String>,
}

impl SlurmPlan {
    pub fn dir(&self) -> PathBuf {
        self.out_dir.join("slurm")
    }

    pub fn array_script_path(&self) -> PathBuf {
        self.dir().join("sweep.sbatch")
    }

    pub fn merge_script_path(&self) -> PathBuf {
        self.dir().join("merge.sbatch")
    }

    pub fn submit_script_path(&self) -> PathBuf {
        self.dir().join("submit.sh")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir().join("logs")
    }

    /// Refuses what the scripts cannot express.
    pub fn check(&self) -> Result<()> {
        if self.shards == 0 {
            bail!("--array-size 0: give at least 1 task");
        }
        // #SBATCH lines are read by sbatch, not the shell: they cannot be quoted, so the
        // paths on them must be plain (and a newline would start a shell line).
        for (what, path) in [
            ("the results folder", &self.out_dir),
            ("the working directory", &self.workdir),
        ] {
            let text = path.display().to_string();
            if let Some(c) = text.chars().find(|&c| !is_plain(c)) {
                bail!(
                    "{what} {text:?} holds {c:?}: #SBATCH lines cannot quote it; use a path of \
                     letters, digits and / . _ - + , : = @ only"
                );
            }
        }
        if let Some(p) = self
            .partition
            .as_deref()
            .filter(|p| !p.chars().all(is_plain))
        {
            bail!("--partition {p:?}: a partition name is letters, digits and . _ - + , : = @");
        }
        for option in &self.extra {
            if !option.starts_with('-') || option.contains(['\n', '\r']) {
                bail!("sbatch option {option:?}: extra sbatch options start with '-' (e.g. --time=2:00:00)");
            }
            let name = option.split('=').next().unwrap_or(option);
            if ["--array", "-a", "--dependency", "-d"].contains(&name)
                || option.starts_with("-a")
                || option.starts_with("-d")
            {
                bail!(
                    "sbatch option {option:?}: the helper sets the array (--array-size) and the \
                     merge job's dependency itself"
                );
            }
        }
        Ok(())
    }

    fn directives(&self, lines: &mut Vec<String>) {
        if let Some(p) = &self.partition {
            lines.push(format!("#SBATCH --partition={p}"));
        }
        for option in &self.extra {
            lines.push(format!("#SBATCH {option}"));
        }
    }

    /// The array job: task K runs shard K of N.
    pub fn array_script(&self) -> String {
        let n = self.shards;
        let mut lines = vec![
            "#!/bin/bash".to_string(),
            format!(
                "# Sweep {}: shard $SLURM_ARRAY_TASK_ID of {n}. Written by `inference-lab sweep --slurm`.",
                self.name
            ),
            "# Each task runs the runs of its shard that no journal of the results folder has yet,"
                .to_string(),
            "# appending to its own journal.shard-K-of-N.jsonl there.".to_string(),
            format!(
                "# Rerun some shards: {} 2,5   (or sbatch --array=2,5 {})",
                self.submit_script_path().display(),
                self.array_script_path().display()
            ),
            format!("#SBATCH --job-name={}", self.name),
            format!("#SBATCH --array=0-{}", n - 1),
            format!("#SBATCH --chdir={}", self.workdir.display()),
            format!(
                "#SBATCH --output={}/shard-%a.job-%A.out",
                self.log_dir().display()
            ),
        ];
        if let Some(t) = self.threads {
            lines.push(format!("#SBATCH --cpus-per-task={t}"));
        }
        self.directives(&mut lines);
        lines.push("set -eu".into());
        lines.push(format!(
            "exec {} sweep {} -o {} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" -j \"${{SLURM_CPUS_PER_TASK:-1}}\" --format {} --no-color",
            quote(&self.exe),
            quote(&self.spec),
            quote(&self.out_dir),
            quote(Path::new(&self.formats)),
        ));
        lines.join("\n") + "\n"
    }

    /// The merge job: the tables from every journal; exits 3 if runs are missing.
    pub fn merge_script(&self) -> String {
        let mut lines = vec![
            "#!/bin/bash".to_string(),
            format!(
                "# Sweep {}: build the tables from every shard's journal, once the array job has ended.",
                self.name
            ),
            "# Exit 3 (and a list in the log) when runs are missing: rerun their shards, then this."
                .to_string(),
            format!("#SBATCH --job-name={}-merge", self.name),
            format!("#SBATCH --chdir={}", self.workdir.display()),
            format!("#SBATCH --output={}/merge.job-%j.out", self.log_dir().display()),
        ];
        self.directives(&mut lines);
        lines.push("set -eu".into());
        lines.push(format!(
            "exec {} sweep merge {} --format {} --no-color",
            quote(&self.exe),
            quote(&self.out_dir),
            quote(Path::new(&self.formats)),
        ));
        lines.join("\n") + "\n"
    }

    /// Submits the array (all tasks, or the indices given as $1) and the merge job after it.
    pub fn submit_script(&self) -> String {
        let n = self.shards;
        let dir = quote(&self.dir());
        let out = quote(&self.out_dir);
        format!(
            r#"#!/bin/bash
# Submits sweep {name}: the array job ({n} tasks, one per shard), then the merge job, which
# runs once every task has ended, however it ended (afterany), and lists missing runs.
# Usage: submit.sh [INDICES]   e.g. submit.sh 2,5 resubmits only shards 2 and 5.
set -euo pipefail
cd {workdir}
dir={dir}
out={out}
indices=${{1:-0-{last}}}
array=$(sbatch --parsable --array="$indices" "$dir/sweep.sbatch")
array=${{array%%;*}}
merge=$(sbatch --parsable --dependency=afterany:"$array" --kill-on-invalid-dep=yes "$dir/merge.sbatch")
merge=${{merge%%;*}}
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) array=$array merge=$merge shards=$indices/{n}" >> "$dir/jobs.txt"
echo "submitted array job $array (shards $indices of {n}) and merge job $merge (runs when every shard has ended)"
echo "watch:   squeue -j $array,$merge"
echo "logs:    $dir/logs/"
echo "results: $out/runs.csv and summary.csv when job $merge ends (its log lists any missing runs)"
echo "resubmit after failures: the same command again runs only what is missing"
"#,
            name = self.name,
            workdir = quote(&self.workdir),
            last = n - 1,
        )
    }

    /// Writes the three scripts (and the logs folder the jobs write to).
    pub fn write(&self) -> Result<()> {
        let logs = self.log_dir();
        std::fs::create_dir_all(&logs)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", logs.display())))?;
        for (path, text) in [
            (self.array_script_path(), self.array_script()),
            (self.merge_script_path(), self.merge_script()),
            (self.submit_script_path(), self.submit_script()),
        ] {
            std::fs::write(&path, text)
                .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
            }
        }
        Ok(())
    }
}

/// A character that needs no quoting on an #SBATCH line or in the shell.
fn is_plain(c: char) -> bool {
    c.is_alphanumeric() || "/._-+,:=@".contains(c)
}

/// A path as one shell word: bare when it is only safe characters, else single-quoted.
pub fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@".contains(c));
    if safe {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SlurmPlan {
        SlurmPlan {
            name: "policies".into(),
            exe: "/opt/il/bin/inference-lab".into(),
            workdir: "/home/me/lab".into(),
            spec: "sweeps/policies.toml".into(),
            out_dir: "/home/me/lab/results/policies".into(),
            shards: 8,
            threads: None,
            partition: Some("gpu".into()),
            formats: "csv,parquet".into(),
            extra: vec!["--time=2:00:00".into(), "--account=lab".into()],
        }
    }

    #[test]
    fn scripts_name_the_shards_the_merge_and_the_options() {
        let p = plan();
        p.check().unwrap();
        let array = p.array_script();
        for needle in [
            "#SBATCH --job-name=policies\n",
            "#SBATCH --array=0-7\n",
            "#SBATCH --chdir=/home/me/lab\n",
            "#SBATCH --output=/home/me/lab/results/policies/slurm/logs/shard-%a.job-%A.out\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=2:00:00\n#SBATCH --account=lab\n",
            "exec /opt/il/bin/inference-lab sweep sweeps/policies.toml -o /home/me/lab/results/policies --shard \"$SLURM_ARRAY_TASK_ID/8\" -j \"${SLURM_CPUS_PER_TASK:-1}\" --format csv,parquet --no-color\n",
        ] {
            assert!(array.contains(needle), "no {needle:?} in\n{array}");
        }
        assert!(!array.contains("--cpus-per-task"));
        let first_command = array.find("set -eu").unwrap();
        assert!(
            array[first_command..]
                .lines()
                .all(|l| !l.starts_with("#SBATCH")),
            "#SBATCH after the first command is ignored by sbatch"
        );
        let merge = p.merge_script();
        for needle in [
            "#SBATCH --job-name=policies-merge\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=2:00:00\n",
            "exec /opt/il/bin/inference-lab sweep merge /home/me/lab/results/policies --format csv,parquet --no-color\n",
        ] {
            assert!(merge.contains(needle), "no {needle:?} in\n{merge}");
        }
        let submit = p.submit_script();
        for needle in [
            "indices=${1:-0-7}",
            "sbatch --parsable --array=\"$indices\" \"$dir/sweep.sbatch\"",
            "--dependency=afterany:\"$array\" --kill-on-invalid-dep=yes \"$dir/merge.sbatch\"",
            "squeue -j $array,$merge",
            "jobs.txt",
        ] {
            assert!(submit.contains(needle), "no {needle:?} in\n{submit}");
        }

        let threaded = SlurmPlan {
            threads: Some(4),
            ..plan()
        };
        assert!(threaded
            .array_script()
            .contains("#SBATCH --cpus-per-task=4\n"));
    }

    #[test]
    fn refuses_what_sbatch_lines_cannot_hold() {
        for bad in [
            SlurmPlan {
                out_dir: "/home/me/my results".into(),
                ..plan()
            },
            SlurmPlan {
                extra: vec!["--array=0-3".into()],
                ..plan()
            },
            SlurmPlan {
                extra: vec!["-d afterok:1".into()],
                ..plan()
            },
            SlurmPlan {
                extra: vec!["time=1:00".into()],
                ..plan()
            },
            SlurmPlan {
                shards: 0,
                ..plan()
            },
            SlurmPlan {
                out_dir: "/home/me/r$(touch${IFS}X)".into(),
                ..plan()
            },
            SlurmPlan {
                workdir: "/home/me/`id`".into(),
                ..plan()
            },
            SlurmPlan {
                partition: Some("gpu\nrm -rf ~".into()),
                ..plan()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote(Path::new("/a/b-c_d.toml")), "/a/b-c_d.toml");
        assert_eq!(quote(Path::new("my spec.toml")), "'my spec.toml'");
        assert_eq!(quote(Path::new("it's")), r"'it'\''s'");
    }
}
