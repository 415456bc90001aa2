//! `returnTo`: where the browser goes after login. Only local paths are accepted, so the login
//! endpoint can never be turned into an open redirect.

use crate::routes::path::CanonicalPath;
use crate::routes::{RouteTable, OWN_PATHS};
use std::fmt;

/// A validated local path (starts with one `/`, no `//`, no `\`, no scheme, no control
/// characters or whitespace that browsers would strip into something else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

/// Longest `returnTo` accepted.
const MAX_LEN: usize = 2048;

impl ReturnTo {
    /// Validates `text`; the error says why, for the 400 answer.
    pub fn parse(text: &str) -> Result<ReturnTo, &'static str> {
        if text.len() > MAX_LEN {
            return Err("returnTo is too long");
        }
        if !text.starts_with('/') {
            return Err("returnTo must be a local path starting with /");
        }
        if text.starts_with("//") {
            return Err("returnTo must not start with // (that is another site)");
        }
        if text.contains('\\') {
            return Err("returnTo must not contain a backslash");
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("returnTo must not contain whitespace or control characters");
        }
        let path_end = text.find(['?', '#']).unwrap_or(text.len());
        if text[..path_end].contains("//") {
            return Err("returnTo must not contain //");
        }
        if text[..path_end].contains(':') {
            return Err("returnTo must not contain a scheme");
        }
        Ok(ReturnTo(text.to_string()))
    }

    /// Refuses a path the BFF answers itself or relays: after sign-in the browser lands on the
    /// app, never on an API (the same-site hop page would navigate there with the session) or
    /// on `/api/logout`. Judged on the path's canonical spelling, letter case aside.
    pub fn outside_apis(self, routes: &RouteTable) -> Result<ReturnTo, &'static str> {
        let path = &self.0[..self.0.find(['?', '#']).unwrap_or(self.0.len())];
        let lower = path.to_ascii_lowercase();
        let own = OWN_PATHS
            .iter()
            .any(|own| lower == *own || lower.starts_with(&format!("{own}/")));
        let under_api = lower == "/api" || lower.starts_with("/api/") || lower.starts_with("/api;");
        let decoded_api = CanonicalPath::parse(path)
            .map(|c| c.as_str().to_ascii_lowercase())
            .map_or(true, |c| c == "/api" || c.starts_with("/api/"));
        if own || under_api || decoded_api || routes.covers(path) {
            return Err("returnTo must be a page of the app, not an API or BFF endpoint");
        }
        Ok(self)
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ReturnTo {
    fn default() -> Self {
        ReturnTo("/".into())
    }
}

impl fmt::Display for ReturnTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_accepted() {
        for ok in ["/", "/reports?id=3", "/a/b#frag", "/chat?next=https://x"] {
            assert_eq!(ReturnTo::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn hostile_values_are_refused() {
        for bad in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "javascript:alert(1)",
            "/javascript:alert(1)",
            "evil.example",
            "/a//b",
            " /",
        ] {
            assert!(ReturnTo::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ReturnTo::parse(&format!("/{}", "a".repeat(3000))).is_err());
    }

    #[test]
    fn apis_and_bff_endpoints_are_no_place_to_return_to() {
        let routes = RouteTable::default();
        for bad in [
            "/api/chat/x",
            "/api",
            "/API/chat",
            "/api/logout?sid=x",
            "/%61pi/chat",
            "/docs",
            "/metrics",
            "/healthz",
        ] {
            let parsed = ReturnTo::parse(bad).unwrap();
            assert!(parsed.outside_apis(&routes).is_err(), "{bad}");
        }
        for good in [
            "/",
            "/chat",
            "/analytics?x=/api/chat",
            "/apis",
            "/reports/3#api",
        ] {
            let parsed = ReturnTo::parse(good).unwrap();
            assert!(parsed.outside_apis(&routes).is_ok(), "{good}");
        }
    }
}
