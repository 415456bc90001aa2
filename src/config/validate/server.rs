//! `[server]`: the listener, the public origin and the limits of the HTTP front.

use super::urls::{parse_origin, require_https_off_loopback};
use crate::config::raw::RawServer;
use crate::config::{ConfigError, ServerConfig};

/// Validates `[server]`.
pub(super) fn validate_server(raw: RawServer) -> Result<ServerConfig, ConfigError> {
    let RawServer {
        bind,
        public_url,
        static_dir,
        trusted_proxies,
        max_head_bytes,
        header_timeout,
        max_connections,
        shutdown_timeout,
        shutdown_delay,
        content_security_policy,
    } = raw;
    let bind = bind.parse().map_err(|_| {
        ConfigError::new(
            "server.bind",
            format!("`{bind}` is not an address like 0.0.0.0:8080"),
        )
    })?;
    let public_url =
        public_url.ok_or_else(|| ConfigError::new("server.public_url", "missing required key"))?;
    let public_url = parse_origin("server.public_url", &public_url)?;
    require_https_off_loopback("server.public_url", &public_url)?;
    let trusted_proxies = trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_network(text)
                .map_err(|m| ConfigError::new(format!("server.trusted_proxies[{i}]"), m))
        })
        .collect::<Result<_, _>>()?;
    if !(8 * 1024..=1024 * 1024).contains(&max_head_bytes) {
        return Err(ConfigError::new(
            "server.max_head_bytes",
            "must be between 8192 and 1048576",
        ));
    }
    for (key, value) in [
        ("server.header_timeout", header_timeout),
        ("server.shutdown_timeout", shutdown_timeout),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(key, "must be more than zero"));
        }
    }
    if max_connections == 0 {
        return Err(ConfigError::new(
            "server.max_connections",
            "must be at least 1",
        ));
    }
    if content_security_policy.is_empty()
        || !content_security_policy
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic())
    {
        return Err(ConfigError::new(
            "server.content_security_policy",
            "must be a non-empty header value of visible ASCII",
        ));
    }
    Ok(ServerConfig {
        bind,
        public_url,
        static_dir,
        trusted_proxies,
        max_head_bytes,
        header_timeout,
        max_connections,
        shutdown_timeout,
        shutdown_delay,
        content_security_policy,
    })
}

/// A CIDR (`10.0.0.0/8`) or a single address.
fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is not a network like 10.0.0.0/8 or an address"))
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;

    #[test]
    fn missing_public_url_names_the_key() {
        let text = base_toml().replace("public_url = \"https://app.example.com\"", "");
        assert_eq!(from_toml(&text).unwrap_err().key, "server.public_url");
    }

    #[test]
    fn trusted_proxies_take_networks_and_addresses() {
        let text = base_toml().replace(
            "[server]",
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\", \"::1\"]",
        );
        let config = from_toml(&text).unwrap();
        assert_eq!(config.server.trusted_proxies.len(), 3);
        let text = base_toml().replace("[server]", "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]");
        assert_eq!(
            from_toml(&text).unwrap_err().key,
            "server.trusted_proxies[0]"
        );
    }
}
