//! The client for upstream APIs: hyper's pooled HTTP/1.1 client, keep-alive connections with
//! `TCP_NODELAY`, https through rustls with the web's root certificates. Used directly rather
//! than through reqwest: the relay already holds a parsed request and a canonical path, and
//! reqwest would parse the URL (IDNA included) and rebuild the request on every call.

use bytes::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::Duration;

/// The body type of relayed requests (poem's own body type).
pub type UpstreamBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// An idle upstream connection is kept this long for the next request.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// Connecting to an upstream may take this long (the route's timeout covers the whole wait).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pooled client, shared by all routes.
#[derive(Clone)]
pub struct Upstream {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, UpstreamBody>,
}

impl Upstream {
    /// Builds the client (no connection is made yet).
    pub fn new() -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(https);
        Upstream { client }
    }

    /// Sends `request` and waits for the response head.
    pub async fn send(
        &self,
        request: hyper::Request<UpstreamBody>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        self.client.request(request).await
    }
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream::new()
    }
}
