//! The listener: HTTP/1.1 connections with limits an attacker cannot talk around. A request
//! head larger than `server.max_head_bytes` (or with more than [`MAX_HEADERS`] fields) is
//! answered 431; a head that does not arrive within `server.header_timeout` closes the
//! connection, and so does a keep-alive connection idle that long (hyper starts the head timer
//! when it begins waiting for the next request); at most `server.max_connections` are served
//! at once; running out of file descriptors backs off instead of spinning; a handler that
//! panics answers 500 on its own request and takes nothing else down.

use crate::config::ServerConfig;
use crate::error::Problem;
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::http::StatusCode;
use poem::web::{LocalAddr, RemoteAddr};
use poem::Addr;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

/// Most header fields in one request head; more is answered 431.
pub const MAX_HEADERS: usize = 100;

/// The body type hyper writes, as poem produces it.
type ResponseBody = http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>;

/// What the listener hands each request to: the whole service, middleware included.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request; errors are answers too.
    fn handle(self: Arc<Self>, req: poem::Request) -> impl Future<Output = poem::Response> + Send;
}

/// How the listener treats connections; from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request head (request line and headers).
    pub max_head_bytes: usize,
    /// Time to receive a request head, and the longest idle keep-alive.
    pub header_timeout: Duration,
    /// Connections served at once; beyond it, new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// On shutdown, how long in-flight requests and streams may still run.
    pub drain_timeout: Duration,
}

impl Limits {
    /// The limits configured in `[server]`.
    pub fn from_config(server: &ServerConfig) -> Self {
        Limits {
            max_head_bytes: server.max_head_bytes,
            header_timeout: server.header_timeout,
            max_connections: server.max_connections,
            drain_timeout: server.shutdown_timeout,
        }
    }
}

/// Serves `handler` on `listener` until `shutdown` completes; then stops accepting, lets
/// in-flight requests finish for up to `limits.drain_timeout`, and returns.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.reset();
                accepted
            }
            Err(error) => {
                backoff.wait(&error).await;
                continue;
            }
        };
        let handler = handler.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            serve_connection(stream, local, peer, handler, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    connections.close();
    if tokio::time::timeout(limits.drain_timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "shutdown: connections still open after the drain timeout; closing them"
        );
    }
    Ok(())
}

/// Waits after a failed `accept`. Running out of file descriptors (or memory, or buffers)
/// makes every `accept` fail at once until a connection closes: without a pause the loop would
/// spin a core and flood the log. Per-connection failures are retried at once.
#[derive(Default)]
struct Backoff {
    delay: Option<Duration>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_secs(1);

    fn reset(&mut self) {
        if self.delay.take().is_some() {
            tracing::info!("accepting connections again");
        }
    }

    async fn wait(&mut self, error: &std::io::Error) {
        use std::io::ErrorKind::*;
        if matches!(
            error.kind(),
            ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
        ) {
            return;
        }
        let delay = match self.delay {
            None => {
                tracing::warn!(error = %error, "cannot accept connections; backing off");
                Self::FIRST
            }
            Some(delay) => (delay * 2).min(Self::MOST),
        };
        self.delay = Some(delay);
        tokio::time::sleep(delay).await;
    }
}

async fn serve_connection<H: Handler>(
    stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    handler: Arc<H>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let local = LocalAddr(Addr::SocketAddr(local));
    let remote = RemoteAddr(Addr::SocketAddr(peer));
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let handler = handler.clone();
        let request: poem::Request = (
            request,
            local.clone(),
            remote.clone(),
            poem::http::uri::Scheme::HTTP,
        )
            .into();
        async move {
            let response = AssertUnwindSafe(handler.handle(request))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    tracing::error!("a request handler panicked; answered 500");
                    Problem::from_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
                });
            Ok::<_, Infallible>(hyper::Response::<ResponseBody>::from(response))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_head_bytes.max(8192))
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
    // Shutting down: finish the request in flight (a stream included), then close.
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}
