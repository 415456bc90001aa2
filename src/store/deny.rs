//! The deny-list: what is ended, as the store keeps it and as each replica mirrors it.
//!
//! Three kinds of entry, each named by a SHA-256 of what it names (the store and its
//! pub/sub messages hold no session id or subject in the clear):
//! - `session`: the BFF's own session id — a logout, so a copied cookie dies with it;
//! - `sso-session`: the SSO's session id (the ID token's `sid`) — a back-channel logout or an
//!   operator's `revoke --sid`;
//! - `subject`: a `sub` — every session of that user signed in at or before the entry's time
//!   (a back-channel logout naming only `sub`, or `revoke --sub`); a later sign-in is fine.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

/// What an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The BFF's session id.
    Session,
    /// The SSO's session id (`sid` claim).
    SsoSession,
    /// The subject (`sub` claim).
    Subject,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::SsoSession => "sso-session",
            Kind::Subject => "subject",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        match name {
            "session" => Some(Kind::Session),
            "sso-session" => Some(Kind::SsoSession),
            "subject" => Some(Kind::Subject),
            _ => None,
        }
    }
}

/// One deny-list entry: a kind and the digest of what it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    kind: Kind,
    digest: [u8; 16],
}

/// The first 16 bytes of SHA-256 over a domain label and `value`, in hex: how the store names
/// what it must not hold in the clear.
pub fn digest_hex(domain: &str, value: &str) -> String {
    hex(&digest(domain, value))
}

fn digest(domain: &str, value: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(b"oidc-bff deny v1\0");
    hasher.update(domain.as_bytes());
    hasher.update([0]);
    hasher.update(value.as_bytes());
    let full = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Entry {
    /// An entry of `kind` for `value` (a session id as the cookie holds it, a `sid`, a `sub`).
    pub fn new(kind: Kind, value: &str) -> Entry {
        Entry {
            kind,
            digest: digest(kind.name(), value),
        }
    }

    /// The store key below the prefix: `deny:<kind>:<digest>`.
    pub fn key(&self) -> String {
        format!("deny:{}:{}", self.kind.name(), hex(&self.digest))
    }

    /// Parses [`Entry::key`].
    fn parse(key: &str) -> Option<Entry> {
        let rest = key.strip_prefix("deny:")?;
        let (kind, digest) = rest.split_once(':')?;
        Some(Entry {
            kind: Kind::parse(kind)?,
            digest: unhex(digest)?,
        })
    }
}

/// What a session is known by, as the deny-list asks (the session module fills it in, so this
/// module needs nothing of the session's own type).
pub struct SessionIds<'a> {
    /// The BFF's session id, as text.
    pub session: &'a str,
    /// The SSO's session id (the ID token's `sid`), if any.
    pub sso_session: Option<&'a str>,
    /// The subject (`sub`), if known.
    pub subject: Option<&'a str>,
    /// Unix seconds of the sign-in.
    pub login_at: i64,
}

/// This replica's copy of the deny-list: entry → (time it took effect, when it expires), both
/// Unix seconds. Most requests find it empty and pay one atomic load.
#[derive(Default)]
pub struct Mirror {
    entries: RwLock<HashMap<Entry, (i64, i64)>>,
    count: AtomicUsize,
}

impl Mirror {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Entry, (i64, i64)>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or extends) an entry.
    pub fn insert(&self, entry: &Entry, at: i64, expires: i64) {
        let mut entries = self.write();
        let slot = entries.entry(entry.clone()).or_insert((at, expires));
        slot.0 = slot.0.max(at);
        slot.1 = slot.1.max(expires);
        self.count.store(entries.len(), Ordering::Relaxed);
    }

    /// Replaces everything with `lines` (`deny:<kind>:<digest>:<at>:<expires>`, as loaded).
    pub fn replace<'a>(&self, lines: impl Iterator<Item = &'a str>) {
        let fresh: HashMap<Entry, (i64, i64)> = lines.filter_map(parse_line).collect();
        let mut entries = self.write();
        *entries = fresh;
        self.count.store(entries.len(), Ordering::Relaxed);
    }

    /// Applies one pub/sub message (same shape as a loaded line); garbage is ignored.
    pub fn apply_message(&self, line: &str) {
        match parse_line(line) {
            Some((entry, (at, expires))) => self.insert(&entry, at, expires),
            None => tracing::warn!("session store: ignored a malformed deny message"),
        }
    }

    /// Drops entries past their expiry.
    pub fn prune(&self, now: i64) {
        if self.is_empty() {
            return;
        }
        let mut entries = self.write();
        entries.retain(|_, (_, expires)| *expires > now);
        self.count.store(entries.len(), Ordering::Relaxed);
    }

    /// Whether `session` is ended: its own id, its SSO session, or its subject (signed in at or
    /// before the subject's entry) is on the list.
    pub fn denies(&self, ids: &SessionIds<'_>) -> bool {
        if self.is_empty() {
            return false;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if entries.contains_key(&Entry::new(Kind::Session, ids.session)) {
            return true;
        }
        if let Some(sid) = ids.sso_session {
            if entries.contains_key(&Entry::new(Kind::SsoSession, sid)) {
                return true;
            }
        }
        if let Some(sub) = ids.subject {
            if let Some((at, _)) = entries.get(&Entry::new(Kind::Subject, sub)) {
                return ids.login_at <= *at;
            }
        }
        false
    }
}

/// `deny:<kind>:<digest>:<at>:<expires>` → the entry and its times.
fn parse_line(line: &str) -> Option<(Entry, (i64, i64))> {
    let mut parts = line.rsplitn(3, ':');
    let expires: i64 = parts.next()?.parse().ok()?;
    let at: i64 = parts.next()?.parse().ok()?;
    let entry = Entry::parse(parts.next()?)?;
    Some((entry, (at, expires)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_keys_and_messages_and_garbage_is_ignored() {
        let entry = Entry::new(Kind::SsoSession, "sid-123");
        assert!(!entry.key().contains("sid-123"), "no id in the clear");
        let line = format!("{}:100:200", entry.key());
        assert_eq!(parse_line(&line), Some((entry.clone(), (100, 200))));
        for garbage in [
            "",
            "deny:other:00:1:2",
            "deny:subject:zz:1:2",
            "deny:subject:0011:1:2",
            "x:y",
            &format!("{}:1", entry.key()),
        ] {
            assert_eq!(parse_line(garbage), None, "{garbage}");
        }
        let mirror = Mirror::default();
        mirror.apply_message(&line);
        mirror.apply_message("garbage");
        assert_eq!(mirror.len(), 1);
        mirror.prune(150);
        assert_eq!(mirror.len(), 1);
        mirror.prune(200);
        assert!(mirror.is_empty());
    }
}
