//! URL rules shared by the sections: what an origin is, and where plain http is allowed.

use crate::config::ConfigError;
use url::Url;

/// Whether `url`'s host is this machine: `localhost`, `*.localhost`, or a loopback address.
///
/// Plain http and the committed dev session key are accepted only there, because nothing
/// leaves the machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Plain http is accepted for loopback hosts only (development and tests); anywhere else it
/// would carry codes, tokens or cookies in the clear.
pub(super) fn require_https_off_loopback(key: &str, text: &str) -> Result<(), ConfigError> {
    let url = Url::parse(text)
        .map_err(|e| ConfigError::new(key, format!("`{text}` is not a URL ({e})")))?;
    if url.scheme() == "https" || is_loopback(&url) {
        return Ok(());
    }
    Err(ConfigError::new(
        key,
        format!("`{text}` must use https (plain http is accepted for loopback hosts only)"),
    ))
}

/// Accepts `scheme://host[:port]` (a trailing `/` is tolerated) and returns it without the slash.
pub(super) fn parse_origin(key: &str, text: &str) -> Result<String, ConfigError> {
    let url = Url::parse(text)
        .map_err(|e| ConfigError::new(key, format!("`{text}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            key,
            format!("`{text}` must be an http(s) origin"),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            key,
            format!("`{text}` must be an origin (scheme://host[:port]) without a path"),
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let text = base_toml().replace("https://app.example.com", "http://app.example.com");
        assert_eq!(from_toml(&text).unwrap_err().key, "server.public_url");
        let text = base_toml().replace("https://sso.example.com", "http://sso.example.com");
        assert_eq!(from_toml(&text).unwrap_err().key, "oidc.issuer");
        let text = base_toml().replace(
            "client_id = \"app\"",
            "client_id = \"app\"\nendpoints = { token = \"http://sso.example.com/token\" }",
        );
        assert_eq!(from_toml(&text).unwrap_err().key, "oidc.endpoints.token");
        for loopback in [
            "http://localhost:8080",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://app.localhost",
        ] {
            let text = base_toml().replace("https://app.example.com", loopback);
            assert!(from_toml(&text).is_ok(), "{loopback}");
        }
        let text = base_toml().replace("https://sso.example.com", "http://127.0.0.1:9090");
        assert!(from_toml(&text).is_ok());
    }
}
