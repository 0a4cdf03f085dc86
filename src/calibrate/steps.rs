//! The measured-steps CSV: one forward pass per row.
//!
//! The format of `data/h100-steps/`: a header line, then one row per step. Only the
//! `sequences` column is required; it is the contract: the step's work as `;`-separated
//! groups `COUNTxNEW@CONTEXT` — COUNT sequences, each computing NEW new tokens on top of
//! CONTEXT - NEW cached ones (CONTEXT is the KV length after the step). `64x1@2048` is 64
//! decodes at context 2048; `1x512@2560;16x1@2048` a 512-token chunk on 2048 cached tokens
//! plus 16 decodes. Other columns used when present: `median_ms` (the measured step time),
//! `phase` and `mode` (for grouping and for choosing the rows to fit), `model` and
//! `weights_dtype` (checked against the config), `total_new_tokens` and `n_seqs` (checked
//! against `sequences`). Fields may be double-quoted (`""` escapes a quote); blank lines are
//! skipped. Errors name the file and the line.

use std::path::Path;

use crate::engine::Work;
use crate::{bail, shorten, Error, Result};

/// `COUNT` sequences computing `new` tokens each, whose KV length after the step is `context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqGroup {
    pub count: u32,
    pub new: u32,
    pub context: u32,
}

/// One measured (or to-be-predicted) step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    /// Line in the file, 1-based (the header is line 1).
    pub line: usize,
    /// The `sequences` field as written.
    pub sequences: String,
    pub groups: Vec<SeqGroup>,
    /// `phase`, `mode`, `model`, `weights_dtype` as written ("" where the column is absent).
    pub phase: String,
    pub mode: String,
    pub model: String,
    pub weights_dtype: String,
    /// `median_ms`, where the column is present and the field is not empty.
    pub measured_ms: Option<f64>,
    /// Every field as written, in header order.
    pub fields: Vec<String>,
}

/// A parsed steps file.
#[derive(Debug, Clone, PartialEq)]
pub struct StepsFile {
    /// How errors and reports name the file.
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<StepRow>,
}

impl StepRow {
    /// The step's work, one [`Work`] per sequence.
    pub fn work(&self) -> impl Iterator<Item = Work> + '_ {
        self.groups.iter().flat_map(|g| {
            std::iter::repeat_n(
                Work {
                    cached: g.context - g.new,
                    new: g.new,
                },
                g.count as usize,
            )
        })
    }

    /// Sum of new tokens over the sequences.
    pub fn total_new_tokens(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| u64::from(g.count) * u64::from(g.new))
            .sum()
    }

    /// Number of sequences.
    pub fn n_seqs(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.count)).sum()
    }

    /// The longest KV length after the step.
    pub fn max_context(&self) -> u32 {
        self.groups.iter().map(|g| g.context).max().unwrap_or(0)
    }

    /// `phase/mode`, or whichever of the two the file has, or `all`.
    pub fn group(&self) -> String {
        match (self.phase.is_empty(), self.mode.is_empty()) {
            (false, false) => format!("{}/{}", self.phase, self.mode),
            (false, true) => self.phase.clone(),
            (true, false) => self.mode.clone(),
            (true, true) => "all".into(),
        }
    }
}

/// Parses a `sequences` field. The error says what is wrong with it (without the row).
pub fn parse_sequences(text: &str) -> std::result::Result<Vec<SeqGroup>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let mut groups = Vec::new();
    for part in text.split(';') {
        let part = part.trim();
        let bad = |why: &str| format!("group `{}` {why}", shorten(part));
        let (count, rest) = part
            .split_once(['x', 'X'])
            .ok_or_else(|| bad("has no `x` between COUNT and NEW"))?;
        let (new, context) = rest
            .split_once('@')
            .ok_or_else(|| bad("has no `@` between NEW and CONTEXT"))?;
        let number = |what: &str, s: &str| {
            s.trim().parse::<u32>().map_err(|_| {
                bad(&format!(
                    "has {what} `{}`, which is not a whole number from 0 to {}",
                    shorten(s.trim()),
                    u32::MAX
                ))
            })
        };
        let group = SeqGroup {
            count: number("COUNT", count)?,
            new: number("NEW", new)?,
            context: number("CONTEXT", context)?,
        };
        if group.count == 0 || group.new == 0 {
            return Err(bad(
                "has zero new tokens: every group needs COUNT >= 1 sequences of NEW >= 1 tokens",
            ));
        }
        if group.context < group.new {
            return Err(bad(&format!(
                "has CONTEXT {} < NEW {}: CONTEXT is the KV length after the step, new tokens \
                 included",
                group.context, group.new
            )));
        }
        groups.push(group);
    }
    Ok(groups)
}

/// Reads and parses a steps file.
pub fn read_steps(path: &Path) -> Result<StepsFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(format!("cannot read steps file {}: {e}", path.display())))?;
    parse_steps(&text, &path.display().to_string())
}

/// Parses the text of a steps file; `name` is how errors name it.
pub fn parse_steps(text: &str, name: &str) -> Result<StepsFile> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header_text)) = lines.next() else {
        bail!(
            "{name} is empty: expected a header line naming the columns (at least `sequences`, \
             and `median_ms` to fit) and one row per measured step"
        );
    };
    let header: Vec<String> = split_csv_line(header_text)
        .map_err(|e| Error::new(format!("{name} line {header_line}: {e}")))?
        .into_iter()
        .map(|h| h.trim().to_string())
        .collect();
    for (i, h) in header.iter().enumerate() {
        if header[..i].contains(h) {
            bail!(
                "{name} line {header_line}: the column `{}` appears twice in the header",
                shorten(h)
            );
        }
    }
    let column = |c: &str| header.iter().position(|h| h == c);
    let Some(seq_col) = column("sequences") else {
        bail!(
            "{name} line {header_line}: no `sequences` column (the header has: {}); each row \
             needs its step's work as COUNTxNEW@CONTEXT groups joined by `;`",
            shorten(&header.join(", "))
        );
    };
    let (phase_col, mode_col) = (column("phase"), column("mode"));
    let (model_col, dtype_col) = (column("model"), column("weights_dtype"));
    let (median_col, tokens_col, seqs_col) = (
        column("median_ms"),
        column("total_new_tokens"),
        column("n_seqs"),
    );

    let mut rows = Vec::new();
    for (line, text) in lines {
        let at = |message: String| Error::new(format!("{name} line {line}: {message}"));
        let fields = split_csv_line(text).map_err(at)?;
        if fields.len() != header.len() {
            return Err(at(format!(
                "{} fields, but the header has {} columns",
                fields.len(),
                header.len()
            )));
        }
        let get = |c: Option<usize>| c.map_or("", |c| fields[c].trim());
        let sequences = get(Some(seq_col)).to_string();
        let groups = parse_sequences(&sequences).map_err(|why| {
            at(format!(
                "sequences `{}` is malformed: {why} (expected COUNTxNEW@CONTEXT groups \
                 joined by `;`, like 64x1@2048 or 1x512@2560;16x1@2048)",
                shorten(&sequences)
            ))
        })?;
        let measured_ms = match get(median_col) {
            "" => None,
            v => match v.parse::<f64>() {
                Ok(ms) if ms.is_finite() && ms > 0.0 => Some(ms),
                _ => {
                    return Err(at(format!(
                        "median_ms `{}` ({}) is not a positive number of milliseconds",
                        shorten(v),
                        shorten(&sequences)
                    )))
                }
            },
        };
        let row = StepRow {
            line,
            sequences: sequences.clone(),
            groups,
            phase: get(phase_col).to_string(),
            mode: get(mode_col).to_string(),
            model: get(model_col).to_string(),
            weights_dtype: get(dtype_col).to_string(),
            measured_ms,
            fields: fields.clone(),
        };
        for (col, what, actual) in [
            (tokens_col, "total_new_tokens", row.total_new_tokens()),
            (seqs_col, "n_seqs", row.n_seqs()),
        ] {
            let v = get(col);
            if !v.is_empty() && v.parse::<u64>().ok() != Some(actual) {
                return Err(at(format!(
                    "{what} = {} does not match sequences `{}`, which sums to {actual}",
                    shorten(v),
                    shorten(&sequences)
                )));
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        bail!("{name} has a header but no rows: expected one row per measured step");
    }
    Ok(StepsFile {
        name: name.to_string(),
        header,
        rows,
    })
}

/// Splits one CSV line into fields: commas separate, a field may be double-quoted with `""`
/// for a quote inside.
fn split_csv_line(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, _) => field.push(ch),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, _) => field.push(ch),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(field);
    Ok(fields)
}

/// Quotes a field for CSV output where needed.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}
