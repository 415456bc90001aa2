//! Wires configuration, state and endpoints into one poem application; the one place to see
//! every path the service answers.

use crate::api::{AdminApi, BackchannelApi, BffApi};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Problem};
use crate::headers::ResponseClass;
use crate::observe::Facts;
use crate::spec::{Rendered, ServedSpec};
use crate::state::AppState;
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, Request, Response, Route};
use poem_openapi::OpenApiService;
use std::future::Future;
use std::sync::Arc;

/// The OpenAPI service describing the BFF's own endpoints.
pub fn openapi_service() -> OpenApiService<(BffApi, BackchannelApi, AdminApi), ()> {
    OpenApiService::new(
        (BffApi, BackchannelApi, AdminApi),
        "oidc-bff",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "A stateless Backend-for-Frontend: OpenID Connect sign-in with PKCE, tokens sealed \
             in an httpOnly cookie, and an API relay. The session travels in the `__Host-bff` \
             cookie (chunked as `__Host-bff.0..n` when large); unsafe methods need the \
             `X-XSRF-TOKEN` header matching the `XSRF-TOKEN` cookie.",
    )
}

/// The BFF's own OpenAPI document as JSON: printed by `oidc-bff openapi`, committed in
/// `openapi/`, and served at `/openapi.json` when no route declares an upstream document.
pub fn spec_json() -> String {
    crate::spec::served::render_json(&spec_document())
}

/// The same as YAML (`oidc-bff openapi --yaml`, `/openapi.yaml`).
pub fn spec_yaml() -> String {
    crate::spec::served::render_yaml(&spec_document())
}

/// The BFF's own document with every route's upstream document read once and merged in
/// (`oidc-bff openapi --merged`), and the documents left out with their reasons.
pub async fn merged_spec(
    routes: &crate::routes::RouteTable,
) -> (serde_json::Value, Vec<crate::spec::LeftOut>) {
    crate::spec::merge_once(&spec_document(), routes).await
}

/// poem-openapi's document plus the session cookie security scheme. The scheme is declared
/// here rather than through poem-openapi's extractors, which would demand one cookie of a fixed
/// name: the session may be chunked (`__Host-bff.0..n`), its name is configurable, and
/// `/api/session` must answer without it.
pub fn spec_document() -> serde_json::Value {
    use crate::spec::SESSION_SCHEME;
    use serde_json::json;
    let mut doc: serde_json::Value =
        serde_json::from_str(&openapi_service().spec()).unwrap_or_default();
    doc["components"]["securitySchemes"][SESSION_SCHEME] = json!({
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-bff",
        "description": "The sealed session (AEAD-encrypted, httpOnly), set by /api/callback. \
            Chunked as __Host-bff.0..n when large; the name follows session.cookie_name. \
            Browsers send it by themselves: clients never handle it.",
    });
    let needs_session = json!([{ SESSION_SCHEME: [] }]);
    let optional_session = json!([{}, { SESSION_SCHEME: [] }]);
    for (path, method, security) in [
        ("/api/session", "get", &optional_session),
        ("/api/logout", "post", &optional_session),
        ("/api/logout", "get", &needs_session),
    ] {
        if let Some(operation) = doc["paths"][path].get_mut(method) {
            operation["security"] = security.clone();
        }
    }
    doc
}

/// A built application, bound to its port and ready to run.
pub struct App {
    listener: tokio::net::TcpListener,
    port: u16,
    state: Arc<AppState>,
    service: Arc<Service>,
    spec: Arc<ServedSpec>,
}

impl App {
    /// Builds the state, binds the listener (port 0 picks a free one) and starts loading the
    /// SSO's metadata and the upstreams' OpenAPI documents in the background.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let bind = config.server.bind;
        let state = Arc::new(AppState::new(config)?);
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(state.sso.clone().load_until_ready());
        crate::reload::spawn(state.clone());
        if let Some(store) = &state.store {
            store.start();
        }
        let spa = match &state.config.server.static_dir {
            Some(dir) => Some(crate::spa::SpaEndpoint::new(dir)?),
            None => None,
        };
        let own = spec_document();
        let spec = Arc::new(ServedSpec::new(&own));
        crate::spec::spawn_loader(own, state.config.routes.clone(), spec.clone());
        let service = service(state.clone(), spa, spec.clone());
        Ok(App {
            listener,
            port,
            state,
            service,
            spec,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests inspect it).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// The OpenAPI document being served (the upstreams' documents are merged into it in the
    /// background).
    pub fn spec(&self) -> Arc<ServedSpec> {
        self.spec.clone()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let limits = crate::server::Limits::from_config(&self.state.config.server);
        crate::server::serve(self.listener, self.service, limits, shutdown).await
    }

    /// Serves until `signal` (SIGTERM) arrives, then shuts down in the order a load balancer
    /// needs: `/readyz` turns 503 at once; new connections are still accepted for
    /// `server.shutdown_delay`, so the balancer notices and stops sending; then the listener
    /// closes and in-flight requests and streams get up to `server.shutdown_timeout`.
    pub async fn run_until_signal(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let delay = state.config.server.shutdown_delay;
        self.run_until(async move {
            signal.await;
            state.start_draining();
            tracing::info!(
                delay = %humantime::format_duration(delay),
                "shutting down: not ready any more; still accepting until the delay ends"
            );
            tokio::time::sleep(delay).await;
            tracing::info!("shutting down: listener closed; draining in-flight requests");
        })
        .await
    }
}

/// Every path of the service. A request is dispatched once: `TRACE` and `CONNECT` are refused;
/// a path the route table claims (judged on its canonical spelling) is relayed; with `spa`,
/// reads outside `/api/` and our own paths serve the app; everything else is the BFF's API.
/// `/openapi.json`, `/openapi.yaml` and `/docs` answer whatever `spec` holds at the time.
pub fn service(
    state: Arc<AppState>,
    spa: Option<crate::spa::SpaEndpoint>,
    spec: Arc<ServedSpec>,
) -> Arc<Service> {
    let api = openapi_service();
    let metrics_state = state.clone();
    let served = |content_type: &'static str, form: fn(&Rendered) -> &String| {
        let spec = spec.clone();
        poem::endpoint::make_sync(move |_| {
            Response::builder()
                .content_type(content_type)
                .body(form(&spec.current()).clone())
        })
    };
    let docs = Route::new().at("/", served("text/html; charset=utf-8", |r| &r.docs));
    let route = Route::new()
        .nest("/docs", docs)
        .at(
            "/openapi.json",
            served("application/json; charset=utf-8", |r| &r.json),
        )
        .at(
            "/openapi.yaml",
            served("application/x-yaml; charset=utf-8", |r| &r.yaml),
        )
        .at(
            "/metrics",
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
                    .body(metrics_state.metrics.encode())
            }),
        )
        .nest("/", api);
    let own = Arc::new(Own {
        state: state.clone(),
        api: openapi_service().boxed(),
        rest: route.boxed(),
    });
    let spa = spa.map(Arc::new);
    let config = &state.config;
    // Cross-site mode only: an SPA on another site calls with credentials. Same-site
    // deployments answer no CORS at all (the Origin check still applies).
    let cors = (!config.cors.allowed_origins.is_empty()).then(|| {
        let cors = poem::middleware::Cors::new()
            .allow_origin(config.server.public_url.as_str())
            .allow_origins(config.cors.allowed_origins.iter().map(String::as_str))
            .allow_credentials(true)
            .allow_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
            .allow_headers(["content-type", "accept", "x-xsrf-token", "x-request-id"])
            .expose_headers(["x-request-id"])
            .max_age(600);
        let (state, own, spa) = (state.clone(), own.clone(), spa.clone());
        poem::endpoint::make(move |req: Request| {
            let (state, own, spa) = (state.clone(), own.clone(), spa.clone());
            async move {
                let facts = Facts::of(&req).cloned();
                dispatch(&state, &own, spa.as_deref(), facts.as_ref(), req).await
            }
        })
        .with(cors)
        .boxed()
    });
    Arc::new(Service {
        headers: crate::headers::SecurityHeaders::new(&config.server),
        state,
        own,
        spa,
        cors,
    })
}

/// The whole service behind the listener. What every answer needs is done here in a fixed
/// order, as plain calls rather than a chain of poem middleware (whose boxed layers cost a
/// measurable share of a relayed request): the request's id, span and facts → its cookies →
/// the dispatch (behind CORS in cross-site mode) → errors as problem+json → the queued
/// cookies → the security headers → the id, the metrics and the access-log line.
pub struct Service {
    state: Arc<AppState>,
    own: Arc<Own>,
    spa: Option<Arc<crate::spa::SpaEndpoint>>,
    cors: Option<BoxEndpoint<'static>>,
    headers: crate::headers::SecurityHeaders,
}

impl Service {
    /// Answers one request; errors are answers too.
    pub async fn handle(self: Arc<Self>, mut req: Request) -> Response {
        let metrics = &self.state.metrics;
        let observation = crate::observe::Observation::start(metrics, &mut req);
        // Boxed once here: the answer's future is a few kilobytes, and each wrapper around it
        // (span, task-local, the listener's panic guard) would otherwise copy all of it.
        let mut response = observation.run(Box::pin(self.respond(req))).await;
        observation.finish(metrics, &mut response);
        response
    }

    async fn respond(&self, mut req: Request) -> Response {
        let facts = Facts::of(&req).cloned();
        let out = crate::cookies::attach(&mut req);
        let answer = match &self.cors {
            Some(cors) => cors.call(req).await,
            None => {
                let spa = self.spa.as_deref();
                dispatch(&self.state, &self.own, spa, facts.as_ref(), req).await
            }
        };
        let mut response = answer.unwrap_or_else(problem_for);
        crate::cookies::write_out(&out, &mut response);
        let class = facts
            .as_deref()
            .map_or(ResponseClass::Bff, Facts::response_class);
        self.headers.set(&mut response, class);
        response
    }
}

impl crate::server::Handler for Service {
    fn handle(self: Arc<Self>, req: Request) -> impl Future<Output = Response> + Send {
        Service::handle(self, req)
    }
}

/// The BFF's own endpoints. Its API (`/api/...`) goes straight to poem-openapi's routes; the
/// rest (docs, the spec, metrics, probes) goes through a route tree that nests the same API at
/// `/` for the probes. Both lead to the same handlers: the shortcut only spares the API's
/// requests a route lookup and a nesting layer, each moving the whole request. `GET
/// /api/session`, the call every SPA load makes, skips poem-openapi's layers too.
///
/// Only these endpoints read the state from the request's extensions (poem-openapi's `Data`),
/// so only their requests get it: the relay is handed the state directly and spares the
/// insertion (a box, and the extension map's growth).
struct Own {
    state: Arc<AppState>,
    api: BoxEndpoint<'static>,
    rest: BoxEndpoint<'static>,
}

impl Own {
    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        req.extensions_mut().insert(self.state.clone());
        if req.uri().path().starts_with("/api/") {
            if let Some(answer) = crate::api::session_direct(&req).await {
                return answer;
            }
            self.api.call(req).await
        } else {
            self.rest.call(req).await
        }
    }
}

/// The largest body the BFF's own endpoints read (only the back-channel logout form has one;
/// relayed bodies stream and are not limited here).
const OWN_BODY_LIMIT: u64 = 64 * 1024;

/// Bounds what an own endpoint may read: a declared length over the limit is refused at once
/// (413); an undeclared one is cut at the limit, which fails the parse (400).
fn limit_body(mut req: Request) -> poem::Result<Request> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > OWN_BODY_LIMIT) {
        return Err(Error::new(ErrorKind::PayloadTooLarge, "the body is too large").into());
    }
    if declared.is_none()
        && req
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING)
    {
        use tokio::io::AsyncReadExt;
        let body = req.take_body().into_async_read().take(OWN_BODY_LIMIT);
        req.set_body(poem::Body::from_async_read(body));
    }
    Ok(req)
}

/// Sends one request where it belongs (see [`service`]), recording in `facts` (the request's,
/// looked up once by the caller) its route label and what answered it.
async fn dispatch(
    state: &AppState,
    own: &Own,
    spa: Option<&crate::spa::SpaEndpoint>,
    facts: Option<&Arc<Facts>>,
    req: Request,
) -> poem::Result<Response> {
    use crate::routes::Dispatch;
    if matches!(
        *req.method(),
        poem::http::Method::TRACE | poem::http::Method::CONNECT
    ) {
        return Ok(Problem::from_status(StatusCode::METHOD_NOT_ALLOWED).into_response());
    }
    let label = |label| {
        if let Some(facts) = facts {
            facts.route(label);
        }
    };
    let answered_by = |class| {
        if let Some(facts) = facts {
            facts.answered_by(class);
        }
    };
    match state.config.routes.dispatch(req.uri().path()) {
        Dispatch::Route(route, path) => {
            label(route.label.clone());
            // Boxed, as the app's and our own endpoints' below: these futures are kilobytes,
            // and the dispatcher's own would otherwise be as large as the largest of them and
            // copied whole with every wrapper, whichever branch a request takes.
            let response = Box::pin(crate::relay::relay(state, route, path, facts, req))
                .await
                .map_err(poem::Error::from)?;
            answered_by(ResponseClass::Relayed);
            Ok(response)
        }
        Dispatch::Refused(rejection) => {
            let status = match rejection {
                crate::routes::path::PathRejection::TooLong => ErrorKind::UriTooLong,
                _ => ErrorKind::BadRequest,
            };
            Err(Error::new(status, rejection.reason()).into())
        }
        Dispatch::NotRouted => match spa {
            Some(spa) if crate::spa::SpaEndpoint::claims(&req) => {
                label(crate::observe::own_label("", true));
                let response = Box::pin(spa.call(req)).await?;
                answered_by(ResponseClass::App);
                Ok(response)
            }
            _ => {
                label(crate::observe::own_label(req.uri().path(), false));
                Box::pin(own.call(limit_body(req)?)).await
            }
        },
    }
}

/// Our own errors keep their response; anything else poem produced becomes problem+json.
fn problem_for(error: poem::Error) -> Response {
    if error.is::<crate::error::Error>() {
        return error.into_response();
    }
    let status = error.status();
    let mut problem = Problem::from_status(status);
    if status == StatusCode::BAD_REQUEST {
        problem.detail = error.to_string();
    }
    problem.into_response()
}
