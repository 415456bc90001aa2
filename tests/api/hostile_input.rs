//! Real enterprise data and hostile input: users with many groups stay signed in, one odd
//! cookie on the host signs nobody out, a seal opens only at its own deployment, abandoned
//! sign-ins are bounded, `returnTo` never points into an API, `iss` is checked on errors too,
//! and logout leaves nothing in the refresh grace window.

use crate::helpers::*;
use oidc_bff::session::now;

/// A returnTo of 400 characters that compresses well (the shape that broke the old inflater).
fn long_return_to() -> String {
    let path = format!("/reports/{}", "quarterly/".repeat(39));
    assert_eq!(path.len(), 399);
    format!("{path}x")
}

#[tokio::test]
async fn a_user_with_60_group_dns_and_a_long_return_to_stays_signed_in() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let return_to = long_return_to();
    let authorize = app.start_login(&return_to).await;
    let callback = app.authorize_at_sso(&authorize, "carol").await;
    let response = app.callback(&callback).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), return_to);

    // The very next request: still the same user, with every group.
    let session = app.session().await;
    assert_eq!(session["authenticated"], true, "{session}");
    let roles = session["user"]["roles"].as_array().unwrap();
    assert!(roles.len() >= 60, "{} roles", roles.len());
    assert!(roles
        .iter()
        .any(|r| r == "CN=GRP-Finance-Readers-59,OU=Groups,OU=Finance,DC=corp,DC=example,DC=com"));
    assert_eq!(session["user"]["name"], "Carol Contrôleuse");
    let response = app.get("/api/chat/whoami").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_non_ascii_cookie_on_the_host_signs_nobody_out() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    // The sign-in flow survives a sibling's cookie...
    let authorize = app.start_login("/home").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let cookie = format!("pref=français; {}; lang=\u{e9}t\u{e9}", app.jar.header());
    let response = app
        .http
        .get(format!("{}{path}", app.address))
        .header(
            "cookie",
            reqwest::header::HeaderValue::from_bytes(cookie.as_bytes()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    app.jar.absorb(&response);
    assert_eq!(location(&response), "/home", "signed in");
    // ...and so does the session.
    let cookie = format!("pref=français; {}", app.jar.header());
    for path in ["/api/session", "/api/chat/whoami"] {
        let response = app
            .http
            .get(format!("{}{path}", app.address))
            .header(
                "cookie",
                reqwest::header::HeaderValue::from_bytes(cookie.as_bytes()).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        if path == "/api/session" {
            assert_eq!(body["authenticated"], true);
        }
    }
}

#[tokio::test]
async fn a_cookie_sealed_for_one_deployment_does_not_open_at_another_sharing_its_key() {
    let _sso = shared_sso().await;
    let mut basic = spawn_app().await;
    basic.login_as("alice").await;
    // Same SSO, same session key, another client id.
    let mut other = spawn_app_with(config_with(
        "[oidc]\nclient_id = \"bff-post\"\nclient_secret = \"bff-post-secret\"\nauth_method = \"client_secret_post\"",
    ))
    .await;
    other.jar = basic.jar.clone();
    assert_eq!(other.session().await["authenticated"], false);
    assert_eq!(other.get("/api/chat/whoami").await.status(), 401);
    // Its own cookie still opens at home.
    assert_eq!(basic.session().await["authenticated"], true);
}

#[tokio::test]
async fn forty_abandoned_sign_ins_leave_a_small_cookie_header_and_sign_in_works() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    for i in 0..40 {
        app.start_login(&format!("/page/{i}")).await;
    }
    let flows = app
        .jar
        .cookies
        .keys()
        .filter(|n| n.starts_with("__Host-bff-login-"))
        .count();
    assert!(
        flows <= oidc_bff::session::cookie::MAX_LOGIN_FLOWS,
        "{flows} login cookies"
    );
    let header = app.jar.header();
    assert!(
        header.len() < 4096,
        "Cookie header of {} bytes",
        header.len()
    );
    app.login_as("alice").await;
    assert_eq!(app.session().await["authenticated"], true);
}

#[tokio::test]
async fn the_newest_flows_survive_the_bound() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let mut authorizations = Vec::new();
    for i in 0..6 {
        authorizations.push(app.start_login(&format!("/tab/{i}")).await);
    }
    // The last tab started signs in; the oldest flow is gone.
    let callback = app.authorize_at_sso(&authorizations[5], "alice").await;
    let response = app.callback(&callback).await;
    assert_eq!(location(&response), "/tab/5");
    let callback = app.authorize_at_sso(&authorizations[0], "alice").await;
    let response = app.callback(&callback).await;
    assert_eq!(location(&response), "/?authError=invalid_state");
}

#[tokio::test]
async fn return_to_may_not_point_into_an_api() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with(&format!(
        "[[routes]]\nprefix = \"/graphql\"\nupstream = \"{}/chat\"",
        upstream().base
    )))
    .await;
    for bad in [
        "/api/chat/stream",
        "/api/%63hat/x",
        "/API/chat",
        "/api/logout?sid=x",
        "/api/session",
        "/graphql",
        "/GraphQL/x",
        "/docs",
    ] {
        let response = app
            .get(&format!("/api/login?returnTo={}", urlencode(bad)))
            .await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    assert_eq!(app.get("/api/login?returnTo=%2Fchat").await.status(), 302);
}

#[tokio::test]
async fn an_sso_error_from_another_issuer_is_a_mix_up() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.start_login("/").await;
    let name = app
        .jar
        .cookies
        .keys()
        .find(|n| n.starts_with("__Host-bff-login-"))
        .cloned()
        .unwrap();
    // The login cookie is named after the first 16 characters of the state; open it for all.
    let bytes = app
        .state
        .cookies
        .ring()
        .open(&name, &app.jar.cookies[&name])
        .unwrap();
    let login = oidc_bff::session::LoginState::from_bytes(&bytes).unwrap();
    let forged = format!(
        "/api/callback?error=access_denied&state={}&iss={}",
        login.flow.state,
        urlencode("https://attacker.example/oidc")
    );
    let response = app.get(&forged).await;
    assert_eq!(location(&response), "/?authError=invalid_issuer");
}

fn refresh_calls(stats: &serde_json::Value) -> u64 {
    stats["token"]["refresh_token"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn after_logout_a_cookie_from_before_the_last_refresh_opens_nothing() {
    let _sso = exclusive_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    let before_refresh = app.jar.clone();
    assert_eq!(app.get("/api/chat/whoami").await.status(), 200, "refreshed");
    // Logout with the refreshed cookie revokes the rotated refresh token.
    let csrf = app.csrf();
    let response = app
        .request(
            reqwest::Method::POST,
            "/api/logout",
            &[("x-xsrf-token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), 200);
    // The cookie from before the refresh must not be revived from the grace window.
    app.jar = before_refresh;
    let response = app.get("/api/chat/whoami").await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.session().await["authenticated"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staggered_requests_around_a_refresh_never_spend_the_token_twice() {
    let _sso = exclusive_sso().await;
    let mut app = spawn_app().await;
    let mut jars = Vec::new();
    for _ in 0..6 {
        app.jar = Jar::default();
        app.login_as("alice").await;
        app.rewrite_session(|s| s.access_expires_at = now() - 1);
        jars.push(app.jar.header());
    }
    let calls = refresh_calls(&sso().stats().await);
    // Requests of each session keep arriving before, during and right after its refresh.
    let mut requests = Vec::new();
    for wave in 0..8u64 {
        for cookie in &jars {
            let http = app.http.clone();
            let url = format!("{}/api/chat/whoami", app.address);
            let cookie = cookie.clone();
            requests.push(tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(wave * 15)).await;
                http.get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
    }
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(
        refresh_calls(&sso().stats().await) - calls,
        jars.len() as u64,
        "one SSO refresh per session"
    );
}
