//! Prometheus metrics (`GET /metrics`, text format). Every label value comes from a small,
//! fixed set — a route prefix from the configuration, a method class, a status code, a reason
//! word — never a path, a user or a token, so the series count stays bounded whatever the
//! traffic. The README lists every metric.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// A shared label value (a route prefix or endpoint name, cloned per request, not copied).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Label(Arc<str>);

impl prometheus_client::encoding::EncodeLabelValue for Label {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, &self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Label,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SsoLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpenedLabel {
    from: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// What an SSO call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoCall {
    /// The discovery document.
    Discovery,
    /// The signing keys.
    Jwks,
    /// The code exchange at sign-in.
    Exchange,
    /// A refresh (one per SSO call, not per waiting request).
    Refresh,
    /// Revocation at logout.
    Revoke,
    /// Userinfo (when roles live there).
    Userinfo,
    /// A pushed authorization request (RFC 9126) at sign-in.
    Par,
}

impl SsoCall {
    fn label(self) -> &'static str {
        match self {
            SsoCall::Discovery => "discovery",
            SsoCall::Jwks => "jwks",
            SsoCall::Exchange => "exchange",
            SsoCall::Refresh => "refresh",
            SsoCall::Revoke => "revoke",
            SsoCall::Userinfo => "userinfo",
            SsoCall::Par => "par",
        }
    }
}

/// How an SSO call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoOutcome {
    /// Answered as hoped.
    Ok,
    /// The SSO refused the grant (`invalid_grant`).
    InvalidGrant,
    /// No answer within `oidc.http_timeout`.
    Timeout,
    /// Anything else: unreachable, 5xx, garbage, another refusal.
    Error,
}

impl SsoOutcome {
    fn label(self) -> &'static str {
        match self {
            SsoOutcome::Ok => "ok",
            SsoOutcome::InvalidGrant => "invalid_grant",
            SsoOutcome::Timeout => "timeout",
            SsoOutcome::Error => "error",
        }
    }
}

/// The service's metrics and their registry. Shared (`Arc`) by the handlers and the SSO client.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    upstream_seconds: Family<RouteLabel, Histogram>,
    sso_calls: Family<SsoLabels, Counter>,
    refresh_waiters: Counter,
    logins: Family<ResultLabel, Counter>,
    sessions_opened: Family<OpenedLabel, Counter>,
    cookies_refused: Family<ReasonLabel, Counter>,
    cookie_bytes: Histogram,
    in_flight: Gauge,
    streams: Gauge,
    store_up: Gauge,
    store_errors: Family<OperationLabel, Counter>,
    revocations: Family<SourceLabel, Counter>,
}

fn upstream_histogram() -> Histogram {
    // 0.5 ms .. ~33 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("bff");
        let metrics = Metrics {
            requests: Family::default(),
            upstream_seconds: Family::new_with_constructor(upstream_histogram as fn() -> Histogram),
            sso_calls: Family::default(),
            refresh_waiters: Counter::default(),
            logins: Family::default(),
            sessions_opened: Family::default(),
            cookies_refused: Family::default(),
            cookie_bytes: Histogram::new(exponential_buckets(256.0, 2.0, 8)),
            in_flight: Gauge::default(),
            streams: Gauge::default(),
            store_up: Gauge::default(),
            store_errors: Family::default(),
            revocations: Family::default(),
            registry: Registry::default(),
        };
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        metrics.register_traffic(&mut registry);
        metrics.register_sessions(&mut registry, build);
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Requests, upstreams and SSO calls.
    fn register_traffic(&self, registry: &mut Registry) {
        registry.register(
            "requests",
            "Requests answered, by route (a route prefix, a BFF endpoint, `app` or `other`), method class (read, write) and status",
            self.requests.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Time to the upstream's response head, by route",
            self.upstream_seconds.clone(),
        );
        registry.register(
            "sso_calls",
            "Calls to the SSO by kind and outcome, one per call made",
            self.sso_calls.clone(),
        );
        registry.register(
            "refresh_waiters",
            "Requests served by a refresh another request made (in flight or within the grace window)",
            self.refresh_waiters.clone(),
        );
        registry.register(
            "logins",
            "Completed callbacks by result",
            self.logins.clone(),
        );
        registry.register(
            "sessions_opened",
            "Session cookies opened, from the cookie (decrypted) or from the cache of opened sessions",
            self.sessions_opened.clone(),
        );
        registry.register(
            "session_cookies_refused",
            "Session cookies that did not open, by reason",
            self.cookies_refused.clone(),
        );
    }

    /// Sessions, streams, the store and the build.
    fn register_sessions(&self, registry: &mut Registry, build: Family<BuildLabels, Gauge>) {
        registry.register(
            "session_cookie_bytes",
            "Size of the session cookies written (names and values, all chunks)",
            self.cookie_bytes.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Requests being handled",
            self.in_flight.clone(),
        );
        registry.register(
            "open_streams",
            "Relayed answers still streaming to the browser",
            self.streams.clone(),
        );
        registry.register(
            "store_up",
            "Whether this replica's mirror of the session store's deny-list is in sync: 1 yes, 0 no or no store.url",
            self.store_up.clone(),
        );
        registry.register(
            "store_errors",
            "Session store operations that failed or timed out, by operation",
            self.store_errors.clone(),
        );
        registry.register(
            "revocations",
            "Sessions ended through the store by this replica, by source (backchannel, logout, admin)",
            self.revocations.clone(),
        );
        registry.register("build", "The running version", build);
    }

    /// Counts an answered request.
    pub fn request(&self, route: &Arc<str>, unsafe_method: bool, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: Label(route.clone()),
                method: if unsafe_method { "write" } else { "read" },
                status,
            })
            .inc();
    }

    /// Records the wait for an upstream's response head.
    pub fn upstream(&self, route: &Arc<str>, seconds: f64) {
        self.upstream_seconds
            .get_or_create(&RouteLabel {
                route: Label(route.clone()),
            })
            .observe(seconds);
    }

    /// Counts one call made to the SSO.
    pub fn sso(&self, call: SsoCall, outcome: SsoOutcome) {
        self.sso_calls
            .get_or_create(&SsoLabels {
                kind: call.label(),
                outcome: outcome.label(),
            })
            .inc();
    }

    /// Counts a request that used a refresh another request made.
    pub fn refresh_waiter(&self) {
        self.refresh_waiters.inc();
    }

    /// Counts a callback outcome (`ok` or the `authError` code).
    pub fn login(&self, result: &'static str) {
        self.logins.get_or_create(&ResultLabel { result }).inc();
    }

    /// Counts an opened session cookie (`cookie` or `cache`).
    pub fn session_opened(&self, from: &'static str) {
        self.sessions_opened
            .get_or_create(&OpenedLabel { from })
            .inc();
    }

    /// Counts a refused session cookie.
    pub fn cookie_refused(&self, reason: &'static str) {
        self.cookies_refused
            .get_or_create(&ReasonLabel {
                reason: label_word(reason),
            })
            .inc();
    }

    /// Records the size of a written session cookie.
    pub fn cookie_written(&self, bytes: usize) {
        self.cookie_bytes.observe(bytes as f64);
    }

    /// One more request in flight until the guard is dropped.
    pub fn in_flight(self: &Arc<Self>) -> GaugeGuard {
        GaugeGuard::new(self.in_flight.clone())
    }

    /// One more relayed answer streaming until the guard is dropped.
    pub fn stream(self: &Arc<Self>) -> GaugeGuard {
        GaugeGuard::new(self.streams.clone())
    }

    /// Whether the store's deny-list mirror is in sync.
    pub fn store_up(&self, up: bool) {
        self.store_up.set(i64::from(up));
    }

    /// Counts a failed store operation.
    pub fn store_error(&self, operation: &'static str) {
        self.store_errors
            .get_or_create(&OperationLabel { operation })
            .inc();
    }

    /// Counts a revocation recorded (`backchannel`, `logout`, `admin`).
    pub fn revocation(&self, source: &'static str) {
        self.revocations
            .get_or_create(&SourceLabel { source })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Holds a gauge one higher while it lives.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(gauge: Gauge) -> Self {
        gauge.inc();
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A reason as a label value: the logged phrase with underscores for spaces (label values
/// are matched in queries, where spaces are a nuisance). Phrases are few and fixed.
fn label_word(reason: &'static str) -> &'static str {
    match reason {
        "inconsistent chunks" => "inconsistent_chunks",
        "unreadable payload" => "unreadable_payload",
        "unknown version" => "unknown_version",
        "unknown key" => "unknown_key",
        "forged or damaged" => "forged",
        other if !other.contains(' ') => other,
        _ => "other",
    }
}
