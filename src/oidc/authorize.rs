//! The first step: the redirect to the SSO's authorization endpoint with PKCE (S256), `state`
//! and `nonce`, and the login state to seal in the browser until the callback.

use super::discovery::Provider;
use super::Sso;
use crate::config::ParMode;
use crate::error::{Error, ErrorKind};
use crate::metrics::SsoCall;
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
    /// The DPoP key of the session to be (`oidc.dpop`): made now, so the authorization code
    /// is bound to it (`dpop_jkt`). Sealed after the fields above (see `session::encode`).
    #[serde(skip)]
    pub dpop: Option<super::dpop::DpopKey>,
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
        let dpop = match self.config.dpop {
            true => Some(super::dpop::DpopKey::generate(self.config.dpop_alg)?),
            false => None,
        };
        if let Some(key) = &dpop {
            request = request.add_extra_param("dpop_jkt", key.thumbprint()?);
        }
        let (url, _, _) = request.url();
        let url = match self.pushes(&provider)? {
            Some(endpoint) => self.push(&provider, endpoint, &url).await?,
            None => url,
        };
        Ok((
            url.to_string(),
            Flow {
                state,
                nonce,
                pkce_verifier: verifier.secret().clone(),
                created_at: now,
                dpop,
            },
        ))
    }

    /// The PAR endpoint when this sign-in goes through PAR (`oidc.par`).
    fn pushes<'p>(&self, provider: &'p Provider) -> Result<Option<&'p url::Url>, Error> {
        match (self.config.par, provider.endpoints.par.as_ref()) {
            (ParMode::Never, _) if provider.par_required => Err(Error::new(
                ErrorKind::SsoRefused,
                "the SSO accepts sign-in only through pushed authorization requests and \
                 oidc.par is never",
            )),
            (ParMode::Never, _) => Ok(None),
            (ParMode::Auto, endpoint) => Ok(endpoint),
            (ParMode::Always, Some(endpoint)) => Ok(Some(endpoint)),
            (ParMode::Always, None) => Err(Error::new(
                ErrorKind::SsoRefused,
                "sign-in needs pushed authorization requests (oidc.par) and the SSO offers no \
                 PAR endpoint",
            )),
        }
    }

    /// RFC 9126: posts the authorization request's parameters (with client authentication) and
    /// returns the URL the browser goes to, which carries only `client_id` and `request_uri`.
    #[tracing::instrument(name = "oidc.par", skip_all)]
    async fn push(
        &self,
        provider: &Provider,
        endpoint: &url::Url,
        url: &url::Url,
    ) -> Result<url::Url, Error> {
        let own: Vec<String> = provider
            .endpoints
            .authorization
            .query_pairs()
            .map(|(k, _)| k.into_owned())
            .collect();
        let mut form: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !own.iter().any(|o| o == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let request = self.auth.load().authenticate(
            super::with_request_id(self.http.post(endpoint.clone())),
            &mut form,
            endpoint.as_str(),
        )?;
        // `client_id` stays in the body (SSOs ask for it even with HTTP Basic), once.
        let mut seen = false;
        form.retain(|(k, _)| k != "client_id" || !std::mem::replace(&mut seen, true));
        let result = par_response(request.form(&form).send().await).await;
        self.count(SsoCall::Par, &result);
        let request_uri = result?;
        let mut redirect = provider.endpoints.authorization.clone();
        redirect
            .query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("request_uri", &request_uri);
        Ok(redirect)
    }
}

/// The `request_uri` of a PAR answer; a refusal or garbage is an error of the right kind.
async fn par_response(sent: reqwest::Result<reqwest::Response>) -> Result<String, Error> {
    let unavailable = |why: String| {
        Error::new(
            ErrorKind::SsoUnavailable,
            "the identity provider is unavailable; try again shortly",
        )
        .with_source(anyhow::anyhow!(why))
    };
    let response = sent.map_err(|e| unavailable(format!("PAR: {}", e.without_url())))?;
    let status = response.status();
    let body = super::http::read_limited(response)
        .await
        .map_err(|e| unavailable(format!("PAR: {e}")))?;
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if status.is_success() {
        return json
            .as_ref()
            .and_then(|j| j["request_uri"].as_str())
            .filter(|uri| !uri.is_empty() && uri.len() <= 2048)
            .map(String::from)
            .ok_or_else(|| unavailable("PAR: the answer has no request_uri".into()));
    }
    if status.is_client_error() {
        let code: String = json
            .as_ref()
            .and_then(|j| j["error"].as_str())
            .unwrap_or("unknown")
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        return Err(Error::new(
            ErrorKind::SsoRefused,
            "the identity provider refused the sign-in request",
        )
        .with_source(anyhow::anyhow!("PAR answered {status}: {code}")));
    }
    Err(unavailable(format!("PAR answered {status}")))
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
