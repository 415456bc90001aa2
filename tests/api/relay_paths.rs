//! The path the route table judges is the path the upstream receives: a table of spellings
//! against an open route with a role-gated route nested under it, checked at the upstream; and
//! relay hygiene (spoofable request headers, CORS and credentials in answers).

use crate::helpers::*;
use crate::recorder::Recorder;
use reqwest::Method;

async fn nested_routes(recorder: &Recorder, extra: &str) -> TestApp {
    let config = config_with(&format!(
        r#"
        {extra}
        [[routes]]
        prefix = "/api/x"
        upstream = "{base}/svc"
        [[routes]]
        prefix = "/api/x/admin"
        upstream = "{base}/svc/admin"
        roles = ["analyst"]
        "#,
        base = recorder.base
    ));
    spawn_app_with(config).await
}

/// The most lenient reading any upstream might give a request target: escapes decoded
/// repeatedly, case folded, backslashes as slashes, `;` parameters stripped, empty and dot
/// segments resolved.
fn leniently(target: &str) -> String {
    let mut path = target.split('?').next().unwrap_or_default().to_string();
    for _ in 0..4 {
        path = percent_encoding::percent_decode_str(&path)
            .decode_utf8_lossy()
            .into_owned();
    }
    let path = path.to_lowercase().replace('\\', "/");
    let mut out: Vec<String> = Vec::new();
    for segment in path.split('/') {
        let segment = segment
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_end_matches(['.', ' ']);
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_string()),
        }
    }
    format!("/{}", out.join("/"))
}

const SPELLINGS: &[&str] = &[
    "/api/x/admin/whoami",
    "/api/x/%61dmin/whoami",
    "/api/x/%61%64%6D%69%6E/whoami",
    "/api/x/ADMIN/whoami",
    "/api/x/Admin/whoami",
    "/api/X/admin/whoami",
    "/API/x/admin/whoami",
    "/api/x/admin;p=1/whoami",
    "/api/x/admin;/whoami",
    "/api/x/admin%3Bp=1/whoami",
    "/api/x/..;/x/admin/whoami",
    "/api/x/;/admin/whoami",
    "/api/x//admin/whoami",
    "/api/x/./admin/whoami",
    "/api/x/%2e/admin/whoami",
    "/api/x/foo/../admin/whoami",
    "/api/x/foo/%2e%2e/admin/whoami",
    "/api/x/foo/.%2E/admin/whoami",
    "/api/x/foo/%252e%252e/admin/whoami",
    "/api/x/foo/%25%32%65%25%32%65/admin/whoami",
    "/api/x/%2561dmin/whoami",
    "/api/x/foo%2f..%2fadmin/whoami",
    "/api/x/foo%5c..%5cadmin/whoami",
    "/api/x/foo%2F%2E%2E%2Fadmin/whoami",
    "/api/x/admin%00/whoami",
    "/api/x/admin%2fwhoami",
    "/api/x/%c0%ae%c0%ae/x/admin/whoami",
    "/api/x/%e0%80%ae%e0%80%ae/x/admin/whoami",
];

#[tokio::test]
async fn no_spelling_of_a_gated_path_reaches_its_upstream_without_the_role() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[]).await;
    let mut bob = nested_routes(&recorder, "").await;
    bob.login_as("bob").await;
    for spelling in SPELLINGS {
        let status = bob.raw_get(spelling).await;
        assert!(
            matches!(status, 400 | 403),
            "{spelling}: answered {status}, expected a refusal"
        );
    }
    for seen in recorder.requests() {
        assert!(
            !leniently(&seen.target).starts_with("/svc/admin"),
            "{} reached the upstream without the role",
            seen.target
        );
    }
    // The open route itself still works, with the path as sent.
    assert_eq!(bob.raw_get("/api/x/reports/caf%c3%a9?q=1").await, 200);
    let seen = recorder.requests();
    assert_eq!(seen.last().unwrap().target, "/svc/reports/caf%C3%A9?q=1");
}

#[tokio::test]
async fn a_spelling_is_judged_by_the_route_whose_upstream_receives_it() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[]).await;
    let mut alice = nested_routes(&recorder, "").await;
    alice.login_as("alice").await;
    assert_eq!(alice.raw_get("/api/x/%61dmin/whoami").await, 200);
    let seen = recorder.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].target, "/svc/admin/whoami",
        "decoded, and relayed by the admin route"
    );
    let bearer = format!("Bearer {}", alice.sealed_session().access_token.expose());
    assert_eq!(seen[0].header("authorization"), Some(bearer.as_str()));
}

#[tokio::test]
async fn spoofable_forwarding_and_rewrite_headers_never_reach_the_upstream() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[]).await;
    let mut app = nested_routes(&recorder, "").await;
    app.login_as("alice").await;
    let spoofed = [
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-prefix", "/admin"),
        ("x-forwarded-port", "1"),
        ("forwarded", "for=6.6.6.6;host=evil.example"),
        ("x-real-ip", "6.6.6.6"),
        ("x-original-url", "/admin/whoami"),
        ("x-rewrite-url", "/admin/whoami"),
        ("x-http-method-override", "DELETE"),
        ("x-custom", "kept"),
    ];
    let response = app.request(Method::GET, "/api/x/whoami", &spoofed).await;
    assert_eq!(response.status(), 200);
    let seen = recorder.requests().pop().unwrap();
    assert_eq!(
        seen.method, "GET",
        "the method is never overridden on the way"
    );
    for (name, _) in &spoofed[..10] {
        let value = seen.header(name);
        match *name {
            "x-forwarded-for" => assert_eq!(value, Some("127.0.0.1")),
            "x-forwarded-host" => assert_eq!(value, Some("app.test")),
            "x-forwarded-proto" => assert_eq!(value, Some("https")),
            _ => assert_eq!(value, None, "{name} reached the upstream"),
        }
    }
    assert_eq!(seen.header("x-custom"), Some("kept"));
}

#[tokio::test]
async fn forwarded_for_is_extended_only_for_trusted_proxies() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[]).await;
    let mut app = nested_routes(&recorder, "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]").await;
    app.login_as("alice").await;
    let response = app
        .request(
            Method::GET,
            "/api/x/whoami",
            &[("x-forwarded-for", "198.51.100.7")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let seen = recorder.requests().pop().unwrap();
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("198.51.100.7, 127.0.0.1")
    );
}

#[tokio::test]
async fn upstream_cors_and_credentials_are_not_passed_back() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
        ("authorization", "Bearer leaked-by-upstream"),
        ("set-cookie", "__Host-bff=planted; Path=/"),
        ("x-upstream", "kept"),
        ("cache-control", "private, max-age=60"),
    ])
    .await;
    let mut app = nested_routes(&recorder, "").await;
    app.login_as("alice").await;
    let response = app.get("/api/x/whoami").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    for dropped in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "authorization",
    ] {
        assert!(headers.get(dropped).is_none(), "{dropped} passed back");
    }
    assert!(headers
        .get_all("set-cookie")
        .iter()
        .all(|v| !v.to_str().unwrap().contains("planted")));
    assert_eq!(headers["x-upstream"], "kept");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    // A relayed answer keeps the upstream's caching policy: the BFF's own `no-store` and
    // `Referrer-Policy` are for its own answers only.
    assert_eq!(headers["cache-control"], "private, max-age=60");
    assert!(headers.get("referrer-policy").is_none());
}

#[tokio::test]
async fn every_response_is_nosniff_and_bff_answers_are_not_stored_or_referred() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    for path in [
        "/api/session",
        "/healthz",
        "/api/chat/whoami",
        "/nowhere",
        "/openapi.json",
    ] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    let response = app.get("/api/login?returnTo=/x").await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}
