//! One spec for the whole API surface: the BFF's own OpenAPI document with the documents of
//! the upstreams it relays to merged in (`openapi = "<url or file>"` in `[[routes]]`), so that
//! a client generated from `/openapi.json` types the relayed APIs too.
//!
//! The steps, one file each: [`fetch`] reads a document (bounded in size and time) and checks
//! that it is OpenAPI 3.0 or 3.1; [`mount`] finds the paths a route relays and what the browser
//! calls them; [`rename`] keeps operation ids and component names unique and rewrites every
//! `$ref`; [`secure`] states what the BFF enforces instead of the upstream's own security;
//! [`merge`] puts the pieces into the BFF's document; [`served`] keeps the document the service
//! answers and merges the upstreams' in the background.

pub mod fetch;
pub mod merge;
mod mount;
mod rename;
pub mod secure;
pub mod served;

pub use merge::{merge, LeftOut};
pub use secure::SESSION_SCHEME;
pub use served::{merge_once, spawn_loader, Rendered, ServedSpec};

#[cfg(test)]
mod tests;
