//! Trace replay input: real request traces (arrival times and token counts) read from a file.
//!
//! Three layouts ([`TraceFormat`]):
//!
//! - `azure`: the Azure LLM inference trace CSV (data/traces/azure-llm-2023/): the header is
//!   exactly `TIMESTAMP,ContextTokens,GeneratedTokens`; TIMESTAMP is a wall-clock instant
//!   `YYYY-MM-DD HH:MM:SS` with up to 9 fractional digits (a `T` may replace the space).
//! - `mooncake`: the Mooncake JSONL trace (data/traces/mooncake-fast25/): one JSON object a line
//!   with `timestamp` (milliseconds since the trace start), `input_length`, `output_length` and
//!   optionally `hash_ids`, the prompt's prefix-block ids, one per [`MOONCAKE_BLOCK_TOKENS`]
//!   tokens (see [`mooncake_block_hashes`]).
//! - `csv`: a CSV file with a header row whose columns [`CsvColumns`] names: arrival time in
//!   seconds (any origin), input and output tokens, and optionally priority (an integer),
//!   class and session (text; an empty field is none).
//!
//! Arrivals are made relative to the first request (which arrives at 0.0). Azure instants are
//! parsed exactly (whole days from the civil date, fractional digits as integer nanoseconds),
//! so differences across midnight or a month end are exact to the nanosecond.
//!
//! Every error is one line naming the file and, for a request, its 1-based line (the header
//! is line 1). Token counts are whole numbers from 1 to `u32::MAX`; times are finite; requests
//! must be in time order (equal times are allowed). Blank lines are skipped, a UTF-8 byte order
//! mark and `\r\n` line ends are accepted. CSV fields are split at every comma: quoted fields
//! are refused rather than misread.

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::MAX_REQUESTS;
use crate::{bail, shorten, shorten_quoted, Error, Result};

/// Which layout a trace file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    Azure,
    Mooncake,
    Csv,
}

/// Column names of a generic CSV trace (header row required).
#[derive(Debug, Clone, PartialEq)]
pub struct CsvColumns {
    /// Arrival time in seconds (any origin). Default `arrival_secs`.
    pub arrival: String,
    /// Prompt tokens. Default `input_tokens`.
    pub input: String,
    /// Output tokens. Default `output_tokens`.
    pub output: String,
    /// An integer priority (lower is more urgent), if the trace has one.
    pub priority: Option<String>,
    /// A free-text request class, if the trace has one.
    pub class: Option<String>,
    /// A free-text session id, if the trace has one.
    pub session: Option<String>,
}

impl Default for CsvColumns {
    fn default() -> Self {
        CsvColumns {
            arrival: "arrival_secs".into(),
            input: "input_tokens".into(),
            output: "output_tokens".into(),
            priority: None,
            class: None,
            session: None,
        }
    }
}

/// One request of a trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceRequest {
    /// Seconds since the trace's first request (the first is 0.0).
    pub arrival: f64,
    pub input_len: u32,
    pub output_len: u32,
    /// 0 when the trace has none.
    pub priority: i64,
    pub class: Option<String>,
    pub session: Option<String>,
    /// Mooncake: the prompt's prefix-block ids, one per 512-token block (empty otherwise).
    pub hash_ids: Vec<u64>,
    /// 1-based line of the file (for errors).
    pub line: u64,
}

/// A whole trace, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub requests: Vec<TraceRequest>,
    pub path: PathBuf,
    pub format: TraceFormat,
}

/// Tokens per Mooncake hash id.
pub const MOONCAKE_BLOCK_TOKENS: u32 = 512;

/// The header an Azure trace must have.
pub const AZURE_HEADER: &str = "TIMESTAMP,ContextTokens,GeneratedTokens";

/// The longest line accepted (1 MiB: a Mooncake line of a million-token prompt is ~16 KB); the
/// limit is enforced while reading, so a longer line is never held whole.
const MAX_LINE_BYTES: u64 = 1 << 20;

/// Reads a whole trace (at most `limit` requests; with no limit, refuses a trace of more than
/// [`MAX_REQUESTS`]). See the module docs for what is accepted.
pub fn read(
    path: &Path,
    format: TraceFormat,
    columns: &CsvColumns,
    limit: Option<u64>,
) -> Result<Trace> {
    read_at_most(path, format, columns, limit, MAX_REQUESTS)
}

/// [`read`], refusing more than `max_requests` requests.
fn read_at_most(
    path: &Path,
    format: TraceFormat,
    columns: &CsvColumns,
    limit: Option<u64>,
    max_requests: u64,
) -> Result<Trace> {
    let shown = path.display();
    let at =
        |line: u64, message: String| Error::new(format!("trace {shown}: line {line}: {message}"));
    if limit == Some(0) {
        bail!("trace {shown}: limit = 0 reads no requests: it must be >= 1");
    }
    let file =
        File::open(path).map_err(|e| Error::new(format!("trace {shown}: cannot read it: {e}")))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let azure = CsvColumns {
        arrival: "TIMESTAMP".into(),
        input: "ContextTokens".into(),
        output: "GeneratedTokens".into(),
        ..CsvColumns::default()
    };
    let is_azure = format == TraceFormat::Azure;
    let names = if is_azure { &azure } else { columns };
    let mut csv = (format != TraceFormat::Mooncake).then_some(Csv {
        names,
        azure: is_azure,
        index: None,
    });
    let mut requests: Vec<TraceRequest> = Vec::new();
    // The first request's time, and the previous request's time and line.
    let mut first = None;
    let mut previous: Option<(Time, u64)> = None;
    let mut buf = Vec::new();
    let mut line = 0u64;
    while limit.is_none_or(|n| (requests.len() as u64) < n) {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| at(line + 1, format!("cannot read it: {e}")))?;
        if n == 0 {
            break;
        }
        line += 1;
        if n as u64 > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
            return Err(at(line, format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let text = std::str::from_utf8(&buf).map_err(|e| at(line, format!("not UTF-8: {e}")))?;
        let text = text
            .strip_prefix('\u{feff}')
            .filter(|_| line == 1)
            .unwrap_or(text);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let parsed = csv
            .as_mut()
            .map_or_else(|| mooncake(text), |csv| csv.line(text));
        let Some((time, mut request)) = parsed.map_err(|m| at(line, m))? else {
            continue; // the header
        };
        let origin = *first.get_or_insert(time);
        if let Some((before, before_line)) = previous.filter(|&(before, _)| time < before) {
            return Err(at(
                line,
                format!(
                    "this request arrives at {} s, earlier than the previous request's {} s \
                     (line {before_line}; times since the first request): traces must be in \
                     time order",
                    time.since(origin),
                    before.since(origin)
                ),
            ));
        }
        request.arrival = time.since(origin);
        if !request.arrival.is_finite() {
            return Err(at(line, "too far in time from the first request".into()));
        }
        if requests.len() as u64 >= max_requests {
            bail!(
                "trace {shown}: it has more than {max_requests} requests, the limit per run: \
                 read fewer (a limit of at most {max_requests})"
            );
        }
        request.line = line;
        requests.push(request);
        previous = Some((time, line));
    }
    if requests.is_empty() {
        bail!("trace {shown}: it has no requests (an empty file, or a header alone)");
    }
    let path = path.to_path_buf();
    Ok(Trace {
        requests,
        path,
        format,
    })
}

/// A request's time as its format gives it (one variant per file), compared exactly.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Time {
    /// Azure: nanoseconds since 1970-01-01 00:00:00 (of the trace's own clock).
    Nanos(i128),
    /// Mooncake: milliseconds.
    Millis(f64),
    /// CSV: seconds.
    Secs(f64),
}

impl Time {
    /// Seconds since `first` (a time of the same file, hence the same variant).
    fn since(self, first: Time) -> f64 {
        match (self, first) {
            (Time::Nanos(t), Time::Nanos(f)) => (t - f) as f64 / 1e9,
            (Time::Millis(t), Time::Millis(f)) => (t - f) / 1000.0,
            (Time::Secs(t), Time::Secs(f)) => t - f,
            _ => unreachable!("one time format per file"),
        }
    }
}

/// A parsed line: its time and its request (arrival and line are filled in by the caller).
type Parsed = Msg<Option<(Time, TraceRequest)>>;
/// A result whose error is a message without the place.
type Msg<T> = std::result::Result<T, String>;

/// A request with these lengths and nothing else.
fn request(input_len: u32, output_len: u32) -> TraceRequest {
    let request = TraceRequest::default();
    TraceRequest {
        input_len,
        output_len,
        ..request
    }
}

/// A CSV trace being read (Azure's is one whose header and time format are fixed).
struct Csv<'a> {
    names: &'a CsvColumns,
    azure: bool,
    /// Once the header is read: its width and the columns' positions (arrival, input, output;
    /// priority, class, session).
    index: Option<(usize, [usize; 3], [Option<usize>; 3])>,
}

impl Csv<'_> {
    /// Parses one non-blank line: `None` for the header. Errors are messages without the place.
    fn line(&mut self, text: &str) -> Parsed {
        let names = self.names;
        let column = |name: &str| format!("column `{}`", shorten(name));
        let Some((width, [arrival, input, output], [priority, class, session])) = self.index else {
            if self.azure && text.trim() != AZURE_HEADER {
                let text = shorten(text);
                return Err(format!(
                    "the header is `{text}`; an Azure trace's is `{AZURE_HEADER}`"
                ));
            }
            let header = split(text, 0)?;
            let find = |name: &str, what: &str| {
                header.iter().position(|h| *h == name).ok_or_else(|| {
                    let list: Vec<_> = header.iter().map(|h| format!("`{}`", shorten(h))).collect();
                    let (name, list) = (shorten(name), list.join(", "));
                    format!("the header has no column `{name}` ({what}); its columns are {list}")
                })
            };
            let optional =
                |name: &Option<String>, what| name.as_deref().map(|n| find(n, what)).transpose();
            let required = [
                find(&names.arrival, "the arrival time in seconds")?,
                find(&names.input, "input tokens")?,
                find(&names.output, "output tokens")?,
            ];
            let optional = [
                optional(&names.priority, "the priority")?,
                optional(&names.class, "the class")?,
                optional(&names.session, "the session")?,
            ];
            self.index = Some((header.len(), required, optional));
            return Ok(None);
        };
        let fields = split(text, width)?;
        let (stamp, name) = (fields[arrival], column(&names.arrival));
        let time = if self.azure {
            Time::Nanos(wall_clock(stamp).ok_or_else(|| {
                format!(
                    "{name}: `{}` is not a date and time like `2023-11-16 18:15:46.6805900` \
                     (YYYY-MM-DD HH:MM:SS[.fffffffff])",
                    shorten(stamp)
                )
            })?)
        } else {
            let secs = stamp
                .parse::<f64>()
                .map_err(|_| format!("{name}: `{}` is not a number of seconds", shorten(stamp)))?;
            if !secs.is_finite() {
                return Err(format!("{name}: `{stamp}` is not a finite time"));
            }
            Time::Secs(secs)
        };
        let input = count(fields[input], &column(&names.input), "input")?;
        let mut request = request(
            input,
            count(fields[output], &column(&names.output), "output")?,
        );
        if let (Some(i), Some(name)) = (priority, &names.priority) {
            let bad = |_| {
                format!(
                    "{}: `{}` is not an integer priority",
                    column(name),
                    shorten(fields[i])
                )
            };
            request.priority = fields[i].parse().map_err(bad)?;
        }
        let text = |i: Option<usize>| {
            i.map(|i| fields[i])
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        (request.class, request.session) = (text(class), text(session));
        Ok(Some((time, request)))
    }
}

/// A CSV line's fields, trimmed; `width` of them unless it is 0 (a header).
fn split(text: &str, width: usize) -> Msg<Vec<&str>> {
    if text.contains('"') {
        return Err("quoted CSV fields are not supported: write the fields without quotes".into());
    }
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    if width != 0 && fields.len() != width {
        return Err(format!(
            "{} fields, but the header has {width}",
            fields.len()
        ));
    }
    Ok(fields)
}

/// A token count: a whole number from 1 to u32::MAX (`44`, or `44.0`). `what` is `input` or
/// `output`. (f64 holds every integer up to 2^53 exactly, so no count in range is misread.)
fn count(text: &str, field: &str, what: &str) -> Msg<u32> {
    let shown = shorten(text);
    let x = text.parse::<f64>().ok().filter(|x| x.is_finite());
    let x = x.ok_or_else(|| format!("{field}: `{shown}` is not a token count"))?;
    let problem = if x < 0.0 {
        "is negative".to_string()
    } else if x.fract() != 0.0 {
        "is fractional: token counts are whole numbers".to_string()
    } else if x > f64::from(u32::MAX) {
        format!("is over the limit of {} tokens", u32::MAX)
    } else if x == 0.0 {
        return Err(format!(
            "{field} is 0: every request has at least one {what} token"
        ));
    } else {
        return Ok(x as u32);
    };
    Err(format!("{field}: `{shown}` {problem}"))
}

/// One Mooncake line: `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [..]}`.
fn mooncake(text: &str) -> Parsed {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde's "at line 1 column N" would contradict the file's line number.
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(&*message, |(m, _)| m);
        format!(
            "not a JSON object: {} (column {})",
            shorten_quoted(message),
            e.column()
        )
    })?;
    let Value::Object(map) = value else {
        return Err(format!("`{}` is not a JSON object", shorten(text)));
    };
    let quote = |v: &Value| shorten(&v.to_string()).into_owned();
    let number = |key: &str| match map.get(key) {
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!("`{key}` is `{}`, not a number", quote(other))),
        None => Err(format!("no `{key}` field")),
    };
    let stamp = number("timestamp")?;
    let ms = stamp.parse::<f64>().ok().filter(|ms| ms.is_finite());
    let ms = ms.ok_or_else(|| format!("`timestamp` = {stamp} is not a finite time"))?;
    let input = count(&number("input_length")?, "`input_length`", "input")?;
    let mut request = request(
        input,
        count(&number("output_length")?, "`output_length`", "output")?,
    );
    request.hash_ids = match map.get("hash_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => {
            let bad = |i, id| {
                format!(
                    "`hash_ids`[{i}] is `{}`, not a non-negative integer",
                    quote(id)
                )
            };
            let ids = ids.iter().enumerate();
            ids.map(|(i, id)| id.as_u64().ok_or_else(|| bad(i, id)))
                .collect::<Msg<_>>()?
        }
        Some(other) => return Err(format!("`hash_ids` is `{}`, not an array", quote(other))),
    };
    Ok(Some((Time::Millis(ms), request)))
}

/// `YYYY-MM-DD HH:MM:SS[.f]` (1 to 9 fractional digits; `T` may replace the space) as
/// nanoseconds since 1970-01-01 00:00:00; `None` unless it is a valid date and time.
fn wall_clock(text: &str) -> Option<i128> {
    let digits = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())?
    };
    let (head, frac) = (text.get(..19)?, &text[19..]);
    let num = |from: usize, to: usize| digits(&head[from..to]);
    let b = head.as_bytes();
    if (b[4], b[7], b[13], b[16]) != (b'-', b'-', b':', b':') || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let nanos = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(f) if (1..=9).contains(&f.len()) => digits(f)? * 10i64.pow(9 - f.len() as u32),
        _ => return None,
    };
    // Days in the months before each month, in a common year.
    const BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let m = month as usize;
    if day < 1 || day > BEFORE[m] - BEFORE[m - 1] + i64::from(leap && m == 2) {
        return None;
    }
    // Leap years in 1..=y (negative y counts back from year 0; proleptic Gregorian calendar).
    let leaps = |y: i64| y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400);
    let days = 365 * (year - 1970) + leaps(year - 1) - leaps(1969)
        + BEFORE[m - 1]
        + i64::from(leap && m > 2)
        + day
        - 1;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// The chain's starting value (the fractional part of sqrt(3), as SHA-512's second word).
const ROOT: u64 = 0xBB67_AE85_84CA_A73B;
/// 2^64 / golden ratio, the SplitMix64 increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser (as [`super::stream_seed`]): a bijection of u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The engine's prefix-cache block hashes for a Mooncake prompt of `prompt_len` tokens with
/// these hash ids, at the engine's `block_size` (0 is taken as 1).
///
/// One hash per full engine block of the prompt (`prompt_len / block_size`), but never past
/// the tokens the ids cover (`hash_ids.len() * 512`). Engine block j covers tokens
/// [j B, (j + 1) B) and so overlaps the trace blocks from j B / 512 to ((j + 1) B - 1) / 512.
/// Its hash chains: h_j = H(h_(j-1), j, those ids) from a fixed root, where H starts from
/// mix(h_(j-1) ^ (j + 1) * GOLDEN), feeds each id as h = mix((h + GOLDEN) ^ id), then
/// h = mix(h ^ (count << 32)), with `mix` the SplitMix64 finaliser (0 becomes 1: the KV cache
/// uses 0 for none). So two prompts share h_j exactly when (up to a 64-bit collision) they share
/// every trace id up to the trace block holding block j's last token. Fixed arithmetic only:
/// the same on every run and platform.
pub fn mooncake_block_hashes(hash_ids: &[u64], prompt_len: u32, block_size: u32) -> Vec<u64> {
    let size = u64::from(block_size.max(1));
    let trace = u64::from(MOONCAKE_BLOCK_TOKENS);
    let covered = hash_ids.len() as u64 * trace;
    let blocks = (u64::from(prompt_len) / size).min(covered / size);
    let mut hashes = Vec::with_capacity(blocks as usize);
    let mut parent = ROOT;
    for j in 0..blocks {
        let (from, to) = (
            (j * size / trace) as usize,
            (((j + 1) * size - 1) / trace) as usize,
        );
        let ids = &hash_ids[from..=to];
        let mut h = mix(parent ^ (j + 1).wrapping_mul(GOLDEN));
        for &id in ids {
            h = mix(h.wrapping_add(GOLDEN) ^ id);
        }
        h = mix(h ^ ((ids.len() as u64) << 32));
        parent = if h == 0 { 1 } else { h };
        hashes.push(parent);
    }
    hashes
}
