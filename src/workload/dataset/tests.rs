use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::request::parse;
use super::template::Renderer;
use super::*;

const QWEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/tokenizers/qwen3/tokenizer.json"
);
const QWEN_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/tokenizers/qwen3/tokenizer_config.json"
);
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-era/examples");

/// A fresh, empty folder for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("il-dataset-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// A tiny word-level tokenizer (one id per known word or punctuation run, [UNK] otherwise)
/// whose post-processor prepends `<s>`, and no tokenizer_config.json: quick to load, and it
/// shows when the tokenizer's own special tokens are added.
fn tiny_tokenizer(dir: &Path) -> PathBuf {
    let words = [
        "hello",
        "world",
        "a",
        "b",
        "c",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        ":",
        "!",
        "user",
        "system",
        "assistant",
    ];
    let mut vocab = serde_json::Map::new();
    for (id, w) in ["[UNK]", "<s>", "</s>"]
        .iter()
        .chain(words.iter())
        .enumerate()
    {
        vocab.insert(w.to_string(), id.into());
    }
    let added = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [added(0, "[UNK]"), added(1, "<s>"), added(2, "</s>")],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
        },
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    write(dir, "tokenizer.json", &tokenizer.to_string())
}

fn options<'a>(
    path: &'a Path,
    tokenizer: &'a Path,
    template: &'a ChatTemplate,
) -> DatasetOptions<'a> {
    DatasetOptions {
        path,
        tokenizer,
        template,
        max_seq_len: 4096,
        block_size: 16,
        limit: None,
        turns: false,
    }
}

/// The Qwen3 tokenizer, loaded once for the tests that encode independently of `load`.
fn qwen() -> &'static Tokenizer {
    static QWEN_TOKENIZER: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();
    QWEN_TOKENIZER.get_or_init(|| Tokenizer::from_file(QWEN).unwrap())
}

fn qwen_count(text: &str) -> u32 {
    qwen().encode(text, false).unwrap().get_ids().len() as u32
}

fn llama_template() -> ChatTemplate {
    ChatTemplate::from_arg("llama_template.txt", Path::new(EXAMPLES)).unwrap()
}

fn qwen_template() -> ChatTemplate {
    ChatTemplate::from_arg(QWEN_CONFIG, Path::new("/nonexistent")).unwrap()
}

fn qwen_renderer() -> Renderer {
    let tokenizer = qwen();
    let specials = SpecialTokens::find(Path::new(QWEN), tokenizer).unwrap();
    Renderer::new(&qwen_template(), specials).unwrap()
}

fn render(renderer: &Renderer, line: &str) -> String {
    renderer.render(&parse(line).unwrap()).unwrap()
}

/// The error message of loading `lines` (written to `name` in a fresh folder) with the tiny
/// tokenizer and the given template.
fn load_error(test: &str, lines: &str, template: &ChatTemplate) -> (String, String) {
    let dir = temp_dir(test);
    let tokenizer = tiny_tokenizer(&dir);
    let path = write(&dir, "requests.jsonl", lines);
    let err = load(&options(&path, &tokenizer, template)).unwrap_err();
    (err.message().to_string(), path.display().to_string())
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn the_sample_dataset_loads_with_the_llama_template() {
    let template = llama_template();
    let path = Path::new(EXAMPLES).join("sample_dataset.jsonl");
    let tokenizer = Path::new(QWEN);
    let dataset = load(&options(&path, tokenizer, &template)).unwrap();
    assert_eq!(dataset.path, path);
    assert_eq!(dataset.clipped, 0);
    let max: Vec<_> = dataset.prompts.iter().map(|p| p.max_tokens).collect();
    assert_eq!(max, [50, 200, 100, 150, 250].map(Some));
    let lines: Vec<_> = dataset.prompts.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5]);
    // Request 2, rendered by hand.
    let expected = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n\
                    <|im_start|>user\nExplain quantum computing in simple terms.<|im_end|>\n\
                    <|im_start|>assistant\n";
    assert_eq!(dataset.prompts[1].prompt_len, qwen_count(expected));
    // <|im_start|> and <|im_end|> are one token each: 3 + 3 + 2 of them, "\n"s, the words.
    assert!(
        dataset.prompts[1].prompt_len < 40,
        "{:?}",
        dataset.prompts[1]
    );
    let first =
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    assert_eq!(dataset.prompts[0].prompt_len, qwen_count(first));
}

#[test]
fn the_llama_template_renders_the_expected_text() {
    let renderer = Renderer::new(&llama_template(), SpecialTokens::default()).unwrap();
    let line = fs::read_to_string(Path::new(EXAMPLES).join("sample_dataset.jsonl")).unwrap();
    let line = line.lines().nth(1).unwrap();
    assert_eq!(
        render(&renderer, line),
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n\
         Explain quantum computing in simple terms.<|im_end|>\n<|im_start|>assistant\n"
    );
}

/// Expected strings are what Python's jinja2 renders with transformers' settings.
#[test]
fn the_qwen3_template_renders_like_transformers() {
    let r = qwen_renderer();
    let line = r#"{"messages": [{"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Explain quantum computing in simple terms."}]}"#;
    assert_eq!(
        render(&r, line),
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n\
         Explain quantum computing in simple terms.<|im_end|>\n<|im_start|>assistant\n"
    );
    // Multi-turn: the reasoning of an earlier assistant turn is dropped (split, lstrip, ns).
    let line = r#"{"messages": [{"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello!"},
        {"role": "user", "content": "Bye"}]}"#;
    assert_eq!(
        render(&r, line),
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n\
         <|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"
    );
    // Tool calls and tool responses (loop.first, loop.index0, messages[i - 1]).
    let line = r#"{"messages": [{"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
          "function": {"name": "calc", "arguments": "{\"x\": 2}"}}]},
        {"role": "tool", "content": "4"}]}"#;
    assert_eq!(
        render(&r, line),
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n\
         {\"name\": \"calc\", \"arguments\": {\"x\": 2}}\n</tool_call><|im_end|>\n\
         <|im_start|>user\n<tool_response>\n4\n</tool_response><|im_end|>\n\
         <|im_start|>assistant\n"
    );
    // The request's tools go through `tojson` (keys in sorted order, unlike Python).
    let line = r#"{"body": {"messages": [{"role": "user", "content": "Add"}],
        "tools": [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}]}}"#;
    assert_eq!(
        render(&r, line),
        "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the \
         user query.\n\nYou are provided with function signatures within <tools></tools> XML \
         tags:\n<tools>\n{\"function\": {\"name\": \"calc\", \"parameters\": {\"type\": \
         \"object\"}}, \"type\": \"function\"}\n</tools>\n\nFor each function call, return a \
         json object with function name and arguments within <tool_call></tool_call> XML \
         tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n\
         </tool_call><|im_end|>\n<|im_start|>user\nAdd<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn templates_have_python_style_values_and_html_safe_tojson() {
    let template = ChatTemplate::Jinja {
        source: "{{ true }} {{ none }} {{ messages[0] | tojson }} {{ '  x ' .strip() }}".into(),
    };
    let renderer = Renderer::new(&template, SpecialTokens::default()).unwrap();
    assert_eq!(
        render(
            &renderer,
            r#"{"messages": [{"role": "user", "content": "a<b & c's"}]}"#
        ),
        r#"True None {"content": "a\u003cb \u0026 c\u0027s", "role": "user"} x"#
    );
}

#[test]
fn qwen3_special_tokens_come_from_its_tokenizer_config() {
    let tokenizer = qwen();
    let specials = SpecialTokens::find(Path::new(QWEN), tokenizer).unwrap();
    assert_eq!(specials.bos, None);
    assert_eq!(specials.eos.as_deref(), Some("<|im_end|>"));
    let template = ChatTemplate::Jinja {
        source: "{{ eos_token }}|{{ bos_token is defined }}|{{ tools is none }}".into(),
    };
    let renderer = Renderer::new(&template, specials).unwrap();
    assert_eq!(
        render(&renderer, r#"{"messages": [{"content": "x"}]}"#),
        "<|im_end|>|False|True"
    );
}

#[test]
fn without_a_tokenizer_config_well_known_special_tokens_are_found() {
    let dir = temp_dir("specials");
    let path = tiny_tokenizer(&dir);
    let tokenizer = Tokenizer::from_file(&path).unwrap();
    let specials = SpecialTokens::find(&path, &tokenizer).unwrap();
    assert_eq!(specials.bos.as_deref(), Some("<s>"));
    assert_eq!(specials.eos.as_deref(), Some("</s>"));
}

#[test]
fn both_line_formats_load_and_count_like_the_tokenizer() {
    let dir = temp_dir("formats");
    let path = write(
        &dir,
        "requests.jsonl",
        r#"{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": [{"role": "user", "content": "Hello there, how are you?"}], "max_tokens": 7}}

{"messages": [{"role": "user", "content": "A bare line."}, {"role": "assistant", "content": "Yes."}], "max_tokens": 9}
{"messages": [{"role": "user", "content": [{"type": "text", "text": "Two "}, {"type": "text", "text": "parts"}]}]}
{"messages": [{"role": "user", "content": "new style"}], "max_completion_tokens": 11}
"#,
    );
    let template = ChatTemplate::Join;
    let dataset = load(&options(&path, Path::new(QWEN), &template)).unwrap();
    let got: Vec<_> = dataset
        .prompts
        .iter()
        .map(|p| (p.line, p.max_tokens, p.prompt_len))
        .collect();
    assert_eq!(
        got,
        [
            (1, Some(7), qwen_count("Hello there, how are you?")),
            (3, Some(9), qwen_count("A bare line.\nYes.")),
            (4, None, qwen_count("Two parts")),
            (5, Some(11), qwen_count("new style")),
        ]
    );
}

#[test]
fn none_joins_contents_with_a_newline_and_adds_the_tokenizers_special_tokens() {
    assert_eq!(
        ChatTemplate::from_arg("None", Path::new(".")).unwrap(),
        ChatTemplate::Join
    );
    assert_eq!(
        ChatTemplate::from_arg("none", Path::new(".")).unwrap(),
        ChatTemplate::Join
    );
    assert_eq!(
        ChatTemplate::from_arg("NONE", Path::new(".")).unwrap(),
        ChatTemplate::Join
    );
    let join = Renderer::Join;
    assert_eq!(
        render(
            &join,
            r#"{"messages": [{"role": "system", "content": "a b"}, {"role": "user", "content": "c"}]}"#
        ),
        "a b\nc"
    );
    assert!(join.add_special_tokens());

    // The tiny tokenizer prepends <s>: with None it counts, with a template it does not.
    let dir = temp_dir("join");
    let tokenizer = tiny_tokenizer(&dir);
    let path = write(
        &dir,
        "requests.jsonl",
        r#"{"messages": [{"content": "one two"}, {"content": "three"}]}"#,
    );
    let dataset = load(&options(&path, &tokenizer, &ChatTemplate::Join)).unwrap();
    assert_eq!(dataset.prompts[0].prompt_len, 4); // <s> one two three
    let template = ChatTemplate::Jinja {
        source: "{% for m in messages %}{{ m.content }} {% endfor %}".into(),
    };
    let dataset = load(&options(&path, &tokenizer, &template)).unwrap();
    assert_eq!(dataset.prompts[0].prompt_len, 3); // one two three
    let template = ChatTemplate::Jinja {
        source: "{{ bos_token }} {{ messages[0].content }}".into(),
    };
    let dataset = load(&options(&path, &tokenizer, &template)).unwrap();
    assert_eq!(dataset.prompts[0].prompt_len, 3); // <s> one two: the template's own BOS
}

#[test]
fn from_arg_reads_files_relative_to_the_base_and_takes_template_strings() {
    let dir = temp_dir("from-arg");
    write(&dir, "t.jinja", "{{ messages[0].content }}!");
    assert_eq!(
        ChatTemplate::from_arg("t.jinja", &dir).unwrap(),
        ChatTemplate::Jinja {
            source: "{{ messages[0].content }}!".into()
        }
    );
    let absolute = dir.join("t.jinja");
    assert!(matches!(
        ChatTemplate::from_arg(absolute.to_str().unwrap(), Path::new("/elsewhere")).unwrap(),
        ChatTemplate::Jinja { .. }
    ));
    assert_eq!(
        ChatTemplate::from_arg("{{ messages }}", &dir).unwrap(),
        ChatTemplate::Jinja {
            source: "{{ messages }}".into()
        }
    );
    let ChatTemplate::Jinja { source } = qwen_template() else {
        panic!("a tokenizer_config.json gives its chat_template");
    };
    assert!(source.starts_with("{%- if tools %}"), "{source}");
}

#[test]
fn template_files_that_cannot_be_read_are_errors() {
    let dir = temp_dir("bad-template");
    let err = ChatTemplate::from_arg("tempalte.txt", &dir).unwrap_err();
    assert_contains(
        err.message(),
        &[
            "chat template",
            "tempalte.txt: cannot read it",
            "not a Jinja template",
            "\"None\"",
        ],
    );
    fs::create_dir(dir.join("folder")).unwrap();
    let err = ChatTemplate::from_arg("folder", &dir).unwrap_err();
    assert_contains(err.message(), &["folder: is a folder"]);
    write(&dir, "bad.json", "{\"no_template\": 1}");
    let err = ChatTemplate::from_arg("bad.json", &dir).unwrap_err();
    assert_contains(err.message(), &["bad.json: has no \"chat_template\""]);
    fs::write(dir.join("binary.txt"), [0xff, 0xfe, 0x00]).unwrap();
    let err = ChatTemplate::from_arg("binary.txt", &dir).unwrap_err();
    assert_contains(err.message(), &["binary.txt: cannot read it"]);
}

#[test]
fn long_prompts_are_clipped_to_max_seq_len_minus_one_and_counted() {
    let dir = temp_dir("clip");
    let tokenizer = tiny_tokenizer(&dir);
    let path = write(
        &dir,
        "requests.jsonl",
        "{\"messages\": [{\"content\": \"one two three four five six seven\"}]}\n\
         {\"messages\": [{\"content\": \"one two\"}]}\n\
         {\"messages\": [{\"content\": \"one two three four\"}]}\n",
    );
    let template = ChatTemplate::Jinja {
        source: "{{ messages[0].content }}".into(),
    };
    let mut opts = options(&path, &tokenizer, &template);
    opts.max_seq_len = 5;
    opts.block_size = 2;
    let dataset = load(&opts).unwrap();
    let lens: Vec<_> = dataset.prompts.iter().map(|p| p.prompt_len).collect();
    assert_eq!(lens, [4, 2, 4]);
    assert_eq!(dataset.clipped, 1);
    // The clipped prompt hashes its first 4 tokens: the same blocks as line 3.
    assert_eq!(
        dataset.prompts[0].block_hashes,
        dataset.prompts[2].block_hashes
    );
    assert_eq!(dataset.prompts[0].block_hashes.len(), 2);
}

#[test]
fn block_hashes_follow_the_shared_prefix() {
    let system = "You are a meticulous assistant. ".repeat(40);
    let dir = temp_dir("hashes");
    let line = |question: &str| {
        serde_json::json!({"messages": [{"role": "system", "content": system},
            {"role": "user", "content": question}]})
        .to_string()
    };
    let path = write(
        &dir,
        "requests.jsonl",
        &format!(
            "{}\n{}\n{}\n",
            line("What is the capital of France?"),
            line("Name three prime numbers, please, and explain why they are prime."),
            line("What is the capital of France?"),
        ),
    );
    let template = llama_template();
    let dataset = load(&options(&path, Path::new(QWEN), &template)).unwrap();
    let [a, b, c] = &dataset.prompts[..] else {
        panic!("three prompts")
    };
    assert_eq!(
        a,
        &DatasetPrompt {
            line: 1,
            ..c.clone()
        }
    );
    for p in [a, b] {
        assert_eq!(p.block_hashes.len(), (p.prompt_len / 16) as usize);
        assert!(p.block_hashes.iter().all(|&h| h != 0));
    }
    // Tokenise independently: the blocks before the first differing token are shared.
    let tokenizer = qwen();
    let ids = |p: &str| {
        let text = format!(
            "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{p}<|im_end|>\n<|im_start|>assistant\n"
        );
        tokenizer.encode(text, false).unwrap().get_ids().to_vec()
    };
    let (ia, ib) = (
        ids("What is the capital of France?"),
        ids("Name three prime numbers, please, and explain why they are prime."),
    );
    assert_eq!(
        (ia.len() as u32, ib.len() as u32),
        (a.prompt_len, b.prompt_len)
    );
    let common = ia.iter().zip(&ib).take_while(|(x, y)| x == y).count();
    let shared = common / 16;
    assert!(shared >= 10, "a long shared system prompt: {shared} blocks");
    assert_eq!(a.block_hashes[..shared], b.block_hashes[..shared]);
    assert!(a.block_hashes[shared..]
        .iter()
        .zip(&b.block_hashes[shared..])
        .all(|(x, y)| x != y));
    assert_eq!(a.block_hashes, block_hashes(&ia, 16));
}

#[test]
fn block_hashes_are_fixed_chained_and_never_zero() {
    let tokens: Vec<u32> = (0..64).collect();
    let h = block_hashes(&tokens, 16);
    assert_eq!(h.len(), 4);
    // Fixed across runs and machines (no random state): pinned values.
    assert_eq!(h, block_hashes(&tokens, 16));
    assert_eq!(block_hashes(&tokens[..20], 16), h[..1]);
    let pinned = block_hashes(&[1, 2, 3, 4], 2);
    assert_eq!(pinned, [0x1323_3eed_b9ce_851c_u64, 0xae08_e99d_8ae9_dc95]);
    // A change in block 1 changes blocks 1.. but not block 0.
    let mut other = tokens.clone();
    other[20] = 999;
    let g = block_hashes(&other, 16);
    assert_eq!(g[0], h[0]);
    assert!(g[1..].iter().zip(&h[1..]).all(|(x, y)| x != y));
    // Equal blocks at different positions hash differently (the chain).
    let repeated = vec![7u32; 48];
    let r = block_hashes(&repeated, 16);
    assert!(r[0] != r[1] && r[1] != r[2] && r[0] != r[2]);
    assert!(block_hashes(&[0; 4], 1).iter().all(|&x| x != 0));
    assert!(block_hashes(&tokens[..15], 16).is_empty());
}

#[test]
fn limit_stops_reading_after_n_requests() {
    let dir = temp_dir("limit");
    let tokenizer = tiny_tokenizer(&dir);
    let path = write(
        &dir,
        "requests.jsonl",
        "{\"messages\": [{\"content\": \"one\"}]}\n\n\
         {\"messages\": [{\"content\": \"two\"}]}\n\
         {\"messages\": [{\"content\": \"three\"}]}\n\
         this line is never read\n",
    );
    let mut opts = options(&path, &tokenizer, &ChatTemplate::Join);
    opts.limit = Some(3);
    let dataset = load(&opts).unwrap();
    let lines: Vec<_> = dataset.prompts.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 3, 4]);
    opts.limit = Some(1);
    assert_eq!(load(&opts).unwrap().prompts.len(), 1);
    opts.limit = None;
    let err = load(&opts).unwrap_err();
    assert_contains(err.message(), &["line 5: invalid JSON"]);
}

#[test]
fn bad_lines_are_errors_naming_the_file_and_line() {
    let ok = "{\"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}\n";
    let cases: &[(&str, &str, &[&str])] = &[
        ("json", "{\"messages\": [", &["line 2: invalid JSON at column"]),
        ("not-object", "[1, 2]", &["line 2: found an array: each line must be an OpenAI batch request"]),
        ("no-messages", "{\"body\": {\"max_tokens\": 5}}", &["line 2: no \"messages\": each line must be"]),
        ("bare-no-messages", "{\"prompt\": \"hi\"}", &["line 2: no \"messages\""]),
        ("body", "{\"body\": \"x\"}", &["line 2: \"body\" is a string: it must be an object"]),
        ("messages-type", "{\"messages\": \"hello\"}", &["line 2: \"messages\" is a string: it must be an array"]),
        ("messages-empty", "{\"messages\": []}", &["line 2: \"messages\" is empty"]),
        ("message-type", "{\"messages\": [\"hi\"]}", &["line 2: messages[0] is a string: it must be an object"]),
        ("no-content", "{\"messages\": [{\"role\": \"user\"}]}", &["line 2: messages[0] has no \"content\": it must be a string or an array of text parts"]),
        ("content-number", "{\"messages\": [{\"content\": \"a\"}, {\"content\": 5}]}", &["line 2: messages[1].content is a number: it must be a string"]),
        ("content-null", "{\"messages\": [{\"content\": null}]}", &["line 2: messages[0].content is null"]),
        ("image", "{\"messages\": [{\"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]}", &["line 2: messages[0].content[0] has type \"image_url\": only text parts"]),
        ("part", "{\"messages\": [{\"content\": [{\"text\": 3}]}]}", &["line 2: messages[0].content[0] is not a text part"]),
        ("max-zero", "{\"messages\": [{\"content\": \"a\"}], \"max_tokens\": 0}", &["line 2: max_tokens = 0 is invalid: it must be an integer from 1 to 4294967295"]),
        ("max-negative", "{\"messages\": [{\"content\": \"a\"}], \"max_tokens\": -3}", &["line 2: max_tokens = -3 is invalid"]),
        ("max-float", "{\"messages\": [{\"content\": \"a\"}], \"max_tokens\": 1.5}", &["line 2: max_tokens = 1.5 is invalid"]),
        ("max-string", "{\"messages\": [{\"content\": \"a\"}], \"max_tokens\": \"10\"}", &["line 2: max_tokens = \"10\" is invalid"]),
        ("max-huge", "{\"messages\": [{\"content\": \"a\"}], \"max_tokens\": 5000000000}", &["line 2: max_tokens = 5000000000 is invalid"]),
        ("max-completion", "{\"messages\": [{\"content\": \"a\"}], \"max_completion_tokens\": 0}", &["line 2: max_completion_tokens = 0 is invalid"]),
        ("empty-prompt", "{\"messages\": [{\"content\": \"\"}]}", &[]),
    ];
    for (test, line, parts) in cases {
        let (message, path) = load_error(
            test,
            &format!("{ok}{line}\n{ok}"),
            &ChatTemplate::Jinja {
                source: "{% for m in messages %}{{ m.content }}{% endfor %}".into(),
            },
        );
        assert!(
            message.starts_with(&format!("{path}: line 2: ")),
            "{message}"
        );
        assert_contains(&message, parts);
        if *test == "empty-prompt" {
            assert_contains(&message, &["line 2: the prompt is empty (0 tokens)"]);
        }
    }
}

#[test]
fn invalid_utf8_is_an_error_naming_the_line() {
    let dir = temp_dir("utf8");
    let tokenizer = tiny_tokenizer(&dir);
    let path = dir.join("requests.jsonl");
    fs::write(
        &path,
        b"{\"messages\": [{\"content\": \"one\"}]}\n{\"messages\": \"\xff\"}\n",
    )
    .unwrap();
    let err = load(&options(&path, &tokenizer, &ChatTemplate::Join)).unwrap_err();
    assert_contains(
        err.message(),
        &[&format!("{}: line 2: not UTF-8 text", path.display())],
    );
}

#[test]
fn an_empty_dataset_is_an_error() {
    for (test, text) in [("empty", ""), ("blank", "\n  \n\t\n")] {
        let (message, path) = load_error(test, text, &ChatTemplate::Join);
        assert_eq!(
            message,
            format!("dataset {path}: no requests: the file is empty or every line is blank (one JSON request per line)")
        );
    }
}

#[test]
fn missing_files_and_bad_tokenizers_are_errors() {
    let dir = temp_dir("files");
    let tokenizer = tiny_tokenizer(&dir);
    let missing = dir.join("missing.jsonl");
    let err = load(&options(&missing, &tokenizer, &ChatTemplate::Join)).unwrap_err();
    assert_contains(
        err.message(),
        &[&format!("dataset {}: cannot read it", missing.display())],
    );

    let path = write(
        &dir,
        "requests.jsonl",
        "{\"messages\": [{\"content\": \"one\"}]}\n",
    );
    let no_tokenizer = dir.join("nope/tokenizer.json");
    let err = load(&options(&path, &no_tokenizer, &ChatTemplate::Join)).unwrap_err();
    assert_contains(
        err.message(),
        &[&format!(
            "tokenizer {}: cannot read it",
            no_tokenizer.display()
        )],
    );

    let bad = write(&dir, "bad-tokenizer.json", "{\"model\": 3}");
    let err = load(&options(&path, &bad, &ChatTemplate::Join)).unwrap_err();
    assert_contains(
        err.message(),
        &[&format!(
            "tokenizer {}: not a HuggingFace tokenizer.json",
            bad.display()
        )],
    );

    let sub = dir.join("with-config");
    fs::create_dir(&sub).unwrap();
    let tok = tiny_tokenizer(&sub);
    write(&sub, "tokenizer_config.json", "{oops");
    let err = load(&options(&path, &tok, &ChatTemplate::Join)).unwrap_err();
    assert_contains(err.message(), &["tokenizer_config.json: invalid JSON"]);
}

#[test]
fn templates_that_fail_to_parse_or_render_are_errors() {
    let ok = "{\"messages\": [{\"role\": \"user\", \"content\": \"one\"}]}\n";
    let (message, _) = load_error(
        "parse",
        ok,
        &ChatTemplate::Jinja {
            source: "{% for m in messages %}{{ m.content }}".into(),
        },
    );
    assert_contains(
        &message,
        &[
            "chat template does not parse: syntax error",
            "chat_template:1",
        ],
    );

    let two = "{\"messages\": [{\"content\": \"one\"}, {\"content\": \"two\"}]}\n";
    let template = ChatTemplate::Jinja {
        source: "{% if messages|length > 1 %}{{ raise_exception('one message only') }}{% endif %}{{ messages[0].content }}".into(),
    };
    let (message, path) = load_error("raise", &format!("{ok}\n{two}"), &template);
    assert_contains(
        &message,
        &[
            &format!("{path}: line 3: the chat template failed"),
            "one message only",
        ],
    );
    let template = ChatTemplate::Jinja {
        source: "{{ messages[0].content.nosuchmethod() }}".into(),
    };
    let (message, path) = load_error("render", ok, &template);
    assert_contains(
        &message,
        &[&format!("{path}: line 1: the chat template failed")],
    );
}

#[test]
fn bad_sizes_are_errors() {
    let dir = temp_dir("sizes");
    let tokenizer = tiny_tokenizer(&dir);
    let path = write(
        &dir,
        "requests.jsonl",
        "{\"messages\": [{\"content\": \"one\"}]}\n",
    );
    let mut opts = options(&path, &tokenizer, &ChatTemplate::Join);
    opts.max_seq_len = 1;
    assert_contains(
        load(&opts).unwrap_err().message(),
        &["max_seq_len = 1", ">= 2"],
    );
    opts.max_seq_len = 10;
    opts.block_size = 0;
    assert_contains(
        load(&opts).unwrap_err().message(),
        &["block_size must be >= 1"],
    );
}

/// Peak resident memory of this process so far (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Writes `n` batch-format requests with varied questions, after a shared system prompt if
/// `system` is set.
fn write_requests(path: &Path, n: u64, system: Option<&str>) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
    for i in 0..n {
        let question = format!("Question {i}: what is {} times {}?", i % 97, i % 89);
        let mut messages = Vec::new();
        if let Some(system) = system {
            messages.push(serde_json::json!({"role": "system", "content": system}));
        }
        messages.push(serde_json::json!({"role": "user", "content": question}));
        let line = serde_json::json!({"custom_id": format!("r{i}"), "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"messages": messages, "max_tokens": 1 + i % 500}});
        writeln!(out, "{line}").unwrap();
    }
}

/// Loads a generated 100,000-line file and prints the time and memory it took.
fn load_100k(test: &str, tokenizer: Option<&Path>, system: Option<&str>) {
    const N: u64 = 100_000;
    let dir = temp_dir(test);
    let tokenizer = match tokenizer {
        Some(path) => path.to_path_buf(),
        None => tiny_tokenizer(&dir),
    };
    let path = dir.join("requests.jsonl");
    write_requests(&path, N, system);
    let size_mb = fs::metadata(&path).unwrap().len() as f64 / 1e6;
    let template = llama_template();
    let before = peak_rss_mb();
    let start = Instant::now();
    let dataset = load(&options(&path, &tokenizer, &template)).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(dataset.prompts.len() as u64, N);
    assert_eq!(dataset.prompts.last().unwrap().line, N);
    assert_eq!(dataset.prompts[7].max_tokens, Some(8));
    let tokens: u64 = dataset
        .prompts
        .iter()
        .map(|p| u64::from(p.prompt_len))
        .sum();
    let blocks: usize = dataset.prompts.iter().map(|p| p.block_hashes.len()).sum();
    if system.is_some() {
        // The shared system prompt fills the first block of every prompt.
        let first = dataset.prompts[0].block_hashes[0];
        assert!(dataset.prompts.iter().all(|p| p.block_hashes[0] == first));
    }
    println!(
        "{test}: {N} lines, {size_mb:.1} MB, {tokens} prompt tokens, {blocks} block hashes, \
         loaded in {:.2} s; peak RSS of the test process {:?} MB before, {:?} MB after",
        elapsed.as_secs_f64(),
        before.map(|m| m.round()),
        peak_rss_mb().map(|m| m.round()),
    );
    let _ = fs::remove_dir_all(&dir);
}

/// With the tiny tokenizer and short prompts, so that it stays quick in a debug build.
#[test]
fn a_100k_line_file_loads() {
    load_100k("100k", None, None);
}

/// The same with the real Qwen3 tokenizer and a shared system prompt: minutes in a debug build,
/// seconds in release (`cargo test --release --lib dataset -- --ignored --nocapture`).
#[test]
#[ignore = "slow in debug builds; run with --release"]
fn a_100k_line_file_loads_with_the_qwen3_tokenizer() {
    let system = "You are a helpful assistant that answers briefly. ".repeat(4);
    load_100k("100k-qwen3", Some(Path::new(QWEN)), Some(&system));
}

#[test]
fn null_content_is_accepted_only_beside_tool_calls() {
    let mut ok = serde_json::json!({"role": "assistant", "content": null, "tool_calls": []});
    let ok = super::request::normalize_for_test(0, ok.take()).unwrap();
    assert_eq!(ok["content"], "");
    let err =
        super::request::normalize_for_test(1, serde_json::json!({"role": "user", "content": null}))
            .unwrap_err();
    assert!(err.contains("messages[1].content is null"), "{err}");
}
