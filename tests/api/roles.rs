//! Where roles come from: ID token, JWT access token, userinfo.

use crate::helpers::*;

#[tokio::test]
async fn roles_are_read_from_a_jwt_access_token() {
    let sso = sso_jwt();
    // Without the `profile` scope the ID token carries no roles: any role must come from the
    // access token, which this SSO issues as a JWT with the user's roles.
    let mut app = spawn_app_with(config_with(&format!(
        "[oidc]\nissuer = \"{}\"\nscopes = [\"openid\", \"email\", \"offline_access\"]",
        sso.issuer
    )))
    .await;
    app.login_as("alice").await;
    let session = app.session().await;
    assert!(
        session["claims"].get("roles").is_none(),
        "the ID token has no roles: {session}"
    );
    assert!(
        app.sealed_session().access_token.jwt_claims().is_some(),
        "a JWT access token"
    );
    assert_eq!(
        session["user"]["roles"],
        serde_json::json!(["analyst", "user"])
    );
    assert_eq!(app.get("/api/analytics/report").await.status(), 200);
}

#[tokio::test]
async fn nested_claim_paths_select_roles() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with("[roles]\nclaims = [\"realm_access.roles\"]")).await;
    app.login_as("alice").await;
    assert_eq!(
        app.session().await["user"]["roles"],
        serde_json::json!(["analyst"])
    );
}

#[tokio::test]
async fn userinfo_is_consulted_when_configured() {
    let _sso = shared_sso().await;
    let mut app = spawn_app_with(config_with("[roles]\nuserinfo = true")).await;
    app.login_as("alice").await;
    assert_eq!(
        app.session().await["user"]["roles"],
        serde_json::json!(["analyst", "staff", "user"])
    );

    // Proof that it is really called: with an unreachable userinfo endpoint the login fails.
    let closed = closed_port();
    let mut broken = spawn_app_with(config_with(&format!(
        "[roles]\nuserinfo = true\n[oidc.endpoints]\nuserinfo = \"http://127.0.0.1:{closed}/me\""
    )))
    .await;
    let authorize = broken.start_login("/").await;
    let callback = broken.authorize_at_sso(&authorize, "alice").await;
    let response = broken.callback(&callback).await;
    assert_eq!(location(&response), "/?authError=sso_unavailable");
}
