//! DPoP (RFC 9449): tokens bound to a key only this session holds. Each session gets a fresh
//! key pair at sign-in; its private key travels sealed in the session cookie, so any replica
//! can sign proofs and nothing is shared. Proofs go to the token endpoint (code exchange and
//! refresh) and with every relayed request of a DPoP-bound access token.
//!
//! Servers may demand a nonce (`DPoP-Nonce`): the one last seen per origin is remembered
//! ([`Nonces`]) and sent with the next proof; a `use_dpop_nonce` refusal is retried once with
//! the nonce it carries.

use crate::config::DpopAlg;
use crate::error::{Error, ErrorKind};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, JwsSigner};
use josekit::jwt::JwtPayload;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The header that carries a proof, and the one that carries a server's nonce.
pub const DPOP: &str = "dpop";
/// A server's nonce for the next proof.
pub const DPOP_NONCE: &str = "dpop-nonce";

/// A session's DPoP key: its algorithm and PKCS#8 private key (sealed with the session).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct DpopKey {
    alg: DpopAlgCode,
    #[serde(with = "serde_bytes")]
    der: Vec<u8>,
    /// Whether the SSO bound the access token to this key (`token_type` `DPoP`); a session
    /// whose SSO ignored DPoP relays its tokens as bearer tokens.
    pub bound: bool,
    /// The parsed key, made the first time a proof is signed (not sealed).
    #[serde(skip)]
    prepared: PreparedOnce,
}

/// Compact algorithm code in the cookie.
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
enum DpopAlgCode {
    Es256,
    EdDsa,
    Ps256,
}

#[derive(Clone, Default)]
struct PreparedOnce(OnceLock<Arc<Prepared>>);

struct Prepared {
    signer: Box<dyn JwsSigner>,
    jwk: Jwk,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey([redacted])")
    }
}

fn internal(message: &'static str) -> impl FnOnce(josekit::JoseError) -> Error {
    move |e| Error::new(ErrorKind::Internal, message).with_source(e)
}

impl DpopKey {
    /// A fresh key pair.
    pub fn generate(alg: DpopAlg) -> Result<DpopKey, Error> {
        use josekit::jwk::alg::ed::EdCurve;
        use josekit::jwk::KeyPair;
        let failed = internal("cannot generate a DPoP key");
        let (code, der) = match alg {
            DpopAlg::ES256 => (
                DpopAlgCode::Es256,
                josekit::jws::ES256
                    .generate_key_pair()
                    .map_err(failed)?
                    .to_der_private_key(),
            ),
            DpopAlg::EdDSA => (
                DpopAlgCode::EdDsa,
                josekit::jws::EdDSA
                    .generate_key_pair(EdCurve::Ed25519)
                    .map_err(failed)?
                    .to_der_private_key(),
            ),
            DpopAlg::PS256 => (
                DpopAlgCode::Ps256,
                josekit::jws::PS256
                    .generate_key_pair(2048)
                    .map_err(failed)?
                    .to_der_private_key(),
            ),
        };
        Ok(DpopKey {
            alg: code,
            der,
            bound: false,
            prepared: PreparedOnce::default(),
        })
    }

    fn prepared(&self) -> Result<Arc<Prepared>, Error> {
        if let Some(prepared) = self.prepared.0.get() {
            return Ok(prepared.clone());
        }
        use josekit::jwk::KeyPair;
        let failed = internal("the session's DPoP key does not load");
        let (signer, jwk): (Box<dyn JwsSigner>, Jwk) = match self.alg {
            DpopAlgCode::Es256 => (
                Box::new(
                    josekit::jws::ES256
                        .signer_from_der(&self.der)
                        .map_err(failed)?,
                ),
                josekit::jws::ES256
                    .key_pair_from_der(&self.der)
                    .map_err(internal("the session's DPoP key does not load"))?
                    .to_jwk_public_key(),
            ),
            DpopAlgCode::EdDsa => (
                Box::new(
                    josekit::jws::EdDSA
                        .signer_from_der(&self.der)
                        .map_err(failed)?,
                ),
                josekit::jws::EdDSA
                    .key_pair_from_der(&self.der)
                    .map_err(internal("the session's DPoP key does not load"))?
                    .to_jwk_public_key(),
            ),
            DpopAlgCode::Ps256 => (
                Box::new(
                    josekit::jws::PS256
                        .signer_from_der(&self.der)
                        .map_err(failed)?,
                ),
                josekit::jws::PS256
                    .key_pair_from_der(&self.der)
                    .map_err(internal("the session's DPoP key does not load"))?
                    .to_jwk_public_key(),
            ),
        };
        let jwk = public_only(jwk);
        let thumbprint = thumbprint(&jwk);
        let prepared = Arc::new(Prepared {
            signer,
            jwk,
            thumbprint,
        });
        Ok(self.prepared.0.get_or_init(|| prepared).clone())
    }

    /// The RFC 7638 thumbprint of the public key (`dpop_jkt`, `cnf.jkt`).
    pub fn thumbprint(&self) -> Result<String, Error> {
        Ok(self.prepared()?.thumbprint.clone())
    }

    /// A proof for one request: `htm` and `htu` (the URL without query and fragment), the
    /// server's `nonce` if it asked for one, and `ath` when an access token goes with it.
    pub fn proof(
        &self,
        htm: &str,
        htu: &url::Url,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let prepared = self.prepared()?;
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(prepared.jwk.clone());
        let mut payload = JwtPayload::new();
        payload.set_jwt_id(super::authorize::random_token(16));
        payload.set_issued_at(&std::time::SystemTime::now());
        let claims = [
            ("htm", Some(htm.to_string())),
            ("htu", Some(htu_of(htu))),
            ("nonce", nonce.map(String::from)),
            (
                "ath",
                access_token.map(|t| URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes()))),
            ),
        ];
        for (name, value) in claims {
            if let Some(value) = value {
                payload
                    .set_claim(name, Some(value.into()))
                    .map_err(internal("cannot build a DPoP proof"))?;
            }
        }
        josekit::jwt::encode_with_signer(&payload, &header, prepared.signer.as_ref())
            .map_err(internal("cannot sign a DPoP proof"))
    }
}

/// `htu`: the URL without query and fragment (RFC 9449 section 4.2).
pub fn htu_of(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// Only the public members (josekit's public JWK may carry `alg`/`use`; harmless, but the
/// proof header is smaller without them).
fn public_only(jwk: Jwk) -> Jwk {
    let map = jwk.as_ref().clone();
    let keep = ["kty", "crv", "x", "y", "n", "e"];
    let filtered: serde_json::Map<String, serde_json::Value> = map
        .into_iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .collect();
    Jwk::from_map(filtered.clone()).unwrap_or(jwk)
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
pub fn thumbprint(jwk: &Jwk) -> String {
    let members: &[&str] = match jwk.key_type() {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => &["e", "kty", "n"],
    };
    let map = jwk.as_ref();
    let canonical: serde_json::Map<String, serde_json::Value> = members
        .iter()
        .filter_map(|m| map.get(*m).map(|v| (m.to_string(), v.clone())))
        .collect();
    // serde_json's map is ordered by key (no `preserve_order` feature): canonical as written.
    let text = serde_json::to_string(&canonical).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// The last `DPoP-Nonce` each server (origin) gave; bounded, since origins are few (the SSO
/// and the routes' upstreams) and a hostile upstream must not grow it.
#[derive(Default)]
pub struct Nonces(Mutex<HashMap<String, String>>);

const MAX_NONCE_ORIGINS: usize = 256;
const MAX_NONCE_LEN: usize = 512;

impl Nonces {
    fn origin(url: &url::Url) -> String {
        url.origin().ascii_serialization()
    }

    /// The nonce to send to `url`'s origin.
    pub fn get(&self, url: &url::Url) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&Self::origin(url))
            .cloned()
    }

    /// Remembers the `DPoP-Nonce` of a response from `url`, if it carries one.
    pub fn remember(&self, url: &url::Url, headers: &poem::http::HeaderMap) -> Option<String> {
        let nonce = headers
            .get(DPOP_NONCE)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE_LEN)?
            .to_string();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_NONCE_ORIGINS && !map.contains_key(&Self::origin(url)) {
            map.clear();
        }
        map.insert(Self::origin(url), nonce.clone());
        Some(nonce)
    }
}

/// Whether a resource server's answer is the `use_dpop_nonce` challenge (RFC 9449 section 9).
pub fn is_nonce_challenge_header(
    status: poem::http::StatusCode,
    headers: &poem::http::HeaderMap,
) -> bool {
    status == poem::http::StatusCode::UNAUTHORIZED
        && headers
            .get_all(poem::http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("use_dpop_nonce"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_carries_the_claims_and_verifies_with_the_key_in_its_header() {
        for alg in [DpopAlg::ES256, DpopAlg::EdDSA] {
            let key = DpopKey::generate(alg).unwrap();
            let url = url::Url::parse("https://api.example.com/x/y?q=1#f").unwrap();
            let proof = key
                .proof("GET", &url, Some("n-1"), Some("the-access-token"))
                .unwrap();
            let header = josekit::jwt::decode_header(&proof).unwrap();
            assert_eq!(header.claim("typ").unwrap(), "dpop+jwt");
            let jwk =
                Jwk::from_map(header.claim("jwk").unwrap().as_object().unwrap().clone()).unwrap();
            assert!(jwk.parameter("d").is_none(), "no private member");
            assert_eq!(thumbprint(&jwk), key.thumbprint().unwrap());
            let verifier: Box<dyn josekit::jws::JwsVerifier> = match alg {
                DpopAlg::ES256 => Box::new(josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap()),
                _ => Box::new(josekit::jws::EdDSA.verifier_from_jwk(&jwk).unwrap()),
            };
            let (payload, _) =
                josekit::jwt::decode_with_verifier(&proof, verifier.as_ref()).unwrap();
            assert_eq!(payload.claim("htm").unwrap(), "GET");
            assert_eq!(payload.claim("htu").unwrap(), "https://api.example.com/x/y");
            assert_eq!(payload.claim("nonce").unwrap(), "n-1");
            let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(b"the-access-token"));
            assert_eq!(payload.claim("ath").unwrap(), &serde_json::Value::from(ath));
            assert!(payload.jwt_id().is_some() && payload.issued_at().is_some());
        }
    }

    #[test]
    fn the_thumbprint_matches_rfc_7638s_example() {
        // RFC 7638 section 3.1.
        let jwk: Jwk = Jwk::from_bytes(br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
