//! Prometheus metrics: a few counters that tell an operator whether logins, refreshes and the
//! relay are healthy. Labels never carry a user, a token or a path with ids in it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RelayLabels {
    route: String,
    status: String,
}

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    logins: Family<ResultLabel, Counter>,
    refreshes: Family<ResultLabel, Counter>,
    cookies_refused: Family<ResultLabel, Counter>,
    relayed: Family<RelayLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("bff");
        let logins = Family::<ResultLabel, Counter>::default();
        let refreshes = Family::<ResultLabel, Counter>::default();
        let cookies_refused = Family::<ResultLabel, Counter>::default();
        let relayed = Family::<RelayLabels, Counter>::default();
        registry.register("logins", "Completed callbacks by result", logins.clone());
        registry.register("refreshes", "Token refreshes by result", refreshes.clone());
        registry.register(
            "session_cookies_refused",
            "Session cookies that did not open, by reason",
            cookies_refused.clone(),
        );
        registry.register(
            "relayed_requests",
            "Relayed API requests by route and status",
            relayed.clone(),
        );
        Metrics {
            registry,
            logins,
            refreshes,
            cookies_refused,
            relayed,
        }
    }
}

impl Metrics {
    /// Counts a callback outcome (`ok` or the `authError` code).
    pub fn login(&self, result: &str) {
        self.logins
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// Counts a refresh outcome (`ok`, `grant_dead`, `sso_unavailable`).
    pub fn refresh(&self, result: &str) {
        self.refreshes
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// Counts a refused session cookie.
    pub fn cookie_refused(&self, reason: &str) {
        self.cookies_refused
            .get_or_create(&ResultLabel {
                result: reason.into(),
            })
            .inc();
    }

    /// Counts a relayed request by route prefix and status.
    pub fn relayed(&self, route: &str, status: u16) {
        self.relayed
            .get_or_create(&RelayLabels {
                route: route.into(),
                status: status.to_string(),
            })
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
