//! The optional store (Redis): back-channel logout from the real oidc-provider, refused logout
//! tokens, revocation by the CLI, logout ending copied cookies, one refresh across replicas,
//! and Redis going away — each with a real `redis-server` and two BFF replicas sharing keys
//! and store but no affinity.

use crate::helpers::*;
use crate::redis::TestRedis;
use oidc_bff::session::now;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The bound on how long a revocation takes to reach another replica (pub/sub); the README
/// promises about a second.
const PROPAGATION: Duration = Duration::from_secs(2);

fn store_config(redis: &TestRedis, extra: &str) -> String {
    format!(
        "[oidc]\nclient_id = \"bff-bcl\"\nclient_secret = \"bff-bcl-secret\"\n[store]\nurl = \"{}\"\n{extra}",
        redis.url()
    )
}

/// Two replicas with the same keys and store.
async fn replicas(overrides: &str) -> (TestApp, TestApp) {
    let first = spawn_app_with(config_with(overrides)).await;
    let second = spawn_app_with(config_with(overrides)).await;
    wait_in_sync(&first).await;
    wait_in_sync(&second).await;
    (first, second)
}

async fn wait_in_sync(app: &TestApp) {
    let store = app.state.store.clone().expect("a store is configured");
    let start = Instant::now();
    while !store.in_sync() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the store never synced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The same browser (cookie jar) talking to another replica.
fn same_browser_at(app: &TestApp, other: &TestApp) -> TestApp {
    TestApp {
        address: other.address.clone(),
        state: other.state.clone(),
        http: app.http.clone(),
        jar: app.jar.clone(),
        sso_jar: app.sso_jar.clone(),
    }
}

/// Polls `/api/session` until it says `authenticated == want`; panics after [`PROPAGATION`].
async fn wait_authenticated(app: &mut TestApp, want: bool) {
    let start = Instant::now();
    loop {
        let response = app.get("/api/session").await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        if body["authenticated"] == want {
            return;
        }
        assert!(
            start.elapsed() < PROPAGATION,
            "still authenticated = {} after {PROPAGATION:?}",
            body["authenticated"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post_logout_token(app: &TestApp, token: Option<&str>) -> (u16, Value) {
    let form: Vec<(&str, &str)> = token.map(|t| vec![("logout_token", t)]).unwrap_or_default();
    let response = app
        .http
        .post(format!("{}/api/backchannel-logout", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn sign(claims: Value, header: Value) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/__test/sign", sso().base))
        .json(&json!({ "claims": claims, "header": header }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

fn logout_claims(sid: &str) -> Value {
    json!({
        "iss": sso().issuer, "aud": "bff-bcl", "iat": now(), "jti": format!("jti-{}", rand_id()),
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        "sid": sid,
    })
}

fn rand_id() -> String {
    format!("{:x}", rand::random::<u64>())
}

fn sso_sid(app: &TestApp) -> String {
    app.sealed_session().id_claims()["sid"]
        .as_str()
        .expect("the ID token carries sid (backchannel_logout_session_required)")
        .to_string()
}

#[tokio::test]
async fn without_a_store_nothing_changes_and_back_channel_logout_says_it_needs_one() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    assert!(app.state.store.is_none());
    let (status, body) = post_logout_token(&app, Some("x.y.z")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("needs a session store"));
    app.login_as("alice").await;
    assert_eq!(app.session().await["authenticated"], true);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "bff_store_up 0"), "{metrics}");
}

#[tokio::test]
async fn back_channel_logout_from_the_sso_ends_the_session_on_both_replicas() {
    let _sso = shared_sso().await;
    let redis = TestRedis::start();
    let (mut one, two) = replicas(&store_config(&redis, "")).await;
    // The SSO delivers https://app.test/... to replica one (a load balancer would pick one).
    sso()
        .control(
            "backchannel",
            json!({ "from": PUBLIC_URL, "to": one.address }),
        )
        .await;
    one.login_as("alice").await;
    let sid = sso_sid(&one);
    let mut at_two = same_browser_at(&one, &two);
    assert_eq!(at_two.session().await["authenticated"], true);
    let delivered_before = backchannel_deliveries().await.len();

    // The user signs out at the SSO itself (another app's logout button, say).
    end_sso_session(&mut one).await;
    let start = Instant::now();
    loop {
        let deliveries = backchannel_deliveries().await;
        if let Some(last) = deliveries.get(delivered_before) {
            assert_eq!(
                last["status"], 200,
                "the BFF accepted the logout token: {last}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no back-channel delivery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Replica two learns it through the store; the cookie is cleared there.
    wait_authenticated(&mut at_two, false).await;
    assert!(!at_two.jar.cookies.contains_key("__Host-bff"), "cleared");
    // Replica one refuses it too, on the relay as well.
    let response = one.get("/api/chat/status/200").await;
    assert_eq!(response.status(), 401);
    let metrics = two
        .http
        .get(format!("{}/metrics", two.address))
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("bff_session_cookies_refused_total{reason=\"revoked\"} 1"),
        "{metrics}"
    );
    // Redis holds no id in the clear.
    let keys = redis.command(&["KEYS", "*"]);
    assert!(keys.contains("oidc-bff:deny:sso-session:"), "{keys}");
    assert!(!keys.contains(&sid), "{keys}");
}

/// Every back-channel delivery the test SSO made so far.
async fn backchannel_deliveries() -> Vec<Value> {
    let response = reqwest::get(format!("{}/__test/backchannel", sso().base))
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["deliveries"].as_array().unwrap().clone()
}

/// Ends the SSO session through oidc-provider's end-session endpoint and its confirmation
/// form, as a browser would (the BFF is not involved).
async fn end_sso_session(app: &mut TestApp) {
    let issuer = sso().issuer.clone();
    let base = url::Url::parse(&issuer).unwrap();
    let response = app
        .http
        .get(format!("{issuer}/session/end"))
        .header("cookie", app.sso_jar.header())
        .send()
        .await
        .unwrap();
    app.sso_jar.absorb(&response);
    let page = response.text().await.unwrap();
    let action = between(&page, "action=\"", "\"").expect("the logout form");
    let xsrf = between(&page, "name=\"xsrf\" value=\"", "\"").expect("its xsrf field");
    let action = base.join(&action).unwrap();
    let response = app
        .http
        .post(action)
        .header("cookie", app.sso_jar.header())
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_redirection() || response.status().is_success(),
        "end session: {}",
        response.status()
    );
    app.sso_jar.absorb(&response);
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].replace("&amp;", "&"))
}

#[tokio::test]
async fn forged_replayed_and_malformed_logout_tokens_are_refused_and_end_nothing() {
    let _sso = shared_sso().await;
    let redis = TestRedis::start();
    let (mut one, two) = replicas(&store_config(&redis, "")).await;
    one.login_as("bob").await;
    let sid = sso_sid(&one);
    let valid = || logout_claims(&sid);
    let mut refused: Vec<(&str, String)> = Vec::new();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid();
        change(&mut claims);
        claims
    };
    let header = json!({});
    refused.push((
        "wrong audience",
        sign(with(&|c| c["aud"] = json!("bff-post")), header.clone()).await,
    ));
    refused.push((
        "wrong issuer",
        sign(
            with(&|c| c["iss"] = json!("https://evil.test")),
            header.clone(),
        )
        .await,
    ));
    refused.push((
        "a nonce",
        sign(with(&|c| c["nonce"] = json!("n-1")), header.clone()).await,
    ));
    refused.push((
        "no event",
        sign(with(&|c| c["events"] = json!({})), header.clone()).await,
    ));
    refused.push((
        "too old",
        sign(with(&|c| c["iat"] = json!(now() - 3600)), header.clone()).await,
    ));
    refused.push((
        "no jti",
        sign(
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            header.clone(),
        )
        .await,
    ));
    refused.push((
        "neither sid nor sub",
        sign(
            with(&|c| {
                c.as_object_mut().unwrap().remove("sid");
            }),
            header.clone(),
        )
        .await,
    ));
    refused.push((
        "an id token typ",
        sign(valid(), json!({ "typ": "at+jwt" })).await,
    ));
    let genuine = sign(valid(), header.clone()).await;
    let mut forged = genuine.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    refused.push(("a forged signature", forged));
    let (head, rest) = genuine.split_once('.').unwrap();
    let _ = head;
    let none_header = base64url(br#"{"alg":"none","typ":"logout+jwt"}"#);
    let payload = rest.split('.').next().unwrap();
    refused.push(("alg none", format!("{none_header}.{payload}.")));
    let hs_header = base64url(br#"{"alg":"HS256","kid":"rsa-1"}"#);
    refused.push(("HMAC", format!("{hs_header}.{payload}.AAAA")));
    refused.push(("garbage", "not-a-jwt".into()));
    refused.push(("too long", "a".repeat(20_000)));
    for (what, token) in &refused {
        let (status, body) = post_logout_token(&two, Some(token)).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}");
        assert!(body["error_description"].is_string(), "{what}");
    }
    let (status, _) = post_logout_token(&two, None).await;
    assert_eq!(status, 400, "no logout_token");
    assert_eq!(
        one.session().await["authenticated"],
        true,
        "nothing was ended"
    );

    // The genuine one works once; its replay is refused.
    let (status, _) = post_logout_token(&two, Some(&genuine)).await;
    assert_eq!(status, 200);
    let (status, body) = post_logout_token(&one, Some(&genuine)).await;
    assert_eq!(status, 400);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    wait_authenticated(&mut one, false).await;
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_logout_token_naming_only_sub_ends_the_sessions_signed_in_before_it() {
    let _sso = shared_sso().await;
    let redis = TestRedis::start();
    let (mut one, two) = replicas(&store_config(&redis, "")).await;
    one.login_as("carol").await;
    let mut other_device = two.another_browser();
    other_device.login_as("carol").await;
    let mut bob = two.another_browser();
    bob.login_as("bob").await;
    let mut claims = logout_claims("unused");
    claims.as_object_mut().unwrap().remove("sid");
    claims["sub"] = json!("carol");
    let (status, _) = post_logout_token(&one, Some(&sign(claims, json!({})).await)).await;
    assert_eq!(status, 200);
    wait_authenticated(&mut one, false).await;
    wait_authenticated(&mut other_device, false).await;
    assert_eq!(
        bob.session().await["authenticated"],
        true,
        "another user is untouched"
    );
    // A sign-in after the event is a new session (the entry covers logins up to its time).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    one.jar = Jar::default();
    one.sso_jar = Jar::default();
    one.login_as("carol").await;
    assert_eq!(one.session().await["authenticated"], true);
}

#[tokio::test]
async fn oidc_bff_revoke_ends_a_users_sessions_on_running_replicas() {
    let _sso = shared_sso().await;
    let redis = TestRedis::start();
    let overrides = store_config(&redis, "");
    let (mut one, two) = replicas(&overrides).await;
    one.login_as("alice").await;
    let mut at_two = same_browser_at(&one, &two);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dev.toml"), "").unwrap();
    let file = dir.path().join("bff.toml");
    let toml = config_toml("")
        .replace("\"bff-basic\"", "\"bff-bcl\"")
        .replace("bff-basic-secret", "bff-bcl-secret");
    std::fs::write(
        &file,
        format!("{toml}\n[store]\nurl = \"{}\"\n", redis.url()),
    )
    .unwrap();
    let cli = |args: &[&str], with_store: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_oidc-bff"));
        command
            .env_clear()
            .env("BFF_CONFIG_DIR", dir.path())
            .env("BFF_CONFIG_FILE", &file)
            .args(args);
        if !with_store {
            command.env("BFF_STORE__URL", "");
        }
        command.output().unwrap()
    };
    let output = cli(&["revoke", "--sub", "alice"], true);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("revoked every session of that subject")
    );
    wait_authenticated(&mut at_two, false).await;
    wait_authenticated(&mut one, false).await;
    // Without a store the command says what it needs.
    let output = cli(&["revoke", "--sid", "x"], false);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a session store"));
    let output = cli(&["revoke"], true);
    assert_eq!(output.status.code(), Some(2), "nothing named");
}

#[tokio::test]
async fn logout_ends_a_copied_cookie_on_every_replica() {
    let _sso = shared_sso().await;
    let redis = TestRedis::start();
    let (mut one, two) = replicas(&store_config(&redis, "")).await;
    one.login_as("alice").await;
    let mut copy = same_browser_at(&one, &two);
    let csrf = one.csrf();
    let response = one
        .request(Method::POST, "/api/logout", &[("x-xsrf-token", &csrf)])
        .await;
    assert_eq!(response.status(), 200);
    wait_authenticated(&mut copy, false).await;
    let text = one.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("bff_revocations_total{source=\"logout\"} 1"),
        "{text}"
    );
}

/// Sixteen parallel relayed requests of one session with a due access token, alternating
/// between two replicas (no affinity). Returns the statuses, the number of refresh calls the
/// SSO saw, and the session cookies the replicas wrote.
async fn race(one: &mut TestApp, two: &TestApp) -> (Vec<u16>, u64, Vec<String>) {
    one.login_as("alice").await;
    one.rewrite_session(|s| s.access_expires_at = now() - 1);
    let before = sso().stats().await["token"]["refresh_token"]
        .as_u64()
        .unwrap_or(0);
    let cookie = one.jar.header();
    let calls = (0..16).map(|i| {
        let address = if i % 2 == 0 {
            &one.address
        } else {
            &two.address
        };
        one.http
            .get(format!("{address}/api/chat/status/200"))
            .header("cookie", cookie.clone())
            .send()
    });
    let mut statuses = Vec::new();
    let mut cookies = Vec::new();
    for response in futures_util::future::join_all(calls).await {
        let response = response.unwrap();
        statuses.push(response.status().as_u16());
        let mut jar = Jar::default();
        jar.absorb(&response);
        if let Some(value) = jar.cookies.get("__Host-bff") {
            cookies.push(value.clone());
        }
    }
    let after = sso().stats().await["token"]["refresh_token"]
        .as_u64()
        .unwrap_or(0);
    (statuses, after - before, cookies)
}

#[tokio::test]
async fn sixteen_parallel_requests_over_two_replicas_refresh_once_with_the_store() {
    let _sso = exclusive_sso().await;
    let redis = TestRedis::start();
    let (mut one, two) = replicas(&store_config(&redis, "")).await;
    let (statuses, refreshes, cookies) = race(&mut one, &two).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        refreshes, 1,
        "one SSO refresh for 16 requests on 2 replicas"
    );
    // Every tab still signed in: each cookie a replica wrote opens on the other, and works.
    assert!(!cookies.is_empty());
    for cookie in cookies {
        for app in [&one, &two] {
            let response = app
                .http
                .get(format!("{}/api/session", app.address))
                .header("cookie", format!("__Host-bff={cookie}"))
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["authenticated"], true);
        }
    }
    // The shared result in Redis is sealed: no token in the clear.
    let keys = redis.command(&["KEYS", "oidc-bff:refresh:result:*"]);
    let key = keys
        .lines()
        .find(|l| l.starts_with("oidc-bff:"))
        .expect("a shared refresh result");
    let value = redis.command(&["GET", key]);
    let session = one.sealed_session();
    assert!(!value.contains(&session.refresh_token.unwrap().expose().to_string()));

    // The same race without the store: two replicas, two refreshes, and the SSO's reuse
    // detection signs the user out on one of them (what the store prevents).
    drop((one, two));
    let mut one = spawn_app().await;
    let two = spawn_app().await;
    let (statuses, refreshes, _) = race(&mut one, &two).await;
    assert_eq!(refreshes, 2, "one refresh per replica");
    assert!(statuses.contains(&401), "{statuses:?}");
}

#[tokio::test]
async fn redis_going_away_keeps_serving_from_cookies_and_deny_mode_refuses_instead() {
    let _sso = shared_sso().await;
    let mut redis = TestRedis::start();
    let (mut serve, _) = replicas(&store_config(&redis, "")).await;
    let mut deny = spawn_app_with(config_with(&store_config(
        &redis,
        "on_unavailable = \"deny\"",
    )))
    .await;
    wait_in_sync(&deny).await;
    serve.login_as("alice").await;
    deny.login_as("bob").await;

    redis.kill();
    let store = serve.state.store.clone().unwrap();
    let start = Instant::now();
    while store.in_sync() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the outage was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Availability first: served from the cookie, ready, the outage visible in metrics.
    assert_eq!(serve.session().await["authenticated"], true);
    assert_eq!(serve.get("/api/chat/status/200").await.status(), 200);
    assert_eq!(serve.get("/readyz").await.status(), 200);
    let text = serve.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("bff_store_up 0"), "{text}");
    // A due token still refreshes (without coordination) instead of failing.
    serve.rewrite_session(|s| s.access_expires_at = now() - 1);
    assert_eq!(serve.get("/api/chat/status/200").await.status(), 200);
    // Deny mode: signed-in requests get 503, anonymous ones and logout still work.
    let start = Instant::now();
    while deny.state.store.as_ref().unwrap().in_sync() {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let response = deny.get("/api/session").await;
    assert_eq!(response.status(), 503);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["type"]
        .as_str()
        .unwrap()
        .ends_with("store-unavailable"));
    assert_eq!(deny.get("/api/chat/status/200").await.status(), 503);
    assert!(
        deny.jar.cookies.contains_key("__Host-bff"),
        "the session is kept"
    );
    assert_eq!(deny.get("/readyz").await.status(), 200);

    // Back: it reconnects by itself, and revocations work again.
    redis.restart();
    wait_in_sync(&serve).await;
    wait_in_sync(&deny).await;
    assert_eq!(deny.session().await["authenticated"], true);
    let csrf = serve.csrf();
    let copy = serve.jar.clone();
    let response = serve
        .request(Method::POST, "/api/logout", &[("x-xsrf-token", &csrf)])
        .await;
    assert_eq!(response.status(), 200);
    serve.jar = copy;
    wait_authenticated(&mut serve, false).await;
}

async fn admin_revoke(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/api/admin/revoke", app.address))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_endpoint_is_off_by_default_and_needs_its_own_bearer_token() {
    let _sso = shared_sso().await;
    let redis = TestRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let token = "an-admin-token-of-forty-characters-long!";
    let file = dir.path().join("admin-token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let admin = format!("[admin]\ntoken_file = {:?}\n", file.to_str().unwrap());
    let (mut one, mut two) = replicas(&format!("{}{admin}", store_config(&redis, ""))).await;
    one.login_as("alice").await;
    let mut at_two = same_browser_at(&one, &two);
    // Off by default: a replica without the token file has no such endpoint.
    let off = spawn_app_with(config_with(&store_config(&redis, ""))).await;
    let (status, _) = admin_revoke(&off, Some(token), json!({ "sub": "alice" })).await;
    assert_eq!(status, 404);
    // No token, a wrong one, or the user's own session: 401, nothing ended.
    for wrong in [None, Some("an-admin-token-of-forty-characters-long?")] {
        let (status, _) = admin_revoke(&two, wrong, json!({ "sub": "alice" })).await;
        assert_eq!(status, 401);
    }
    let response = one
        .http
        .post(format!("{}/api/admin/revoke", one.address))
        .header("cookie", one.jar.header())
        .header("x-xsrf-token", one.csrf())
        .json(&json!({ "sub": "alice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "a session is not the admin token");
    assert_eq!(at_two.session().await["authenticated"], true);
    // Exactly one of sub and sid.
    for body in [
        json!({}),
        json!({ "sub": "alice", "sid": "x" }),
        json!({ "sub": "" }),
    ] {
        let (status, _) = admin_revoke(&two, Some(token), body).await;
        assert_eq!(status, 400);
    }
    let (status, body) = admin_revoke(&two, Some(token), json!({ "sub": "alice" })).await;
    assert_eq!(status, 200);
    assert_eq!(body["revoked"], "subject");
    wait_authenticated(&mut one, false).await;
    let text = two.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("bff_revocations_total{source=\"admin\"} 1"),
        "{text}"
    );
}
