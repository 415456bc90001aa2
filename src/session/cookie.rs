//! The session's sealed-cookie form, with the login and CSRF cookies: where sealed values meet
//! HTTP. Reading never fails loudly: a cookie that does not open is "no session" and is cleared.

use super::csrf::XSRF_COOKIE;
use super::{LoginState, Session};
use crate::config::{SameSite, SessionConfig};
use crate::cookies::{CookieAttributes, RequestCookies, ResponseCookies};
use crate::oidc::callback::FLOW_LIFETIME;
use crate::seal::{self, ChunkError, KeyRing};
use std::sync::Arc;
/// Most sign-in flows (login cookies) a browser keeps at once: enough for a few tabs signing in
/// together, few enough that abandoned ones cannot grow the `Cookie` header without bound.
pub const MAX_LOGIN_FLOWS: usize = 4;

/// What a request's session cookies hold.
#[derive(Debug)]
pub enum SessionRead {
    /// No session cookie at all.
    Absent,
    /// Cookies present that do not open (tampered, truncated, unknown key, other schema):
    /// treated as no session, and cleared.
    Invalid(&'static str),
    /// A session (shared with the cache of opened sessions).
    Valid(Arc<Session>),
}

/// The session is too large for the configured number of cookies.
#[derive(Debug, thiserror::Error)]
#[error("the session needs {bytes} bytes of cookies, more than session.max_chunks = {max_chunks} cookies can hold")]
pub struct SessionTooLarge {
    /// Sealed size.
    pub bytes: usize,
    /// The configured ceiling.
    pub max_chunks: usize,
}

/// Reads and writes the service's cookies.
pub struct SessionCookies {
    /// The key ring, replaced as a whole when the keys file changes (see
    /// [`SessionCookies::replace_keys`]); readers take a snapshot per use.
    ring: arc_swap::ArcSwap<KeyRing>,
    /// What binds seals to this deployment (kept to build the next ring).
    binding: Vec<u8>,
    /// Sessions already opened, by their exact sealed value (see [`SessionCookies::read`]).
    opened: Option<quick_cache::sync::Cache<String, Arc<Session>>>,
    /// Opens (from the cookie or the cache) and written cookie sizes, when wired.
    metrics: Option<Arc<crate::metrics::Metrics>>,
    name: String,
    login_prefix: String,
    same_site: &'static str,
    max_chunks: usize,
    lifetime: i64,
}

impl std::fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookies")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SessionCookies {
    /// From the `[session]` configuration, bound to one deployment (see
    /// [`seal::deployment_binding`]).
    pub fn new(config: &SessionConfig, binding: &[u8]) -> Self {
        SessionCookies {
            ring: arc_swap::ArcSwap::from_pointee(KeyRing::new(&config.keys, binding)),
            binding: binding.to_vec(),
            opened: (config.open_cache > 0)
                .then(|| quick_cache::sync::Cache::new(config.open_cache)),
            metrics: None,
            login_prefix: format!("{}-login-", config.cookie_name),
            name: config.cookie_name.clone(),
            same_site: match config.same_site {
                SameSite::Strict => "Strict",
                SameSite::Lax => "Lax",
                SameSite::None => "None",
            },
            max_chunks: config.max_chunks,
            lifetime: config.absolute_lifetime.as_secs() as i64,
        }
    }

    /// Counts opens and written cookie sizes in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count_open(&self, from: &'static str) {
        if let Some(metrics) = &self.metrics {
            metrics.session_opened(from);
        }
    }

    /// The key ring in force (for sealing, opening, and tests that craft cookies).
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Puts new keys in force at once: the first seals from now on, all open, and a key no
    /// longer listed stops opening. Sessions opened under the old keys are forgotten, so a
    /// cookie sealed with a removed key cannot open from the cache either.
    pub fn replace_keys(&self, keys: &[[u8; 32]]) {
        self.ring.store(Arc::new(KeyRing::new(keys, &self.binding)));
        if let Some(cache) = &self.opened {
            cache.clear();
        }
    }

    fn session_attributes(&self, max_age: Option<i64>) -> CookieAttributes {
        CookieAttributes {
            http_only: true,
            same_site: self.same_site,
            max_age,
        }
    }

    /// Opens the session from the request's cookies.
    ///
    /// A sealed value is opened once: the result is kept in a bounded cache keyed by the
    /// exact value (hashed with a per-process random key, compared in full), so only the
    /// very same cookie hits; a hit is the session as sealed, and every lifetime rule is still
    /// evaluated on it by the guard, request after request.
    pub fn read(&self, cookies: &RequestCookies) -> SessionRead {
        let sealed = match seal::reassemble(&self.name, cookies.iter(), self.max_chunks) {
            Ok(sealed) => sealed,
            Err(ChunkError::Absent) => return SessionRead::Absent,
            Err(ChunkError::Inconsistent) => return SessionRead::Invalid("inconsistent chunks"),
        };
        if let Some(session) = self.opened.as_ref().and_then(|c| c.get(sealed.as_ref())) {
            self.count_open("cache");
            return SessionRead::Valid(session);
        }
        let session = match self.ring.load().open(&self.name, &sealed) {
            Ok(bytes) => match Session::from_bytes(&bytes) {
                Some(session) => Arc::new(session),
                None => return SessionRead::Invalid("unreadable payload"),
            },
            Err(seal::OpenError::Malformed) => return SessionRead::Invalid("malformed"),
            Err(seal::OpenError::UnknownVersion) => return SessionRead::Invalid("unknown version"),
            Err(seal::OpenError::UnknownKey) => return SessionRead::Invalid("unknown key"),
            Err(seal::OpenError::Forged) => return SessionRead::Invalid("forged or damaged"),
            Err(seal::OpenError::Corrupt) => return SessionRead::Invalid("corrupt"),
        };
        if let Some(cache) = &self.opened {
            cache.insert(sealed.into_owned(), session.clone());
        }
        self.count_open("cookie");
        SessionRead::Valid(session)
    }

    /// Forgets the opened session of these cookies (it ended: the cookie is being cleared).
    pub fn forget(&self, cookies: &RequestCookies) {
        if let (Some(cache), Ok(sealed)) = (
            &self.opened,
            seal::reassemble(&self.name, cookies.iter(), self.max_chunks),
        ) {
            cache.remove(sealed.as_ref());
        }
    }

    /// Seals `session` into as few cookies as it needs, expires the request's leftover chunks
    /// (a session that shrank must not leave a stale `.2` behind), and refreshes the CSRF cookie.
    /// Returns the number of cookies and their total size in bytes (name and value).
    pub fn write(
        &self,
        request: &RequestCookies,
        out: &ResponseCookies,
        session: &Session,
        now: i64,
    ) -> Result<(usize, usize), SessionTooLarge> {
        let payload = session.to_bytes();
        let too_large = |bytes| SessionTooLarge {
            bytes,
            max_chunks: self.max_chunks,
        };
        let sealed = self
            .ring
            .load()
            .seal(&self.name, &payload)
            .map_err(|_| too_large(payload.len()))?;
        let chunks =
            seal::chunk(&self.name, &sealed, self.max_chunks).ok_or(too_large(sealed.len()))?;
        if let Some(cache) = &self.opened {
            // The browser's next request carries this value: it need not be opened again.
            cache.insert(sealed, Arc::new(session.clone()));
        }
        let max_age = Some(session.login_at + self.lifetime - now);
        for (name, value) in &chunks {
            out.set(name, value, self.session_attributes(max_age));
        }
        for (name, _) in request.iter() {
            if self.is_session_cookie(name) && !chunks.iter().any(|(n, _)| n == name) {
                out.expire(name, self.session_attributes(None));
            }
        }
        self.ensure_csrf_cookie(request, out, session, now);
        let total = chunks.iter().map(|(n, v)| n.len() + 1 + v.len()).sum();
        if let Some(metrics) = &self.metrics {
            metrics.cookie_written(total);
        }
        Ok((chunks.len(), total))
    }

    /// Makes sure the browser holds this session's CSRF cookie (it may have been deleted), and
    /// returns the token.
    pub fn ensure_csrf_cookie(
        &self,
        request: &RequestCookies,
        out: &ResponseCookies,
        session: &Session,
        now: i64,
    ) -> String {
        let csrf = self.csrf_token(session);
        if request.get(XSRF_COOKIE) != Some(csrf.as_str()) {
            self.set_csrf_cookie(out, &csrf, Some(session.login_at + self.lifetime - now));
        }
        csrf
    }

    fn set_csrf_cookie(&self, out: &ResponseCookies, csrf: &str, max_age: Option<i64>) {
        out.set(
            XSRF_COOKIE,
            csrf,
            CookieAttributes {
                http_only: false,
                same_site: "Strict",
                max_age,
            },
        );
    }

    /// Expires every session cookie and chunk the request carried, and the CSRF cookie; the
    /// session they held is over, so it leaves the cache of opened sessions too.
    pub fn clear(&self, request: &RequestCookies, out: &ResponseCookies) {
        self.forget(request);
        let mut cleared = false;
        for (name, _) in request.iter() {
            if self.is_session_cookie(name) {
                out.expire(name, self.session_attributes(None));
                cleared = true;
            }
        }
        if !cleared {
            out.expire(&self.name, self.session_attributes(None));
        }
        if request.get(XSRF_COOKIE).is_some() {
            out.expire(
                XSRF_COOKIE,
                CookieAttributes {
                    http_only: false,
                    same_site: "Strict",
                    max_age: None,
                },
            );
        }
    }

    fn is_session_cookie(&self, name: &str) -> bool {
        name == self.name
            || name
                .strip_prefix(self.name.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The CSRF token bound to this session (see [`super::csrf`]).
    pub fn csrf_token(&self, session: &Session) -> String {
        super::csrf::token(&self.ring.load(), session)
    }

    /// Whether `header` is this session's CSRF token (see [`super::csrf`]).
    pub fn verify_csrf(&self, session: &Session, header: Option<&str>) -> bool {
        super::csrf::verify(&self.ring.load(), session, header)
    }

    /// The login cookie's name for a flow, keyed by its state so parallel tabs do not collide.
    fn login_cookie_name(&self, state: &str) -> String {
        let key: String = state
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        format!("{}{key}", self.login_prefix)
    }

    /// Seals the login state into its own short-lived `SameSite=Lax` cookie (the SSO's redirect
    /// back is a cross-site navigation, which `Strict` would not accompany), and expires the
    /// oldest flows beyond [`MAX_LOGIN_FLOWS`]: abandoned sign-ins must not pile up cookies
    /// until proxies refuse the site's requests.
    pub fn write_login(
        &self,
        request: &RequestCookies,
        out: &ResponseCookies,
        mut login: LoginState,
    ) {
        let name = self.login_cookie_name(&login.flow.state);
        let mut flows = self.login_flows(request, &name);
        login.sequence = flows.iter().map(|(seq, _)| seq + 1).max().unwrap_or(0);
        // A login state is a few hundred bytes (returnTo is capped): it always seals.
        let Ok(sealed) = self.ring.load().seal(&name, &login.to_bytes()) else {
            return;
        };
        out.set(
            &name,
            &sealed,
            login_attributes(Some(FLOW_LIFETIME.as_secs() as i64)),
        );
        // Unreadable flows sort first (sequence 0 is never newer than a readable one's).
        flows.sort_unstable();
        let excess = (flows.len() + 1).saturating_sub(MAX_LOGIN_FLOWS);
        for (_, stale) in flows.into_iter().take(excess) {
            out.expire(stale, login_attributes(None));
        }
    }

    /// The request's other login cookies with their sequence (0 when they do not open).
    fn login_flows<'a>(&self, request: &'a RequestCookies, except: &str) -> Vec<(u64, &'a str)> {
        request
            .iter()
            .filter(|(name, _)| name.starts_with(&self.login_prefix) && *name != except)
            .map(|(name, value)| {
                let sequence = self
                    .ring
                    .load()
                    .open(name, value)
                    .ok()
                    .and_then(|bytes| LoginState::from_bytes(&bytes))
                    .map_or(0, |login| login.sequence);
                (sequence, name)
            })
            .collect()
    }

    /// Opens the login state for `state` and expires its cookie. `None` when there is no such
    /// flow, its cookie does not open, or the state inside differs.
    pub fn take_login(
        &self,
        request: &RequestCookies,
        out: &ResponseCookies,
        state: &str,
    ) -> Option<LoginState> {
        use subtle::ConstantTimeEq;
        let name = self.login_cookie_name(state);
        let sealed = request.get(&name)?;
        out.expire(&name, login_attributes(None));
        let login = LoginState::from_bytes(&self.ring.load().open(&name, sealed).ok()?)?;
        bool::from(login.flow.state.as_bytes().ct_eq(state.as_bytes())).then_some(login)
    }
}

fn login_attributes(max_age: Option<i64>) -> CookieAttributes {
    CookieAttributes {
        http_only: true,
        same_site: "Lax",
        max_age,
    }
}
