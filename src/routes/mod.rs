//! The `[[routes]]` table: which path prefix is relayed to which upstream, with what token and
//! which roles. Validated at startup; matched once per request, on the path's canonical
//! spelling ([`path`]), which is also the spelling the upstream receives.

pub mod path;
pub mod spec_source;

use path::{CanonicalPath, PathRejection};
use serde::{Deserialize, Serialize};
pub use spec_source::SpecSource;
use std::fmt;
use std::time::Duration;
use url::Url;

/// The paths the BFF answers itself; no route may shadow or contain them.
pub const OWN_PATHS: &[&str] = &[
    "/api/login",
    "/api/callback",
    "/api/session",
    "/api/logout",
    "/api/backchannel-logout",
    "/api/admin/revoke",
    "/docs",
    "/openapi.json",
    "/openapi.yaml",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// Which credential a route forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenMode {
    /// The user's access token as `Authorization: Bearer` (a session is required).
    #[default]
    Access,
    /// Anonymous pass-through: no session needed, no token sent.
    None,
}

/// A route as written in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    prefix: String,
    upstream: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    token: TokenMode,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    idle_timeout: Option<Duration>,
    #[serde(default)]
    openapi: Option<String>,
}

/// A validated route.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Path prefix, starting with `/`, no trailing `/`; matches whole segments.
    pub prefix: String,
    /// Base URL the rest of the path is appended to.
    pub upstream: Url,
    /// Any one of these is required; empty means any signed-in user.
    pub roles: Vec<String>,
    /// What credential to forward.
    pub token: TokenMode,
    /// Total time allowed for the upstream to start answering.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Longest pause between two pieces of the upstream's answer body: a stream may run for
    /// hours, but an upstream that stops sending without closing must not hold a connection.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Where the upstream publishes its OpenAPI document, merged into the BFF's own under
    /// this route's prefix (see the `spec` module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openapi: Option<SpecSource>,
    /// The prefix as a shared label for metrics and logs (cloned per request, not copied).
    #[serde(skip)]
    pub label: std::sync::Arc<str>,
}

/// Routes ordered longest prefix first, so the first match is the most specific.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// A route that cannot be used, naming the field at fault (`routes[1].prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    /// Position of the route in `[[routes]]`.
    pub index: usize,
    /// The field at fault (`prefix`, `upstream`, `timeout`, ...).
    pub field: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl RouteError {
    /// The dotted configuration key of the field at fault.
    pub fn key(&self) -> String {
        format!("routes[{}].{}", self.index, self.field)
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key(), self.message)
    }
}

impl std::error::Error for RouteError {}

/// Default `timeout` of a route: the wait for the upstream's response head.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `idle_timeout` of a route: the longest pause inside a streamed answer.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

impl RouteTable {
    /// Validates the raw routes: well-formed canonical prefixes, no duplicates (letter case
    /// aside), no clash with our own endpoints, http(s) upstreams, non-zero timeouts.
    pub fn from_raw(raw: Vec<RawRoute>) -> Result<Self, RouteError> {
        let mut routes: Vec<Route> = Vec::with_capacity(raw.len());
        for (index, route) in raw.into_iter().enumerate() {
            let error = |field, message| RouteError {
                index,
                field,
                message,
            };
            check_prefix(&route.prefix, &routes).map_err(|m| error("prefix", m))?;
            let upstream = parse_upstream(&route.upstream).map_err(|m| error("upstream", m))?;
            let openapi = route
                .openapi
                .as_deref()
                .map(SpecSource::parse)
                .transpose()
                .map_err(|m| error("openapi", m))?;
            let timeout = route.timeout.unwrap_or(DEFAULT_TIMEOUT);
            let idle_timeout = route.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT);
            for (field, value) in [("timeout", timeout), ("idle_timeout", idle_timeout)] {
                if value.is_zero() {
                    return Err(error(field, "must be more than zero".into()));
                }
            }
            routes.push(Route {
                label: route.prefix.as_str().into(),
                prefix: route.prefix,
                upstream,
                roles: route.roles,
                token: route.token,
                timeout,
                idle_timeout,
                openapi,
            });
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(RouteTable { routes })
    }

    /// Decides whether a request path is relayed, and by which route. The decision is made on
    /// the path's canonical spelling, which is also what the upstream receives; a path that
    /// has no canonical spelling is refused when it could be meant for a route (it lies under
    /// `/api` or a route's first segment), and left to the other endpoints otherwise.
    pub fn dispatch(&self, raw_path: &str) -> Dispatch<'_> {
        let canonical = match CanonicalPath::parse(raw_path) {
            Ok(canonical) => canonical,
            Err(rejection) if self.could_be_routed(raw_path) => {
                return Dispatch::Refused(rejection)
            }
            Err(_) => return Dispatch::NotRouted,
        };
        let path = canonical.as_str();
        let exact = self
            .routes
            .iter()
            .position(|r| segment_prefix(path, &r.prefix, false));
        // Routes are sorted longest first: the first case-insensitive match is the most specific
        // route an upstream with case-insensitive paths (IIS, some gateways) would resolve.
        let loose = self
            .routes
            .iter()
            .position(|r| segment_prefix(path, &r.prefix, true));
        match (exact, loose) {
            (Some(i), Some(j)) if i == j => {
                let rest_at = self.routes[i].prefix.len();
                Dispatch::Route(&self.routes[i], RoutedPath { canonical, rest_at })
            }
            (_, Some(_)) => Dispatch::Refused(PathRejection::CaseVariant),
            _ => Dispatch::NotRouted,
        }
    }

    /// Whether `raw_path` lies under `/api` or under the first segment of a route prefix,
    /// compared without regard to case or escapes (a cheap test for refused spellings only).
    fn could_be_routed(&self, raw_path: &str) -> bool {
        let first = |path: &str| -> String {
            let path = path.trim_start_matches('/');
            let end = path.find('/').unwrap_or(path.len());
            percent_encoding::percent_decode_str(&path[..end])
                .decode_utf8_lossy()
                .to_ascii_lowercase()
        };
        let head = first(raw_path);
        let head = head.split(';').next().unwrap_or_default();
        head == "api" || self.routes.iter().any(|r| first(&r.prefix) == head)
    }

    /// Whether `path` (a local path, possibly with a query) would be relayed or refused by the
    /// relay: such a path is no place to send a browser after sign-in.
    pub fn covers(&self, path: &str) -> bool {
        let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
        !matches!(self.dispatch(path), Dispatch::NotRouted)
    }

    /// Every route, longest prefix first.
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }
}

/// Whether `path` starts with the whole segments of `prefix`.
fn segment_prefix(path: &str, prefix: &str, ignore_case: bool) -> bool {
    let Some(head) = path.get(..prefix.len()) else {
        return false;
    };
    let same = if ignore_case {
        head.eq_ignore_ascii_case(prefix)
    } else {
        head == prefix
    };
    same && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/'))
}

/// The relay's decision for one request path.
#[derive(Debug)]
pub enum Dispatch<'a> {
    /// Relayed by this route.
    Route(&'a Route, RoutedPath),
    /// Not a route's path: the BFF's own endpoints (or the SPA) answer it.
    NotRouted,
    /// Meant for a route but spelled in a way no upstream may see: 400.
    Refused(PathRejection),
}

/// A canonical path and where the route's prefix ends in it.
#[derive(Debug, Clone)]
pub struct RoutedPath {
    canonical: CanonicalPath,
    rest_at: usize,
}

impl RoutedPath {
    /// The part after the route's prefix (empty or starting with `/`).
    pub fn rest(&self) -> &str {
        &self.canonical.as_str()[self.rest_at..]
    }
}

impl Route {
    /// The upstream URL for a routed path and the request's raw `query`: the upstream's base
    /// followed by the canonical rest of the path, the very spelling the route was chosen by.
    pub fn upstream_url(&self, path: &RoutedPath, query: Option<&str>) -> String {
        let rest = path.rest();
        let base = self.upstream.as_str().trim_end_matches('/');
        let query_len = query.map_or(0, |q| q.len() + 1);
        let mut url = String::with_capacity(base.len() + rest.len() + 1 + query_len);
        url.push_str(base);
        url.push_str(rest);
        if rest.is_empty() && self.upstream.path() == "/" {
            url.push('/');
        }
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        url
    }
}

/// A prefix is a canonical path of whole segments, clashing with nothing configured before it.
fn check_prefix(prefix: &str, earlier: &[Route]) -> Result<(), String> {
    if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') {
        return Err(format!(
            "`{prefix}` must be a path like /api/chat (no trailing slash)"
        ));
    }
    if CanonicalPath::parse(prefix).map(|c| c.as_str() == prefix) != Ok(true)
        || prefix.contains(['%', '?', '#'])
    {
        return Err(format!(
            "`{prefix}` must be spelled canonically (no escapes, `;`, dots or empty segments)"
        ));
    }
    if let Some(own) = OWN_PATHS.iter().find(|own| overlaps(prefix, own)) {
        return Err(format!(
            "`{prefix}` clashes with the BFF's own endpoint {own}"
        ));
    }
    if earlier
        .iter()
        .any(|r| r.prefix.eq_ignore_ascii_case(prefix))
    {
        return Err(format!(
            "`{prefix}` is configured twice (letter case aside)"
        ));
    }
    Ok(())
}

/// An upstream is an http(s) URL with a host and without query or fragment.
fn parse_upstream(text: &str) -> Result<Url, String> {
    let upstream = Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
    if !matches!(upstream.scheme(), "http" | "https")
        || upstream.host_str().is_none()
        || upstream.query().is_some()
        || upstream.fragment().is_some()
    {
        return Err(format!(
            "`{upstream}` must be an http(s) URL without query or fragment"
        ));
    }
    Ok(upstream)
}

/// Whether a route prefix and one of our own paths would shadow each other.
fn overlaps(prefix: &str, own: &str) -> bool {
    let contains = |outer: &str, inner: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    contains(prefix, own) || contains(own, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(prefix: &str, upstream: &str) -> RawRoute {
        RawRoute {
            prefix: prefix.into(),
            upstream: upstream.into(),
            roles: vec![],
            token: TokenMode::Access,
            timeout: None,
            idle_timeout: None,
            openapi: None,
        }
    }

    fn table() -> RouteTable {
        RouteTable::from_raw(vec![
            raw("/api/chat", "http://chat.internal:9000/v1"),
            raw("/api/chat/admin", "http://admin.internal/"),
            raw("/api/analytics", "http://analytics.internal"),
        ])
        .unwrap()
    }

    fn routed<'a>(table: &'a RouteTable, path: &str) -> (&'a Route, RoutedPath) {
        match table.dispatch(path) {
            Dispatch::Route(route, routed) => (route, routed),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn longest_prefix_wins_and_only_whole_segments_match() {
        let table = table();
        let (route, rest) = routed(&table, "/api/chat/admin/users");
        assert_eq!(route.prefix, "/api/chat/admin");
        assert_eq!(rest.rest(), "/users");
        let (route, rest) = routed(&table, "/api/chat");
        assert_eq!(route.prefix, "/api/chat");
        assert_eq!(rest.rest(), "");
        assert!(matches!(table.dispatch("/api/chatX"), Dispatch::NotRouted));
        assert!(matches!(
            table.dispatch("/api/chat-admin"),
            Dispatch::NotRouted
        ));
        assert!(matches!(table.dispatch("/docs"), Dispatch::NotRouted));
    }

    #[test]
    fn rest_of_path_and_query_are_appended_to_the_upstream() {
        let table = table();
        let (route, rest) = routed(&table, "/api/chat/stream");
        assert_eq!(
            route.upstream_url(&rest, Some("a=1&b=2")),
            "http://chat.internal:9000/v1/stream?a=1&b=2"
        );
        let (route, rest) = routed(&table, "/api/analytics");
        assert_eq!(
            route.upstream_url(&rest, None),
            "http://analytics.internal/"
        );
        let (route, rest) = routed(&table, "/api/analytics/x");
        assert_eq!(
            route.upstream_url(&rest, None),
            "http://analytics.internal/x"
        );
    }

    #[test]
    fn the_route_is_chosen_by_the_spelling_the_upstream_receives() {
        let table = table();
        for path in [
            "/api/chat/%61dmin/x",
            "/api/chat/%41dmin/x",
            "/api/chat/ADMIN/x",
        ] {
            let decision = table.dispatch(path);
            match decision {
                Dispatch::Route(route, _) => assert_eq!(route.prefix, "/api/chat/admin", "{path}"),
                Dispatch::Refused(PathRejection::CaseVariant) => {
                    assert!(path.contains("ADMIN") || path.contains("%41"))
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        let (route, rest) = routed(&table, "/api/chat/%61dmin/x");
        assert_eq!(route.upstream_url(&rest, None), "http://admin.internal/x");
    }

    #[test]
    fn hostile_spellings_under_a_route_are_refused() {
        let table = table();
        for path in [
            "/api/chat/../admin",
            "/api/chat/%2e%2e/admin",
            "/api/chat/%2E%2E/admin",
            "/api/chat/..%2fadmin",
            "/api/chat/.%2e/admin",
            "/api/chat/%252e%252e/admin",
            "/api/chat/a%5c..%5cb",
            "/api/chat/./x",
            "/api/chat/admin;p=1/x",
            "/api/chat/..;/admin",
            "/api/chat//admin",
            "/api/%63hat/..;/x",
            "/API/chat/%00",
        ] {
            assert!(
                matches!(table.dispatch(path), Dispatch::Refused(_)),
                "{path}"
            );
        }
        // Outside every route a bad spelling is not the relay's business.
        assert!(matches!(table.dispatch("/chat;id=3"), Dispatch::NotRouted));
    }

    #[test]
    fn invalid_routes_fail_with_the_key() {
        let cases = [
            (
                vec![raw("/api/chat", "http://a"), raw("/api/chat", "http://b")],
                "routes[1].prefix",
            ),
            (vec![raw("/api", "http://a")], "routes[0].prefix"),
            (vec![raw("/api/login/x", "http://a")], "routes[0].prefix"),
            (vec![raw("/metrics", "http://a")], "routes[0].prefix"),
            (vec![raw("/api/chat/", "http://a")], "routes[0].prefix"),
            (vec![raw("api/chat", "http://a")], "routes[0].prefix"),
            (vec![raw("/api/chat", "ftp://a")], "routes[0].upstream"),
            (vec![raw("/api/chat", "not a url")], "routes[0].upstream"),
            (vec![raw("/api/%63hat", "http://a")], "routes[0].prefix"),
            (vec![raw("/api/chat;x", "http://a")], "routes[0].prefix"),
            (
                vec![RawRoute {
                    openapi: Some("ftp://a/openapi.json".into()),
                    ..raw("/api/chat", "http://a")
                }],
                "routes[0].openapi",
            ),
            (
                vec![raw("/api/a", "http://a"), raw("/api/A", "http://b")],
                "routes[1].prefix",
            ),
        ];
        for (routes, key) in cases {
            assert_eq!(RouteTable::from_raw(routes).unwrap_err().key(), key);
        }
    }
}
