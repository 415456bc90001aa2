//! Revocation (RFC 7009): at logout the refresh token is revoked at the SSO, so a copy of the
//! cookie cannot refresh any more.

use super::discovery::Provider;
use super::Sso;
use crate::metrics::{SsoCall, SsoOutcome};

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
        let request = super::with_request_id(self.http().post(url.clone()));
        let request = match self
            .auth
            .load()
            .authenticate(request, &mut form, url.as_str())
        {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(error = %error, "refresh token revocation skipped");
                return;
            }
        };
        let outcome = match request.form(&form).send().await {
            Ok(response) if response.status().is_success() => {
                tracing::info!("refresh token revoked at the SSO");
                SsoOutcome::Ok
            }
            Ok(response) => {
                tracing::warn!(status = %response.status(), "the SSO refused to revoke the refresh token");
                SsoOutcome::Error
            }
            Err(error) => {
                let outcome = if error.is_timeout() {
                    SsoOutcome::Timeout
                } else {
                    SsoOutcome::Error
                };
                tracing::warn!(error = %error.without_url(), "refresh token revocation failed");
                outcome
            }
        };
        self.metrics.sso(SsoCall::Revoke, outcome);
    }
}
