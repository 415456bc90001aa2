//! The keys an environment variable may set, for the warning about a `BFF_*` variable that
//! matches none (a typo such as `BFF_OIDC__CLIENT_SECRT` must not pass silently).

/// Every key an environment variable may set, dotted; `*` accepts any sub-key.
const KNOWN_KEYS: &[&str] = &[
    "server.bind",
    "server.public_url",
    "server.static_dir",
    "server.trusted_proxies",
    "server.max_head_bytes",
    "server.header_timeout",
    "server.max_connections",
    "server.shutdown_timeout",
    "server.content_security_policy",
    "oidc.issuer",
    "oidc.client_id",
    "oidc.client_secret",
    "oidc.client_secret_file",
    "oidc.auth_method",
    "oidc.private_key",
    "oidc.private_key_file",
    "oidc.private_key_alg",
    "oidc.private_key_id",
    "oidc.scopes",
    "oidc.extra_auth_params.*",
    "oidc.ca_file",
    "oidc.http_timeout",
    "oidc.endpoints.authorization",
    "oidc.endpoints.token",
    "oidc.endpoints.jwks",
    "oidc.endpoints.userinfo",
    "oidc.endpoints.revocation",
    "oidc.endpoints.end_session",
    "session.keys",
    "session.keys_file",
    "session.cookie_name",
    "session.same_site",
    "session.absolute_lifetime",
    "session.idle_timeout",
    "session.refresh_skew",
    "session.max_chunks",
    "cors.allowed_origins",
    "roles.claims",
    "roles.userinfo",
];

/// Whether an environment variable may set `dotted`.
pub(super) fn is_known_key(dotted: &str) -> bool {
    KNOWN_KEYS
        .iter()
        .any(|known| match known.strip_suffix('*') {
            Some(prefix) => dotted.starts_with(prefix) && dotted.len() > prefix.len(),
            None => *known == dotted,
        })
}
