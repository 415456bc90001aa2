//! The spec holds: schemathesis (PyPI) generates requests from `/openapi.json` of a running
//! instance, signed in and not, and checks that no answer is a 5xx and that every answer
//! matches its documented status, content type, headers and schema.
//!
//! `scripts/test.sh` installs schemathesis into `$HOME/.cache/oidc-bff/venv` and points
//! `SCHEMATHESIS` at it; without it this test fails and says how to install it.

use crate::helpers::*;

fn schemathesis() -> String {
    std::env::var("SCHEMATHESIS").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/oidc-bff/venv/bin/schemathesis")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_as_documented_and_never_5xx() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let cookie = format!("Cookie: {}", app.jar.header());
    let csrf = format!("X-XSRF-TOKEN: {}", app.csrf());
    let binary = schemathesis();
    // schemathesis keeps a cache in its working directory: not in the repository.
    let workdir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(&binary)
        .current_dir(workdir.path())
        .args([
            "run",
            &format!("{}/openapi.json", app.address),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            "--max-redirects",
            "0",
            "--workers",
            "2",
            "--max-examples",
            "60",
            "-H",
            &cookie,
            "-H",
            &csrf,
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot run {binary} ({e}): run scripts/install-deps.sh or set SCHEMATHESIS")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("passed") && !stdout.contains("failed"),
        "{stdout}"
    );
}
