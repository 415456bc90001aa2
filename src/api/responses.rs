//! What the BFF's own endpoints answer, as poem-openapi types (they make the spec), and how a
//! session is described to the SPA.

use crate::error::{Error, Problem, PROBLEM_JSON};
use crate::session::Session;
use crate::state::AppState;
use chrono::{DateTime, TimeZone, Utc};
use poem::IntoResponse;
use poem_openapi::payload::Payload;
use poem_openapi::payload::{Html, Json, PlainText};
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

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

pub(super) fn redirect(location: impl Into<String>) -> Redirect {
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
pub(super) const HOP_CSP: &str = "default-src 'none'";

/// A page that navigates to `return_to` (a validated local path) as a same-site navigation.
pub(super) fn same_site_hop(return_to: &str) -> String {
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
    pub(super) fn anonymous() -> Self {
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
    Ok(
        JsonBytes<SessionInfo>,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// A JSON body already serialized: the very bytes poem-openapi's `Json<T>` would produce and
/// the same place in the spec, kept so that an opened session is described once, not on every
/// `/api/session` call.
pub struct JsonBytes<T>(pub bytes::Bytes, std::marker::PhantomData<T>);

impl<T: ToJSON> JsonBytes<T> {
    /// Serializes `value` as `Json<T>` does.
    pub fn of(value: &T) -> Self {
        Self::from_bytes(
            serde_json::to_vec(&value.to_json())
                .unwrap_or_default()
                .into(),
        )
    }
}

impl<T> JsonBytes<T> {
    /// Bytes serialized earlier by [`JsonBytes::of`].
    pub fn from_bytes(bytes: bytes::Bytes) -> Self {
        JsonBytes(bytes, std::marker::PhantomData)
    }
}

impl<T: Type> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .header(
                poem::http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(self.0)
    }
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

/// Claims that are protocol plumbing rather than facts about the user.
const HIDDEN_CLAIMS: &[&str] = &["nonce", "at_hash", "c_hash", "s_hash"];

pub(super) fn describe(state: &AppState, session: &Session, csrf_token: String) -> SessionInfo {
    let config = &state.config;
    let all = session.id_claims();
    let claims: serde_json::Map<String, serde_json::Value> = all
        .iter()
        .filter(|(name, _)| !HIDDEN_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
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
        csrf_token: Some(csrf_token),
    }
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
