//! `[store]`: the optional Redis URL and how to reach it.

use super::super::raw::{RawAdmin, RawStore};
use super::super::{AdminConfig, ConfigError, StoreConfig};
use url::Url;

/// Characters a key prefix may hold: it also becomes part of `SCAN` patterns, where `*`, `?`,
/// `[` and `\` would match other deployments' keys.
fn prefix_ok(prefix: &str) -> bool {
    (1..=64).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:./".contains(&b))
}

pub(super) fn validate_store(raw: RawStore) -> Result<StoreConfig, ConfigError> {
    let url = match raw.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(text) => {
            let url = Url::parse(text).map_err(|e| {
                ConfigError::new(
                    "store.url",
                    format!("not a URL ({e}): expected redis://host:6379/0"),
                )
            })?;
            if !matches!(url.scheme(), "redis" | "rediss") || url.host_str().is_none() {
                return Err(ConfigError::new(
                    "store.url",
                    "expected redis://host:port/db or rediss://host:port/db",
                ));
            }
            if url.password().is_some() {
                return Err(ConfigError::new(
                    "store.url",
                    "holds a password; put it in the file named by store.password_file, so it \
                     stays out of the configuration and the environment",
                ));
            }
            Some(url)
        }
    };
    for (key, path) in [
        ("store.password_file", &raw.password_file),
        ("store.ca_file", &raw.ca_file),
    ] {
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError::new(
                    key,
                    format!("{} does not exist", path.display()),
                ));
            }
        }
    }
    if raw.ca_file.is_some() && url.as_ref().is_some_and(|u| u.scheme() != "rediss") {
        return Err(ConfigError::new(
            "store.ca_file",
            "only means something with a rediss:// URL",
        ));
    }
    if !prefix_ok(&raw.prefix) {
        return Err(ConfigError::new(
            "store.prefix",
            "1 to 64 characters of letters, digits and - _ : . /",
        ));
    }
    for (key, value) in [
        ("store.connect_timeout", raw.connect_timeout),
        ("store.command_timeout", raw.command_timeout),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(key, "must be more than zero"));
        }
    }
    Ok(StoreConfig {
        url,
        password_file: raw.password_file,
        ca_file: raw.ca_file,
        prefix: raw.prefix,
        connect_timeout: raw.connect_timeout,
        command_timeout: raw.command_timeout,
        on_unavailable: raw.on_unavailable,
    })
}

/// The shortest admin token accepted: a guessable one would open revocation to anyone.
const MIN_ADMIN_TOKEN: usize = 32;

/// `[admin]`: the token file must hold a long enough token (trailing line breaks ignored).
pub(super) fn validate_admin(raw: RawAdmin) -> Result<AdminConfig, ConfigError> {
    let Some(path) = raw.token_file else {
        return Ok(AdminConfig {
            token_file: None,
            token: None,
        });
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::new(
            "admin.token_file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let token = text.trim_end_matches(['\n', '\r']);
    if token.chars().count() < MIN_ADMIN_TOKEN || token.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            "admin.token_file",
            format!(
                "must hold one token of at least {MIN_ADMIN_TOKEN} characters without spaces \
                 (`oidc-bff keygen` makes one)"
            ),
        ));
    }
    Ok(AdminConfig {
        token_file: Some(path),
        token: Some(secrecy::SecretString::from(token.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;

    #[test]
    fn a_store_url_is_checked_and_never_holds_a_password() {
        let with = |extra: &str| from_toml(&format!("{}\n[store]\n{extra}", base_toml()));
        assert!(with("").unwrap().store.url.is_none());
        let config = with("url = \"redis://127.0.0.1:6379/2\"").unwrap();
        assert_eq!(
            config.store.url.unwrap().as_str(),
            "redis://127.0.0.1:6379/2"
        );
        for (extra, key) in [
            ("url = \"http://x:6379\"", "store.url"),
            ("url = \"redis://:pw@x:6379\"", "store.url"),
            ("url = \"redis://x\"\nprefix = \"a*\"", "store.prefix"),
            (
                "url = \"redis://x\"\npassword_file = \"/nonexistent\"",
                "store.password_file",
            ),
            (
                "url = \"redis://x\"\ncommand_timeout = \"0s\"",
                "store.command_timeout",
            ),
            (
                "url = \"redis://x\"\non_unavailable = \"maybe\"",
                "store.on_unavailable",
            ),
        ] {
            let error = with(extra).unwrap_err();
            assert_eq!(error.key, key, "{extra}: {error}");
        }
    }
}
