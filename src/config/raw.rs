//! The raw shapes: what figment deserializes from the layers, before validation. Every key a
//! TOML file or an environment variable may set is a field here; `deny_unknown_fields` makes a
//! misspelt key in a file an error naming it.

use super::{AuthMethod, EndpointOverrides, SameSite};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration as the layers give it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) oidc: RawOidc,
    #[serde(default)]
    pub(super) session: RawSession,
    #[serde(default)]
    pub(super) cors: RawCors,
    #[serde(default)]
    pub(super) roles: RawRoles,
    #[serde(default)]
    pub(super) routes: Vec<crate::routes::RawRoute>,
}

/// `[server]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) bind: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) public_url: Option<String>,
    pub(super) static_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "list")]
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) max_head_bytes: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub(super) header_timeout: Option<Duration>,
    pub(super) max_connections: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub(super) shutdown_timeout: Option<Duration>,
    pub(super) content_security_policy: Option<String>,
}

/// `[oidc]` as written. Its `Debug` shows nothing: it may hold a secret or a private key.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOidc {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) issuer: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) client_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) client_secret: Option<String>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) auth_method: Option<AuthMethod>,
    pub(super) private_key: Option<String>,
    pub(super) private_key_file: Option<PathBuf>,
    pub(super) private_key_alg: Option<String>,
    pub(super) private_key_id: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub(super) scopes: Option<Vec<String>>,
    #[serde(default)]
    pub(super) extra_auth_params: BTreeMap<String, String>,
    pub(super) ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) endpoints: EndpointOverrides,
    #[serde(default, with = "humantime_serde")]
    pub(super) http_timeout: Option<Duration>,
}

impl fmt::Debug for RawOidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawOidc { .. }")
    }
}

/// `[session]` as written. Its `Debug` shows nothing: it may hold the session keys.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSession {
    #[serde(default, deserialize_with = "list")]
    pub(super) keys: Option<Vec<String>>,
    pub(super) keys_file: Option<PathBuf>,
    pub(super) cookie_name: Option<String>,
    pub(super) same_site: Option<SameSite>,
    #[serde(default, with = "humantime_serde")]
    pub(super) absolute_lifetime: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) idle_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) refresh_skew: Option<Duration>,
    pub(super) max_chunks: Option<usize>,
}

impl fmt::Debug for RawSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawSession { .. }")
    }
}

/// `[cors]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCors {
    #[serde(default, deserialize_with = "list")]
    pub(super) allowed_origins: Option<Vec<String>>,
}

/// `[roles]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoles {
    #[serde(default, deserialize_with = "list")]
    pub(super) claims: Option<Vec<String>>,
    pub(super) userinfo: Option<bool>,
}

/// Accepts a list, or a comma-separated string (how lists arrive from the environment).
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<ListOrString>::deserialize(deserializer)? {
        None => None,
        Some(ListOrString::List(list)) => Some(list),
        Some(ListOrString::Text(text)) => Some(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        ),
    })
}

/// Accepts a string, or a number or boolean that the environment layer parsed too eagerly
/// (`BFF_OIDC__CLIENT_ID=12345`).
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(
        Option::<Scalar>::deserialize(deserializer)?.map(|s| match s {
            Scalar::Text(t) => t,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;

    #[test]
    fn unknown_key_in_a_file_is_an_error_naming_it() {
        let text = base_toml().replace("[oidc]", "[oidc]\nclient_secrt = \"x\"");
        let error = from_toml(&text).unwrap_err();
        assert!(error.message.contains("client_secrt"), "{error}");
    }
}
