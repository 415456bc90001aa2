//! Security headers, set in one place on every response by what kind of response it is.
//!
//! - every response: `X-Content-Type-Options: nosniff`;
//! - the BFF's own endpoints (and every error): `Cache-Control: no-store` (they are about one
//!   user's session) and `Referrer-Policy: no-referrer`;
//! - the single-page app served from `server.static_dir`: `Content-Security-Policy`
//!   (`server.content_security_policy`, which includes `frame-ancestors 'none'`) and
//!   `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`;
//! - relayed answers keep the upstream's caching and referrer headers.

use crate::config::ServerConfig;
use poem::http::{header, HeaderValue};
use poem::Response;

pub use crate::config::DEFAULT_CSP;

/// What produced a response, recorded by the dispatcher in the request's facts
/// (`Facts::answered_by`), not in the response's extensions, whose map would be three more
/// allocations per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseClass {
    /// The BFF's own endpoints, errors included (the default when nothing is recorded).
    Bff,
    /// A relayed upstream answer.
    Relayed,
    /// A file of the single-page app.
    App,
}

/// The headers to set, built once from the configuration.
pub struct SecurityHeaders {
    csp: HeaderValue,
}

impl SecurityHeaders {
    /// From `[server]`.
    pub fn new(server: &ServerConfig) -> Self {
        SecurityHeaders {
            csp: HeaderValue::from_str(&server.content_security_policy)
                .unwrap_or_else(|_| HeaderValue::from_static(DEFAULT_CSP)),
        }
    }

    /// Sets the headers on `response`, by the class of what produced it.
    pub fn set(&self, response: &mut Response, class: ResponseClass) {
        let headers = response.headers_mut();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        match class {
            ResponseClass::Bff => {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
            }
            ResponseClass::App => {
                headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
                headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            }
            ResponseClass::Relayed => {}
        }
    }
}
