//! Discovery: the provider's endpoints and signing keys, from its discovery document, from the
//! configured overrides, or from both (overrides win).

use crate::config::OidcConfig;
use crate::metrics::{Metrics, SsoCall, SsoOutcome};
use anyhow::{anyhow, bail, Context};
use openidconnect::core::CoreJsonWebKeySet;
use serde::Deserialize;
use url::Url;

/// The endpoints the service uses, after overrides.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Where the browser is sent to sign in.
    pub authorization: Url,
    /// Code exchange and refresh.
    pub token: Url,
    /// Signing keys.
    pub jwks: Url,
    /// Userinfo, if any.
    pub userinfo: Option<Url>,
    /// Token revocation (RFC 7009), if any.
    pub revocation: Option<Url>,
    /// RP-initiated logout, if any.
    pub end_session: Option<Url>,
    /// Pushed authorization requests (RFC 9126), if any.
    pub par: Option<Url>,
}

/// Everything known about the provider at one moment.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The endpoints.
    pub endpoints: Endpoints,
    /// Whether the provider promises the RFC 9207 `iss` parameter (then its absence is refused).
    pub iss_parameter_supported: bool,
    /// Whether the provider accepts authorization requests only through PAR.
    pub par_required: bool,
    /// The signing keys.
    pub jwks: CoreJsonWebKeySet,
}

impl Provider {
    /// The same provider with new keys.
    pub fn with_jwks(&self, jwks: CoreJsonWebKeySet) -> Provider {
        Provider {
            jwks,
            ..self.clone()
        }
    }
}

/// The fields of the discovery document that we use.
#[derive(Debug, Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: Option<Url>,
    token_endpoint: Option<Url>,
    jwks_uri: Option<Url>,
    userinfo_endpoint: Option<Url>,
    revocation_endpoint: Option<Url>,
    end_session_endpoint: Option<Url>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    pushed_authorization_request_endpoint: Option<Url>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
}

/// The discovery URL of `issuer` (the path is kept: enterprise issuers carry one).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Loads discovery (unless every needed endpoint is configured and discovery is unavailable),
/// applies the overrides and fetches the keys.
#[tracing::instrument(name = "oidc.discovery", skip_all)]
pub async fn load(
    http: &reqwest::Client,
    config: &OidcConfig,
    metrics: &Metrics,
) -> anyhow::Result<Provider> {
    let overrides = &config.endpoints;
    let fetched = fetch_discovery(http, &config.issuer).await;
    metrics.sso(SsoCall::Discovery, outcome(&fetched));
    let document = match fetched {
        Ok(document) => Some(document),
        Err(error) if overrides.suffice_without_discovery() => {
            tracing::info!(error = %format!("{error:#}"), "no usable discovery document; using the configured endpoints");
            None
        }
        Err(error) => return Err(error),
    };
    let pick = |override_url: &Option<Url>, discovered: Option<&Url>, name: &str| {
        override_url
            .clone()
            .or_else(|| discovered.cloned())
            .ok_or_else(|| {
                anyhow!("the provider has no {name} endpoint; set oidc.endpoints.{name}")
            })
    };
    let d = document.as_ref();
    let endpoints = Endpoints {
        authorization: pick(
            &overrides.authorization,
            d.and_then(|d| d.authorization_endpoint.as_ref()),
            "authorization",
        )?,
        token: pick(
            &overrides.token,
            d.and_then(|d| d.token_endpoint.as_ref()),
            "token",
        )?,
        jwks: pick(&overrides.jwks, d.and_then(|d| d.jwks_uri.as_ref()), "jwks")?,
        userinfo: overrides
            .userinfo
            .clone()
            .or_else(|| d.and_then(|d| d.userinfo_endpoint.clone())),
        revocation: overrides
            .revocation
            .clone()
            .or_else(|| d.and_then(|d| d.revocation_endpoint.clone())),
        end_session: overrides
            .end_session
            .clone()
            .or_else(|| d.and_then(|d| d.end_session_endpoint.clone())),
        par: overrides
            .par
            .clone()
            .or_else(|| d.and_then(|d| d.pushed_authorization_request_endpoint.clone())),
    };
    let jwks = fetch_jwks(http, &endpoints.jwks, metrics).await?;
    Ok(Provider {
        endpoints,
        iss_parameter_supported: d
            .is_some_and(|d| d.authorization_response_iss_parameter_supported),
        par_required: d.is_some_and(|d| d.require_pushed_authorization_requests),
        jwks,
    })
}

async fn fetch_discovery(
    http: &reqwest::Client,
    issuer: &str,
) -> anyhow::Result<DiscoveryDocument> {
    let url = discovery_url(issuer);
    let response = super::with_request_id(http.get(&url))
        .header("accept", "application/json")
        .send()
        .await
        .with_context(|| format!("fetching the discovery document {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("the discovery document {url} answered {status}");
    }
    let bytes = super::http::read_limited(response)
        .await
        .with_context(|| format!("reading the discovery document {url}"))?;
    let document: DiscoveryDocument = serde_json::from_slice(&bytes)
        .with_context(|| format!("the discovery document {url} is not valid provider metadata"))?;
    if document.issuer != issuer {
        bail!(
            "the discovery document says issuer `{}` but oidc.issuer is `{issuer}`; they must match byte for byte (check for a trailing slash)",
            document.issuer
        );
    }
    Ok(document)
}

/// Fetches and parses a JWKS.
#[tracing::instrument(name = "oidc.jwks", skip_all)]
pub async fn fetch_jwks(
    http: &reqwest::Client,
    url: &Url,
    metrics: &Metrics,
) -> anyhow::Result<CoreJsonWebKeySet> {
    let fetched = get_jwks(http, url).await;
    metrics.sso(SsoCall::Jwks, outcome(&fetched));
    fetched
}

/// A fetch's outcome for the metrics (a timeout anywhere in the error chain counts as one).
fn outcome<T>(result: &anyhow::Result<T>) -> SsoOutcome {
    match result {
        Ok(_) => SsoOutcome::Ok,
        Err(error)
            if error.chain().any(|cause| {
                cause
                    .downcast_ref::<reqwest::Error>()
                    .is_some_and(reqwest::Error::is_timeout)
            }) =>
        {
            SsoOutcome::Timeout
        }
        Err(_) => SsoOutcome::Error,
    }
}

async fn get_jwks(http: &reqwest::Client, url: &Url) -> anyhow::Result<CoreJsonWebKeySet> {
    let response = super::with_request_id(http.get(url.clone()))
        .header("accept", "application/json")
        .send()
        .await
        .with_context(|| format!("fetching the JWKS {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("the JWKS {url} answered {status}");
    }
    let bytes = super::http::read_limited(response)
        .await
        .with_context(|| format!("reading the JWKS {url}"))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("the JWKS {url} is not a JSON Web Key Set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_keeps_the_issuer_path() {
        assert_eq!(
            discovery_url("https://sso.example.com/affwebservices/CASSO/oidc/app-stg"),
            "https://sso.example.com/affwebservices/CASSO/oidc/app-stg/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://sso.example.com/"),
            "https://sso.example.com/.well-known/openid-configuration"
        );
    }
}
