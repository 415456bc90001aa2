//! The userinfo endpoint, read when `roles.userinfo` is on: some SSOs put roles or groups only
//! there, never in the ID token.

use super::discovery::Provider;
use super::Sso;
use crate::error::{Error, ErrorKind};
use anyhow::{bail, Context};
use serde_json::{Map, Value};

impl Sso {
    /// The userinfo claims for `access_token`; `sub` must be `subject` (OIDC Core 5.3.2).
    #[tracing::instrument(name = "oidc.userinfo", skip_all)]
    pub async fn userinfo(
        &self,
        provider: &Provider,
        access_token: &str,
        dpop: Option<&super::dpop::DpopKey>,
        subject: &str,
    ) -> Result<Map<String, Value>, Error> {
        let result = self
            .fetch_userinfo(provider, access_token, dpop.filter(|k| k.bound), subject)
            .await
            .map_err(|source| {
                Error::new(
                    ErrorKind::SsoUnavailable,
                    "the identity provider's userinfo could not be read",
                )
                .with_source(source)
            });
        self.count(crate::metrics::SsoCall::Userinfo, &result);
        result
    }

    async fn fetch_userinfo(
        &self,
        provider: &Provider,
        access_token: &str,
        dpop: Option<&super::dpop::DpopKey>,
        subject: &str,
    ) -> anyhow::Result<Map<String, Value>> {
        let Some(url) = provider.endpoints.userinfo.clone() else {
            bail!("roles.userinfo is on but the SSO has no userinfo endpoint");
        };
        let mut response = self.send_userinfo(&url, access_token, dpop).await?;
        if let Some(key) = dpop {
            let nonce = self.dpop_nonces.remember(&url, response.headers());
            if nonce.is_some()
                && super::dpop::is_nonce_challenge_header(response.status(), response.headers())
            {
                response = self.send_userinfo(&url, access_token, Some(key)).await?;
                self.dpop_nonces.remember(&url, response.headers());
            }
        }
        let status = response.status();
        if !status.is_success() {
            bail!("the userinfo endpoint answered {status}");
        }
        let bytes = super::http::read_limited(response)
            .await
            .context("reading userinfo")?;
        let claims: Map<String, Value> = serde_json::from_slice(&bytes)
            .context("userinfo is not a JSON object (signed userinfo is not supported)")?;
        if claims.get("sub").and_then(Value::as_str) != Some(subject) {
            bail!("userinfo names another subject than the ID token");
        }
        Ok(claims)
    }

    /// One userinfo request: a bearer token, or a DPoP token with a fresh proof.
    async fn send_userinfo(
        &self,
        url: &url::Url,
        access_token: &str,
        dpop: Option<&super::dpop::DpopKey>,
    ) -> anyhow::Result<reqwest::Response> {
        let request = super::with_request_id(self.http().get(url.clone()))
            .header("accept", "application/json");
        let request = match dpop {
            None => request.bearer_auth(access_token),
            Some(key) => {
                let nonce = self.dpop_nonces.get(url);
                let proof = key.proof("GET", url, nonce.as_deref(), Some(access_token))?;
                request
                    .header("authorization", format!("DPoP {access_token}"))
                    .header(super::dpop::DPOP, proof)
            }
        };
        request
            .send()
            .await
            .context("calling the userinfo endpoint")
    }
}
