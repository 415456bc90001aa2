//! One spec for the whole API surface: the upstreams' OpenAPI documents (`openapi` of a route)
//! merged into the document the BFF serves, from the demo upstream's real documents.

use crate::helpers::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The test configuration with the demo upstream's documents declared on its two routes.
fn config_with_documents() -> oidc_bff::Config {
    let up = &upstream().base;
    config_with(&format!(
        r#"
        [[routes]]
        prefix = "/api/chat"
        upstream = "{up}/chat"
        openapi = "{up}/chat/openapi.json"
        [[routes]]
        prefix = "/api/analytics"
        upstream = "{up}/analytics"
        roles = ["analyst"]
        openapi = "{up}/analytics/openapi.json"
        "#
    ))
}

/// `/openapi.json` once it documents `path` (the documents are merged in the background).
async fn served_with(app: &mut TestApp, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
        if spec["paths"].get(path).is_some() {
            return spec;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never appeared in /openapi.json"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_served_document_types_the_relayed_apis_from_the_upstreams_documents() {
    let _sso = shared_sso().await;
    let config = config_with_documents();
    let routes = config.routes.clone();
    let mut app = spawn_app_with(config).await;

    let spec = served_with(&mut app, "/api/chat/status/{code}").await;

    let status = &spec["paths"]["/api/chat/status/{code}"]["get"];
    assert_eq!(status["operationId"], "chatStatus");
    assert_eq!(
        status["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ChatStatusReply"
    );
    assert_eq!(
        status["security"],
        serde_json::json!([{"sessionCookie": []}])
    );
    let reply = &spec["components"]["schemas"]["ChatStatusReply"];
    assert_eq!(reply["properties"]["status"]["type"], "integer");
    let report = &spec["paths"]["/api/analytics/report"]["get"];
    assert_eq!(
        report["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AnalyticsReport"
    );
    assert_eq!(
        report["responses"]["403"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    let ask = &spec["paths"]["/api/chat/stream"]["post"];
    assert!(ask["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "X-XSRF-TOKEN" && p["in"] == "header"));
    assert!(spec["paths"].get("/api/chat/report").is_none());
    assert!(spec["components"]["securitySchemes"]
        .get("bearerAuth")
        .is_none());

    // The BFF's own endpoints are as in its own document.
    let own = oidc_bff::app::spec_document();
    for (path, item) in own["paths"].as_object().unwrap() {
        assert_eq!(&spec["paths"][path], item, "{path}");
    }
    // The YAML, the docs page and `oidc-bff openapi --merged` show the same document.
    let yaml: Value =
        serde_yaml::from_str(&app.get("/openapi.yaml").await.text().await.unwrap()).unwrap();
    assert_eq!(yaml, spec);
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    assert!(docs
        .text()
        .await
        .unwrap()
        .contains("/api/chat/status/{code}"));
    let (merged, left_out) = oidc_bff::app::merged_spec(&routes).await;
    assert_eq!(left_out, []);
    assert_eq!(
        app.get("/openapi.json").await.text().await.unwrap(),
        oidc_bff::spec::served::render_json(&merged)
    );

    // And the relayed API answers as its document says.
    app.login_as("alice").await;
    let answer: Value = app.get("/api/chat/status/200").await.json().await.unwrap();
    for field in reply["required"].as_array().unwrap() {
        assert!(
            answer.get(field.as_str().unwrap()).is_some(),
            "{field} in {answer}"
        );
    }
}

#[tokio::test]
async fn an_unreadable_upstream_document_leaves_the_bffs_own_and_the_service_up() {
    let _sso = shared_sso().await;
    let up = &upstream().base;
    let config = config_with(&format!(
        r#"
        [[routes]]
        prefix = "/api/chat"
        upstream = "{up}/chat"
        openapi = "http://127.0.0.1:{closed}/openapi.json"
        [[routes]]
        prefix = "/api/analytics"
        upstream = "{up}/analytics"
        openapi = "{up}/chat/no-such-document.json"
        "#,
        closed = closed_port()
    ));
    let mut app = spawn_app_with(config).await;

    assert_eq!(app.get("/healthz").await.status(), 200);
    // Give the loader time for its first round (both fail), then look.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let served = app.get("/openapi.json").await.text().await.unwrap();
    assert_eq!(served, oidc_bff::app::spec_json());
}
