//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.6): the SSO
//! tells us a session ended. openidconnect does not reach here, so the JWT is checked with
//! josekit against the same cached JWKS the ID tokens use (refetched once on an unknown `kid`).
//!
//! Checked: the signature (RS/PS/ES/EdDSA only; `none` and HMAC refused), `typ` when present,
//! `iss`, `aud`, `iat` (not in the future, not older than [`MAX_AGE`]), `exp` when present,
//! `jti`, the back-channel logout event, `sid` and/or `sub`, and no `nonce`. Replay of `jti` is
//! refused by the caller through the store.

use super::Sso;
use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::JwsVerifier;
use serde_json::Value;

/// The event member a logout token must carry.
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Oldest `iat` accepted (seconds); a `jti` is remembered for longer than this.
pub const MAX_AGE: i64 = 300;
/// Clock difference tolerated with the SSO (seconds).
const SKEW: i64 = 60;
/// Longest logout token read (a few hundred bytes in practice).
pub const MAX_LEN: usize = 16 * 1024;

/// What a valid logout token says ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    /// The SSO session that ended.
    pub sid: Option<String>,
    /// The user whose sessions ended (alone, or with `sid`).
    pub sub: Option<String>,
    /// The token's id, for replay detection.
    pub jti: String,
}

/// Why a logout token was refused: the `error_description` of the 400 answer (safe to show:
/// it never repeats the token).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(why: impl Into<String>) -> Invalid {
    Invalid(why.into())
}

impl Sso {
    /// Validates a logout token as of `now` (Unix seconds).
    #[tracing::instrument(name = "oidc.logout_token", skip_all)]
    pub async fn verify_logout_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<LogoutClaims, Invalid> {
        if token.len() > MAX_LEN {
            return Err(invalid("the logout token is too long"));
        }
        let header = josekit::jwt::decode_header(token)
            .map_err(|_| invalid("the logout token is not a JWT"))?;
        let alg = header
            .claim("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the logout token names no algorithm"))?
            .to_string();
        if let Some(typ) = header.claim("typ").and_then(Value::as_str) {
            let typ = typ.to_ascii_lowercase();
            if typ != "logout+jwt" && typ != "application/logout+jwt" && typ != "jwt" {
                return Err(invalid("the logout token's typ is not logout+jwt"));
            }
        }
        let fapi = self.config.profile == crate::config::OidcProfile::Fapi2;
        if fapi && !matches!(alg.as_str(), "PS256" | "ES256" | "EdDSA") {
            return Err(invalid(
                "FAPI 2.0 allows PS256, ES256 and EdDSA logout tokens only",
            ));
        }
        let kid = header
            .claim("kid")
            .and_then(Value::as_str)
            .map(String::from);
        let provider = self
            .provider()
            .await
            .map_err(|_| invalid("the SSO's keys are not loaded yet"))?;
        let mut payload = verify_with(&provider.jwks, token, &alg, kid.as_deref());
        if matches!(payload, Err(Checked::NoKey)) {
            if let Some(provider) = self.refetch_keys().await {
                payload = verify_with(&provider.jwks, token, &alg, kid.as_deref());
            }
        }
        let claims = match payload {
            Ok(claims) => claims,
            Err(Checked::NoKey) => {
                return Err(invalid("no key of the SSO matches the logout token"))
            }
            Err(Checked::Refused(why)) => return Err(invalid(why)),
        };
        check_claims(&claims, &self.config.issuer, &self.config.client_id, now)
    }
}

enum Checked {
    NoKey,
    Refused(String),
}

/// The verified claims, trying every key of the set that fits `kid` and `alg`.
fn verify_with(
    jwks: &openidconnect::core::CoreJsonWebKeySet,
    token: &str,
    alg: &str,
    kid: Option<&str>,
) -> Result<serde_json::Map<String, Value>, Checked> {
    let set = serde_json::to_value(jwks)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .and_then(|map| JwkSet::from_map(map).ok())
        .ok_or(Checked::NoKey)?;
    let candidates: Vec<&Jwk> = match kid {
        Some(kid) => set.get(kid),
        None => set.keys(),
    };
    let mut any = false;
    for jwk in candidates {
        let Some(verifier) = verifier(alg, jwk)? else {
            continue;
        };
        any = true;
        if let Ok((payload, _)) = josekit::jwt::decode_with_verifier(token, verifier.as_ref()) {
            return Ok(payload.claims_set().clone());
        }
    }
    if any {
        Err(Checked::Refused(
            "the logout token's signature does not verify".into(),
        ))
    } else {
        Err(Checked::NoKey)
    }
}

/// A verifier for `alg` from `jwk`; `None` when the key does not fit the algorithm; an error
/// for algorithms never accepted.
fn verifier(alg: &str, jwk: &Jwk) -> Result<Option<Box<dyn JwsVerifier>>, Checked> {
    use josekit::jws::{EdDSA, ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512};
    let verifier: Result<Box<dyn JwsVerifier>, _> = match alg {
        "RS256" => RS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "RS384" => RS384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "RS512" => RS512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "PS256" => PS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "PS384" => PS384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "PS512" => PS512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "ES256" => ES256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "ES384" => ES384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "ES512" => ES512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "EdDSA" => EdDSA.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        other => {
            return Err(Checked::Refused(format!(
                "the logout token's algorithm {other:.16} is not accepted"
            )))
        }
    };
    Ok(verifier.ok())
}

/// The claims checks of section 2.6, steps 3 to 7.
fn check_claims(
    claims: &serde_json::Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<LogoutClaims, Invalid> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(String::from);
    if text("iss").as_deref() != Some(issuer) {
        return Err(invalid("the logout token's iss is not our SSO"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid("the logout token's aud does not name this client"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("the logout token has no iat"))?;
    if iat > now + SKEW {
        return Err(invalid("the logout token's iat is in the future"));
    }
    if iat < now - MAX_AGE {
        return Err(invalid("the logout token is too old"));
    }
    if let Some(exp) = claims.get("exp") {
        if exp.as_i64().is_none_or(|exp| exp < now - SKEW) {
            return Err(invalid("the logout token has expired"));
        }
    }
    let jti = text("jti").ok_or_else(|| invalid("the logout token has no jti"))?;
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(invalid(
            "the logout token carries no back-channel logout event",
        ));
    }
    if claims.contains_key("nonce") {
        return Err(invalid("a logout token must not carry a nonce"));
    }
    let sid = text("sid");
    let sub = text("sub");
    if sid.is_none() && sub.is_none() {
        return Err(invalid("the logout token names neither sid nor sub"));
    }
    Ok(LogoutClaims { sid, sub, jti })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn valid() -> Value {
        json!({
            "iss": "https://sso", "aud": "bff", "iat": 1000, "jti": "j1",
            "events": { BACKCHANNEL_EVENT: {} }, "sid": "s1"
        })
    }

    #[test]
    fn each_claim_rule_refuses_what_it_names() {
        let ok = check_claims(&claims(valid()), "https://sso", "bff", 1000).unwrap();
        assert_eq!(ok.sid.as_deref(), Some("s1"));
        let mut cases: Vec<(&str, Value)> = Vec::new();
        let mut with = |why: &'static str, change: &dyn Fn(&mut Value)| {
            let mut value = valid();
            change(&mut value);
            cases.push((why, value));
        };
        with("iss", &|v| v["iss"] = json!("https://other"));
        with("aud", &|v| v["aud"] = json!(["other"]));
        with("iat", &|v| {
            v.as_object_mut()
                .unwrap()
                .remove("iat")
                .map(drop)
                .unwrap_or(())
        });
        with("future", &|v| v["iat"] = json!(2000));
        with("old", &|v| v["iat"] = json!(1));
        with("exp", &|v| v["exp"] = json!(10));
        with("jti", &|v| {
            v.as_object_mut()
                .unwrap()
                .remove("jti")
                .map(drop)
                .unwrap_or(())
        });
        with("event", &|v| v["events"] = json!({"other": {}}));
        with("event object", &|v| {
            v["events"] = json!({ BACKCHANNEL_EVENT: "yes" })
        });
        with("nonce", &|v| v["nonce"] = json!("n"));
        with("sid or sub", &|v| {
            v.as_object_mut()
                .unwrap()
                .remove("sid")
                .map(drop)
                .unwrap_or(())
        });
        for (why, value) in cases {
            assert!(
                check_claims(&claims(value), "https://sso", "bff", 1000).is_err(),
                "{why} accepted"
            );
        }
        let mut sub_only = valid();
        sub_only.as_object_mut().unwrap().remove("sid");
        sub_only["sub"] = json!("u1");
        sub_only["aud"] = json!(["x", "bff"]);
        let ok = check_claims(&claims(sub_only), "https://sso", "bff", 1000).unwrap();
        assert_eq!((ok.sid, ok.sub.as_deref()), (None, Some("u1")));
    }
}
