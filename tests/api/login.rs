//! `/api/login` and `/api/callback`, including every bad input.

use crate::helpers::*;
use oidc_bff::session::LoginState;

#[tokio::test]
async fn login_redirects_to_the_sso_with_pkce_state_and_nonce() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/reports?id=3").await;

    assert!(
        authorize.starts_with(&format!("{}/auth", sso().issuer)),
        "{authorize}"
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&authorize, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert!(query_param(&authorize, "state").is_some_and(|s| s.len() >= 43));
    assert!(query_param(&authorize, "nonce").is_some_and(|s| s.len() >= 43));
    assert_eq!(
        query_param(&authorize, "redirect_uri").as_deref(),
        Some("https://app.test/api/callback")
    );
    assert_eq!(
        query_param(&authorize, "scope").as_deref(),
        Some("openid profile email offline_access")
    );
    let login_cookie = app
        .jar
        .last_set_cookie
        .iter()
        .find(|l| l.starts_with("__Host-bff-login-"))
        .expect("a login cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "Path=/",
        "SameSite=Lax",
        "Max-Age=600",
    ] {
        assert!(login_cookie.contains(attribute), "{login_cookie}");
    }
    assert!(!login_cookie.contains("Domain"));
}

#[tokio::test]
async fn full_login_sets_a_sealed_session_and_redirects_to_return_to() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/reports?id=3").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    assert_eq!(
        query_param(callback.as_str(), "iss").as_deref(),
        Some(sso().issuer.as_str())
    );

    let response = app.callback(&callback).await;

    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/reports?id=3");
    let session_cookie = app
        .jar
        .set_cookie_line("__Host-bff")
        .expect("session cookie")
        .clone();
    for attribute in ["HttpOnly", "Secure", "Path=/", "SameSite=Strict"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    assert!(!session_cookie.contains("Domain"));
    let xsrf = app
        .jar
        .set_cookie_line("XSRF-TOKEN")
        .expect("XSRF cookie")
        .clone();
    assert!(
        !xsrf.contains("HttpOnly") && xsrf.contains("SameSite=Strict") && xsrf.contains("Secure")
    );
    assert!(
        !app.jar
            .cookies
            .keys()
            .any(|n| n.starts_with("__Host-bff-login-")),
        "the login cookie is consumed"
    );
    // No token is readable in the cookie: it is sealed. (Checked against the tokens themselves:
    // three random base64 characters may well spell `eyJ`.)
    let value = &app.jar.cookies["__Host-bff"];
    let sealed = app.sealed_session();
    for token in [sealed.id_token.expose(), sealed.access_token.expose()] {
        for part in token.split('.').filter(|p| p.len() >= 16) {
            assert!(
                !value.contains(&part[..16]),
                "a token leaked into the cookie"
            );
        }
    }

    let session = app.session().await;
    assert_eq!(session["authenticated"], true);
    assert_eq!(session["user"]["sub"], "alice");
    assert_eq!(session["user"]["name"], "Alice Analyst");
    assert_eq!(session["user"]["email"], "alice@example.test");
    assert_eq!(
        session["user"]["roles"],
        serde_json::json!(["analyst", "staff", "user"])
    );
    assert_eq!(session["csrfToken"], app.csrf());
    assert!(session["logoutUrl"]
        .as_str()
        .unwrap()
        .starts_with("/api/logout?sid="));
    assert!(session["expiresAt"].as_str().is_some());
    assert!(session["accessTokenExpiresAt"].as_str().is_some());
    assert!(session["claims"].get("nonce").is_none());
    let text = session.to_string();
    assert!(!text.contains("eyJ"), "no token in /api/session");
}

#[tokio::test]
async fn two_tabs_logging_in_at_once_both_succeed() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let first = app.start_login("/first").await;
    let second = app.start_login("/second").await;
    let second_callback = app.authorize_at_sso(&second, "alice").await;
    app.sso_jar = Jar::default();
    let first_callback = app.authorize_at_sso(&first, "alice").await;

    let response = app.callback(&second_callback).await;
    assert_eq!(location(&response), "/second");
    let response = app.callback(&first_callback).await;
    assert_eq!(location(&response), "/first");
    assert_eq!(app.session().await["authenticated"], true);
}

#[tokio::test]
async fn hostile_return_to_is_refused_with_400_problem() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    for hostile in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%09/evil",
    ] {
        let path = if hostile.starts_with("/%09") {
            format!("/api/login?returnTo={hostile}")
        } else {
            format!("/api/login?returnTo={}", urlencode(hostile))
        };
        let response = app.get(&path).await;
        assert_eq!(response.status(), 400, "{hostile}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "urn:oidc-bff:problem:bad-request");
        assert!(problem["detail"].as_str().unwrap().contains("returnTo"));
        assert!(!app
            .jar
            .cookies
            .keys()
            .any(|n| n.starts_with("__Host-bff-login-")));
    }
}

async fn assert_auth_error(app: &mut TestApp, response: reqwest::Response, code: &str) {
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), format!("/?authError={code}"));
    assert!(
        app.jar.set_cookie_line("__Host-bff").is_none(),
        "no session cookie set"
    );
    assert_eq!(app.session().await["authenticated"], false);
}

#[tokio::test]
async fn forged_state_redirects_with_invalid_state() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let mut callback = app.authorize_at_sso(&authorize, "alice").await;
    let code = query_param(callback.as_str(), "code").unwrap();
    callback.set_query(Some(&format!(
        "code={code}&state=forged-state-value-0123456789"
    )));
    let response = app.callback(&callback).await;
    assert_auth_error(&mut app, response, "invalid_state").await;
}

#[tokio::test]
async fn callback_without_state_or_login_cookie_is_invalid_state() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let response = app.get("/api/callback?code=abc").await;
    assert_auth_error(&mut app, response, "invalid_state").await;
    let response = app.get("/api/callback").await;
    assert_auth_error(&mut app, response, "invalid_state").await;
}

#[tokio::test]
async fn replayed_callback_is_refused() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    assert_eq!(location(&app.callback(&callback).await), "/");
    app.jar.cookies.clear();
    // Same state again: its login cookie is gone.
    let response = app.callback(&callback).await;
    assert_auth_error(&mut app, response, "invalid_state").await;
}

#[tokio::test]
async fn replayed_code_is_refused_by_the_sso() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let used_code = query_param(callback.as_str(), "code").unwrap();
    assert_eq!(location(&app.callback(&callback).await), "/");
    app.jar.cookies.clear();

    // A new, genuine flow, but the attacker swaps in the spent code.
    let authorize = app.start_login("/").await;
    let state = query_param(&authorize, "state").unwrap();
    let iss = urlencode(&sso().issuer);
    let response = app
        .get(&format!(
            "/api/callback?code={used_code}&state={state}&iss={iss}"
        ))
        .await;
    assert_auth_error(&mut app, response, "code_rejected").await;
}

#[tokio::test]
async fn expired_login_cookie_is_refused() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    rewrite_login_cookie(&mut app, |login| login.flow.created_at -= 601);
    let response = app.callback(&callback).await;
    assert_auth_error(&mut app, response, "login_expired").await;
}

#[tokio::test]
async fn id_token_with_a_wrong_nonce_is_refused() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    rewrite_login_cookie(&mut app, |login| {
        login.flow.nonce = "not-the-nonce-we-sent".into()
    });
    let response = app.callback(&callback).await;
    assert_auth_error(&mut app, response, "invalid_id_token").await;
}

#[tokio::test]
async fn tampered_login_cookie_is_invalid_state() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let name = login_cookie_name(&app);
    let value = app.jar.cookies.get_mut(&name).unwrap();
    let flipped = if value.ends_with('A') { 'B' } else { 'A' };
    value.pop();
    value.push(flipped);
    let response = app.callback(&callback).await;
    assert_auth_error(&mut app, response, "invalid_state").await;
}

#[tokio::test]
async fn sso_error_redirects_with_access_denied() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    // The user declines at the SSO.
    let response = app.http.get(&authorize).send().await.unwrap();
    app.sso_jar.absorb(&response);
    let interaction = url::Url::parse(&authorize)
        .unwrap()
        .join(&location(&response))
        .unwrap();
    let mut deny = interaction.clone();
    deny.set_path(&format!("{}/deny", interaction.path()));
    let mut url = deny;
    let callback = loop {
        let response = app
            .http
            .get(url.clone())
            .header("cookie", app.sso_jar.header())
            .send()
            .await
            .unwrap();
        app.sso_jar.absorb(&response);
        let next = url.join(&location(&response)).unwrap();
        if next.as_str().starts_with(PUBLIC_URL) {
            break next;
        }
        url = next;
    };
    assert_eq!(
        query_param(callback.as_str(), "error").as_deref(),
        Some("access_denied")
    );
    let response = app.callback(&callback).await;
    assert_auth_error(&mut app, response, "access_denied").await;
}

#[tokio::test]
async fn wrong_iss_parameter_is_refused_as_a_mix_up() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let mut pairs: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    for (k, v) in pairs.iter_mut() {
        if k == "iss" {
            *v = "https://attacker.example/oidc".into();
        }
    }
    let mut forged = callback.clone();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let response = app.callback(&forged).await;
    assert_auth_error(&mut app, response, "invalid_issuer").await;

    // Missing iss although the SSO advertises RFC 9207 support.
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "iss")
        .collect();
    let mut stripped = callback.clone();
    stripped.query_pairs_mut().clear().extend_pairs(pairs);
    let response = app.callback(&stripped).await;
    assert_auth_error(&mut app, response, "invalid_issuer").await;
}

fn login_cookie_name(app: &TestApp) -> String {
    app.jar
        .cookies
        .keys()
        .find(|n| n.starts_with("__Host-bff-login-"))
        .expect("a login cookie")
        .clone()
}

/// Opens the login cookie with the app's key, changes it, and seals it again (what a holder of
/// the key could do; used to produce states a test cannot wait for).
fn rewrite_login_cookie(app: &mut TestApp, change: impl FnOnce(&mut LoginState)) {
    let name = login_cookie_name(app);
    let ring = app.state.cookies.ring();
    let bytes = ring.open(&name, &app.jar.cookies[&name]).unwrap();
    let mut login = LoginState::from_bytes(&bytes).unwrap();
    change(&mut login);
    let sealed = ring.seal(&name, &login.to_bytes()).unwrap();
    app.jar.cookies.insert(name, sealed);
}

async fn callback_cross_site(app: &mut TestApp, callback: &url::Url) -> reqwest::Response {
    let path = format!("{}?{}", callback.path(), callback.query().unwrap_or(""));
    app.request(
        reqwest::Method::GET,
        &path,
        &[("sec-fetch-site", "cross-site")],
    )
    .await
}

#[tokio::test]
async fn cross_site_callback_with_strict_cookie_ends_with_a_same_site_hop() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let authorize = app.start_login("/reports?a=1&b=\"<x>'").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;

    let response = callback_cross_site(&mut app, &callback).await;

    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'"
    );
    assert!(app.jar.set_cookie_line("__Host-bff").is_some(), "signed in");
    let page = response.text().await.unwrap();
    let target = "/reports?a=1&amp;b=%22%3Cx%3E%27";
    assert!(
        page.contains(&format!("content=\"0;url={target}\"")),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"{target}\"")), "{page}");
    assert_eq!(app.session().await["user"]["sub"], "alice");
}

#[tokio::test]
async fn lax_cookie_or_same_site_callback_is_a_plain_302() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with("[session]\nsame_site = \"lax\"")).await;
    let authorize = app.start_login("/chat").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let response = callback_cross_site(&mut app, &callback).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/chat");

    let mut app = spawn_app().await;
    let authorize = app.start_login("/chat").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    let path = format!("{}?{}", callback.path(), callback.query().unwrap_or(""));
    let response = app
        .request(
            reqwest::Method::GET,
            &path,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/chat");
}

#[tokio::test]
async fn failed_cross_site_callback_still_redirects_with_auth_error() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let response = app
        .request(
            reqwest::Method::GET,
            "/api/callback?code=x&state=forged",
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/?authError=invalid_state");
}

#[tokio::test]
async fn extra_auth_params_reach_the_authorization_request() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with(
        "[oidc.extra_auth_params]\nprompt = \"login\"\nui_locales = \"de\"",
    ))
    .await;
    let authorize = app.start_login("/").await;
    assert_eq!(query_param(&authorize, "prompt").as_deref(), Some("login"));
    assert_eq!(query_param(&authorize, "ui_locales").as_deref(), Some("de"));
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    assert_eq!(location(&app.callback(&callback).await), "/");
}

#[tokio::test]
async fn a_public_client_signs_in_with_pkce_alone() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with(
        "[oidc]\nclient_id = \"bff-public\"\nclient_secret = \"\"\nauth_method = \"none\"",
    ))
    .await;
    app.login_as("bob").await;
    assert_eq!(app.session().await["user"]["sub"], "bob");
}

#[tokio::test]
async fn a_configured_cookie_name_is_used_for_session_and_login_cookies() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with("[session]\ncookie_name = \"__Host-shop\"")).await;
    let authorize = app.start_login("/").await;
    assert!(app
        .jar
        .cookies
        .keys()
        .any(|n| n.starts_with("__Host-shop-login-")));
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    app.callback(&callback).await;
    assert!(app.jar.cookies.contains_key("__Host-shop"));
    assert!(!app.jar.cookies.contains_key("__Host-bff"));
    assert_eq!(app.session().await["user"]["sub"], "alice");
}
