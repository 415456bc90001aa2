//! The keys an environment variable may set, for the warning about a `BFF_*` variable that
//! matches none (a typo such as `BFF_OIDC__CLIENT_SECRT` must not pass silently).
//!
//! Derived from the raw shapes rather than listed, so the list cannot drift from what the
//! files accept: the built-in defaults ([`raw_shape`]) are serialised with every field present
//! (`null` where a key has no default), and walked. A section or nested struct is an object
//! whose members are keys; a table such as `oidc.extra_auth_params` has an empty default and
//! takes any sub-key; everything else is a key that takes a value. `routes` is not serialised,
//! so no variable sets it.

use super::defaults::raw_shape;
use super::ConfigError;
use serde_json::Value;
use std::collections::BTreeSet;

/// The dotted keys of the raw configuration.
#[derive(Debug)]
pub(super) struct KnownKeys {
    /// Keys that take a value (`oidc.client_secret`).
    values: BTreeSet<String>,
    /// Tables that take any sub-key (`oidc.extra_auth_params`).
    tables: BTreeSet<String>,
}

impl KnownKeys {
    /// The keys of [`super::raw::RawConfig`], read off its serialised defaults.
    pub(super) fn of_raw_config() -> Result<Self, ConfigError> {
        let mut keys = KnownKeys {
            values: BTreeSet::new(),
            tables: BTreeSet::new(),
        };
        match raw_shape()? {
            Value::Object(sections) => sections
                .iter()
                .for_each(|(name, value)| keys.walk(name, value)),
            _ => return Err(ConfigError::new("(built-in defaults)", "not a table")),
        }
        Ok(keys)
    }

    fn walk(&mut self, key: &str, value: &Value) {
        match value {
            Value::Object(members) if members.is_empty() => {
                self.tables.insert(key.to_string());
            }
            Value::Object(members) => members
                .iter()
                .for_each(|(name, value)| self.walk(&format!("{key}.{name}"), value)),
            _ => {
                self.values.insert(key.to_string());
            }
        }
    }

    /// Whether a variable may set `dotted`: a key that takes a value, or a sub-key of a table.
    pub(super) fn contains(&self, dotted: &str) -> bool {
        self.values.contains(dotted)
            || self.tables.iter().any(|table| {
                dotted
                    .strip_prefix(table.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|sub_key| !sub_key.is_empty())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::{
        RawAdmin, RawConfig, RawCors, RawLog, RawOidc, RawRoles, RawServer, RawSession, RawStore,
    };
    use crate::config::EndpointOverrides;
    use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
    use std::fmt;

    /// The field names `T`'s derived `Deserialize` accepts, as serde declares them: what a
    /// TOML file may set, found independently of the serialisation the keys are derived from.
    fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
        #[derive(Debug)]
        struct Declared(&'static [&'static str]);
        impl fmt::Display for Declared {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
        impl std::error::Error for Declared {}
        impl de::Error for Declared {
            fn custom<M: fmt::Display>(_: M) -> Self {
                Declared(&[])
            }
        }
        struct Fields;
        impl<'de> Deserializer<'de> for Fields {
            type Error = Declared;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declared> {
                Err(Declared(&[]))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Declared> {
                Err(Declared(fields))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        match T::deserialize(Fields) {
            Err(Declared(fields)) => fields,
            Ok(_) => &[],
        }
    }

    #[test]
    fn every_raw_field_is_a_known_key() {
        let known = KnownKeys::of_raw_config().unwrap();
        let sections: [(&str, &[&str]); 9] = [
            ("server", fields_of::<RawServer>()),
            ("oidc", fields_of::<RawOidc>()),
            ("oidc.endpoints", fields_of::<EndpointOverrides>()),
            ("session", fields_of::<RawSession>()),
            ("cors", fields_of::<RawCors>()),
            ("roles", fields_of::<RawRoles>()),
            ("log", fields_of::<RawLog>()),
            ("store", fields_of::<RawStore>()),
            ("admin", fields_of::<RawAdmin>()),
        ];
        for section in fields_of::<RawConfig>() {
            assert!(
                *section == "routes" || sections.iter().any(|(name, _)| name == section),
                "the section {section} is not checked here"
            );
        }
        for (section, fields) in sections {
            assert!(!fields.is_empty(), "{section} declares its fields");
            for field in fields {
                let key = format!("{section}.{field}");
                let nested = sections.iter().any(|(name, _)| *name == key);
                assert!(
                    nested || known.contains(&key) || known.contains(&format!("{key}.any")),
                    "{key} is a raw field but no known key"
                );
            }
        }
    }

    #[test]
    fn tables_take_any_sub_key_and_sections_are_no_keys() {
        let known = KnownKeys::of_raw_config().unwrap();
        assert!(known.contains("oidc.extra_auth_params.prompt"));
        assert!(known.contains("oidc.extra_auth_params.acr_values"));
        assert!(known.contains("oidc.endpoints.token"));
        for unknown in [
            "oidc.extra_auth_params",
            "oidc.extra_auth_params.",
            "oidc.endpoints",
            "oidc.endpoints.typo",
            "oidc.client_secrt",
            "server",
            "server.bind.x",
            "routes",
            "routes.prefix",
        ] {
            assert!(!known.contains(unknown), "{unknown}");
        }
    }
}
