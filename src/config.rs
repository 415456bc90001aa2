//! Configuration: figment layers in, a typed and validated [`Config`] out.
//!
//! Layers, each overriding the one before: built-in defaults, `profiles/default.toml`,
//! `profiles/<BFF_PROFILE>.toml`, the file named by `BFF_CONFIG_FILE`, then `BFF_<SECTION>__<KEY>`
//! environment variables. Everything is validated here, once, so that a bad value stops startup
//! with one line naming its key instead of surfacing as a confusing failure on some request.

use crate::routes::RouteTable;
use base64::Engine;
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// The `Content-Security-Policy` of the SPA unless `server.content_security_policy` says
/// otherwise: the one the reference Angular app runs under (its own scripts and styles, the
/// inline styles Angular components insert, nothing else; no framing).
pub const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
    connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

/// A configuration error: the key at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `session.keys`.
    pub key: String,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error in `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        // figment may report several errors; the first one is enough to fix and retry.
        let error = error.into_iter().next().unwrap_or_else(|| "unknown".into());
        let key = if error.path.is_empty() {
            "(root)".to_string()
        } else {
            error.path.join(".")
        };
        let origin = error
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        ConfigError::new(key, format!("{}{origin}", error.kind))
    }
}

/// The validated configuration of one running service.
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
    /// The API relay table.
    pub routes: RouteTable,
}

/// `[server]`.
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
    /// The `Content-Security-Policy` of the SPA served from `static_dir`.
    pub content_security_policy: String,
}

impl ServerConfig {
    /// The redirect URI registered at the SSO.
    pub fn redirect_uri(&self) -> String {
        format!("{}/api/callback", self.public_url)
    }
}

/// How the client authenticates at the token endpoint.
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
}

/// The signing key for `private_key_jwt`.
#[derive(Clone, Serialize)]
pub struct PrivateKey {
    /// PEM (PKCS#8 or traditional) of an RSA or EC P-256 key.
    #[serde(serialize_with = "redact")]
    pub pem: SecretString,
    /// `RS256`, `PS256` or `ES256`.
    pub alg: String,
    /// `kid` header, if the SSO needs it to find the registered key.
    pub kid: Option<String>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("pem", &"[redacted]")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

/// Endpoint overrides: each replaces what discovery says, or stands in for it entirely.
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
}

impl EndpointOverrides {
    /// Whether the service can run with no discovery document at all.
    pub fn suffice_without_discovery(&self) -> bool {
        self.authorization.is_some() && self.token.is_some() && self.jwks.is_some()
    }
}

/// `[oidc]`.
#[derive(Debug, Clone, Serialize)]
pub struct OidcConfig {
    /// The issuer exactly as configured: discovery's `issuer` must equal it byte for byte.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret (for the `client_secret_*` methods).
    #[serde(serialize_with = "redact_opt")]
    pub client_secret: Option<SecretString>,
    /// Token endpoint authentication.
    pub auth_method: AuthMethod,
    /// Key for `private_key_jwt`.
    pub private_key: Option<PrivateKey>,
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
}

/// `SameSite` of the session cookie.
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

/// `[session]`.
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
            .finish()
    }
}

/// `[cors]`.
#[derive(Debug, Clone, Serialize)]
pub struct CorsConfig {
    /// Origins (scheme://host[:port]) of an SPA hosted on another site.
    pub allowed_origins: Vec<String>,
}

/// `[roles]`.
#[derive(Debug, Clone, Serialize)]
pub struct RolesConfig {
    /// Claim paths, dotted for nesting.
    pub claims: Vec<String>,
    /// Also read the paths in the userinfo response (at login and at each refresh).
    pub userinfo: bool,
}

// ---------------------------------------------------------------------------------------------
// Raw layer: what figment deserializes before validation.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    oidc: RawOidc,
    #[serde(default)]
    session: RawSession,
    #[serde(default)]
    cors: RawCors,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    routes: Vec<crate::routes::RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    bind: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    public_url: Option<String>,
    static_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "list")]
    trusted_proxies: Option<Vec<String>>,
    max_head_bytes: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    header_timeout: Option<Duration>,
    max_connections: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    shutdown_timeout: Option<Duration>,
    content_security_policy: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOidc {
    #[serde(default, deserialize_with = "lenient_string")]
    issuer: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    auth_method: Option<AuthMethod>,
    private_key: Option<String>,
    private_key_file: Option<PathBuf>,
    private_key_alg: Option<String>,
    private_key_id: Option<String>,
    #[serde(default, deserialize_with = "list")]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    extra_auth_params: BTreeMap<String, String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    endpoints: EndpointOverrides,
    #[serde(default, with = "humantime_serde")]
    http_timeout: Option<Duration>,
}

impl fmt::Debug for RawOidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawOidc { .. }")
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    #[serde(default, deserialize_with = "list")]
    keys: Option<Vec<String>>,
    keys_file: Option<PathBuf>,
    cookie_name: Option<String>,
    same_site: Option<SameSite>,
    #[serde(default, with = "humantime_serde")]
    absolute_lifetime: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    idle_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    refresh_skew: Option<Duration>,
    max_chunks: Option<usize>,
}

impl fmt::Debug for RawSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawSession { .. }")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCors {
    #[serde(default, deserialize_with = "list")]
    allowed_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    #[serde(default, deserialize_with = "list")]
    claims: Option<Vec<String>>,
    userinfo: Option<bool>,
}

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

/// Keys that must never live in a shared (`stg`, `prd`, ...) profile file.
const SECRET_KEYS: &[&str] = &["oidc.client_secret", "oidc.private_key", "session.keys"];

fn is_known_key(dotted: &str) -> bool {
    KNOWN_KEYS
        .iter()
        .any(|known| match known.strip_suffix('*') {
            Some(prefix) => dotted.starts_with(prefix) && dotted.len() > prefix.len(),
            None => *known == dotted,
        })
}

/// Maps `BFF_OIDC__CLIENT_SECRET` to `oidc.client_secret`.
fn env_var_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("BFF_")?;
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

/// The result of loading: the configuration and the warnings worth logging once at startup.
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Human-readable warnings (e.g. an unknown `BFF_*` variable).
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads the layers from the process environment and the profile folder.
    pub fn load() -> Result<Loaded, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_from(&vars)
    }

    /// Loads the layers with `vars` standing in for the environment (used by tests).
    pub fn load_from(vars: &BTreeMap<String, String>) -> Result<Loaded, ConfigError> {
        let profile = vars
            .get("BFF_PROFILE")
            .cloned()
            .unwrap_or_else(|| "dev".to_string());
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
        let dir = vars
            .get("BFF_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("profiles"));
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

        let mut figment = Figment::new();
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

        let mut warnings = Vec::new();
        let mut env_pairs = Vec::new();
        for (name, value) in vars {
            if !name.starts_with("BFF_") || CONTROL_VARIABLES.contains(&name.as_str()) {
                continue;
            }
            match env_var_key(name) {
                Some(key) if is_known_key(&key) => env_pairs.push((key, value.clone())),
                _ => warnings.push(format!(
                    "environment variable {name} matches no configuration key; ignored"
                )),
            }
        }
        figment = figment.merge(EnvLayer(env_pairs));
        let committed = [default_file, profile_file];
        let config = Self::from_layers(profile, figment, &committed)?;
        Ok(Loaded { config, warnings })
    }

    /// Validates whatever `figment` holds (defaults are applied here, not in the layers).
    pub fn from_figment(profile: String, figment: Figment) -> Result<Config, ConfigError> {
        Self::from_layers(profile, figment, &[])
    }

    /// Like [`Config::from_figment`], knowing which files are committed to the repository:
    /// a session key read from one of them is public, and accepted only on loopback.
    fn from_layers(
        profile: String,
        figment: Figment,
        committed: &[PathBuf],
    ) -> Result<Config, ConfigError> {
        let key_file = figment
            .find_metadata("session.keys")
            .and_then(|metadata| match &metadata.source {
                Some(figment::Source::File(path)) => Some(path.clone()),
                _ => None,
            })
            .filter(|path| committed.iter().any(|c| same_file(c, path)));
        let raw: RawConfig = figment.extract()?;
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

    /// The configuration with every secret replaced by `[redacted]`, for `oidc-bff check`.
    pub fn redacted_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("(cannot print configuration: {error})"))
    }
}

/// The already-filtered `BFF_*` pairs as one figment layer, each value parsed the way figment's
/// `Env` parses (so `true`, numbers and `[a, b]` work), under its dotted key. The pairs come from
/// a map rather than the process so that tests and the real process share the same parsing.
struct EnvLayer(Vec<(String, String)>);

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

/// Whether two paths name the same file (figment records canonical paths).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

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

fn validate(profile: String, raw: RawConfig) -> Result<Config, ConfigError> {
    let server = validate_server(raw.server)?;
    let oidc = validate_oidc(raw.oidc)?;
    let session = validate_session(raw.session)?;
    // A session cookie of max_chunks chunks, plus room for the other headers, must fit the
    // request head limit, or the largest sessions would be answered 431.
    let needed = (session.max_chunks + 1) * 4096;
    if needed > server.max_head_bytes {
        return Err(ConfigError::new(
            "session.max_chunks",
            format!(
                "{} cookies need request heads of about {needed} bytes; raise \
                 server.max_head_bytes to at least that",
                session.max_chunks
            ),
        ));
    }
    let cors = CorsConfig {
        allowed_origins: raw
            .cors
            .allowed_origins
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, o)| parse_origin(&format!("cors.allowed_origins[{i}]"), o))
            .collect::<Result<_, _>>()?,
    };
    if session.same_site == SameSite::None && cors.allowed_origins.is_empty() {
        return Err(ConfigError::new(
            "session.same_site",
            "`none` is cross-site mode and needs `cors.allowed_origins`",
        ));
    }
    let roles = RolesConfig {
        claims: raw
            .roles
            .claims
            .unwrap_or_else(|| vec!["roles".into(), "groups".into()]),
        userinfo: raw.roles.userinfo.unwrap_or(false),
    };
    if let Some(bad) = roles
        .claims
        .iter()
        .find(|c| c.is_empty() || c.split('.').any(str::is_empty))
    {
        return Err(ConfigError::new(
            "roles.claims",
            format!("`{bad}` is not a claim path"),
        ));
    }
    let routes =
        RouteTable::from_raw(raw.routes).map_err(|e| ConfigError::new(e.key(), e.message))?;
    Ok(Config {
        profile,
        server,
        oidc,
        session,
        cors,
        roles,
        routes,
    })
}

fn validate_server(raw: RawServer) -> Result<ServerConfig, ConfigError> {
    let bind_text = raw.bind.unwrap_or_else(|| "0.0.0.0:8080".into());
    let bind = bind_text.parse().map_err(|_| {
        ConfigError::new(
            "server.bind",
            format!("`{bind_text}` is not an address like 0.0.0.0:8080"),
        )
    })?;
    let public_url = raw
        .public_url
        .ok_or_else(|| ConfigError::new("server.public_url", "missing required key"))?;
    let public_url = parse_origin("server.public_url", &public_url)?;
    require_https_off_loopback("server.public_url", &public_url)?;
    let trusted_proxies = raw
        .trusted_proxies
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_network(text)
                .map_err(|m| ConfigError::new(format!("server.trusted_proxies[{i}]"), m))
        })
        .collect::<Result<_, _>>()?;
    let max_head_bytes = raw.max_head_bytes.unwrap_or(32 * 1024);
    if !(8 * 1024..=1024 * 1024).contains(&max_head_bytes) {
        return Err(ConfigError::new(
            "server.max_head_bytes",
            "must be between 8192 and 1048576",
        ));
    }
    let header_timeout = raw.header_timeout.unwrap_or(Duration::from_secs(10));
    let shutdown_timeout = raw.shutdown_timeout.unwrap_or(Duration::from_secs(30));
    for (key, value) in [
        ("server.header_timeout", header_timeout),
        ("server.shutdown_timeout", shutdown_timeout),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(key, "must be more than zero"));
        }
    }
    let max_connections = raw.max_connections.unwrap_or(10_000);
    if max_connections == 0 {
        return Err(ConfigError::new(
            "server.max_connections",
            "must be at least 1",
        ));
    }
    let content_security_policy = raw
        .content_security_policy
        .unwrap_or_else(|| DEFAULT_CSP.to_string());
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
        static_dir: raw.static_dir,
        trusted_proxies,
        max_head_bytes,
        header_timeout,
        max_connections,
        shutdown_timeout,
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

/// Whether `url`'s host is this machine: `localhost`, `*.localhost`, or a loopback address.
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
fn require_https_off_loopback(key: &str, text: &str) -> Result<(), ConfigError> {
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
fn parse_origin(key: &str, text: &str) -> Result<String, ConfigError> {
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

fn validate_oidc(raw: RawOidc) -> Result<OidcConfig, ConfigError> {
    let issuer = raw
        .issuer
        .ok_or_else(|| ConfigError::new("oidc.issuer", "missing required key"))?;
    let issuer_url = Url::parse(&issuer)
        .map_err(|e| ConfigError::new("oidc.issuer", format!("`{issuer}` is not a URL ({e})")))?;
    if !matches!(issuer_url.scheme(), "http" | "https") || issuer_url.host_str().is_none() {
        return Err(ConfigError::new(
            "oidc.issuer",
            format!("`{issuer}` must be an http(s) URL"),
        ));
    }
    require_https_off_loopback("oidc.issuer", &issuer)?;
    for (name, url) in [
        ("authorization", &raw.endpoints.authorization),
        ("token", &raw.endpoints.token),
        ("jwks", &raw.endpoints.jwks),
        ("userinfo", &raw.endpoints.userinfo),
        ("revocation", &raw.endpoints.revocation),
        ("end_session", &raw.endpoints.end_session),
    ] {
        if let Some(url) = url {
            require_https_off_loopback(&format!("oidc.endpoints.{name}"), url.as_str())?;
        }
    }
    let client_id = raw
        .client_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ConfigError::new("oidc.client_id", "missing required key"))?;
    let auth_method = raw.auth_method.unwrap_or(AuthMethod::ClientSecretBasic);
    let client_secret = secret_from(
        "oidc.client_secret",
        raw.client_secret,
        raw.client_secret_file.as_deref(),
    )?
    .map(SecretString::from);
    let private_key_pem = secret_from(
        "oidc.private_key",
        raw.private_key,
        raw.private_key_file.as_deref(),
    )?;
    let mut private_key = None;
    match auth_method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            if client_secret.is_none() {
                return Err(ConfigError::new(
                    "oidc.client_secret",
                    "missing: required by the client_secret_* auth methods (or set client_secret_file)",
                ));
            }
        }
        AuthMethod::PrivateKeyJwt => {
            let pem = private_key_pem.ok_or_else(|| {
                ConfigError::new(
                    "oidc.private_key",
                    "missing: required by private_key_jwt (or set private_key_file)",
                )
            })?;
            let alg = raw.private_key_alg.unwrap_or_else(|| "RS256".into());
            let key = PrivateKey {
                pem: SecretString::from(pem),
                alg,
                kid: raw.private_key_id,
            };
            crate::oidc::client_auth::validate_private_key(&key)
                .map_err(|message| ConfigError::new("oidc.private_key", message))?;
            private_key = Some(key);
        }
        AuthMethod::None => {}
    }
    let scopes = raw.scopes.unwrap_or_else(|| {
        ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec()
    });
    if !scopes.iter().any(|s| s == "openid") {
        return Err(ConfigError::new(
            "oidc.scopes",
            "must include `openid` (this is an OpenID Connect client)",
        ));
    }
    for reserved in [
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "redirect_uri",
        "client_id",
        "response_type",
        "scope",
    ] {
        if raw.extra_auth_params.contains_key(reserved) {
            return Err(ConfigError::new(
                format!("oidc.extra_auth_params.{reserved}"),
                "is set by the service itself and cannot be overridden",
            ));
        }
    }
    if let Some(ca_file) = &raw.ca_file {
        if !ca_file.is_file() {
            return Err(ConfigError::new(
                "oidc.ca_file",
                format!("{} does not exist", ca_file.display()),
            ));
        }
    }
    Ok(OidcConfig {
        issuer,
        client_id,
        client_secret,
        auth_method,
        private_key,
        scopes,
        extra_auth_params: raw.extra_auth_params,
        ca_file: raw.ca_file,
        endpoints: raw.endpoints,
        http_timeout: raw.http_timeout.unwrap_or(Duration::from_secs(10)),
    })
}

fn validate_session(raw: RawSession) -> Result<SessionConfig, ConfigError> {
    let keys_text = match (raw.keys, raw.keys_file) {
        (Some(keys), None) => keys,
        (None, Some(file)) => std::fs::read_to_string(&file)
            .map_err(|e| {
                ConfigError::new(
                    "session.keys_file",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
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
    let keys = keys_text
        .iter()
        .enumerate()
        .map(|(i, text)| {
            decode_key(text).map_err(|m| ConfigError::new(format!("session.keys[{i}]"), m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cookie_name = raw.cookie_name.unwrap_or_else(|| "__Host-bff".into());
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
    let absolute_lifetime = raw
        .absolute_lifetime
        .unwrap_or(Duration::from_secs(8 * 3600));
    let idle_timeout = raw.idle_timeout.unwrap_or(Duration::from_secs(3600));
    for (key, value) in [
        ("session.absolute_lifetime", absolute_lifetime),
        ("session.idle_timeout", idle_timeout),
    ] {
        if value < Duration::from_secs(60) {
            return Err(ConfigError::new(key, "must be at least one minute"));
        }
    }
    let max_chunks = raw.max_chunks.unwrap_or(4);
    if !(1..=10).contains(&max_chunks) {
        return Err(ConfigError::new(
            "session.max_chunks",
            "must be between 1 and 10",
        ));
    }
    Ok(SessionConfig {
        keys,
        cookie_name,
        same_site: raw.same_site.unwrap_or(SameSite::Strict),
        absolute_lifetime,
        idle_timeout,
        refresh_skew: raw.refresh_skew.unwrap_or(Duration::from_secs(60)),
        max_chunks,
    })
}

/// Decodes one session key: base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
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

/// Takes a secret from its inline key or its `*_file` key, never both.
fn secret_from(
    key: &str,
    inline: Option<String>,
    file: Option<&Path>,
) -> Result<Option<String>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            key,
            format!("set either `{key}` or `{key}_file`, not both"),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| {
                ConfigError::new(
                    format!("{key}_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            }),
        (None, None) => Ok(None),
    }
}

/// Accepts a list, or a comma-separated string (how lists arrive from the environment).
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<ListOrString>::deserialize(deserializer)? {
        None => None,
        Some(ListOrString::List(list)) => Some(list),
        Some(ListOrString::Text(text)) => Some(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        ),
    })
}

/// Accepts a string, or a number or boolean that the environment layer parsed too eagerly
/// (`BFF_OIDC__CLIENT_ID=12345`).
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(
        Option::<Scalar>::deserialize(deserializer)?.map(|s| match s {
            Scalar::Text(t) => t,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }),
    )
}

fn redact<S: Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
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
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn base_toml() -> String {
        format!(
            r#"
            [server]
            public_url = "https://app.example.com"
            [oidc]
            issuer = "https://sso.example.com/oidc/app-stg"
            client_id = "app"
            client_secret = "s3cret"
            [session]
            keys = ["{KEY}"]
            "#
        )
    }

    fn without_secrets(text: &str) -> String {
        text.lines()
            .filter(|l| !l.contains("client_secret") && !l.contains("keys ="))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_figment("test".into(), Figment::from(Toml::string(text)))
    }

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
    fn short_session_key_names_the_key() {
        let text = base_toml().replace(KEY, "c2hvcnQ=");
        let error = from_toml(&text).unwrap_err();
        assert_eq!(error.key, "session.keys[0]");
        assert!(error.message.contains("32 bytes"), "{error}");
    }

    #[test]
    fn non_url_issuer_names_the_key() {
        let text = base_toml().replace("https://sso.example.com/oidc/app-stg", "not a url");
        assert_eq!(from_toml(&text).unwrap_err().key, "oidc.issuer");
    }

    #[test]
    fn same_site_none_without_allowed_origins_is_refused() {
        let text = base_toml() + "same_site = \"none\"\n";
        assert_eq!(from_toml(&text).unwrap_err().key, "session.same_site");
        let text = base_toml().replace("[session]", "[cors]\nallowed_origins = [\"https://spa.example.org\"]\n[session]\nsame_site = \"none\"");
        assert!(from_toml(&text).is_ok());
    }

    #[test]
    fn missing_public_url_names_the_key() {
        let text = base_toml().replace("public_url = \"https://app.example.com\"", "");
        assert_eq!(from_toml(&text).unwrap_err().key, "server.public_url");
    }

    #[test]
    fn unknown_key_in_a_file_is_an_error_naming_it() {
        let text = base_toml().replace("[oidc]", "[oidc]\nclient_secrt = \"x\"");
        let error = from_toml(&text).unwrap_err();
        assert!(error.message.contains("client_secrt"), "{error}");
    }

    #[test]
    fn client_secret_is_required_for_secret_methods_but_not_for_public_clients() {
        let text = base_toml().replace("client_secret = \"s3cret\"", "");
        assert_eq!(from_toml(&text).unwrap_err().key, "oidc.client_secret");
        let text = text.replace("[oidc]", "[oidc]\nauth_method = \"none\"");
        assert!(from_toml(&text).is_ok());
    }

    #[test]
    fn redacted_output_holds_no_secret() {
        let config = from_toml(&base_toml()).unwrap();
        let printed = config.redacted_json();
        assert!(!printed.contains("s3cret"));
        assert!(!printed.contains(KEY));
        assert!(printed.contains("[redacted]"));
        assert!(!format!("{config:?}").contains("s3cret"));
    }

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
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "from-file\n").unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(&keys, format!("{KEY}\n")).unwrap();
        let text = base_toml()
            .replace(
                "client_secret = \"s3cret\"",
                &format!("client_secret_file = {:?}", secret.to_str().unwrap()),
            )
            .replace(
                &format!("keys = [\"{KEY}\"]"),
                &format!("keys_file = {:?}", keys.to_str().unwrap()),
            );
        let config = from_toml(&text).unwrap();
        assert_eq!(
            config.oidc.client_secret.unwrap().expose_secret(),
            "from-file"
        );
        assert_eq!(config.session.keys.len(), 1);
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
    fn the_head_limit_must_hold_the_largest_session() {
        let text = base_toml() + "max_chunks = 10\n";
        assert_eq!(from_toml(&text).unwrap_err().key, "session.max_chunks");
        let text = base_toml().replace("[server]", "[server]\nmax_head_bytes = 65536")
            + "max_chunks = 10\n";
        assert!(from_toml(&text).is_ok());
        let text = base_toml().replace("[server]", "[server]\nmax_head_bytes = 1000");
        assert_eq!(from_toml(&text).unwrap_err().key, "server.max_head_bytes");
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
