//! [`ConfigError`]: the one-line error every configuration problem becomes, naming its key.

use std::fmt;

/// A configuration error: the key at fault and what is wrong with it.
///
/// Startup prints it as one line (`configuration error in `session.keys`: ...`), so an operator
/// learns which key to fix without reading a backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `session.keys`.
    pub key: String,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl ConfigError {
    pub(super) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error in `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        // figment may report several errors; the first one is enough to fix and retry.
        let error = error.into_iter().next().unwrap_or_else(|| "unknown".into());
        let key = if error.path.is_empty() {
            "(root)".to_string()
        } else {
            error.path.join(".")
        };
        let origin = error
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        ConfigError::new(key, format!("{}{origin}", error.kind))
    }
}
