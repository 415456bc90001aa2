//! One refresh per refresh token across replicas. In front of it stays the in-process single
//! flight (the session module's `refresh`): only the one request per replica that would call the
//! SSO comes here.
//!
//! The first replica takes a short lock keyed by a hash of the refresh token (`SET NX PX`),
//! calls the SSO and stores the result sealed with the session keys (never a token in the
//! clear) for the grace window; the others find the result, or wait for it while the lock is
//! held. When the store cannot be reached, or the lock holder vanishes without a result, a
//! replica calls the SSO itself (availability first: the worst case is today's behaviour).

use super::{Store, Unavailable};
use crate::error::Error;
use crate::oidc::tokens::TokenSet;
use crate::seal::KeyRing;
use redis::AsyncCommands;
use std::time::Duration;

/// How often a waiting replica looks for the result.
const POLL: Duration = Duration::from_millis(25);
/// The name the result is sealed under (binds it to this use).
const SEALED_NAME: &str = "oidc-bff refresh result";

/// Keys of one refresh token: the lock and the result.
struct Keys {
    lock: String,
    result: String,
}

impl Store {
    fn refresh_keys(&self, refresh_token: &str) -> Keys {
        let id = super::deny::digest_hex("refresh", refresh_token);
        Keys {
            lock: self.key(&format!("refresh:lock:{id}")),
            result: self.key(&format!("refresh:result:{id}")),
        }
    }

    /// Refreshes through `call` at most once across replicas for `refresh_token`; `hold` is
    /// how long the lock may be held (longer than one SSO call can take), `grace` how long the
    /// result is kept for other replicas.
    pub async fn refresh_once<F>(
        &self,
        ring: &KeyRing,
        refresh_token: &str,
        hold: Duration,
        grace: Duration,
        call: F,
    ) -> Result<TokenSet, Error>
    where
        F: std::future::Future<Output = Result<TokenSet, Error>>,
    {
        if !self.in_sync() {
            // Known to be unreachable: do not spend the user's time finding out again.
            return call.await;
        }
        let keys = self.refresh_keys(refresh_token);
        if let Some(tokens) = self.shared_result(ring, &keys).await {
            return Ok(tokens);
        }
        match self.take_lock(&keys, hold).await {
            Ok(true) => {}
            Ok(false) => {
                if let Some(tokens) = self.wait_for_result(ring, &keys, hold).await {
                    return Ok(tokens);
                }
                tracing::info!("the replica refreshing this token gave no result; refreshing here");
            }
            Err(_) => tracing::info!("session store unavailable; refreshing without coordination"),
        }
        let outcome = call.await;
        if let Ok(tokens) = &outcome {
            self.share_result(ring, &keys, tokens, grace).await;
        }
        self.release_lock(&keys).await;
        outcome
    }

    async fn take_lock(&self, keys: &Keys, hold: Duration) -> Result<bool, Unavailable> {
        let mut connection = self.connection();
        let lock = keys.lock.clone();
        let result = self
            .bounded(async move {
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::PX(hold.as_millis() as u64));
                let set: Option<String> = connection.set_options(&lock, "1", options).await?;
                Ok(set.is_some())
            })
            .await;
        self.count("refresh_lock", &result);
        result
    }

    async fn release_lock(&self, keys: &Keys) {
        let mut connection = self.connection();
        let lock = keys.lock.clone();
        let result = self
            .bounded(async move {
                let _: () = connection.del(&lock).await?;
                Ok(())
            })
            .await;
        self.count("refresh_unlock", &result);
    }

    /// The result another replica stored, if any (and if it opens with our keys).
    async fn shared_result(&self, ring: &KeyRing, keys: &Keys) -> Option<TokenSet> {
        let mut connection = self.connection();
        let result_key = keys.result.clone();
        let read = self
            .bounded(async move { Ok(connection.get::<_, Option<String>>(&result_key).await?) })
            .await;
        self.count("refresh_result", &read);
        let sealed = read.ok()??;
        let bytes = ring.open(SEALED_NAME, &sealed).ok()?;
        postcard::from_bytes::<StoredTokens>(&bytes)
            .ok()
            .map(StoredTokens::into_token_set)
    }

    async fn share_result(&self, ring: &KeyRing, keys: &Keys, tokens: &TokenSet, grace: Duration) {
        let Some(sealed) = postcard::to_stdvec(&StoredTokens::of(tokens))
            .ok()
            .and_then(|bytes| ring.seal(SEALED_NAME, &bytes).ok())
        else {
            return;
        };
        let mut connection = self.connection();
        let result_key = keys.result.clone();
        let written = self
            .bounded(async move {
                let _: () = connection
                    .set_ex(&result_key, sealed, grace.as_secs().max(1))
                    .await?;
                Ok(())
            })
            .await;
        self.count("refresh_share", &written);
    }

    /// Waits while the lock is held for the result; `None` when the lock went away without
    /// one, or after `hold`.
    async fn wait_for_result(
        &self,
        ring: &KeyRing,
        keys: &Keys,
        hold: Duration,
    ) -> Option<TokenSet> {
        let deadline = tokio::time::Instant::now() + hold;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            if let Some(tokens) = self.shared_result(ring, keys).await {
                return Some(tokens);
            }
            let mut connection = self.connection();
            let lock = keys.lock.clone();
            let held = self
                .bounded(async move { Ok(connection.exists::<_, bool>(&lock).await?) })
                .await;
            match held {
                Ok(true) => continue,
                // Released: one last look, the result is written before the release.
                Ok(false) => return self.shared_result(ring, keys).await,
                Err(_) => return None,
            }
        }
        None
    }
}

/// The token set as sealed in the store: the userinfo claims as JSON text (postcard cannot
/// carry arbitrary JSON values).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredTokens {
    access_token: String,
    access_expires_at: i64,
    refresh_token: Option<String>,
    id_token: Option<String>,
    userinfo: Option<String>,
}

impl StoredTokens {
    fn of(tokens: &TokenSet) -> StoredTokens {
        StoredTokens {
            access_token: tokens.access_token.clone(),
            access_expires_at: tokens.access_expires_at,
            refresh_token: tokens.refresh_token.clone(),
            id_token: tokens.id_token.clone(),
            userinfo: tokens
                .userinfo
                .as_ref()
                .and_then(|u| serde_json::to_string(u).ok()),
        }
    }

    fn into_token_set(self) -> TokenSet {
        TokenSet {
            access_token: self.access_token,
            access_expires_at: self.access_expires_at,
            refresh_token: self.refresh_token,
            id_token: self.id_token,
            userinfo: self.userinfo.and_then(|u| serde_json::from_str(&u).ok()),
            // The key is the session's own; the session keeps it (see `session::Session`).
            dpop: None,
        }
    }
}
