//! The first step: the redirect to the SSO's authorization endpoint with PKCE (S256), `state`
//! and `nonce`, and the login state to seal in the browser until the callback.

use super::Sso;
use crate::error::Error;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthUrl, ClientId, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};

/// `bytes` random bytes as base64url text.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The secrets of one sign-in, kept (sealed, in the browser) until the callback.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Flow {
    /// The `state` sent to the SSO.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
    /// Unix seconds; the flow is refused after [`super::callback::FLOW_LIFETIME`].
    pub created_at: i64,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl Sso {
    /// The authorization URL and the flow that must come back with the callback.
    #[tracing::instrument(name = "oidc.authorize", skip_all)]
    pub async fn authorize(&self, now: i64) -> Result<(String, Flow), Error> {
        let provider = self.provider().await?;
        let state = random_token(32);
        let nonce = random_token(32);
        let verifier = PkceCodeVerifier::new(random_token(32));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let client = CoreClient::new(
            ClientId::new(self.config.client_id.clone()),
            issuer_url(&self.config.issuer)?,
            provider.jwks.clone(),
        )
        .set_auth_uri(AuthUrl::from_url(provider.endpoints.authorization.clone()))
        .set_redirect_uri(redirect_url(&self.redirect_uri)?);
        let (state_for_request, nonce_for_request) = (state.clone(), nonce.clone());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_request),
                move || Nonce::new(nonce_for_request),
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (name, value) in &self.config.extra_auth_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, _, _) = request.url();
        Ok((
            url.to_string(),
            Flow {
                state,
                nonce,
                pkce_verifier: verifier.secret().clone(),
                created_at: now,
            },
        ))
    }
}

/// The configured issuer as the crate's type (validated at startup, so failure is internal).
pub(crate) fn issuer_url(issuer: &str) -> Result<IssuerUrl, Error> {
    IssuerUrl::new(issuer.to_string())
        .map_err(|e| Error::new(crate::error::ErrorKind::Internal, "invalid issuer").with_source(e))
}

pub(crate) fn redirect_url(uri: &str) -> Result<RedirectUrl, Error> {
    RedirectUrl::new(uri.to_string()).map_err(|e| {
        Error::new(crate::error::ErrorKind::Internal, "invalid redirect URI").with_source(e)
    })
}
