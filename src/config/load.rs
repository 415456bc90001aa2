//! Loading: which files and variables make the layers, in which order, and the checks that
//! depend on where a value came from rather than on the value (a secret in a shared profile
//! file, a session key committed to the repository).

use super::defaults::{BuiltInDefaults, DEFAULT_CONFIG_DIR, DEFAULT_PROFILE};
use super::env::env_layer;
use super::raw::RawConfig;
use super::validate::{is_loopback, validate};
use super::{Config, ConfigError};
use crate::routes::{RawRoute, RouteTable};
use figment::providers::{Format, Toml};
use figment::Figment;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use url::Url;

/// Keys that must never live in a shared (`stg`, `prd`, ...) profile file.
const SECRET_KEYS: &[&str] = &["oidc.client_secret", "oidc.private_key", "session.keys"];

/// The result of loading: the configuration and the warnings worth reporting once at startup
/// (returned rather than logged: `check` prints them, `serve` logs them).
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Human-readable warnings (e.g. an unknown `BFF_*` variable).
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads the layers from the process environment and the profile folder: what `serve`
    /// and `check` run, so both fail on the same configurations with the same message.
    pub fn load() -> Result<Loaded, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_from(&vars)
    }

    /// Loads the layers with `vars` standing in for the environment, so tests exercise the
    /// real loading without touching the process environment.
    pub fn load_from(vars: &BTreeMap<String, String>) -> Result<Loaded, ConfigError> {
        let layers = Layers::of(vars)?;
        let config = Self::from_layers(layers.profile, layers.figment, &layers.files)?;
        Ok(Loaded {
            config,
            warnings: layers.warnings,
        })
    }

    /// Only the `[[routes]]` of the same layers, validated: `oidc-bff openapi --merged` needs
    /// nothing else, so it runs where the secrets are absent (a CI job publishing the spec).
    pub fn load_routes() -> Result<RouteTable, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_routes_from(&vars)
    }

    /// [`Config::load_routes`] with `vars` standing in for the environment.
    pub fn load_routes_from(vars: &BTreeMap<String, String>) -> Result<RouteTable, ConfigError> {
        let figment = Layers::of(vars)?.figment;
        let raw: Vec<RawRoute> = match figment.find_value("routes") {
            Ok(value) => value
                .deserialize()
                .map_err(|e| ConfigError::new("routes", e.to_string()))?,
            Err(_) => Vec::new(),
        };
        RouteTable::from_raw(raw).map_err(|e| ConfigError::new(e.key(), e.message))
    }

    /// Validates whatever `figment` holds, with the built-in defaults beneath it (tests build
    /// their configuration from an in-memory TOML document this way).
    pub fn from_figment(profile: String, figment: Figment) -> Result<Config, ConfigError> {
        Self::from_layers(profile, Figment::from(BuiltInDefaults).merge(figment), &[])
    }

    /// Validates `figment` (built-in defaults included), knowing which files are committed to
    /// the repository: a session key read from one of them is public, and accepted only on
    /// loopback.
    /// `layers` are the files merged, in order (`default.toml`, the profile, `BFF_CONFIG_FILE`);
    /// the first two are committed to the repository.
    fn from_layers(
        profile: String,
        figment: Figment,
        layers: &[PathBuf],
    ) -> Result<Config, ConfigError> {
        let committed = &layers[..layers.len().min(2)];
        let key_file = figment
            .find_metadata("session.keys")
            .and_then(|metadata| match &metadata.source {
                Some(figment::Source::File(path)) => Some(path.clone()),
                _ => None,
            })
            .filter(|path| committed.iter().any(|c| same_file(c, path)));
        let mut raw: RawConfig = figment.extract()?;
        prefer_higher_layer(
            &figment,
            layers,
            "session.keys",
            &mut raw.session.keys,
            &mut raw.session.keys_file,
        );
        prefer_higher_layer(
            &figment,
            layers,
            "oidc.client_secret",
            &mut raw.oidc.client_secret,
            &mut raw.oidc.client_secret_file,
        );
        prefer_higher_layer(
            &figment,
            layers,
            "oidc.private_key",
            &mut raw.oidc.private_key,
            &mut raw.oidc.private_key_file,
        );
        // A `keys_file` from a later layer replaced the committed key: nothing public is used.
        let key_file = key_file.filter(|_| raw.session.keys.is_some());
        let config = validate(profile, raw)?;
        if let Some(file) = key_file {
            let public = Url::parse(&config.server.public_url).ok();
            if !public.as_ref().is_some_and(is_loopback) {
                return Err(ConfigError::new(
                    "session.keys",
                    format!(
                        "the key in {} is committed to the repository, so anyone can seal \
                         sessions with it; it is accepted only while server.public_url is a \
                         loopback origin (set BFF_SESSION__KEYS or session.keys_file, generate \
                         one with `oidc-bff keygen`)",
                        file.display()
                    ),
                ));
            }
        }
        Ok(config)
    }
}

/// The layers merged, in order, before anything is extracted or validated.
struct Layers {
    profile: String,
    figment: Figment,
    /// The files merged (`default.toml`, the profile, `BFF_CONFIG_FILE`).
    files: Vec<PathBuf>,
    /// Warnings about the environment (an unknown `BFF_*` variable).
    warnings: Vec<String>,
}

impl Layers {
    /// Built-in defaults → `default.toml` → the profile → `BFF_CONFIG_FILE` → environment.
    fn of(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let profile = profile_name(vars)?;
        let dir = vars
            .get("BFF_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR));
        let profile_file = dir.join(format!("{profile}.toml"));
        if !profile_file.is_file() {
            return Err(ConfigError::new(
                "BFF_PROFILE",
                format!(
                    "unknown profile `{profile}`: {} does not exist",
                    profile_file.display()
                ),
            ));
        }
        if profile != "dev" {
            refuse_secrets_in(&profile_file)?;
        }

        let mut figment = Figment::from(BuiltInDefaults);
        let default_file = dir.join("default.toml");
        if default_file.is_file() {
            refuse_secrets_in(&default_file)?;
            figment = figment.merge(Toml::file(&default_file));
        }
        figment = figment.merge(Toml::file(&profile_file));
        if let Some(file) = vars.get("BFF_CONFIG_FILE") {
            if !Path::new(file).is_file() {
                return Err(ConfigError::new(
                    "BFF_CONFIG_FILE",
                    format!("{file} does not exist"),
                ));
            }
            figment = figment.merge(Toml::file(file));
        }
        let (env, warnings) = env_layer(vars)?;
        figment = figment.merge(env);
        let mut layers = vec![default_file, profile_file];
        layers.extend(vars.get("BFF_CONFIG_FILE").map(PathBuf::from));
        Ok(Layers {
            profile,
            figment,
            files: layers,
            warnings,
        })
    }
}

/// `BFF_PROFILE` (default [`DEFAULT_PROFILE`]), refused unless it is a plain name, since it
/// becomes a file name.
fn profile_name(vars: &BTreeMap<String, String>) -> Result<String, ConfigError> {
    let profile = vars
        .get("BFF_PROFILE")
        .cloned()
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    if profile.is_empty()
        || !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ConfigError::new(
            "BFF_PROFILE",
            format!("`{profile}` is not a profile name"),
        ));
    }
    Ok(profile)
}

/// Whether two paths name the same file (figment records canonical paths).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Refuses a shared profile file that holds a secret: such files are committed and read by
/// everyone, so a secret there has leaked.
fn refuse_secrets_in(profile_file: &Path) -> Result<(), ConfigError> {
    let figment = Figment::from(Toml::file(profile_file));
    for key in SECRET_KEYS {
        if figment.find_value(key).is_ok() {
            return Err(ConfigError::new(
                *key,
                format!(
                    "secrets must not live in the shared profile file {}; set it through the \
                     environment or a `*_file` key",
                    profile_file.display()
                ),
            ));
        }
    }
    Ok(())
}

/// How late a layer is: built-in defaults 0, then the files in `layers` order, then the
/// environment; a value from a later layer overrides one from an earlier layer.
fn layer_rank(metadata: &figment::Metadata, layers: &[PathBuf]) -> usize {
    match &metadata.source {
        Some(figment::Source::File(path)) => layers
            .iter()
            .position(|layer| same_file(layer, path))
            .map_or(0, |i| i + 1),
        _ if metadata.name == super::env::ENV_LAYER_NAME => layers.len() + 1,
        _ => 0,
    }
}

/// A secret and its `*_file` twin set by different layers: the later layer wins, as for any
/// other key (a profile's `keys` and an environment's `keys_file` is a mount replacing a
/// committed dev value, not a conflict). Set by the same layer, both stay and validation says
/// to choose.
fn prefer_higher_layer<A, B>(
    figment: &Figment,
    layers: &[PathBuf],
    key: &str,
    inline: &mut Option<A>,
    file: &mut Option<B>,
) {
    if inline.is_none() || file.is_none() {
        return;
    }
    let rank = |key: &str| figment.find_metadata(key).map(|m| layer_rank(m, layers));
    match (rank(key), rank(&format!("{key}_file"))) {
        (Some(a), Some(b)) if a < b => *inline = None,
        (Some(a), Some(b)) if a > b => *file = None,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::*;
    use secrecy::ExposeSecret;

    #[test]
    fn layers_override_in_order_and_env_lists_split_on_commas() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("default.toml"),
            without_secrets(&base_toml()),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("stg.toml"),
            "[oidc]\nclient_id = \"from-profile\"\n[server]\nbind = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let extra = dir.path().join("extra.toml");
        std::fs::write(&extra, "[server]\nbind = \"127.0.0.1:9100\"\n").unwrap();
        let vars: BTreeMap<String, String> = [
            ("BFF_PROFILE", "stg"),
            ("BFF_CONFIG_DIR", dir.path().to_str().unwrap()),
            ("BFF_CONFIG_FILE", extra.to_str().unwrap()),
            ("BFF_OIDC__SCOPES", "openid, email"),
            ("BFF_OIDC__CLIENT_SECRET", "0012345"),
            ("BFF_SESSION__KEYS", KEY),
            ("BFF_OIDC__CLIENT_SECRT", "typo"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let loaded = Config::load_from(&vars).unwrap();
        let config = loaded.config;
        assert_eq!(config.profile, "stg");
        assert_eq!(config.oidc.client_id, "from-profile");
        assert_eq!(config.server.bind.to_string(), "127.0.0.1:9100");
        assert_eq!(config.oidc.scopes, ["openid", "email"]);
        assert_eq!(
            config.oidc.client_secret.as_ref().unwrap().expose_secret(),
            "0012345",
            "a secret of digits is kept exactly as written"
        );
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("BFF_OIDC__CLIENT_SECRT"));
    }

    #[test]
    fn a_secret_file_from_a_higher_layer_replaces_an_inline_secret_from_a_lower_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dev.toml"), "").unwrap();
        let file = dir.path().join("bff.toml");
        std::fs::write(&file, base_toml()).unwrap();
        let keys = dir.path().join("keys");
        let second = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=";
        std::fs::write(&keys, format!("{second}\n")).unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "from-the-file\n").unwrap();
        let vars = |extra: &[(&str, &str)]| -> BTreeMap<String, String> {
            [
                ("BFF_CONFIG_DIR", dir.path().to_str().unwrap()),
                ("BFF_CONFIG_FILE", file.to_str().unwrap()),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let config = Config::load_from(&vars(&[
            ("BFF_SESSION__KEYS_FILE", keys.to_str().unwrap()),
            ("BFF_OIDC__CLIENT_SECRET_FILE", secret.to_str().unwrap()),
        ]))
        .unwrap()
        .config;
        assert_eq!(config.session.keys_file.as_deref(), Some(keys.as_path()));
        assert_eq!(config.session.keys.len(), 1);
        assert_eq!(
            config.oidc.client_secret.as_ref().unwrap().expose_secret(),
            "from-the-file"
        );
        // The other way round: an inline secret from the environment replaces a file's `*_file`.
        std::fs::write(
            &file,
            base_toml().replace(
                "client_secret = \"s3cret\"",
                &format!("client_secret_file = {:?}", secret.to_str().unwrap()),
            ),
        )
        .unwrap();
        let config = Config::load_from(&vars(&[("BFF_OIDC__CLIENT_SECRET", "from-env")]))
            .unwrap()
            .config;
        assert_eq!(
            config.oidc.client_secret.as_ref().unwrap().expose_secret(),
            "from-env"
        );
        // Both in one layer: validation asks to choose.
        let error = Config::load_from(&vars(&[
            ("BFF_OIDC__CLIENT_SECRET", "from-env"),
            ("BFF_OIDC__CLIENT_SECRET_FILE", secret.to_str().unwrap()),
        ]))
        .unwrap_err();
        assert_eq!(error.key, "oidc.client_secret");
    }

    #[test]
    fn unknown_profile_is_a_startup_error() {
        let dir = tempfile::tempdir().unwrap();
        let vars: BTreeMap<String, String> = [
            ("BFF_PROFILE".to_string(), "qa".to_string()),
            (
                "BFF_CONFIG_DIR".to_string(),
                dir.path().to_str().unwrap().to_string(),
            ),
        ]
        .into_iter()
        .collect();
        let error = Config::load_from(&vars).unwrap_err();
        assert_eq!(error.key, "BFF_PROFILE");
        assert!(error.message.contains("unknown profile"));
    }

    #[test]
    fn secret_in_a_shared_profile_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("prd.toml"), base_toml()).unwrap();
        let vars: BTreeMap<String, String> = [
            ("BFF_PROFILE".to_string(), "prd".to_string()),
            (
                "BFF_CONFIG_DIR".to_string(),
                dir.path().to_str().unwrap().to_string(),
            ),
        ]
        .into_iter()
        .collect();
        let error = Config::load_from(&vars).unwrap_err();
        assert_eq!(error.key, "oidc.client_secret");
    }

    #[test]
    fn shipped_profiles_load() {
        for profile in ["dev", "stg", "prd"] {
            let vars: BTreeMap<String, String> = [
                ("BFF_PROFILE", profile),
                (
                    "BFF_CONFIG_DIR",
                    concat!(env!("CARGO_MANIFEST_DIR"), "/profiles"),
                ),
                ("BFF_OIDC__CLIENT_SECRET", "x"),
                ("BFF_SESSION__KEYS", KEY),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let loaded = Config::load_from(&vars);
            assert!(loaded.is_ok(), "{profile}: {:?}", loaded.err());
        }
    }

    #[test]
    fn the_dev_profiles_committed_key_is_refused_off_loopback() {
        let profiles = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles");
        // What an operator gets who forgets BFF_PROFILE: the dev profile, with its key.
        let production_shaped = vars(&[
            ("BFF_CONFIG_DIR", profiles),
            ("BFF_SERVER__PUBLIC_URL", "https://app.example.com"),
        ]);
        let error = Config::load_from(&production_shaped).unwrap_err();
        assert_eq!(error.key, "session.keys");
        assert!(error.message.contains("committed"), "{error}");
        // On loopback (the demo, the tests) the dev key serves.
        assert!(Config::load_from(&vars(&[("BFF_CONFIG_DIR", profiles)])).is_ok());
        // A key of the operator's own is accepted anywhere.
        let own_key = vars(&[
            ("BFF_CONFIG_DIR", profiles),
            ("BFF_SERVER__PUBLIC_URL", "https://app.example.com"),
            ("BFF_OIDC__ISSUER", "https://sso.example.com/oidc"),
            ("BFF_SESSION__KEYS", KEY),
        ]);
        assert!(
            Config::load_from(&own_key).is_ok(),
            "{:?}",
            Config::load_from(&own_key).err()
        );
    }

    #[test]
    fn a_key_in_any_committed_profile_is_refused_off_loopback() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dev.toml"), base_toml()).unwrap();
        let loaded = Config::load_from(&vars(&[("BFF_CONFIG_DIR", dir.path().to_str().unwrap())]));
        assert_eq!(loaded.unwrap_err().key, "session.keys");
    }

    #[test]
    fn every_secret_key_is_a_known_key() {
        let known = crate::config::known_keys::KnownKeys::of_raw_config().unwrap();
        for key in SECRET_KEYS {
            assert!(known.contains(key), "{key}");
        }
    }
}
