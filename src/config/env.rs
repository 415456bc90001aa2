//! The environment layer: `BFF_<SECTION>__<KEY>` variables as one figment provider, and the
//! warnings for variables with our prefix that set nothing.

use super::known_keys::is_known_key;
use figment::providers::Serialized;
use figment::Figment;
use std::collections::BTreeMap;

/// Keys whose environment value is parsed (numbers, booleans, `[a, b]` lists); every other
/// key takes the variable's text verbatim.
const PARSED_KEYS: &[&str] = &[
    "server.trusted_proxies",
    "server.max_head_bytes",
    "server.max_connections",
    "oidc.scopes",
    "session.keys",
    "session.max_chunks",
    "cors.allowed_origins",
    "roles.claims",
    "roles.userinfo",
];

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
pub(super) fn env_layer(vars: &BTreeMap<String, String>) -> (EnvLayer, Vec<String>) {
    let mut warnings = Vec::new();
    let mut pairs = Vec::new();
    for (name, value) in vars {
        if !name.starts_with("BFF_") || CONTROL_VARIABLES.contains(&name.as_str()) {
            continue;
        }
        match env_var_key(name) {
            Some(key) if is_known_key(&key) => pairs.push((key, value.clone())),
            _ => warnings.push(format!(
                "environment variable {name} matches no configuration key; ignored"
            )),
        }
    }
    (EnvLayer(pairs), warnings)
}

/// The already-filtered `BFF_*` pairs as one figment layer, each value parsed the way figment's
/// `Env` parses (so `true`, numbers and `[a, b]` work), under its dotted key. The pairs come from
/// a map rather than the process so that tests and the real process share the same parsing.
pub(super) struct EnvLayer(Vec<(String, String)>);

impl figment::Provider for EnvLayer {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("BFF_* environment variables")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut figment = Figment::new();
        for (key, text) in &self.0 {
            // Strings stay exactly as written: a client id or secret of digits (`0042`) must
            // not become the number 42. Only numbers, booleans and lists are parsed.
            let value: figment::value::Value = if PARSED_KEYS.contains(&key.as_str()) {
                match text.parse() {
                    Ok(value) => value,
                    Err(never) => match never {},
                }
            } else {
                figment::value::Value::from(text.clone())
            };
            figment = figment.merge(Serialized::default(key, value));
        }
        figment.data()
    }
}

#[cfg(test)]
mod tests {
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
}
