//! The token endpoint (code exchange, refresh) and the revocation endpoint (RFC 7009).
//!
//! Failures are classified by what they mean for the user: the SSO refused the grant (the login
//! or session is over) or the SSO could not be asked (transient: keep the session, retry later).
//! Response bodies are never logged: a half-parsed success could hold tokens.

use super::discovery::Provider;
use super::Sso;
use crate::config::AuthMethod;
use crate::error::Error;
use openidconnect::core::{CoreClient, CoreErrorResponseType, CoreTokenResponse};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, OAuth2TokenResponse, PkceCodeVerifier,
    RefreshToken, RequestTokenError, StandardErrorResponse, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;

/// What the token endpoint returned, as plain strings for the session to store.
pub struct TokenSet {
    /// The access token.
    pub access_token: String,
    /// Unix seconds when it expires.
    pub access_expires_at: i64,
    /// The (possibly rotated) refresh token.
    pub refresh_token: Option<String>,
    /// The ID token, if one was returned (always on code exchange, sometimes on refresh).
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSet([redacted])")
    }
}

/// Why a token call failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The SSO answered with an OAuth error (`invalid_grant`, ...).
    #[error("the SSO refused: {code}")]
    Refused {
        /// The OAuth `error` code.
        code: String,
    },
    /// The SSO could not be reached, timed out, answered 5xx or something unparseable.
    #[error("the SSO is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

impl TokenError {
    /// Whether the grant itself is dead (the refresh token is expired, revoked or reused).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::Refused { code } if code == "invalid_grant")
    }
}

/// When the SSO gives no `expires_in` and the token is opaque, assume this lifetime (seconds).
const DEFAULT_ACCESS_TOKEN_LIFETIME: i64 = 300;

/// A client whose token endpoint is set (the crate tracks endpoints in the type).
type TokenEndpointClient = CoreClient<
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
>;

type OAuthError = RequestTokenError<
    openidconnect::HttpClientError<reqwest::Error>,
    StandardErrorResponse<CoreErrorResponseType>,
>;

fn classify(error: OAuthError) -> TokenError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref().to_string();
            match response.error() {
                CoreErrorResponseType::Extension(ext)
                    if ext == "server_error" || ext == "temporarily_unavailable" =>
                {
                    TokenError::Unavailable(anyhow::anyhow!("the SSO answered {code}"))
                }
                _ => TokenError::Refused { code },
            }
        }
        RequestTokenError::Request(error) => {
            TokenError::Unavailable(anyhow::anyhow!("request to the SSO failed: {error}"))
        }
        RequestTokenError::Parse(error, _body) => TokenError::Unavailable(anyhow::anyhow!(
            "the SSO's answer is not a token response ({})",
            error.path()
        )),
        RequestTokenError::Other(message) => {
            TokenError::Unavailable(anyhow::anyhow!("the SSO's answer is unusable: {message}"))
        }
    }
}

impl Sso {
    /// A client for the token calls, authenticated as configured.
    fn token_client(&self, provider: &Provider) -> Result<CoreClient, Error> {
        let client = CoreClient::new(
            ClientId::new(self.config.client_id.clone()),
            super::authorize::issuer_url(&self.config.issuer)?,
            provider.jwks.clone(),
        )
        .set_redirect_uri(super::authorize::redirect_url(&self.redirect_uri)?);
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose_secret().to_string()));
        Ok(match (self.config.auth_method, secret) {
            (AuthMethod::ClientSecretBasic, Some(secret)) => client
                .set_client_secret(secret)
                .set_auth_type(AuthType::BasicAuth),
            (AuthMethod::ClientSecretPost, Some(secret)) => client
                .set_client_secret(secret)
                .set_auth_type(AuthType::RequestBody),
            _ => client.set_auth_type(AuthType::RequestBody),
        })
    }

    /// `client_assertion` parameters for `private_key_jwt`, none otherwise.
    fn assertion_params(&self, audience: &str) -> Result<Vec<(String, String)>, TokenError> {
        match &self.signer {
            Some(signer) if self.config.auth_method == AuthMethod::PrivateKeyJwt => {
                let assertion = signer
                    .assertion(&self.config.client_id, audience)
                    .map_err(|m| TokenError::Unavailable(anyhow::anyhow!(m)))?;
                Ok(vec![
                    (
                        "client_assertion_type".into(),
                        super::client_auth::ASSERTION_TYPE.into(),
                    ),
                    ("client_assertion".into(), assertion),
                ])
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The client for the token endpoint, and the `client_assertion` parameters when
    /// authenticating with `private_key_jwt`.
    fn token_endpoint(
        &self,
        provider: &Provider,
    ) -> Result<(TokenEndpointClient, Vec<(String, String)>), TokenError> {
        let client = self
            .token_client(provider)
            .map_err(|e| TokenError::Unavailable(anyhow::anyhow!("{e}")))?
            .set_token_uri(TokenUrl::from_url(provider.endpoints.token.clone()));
        let params = self.assertion_params(provider.endpoints.token.as_str())?;
        Ok((client, params))
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        provider: &Provider,
        code: &str,
        pkce_verifier: &str,
        now: i64,
    ) -> Result<TokenSet, TokenError> {
        let (client, params) = self.token_endpoint(provider)?;
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()));
        for (name, value) in params {
            request = request.add_extra_param(name, value);
        }
        let response = request
            .request_async(&super::http::Bounded(self.http().clone()))
            .await
            .map_err(classify)?;
        Ok(token_set(&response, now))
    }

    /// Uses a refresh token. The caller coalesces concurrent refreshes of the same token.
    pub async fn refresh(
        &self,
        provider: &Provider,
        refresh_token: &str,
        now: i64,
    ) -> Result<TokenSet, TokenError> {
        let (client, params) = self.token_endpoint(provider)?;
        let token = RefreshToken::new(refresh_token.to_string());
        let mut request = client.exchange_refresh_token(&token);
        for (name, value) in params {
            request = request.add_extra_param(name, value);
        }
        let response = request
            .request_async(&super::http::Bounded(self.http().clone()))
            .await
            .map_err(classify)?;
        Ok(token_set(&response, now))
    }

    /// Revokes a refresh token (RFC 7009) when the provider has a revocation endpoint.
    /// Best effort: logout proceeds whatever the answer, and a failure is only logged.
    ///
    /// Sent directly rather than through `oauth2`, which refuses plain-http revocation URLs
    /// while accepting plain-http token URLs; the client authentication is the same.
    pub async fn revoke_refresh_token(&self, provider: &Provider, refresh_token: &str) {
        let Some(url) = provider.endpoints.revocation.clone() else {
            return;
        };
        let mut form: Vec<(String, String)> = vec![
            ("token".into(), refresh_token.to_string()),
            ("token_type_hint".into(), "refresh_token".into()),
        ];
        let mut request = self.http().post(url.clone());
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret());
        match (self.config.auth_method, secret) {
            (AuthMethod::ClientSecretBasic, Some(secret)) => {
                request = request.basic_auth(
                    form_encode(&self.config.client_id),
                    Some(form_encode(secret)),
                );
            }
            (AuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id".into(), self.config.client_id.clone()));
                form.push(("client_secret".into(), secret.to_string()));
            }
            _ => form.push(("client_id".into(), self.config.client_id.clone())),
        }
        match self.assertion_params(url.as_str()) {
            Ok(params) => form.extend(params),
            Err(error) => {
                tracing::warn!(error = %error, "refresh token revocation skipped");
                return;
            }
        }
        match request.form(&form).send().await {
            Ok(response) if response.status().is_success() => {
                tracing::info!("refresh token revoked at the SSO");
            }
            Ok(response) => {
                tracing::warn!(status = %response.status(), "the SSO refused to revoke the refresh token");
            }
            Err(error) => tracing::warn!(error = %error, "refresh token revocation failed"),
        }
    }
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before HTTP Basic.
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn token_set(response: &CoreTokenResponse, now: i64) -> TokenSet {
    let access_token = response.access_token().secret().clone();
    let access_expires_at = match response.expires_in() {
        Some(lifetime) => now + lifetime.as_secs() as i64,
        None => crate::session::CompactToken::new(&access_token)
            .jwt_claims()
            .and_then(|claims| claims.get("exp").and_then(|v| v.as_i64()))
            .unwrap_or(now + DEFAULT_ACCESS_TOKEN_LIFETIME),
    };
    TokenSet {
        access_token,
        access_expires_at,
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        id_token: response.id_token().map(|t| t.to_string()),
    }
}
