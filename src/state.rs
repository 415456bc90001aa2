//! The shared state of one running service: configuration, the SSO client, the session
//! machinery, metrics and the upstream client. Handlers borrow from it; nothing in it is
//! per-user (the session lives in the browser's cookie).

use crate::config::Config;
use crate::metrics::Metrics;
use crate::oidc::Sso;
use crate::session::cookie::SessionCookies;
use crate::session::guard::Guard;
use crate::session::refresh::Refresher;
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
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Pooled client for upstream APIs.
    pub upstream: crate::relay::upstream::Upstream,
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` for upstreams, from `server.public_url`.
    forwarded: (HeaderValue, HeaderValue),
}

impl AppState {
    /// Builds the state from a validated configuration.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let sso = Arc::new(Sso::new(config.oidc.clone(), config.server.redirect_uri())?);
        let upstream = crate::relay::upstream::Upstream::new();
        let public = &config.server.public_url;
        let (proto, host) = public.split_once("://").unwrap_or(("https", public));
        let forwarded = (HeaderValue::from_str(proto)?, HeaderValue::from_str(host)?);
        let binding = crate::seal::deployment_binding(&config.oidc.issuer, &config.oidc.client_id);
        Ok(AppState {
            cookies: SessionCookies::new(&config.session, &binding),
            config: Arc::new(config),
            sso,
            refresher: Refresher::default(),
            metrics: Metrics::default(),
            upstream,
            forwarded,
        })
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
        }
    }
}
