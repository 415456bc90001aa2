//! The one error type of the service and its mapping to `application/problem+json` (RFC 9457).
//!
//! Every failure that reaches a browser passes through [`Error`]. The [`ErrorKind`] says who
//! caused it (the browser, the SSO, an upstream, us) and decides the status, the stable problem
//! `type`/`title`, the log level and whether a retry can help. The `detail` is written for the
//! user and never carries a token, a key or a stack trace; the `source` is for the log only.

use poem::http::{header, HeaderValue, StatusCode};
use poem::{Body, Response};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// What went wrong, from the point of view of the party that can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The browser sent a malformed or hostile value (bad `returnTo`, missing `sid`, ...).
    BadRequest,
    /// A request path longer than the relay accepts.
    UriTooLong,
    /// No valid session: the SPA should send the user to `/api/login`.
    Unauthenticated,
    /// Signed in, but without any of the roles the route requires.
    Forbidden,
    /// An unsafe request without a valid `X-XSRF-TOKEN`, or from a foreign `Origin`.
    CsrfRejected,
    /// No route and no endpoint answers this path.
    NotFound,
    /// The SSO is unreachable, slow or answered garbage: the session is kept, retry later.
    SsoUnavailable,
    /// The SSO's discovery document or keys are not loaded yet.
    NotReady,
    /// The upstream API could not be reached.
    UpstreamUnreachable,
    /// The upstream API did not answer within the route's timeout.
    UpstreamTimeout,
    /// A bug or an impossible state on our side.
    Internal,
}

impl ErrorKind {
    /// The HTTP status this kind maps to.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden | ErrorKind::CsrfRejected => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::SsoUnavailable | ErrorKind::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable slug used in the problem `type` URI; clients may match on it.
    pub fn slug(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad-request",
            ErrorKind::UriTooLong => "uri-too-long",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::CsrfRejected => "csrf-rejected",
            ErrorKind::NotFound => "not-found",
            ErrorKind::SsoUnavailable => "sso-unavailable",
            ErrorKind::NotReady => "not-ready",
            ErrorKind::UpstreamUnreachable => "upstream-unreachable",
            ErrorKind::UpstreamTimeout => "upstream-timeout",
            ErrorKind::Internal => "internal",
        }
    }

    /// The stable, human-readable title of the problem type.
    pub fn title(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "Bad request",
            ErrorKind::UriTooLong => "Path too long",
            ErrorKind::Unauthenticated => "Not signed in",
            ErrorKind::Forbidden => "Missing role",
            ErrorKind::CsrfRejected => "Cross-site request refused",
            ErrorKind::NotFound => "Not found",
            ErrorKind::SsoUnavailable => "Identity provider unavailable",
            ErrorKind::NotReady => "Not ready",
            ErrorKind::UpstreamUnreachable => "Upstream unreachable",
            ErrorKind::UpstreamTimeout => "Upstream timed out",
            ErrorKind::Internal => "Internal error",
        }
    }

    /// Whether the same request may succeed later without the user doing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::SsoUnavailable
                | ErrorKind::NotReady
                | ErrorKind::UpstreamUnreachable
                | ErrorKind::UpstreamTimeout
        )
    }
}

/// A failure with a user-safe `detail` and, for the log only, its cause.
pub struct Error {
    kind: ErrorKind,
    detail: Cow<'static, str>,
    source: Option<anyhow::Error>,
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` whose `detail` may be shown to the user.
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            detail: detail.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause, which is logged but never sent to the browser.
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind, for callers that branch on it.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The problem+json body of this error.
    pub fn problem(&self) -> Problem {
        Problem::new(self.kind, self.detail.to_string())
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
        log(self);
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match self.kind {
            ErrorKind::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(WWW_AUTHENTICATE_VALUE),
                );
            }
            ErrorKind::SsoUnavailable | ErrorKind::NotReady => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

/// Logs an error at the level its kind deserves; never logs a token (callers put none in it).
fn log(error: &Error) {
    match error.kind {
        ErrorKind::Internal => tracing::error!(error = %error, "request failed"),
        k if k.is_transient() => tracing::warn!(error = %error, "request failed"),
        _ => tracing::info!(error = %error, "request refused"),
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
    fn source_is_logged_but_not_in_the_problem() {
        let error = Error::new(ErrorKind::SsoUnavailable, "try later")
            .with_source(anyhow::anyhow!("secret-ish detail"));
        assert!(!serde_json::to_string(&error.problem())
            .unwrap()
            .contains("secret-ish"));
        assert!(error.to_string().contains("secret-ish"));
    }
}
