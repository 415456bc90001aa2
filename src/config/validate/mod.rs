//! Validation: raw shapes in, the typed [`Config`] out, one section per file ([`server`],
//! [`oidc`], [`session`]); the small sections (`cors`, `roles`), the routes and the checks
//! that span sections live here.

mod fapi;
mod oidc;
mod server;
mod session;
mod store;
mod urls;

pub use session::{decode_key, parse_keys_text};
pub use urls::is_loopback;

use super::raw::{RawConfig, RawCors, RawRoles};
use super::{
    Config, ConfigError, CorsConfig, LogConfig, RolesConfig, SameSite, ServerConfig, SessionConfig,
};
use crate::routes::RouteTable;

/// Validates every section, then what spans sections. The first problem found is the error.
pub(super) fn validate(profile: String, raw: RawConfig) -> Result<Config, ConfigError> {
    let RawConfig {
        server,
        oidc,
        session,
        cors,
        roles,
        log,
        store,
        admin,
        routes,
    } = raw;
    let server = server::validate_server(server)?;
    let oidc = oidc::validate_oidc(oidc)?;
    let session = session::validate_session(session)?;
    check_head_holds_session(&server, &session)?;
    let cors = validate_cors(cors)?;
    if session.same_site == SameSite::None && cors.allowed_origins.is_empty() {
        return Err(ConfigError::new(
            "session.same_site",
            "`none` is cross-site mode and needs `cors.allowed_origins`",
        ));
    }
    let roles = validate_roles(roles)?;
    let log = LogConfig {
        subject: log.subject,
    };
    let store = store::validate_store(store)?;
    let admin = store::validate_admin(admin)?;
    let routes = RouteTable::from_raw(routes).map_err(|e| ConfigError::new(e.key(), e.message))?;
    Ok(Config {
        profile,
        server,
        oidc,
        session,
        cors,
        roles,
        log,
        store,
        admin,
        routes,
    })
}

/// A session cookie of `max_chunks` chunks, plus room for the other headers, must fit the
/// request head limit, or the largest sessions would be answered 431.
fn check_head_holds_session(
    server: &ServerConfig,
    session: &SessionConfig,
) -> Result<(), ConfigError> {
    let needed = (session.max_chunks + 1) * 4096;
    if needed > server.max_head_bytes {
        return Err(ConfigError::new(
            "session.max_chunks",
            format!(
                "{} cookies need request heads of about {needed} bytes; raise \
                 server.max_head_bytes to at least that",
                session.max_chunks
            ),
        ));
    }
    Ok(())
}

/// `[cors]`: every allowed origin is a bare origin.
fn validate_cors(raw: RawCors) -> Result<CorsConfig, ConfigError> {
    let RawCors { allowed_origins } = raw;
    let allowed_origins = allowed_origins
        .iter()
        .enumerate()
        .map(|(i, o)| urls::parse_origin(&format!("cors.allowed_origins[{i}]"), o))
        .collect::<Result<_, _>>()?;
    Ok(CorsConfig { allowed_origins })
}

/// `[roles]`: every claim path is non-empty dotted segments.
fn validate_roles(raw: RawRoles) -> Result<RolesConfig, ConfigError> {
    let RawRoles { claims, userinfo } = raw;
    if let Some(bad) = claims
        .iter()
        .find(|c| c.is_empty() || c.split('.').any(str::is_empty))
    {
        return Err(ConfigError::new(
            "roles.claims",
            format!("`{bad}` is not a claim path"),
        ));
    }
    Ok(RolesConfig { claims, userinfo })
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;

    #[test]
    fn same_site_none_without_allowed_origins_is_refused() {
        let text = base_toml() + "same_site = \"none\"\n";
        assert_eq!(from_toml(&text).unwrap_err().key, "session.same_site");
        let text = base_toml().replace("[session]", "[cors]\nallowed_origins = [\"https://spa.example.org\"]\n[session]\nsame_site = \"none\"");
        assert!(from_toml(&text).is_ok());
    }

    #[test]
    fn the_head_limit_must_hold_the_largest_session() {
        let text = base_toml() + "max_chunks = 10\n";
        assert_eq!(from_toml(&text).unwrap_err().key, "session.max_chunks");
        let text = base_toml().replace("[server]", "[server]\nmax_head_bytes = 65536")
            + "max_chunks = 10\n";
        assert!(from_toml(&text).is_ok());
        let text = base_toml().replace("[server]", "[server]\nmax_head_bytes = 1000");
        assert_eq!(from_toml(&text).unwrap_err().key, "server.max_head_bytes");
    }
}
