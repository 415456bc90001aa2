//! Integration tests: the real binary's application against a real OpenID Provider.

mod helpers;

mod cli;
mod login;
mod logout;
mod session;
mod sso_variants;
