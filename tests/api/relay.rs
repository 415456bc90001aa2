//! The API relay: what reaches the upstream, what comes back, and every refusal.

use crate::helpers::*;
use futures_util::StreamExt;
use reqwest::Method;
use std::time::{Duration, Instant};

async fn whoami(
    app: &mut TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> serde_json::Value {
    let response = app.request(method, path, headers).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn upstream_gets_the_bearer_token_and_never_the_browsers_credentials() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let csrf = app.csrf();
    let seen = whoami(
        &mut app,
        Method::GET,
        "/api/chat/whoami?a=1&b=two",
        &[
            ("authorization", "Bearer browser-forged"),
            ("dpop", "a-proof-the-browser-made"),
            ("x-xsrf-token", &csrf),
            ("connection", "x-secret-hop"),
            ("x-secret-hop", "1"),
        ],
    )
    .await;
    let expected = format!("Bearer {}", app.sealed_session().access_token.expose());
    assert_eq!(seen["authorization"], expected);
    assert_eq!(seen["cookie"], serde_json::Value::Null);
    assert_eq!(seen["xsrf"], serde_json::Value::Null);
    assert_eq!(seen["path"], "/chat/whoami");
    assert_eq!(seen["query"], "a=1&b=two");
    assert_eq!(seen["forwardedFor"], "127.0.0.1");
    assert_eq!(seen["forwardedProto"], "https");
    assert_eq!(seen["forwardedHost"], "app.test");
    let names: Vec<&str> = seen["headerNames"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(names.contains(&"authorization"), "{names:?}");
    for dropped in ["cookie", "x-xsrf-token", "x-secret-hop", "dpop"] {
        assert!(
            !names.contains(&dropped),
            "{dropped} reached the upstream: {names:?}"
        );
    }
}

#[tokio::test]
async fn no_session_is_401_problem_with_www_authenticate() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let response = app.get("/api/chat/whoami").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("/api/login"));
}

#[tokio::test]
async fn tampered_cookie_on_an_api_is_401_and_cleared() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let value = app.jar.cookies.get_mut("__Host-bff").unwrap();
    let last = if value.ends_with('A') { 'B' } else { 'A' };
    value.pop();
    value.push(last);
    let response = app.get("/api/chat/whoami").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(
        app.jar.session_names().is_empty(),
        "the bad cookie is cleared"
    );
}

#[tokio::test]
async fn role_gated_route_is_403_without_the_role_and_relayed_with_it() {
    let _sso = shared_sso().await;
    let mut bob = spawn_app().await;
    bob.login_as("bob").await;
    let response = bob.get("/api/analytics/report").await;
    assert_eq!(response.status(), 403);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:oidc-bff:problem:forbidden");
    assert!(problem["detail"].as_str().unwrap().contains("analyst"));

    let mut alice = spawn_app().await;
    alice.login_as("alice").await;
    let response = alice.get("/api/analytics/report").await;
    assert_eq!(response.status(), 200);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["title"], "Quarterly usage");
}

#[tokio::test]
async fn unsafe_methods_need_the_csrf_header_and_an_allowed_origin() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = app.request(method.clone(), "/api/chat/whoami", &[]).await;
        assert_eq!(response.status(), 403, "{method} without header");
        let response = app
            .request(
                method.clone(),
                "/api/chat/whoami",
                &[("x-xsrf-token", "forged")],
            )
            .await;
        assert_eq!(response.status(), 403, "{method} with a forged header");
    }
    let csrf = app.csrf();
    let response = app
        .request(
            Method::POST,
            "/api/chat/whoami",
            &[("x-xsrf-token", &csrf), ("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(response.status(), 403);
    let response = app
        .http
        .post(format!("{}/api/chat/whoami", app.address))
        .header("cookie", app.jar.header())
        .header("x-xsrf-token", &csrf)
        .header("origin", PUBLIC_URL)
        .body("{\"message\":\"hello\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body"], "{\"message\":\"hello\"}");
}

#[tokio::test]
async fn upstream_statuses_pass_through() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    for status in [401, 403, 418, 500] {
        let response = app.get(&format!("/api/chat/status/{status}")).await;
        assert_eq!(response.status().as_u16(), status);
    }
    assert_eq!(
        app.session().await["authenticated"],
        true,
        "an upstream 401 does not end the session"
    );
}

#[tokio::test]
async fn unreachable_upstream_is_502_and_slow_upstream_is_504() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let response = app.get("/api/down/anything").await;
    assert_eq!(response.status(), 502);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app.get("/api/chat/slow?ms=3000").await;
    assert_eq!(response.status(), 504);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:oidc-bff:problem:upstream-timeout");
}

#[tokio::test]
async fn encoded_dot_segments_are_refused() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    for path in [
        "/api/chat/%2e%2e/analytics/report",
        "/api/chat/%2E%2e/analytics/report",
        "/api/chat/..%2fanalytics/report",
        "/api/chat/%252e%252e/analytics/report",
        "/api/chat/x/%2e%2e/%2e%2e/analytics/report",
    ] {
        assert_eq!(app.raw_get(path).await, 400, "{path}");
    }
    // A literal `..` segment is resolved before routing (by every HTTP stack), never relayed.
    let status = app.raw_get("/api/chat/../analytics/report").await;
    assert_ne!(status, 200, "literal .. must not reach the upstream");
    assert_eq!(app.raw_get("/api/chat/whoami").await, 200);
}

#[tokio::test]
async fn prefix_matches_whole_segments_only() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    assert_eq!(app.get("/api/chatX/whoami").await.status(), 404);
    assert_eq!(app.get("/api/chat/whoami").await.status(), 200);
}

#[tokio::test]
async fn anonymous_route_passes_through_without_session_or_token() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let seen = whoami(&mut app, Method::GET, "/api/public/whoami", &[]).await;
    assert_eq!(seen["authorization"], serde_json::Value::Null);
    assert_eq!(seen["path"], "/chat/whoami");
}

#[tokio::test]
async fn server_sent_events_arrive_as_they_are_produced() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let (arrivals, text, failed) = read_stream(&mut app, "/api/chat").await;
    assert!(!failed, "{text}");
    assert!(text.contains("event: done"), "{text}");
    assert_eq!(arrivals.len(), 7, "six tokens and the done event");
    // The upstream sends an event every 300 ms: unbuffered, the first reaches us at least a
    // second before the last is even produced. Buffered, they would all arrive together.
    let spread = arrivals[arrivals.len() - 1] - arrivals[0];
    assert!(
        spread >= Duration::from_millis(1200),
        "events arrived together: {arrivals:?}"
    );
}

/// Posts a chat message to `prefix`'s stream, checks that an event stream answers, and reads it
/// to its end: when each event arrived, the text, and whether the body ended in an error.
async fn read_stream(app: &mut TestApp, prefix: &str) -> (Vec<Duration>, String, bool) {
    let csrf = app.csrf();
    let started = Instant::now();
    let response = app
        .http
        .post(format!("{}{prefix}/stream", app.address))
        .header("cookie", app.jar.header())
        .header("x-xsrf-token", &csrf)
        .header("content-type", "application/json")
        .body("{\"message\":\"stream please\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{prefix}");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = response.bytes_stream();
    let (mut arrivals, mut text) = (Vec::new(), String::new());
    // The guard only keeps a broken relay from hanging the suite; nothing is timed by it.
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else {
                return true;
            };
            let piece = String::from_utf8_lossy(&chunk);
            for _ in 0..piece.matches("data:").count() {
                arrivals.push(started.elapsed());
            }
            text.push_str(&piece);
        }
        false
    })
    .await;
    let failed = read.expect("the relayed stream neither ended nor failed");
    (arrivals, text, failed)
}

#[tokio::test]
async fn a_stream_pausing_longer_than_its_routes_idle_timeout_is_ended_and_a_steady_one_is_not() {
    let _sso = shared_sso().await;
    // The upstream sends an event every 300 ms. One route waits 100 ms at most between two
    // pieces, the other 1 s: the first must cut the answer after the first pause, the second
    // must carry the whole answer although it lasts longer than its idle timeout.
    let up = &upstream().base;
    let extra = format!(
        r#"
        [[routes]]
        prefix = "/api/stalls"
        upstream = "{up}/chat"
        idle_timeout = "100ms"
        [[routes]]
        prefix = "/api/steady"
        upstream = "{up}/chat"
        idle_timeout = "1s"
        "#
    );
    let config = oidc_bff::Config::from_figment(
        "test".into(),
        figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string(&config_toml(&extra)),
        ),
    )
    .expect("valid configuration");
    let mut app = spawn_app_with(config).await;
    app.login_as("alice").await;

    let (arrivals, text, failed) = read_stream(&mut app, "/api/stalls").await;
    assert!(failed, "the stalled answer ended normally: {text}");
    assert!(!text.contains("event: done"), "{text}");
    assert!(arrivals.len() < 7, "{arrivals:?}");

    let (arrivals, text, failed) = read_stream(&mut app, "/api/steady").await;
    assert!(!failed, "{text}");
    assert!(text.contains("event: done"), "{text}");
    assert_eq!(arrivals.len(), 7, "six tokens and the done event");
    let lasted = arrivals[6] - arrivals[0];
    assert!(
        lasted > Duration::from_secs(1),
        "the answer took {lasted:?}, not longer than the idle timeout: it proves nothing"
    );
}

const SPA_ORIGIN: &str = "https://spa.example.org";

async fn cross_site_app() -> TestApp {
    spawn_app_with(config_with(&format!(
        "[cors]\nallowed_origins = [\"{SPA_ORIGIN}\"]\n[session]\nsame_site = \"none\""
    )))
    .await
}

#[tokio::test]
async fn cross_site_mode_answers_preflight_and_credentialed_calls_from_allowed_origins() {
    let _sso = shared_sso().await;
    let mut app = cross_site_app().await;
    app.login_as("alice").await;

    let preflight = app
        .request(
            Method::OPTIONS,
            "/api/chat/whoami",
            &[
                ("origin", SPA_ORIGIN),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "x-xsrf-token, content-type",
                ),
            ],
        )
        .await;
    assert_eq!(preflight.status(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        SPA_ORIGIN
    );
    assert_eq!(
        preflight.headers()["access-control-allow-credentials"],
        "true"
    );

    // The SPA on another site cannot read our XSRF cookie: it uses csrfToken from /api/session.
    let csrf = app.session().await["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app
        .request(
            Method::POST,
            "/api/chat/whoami",
            &[("origin", SPA_ORIGIN), ("x-xsrf-token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        SPA_ORIGIN
    );

    let response = app
        .request(
            Method::POST,
            "/api/chat/whoami",
            &[("origin", "https://evil.example"), ("x-xsrf-token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn cross_site_mode_issues_samesite_none_session_cookies() {
    let _sso = shared_sso().await;
    let mut app = cross_site_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    app.callback(&callback).await;
    let line = app.jar.set_cookie_line("__Host-bff").unwrap();
    assert!(
        line.contains("SameSite=None") && line.contains("Secure") && line.contains("HttpOnly"),
        "{line}"
    );
}

#[tokio::test]
async fn same_site_mode_sends_no_cors_headers() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let response = app
        .request(Method::GET, "/api/session", &[("origin", SPA_ORIGIN)])
        .await;
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
