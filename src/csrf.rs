//! The `Origin` layer of CSRF protection. (The token layer — `XSRF-TOKEN` cookie bound to the
//! session, `X-XSRF-TOKEN` header — lives with the session cookies.)

use crate::config::Config;
use poem::http::{header, HeaderMap, Method};

/// Whether `method` changes state and so needs the CSRF header.
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the request's `Origin` (when sent) is ours or an allowed SPA origin. Browsers send
/// `Origin` on every cross-origin request and on same-origin unsafe ones; its absence means a
/// same-origin navigation or a non-browser client, which the CSRF header still guards.
pub fn origin_allowed(config: &Config, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => true,
        Some(Ok(origin)) => {
            origin == config.server.public_url
                || config.cors.allowed_origins.iter().any(|o| o == origin)
        }
        Some(Err(_)) => false,
    }
}
