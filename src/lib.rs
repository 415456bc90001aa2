//! oidc-bff: a stateless Backend-for-Frontend for single-page apps.
//!
//! The browser never holds a token: this service runs the OpenID Connect Authorization Code
//! flow with PKCE, seals the tokens into an AEAD-encrypted httpOnly cookie, refreshes them
//! transparently and relays API calls with the access token. No server-side store: any replica
//! serves any request.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod config;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod headers;
pub mod metrics;
pub mod observe;
pub mod oidc;
pub mod relay;
pub mod reload;
pub mod return_to;
pub mod roles;
pub mod routes;
pub mod seal;
pub mod server;
pub mod session;
pub mod spa;
pub mod spec;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod upstream;

pub use app::App;
pub use config::Config;
