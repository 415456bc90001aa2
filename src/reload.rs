//! Secrets read again without a restart. When the session keys or the client secret come from
//! files (`session.keys_file`, `oidc.client_secret_file`: container secret mounts), the files
//! are read every few seconds and at SIGHUP, and a changed content is put in force at once:
//! new keys (the first seals from then on, a removed key stops opening), a new client secret
//! for the next SSO call. Content that does not parse is refused with a log line, and what is
//! in force stays. Reading through the path each time follows a Kubernetes secret volume's
//! symlink swap, which a watch on the file itself would miss.

use crate::state::AppState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the files are read when no SIGHUP asks earlier.
pub const POLL: Duration = Duration::from_secs(5);

/// Starts watching the secret files. Also without any, SIGHUP is taken (and logged), so an
/// operator's habitual `kill -HUP` never ends the process by the signal's default action.
pub fn spawn(state: Arc<AppState>) {
    let keys = state.config.session.keys_file.clone();
    let secret = state.config.oidc.client_secret_file.clone();
    // Installed now, not when the task first runs: a SIGHUP right after startup must not
    // meet the default action (which ends the process).
    let hangup = hangup_signal();
    tokio::spawn(watch(state, keys, secret, hangup));
}

/// One watched file and what it held when last read.
struct Watched {
    path: PathBuf,
    last: Option<Vec<u8>>,
}

impl Watched {
    fn new(path: PathBuf) -> Self {
        let last = std::fs::read(&path).ok();
        Watched { path, last }
    }

    /// The file's text when it changed since the last read (read errors are logged once).
    fn changed(&mut self, what: &str) -> Option<String> {
        let content = match std::fs::read(&self.path) {
            Ok(content) => content,
            Err(error) => {
                if self.last.take().is_some() {
                    tracing::warn!(file = %self.path.display(), error = %error, "cannot read the {what} file; what is in force stays");
                }
                return None;
            }
        };
        if self.last.as_ref() == Some(&content) {
            return None;
        }
        self.last = Some(content.clone());
        Some(String::from_utf8_lossy(&content).into_owned())
    }
}

async fn watch(
    state: Arc<AppState>,
    keys: Option<PathBuf>,
    secret: Option<PathBuf>,
    mut hangup: Hangup,
) {
    let mut keys = keys.map(Watched::new);
    let mut secret = secret.map(Watched::new);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            Some(()) = next(&mut hangup) => tracing::info!("SIGHUP: reading the secret files again"),
        }
        if let Some(text) = keys.as_mut().and_then(|k| k.changed("session keys")) {
            apply_keys(&state, &text, keys.as_ref().map(|k| k.path.as_path()));
        }
        if let Some(text) = secret.as_mut().and_then(|s| s.changed("client secret")) {
            apply_secret(&state, &text);
        }
    }
}

fn apply_keys(state: &AppState, text: &str, path: Option<&Path>) {
    let file = path.map(|p| p.display().to_string()).unwrap_or_default();
    match crate::config::parse_keys_text(text) {
        Ok(keys) => {
            state.cookies.replace_keys(&keys);
            tracing::info!(file, keys = keys.len(), "session keys reloaded");
        }
        Err(message) => tracing::warn!(
            file,
            "session keys file refused ({message}); the keys in force stay"
        ),
    }
}

fn apply_secret(state: &AppState, text: &str) {
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        tracing::warn!("client secret file is empty; the secret in force stays");
        return;
    }
    state
        .sso
        .replace_client_secret(secrecy::SecretString::from(secret.to_string()));
    tracing::info!("client secret reloaded");
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

/// The next SIGHUP; never, when there is no such signal.
async fn next(hangup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        return signal.recv().await;
    }
    std::future::pending().await
}
