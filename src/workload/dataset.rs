//! Dataset mode: real requests read from a JSONL file, measured with a real tokenizer.
//!
//! Each non-blank line is one request, either in the OpenAI batch API format
//! `{"custom_id", "method", "url", "body": {"messages": [...], "max_tokens": N, ...}}` or as a
//! bare body `{"messages": [...], "max_tokens": N}`. Blank lines are skipped; line numbers in
//! errors count every line from 1.
//!
//! - `messages` is a non-empty array of objects with a `content` that is a string or an array
//!   of text parts `[{"type": "text", "text": "..."}]`, whose texts are concatenated with
//!   nothing between them (any other part type is an error). Other message fields (`role`,
//!   `name`, `tool_calls`, ...) are passed to the template as they are.
//! - `max_tokens` (or, when it is absent or null, `max_completion_tokens`) is an integer >= 1,
//!   or absent / null for "no limit" (`None`).
//! - The body's `tools`, if any, are passed to the template.
//!
//! The prompt text is the messages rendered by the chat template ([`ChatTemplate`]):
//!
//! - `None`: the contents joined by "\n" (`"a"`, `"b"` -> `"a\nb"`; no roles, no trailing
//!   newline), tokenised **with** the tokenizer's own special tokens (its post-processor's, such
//!   as Llama's BOS), like a raw prompt sent to vLLM's completions endpoint.
//! - a Jinja template: rendered as HuggingFace `apply_chat_template` does (`trim_blocks`,
//!   `lstrip_blocks`, `raise_exception`, `namespace`, loop controls, `tojson`, Python string and
//!   dict methods such as `.strip()` and `.startswith()`), with `messages`,
//!   `add_generation_prompt = true`, `tools` (none unless the request has some),
//!   `documents = none`, and `bos_token` / `eos_token` where the tokenizer defines them (see
//!   [`SpecialTokens::find`]). The text is tokenised **without** adding special
//!   tokens: the template writes the ones it wants, as vLLM's chat endpoint does. Known
//!   differences from Python Jinja: object keys are in sorted order, and `tojson` escapes
//!   `<`, `>`, `&` and `'` as `\u003c`-style sequences.
//!
//! Special tokens written in the text (`<|im_start|>`) become their single ids. The prompt length
//! is the token count; a prompt longer than `max_seq_len - 1` tokens keeps its first
//! `max_seq_len - 1` tokens (and is counted in [`Dataset::clipped`]), so that at least one output
//! token fits. A prompt of 0 tokens is an error.
//!
//! For prefix caching, each prompt keeps the hashes of its full blocks of (clipped) token ids,
//! chained so that equal prefixes have equal hashes (see [`block_hashes`]); token ids themselves are not
//! kept. The file is streamed line by line and tokenised in parallel (rayon) in batches of
//! [`BATCH_LINES`] lines, so memory is one batch of text plus the per-request numbers.

mod hash;
mod lines;
mod request;
mod template;
mod turns;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tokenizers::Tokenizer;

pub use hash::block_hashes;
pub use template::{ChatTemplate, SpecialTokens, TEMPLATE_FUEL};
pub use turns::Turn;

use lines::{read_line_bounded, LineError};
use request::ChatRequest;
use template::Renderer;

use crate::config::MAX_REQUESTS;
use crate::{bail, Error, Result};

/// Lines read, then tokenised in parallel, at a time.
pub const BATCH_LINES: usize = 1024;

/// The longest line (one request) the loader accepts: 4 MiB, about a million tokens of English
/// text, beyond any model's context. Tokenising takes about 100 bytes of memory per byte of
/// text, so this bounds one line's cost to about 400 MB; the limit is enforced while reading,
/// so a longer line is never held whole.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// A batch also ends once it holds this much text, so that a batch of long lines stays small.
const BATCH_BYTES: usize = 32 << 20;

/// One request of the dataset, as the simulation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetPrompt {
    /// Tokens of the rendered prompt, after clipping to max_seq_len - 1 (>= 1).
    pub prompt_len: u32,
    /// The request's `max_tokens`, if it gave one.
    pub max_tokens: Option<u32>,
    /// The prefix-cache hash of each full block of the prompt (`prompt_len / block_size`).
    pub block_hashes: Vec<u64>,
    /// The line of the file it came from (1-based).
    pub line: u64,
    /// Read as turns of a conversation: where this one stands in it. Its `block_hashes` then
    /// cover the recorded reply too (see `turns.rs`).
    pub turn: Option<Turn>,
}

/// A loaded dataset: its requests in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub prompts: Vec<DatasetPrompt>,
    /// Read as conversations: the index of each one's first turn in `prompts` (its turns
    /// follow it); empty otherwise.
    pub conversations: Vec<u32>,
    /// How many prompts were longer than max_seq_len - 1 tokens and were clipped.
    pub clipped: u64,
    pub path: PathBuf,
}

/// What [`load`] reads and how.
#[derive(Debug, Clone, Copy)]
pub struct DatasetOptions<'a> {
    /// The JSONL file.
    pub path: &'a Path,
    /// A HuggingFace tokenizer.json (a tokenizer_config.json beside it is read too, if any).
    pub tokenizer: &'a Path,
    pub template: &'a ChatTemplate,
    pub max_seq_len: u32,
    /// Tokens per KV block (the prefix-cache hash granularity).
    pub block_size: u32,
    /// Read at most this many requests (the first N non-blank lines); the rest of the file is
    /// not read.
    pub limit: Option<u64>,
    /// Read each line as a conversation, turn by turn (`[workload.sessions]`).
    pub turns: bool,
}

/// Reads, renders and tokenises the dataset. Every error names the file, and for a request its
/// line.
pub fn load(options: &DatasetOptions) -> Result<Dataset> {
    load_at_most(options, MAX_REQUESTS)
}

/// [`load`], refusing a dataset of more than `max_requests` requests when no limit is given.
fn load_at_most(options: &DatasetOptions, max_requests: u64) -> Result<Dataset> {
    if options.max_seq_len < 2 {
        bail!(
            "dataset {}: max_seq_len = {} leaves no room for a prompt and an output token: it must be >= 2",
            options.path.display(),
            options.max_seq_len
        );
    }
    if options.block_size < 1 {
        bail!(
            "dataset {}: block_size must be >= 1",
            options.path.display()
        );
    }
    let tokenizer = load_tokenizer(options.tokenizer)?;
    let specials = SpecialTokens::find(options.tokenizer, &tokenizer)?;
    let renderer = Renderer::new(options.template, specials)?;
    let file = File::open(options.path).map_err(|e| {
        Error::new(format!(
            "dataset {}: cannot read it: {e}",
            options.path.display()
        ))
    })?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let loader = Loader {
        path: options.path,
        tokenizer: &tokenizer,
        renderer: &renderer,
        max_prompt: options.max_seq_len - 1,
        block_size: options.block_size,
    };

    // One past the limit per run, to tell a dataset that is too long from one that fits.
    let limit = options.limit.unwrap_or(max_requests + 1);
    let mut dataset = Dataset {
        prompts: Vec::new(),
        conversations: Vec::new(),
        clipped: 0,
        path: options.path.to_path_buf(),
    };
    let mut line_no = 0u64;
    let mut taken = 0u64;
    let mut buf = Vec::new();
    let mut batch: Vec<(u64, String)> = Vec::with_capacity(BATCH_LINES);
    let mut at_end = false;
    // An error found while reading, reported after the lines before it (so that the first bad
    // line in the file is the one reported).
    let mut read_error = None;
    while !at_end && taken < limit && read_error.is_none() {
        batch.clear();
        let mut batch_bytes = 0;
        while batch.len() < BATCH_LINES && batch_bytes < BATCH_BYTES && taken < limit {
            buf.clear();
            let n = match read_line_bounded(&mut reader, &mut buf, MAX_LINE_BYTES) {
                Ok(n) => n,
                Err(LineError::Io(e)) => {
                    read_error = Some(loader.error(line_no + 1, format!("cannot read it: {e}")));
                    break;
                }
                Err(LineError::TooLong { read }) => {
                    read_error = Some(loader.error(
                        line_no + 1,
                        format!(
                            "the line is at least {read} bytes long, over the limit of \
                             {MAX_LINE_BYTES} bytes (4 MiB) per request"
                        ),
                    ));
                    break;
                }
            };
            if n == 0 {
                at_end = true;
                break;
            }
            batch_bytes += n;
            line_no += 1;
            let mut text = std::str::from_utf8(&buf)
                .map_err(|e| loader.error(line_no, format!("not UTF-8 text: {e}")))?;
            if line_no == 1 {
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
            }
            if text.trim().is_empty() {
                continue;
            }
            batch.push((line_no, text.to_string()));
            taken += 1;
        }
        let results: Vec<Result<(Vec<DatasetPrompt>, bool)>> = batch
            .par_iter()
            .map(|(line, text)| match options.turns {
                true => loader.conversation(*line, text),
                false => loader.prompt(*line, text).map(|(p, c)| (vec![p], c)),
            })
            .collect();
        for result in results {
            let (prompts, clipped) = result?;
            dataset.clipped += u64::from(clipped);
            if options.turns {
                dataset.conversations.push(dataset.prompts.len() as u32);
            }
            dataset.prompts.extend(prompts);
        }
        if dataset.prompts.len() as u64 > max_requests {
            bail!(
                "dataset {}: more than {max_requests} requests (line {line_no}), over the limit \
                 of requests per run: set workload.num_requests <= {max_requests} to use the \
                 first ones",
                options.path.display()
            );
        }
    }
    if let Some(e) = read_error {
        return Err(e);
    }
    if dataset.prompts.is_empty() {
        bail!(
            "dataset {}: no requests: the file is empty or every line is blank (one JSON request per line)",
            options.path.display()
        );
    }
    dataset.prompts.shrink_to_fit();
    Ok(dataset)
}

/// Reads a HuggingFace tokenizer.json, with any truncation or padding it asks for turned off
/// (they would change the counts).
fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::new(format!("tokenizer {}: cannot read it: {e}", path.display())))?;
    let mut tokenizer = Tokenizer::from_bytes(&bytes).map_err(|e| {
        Error::new(format!(
            "tokenizer {}: not a HuggingFace tokenizer.json: {e}",
            path.display()
        ))
    })?;
    tokenizer
        .with_truncation(None)
        .map_err(|e| Error::new(format!("tokenizer {}: {e}", path.display())))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// What every worker thread shares.
struct Loader<'a> {
    path: &'a Path,
    tokenizer: &'a Tokenizer,
    renderer: &'a Renderer,
    max_prompt: u32,
    block_size: u32,
}

impl Loader<'_> {
    fn error(&self, line: u64, message: impl std::fmt::Display) -> Error {
        Error::new(format!("{}: line {line}: {message}", self.path.display()))
    }

    /// One request line: parsed, rendered, tokenised, clipped and hashed; and whether it was
    /// clipped.
    fn prompt(&self, line: u64, text: &str) -> Result<(DatasetPrompt, bool)> {
        let request: ChatRequest = request::parse(text).map_err(|m| self.error(line, m))?;
        let prompt = self
            .renderer
            .render(&request)
            .map_err(|m| self.error(line, m))?;
        let encoding = self
            .tokenizer
            .encode_fast(prompt.as_str(), self.renderer.add_special_tokens())
            .map_err(|e| self.error(line, format!("the tokenizer failed: {e}")))?;
        let ids = encoding.get_ids();
        if ids.is_empty() {
            return Err(self.error(
                line,
                "the prompt is empty (0 tokens): at least one message needs some content",
            ));
        }
        let max = self.max_prompt as usize;
        let clipped = ids.len() > max;
        let ids = &ids[..ids.len().min(max)];
        Ok((
            DatasetPrompt {
                prompt_len: ids.len() as u32,
                max_tokens: request.max_tokens,
                block_hashes: block_hashes(ids, self.block_size),
                line,
                turn: None,
            },
            clipped,
        ))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn a_dataset_longer_than_the_request_limit_is_refused_unless_cut_short() {
        let dir = std::env::temp_dir().join(format!("il-dataset-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("five.jsonl");
        let line = r#"{"messages": [{"role": "user", "content": "hi"}]}"#;
        std::fs::write(&path, format!("{line}\n").repeat(5)).unwrap();
        let tokenizer =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/tokenizers/qwen3/tokenizer.json");
        let mut options = DatasetOptions {
            path: &path,
            tokenizer: &tokenizer,
            template: &ChatTemplate::Join,
            max_seq_len: 100,
            block_size: 16,
            limit: None,
            turns: false,
        };
        let err = load_at_most(&options, 4).unwrap_err().to_string();
        assert!(
            err.contains("five.jsonl") && err.contains("more than 4 requests"),
            "{err}"
        );
        assert!(
            err.contains("line 5") && err.contains("num_requests <= 4"),
            "{err}"
        );
        assert_eq!(load_at_most(&options, 5).unwrap().prompts.len(), 5);
        options.limit = Some(4);
        assert_eq!(load_at_most(&options, 4).unwrap().prompts.len(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
