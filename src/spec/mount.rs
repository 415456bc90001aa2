//! Which of an upstream's documented paths a route relays, and what the browser calls them.
//!
//! A document's path is relative to its server (`servers[0].url`, `/` when absent); the
//! upstream serves it at that server's path followed by the document's path. The route relays
//! `prefix/rest` to `upstream/rest`, so a path is reachable through the route exactly when it
//! lies under the route upstream's own path: with `prefix = "/api/chat"` and
//! `upstream = "http://host/chat"`, the upstream's `/chat/x` is the browser's `/api/chat/x`,
//! and its `/analytics/y` is not reachable through this route at all (left out). A path that a
//! more specific route would take (`/api/chat/admin/...` when `/api/chat/admin` is a route of
//! its own, letter case aside) is left out too: the BFF would never send it to this upstream.

use crate::routes::{Route, RouteTable, SpecSource};
use serde_json::Value;

/// Maps one upstream document's paths to the BFF's.
pub struct Mount<'a> {
    route: &'a Route,
    table: &'a RouteTable,
    /// The path of the document's server, without a trailing `/` (empty for the root).
    server_path: String,
}

impl<'a> Mount<'a> {
    /// The mount of `doc` (read from `source`) under `route`.
    pub fn new(route: &'a Route, table: &'a RouteTable, doc: &Value, source: &SpecSource) -> Self {
        Mount {
            route,
            table,
            server_path: server_path(doc, source),
        }
    }

    /// The browser's path for the document's `doc_path`, or `None` when the route does not
    /// relay it there.
    pub fn bff_path(&self, doc_path: &str) -> Option<String> {
        if !doc_path.starts_with('/') {
            return None;
        }
        let full = format!("{}{doc_path}", self.server_path);
        let base = self.route.upstream.path().trim_end_matches('/');
        let rest = full.strip_prefix(base)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let bff = format!("{}{rest}", self.route.prefix);
        let taken_by = self
            .table
            .iter()
            .find(|r| starts_with_segments_ignoring_case(&bff, &r.prefix))?;
        (taken_by.prefix == self.route.prefix).then_some(bff)
    }
}

/// Whether `path` starts with the whole segments of `prefix`, letter case aside (as the
/// dispatcher refuses a case variant of a more specific route, such a path is never relayed
/// by the less specific one either).
fn starts_with_segments_ignoring_case(path: &str, prefix: &str) -> bool {
    path.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/'))
}

/// The path of the document's first server: its variables replaced by their defaults, resolved
/// against where the document came from (a relative server URL is relative to the document).
fn server_path(doc: &Value, source: &SpecSource) -> String {
    let server = &doc["servers"][0];
    let mut url = server["url"].as_str().unwrap_or("/").to_string();
    if let Some(variables) = server["variables"].as_object() {
        for (name, variable) in variables {
            if let Some(default) = variable["default"].as_str() {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    // A file has no URL of its own: relative server URLs resolve against a placeholder.
    let base = match source {
        SpecSource::Url(url) => Some(url.clone()),
        SpecSource::File(_) => url::Url::parse("http://document.invalid/").ok(),
    };
    base.and_then(|base| base.join(&url).ok())
        .map(|resolved| resolved.path().trim_end_matches('/').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(routes: &str) -> RouteTable {
        #[derive(serde::Deserialize)]
        struct Routes {
            routes: Vec<crate::routes::RawRoute>,
        }
        use figment::providers::{Format, Toml};
        let raw: Routes = figment::Figment::from(Toml::string(routes))
            .extract()
            .unwrap();
        RouteTable::from_raw(raw.routes).unwrap()
    }

    fn route<'a>(table: &'a RouteTable, prefix: &str) -> &'a Route {
        table.iter().find(|r| r.prefix == prefix).unwrap()
    }

    const ROUTES: &str = r#"
        [[routes]]
        prefix = "/api/chat"
        upstream = "http://demo:9100/chat"
        [[routes]]
        prefix = "/api/chat/admin"
        upstream = "http://admin:9100/"
        [[routes]]
        prefix = "/api/analytics"
        upstream = "http://demo:9100/analytics/"
    "#;

    #[test]
    fn paths_under_the_upstream_base_are_re_rooted_under_the_prefix() {
        let table = table(ROUTES);
        let source = SpecSource::parse("http://demo:9100/openapi.json").unwrap();
        let doc = json!({});
        let chat = Mount::new(route(&table, "/api/chat"), &table, &doc, &source);
        assert_eq!(
            chat.bff_path("/chat/stream").as_deref(),
            Some("/api/chat/stream")
        );
        assert_eq!(
            chat.bff_path("/chat/status/{code}").as_deref(),
            Some("/api/chat/status/{code}")
        );
        assert_eq!(chat.bff_path("/chat").as_deref(), Some("/api/chat"));
        let analytics = Mount::new(route(&table, "/api/analytics"), &table, &doc, &source);
        assert_eq!(
            analytics.bff_path("/analytics/report").as_deref(),
            Some("/api/analytics/report")
        );
    }

    #[test]
    fn paths_outside_the_base_or_taken_by_a_more_specific_route_are_left_out() {
        let table = table(ROUTES);
        let source = SpecSource::parse("http://demo:9100/openapi.json").unwrap();
        let doc = json!({});
        let chat = Mount::new(route(&table, "/api/chat"), &table, &doc, &source);
        assert_eq!(chat.bff_path("/analytics/report"), None);
        assert_eq!(chat.bff_path("/chatroom"), None);
        assert_eq!(chat.bff_path("/chat/admin/users"), None);
        assert_eq!(chat.bff_path("/chat/ADMIN/users"), None);
        assert_eq!(chat.bff_path("chat/x"), None);
        let admin = Mount::new(route(&table, "/api/chat/admin"), &table, &doc, &source);
        assert_eq!(
            admin.bff_path("/users").as_deref(),
            Some("/api/chat/admin/users")
        );
    }

    #[test]
    fn the_documents_server_path_comes_first() {
        let table = table(ROUTES);
        let chat = route(&table, "/api/chat");
        let source = SpecSource::parse("http://demo:9100/docs/openapi.json").unwrap();
        for server in [
            json!({"url": "http://demo:9100/chat"}),
            json!({"url": "/chat/"}),
            json!({"url": "https://{host}/{base}", "variables": {
                "host": {"default": "api.example.com"}, "base": {"default": "chat"}}}),
            json!({"url": "../chat"}),
        ] {
            let doc = json!({"servers": [server]});
            let mount = Mount::new(chat, &table, &doc, &source);
            assert_eq!(
                mount.bff_path("/stream").as_deref(),
                Some("/api/chat/stream"),
                "{server}"
            );
        }
        let file = SpecSource::File("chat.json".into());
        let doc = json!({"servers": [{"url": "/chat"}]});
        let mount = Mount::new(chat, &table, &doc, &file);
        assert_eq!(mount.bff_path("/x").as_deref(), Some("/api/chat/x"));
    }
}
