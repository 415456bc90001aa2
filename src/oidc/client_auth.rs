//! How this client authenticates at the SSO: one type, [`ClientAuth`], used by every call to
//! the token endpoint (code exchange, refresh) and by revocation. The `client_secret_*` methods
//! ride on the `oauth2` crate's client (or HTTP Basic / form fields for the hand-built
//! revocation request); `private_key_jwt` (RFC 7523) is a JWT we sign with the key the
//! configuration parsed at startup, sent as `client_assertion`.

use crate::config::{AuthMethod, OidcConfig, PrivateKey};
use crate::error::{Error, ErrorKind};
use josekit::jws::JwsHeader;
use josekit::jwt::JwtPayload;
use openidconnect::core::CoreClient;
use openidconnect::{AuthType, ClientSecret};
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, SystemTime};

/// The `client_assertion_type` of RFC 7523.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The client's credentials and how to present them.
pub struct ClientAuth {
    client_id: String,
    method: AuthMethod,
    secret: Option<SecretString>,
    key: Option<PrivateKey>,
    /// FAPI 2.0: every assertion's `aud` is the issuer, as a string (not the endpoint).
    fapi_audience: Option<String>,
}

impl ClientAuth {
    /// From the validated `[oidc]` section (which has checked that the method's credential is
    /// there and that the key parses).
    pub fn new(config: &OidcConfig) -> Self {
        ClientAuth {
            client_id: config.client_id.clone(),
            method: config.auth_method,
            secret: config.client_secret.clone(),
            key: config.private_key.clone(),
            fapi_audience: (config.profile == crate::config::OidcProfile::Fapi2)
                .then(|| config.issuer.clone()),
        }
    }

    /// The same credentials with another client secret (the secret file changed).
    pub fn with_secret(&self, secret: SecretString) -> Self {
        ClientAuth {
            client_id: self.client_id.clone(),
            method: self.method,
            secret: Some(secret),
            key: self.key.clone(),
            fapi_audience: self.fapi_audience.clone(),
        }
    }

    /// Configures an `oauth2` client for the token endpoint: the secret and where it goes
    /// (Basic or the body); for `private_key_jwt` and public clients the body carries the id.
    pub fn configure<A, D, I, R, T, U>(
        &self,
        client: CoreClient<A, D, I, R, T, U>,
    ) -> CoreClient<A, D, I, R, T, U>
    where
        A: openidconnect::EndpointState,
        D: openidconnect::EndpointState,
        I: openidconnect::EndpointState,
        R: openidconnect::EndpointState,
        T: openidconnect::EndpointState,
        U: openidconnect::EndpointState,
    {
        let secret = self
            .secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose_secret().to_string()));
        match (self.method, secret) {
            (AuthMethod::ClientSecretBasic, Some(secret)) => client
                .set_client_secret(secret)
                .set_auth_type(AuthType::BasicAuth),
            (AuthMethod::ClientSecretPost, Some(secret)) => client
                .set_client_secret(secret)
                .set_auth_type(AuthType::RequestBody),
            _ => client.set_auth_type(AuthType::RequestBody),
        }
    }

    /// Form parameters a call to `audience` (the endpoint's URL) carries besides what
    /// [`ClientAuth::configure`] sets: the signed assertion for `private_key_jwt`, else none.
    pub fn extra_params(&self, audience: &str) -> Result<Vec<(String, String)>, Error> {
        match (&self.key, self.method) {
            (Some(key), AuthMethod::PrivateKeyJwt) => Ok(vec![
                ("client_assertion_type".into(), ASSERTION_TYPE.into()),
                ("client_assertion".into(), self.assertion(key, audience)?),
            ]),
            _ => Ok(Vec::new()),
        }
    }

    /// Authenticates a hand-built form request to `audience` (revocation): HTTP Basic, form
    /// fields, or the assertion, as configured.
    pub fn authenticate(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(String, String)>,
        audience: &str,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let secret = self.secret.as_ref().map(|s| s.expose_secret());
        let request = match (self.method, secret) {
            (AuthMethod::ClientSecretBasic, Some(secret)) => {
                request.basic_auth(form_encode(&self.client_id), Some(form_encode(secret)))
            }
            (AuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id".into(), self.client_id.clone()));
                form.push(("client_secret".into(), secret.to_string()));
                request
            }
            _ => {
                form.push(("client_id".into(), self.client_id.clone()));
                request
            }
        };
        form.extend(self.extra_params(audience)?);
        Ok(request)
    }

    /// A fresh, single-use assertion for `audience`, valid one minute.
    fn assertion(&self, key: &PrivateKey, audience: &str) -> Result<String, Error> {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(kid) = key.kid() {
            header.set_key_id(kid);
        }
        let now = SystemTime::now();
        let mut payload = JwtPayload::new();
        payload.set_issuer(&self.client_id);
        payload.set_subject(&self.client_id);
        match &self.fapi_audience {
            Some(issuer) => payload
                .set_claim("aud", Some(issuer.clone().into()))
                .map_err(|e| {
                    Error::new(ErrorKind::Internal, "cannot build the client assertion")
                        .with_source(e)
                })?,
            None => payload.set_audience(vec![audience]),
        }
        payload.set_jwt_id(crate::oidc::authorize::random_token(24));
        payload.set_issued_at(&now);
        payload.set_expires_at(&(now + Duration::from_secs(60)));
        josekit::jwt::encode_with_signer(&payload, &header, &**key.signer()).map_err(|e| {
            Error::new(ErrorKind::Internal, "cannot sign the client assertion").with_source(e)
        })
    }
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before HTTP Basic.
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
