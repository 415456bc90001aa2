//! The command line: `openapi`, `keygen`, `check`, and fail-fast startup.

use crate::helpers::*;
use std::process::Command;

fn bff() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oidc-bff"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn openapi_command_prints_exactly_the_committed_spec() {
    let json = bff().arg("openapi").output().unwrap();
    assert!(json.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/oidc-bff.json"
    ))
    .unwrap();
    assert!(
        String::from_utf8(json.stdout).unwrap() == committed,
        "openapi/oidc-bff.json is stale: run `cargo run -- openapi > openapi/oidc-bff.json`"
    );
    let yaml = bff().args(["openapi", "--yaml"]).output().unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/oidc-bff.yaml"
    ))
    .unwrap();
    assert!(
        String::from_utf8(yaml.stdout).unwrap() == committed,
        "openapi/oidc-bff.yaml is stale"
    );
}

#[test]
fn openapi_merged_command_prints_exactly_the_committed_merged_spec() {
    // The dev profile declares the demo upstream's documents (files: no upstream needs to run).
    let merged = bff()
        .args(["openapi", "--merged"])
        .env("BFF_PROFILE", "dev")
        .output()
        .unwrap();
    assert!(merged.status.success());
    assert_eq!(
        String::from_utf8_lossy(&merged.stderr),
        "",
        "no document left out"
    );
    let stdout = String::from_utf8(merged.stdout).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for path in ["/api/session", "/api/chat/stream", "/api/analytics/report"] {
        assert!(spec["paths"].get(path).is_some(), "{path} documented");
    }
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/oidc-bff.merged.json"
    ))
    .unwrap();
    assert!(
        stdout == committed,
        "openapi/oidc-bff.merged.json is stale: run \
         `BFF_PROFILE=dev cargo run -q -- openapi --merged > openapi/oidc-bff.merged.json`"
    );
}

#[test]
fn openapi_merged_needs_only_the_routes_and_warns_about_documents_left_out() {
    // prd without any secret: the rest of the configuration is not needed.
    let output = bff()
        .args(["openapi", "--merged"])
        .env("BFF_PROFILE", "prd")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        oidc_bff::app::spec_json()
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.toml"),
        "[[routes]]\nprefix = \"/api/x\"\nupstream = \"http://x.invalid/x\"\n\
         openapi = \"no/such/openapi.json\"\n",
    )
    .unwrap();
    let output = bff()
        .args(["openapi", "--merged", "--yaml"])
        .env("BFF_CONFIG_DIR", dir.path())
        .env("BFF_PROFILE", "x")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "warning: the OpenAPI document of route /api/x (no/such/openapi.json) is left out"
        ),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        oidc_bff::app::spec_yaml()
    );
}

#[tokio::test]
async fn served_spec_is_byte_identical_to_the_command_output() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let served = app.get("/openapi.json").await.text().await.unwrap();
    assert_eq!(served, oidc_bff::app::spec_json());
    let served = app.get("/openapi.yaml").await.text().await.unwrap();
    assert_eq!(served, oidc_bff::app::spec_yaml());
    let spec: serde_json::Value = serde_json::from_str(&oidc_bff::app::spec_json()).unwrap();
    for path in [
        "/api/login",
        "/api/callback",
        "/api/session",
        "/api/logout",
        "/healthz",
        "/readyz",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} documented");
    }
    assert_eq!(app.get("/docs/").await.status(), 200);
}

#[test]
fn keygen_prints_32_bytes_of_base64() {
    let output = bff().arg("keygen").output().unwrap();
    let key = String::from_utf8(output.stdout).unwrap();
    assert!(oidc_bff::config::decode_key(key.trim()).is_ok());
}

#[test]
fn check_prints_the_configuration_with_secrets_redacted() {
    let output = bff()
        .arg("check")
        .env("BFF_PROFILE", "stg")
        .env("BFF_OIDC__CLIENT_SECRET", "super-secret-value")
        .env("BFF_SESSION__KEYS", KEY)
        .env("BFF_SESSION__TYPO", "x")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("myapp-stg"));
    assert!(!stdout.contains("super-secret-value") && !stdout.contains(KEY));
    assert!(String::from_utf8_lossy(&output.stderr).contains("BFF_SESSION__TYPO"));
}

#[test]
fn invalid_configuration_fails_with_one_line_naming_the_key() {
    for (name, value, key) in [
        ("BFF_SESSION__KEYS", "c2hvcnQ=", "session.keys[0]"),
        ("BFF_OIDC__ISSUER", "not a url", "oidc.issuer"),
        ("BFF_PROFILE", "nope", "BFF_PROFILE"),
    ] {
        for command in ["check", "serve"] {
            let mut bff = bff();
            bff.arg(command)
                .env("BFF_PROFILE", "stg")
                .env("BFF_OIDC__CLIENT_SECRET", "x")
                .env("BFF_SESSION__KEYS", KEY)
                .env(name, value);
            let output = bff.output().unwrap();
            assert!(!output.status.success());
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains(key), "{stderr}");
            assert!(!stderr.contains("panicked"));
        }
    }
}

#[test]
fn a_production_shaped_start_without_a_key_of_its_own_is_refused() {
    // No BFF_PROFILE (so the dev profile and its committed key), a public origin.
    for command in ["check", "serve"] {
        let output = bff()
            .arg(command)
            .env("BFF_SERVER__PUBLIC_URL", "https://app.example.com")
            .env("BFF_OIDC__ISSUER", "https://sso.example.com/oidc/app")
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "{command} started with a public key"
        );
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("`session.keys`"), "{stderr}");
    }
}
