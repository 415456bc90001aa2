//! What one request leaves behind for operators: its id, its span (every log line of the
//! request carries both), its access-log line, and its metrics.
//!
//! - **Request id**: a caller's `X-Request-Id` is kept when it is short visible ASCII (1 to
//!   64 characters, `!` to `~`), else one is generated. It goes back on the response, to the
//!   upstream, and to the SSO on the calls made for this request (through a task-local).
//! - **Facts**: handlers record what only they know — the route, the (hashed) subject, the
//!   upstream's status and time — for the one access-log line written when the answer leaves.
//!   The line never holds a query string, a token, a cookie or a raw subject (unless
//!   `log.subject = "plain"`).

use crate::metrics::Metrics;
use poem::http::{HeaderName, HeaderValue};
use poem::{Request, Response};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The header that carries the request id both ways (a `HeaderName` constant: inserting by a
/// `&str` name outside the standard set allocates the name on every request).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest request id accepted from a caller.
const MAX_REQUEST_ID: usize = 64;

tokio::task_local! {
    /// The id of the request a task works for (read by the SSO client for its calls).
    static CURRENT_REQUEST_ID: HeaderValue;
}

/// The request id of the task's request, if it runs for one.
pub fn current_request_id() -> Option<HeaderValue> {
    CURRENT_REQUEST_ID.try_with(HeaderValue::clone).ok()
}

/// Runs `future` as work for the request `id` (a task spawned for a request, like a refresh,
/// keeps the id of the request that started it).
pub async fn with_request_id<F: std::future::Future>(
    id: Option<HeaderValue>,
    future: F,
) -> F::Output {
    match id {
        Some(id) => CURRENT_REQUEST_ID.scope(id, future).await,
        None => future.await,
    }
}

/// The caller's request id when it is acceptable, else a new random one.
pub fn request_id(headers: &poem::http::HeaderMap) -> HeaderValue {
    headers
        .get(REQUEST_ID)
        .filter(|v| {
            let bytes = v.as_bytes();
            (1..=MAX_REQUEST_ID).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .unwrap_or_else(|| {
            use base64::Engine;
            // 12 random bytes are 16 characters: encoded in place, copied once into the value.
            let mut id = [0u8; 16];
            let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode_slice(rand::random::<[u8; 12]>(), &mut id)
                .unwrap_or(0);
            HeaderValue::from_bytes(&id[..written]).unwrap_or(HeaderValue::from_static("unknown"))
        })
}

/// What handlers learn about one request, for its access-log line and metrics.
#[derive(Default)]
pub struct Facts {
    route: OnceLock<Arc<str>>,
    subject: OnceLock<String>,
    upstream: OnceLock<(u16, f64)>,
    class: OnceLock<crate::headers::ResponseClass>,
}

impl Facts {
    /// The route label: a route prefix, a BFF endpoint, `app` or `other`.
    pub fn route(&self, label: Arc<str>) {
        let _ = self.route.set(label);
    }

    /// The signed-in subject, as the log shows it (hashed unless configured otherwise).
    pub fn subject(&self, shown: String) {
        let _ = self.subject.set(shown);
    }

    /// The upstream's status and the wait for its response head.
    pub fn upstream(&self, status: u16, seconds: f64) {
        let _ = self.upstream.set((status, seconds));
    }

    /// What produced the answer: a relayed upstream or the app (set by the dispatcher once
    /// the answer is there; an error, or nothing recorded, is the BFF's own).
    pub fn answered_by(&self, class: crate::headers::ResponseClass) {
        let _ = self.class.set(class);
    }

    /// The class recorded by [`Facts::answered_by`], the BFF's own when none was.
    pub fn response_class(&self) -> crate::headers::ResponseClass {
        self.class
            .get()
            .copied()
            .unwrap_or(crate::headers::ResponseClass::Bff)
    }

    /// The facts of `req` (set by [`observe`]; absent only outside it, in unit tests).
    pub fn of(req: &Request) -> Option<&Arc<Facts>> {
        req.extensions().get::<Arc<Facts>>()
    }
}

/// The label of a BFF endpoint or of the app, interned once.
fn label(name: &'static str) -> Arc<str> {
    static LABELS: OnceLock<Vec<(&'static str, Arc<str>)>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| {
        crate::routes::OWN_PATHS
            .iter()
            .chain(["app", "other"].iter())
            .map(|name| (*name, Arc::from(*name)))
            .collect()
    });
    labels
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| l.clone())
        .unwrap_or_else(|| Arc::from("other"))
}

/// The label for a request the BFF answers itself (an own endpoint) or the app serves.
pub fn own_label(path: &str, app: bool) -> Arc<str> {
    if app {
        return label("app");
    }
    let own = crate::routes::OWN_PATHS
        .iter()
        .find(|own| path == **own || path.strip_prefix(**own).is_some_and(|r| r.starts_with('/')));
    label(own.copied().unwrap_or("other"))
}

/// One request as operators see it, from its arrival to its access-log line: its id, span,
/// facts and the in-flight gauge. [`Observation::start`] when the request arrives, run the
/// handling inside [`Observation::run`], [`Observation::finish`] with the answer.
pub struct Observation {
    started: Instant,
    id: HeaderValue,
    facts: Arc<Facts>,
    span: tracing::Span,
    quiet: bool,
    writes: bool,
    _in_flight: crate::metrics::GaugeGuard,
}

impl Observation {
    /// Gives `req` its id and facts (in its extensions) and opens its span.
    pub fn start(metrics: &Arc<Metrics>, req: &mut Request) -> Observation {
        let started = Instant::now();
        let id = request_id(req.headers());
        let facts = Arc::new(Facts::default());
        req.extensions_mut().insert(facts.clone());
        let path = req.uri().path();
        let quiet = matches!(path, "/healthz" | "/readyz" | "/metrics");
        // The path is the browser's: bounded, so a hostile one cannot fill the log.
        let shown_path = &path[..path.floor_char_boundary(256)];
        let span = tracing::info_span!(
            "request",
            request_id = %String::from_utf8_lossy(id.as_bytes()),
            method = %req.method(),
            path = %shown_path,
        );
        crate::telemetry::continue_trace(&span, req.headers());
        let writes = !matches!(
            *req.method(),
            poem::http::Method::GET | poem::http::Method::HEAD | poem::http::Method::OPTIONS
        );
        Observation {
            started,
            id,
            facts,
            span,
            quiet,
            writes,
            _in_flight: metrics.in_flight(),
        }
    }

    /// Runs `handling` as this request's work: inside its span, with its id task-local (for
    /// the SSO calls made on its behalf).
    pub async fn run<F: std::future::Future>(&self, handling: F) -> F::Output {
        use tracing::Instrument;
        CURRENT_REQUEST_ID
            .scope(self.id.clone(), handling.instrument(self.span.clone()))
            .await
    }

    /// Puts the id on the answer, counts it and writes the access-log line.
    pub fn finish(self, metrics: &Metrics, response: &mut Response) {
        let facts = &self.facts;
        let route = facts.route.get().cloned().unwrap_or_else(|| label("other"));
        let status = response.status().as_u16();
        response.headers_mut().insert(REQUEST_ID, self.id);
        metrics.request(&route, self.writes, status);
        if self.quiet {
            return;
        }
        let upstream = facts.upstream.get();
        self.span.in_scope(|| {
            tracing::info!(
                target: "access",
                route = %route,
                status,
                duration_ms = self.started.elapsed().as_secs_f64() * 1000.0,
                upstream_status = upstream.map(|u| u.0),
                upstream_ms = upstream.map(|u| u.1 * 1000.0),
                sub = facts.subject.get().map(String::as_str),
                "request"
            )
        });
    }
}

/// Whether access-log lines are written (`BFF_LOG` may leave them out); what only they show
/// is not computed otherwise.
pub fn access_logged() -> bool {
    tracing::enabled!(target: "access", tracing::Level::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &[u8]) -> poem::http::HeaderMap {
        let mut headers = poem::http::HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn a_short_visible_request_id_is_kept_and_anything_else_replaced() {
        assert_eq!(request_id(&headers(b"abc-123_XYZ")), "abc-123_XYZ");
        for bad in [&b"has space"[..], &[b'a'; 65], b"tab\there", b"caf\xc3\xa9"] {
            let id = request_id(&headers(bad));
            assert_ne!(id.as_bytes(), bad);
            assert_eq!(id.len(), 16);
        }
        assert_eq!(request_id(&poem::http::HeaderMap::new()).len(), 16);
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(&*own_label("/api/session", false), "/api/session");
        assert_eq!(&*own_label("/docs/index.css", false), "/docs");
        assert_eq!(&*own_label("/api/x/1234", false), "other");
        assert_eq!(&*own_label("/reports/42", true), "app");
    }
}
