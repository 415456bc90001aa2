//! The floor of the relay benchmark: a plain hyper relay with no authentication, no cookie, no
//! headers rewritten and no logging, built on the same HTTP stack as oidc-bff (hyper's HTTP/1.1
//! server, tokio's multi-threaded runtime). `benches/relay.sh --floor` measures it beside
//! nginx and oidc-bff, so the report shows how much of the gap to nginx is the stack itself
//! rather than the BFF's work.
//!
//! `relay_floor LISTEN UPSTREAM [pooled|pinned]`, e.g. `relay_floor 127.0.0.1:9000
//! 127.0.0.1:9001 pooled`:
//! - `pooled`: every request goes through hyper-util's pooled client, as oidc-bff's relay does;
//! - `pinned`: each browser connection gets its own upstream connection, driven in the same
//!   task (no pool, no channel to a connection task).
//!
//! A measuring tool for loopback, not a server to deploy: it has no limits or timeouts, and a
//! failed `accept` ends it.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

type Body = BoxBody<Bytes, hyper::Error>;

/// The allocator oidc-bff's binary uses, so that the floor differs from it by the BFF's work only.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: relay_floor LISTEN UPSTREAM [pooled|pinned]";
    let listen = args.next().ok_or(usage)?;
    let upstream: Arc<str> = args.next().ok_or(usage)?.into();
    let pinned = match args.next().as_deref() {
        None | Some("pooled") => false,
        Some("pinned") => true,
        Some(_) => return Err(usage.into()),
    };
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build(http);
    let listener = TcpListener::bind(&listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            if pinned {
                let _ = serve_pinned(stream, &upstream).await;
            } else {
                serve_pooled(stream, client, upstream).await;
            }
        });
    }
}

fn upstream_request(request: hyper::Request<Incoming>, upstream: &str) -> hyper::Request<Body> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let path = path.replacen("/api/data/", "/bearer/", 1);
    parts.uri = format!("http://{upstream}{path}")
        .parse()
        .unwrap_or_default();
    parts.headers.insert(
        hyper::header::AUTHORIZATION,
        hyper::header::HeaderValue::from_static("Bearer floor"),
    );
    hyper::Request::from_parts(parts, body.boxed())
}

fn answer(result: Result<hyper::Response<Incoming>, String>) -> hyper::Response<Body> {
    match result {
        Ok(response) => response.map(BodyExt::boxed),
        Err(_) => {
            let mut response = hyper::Response::new(
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed(),
            );
            *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            response
        }
    }
}

async fn serve_pooled(stream: TcpStream, client: Client<impl Connect, Body>, upstream: Arc<str>) {
    let service = hyper::service::service_fn(move |request| {
        let request = upstream_request(request, &upstream);
        let client = client.clone();
        async move {
            let result = client.request(request).await.map_err(|e| e.to_string());
            Ok::<_, Infallible>(answer(result))
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

trait Connect: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static {}
impl<T: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static> Connect
    for T
{
}

async fn serve_pinned(stream: TcpStream, upstream: &str) -> Result<(), Box<dyn std::error::Error>> {
    let to = TcpStream::connect(upstream).await?;
    to.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(to)).await?;
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let upstream: Arc<str> = upstream.into();
    let service = hyper::service::service_fn(move |request| {
        let request = upstream_request(request, &upstream);
        let sender = sender.clone();
        async move {
            let mut sender = sender.lock().await;
            let result = match sender.ready().await {
                Ok(()) => sender
                    .send_request(request)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            Ok::<_, Infallible>(answer(result))
        }
    });
    let server =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // Both connections in this one task: the server ends when the browser goes, and dropping
    // the service (and with it the sender) ends the upstream connection.
    tokio::select! {
        _ = server => {}
        _ = connection => {}
    }
    Ok(())
}
