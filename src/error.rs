//! The one error type of the service, and everything derived from it in one place.
//!
//! An [`Error`] carries its [`ErrorKind`], a `detail` written for the user, the context it was
//! raised in (`.context("exchanging the code")`, added where it happens) and, for the log only,
//! its source. From the kind alone derive: the side at fault ([`Side`]), whether a retry can
//! help, the HTTP status, the problem+json `type`/`title` (RFC 9457), the log level,
//! `Retry-After`, `WWW-Authenticate`, and the `authError` code a failed sign-in redirects with.
//! Nothing a user sees carries a token, a key or a stack trace.

use poem::http::{header, HeaderValue, StatusCode};
use poem::{Body, Response};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Who caused a failure, and so who can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The browser sent something malformed, hostile or unauthorised.
    Browser,
    /// The SSO refused, failed, or could not be reached.
    Sso,
    /// An upstream API failed or could not be reached.
    Upstream,
    /// This service: a bug or an impossible state.
    Service,
}

/// What went wrong, from the point of view of the party that can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The browser sent a malformed or hostile value (bad `returnTo`, missing `sid`, a path
    /// with no canonical spelling, ...).
    BadRequest,
    /// A request path longer than the relay accepts.
    UriTooLong,
    /// No valid session: the SPA should send the user to `/api/login`.
    Unauthenticated,
    /// Signed in, but without any of the roles the route requires.
    Forbidden,
    /// A request body larger than the endpoint reads.
    PayloadTooLarge,
    /// An unsafe request without a valid `X-XSRF-TOKEN`, or from a foreign `Origin`.
    CsrfRejected,
    /// No route and no endpoint answers this path.
    NotFound,
    /// The callback's `state` matches no sign-in flow of this browser (forged, replayed,
    /// expired cookie).
    InvalidState,
    /// The sign-in flow took longer than its lifetime.
    LoginExpired,
    /// The callback's `iss` does not name our SSO, or is missing although promised (RFC 9207).
    IssuerMismatch,
    /// The callback carries no `code`.
    MissingCode,
    /// The user or the SSO declined the sign-in (`error=access_denied`).
    AccessDenied,
    /// The SSO answered the sign-in with another error.
    SsoError,
    /// The SSO refused a grant: at sign-in the code (replayed, expired), at refresh the
    /// refresh token (`invalid_grant`: expired, revoked, reused), which ends the session.
    GrantRefused,
    /// The SSO refused a token request for another reason (client misconfigured, ...).
    SsoRefused,
    /// An ID token failed validation.
    InvalidIdToken,
    /// The tokens do not fit in the configured number of cookies.
    SessionTooLarge,
    /// The SSO is unreachable, slow or answered garbage: the session is kept, retry later.
    SsoUnavailable,
    /// The SSO's discovery document or keys are not loaded yet.
    NotReady,
    /// The upstream API could not be reached.
    UpstreamUnreachable,
    /// The upstream API did not answer within the route's timeout.
    UpstreamTimeout,
    /// The session store (`store.url`) cannot be reached and `store.on_unavailable = "deny"`.
    StoreUnavailable,
    /// The feature asked for needs a session store and none is configured.
    StoreRequired,
    /// A bug or an impossible state on our side (a wiring mistake included).
    Internal,
}

/// Every kind's facts, in one table: kind, side, status, problem slug, title, and the
/// `authError` code a failed sign-in with this kind redirects with.
const FACTS: [(ErrorKind, Side, u16, &str, &str, &str); 24] = {
    use ErrorKind::*;
    use Side::*;
    [
        (
            BadRequest,
            Browser,
            400,
            "bad-request",
            "Bad request",
            "invalid_request",
        ),
        (
            UriTooLong,
            Browser,
            414,
            "uri-too-long",
            "Path too long",
            "invalid_request",
        ),
        (
            Unauthenticated,
            Browser,
            401,
            "unauthenticated",
            "Not signed in",
            "invalid_state",
        ),
        (
            Forbidden,
            Browser,
            403,
            "forbidden",
            "Missing role",
            "access_denied",
        ),
        (
            PayloadTooLarge,
            Browser,
            413,
            "payload-too-large",
            "Payload too large",
            "invalid_request",
        ),
        (
            CsrfRejected,
            Browser,
            403,
            "csrf-rejected",
            "Cross-site request refused",
            "invalid_request",
        ),
        (
            NotFound,
            Browser,
            404,
            "not-found",
            "Not found",
            "invalid_request",
        ),
        (
            InvalidState,
            Browser,
            400,
            "invalid-state",
            "Unknown sign-in flow",
            "invalid_state",
        ),
        (
            LoginExpired,
            Browser,
            400,
            "login-expired",
            "Sign-in took too long",
            "login_expired",
        ),
        (
            IssuerMismatch,
            Sso,
            400,
            "invalid-issuer",
            "Answer from another SSO",
            "invalid_issuer",
        ),
        (
            MissingCode,
            Sso,
            400,
            "missing-code",
            "No authorization code",
            "invalid_request",
        ),
        (
            AccessDenied,
            Sso,
            403,
            "access-denied",
            "Sign-in declined",
            "access_denied",
        ),
        (
            SsoError,
            Sso,
            502,
            "sso-error",
            "Identity provider error",
            "sso_error",
        ),
        (
            GrantRefused,
            Sso,
            401,
            "grant-refused",
            "Grant refused",
            "code_rejected",
        ),
        (
            SsoRefused,
            Sso,
            502,
            "sso-refused",
            "Identity provider refused",
            "code_rejected",
        ),
        (
            InvalidIdToken,
            Sso,
            502,
            "invalid-id-token",
            "Invalid ID token",
            "invalid_id_token",
        ),
        (
            SessionTooLarge,
            Service,
            500,
            "session-too-large",
            "Session too large",
            "session_too_large",
        ),
        (
            SsoUnavailable,
            Sso,
            503,
            "sso-unavailable",
            "Identity provider unavailable",
            "sso_unavailable",
        ),
        (
            NotReady,
            Sso,
            503,
            "not-ready",
            "Not ready",
            "sso_unavailable",
        ),
        (
            UpstreamUnreachable,
            Upstream,
            502,
            "upstream-unreachable",
            "Upstream unreachable",
            "sso_error",
        ),
        (
            UpstreamTimeout,
            Upstream,
            504,
            "upstream-timeout",
            "Upstream timed out",
            "sso_error",
        ),
        (
            StoreUnavailable,
            Service,
            503,
            "store-unavailable",
            "Session store unavailable",
            "store_unavailable",
        ),
        (
            StoreRequired,
            Service,
            501,
            "store-required",
            "Session store required",
            "store_required",
        ),
        (
            Internal,
            Service,
            500,
            "internal",
            "Internal error",
            "sso_error",
        ),
    ]
};

impl ErrorKind {
    /// This kind's row of [`FACTS`] (every kind has one: a unit test checks it).
    fn facts(self) -> (Side, StatusCode, &'static str, &'static str, &'static str) {
        let row = FACTS
            .iter()
            .find(|row| row.0 == self)
            .unwrap_or(&FACTS[FACTS.len() - 1]);
        let status = StatusCode::from_u16(row.2).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (row.1, status, row.3, row.4, row.5)
    }

    /// Who caused it.
    pub fn side(self) -> Side {
        self.facts().0
    }

    /// The HTTP status this kind maps to.
    pub fn status(self) -> StatusCode {
        self.facts().1
    }

    /// The stable slug used in the problem `type` URI; clients may match on it.
    pub fn slug(self) -> &'static str {
        self.facts().2
    }

    /// The stable, human-readable title of the problem type.
    pub fn title(self) -> &'static str {
        self.facts().3
    }

    /// The code a failed sign-in puts in `/?authError=<code>` (stable, for the SPA to show).
    pub fn auth_error(self) -> &'static str {
        self.facts().4
    }

    /// Whether the same request may succeed later without the user doing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::SsoUnavailable
                | ErrorKind::StoreUnavailable
                | ErrorKind::NotReady
                | ErrorKind::UpstreamUnreachable
                | ErrorKind::UpstreamTimeout
        )
    }
}

/// A failure with a user-safe `detail`, the context it happened in and, for the log only, its
/// cause. Cheap to clone (the cause is shared), so one failed SSO call can be handed to every
/// request that waited for it.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    detail: Cow<'static, str>,
    context: Vec<&'static str>,
    source: Option<Arc<anyhow::Error>>,
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` whose `detail` may be shown to the user.
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            detail: detail.into(),
            context: Vec::new(),
            source: None,
        }
    }

    /// Attaches the underlying cause, which is logged but never sent to the browser.
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(Arc::new(source.into()));
        self
    }

    /// Records what was being done when the error happened (`"exchanging the code"`), for the
    /// log; the innermost context comes first.
    pub fn context(mut self, what: &'static str) -> Self {
        self.context.push(what);
        self
    }

    /// The kind, for callers that branch on it.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The same failure told as another kind (a refresh that failed for a reason that must not
    /// end the session is "SSO unavailable" to the user), keeping its context and source.
    pub fn reclassified(mut self, kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        self.kind = kind;
        self.detail = detail.into();
        self
    }

    /// Whether a timeout caused it (an HTTP client's timeout anywhere in the source chain, or
    /// a message saying so): the metrics tell timeouts from other failures.
    pub fn is_timeout(&self) -> bool {
        self.source.as_ref().is_some_and(|source| {
            source.chain().any(|cause| {
                cause
                    .downcast_ref::<reqwest::Error>()
                    .is_some_and(reqwest::Error::is_timeout)
                    || cause.to_string().contains("timed out")
            })
        })
    }

    /// The problem+json body of this error.
    pub fn problem(&self) -> Problem {
        Problem::new(self.kind, self.detail.to_string())
    }

    /// Logs this error once, at the level its kind deserves.
    pub fn log(&self) {
        match (self.kind, self.kind.side()) {
            (ErrorKind::Internal | ErrorKind::SessionTooLarge, _) => {
                tracing::error!(error = %self, "request failed")
            }
            (kind, _) if kind.is_transient() => tracing::warn!(error = %self, "request failed"),
            (_, Side::Sso) => tracing::warn!(error = %self, "the SSO refused"),
            _ => tracing::info!(error = %self, "request refused"),
        }
    }
}

/// Adds context to a failed result where it happens: `.context("exchanging the code")`.
pub trait Context<T> {
    /// See [`Error::context`].
    fn context(self, what: &'static str) -> Result<T>;
}

impl<T> Context<T> for Result<T> {
    fn context(self, what: &'static str) -> Result<T> {
        self.map_err(|error| error.context(what))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.slug(), self.detail)?;
        for what in &self.context {
            write!(f, ", while {what}")?;
        }
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The RFC 9457 body. `type` is a stable URN per [`ErrorKind`].
#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
pub struct Problem {
    /// Stable identifier of the problem type, e.g. `urn:oidc-bff:problem:unauthenticated`.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub problem_type: String,
    /// Stable short title of the problem type.
    pub title: String,
    /// The HTTP status, repeated for clients that only see the body.
    pub status: u16,
    /// What happened in this occurrence, safe to show to the user.
    pub detail: String,
}

impl Problem {
    /// The problem body for `kind` with this `detail`.
    pub fn new(kind: ErrorKind, detail: String) -> Self {
        Problem {
            problem_type: format!("urn:oidc-bff:problem:{}", kind.slug()),
            title: kind.title().to_string(),
            status: kind.status().as_u16(),
            detail,
        }
    }

    /// The problem for a bare status produced outside our handlers (unknown path, bad method).
    pub fn from_status(status: StatusCode) -> Self {
        let kind = match status {
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::UNAUTHORIZED => ErrorKind::Unauthenticated,
            StatusCode::FORBIDDEN => ErrorKind::Forbidden,
            s if s.is_client_error() => ErrorKind::BadRequest,
            _ => ErrorKind::Internal,
        };
        let mut problem = Problem::new(kind, status.canonical_reason().unwrap_or("error").into());
        problem.status = status.as_u16();
        problem
    }

    /// A poem response carrying this problem.
    pub fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, PROBLEM_JSON)
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::from(body))
    }
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// How a 401 tells the SPA where to sign in.
pub const WWW_AUTHENTICATE_VALUE: &str = r#"Cookie realm="oidc-bff", login="/api/login""#;

impl poem::error::ResponseError for Error {
    fn status(&self) -> StatusCode {
        self.kind.status()
    }

    fn as_response(&self) -> Response {
        self.log();
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match self.kind {
            ErrorKind::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(WWW_AUTHENTICATE_VALUE),
                );
            }
            kind if kind.side() == Side::Sso && kind.is_transient() => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::error::ResponseError;

    #[test]
    fn unauthenticated_problem_carries_www_authenticate_and_stable_type() {
        let response = Error::new(ErrorKind::Unauthenticated, "no session").as_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            HeaderValue::from_static(PROBLEM_JSON)
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn source_and_context_are_logged_but_not_in_the_problem() {
        let error = Error::new(ErrorKind::SsoUnavailable, "try later")
            .with_source(anyhow::anyhow!("secret-ish detail"))
            .context("refreshing the tokens");
        let body = serde_json::to_string(&error.problem()).unwrap();
        assert!(!body.contains("secret-ish") && !body.contains("refreshing"));
        let logged = error.to_string();
        assert!(logged.contains("secret-ish") && logged.contains("while refreshing the tokens"));
    }

    #[test]
    fn transient_sso_faults_ask_for_a_retry() {
        let response = Error::new(ErrorKind::SsoUnavailable, "later").as_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let response = Error::new(ErrorKind::UpstreamTimeout, "slow").as_response();
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn every_kind_has_exactly_one_row_of_facts() {
        for (i, row) in FACTS.iter().enumerate() {
            assert_eq!(
                FACTS.iter().filter(|r| r.0 == row.0).count(),
                1,
                "{:?}",
                row.0
            );
            assert!(
                FACTS[..i].iter().all(|r| r.3 != row.3),
                "slug {} twice",
                row.3
            );
        }
        assert_eq!(
            ErrorKind::UpstreamTimeout.status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(ErrorKind::NotReady.slug(), "not-ready");
    }

    #[test]
    fn every_sign_in_failure_has_its_auth_error_code() {
        use ErrorKind::*;
        for (kind, code) in [
            (InvalidState, "invalid_state"),
            (LoginExpired, "login_expired"),
            (IssuerMismatch, "invalid_issuer"),
            (MissingCode, "invalid_request"),
            (AccessDenied, "access_denied"),
            (SsoError, "sso_error"),
            (GrantRefused, "code_rejected"),
            (InvalidIdToken, "invalid_id_token"),
            (SsoUnavailable, "sso_unavailable"),
            (NotReady, "sso_unavailable"),
            (SessionTooLarge, "session_too_large"),
        ] {
            assert_eq!(kind.auth_error(), code, "{kind:?}");
        }
    }
}
