//! Logs and traces for the process, set up once at startup.
//!
//! - **Logs** go to stderr through a non-blocking writer (a request never waits for the
//!   terminal or the log collector), filtered by `BFF_LOG` (an `EnvFilter`, default `info`).
//!   `BFF_LOG_FORMAT=json` gives one JSON object per line, with the spans it happened in
//!   (so the request id is on every line of a request). Colours only on a terminal.
//! - **Traces**: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//!   set, spans are exported over OTLP/HTTP (protobuf), honouring the standard variables
//!   (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`,
//!   `OTEL_BSP_*`, ...). Unset, there is no exporter and no tracing layer: no cost.
//!   W3C `traceparent` from the caller is continued ([`continue_trace`]) and sent to upstreams
//!   ([`propagate`]).

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::sync::OnceLock;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Whether spans are exported (set once at startup).
static EXPORTING: OnceLock<bool> = OnceLock::new();

/// Keeps the log writer and the span exporter alive; dropping it flushes both.
pub struct Telemetry {
    _log_writer: tracing_appender::non_blocking::WorkerGuard,
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Whether an OTLP endpoint is configured in the environment.
fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Sets up logging and, when configured, trace export. Call once, keep the result until exit.
pub fn init() -> Telemetry {
    let filter = EnvFilter::try_from_env("BFF_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("BFF_LOG_FORMAT").is_ok_and(|f| f == "json");
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // 16k queued lines (not the default 128k, a preallocated 4 MiB): a burst of a second at
    // full speed; beyond it lines are dropped rather than the request path blocked.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(16_384)
        .lossy(true)
        .finish(std::io::stderr());
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed()
    };
    let traces = otlp_configured().then(tracer_provider).flatten();
    let _ = EXPORTING.set(traces.is_some());
    let otel = traces
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("oidc-bff")));
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(otel)
        .init();
    Telemetry {
        _log_writer: guard,
        traces,
    }
}

/// The OTLP/HTTP exporter and its batch processor, configured from the standard variables.
fn tracer_provider() -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("OpenTelemetry: cannot build the OTLP exporter ({error}); traces are off");
            return None;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(
            std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "oidc-bff".to_string()),
        )
        .build();
    Some(
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

/// Whether spans are being exported (then trace context is continued and propagated).
pub fn exporting() -> bool {
    EXPORTING.get().copied().unwrap_or(false)
}

struct Headers<'a>(&'a poem::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeadersMut<'a>(&'a mut poem::http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            poem::http::HeaderName::from_bytes(key.as_bytes()),
            poem::http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the caller's trace when the request carries a W3C `traceparent`.
pub fn continue_trace(span: &tracing::Span, headers: &poem::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !exporting() || !headers.contains_key("traceparent") {
        return;
    }
    let context = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(context);
}

/// Writes the current span's trace context (`traceparent`, `tracestate`) into `headers`, for
/// the upstream to continue the trace.
pub fn propagate(headers: &mut poem::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !exporting() {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeadersMut(headers));
}
