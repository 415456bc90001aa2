//! The session: everything about a signed-in user, in one place.
//!
//! - this file: the value that travels sealed in the cookie ([`Session`], built by one
//!   [`Session::from_tokens`] at sign-in and after every refresh), the sign-in flow's
//!   [`LoginState`], and the lifetime rules;
//! - [`cookie`]: their sealed-cookie form (chunks, login cookies, clearing);
//! - [`csrf`]: the CSRF token bound to a session;
//! - [`refresh`]: the single flight that makes one SSO call per refresh token;
//! - [`guard`]: the phases every request that needs the session runs through.
//!
//! Stored compactly because cookies are small: a JWT is kept as its decoded segment bytes (its
//! JSON compresses well once it is not base64 text), opaque tokens as they are, and nothing that
//! can be rebuilt (user claims are read back from the ID token when asked for).

pub mod cookie;
pub mod csrf;
pub mod guard;
pub mod refresh;

use crate::config::RolesConfig;
use crate::oidc::authorize::Flow;
use crate::oidc::tokens::TokenSet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::time::Duration;

/// Bumped whenever [`Session`] or [`LoginState`] change shape; older cookies then read as no
/// session instead of being misread.
const SCHEMA: u8 = 2;

/// A token kept in its most compact lossless form.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompactToken {
    /// A JWS in compact serialization, as the decoded bytes of its three segments.
    Jwt {
        /// Decoded protected header (JSON).
        header: ByteBuf,
        /// Decoded payload (JSON for JWTs).
        payload: ByteBuf,
        /// Signature bytes.
        signature: ByteBuf,
    },
    /// Anything else, verbatim.
    Opaque(String),
}

impl std::fmt::Debug for CompactToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompactToken([redacted])")
    }
}

impl CompactToken {
    /// Stores `token` as JWT segments when that round-trips exactly, else verbatim.
    pub fn new(token: &str) -> Self {
        let mut segments = token.split('.');
        if let (Some(h), Some(p), Some(s), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            let decoded = (
                URL_SAFE_NO_PAD.decode(h),
                URL_SAFE_NO_PAD.decode(p),
                URL_SAFE_NO_PAD.decode(s),
            );
            if let (Ok(header), Ok(payload), Ok(signature)) = decoded {
                let compact = CompactToken::Jwt {
                    header: ByteBuf::from(header),
                    payload: ByteBuf::from(payload),
                    signature: ByteBuf::from(signature),
                };
                // Non-canonical base64 would not survive re-encoding: keep such tokens verbatim.
                if compact.expose() == token {
                    return compact;
                }
            }
        }
        CompactToken::Opaque(token.to_string())
    }

    /// The token text as the SSO issued it. Only for sending to the SSO or an upstream.
    pub fn expose(&self) -> String {
        match self {
            CompactToken::Jwt {
                header,
                payload,
                signature,
            } => {
                let mut out = String::with_capacity(
                    (header.len() + payload.len() + signature.len()) * 4 / 3 + 4,
                );
                URL_SAFE_NO_PAD.encode_string(header, &mut out);
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(payload, &mut out);
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(signature, &mut out);
                out
            }
            CompactToken::Opaque(text) => text.clone(),
        }
    }

    /// `Bearer <token>` as a header value, built without an intermediate string (the relay
    /// sends it on every request). `None` only for a token with bytes a header cannot carry.
    pub fn bearer_header(&self) -> Option<poem::http::HeaderValue> {
        let mut value = bytes::BytesMut::with_capacity(self.text_len() + 7);
        value.extend_from_slice(b"Bearer ");
        match self {
            CompactToken::Jwt {
                header,
                payload,
                signature,
            } => {
                let mut text = String::with_capacity(self.text_len());
                for (i, part) in [header, payload, signature].into_iter().enumerate() {
                    if i > 0 {
                        text.push('.');
                    }
                    URL_SAFE_NO_PAD.encode_string(part, &mut text);
                }
                value.extend_from_slice(text.as_bytes());
            }
            CompactToken::Opaque(text) => value.extend_from_slice(text.as_bytes()),
        }
        let mut value = poem::http::HeaderValue::from_maybe_shared(value.freeze()).ok()?;
        // Kept with the opened session now: should it ever be formatted, it shows as
        // `Sensitive`, never as the token.
        value.set_sensitive(true);
        Some(value)
    }

    /// The length of the token's text.
    fn text_len(&self) -> usize {
        match self {
            CompactToken::Jwt {
                header,
                payload,
                signature,
            } => (header.len() + payload.len() + signature.len()).div_ceil(3) * 4 + 2,
            CompactToken::Opaque(text) => text.len(),
        }
    }

    /// The JSON claims of a JWT (unverified: only call on tokens verified when received, or
    /// where the claims are advisory, like an access token's roles).
    pub fn jwt_claims(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        match self {
            CompactToken::Jwt { payload, .. } => serde_json::from_slice(payload).ok(),
            CompactToken::Opaque(_) => None,
        }
    }
}

/// Everything the BFF knows about a signed-in user, sealed in the session cookie.
#[derive(Clone, Serialize, Deserialize, Debug)]
pub struct Session {
    /// Our own random session id: binds the CSRF token and authorizes logout by GET.
    pub sid: [u8; 16],
    /// Unix seconds of the login (for `absolute_lifetime`).
    pub login_at: i64,
    /// Unix seconds of the last time the cookie was re-issued (for `idle_timeout`).
    pub last_seen: i64,
    /// The access token, relayed to upstreams.
    pub access_token: CompactToken,
    /// Unix seconds when the access token expires (from `expires_in`; tokens may be opaque).
    pub access_expires_at: i64,
    /// The refresh token, if the SSO issued one.
    pub refresh_token: Option<CompactToken>,
    /// The ID token, verified at login or refresh.
    pub id_token: CompactToken,
    /// Roles read from the configured claim paths when the tokens were obtained.
    pub roles: Vec<String>,
    /// The ID token's claims, parsed the first time they are asked for. Not sealed: rebuilt
    /// from the ID token, and kept with an opened session so that `/api/session` does not parse
    /// the same JSON on every request.
    #[serde(skip)]
    pub claims: ClaimsOnce,
    /// What `/api/session` answers for this session, serialized the first time it is asked
    /// for. Not sealed: everything in it follows from the session and the configuration, so an
    /// opened session answers with the same bytes until it is replaced (refresh, slide).
    #[serde(skip)]
    pub described: DescribedOnce,
    /// The access token as the relay's `Authorization` header, built the first time a request
    /// is relayed with this opened session. Not sealed, for the same reason.
    #[serde(skip)]
    pub bearer: BearerOnce,
    /// The DPoP key (`oidc.dpop`). Sealed after the fields above, and only when present, so
    /// the sealed form of a session without DPoP is exactly what it was before DPoP existed.
    #[serde(skip)]
    pub dpop: Option<crate::oidc::dpop::DpopKey>,
}

/// A value computed once from an opened session and kept with it while it is cached. A clone
/// starts empty: a changed copy of a session (slid, refreshed) must compute it anew.
pub struct Derived<T>(std::sync::OnceLock<T>);

/// The serialized description of an opened session (what `/api/session` answers).
pub type DescribedOnce = Derived<bytes::Bytes>;

/// The `Authorization` header an opened session's access token is relayed with, built (the
/// token's three segments encoded again, several kilobytes) once rather than per request;
/// `None` inside for a token a header cannot carry.
pub type BearerOnce = Derived<Option<poem::http::HeaderValue>>;

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Derived(std::sync::OnceLock::new())
    }
}

impl<T> Clone for Derived<T> {
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl<T: Clone> Derived<T> {
    /// Forgets the value (the session it came from was changed in place).
    pub fn clear(&mut self) {
        *self = Derived::default();
    }

    /// The value, computed by `derive` the first time.
    pub fn get_or_init(&self, derive: impl FnOnce() -> T) -> T {
        self.0.get_or_init(derive).clone()
    }
}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived(..)")
    }
}

/// The ID token's parsed claims, computed once per opened session.
pub type ClaimsOnce = Derived<std::sync::Arc<serde_json::Map<String, serde_json::Value>>>;

/// What the login cookie carries between `/api/login` and `/api/callback`.
#[derive(Clone, Serialize, Deserialize, Debug)]
pub struct LoginState {
    /// The protocol secrets of the sign-in (state, nonce, PKCE verifier, start time).
    pub flow: Flow,
    /// Where to send the user afterwards (already validated).
    pub return_to: String,
    /// Order among the flows of one browser (one more than the newest flow it held), so the
    /// oldest are the ones expired when too many pile up, even within one second.
    pub sequence: u64,
}

/// Serializes a schema-tagged value with postcard (compact, no field names).
fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(&(SCHEMA, value)).unwrap_or_default()
}

/// [`encode`], then the DPoP key when there is one. Without a key the bytes are exactly
/// those of [`encode`], so adding DPoP changed no existing cookie's form.
fn encode_with_tail<T: Serialize>(value: &T, tail: Option<&crate::oidc::dpop::DpopKey>) -> Vec<u8> {
    let mut bytes = encode(value);
    if let Some(key) = tail {
        match postcard::to_stdvec(key) {
            Ok(more) => bytes.extend_from_slice(&more),
            Err(_) => bytes.clear(),
        }
    }
    bytes
}

/// Reads what [`encode_with_tail`] wrote: the value, and the key when bytes follow it.
fn decode_with_tail<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
) -> Option<(T, Option<crate::oidc::dpop::DpopKey>)> {
    let ((schema, value), rest) = postcard::take_from_bytes::<(u8, T)>(bytes).ok()?;
    if schema != SCHEMA {
        return None;
    }
    let tail = match rest.is_empty() {
        true => None,
        false => Some(postcard::from_bytes(rest).ok()?),
    };
    Some((value, tail))
}

impl Session {
    /// The session the SSO's `tokens` make: at sign-in (`previous` is `None`: a new session id,
    /// signed in now) and after every refresh (`previous` is the session refreshed: same id
    /// and sign-in time; its refresh token, ID token and roles carry over when the SSO sends
    /// no new one, or when roles live in userinfo and userinfo could not be read).
    pub fn from_tokens(
        previous: Option<&Session>,
        tokens: &TokenSet,
        roles: &RolesConfig,
        now: i64,
    ) -> Session {
        let access_token = CompactToken::new(&tokens.access_token);
        let id_token = match (&tokens.id_token, previous) {
            (Some(id_token), _) => CompactToken::new(id_token),
            (None, Some(previous)) => previous.id_token.clone(),
            (None, None) => CompactToken::Opaque(String::new()),
        };
        let refresh_token = match &tokens.refresh_token {
            Some(token) => Some(CompactToken::new(token)),
            None => previous.and_then(|p| p.refresh_token.clone()),
        };
        let roles = match previous {
            Some(previous) if roles.userinfo && tokens.userinfo.is_none() => previous.roles.clone(),
            _ => roles_of(roles, &id_token, &access_token, tokens.userinfo.as_ref()),
        };
        Session {
            sid: previous.map_or_else(Session::new_sid, |p| p.sid),
            login_at: previous.map_or(now, |p| p.login_at),
            last_seen: now,
            access_token,
            access_expires_at: tokens.access_expires_at,
            refresh_token,
            id_token,
            roles,
            claims: ClaimsOnce::default(),
            described: DescribedOnce::default(),
            bearer: BearerOnce::default(),
            dpop: tokens
                .dpop
                .clone()
                .or_else(|| previous.and_then(|p| p.dpop.clone())),
        }
    }

    /// Bytes to seal.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_with_tail(self, self.dpop.as_ref())
    }

    /// Reads sealed bytes back; `None` for another schema or garbage.
    pub fn from_bytes(bytes: &[u8]) -> Option<Session> {
        let (mut session, dpop): (Session, _) = decode_with_tail(bytes)?;
        session.dpop = dpop;
        Some(session)
    }

    /// The session id as text (URL-safe).
    pub fn sid_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sid)
    }

    /// A fresh random session id.
    pub fn new_sid() -> [u8; 16] {
        rand::random()
    }

    /// When the session ends at the latest if unused: the earlier of the absolute cap and the
    /// idle deadline.
    pub fn expires_at(&self, absolute: Duration, idle: Duration) -> i64 {
        (self.login_at + absolute.as_secs() as i64).min(self.last_seen + idle.as_secs() as i64)
    }

    /// Whether the session is over at `now`.
    pub fn is_over(&self, now: i64, absolute: Duration, idle: Duration) -> bool {
        now >= self.expires_at(absolute, idle)
    }

    /// Whether the access token should be refreshed at `now`.
    pub fn access_token_due(&self, now: i64, skew: Duration) -> bool {
        now + skew.as_secs() as i64 >= self.access_expires_at
    }

    /// The verified ID token's claims (parsed once per opened session).
    pub fn id_claims(&self) -> std::sync::Arc<serde_json::Map<String, serde_json::Value>> {
        self.claims
            .get_or_init(|| std::sync::Arc::new(self.id_token.jwt_claims().unwrap_or_default()))
    }
}

impl LoginState {
    /// Bytes to seal.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_with_tail(self, self.flow.dpop.as_ref())
    }

    /// Reads sealed bytes back; `None` for another schema or garbage.
    pub fn from_bytes(bytes: &[u8]) -> Option<LoginState> {
        let (mut state, dpop): (LoginState, _) = decode_with_tail(bytes)?;
        state.flow.dpop = dpop;
        Some(state)
    }
}

/// Roles from the configured claim paths of the ID token, the access token when it is a JWT
/// (read, not verified: it came straight from the token endpoint, and it is the API's token to
/// check), and the userinfo response when `roles.userinfo` is on.
fn roles_of(
    config: &RolesConfig,
    id_token: &CompactToken,
    access_token: &CompactToken,
    userinfo: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Vec<String> {
    let id_claims = id_token.jwt_claims().unwrap_or_default();
    let access_claims = access_token.jwt_claims().unwrap_or_default();
    let mut sources = vec![&id_claims, &access_claims];
    sources.extend(userinfo);
    crate::roles::extract(&config.claims, &sources)
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session with access token `at`, ID token `id`, no refresh token and no roles, for the
    /// tests to adjust.
    fn session(login_at: i64, last_seen: i64, access_expires_at: i64) -> Session {
        Session {
            sid: [7; 16],
            login_at,
            last_seen,
            access_token: CompactToken::new("at"),
            access_expires_at,
            refresh_token: None,
            id_token: CompactToken::new("id"),
            roles: vec![],
            claims: ClaimsOnce::default(),
            described: DescribedOnce::default(),
            bearer: BearerOnce::default(),
            dpop: None,
        }
    }

    #[test]
    fn jwt_is_stored_as_segment_bytes_and_round_trips() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
        let token = CompactToken::new(jwt);
        assert!(matches!(token, CompactToken::Jwt { .. }));
        assert_eq!(token.expose(), jwt);
        assert_eq!(token.jwt_claims().unwrap()["sub"], "alice");
    }

    #[test]
    fn opaque_and_non_canonical_tokens_are_kept_verbatim() {
        for text in [
            "opaque-token-123",
            "a.b",
            "a.b.c.d.e",
            "eyJhIjoxfQ.eyJhIjoxfR.x",
        ] {
            let token = CompactToken::new(text);
            assert_eq!(token.expose(), text);
        }
        assert!(matches!(
            CompactToken::new("eyJhIjoxfQ.eyJhIjoxfR.x"),
            CompactToken::Opaque(_)
        ));
    }

    #[test]
    fn the_bearer_is_built_once_and_a_changed_copy_builds_its_own() {
        let mut session = Session {
            access_token: CompactToken::new("first"),
            ..session(100, 200, 300)
        };
        let built = || session.access_token.bearer_header();
        let first = session.bearer.get_or_init(built).unwrap();
        assert_eq!(first, "Bearer first");
        assert!(first.is_sensitive());
        assert_eq!(format!("{first:?}"), "Sensitive");
        // Kept: a later call does not build it again.
        let never = || -> Option<poem::http::HeaderValue> { panic!("built twice") };
        assert_eq!(session.bearer.get_or_init(never).unwrap(), "Bearer first");
        let mut refreshed = session.clone();
        refreshed.access_token = CompactToken::new("second");
        let built = || refreshed.access_token.bearer_header();
        assert_eq!(
            refreshed.bearer.get_or_init(built).unwrap(),
            "Bearer second"
        );
        session.bearer.clear();
        session.access_token = CompactToken::new("third");
        let built = || session.access_token.bearer_header();
        assert_eq!(session.bearer.get_or_init(built).unwrap(), "Bearer third");
    }

    #[test]
    fn session_round_trips_and_other_schemas_are_refused() {
        let session = Session {
            refresh_token: Some(CompactToken::new("rt")),
            id_token: CompactToken::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"),
            roles: vec!["analyst".into()],
            ..session(100, 200, 300)
        };
        let back = Session::from_bytes(&session.to_bytes()).unwrap();
        assert_eq!(back.sid, session.sid);
        assert_eq!(back.refresh_token, session.refresh_token);
        let mut bytes = session.to_bytes();
        bytes[0] = SCHEMA + 1;
        assert!(Session::from_bytes(&bytes).is_none());
        assert!(LoginState::from_bytes(&session.to_bytes()).is_none());
    }

    #[test]
    fn lifetime_rules() {
        let session = session(1000, 5000, 6000);
        let (abs, idle) = (Duration::from_secs(8000), Duration::from_secs(3600));
        assert_eq!(session.expires_at(abs, idle), 8600);
        assert!(!session.is_over(8599, abs, idle));
        assert!(session.is_over(8600, abs, idle));
        let short_abs = Duration::from_secs(5000);
        assert!(session.is_over(6000, short_abs, idle));
        assert!(!session.access_token_due(5939, Duration::from_secs(60)));
        assert!(session.access_token_due(5940, Duration::from_secs(60)));
    }

    fn jwt(claims: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(claims.as_bytes())
        )
    }

    fn tokens(access: &str, refresh: Option<&str>, id: Option<String>) -> TokenSet {
        TokenSet {
            access_token: access.into(),
            access_expires_at: 1_000,
            refresh_token: refresh.map(String::from),
            id_token: id,
            userinfo: None,
            dpop: None,
        }
    }

    fn roles(userinfo: bool) -> RolesConfig {
        RolesConfig {
            claims: vec!["roles".into()],
            userinfo,
        }
    }

    #[test]
    fn from_tokens_starts_a_session_at_sign_in() {
        let id = jwt(r#"{"sub":"alice","roles":["analyst"]}"#);
        let session = Session::from_tokens(
            None,
            &tokens("at", Some("rt"), Some(id)),
            &roles(false),
            500,
        );
        assert_eq!((session.login_at, session.last_seen), (500, 500));
        assert_eq!(session.roles, ["analyst"]);
        assert_eq!(session.refresh_token, Some(CompactToken::new("rt")));
    }

    #[test]
    fn from_tokens_after_a_refresh_keeps_the_session_and_what_the_sso_did_not_renew() {
        let id = jwt(r#"{"sub":"alice","roles":["analyst"]}"#);
        let first = Session::from_tokens(
            None,
            &tokens("at1", Some("rt1"), Some(id)),
            &roles(false),
            500,
        );
        // No rotated refresh token, no new ID token: both carry over; roles are recomputed.
        let second =
            Session::from_tokens(Some(&first), &tokens("at2", None, None), &roles(false), 900);
        assert_eq!(second.sid, first.sid);
        assert_eq!((second.login_at, second.last_seen), (500, 900));
        assert_eq!(second.access_token, CompactToken::new("at2"));
        assert_eq!(second.refresh_token, Some(CompactToken::new("rt1")));
        assert_eq!(second.id_token, first.id_token);
        assert_eq!(second.roles, ["analyst"]);
        // Roles from userinfo, and userinfo could not be read: the known roles stay.
        let kept = Session::from_tokens(
            Some(&first),
            &tokens("at3", Some("rt3"), None),
            &roles(true),
            950,
        );
        assert_eq!(kept.roles, ["analyst"]);
        assert_eq!(kept.refresh_token, Some(CompactToken::new("rt3")));
    }
}
