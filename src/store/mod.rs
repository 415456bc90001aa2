//! The optional shared store: a Redis (or Valkey) beside the cookie, for the two things a
//! sealed cookie alone cannot do — ending a session before its cookie expires (a deny-list fed
//! by back-channel logout, logout and operators) and refreshing one token once across replicas.
//!
//! The cookie stays the session: nothing else is needed to serve a request, and without
//! `store.url` nothing here exists. What Redis holds is small and never secret in the clear:
//! hashes of session ids and subjects with a time, the hash of a refresh token as a lock, and a
//! refresh result sealed with the session keys.
//!
//! The hot path makes no Redis round trip: every replica keeps a mirror of the deny-list
//! ([`deny::Mirror`]), loaded with `SCAN` when it (re)connects and kept current by pub/sub. A
//! health check every [`HEALTH_INTERVAL`] notices a store that stopped answering; then requests
//! are served from the cookie (`store.on_unavailable = "serve"`, the default) or refused with
//! 503 (`"deny"`) until the mirror is in sync again.

pub mod coordinate;
pub mod deny;

use crate::config::{OnUnavailable, StoreConfig};
use crate::metrics::Metrics;
use deny::{Entry, Mirror};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the store is pinged; also the bound on how long a replica keeps trusting a mirror
/// whose feed stopped without a disconnect (a hung server).
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait between two reconnection attempts of the mirror's feed.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A store operation that could not be done (unreachable, timed out, refused).
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable: {0}")]
pub struct Unavailable(String);

impl From<redis::RedisError> for Unavailable {
    fn from(error: redis::RedisError) -> Self {
        Unavailable(error.to_string())
    }
}

/// What the deny-list says about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not revoked (as far as the mirror knows).
    Allowed,
    /// Ended by a logout, a back-channel logout or an operator.
    Revoked,
    /// The mirror is out of sync and `on_unavailable = "deny"`.
    Unavailable,
}

/// The connection to the store and this replica's mirror of its deny-list.
pub struct Store {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    command_timeout: Duration,
    connect_timeout: Duration,
    on_unavailable: OnUnavailable,
    /// The deny-list as this replica knows it.
    pub mirror: Mirror,
    /// Whether the mirror is in sync (subscribed, loaded, and the last ping answered).
    in_sync: AtomicBool,
    /// Asks the feed to reconnect and load again (after a failed ping).
    resync: tokio::sync::Notify,
    metrics: Arc<Metrics>,
}

impl Store {
    /// The store of `config`, or `None` when no `store.url` is set. No I/O happens here:
    /// connections are made lazily and by [`Store::start`], so a store that is down at startup
    /// does not stop the service.
    pub fn open(config: &StoreConfig, metrics: Arc<Metrics>) -> anyhow::Result<Option<Arc<Store>>> {
        let Some(url) = &config.url else {
            return Ok(None);
        };
        let mut info: redis::ConnectionInfo =
            redis::IntoConnectionInfo::into_connection_info(url.as_str())?;
        if let Some(file) = &config.password_file {
            let password = std::fs::read_to_string(file).map_err(|e| {
                anyhow::anyhow!("store.password_file: cannot read {}: {e}", file.display())
            })?;
            let settings = info
                .redis_settings()
                .clone()
                .set_password(password.trim_end_matches(['\n', '\r']));
            info = info.set_redis_settings(settings);
        }
        let client = match &config.ca_file {
            Some(file) => {
                let pem = std::fs::read(file).map_err(|e| {
                    anyhow::anyhow!("store.ca_file: cannot read {}: {e}", file.display())
                })?;
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )?
            }
            None => redis::Client::open(info)?,
        };
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_number_of_retries(1)
            .set_max_delay(MAX_BACKOFF);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
        Ok(Some(Arc::new(Store {
            client,
            manager,
            prefix: config.prefix.clone(),
            command_timeout: config.command_timeout,
            connect_timeout: config.connect_timeout,
            on_unavailable: config.on_unavailable,
            mirror: Mirror::default(),
            in_sync: AtomicBool::new(false),
            resync: tokio::sync::Notify::new(),
            metrics,
        })))
    }

    /// Starts the mirror's feed and the health check (both run for the life of the process).
    pub fn start(self: &Arc<Self>) {
        tokio::spawn(self.clone().feed());
        tokio::spawn(self.clone().health());
    }

    /// Whether the mirror is in sync with the store.
    pub fn in_sync(&self) -> bool {
        self.in_sync.load(Ordering::SeqCst)
    }

    fn set_in_sync(&self, now: bool) {
        let before = self.in_sync.swap(now, Ordering::SeqCst);
        self.metrics.store_up(now);
        if before && !now {
            match self.on_unavailable {
                OnUnavailable::Serve => tracing::warn!(
                    "session store unreachable: serving from cookies; revocations made \
                     meanwhile are applied when it is back"
                ),
                OnUnavailable::Deny => tracing::warn!(
                    "session store unreachable: signed-in requests are refused until it is back \
                     (store.on_unavailable = \"deny\")"
                ),
            }
        } else if !before && now {
            tracing::info!(entries = self.mirror.len(), "session store in sync");
        }
    }

    /// What the deny-list says about a session (no I/O: the mirror answers).
    pub fn verdict(&self, ids: &deny::SessionIds<'_>) -> Verdict {
        if !self.in_sync() && self.on_unavailable == OnUnavailable::Deny {
            return Verdict::Unavailable;
        }
        if self.mirror.denies(ids) {
            Verdict::Revoked
        } else {
            Verdict::Allowed
        }
    }

    /// Records `entry` as ended at `at` (Unix seconds) for `ttl`, in the store and on every
    /// replica (pub/sub), and in this replica's mirror at once.
    pub async fn revoke(&self, entry: &Entry, at: i64, ttl: Duration) -> Result<(), Unavailable> {
        let expires = at.saturating_add(ttl.as_secs() as i64);
        self.mirror.insert(entry, at, expires);
        let key = self.key(&entry.key());
        let value = format!("{at}:{expires}");
        let message = format!("{}:{value}", entry.key());
        let mut connection = self.manager.clone();
        // Not on a request's hot path, and maybe the first use of the connection (the CLI):
        // room to connect as well.
        let limit = self.connect_timeout + self.command_timeout;
        let result = tokio::time::timeout(limit, async move {
            let _: () = redis::pipe()
                .atomic()
                .set_ex(&key, &value, ttl.as_secs().max(1))
                .ignore()
                .publish(self.channel(), &message)
                .ignore()
                .query_async(&mut connection)
                .await?;
            Ok(())
        })
        .await
        .unwrap_or_else(|_| Err(Unavailable("timed out".into())));
        self.count("revoke", &result);
        result
    }

    /// Claims `id` once within `ttl` (`SET NX`): `true` the first time, `false` on a replay.
    pub async fn claim_once(
        &self,
        what: &str,
        id: &str,
        ttl: Duration,
    ) -> Result<bool, Unavailable> {
        let key = self.key(&format!("once:{what}:{}", deny::digest_hex(what, id)));
        let mut connection = self.manager.clone();
        let result = self
            .bounded(async move {
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::EX(ttl.as_secs().max(1)));
                let set: Option<String> = connection.set_options(&key, "1", options).await?;
                Ok(set.is_some())
            })
            .await;
        self.count("claim", &result);
        result
    }

    /// Forgets a [`Store::claim_once`] (when what it guarded could not be done).
    pub async fn release_once(&self, what: &str, id: &str) {
        let key = self.key(&format!("once:{what}:{}", deny::digest_hex(what, id)));
        let mut connection = self.manager.clone();
        let result = self
            .bounded(async move {
                let _: () = connection.del(&key).await?;
                Ok(())
            })
            .await;
        self.count("release", &result);
    }

    /// `key` under this deployment's prefix.
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn channel(&self) -> String {
        self.key("deny")
    }

    /// Runs one store operation within the command timeout.
    async fn bounded<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, Unavailable>>,
    ) -> Result<T, Unavailable> {
        tokio::time::timeout(self.command_timeout, operation)
            .await
            .unwrap_or_else(|_| Err(Unavailable("timed out".into())))
    }

    fn count<T>(&self, operation: &'static str, result: &Result<T, Unavailable>) {
        if let Err(error) = result {
            tracing::warn!(operation, error = %error, "session store operation failed");
            self.metrics.store_error(operation);
        }
    }

    /// Follows the deny channel for the life of the process: subscribe, load the whole list,
    /// apply every message; on a lost connection (or a failed ping) mark the mirror out of
    /// sync and start again.
    async fn feed(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(100);
        let mut ever_synced = false;
        loop {
            let mut synced = false;
            let error = self.follow(&mut synced).await.err();
            if synced {
                // It was in sync until now: a fresh outage starts with a short wait.
                ever_synced = true;
                backoff = Duration::from_millis(100);
            } else if !ever_synced && backoff == Duration::from_millis(100) {
                tracing::warn!(
                    error = %error.as_ref().map(ToString::to_string).unwrap_or_default(),
                    "session store unreachable at startup: serving from cookies until it answers"
                );
            }
            if let Some(error) = error {
                tracing::debug!(error = %error, "session store feed: reconnecting");
            }
            self.set_in_sync(false);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Sets `synced` once the mirror was loaded and the feed followed.
    async fn follow(&self, synced: &mut bool) -> Result<(), Unavailable> {
        use futures_util::StreamExt;
        let mut pubsub = tokio::time::timeout(self.connect_timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| Unavailable("connecting timed out".into()))??;
        tokio::time::timeout(self.command_timeout, pubsub.subscribe(self.channel()))
            .await
            .map_err(|_| Unavailable("subscribing timed out".into()))??;
        // Loaded after subscribing: what is published from now on arrives on the stream, so
        // nothing falls between the load and the feed.
        self.load().await?;
        self.set_in_sync(true);
        *synced = true;
        let mut messages = pubsub.on_message();
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => {
                        let payload: String = message.get_payload().unwrap_or_default();
                        self.mirror.apply_message(&payload);
                    }
                    None => return Err(Unavailable("the feed connection closed".into())),
                },
                () = self.resync.notified() => {
                    return Err(Unavailable("a ping failed".into()));
                }
            }
        }
    }

    /// Loads every deny entry (`SCAN` in pages, then `MGET`).
    async fn load(&self) -> Result<(), Unavailable> {
        let pattern = self.key("deny:*");
        let mut connection = self.manager.clone();
        let mut cursor: u64 = 0;
        let mut loaded = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .bounded(async {
                    Ok(redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut connection)
                        .await?)
                })
                .await?;
            if !keys.is_empty() {
                let values: Vec<Option<String>> = self
                    .bounded(async { Ok(connection.mget(&keys).await?) })
                    .await?;
                for (key, value) in keys.iter().zip(values) {
                    if let (Some(name), Some(value)) = (key.strip_prefix(&self.prefix), value) {
                        loaded.push(format!("{name}:{value}"));
                    }
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        self.mirror.replace(loaded.iter().map(String::as_str));
        Ok(())
    }

    /// Pings the store every [`HEALTH_INTERVAL`]; a failure marks the mirror out of sync and
    /// makes the feed reconnect and load again. Expired mirror entries are dropped on the way.
    async fn health(self: Arc<Self>) {
        let mut tick = tokio::time::interval(HEALTH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            self.mirror.prune(now);
            let mut connection = self.manager.clone();
            let ping = self
                .bounded(async move {
                    let _: String = redis::cmd("PING").query_async(&mut connection).await?;
                    Ok(())
                })
                .await;
            if ping.is_err() && self.in_sync() {
                self.set_in_sync(false);
                self.resync.notify_waiters();
            }
        }
    }

    /// The connection for [`coordinate`] (cheap to clone: one multiplexed connection).
    fn connection(&self) -> ConnectionManager {
        self.manager.clone()
    }
}
