//! The library's one error type.
//!
//! Every error a user can cause (a bad config, an impossible workload) is reported as a short
//! message that names what is wrong, where, and what is allowed; the CLI prints it as one line
//! and exits 1. Nothing in the library panics on user input.

use std::borrow::Cow;
use std::fmt;

/// A user-facing error: a message meant to be printed as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }

    /// Prefixes the message with where it happened (a file, a sweep point).
    pub fn context(self, place: impl fmt::Display) -> Self {
        Error::new(format!("{place}: {}", self.message))
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Returns early with an [`Error`] built from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::Error::new(format!($($arg)*)))
    };
}

/// Inputs longer than this many characters are shortened when a message quotes them: a
/// message names what is wrong, it does not echo a 20 MB field back.
pub const QUOTE_LIMIT: usize = 80;

/// How many leading characters of an over-long input a message keeps: few enough that the
/// shortened text is itself within [`QUOTE_LIMIT`], so shortening twice changes nothing.
const QUOTE_HEAD: usize = 50;

/// An input value as a message may quote it: unchanged up to [`QUOTE_LIMIT`] characters,
/// otherwise its first 50 characters, `...`, and how long it was. Every message that echoes
/// something the user wrote (a config value, a key, a CSV field, a dataset line, a sweep spec
/// value) goes through this.
pub fn shorten(value: &str) -> Cow<'_, str> {
    match value.char_indices().nth(QUOTE_LIMIT) {
        None => Cow::Borrowed(value),
        Some(_) => {
            let head_end = value
                .char_indices()
                .nth(QUOTE_HEAD)
                .map_or(value.len(), |(i, _)| i);
            Cow::Owned(format!(
                "{}... ({} characters)",
                &value[..head_end],
                value.chars().count()
            ))
        }
    }
}

/// Shortens the input a finished message quotes, for messages whose parts we do not format
/// ourselves (serde's, toml's, a tokenizer's; a sweep spec's paths and values): every quoted
/// stretch (between backticks or double quotes, a backslash escaping the next character; a
/// quote left open runs to the end) and every unquoted word longer than [`QUOTE_LIMIT`].
pub fn shorten_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * QUOTE_LIMIT));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest[open..].chars().next().expect("found a quote");
        push_words(&mut out, &rest[..open]);
        out.push(quote);
        let inner = &rest[open + 1..];
        let mut escaped = false;
        let close = inner.char_indices().find_map(|(i, c)| {
            let found = !escaped && c == quote;
            escaped = !escaped && c == '\\';
            found.then_some(i)
        });
        let (quoted, after) = match close {
            Some(i) => (&inner[..i], &inner[i..]),
            None => (inner, ""),
        };
        out.push_str(&shorten(quoted));
        match after.strip_prefix(quote) {
            Some(tail) => {
                out.push(quote);
                rest = tail;
            }
            None => rest = after,
        }
    }
    push_words(&mut out, rest);
    out
}

/// Appends unquoted text, shortening each over-long word (a key path, a bare value).
fn push_words(out: &mut String, text: &str) {
    for word in text.split_inclusive(char::is_whitespace) {
        let bare = word.trim_end();
        out.push_str(&shorten(bare));
        out.push_str(&word[bare.len()..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        let exactly = "x".repeat(QUOTE_LIMIT);
        assert_eq!(shorten(&exactly), exactly.as_str());
        assert_eq!(shorten("abc"), "abc");
    }

    #[test]
    fn long_values_keep_their_head_and_say_how_long_they_were() {
        let long = "é".repeat(100_000);
        let short = shorten(&long);
        let head: String = "é".repeat(QUOTE_HEAD);
        assert_eq!(short, format!("{head}... (100000 characters)"));
        assert!(short.chars().count() <= QUOTE_LIMIT);
        assert_eq!(shorten(&short), short, "shortening twice changes nothing");
    }

    #[test]
    fn quoted_stretches_of_parser_messages_are_shortened() {
        let long = "7".repeat(5000);
        let message = format!("invalid type: string \"{long}\", expected `f64` here");
        let short = shorten_quoted(&message);
        assert_eq!(
            short,
            format!(
                "invalid type: string \"{}\", expected `f64` here",
                shorten(&long)
            )
        );
        // An escaped quote does not end the stretch; an open quote runs to the end.
        let escaped = format!("string \"{}\\\"{}\" ok", "a".repeat(50), "b".repeat(50));
        assert!(shorten_quoted(&escaped).ends_with("(102 characters)\" ok"));
        let open = format!("unknown key `{long}");
        assert_eq!(
            shorten_quoted(&open),
            format!("unknown key `{}", shorten(&long))
        );
        // Unquoted words too (a sweep axis path, a bare number).
        let bare = format!("axis workload.{long} = 1: no");
        assert_eq!(
            shorten_quoted(&bare),
            format!("axis {} = 1: no", shorten(&format!("workload.{long}")))
        );
    }
}
