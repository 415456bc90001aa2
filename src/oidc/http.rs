//! Reading the SSO's answers with a limit. Every answer (discovery, keys, tokens, userinfo) is
//! read into memory to be parsed, so each is bounded: an SSO (or whatever answers in its place)
//! that sends megabytes gets an error, not the process's memory. Timeouts live on the shared
//! client (`oidc.http_timeout`).

use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

/// The largest answer read from the SSO. Real ones are a few KiB (a JWKS with many keys, a
/// token response with large JWTs): this leaves room for either.
pub const MAX_SSO_RESPONSE: usize = 1024 * 1024;

/// Remembers the `DPoP-Nonce` of `response` for the URL it answered (kept in its extensions
/// by [`execute`]).
fn remember_nonce(dpop: &DpopContext, response: &HttpResponse) -> Option<String> {
    let url = response.extensions().get::<url::Url>()?;
    dpop.nonces.remember(url, response.headers())
}

/// Adds a DPoP proof for `request` (its method and URL, the SSO's current nonce).
fn prove(
    dpop: &DpopContext,
    request: &mut reqwest::Request,
) -> Result<(), HttpClientError<reqwest::Error>> {
    let nonce = dpop.nonces.get(request.url());
    let proof = dpop
        .key
        .proof(
            request.method().as_str(),
            request.url(),
            nonce.as_deref(),
            None,
        )
        .map_err(|e| HttpClientError::Other(e.to_string()))?;
    let value = reqwest::header::HeaderValue::from_str(&proof)
        .map_err(|e| HttpClientError::Other(e.to_string()))?;
    request.headers_mut().insert(super::dpop::DPOP, value);
    Ok(())
}

/// Sends and reads the answer (bounded), remembering the URL for the nonce bookkeeping.
async fn execute(
    client: &reqwest::Client,
    request: reqwest::Request,
) -> Result<HttpResponse, HttpClientError<reqwest::Error>> {
    let url = request.url().clone();
    let response = client.execute(request).await.map_err(Box::new)?;
    let mut builder = openidconnect::http::Response::builder()
        .status(response.status())
        .version(response.version())
        .extension(url);
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = read_limited(response)
        .await
        .map_err(|e| HttpClientError::Other(e.to_string()))?;
    builder.body(body).map_err(HttpClientError::Http)
}

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The connection failed while reading.
    #[error("reading the answer failed: {0}")]
    Transport(reqwest::Error),
    /// More than [`MAX_SSO_RESPONSE`] bytes.
    #[error("the answer is larger than {MAX_SSO_RESPONSE} bytes")]
    TooLarge,
}

/// Reads `response`'s body, refusing more than [`MAX_SSO_RESPONSE`] bytes (announced or sent).
pub async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ReadError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_SSO_RESPONSE as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ReadError::Transport(e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_SSO_RESPONSE {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The shared client as the `openidconnect` crate's HTTP client, with [`read_limited`] bodies.
/// (It holds a clone of the client, a reference count, so its futures borrow nothing.) With a
/// DPoP context, each request carries a proof with the SSO's last nonce, and the nonce of each
/// answer is remembered (the grant retries a `use_dpop_nonce` refusal: a retry needs a fresh
/// client assertion too, which only the grant can make).
pub struct Bounded(pub reqwest::Client, pub Option<DpopContext>);

/// What a token request needs to prove possession: the session's key and the SSO's nonces.
#[derive(Clone)]
pub struct DpopContext {
    /// The session's key.
    pub key: super::dpop::DpopKey,
    /// The nonces the SSO handed out.
    pub nonces: std::sync::Arc<super::dpop::Nonces>,
}

type BoundedFuture =
    Pin<Box<dyn Future<Output = Result<HttpResponse, HttpClientError<reqwest::Error>>> + Send>>;

impl<'c> AsyncHttpClient<'c> for Bounded {
    type Error = HttpClientError<reqwest::Error>;
    type Future = BoundedFuture;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let client = self.0.clone();
        let dpop = self.1.clone();
        let request_id = crate::observe::current_request_id();
        Box::pin(async move {
            let mut request: reqwest::Request = request.try_into().map_err(Box::new)?;
            if let Some(id) = request_id {
                request.headers_mut().insert(crate::observe::REQUEST_ID, id);
            }
            let Some(dpop) = dpop else {
                return execute(&client, request).await;
            };
            prove(&dpop, &mut request)?;
            let response = execute(&client, request).await?;
            remember_nonce(&dpop, &response);
            Ok(response)
        })
    }
}
