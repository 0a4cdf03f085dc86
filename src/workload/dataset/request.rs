//! One JSONL line: an OpenAI batch request, or a bare chat-completion body.

use serde_json::{Map, Value};

/// What a line contributes to the prompt and the output limit.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The messages as given, except that every `content` is a plain string (text parts joined).
    pub messages: Vec<Map<String, Value>>,
    /// The request's `tools`, if any (chat templates render them into the prompt).
    pub tools: Option<Value>,
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    /// The message contents in order.
    pub fn contents(&self) -> impl Iterator<Item = &str> {
        self.messages
            .iter()
            .map(|m| m.get("content").and_then(Value::as_str).unwrap_or(""))
    }
}

/// What a JSON value is, for messages: "a string", "null", ...
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const SHAPE: &str =
    "each line must be an OpenAI batch request {\"custom_id\", \"method\", \"url\", \
                     \"body\": {\"messages\": [...], \"max_tokens\": N}} or a bare {\"messages\": \
                     [...], \"max_tokens\": N}";

const CONTENT: &str =
    "a string or an array of text parts [{\"type\": \"text\", \"text\": \"...\"}]";

/// Parses one non-blank line. The error is the message without the file and line.
pub fn parse(line: &str) -> Result<ChatRequest, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message);
        format!("invalid JSON at column {}: {message}", e.column())
    })?;
    let Value::Object(mut object) = value else {
        return Err(format!("found {}: {SHAPE}", kind(&value)));
    };
    let mut body = match object.remove("body") {
        Some(Value::Object(body)) => body,
        Some(other) => {
            return Err(format!(
                "\"body\" is {}: it must be an object",
                kind(&other)
            ))
        }
        None => object,
    };
    let messages = match body.remove("messages") {
        Some(Value::Array(messages)) => messages,
        Some(other) => {
            return Err(format!(
                "\"messages\" is {}: it must be an array of {{\"role\", \"content\"}} objects",
                kind(&other)
            ))
        }
        None => return Err(format!("no \"messages\": {SHAPE}")),
    };
    if messages.is_empty() {
        return Err("\"messages\" is empty: a request needs at least one message".into());
    }
    let messages = messages
        .into_iter()
        .enumerate()
        .map(|(i, message)| normalize_message(i, message))
        .collect::<Result<Vec<_>, _>>()?;
    let tools = body.remove("tools").filter(|t| !t.is_null());
    let max_tokens = match body.get("max_tokens") {
        None | Some(Value::Null) => max_tokens(&body, "max_completion_tokens")?,
        Some(_) => max_tokens(&body, "max_tokens")?,
    };
    Ok(ChatRequest {
        messages,
        tools,
        max_tokens,
    })
}

fn max_tokens(body: &Map<String, Value>, key: &str) -> Result<Option<u32>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(format!(
                "{key} = {} is invalid: it must be an integer from 1 to {}",
                quote(value),
                u32::MAX
            )),
        },
    }
}

/// A JSON value as an error quotes it: a string in quotes, at most a short piece of it.
fn quote(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{}\"", crate::shorten(s)),
        other => crate::shorten(&other.to_string()).into_owned(),
    }
}

/// Checks message `i` and turns an array-of-parts content into one string.
fn normalize_message(i: usize, message: Value) -> Result<Map<String, Value>, String> {
    let Value::Object(mut message) = message else {
        return Err(format!(
            "messages[{i}] is {}: it must be an object {{\"role\", \"content\"}}",
            kind(&message)
        ));
    };
    let content = match message.get("content") {
        Some(Value::String(_)) => return Ok(message),
        Some(Value::Array(parts)) => text_of_parts(i, parts)?,
        // OpenAI's assistant messages that only call tools carry `"content": null`.
        Some(Value::Null) if message.contains_key("tool_calls") => String::new(),
        Some(other) => {
            return Err(format!(
                "messages[{i}].content is {}: it must be {CONTENT}",
                kind(other)
            ))
        }
        None => {
            return Err(format!(
                "messages[{i}] has no \"content\": it must be {CONTENT}"
            ))
        }
    };
    message.insert("content".into(), Value::String(content));
    Ok(message)
}

/// The texts of `[{"type": "text", "text": "..."}, ...]`, concatenated with nothing between them.
fn text_of_parts(i: usize, parts: &[Value]) -> Result<String, String> {
    let mut text = String::new();
    for (j, part) in parts.iter().enumerate() {
        let part_type = part.get("type").and_then(Value::as_str);
        match (part_type, part.get("text")) {
            (Some("text"), Some(Value::String(s))) => text.push_str(s),
            (Some(other), _) if other != "text" => {
                return Err(format!(
                    "messages[{i}].content[{j}] has type {:?}: only text parts \
                     {{\"type\": \"text\", \"text\": \"...\"}} are supported",
                    crate::shorten(other)
                ))
            }
            _ => {
                return Err(format!(
                    "messages[{i}].content[{j}] is not a text part: it must be \
                     {{\"type\": \"text\", \"text\": \"...\"}}"
                ))
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
pub(super) fn normalize_for_test(i: usize, message: Value) -> Result<Map<String, Value>, String> {
    normalize_message(i, message)
}
