//! `[oidc]`: the SSO and our client registration at it.

use super::urls::require_https_off_loopback;
use crate::config::raw::RawOidc;
use crate::config::{AuthMethod, ConfigError, EndpointOverrides, OidcConfig, PrivateKey};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::Path;
use url::Url;

/// Authorize parameters the service sets itself; `extra_auth_params` may not override them.
const RESERVED_AUTH_PARAMS: &[&str] = &[
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "redirect_uri",
    "client_id",
    "response_type",
    "scope",
];

/// Validates `[oidc]`.
pub(super) fn validate_oidc(raw: RawOidc) -> Result<OidcConfig, ConfigError> {
    let RawOidc {
        issuer,
        client_id,
        client_secret,
        client_secret_file,
        auth_method,
        private_key,
        private_key_file,
        private_key_alg,
        private_key_id,
        tls_client_cert_file,
        tls_client_key_file,
        scopes,
        extra_auth_params,
        ca_file,
        endpoints,
        http_timeout,
        par,
        dpop,
        dpop_alg,
        profile,
    } = raw;
    let issuer = validate_issuer(issuer)?;
    validate_endpoints(&endpoints)?;
    let client_id = client_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ConfigError::new("oidc.client_id", "missing required key"))?;
    let client_secret = secret_from(
        "oidc.client_secret",
        client_secret,
        client_secret_file.as_deref(),
    )?
    .map(SecretString::from);
    let private_key_pem =
        secret_from("oidc.private_key", private_key, private_key_file.as_deref())?;
    let private_key = check_credentials(
        auth_method,
        client_secret.as_ref(),
        private_key_pem,
        private_key_alg,
        private_key_id,
    )?;
    check_client_certificate(
        auth_method,
        tls_client_cert_file.as_deref(),
        tls_client_key_file.as_deref(),
    )?;
    validate_scopes(&scopes)?;
    validate_extra_auth_params(&extra_auth_params)?;
    if let Some(ca_file) = &ca_file {
        if !ca_file.is_file() {
            return Err(ConfigError::new(
                "oidc.ca_file",
                format!("{} does not exist", ca_file.display()),
            ));
        }
    }
    let config = OidcConfig {
        issuer,
        client_id,
        client_secret,
        client_secret_file,
        auth_method,
        private_key,
        tls_client_cert_file,
        tls_client_key_file,
        scopes,
        extra_auth_params,
        ca_file,
        endpoints,
        http_timeout,
        par,
        dpop,
        dpop_alg,
        profile,
    };
    super::fapi::apply_profile(config)
}

/// Checks that `auth_method` has its credential: a client secret for the `client_secret_*`
/// methods, a private key that loads for `private_key_jwt` (returned ready to sign).
fn check_credentials(
    auth_method: AuthMethod,
    client_secret: Option<&SecretString>,
    private_key_pem: Option<String>,
    alg: String,
    kid: Option<String>,
) -> Result<Option<PrivateKey>, ConfigError> {
    match auth_method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            if client_secret.is_none() {
                return Err(ConfigError::new(
                    "oidc.client_secret",
                    "missing: required by the client_secret_* auth methods (or set client_secret_file)",
                ));
            }
            Ok(None)
        }
        AuthMethod::PrivateKeyJwt => {
            let pem = private_key_pem.ok_or_else(|| {
                ConfigError::new(
                    "oidc.private_key",
                    "missing: required by private_key_jwt (or set private_key_file)",
                )
            })?;
            PrivateKey::from_pem(&SecretString::from(pem), &alg, kid)
                .map(Some)
                .map_err(|message| ConfigError::new("oidc.private_key", message))
        }
        AuthMethod::None | AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth => {
            Ok(None)
        }
    }
}

/// The mTLS methods need a certificate and its key, both readable PEM (the pair is loaded, and
/// a mismatch refused, when the SSO client is built at startup).
fn check_client_certificate(
    auth_method: AuthMethod,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<(), ConfigError> {
    if !auth_method.is_mtls() {
        return Ok(());
    }
    for (name, path) in [
        ("oidc.tls_client_cert_file", cert),
        ("oidc.tls_client_key_file", key),
    ] {
        match path {
            None => {
                return Err(ConfigError::new(
                    name,
                    "missing: required by the mTLS auth methods",
                ))
            }
            Some(path) if !path.is_file() => {
                return Err(ConfigError::new(
                    name,
                    format!("{} does not exist", path.display()),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The issuer: required, an http(s) URL, https off loopback. Kept exactly as written, since
/// discovery's `issuer` must equal it byte for byte.
fn validate_issuer(issuer: Option<String>) -> Result<String, ConfigError> {
    let issuer = issuer.ok_or_else(|| ConfigError::new("oidc.issuer", "missing required key"))?;
    let issuer_url = Url::parse(&issuer)
        .map_err(|e| ConfigError::new("oidc.issuer", format!("`{issuer}` is not a URL ({e})")))?;
    if !matches!(issuer_url.scheme(), "http" | "https") || issuer_url.host_str().is_none() {
        return Err(ConfigError::new(
            "oidc.issuer",
            format!("`{issuer}` must be an http(s) URL"),
        ));
    }
    require_https_off_loopback("oidc.issuer", &issuer)?;
    Ok(issuer)
}

/// Every overridden endpoint uses https off loopback.
fn validate_endpoints(endpoints: &EndpointOverrides) -> Result<(), ConfigError> {
    for (name, url) in [
        ("authorization", &endpoints.authorization),
        ("token", &endpoints.token),
        ("jwks", &endpoints.jwks),
        ("userinfo", &endpoints.userinfo),
        ("revocation", &endpoints.revocation),
        ("end_session", &endpoints.end_session),
        ("par", &endpoints.par),
    ] {
        if let Some(url) = url {
            require_https_off_loopback(&format!("oidc.endpoints.{name}"), url.as_str())?;
        }
    }
    Ok(())
}

/// This is an OpenID Connect client: without `openid` there is no ID token.
fn validate_scopes(scopes: &[String]) -> Result<(), ConfigError> {
    if !scopes.iter().any(|s| s == "openid") {
        return Err(ConfigError::new(
            "oidc.scopes",
            "must include `openid` (this is an OpenID Connect client)",
        ));
    }
    Ok(())
}

/// No extra parameter may override one the protocol depends on.
fn validate_extra_auth_params(params: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    match RESERVED_AUTH_PARAMS
        .iter()
        .find(|reserved| params.contains_key(**reserved))
    {
        Some(reserved) => Err(ConfigError::new(
            format!("oidc.extra_auth_params.{reserved}"),
            "is set by the service itself and cannot be overridden",
        )),
        None => Ok(()),
    }
}

/// Takes a secret from its inline key or its `*_file` key, never both.
fn secret_from(
    key: &str,
    inline: Option<String>,
    file: Option<&Path>,
) -> Result<Option<String>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            key,
            format!("set either `{key}` or `{key}_file`, not both"),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| {
                ConfigError::new(
                    format!("{key}_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            }),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;
    use secrecy::ExposeSecret;

    #[test]
    fn non_url_issuer_names_the_key() {
        let text = base_toml().replace("https://sso.example.com/oidc/app-stg", "not a url");
        assert_eq!(from_toml(&text).unwrap_err().key, "oidc.issuer");
    }

    #[test]
    fn client_secret_is_required_for_secret_methods_but_not_for_public_clients() {
        let text = base_toml().replace("client_secret = \"s3cret\"", "");
        assert_eq!(from_toml(&text).unwrap_err().key, "oidc.client_secret");
        let text = text.replace("[oidc]", "[oidc]\nauth_method = \"none\"");
        assert!(from_toml(&text).is_ok());
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "from-file\n").unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(&keys, format!("{KEY}\n")).unwrap();
        let text = base_toml()
            .replace(
                "client_secret = \"s3cret\"",
                &format!("client_secret_file = {:?}", secret.to_str().unwrap()),
            )
            .replace(
                &format!("keys = [\"{KEY}\"]"),
                &format!("keys_file = {:?}", keys.to_str().unwrap()),
            );
        let config = from_toml(&text).unwrap();
        assert_eq!(
            config.oidc.client_secret.unwrap().expose_secret(),
            "from-file"
        );
        assert_eq!(config.session.keys.len(), 1);
    }

    #[test]
    fn private_key_jwt_loads_its_key_once_and_names_the_key_when_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("key.pem");
        let key_pair = josekit::jws::ES256.generate_key_pair().unwrap();
        std::fs::write(&pem, key_pair.to_pem_private_key()).unwrap();
        let pkjwt = |extra: &str| {
            base_toml().replace(
                "client_secret = \"s3cret\"",
                &format!(
                    "auth_method = \"private_key_jwt\"\nprivate_key_file = {:?}\n{extra}",
                    pem.to_str().unwrap()
                ),
            )
        };
        let config = from_toml(&pkjwt(
            "private_key_alg = \"ES256\"\nprivate_key_id = \"k1\"",
        ))
        .unwrap();
        let key = config.oidc.private_key.expect("a ready key");
        assert_eq!((key.alg(), key.kid()), ("ES256", Some("k1")));
        let error = from_toml(&pkjwt("")).unwrap_err();
        assert_eq!(error.key, "oidc.private_key");
        assert_eq!(error.message, "not an RSA private key in PEM form");
    }
}
