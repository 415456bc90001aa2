//! `POST /api/logout` and `GET /api/logout?sid=`.

use crate::helpers::*;
use reqwest::Method;

#[tokio::test]
async fn post_logout_without_csrf_header_is_403_and_keeps_the_session() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let response = app.request(Method::POST, "/api/logout", &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app
        .request(Method::POST, "/api/logout", &[("x-xsrf-token", "forged")])
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.session().await["authenticated"], true);
}

#[tokio::test]
async fn post_logout_from_a_foreign_origin_is_403() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let csrf = app.csrf();
    let response = app
        .request(
            Method::POST,
            "/api/logout",
            &[("x-xsrf-token", &csrf), ("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.session().await["authenticated"], true);
}

#[tokio::test]
async fn post_logout_clears_revokes_and_returns_the_end_session_url() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let csrf = app.csrf();
    let revocations_before = sso().stats().await["revocation"].as_u64().unwrap_or(0);

    let response = app
        .request(
            Method::POST,
            "/api/logout",
            &[("x-xsrf-token", &csrf), ("origin", PUBLIC_URL)],
        )
        .await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let url = body["logoutUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/session/end", sso().issuer)),
        "{url}"
    );
    assert!(query_param(url, "id_token_hint").is_some_and(|t| t.starts_with("eyJ")));
    assert_eq!(
        query_param(url, "post_logout_redirect_uri").as_deref(),
        Some("https://app.test/")
    );
    assert!(query_param(url, "state").is_some());
    assert!(app.jar.session_names().is_empty());
    assert!(!app.jar.cookies.contains_key("XSRF-TOKEN"));
    assert_eq!(app.session().await["authenticated"], false);
    let revocations_after = sso().stats().await["revocation"].as_u64().unwrap_or(0);
    assert!(
        revocations_after > revocations_before,
        "the refresh token was revoked"
    );
}

#[tokio::test]
async fn get_logout_needs_the_sessions_own_sid() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let logout_url = app.session().await["logoutUrl"]
        .as_str()
        .unwrap()
        .to_string();

    let response = app.get("/api/logout").await;
    assert_eq!(response.status(), 400);
    let response = app.get("/api/logout?sid=someone-elses-sid").await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        app.session().await["authenticated"],
        true,
        "nothing cleared"
    );

    let response = app.get(&logout_url).await;
    assert_eq!(response.status(), 302);
    assert!(location(&response).starts_with(&format!("{}/session/end", sso().issuer)));
    assert_eq!(app.session().await["authenticated"], false);
}

#[tokio::test]
async fn get_logout_without_a_session_redirects_home() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let response = app.get("/api/logout?sid=anything").await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/");
}
