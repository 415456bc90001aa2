//! Configuration: figment layers in, a typed and validated [`Config`] out.
//!
//! Layers, each overriding the one before: built-in defaults, `profiles/default.toml`,
//! `profiles/<BFF_PROFILE>.toml`, the file named by `BFF_CONFIG_FILE`, then `BFF_<SECTION>__<KEY>`
//! environment variables. Everything is validated here, once, so that a bad value stops startup
//! with one line naming its key instead of surfacing as a confusing failure on some request.
//!
//! The parts (files of this folder), in the order a value travels through them:
//! - `defaults`: the built-in defaults, the first layer and the only place defaults live;
//! - `raw`: the shapes figment deserializes, one struct per section;
//! - `load` and `env`: the layers (profile files, `BFF_CONFIG_FILE`, the environment) and
//!   the warnings about `BFF_*` variables that set nothing (`known_keys`);
//! - `validate`: raw in, typed out, one file per section;
//! - `validated` and `private_key`: the types the rest of the service reads.

mod defaults;
mod env;
mod error;
mod known_keys;
mod load;
mod private_key;
mod raw;
mod validate;
mod validated;

#[cfg(test)]
mod fixtures;

pub use defaults::DEFAULT_CSP;
pub use error::ConfigError;
pub use load::Loaded;
pub use private_key::PrivateKey;
pub use validate::{decode_key, is_loopback, parse_keys_text};
pub use validated::{
    AdminConfig, AuthMethod, Config, CorsConfig, DpopAlg, EndpointOverrides, LogConfig, LogSubject,
    OidcConfig, OidcProfile, OnUnavailable, ParMode, RolesConfig, SameSite, ServerConfig,
    SessionConfig, StoreConfig,
};
