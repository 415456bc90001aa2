//! The document the service answers at `/openapi.json`, `/openapi.yaml` and `/docs`, and how
//! the upstreams' documents get into it.
//!
//! The service starts with its own document and merges the upstreams' in the background: a
//! document is a convenience for developers and their generators, so reading one must never
//! delay or stop the service, whatever the upstream does. Upstreams often start together with
//! the BFF (one deployment), so a document that cannot be read is tried again a few times,
//! with pauses ([`RETRY_AFTER`]), before it is left out until the next start. Each time the set
//! of merged documents grows, the whole document is merged again and replaces the served one
//! at once: a reader sees the old one or the new one, never a mix.

use super::fetch::{ReadError, SpecReader};
use super::merge::{merge, LeftOut};
use crate::routes::{Route, RouteTable};
use arc_swap::ArcSwap;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The pauses before reading a failed document again: about ten minutes in all.
pub const RETRY_AFTER: [Duration; 4] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(480),
];

/// One document in the three forms the service answers, rendered once per change.
#[derive(Debug)]
pub struct Rendered {
    /// `/openapi.json` (and `oidc-bff openapi`).
    pub json: String,
    /// `/openapi.yaml` (and `oidc-bff openapi --yaml`).
    pub yaml: String,
    /// `/docs/`: Swagger UI showing this very document.
    pub docs: String,
}

impl Rendered {
    /// Renders `doc`.
    pub fn of(doc: &Value) -> Self {
        let json = render_json(doc);
        Rendered {
            yaml: render_yaml(doc),
            docs: swagger_page(&json),
            json,
        }
    }
}

/// The document as JSON, exactly as served and printed.
pub fn render_json(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_default()
}

/// The document as YAML, exactly as served and printed.
pub fn render_yaml(doc: &Value) -> String {
    serde_yaml::to_string(doc).unwrap_or_default()
}

/// poem-openapi's Swagger UI page, with `json` in place of the document it embeds. Every `<`
/// is escaped (`\u003c`, still the same JSON): text from an upstream's document must not be
/// able to close the page's `<script>`.
fn swagger_page(json: &str) -> String {
    let service = poem_openapi::OpenApiService::new((), "oidc-bff", "0");
    let page = service.swagger_ui_html();
    let embedded = format!("let spec = {};", service.spec());
    let ours = format!("let spec = {};", json.replace('<', "\\u003c"));
    page.replacen(&embedded, &ours, 1)
}

/// The document being served; replaced whole when upstream documents are merged in.
#[derive(Debug)]
pub struct ServedSpec {
    current: ArcSwap<Rendered>,
}

impl ServedSpec {
    /// Serves `doc` (the BFF's own document, until upstreams are merged).
    pub fn new(doc: &Value) -> Self {
        ServedSpec {
            current: ArcSwap::from_pointee(Rendered::of(doc)),
        }
    }

    /// Serves `doc` from now on.
    pub fn publish(&self, doc: &Value) {
        self.current.store(Arc::new(Rendered::of(doc)));
    }

    /// The document served now.
    pub fn current(&self) -> Arc<Rendered> {
        self.current.load_full()
    }
}

/// The routes that declare a document, in table order.
fn declaring(table: &RouteTable) -> Vec<&Route> {
    table.iter().filter(|r| r.openapi.is_some()).collect()
}

/// Reads the documents of `routes`, all at once.
async fn read_all<'r>(
    reader: &SpecReader,
    routes: &[&'r Route],
) -> Vec<(&'r Route, Result<Value, ReadError>)> {
    let reads = routes.iter().map(|route| async move {
        let result = match &route.openapi {
            Some(source) => reader.read(source).await,
            None => Err(ReadError::File("no document configured".into())),
        };
        (*route, result)
    });
    futures_util::future::join_all(reads).await
}

/// `own` with every route's document read once and merged (`oidc-bff openapi --merged`);
/// the documents left out, and why.
pub async fn merge_once(own: &Value, table: &RouteTable) -> (Value, Vec<LeftOut>) {
    let routes = declaring(table);
    let mut left_out = Vec::new();
    let reader = match SpecReader::new() {
        Ok(reader) => reader,
        Err(error) => {
            let left_out = routes.iter().map(|r| left_out_of(r, &error)).collect();
            return (own.clone(), left_out);
        }
    };
    let mut read = BTreeMap::new();
    for (route, result) in read_all(&reader, &routes).await {
        match result {
            Ok(doc) => {
                read.insert(route.prefix.clone(), doc);
            }
            Err(error) => left_out.push(left_out_of(route, &error)),
        }
    }
    let (doc, unmerged) = merge(own, table, &in_table_order(&routes, &read));
    left_out.extend(unmerged);
    (doc, left_out)
}

fn left_out_of(route: &Route, error: &ReadError) -> LeftOut {
    LeftOut {
        prefix: route.prefix.clone(),
        source: route
            .openapi
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        reason: error.to_string(),
    }
}

fn in_table_order<'a>(
    routes: &[&'a Route],
    read: &'a BTreeMap<String, Value>,
) -> Vec<(&'a Route, &'a Value)> {
    routes
        .iter()
        .filter_map(|route| Some((*route, read.get(&route.prefix)?)))
        .collect()
}

/// Starts merging the routes' documents into `served` in the background (nothing to do when
/// no route declares one).
pub fn spawn_loader(own: Value, table: RouteTable, served: Arc<ServedSpec>) {
    if declaring(&table).is_empty() {
        return;
    }
    tokio::spawn(async move { load(&own, &table, &served, &RETRY_AFTER).await });
}

/// Reads every route's document, merges what could be read and serves it; reads the failed
/// ones again after each pause of `retry_after`, merging again whenever one more arrives.
/// Every failure is a warning (route, source, reason); none stops anything.
pub async fn load(own: &Value, table: &RouteTable, served: &ServedSpec, retry_after: &[Duration]) {
    let reader = match SpecReader::new() {
        Ok(reader) => reader,
        Err(error) => {
            tracing::warn!(%error, "cannot read upstream OpenAPI documents");
            return;
        }
    };
    let routes = declaring(table);
    let mut pending = routes.clone();
    let mut read = BTreeMap::new();
    // Documents read but not mergeable: said once, not at every round.
    let mut warned = std::collections::BTreeSet::new();
    for attempt in 0..=retry_after.len() {
        if attempt > 0 {
            tokio::time::sleep(retry_after[attempt - 1]).await;
        }
        let next = retry_after.get(attempt);
        let mut failed = Vec::new();
        for (route, result) in read_all(&reader, &pending).await {
            match result {
                Ok(doc) => {
                    read.insert(route.prefix.clone(), doc);
                }
                Err(error) => {
                    let left_out = left_out_of(route, &error);
                    match next {
                        Some(pause) => tracing::warn!(retry_in = ?pause, "{left_out} (for now)"),
                        None => tracing::warn!("{left_out} (until the next start)"),
                    }
                    failed.push(route);
                }
            }
        }
        if failed.len() < pending.len() {
            let (doc, unmerged) = merge(own, table, &in_table_order(&routes, &read));
            for left_out in &unmerged {
                if warned.insert(left_out.prefix.clone()) {
                    tracing::warn!("{left_out}");
                }
            }
            served.publish(&doc);
            tracing::info!(
                merged = read.len() - unmerged.len(),
                left_out = routes.len() - read.len() + unmerged.len(),
                "upstream OpenAPI documents merged into /openapi.json"
            );
        }
        if failed.is_empty() {
            return;
        }
        pending = failed;
    }
}
