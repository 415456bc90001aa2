//! What the browser must do to call a relayed operation, as the BFF enforces it, replacing
//! whatever the upstream's document says about its own security.
//!
//! The browser never holds the upstream's credential: the BFF sends the access token itself.
//! So the upstream's security requirements (and schemes) go, and an `access` route's
//! operations need the session cookie instead, its unsafe methods the `X-XSRF-TOKEN` header,
//! and each may get the BFF's own refusals: 401 (no session) and 403 (a role missing, a
//! foreign origin, no valid CSRF header), both problem+json. An anonymous (`token = "none"`)
//! route passes requests through: no security, no header, no refusal of the BFF's. Parameters
//! the relay never passes on (an `Authorization` or `Cookie` header, any cookie) are dropped,
//! and `trace` operations too (the BFF answers `TRACE` with 405).

use crate::routes::TokenMode;
use serde_json::{json, Map, Value};

/// The session cookie's security scheme in the BFF's document.
pub const SESSION_SCHEME: &str = "sessionCookie";
/// The BFF's problem+json schema.
pub const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// The operations of a path item, as OpenAPI names them.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Methods the BFF checks the CSRF header for (as `csrf::is_unsafe` decides).
const UNSAFE: [&str; 4] = ["put", "post", "delete", "patch"];

/// Applies the BFF's rules to one relayed path item. `components` are the upstream's
/// (renamed) components, to see through parameter and response references.
pub fn secure_path_item(item: &mut Value, token: TokenMode, components: &Value) {
    let Value::Object(item) = item else { return };
    item.retain(|key, _| key != "trace" && key != "servers");
    drop_unrelayed_parameters(item, components);
    for method in METHODS {
        let Some(Value::Object(operation)) = item.get_mut(method) else {
            continue;
        };
        operation.retain(|key, _| key != "servers" && key != "security");
        drop_unrelayed_parameters(operation, components);
        if token == TokenMode::Access {
            operation.insert("security".into(), json!([{ SESSION_SCHEME: [] }]));
            if UNSAFE.contains(&method) {
                add_xsrf_header(operation);
            }
            add_refusals(operation, components);
        }
    }
}

/// Removes the parameters the relay does not pass to the upstream: cookies, and the
/// `Authorization` and `Cookie` headers (the BFF sets the first and strips the second).
fn drop_unrelayed_parameters(owner: &mut Map<String, Value>, components: &Value) {
    let Some(Value::Array(parameters)) = owner.get_mut("parameters") else {
        return;
    };
    parameters.retain(|parameter| {
        let parameter = resolve(parameter, components, "parameters");
        let name = parameter["name"].as_str().unwrap_or_default();
        !match parameter["in"].as_str() {
            Some("cookie") => true,
            Some("header") => {
                name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie")
            }
            _ => false,
        }
    });
}

/// The header the BFF checks on unsafe methods. Not `required` in the document, as on the
/// BFF's own `POST /api/logout`: clients such as Angular's `HttpClient` send it by themselves
/// from the `XSRF-TOKEN` cookie, and a generated client should not ask the app for it.
fn add_xsrf_header(operation: &mut Map<String, Value>) {
    let parameters = operation
        .entry("parameters")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(parameters) = parameters else {
        return;
    };
    parameters.retain(|p| {
        !(p["in"] == "header"
            && p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("x-xsrf-token")))
    });
    parameters.push(json!({
        "name": "X-XSRF-TOKEN",
        "in": "header",
        "required": false,
        "description": "The value of the `XSRF-TOKEN` cookie: the BFF refuses an unsafe method \
            without it (403). Angular's `HttpClient` sends it by itself.",
        "schema": { "type": "string" }
    }));
}

/// The BFF's 401 and 403, added to what the upstream already documents for those statuses.
fn add_refusals(operation: &mut Map<String, Value>, components: &Value) {
    let responses = operation
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(responses) = responses else {
        return;
    };
    for (status, ours) in [
        (
            "401",
            "No valid session: sign in first (`/api/login`). Answered by the BFF.",
        ),
        (
            "403",
            "Refused by the BFF: a role this route needs is missing, the request comes from a \
             foreign origin, or an unsafe method lacks a valid `X-XSRF-TOKEN`.",
        ),
    ] {
        let problem = json!({ "$ref": PROBLEM_REF });
        let response = match responses.get(status) {
            None => json!({
                "description": ours,
                "content": { "application/problem+json": { "schema": problem } }
            }),
            Some(theirs) => {
                let mut response = resolve(theirs, components, "responses").clone();
                let description = response["description"].as_str().unwrap_or_default();
                response["description"] = format!("{description} Also: {ours}").trim().into();
                let schema = &mut response["content"]["application/problem+json"]["schema"];
                *schema = match schema.take() {
                    Value::Null => problem,
                    same if same == problem => same,
                    other => json!({ "oneOf": [problem, other] }),
                };
                response
            }
        };
        responses.insert(status.into(), response);
    }
}

/// `value`, or the component it refers to (`#/components/<kind>/<name>`) when it is a
/// reference into `components` that exists.
fn resolve<'v>(value: &'v Value, components: &'v Value, kind: &str) -> &'v Value {
    value["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix(&format!("#/components/{kind}/")))
        .and_then(|name| components[kind].get(name))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secured(item: Value, token: TokenMode) -> Value {
        let components = json!({
            "parameters": {"Auth": {"name": "Authorization", "in": "header"}},
            "responses": {"Unauthorized": {"description": "Bad token.",
                "content": {"application/json": {"schema": {"type": "object"}}}}}
        });
        let mut item = item;
        secure_path_item(&mut item, token, &components);
        item
    }

    #[test]
    fn upstream_security_is_replaced_by_the_session_cookie() {
        let item = secured(
            json!({"get": {"security": [{"bearer": []}], "responses": {}}, "servers": [{"url": "http://internal"}]}),
            TokenMode::Access,
        );
        assert_eq!(item["get"]["security"], json!([{"sessionCookie": []}]));
        assert!(item.get("servers").is_none());
    }

    #[test]
    fn unsafe_methods_get_the_xsrf_header_and_safe_ones_do_not() {
        let op = json!({"responses": {}});
        let item = secured(
            json!({"get": op, "head": op, "post": op, "put": op, "patch": op, "delete": op}),
            TokenMode::Access,
        );
        let has_xsrf = |method: &str| {
            item[method]["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["name"] == "X-XSRF-TOKEN" && p["in"] == "header")
            })
        };
        for method in ["post", "put", "patch", "delete"] {
            assert!(has_xsrf(method), "{method}");
        }
        for method in ["get", "head"] {
            assert!(!has_xsrf(method), "{method}");
        }
    }

    #[test]
    fn refusals_are_added_and_merged_with_the_upstreams_own() {
        let item = secured(
            json!({"get": {"responses": {
                "200": {"description": "ok"},
                "401": {"$ref": "#/components/responses/Unauthorized"}
            }}}),
            TokenMode::Access,
        );
        let responses = &item["get"]["responses"];
        assert_eq!(
            responses["403"]["content"]["application/problem+json"]["schema"]["$ref"],
            PROBLEM_REF
        );
        let unauthorized = &responses["401"];
        assert!(unauthorized["description"]
            .as_str()
            .unwrap()
            .starts_with("Bad token. Also: No valid session"));
        assert_eq!(
            unauthorized["content"]["application/json"]["schema"],
            json!({"type": "object"})
        );
        assert_eq!(
            unauthorized["content"]["application/problem+json"]["schema"]["$ref"],
            PROBLEM_REF
        );
    }

    #[test]
    fn parameters_the_relay_drops_and_trace_are_removed() {
        let item = secured(
            json!({
                "parameters": [{"name": "session", "in": "cookie"}, {"name": "id", "in": "path"}],
                "post": {"parameters": [
                    {"$ref": "#/components/parameters/Auth"},
                    {"name": "Cookie", "in": "header"},
                    {"name": "x-xsrf-token", "in": "header", "required": true},
                    {"name": "q", "in": "query"}
                ], "responses": {}},
                "trace": {"responses": {}}
            }),
            TokenMode::Access,
        );
        assert_eq!(item["parameters"], json!([{"name": "id", "in": "path"}]));
        let names: Vec<_> = item["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["q", "X-XSRF-TOKEN"]);
        assert!(item.get("trace").is_none());
    }

    #[test]
    fn an_anonymous_route_has_no_security_header_or_refusals() {
        let item = secured(
            json!({"post": {"security": [{"bearer": []}], "responses": {"200": {"description": "ok"}}}}),
            TokenMode::None,
        );
        assert_eq!(
            item["post"],
            json!({"responses": {"200": {"description": "ok"}}})
        );
    }
}
