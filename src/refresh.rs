//! Transparent refresh without races.
//!
//! Angular fires requests in parallel, and SSOs that rotate refresh tokens treat a second use
//! of one as theft and revoke the whole grant. So refreshes of the same refresh token are
//! coalesced in-process: one call to the SSO, every waiter gets its result. The result is then
//! remembered for a short grace window for requests still carrying the old cookie. Entries are
//! keyed by a SHA-256 of the refresh token, never the token itself, and the map is bounded.

use crate::oidc::id_token::ExpectedNonce;
use crate::oidc::token::TokenError;
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

/// New tokens from one refresh.
#[derive(Clone)]
pub struct Renewed {
    /// New access token.
    pub access_token: String,
    /// Its expiry (Unix seconds).
    pub access_expires_at: i64,
    /// The rotated refresh token, or `None` when the SSO kept the old one.
    pub refresh_token: Option<String>,
    /// A new, verified ID token, if the SSO sent one.
    pub id_token: Option<String>,
    /// The userinfo claims, when `roles.userinfo` is on and the call succeeded.
    pub userinfo: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Why a refresh did not produce tokens.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RefreshFailure {
    /// `invalid_grant`: the refresh token is expired, revoked or reused. The session is over.
    #[error("the SSO refused the refresh token ({0})")]
    GrantDead(String),
    /// The SSO could not be asked: keep the session, retry later.
    #[error("{0}")]
    Unavailable(String),
}

type Outcome = Result<Arc<Renewed>, RefreshFailure>;
type Key = [u8; 32];

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
    renewed: Arc<Renewed>,
    /// Hash of the refresh token the result carries (the rotated one, or the same one when the
    /// SSO does not rotate), so logout can find what it must forget.
    successor: Key,
}

fn key_of(refresh_token: &str) -> Key {
    Sha256::digest(refresh_token.as_bytes()).into()
}

impl Refresher {
    /// Refreshes with `refresh_token`, joining a refresh already under way for the same token
    /// or reusing one finished within the grace window. `subject` is the session's `sub`, which
    /// a new ID token must keep.
    pub async fn refresh(
        &self,
        sso: &Arc<Sso>,
        refresh_token: &str,
        subject: Option<String>,
        with_userinfo: bool,
        now: i64,
    ) -> Outcome {
        let key = key_of(refresh_token);
        let future = {
            let mut inflight = lock(&self.maps.inflight);
            if let Some(renewed) = self.maps.remembered(&key) {
                return Ok(renewed);
            }
            match inflight.get(&key) {
                Some(future) => future.clone(),
                None => {
                    let future = self.start(
                        key,
                        sso.clone(),
                        refresh_token.to_string(),
                        subject,
                        with_userinfo,
                        now,
                    );
                    inflight.insert(key, future.clone());
                    future
                }
            }
        };
        future.await
    }

    /// Spawns the SSO call. Spawned, so a browser that disconnects does not cancel the refresh
    /// for the other waiters (a half-done rotation would strand them all); the task itself
    /// records the result and releases the slot, whoever still waits.
    fn start(
        &self,
        key: Key,
        sso: Arc<Sso>,
        token: String,
        subject: Option<String>,
        with_userinfo: bool,
        now: i64,
    ) -> Shared<BoxFuture<'static, Outcome>> {
        let maps = self.maps.clone();
        let task = tokio::spawn(async move {
            let outcome = call_sso(&sso, &token, subject, with_userinfo, now).await;
            let mut inflight = lock(&maps.inflight);
            if let Ok(renewed) = &outcome {
                maps.remember(key, renewed.clone(), &token);
            }
            inflight.remove(&key);
            outcome
        });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(RefreshFailure::Unavailable(format!(
                    "refresh task failed: {e}"
                )))
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
    fn remembered(&self, key: &Key) -> Option<Arc<Renewed>> {
        let recent = lock(&self.recent);
        recent
            .get(key)
            .filter(|r| r.at.elapsed() < GRACE_WINDOW)
            .map(|r| r.renewed.clone())
    }

    fn remember(&self, key: Key, renewed: Arc<Renewed>, old_token: &str) {
        let successor = key_of(renewed.refresh_token.as_deref().unwrap_or(old_token));
        let mut recent = lock(&self.recent);
        if recent.len() >= MAX_REMEMBERED {
            recent.retain(|_, r| r.at.elapsed() < GRACE_WINDOW);
        }
        if recent.len() < MAX_REMEMBERED {
            recent.insert(
                key,
                Remembered {
                    at: Instant::now(),
                    renewed,
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

async fn call_sso(
    sso: &Sso,
    refresh_token: &str,
    subject: Option<String>,
    with_userinfo: bool,
    now: i64,
) -> Outcome {
    let provider = sso
        .provider()
        .await
        .map_err(|e| RefreshFailure::Unavailable(e.to_string()))?;
    let tokens = sso
        .refresh(&provider, refresh_token, now)
        .await
        .map_err(|error| match error {
            ref e if e.is_invalid_grant() => RefreshFailure::GrantDead("invalid_grant".into()),
            TokenError::Refused { code } => {
                RefreshFailure::Unavailable(format!("the SSO refused the refresh: {code}"))
            }
            TokenError::Unavailable(e) => RefreshFailure::Unavailable(format!("{e:#}")),
        })?;
    let id_token = match tokens.id_token {
        Some(id_token) => match sso
            .verify_id_token(&id_token, ExpectedNonce::Any, subject.as_deref())
            .await
        {
            Ok(_) => Some(id_token),
            Err(error) => {
                // The new access and refresh tokens are good (they came from the token
                // endpoint); dropping them would strand the rotated grant. Keep the old ID token.
                tracing::warn!(error = %error, "refreshed ID token refused; keeping the previous one");
                None
            }
        },
        None => None,
    };
    let userinfo = match (with_userinfo, subject.as_deref()) {
        (true, Some(subject)) => match sso.userinfo(&provider, &tokens.access_token, subject).await
        {
            Ok(claims) => Some(claims),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "userinfo after refresh failed; keeping the previous roles");
                None
            }
        },
        _ => None,
    };
    Ok(Arc::new(Renewed {
        userinfo,
        access_token: tokens.access_token,
        access_expires_at: tokens.access_expires_at,
        refresh_token: tokens.refresh_token,
        id_token,
    }))
}
