//! Enterprise SSO variants: client authentication methods, signing algorithms, key rotation,
//! configured endpoints without discovery, issuer mismatches.

use crate::helpers::*;

#[tokio::test]
async fn client_secret_post_with_es256_id_tokens_signs_in() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with(
        "[oidc]\nclient_id = \"bff-post\"\nclient_secret = \"bff-post-secret\"\nauth_method = \"client_secret_post\"",
    ))
    .await;
    app.login_as("bob").await;
    let session = app.session().await;
    assert_eq!(session["user"]["sub"], "bob");
    assert_eq!(
        session["user"]["roles"],
        serde_json::json!(["staff", "user"])
    );
}

#[tokio::test]
async fn private_key_jwt_with_ps256_id_tokens_signs_in() {
    let _sso = shared_sso().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client.pem");
    std::fs::write(&key_file, &sso().pkjwt_private_pem).unwrap();
    let mut app = spawn_app_with(config_with(&format!(
        "[oidc]\nclient_id = \"bff-pkjwt\"\nclient_secret = \"\"\nauth_method = \"private_key_jwt\"\nprivate_key_file = {:?}\nprivate_key_alg = \"PS256\"\nprivate_key_id = \"bff-pkjwt-1\"",
        key_file.to_str().unwrap()
    )))
    .await;
    app.login_as("alice").await;
    assert_eq!(app.session().await["user"]["sub"], "alice");
}

#[tokio::test]
async fn unknown_kid_triggers_one_jwks_refetch_and_login_succeeds() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    sso.control("jwks-hide", serde_json::json!({"kids": ["ec-1"]}))
        .await;
    let mut app = spawn_app_with(config_with(
        "[oidc]\nclient_id = \"bff-post\"\nclient_secret = \"bff-post-secret\"\nauth_method = \"client_secret_post\"",
    ))
    .await;
    app.state
        .sso
        .provider()
        .await
        .expect("keys loaded without ec-1");
    sso.control("jwks-hide", serde_json::json!({"kids": []}))
        .await;
    let before = sso.stats().await["jwks"].as_u64().unwrap_or(0);

    app.login_as("alice").await;

    let after = sso.stats().await["jwks"].as_u64().unwrap_or(0);
    assert_eq!(after - before, 1, "exactly one JWKS refetch");
    assert_eq!(app.session().await["user"]["sub"], "alice");
}

#[tokio::test]
async fn configured_endpoints_work_without_any_discovery_document() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    sso.fault("discovery", Some("status500")).await;
    let issuer = &sso.issuer;
    let mut app = spawn_app_with(config_with(&format!(
        r#"[oidc.endpoints]
        authorization = "{issuer}/auth"
        token = "{issuer}/token"
        jwks = "{issuer}/jwks"
        revocation = "{issuer}/token/revocation"
        end_session = "{issuer}/session/end""#
    )))
    .await;
    let result = async {
        app.login_as("alice").await;
        let session = app.session().await;
        assert_eq!(session["user"]["sub"], "alice");
    };
    result.await;
    sso.fault("discovery", None).await;
}

#[tokio::test]
async fn discovery_garbage_or_issuer_mismatch_keeps_the_service_not_ready() {
    let _sso = shared_sso().await;
    // A trailing slash is a different issuer: the mismatch is reported, never accepted.
    let mut app = spawn_app_with(config_with(&format!(
        "[oidc]\nissuer = \"{}/\"",
        sso().issuer
    )))
    .await;
    let response = app.get("/api/login").await;
    assert_eq!(response.status(), 503);
    assert_eq!(app.get("/readyz").await.status(), 503);
    let error = app
        .state
        .sso
        .provider()
        .await
        .expect_err("mismatch refused");
    assert!(format!("{error}").contains("byte for byte"), "{error}");
}

#[tokio::test]
async fn sso_token_endpoint_failure_at_callback_is_sso_unavailable() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    let mut app = spawn_app().await;
    for mode in ["status500", "garbage"] {
        let authorize = app.start_login("/").await;
        let callback = app.authorize_at_sso(&authorize, "alice").await;
        sso.fault("token", Some(mode)).await;
        let response = app.callback(&callback).await;
        sso.fault("token", None).await;
        assert_eq!(location(&response), "/?authError=sso_unavailable", "{mode}");
        assert!(app.jar.set_cookie_line("__Host-bff").is_none());
    }
}

#[tokio::test]
async fn discovery_or_jwks_garbage_keeps_the_service_not_ready_with_a_clear_error() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    for target in ["discovery", "jwks"] {
        sso.fault(target, Some("garbage")).await;
        let app = spawn_app().await;
        let error = app.state.sso.provider().await.expect_err("garbage refused");
        sso.fault(target, None).await;
        let text = format!("{error}");
        assert!(text.contains("not-ready"), "{text}");
        let expected = if target == "jwks" {
            "not a JSON Web Key Set"
        } else {
            "not valid provider metadata"
        };
        assert!(text.contains(expected), "{target}: {text}");
    }
}

#[tokio::test]
async fn oversized_sso_answers_are_refused_not_read_into_memory() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    // Correct documents followed by 2 MB of whitespace: valid JSON, beyond any real answer.
    for target in ["discovery", "jwks"] {
        sso.fault(target, Some("huge")).await;
        let app = spawn_app().await;
        let error = app
            .state
            .sso
            .provider()
            .await
            .expect_err("oversized answer refused");
        sso.fault(target, None).await;
        let text = format!("{error}");
        assert!(text.contains("larger than"), "{target}: {text}");
    }
    // The token endpoint, at the callback: refused as the SSO being unavailable.
    let mut app = spawn_app().await;
    let authorize = app.start_login("/").await;
    let callback = app.authorize_at_sso(&authorize, "alice").await;
    sso.fault("token", Some("huge")).await;
    let response = app.callback(&callback).await;
    sso.fault("token", None).await;
    assert_eq!(location(&response), "/?authError=sso_unavailable");
}

#[tokio::test]
async fn ca_file_is_loaded_and_a_bad_one_stops_startup_with_its_key() {
    let _sso = shared_sso().await;
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("ca.key"), dir.path().join("ca.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Corp Test Root",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    let mut app = spawn_app_with(config_with(&format!(
        "[oidc]\nca_file = {:?}",
        cert.to_str().unwrap()
    )))
    .await;
    app.login_as("alice").await;

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let error = oidc_bff::App::build(config_with(&format!(
        "[oidc]\nca_file = {:?}",
        garbage.to_str().unwrap()
    )))
    .await
    .err()
    .expect("a bad CA file stops startup");
    assert!(format!("{error:#}").contains("oidc.ca_file"), "{error:#}");

    use figment::providers::{Format, Toml};
    let missing = figment::Figment::from(Toml::string(&config_toml("")))
        .merge(Toml::string("[oidc]\nca_file = \"/nonexistent/ca.pem\""));
    let error = oidc_bff::Config::from_figment("test".into(), missing).unwrap_err();
    assert_eq!(error.key, "oidc.ca_file");
}
