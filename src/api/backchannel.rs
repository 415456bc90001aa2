//! `POST /api/backchannel-logout`: the SSO tells us a session ended (OpenID Connect
//! Back-Channel Logout 1.0). Server to server, so neither a cookie nor a CSRF check applies:
//! the logout token's signature is the authentication. Needs the store — a stateless cookie
//! cannot be ended from outside — and answers 400 `temporarily_unavailable` without one.
//!
//! Left out of the OpenAPI document: the SPA never calls it, and the generated client should
//! not offer it. README and CONTRACT describe it.

use crate::oidc::logout_token::MAX_AGE;
use crate::session::now;
use crate::state::AppState;
use crate::store::deny::{Entry, Kind};
use poem::web::Data;
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;
use std::time::Duration;

/// The SSO's back-channel calls.
pub struct BackchannelApi;

/// The form the SSO posts.
#[derive(Object, serde::Deserialize)]
struct LogoutTokenForm {
    logout_token: Option<String>,
}

/// The error body of RFC 6749 section 5.2, as the back-channel specification asks.
#[derive(Object)]
pub struct BackchannelError {
    error: String,
    error_description: String,
}

/// The answers, as CONTRACT.md and the specification say: 200 when recorded, else 400 with the
/// RFC 6749 error body — `invalid_request` for a bad token, `temporarily_unavailable` when no
/// store is configured or it could not record (the SSO may send the same token again: its
/// `jti` is released when recording fails).
#[derive(ApiResponse)]
pub enum BackchannelResponse {
    /// Recorded: every replica refuses the session from now on.
    #[oai(status = 200)]
    Ok(#[oai(header = "Cache-Control")] String),
    /// The logout token is invalid (or missing, or replayed).
    #[oai(status = 400)]
    Invalid(
        Json<BackchannelError>,
        #[oai(header = "Cache-Control")] String,
    ),
}

fn body(error: &str, description: impl Into<String>) -> Json<BackchannelError> {
    Json(BackchannelError {
        error: error.into(),
        error_description: description.into(),
    })
}

fn no_store() -> String {
    "no-store".into()
}

#[OpenApi]
impl BackchannelApi {
    /// Back-channel logout (called by the SSO). Needs a store.
    #[oai(path = "/api/backchannel-logout", method = "post", hidden)]
    #[tracing::instrument(name = "api.backchannel_logout", skip_all)]
    async fn backchannel_logout(
        &self,
        state: Data<&Arc<AppState>>,
        form: Form<LogoutTokenForm>,
    ) -> BackchannelResponse {
        let Some(store) = &state.store else {
            return BackchannelResponse::Invalid(
                body(
                    "temporarily_unavailable",
                    "back-channel logout needs a session store (store.url)",
                ),
                no_store(),
            );
        };
        let Some(token) = form.0.logout_token.filter(|t| !t.is_empty()) else {
            return BackchannelResponse::Invalid(
                body("invalid_request", "logout_token is missing"),
                no_store(),
            );
        };
        let now = now();
        let claims = match state.sso.verify_logout_token(&token, now).await {
            Ok(claims) => claims,
            Err(why) => {
                tracing::info!(reason = %why, "back-channel logout refused");
                return BackchannelResponse::Invalid(body("invalid_request", why.0), no_store());
            }
        };
        let unavailable = || {
            BackchannelResponse::Invalid(
                body(
                    "temporarily_unavailable",
                    "the session store is unavailable",
                ),
                no_store(),
            )
        };
        // Remembered past the oldest accepted `iat`, so a replay is always recognised.
        let remember = Duration::from_secs(2 * MAX_AGE as u64 + 120);
        match store.claim_once("logout-jti", &claims.jti, remember).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("back-channel logout refused: jti replayed");
                return BackchannelResponse::Invalid(
                    body("invalid_request", "the logout token was already used"),
                    no_store(),
                );
            }
            Err(_) => return unavailable(),
        }
        // `sid` names the SSO session; `sub` alone ends every session of the user begun
        // before now.
        let entry = match (&claims.sid, &claims.sub) {
            (Some(sid), _) => Entry::new(Kind::SsoSession, sid),
            (None, Some(sub)) => Entry::new(Kind::Subject, sub),
            (None, None) => return unavailable(),
        };
        match store
            .revoke(&entry, now, state.config.session.absolute_lifetime)
            .await
        {
            Ok(()) => {
                state.metrics.revocation("backchannel");
                tracing::info!(
                    by = if claims.sid.is_some() { "sid" } else { "sub" },
                    "back-channel logout recorded"
                );
                BackchannelResponse::Ok(no_store())
            }
            Err(_) => {
                // Not recorded: let the SSO's retry with the same token through.
                store.release_once("logout-jti", &claims.jti).await;
                unavailable()
            }
        }
    }
}
