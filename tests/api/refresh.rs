//! Transparent refresh, its coalescing, and how failures end or keep the session.

use crate::helpers::*;
use oidc_bff::session::now;

fn refresh_calls(stats: &serde_json::Value) -> u64 {
    stats["token"]["refresh_token"].as_u64().unwrap_or(0)
}

/// Marks the access token as expired (what the clock would do after its TTL).
fn expire_access_token(app: &mut TestApp) {
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
}

#[tokio::test]
async fn due_access_token_is_refreshed_and_the_new_cookie_set_on_the_same_response() {
    let _sso = exclusive_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let before = app.sealed_session();
    expire_access_token(&mut app);
    let calls = refresh_calls(&sso().stats().await);

    let response = app.get("/api/chat/whoami").await;

    assert_eq!(response.status(), 200);
    assert!(
        app.jar.set_cookie_line("__Host-bff").is_some(),
        "new session cookie on this response"
    );
    let seen: serde_json::Value = response.json().await.unwrap();
    let after = app.sealed_session();
    assert_ne!(after.access_token.expose(), before.access_token.expose());
    assert_eq!(
        seen["authorization"],
        format!("Bearer {}", after.access_token.expose())
    );
    assert_ne!(
        after.refresh_token, before.refresh_token,
        "rotated refresh token stored"
    );
    assert!(after.access_expires_at > now());
    assert_eq!(after.sid, before.sid);
    assert_eq!(refresh_calls(&sso().stats().await) - calls, 1);
    assert_eq!(app.session().await["user"]["sub"], "alice");
}

#[tokio::test]
async fn sixteen_parallel_requests_on_an_expired_token_make_one_refresh_and_all_succeed() {
    let _sso = exclusive_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    expire_access_token(&mut app);
    let calls = refresh_calls(&sso().stats().await);
    let old_cookie = app.jar.header();

    let requests = (0..16).map(|i| {
        let http = app.http.clone();
        let url = format!("{}/api/chat/whoami?tab={i}", app.address);
        let cookie = old_cookie.clone();
        async move { http.get(url).header("cookie", cookie).send().await.unwrap() }
    });
    let responses = futures_util::future::join_all(requests).await;

    let observed = refresh_calls(&sso().stats().await) - calls;
    eprintln!("SSO refresh calls for 16 parallel requests: {observed}");
    assert_eq!(observed, 1, "exactly one refresh reached the SSO");
    let mut tabs = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 200);
        let mut jar = app.jar.clone();
        jar.absorb(&response);
        tabs.push(jar);
    }
    // Every tab's new cookie works afterwards, and so does a straggler still carrying the old
    // cookie within the grace window, without another refresh.
    for jar in tabs {
        app.jar = jar;
        assert_eq!(app.get("/api/chat/whoami").await.status(), 200);
    }
    let response = app
        .http
        .get(format!("{}/api/chat/whoami", app.address))
        .header("cookie", &old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(refresh_calls(&sso().stats().await) - calls, 1);
}

#[tokio::test]
async fn invalid_grant_ends_the_session_with_401_and_cleared_cookies() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    app.rewrite_session(|s| {
        s.access_expires_at = now() - 1;
        s.refresh_token = Some(oidc_bff::session::CompactToken::new(
            "revoked-or-reused-refresh-token",
        ));
    });
    let response = app.get("/api/chat/whoami").await;
    assert_eq!(response.status(), 401);
    assert!(
        app.jar.session_names().is_empty(),
        "session cookies cleared"
    );
    assert!(!app.jar.cookies.contains_key("XSRF-TOKEN"));
}

#[tokio::test]
async fn reuse_of_a_rotated_refresh_token_ends_the_session_at_the_sso() {
    let _sso = exclusive_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    expire_access_token(&mut app);
    let stale = app.jar.clone();
    assert_eq!(app.get("/api/chat/whoami").await.status(), 200);
    // Past the grace window (simulated with a second process, which never saw the refresh),
    // the old refresh token is a reuse: the SSO revokes the grant and the session ends.
    let mut other_replica = spawn_app().await;
    other_replica.jar = stale;
    assert_eq!(other_replica.get("/api/chat/whoami").await.status(), 401);
}

#[tokio::test]
async fn sso_failure_during_refresh_keeps_the_session_with_503_retry_after() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    expire_access_token(&mut app);
    for mode in ["status500", "garbage", "hang"] {
        sso.fault("token", Some(mode)).await;
        let response = app.get("/api/chat/whoami").await;
        let status = response.status();
        let retry_after = response.headers().contains_key("retry-after");
        let kept = app.jar.set_cookie_line("__Host-bff").is_none();
        let reported = app.session().await["authenticated"] == true;
        sso.fault("token", None).await;
        assert_eq!(status, 503, "{mode}");
        assert!(retry_after, "{mode}: Retry-After");
        assert!(kept, "{mode}: session cookie neither replaced nor cleared");
        assert!(reported, "{mode}: /api/session still reports the session");
    }
    // With the SSO back, the same cookie refreshes and works.
    assert_eq!(app.get("/api/chat/whoami").await.status(), 200);
}

#[tokio::test]
async fn sso_unreachable_during_refresh_is_503_and_keeps_the_session() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    expire_access_token(&mut app);
    let cookies = app.jar.clone();
    // The same keys, but the SSO's token endpoint is now unreachable.
    let closed = closed_port();
    let mut cut_off = spawn_app_with(config_with(&format!(
        "[oidc.endpoints]\ntoken = \"http://127.0.0.1:{closed}/token\""
    )))
    .await;
    cut_off.jar = cookies;
    let response = cut_off.get("/api/chat/whoami").await;
    assert_eq!(response.status(), 503);
    assert!(cut_off.jar.set_cookie_line("__Host-bff").is_none());
}

#[tokio::test]
async fn sessions_past_their_absolute_lifetime_or_idle_timeout_are_over() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let genuine = app.jar.clone();
    app.rewrite_session(|s| s.login_at = now() - 8 * 3600 - 1);
    assert_eq!(app.get("/api/chat/whoami").await.status(), 401);
    assert!(app.jar.session_names().is_empty());

    app.jar = genuine;
    app.rewrite_session(|s| s.last_seen = now() - 3600 - 1);
    assert_eq!(app.session().await["authenticated"], false);
    assert!(app.jar.session_names().is_empty());
}

#[tokio::test]
async fn idle_tracking_reissues_the_cookie_at_most_once_a_minute() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    assert_eq!(app.get("/api/chat/whoami").await.status(), 200);
    assert!(
        app.jar.set_cookie_line("__Host-bff").is_none(),
        "fresh session: no re-issue"
    );

    app.rewrite_session(|s| s.last_seen = now() - 61);
    assert_eq!(app.get("/api/chat/whoami").await.status(), 200);
    assert!(
        app.jar.set_cookie_line("__Host-bff").is_some(),
        "a minute later: re-issued"
    );
    assert!(app.sealed_session().last_seen >= now() - 1);
}

#[tokio::test]
async fn session_endpoint_refreshes_when_due() {
    let _sso = exclusive_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    expire_access_token(&mut app);
    let calls = refresh_calls(&sso().stats().await);
    let session = app.session().await;
    assert_eq!(session["authenticated"], true);
    assert_eq!(refresh_calls(&sso().stats().await) - calls, 1);
    let expires: chrono::DateTime<chrono::Utc> = session["accessTokenExpiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires.timestamp() > now());
}
