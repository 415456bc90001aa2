//! The third step: the SSO sends the browser back with a code. Checked in protocol order:
//! the sign-in flow (`state`, matched by the caller against the browser's sealed login
//! cookie) and its age, the issuer (RFC 9207, on error answers too), the SSO's own error, the
//! code; then the code is exchanged (with the PKCE verifier) and the ID token validated
//! (signature, `iss`, `aud`, `azp`, `exp`, `nonce`); userinfo is read when roles live there.

use super::authorize::Flow;
use super::tokens::{token_set, TokenSet};
use super::Sso;
use crate::error::{Context, Error, ErrorKind};
use openidconnect::{AuthorizationCode, PkceCodeVerifier};
use std::time::Duration;

/// How long a sign-in may take between `/api/login` and `/api/callback`.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(600);

/// The query parameters of the callback.
#[derive(Default)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` sent to the SSO (already used by the caller to find the flow).
    pub state: Option<String>,
    /// RFC 9207 issuer identification.
    pub iss: Option<String>,
    /// The SSO's error code, when it refused.
    pub error: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallbackParams([redacted])")
    }
}

impl Sso {
    /// Completes a sign-in: `flow` is the one the browser's login cookie holds for the
    /// callback's `state` (`None` when there is none). Returns the validated tokens.
    #[tracing::instrument(name = "oidc.callback", skip_all)]
    pub async fn complete_sign_in(
        &self,
        flow: Option<&Flow>,
        params: CallbackParams,
        with_userinfo: bool,
        now: i64,
    ) -> Result<TokenSet, Error> {
        let flow = flow.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidState,
                "the callback's state matches no sign-in flow (forged, replayed or expired)",
            )
        })?;
        if now - flow.created_at > FLOW_LIFETIME.as_secs() as i64 {
            return Err(Error::new(
                ErrorKind::LoginExpired,
                "the sign-in took too long",
            ));
        }
        let provider = self.provider().await.context("completing a sign-in")?;
        check_issuer(
            &self.config.issuer,
            params.iss.as_deref(),
            provider.iss_parameter_supported
                || self.config.profile == crate::config::OidcProfile::Fapi2,
        )?;
        if let Some(error) = params.error {
            return Err(sso_error(&error));
        }
        let code = params
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::new(ErrorKind::MissingCode, "the callback carries no code"))?;
        let mut tokens = self
            .exchange_code(
                &provider,
                &code,
                &flow.pkce_verifier,
                flow.dpop.as_ref(),
                now,
            )
            .await
            .context("exchanging the code")?;
        let id_token = tokens.id_token.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidIdToken,
                "the token response has no ID token",
            )
        })?;
        let subject = self
            .verify_id_token(
                id_token,
                super::id_token::ExpectedNonce::Exactly(&flow.nonce),
                None,
            )
            .await
            .context("validating the ID token")?;
        if with_userinfo {
            let claims = self
                .userinfo(
                    &provider,
                    &tokens.access_token,
                    tokens.dpop.as_ref(),
                    &subject,
                )
                .await
                .context("reading userinfo for roles at sign-in")?;
            tokens.userinfo = Some(claims);
        }
        Ok(tokens)
    }

    #[tracing::instrument(name = "oidc.exchange", skip_all)]
    async fn exchange_code(
        &self,
        provider: &super::discovery::Provider,
        code: &str,
        pkce_verifier: &str,
        dpop: Option<&super::dpop::DpopKey>,
        now: i64,
    ) -> Result<TokenSet, Error> {
        let response = self
            .token_grant(provider, dpop, |client, params, http| {
                let (code, verifier) = (code.to_string(), pkce_verifier.to_string());
                Box::pin(async move {
                    let mut request = client
                        .exchange_code(AuthorizationCode::new(code))
                        .set_pkce_verifier(PkceCodeVerifier::new(verifier));
                    for (name, value) in params {
                        request = request.add_extra_param(name, value);
                    }
                    request.request_async(&http).await
                })
            })
            .await;
        self.count(crate::metrics::SsoCall::Exchange, &response);
        let response = response?;
        Ok(super::tokens::with_dpop(
            token_set(&response, now),
            &response,
            dpop,
        ))
    }
}

/// RFC 9207: an `iss` that names another issuer is a mix-up; a missing one is refused when the
/// SSO promised to send it.
fn check_issuer(ours: &str, iss: Option<&str>, promised: bool) -> Result<(), Error> {
    match iss {
        Some(iss) if iss != ours => Err(Error::new(
            ErrorKind::IssuerMismatch,
            "the callback's iss does not name our SSO",
        )
        .with_source(anyhow::anyhow!("iss `{}`", sanitize(iss)))),
        None if promised => Err(Error::new(
            ErrorKind::IssuerMismatch,
            "the callback has no iss although the SSO promises it",
        )),
        _ => Ok(()),
    }
}

/// The SSO's own refusal: declined by the user (or policy), or another error.
fn sso_error(code: &str) -> Error {
    let kind = if code == "access_denied" {
        ErrorKind::AccessDenied
    } else {
        ErrorKind::SsoError
    };
    Error::new(
        kind,
        "the identity provider answered the sign-in with an error",
    )
    .with_source(anyhow::anyhow!("error `{}`", sanitize(code)))
}

/// A value from the browser, shortened and stripped of control characters for a log line.
fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}
