//! The BFF's own endpoints, described with poem-openapi: login, callback, session, logout and
//! the health probes. Each handler is thin: parse, call the protocol step or the session guard,
//! map the result. (The relay is dispatched beside them, see `crate::relay`.)

mod admin;
mod backchannel;
mod responses;

pub use admin::AdminApi;
pub use backchannel::BackchannelApi;

pub use responses::{
    CallbackResponse, LogoutResponse, LogoutResult, ReadyResponse, Redirect, SessionInfo,
    SessionResponse, User,
};

use crate::cookies::{RequestCookies, ResponseCookies};
use crate::error::{Error, ErrorKind};
use crate::observe::Facts;
use crate::oidc::callback::CallbackParams;
use crate::return_to::ReturnTo;
use crate::session::guard::{Need, SessionState};
use crate::session::{now, LoginState, Session};
use crate::state::AppState;
use poem::web::Data;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::{Html, Json, PlainText};
use poem_openapi::{OpenApi, Tags};
use responses::{describe, redirect, same_site_hop, JsonBytes, HOP_CSP};
use std::sync::Arc;

/// Operation groups in the spec.
#[derive(Tags)]
enum Tag {
    /// Sign-in, session and sign-out.
    Auth,
    /// Liveness and readiness.
    Operations,
}

/// The BFF's own API. Stateless itself (the state arrives as request data), so the spec can
/// be printed without any configuration.
pub struct BffApi;

#[OpenApi]
impl BffApi {
    /// Start sign-in.
    ///
    /// Redirects to the SSO with PKCE (S256), `state` and `nonce`, remembering them in a
    /// short-lived sealed `__Host-bff-login-*` cookie. `returnTo` must be a local path.
    #[oai(
        path = "/api/login",
        method = "get",
        tag = "Tag::Auth",
        operation_id = "login"
    )]
    #[tracing::instrument(name = "api.login", skip_all)]
    async fn login(
        &self,
        state: Data<&Arc<AppState>>,
        /// Local path to return to after sign-in (default `/`).
        #[oai(name = "returnTo")]
        return_to: Query<Option<String>>,
        cookies: Data<&RequestCookies>,
        out: Data<&Arc<ResponseCookies>>,
    ) -> Result<Redirect, Error> {
        let return_to = match return_to.0.as_deref() {
            None | Some("") => ReturnTo::default(),
            Some(text) => ReturnTo::parse(text)
                .and_then(|r| r.outside_apis(&state.config.routes))
                .map_err(|why| Error::new(ErrorKind::BadRequest, why))?,
        };
        let (url, flow) = state.sso.authorize(now()).await?;
        let login = LoginState {
            flow,
            return_to: return_to.to_string(),
            sequence: 0,
        };
        state.cookies.write_login(&cookies, &out, login);
        Ok(redirect(url))
    }

    /// Complete sign-in (the SSO redirects here).
    ///
    /// Checks `state` against the login cookie, `iss` (RFC 9207), exchanges the code, validates
    /// the ID token, sets the session cookie and redirects to `returnTo`. Every failure
    /// redirects to `/?authError=<code>` with no session: `access_denied`, `sso_error`,
    /// `invalid_state`, `login_expired`, `invalid_issuer`, `invalid_request`, `code_rejected`,
    /// `invalid_id_token`, `sso_unavailable`, `session_too_large`.
    ///
    /// When the browser says the navigation is cross-site (`Sec-Fetch-Site: cross-site`, as
    /// after the SSO's redirect) and the session cookie is `SameSite=Strict`, a successful
    /// sign-in answers 200 with a tiny page that navigates on to `returnTo` instead: a landing
    /// at the end of a cross-site redirect chain would be sent without the Strict cookie, and
    /// the user would look signed out on a server-rendered `returnTo`.
    #[oai(
        path = "/api/callback",
        method = "get",
        tag = "Tag::Auth",
        operation_id = "callback"
    )]
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(name = "api.callback", skip_all)]
    async fn callback(
        &self,
        app: Data<&Arc<AppState>>,
        code: Query<Option<String>>,
        state: Query<Option<String>>,
        iss: Query<Option<String>>,
        error: Query<Option<String>>,
        #[oai(name = "Sec-Fetch-Site")] fetch_site: Header<Option<String>>,
        cookies: Data<&RequestCookies>,
        out: Data<&Arc<ResponseCookies>>,
    ) -> CallbackResponse {
        let params = CallbackParams {
            code: code.0,
            state: state.0,
            iss: iss.0,
            error: error.0,
        };
        match sign_in(&app, params, &cookies, &out).await {
            Ok(return_to) => {
                app.metrics.login("ok");
                let strict = app.config.session.same_site == crate::config::SameSite::Strict;
                if strict && fetch_site.0.as_deref() == Some("cross-site") {
                    CallbackResponse::Continue(
                        Html(same_site_hop(&return_to)),
                        "no-store".into(),
                        HOP_CSP.into(),
                        "no-referrer".into(),
                    )
                } else {
                    CallbackResponse::Found(return_to, "no-store".into())
                }
            }
            Err(error) => {
                error.log();
                let code = error.kind().auth_error();
                app.metrics.login(code);
                CallbackResponse::Found(format!("/?authError={code}"), "no-store".into())
            }
        }
    }

    /// The current session.
    ///
    /// Always 200: `{"authenticated": false}` without a valid session. Refreshes the tokens
    /// first when they are due; if the SSO is unavailable the session is kept as it is.
    #[oai(
        path = "/api/session",
        method = "get",
        tag = "Tag::Auth",
        operation_id = "getSession"
    )]
    async fn session(
        &self,
        state: Data<&Arc<AppState>>,
        cookies: Data<&RequestCookies>,
        out: Data<&Arc<ResponseCookies>>,
        facts: Data<&Arc<Facts>>,
    ) -> Result<SessionResponse, Error> {
        session_answer(&state, &cookies, &out, Some(&facts)).await
    }

    /// Sign out (for `HttpClient`).
    ///
    /// Needs the `X-XSRF-TOKEN` header. Clears the session cookies, revokes the refresh token at
    /// the SSO, and answers the URL that ends the SSO session too.
    #[oai(
        path = "/api/logout",
        method = "post",
        tag = "Tag::Auth",
        operation_id = "logout"
    )]
    #[tracing::instrument(name = "api.logout", skip_all)]
    async fn logout_post(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(name = "X-XSRF-TOKEN")] _xsrf: Header<Option<String>>,
        headers: &poem::http::HeaderMap,
        cookies: Data<&RequestCookies>,
        out: Data<&Arc<ResponseCookies>>,
        facts: Data<&Arc<Facts>>,
    ) -> Result<LogoutResponse, Error> {
        crate::csrf::check_request_origin(&state.config, headers)?;
        let logout_url = match identity(&state, &cookies, &out).await {
            None => app_root(&state),
            Some(session) => {
                state.note_subject(Some(&facts), &session);
                crate::csrf::check_token(&state.cookies, &session, headers)?;
                sign_out(&state, &session, &cookies, &out).await
            }
        };
        Ok(LogoutResponse::Ok(
            Json(LogoutResult { logout_url }),
            "no-store".into(),
        ))
    }

    /// Sign out by navigation.
    ///
    /// Needs the session's own `sid` (from `logoutUrl` of `/api/session`); without it → 400 and
    /// nothing is cleared. Without a session → 302 to `/`.
    #[oai(
        path = "/api/logout",
        method = "get",
        tag = "Tag::Auth",
        operation_id = "logoutRedirect"
    )]
    #[tracing::instrument(name = "api.logout", skip_all)]
    async fn logout_get(
        &self,
        state: Data<&Arc<AppState>>,
        sid: Query<Option<String>>,
        cookies: Data<&RequestCookies>,
        out: Data<&Arc<ResponseCookies>>,
    ) -> Result<Redirect, Error> {
        let Some(session) = identity(&state, &cookies, &out).await else {
            return Ok(redirect("/"));
        };
        let expected = session.sid_text();
        let matches = sid.0.as_deref().is_some_and(|given| {
            use subtle::ConstantTimeEq;
            bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        });
        if !matches {
            return Err(Error::new(
                ErrorKind::BadRequest,
                "logout by GET needs the session's sid (see logoutUrl in /api/session)",
            ));
        }
        Ok(redirect(sign_out(&state, &session, &cookies, &out).await))
    }

    /// Liveness: 200 while the process serves.
    #[oai(
        path = "/healthz",
        method = "get",
        tag = "Tag::Operations",
        operation_id = "healthz"
    )]
    async fn healthz(&self) -> PlainText<String> {
        PlainText("ok".into())
    }

    /// Readiness: 200 once the SSO's discovery document and keys are loaded, else 503.
    #[oai(
        path = "/readyz",
        method = "get",
        tag = "Tag::Operations",
        operation_id = "readyz"
    )]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> ReadyResponse {
        if state.is_draining() {
            ReadyResponse::NotReady(PlainText("shutting down".into()))
        } else if state.sso.is_ready() {
            ReadyResponse::Ready(PlainText("ready".into()))
        } else {
            ReadyResponse::NotReady(PlainText("SSO metadata not loaded yet".into()))
        }
    }
}

/// What `GET /api/session` answers, for both ways in: the operation above (which gives the
/// spec its shape) and [`session_direct`].
#[tracing::instrument(name = "api.session", skip_all)]
async fn session_answer(
    state: &Arc<AppState>,
    cookies: &RequestCookies,
    out: &Arc<ResponseCookies>,
    facts: Option<&Arc<Facts>>,
) -> Result<SessionResponse, Error> {
    let now = now();
    let body = match state.guard().run(cookies, out, now, Need::Tokens).await {
        SessionState::None => JsonBytes::of(&SessionInfo::anonymous()),
        SessionState::Unavailable(error) => return Err(error),
        SessionState::Active(session) | SessionState::Stale(session, _) => {
            state.note_subject(facts, &session);
            // The SPA reads the CSRF cookie; put it back if the browser lost it.
            let csrf = state
                .cookies
                .ensure_csrf_cookie(cookies, out, &session, now);
            JsonBytes::from_bytes(
                session
                    .described
                    .get_or_init(|| JsonBytes::of(&describe(state, &session, csrf)).0),
            )
        }
    };
    Ok(SessionResponse::Ok(body, "no-store".into()))
}

/// `GET /api/session` answered without poem-openapi's route tree. The SPA calls it on every
/// load and after every sign-in, and each of the tree's boxed layers moves the whole request
/// (in a profile of this endpoint, 7% of the CPU was such copies). The answer is the
/// operation's own ([`session_answer`]); `None` when the request is not exactly that call, or
/// lacks what the service attaches, so that the route tree answers it as before.
pub async fn session_direct(req: &poem::Request) -> Option<poem::Result<poem::Response>> {
    use poem::IntoResponse;
    if req.method() != poem::http::Method::GET || req.uri().path() != "/api/session" {
        return None;
    }
    let extensions = req.extensions();
    let state = extensions.get::<Arc<AppState>>()?;
    let cookies = extensions.get::<RequestCookies>()?;
    let out = extensions.get::<Arc<ResponseCookies>>()?;
    let answer = session_answer(state, cookies, out, Facts::of(req)).await;
    Some(
        answer
            .map(IntoResponse::into_response)
            .map_err(poem::Error::from),
    )
}

fn app_root(state: &AppState) -> String {
    format!("{}/", state.config.server.public_url)
}

/// The callback's work: find the browser's sign-in flow for `state`, run the protocol step,
/// seal the new session. Returns where to send the browser.
async fn sign_in(
    app: &AppState,
    params: CallbackParams,
    cookies: &RequestCookies,
    out: &ResponseCookies,
) -> Result<String, Error> {
    let login = params
        .state
        .as_deref()
        .and_then(|state| app.cookies.take_login(cookies, out, state));
    let now = now();
    let tokens = app
        .sso
        .complete_sign_in(
            login.as_ref().map(|l| &l.flow),
            params,
            app.config.roles.userinfo,
            now,
        )
        .await?;
    let session = Session::from_tokens(None, &tokens, &app.config.roles, now);
    let (count, bytes) = app
        .cookies
        .write(cookies, out, &session, now)
        .map_err(|error| {
            Error::new(
                ErrorKind::SessionTooLarge,
                "the session does not fit in the cookies allowed",
            )
            .with_source(error)
            .context("raise session.max_chunks or trim the SSO's token claims")
        })?;
    tracing::info!(cookies = count, bytes, "signed in");
    // `login` is present: the protocol step refuses a missing flow.
    Ok(login.map(|l| l.return_to).unwrap_or_else(|| "/".into()))
}

/// The session for logout: who is signed in, without refreshing anything; a bad or ended
/// cookie is cleared on the way.
async fn identity(
    state: &AppState,
    cookies: &RequestCookies,
    out: &ResponseCookies,
) -> Option<Arc<Session>> {
    match state.guard().run(cookies, out, now(), Need::Identity).await {
        SessionState::Active(session) | SessionState::Stale(session, _) => Some(session),
        SessionState::None | SessionState::Unavailable(_) => {
            state.cookies.clear(cookies, out);
            None
        }
    }
}

/// Clears the session, revokes its refresh token and builds the way out of the SSO.
async fn sign_out(
    state: &AppState,
    session: &Session,
    cookies: &RequestCookies,
    out: &ResponseCookies,
) -> String {
    state.cookies.clear(cookies, out);
    // With a store, the session id goes on the deny-list: a copy of the cookie (another
    // device, a stolen one) dies with this logout instead of living on until it expires.
    // Skipped while the store is known to be unreachable: the logout must not wait for it.
    if let Some(store) = state.store.as_ref().filter(|store| store.in_sync()) {
        let entry =
            crate::store::deny::Entry::new(crate::store::deny::Kind::Session, &session.sid_text());
        if store
            .revoke(&entry, now(), state.config.session.absolute_lifetime)
            .await
            .is_ok()
        {
            state.metrics.revocation("logout");
        }
    }
    let Ok(provider) = state.sso.provider().await else {
        return app_root(state);
    };
    if let Some(refresh_token) = &session.refresh_token {
        let refresh_token = refresh_token.expose();
        // A cookie from before the last refresh must not be revived from the grace window.
        state.refresher.forget(&refresh_token);
        state
            .sso
            .revoke_refresh_token(&provider, &refresh_token)
            .await;
    }
    crate::oidc::end_session::end_session_url(
        &provider,
        &session.id_token.expose(),
        &state.config.oidc.client_id,
        &app_root(state),
        &crate::oidc::authorize::random_token(16),
    )
    .unwrap_or_else(|| app_root(state))
}
