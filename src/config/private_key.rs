//! [`PrivateKey`]: the signing key of `private_key_jwt`, parsed once, at validation.

use josekit::jws::alg::ecdsa::EcdsaJwsAlgorithm;
use josekit::jws::alg::rsassa::RsassaJwsAlgorithm;
use josekit::jws::alg::rsassa_pss::RsassaPssJwsAlgorithm;
use josekit::jws::JwsSigner;
use secrecy::{ExposeSecret, SecretString};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// The signing key for `private_key_jwt`, held as a ready signer.
///
/// The PEM is parsed when the configuration is validated, so a key that does not load stops
/// startup with an error naming `oidc.private_key`, and nothing parses it again later. The key
/// material stays inside the signer: `Debug` and `Serialize` (what `oidc-bff check` prints)
/// show `[redacted]` in its place.
#[derive(Clone)]
pub struct PrivateKey {
    signer: Arc<dyn JwsSigner>,
    alg: String,
    kid: Option<String>,
}

impl PrivateKey {
    /// Loads `pem` (PKCS#8 or traditional) as a signer for `alg` (`RS256`, `PS256` or
    /// `ES256`); the error says what is wrong without showing the key.
    pub fn from_pem(pem: &SecretString, alg: &str, kid: Option<String>) -> Result<Self, String> {
        let pem = pem.expose_secret().as_bytes();
        let signer: Arc<dyn JwsSigner> = match alg {
            "RS256" => Arc::new(
                RsassaJwsAlgorithm::Rs256
                    .signer_from_pem(pem)
                    .map_err(|_| "not an RSA private key in PEM form".to_string())?,
            ),
            "PS256" => Arc::new(
                RsassaPssJwsAlgorithm::Ps256
                    .signer_from_pem(pem)
                    .map_err(|_| "not an RSA private key in PEM form".to_string())?,
            ),
            "ES256" => Arc::new(
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
        Ok(PrivateKey {
            signer,
            alg: alg.to_string(),
            kid,
        })
    }

    /// The signer of client assertions; shared, since every clone of the configuration signs
    /// with the same key.
    pub fn signer(&self) -> &Arc<dyn JwsSigner> {
        &self.signer
    }

    /// `RS256`, `PS256` or `ES256`.
    pub fn alg(&self) -> &str {
        &self.alg
    }

    /// The `kid` header, if the SSO needs it to find the registered key.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
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

impl Serialize for PrivateKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut key = serializer.serialize_struct("PrivateKey", 3)?;
        key.serialize_field("pem", "[redacted]")?;
        key.serialize_field("alg", &self.alg)?;
        key.serialize_field("kid", &self.kid)?;
        key.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::{ES256, PS256, RS256};

    fn pem_of(key_pair_pem: Vec<u8>) -> SecretString {
        SecretString::from(String::from_utf8(key_pair_pem).unwrap())
    }

    #[test]
    fn each_algorithm_loads_its_key_and_signs_verifiably() {
        // PS256 wants a key marked for PSS (or a traditional RSA PEM), as josekit has it.
        let rsa = RS256.generate_key_pair(2048).unwrap();
        let pss = PS256.generate_key_pair(2048).unwrap();
        let ec = ES256.generate_key_pair().unwrap();
        let cases = [
            (
                "RS256",
                pem_of(rsa.to_pem_private_key()),
                rsa.to_pem_public_key(),
            ),
            (
                "PS256",
                pem_of(pss.to_pem_private_key()),
                pss.to_pem_public_key(),
            ),
            (
                "ES256",
                pem_of(ec.to_pem_private_key()),
                ec.to_pem_public_key(),
            ),
        ];
        for (alg, pem, public) in cases {
            let key = PrivateKey::from_pem(&pem, alg, Some("k1".into())).unwrap();
            assert_eq!((key.alg(), key.kid()), (alg, Some("k1")));
            let payload = josekit::jwt::JwtPayload::new();
            let header = josekit::jws::JwsHeader::new();
            let token =
                josekit::jwt::encode_with_signer(&payload, &header, &**key.signer()).unwrap();
            let verifier = match alg {
                "RS256" => RS256
                    .verifier_from_pem(&public)
                    .map(|v| Box::new(v) as Box<_>),
                "PS256" => PS256
                    .verifier_from_pem(&public)
                    .map(|v| Box::new(v) as Box<_>),
                _ => ES256
                    .verifier_from_pem(&public)
                    .map(|v| Box::new(v) as Box<_>),
            };
            let verifier: Box<dyn josekit::jws::JwsVerifier> = verifier.unwrap();
            assert!(
                josekit::jwt::decode_with_verifier(&token, &*verifier).is_ok(),
                "{alg}"
            );
        }
    }

    #[test]
    fn a_key_of_the_wrong_kind_or_alg_is_refused_with_a_reason() {
        let ec = pem_of(ES256.generate_key_pair().unwrap().to_pem_private_key());
        let error = PrivateKey::from_pem(&ec, "RS256", None).unwrap_err();
        assert_eq!(error, "not an RSA private key in PEM form");
        let garbage = SecretString::from("garbage".to_string());
        let error = PrivateKey::from_pem(&garbage, "ES256", None).unwrap_err();
        assert_eq!(error, "not an EC P-256 private key in PEM form");
        let error = PrivateKey::from_pem(&ec, "HS256", None).unwrap_err();
        assert!(error.contains("`HS256` is not supported"), "{error}");
    }

    #[test]
    fn the_key_never_shows_in_debug_or_serialize() {
        let pem = pem_of(ES256.generate_key_pair().unwrap().to_pem_private_key());
        let key = PrivateKey::from_pem(&pem, "ES256", None).unwrap();
        let body = pem.expose_secret().lines().nth(1).unwrap().to_string();
        for printed in [format!("{key:?}"), serde_json::to_string(&key).unwrap()] {
            assert!(printed.contains("[redacted]"), "{printed}");
            assert!(
                !printed.contains(&body) && !printed.contains("PRIVATE"),
                "{printed}"
            );
        }
        assert_eq!(
            serde_json::to_value(&key).unwrap(),
            serde_json::json!({"pem": "[redacted]", "alg": "ES256", "kid": null})
        );
    }
}
