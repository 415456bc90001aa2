//! `oidc.profile = "fapi2"`: the FAPI 2.0 Security Profile's requirements of a confidential
//! client, turned on where a setting can be turned on and refused (one line naming the key)
//! where the configuration contradicts them.
//!
//! Turned on: PAR always, DPoP. Refused: a client secret method or a public client (FAPI 2.0
//! allows `private_key_jwt` or mTLS client authentication), a private key
//! algorithm other than PS256/ES256, a DPoP algorithm other than ES256/EdDSA/PS256 (all three
//! are allowed), `par = "never"`, and endpoint overrides (endpoints come from metadata only).
//! At run time the profile also requires `iss` in the authorization response (RFC 9207),
//! restricts ID and logout token algorithms to PS256/ES256/EdDSA, and sends client assertions
//! with the issuer as their audience, as a string.

use crate::config::{AuthMethod, ConfigError, OidcConfig, OidcProfile, ParMode};

pub(super) fn apply_profile(mut config: OidcConfig) -> Result<OidcConfig, ConfigError> {
    if config.profile != OidcProfile::Fapi2 {
        return Ok(config);
    }
    let fapi = |key: &str, message: &str| {
        Err(ConfigError::new(
            key,
            format!("{message} (oidc.profile = \"fapi2\")"),
        ))
    };
    match config.auth_method {
        AuthMethod::PrivateKeyJwt
        | AuthMethod::TlsClientAuth
        | AuthMethod::SelfSignedTlsClientAuth => {}
        _ => {
            return fapi(
                "oidc.auth_method",
                "FAPI 2.0 needs private_key_jwt, tls_client_auth or self_signed_tls_client_auth",
            )
        }
    }
    if let Some(key) = &config.private_key {
        if !matches!(key.alg(), "PS256" | "ES256") {
            return fapi(
                "oidc.private_key_alg",
                "FAPI 2.0 allows PS256 or ES256 client assertions here",
            );
        }
    }
    if config.par == ParMode::Never {
        return fapi("oidc.par", "FAPI 2.0 needs pushed authorization requests");
    }
    let e = &config.endpoints;
    let overridden = [
        e.authorization.is_some(),
        e.token.is_some(),
        e.jwks.is_some(),
        e.userinfo.is_some(),
        e.revocation.is_some(),
        e.end_session.is_some(),
        e.par.is_some(),
    ];
    if overridden.iter().any(|o| *o) {
        return fapi(
            "oidc.endpoints",
            "FAPI 2.0 takes every endpoint from the SSO's metadata; remove the overrides",
        );
    }
    config.par = ParMode::Always;
    config.dpop = true;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::*;
    use crate::config::{OidcProfile, ParMode};

    /// A fresh P-256 key, made by the test (no key material in the repository).
    fn ec_key() -> String {
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        String::from_utf8(pair.to_pem_private_key()).unwrap()
    }

    fn fapi(extra: &str) -> String {
        let key = ec_key();
        base_toml().replace(
            "client_secret = \"s3cret\"",
            &format!(
                "profile = \"fapi2\"\nauth_method = \"private_key_jwt\"\nprivate_key_alg = \"ES256\"\nprivate_key = \"\"\"{key}\"\"\"\n{extra}"
            ),
        )
    }

    #[test]
    fn fapi2_turns_on_par_and_dpop_and_refuses_what_contradicts_it() {
        let config = from_toml(&fapi("")).unwrap();
        assert_eq!(config.oidc.profile, OidcProfile::Fapi2);
        assert_eq!(config.oidc.par, ParMode::Always);
        assert!(config.oidc.dpop);
        for (extra, key) in [
            ("par = \"never\"", "oidc.par"),
            (
                "[oidc.endpoints]\ntoken = \"https://sso.example.com/t\"",
                "oidc.endpoints",
            ),
        ] {
            let error = from_toml(&fapi(extra)).unwrap_err();
            assert_eq!(error.key, key, "{extra}: {error}");
            assert!(error.message.contains("fapi2"), "{error}");
        }
        let secret = base_toml().replace(
            "client_secret = \"s3cret\"",
            "client_secret = \"s3cret\"\nprofile = \"fapi2\"",
        );
        assert_eq!(from_toml(&secret).unwrap_err().key, "oidc.auth_method");
        let rs256 = fapi("").replace("private_key_alg = \"ES256\"", "private_key_alg = \"RS256\"");
        let error = from_toml(&rs256).unwrap_err();
        assert!(
            ["oidc.private_key_alg", "oidc.private_key"].contains(&error.key.as_str()),
            "{error}"
        );
    }

    #[test]
    fn mtls_methods_need_a_certificate_and_satisfy_fapi2() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "x").unwrap();
        std::fs::write(&key, "x").unwrap();
        let mtls = |extra: &str| {
            base_toml().replace(
                "client_secret = \"s3cret\"",
                &format!("auth_method = \"self_signed_tls_client_auth\"\n{extra}"),
            )
        };
        let error = from_toml(&mtls("")).unwrap_err();
        assert_eq!(error.key, "oidc.tls_client_cert_file", "{error}");
        let files = format!(
            "tls_client_cert_file = {:?}\ntls_client_key_file = {:?}",
            cert.to_str().unwrap(),
            key.to_str().unwrap()
        );
        assert!(from_toml(&mtls(&files)).is_ok());
        let config = from_toml(&mtls(&format!("{files}\nprofile = \"fapi2\""))).unwrap();
        assert!(config.oidc.dpop && config.oidc.par == ParMode::Always);
    }
}
