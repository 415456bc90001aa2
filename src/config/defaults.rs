//! Built-in defaults: the first configuration layer, and the one place a default is written.
//!
//! Each raw section's `Default` is its built-in defaults, written as a struct literal, so a new
//! field does not compile until it says its default (`None` where it has none: a required key,
//! or one that is simply unset). [`BuiltInDefaults`] hands them to figment as the lowest layer;
//! `profiles/default.toml` and everything above override them, and the validators never invent
//! a value. The one exception is per route: a route's `timeout` and `idle_timeout` default in
//! [`crate::routes`], because routes are a list and every route gets its own.

use super::raw::{
    RawAdmin, RawConfig, RawCors, RawLog, RawOidc, RawRoles, RawServer, RawSession, RawStore,
};
use super::validated::LogSubject;
use super::validated::OnUnavailable;
use super::{AuthMethod, ConfigError, DpopAlg, EndpointOverrides, OidcProfile, ParMode, SameSite};
use figment::providers::Serialized;
use figment::value::{Dict, Map};
use figment::{Metadata, Profile, Provider};
use std::collections::BTreeMap;
use std::time::Duration;

/// The profile loaded when `BFF_PROFILE` is unset: the local demo, so that `oidc-bff` runs
/// out of the box (its committed session key is refused off loopback).
pub(super) const DEFAULT_PROFILE: &str = "dev";

/// The folder of profile files when `BFF_CONFIG_DIR` is unset, relative to the working
/// directory.
pub(super) const DEFAULT_CONFIG_DIR: &str = "profiles";

/// The `Content-Security-Policy` of the SPA unless `server.content_security_policy` says
/// otherwise: the one the reference Angular app runs under (its own scripts and styles, the
/// inline styles Angular components insert, nothing else; no framing).
pub const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
    connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            bind: "0.0.0.0:8080".into(),
            public_url: None,
            static_dir: None,
            trusted_proxies: Vec::new(),
            max_head_bytes: 32 * 1024,
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(30),
            shutdown_delay: Duration::from_secs(5),
            content_security_policy: DEFAULT_CSP.into(),
        }
    }
}

impl Default for RawOidc {
    fn default() -> Self {
        RawOidc {
            issuer: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            auth_method: AuthMethod::ClientSecretBasic,
            private_key: None,
            private_key_file: None,
            private_key_alg: "RS256".into(),
            private_key_id: None,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            extra_auth_params: BTreeMap::new(),
            ca_file: None,
            endpoints: EndpointOverrides::default(),
            http_timeout: Duration::from_secs(10),
            par: ParMode::Auto,
            dpop: false,
            dpop_alg: DpopAlg::ES256,
            profile: OidcProfile::Standard,
        }
    }
}

impl Default for RawSession {
    fn default() -> Self {
        RawSession {
            keys: None,
            keys_file: None,
            cookie_name: "__Host-bff".into(),
            same_site: SameSite::Strict,
            absolute_lifetime: Duration::from_secs(8 * 3600),
            idle_timeout: Duration::from_secs(3600),
            refresh_skew: Duration::from_secs(60),
            max_chunks: 4,
            open_cache: 2048,
        }
    }
}

#[allow(
    clippy::derivable_impls,
    reason = "written out so that a new field must state its default here"
)]
impl Default for RawCors {
    fn default() -> Self {
        RawCors {
            allowed_origins: Vec::new(),
        }
    }
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            subject: LogSubject::Hashed,
        }
    }
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            url: None,
            password_file: None,
            ca_file: None,
            prefix: "oidc-bff:".into(),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_millis(500),
            on_unavailable: OnUnavailable::Serve,
        }
    }
}

#[allow(
    clippy::derivable_impls,
    reason = "written out so that a new field must state its default here"
)]
impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin { token_file: None }
    }
}

impl Default for RawRoles {
    fn default() -> Self {
        RawRoles {
            claims: vec!["roles".into(), "groups".into()],
            userinfo: false,
        }
    }
}

#[allow(
    clippy::derivable_impls,
    reason = "written out so that a new field must state its default here"
)]
impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            server: RawServer::default(),
            oidc: RawOidc::default(),
            session: RawSession::default(),
            cors: RawCors::default(),
            roles: RawRoles::default(),
            log: RawLog::default(),
            store: RawStore::default(),
            admin: RawAdmin::default(),
            routes: Vec::new(),
        }
    }
}

/// The shape of the raw configuration with the built-in defaults filled in: every key a layer
/// may set (routes aside), `null` where a key has no default.
pub(super) fn raw_shape() -> Result<serde_json::Value, ConfigError> {
    serde_json::to_value(RawConfig::default())
        .map_err(|e| ConfigError::new("(built-in defaults)", e.to_string()))
}

/// Layer 1: the built-in defaults, keys without a default left out (so they stay unset rather
/// than set to nothing).
pub(super) struct BuiltInDefaults;

impl Provider for BuiltInDefaults {
    fn metadata(&self) -> Metadata {
        Metadata::named("built-in defaults")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut defaults = raw_shape().map_err(|e| figment::Error::from(e.message))?;
        drop_nulls(&mut defaults);
        Serialized::defaults(defaults).data()
    }
}

/// Removes every `null` member, at any depth.
fn drop_nulls(value: &mut serde_json::Value) {
    if let serde_json::Value::Object(members) = value {
        members.retain(|_, member| !member.is_null());
        members.values_mut().for_each(drop_nulls);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::*;
    use figment::Figment;

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let config = from_toml(&base_toml()).unwrap();
        assert_eq!(config.server.bind.to_string(), "0.0.0.0:8080");
        assert_eq!(config.oidc.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(
            config.oidc.scopes,
            ["openid", "profile", "email", "offline_access"]
        );
        assert_eq!(config.session.cookie_name, "__Host-bff");
        assert_eq!(config.session.same_site, SameSite::Strict);
        assert_eq!(
            config.session.absolute_lifetime,
            Duration::from_secs(8 * 3600)
        );
        assert_eq!(config.session.idle_timeout, Duration::from_secs(3600));
        assert_eq!(config.session.refresh_skew, Duration::from_secs(60));
        assert_eq!(config.roles.claims, ["roles", "groups"]);
        assert_eq!(
            config.server.redirect_uri(),
            "https://app.example.com/api/callback"
        );
    }

    #[test]
    fn keys_without_a_default_are_left_unset() {
        let defaults = Figment::from(BuiltInDefaults);
        for key in [
            "server.public_url",
            "oidc.issuer",
            "oidc.client_secret",
            "session.keys",
        ] {
            assert!(defaults.find_value(key).is_err(), "{key} has no default");
        }
        assert!(defaults.find_value("oidc.endpoints").is_ok());
    }

    #[test]
    fn the_shipped_default_toml_repeats_no_built_in_default() {
        use figment::providers::{Format, Toml};
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/default.toml");
        let shipped = Figment::from(BuiltInDefaults).merge(Toml::file(file));
        let shipped = serde_json::to_value(shipped.extract::<RawConfig>().unwrap()).unwrap();
        let built_in = raw_shape().unwrap();
        let mut set_in_file = Vec::new();
        for dict in Figment::from(Toml::file(file)).data().unwrap().values() {
            leaves(
                "",
                &figment::value::Value::from(dict.clone()),
                &mut set_in_file,
            );
        }
        for pointer in set_in_file {
            assert_ne!(
                shipped.pointer(&pointer),
                built_in.pointer(&pointer),
                "profiles/default.toml repeats the built-in default of {pointer}"
            );
        }
    }

    /// The JSON pointers of every leaf under `value`.
    fn leaves(prefix: &str, value: &figment::value::Value, out: &mut Vec<String>) {
        match value.as_dict() {
            Some(dict) => dict
                .iter()
                .for_each(|(key, value)| leaves(&format!("{prefix}/{key}"), value, out)),
            None => out.push(prefix.to_string()),
        }
    }
}
