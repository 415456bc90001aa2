//! Transparent refresh without races.
//!
//! Angular fires requests in parallel, and SSOs that rotate refresh tokens treat a second use
//! of one as theft and revoke the whole grant. So refreshes of the same refresh token are
//! coalesced in-process: one call to the SSO, every waiter gets its result. The result is then
//! remembered for a short grace window for requests still carrying the old cookie. Entries are
//! keyed by a SHA-256 of the refresh token, never the token itself, and the map is bounded.

use crate::error::Error;
use crate::oidc::tokens::TokenSet;
use crate::oidc::Sso;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a refresh result is handed to stragglers carrying the old cookie.
pub const GRACE_WINDOW: Duration = Duration::from_secs(30);
/// Most results remembered at once; beyond it new results are simply not remembered.
pub const MAX_REMEMBERED: usize = 10_000;

/// The SSO's answer to one refresh, shared by every request that waited for it.
pub type Outcome = Result<Arc<TokenSet>, Error>;
type Key = [u8; 32];

/// What one refresh needs besides the token: the subject a new ID token must keep, whether
/// roles are read from userinfo, and the time.
#[derive(Clone)]
pub struct RefreshRequest {
    /// The store that coordinates refreshes across replicas, when there is one.
    pub shared: Option<Coordination>,
    /// The session's `sub`.
    pub subject: Option<String>,
    /// `roles.userinfo`.
    pub with_userinfo: bool,
    /// The session's DPoP key (the refreshed tokens stay bound to it).
    pub dpop: Option<crate::oidc::dpop::DpopKey>,
    /// Unix seconds.
    pub now: i64,
}

/// What cross-replica coordination needs: the store, the keys to seal the shared result
/// with, and how long the lock may be held.
#[derive(Clone)]
pub struct Coordination {
    /// The store.
    pub store: Arc<crate::store::Store>,
    /// The session keys in force.
    pub ring: Arc<crate::seal::KeyRing>,
    /// Longest hold of the lock.
    pub hold: Duration,
}

/// The coordinator: in-flight refreshes and recently finished ones.
///
/// Ordering is what makes it safe: a finished refresh's result enters the grace window
/// *before* its in-flight slot is released, both under the in-flight lock, so a request that
/// arrives in between finds one or the other and never spends the rotated token again.
#[derive(Default)]
pub struct Refresher {
    maps: Arc<Maps>,
}

#[derive(Default)]
struct Maps {
    inflight: Mutex<HashMap<Key, Shared<BoxFuture<'static, Outcome>>>>,
    recent: Mutex<HashMap<Key, Remembered>>,
}

struct Remembered {
    at: Instant,
    tokens: Arc<TokenSet>,
    /// Hash of the refresh token the result carries (the rotated one, or the same one when the
    /// SSO does not rotate), so logout can find what it must forget.
    successor: Key,
}

fn key_of(refresh_token: &str) -> Key {
    Sha256::digest(refresh_token.as_bytes()).into()
}

/// Whether the outcome came from the SSO (`true`) or from a refresh already under way or
/// finished within the grace window (`false`), for metrics.
pub struct Joined {
    /// The shared outcome.
    pub outcome: Outcome,
    /// Whether this request started the SSO call.
    pub started: bool,
}

impl Refresher {
    /// Refreshes with `refresh_token`, joining a refresh already under way for the same token
    /// or reusing one finished within the grace window.
    pub async fn refresh(
        &self,
        sso: &Arc<Sso>,
        refresh_token: &str,
        request: RefreshRequest,
    ) -> Joined {
        let key = key_of(refresh_token);
        let (future, started) = {
            let mut inflight = lock(&self.maps.inflight);
            if let Some(tokens) = self.maps.remembered(&key) {
                return Joined {
                    outcome: Ok(tokens),
                    started: false,
                };
            }
            match inflight.get(&key) {
                Some(future) => (future.clone(), false),
                None => {
                    let future = self.start(key, sso.clone(), refresh_token.to_string(), request);
                    inflight.insert(key, future.clone());
                    (future, true)
                }
            }
        };
        Joined {
            outcome: future.await,
            started,
        }
    }

    /// Spawns the SSO call. Spawned, so a browser that disconnects does not cancel the refresh
    /// for the other waiters (a half-done rotation would strand them all); the task itself
    /// records the result and releases the slot, whoever still waits.
    fn start(
        &self,
        key: Key,
        sso: Arc<Sso>,
        token: String,
        request: RefreshRequest,
    ) -> Shared<BoxFuture<'static, Outcome>> {
        let maps = self.maps.clone();
        // The SSO call carries the id and the span of the request that started it (its log
        // lines and trace spans stay in that request's tree).
        let request_id = crate::observe::current_request_id();
        let span = tracing::Span::current();
        let work = async move {
            let call = sso.refresh(
                &token,
                request.subject.as_deref(),
                request.with_userinfo,
                request.dpop.as_ref(),
                request.now,
            );
            let outcome = match &request.shared {
                Some(shared) => {
                    shared
                        .store
                        .refresh_once(&shared.ring, &token, shared.hold, GRACE_WINDOW, call)
                        .await
                }
                None => call.await,
            }
            .map(Arc::new);
            let mut inflight = lock(&maps.inflight);
            if let Ok(tokens) = &outcome {
                maps.remember(key, tokens.clone(), &token);
            }
            inflight.remove(&key);
            outcome
        };
        let task = tokio::spawn(crate::observe::with_request_id(
            request_id,
            tracing::Instrument::instrument(work, span),
        ));
        async move {
            task.await.unwrap_or_else(|error| {
                Err(Error::new(
                    crate::error::ErrorKind::Internal,
                    "the refresh was interrupted",
                )
                .with_source(error))
            })
        }
        .boxed()
        .shared()
    }

    /// Drops every remembered result that carries `refresh_token` (after logout revoked it), so
    /// an older cookie cannot be revived from the grace window.
    pub fn forget(&self, refresh_token: &str) {
        let key = key_of(refresh_token);
        lock(&self.maps.recent)
            .retain(|old, remembered| *old != key && remembered.successor != key);
    }
}

impl Maps {
    fn remembered(&self, key: &Key) -> Option<Arc<TokenSet>> {
        let recent = lock(&self.recent);
        recent
            .get(key)
            .filter(|r| r.at.elapsed() < GRACE_WINDOW)
            .map(|r| r.tokens.clone())
    }

    fn remember(&self, key: Key, tokens: Arc<TokenSet>, old_token: &str) {
        let successor = key_of(tokens.refresh_token.as_deref().unwrap_or(old_token));
        let mut recent = lock(&self.recent);
        if recent.len() >= MAX_REMEMBERED {
            recent.retain(|_, r| r.at.elapsed() < GRACE_WINDOW);
        }
        if recent.len() < MAX_REMEMBERED {
            recent.insert(
                key,
                Remembered {
                    at: Instant::now(),
                    tokens,
                    successor,
                },
            );
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
