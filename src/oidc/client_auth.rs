//! How the client authenticates at the token and revocation endpoints. The `client_secret_*`
//! methods are handled by the `oauth2` crate; `private_key_jwt` (RFC 7523) is a JWT we sign
//! with josekit and send as `client_assertion`.

use crate::config::PrivateKey;
use josekit::jws::{JwsHeader, JwsSigner};
use josekit::jwt::JwtPayload;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The `client_assertion_type` of RFC 7523.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A loaded private key that signs client assertions.
pub struct AssertionSigner {
    signer: Arc<dyn JwsSigner>,
    kid: Option<String>,
}

impl AssertionSigner {
    /// Signs with the key the configuration parsed and checked at startup (it is not parsed
    /// again). Cannot fail any more; the `Result` is kept for the callers.
    pub fn new(key: &PrivateKey) -> Result<Self, String> {
        Ok(AssertionSigner {
            signer: Arc::clone(key.signer()),
            kid: key.kid().map(String::from),
        })
    }

    /// A fresh, single-use assertion for `audience` (the token endpoint), valid one minute.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, String> {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(kid) = &self.kid {
            header.set_key_id(kid);
        }
        let now = SystemTime::now();
        let mut payload = JwtPayload::new();
        payload.set_issuer(client_id);
        payload.set_subject(client_id);
        payload.set_audience(vec![audience]);
        payload.set_jwt_id(crate::oidc::authorize::random_token(24));
        payload.set_issued_at(&now);
        payload.set_expires_at(&(now + Duration::from_secs(60)));
        josekit::jwt::encode_with_signer(&payload, &header, &*self.signer)
            .map_err(|e| format!("signing the client assertion failed: {e}"))
    }
}
