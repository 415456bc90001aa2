//! A resource server that checks every DPoP proof as RFC 9449 section 7 asks: the `DPoP`
//! authorization scheme, a `dpop+jwt` proof signed by the key in its header, `htm`, `htu`,
//! `ath`, a `jti` never seen before, a fresh `iat`, the token's `cnf.jkt` equal to the proof
//! key's thumbprint, and its own nonce (`use_dpop_nonce` challenges, a new nonce per round).

use crate::recorder::read_head;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// What the upstream decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed.
    Ok,
    /// A valid proof without the current nonce: challenged.
    Challenged,
    /// Refused, with the reason.
    Refused(String),
}

#[derive(Default)]
struct State {
    verdicts: Vec<Verdict>,
    jtis: HashSet<String>,
    nonce: u32,
}

pub struct DpopUpstream {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl DpopUpstream {
    pub async fn start() -> DpopUpstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            nonce: 1,
            ..State::default()
        }));
        let shared = state.clone();
        let origin = base.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let state = shared.clone();
                let origin = origin.clone();
                tokio::spawn(async move {
                    let Some(seen) = read_head(&mut stream).await else {
                        return;
                    };
                    let verdict = judge(&origin, &seen, &state);
                    let nonce = format!("upstream-nonce-{}", state.lock().unwrap().nonce);
                    let (status, extra) = match &verdict {
                        Verdict::Ok => ("200 OK", format!("dpop-nonce: {nonce}\r\n")),
                        Verdict::Challenged => (
                            "401 Unauthorized",
                            format!(
                                "www-authenticate: DPoP error=\"use_dpop_nonce\"\r\ndpop-nonce: {nonce}\r\n"
                            ),
                        ),
                        Verdict::Refused(_) => (
                            "401 Unauthorized",
                            "www-authenticate: DPoP error=\"invalid_dpop_proof\"\r\n".into(),
                        ),
                    };
                    state.lock().unwrap().verdicts.push(verdict);
                    let body = "{}";
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        DpopUpstream { base, state }
    }

    pub fn verdicts(&self) -> Vec<Verdict> {
        self.state.lock().unwrap().verdicts.clone()
    }

    /// Asks for a new nonce from now on (the next proof is challenged once).
    pub fn rotate_nonce(&self) {
        self.state.lock().unwrap().nonce += 1;
    }
}

fn judge(origin: &str, seen: &crate::recorder::Seen, state: &Mutex<State>) -> Verdict {
    match check(origin, seen, state) {
        Ok(verdict) => verdict,
        Err(reason) => Verdict::Refused(reason),
    }
}

fn check(
    origin: &str,
    seen: &crate::recorder::Seen,
    state: &Mutex<State>,
) -> Result<Verdict, String> {
    let token = seen
        .header("authorization")
        .and_then(|a| a.strip_prefix("DPoP "))
        .ok_or("no DPoP authorization")?;
    let proof = seen.header("dpop").ok_or("no DPoP proof")?;
    let header = josekit::jwt::decode_header(proof).map_err(|e| format!("header: {e}"))?;
    if header.claim("typ").and_then(|t| t.as_str()) != Some("dpop+jwt") {
        return Err("typ".into());
    }
    let jwk_map = header
        .claim("jwk")
        .and_then(|j| j.as_object())
        .ok_or("no jwk")?
        .clone();
    if jwk_map.contains_key("d") {
        return Err("a private key in the proof".into());
    }
    let jwk = josekit::jwk::Jwk::from_map(jwk_map).map_err(|e| format!("jwk: {e}"))?;
    let alg = header.claim("alg").and_then(|a| a.as_str()).unwrap_or("");
    let verifier: Box<dyn josekit::jws::JwsVerifier> = match alg {
        "ES256" => Box::new(
            josekit::jws::ES256
                .verifier_from_jwk(&jwk)
                .map_err(|e| e.to_string())?,
        ),
        "EdDSA" => Box::new(
            josekit::jws::EdDSA
                .verifier_from_jwk(&jwk)
                .map_err(|e| e.to_string())?,
        ),
        "PS256" => Box::new(
            josekit::jws::PS256
                .verifier_from_jwk(&jwk)
                .map_err(|e| e.to_string())?,
        ),
        other => return Err(format!("alg {other}")),
    };
    let (claims, _) = josekit::jwt::decode_with_verifier(proof, verifier.as_ref())
        .map_err(|e| format!("signature: {e}"))?;
    let text = |name: &str| {
        claims
            .claim(name)
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    if text("htm").as_deref() != Some(seen.method.as_str()) {
        return Err("htm".into());
    }
    let path = seen.target.split('?').next().unwrap_or("");
    if text("htu") != Some(format!("{origin}{path}")) {
        return Err(format!("htu {:?}", text("htu")));
    }
    let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
    if text("ath") != Some(ath) {
        return Err("ath".into());
    }
    let iat = claims
        .issued_at()
        .ok_or("no iat")?
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| "iat")?
        .as_secs() as i64;
    if (oidc_bff::session::now() - iat).abs() > 60 {
        return Err("iat not fresh".into());
    }
    let jti = claims.jwt_id().ok_or("no jti")?.to_string();
    // The token is bound to this key.
    let payload = token
        .split('.')
        .nth(1)
        .ok_or("the access token is not a JWT")?;
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|_| "token")?)
            .map_err(|_| "token")?;
    let thumbprint = oidc_bff::oidc::dpop::thumbprint(&jwk);
    if payload["cnf"]["jkt"].as_str() != Some(thumbprint.as_str()) {
        return Err("cnf.jkt does not match the proof key".into());
    }
    let mut state = state.lock().unwrap();
    if !state.jtis.insert(jti) {
        return Err("jti replayed".into());
    }
    if text("nonce") != Some(format!("upstream-nonce-{}", state.nonce)) {
        return Ok(Verdict::Challenged);
    }
    Ok(Verdict::Ok)
}
