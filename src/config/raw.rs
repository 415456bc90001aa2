//! The raw shapes: what figment deserializes from the layers, before validation. Every key a
//! TOML file or an environment variable may set is a field here; `deny_unknown_fields` makes a
//! misspelt key in a file an error naming it.
//!
//! A key with a built-in default is a plain field (`bind: String`): the defaults layer
//! ([`super::defaults`], the only place defaults are written) always fills it, so validation
//! never has to invent one. A key without a default is an `Option` (`None` = not set).

use super::validated::{LogSubject, OnUnavailable};
use super::{AuthMethod, DpopAlg, EndpointOverrides, OidcProfile, ParMode, SameSite};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration as the layers give it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) server: RawServer,
    pub(super) oidc: RawOidc,
    pub(super) session: RawSession,
    pub(super) cors: RawCors,
    pub(super) roles: RawRoles,
    pub(super) log: RawLog,
    pub(super) store: RawStore,
    pub(super) admin: RawAdmin,
    /// Only files set routes (a table of tables has no environment spelling), and there are
    /// none by default; not serialised, so it is neither a default nor a known key.
    #[serde(default, skip_serializing)]
    pub(super) routes: Vec<crate::routes::RawRoute>,
}

/// `[server]` as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) bind: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) public_url: Option<String>,
    pub(super) static_dir: Option<PathBuf>,
    #[serde(deserialize_with = "list")]
    pub(super) trusted_proxies: Vec<String>,
    pub(super) max_head_bytes: usize,
    #[serde(with = "humantime_serde")]
    pub(super) header_timeout: Duration,
    pub(super) max_connections: usize,
    #[serde(with = "humantime_serde")]
    pub(super) shutdown_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub(super) shutdown_delay: Duration,
    pub(super) content_security_policy: String,
}

/// `[oidc]` as written. Its `Debug` shows nothing: it may hold a secret or a private key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOidc {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) issuer: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) client_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) client_secret: Option<String>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) auth_method: AuthMethod,
    pub(super) private_key: Option<String>,
    pub(super) private_key_file: Option<PathBuf>,
    pub(super) private_key_alg: String,
    pub(super) private_key_id: Option<String>,
    pub(super) tls_client_cert_file: Option<PathBuf>,
    pub(super) tls_client_key_file: Option<PathBuf>,
    #[serde(deserialize_with = "list")]
    pub(super) scopes: Vec<String>,
    /// A table: any sub-key is an authorize parameter.
    pub(super) extra_auth_params: BTreeMap<String, String>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) endpoints: EndpointOverrides,
    #[serde(with = "humantime_serde")]
    pub(super) http_timeout: Duration,
    pub(super) par: ParMode,
    pub(super) dpop: bool,
    pub(super) dpop_alg: DpopAlg,
    pub(super) profile: OidcProfile,
}

impl fmt::Debug for RawOidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawOidc { .. }")
    }
}

/// `[session]` as written. Its `Debug` shows nothing: it may hold the session keys.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSession {
    #[serde(default, deserialize_with = "optional_list")]
    pub(super) keys: Option<Vec<String>>,
    pub(super) keys_file: Option<PathBuf>,
    pub(super) cookie_name: String,
    pub(super) same_site: SameSite,
    #[serde(with = "humantime_serde")]
    pub(super) absolute_lifetime: Duration,
    #[serde(with = "humantime_serde")]
    pub(super) idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub(super) refresh_skew: Duration,
    pub(super) max_chunks: usize,
    pub(super) open_cache: usize,
}

impl fmt::Debug for RawSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawSession { .. }")
    }
}

/// `[cors]` as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCors {
    #[serde(deserialize_with = "list")]
    pub(super) allowed_origins: Vec<String>,
}

/// `[roles]` as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoles {
    #[serde(deserialize_with = "list")]
    pub(super) claims: Vec<String>,
    pub(super) userinfo: bool,
}

/// `[log]` as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) subject: LogSubject,
}

/// `[store]` as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) url: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) prefix: String,
    #[serde(with = "humantime_serde")]
    pub(super) connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub(super) command_timeout: Duration,
    pub(super) on_unavailable: OnUnavailable,
}

/// `[admin]` as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub(super) token_file: Option<PathBuf>,
}

/// Accepts a list, or a comma-separated string (how lists arrive from the environment).
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        Text(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(list) => list,
        ListOrString::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    })
}

/// [`list`] for a key without a default (absent = `None`).
fn optional_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    list(deserializer).map(Some)
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
