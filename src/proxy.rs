//! The API relay, as a fixed sequence of phases, each a small function with one job:
//! match the route → open the session (refreshing if due) → check roles and CSRF → build the
//! upstream request → stream the response back. Bodies stream both ways without buffering, so
//! server-sent events reach the browser as the upstream produces them.

use crate::cookies::{RequestCookies, ResponseCookies};
use crate::error::{Error, ErrorKind};
use crate::route::{Route, TokenMode};
use crate::session::now;
use crate::session_cookie::XSRF_HEADER;
use crate::state::{AppState, SessionState};
use futures_util::TryStreamExt;
use poem::http::{header, HeaderMap, HeaderName, HeaderValue};
use poem::{Body, Endpoint, Request, Response};
use std::sync::Arc;

/// The catch-all endpoint mounted on every route prefix.
#[derive(Clone)]
pub struct RelayEndpoint {
    state: Arc<AppState>,
}

impl RelayEndpoint {
    /// A relay over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        RelayEndpoint { state }
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the
/// browser's credentials that must never reach an upstream.
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "cookie",
    "authorization",
    "x-xsrf-token",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

/// Hop-by-hop response headers, and `Set-Cookie`: an upstream must not plant cookies on the
/// BFF's origin (it could shadow the session cookie).
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
];

impl Endpoint for RelayEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let state = &self.state;
        let (route, upstream_url) = match_route(state, &req)?;
        let bearer = match route.token {
            TokenMode::None => None,
            TokenMode::Access => Some(authorize(state, route, &req).await?),
        };
        let upstream = build_upstream_request(state, upstream_url, &mut req, bearer);
        let result = send(route, upstream).await;
        let status = match &result {
            Ok(response) => response.status().as_u16(),
            Err(error) => error.kind().status().as_u16(),
        };
        state.metrics.relayed(&route.prefix, status);
        Ok(result?)
    }
}

/// Phase 1: the route and the upstream URL (refusing encoded dot-segments).
fn match_route<'a>(state: &'a AppState, req: &Request) -> Result<(&'a Route, String), Error> {
    let path = req.uri().path();
    let (route, rest) = state
        .config
        .routes
        .match_path(path)
        .ok_or_else(|| Error::new(ErrorKind::NotFound, "no route for this path"))?;
    let url = route.upstream_url(rest, req.uri().query()).map_err(|_| {
        Error::new(
            ErrorKind::BadRequest,
            "the path contains a dot-segment or an encoded separator",
        )
    })?;
    Ok((route, url))
}

/// Phases 2–3: the session (refreshed if due), the roles, and CSRF for unsafe methods.
/// Returns the access token to relay.
async fn authorize(state: &AppState, route: &Route, req: &Request) -> Result<String, Error> {
    let none = RequestCookies::default();
    let cookies = req.extensions().get::<RequestCookies>().unwrap_or(&none);
    let out = req
        .extensions()
        .get::<Arc<ResponseCookies>>()
        .cloned()
        .unwrap_or_default();
    let session = match state.session(cookies, &out, now()).await {
        SessionState::None => {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "sign in first: no valid session",
            ))
        }
        SessionState::Stale(_, error) => return Err(error),
        SessionState::Active(session) => session,
    };
    if crate::csrf::is_unsafe(req.method()) {
        if !crate::csrf::origin_allowed(&state.config, req.headers()) {
            return Err(Error::new(
                ErrorKind::CsrfRejected,
                "the request's Origin is not allowed",
            ));
        }
        let header = req.headers().get(XSRF_HEADER).and_then(|v| v.to_str().ok());
        if !state.cookies.verify_csrf(&session, header) {
            return Err(Error::new(
                ErrorKind::CsrfRejected,
                format!("missing or invalid {XSRF_HEADER} header"),
            ));
        }
    }
    if !route.roles.is_empty() && !route.roles.iter().any(|r| session.roles.contains(r)) {
        return Err(Error::new(
            ErrorKind::Forbidden,
            format!(
                "this API needs one of the roles: {}",
                route.roles.join(", ")
            ),
        ));
    }
    Ok(session.access_token.expose())
}

/// Phase 4: the upstream request, streaming the browser's body.
fn build_upstream_request(
    state: &AppState,
    url: String,
    req: &mut Request,
    bearer: Option<String>,
) -> reqwest::RequestBuilder {
    let mut headers = HeaderMap::with_capacity(req.headers().len() + 4);
    let connection_listed = listed_in_connection(req.headers());
    for (name, value) in req.headers() {
        if !DROPPED_REQUEST_HEADERS.contains(&name.as_str()) && !connection_listed.contains(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(token) = bearer {
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(header::AUTHORIZATION, value);
        }
    }
    let client_ip = req
        .remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_string());
    let forwarded_for = match (
        req.headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok()),
        client_ip,
    ) {
        (Some(previous), Some(ip)) => Some(format!("{previous}, {ip}")),
        (None, Some(ip)) => Some(ip),
        (Some(previous), None) => Some(previous.to_string()),
        (None, None) => None,
    };
    if let Some(value) = forwarded_for.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert("x-forwarded-for", value);
    }
    let public = &state.config.server.public_url;
    let (proto, host) = public.split_once("://").unwrap_or(("https", public));
    if let Ok(value) = HeaderValue::from_str(proto) {
        headers.insert("x-forwarded-proto", value);
    }
    if let Ok(value) = HeaderValue::from_str(host) {
        headers.insert("x-forwarded-host", value);
    }
    let body = req.take_body();
    let request = state
        .upstream
        .request(req.method().clone(), url)
        .headers(headers);
    if body.is_empty() {
        request
    } else {
        request.body(reqwest::Body::wrap_stream(body.into_bytes_stream()))
    }
}

/// Header names a `Connection` header marks as hop-by-hop.
fn listed_in_connection(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// Phase 5: send, and stream the answer back with the upstream's status.
///
/// The route's timeout bounds the wait for the upstream's response head only: a stream that
/// keeps producing (a chat answer) may run longer.
async fn send(route: &Route, request: reqwest::RequestBuilder) -> Result<Response, Error> {
    let upstream = match tokio::time::timeout(route.timeout, request.send()).await {
        Err(_) => {
            return Err(Error::new(
                ErrorKind::UpstreamTimeout,
                format!(
                    "the API did not answer within {}",
                    humantime::format_duration(route.timeout)
                ),
            ))
        }
        Ok(Err(error)) => {
            return Err(Error::new(
                ErrorKind::UpstreamUnreachable,
                "the API could not be reached",
            )
            .with_source(anyhow::anyhow!("{}: {error}", route.prefix)))
        }
        Ok(Ok(upstream)) => upstream,
    };
    let mut response = Response::builder().status(upstream.status());
    let connection_listed = listed_in_connection(upstream.headers());
    for (name, value) in upstream.headers() {
        if !DROPPED_RESPONSE_HEADERS.contains(&name.as_str()) && !connection_listed.contains(name) {
            response = response.header(name.clone(), value.clone());
        }
    }
    let stream = upstream
        .bytes_stream()
        .map_err(|error| std::io::Error::other(error.to_string()));
    Ok(response.body(Body::from_bytes_stream(stream)))
}
