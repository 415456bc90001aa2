//! ID token validation: signature against the cached JWKS (refetched once on an unknown `kid`),
//! `iss`, `aud`, `azp`, `exp` and the `nonce` of the login. RS256, PS256 and ES256 (and their
//! larger siblings) are accepted; `none` and the HMAC algorithms are not.

use super::Sso;
use crate::error::{Error, ErrorKind};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{ClaimsVerificationError, ClientId, Nonce, SignatureVerificationError};
use std::str::FromStr;

/// Which nonce the token must carry.
pub enum ExpectedNonce<'a> {
    /// At login: exactly this one.
    Exactly(&'a str),
    /// At refresh: none is required (OIDC Core 12.2).
    Any,
}

const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

/// What FAPI 2.0 allows (section 5.4): PS256, ES256, EdDSA.
const FAPI2_ALGS: [CoreJwsSigningAlgorithm; 3] = [
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EdDsa,
];

impl Sso {
    /// Validates `raw` and returns its subject. On an unknown `kid` the JWKS is refetched (rate
    /// limited) and the check runs once more.
    #[tracing::instrument(name = "oidc.id_token", skip_all)]
    pub async fn verify_id_token(
        &self,
        raw: &str,
        nonce: ExpectedNonce<'_>,
        expected_subject: Option<&str>,
    ) -> Result<String, Error> {
        let invalid = |why: String| {
            Error::new(ErrorKind::InvalidIdToken, "the ID token is invalid")
                .with_source(anyhow::anyhow!(why))
        };
        let token = CoreIdToken::from_str(raw).map_err(|_| invalid("malformed".into()))?;
        let provider = self.provider().await?;
        let mut result = self.check(&token, &provider.jwks, &nonce);
        if matches!(
            result,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        ) {
            if let Some(provider) = self.refetch_keys().await {
                result = self.check(&token, &provider.jwks, &nonce);
            }
        }
        let subject = result.map_err(|e| invalid(e.to_string()))?;
        if expected_subject.is_some_and(|expected| expected != subject) {
            return Err(invalid(
                "the refreshed ID token names another subject".into(),
            ));
        }
        Ok(subject)
    }

    fn check(
        &self,
        token: &CoreIdToken,
        jwks: &openidconnect::core::CoreJsonWebKeySet,
        nonce: &ExpectedNonce<'_>,
    ) -> Result<String, ClaimsVerificationError> {
        let issuer = super::authorize::issuer_url(&self.config.issuer)
            .map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(self.config.client_id.clone()),
            issuer,
            jwks.clone(),
        )
        .set_allowed_algs(
            if self.config.profile == crate::config::OidcProfile::Fapi2 {
                FAPI2_ALGS.to_vec()
            } else {
                ALLOWED_ALGS.to_vec()
            },
        );
        let claims = match nonce {
            ExpectedNonce::Exactly(expected) => {
                token.claims(&verifier, &Nonce::new(expected.to_string()))?
            }
            ExpectedNonce::Any => token.claims(&verifier, |_: Option<&Nonce>| Ok(()))?,
        };
        Ok(claims.subject().as_str().to_string())
    }
}
