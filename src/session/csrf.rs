//! The CSRF token bound to a session: an HMAC of the session id under the sealing key, which
//! only pages that can read our `XSRF-TOKEN` cookie (or `/api/session`) learn, and which no
//! other session's token can stand in for. Where it is required is decided by the top-level
//! `csrf` module, with the other CSRF checks.

use super::Session;
use crate::seal::KeyRing;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The script-readable CSRF cookie, named as Angular's `HttpClient` expects.
pub const XSRF_COOKIE: &str = "XSRF-TOKEN";
/// The header Angular sends it back in.
pub const XSRF_HEADER: &str = "X-XSRF-TOKEN";
const CSRF_LABEL: &[u8] = b"oidc-bff csrf v1";

/// The token of `session`, under the ring's sealing key.
pub fn token(ring: &KeyRing, session: &Session) -> String {
    URL_SAFE_NO_PAD.encode(ring.mac(CSRF_LABEL, &session.sid))
}

/// Whether `header` is `session`'s token under any key of the ring (a token minted before a
/// key rotation stays valid while its key is in the ring).
pub fn verify(ring: &KeyRing, session: &Session, header: Option<&str>) -> bool {
    let Some(tag) = header.and_then(|h| URL_SAFE_NO_PAD.decode(h.trim()).ok()) else {
        return false;
    };
    ring.verify_mac(CSRF_LABEL, &session.sid, &tag)
}
