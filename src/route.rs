//! The `[[routes]]` table: which path prefix is relayed to which upstream, with what token and
//! which roles. Validated at startup; matched on every relayed request.

use crate::config::ConfigError;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

/// The paths the BFF answers itself; no route may shadow or contain them.
pub const OWN_PATHS: &[&str] = &[
    "/api/login",
    "/api/callback",
    "/api/session",
    "/api/logout",
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
}

/// Routes ordered longest prefix first, so the first match is the most specific.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// Why a request path cannot be relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRejection {
    /// A (possibly encoded) `.`/`..` segment or an encoded separator: could climb out of the
    /// upstream's path.
    DotSegment,
}

impl RouteTable {
    /// Validates the raw routes: well-formed prefixes, no duplicates, no clash with our own
    /// endpoints, http(s) upstreams.
    pub fn from_raw(raw: Vec<RawRoute>) -> Result<Self, ConfigError> {
        let mut routes: Vec<Route> = Vec::with_capacity(raw.len());
        for (i, route) in raw.into_iter().enumerate() {
            let key = |field: &str| format!("routes[{i}].{field}");
            let err = |field: &str, message: String| ConfigError {
                key: key(field),
                message,
            };
            let prefix = route.prefix;
            if !prefix.starts_with('/')
                || prefix.len() < 2
                || prefix.ends_with('/')
                || prefix.contains("//")
                || prefix.contains(['?', '#', '%', '\\'])
                || prefix.split('/').any(|s| s == "." || s == "..")
            {
                return Err(err(
                    "prefix",
                    format!("`{prefix}` must be a path like /api/chat (no trailing slash)"),
                ));
            }
            if let Some(own) = OWN_PATHS.iter().find(|own| overlaps(&prefix, own)) {
                return Err(err(
                    "prefix",
                    format!("`{prefix}` clashes with the BFF's own endpoint {own}"),
                ));
            }
            if routes.iter().any(|r| r.prefix == prefix) {
                return Err(err("prefix", format!("`{prefix}` is configured twice")));
            }
            let upstream = Url::parse(&route.upstream).map_err(|e| {
                err(
                    "upstream",
                    format!("`{}` is not a URL ({e})", route.upstream),
                )
            })?;
            if !matches!(upstream.scheme(), "http" | "https")
                || upstream.host_str().is_none()
                || upstream.query().is_some()
                || upstream.fragment().is_some()
            {
                return Err(err(
                    "upstream",
                    format!("`{upstream}` must be an http(s) URL without query or fragment"),
                ));
            }
            let timeout = route.timeout.unwrap_or(Duration::from_secs(30));
            if timeout.is_zero() {
                return Err(err("timeout", "must be more than zero".into()));
            }
            routes.push(Route {
                prefix,
                upstream,
                roles: route.roles,
                token: route.token,
                timeout,
            });
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(RouteTable { routes })
    }

    /// The most specific route for `path`, and the rest of the path after its prefix.
    pub fn match_path<'a, 'p>(&'a self, path: &'p str) -> Option<(&'a Route, &'p str)> {
        self.routes.iter().find_map(|route| {
            let rest = path.strip_prefix(route.prefix.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then_some((route, rest))
        })
    }

    /// Every route, longest prefix first.
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }
}

impl Route {
    /// The upstream URL for the `rest` of a request path and its raw `query`.
    ///
    /// Refuses any segment that decodes to `.` or `..` or hides a separator (`%2f`, `%5c`), so
    /// no request can climb above the upstream's base path, however it is encoded.
    pub fn upstream_url(&self, rest: &str, query: Option<&str>) -> Result<String, PathRejection> {
        for segment in rest.split('/') {
            let decoded = percent_decode_lossy(segment);
            if decoded == "." || decoded == ".." || decoded.contains(['/', '\\']) {
                return Err(PathRejection::DotSegment);
            }
        }
        let base = self.upstream.as_str().trim_end_matches('/');
        let mut url = String::with_capacity(base.len() + rest.len() + 1);
        url.push_str(base);
        url.push_str(rest);
        if rest.is_empty() && self.upstream.path() == "/" {
            url.push('/');
        }
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        Ok(url)
    }
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

/// Percent-decodes a path segment for inspection only (invalid escapes stay as they are).
fn percent_decode_lossy(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    // Decode twice-encoded dots too (`%252e` → `%2e` → `.`): some upstreams decode again.
    let once = String::from_utf8_lossy(&out).into_owned();
    if once.contains('%') && once != segment {
        percent_decode_lossy(&once)
    } else {
        once
    }
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

    #[test]
    fn longest_prefix_wins_and_only_whole_segments_match() {
        let table = table();
        let (route, rest) = table.match_path("/api/chat/admin/users").unwrap();
        assert_eq!(route.prefix, "/api/chat/admin");
        assert_eq!(rest, "/users");
        let (route, rest) = table.match_path("/api/chat").unwrap();
        assert_eq!(route.prefix, "/api/chat");
        assert_eq!(rest, "");
        assert!(table.match_path("/api/chatX").is_none());
        assert!(table.match_path("/api/chat-admin").is_none());
    }

    #[test]
    fn rest_of_path_and_query_are_appended_to_the_upstream() {
        let table = table();
        let (route, rest) = table.match_path("/api/chat/stream").unwrap();
        assert_eq!(
            route.upstream_url(rest, Some("a=1&b=2")).unwrap(),
            "http://chat.internal:9000/v1/stream?a=1&b=2"
        );
        let (route, rest) = table.match_path("/api/analytics").unwrap();
        assert_eq!(
            route.upstream_url(rest, None).unwrap(),
            "http://analytics.internal/"
        );
        let (route, rest) = table.match_path("/api/analytics/x").unwrap();
        assert_eq!(
            route.upstream_url(rest, None).unwrap(),
            "http://analytics.internal/x"
        );
    }

    #[test]
    fn encoded_dot_segments_never_climb_above_the_upstream_path() {
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
        ] {
            let (route, rest) = table.match_path(path).unwrap();
            assert_eq!(
                route.upstream_url(rest, None),
                Err(PathRejection::DotSegment),
                "{path}"
            );
        }
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
        ];
        for (routes, key) in cases {
            assert_eq!(RouteTable::from_raw(routes).unwrap_err().key, key);
        }
    }
}
