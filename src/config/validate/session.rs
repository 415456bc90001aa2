//! `[session]`: the keys that seal the session cookie, its name and its lifetimes.

use crate::config::raw::RawSession;
use crate::config::{ConfigError, SessionConfig};
use base64::Engine;
use std::path::PathBuf;
use std::time::Duration;

/// Validates `[session]`.
pub(super) fn validate_session(raw: RawSession) -> Result<SessionConfig, ConfigError> {
    let RawSession {
        keys,
        keys_file,
        cookie_name,
        same_site,
        absolute_lifetime,
        idle_timeout,
        refresh_skew,
        max_chunks,
        open_cache,
    } = raw;
    let keys = session_keys(keys, keys_file.clone())?;
    if cookie_name.is_empty()
        || !cookie_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Err(ConfigError::new(
            "session.cookie_name",
            format!("`{cookie_name}` may hold only letters, digits, `-` and `_`"),
        ));
    }
    for (key, value) in [
        ("session.absolute_lifetime", absolute_lifetime),
        ("session.idle_timeout", idle_timeout),
    ] {
        if value < Duration::from_secs(60) {
            return Err(ConfigError::new(key, "must be at least one minute"));
        }
    }
    if !(1..=10).contains(&max_chunks) {
        return Err(ConfigError::new(
            "session.max_chunks",
            "must be between 1 and 10",
        ));
    }
    Ok(SessionConfig {
        keys,
        cookie_name,
        same_site,
        absolute_lifetime,
        idle_timeout,
        refresh_skew,
        max_chunks,
        open_cache,
        keys_file,
    })
}

/// The keys a `keys_file` holds: base64 keys separated by commas or whitespace, at least one;
/// the message names the first bad one. Also used when the file is read again at run time.
pub fn parse_keys_text(text: &str) -> Result<Vec<[u8; 32]>, String> {
    let keys: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if keys.is_empty() {
        return Err("holds no key".into());
    }
    keys.iter()
        .enumerate()
        .map(|(i, text)| decode_key(text).map_err(|m| format!("key {} {m}", i + 1)))
        .collect()
}

/// The session keys from `keys` or `keys_file` (never both): at least one, each 32 bytes.
fn session_keys(
    keys: Option<Vec<String>>,
    keys_file: Option<PathBuf>,
) -> Result<Vec<[u8; 32]>, ConfigError> {
    let keys_text = match (keys, keys_file) {
        (Some(keys), None) => keys,
        (None, Some(file)) => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                ConfigError::new(
                    "session.keys_file",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            return parse_keys_text(&text).map_err(|m| ConfigError::new("session.keys_file", m));
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "session.keys",
                "set either `keys` or `keys_file`, not both",
            ))
        }
        (None, None) => {
            return Err(ConfigError::new(
                "session.keys",
                "missing required key (generate one with `oidc-bff keygen`)",
            ))
        }
    };
    if keys_text.is_empty() {
        return Err(ConfigError::new("session.keys", "needs at least one key"));
    }
    keys_text
        .iter()
        .enumerate()
        .map(|(i, text)| {
            decode_key(text).map_err(|m| ConfigError::new(format!("session.keys[{i}]"), m))
        })
        .collect()
}

/// Decodes one session key: base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
///
/// Public because `oidc-bff keygen`'s output must pass exactly this check.
pub fn decode_key(text: &str) -> Result<[u8; 32], String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| "is not base64 (generate one with `oidc-bff keygen`)".to_string())?;
    bytes.as_slice().try_into().map_err(|_| {
        format!(
            "must be 32 bytes of base64, got {} bytes (generate one with `oidc-bff keygen`)",
            bytes.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;

    #[test]
    fn short_session_key_names_the_key() {
        let text = base_toml().replace(KEY, "c2hvcnQ=");
        let error = from_toml(&text).unwrap_err();
        assert_eq!(error.key, "session.keys[0]");
        assert!(error.message.contains("32 bytes"), "{error}");
    }
}
