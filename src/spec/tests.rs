//! The merge as a whole: the BFF's committed document and the demo upstream's documents, plus
//! small documents for the cases the demo does not have.

use super::merge::merge;
use super::served::{load, merge_once, Rendered, ServedSpec};
use crate::routes::RouteTable;
use serde_json::{json, Value};
use std::time::Duration;

const OWN: &str = include_str!("../../openapi/oidc-bff.json");
const CHAT: &str = include_str!("../../examples/demo-upstream/chat.openapi.json");
const ANALYTICS: &str = include_str!("../../examples/demo-upstream/analytics.openapi.json");

fn own() -> Value {
    serde_json::from_str(OWN).unwrap()
}

fn doc(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Routes from TOML (`[[routes]]` tables), validated as the configuration does.
fn routes(toml: &str) -> RouteTable {
    use figment::providers::{Format, Toml};
    #[derive(serde::Deserialize)]
    struct Routes {
        routes: Vec<crate::routes::RawRoute>,
    }
    let raw: Routes = figment::Figment::from(Toml::string(toml))
        .extract()
        .unwrap();
    RouteTable::from_raw(raw.routes).unwrap()
}

const DEMO_ROUTES: &str = r#"
    [[routes]]
    prefix = "/api/chat"
    upstream = "http://demo:9100/chat"
    openapi = "http://demo:9100/chat/openapi.json"
    [[routes]]
    prefix = "/api/analytics"
    upstream = "http://demo:9100/analytics"
    roles = ["analyst"]
    openapi = "http://demo:9100/analytics/openapi.json"
    [[routes]]
    prefix = "/api/public"
    upstream = "http://demo:9100/chat"
    token = "none"
    openapi = "http://demo:9100/chat/openapi.json"
    [[routes]]
    prefix = "/api/status"
    upstream = "http://demo:9100/chat/status"
    openapi = "http://demo:9100/chat/openapi.json"
"#;

/// The demo's three routes merged with the demo upstream's two documents.
fn demo() -> Value {
    let table = routes(DEMO_ROUTES);
    let (chat, analytics) = (doc(CHAT), doc(ANALYTICS));
    let route = |prefix: &str| table.iter().find(|r| r.prefix == prefix).unwrap();
    let (merged, left_out) = merge(
        &own(),
        &table,
        &[
            (route("/api/chat"), &chat),
            (route("/api/analytics"), &analytics),
            (route("/api/public"), &chat),
            (route("/api/status"), &chat),
        ],
    );
    assert_eq!(left_out, []);
    merged
}

#[test]
fn upstream_paths_are_re_rooted_under_their_route_prefix() {
    let merged = demo();
    let paths: Vec<&str> = merged["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|p| p.starts_with("/api/chat") || p.starts_with("/api/analytics"))
        .collect();
    assert_eq!(
        paths,
        [
            "/api/chat/stream",
            "/api/chat/whoami",
            "/api/chat/status/{code}",
            "/api/chat/slow",
            "/api/analytics/report",
            "/api/analytics/whoami",
        ]
    );
    assert!(merged["paths"].get("/api/public/stream").is_some());
}

#[test]
fn operation_ids_and_component_names_are_prefixed_and_refs_follow() {
    let merged = demo();
    let report = &merged["paths"]["/api/analytics/report"]["get"];
    assert_eq!(report["operationId"], "analyticsReport");
    assert_eq!(
        report["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AnalyticsReport"
    );
    let schemas = &merged["components"]["schemas"];
    assert_eq!(
        schemas["AnalyticsReport"]["properties"]["rows"]["items"]["$ref"],
        "#/components/schemas/AnalyticsReportRow"
    );
    // The same document under two routes: two sets of names, each with what its paths use.
    assert_eq!(
        merged["paths"]["/api/chat/status/{code}"]["get"]["operationId"],
        "chatStatus"
    );
    assert_eq!(
        merged["paths"]["/api/public/status/{code}"]["get"]["operationId"],
        "publicStatus"
    );
    assert!(schemas.get("ChatStatusReply").is_some() && schemas.get("PublicStatusReply").is_some());
    assert_eq!(
        merged["paths"]["/api/chat/stream"]["post"]["responses"]["200"]["$ref"],
        "#/components/responses/ChatStream"
    );
    // A route relaying a part of a document brings only the components that part reaches.
    assert!(merged["paths"].get("/api/status/{code}").is_some());
    let status: Vec<_> = schemas
        .as_object()
        .unwrap()
        .keys()
        .filter(|name| name.starts_with("Status"))
        .collect();
    assert_eq!(status, ["StatusStatusReply"]);
    // Every reference of the merged document resolves.
    let pointer = |r: &str| merged.pointer(r.trim_start_matches('#')).is_some();
    for reference in refs(&merged) {
        assert!(pointer(&reference), "{reference} does not resolve");
    }
}

fn refs(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, inner)| match (key.as_str(), inner) {
                ("$ref", Value::String(text)) => vec![text.clone()],
                _ => refs(inner),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(refs).collect(),
        _ => vec![],
    }
}

#[test]
fn names_the_bff_uses_stay_the_bffs() {
    let upstream = json!({
        "openapi": "3.0.3",
        "paths": {"/x/session": {"get": {"operationId": "Session",
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}}}}},
        "components": {"schemas": {"Problem": {"type": "string"}}}
    });
    let table = routes(
        r#"
        [[routes]]
        prefix = "/api/get"
        upstream = "http://x/x"
        openapi = "http://x/openapi.json"
    "#,
    );
    let route = table.iter().next().unwrap();
    let (merged, _) = merge(&own(), &table, &[(route, &upstream)]);
    let op = &merged["paths"]["/api/get/session"]["get"];
    // `getSession` is the BFF's own operation id.
    assert_eq!(op["operationId"], "getSession2");
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GetProblem"
    );
    assert_eq!(
        merged["components"]["schemas"]["Problem"],
        own()["components"]["schemas"]["Problem"]
    );
    // The BFF's 401 refers to its own Problem, not to the upstream's.
    assert_eq!(
        op["responses"]["401"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
}

#[test]
fn upstream_security_is_replaced_by_the_bffs_cookie_scheme() {
    let merged = demo();
    assert_eq!(
        merged["components"]["securitySchemes"],
        own()["components"]["securitySchemes"],
        "the upstream's bearerAuth is not carried over"
    );
    assert!(merged.get("security").is_none());
    for (path, method) in [
        ("/api/chat/stream", "post"),
        ("/api/analytics/report", "get"),
    ] {
        let op = &merged["paths"][path][method];
        assert_eq!(op["security"], json!([{"sessionCookie": []}]), "{path}");
    }
    // An anonymous route asks for nothing.
    let public = &merged["paths"]["/api/public/stream"]["post"];
    assert!(public.get("security").is_none());
    assert!(public["responses"].get("401").is_none());
}

#[test]
fn unsafe_methods_carry_the_xsrf_header_and_401_403_are_problems() {
    let merged = demo();
    let xsrf = |op: &Value| {
        op["parameters"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["name"] == "X-XSRF-TOKEN" && p["in"] == "header")
        })
    };
    assert!(xsrf(&merged["paths"]["/api/chat/stream"]["post"]));
    assert!(!xsrf(&merged["paths"]["/api/chat/stream"]["get"]));
    assert!(!xsrf(&merged["paths"]["/api/public/stream"]["post"]));
    for (path, method) in [
        ("/api/chat/stream", "post"),
        ("/api/chat/whoami", "get"),
        ("/api/analytics/report", "get"),
    ] {
        for status in ["401", "403"] {
            let response = &merged["paths"][path][method]["responses"][status];
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
    // The upstream's own 401 is kept beside the BFF's.
    let report_401 = &merged["paths"]["/api/analytics/report"]["get"]["responses"]["401"];
    assert_eq!(
        report_401["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AnalyticsError"
    );
}

#[test]
fn the_bffs_own_endpoints_are_unchanged() {
    let (own, merged) = (own(), demo());
    for (path, item) in own["paths"].as_object().unwrap() {
        assert_eq!(&merged["paths"][path], item, "{path}");
    }
    for (name, schema) in own["components"]["schemas"].as_object().unwrap() {
        assert_eq!(&merged["components"]["schemas"][name], schema, "{name}");
    }
    assert_eq!(merged["info"], own["info"]);
    assert_eq!(merged["openapi"], own["openapi"]);
    let own_paths: Vec<_> = own["paths"].as_object().unwrap().keys().collect();
    let first: Vec<_> = merged["paths"]
        .as_object()
        .unwrap()
        .keys()
        .take(own_paths.len())
        .collect();
    assert_eq!(
        first, own_paths,
        "the BFF's paths come first, in their order"
    );
}

#[test]
fn a_document_that_cannot_be_merged_is_left_out_with_the_reason() {
    let table = routes(DEMO_ROUTES);
    let chat = table.iter().find(|r| r.prefix == "/api/chat").unwrap();
    let analytics = table.iter().find(|r| r.prefix == "/api/analytics").unwrap();
    let external = json!({"openapi": "3.0.3", "paths": {"/chat/x": {"get": {"responses": {
        "200": {"$ref": "shared.yaml#/components/responses/Ok"}}}}}});
    let (merged, left_out) = merge(
        &own(),
        &table,
        &[(chat, &external), (analytics, &doc(ANALYTICS))],
    );
    assert_eq!(left_out.len(), 1);
    assert_eq!(left_out[0].prefix, "/api/chat");
    assert!(
        left_out[0].to_string().contains("another document"),
        "{}",
        left_out[0]
    );
    assert!(merged["paths"].get("/api/chat/x").is_none());
    assert!(merged["paths"].get("/api/analytics/report").is_some());

    // A document for another base path documents nothing this route relays.
    let (_, left_out) = merge(&own(), &table, &[(analytics, &doc(CHAT))]);
    assert!(
        left_out[0].reason.contains("no path under"),
        "{}",
        left_out[0]
    );
}

#[test]
fn a_path_item_reference_is_inlined_and_secured_like_any_other() {
    let table = routes(DEMO_ROUTES);
    let chat = table.iter().find(|r| r.prefix == "/api/chat").unwrap();
    let upstream = json!({
        "openapi": "3.1.0",
        "servers": [{"url": "/chat"}],
        "paths": {"/x": {"$ref": "#/components/pathItems/X", "summary": "kept"}},
        "components": {"pathItems": {"X": {"post": {"operationId": "x",
            "security": [{"bearer": []}], "responses": {"204": {"description": "done"}}}}}}
    });
    let (merged, left_out) = merge(&own(), &table, &[(chat, &upstream)]);
    assert_eq!(left_out, []);
    let item = &merged["paths"]["/api/chat/x"];
    assert_eq!(item["summary"], "kept");
    assert_eq!(item["post"]["operationId"], "chatX");
    assert_eq!(item["post"]["security"], json!([{"sessionCookie": []}]));
    assert!(item["post"]["responses"].get("403").is_some());
}

#[test]
fn an_openapi_3_1_upstream_makes_the_document_3_1() {
    let table = routes(DEMO_ROUTES);
    let chat = table.iter().find(|r| r.prefix == "/api/chat").unwrap();
    let mut upstream = doc(CHAT);
    upstream["openapi"] = "3.1.0".into();
    let (merged, _) = merge(&own(), &table, &[(chat, &upstream)]);
    assert_eq!(merged["openapi"], "3.1.0");
}

/// Routes whose documents are files in `dir`.
fn file_routes(dir: &std::path::Path) -> RouteTable {
    let file = |name: &str| dir.join(name).display().to_string();
    routes(&format!(
        r#"
        [[routes]]
        prefix = "/api/chat"
        upstream = "http://demo:9100/chat"
        openapi = "{chat}"
        [[routes]]
        prefix = "/api/analytics"
        upstream = "http://demo:9100/analytics"
        openapi = "{analytics}"
        [[routes]]
        prefix = "/api/broken"
        upstream = "http://demo:9100/broken"
        openapi = "{broken}"
        [[routes]]
        prefix = "/api/huge"
        upstream = "http://demo:9100/huge"
        openapi = "{huge}"
        [[routes]]
        prefix = "/api/down"
        upstream = "http://127.0.0.1:9/down"
        openapi = "http://127.0.0.1:{port}/openapi.json?key=secret-query"
    "#,
        chat = file("chat.json"),
        analytics = file("missing.json"),
        broken = file("broken.json"),
        huge = file("huge.json"),
        port = closed_port(),
    ))
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn unreadable_broken_huge_and_unreachable_documents_are_left_out_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chat.json"), CHAT).unwrap();
    std::fs::write(
        dir.path().join("broken.json"),
        "{\"openapi\": \"3.0.3\", secret-body",
    )
    .unwrap();
    let huge = format!(
        "{{\"openapi\": \"3.0.3\", \"x\": \"{}\"}}",
        "a".repeat(3 << 20)
    );
    std::fs::write(dir.path().join("huge.json"), huge).unwrap();
    let table = file_routes(dir.path());

    let (merged, left_out) = merge_once(&own(), &table).await;

    assert!(
        merged["paths"].get("/api/chat/stream").is_some(),
        "the readable one is merged"
    );
    let reasons: Vec<(String, String)> = left_out
        .iter()
        .map(|l| (l.prefix.clone(), l.to_string()))
        .collect();
    let reason = |prefix: &str| {
        reasons
            .iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{prefix} not left out: {reasons:?}"))
    };
    assert!(reason("/api/analytics").contains("cannot be read"));
    assert!(reason("/api/broken").contains("neither JSON nor YAML"));
    assert!(reason("/api/huge").contains("larger than"));
    assert!(reason("/api/down").contains("cannot be fetched"));
    assert_eq!(left_out.len(), 4);
    for (_, reason) in &reasons {
        assert!(
            !reason.contains("secret"),
            "no body or query in warnings: {reason}"
        );
    }
}

#[tokio::test]
async fn the_service_serves_its_own_document_until_upstreams_are_merged_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.json");
    let table = routes(&format!(
        r#"
        [[routes]]
        prefix = "/api/chat"
        upstream = "http://demo:9100/chat"
        openapi = "{}"
    "#,
        path.display()
    ));
    let own = own();
    let served = std::sync::Arc::new(ServedSpec::new(&own));
    let loader = {
        let (own, table, served) = (own.clone(), table.clone(), served.clone());
        tokio::spawn(
            async move { load(&own, &table, &served, &[Duration::from_millis(400)]).await },
        )
    };
    // The file is missing at the first attempt: the own document is still served.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(served.current().json, Rendered::of(&own).json);
    // It appears before the retry, which merges it.
    std::fs::write(&path, CHAT).unwrap();
    loader.await.unwrap();
    let current: Value = serde_json::from_str(&served.current().json).unwrap();
    assert!(current["paths"].get("/api/chat/stream").is_some());
    let yaml: Value = serde_yaml::from_str(&served.current().yaml).unwrap();
    assert_eq!(yaml, current);
}

#[test]
fn the_docs_page_shows_the_served_document_and_no_upstream_text_closes_its_script() {
    let mut merged = demo();
    merged["info"]["description"] = "</script><script>alert(1)</script>".into();
    let page = Rendered::of(&merged).docs;
    assert!(
        page.contains("/api/chat/stream"),
        "the merged document is embedded"
    );
    assert!(!page.contains("</script><script>alert(1)"));
    assert!(page.contains("\\u003c/script>\\u003cscript>alert(1)"));
}
