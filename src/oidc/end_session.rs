//! RP-initiated logout: the URL that ends the session at the SSO too.

use super::discovery::Provider;
use url::Url;

/// The end-session URL with `id_token_hint`, `post_logout_redirect_uri` and `state`, or `None`
/// when the provider has no end-session endpoint (then the app's own `/` is the way out).
///
/// The ID token in the URL is the standard hint (OIDC RP-Initiated Logout 1.0); it only ever
/// travels to the SSO, which issued it.
pub fn end_session_url(
    provider: &Provider,
    id_token: &str,
    client_id: &str,
    post_logout_redirect_uri: &str,
    state: &str,
) -> Option<String> {
    let mut url: Url = provider.endpoints.end_session.clone()?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("client_id", client_id)
        .append_pair("post_logout_redirect_uri", post_logout_redirect_uri)
        .append_pair("state", state);
    Some(url.into())
}
