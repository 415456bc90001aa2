//! What the token endpoint answers, and how its failures are classified. Shared by the two
//! grants ([`super::callback`]'s code exchange and [`super::refresh`]) through one
//! authenticated client ([`Sso::token_endpoint`]).
//!
//! Failures are classified by what they mean for the user: the SSO refused the grant (the
//! sign-in or the session is over), refused the request for another reason, or could not be
//! asked (transient: keep the session, retry later). Response bodies are never logged: a
//! half-parsed success could hold tokens.

use super::discovery::Provider;
use super::Sso;
use crate::error::{Error, ErrorKind};
use openidconnect::core::{CoreClient, CoreErrorResponseType, CoreTokenResponse};
use openidconnect::{
    ClientId, OAuth2TokenResponse, RequestTokenError, StandardErrorResponse, TokenResponse,
    TokenUrl,
};
use serde_json::{Map, Value};

/// What the SSO gave for one grant, as plain strings for the session to store.
pub struct TokenSet {
    /// The access token.
    pub access_token: String,
    /// Unix seconds when it expires.
    pub access_expires_at: i64,
    /// The (possibly rotated) refresh token; `None` when the SSO issued none or kept the old.
    pub refresh_token: Option<String>,
    /// A verified ID token, if one was returned (always at sign-in, sometimes at refresh).
    pub id_token: Option<String>,
    /// The userinfo claims, when `roles.userinfo` asked for them and the call succeeded.
    pub userinfo: Option<Map<String, Value>>,
    /// The DPoP key the tokens were requested with (`bound` when the SSO issued DPoP tokens).
    pub dpop: Option<super::dpop::DpopKey>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSet([redacted])")
    }
}

/// When the SSO gives no `expires_in` and the token is opaque, assume this lifetime (seconds).
const DEFAULT_ACCESS_TOKEN_LIFETIME: i64 = 300;

/// A client whose token endpoint is set (the crate tracks endpoints in the type).
pub(super) type TokenEndpointClient = CoreClient<
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
>;

pub(super) type OAuthError = RequestTokenError<
    openidconnect::HttpClientError<reqwest::Error>,
    StandardErrorResponse<CoreErrorResponseType>,
>;

/// Whether the token endpoint asked for a DPoP nonce (RFC 9449 section 8): the grant is sent
/// once more, with the nonce [`super::http::Bounded`] remembered.
fn is_use_dpop_nonce(error: &OAuthError) -> bool {
    matches!(
        error,
        RequestTokenError::ServerResponse(response)
            if matches!(response.error(), CoreErrorResponseType::Extension(code) if code == "use_dpop_nonce")
    )
}

/// The one mapping from a failed token request to an [`Error`].
pub(super) fn classify(error: OAuthError) -> Error {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref().to_string();
            let kind = match response.error() {
                CoreErrorResponseType::InvalidGrant => ErrorKind::GrantRefused,
                CoreErrorResponseType::Extension(ext)
                    if ext == "server_error" || ext == "temporarily_unavailable" =>
                {
                    ErrorKind::SsoUnavailable
                }
                _ => ErrorKind::SsoRefused,
            };
            Error::new(kind, "the identity provider refused the request")
                .with_source(anyhow::anyhow!("the SSO answered {code}"))
        }
        RequestTokenError::Request(error) => unavailable(anyhow::anyhow!("{error}")),
        RequestTokenError::Parse(error, _body) => unavailable(anyhow::anyhow!(
            "the SSO's answer is not a token response ({})",
            error.path()
        )),
        RequestTokenError::Other(message) => {
            unavailable(anyhow::anyhow!("the SSO's answer is unusable: {message}"))
        }
    }
}

fn unavailable(source: anyhow::Error) -> Error {
    Error::new(
        ErrorKind::SsoUnavailable,
        "the identity provider is unavailable; try again shortly",
    )
    .with_source(source)
}

impl Sso {
    /// Sends a grant that `send` makes from the authenticated client, its extra parameters and
    /// the HTTP client; sent once more when the SSO asks for a DPoP nonce, built anew (a client
    /// assertion is single-use).
    pub(super) async fn token_grant(
        &self,
        provider: &Provider,
        dpop: Option<&super::dpop::DpopKey>,
        send: impl Fn(
            TokenEndpointClient,
            Vec<(String, String)>,
            super::http::Bounded,
        )
            -> futures_util::future::BoxFuture<'static, Result<CoreTokenResponse, OAuthError>>,
    ) -> Result<CoreTokenResponse, Error> {
        let mut nonce_retry = dpop.is_some();
        loop {
            let (client, params) = self.token_endpoint(provider)?;
            match send(client, params, self.token_http(dpop)).await {
                Err(error) if nonce_retry && is_use_dpop_nonce(&error) => nonce_retry = false,
                result => return result.map_err(classify),
            }
        }
    }

    /// The client for the token endpoint, authenticated as configured ([`ClientAuth`]), and
    /// the extra parameters every call carries (the `private_key_jwt` assertion).
    ///
    /// [`ClientAuth`]: super::client_auth::ClientAuth
    pub(super) fn token_endpoint(
        &self,
        provider: &Provider,
    ) -> Result<(TokenEndpointClient, Vec<(String, String)>), Error> {
        let client = CoreClient::new(
            ClientId::new(self.config.client_id.clone()),
            super::authorize::issuer_url(&self.config.issuer)?,
            provider.jwks.clone(),
        )
        .set_redirect_uri(super::authorize::redirect_url(&self.redirect_uri)?)
        .set_token_uri(TokenUrl::from_url(provider.endpoints.token.clone()));
        let auth = self.auth.load();
        let client = auth.configure(client);
        let params = auth.extra_params(provider.endpoints.token.as_str())?;
        Ok((client, params))
    }
}

/// The strings of a token response; `userinfo` is filled in by the grant that asks for it.
pub(super) fn token_set(response: &CoreTokenResponse, now: i64) -> TokenSet {
    let access_token = response.access_token().secret().clone();
    let access_expires_at = match response.expires_in() {
        Some(lifetime) => now + lifetime.as_secs() as i64,
        None => jwt_expiry(&access_token).unwrap_or(now + DEFAULT_ACCESS_TOKEN_LIFETIME),
    };
    TokenSet {
        access_token,
        access_expires_at,
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        id_token: response.id_token().map(|t| t.to_string()),
        userinfo: None,
        dpop: None,
    }
}

/// Records the DPoP key the tokens were requested with, `bound` when the SSO issued a DPoP
/// token (`token_type` `DPoP`; an SSO without DPoP answers `Bearer`, and the session then
/// relays bearer tokens).
pub(super) fn with_dpop(
    mut tokens: TokenSet,
    response: &CoreTokenResponse,
    key: Option<&super::dpop::DpopKey>,
) -> TokenSet {
    use openidconnect::core::CoreTokenType;
    tokens.dpop = key.map(|key| {
        let mut key = key.clone();
        key.bound = matches!(
            response.token_type(),
            CoreTokenType::Extension(kind) if kind.eq_ignore_ascii_case("dpop")
        );
        key
    });
    tokens
}

/// The `exp` of a JWT access token, read without verification (it is the API's token; we only
/// need to know when to refresh it).
fn jwt_expiry(token: &str) -> Option<i64> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp").and_then(Value::as_i64)
}
