//! Test fixtures shared by the configuration's unit tests: a minimal valid configuration and
//! ways to load variations of it.

use super::{Config, ConfigError};
use figment::providers::{Format, Toml};
use figment::Figment;
use std::collections::BTreeMap;

/// A valid session key (32 bytes of base64).
pub(super) const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The smallest valid configuration: every required key, nothing else.
pub(super) fn base_toml() -> String {
    format!(
        r#"
            [server]
            public_url = "https://app.example.com"
            [oidc]
            issuer = "https://sso.example.com/oidc/app-stg"
            client_id = "app"
            client_secret = "s3cret"
            [session]
            keys = ["{KEY}"]
            "#
    )
}

/// `text` without its secret lines, as a shared profile file must be.
pub(super) fn without_secrets(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("client_secret") && !l.contains("keys ="))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An environment of `pairs`.
pub(super) fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Validates one in-memory TOML document (with the built-in defaults beneath it).
pub(super) fn from_toml(text: &str) -> Result<Config, ConfigError> {
    Config::from_figment("test".into(), Figment::from(Toml::string(text)))
}
