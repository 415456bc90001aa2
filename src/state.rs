//! The shared state of one running service, and the session guard every request that needs
//! tokens goes through: open the cookie → end the session if it is over → refresh if due →
//! slide the idle deadline (at most once a minute) → re-seal when anything changed.

use crate::config::Config;
use crate::cookies::{RequestCookies, ResponseCookies};
use crate::error::{Error, ErrorKind};
use crate::metrics::Metrics;
use crate::oidc::Sso;
use crate::refresh::{RefreshFailure, Refresher, Renewed};
use crate::session::{CompactToken, Session};
use crate::session_cookie::{SessionCookies, SessionRead};
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
    pub upstream: reqwest::Client,
}

/// The re-issue of the cookie for idle tracking happens at most this often.
pub const SLIDE_INTERVAL_SECS: i64 = 60;

/// The outcome of the session guard.
pub enum SessionState {
    /// No (usable) session; any bad cookie has been cleared.
    None,
    /// A session with tokens fit to use.
    Active(Session),
    /// A session whose refresh failed transiently: kept, but its access token is due.
    Stale(Session, Error),
}

impl AppState {
    /// Builds the state from a validated configuration.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let sso = Arc::new(Sso::new(config.oidc.clone(), config.server.redirect_uri())?);
        let upstream = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()?;
        Ok(AppState {
            cookies: SessionCookies::new(
                &config.session,
                &crate::seal::deployment_binding(&config.oidc.issuer, &config.oidc.client_id),
            ),
            config: Arc::new(config),
            sso,
            refresher: Refresher::default(),
            metrics: Metrics::default(),
            upstream,
        })
    }

    /// The session guard (see the module documentation).
    pub async fn session(
        &self,
        request: &RequestCookies,
        out: &ResponseCookies,
        now: i64,
    ) -> SessionState {
        let session_config = &self.config.session;
        let mut session = match self.cookies.read(request) {
            SessionRead::Absent => return SessionState::None,
            SessionRead::Invalid(reason) => {
                tracing::info!(reason, "session cookie refused; clearing it");
                self.metrics.cookie_refused(reason);
                self.cookies.clear(request, out);
                return SessionState::None;
            }
            SessionRead::Valid(session) => *session,
        };
        if session.is_over(
            now,
            session_config.absolute_lifetime,
            session_config.idle_timeout,
        ) {
            tracing::info!("session over (absolute lifetime or idle timeout)");
            self.cookies.clear(request, out);
            return SessionState::None;
        }
        let mut changed = false;
        if session.access_token_due(now, session_config.refresh_skew) {
            match &session.refresh_token {
                Some(refresh_token) => {
                    let subject = session
                        .id_claims()
                        .get("sub")
                        .and_then(|s| s.as_str())
                        .map(String::from);
                    let outcome = self
                        .refresher
                        .refresh(
                            &self.sso,
                            &refresh_token.expose(),
                            subject,
                            self.config.roles.userinfo,
                            now,
                        )
                        .await;
                    self.metrics.refresh(&outcome);
                    match outcome {
                        Ok(renewed) => {
                            self.apply(&mut session, &renewed);
                            changed = true;
                        }
                        Err(RefreshFailure::GrantDead(reason)) => {
                            tracing::info!(reason, "refresh refused by the SSO; session over");
                            self.cookies.clear(request, out);
                            return SessionState::None;
                        }
                        Err(RefreshFailure::Unavailable(reason)) => {
                            let error = Error::new(
                                ErrorKind::SsoUnavailable,
                                "the identity provider is unavailable; your session is kept, try again shortly",
                            )
                            .with_source(anyhow::anyhow!(reason));
                            return SessionState::Stale(session, error);
                        }
                    }
                }
                None if now >= session.access_expires_at => {
                    tracing::info!("access token expired and no refresh token; session over");
                    self.cookies.clear(request, out);
                    return SessionState::None;
                }
                None => {}
            }
        }
        if changed || now - session.last_seen >= SLIDE_INTERVAL_SECS {
            session.last_seen = now;
            if let Err(error) = self.cookies.write(request, out, &session, now) {
                tracing::error!(error = %error, "refreshed session does not fit the cookie ceiling; session over");
                self.cookies.clear(request, out);
                return SessionState::None;
            }
        }
        SessionState::Active(session)
    }

    /// Puts refreshed tokens into `session` and recomputes its roles.
    fn apply(&self, session: &mut Session, renewed: &Renewed) {
        session.access_token = CompactToken::new(&renewed.access_token);
        session.access_expires_at = renewed.access_expires_at;
        if let Some(refresh_token) = &renewed.refresh_token {
            session.refresh_token = Some(CompactToken::new(refresh_token));
        }
        if let Some(id_token) = &renewed.id_token {
            session.id_token = CompactToken::new(id_token);
        }
        // Without the userinfo answer the roles cannot be recomputed: keep the known ones.
        if !self.config.roles.userinfo || renewed.userinfo.is_some() {
            session.roles = self.roles_of(
                &session.id_token,
                &session.access_token,
                renewed.userinfo.as_ref(),
            );
        }
    }

    /// Roles from the configured claim paths of the ID token, the access token when it is a
    /// JWT (read, not verified: it came straight from the token endpoint, and it is the API's
    /// token to check), and the userinfo response when `roles.userinfo` is on.
    pub fn roles_of(
        &self,
        id_token: &CompactToken,
        access_token: &CompactToken,
        userinfo: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Vec<String> {
        let id_claims = id_token.jwt_claims().unwrap_or_default();
        let access_claims = access_token.jwt_claims().unwrap_or_default();
        let mut sources = vec![&id_claims, &access_claims];
        sources.extend(userinfo);
        crate::roles::extract(&self.config.roles.claims, &sources)
    }
}
