//! Integration tests: the real binary's application against a real OpenID Provider.

mod binary;
mod dpop_upstream;
mod helpers;
mod recorder;
mod redis;

mod cli;
mod cookie_size;
mod csrf_matrix;
mod hostile_input;
mod leaks;
mod listener;
mod login;
mod logout;
mod modern_oauth;
mod open_cache;
mod openapi_merge;
mod operations;
mod refresh;
mod relay;
mod relay_paths;
mod roles;
mod schemathesis;
mod session;
mod spa;
mod sso_variants;
mod store;
