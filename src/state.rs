//! The shared state of one running service: configuration, the SSO client, the session
//! machinery, metrics and the upstream client. Handlers borrow from it; nothing in it is
//! per-user (the session lives in the browser's cookie).

use crate::config::Config;
use crate::metrics::Metrics;
use crate::oidc::Sso;
use crate::session::cookie::SessionCookies;
use crate::session::guard::Guard;
use crate::session::refresh::Refresher;
use crate::session::Session;
use poem::http::HeaderValue;
use std::sync::Arc;

/// Everything a handler needs, shared by all requests.
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The SSO client.
    pub sso: Arc<Sso>,
    /// Cookie codec and CSRF binding.
    pub cookies: SessionCookies,
    /// Refresh coordinator.
    pub refresher: Refresher,
    /// Prometheus metrics (shared with the SSO client and the cookie codec).
    pub metrics: Arc<Metrics>,
    /// Pooled client for upstream APIs.
    pub upstream: crate::upstream::Upstream,
    /// The optional shared store (`store.url`): deny-list and cross-replica refresh.
    pub store: Option<Arc<crate::store::Store>>,
    /// The upstreams' last `DPoP-Nonce` (by origin), for relayed DPoP proofs.
    pub dpop_nonces: crate::oidc::dpop::Nonces,
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` for upstreams, from `server.public_url`.
    forwarded: (HeaderValue, HeaderValue),
    /// Set at SIGTERM: `/readyz` answers 503 from then on.
    draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Builds the state from a validated configuration.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let sso = Arc::new(Sso::new(
            config.oidc.clone(),
            config.server.redirect_uri(),
            metrics.clone(),
        )?);
        let upstream = crate::upstream::Upstream::new();
        let public = &config.server.public_url;
        let (proto, host) = public.split_once("://").unwrap_or(("https", public));
        let forwarded = (HeaderValue::from_str(proto)?, HeaderValue::from_str(host)?);
        let binding = crate::seal::deployment_binding(&config.oidc.issuer, &config.oidc.client_id);
        let store = crate::store::Store::open(&config.store, metrics.clone())?;
        Ok(AppState {
            cookies: SessionCookies::new(&config.session, &binding).with_metrics(metrics.clone()),
            config: Arc::new(config),
            sso,
            refresher: Refresher::default(),
            metrics,
            upstream,
            store,
            dpop_nonces: Default::default(),
            forwarded,
            draining: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Starts draining: readiness turns false at once, so load balancers stop sending new
    /// requests while the listener still accepts for `server.shutdown_delay`.
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the process is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Records who the request is for on its access-log line, as `log.subject` says: a keyed
    /// hash of `sub` (stable across lines and replicas sharing the keys) or `sub` itself.
    pub fn note_subject(&self, facts: Option<&Arc<crate::observe::Facts>>, session: &Session) {
        let Some(facts) = facts.filter(|_| crate::observe::access_logged()) else {
            return;
        };
        let claims = session.id_claims();
        let Some(sub) = claims.get("sub").and_then(|s| s.as_str()) else {
            return;
        };
        let shown = match self.config.log.subject {
            crate::config::LogSubject::Plain => sub.to_string(),
            crate::config::LogSubject::Hashed => {
                let tag = self
                    .cookies
                    .ring()
                    .mac(b"oidc-bff log subject v1", sub.as_bytes());
                const HEX: &[u8; 16] = b"0123456789abcdef";
                tag[..8]
                    .iter()
                    .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
                    .map(char::from)
                    .collect()
            }
        };
        facts.subject(shown);
    }

    /// The `X-Forwarded-Proto` and `X-Forwarded-Host` values the relay sends.
    pub fn forwarded_origin(&self) -> (&HeaderValue, &HeaderValue) {
        (&self.forwarded.0, &self.forwarded.1)
    }

    /// The session guard over this state (see [`crate::session::guard`]).
    pub fn guard(&self) -> Guard<'_> {
        Guard {
            cookies: &self.cookies,
            refresher: &self.refresher,
            sso: &self.sso,
            rules: &self.config.session,
            roles: &self.config.roles,
            metrics: &self.metrics,
            store: self.store.as_ref(),
            hold: self.config.oidc.http_timeout * 2 + std::time::Duration::from_secs(1),
        }
    }
}
