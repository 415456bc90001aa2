//! Revocation (RFC 7009): at logout the refresh token is revoked at the SSO, so a copy of the
//! cookie cannot refresh any more.

use super::discovery::Provider;
use super::Sso;
use crate::config::AuthMethod;
use secrecy::ExposeSecret;

impl Sso {
    /// Revokes a refresh token when the provider has a revocation endpoint. Best effort:
    /// logout proceeds whatever the answer, and a failure is only logged.
    ///
    /// Sent directly rather than through `oauth2`, which refuses plain-http revocation URLs
    /// while accepting plain-http token URLs; the client authentication is the same.
    #[tracing::instrument(name = "oidc.revoke", skip_all)]
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
            Err(error) => {
                tracing::warn!(error = %error.without_url(), "refresh token revocation failed")
            }
        }
    }
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before HTTP Basic.
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
