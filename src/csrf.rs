//! Cross-site request forgery defences, all in one place: where a request comes from (`Origin`
//! and the browser's fetch metadata, `Sec-Fetch-Site`) and whether it carries this session's
//! `X-XSRF-TOKEN`. The token itself is minted with the session cookies.
//!
//! Policy, for relayed API calls (every method) and `POST /api/logout`:
//! - an `Origin` header, when sent, must be `server.public_url` or one of
//!   `cors.allowed_origins` (`null` is refused);
//! - `Sec-Fetch-Site: same-site` or `cross-site` is accepted only together with an allowed
//!   cross-site `Origin` (an SPA on another site, cross-site mode); a sibling app on another
//!   subdomain is *same-site* and would otherwise carry even a `Strict` cookie;
//! - unsafe methods (POST, PUT, PATCH, DELETE, ...) need `X-XSRF-TOKEN` equal to the session's
//!   token, which only a script on an allowed origin can read (or get from `/api/session`).

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::session::cookie::SessionCookies;
use crate::session::csrf::XSRF_HEADER;
use crate::session::Session;
use poem::http::{header, HeaderMap, Method};

/// Whether `method` changes state and so needs the CSRF header.
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Where the browser says a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provenance {
    /// No `Origin`: a same-origin navigation, or not a browser (the CSRF header still guards).
    Unstated,
    /// Our own origin.
    SameOrigin,
    /// An SPA on another site listed in `cors.allowed_origins`.
    AllowedCrossSite,
    /// Anything else, `null` included.
    Foreign,
}

fn provenance(config: &Config, headers: &HeaderMap) -> Provenance {
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => Provenance::Unstated,
        Some(Ok(origin)) if origin == config.server.public_url => Provenance::SameOrigin,
        Some(Ok(origin)) if config.cors.allowed_origins.iter().any(|o| o == origin) => {
            Provenance::AllowedCrossSite
        }
        Some(_) => Provenance::Foreign,
    }
}

/// Refuses a request whose `Origin` or `Sec-Fetch-Site` says it was sent by a page that is
/// neither ours nor an allowed SPA (see the module documentation).
pub fn check_request_origin(config: &Config, headers: &HeaderMap) -> Result<(), Error> {
    let origin = provenance(config, headers);
    if origin == Provenance::Foreign {
        return Err(Error::new(
            ErrorKind::CsrfRejected,
            "the request's Origin is not allowed",
        ));
    }
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    let cross = matches!(site, Some(b"same-site" | b"cross-site"));
    if cross && origin != Provenance::AllowedCrossSite {
        return Err(Error::new(
            ErrorKind::CsrfRejected,
            "the request comes from another site",
        ));
    }
    Ok(())
}

/// Refuses an unsafe request without this session's `X-XSRF-TOKEN`.
pub fn check_token(
    cookies: &SessionCookies,
    session: &Session,
    headers: &HeaderMap,
) -> Result<(), Error> {
    let header = headers.get(XSRF_HEADER).and_then(|v| v.to_str().ok());
    if cookies.verify_csrf(session, header) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::CsrfRejected,
            format!("missing or invalid {XSRF_HEADER} header"),
        ))
    }
}
