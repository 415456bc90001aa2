//! Nothing leaks: the real binary runs with `BFF_LOG=trace` through the scenarios of the suite
//! (sign-in, session, relay, refresh with userinfo, SSO and upstream failures, tampering, both
//! logouts), and every log line and every response body is scanned for every token, code,
//! PKCE verifier, client secret and session key that was used.

use crate::binary::start_binary;
use crate::helpers::*;
use oidc_bff::session::{now, CompactToken, Session};
use reqwest::Method;

/// Everything secret seen during the run, and every response body.
#[derive(Default)]
struct Evidence {
    secrets: Vec<(String, String)>,
    bodies: Vec<(String, String)>,
}

impl Evidence {
    fn secret(&mut self, what: &str, value: &str) {
        if value.len() >= 8 && !self.secrets.iter().any(|(_, v)| v == value) {
            self.secrets.push((what.to_string(), value.to_string()));
        }
    }

    fn token(&mut self, what: &str, token: &CompactToken) {
        let text = token.expose();
        self.secret(what, &text);
        // A JWT leaks as well through its payload or signature alone.
        for (i, part) in text.split('.').enumerate().skip(1) {
            self.secret(&format!("{what} segment {i}"), part);
        }
    }

    fn session(&mut self, session: &Session) {
        self.token("access token", &session.access_token);
        self.token("ID token", &session.id_token);
        if let Some(refresh) = &session.refresh_token {
            self.token("refresh token", refresh);
        }
    }

    async fn send(
        &mut self,
        app: &mut TestApp,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let response = app.request(method.clone(), path, headers).await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        self.bodies.push((format!("{method} {path}"), body.clone()));
        (status, body)
    }
}

/// The session as sealed in the jar; its cookie value is a bearer credential too.
fn sealed_recorded(evidence: &mut Evidence, app: &TestApp) -> Session {
    evidence.secret("session cookie", &app.jar.cookies["__Host-bff"]);
    let session = sealed(app);
    evidence.session(&session);
    session
}

fn sealed(app: &TestApp) -> Session {
    let bytes = app
        .state
        .cookies
        .ring()
        .open("__Host-bff", &app.jar.cookies["__Host-bff"])
        .unwrap();
    Session::from_bytes(&bytes).unwrap()
}

/// Signs in, recording the code and the login flow's secrets.
async fn sign_in(evidence: &mut Evidence, app: &mut TestApp, user: &str) {
    let authorize = app.start_login("/home").await;
    let name = app
        .jar
        .cookies
        .keys()
        .find(|n| n.starts_with("__Host-bff-login-"))
        .cloned()
        .unwrap();
    let bytes = app
        .state
        .cookies
        .ring()
        .open(&name, &app.jar.cookies[&name])
        .unwrap();
    let login = oidc_bff::session::LoginState::from_bytes(&bytes).unwrap();
    evidence.secret("PKCE verifier", &login.flow.pkce_verifier);
    evidence.secret("nonce", &login.flow.nonce);
    let callback = app.authorize_at_sso(&authorize, user).await;
    evidence.secret(
        "authorization code",
        &query_param(callback.as_str(), "code").unwrap(),
    );
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let (status, _) = evidence.send(app, Method::GET, &path, &[]).await;
    assert_eq!(status, 302);
    sealed_recorded(evidence, app);
}

#[tokio::test]
async fn no_log_line_or_response_body_carries_a_secret_at_trace_level() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    let (binary, mut app) = start_binary("[roles]\nuserinfo = true").await;
    let mut evidence = Evidence::default();
    evidence.secret("client secret", "bff-basic-secret");
    evidence.secret("session key", KEY);
    evidence.secret(
        "session key (url-safe)",
        &KEY.replace('+', "-").replace('/', "_"),
    );

    sign_in(&mut evidence, &mut app, "alice").await;
    let csrf = app.csrf();
    evidence
        .send(&mut app, Method::GET, "/api/session", &[])
        .await;
    evidence
        .send(&mut app, Method::GET, "/api/chat/status/200?q=1", &[])
        .await;
    evidence
        .send(
            &mut app,
            Method::POST,
            "/api/chat/stream",
            &[
                ("x-xsrf-token", &csrf),
                ("content-type", "application/json"),
            ],
        )
        .await;
    evidence
        .send(&mut app, Method::GET, "/api/analytics/report", &[])
        .await;
    // Upstream unreachable, with a query that must not reach the log.
    let (status, _) = evidence
        .send(
            &mut app,
            Method::GET,
            "/api/down/x?secret_query_marker=QUERYMARKER42",
            &[],
        )
        .await;
    assert_eq!(status, 502);
    evidence.secret("query string", "QUERYMARKER42");

    // A refresh (userinfo is read again), then the refreshed tokens are used.
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    let (status, _) = evidence
        .send(&mut app, Method::GET, "/api/chat/status/200", &[])
        .await;
    assert_eq!(status, 200);
    sealed_recorded(&mut evidence, &app);
    // An SSO answering garbage and 500 during refresh.
    for fault in ["garbage", "status500"] {
        sso.fault("token", Some(fault)).await;
        app.rewrite_session(|s| s.access_expires_at = now() - 1);
        let (status, _) = evidence
            .send(&mut app, Method::GET, "/api/chat/status/200", &[])
            .await;
        assert_eq!(status, 503);
    }
    sso.fault("token", None).await;
    // Tampering, forged state, replayed code.
    let genuine = app.jar.clone();
    app.jar
        .cookies
        .insert("__Host-bff".into(), "tampered".repeat(20));
    evidence
        .send(&mut app, Method::GET, "/api/session", &[])
        .await;
    app.jar = genuine;
    let (status, _) = evidence
        .send(
            &mut app,
            Method::GET,
            "/api/callback?code=forged-code-123456&state=forged-state-123456",
            &[],
        )
        .await;
    assert_eq!(status, 302);
    // Logout by POST.
    evidence
        .send(
            &mut app,
            Method::POST,
            "/api/logout",
            &[("x-xsrf-token", &csrf)],
        )
        .await;

    // A second user, a refresh refused as invalid_grant, and logout by GET.
    app.jar = Jar::default();
    sign_in(&mut evidence, &mut app, "bob").await;
    let sid = sealed(&app).sid_text();
    evidence
        .send(&mut app, Method::GET, "/api/logout?sid=wrong", &[])
        .await;
    let (status, _) = evidence
        .send(
            &mut app,
            Method::GET,
            &format!("/api/logout?sid={sid}"),
            &[],
        )
        .await;
    assert_eq!(status, 302);
    app.jar = Jar::default();
    sign_in(&mut evidence, &mut app, "carol").await;
    app.rewrite_session(|s| {
        s.access_expires_at = now() - 1;
        s.refresh_token = Some(CompactToken::new("a-refresh-token-the-sso-never-issued"));
    });
    let (status, _) = evidence
        .send(&mut app, Method::GET, "/api/chat/status/200", &[])
        .await;
    assert_eq!(status, 401);
    evidence.secret(
        "refused refresh token",
        "a-refresh-token-the-sso-never-issued",
    );

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = binary.log();
    assert!(
        log.lines().count() > 100,
        "trace logging is on: {} lines",
        log.lines().count()
    );
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes in a log that is not a terminal"
    );
    let mut leaks = Vec::new();
    for (what, value) in &evidence.secrets {
        for (number, line) in log.lines().enumerate() {
            if line.contains(value.as_str()) {
                leaks.push(format!("{what} in log line {number}: {line:.300}"));
            }
        }
        for (request, body) in &evidence.bodies {
            // The logout URL carries the ID token as `id_token_hint`, to the SSO that issued it
            // (RP-Initiated Logout; CONTRACT.md): the one place a token may appear.
            let hint = request.starts_with("POST /api/logout") && what.starts_with("ID token");
            if body.contains(value.as_str()) && !hint {
                leaks.push(format!("{what} in the answer to {request}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    assert!(
        evidence.secrets.len() > 20,
        "{} secrets checked",
        evidence.secrets.len()
    );
}
