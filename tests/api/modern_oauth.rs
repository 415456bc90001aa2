//! Issue 13 against a real oidc-provider configured for each capability (`sso_fapi()`: PAR
//! required, DPoP with mandatory nonces, JWT access tokens with `cnf.jkt`, FAPI 2.0 for the
//! client `bff-fapi`) and an upstream that verifies every DPoP proof.

use crate::dpop_upstream::{DpopUpstream, Verdict};
use crate::helpers::*;
use oidc_bff::session::now;
use reqwest::Method;
use serde_json::Value;

fn route_to(upstream: &DpopUpstream) -> String {
    format!(
        "[[routes]]\nprefix = \"/api/dpop\"\nupstream = \"{}/svc\"\n",
        upstream.base
    )
}

fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT access token");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `/token` calls the SSO saw with the request id `id`.
async fn token_calls(sso: &TestSso, id: &str) -> usize {
    sso.stats().await["requestIds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/token" && r["id"] == id)
        .count()
}

async fn sign_in_with_id(app: &mut TestApp, user: &str, id: &str) {
    let authorize = app.start_login("/home").await;
    let callback = app.authorize_at_sso(&authorize, user).await;
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let response = app
        .request(Method::GET, &path, &[("x-request-id", id)])
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/home", "sign-in failed");
}

#[tokio::test]
async fn dpop_bound_tokens_through_par_with_nonces_at_the_sso_and_the_upstream() {
    let sso = sso_fapi();
    let upstream = DpopUpstream::start().await;
    let config = config_with(&format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"bff-dpop\"\nclient_secret = \"bff-dpop-secret\"\ndpop = true\n{}",
        sso.issuer,
        route_to(&upstream)
    ));
    let mut app = spawn_app_with(config).await;

    // PAR (the SSO requires it): the browser's redirect carries only client_id and request_uri.
    let authorize = app.start_login("/home").await;
    let keys: Vec<String> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(keys, ["client_id", "request_uri"]);
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let response = app
        .request(Method::GET, &path, &[("x-request-id", "dpop-callback")])
        .await;
    assert_eq!(location(&response), "/home", "sign-in failed");
    // The SSO demanded a nonce: the exchange went twice, the second time with it.
    assert_eq!(token_calls(sso, "dpop-callback").await, 2);

    let session = app.sealed_session();
    let key = session
        .dpop
        .clone()
        .expect("the session holds its DPoP key");
    assert!(key.bound, "the SSO issued a DPoP token");
    let jkt = key.thumbprint().unwrap();
    let access = session.access_token.expose().to_string();
    assert_eq!(jwt_claims(&access)["cnf"]["jkt"], jkt.as_str());
    assert_eq!(app.jar.session_names(), ["__Host-bff"], "still one cookie");

    // The relay: the upstream's nonce challenge is answered once, then nonces flow.
    assert_eq!(app.get("/api/dpop/items?page=2").await.status(), 200);
    assert_eq!(upstream.verdicts(), [Verdict::Challenged, Verdict::Ok]);
    assert_eq!(app.get("/api/dpop/more").await.status(), 200);
    assert_eq!(upstream.verdicts().last(), Some(&Verdict::Ok));
    assert_eq!(
        upstream.verdicts().len(),
        3,
        "no challenge with the current nonce"
    );
    // A request with a body meets a rotated nonce: the challenge goes back to the browser
    // (a streamed body is not sent twice), and the next request carries the new nonce.
    upstream.rotate_nonce();
    let csrf = app.csrf();
    let response = app
        .http
        .post(format!("{}/api/dpop/orders", app.address))
        .header("cookie", app.jar.header())
        .header("x-xsrf-token", &csrf)
        .header("content-type", "application/json")
        .body("{\"n\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(upstream.verdicts().last(), Some(&Verdict::Challenged));
    // Its nonce was remembered all the same: the next request carries it, unchallenged (one
    // request, not a challenge and a resend).
    let before = upstream.verdicts().len();
    assert_eq!(app.get("/api/dpop/again").await.status(), 200);
    assert_eq!(upstream.verdicts()[before..], [Verdict::Ok]);

    // A refresh proves possession of the same key; the new token is bound to it.
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    let response = app
        .request(
            Method::GET,
            "/api/dpop/after-refresh",
            &[("x-request-id", "dpop-refresh")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let refreshed = app.sealed_session();
    let refreshed_key = refreshed.dpop.clone().unwrap();
    assert_eq!(refreshed_key.thumbprint().unwrap(), jkt, "the same key");
    let new_access = refreshed.access_token.expose().to_string();
    assert_ne!(new_access, access);
    assert_eq!(jwt_claims(&new_access)["cnf"]["jkt"], jkt.as_str());
    assert!(token_calls(sso, "dpop-refresh").await >= 1);
    for verdict in upstream.verdicts() {
        assert!(!matches!(verdict, Verdict::Refused(_)), "{verdict:?}");
    }
}

#[tokio::test]
async fn fapi2_signs_in_with_private_key_jwt_par_and_dpop() {
    let sso = sso_fapi();
    let upstream = DpopUpstream::start().await;
    let config = config_with(&format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"bff-fapi\"\nauth_method = \"private_key_jwt\"\nprivate_key_alg = \"PS256\"\nprivate_key_id = \"bff-pkjwt-1\"\nprivate_key = \"\"\"{}\"\"\"\nprofile = \"fapi2\"\n{}",
        sso.issuer,
        sso.pkjwt_private_pem,
        route_to(&upstream)
    ));
    assert_eq!(config.oidc.par, oidc_bff::config::ParMode::Always);
    assert!(config.oidc.dpop);
    let mut app = spawn_app_with(config).await;
    sign_in_with_id(&mut app, "alice", "fapi-callback").await;
    // The nonce dance with a fresh client assertion for the second attempt.
    assert_eq!(token_calls(sso, "fapi-callback").await, 2);
    let session = app.sealed_session();
    assert!(session.dpop.as_ref().is_some_and(|k| k.bound));
    assert_eq!(app.session().await["authenticated"], true);
    assert_eq!(app.get("/api/dpop/report").await.status(), 200);
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    assert_eq!(app.get("/api/dpop/report").await.status(), 200);
    for verdict in upstream.verdicts() {
        assert!(!matches!(verdict, Verdict::Refused(_)), "{verdict:?}");
    }
}

#[tokio::test]
async fn without_par_at_the_sso_auto_keeps_todays_flow_and_always_refuses_to_start() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/home").await;
    assert!(
        authorize.contains("code_challenge="),
        "today's flow: {authorize}"
    );
    let mut strict = spawn_app_with(config_with("[oidc]\npar = \"always\"")).await;
    let response = strict.get("/api/login?returnTo=%2F").await;
    assert_eq!(response.status(), 502);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["type"].as_str().unwrap().ends_with("sso-refused"));
}

fn mtls_config(certificate: &str) -> oidc_bff::Config {
    let sso = sso_mtls();
    let files = mtls_files();
    let file = |name: &str| files.dir.join(name).display().to_string();
    let tls = sso.tls_base.as_ref().expect("the TLS listener");
    let path = url::Url::parse(&sso.issuer).unwrap().path().to_string();
    config_with(&format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"bff-mtls\"\nauth_method = \"self_signed_tls_client_auth\"\ntls_client_cert_file = \"{}\"\ntls_client_key_file = \"{}\"\nca_file = \"{}\"\n[oidc.endpoints]\ntoken = \"{tls}{path}/token\"\n",
        sso.issuer,
        file(&format!("{certificate}.pem")),
        file(&format!("{certificate}-key.pem")),
        file("ca.pem"),
    ))
}

#[tokio::test]
async fn mtls_client_authentication_signs_in_with_the_registered_certificate_only() {
    let mut app = spawn_app_with(mtls_config("client")).await;
    app.login_as("alice").await;
    assert_eq!(app.session().await["authenticated"], true);
    // A refresh authenticates the same way.
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    assert_eq!(app.get("/api/chat/status/200").await.status(), 200);

    // Another certificate than the registered one: the SSO refuses the client.
    let mut stranger = spawn_app_with(mtls_config("stranger")).await;
    let authorize = stranger.start_login("/home").await;
    let callback = stranger.authorize_at_sso(&authorize, "alice").await;
    let response = stranger.callback(&callback).await;
    assert_eq!(location(&response), "/?authError=code_rejected");
    assert_eq!(stranger.session().await["authenticated"], false);
}
