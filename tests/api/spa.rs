//! `server.static_dir`: the built SPA served by the BFF itself.

use crate::helpers::*;

async fn spa_app() -> (TestApp, tempfile::TempDir, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "<html>the app</html>").unwrap();
    std::fs::write(root.path().join("main-3KZ2H7QX.js"), "console.log(1)").unwrap();
    std::fs::write(root.path().join("favicon.ico"), "icon").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside the folder").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        root.path().join("link.txt"),
    )
    .unwrap();
    let app = spawn_app_with(config_with(&format!(
        "[server]\nstatic_dir = {:?}",
        root.path().to_str().unwrap()
    )))
    .await;
    (app, root, outside)
}

#[tokio::test]
async fn index_is_served_uncached_and_is_the_fallback_for_client_routes() {
    let _sso = shared_sso().await;
    let (mut app, _root, _outside) = spa_app().await;
    for path in ["/", "/chat", "/reports/3?tab=x"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(response.text().await.unwrap(), "<html>the app</html>");
    }
}

#[tokio::test]
async fn fingerprinted_assets_are_cached_for_a_year() {
    let _sso = shared_sso().await;
    let (mut app, _root, _outside) = spa_app().await;
    let response = app.get("/main-3KZ2H7QX.js").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let response = app.get("/favicon.ico").await;
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(app.get("/missing-ABCD1234.js").await.status(), 404);
}

#[tokio::test]
async fn nothing_outside_the_folder_is_served() {
    let _sso = shared_sso().await;
    let (app, _root, _outside) = spa_app().await;
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e%2fCargo.toml",
        "/..%5cCargo.toml",
        "/link.txt",
        "/%2fetc%2fpasswd",
    ] {
        let response = app.raw_get_text(path).await;
        assert!(
            !response.contains("outside the folder"),
            "{path}: {response}"
        );
        assert!(!response.contains("[package]"), "{path}: {response}");
        assert!(!response.contains("root:"), "{path}: {response}");
        let status = response.split_whitespace().nth(1).unwrap_or("");
        let is_app = response.ends_with("<html>the app</html>");
        assert!(
            status == "404" || status == "400" || is_app,
            "{path}: {response}"
        );
    }
}

#[tokio::test]
async fn api_paths_are_never_answered_by_the_app() {
    let _sso = shared_sso().await;
    let (mut app, _root, _outside) = spa_app().await;
    let response = app.get("/api/unknown").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(app.session().await["authenticated"], false);
    assert_eq!(app.get("/healthz").await.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn the_app_is_served_under_a_content_security_policy_and_never_framed() {
    let _sso = shared_sso().await;
    let (mut app, _root, _outside) = spa_app().await;
    for path in ["/", "/chat", "/main-3KZ2H7QX.js", "/chat;id=3"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(
            headers["content-security-policy"],
            oidc_bff::headers::DEFAULT_CSP,
            "{path}"
        );
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    // The BFF's own answers keep their own policy (none, or the hop page's).
    let response = app.get("/api/session").await;
    assert!(response.headers().get("content-security-policy").is_none());
}
