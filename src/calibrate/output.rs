//! Writing a fitted config: the input config's text with the calibration keys of
//! `[hardware]` replaced, so its comments and layout survive.

use super::params::{Param, Range};
use crate::config::{Config, CALIBRATION_KEYS};
use crate::{Error, Result};

/// The first words of the comment line the writer puts above the calibration keys (and
/// removes again when it rewrites a calibrated config).
pub const MARK: &str = "# Calibrated by inference-lab calibrate fit";

/// A value as TOML text that reads back as exactly the same double.
fn toml_number(value: f64, range: Range) -> String {
    match range {
        Range::Seconds if value != 0.0 => format!("{value:e}"),
        _ if value.fract() == 0.0 => format!("{value:.1}"),
        _ => format!("{value}"),
    }
}

/// The calibration keys as TOML lines, aligned, each with its meaning.
pub fn calibration_lines(config: &Config) -> Vec<String> {
    let hw = &config.hardware;
    let mut pairs: Vec<(String, String, &str)> = Param::ALL
        .iter()
        .map(|&p| {
            (
                p.name().to_string(),
                toml_number(p.get(hw), p.range()),
                p.meaning(),
            )
        })
        .collect();
    pairs.push((
        "causal_attention".into(),
        hw.causal_attention.to_string(),
        "attention work counted under a causal mask",
    ));
    let width = pairs
        .iter()
        .map(|(k, v, _)| k.len() + 3 + v.len())
        .max()
        .unwrap_or(0);
    pairs
        .into_iter()
        .map(|(k, v, meaning)| {
            let text = format!("{k} = {v}");
            format!("{text:<width$}  # {meaning}")
        })
        .collect()
}

/// `original` (the text of the config that was fitted) with `fitted`'s calibration keys in its
/// `[hardware]` section, under a comment line starting with [`MARK`] followed by `note`. Falls
/// back to serialising the whole config when the text has no plain `[hardware]` table. The
/// result is checked: it must load as `fitted`'s parameters exactly.
pub fn calibrated_config_text(original: &str, fitted: &Config, note: &str) -> Result<String> {
    let keys: Vec<&str> = CALIBRATION_KEYS
        .into_iter()
        // A fitted config is priced by its fit: a roofline request or a preset's provenance
        // no longer applies.
        .chain(["step_model", "calibration_source"])
        .collect();
    let is_key_line = |line: &str| {
        let t = line.trim_start();
        keys.iter().any(|k| {
            t.strip_prefix(k)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    let is_header = |line: &str| line.trim_start().starts_with('[');
    let lines: Vec<&str> = original.lines().collect();
    let start = lines.iter().position(|l| {
        let t = l.trim();
        t.strip_prefix("[hardware]")
            .is_some_and(|rest| rest.trim().is_empty() || rest.trim().starts_with('#'))
    });
    let text = match start {
        Some(start) => {
            let end = (start + 1..lines.len())
                .find(|&i| is_header(lines[i]))
                .unwrap_or(lines.len());
            let mut section: Vec<String> = lines[start + 1..end]
                .iter()
                .filter(|l| !is_key_line(l) && !l.trim_start().starts_with(MARK))
                .map(|l| l.to_string())
                .collect();
            // Insert after the section's last key, before the blank lines and comments that
            // lead into the next section.
            let mut at = section.len();
            while at > 0 && {
                let t = section[at - 1].trim();
                t.is_empty() || t.starts_with('#')
            } {
                at -= 1;
            }
            let mut block = vec![String::new(), format!("{MARK}: {note}")];
            block.extend(calibration_lines(fitted));
            section.splice(at..at, block);
            let mut out: Vec<String> = lines[..=start].iter().map(|l| l.to_string()).collect();
            out.extend(section);
            out.extend(lines[end..].iter().map(|l| l.to_string()));
            out.join("\n") + "\n"
        }
        None => serialised(fitted, note)?,
    };
    let reread = Config::from_toml_str_in(&text, &fitted.base_dir)
        .map_err(|e| Error::new(format!("the written config does not load: {e}")))?;
    let same = Param::ALL
        .iter()
        .all(|p| p.get(&reread.hardware).to_bits() == p.get(&fitted.hardware).to_bits())
        && reread.hardware.causal_attention == fitted.hardware.causal_attention;
    if same {
        Ok(text)
    } else {
        serialised(fitted, note)
    }
}

fn serialised(config: &Config, note: &str) -> Result<String> {
    let body = toml::to_string_pretty(config)
        .map_err(|e| Error::new(format!("cannot write the config as TOML: {e}")))?;
    Ok(format!("{MARK}: {note}\n{body}"))
}
