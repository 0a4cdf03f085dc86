//! Turning a request's messages into prompt text: `--chat-template None` or a Jinja template.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error as JinjaError, ErrorKind, State, Value};
use tokenizers::Tokenizer;

use super::request::ChatRequest;
use crate::{bail, Error, Result};

/// How a request's messages become the prompt text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTemplate {
    /// `--chat-template None`: the message contents joined by "\n", nothing else (no roles, no
    /// special tokens from a template; the tokenizer's own post-processor may add some).
    Join,
    /// A Jinja chat template as HuggingFace `apply_chat_template` renders it.
    Jinja { source: String },
}

/// The name the template has in minijinja's error messages ("... (in chat_template:3)").
const TEMPLATE_NAME: &str = "chat_template";

/// The work one render of the chat template may do, in minijinja fuel: one per instruction and
/// one per 64 bytes of text it creates (output, concatenations, filter and method results).
/// Fuel only goes down, so this bounds a render to about 2 million instructions (well under a
/// second) and 128 MB of created text: a runaway loop or a string that doubles itself stops
/// with an error instead of hanging or exhausting memory. Qwen3's template needs 271 fuel for
/// a four-message chat, about 115,000 for 2,000 messages and 330,000 for one message as long
/// as the longest line the loader accepts (4 MiB; see the tests).
pub const TEMPLATE_FUEL: u64 = 2_000_000;

impl ChatTemplate {
    /// Reads `--chat-template`: `None` (any case) joins the contents; the path of an existing
    /// file (relative to `base_dir` if relative) is read as the template, and a `.json` file is
    /// read as a HuggingFace `tokenizer_config.json` whose `chat_template` is used; anything else
    /// is the template text itself, provided it contains `{{` or `{%` (so a mistyped file name
    /// is an error rather than a template that renders to its own name).
    pub fn from_arg(arg: &str, base_dir: &Path) -> Result<ChatTemplate> {
        if arg.trim().eq_ignore_ascii_case("none") {
            return Ok(ChatTemplate::Join);
        }
        let looks_like_jinja = arg.contains("{{") || arg.contains("{%");
        let path = base_dir.join(arg);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => bail!(
                "chat template {}: is a folder: give \"None\", a template file or a template string",
                path.display()
            ),
            Ok(_) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::new(format!("chat template {}: cannot read it: {e}", path.display()))
                })?;
                let is_json = path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"));
                let source = if is_json {
                    template_of_config(&path, &text)?
                } else {
                    text
                };
                Ok(ChatTemplate::Jinja { source })
            }
            Err(_) if looks_like_jinja => Ok(ChatTemplate::Jinja {
                source: arg.to_string(),
            }),
            Err(e) => bail!(
                "chat template {}: cannot read it ({e}), and {arg:?} is not a Jinja template \
                 either (no {{{{ or {{%): give \"None\", a template file or a template string",
                path.display()
            ),
        }
    }
}

/// The `chat_template` of a HuggingFace tokenizer_config.json: a string, or a list of
/// `{"name", "template"}` of which the one named "default" (else the first) is taken.
fn template_of_config(path: &Path, text: &str) -> Result<String> {
    let config: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(format!(
            "chat template {}: a .json file must be a tokenizer_config.json: invalid JSON: {e}",
            path.display()
        ))
    })?;
    let template = match config.get("chat_template") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(list)) => {
            let named = |name: &str| {
                list.iter()
                    .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
            };
            named("default")
                .or(list.first())
                .and_then(|t| t.get("template"))
                .and_then(|t| t.as_str())
                .map(str::to_string)
        }
        _ => None,
    };
    match template {
        Some(t) => Ok(t),
        None => bail!(
            "chat template {}: has no \"chat_template\" string: a .json template file must be a \
             tokenizer_config.json with one",
            path.display()
        ),
    }
}

/// The template's `bos_token` and `eos_token`, where the tokenizer defines them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: Option<String>,
    pub eos: Option<String>,
}

const BOS_NAMES: [&str; 4] = ["<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>"];
const EOS_NAMES: [&str; 4] = ["<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>"];

impl SpecialTokens {
    /// From `tokenizer_config.json` beside the tokenizer file when there is one (its
    /// `bos_token` / `eos_token`, a string or `{"content": ...}`; null or absent = undefined);
    /// otherwise the first special added token with a well-known name (`<|begin_of_text|>`,
    /// `<s>`, `<bos>`, `<|startoftext|>`; `<|end_of_text|>`, `</s>`, `<eos>`, `<|endoftext|>`).
    pub fn find(tokenizer_path: &Path, tokenizer: &Tokenizer) -> Result<SpecialTokens> {
        let config_path: PathBuf = tokenizer_path.with_file_name("tokenizer_config.json");
        if config_path.is_file() {
            let text = std::fs::read_to_string(&config_path).map_err(|e| {
                Error::new(format!("{}: cannot read it: {e}", config_path.display()))
            })?;
            let config: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::new(format!("{}: invalid JSON: {e}", config_path.display())))?;
            let token = |key: &str| match config.get(key) {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Object(o)) => o
                    .get("content")
                    .and_then(|c| c.as_str())
                    .map(str::to_string),
                _ => None,
            };
            return Ok(SpecialTokens {
                bos: token("bos_token"),
                eos: token("eos_token"),
            });
        }
        let added = tokenizer.get_added_tokens_decoder();
        let known = |names: &[&str]| {
            names
                .iter()
                .find(|name| added.values().any(|t| t.special && t.content == **name))
                .map(|name| name.to_string())
        };
        Ok(SpecialTokens {
            bos: known(&BOS_NAMES),
            eos: known(&EOS_NAMES),
        })
    }
}

/// A compiled chat template, shared by the threads that tokenise.
pub enum Renderer {
    Join,
    Jinja {
        env: Box<Environment<'static>>,
        specials: SpecialTokens,
    },
}

fn raise_exception(message: String) -> std::result::Result<Value, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

impl Renderer {
    /// Compiles the template the way HuggingFace transformers does (`trim_blocks` and
    /// `lstrip_blocks` on, `raise_exception`, loop controls, Python string and dict methods).
    pub fn new(template: &ChatTemplate, specials: SpecialTokens) -> Result<Renderer> {
        Renderer::with_fuel(template, specials, TEMPLATE_FUEL)
    }

    /// [`new`](Self::new) with another fuel budget per render (tests measure with it).
    fn with_fuel(template: &ChatTemplate, specials: SpecialTokens, fuel: u64) -> Result<Renderer> {
        let source = match template {
            ChatTemplate::Join => return Ok(Renderer::Join),
            ChatTemplate::Jinja { source } => source,
        };
        let mut env = Environment::new();
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.set_unknown_method_callback(python_method);
        env.set_fuel(Some(fuel));
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned(TEMPLATE_NAME, source.clone())
            .map_err(|e| Error::new(format!("chat template does not parse: {e}")))?;
        Ok(Renderer::Jinja {
            env: Box::new(env),
            specials,
        })
    }

    /// Whether the tokenizer should add its own special tokens (its post-processor's, e.g. a
    /// BOS): only for joined text, like a raw prompt sent to vLLM's completions endpoint. A
    /// template writes the special tokens it wants itself, so they are not added twice.
    pub fn add_special_tokens(&self) -> bool {
        matches!(self, Renderer::Join)
    }

    /// The prompt text of one request; the error is the message without file and line.
    pub fn render(&self, request: &ChatRequest) -> std::result::Result<String, String> {
        let (env, specials) = match self {
            Renderer::Join => return Ok(request.contents().collect::<Vec<_>>().join("\n")),
            Renderer::Jinja { env, specials } => (env, specials),
        };
        let messages: Vec<Value> = request.messages.iter().map(json_object_to_value).collect();
        let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
        ctx.insert("messages".into(), Value::from(messages));
        ctx.insert("add_generation_prompt".into(), Value::from(true));
        ctx.insert(
            "tools".into(),
            request
                .tools
                .as_ref()
                .map_or(Value::from(()), json_to_value),
        );
        ctx.insert("documents".into(), Value::from(()));
        if let Some(bos) = &specials.bos {
            ctx.insert("bos_token".into(), Value::from(bos.as_str()));
        }
        if let Some(eos) = &specials.eos {
            ctx.insert("eos_token".into(), Value::from(eos.as_str()));
        }
        env.get_template(TEMPLATE_NAME)
            .and_then(|t| t.render(ctx))
            .map_err(|e| match e.kind() {
                ErrorKind::OutOfFuel => format!(
                    "the chat template exceeded its limit of {TEMPLATE_FUEL} fuel per request \
                     (minijinja's measure of work: one per instruction, one per 64 bytes of \
                     text created): it loops or builds text without bound"
                ),
                _ => format!("the chat template failed: {e}"),
            })
    }
}

/// Python string and dict methods (pycompat), with the output of the two that can make a
/// string much larger than their inputs, `str.replace` and `str.join`, paid for in fuel
/// *before* they build it: minijinja charges a method only for the value it returns, and
/// `s.replace("", s)` squares the length of `s` in one call.
fn python_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> std::result::Result<Value, JinjaError> {
    if let Some(s) = value.as_str() {
        let bytes = match (method, args) {
            ("replace", [old, new, rest @ ..]) => match (old.as_str(), new.as_str()) {
                (Some(old), Some(new)) => {
                    let count = rest.first().and_then(|c| i64::try_from(c.clone()).ok());
                    replaced_len(s, old, new, count)
                }
                _ => 0,
            },
            ("join", [items]) => joined_len(s, items),
            _ => 0,
        };
        state.consume_fuel(bytes / 64)?;
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// The length of `s.replace(old, new, count)` (a negative or absent count replaces all).
fn replaced_len(s: &str, old: &str, new: &str, count: Option<i64>) -> u64 {
    let found = if old.is_empty() {
        s.chars().count() as u64 + 1
    } else {
        s.matches(old).count() as u64
    };
    let n = match count {
        Some(c) if c >= 0 => found.min(c as u64),
        _ => found,
    };
    (s.len() as u64 - n * old.len() as u64).saturating_add(n.saturating_mul(new.len() as u64))
}

/// The length of `separator.join(items)`, items written as the template would print them.
fn joined_len(separator: &str, items: &Value) -> u64 {
    let Ok(iter) = items.try_iter() else {
        return 0;
    };
    let mut total = 0u64;
    for (i, item) in iter.enumerate() {
        let len = match item.as_str() {
            Some(text) => text.len(),
            None => item.to_string().len(),
        };
        total = total.saturating_add(len as u64);
        if i > 0 {
            total = total.saturating_add(separator.len() as u64);
        }
    }
    total
}

fn json_object_to_value(object: &serde_json::Map<String, serde_json::Value>) -> Value {
    Value::from(
        object
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect::<BTreeMap<String, Value>>(),
    )
}

/// JSON to a template value (objects become maps with their keys in sorted order).
fn json_to_value(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(items) => Value::from(items.iter().map(json_to_value).collect::<Vec<_>>()),
        J::Object(object) => json_object_to_value(object),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::dataset::MAX_LINE_BYTES;

    const QWEN_CONFIG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/tokenizers/qwen3/tokenizer_config.json"
    );

    fn qwen(fuel: u64) -> Renderer {
        let template = ChatTemplate::from_arg(QWEN_CONFIG, Path::new("/")).unwrap();
        Renderer::with_fuel(&template, SpecialTokens::default(), fuel).unwrap()
    }

    fn request(messages: &[(&str, &str)]) -> ChatRequest {
        let messages: Vec<serde_json::Value> = messages
            .iter()
            .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
            .collect();
        super::super::request::parse(&serde_json::json!({ "messages": messages }).to_string())
            .unwrap()
    }

    /// The least fuel that renders `request`, to within 1/64 (by bisection).
    fn fuel_needed(request: &ChatRequest) -> u64 {
        let (mut lo, mut hi) = (1u64, TEMPLATE_FUEL);
        assert!(qwen(hi).render(request).is_ok(), "over the budget");
        while hi - lo > hi / 64 {
            let mid = lo + (hi - lo) / 2;
            if qwen(mid).render(request).is_ok() {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    #[test]
    fn real_requests_use_a_small_part_of_the_budget() {
        let chat = request(&[
            ("system", "You are a helpful assistant."),
            ("user", "What is the capital of France?"),
            ("assistant", "Paris."),
            ("user", "And of Italy? Answer in one word, please."),
        ]);
        let typical = fuel_needed(&chat);
        // The longest line the loader accepts, as one message.
        let long_text = "lorem ipsum ".repeat((MAX_LINE_BYTES - 100) / 12);
        let long = request(&[("user", &long_text)]);
        let longest = fuel_needed(&long);
        // Many short messages in one line: the per-message work of the template.
        let turns: Vec<(&str, &str)> = (0..2000)
            .map(|i| (if i % 2 == 0 { "user" } else { "assistant" }, "ok"))
            .collect();
        let many = fuel_needed(&request(&turns));
        println!("fuel: typical {typical}, 4 MiB message {longest}, 2000 messages {many}");
        assert!(typical < TEMPLATE_FUEL / 1000, "{typical}");
        assert!(longest < TEMPLATE_FUEL / 4, "{longest}");
        assert!(many < TEMPLATE_FUEL / 4, "{many}");
    }

    #[test]
    fn replace_and_join_are_charged_for_what_they_would_build() {
        assert_eq!(replaced_len("abcabc", "b", "xyz", None), 10);
        assert_eq!(replaced_len("abcabc", "b", "xyz", Some(1)), 8);
        assert_eq!(replaced_len("abc", "", "--", None), 3 + 4 * 2);
        assert_eq!(replaced_len("abc", "", "--", Some(-1)), 3 + 4 * 2);
        let items = Value::from(vec![Value::from("ab"), Value::from(7), Value::from("c")]);
        assert_eq!(joined_len(", ", &items), 2 + 1 + 1 + 2 * 2);
        // The lengths are those of what pycompat builds.
        let mut env = Environment::new();
        env.set_unknown_method_callback(python_method);
        let built = |source: &str| env.render_str(source, ()).unwrap().len() as u64;
        assert_eq!(built("{{ 'abcabc'.replace('b', 'xyz') }}"), 10);
        assert_eq!(built("{{ 'abcabc'.replace('b', 'xyz', 1) }}"), 8);
        assert_eq!(built("{{ 'abc'.replace('', '--') }}"), 11);
        assert_eq!(built("{{ ', '.join(['ab', 7, 'c']) }}"), 8);
    }
}
