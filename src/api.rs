//! The BFF's own endpoints, described with poem-openapi: login, callback, session, logout and
//! the health probes. The catch-all relay is a plain poem endpoint (see `proxy`).

use crate::cookies::{RequestCookies, ResponseCookies};
use crate::error::{Error, ErrorKind, Problem, PROBLEM_JSON};
use crate::oidc::id_token::ExpectedNonce;
use crate::oidc::token::TokenError;
use crate::return_to::ReturnTo;
use crate::session::{now, CompactToken, Session, LOGIN_FLOW_LIFETIME};
use crate::state::{AppState, SessionState};
use chrono::{DateTime, TimeZone, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::{Html, Json, PlainText};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
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

/// A 302 to another place (the SSO, the app, the end-session endpoint).
#[derive(ApiResponse)]
pub enum Redirect {
    /// Redirect.
    #[oai(status = 302)]
    Found(
        #[oai(header = "Location")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

fn redirect(location: impl Into<String>) -> Redirect {
    Redirect::Found(location.into(), "no-store".into())
}

/// `GET /api/callback` answer.
#[derive(ApiResponse)]
pub enum CallbackResponse {
    /// Signed in (to `returnTo`) or failed (to `/?authError=<code>`).
    #[oai(status = 302)]
    Found(
        #[oai(header = "Location")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// Signed in, after a cross-site navigation with a `Strict` session cookie: a page that
    /// navigates on to `returnTo` from our own origin, so the landing carries the cookie.
    #[oai(status = 200)]
    Continue(
        Html<String>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Content-Security-Policy")] String,
        #[oai(header = "Referrer-Policy")] String,
    ),
}

/// The hop page needs no script, style or subresource.
const HOP_CSP: &str = "default-src 'none'";

/// A page that navigates to `return_to` (a validated local path) as a same-site navigation.
fn same_site_hop(return_to: &str) -> String {
    // Characters that could end the attribute or the URL are percent-encoded; `&` is escaped
    // for HTML. `ReturnTo` already refused whitespace, control characters and backslashes.
    let mut url = String::with_capacity(return_to.len());
    for c in return_to.chars() {
        match c {
            '"' => url.push_str("%22"),
            '\'' => url.push_str("%27"),
            '<' => url.push_str("%3C"),
            '>' => url.push_str("%3E"),
            '&' => url.push_str("&amp;"),
            c => url.push(c),
        }
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" \
         content=\"0;url={url}\"><title>Signing in…</title></head><body>\
         <p><a href=\"{url}\">Continue</a></p></body></html>"
    )
}

/// The signed-in user, as the SPA shows them.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct User {
    /// Subject identifier at the SSO.
    pub sub: String,
    /// Display name, if the SSO gave one.
    pub name: Option<String>,
    /// E-mail, if the SSO gave one.
    pub email: Option<String>,
    /// Roles from the configured claim paths.
    pub roles: Vec<String>,
}

/// `GET /api/session`: who is signed in, until when, and how to sign out.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Whether a session exists.
    pub authenticated: bool,
    // The user (only when authenticated). Not a doc comment on purpose: a description on a
    // referenced schema makes the spec wrap it in `allOf`, which client generators type as `any`.
    #[allow(missing_docs)]
    #[oai(skip_serializing_if_is_none)]
    pub user: Option<User>,
    /// The ID token's claims, minus protocol-only ones (only when authenticated).
    #[oai(skip_serializing_if_is_none)]
    pub claims: Option<serde_json::Value>,
    /// When the session ends unless used: the earlier of the absolute cap and the idle deadline.
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the current access token expires (it is refreshed before then).
    #[oai(skip_serializing_if_is_none)]
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// `GET` this to sign out (carries the session id).
    #[oai(skip_serializing_if_is_none)]
    pub logout_url: Option<String>,
    /// The CSRF token (same value as the `XSRF-TOKEN` cookie), for clients that do not read
    /// cookies.
    #[oai(skip_serializing_if_is_none)]
    pub csrf_token: Option<String>,
}

impl SessionInfo {
    fn anonymous() -> Self {
        SessionInfo {
            authenticated: false,
            user: None,
            claims: None,
            expires_at: None,
            access_token_expires_at: None,
            logout_url: None,
            csrf_token: None,
        }
    }
}

/// `POST /api/logout`: where to send the browser to end the SSO session too.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct LogoutResult {
    /// The SSO's end-session URL, or the app's `/` when the SSO has none.
    pub logout_url: String,
}

/// `GET /api/session` answer.
#[derive(ApiResponse)]
pub enum SessionResponse {
    /// The session (or `authenticated: false`).
    #[oai(status = 200)]
    Ok(Json<SessionInfo>, #[oai(header = "Cache-Control")] String),
}

/// `POST /api/logout` answer.
#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Signed out here; navigate to `logoutUrl` to end the SSO session.
    #[oai(status = 200)]
    Ok(Json<LogoutResult>, #[oai(header = "Cache-Control")] String),
}

/// `GET /readyz` answer.
#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The SSO's metadata and keys are loaded.
    #[oai(status = 200)]
    Ready(PlainText<String>),
    /// Not yet.
    #[oai(status = 503)]
    NotReady(PlainText<String>),
}

/// Error codes the callback puts in `/?authError=<code>`; stable, for the SPA to show.
pub mod auth_error {
    /// The user or the SSO refused (`error=access_denied`).
    pub const ACCESS_DENIED: &str = "access_denied";
    /// The SSO returned another error.
    pub const SSO_ERROR: &str = "sso_error";
    /// No login flow matches this `state` (forged, replayed, or its cookie expired).
    pub const INVALID_STATE: &str = "invalid_state";
    /// The login flow took longer than ten minutes.
    pub const LOGIN_EXPIRED: &str = "login_expired";
    /// The `iss` response parameter does not name our SSO (mix-up attack, RFC 9207).
    pub const INVALID_ISSUER: &str = "invalid_issuer";
    /// The callback carries no `code`.
    pub const MISSING_CODE: &str = "invalid_request";
    /// The SSO refused the code (replayed or expired).
    pub const CODE_REJECTED: &str = "code_rejected";
    /// The ID token failed validation.
    pub const INVALID_ID_TOKEN: &str = "invalid_id_token";
    /// The SSO could not be reached.
    pub const SSO_UNAVAILABLE: &str = "sso_unavailable";
    /// The tokens do not fit in the configured number of cookies.
    pub const SESSION_TOO_LARGE: &str = "session_too_large";
}

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
                .map_err(|why| {
                    tracing::info!(reason = why, "login refused: bad returnTo");
                    Error::new(ErrorKind::BadRequest, why)
                })?,
        };
        let (url, login) = state.sso.authorize(return_to.to_string(), now()).await?;
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
        let outcome = complete_login(&app, code.0, state.0, iss.0, error.0, &cookies, &out).await;
        match outcome {
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
            Err(code) => {
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
    ) -> SessionResponse {
        let now = now();
        let info = match state.session(&cookies, &out, now).await {
            SessionState::None => SessionInfo::anonymous(),
            SessionState::Active(session) | SessionState::Stale(session, _) => {
                // The SPA reads the CSRF cookie; put it back if the browser lost it.
                state
                    .cookies
                    .ensure_csrf_cookie(&cookies, &out, &session, now);
                describe(&state, &session)
            }
        };
        SessionResponse::Ok(Json(info), "no-store".into())
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
    async fn logout_post(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(name = "X-XSRF-TOKEN")] _xsrf: Header<Option<String>>,
        headers: &poem::http::HeaderMap,
        cookies: Data<&RequestCookies>,
        out: Data<&Arc<ResponseCookies>>,
    ) -> Result<LogoutResponse, Error> {
        crate::csrf::check_request_origin(&state.config, headers)?;
        let session = match state.cookies.read(&cookies) {
            crate::session_cookie::SessionRead::Valid(session) => *session,
            _ => {
                state.cookies.clear(&cookies, &out);
                return Ok(LogoutResponse::Ok(
                    Json(LogoutResult {
                        logout_url: app_root(&state),
                    }),
                    "no-store".into(),
                ));
            }
        };
        crate::csrf::check_token(&state.cookies, &session, headers)?;
        let logout_url = end_session(&state, &session, &cookies, &out).await;
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
    async fn logout_get(
        &self,
        state: Data<&Arc<AppState>>,
        sid: Query<Option<String>>,
        cookies: Data<&RequestCookies>,
        out: Data<&Arc<ResponseCookies>>,
    ) -> Result<Redirect, Error> {
        let session = match state.cookies.read(&cookies) {
            crate::session_cookie::SessionRead::Valid(session) => *session,
            _ => {
                state.cookies.clear(&cookies, &out);
                return Ok(redirect("/"));
            }
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
        Ok(redirect(
            end_session(&state, &session, &cookies, &out).await,
        ))
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
        if state.sso.is_ready() {
            ReadyResponse::Ready(PlainText("ready".into()))
        } else {
            ReadyResponse::NotReady(PlainText("SSO metadata not loaded yet".into()))
        }
    }
}

/// Claims that are protocol plumbing rather than facts about the user.
const HIDDEN_CLAIMS: &[&str] = &["nonce", "at_hash", "c_hash", "s_hash"];

fn app_root(state: &AppState) -> String {
    format!("{}/", state.config.server.public_url)
}

/// The callback's steps; `Err` carries the `authError` code.
async fn complete_login(
    app: &AppState,
    code: Option<String>,
    state_param: Option<String>,
    iss: Option<String>,
    sso_error: Option<String>,
    cookies: &RequestCookies,
    out: &ResponseCookies,
) -> Result<String, &'static str> {
    let state_param = state_param.ok_or_else(|| {
        tracing::info!("callback without state");
        auth_error::INVALID_STATE
    })?;
    let login = app
        .cookies
        .take_login(cookies, out, &state_param)
        .ok_or_else(|| {
            tracing::info!("callback state matches no login flow (forged, replayed or expired)");
            auth_error::INVALID_STATE
        })?;
    let now = now();
    if now - login.created_at > LOGIN_FLOW_LIFETIME.as_secs() as i64 {
        tracing::info!("login flow expired");
        return Err(auth_error::LOGIN_EXPIRED);
    }
    let provider = app.sso.provider().await.map_err(|error| {
        tracing::warn!(error = %error, "callback: SSO metadata unavailable");
        auth_error::SSO_UNAVAILABLE
    })?;
    // RFC 9207 asks for `iss` on error responses too: an error from a mixed-up SSO is refused
    // as such, not shown as this SSO's answer.
    match iss {
        Some(iss) if iss != app.config.oidc.issuer => {
            tracing::warn!(iss = %sanitize(&iss), "callback iss does not name our SSO (RFC 9207)");
            return Err(auth_error::INVALID_ISSUER);
        }
        None if provider.iss_parameter_supported => {
            tracing::warn!("callback without iss although the SSO promises it (RFC 9207)");
            return Err(auth_error::INVALID_ISSUER);
        }
        _ => {}
    }
    if let Some(error) = sso_error {
        tracing::info!(sso_error = %sanitize(&error), "the SSO answered the login with an error");
        return Err(if error == "access_denied" {
            auth_error::ACCESS_DENIED
        } else {
            auth_error::SSO_ERROR
        });
    }
    let code = code
        .filter(|c| !c.is_empty())
        .ok_or(auth_error::MISSING_CODE)?;
    let tokens = app
        .sso
        .exchange_code(&provider, &code, &login.pkce_verifier, now)
        .await
        .map_err(|error| {
            tracing::info!(error = %error, "code exchange failed");
            match error {
                TokenError::Refused { .. } => auth_error::CODE_REJECTED,
                TokenError::Unavailable(_) => auth_error::SSO_UNAVAILABLE,
            }
        })?;
    let id_token = tokens.id_token.as_deref().ok_or_else(|| {
        tracing::warn!("token response without an ID token");
        auth_error::INVALID_ID_TOKEN
    })?;
    let subject = app
        .sso
        .verify_id_token(id_token, ExpectedNonce::Exactly(&login.nonce), None)
        .await
        .map_err(|error| {
            tracing::warn!(error = %error, "ID token refused");
            auth_error::INVALID_ID_TOKEN
        })?;
    let userinfo = if app.config.roles.userinfo {
        let claims = app
            .sso
            .userinfo(&provider, &tokens.access_token, &subject)
            .await
            .map_err(|error| {
                tracing::warn!(error = %format!("{error:#}"), "userinfo (for roles) failed at login");
                auth_error::SSO_UNAVAILABLE
            })?;
        Some(claims)
    } else {
        None
    };
    let id_token = CompactToken::new(id_token);
    let access_token = CompactToken::new(&tokens.access_token);
    let session = Session {
        sid: Session::new_sid(),
        login_at: now,
        last_seen: now,
        roles: app.roles_of(&id_token, &access_token, userinfo.as_ref()),
        access_token,
        access_expires_at: tokens.access_expires_at,
        refresh_token: tokens.refresh_token.as_deref().map(CompactToken::new),
        id_token,
    };
    match app.cookies.write(cookies, out, &session, now) {
        Ok((count, bytes)) => {
            tracing::info!(cookies = count, bytes, "signed in");
            Ok(login.return_to)
        }
        Err(error) => {
            tracing::error!(error = %error, "login refused: raise session.max_chunks or trim the SSO's token claims");
            Err(auth_error::SESSION_TOO_LARGE)
        }
    }
}

/// Clears the session, revokes its refresh token and builds the way out of the SSO.
async fn end_session(
    state: &AppState,
    session: &Session,
    cookies: &RequestCookies,
    out: &ResponseCookies,
) -> String {
    state.cookies.clear(cookies, out);
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

fn describe(state: &AppState, session: &Session) -> SessionInfo {
    let config = &state.config;
    let mut claims = session.id_claims();
    for hidden in HIDDEN_CLAIMS {
        claims.remove(*hidden);
    }
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(String::from);
    let user = User {
        sub: text("sub").unwrap_or_default(),
        name: text("name"),
        email: text("email"),
        roles: session.roles.clone(),
    };
    let time = |secs: i64| Utc.timestamp_opt(secs, 0).single();
    SessionInfo {
        authenticated: true,
        user: Some(user),
        claims: Some(serde_json::Value::Object(claims)),
        expires_at: time(session.expires_at(
            config.session.absolute_lifetime,
            config.session.idle_timeout,
        )),
        access_token_expires_at: time(session.access_expires_at),
        logout_url: Some(format!("/api/logout?sid={}", session.sid_text())),
        csrf_token: Some(state.cookies.csrf_token(session)),
    }
}

/// A value from the browser, shortened and stripped of control characters for a log line.
fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

impl poem_openapi::ApiResponse for Error {
    fn meta() -> MetaResponses {
        let problem = |status: u16, description: &'static str| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: PROBLEM_JSON,
                schema: <Problem as Type>::schema_ref(),
            }],
            headers: vec![],
        };
        MetaResponses {
            responses: vec![
                problem(400, "Bad input (problem+json)"),
                problem(
                    403,
                    "Refused: foreign Origin or missing/invalid X-XSRF-TOKEN (problem+json)",
                ),
                problem(503, "The SSO is unavailable; retry later (problem+json)"),
            ],
        }
    }

    fn register(registry: &mut Registry) {
        <Problem as Type>::register(registry);
    }
}
