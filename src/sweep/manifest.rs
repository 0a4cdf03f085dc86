//! The manifest of a results folder (`manifest.json`, and each shard's own): what ran, where,
//! when and with what counts, written atomically beside the tables.

use std::path::Path;
use std::time::SystemTime;

use super::{shard_manifest_name, Grid, JournalFile, Shard, SweepOptions, SweepOutcome, SweepSpec};
use crate::{Error, Result, VERSION};

#[allow(clippy::too_many_arguments)]
pub(super) fn write_manifest(
    dir: &Path,
    spec: &SweepSpec,
    grid: &Grid,
    journals: &[JournalFile],
    started: SystemTime,
    wall_s: f64,
    threads: serde_json::Value,
    counts: serde_json::Value,
) -> Result<()> {
    let shards: Vec<serde_json::Value> = journals
        .iter()
        .filter(|f| !f.shard.is_whole())
        .filter_map(|f| {
            let text = std::fs::read_to_string(dir.join(shard_manifest_name(f.shard))).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect();
    let mut manifest = serde_json::json!({
        "tool": "inference-lab",
        "version": VERSION,
        "spec": spec.to_json(),
        "columns": grid.columns,
        "started_at": rfc3339(started),
        "finished_at": rfc3339(SystemTime::now()),
        "wall_s": wall_s,
        "threads": threads,
        "counts": counts,
        "journals": journals
            .iter()
            .map(|f| serde_json::json!({"file": f.name, "records": f.records}))
            .collect::<Vec<_>>(),
    });
    if !shards.is_empty() {
        manifest["shards"] = serde_json::Value::Array(shards);
    }
    let text = serde_json::to_string_pretty(&manifest).expect("json") + "\n";
    write_atomic(dir, "manifest.json", "main", &text)
}

/// A shard's own manifest: where and when it ran, and its counts (None while it runs).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_shard_manifest(
    dir: &Path,
    spec: &SweepSpec,
    grid: &Grid,
    options: &SweepOptions,
    shard: Shard,
    started: SystemTime,
    runs: usize,
    outcome: Option<&SweepOutcome>,
) -> Result<()> {
    let counts = outcome.map(|o| {
        serde_json::json!({
            "skipped_already_done": o.skipped,
            "ran": o.ran,
            "ok": o.runs - o.failed,
            "failed": o.failed,
        })
    });
    let manifest = serde_json::json!({
        "tool": "inference-lab",
        "version": VERSION,
        "spec": spec.name,
        "shard": shard.to_string(),
        "grid_runs": grid.runs.len(),
        "runs": runs,
        "host": hostname(),
        "pid": std::process::id(),
        "threads": options.threads,
        "started_at": rfc3339(started),
        "finished_at": outcome.map(|_| rfc3339(SystemTime::now())),
        "wall_s": outcome.map(|o| o.wall_s),
        "counts": counts,
    });
    let text = serde_json::to_string_pretty(&manifest).expect("json") + "\n";
    write_atomic(dir, &shard_manifest_name(shard), &shard.file_stem(), &text)
}

/// Writes `dir/name` via `.name.TAG.PID.tmp` and a rename: readers never see half a file,
/// and writers with different tags never share a temporary file.
pub(super) fn write_atomic(dir: &Path, name: &str, tag: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{tag}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
}

/// This machine's host name ("" if unknown).
#[cfg(unix)]
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// This machine's host name ("" if unknown).
#[cfg(not(unix))]
fn hostname() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// UTC time as RFC 3339 (seconds), without a date-time dependency.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(super::rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_300_000);
        assert_eq!(super::rfc3339(t), "2026-11-21T22:26:40Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(super::rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
