//! The library's one error type.
//!
//! Every error a user can cause (a bad config, an impossible workload) is reported as a short
//! message that names what is wrong, where, and what is allowed; the CLI prints it as one line
//! and exits 1. Nothing in the library panics on user input.

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
