//! The environment layer: `BFF_<SECTION>__<KEY>` variables as one figment provider, and the
//! warnings for variables with our prefix that set nothing.

use super::defaults::BuiltInDefaults;
use super::known_keys::KnownKeys;
use super::raw::RawConfig;
use super::ConfigError;
use figment::providers::Serialized;
use figment::value::Value;
use figment::Figment;
use std::collections::BTreeMap;

/// The name figment records for the environment layer (how [`super::load`] ranks it).
pub(super) const ENV_LAYER_NAME: &str = "BFF_* environment variables";

/// Variables with our prefix that select files or logging rather than set a key.
const CONTROL_VARIABLES: &[&str] = &[
    "BFF_PROFILE",
    "BFF_CONFIG_FILE",
    "BFF_CONFIG_DIR",
    "BFF_LOG",
    "BFF_LOG_FORMAT",
];

/// Maps `BFF_OIDC__CLIENT_SECRET` to `oidc.client_secret`.
fn env_var_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("BFF_")?;
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

/// The layer of the `BFF_*` variables among `vars`, and a warning for each one that sets no
/// known key.
pub(super) fn env_layer(
    vars: &BTreeMap<String, String>,
) -> Result<(EnvLayer, Vec<String>), ConfigError> {
    let known = KnownKeys::of_raw_config()?;
    let mut warnings = Vec::new();
    let mut pairs = Vec::new();
    for (name, value) in vars {
        if !name.starts_with("BFF_") || CONTROL_VARIABLES.contains(&name.as_str()) {
            continue;
        }
        match env_var_key(name) {
            Some(key) if known.contains(&key) => pairs.push((key, value.clone())),
            _ => warnings.push(format!(
                "environment variable {name} matches no configuration key; ignored"
            )),
        }
    }
    Ok((EnvLayer(pairs), warnings))
}

/// The already-filtered `BFF_*` pairs as one figment layer, each under its dotted key, its text
/// made a value by [`env_value`]. The pairs come from a map rather than the process so that
/// tests and the real process share the same parsing.
pub(super) struct EnvLayer(Vec<(String, String)>);

impl figment::Provider for EnvLayer {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(ENV_LAYER_NAME)
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let defaults = Figment::from(BuiltInDefaults);
        let mut figment = Figment::new();
        for (key, text) in &self.0 {
            figment = figment.merge(Serialized::default(key, env_value(&defaults, key, text)));
        }
        // The inner figment tagged the values with its own ids, which mean nothing to the
        // figment this layer joins; untagged, they are attributed to this layer's metadata (how
        // `load` tells that a `*_file` came from the environment).
        let mut data = figment.data()?;
        for dict in data.values_mut() {
            for value in dict.values_mut() {
                *value = Value::serialize(&*value)?;
            }
        }
        Ok(data)
    }
}

/// What the text of a variable becomes. Figment's `Env` parsing (`[a, b]` lists, quoted
/// strings, numbers, booleans) applies where the key's raw type needs it; everywhere else the
/// text is kept verbatim, so that a client id or secret of digits (`0042`) stays as written.
fn env_value(defaults: &Figment, key: &str, text: &str) -> Value {
    if is_parsed_key(defaults, key) {
        match text.parse() {
            Ok(value) => value,
            Err(never) => match never {},
        }
    } else {
        Value::from(text.to_string())
    }
}

/// Whether `key` is read parsed, decided by what the raw configuration takes at it (tried over
/// the built-in `defaults` with sample values), so that no list of "typed" keys can drift from
/// the raw shapes: a key that takes a list, or one that takes no arbitrary text but a number or
/// a boolean. Strings, paths and ids take any text; URLs, durations and names take neither text
/// nor numbers, and stay verbatim for validation to show as written. The sample number is 127:
/// every number type takes it, while figment would read a small one as an enum's variant index
/// (`auth_method = 0`) and no enum of ours has 128 variants.
fn is_parsed_key(defaults: &Figment, key: &str) -> bool {
    let takes = |sample: Value| {
        defaults
            .clone()
            .merge(Serialized::default(key, sample))
            .extract::<RawConfig>()
            .is_ok()
    };
    takes(Value::from(vec!["sample".to_string()]))
        || (!takes(Value::from("sample".to_string()))
            && (takes(Value::from(127u8)) || takes(Value::from(false))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::*;
    use crate::config::Config;
    use secrecy::ExposeSecret;

    #[test]
    fn ids_and_secrets_of_digits_stay_strings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("default.toml"),
            without_secrets(&base_toml()),
        )
        .unwrap();
        std::fs::write(dir.path().join("dev.toml"), "").unwrap();
        let loaded = Config::load_from(&vars(&[
            ("BFF_CONFIG_DIR", dir.path().to_str().unwrap()),
            ("BFF_OIDC__CLIENT_ID", "0042"),
            ("BFF_OIDC__CLIENT_SECRET", "007"),
            ("BFF_SESSION__KEYS", KEY),
            ("BFF_SESSION__MAX_CHUNKS", "3"),
            ("BFF_ROLES__USERINFO", "true"),
        ]))
        .unwrap();
        assert_eq!(loaded.config.oidc.client_id, "0042");
        assert_eq!(
            loaded.config.oidc.client_secret.unwrap().expose_secret(),
            "007"
        );
        assert_eq!(loaded.config.session.max_chunks, 3);
        assert!(loaded.config.roles.userinfo);
    }

    #[test]
    fn the_raw_type_at_a_key_decides_whether_its_text_is_parsed() {
        let defaults = Figment::from(BuiltInDefaults);
        for key in [
            "server.trusted_proxies",
            "server.max_head_bytes",
            "server.max_connections",
            "oidc.scopes",
            "session.keys",
            "session.max_chunks",
            "session.open_cache",
            "cors.allowed_origins",
            "roles.claims",
            "roles.userinfo",
        ] {
            assert!(is_parsed_key(&defaults, key), "{key} is parsed");
        }
        for key in [
            "server.bind",
            "server.public_url",
            "server.static_dir",
            "server.header_timeout",
            "server.content_security_policy",
            "oidc.issuer",
            "oidc.client_id",
            "oidc.client_secret",
            "oidc.client_secret_file",
            "oidc.auth_method",
            "oidc.private_key",
            "oidc.private_key_alg",
            "oidc.private_key_id",
            "oidc.extra_auth_params.max_age",
            "oidc.endpoints.token",
            "oidc.http_timeout",
            "session.keys_file",
            "session.cookie_name",
            "session.same_site",
            "session.idle_timeout",
        ] {
            assert!(!is_parsed_key(&defaults, key), "{key} is verbatim");
        }
        let read = |key: &str, text: &str| env_value(&defaults, key, text);
        assert_eq!(
            read("oidc.client_id", "0042"),
            Value::from("0042".to_string())
        );
        assert_eq!(read("session.max_chunks", "3"), Value::from(3u8));
        assert_eq!(
            read("oidc.scopes", "[openid, email]"),
            Value::from(vec!["openid".to_string(), "email".to_string()])
        );
    }

    #[test]
    fn bracketed_and_comma_separated_lists_both_work() {
        let loaded = Config::load_from(&vars(&[
            (
                "BFF_CONFIG_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/profiles"),
            ),
            ("BFF_OIDC__SCOPES", "[openid, email]"),
            ("BFF_ROLES__CLAIMS", "realm_access.roles, groups"),
        ]))
        .unwrap();
        assert_eq!(loaded.config.oidc.scopes, ["openid", "email"]);
        assert_eq!(loaded.config.roles.claims, ["realm_access.roles", "groups"]);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
}
