//! The API relay, as a fixed sequence of phases, each a small function with one job (the
//! route was picked once, on the canonical path, by [`crate::routes`]): open the session (refreshing if due) →
//! check roles and CSRF → build the upstream request → stream the response back. Bodies stream
//! both ways without buffering, so server-sent events reach the browser as the upstream
//! produces them.

use crate::error::{Error, ErrorKind};
use crate::observe::Facts;
use crate::routes::{Route, RoutedPath, TokenMode};
use crate::session::guard::{Need, SessionState};
use crate::session::{now, Session};
use crate::state::AppState;
use crate::upstream::UpstreamBody;
use poem::http::{header, HeaderMap, HeaderName, HeaderValue};
use poem::{Body, Request, Response};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

mod dpop;

/// Request headers never relayed: those that describe one connection (RFC 9110 §7.6.1), the
/// browser's credentials, and those a client could use to pose as a proxy or to have the
/// upstream (or a gateway in front of it) rewrite the path or the method after the route and
/// its roles were decided. `X-Forwarded-*` are dropped by prefix and set by the relay itself.
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
    // A browser's own DPoP proof: the BFF proves possession for DPoP sessions itself.
    "dpop",
    "x-xsrf-token",
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Response headers never passed back: hop-by-hop ones; `Set-Cookie` (an upstream must not
/// plant cookies on the BFF's origin, where it could shadow the session); `Authorization`
/// (credentials travel towards upstreams, never back). `Access-Control-*` are dropped by
/// prefix: the BFF owns CORS for its origin.
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
    "authorization",
];

/// The forwarding headers the relay sets, as `HeaderName` constants: inserting by a `&str`
/// name outside the standard set allocates the name on every request.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Header names gathered for removal. A request or an answer drops a handful (`Host`,
/// `Cookie`, ...), which fit on the stack; more spill into the heap.
type Names = smallvec::SmallVec<[HeaderName; 8]>;

fn dropped_request_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    DROPPED_REQUEST_HEADERS.contains(&name) || name.starts_with("x-forwarded-")
}

fn dropped_response_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    DROPPED_RESPONSE_HEADERS.contains(&name) || name.starts_with("access-control-")
}

/// Relays `req`, already dispatched to `route` by its canonical `path`, in the `relay` span;
/// `facts` are the request's (the subject and the upstream's answer are recorded there).
///
/// The span is put on by hand rather than with `#[tracing::instrument]`, whose generated future
/// holds every argument twice (the request alone is about 500 bytes): this future is moved
/// whole on each relayed request.
pub fn relay<'a>(
    state: &'a AppState,
    route: &'a Route,
    path: RoutedPath,
    facts: Option<&'a Arc<Facts>>,
    req: Request,
) -> impl std::future::Future<Output = Result<Response, Error>> + Send + 'a {
    use tracing::Instrument;
    let span = tracing::info_span!("relay", route = %route.prefix);
    relay_phases(state, route, path, facts, req).instrument(span)
}

async fn relay_phases(
    state: &AppState,
    route: &Route,
    path: RoutedPath,
    facts: Option<&Arc<Facts>>,
    mut req: Request,
) -> Result<Response, Error> {
    let url = route.upstream_url(&path, req.uri().query());
    let session = match route.token {
        TokenMode::None => None,
        TokenMode::Access => Some(authorize(state, route, facts, &req).await?),
    };
    let proof = session.as_ref().and_then(|s| dpop::Proof::of(s, &url));
    let bodiless = proof.is_some() && is_bodiless(&req);
    let bearer = match (&session, &proof) {
        (None, _) => None,
        (Some(session), None) => Some(bearer_of(session)?),
        (Some(_), Some(proof)) => Some(proof.authorization()?),
    };
    let mut upstream = build_upstream_request(state, url, &mut req, bearer)?;
    let retry = match &proof {
        Some(proof) => {
            proof.sign_into(state, &mut upstream)?;
            // Boxed: most routes have no DPoP, and this would sit in every request's future.
            Some(Box::new(dpop::Retry::of(proof, &upstream, bodiless)))
        }
        None => None,
    };
    send(state, route, upstream, facts.map(Arc::as_ref), retry).await
}

/// Whether the browser's request has no body (then a DPoP nonce challenge can be answered by
/// sending it again).
fn is_bodiless(req: &Request) -> bool {
    let headers = req.headers();
    !headers.contains_key(header::TRANSFER_ENCODING)
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
}

fn bearer_of(session: &Session) -> Result<HeaderValue, Error> {
    let bearer = session
        .bearer
        .get_or_init(|| session.access_token.bearer_header());
    bearer.ok_or_else(|| {
        Error::new(
            ErrorKind::Internal,
            "the access token cannot be sent in a header",
        )
    })
}

/// The session (refreshed if due), CSRF and the roles. Returns the session whose access token
/// is relayed.
///
/// Fetch metadata and `Origin` are checked first, before the cookie is even opened, so a
/// cross-site request learns nothing; then the session (401), the `X-XSRF-TOKEN` header for
/// unsafe methods (403), and the route's roles (403).
async fn authorize(
    state: &AppState,
    route: &Route,
    facts: Option<&Arc<Facts>>,
    req: &Request,
) -> Result<Arc<Session>, Error> {
    crate::csrf::check_request_origin(&state.config, req.headers())?;
    let (cookies, out) = crate::cookies::of_request(req)?;
    let session = match state.guard().run(cookies, &out, now(), Need::Tokens).await {
        SessionState::None => {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "sign in first: no valid session",
            ))
        }
        SessionState::Stale(_, error) | SessionState::Unavailable(error) => return Err(error),
        SessionState::Active(session) => session,
    };
    state.note_subject(facts, &session);
    if crate::csrf::is_unsafe(req.method()) {
        crate::csrf::check_token(&state.cookies, &session, req.headers())?;
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
    Ok(session)
}

/// The upstream request: the browser's headers minus what must not travel, the relay's own
/// credentials and forwarding headers, and the browser's body, streamed.
fn build_upstream_request(
    state: &AppState,
    url: String,
    req: &mut Request,
    bearer: Option<HeaderValue>,
) -> Result<hyper::Request<UpstreamBody>, Error> {
    // The string's buffer becomes the URI's, without a copy.
    let uri = hyper::Uri::from_maybe_shared(bytes::Bytes::from(url)).map_err(|e| {
        Error::new(ErrorKind::BadRequest, "the path cannot be relayed").with_source(e)
    })?;
    let peer = req.remote_addr().as_socket_addr().map(|addr| addr.ip());
    let mut headers = std::mem::take(req.headers_mut());
    // A clone of the value shares its bytes: nothing is copied.
    let incoming = headers.get(X_FORWARDED_FOR).cloned();
    remove_headers(&mut headers, dropped_request_header);
    if let Some(bearer) = bearer {
        headers.insert(header::AUTHORIZATION, bearer);
    }
    let forwarded_for = forwarded_for(
        &state.config.server.trusted_proxies,
        peer,
        incoming.as_ref().and_then(|v| v.to_str().ok()),
    );
    // The string's buffer becomes the value's, without a copy.
    if let Some(value) =
        forwarded_for.and_then(|v| HeaderValue::from_maybe_shared(bytes::Bytes::from(v)).ok())
    {
        headers.insert(X_FORWARDED_FOR, value);
    }
    let (proto, host) = state.forwarded_origin();
    headers.insert(X_FORWARDED_PROTO, proto.clone());
    headers.insert(X_FORWARDED_HOST, host.clone());
    if let Some(id) = crate::observe::current_request_id() {
        headers.insert(crate::observe::REQUEST_ID, id);
    }
    crate::telemetry::propagate(&mut headers);
    let mut request = hyper::Request::new(UpstreamBody::from(req.take_body()));
    *request.method_mut() = req.method().clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Removes from `headers` every header `dropped` names and every header their `Connection`
/// header marks as hop-by-hop.
fn remove_headers(headers: &mut HeaderMap, dropped: fn(&HeaderName) -> bool) {
    let connection_listed = listed_in_connection(headers);
    let names: Names = headers
        .keys()
        .filter(|name| dropped(name) || connection_listed.contains(name))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

/// The `X-Forwarded-For` the upstream gets: the peer's address, after the incoming chain only
/// when the peer is a trusted proxy (anyone else could write any address there).
pub fn forwarded_for(
    trusted: &[ipnet::IpNet],
    peer: Option<IpAddr>,
    incoming: Option<&str>,
) -> Option<String> {
    let peer = peer?;
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
        v4 => v4,
    };
    let trusted_peer = trusted.iter().any(|net| net.contains(&peer));
    match incoming.map(str::trim).filter(|chain| !chain.is_empty()) {
        Some(chain) if trusted_peer => Some(format!("{chain}, {peer}")),
        _ => Some(peer.to_string()),
    }
}

/// Header names a `Connection` header marks as hop-by-hop.
fn listed_in_connection(headers: &HeaderMap) -> Names {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// Sends, and streams the answer back with the upstream's status.
///
/// The route's `timeout` bounds the wait for the upstream's response head; its `idle_timeout`
/// bounds each pause of the body, so a stream that keeps producing (a chat answer) may run
/// longer, but one that stalls ends. In the `upstream` span (put on by hand, as [`relay`]'s).
fn send<'a>(
    state: &'a AppState,
    route: &'a Route,
    request: hyper::Request<UpstreamBody>,
    facts: Option<&'a Facts>,
    retry: Option<Box<dpop::Retry>>,
) -> impl std::future::Future<Output = Result<Response, Error>> + Send + 'a {
    use tracing::Instrument;
    send_in_span(state, route, request, facts, retry).instrument(tracing::info_span!("upstream"))
}

async fn send_in_span(
    state: &AppState,
    route: &Route,
    request: hyper::Request<UpstreamBody>,
    facts: Option<&Facts>,
    retry: Option<Box<dpop::Retry>>,
) -> Result<Response, Error> {
    let started = std::time::Instant::now();
    let mut upstream = exchange(state, route, request).await?;
    if let Some(retry) = retry {
        if let Some(again) = retry.after(state, &upstream)? {
            // Boxed: only a DPoP nonce challenge comes here, and inline this second exchange
            // would make every relayed request's future larger.
            upstream = Box::pin(exchange(state, route, again)).await?;
            retry.remember(state, &upstream);
        }
    }
    let waited = started.elapsed().as_secs_f64();
    state.metrics.upstream(&route.label, waited);
    if let Some(facts) = facts {
        facts.upstream(upstream.status().as_u16(), waited);
    }
    let (mut parts, body) = upstream.into_parts();
    remove_headers(&mut parts.headers, dropped_response_header);
    let body = IdleBody::new(body, route.idle_timeout, state.metrics.stream());
    let mut response = Response::builder()
        .status(parts.status)
        .body(Body::from(http_body_util::BodyExt::boxed(body)));
    *response.headers_mut() = parts.headers;
    Ok(response)
}

/// One round trip to the upstream, its response head within the route's `timeout`.
async fn exchange(
    state: &AppState,
    route: &Route,
    request: hyper::Request<UpstreamBody>,
) -> Result<hyper::Response<hyper::body::Incoming>, Error> {
    match tokio::time::timeout(route.timeout, state.upstream.send(request)).await {
        Err(_) => Err(Error::new(
            ErrorKind::UpstreamTimeout,
            format!(
                "the API did not answer within {}",
                humantime::format_duration(route.timeout)
            ),
        )),
        // The client's errors name no URL (the path and query never reach the log).
        Ok(Err(error)) => Err(Error::new(
            ErrorKind::UpstreamUnreachable,
            "the API could not be reached",
        )
        .with_source(anyhow::anyhow!("{}: {error:#}", route.prefix))),
        Ok(Ok(upstream)) => Ok(upstream),
    }
}

/// The upstream's body on its way to the browser, ended with an error when no piece arrives
/// for `idle`; `open` (the open-streams gauge) is held until it ends or the browser goes away.
///
/// The timer is armed only while the upstream keeps the body waiting: a piece that is already
/// there (the whole body of most API answers) passes without touching the timer wheel.
/// Trailers are not passed on (the browser gets the data only, as from any relay).
struct IdleBody {
    inner: hyper::body::Incoming,
    idle: Duration,
    /// The wait's deadline, created at the first wait and reset at each later one.
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// Whether `timer` is set for the current wait; false once a piece arrives, so that the
    /// next wait sets it afresh.
    waiting: bool,
    done: bool,
    _open: crate::metrics::GaugeGuard,
}

impl IdleBody {
    fn new(inner: hyper::body::Incoming, idle: Duration, open: crate::metrics::GaugeGuard) -> Self {
        IdleBody {
            inner,
            idle,
            timer: None,
            waiting: false,
            done: false,
            _open: open,
        }
    }

    /// Called when the upstream has nothing yet: starts the wait's timer (or keeps the running
    /// one) and tells whether it has run out.
    fn stalled(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        let deadline = tokio::time::Instant::now() + self.idle;
        let timer = match &mut self.timer {
            Some(timer) => {
                if !self.waiting {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.waiting = true;
        std::future::Future::poll(timer.as_mut(), cx).is_ready()
    }
}

impl http_body::Body for IdleBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        use std::task::Poll;
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // Each turn consumes a frame the upstream sent, so the loop ends with its body.
        loop {
            match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.waiting = false;
                    if frame.is_data() {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(std::io::Error::other(error.to_string()))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending if this.stalled(cx) => {
                    this.done = true;
                    tracing::warn!("the API's answer stalled; ending the stream");
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the API's answer stalled",
                    ))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    // `is_end_stream` and `size_hint` keep their defaults: the upstream's `Content-Length`
    // header (passed on) frames the answer, as it does for any streamed body.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_trusts_the_chain_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            forwarded_for(&trusted, Some(proxy), Some("198.51.100.7")).unwrap(),
            "198.51.100.7, 10.1.2.3"
        );
        assert_eq!(
            forwarded_for(&trusted, Some(stranger), Some("1.2.3.4")).unwrap(),
            "203.0.113.9"
        );
        assert_eq!(
            forwarded_for(&[], Some(proxy), Some("1.2.3.4")).unwrap(),
            "10.1.2.3"
        );
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(
            forwarded_for(&trusted, Some(mapped), Some("9.9.9.9")).unwrap(),
            "9.9.9.9, 10.1.2.3"
        );
    }

    #[test]
    fn spoofable_and_cors_headers_are_dropped() {
        for name in [
            "x-forwarded-for",
            "x-forwarded-prefix",
            "x-original-url",
            "x-real-ip",
            "forwarded",
            "x-http-method-override",
        ] {
            assert!(
                dropped_request_header(&HeaderName::from_static(name)),
                "{name}"
            );
        }
        assert!(!dropped_request_header(&HeaderName::from_static(
            "content-type"
        )));
        for name in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
            "authorization",
            "set-cookie",
        ] {
            assert!(
                dropped_response_header(&HeaderName::from_static(name)),
                "{name}"
            );
        }
        assert!(!dropped_response_header(&HeaderName::from_static(
            "www-authenticate"
        )));
    }
}
