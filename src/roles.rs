//! Roles, read from configured claim paths (`roles`, `realm_access.roles`,
//! `resource_access.<client>.roles`), each holding a string or an array of strings.

use serde_json::{Map, Value};

/// The roles found at any of `paths` in any of `sources`, deduplicated and sorted.
pub fn extract(paths: &[String], sources: &[&Map<String, Value>]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for source in sources {
        for path in paths {
            let mut segments = path.split('.');
            let Some(first) = segments.next() else {
                continue;
            };
            let mut value = source.get(first);
            for segment in segments {
                value = value.and_then(|v| v.get(segment));
            }
            match value {
                Some(Value::String(role)) => roles.push(role.clone()),
                Some(Value::Array(items)) => {
                    roles.extend(items.iter().filter_map(Value::as_str).map(String::from))
                }
                _ => {}
            }
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn nested_paths_and_string_or_array_values() {
        let id = map(json!({"roles": "analyst", "realm_access": {"roles": ["admin", "analyst"]}}));
        let at =
            map(json!({"resource_access": {"bff": {"roles": ["chat"]}}, "groups": [1, "staff"]}));
        let paths: Vec<String> = [
            "roles",
            "groups",
            "realm_access.roles",
            "resource_access.bff.roles",
            "missing.path",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            extract(&paths, &[&id, &at]),
            ["admin", "analyst", "chat", "staff"]
        );
    }

    #[test]
    fn no_claims_no_roles() {
        assert!(extract(&["roles".into()], &[&Map::new()]).is_empty());
    }
}
