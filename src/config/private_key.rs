//! [`PrivateKey`]: the signing key of `private_key_jwt`.

use secrecy::SecretString;
use serde::{Serialize, Serializer};
use std::fmt;

/// The signing key for `private_key_jwt`.
#[derive(Clone, Serialize)]
pub struct PrivateKey {
    /// PEM (PKCS#8 or traditional) of an RSA or EC P-256 key.
    #[serde(serialize_with = "redact")]
    pub pem: SecretString,
    /// `RS256`, `PS256` or `ES256`.
    pub alg: String,
    /// `kid` header, if the SSO needs it to find the registered key.
    pub kid: Option<String>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("pem", &"[redacted]")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

fn redact<S: Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}
