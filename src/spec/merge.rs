//! Putting upstream documents into the BFF's: for each route, the paths it relays (re-rooted,
//! [`super::mount`]), renamed ([`super::rename`]) and secured as the BFF enforces them
//! ([`super::secure`]), with the components they reach. The BFF's own paths, components and
//! names are never changed: an upstream's names give way to them. An upstream document that
//! cannot be merged is left out whole, with the reason.

use super::mount::Mount;
use super::rename::{self, ComponentId, Renames};
use super::secure::{self, METHODS};
use crate::routes::{Route, RouteTable};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// An upstream document that was not merged, and why (no secret, nothing of its body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The route's prefix.
    pub prefix: String,
    /// Where the document comes from (a URL without its query, or a file).
    pub source: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for LeftOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the OpenAPI document of route {} ({}) is left out: it {}",
            self.prefix, self.source, self.reason
        )
    }
}

/// Names already used in the merged document, so that every new one is unique.
struct Taken {
    operations: BTreeSet<String>,
    components: BTreeMap<String, BTreeSet<String>>,
}

impl Taken {
    fn of(doc: &Value) -> Self {
        let operations = path_items(&doc["paths"])
            .flat_map(operations)
            .filter_map(|op| op["operationId"].as_str().map(String::from))
            .collect();
        let components = doc["components"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(kind, names)| {
                let names = names.as_object().into_iter().flatten();
                (kind.clone(), names.map(|(name, _)| name.clone()).collect())
            })
            .collect();
        Taken {
            operations,
            components,
        }
    }
}

/// One upstream's share of the merged document.
struct Contribution {
    paths: Map<String, Value>,
    components: BTreeMap<String, Map<String, Value>>,
    tags: Vec<Value>,
}

/// The BFF's document `own` with `upstreams` (each a route and its document, read from the
/// route's `openapi`) merged in, in the order given; and the documents left out.
pub fn merge(
    own: &Value,
    table: &RouteTable,
    upstreams: &[(&Route, &Value)],
) -> (Value, Vec<LeftOut>) {
    let words = route_words(table);
    let mut doc = own.clone();
    let mut taken = Taken::of(own);
    let mut left_out = Vec::new();
    for (route, upstream) in upstreams {
        let word = words.get(&route.prefix).cloned().unwrap_or_default();
        let mut trial = Taken {
            operations: taken.operations.clone(),
            components: taken.components.clone(),
        };
        match contribution(route, upstream, table, &word, &mut trial) {
            Ok(part) => {
                insert(&mut doc, part);
                taken = trial;
                if super::fetch::is_3_1(upstream) {
                    doc["openapi"] = "3.1.0".into();
                }
            }
            Err(reason) => left_out.push(LeftOut {
                prefix: route.prefix.clone(),
                source: route
                    .openapi
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                reason,
            }),
        }
    }
    (doc, left_out)
}

/// The word of every route that declares a document, unique among them (routes in table
/// order): the names of one route do not depend on whether another's document could be read.
fn route_words(table: &RouteTable) -> BTreeMap<String, String> {
    let mut taken = BTreeSet::new();
    table
        .iter()
        .filter(|route| route.openapi.is_some())
        .map(|route| {
            let word = rename::unique(rename::route_word(&route.prefix), &mut taken);
            (route.prefix.clone(), word)
        })
        .collect()
}

fn contribution(
    route: &Route,
    upstream: &Value,
    table: &RouteTable,
    word: &str,
    taken: &mut Taken,
) -> Result<Contribution, String> {
    let source = route
        .openapi
        .as_ref()
        .ok_or_else(|| "is not configured".to_string())?;
    let mount = Mount::new(route, table, upstream, source);
    let mut paths: Map<String, Value> = upstream["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(path, item)| Some((mount.bff_path(path)?, item.clone())))
        .collect();
    if paths.is_empty() {
        return Err(format!(
            "documents no path under the route's upstream path `{}`",
            route.upstream.path()
        ));
    }
    for item in paths.values_mut() {
        inline_path_item_ref(item, &upstream["components"]);
        if let Value::Object(item) = item {
            item.retain(|key, _| key != "trace");
        }
    }
    let kept = rename::reachable(paths.values(), &upstream["components"])?;
    let upper = rename::upper_first(word);
    let mut renames = Renames::default();
    for (kind, name) in &kept {
        let names = taken.components.entry(kind.clone()).or_default();
        let new = rename::unique(format!("{upper}{}", rename::upper_first(name)), names);
        renames.components.insert((kind.clone(), name.clone()), new);
    }
    let components = renamed_components(&kept, &upstream["components"], &renames);
    let components_value = json!(components);
    let mut operation_ids = BTreeMap::new();
    for item in paths.values_mut() {
        renames.rewrite(item);
        rename_operations(item, word, &mut taken.operations, &mut operation_ids);
        secure::secure_path_item(item, route.token, &components_value);
    }
    let mut components = components;
    for value in paths
        .values_mut()
        .chain(components.values_mut().flat_map(|m| m.values_mut()))
    {
        rename_link_targets(value, &operation_ids);
    }
    let tags = tag_operations(&mut paths, upstream, &upper, &route.prefix);
    Ok(Contribution {
        paths,
        components,
        tags,
    })
}

/// A path item that refers to `components/pathItems` (OpenAPI 3.1) is replaced by what it
/// refers to, its own fields kept: its operations must be secured like any other.
fn inline_path_item_ref(item: &mut Value, components: &Value) {
    let Some(name) = item["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/pathItems/"))
    else {
        return;
    };
    let Some(Value::Object(target)) = components["pathItems"].get(name).cloned() else {
        return;
    };
    if let Value::Object(fields) = item {
        fields.retain(|key, _| key != "$ref");
        for (key, value) in target {
            fields.entry(key).or_insert(value);
        }
    }
}

/// The kept components under their new names, their references rewritten.
fn renamed_components(
    kept: &BTreeSet<ComponentId>,
    components: &Value,
    renames: &Renames,
) -> BTreeMap<String, Map<String, Value>> {
    let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for id in kept {
        let (Some(new), Some(value)) = (renames.components.get(id), components[&id.0].get(&id.1))
        else {
            continue;
        };
        let mut value = value.clone();
        renames.rewrite(&mut value);
        out.entry(id.0.clone())
            .or_default()
            .insert(new.clone(), value);
    }
    out
}

/// Prefixes each operation id of `item` with the route's word, unique in the document.
fn rename_operations(
    item: &mut Value,
    word: &str,
    taken: &mut BTreeSet<String>,
    renamed: &mut BTreeMap<String, String>,
) {
    for method in METHODS {
        let Some(id) = item[method]["operationId"].as_str().map(String::from) else {
            continue;
        };
        let new = rename::unique(format!("{word}{}", rename::upper_first(&id)), taken);
        item[method]["operationId"] = new.clone().into();
        renamed.insert(id, new);
    }
}

/// Links name their target operation by id: they follow the renamed operations.
fn rename_link_targets(value: &mut Value, renamed: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "links" {
                    for link in inner
                        .as_object_mut()
                        .into_iter()
                        .flat_map(|m| m.values_mut())
                    {
                        let target = link["operationId"].as_str().and_then(|id| renamed.get(id));
                        if let Some(new) = target {
                            link["operationId"] = new.clone().into();
                        }
                    }
                }
                rename_link_targets(inner, renamed);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rename_link_targets(item, renamed)),
        _ => {}
    }
}

/// Operations without a tag get the route's (`Chat`); the upstream's definitions of the tags
/// its kept operations use come along, and so does the route's.
fn tag_operations(
    paths: &mut Map<String, Value>,
    upstream: &Value,
    route_tag: &str,
    prefix: &str,
) -> Vec<Value> {
    let mut used = Vec::new();
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let tags = operation
                .entry("tags")
                .or_insert_with(|| json!([route_tag]));
            for tag in tags
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !used.iter().any(|t| t == tag) {
                    used.push(tag.to_string());
                }
            }
        }
    }
    used.iter()
        .map(|name| {
            let defined = upstream["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["name"] == name.as_str());
            match defined {
                Some(tag) => tag.clone(),
                None if name == route_tag => json!({
                    "name": route_tag,
                    "description": format!("Relayed by the BFF under `{prefix}`.")
                }),
                None => json!({ "name": name }),
            }
        })
        .collect()
}

fn insert(doc: &mut Value, part: Contribution) {
    for (path, item) in part.paths {
        doc["paths"][path] = item;
    }
    for (kind, components) in part.components {
        for (name, component) in components {
            doc["components"][&kind][name] = component;
        }
    }
    if !doc["tags"].is_array() {
        doc["tags"] = json!([]);
    }
    if let Value::Array(tags) = &mut doc["tags"] {
        for tag in part.tags {
            if !tags.iter().any(|t| t["name"] == tag["name"]) {
                tags.push(tag);
            }
        }
    }
}

fn path_items(paths: &Value) -> impl Iterator<Item = &Value> {
    paths.as_object().into_iter().flat_map(|p| p.values())
}

fn operations(item: &Value) -> impl Iterator<Item = &Value> {
    METHODS.iter().filter_map(|method| item.get(*method))
}
