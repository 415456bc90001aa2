//! The refresh grant: new tokens for a refresh token. The caller (the session's single
//! flight) makes sure one refresh token is used once. A refreshed ID token is validated
//! again and must keep the subject; userinfo is read again when roles live there.

use super::id_token::ExpectedNonce;
use super::tokens::{token_set, TokenSet};
use super::Sso;
use crate::error::{Context, Error};
use openidconnect::RefreshToken;

impl Sso {
    /// Uses `refresh_token`. `subject` is the session's `sub`, which a new ID token must keep.
    ///
    /// A refreshed ID token that fails validation is dropped (`id_token: None`, the session
    /// keeps its previous one) rather than failing the refresh: the new access and refresh
    /// tokens are good, and dropping them would strand the rotated grant. Likewise a failed
    /// userinfo call leaves `userinfo: None` (the session keeps its roles).
    #[tracing::instrument(name = "oidc.refresh", skip_all)]
    pub async fn refresh(
        &self,
        refresh_token: &str,
        subject: Option<&str>,
        with_userinfo: bool,
        dpop: Option<&super::dpop::DpopKey>,
        now: i64,
    ) -> Result<TokenSet, Error> {
        let provider = self.provider().await.context("refreshing the tokens")?;
        let token = RefreshToken::new(refresh_token.to_string());
        let response = self
            .token_grant(&provider, dpop, |client, params, http| {
                let token = token.clone();
                Box::pin(async move {
                    let mut request = client.exchange_refresh_token(&token);
                    for (name, value) in params {
                        request = request.add_extra_param(name, value);
                    }
                    request.request_async(&http).await
                })
            })
            .await;
        self.count(crate::metrics::SsoCall::Refresh, &response);
        let response = response.context("refreshing the tokens")?;
        let mut tokens = super::tokens::with_dpop(token_set(&response, now), &response, dpop);
        if let Some(id_token) = tokens.id_token.take() {
            match self
                .verify_id_token(&id_token, ExpectedNonce::Any, subject)
                .await
            {
                Ok(_) => tokens.id_token = Some(id_token),
                Err(error) => {
                    tracing::warn!(error = %error, "refreshed ID token refused; keeping the previous one")
                }
            }
        }
        if let (true, Some(subject)) = (with_userinfo, subject) {
            match self
                .userinfo(
                    &provider,
                    &tokens.access_token,
                    tokens.dpop.as_ref(),
                    subject,
                )
                .await
            {
                Ok(claims) => tokens.userinfo = Some(claims),
                Err(error) => {
                    tracing::warn!(error = %error, "userinfo after refresh failed; keeping the previous roles")
                }
            }
        }
        Ok(tokens)
    }
}
