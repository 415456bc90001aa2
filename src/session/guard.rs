//! The session guard: the one way a request gets at its session. It runs in phases, each a
//! small function with one job, and every caller (`/api/session`, the relay, logout) goes
//! through it:
//!
//! open the cookie → end the session if it is over (absolute lifetime, idle timeout) →
//! refresh the tokens if due (single flight) → slide the idle deadline (at most once a minute)
//! → write the cookie when anything changed.
//!
//! Logout needs the session's identity, not fresh tokens: it runs the first phase only (it
//! ends the session anyway, and still revokes the refresh token of one that is over).

use super::cookie::{SessionCookies, SessionRead};
use super::refresh::{RefreshRequest, Refresher};
use super::Session;
use crate::config::{RolesConfig, SessionConfig};
use crate::cookies::{RequestCookies, ResponseCookies};
use crate::error::{Error, ErrorKind};
use crate::metrics::Metrics;
use crate::oidc::Sso;
use crate::store::{Store, Verdict};
use std::sync::Arc;

/// The re-issue of the cookie for idle tracking happens at most this often.
pub const SLIDE_INTERVAL_SECS: i64 = 60;

/// What a caller needs from the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Tokens fit to use (`/api/session`, the relay): refresh if due, slide, write.
    Tokens,
    /// Only who is signed in (logout): open the cookie, change nothing.
    Identity,
}

/// The outcome of the guard.
pub enum SessionState {
    /// No (usable) session; any bad or ended cookie has been cleared.
    None,
    /// A session with tokens fit to use.
    Active(Arc<Session>),
    /// A session whose refresh failed transiently: kept, but its access token is due.
    Stale(Arc<Session>, Error),
    /// The session cannot be judged now (the store is unreachable and configured to deny):
    /// refused with this error, the cookie kept.
    Unavailable(Error),
}

/// Everything the guard consults; borrowed from the application state for one request.
pub struct Guard<'a> {
    /// The cookie codec.
    pub cookies: &'a SessionCookies,
    /// The refresh single flight.
    pub refresher: &'a Refresher,
    /// The SSO, for refreshing.
    pub sso: &'a Arc<Sso>,
    /// Lifetime rules.
    pub rules: &'a SessionConfig,
    /// Where roles come from (recomputed at each refresh).
    pub roles: &'a RolesConfig,
    /// Sessions opened and refused, refreshes.
    pub metrics: &'a Metrics,
    /// The shared store, when configured: its deny-list is consulted after the cookie opens,
    /// and it coordinates refreshes across replicas.
    pub store: Option<&'a Arc<Store>>,
    /// How long a replica may hold the cross-replica refresh lock (above one SSO call).
    pub hold: std::time::Duration,
}

/// The result of the refresh phase.
enum Refreshed {
    /// Tokens fit to use; `true` when they are new.
    Fresh(Arc<Session>, bool),
    /// The SSO refused the refresh token: the session is over.
    Ended,
    /// The SSO could not be asked: keep the session as it is.
    Stale(Arc<Session>, Error),
}

impl Guard<'_> {
    /// Runs the phases (see the module documentation) for one request.
    #[tracing::instrument(name = "session", skip_all, fields(need = ?need))]
    pub async fn run(
        &self,
        request: &RequestCookies,
        out: &ResponseCookies,
        now: i64,
        need: Need,
    ) -> SessionState {
        let Some(session) = self.open(request, out) else {
            return SessionState::None;
        };
        match self.store.map(|store| verdict(store, &session)) {
            Some(Verdict::Revoked) => {
                tracing::info!("session ended by a logout or revocation; clearing it");
                self.metrics.cookie_refused("revoked");
                self.cookies.clear(request, out);
                return SessionState::None;
            }
            // Logout still works: it ends the session anyway.
            Some(Verdict::Unavailable) if need == Need::Tokens => {
                return SessionState::Unavailable(Error::new(
                    ErrorKind::StoreUnavailable,
                    "sessions cannot be checked right now; try again shortly",
                ));
            }
            _ => {}
        }
        if need == Need::Identity {
            return SessionState::Active(session);
        }
        if self.is_over(&session, now) {
            tracing::info!("session over (absolute lifetime or idle timeout)");
            self.cookies.clear(request, out);
            return SessionState::None;
        }
        let (session, changed) = match self.refresh_if_due(session, now).await {
            Refreshed::Fresh(session, changed) => (session, changed),
            Refreshed::Ended => {
                self.cookies.clear(request, out);
                return SessionState::None;
            }
            Refreshed::Stale(session, error) => return SessionState::Stale(session, error),
        };
        self.slide_and_write(session, changed, request, out, now)
    }

    /// Phase 1: the sealed cookie, or nothing. A cookie that does not open is cleared.
    fn open(&self, request: &RequestCookies, out: &ResponseCookies) -> Option<Arc<Session>> {
        match self.cookies.read(request) {
            SessionRead::Absent => None,
            SessionRead::Invalid(reason) => {
                tracing::info!(reason, "session cookie refused; clearing it");
                self.metrics.cookie_refused(reason);
                self.cookies.clear(request, out);
                None
            }
            SessionRead::Valid(session) => Some(session),
        }
    }

    /// Phase 2: past the absolute lifetime or the idle deadline.
    fn is_over(&self, session: &Session, now: i64) -> bool {
        session.is_over(now, self.rules.absolute_lifetime, self.rules.idle_timeout)
    }

    /// Phase 3: new tokens when the access token is within `refresh_skew` of expiry. Without a
    /// refresh token the session lasts as long as its access token.
    async fn refresh_if_due(&self, session: Arc<Session>, now: i64) -> Refreshed {
        if !session.access_token_due(now, self.rules.refresh_skew) {
            return Refreshed::Fresh(session, false);
        }
        let Some(refresh_token) = session.refresh_token.as_ref().map(|t| t.expose()) else {
            if now >= session.access_expires_at {
                tracing::info!("access token expired and no refresh token; session over");
                return Refreshed::Ended;
            }
            return Refreshed::Fresh(session, false);
        };
        let request = RefreshRequest {
            shared: self.store.map(|store| super::refresh::Coordination {
                store: store.clone(),
                ring: self.cookies.ring(),
                hold: self.hold,
            }),
            subject: session
                .id_claims()
                .get("sub")
                .and_then(|s| s.as_str())
                .map(String::from),
            with_userinfo: self.roles.userinfo,
            dpop: session.dpop.clone(),
            now,
        };
        let joined = self
            .refresher
            .refresh(self.sso, &refresh_token, request)
            .await;
        if !joined.started {
            self.metrics.refresh_waiter();
        }
        match joined.outcome {
            Ok(tokens) => {
                let renewed = Session::from_tokens(Some(&session), &tokens, self.roles, now);
                Refreshed::Fresh(Arc::new(renewed), true)
            }
            Err(error) if error.kind() == ErrorKind::GrantRefused => {
                tracing::info!(error = %error, "refresh refused by the SSO; session over");
                Refreshed::Ended
            }
            Err(error) => Refreshed::Stale(
                session,
                error.reclassified(
                    ErrorKind::SsoUnavailable,
                    "the identity provider is unavailable; your session is kept, try again shortly",
                ),
            ),
        }
    }

    /// Phases 4 and 5: re-issue the cookie when the tokens changed or the idle deadline should
    /// move (at most once a minute, so most requests write nothing).
    fn slide_and_write(
        &self,
        session: Arc<Session>,
        changed: bool,
        request: &RequestCookies,
        out: &ResponseCookies,
        now: i64,
    ) -> SessionState {
        if !changed && now - session.last_seen < SLIDE_INTERVAL_SECS {
            return SessionState::Active(session);
        }
        let mut session = Arc::unwrap_or_clone(session);
        session.last_seen = now;
        session.described.clear(); // it shows the idle deadline, which just moved
        if let Err(error) = self.cookies.write(request, out, &session, now) {
            tracing::error!(error = %error, "refreshed session does not fit the cookie ceiling; session over");
            self.cookies.clear(request, out);
            return SessionState::None;
        }
        SessionState::Active(Arc::new(session))
    }
}

/// The store's deny-list verdict on `session`, asked by the ids it is known by.
fn verdict(store: &Store, session: &Session) -> Verdict {
    if store.mirror.is_empty() && store.in_sync() {
        return Verdict::Allowed;
    }
    let claims = session.id_claims();
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str());
    store.verdict(&crate::store::deny::SessionIds {
        session: &session.sid_text(),
        sso_session: text("sid"),
        subject: text("sub"),
        login_at: session.login_at,
    })
}
