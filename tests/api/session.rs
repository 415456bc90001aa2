//! `/api/session`, cookie robustness, chunking, and the probes.

use crate::helpers::*;

#[tokio::test]
async fn no_cookie_is_not_authenticated() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let session = app.session().await;
    assert_eq!(session, serde_json::json!({"authenticated": false}));
}

#[tokio::test]
async fn tampered_cookie_is_treated_as_no_session_and_cleared() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let value = app.jar.cookies.get_mut("__Host-bff").unwrap();
    let middle = value.len() / 2;
    let replacement = if &value[middle..middle + 1] == "A" {
        "B"
    } else {
        "A"
    };
    value.replace_range(middle..middle + 1, replacement);

    let response = app.get("/api/session").await;
    assert_eq!(response.status(), 200);
    let clear = app
        .jar
        .set_cookie_line("__Host-bff")
        .expect("the bad cookie is cleared")
        .clone();
    assert!(clear.contains("Max-Age=0") && clear.contains("Secure") && clear.contains("Path=/"));
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["authenticated"],
        false
    );
    assert!(app.jar.session_names().is_empty());
}

#[tokio::test]
async fn truncated_garbage_and_foreign_key_cookies_are_no_session_never_5xx() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let genuine = app.jar.cookies["__Host-bff"].clone();
    let foreign = oidc_bff::seal::KeyRing::new(&[[9u8; 32]], b"")
        .seal("__Host-bff", b"anything")
        .unwrap();
    for bad in [
        genuine[..genuine.len() / 2].to_string(),
        "not base64 at all!!".to_string(),
        String::new(),
        foreign,
        "A".repeat(5000),
    ] {
        app.jar.cookies.insert("__Host-bff".into(), bad.clone());
        let response = app.get("/api/session").await;
        assert_eq!(response.status(), 200, "{bad:.20}");
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["authenticated"],
            false
        );
    }
}

#[tokio::test]
async fn a_value_sealed_for_another_cookie_does_not_open_as_the_session() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.start_login("/").await;
    let login_value = app
        .jar
        .cookies
        .iter()
        .find(|(n, _)| n.starts_with("__Host-bff-login-"))
        .map(|(_, v)| v.clone())
        .unwrap();
    app.jar.cookies.insert("__Host-bff".into(), login_value);
    assert_eq!(app.session().await["authenticated"], false);
}

#[tokio::test]
async fn a_session_from_before_a_key_rotation_still_opens() {
    let _sso = shared_sso().await;
    let mut old = spawn_app().await;
    old.login_as("alice").await;
    let new_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=";
    let mut rotated = spawn_app_with(config_with(&format!(
        "[session]\nkeys = [\"{new_key}\", \"{KEY}\"]"
    )))
    .await;
    rotated.jar = old.jar.clone();
    assert_eq!(rotated.session().await["user"]["sub"], "alice");
    let mut retired =
        spawn_app_with(config_with(&format!("[session]\nkeys = [\"{new_key}\"]"))).await;
    retired.jar = old.jar.clone();
    assert_eq!(retired.session().await["authenticated"], false);
}

#[tokio::test]
async fn probes_and_metrics_answer() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let mut ready = false;
    for _ in 0..100 {
        if app.get("/readyz").await.status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "/readyz never turned 200 against a live SSO");
    app.login_as("alice").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("bff_logins_total{result=\"ok\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn readyz_is_503_and_login_is_503_problem_while_the_sso_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut app = spawn_app_with(config_with(&format!(
        "[oidc]\nissuer = \"http://127.0.0.1:{port}/oidc/down\""
    )))
    .await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    let response = app.get("/api/login").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers().contains_key("retry-after"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:oidc-bff:problem:not-ready");
}

#[tokio::test]
async fn unknown_path_is_a_problem_404() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let response = app.get("/api/nothing-here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

/// `GET /api/session` is answered beside poem-openapi's route tree (`api::session_direct`),
/// `HEAD` still through it, by the same operation: both ways must give the same answer head.
#[tokio::test]
async fn the_direct_session_answer_and_the_openapi_operation_agree() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let get = app.get("/api/session").await;
    let head = app
        .request(reqwest::Method::HEAD, "/api/session", &[])
        .await;
    assert_eq!((get.status().as_u16(), head.status().as_u16()), (200, 200));
    for name in [
        "content-type",
        "cache-control",
        "x-content-type-options",
        "referrer-policy",
        "x-request-id",
    ] {
        assert!(get.headers().contains_key(name), "{name}");
        assert!(head.headers().contains_key(name), "{name}");
        if name == "x-request-id" {
            continue; // one per request: on both, not the same
        }
        assert_eq!(get.headers().get(name), head.headers().get(name), "{name}");
    }
    let body: serde_json::Value = get.json().await.unwrap();
    assert_eq!(body["authenticated"], true);
    assert_eq!(body["user"]["sub"], "alice");
}
