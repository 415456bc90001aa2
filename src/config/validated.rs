//! The validated configuration: what the rest of the service reads. Every value here has passed
//! its checks, so no other module re-validates or guesses a default.

use super::PrivateKey;
use crate::routes::RouteTable;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// The validated configuration of one running service. Built only by validation (see
/// [`Config::load`]), so holding one means every value passed its checks.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The active profile name (`dev`, `stg`, `prd`, ...).
    pub profile: String,
    /// Listener and public origin.
    pub server: ServerConfig,
    /// The SSO and our client registration at it.
    pub oidc: OidcConfig,
    /// The sealed session cookie.
    pub session: SessionConfig,
    /// Cross-site SPA hosting.
    pub cors: CorsConfig,
    /// Where roles are read from.
    pub roles: RolesConfig,
    /// What the logs may show.
    pub log: LogConfig,
    /// The optional shared store (Redis): deny-list and refresh coordination.
    pub store: StoreConfig,
    /// The optional operator endpoint (off unless `admin.token_file` is set).
    pub admin: AdminConfig,
    /// The API relay table.
    pub routes: RouteTable,
}

impl Config {
    /// The configuration with every secret replaced by `[redacted]`, for `oidc-bff check`.
    pub fn redacted_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("(cannot print configuration: {error})"))
    }
}

/// `[server]`: how the service listens, and the origin the browser sees, from which the
/// redirect URI and the `Origin` checks derive.
#[derive(Debug, Clone, Serialize)]
pub struct ServerConfig {
    /// Listen address.
    pub bind: SocketAddr,
    /// The origin the browser sees, without a trailing slash (`https://app.example.com`).
    pub public_url: String,
    /// A built SPA to serve at `/`, if any.
    pub static_dir: Option<PathBuf>,
    /// Networks of proxies whose `X-Forwarded-For` is kept (and extended); from anyone else
    /// the header is replaced by the peer's address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Largest request head (request line and headers) accepted; larger ones get 431.
    pub max_head_bytes: usize,
    /// Time to receive a request head; also the longest idle keep-alive.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// On shutdown, how long in-flight requests and streams may still run.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// On shutdown, how long the listener still accepts after `/readyz` turned 503, so the
    /// load balancer notices before connections are refused.
    #[serde(with = "humantime_serde")]
    pub shutdown_delay: Duration,
    /// The `Content-Security-Policy` of the SPA served from `static_dir`.
    pub content_security_policy: String,
}

impl ServerConfig {
    /// The redirect URI registered at the SSO: derived, never configured, so it cannot
    /// disagree with the origin the cookies are set for.
    pub fn redirect_uri(&self) -> String {
        format!("{}/api/callback", self.public_url)
    }
}

/// How the client authenticates at the token endpoint; it decides which credential
/// validation requires (a client secret, a private key, or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with id and secret.
    ClientSecretBasic,
    /// Id and secret in the form body.
    ClientSecretPost,
    /// A JWT signed with our private key (RFC 7523).
    PrivateKeyJwt,
    /// A public client: PKCE only.
    None,
    /// Mutual TLS with a certificate from a PKI the SSO trusts (RFC 8705 section 2.1).
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate registered at the SSO (RFC 8705 section 2.2).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// Whether the client authenticates with a TLS client certificate.
    pub fn is_mtls(self) -> bool {
        matches!(
            self,
            AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
        )
    }
}

/// When sign-in uses pushed authorization requests (RFC 9126).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParMode {
    /// Whenever the SSO (discovery or `oidc.endpoints.par`) has a PAR endpoint. The default.
    Auto,
    /// Always; no PAR endpoint is an error at sign-in (502 `sso-refused`).
    Always,
    /// Never, even when offered (an SSO that requires PAR then refuses sign-in).
    Never,
}

/// The algorithm of the per-session DPoP key (RFC 9449).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DpopAlg {
    /// ECDSA P-256 with SHA-256: small keys and proofs. The default.
    ES256,
    /// Ed25519: the smallest.
    EdDSA,
    /// RSA-PSS with SHA-256 (a 2048-bit key makes the cookie about 1.2 KB larger).
    PS256,
}

/// The security profile the client follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OidcProfile {
    /// OpenID Connect with the safe defaults of this service (PKCE S256, RFC 9207 when offered).
    Standard,
    /// The FAPI 2.0 Security Profile for a confidential client: PAR always, DPoP,
    /// `private_key_jwt` with the issuer as audience, `iss` required in the authorization
    /// response, endpoints from metadata only, PS256/ES256/EdDSA only.
    Fapi2,
}

/// Endpoint overrides: each replaces what discovery says, or stands in for it entirely (for
/// an SSO whose discovery document is missing or wrong). Also a raw shape: its fields are
/// `oidc.endpoints.*` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointOverrides {
    /// Authorization endpoint.
    pub authorization: Option<Url>,
    /// Token endpoint.
    pub token: Option<Url>,
    /// JWKS URI.
    pub jwks: Option<Url>,
    /// Userinfo endpoint.
    pub userinfo: Option<Url>,
    /// Revocation endpoint (RFC 7009).
    pub revocation: Option<Url>,
    /// End-session endpoint (RP-initiated logout).
    pub end_session: Option<Url>,
    /// Pushed authorization request endpoint (RFC 9126).
    pub par: Option<Url>,
}

impl EndpointOverrides {
    /// Whether the service can run with no discovery document at all.
    pub fn suffice_without_discovery(&self) -> bool {
        self.authorization.is_some() && self.token.is_some() && self.jwks.is_some()
    }
}

/// `[oidc]`: the SSO and our client registration at it. Secrets are held so that neither
/// `Debug` nor the printed configuration shows them.
#[derive(Debug, Clone, Serialize)]
pub struct OidcConfig {
    /// The issuer exactly as configured: discovery's `issuer` must equal it byte for byte.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Where the client secret came from, when a file: read again on change or SIGHUP.
    pub client_secret_file: Option<PathBuf>,
    /// Client secret (for the `client_secret_*` methods).
    #[serde(serialize_with = "redact_opt")]
    pub client_secret: Option<SecretString>,
    /// Token endpoint authentication.
    pub auth_method: AuthMethod,
    /// Key for `private_key_jwt`.
    pub private_key: Option<PrivateKey>,
    /// Client certificate (PEM) for the mTLS methods, presented on every call to the SSO.
    pub tls_client_cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_client_key_file: Option<PathBuf>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Extra authorize parameters.
    pub extra_auth_params: BTreeMap<String, String>,
    /// Extra trusted root CAs (PEM) for the SSO.
    pub ca_file: Option<PathBuf>,
    /// Endpoint overrides.
    pub endpoints: EndpointOverrides,
    /// Timeout of each call to the SSO.
    #[serde(with = "humantime_serde")]
    pub http_timeout: Duration,
    /// Pushed authorization requests.
    pub par: ParMode,
    /// DPoP-bound tokens with a key per session.
    pub dpop: bool,
    /// The DPoP key's algorithm.
    pub dpop_alg: DpopAlg,
    /// The security profile.
    pub profile: OidcProfile,
}

/// `SameSite` of the session cookie: `strict` unless the SPA lives on another site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SameSite {
    /// Default: never sent on cross-site requests.
    Strict,
    /// Sent on top-level cross-site navigations.
    Lax,
    /// Cross-site mode (SPA on another site); needs `cors.allowed_origins`.
    None,
}

/// `[session]`: the sealed session cookie. `Debug` and the printed configuration show how
/// many keys there are, never the keys.
#[derive(Clone, Serialize)]
pub struct SessionConfig {
    /// 32-byte keys; the first seals, all open.
    #[serde(serialize_with = "redact_keys")]
    pub keys: Vec<[u8; 32]>,
    /// Session cookie base name.
    pub cookie_name: String,
    /// `SameSite` of the session cookie.
    pub same_site: SameSite,
    /// Hard cap from login.
    #[serde(with = "humantime_serde")]
    pub absolute_lifetime: Duration,
    /// Ends a session unused this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Refresh an access token this long before it expires.
    #[serde(with = "humantime_serde")]
    pub refresh_skew: Duration,
    /// Most cookies one session may span; beyond it login fails with a clear message.
    pub max_chunks: usize,
    /// Most opened sessions kept in memory, by their exact sealed value, so a cookie is opened
    /// once rather than on every request; 0 turns the cache off.
    pub open_cache: usize,
    /// Where the keys came from, when a file: it is read again on change or SIGHUP.
    pub keys_file: Option<PathBuf>,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("cookie_name", &self.cookie_name)
            .field("same_site", &self.same_site)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("idle_timeout", &self.idle_timeout)
            .field("refresh_skew", &self.refresh_skew)
            .field("max_chunks", &self.max_chunks)
            .field("open_cache", &self.open_cache)
            .finish()
    }
}

/// `[cors]`: the other sites allowed to call the API with the session cookie (cross-site
/// mode); empty for the usual same-site deployment.
#[derive(Debug, Clone, Serialize)]
pub struct CorsConfig {
    /// Origins (`scheme://host[:port]`) of an SPA hosted on another site.
    pub allowed_origins: Vec<String>,
}

/// `[roles]`: where a user's roles are read, for the routes' `roles` checks; SSOs put them
/// in different claims.
#[derive(Debug, Clone, Serialize)]
pub struct RolesConfig {
    /// Claim paths, dotted for nesting.
    pub claims: Vec<String>,
    /// Also read the paths in the userinfo response (at login and at each refresh).
    pub userinfo: bool,
}

/// `[log]`: what the logs may show.
#[derive(Debug, Clone, Serialize)]
pub struct LogConfig {
    /// How the signed-in subject appears on access-log lines.
    pub subject: LogSubject,
}

/// How a subject (`sub`) appears in the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSubject {
    /// A keyed hash: the same user gives the same value across lines and replicas sharing
    /// the session keys, and nobody without the keys can tell who it is. The default.
    Hashed,
    /// The subject as the SSO issued it (opt-in: it is personal data in most SSOs).
    Plain,
}

/// `[store]`: an optional Redis beside the cookie. Without `url` nothing changes: the cookie
/// alone is the session, and what needs a store answers that it does.
#[derive(Debug, Clone, Serialize)]
pub struct StoreConfig {
    /// `redis://` or `rediss://` URL (no password in it: that comes from `password_file`).
    pub url: Option<Url>,
    /// The file holding the Redis password (`AUTH`), read at startup.
    pub password_file: Option<PathBuf>,
    /// PEM roots trusted for `rediss://` instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Prefix of every key and channel, so deployments can share one Redis.
    pub prefix: String,
    /// Longest wait for a connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for one command's answer.
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// What a request meets when the store cannot be reached.
    pub on_unavailable: OnUnavailable,
}

/// `[admin]`: `POST /api/admin/revoke`, for operators' tools. Off unless a token file is set;
/// the token is a bearer secret of its own, never a user's session.
#[derive(Clone, Serialize)]
pub struct AdminConfig {
    /// Where the token came from.
    pub token_file: Option<PathBuf>,
    /// The token (at least 32 characters), read at startup.
    #[serde(serialize_with = "redact_opt")]
    pub token: Option<SecretString>,
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

/// What happens to requests while the store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnavailable {
    /// Serve from the cookie (availability first): revocations made meanwhile on other
    /// replicas are seen once the store is back. The default.
    Serve,
    /// Refuse signed-in requests with 503 until the store is back (safety first).
    Deny,
}

fn redact_opt<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secret) if !secret.expose_secret().is_empty() => s.serialize_str("[redacted]"),
        _ => s.serialize_none(),
    }
}

fn redact_keys<S: Serializer>(keys: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("[{} keys redacted]", keys.len()))
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;

    #[test]
    fn redacted_output_holds_no_secret() {
        let config = from_toml(&base_toml()).unwrap();
        let printed = config.redacted_json();
        assert!(!printed.contains("s3cret"));
        assert!(!printed.contains(KEY));
        assert!(printed.contains("[redacted]"));
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
