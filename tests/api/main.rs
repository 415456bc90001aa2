//! Integration tests: the real binary's application against a real OpenID Provider.

mod helpers;

mod cli;
mod cookie_size;
mod login;
mod logout;
mod refresh;
mod relay;
mod roles;
mod session;
mod spa;
mod sso_variants;
