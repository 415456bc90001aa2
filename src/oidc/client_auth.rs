//! How the client authenticates at the token and revocation endpoints. The `client_secret_*`
//! methods are handled by the `oauth2` crate; `private_key_jwt` (RFC 7523) is a JWT we sign
//! with josekit and send as `client_assertion`.

use crate::config::PrivateKey;
use josekit::jws::alg::ecdsa::EcdsaJwsAlgorithm;
use josekit::jws::alg::rsassa::RsassaJwsAlgorithm;
use josekit::jws::alg::rsassa_pss::RsassaPssJwsAlgorithm;
use josekit::jws::{JwsHeader, JwsSigner};
use josekit::jwt::JwtPayload;
use secrecy::ExposeSecret;
use std::time::{Duration, SystemTime};

/// The `client_assertion_type` of RFC 7523.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A loaded private key that signs client assertions.
pub struct AssertionSigner {
    signer: Box<dyn JwsSigner>,
    kid: Option<String>,
}

impl AssertionSigner {
    /// Loads the PEM key for its algorithm; the message names what is wrong.
    pub fn new(key: &PrivateKey) -> Result<Self, String> {
        let pem = key.pem.expose_secret().as_bytes();
        let signer: Box<dyn JwsSigner> = match key.alg.as_str() {
            "RS256" => Box::new(
                RsassaJwsAlgorithm::Rs256
                    .signer_from_pem(pem)
                    .map_err(|_| "not an RSA private key in PEM form".to_string())?,
            ),
            "PS256" => Box::new(
                RsassaPssJwsAlgorithm::Ps256
                    .signer_from_pem(pem)
                    .map_err(|_| "not an RSA private key in PEM form".to_string())?,
            ),
            "ES256" => Box::new(
                EcdsaJwsAlgorithm::Es256
                    .signer_from_pem(pem)
                    .map_err(|_| "not an EC P-256 private key in PEM form".to_string())?,
            ),
            other => {
                return Err(format!(
                    "private_key_alg `{other}` is not supported (RS256, PS256, ES256)"
                ))
            }
        };
        Ok(AssertionSigner {
            signer,
            kid: key.kid.clone(),
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

/// Checks at startup that the configured private key loads.
pub fn validate_private_key(key: &PrivateKey) -> Result<(), String> {
    AssertionSigner::new(key).map(|_| ())
}
