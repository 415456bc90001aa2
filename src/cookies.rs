//! Request and response cookies without a jar: a middleware parses the request's `Cookie`
//! headers once and appends whatever `Set-Cookie` lines the handler queued, on success and on
//! error responses alike (a 401 must still clear a bad cookie).

use poem::http::{header, HeaderValue};
use poem::{Endpoint, IntoResponse, Request, Response};
use std::sync::Mutex;

/// The cookies a request carried, in order.
#[derive(Debug, Default, Clone)]
pub struct RequestCookies {
    pairs: Vec<(String, String)>,
}

impl RequestCookies {
    /// Parses every `Cookie` header; malformed pairs are skipped.
    pub fn from_request(req: &Request) -> Self {
        let mut pairs = Vec::new();
        for value in req.headers().get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for pair in text.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    let value = value.trim().trim_matches('"');
                    pairs.push((name.trim().to_string(), value.to_string()));
                }
            }
        }
        RequestCookies { pairs }
    }

    /// The first value of cookie `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)` pair.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Attributes of a cookie we set. Every cookie is `Secure; Path=/` with no `Domain`, as the
/// `__Host-` prefix requires.
#[derive(Debug, Clone, Copy)]
pub struct CookieAttributes {
    /// Hidden from scripts.
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`.
    pub same_site: &'static str,
    /// Seconds to live; `None` for a browser-session cookie.
    pub max_age: Option<i64>,
}

/// `Set-Cookie` lines queued by a handler.
#[derive(Debug, Default)]
pub struct ResponseCookies {
    lines: Mutex<Vec<String>>,
}

impl ResponseCookies {
    /// Queues `name=value` with `attributes`.
    pub fn set(&self, name: &str, value: &str, attributes: CookieAttributes) {
        let mut line = format!("{name}={value}; Path=/; Secure");
        if attributes.http_only {
            line.push_str("; HttpOnly");
        }
        line.push_str("; SameSite=");
        line.push_str(attributes.same_site);
        if let Some(max_age) = attributes.max_age {
            line.push_str(&format!("; Max-Age={}", max_age.max(0)));
        }
        self.push(line);
    }

    /// Queues the expiry of cookie `name` (same attributes, so browsers accept the removal).
    pub fn expire(&self, name: &str, attributes: CookieAttributes) {
        self.set(
            name,
            "",
            CookieAttributes {
                max_age: Some(0),
                ..attributes
            },
        );
    }

    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(line);
    }

    /// The queued lines (for tests and diagnostics).
    pub fn pending(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .lines
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// Wraps an endpoint: request cookies in, queued `Set-Cookie` lines out.
pub async fn cookie_layer<E: Endpoint>(
    ep: std::sync::Arc<E>,
    mut req: Request,
) -> poem::Result<Response> {
    let cookies = RequestCookies::from_request(&req);
    let out = std::sync::Arc::new(ResponseCookies::default());
    req.extensions_mut().insert(cookies);
    req.extensions_mut().insert(out.clone());
    let mut response = match ep.call(req).await {
        Ok(response) => response.into_response(),
        Err(error) => error.into_response(),
    };
    for line in out.take() {
        if let Ok(value) = HeaderValue::from_str(&line) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}
