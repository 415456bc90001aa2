//! The OpenID Connect client side, one file per protocol step, in protocol order:
//! [`discovery`] (metadata and keys), [`authorize`] (the redirect to the SSO), [`callback`]
//! (state, `iss`, code exchange, ID-token validation), [`refresh`], [`userinfo`], [`revoke`]
//! and [`end_session`]; beside them [`id_token`] (validation, used by callback and refresh),
//! [`tokens`] (the token endpoint's answers and failures), [`client_auth`] (how we
//! authenticate there) and [`http`] (bounded reads).
//!
//! [`Sso`] owns the one HTTP client used for every call to the SSO: no redirects (following
//! them would open an SSRF hole), the extra CA roots, timeouts, and connection reuse.

pub mod authorize;
pub mod callback;
pub mod client_auth;
pub mod discovery;
pub mod dpop;
pub mod end_session;
pub mod http;
pub mod id_token;
pub mod logout_token;
pub mod refresh;
pub mod revoke;
pub mod tokens;
pub mod userinfo;

use crate::config::OidcConfig;
use crate::error::{Error, ErrorKind};
use crate::metrics::{Metrics, SsoCall, SsoOutcome};
use discovery::Provider;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The SSO as this service sees it: configuration, HTTP client, and the cached provider
/// metadata and keys (loaded at startup, refreshed on an unknown `kid`).
pub struct Sso {
    config: OidcConfig,
    redirect_uri: String,
    http: reqwest::Client,
    /// How we authenticate at the token and revocation endpoints (replaced as a whole when
    /// the client secret file changes).
    auth: arc_swap::ArcSwap<client_auth::ClientAuth>,
    /// Calls to the SSO, by kind and outcome.
    metrics: Arc<Metrics>,
    provider: RwLock<Option<Arc<Provider>>>,
    /// Serializes loads so a burst of requests before readiness makes one discovery call.
    loading: tokio::sync::Mutex<()>,
    /// When the JWKS was last fetched because of an unknown `kid` (rate limit: once a minute).
    last_jwks_refetch: std::sync::Mutex<Option<Instant>>,
    /// The SSO's last `DPoP-Nonce` (by origin).
    pub(crate) dpop_nonces: Arc<dpop::Nonces>,
}

/// The client certificate and key of the mTLS methods, as one identity; presented on every call
/// to the SSO (RFC 8705).
fn client_identity(config: &OidcConfig) -> anyhow::Result<reqwest::Identity> {
    let read = |key: &str, path: &Option<std::path::PathBuf>| -> anyhow::Result<Vec<u8>> {
        let path = path
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{key}: missing"))?;
        std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("{key}: cannot read {}: {e}", path.display()))
    };
    let mut pem = read("oidc.tls_client_cert_file", &config.tls_client_cert_file)?;
    pem.push(b'\n');
    pem.extend(read(
        "oidc.tls_client_key_file",
        &config.tls_client_key_file,
    )?);
    reqwest::Identity::from_pem(&pem).map_err(|e| {
        anyhow::anyhow!("oidc.tls_client_cert_file / tls_client_key_file: not a certificate and key in PEM form ({e})")
    })
}

/// The fewest seconds between two JWKS refetches triggered by unknown key ids.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

impl Sso {
    /// Builds the client; fails on an unreadable or empty CA file.
    pub fn new(
        config: OidcConfig,
        redirect_uri: String,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("oidc-bff/", env!("CARGO_PKG_VERSION")));
        if let Some(ca_file) = &config.ca_file {
            let pem = std::fs::read(ca_file).map_err(|e| {
                anyhow::anyhow!("oidc.ca_file: cannot read {}: {e}", ca_file.display())
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow::anyhow!("oidc.ca_file: not a PEM bundle: {e}"))?;
            if certs.is_empty() {
                anyhow::bail!("oidc.ca_file: {} holds no certificate", ca_file.display());
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if config.auth_method.is_mtls() {
            builder = builder.identity(client_identity(&config)?);
        }
        let http = builder.build()?;
        Ok(Sso {
            auth: arc_swap::ArcSwap::from_pointee(client_auth::ClientAuth::new(&config)),
            metrics,
            config,
            redirect_uri,
            http,
            provider: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            last_jwks_refetch: std::sync::Mutex::new(None),
            dpop_nonces: Arc::default(),
        })
    }

    /// The HTTP client for a token request, proving possession of `dpop` when given.
    pub(crate) fn token_http(&self, dpop: Option<&dpop::DpopKey>) -> http::Bounded {
        http::Bounded(
            self.http.clone(),
            dpop.map(|key| http::DpopContext {
                key: key.clone(),
                nonces: self.dpop_nonces.clone(),
            }),
        )
    }

    /// Whether discovery and keys are loaded (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.cached().is_some()
    }

    fn cached(&self) -> Option<Arc<Provider>> {
        self.provider
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn store(&self, provider: Provider) -> Arc<Provider> {
        let provider = Arc::new(provider);
        *self
            .provider
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(provider.clone());
        provider
    }

    /// The provider metadata and keys, loading them if this is the first use.
    pub async fn provider(&self) -> Result<Arc<Provider>, Error> {
        if let Some(provider) = self.cached() {
            return Ok(provider);
        }
        let _guard = self.loading.lock().await;
        if let Some(provider) = self.cached() {
            return Ok(provider);
        }
        match discovery::load(&self.http, &self.config, &self.metrics).await {
            Ok(provider) => {
                tracing::info!(issuer = %self.config.issuer, "SSO metadata and keys loaded");
                Ok(self.store(provider))
            }
            Err(error) => Err(Error::new(
                ErrorKind::NotReady,
                "the identity provider's metadata could not be loaded; try again shortly",
            )
            .with_source(error)),
        }
    }

    /// Keeps trying to load the provider until it succeeds, so `/readyz` turns green without
    /// waiting for a first login.
    pub async fn load_until_ready(self: Arc<Self>) {
        let mut delay = Duration::from_millis(250);
        loop {
            match self.provider().await {
                Ok(_) => return,
                Err(error) => tracing::warn!(error = %error, "SSO not ready yet"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }

    /// Refetches the JWKS after an unknown `kid`, at most once per [`JWKS_REFETCH_INTERVAL`].
    /// Returns the new provider state when a refetch happened.
    pub async fn refetch_keys(&self) -> Option<Arc<Provider>> {
        {
            let mut last = self
                .last_jwks_refetch
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
                tracing::warn!(
                    "unknown signing key, but the JWKS was refetched less than a minute ago"
                );
                return None;
            }
            *last = Some(Instant::now());
        }
        let current = self.cached()?;
        match discovery::fetch_jwks(&self.http, &current.endpoints.jwks, &self.metrics).await {
            Ok(jwks) => {
                tracing::info!(
                    keys = jwks.keys().len(),
                    "JWKS refetched after an unknown key id"
                );
                Some(self.store(current.with_jwks(jwks)))
            }
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "JWKS refetch failed");
                None
            }
        }
    }

    /// The shared HTTP client (for the token calls).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Puts a new client secret in force for the next calls (the secret file changed).
    pub fn replace_client_secret(&self, secret: secrecy::SecretString) {
        let next = self.auth.load().with_secret(secret);
        self.auth.store(Arc::new(next));
    }

    /// Counts one call to the SSO, with the outcome its result shows.
    pub(crate) fn count<T>(&self, call: SsoCall, result: &Result<T, crate::error::Error>) {
        self.metrics.sso(call, outcome_of(result));
    }
}

/// The metric outcome of a call's result: a refused grant, a timeout (found in the error's
/// source chain), another failure, or success.
fn outcome_of<T>(result: &Result<T, crate::error::Error>) -> SsoOutcome {
    match result {
        Ok(_) => SsoOutcome::Ok,
        Err(error) if error.kind() == crate::error::ErrorKind::GrantRefused => {
            SsoOutcome::InvalidGrant
        }
        Err(error) if error.is_timeout() => SsoOutcome::Timeout,
        Err(_) => SsoOutcome::Error,
    }
}

/// A request to the SSO carrying the id of the request it is made for (when there is one).
pub(crate) fn with_request_id(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match crate::observe::current_request_id() {
        Some(id) => request.header(crate::observe::REQUEST_ID, id),
        None => request,
    }
}
