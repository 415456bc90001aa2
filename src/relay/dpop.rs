//! DPoP on the relay (RFC 9449 section 7): a DPoP-bound access token goes as
//! `Authorization: DPoP <token>` with a fresh proof for this request (`htm`, `htu` = the
//! upstream URL without query, `ath`, a unique `jti`, `iat`), carrying the upstream's last
//! `DPoP-Nonce`. A `use_dpop_nonce` challenge is answered by sending the request once more with
//! the new nonce — when it has no body (a streamed body cannot be sent twice; the nonce of
//! every answer is remembered, so the next request carries it).

use crate::error::{Error, ErrorKind};
use crate::oidc::dpop::{is_nonce_challenge_header, DpopKey, DPOP};
use crate::session::Session;
use crate::state::AppState;
use crate::upstream::UpstreamBody;
use poem::http::{header, HeaderMap, HeaderValue, Method, Uri};
use std::sync::Arc;

/// What a proof for one relayed request needs.
#[derive(Clone)]
pub(super) struct Proof {
    key: DpopKey,
    access_token: String,
    url: url::Url,
}

impl Proof {
    /// A proof for `session`'s token to `url`, when the token is DPoP-bound.
    pub(super) fn of(session: &Arc<Session>, url: &str) -> Option<Proof> {
        let key = session.dpop.as_ref().filter(|k| k.bound)?;
        Some(Proof {
            key: key.clone(),
            access_token: session.access_token.expose(),
            url: url::Url::parse(url).ok()?,
        })
    }

    /// `Authorization: DPoP <token>`.
    pub(super) fn authorization(&self) -> Result<HeaderValue, Error> {
        HeaderValue::from_str(&format!("DPoP {}", self.access_token)).map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                "the access token cannot be sent in a header",
            )
        })
    }

    /// Signs a proof for `method` with the upstream's current nonce into `headers`.
    fn sign(
        &self,
        state: &AppState,
        method: &Method,
        headers: &mut HeaderMap,
    ) -> Result<(), Error> {
        let nonce = state.dpop_nonces.get(&self.url);
        let proof = self.key.proof(
            method.as_str(),
            &self.url,
            nonce.as_deref(),
            Some(&self.access_token),
        )?;
        let value = HeaderValue::from_str(&proof)
            .map_err(|e| Error::new(ErrorKind::Internal, "bad DPoP proof").with_source(e))?;
        headers.insert(DPOP, value);
        Ok(())
    }

    /// Adds the proof to the request about to be sent.
    pub(super) fn sign_into(
        &self,
        state: &AppState,
        request: &mut hyper::Request<UpstreamBody>,
    ) -> Result<(), Error> {
        let method = request.method().clone();
        self.sign(state, &method, request.headers_mut())
    }
}

/// What follows an upstream's answer to a DPoP request: its nonce is remembered, and a
/// bodiless request is kept to be sent again after a nonce challenge.
pub(super) struct Retry {
    proof: Proof,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    /// Whether the request can be sent again (it has no body).
    resendable: bool,
}

impl Retry {
    /// Keeps what it takes to send `request` again (when `resendable`).
    pub(super) fn of(
        proof: &Proof,
        request: &hyper::Request<UpstreamBody>,
        resendable: bool,
    ) -> Retry {
        Retry {
            proof: proof.clone(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: if resendable {
                request.headers().clone()
            } else {
                HeaderMap::new()
            },
            resendable,
        }
    }

    /// Remembers the upstream's nonce; when its answer is the nonce challenge, the request to
    /// send again (with a proof carrying the nonce).
    pub(super) fn after<B>(
        &self,
        state: &AppState,
        response: &hyper::Response<B>,
    ) -> Result<Option<hyper::Request<UpstreamBody>>, Error> {
        let nonce = self.remember(state, response);
        if !self.resendable
            || nonce.is_none()
            || !is_nonce_challenge_header(response.status(), response.headers())
        {
            return Ok(None);
        }
        let mut headers = self.headers.clone();
        self.proof.sign(state, &self.method, &mut headers)?;
        headers.remove(header::CONTENT_LENGTH);
        let mut request = hyper::Request::new(UpstreamBody::from(poem::Body::empty()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = headers;
        Ok(Some(request))
    }

    /// Remembers the `DPoP-Nonce` of an upstream answer.
    pub(super) fn remember<B>(
        &self,
        state: &AppState,
        response: &hyper::Response<B>,
    ) -> Option<String> {
        state
            .dpop_nonces
            .remember(&self.proof.url, response.headers())
    }
}
