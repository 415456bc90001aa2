//! The relay path in process: one authenticated GET through the whole endpoint (dispatch,
//! cookie layer, session guard with the opened-session cache, CSRF and roles, header hygiene,
//! the pooled upstream client, the streamed answer) to an upstream on loopback that answers at
//! once. No SSO is involved: the session's access token is not due. Run:
//! `cargo bench --bench relay_path`.
//!
//! Before the timings it prints how many heap allocations one request costs (the BFF's and
//! the in-process upstream's together): a count that, unlike a time, does not move with the
//! host's load, so a change to the path can be judged on a noisy machine too.

use criterion::{criterion_group, criterion_main, Criterion};
use oidc_bff::session::{now, CompactToken};
use std::sync::Arc;

#[path = "../tests/fixtures/tokens.rs"]
mod tokens;

/// The system allocator, counting the allocations made (reallocations included).
struct Counting;

static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::alloc::System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        std::alloc::System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::alloc::System.realloc(ptr, layout, size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations per call of `call`, over 1,000 calls (after the warm-up the caller did).
fn allocations_per_call(call: impl Fn()) -> f64 {
    let before = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..1000 {
        call();
    }
    (ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed) - before) as f64 / 1000.0
}

/// An upstream that answers every request with a small JSON body, keep-alive.
async fn upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(|_request| async {
                let body = http_body_util::Full::new(bytes::Bytes::from_static(b"{\"ok\":true}"));
                Ok::<_, std::convert::Infallible>(hyper::Response::new(body))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    address
}

fn config(upstream: std::net::SocketAddr) -> oidc_bff::Config {
    use figment::providers::{Format, Toml};
    let toml = format!(
        r#"
        [server]
        public_url = "https://app.example.com"
        [oidc]
        issuer = "https://sso.example.com/oidc/app"
        client_id = "app"
        client_secret = "s"
        [session]
        keys = ["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]
        [[routes]]
        prefix = "/api/data"
        upstream = "http://{upstream}/data"
        "#
    );
    oidc_bff::Config::from_figment("bench".into(), figment::Figment::from(Toml::string(&toml)))
        .expect("bench configuration")
}

fn relay(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (service, cookie) = runtime.block_on(async {
        let state = Arc::new(oidc_bff::state::AppState::new(config(upstream().await)).unwrap());
        let spec = Arc::new(oidc_bff::spec::ServedSpec::new(
            &oidc_bff::app::spec_document(),
        ));
        let mut session = tokens::session(tokens::realistic());
        session.login_at = now();
        session.last_seen = now() + 3600; // no idle slide during the run
        session.access_expires_at = now() + 3600;
        session.access_token = CompactToken::new(&tokens::jwt(1500, 0));
        let sealed = state
            .cookies
            .ring()
            .seal("__Host-bff", &session.to_bytes())
            .unwrap();
        // The CSRF cookie a browser holds beside the session, so that /api/session has no
        // cookie to set again.
        let csrf = state.cookies.csrf_token(&session);
        (
            oidc_bff::app::service(state, None, spec),
            format!("__Host-bff={sealed}; XSRF-TOKEN={csrf}"),
        )
    });
    // One GET of `uri` through the whole service with the session's cookies: its body.
    let get = |uri: &'static str| {
        let (service, cookie) = (&service, &cookie);
        async move {
            let request = poem::Request::builder()
                .uri(poem::http::Uri::from_static(uri))
                .header("cookie", cookie)
                .header("accept", "application/json")
                .finish();
            let response = service.clone().handle(request).await;
            assert_eq!(response.status(), 200);
            assert!(response.headers().get("set-cookie").is_none(), "{uri}");
            response.into_body().into_bytes().await.unwrap()
        }
    };
    let call = || get("/api/data/item?x=1");
    runtime.block_on(call()); // opens the cookie once: the runs below hit the cache
    let allocations = allocations_per_call(|| {
        runtime.block_on(call());
    });
    println!("relayed GET: {allocations:.1} allocations per request");
    c.bench_function(
        "relay one authenticated GET in process (upstream on loopback)",
        |b| b.iter(|| runtime.block_on(call())),
    );
    // The BFF's own most frequent call, through the same service: the opened-session cache,
    // the CSRF cookie check and the session described once.
    let session = || get("/api/session");
    let body = runtime.block_on(session());
    assert!(body.starts_with(b"{\"authenticated\":true"), "{body:?}");
    let allocations = allocations_per_call(|| {
        runtime.block_on(session());
    });
    println!("GET /api/session: {allocations:.1} allocations per request");
    c.bench_function("GET /api/session in process", |b| {
        b.iter(|| runtime.block_on(session()))
    });
}

criterion_group!(benches, relay);
criterion_main!(benches);
