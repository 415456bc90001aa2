//! Names that stay unique once several documents share one: every upstream's operation ids and
//! component names get a word naming its route (`/api/chat` → `chat`: `getStatus` becomes
//! `chatGetStatus`, the schema `Reply` becomes `ChatReply`), and every `$ref` and
//! discriminator mapping follows the new names. Only the components the relayed paths reach
//! are kept, so a document shared by two routes brings each only what its paths use.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The component sections an upstream brings along (its `securitySchemes` are replaced by the
/// BFF's, see `super::secure`).
pub const KINDS: [&str; 9] = [
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "links",
    "callbacks",
    "pathItems",
];

/// A component: its section (`schemas`) and name.
pub type ComponentId = (String, String);

/// The word naming a route's names: the prefix's segments in camel case, a leading `api`
/// dropped when more segments follow (`/api/chat` → `chat`, `/api/chat-v2` → `chatV2`,
/// `/orders/eu` → `ordersEu`). Characters other than ASCII letters and digits separate words.
pub fn route_word(prefix: &str) -> String {
    let mut segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() > 1 && segments[0].eq_ignore_ascii_case("api") {
        segments.remove(0);
    }
    let mut word = String::new();
    for part in segments
        .iter()
        .flat_map(|s| s.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|p| !p.is_empty())
    {
        if word.is_empty() {
            word.push_str(&lower_first(part));
        } else {
            word.push_str(&upper_first(part));
        }
    }
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        word.insert_str(0, "api");
    }
    word
}

/// `text` with its first letter in upper case.
pub fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `candidate`, or `candidate2`, `candidate3`, ... when taken; the result is taken from then on.
pub fn unique(candidate: String, taken: &mut BTreeSet<String>) -> String {
    let mut name = candidate.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{candidate}{n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

/// A local reference `#/components/<kind>/<name>[/deeper]`: its component and the rest.
fn parse_ref(text: &str) -> Result<(ComponentId, &str), String> {
    let Some(pointer) = text.strip_prefix('#') else {
        return Err("has a `$ref` to another document (bundle it into one document first)".into());
    };
    let mut parts = pointer.splitn(4, '/');
    let (Some(""), Some("components"), Some(kind), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("has a `$ref` outside `#/components/`".into());
    };
    if !KINDS.contains(&kind) {
        return Err(format!("has a `$ref` into `components/{}`", shown(kind)));
    }
    let (name, deeper) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let name = name.replace("~1", "/").replace("~0", "~");
    Ok(((kind.to_string(), name), deeper))
}

/// A name from the document, made safe to log: short, no control characters.
pub fn shown(name: &str) -> String {
    let short: String = name.chars().take(64).collect();
    format!("{short:?}")
}

/// Every component `roots` reach through `$ref`s and discriminator mappings, transitively.
/// A reference this merge cannot follow (another document, outside `#/components/`, a
/// component the document does not define) is an error: the document is left out rather than
/// merged with a dangling reference.
pub fn reachable<'v>(
    roots: impl IntoIterator<Item = &'v Value>,
    components: &Value,
) -> Result<BTreeSet<ComponentId>, String> {
    let mut queue = Vec::new();
    for root in roots {
        collect(root, components, &mut queue)?;
    }
    let mut found = BTreeSet::new();
    while let Some(id) = queue.pop() {
        if found.contains(&id) {
            continue;
        }
        let Some(component) = components.get(&id.0).and_then(|kind| kind.get(&id.1)) else {
            return Err(format!(
                "refers to `components/{}/{}`, which it does not define",
                id.0,
                shown(&id.1)
            ));
        };
        collect(component, components, &mut queue)?;
        found.insert(id);
    }
    Ok(found)
}

fn collect(value: &Value, components: &Value, out: &mut Vec<ComponentId>) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(text)) => out.push(parse_ref(text)?.0),
                    ("discriminator", _) => {
                        for target in mapping_targets(inner) {
                            if target.starts_with('#') {
                                out.push(parse_ref(target)?.0);
                            } else if components["schemas"].get(target).is_some() {
                                out.push(("schemas".into(), target.to_string()));
                            }
                        }
                    }
                    _ => collect(inner, components, out)?,
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, components, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn mapping_targets(discriminator: &Value) -> impl Iterator<Item = &str> {
    discriminator["mapping"]
        .as_object()
        .into_iter()
        .flat_map(|mapping| mapping.values().filter_map(Value::as_str))
}

/// The new name of every kept component.
#[derive(Debug, Default)]
pub struct Renames {
    /// `(kind, old name)` → new name.
    pub components: BTreeMap<ComponentId, String>,
}

impl Renames {
    /// Rewrites every `$ref` and discriminator mapping in `value` to the new names (references
    /// were checked by [`reachable`]; one that does not parse is left as it is).
    pub fn rewrite(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    match (key.as_str(), &mut *inner) {
                        ("$ref", Value::String(text)) => {
                            if let Some(new) = self.new_ref(text) {
                                *text = new;
                            }
                        }
                        ("discriminator", Value::Object(discriminator)) => {
                            if let Some(Value::Object(mapping)) = discriminator.get_mut("mapping") {
                                mapping.values_mut().for_each(|target| self.remap(target));
                            }
                        }
                        _ => self.rewrite(inner),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.rewrite(item)),
            _ => {}
        }
    }

    fn new_ref(&self, text: &str) -> Option<String> {
        let (id, deeper) = parse_ref(text).ok()?;
        let new = self.components.get(&id)?;
        Some(format!("#/components/{}/{new}{deeper}", id.0))
    }

    fn remap(&self, target: &mut Value) {
        let Value::String(text) = target else { return };
        let new = if text.starts_with('#') {
            self.new_ref(text)
        } else {
            self.components
                .get(&("schemas".to_string(), text.clone()))
                .cloned()
        };
        if let Some(new) = new {
            *text = new;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn route_words_are_camel_case_without_a_leading_api() {
        for (prefix, word) in [
            ("/api/chat", "chat"),
            ("/api/chat-v2", "chatV2"),
            ("/orders/eu", "ordersEu"),
            ("/api/Billing/invoices", "billingInvoices"),
            ("/api", "api"),
            ("/v1", "v1"),
            ("/api/2024", "api2024"),
            ("/api/~", "api"),
        ] {
            assert_eq!(route_word(prefix), word, "{prefix}");
        }
    }

    #[test]
    fn a_taken_name_gets_a_number() {
        let mut taken = BTreeSet::from(["chatGet".to_string()]);
        assert_eq!(unique("chatGet".into(), &mut taken), "chatGet2");
        assert_eq!(unique("chatGet".into(), &mut taken), "chatGet3");
        assert_eq!(unique("chatPut".into(), &mut taken), "chatPut");
    }

    #[test]
    fn only_reachable_components_are_found_through_refs_and_mappings() {
        let components = json!({
            "schemas": {
                "Reply": {"properties": {"pet": {"$ref": "#/components/schemas/Pet"}}},
                "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}],
                        "discriminator": {"propertyName": "kind", "mapping": {"dog": "Dog"}}},
                "Cat": {"type": "object"},
                "Dog": {"type": "object"},
                "Unused": {"type": "string"}
            },
            "responses": {"NotFound": {"description": "x"}}
        });
        let paths = json!({"/x": {"get": {"responses": {
            "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Reply"}}}},
            "404": {"$ref": "#/components/responses/NotFound"}
        }}}});
        let found = reachable([&paths], &components).unwrap();
        let names: Vec<_> = found.iter().map(|(k, n)| format!("{k}/{n}")).collect();
        assert_eq!(
            names,
            [
                "responses/NotFound",
                "schemas/Cat",
                "schemas/Dog",
                "schemas/Pet",
                "schemas/Reply"
            ]
        );
    }

    #[test]
    fn refs_that_cannot_be_followed_are_errors() {
        let components = json!({"schemas": {}});
        for (reference, want) in [
            ("other.json#/components/schemas/X", "another document"),
            ("#/paths/~1x/get", "outside `#/components/`"),
            (
                "#/components/securitySchemes/bearer",
                "components/\"securitySchemes\"",
            ),
            ("#/components/schemas/Missing", "does not define"),
        ] {
            let paths = json!({"/x": {"get": {"schema": {"$ref": reference}}}});
            let error = reachable([&paths], &components).unwrap_err();
            assert!(error.contains(want), "{reference}: {error}");
        }
    }

    #[test]
    fn refs_and_mappings_follow_the_new_names() {
        let mut renames = Renames::default();
        for name in ["Pet", "Dog"] {
            renames
                .components
                .insert(("schemas".into(), name.into()), format!("Chat{name}"));
        }
        let mut value = json!({
            "a": {"$ref": "#/components/schemas/Pet"},
            "b": [{"$ref": "#/components/schemas/Pet/properties/name"}],
            "c": {"discriminator": {"mapping": {"dog": "Dog", "pet": "#/components/schemas/Pet"}}},
            "d": {"$ref": "#/components/schemas/Problem"}
        });
        renames.rewrite(&mut value);
        assert_eq!(
            value,
            json!({
                "a": {"$ref": "#/components/schemas/ChatPet"},
                "b": [{"$ref": "#/components/schemas/ChatPet/properties/name"}],
                "c": {"discriminator": {"mapping": {"dog": "ChatDog", "pet": "#/components/schemas/ChatPet"}}},
                "d": {"$ref": "#/components/schemas/Problem"}
            })
        );
    }
}
