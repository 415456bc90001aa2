//! `POST /api/admin/revoke`: revocation for operators' tools (a help desk, an identity
//! lifecycle job), beside `oidc-bff revoke`. Off unless `admin.token_file` is set (404); the
//! caller proves itself with that token as a bearer secret of its own, compared in constant
//! time, never with a user's session. Needs the store, like every revocation.
//!
//! Left out of the OpenAPI document: the SPA never calls it.

use crate::error::{Error, ErrorKind};
use crate::session::now;
use crate::state::AppState;
use crate::store::deny::{Entry, Kind};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use secrecy::ExposeSecret;
use std::sync::Arc;

/// The operators' endpoints.
pub struct AdminApi;

/// What to end: every session of a subject, or of an SSO session (exactly one).
#[derive(Object, serde::Deserialize)]
struct RevokeRequest {
    sub: Option<String>,
    sid: Option<String>,
}

/// What was ended.
#[derive(Object)]
pub struct Revoked {
    /// `subject` or `sso-session`.
    revoked: String,
}

/// `200` once recorded on the store (every replica refuses the sessions from then on).
#[derive(ApiResponse)]
pub enum AdminResponse {
    /// Recorded.
    #[oai(status = 200)]
    Ok(Json<Revoked>, #[oai(header = "Cache-Control")] String),
}

/// The longest id accepted (a `sub` or `sid` is far shorter in every SSO).
const MAX_ID: usize = 1024;

#[OpenApi]
impl AdminApi {
    /// End sessions by subject or SSO session id (operators).
    #[oai(path = "/api/admin/revoke", method = "post", hidden)]
    #[tracing::instrument(name = "api.admin_revoke", skip_all)]
    async fn revoke(
        &self,
        state: Data<&Arc<AppState>>,
        headers: &poem::http::HeaderMap,
        body: Json<RevokeRequest>,
    ) -> Result<AdminResponse, Error> {
        let Some(token) = &state.config.admin.token else {
            return Err(Error::new(ErrorKind::NotFound, "no such endpoint"));
        };
        if !bearer_matches(headers, token.expose_secret()) {
            tracing::warn!("admin revoke refused: missing or wrong token");
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "this endpoint needs the admin token as a bearer token",
            ));
        }
        let Some(store) = &state.store else {
            return Err(Error::new(
                ErrorKind::StoreRequired,
                "revocation needs a session store (store.url)",
            ));
        };
        let (entry, what) = match (usable(&body.0.sub), usable(&body.0.sid)) {
            (Some(sub), None) => (Entry::new(Kind::Subject, sub), "subject"),
            (None, Some(sid)) => (Entry::new(Kind::SsoSession, sid), "sso-session"),
            _ => {
                return Err(Error::new(
                    ErrorKind::BadRequest,
                    "name exactly one of sub and sid (1 to 1024 characters)",
                ))
            }
        };
        store
            .revoke(&entry, now(), state.config.session.absolute_lifetime)
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::StoreUnavailable,
                    "the session store is unavailable",
                )
                .with_source(e)
            })?;
        state.metrics.revocation("admin");
        tracing::info!(by = what, "sessions revoked by an operator");
        Ok(AdminResponse::Ok(
            Json(Revoked {
                revoked: what.into(),
            }),
            "no-store".into(),
        ))
    }
}

/// An id given and of a sane length.
fn usable(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .filter(|v| !v.is_empty() && v.len() <= MAX_ID)
}

/// Whether `Authorization: Bearer <token>` carries exactly `expected` (constant time).
fn bearer_matches(headers: &poem::http::HeaderMap, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    headers
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}
