//! Operations as an operator sees them, on the real binary where only a process shows it: a
//! request id end to end (response, upstream, SSO, every log line), JSON log lines without
//! secrets, OTLP spans received by a collector, metrics after a scripted scenario, a drain with
//! a live stream, and secret files reloaded without a restart.

use crate::binary::*;
use crate::helpers::*;
use crate::recorder::Recorder;
use oidc_bff::session::{now, CompactToken};
use reqwest::Method;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

/// The test configuration plus a route `/api/rec` to `recorder`, and `before` (sections that
/// must come first, like `[roles]`).
fn with_recorder(before: &str, recorder: &Recorder) -> String {
    format!(
        "{before}\n{}\n[[routes]]\nprefix = \"/api/rec\"\nupstream = \"{}/svc\"\n",
        config_toml(""),
        recorder.base
    )
}

/// Signs in as `user`, sending `headers` on the callback; returns the authorization code.
async fn sign_in_with(app: &mut TestApp, user: &str, headers: &[(&str, &str)]) -> String {
    let authorize = app.start_login("/home").await;
    let callback = app.authorize_at_sso(&authorize, user).await;
    let code = query_param(callback.as_str(), "code").unwrap();
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let response = app.request(Method::GET, &path, headers).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/home", "sign-in failed");
    code
}

fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line is not one JSON object ({e}): {line}"))
        })
        .collect()
}

/// The request id a JSON log line carries (in its `request` span).
fn request_id_of(line: &Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")?["request_id"]
        .as_str()
}

fn access_line<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["target"] == "access" && request_id_of(l) == Some(id))
        .unwrap_or_else(|| panic!("no access line for request {id}"))
}

/// Every secret a signed-in session holds, with the code that created it.
fn secrets_of(app: &TestApp, code: &str) -> Vec<(String, String)> {
    let session = app.sealed_session();
    let mut secrets = vec![
        ("authorization code".to_string(), code.to_string()),
        (
            "session cookie".to_string(),
            app.jar.cookies["__Host-bff"].clone(),
        ),
        ("client secret".to_string(), "bff-basic-secret".to_string()),
        ("session key".to_string(), KEY.to_string()),
    ];
    let mut token = |what: &str, token: &CompactToken| {
        let text = token.expose().to_string();
        for (i, part) in text.split('.').enumerate().filter(|(_, p)| p.len() >= 16) {
            secrets.push((format!("{what} part {i}"), part.to_string()));
        }
    };
    token("access token", &session.access_token);
    token("ID token", &session.id_token);
    if let Some(refresh) = &session.refresh_token {
        token("refresh token", refresh);
    }
    secrets
}

#[tokio::test]
async fn a_request_id_reaches_the_response_the_upstream_the_sso_and_every_json_log_line() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[]).await;
    let (binary, mut app) = start_binary_toml(
        &with_recorder("", &recorder),
        &[("BFF_LOG", "debug"), ("BFF_LOG_FORMAT", "json")],
        |_| {},
    )
    .await;
    let code = sign_in_with(&mut app, "alice", &[("x-request-id", "callback-id-1")]).await;
    let mut secrets = secrets_of(&app, &code);

    // A caller's id is kept, returned and passed on; the query stays out of the log.
    let response = app
        .request(
            Method::GET,
            "/api/rec/items?filter=QUERYMARKER77",
            &[("x-request-id", "relay-id-2")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "relay-id-2");
    secrets.push(("query string".into(), "QUERYMARKER77".into()));
    // An unacceptable id is replaced; none at all gets one too.
    let response = app
        .request(
            Method::GET,
            "/api/rec/items",
            &[("x-request-id", "spaces are not allowed")],
        )
        .await;
    let replaced = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(replaced.len(), 16, "{replaced}");
    let response = app.get("/api/session").await;
    assert_eq!(response.headers()["x-request-id"].len(), 16);
    // A refresh made for a request carries that request's id to the SSO.
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    let response = app
        .request(
            Method::GET,
            "/api/rec/again",
            &[("x-request-id", "refresh-id-3")],
        )
        .await;
    assert_eq!(response.status(), 200);
    secrets.extend(secrets_of(&app, &code));

    let seen: Vec<Option<String>> = recorder
        .requests()
        .iter()
        .map(|s| s.header("x-request-id").map(String::from))
        .collect();
    assert_eq!(
        seen,
        [
            Some("relay-id-2".to_string()),
            Some(replaced.clone()),
            Some("refresh-id-3".to_string())
        ]
    );
    let stats = sso().stats().await;
    let sso_saw = |path: &str, id: &str| {
        stats["requestIds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == path && r["id"] == id)
    };
    assert!(sso_saw("/token", "callback-id-1"), "the code exchange");
    assert!(sso_saw("/token", "refresh-id-3"), "the refresh");

    binary
        .wait_for_line(
            |l| l.contains("refresh-id-3") && l.contains("\"target\":\"access\""),
            LIMIT,
        )
        .await;
    let log = binary.log();
    let lines = json_lines(&log);
    for line in &lines {
        assert!(line["timestamp"].is_string(), "timestamp: {line}");
        assert!(line["level"].is_string(), "level: {line}");
        // A line written inside any of a request's spans names that request.
        let spans = line["spans"].as_array().map(Vec::len).unwrap_or(0);
        if spans > 0 && line["spans"][0]["name"] != "oidc.discovery" {
            assert!(request_id_of(line).is_some(), "no request id: {line}");
        }
    }
    for id in ["callback-id-1", "relay-id-2", "refresh-id-3"] {
        let count = lines
            .iter()
            .filter(|l| request_id_of(l) == Some(id))
            .count();
        assert!(
            count >= 2,
            "{id}: {count} lines (debug lines and the access line)"
        );
    }
    let refresh_lines = lines
        .iter()
        .filter(|l| request_id_of(l) == Some("refresh-id-3"))
        .filter(|l| {
            l["spans"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "oidc.refresh")
        })
        .count();
    assert!(
        refresh_lines >= 1,
        "the refresh task logs in its request's span"
    );

    let relay = access_line(&lines, "relay-id-2");
    let fields = &relay["fields"];
    assert_eq!(fields["route"], "/api/rec");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["upstream_status"], 200);
    assert!(fields["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(fields["upstream_ms"].as_f64().unwrap() > 0.0);
    let sub = fields["sub"].as_str().unwrap();
    assert!(
        sub.len() == 16 && sub.chars().all(|c| c.is_ascii_hexdigit()),
        "hashed subject: {sub}"
    );
    assert_eq!(
        access_line(&lines, "callback-id-1")["fields"]["route"],
        "/api/callback"
    );
    assert_eq!(access_line(&lines, "refresh-id-3")["fields"]["sub"], sub);

    for (what, value) in &secrets {
        assert!(!log.contains(value.as_str()), "{what} in the log");
    }
    assert!(
        !log.contains("\"alice\""),
        "the raw subject appears nowhere in the log"
    );
}

#[tokio::test]
async fn log_subject_plain_shows_the_raw_subject() {
    let _sso = shared_sso().await;
    let (binary, mut app) = start_binary_with(
        "[log]\nsubject = \"plain\"",
        &[("BFF_LOG_FORMAT", "json")],
        |_| {},
    )
    .await;
    app.login_as("bob").await;
    let response = app
        .request(Method::GET, "/api/session", &[("x-request-id", "plain-1")])
        .await;
    assert_eq!(response.status(), 200);
    binary
        .wait_for_line(|l| l.contains("plain-1") && l.contains("access"), LIMIT)
        .await;
    let lines = json_lines(&binary.log());
    assert_eq!(access_line(&lines, "plain-1")["fields"]["sub"], "bob");
}

/// A small OTLP/HTTP collector: decodes every export with `opentelemetry-proto`.
struct Collector {
    base: String,
    exports: Arc<Mutex<Vec<(poem::http::HeaderMap, ExportTraceServiceRequest)>>>,
}

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;

impl Collector {
    async fn start() -> Collector {
        use poem::listener::{Acceptor, Listener};
        let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let exports = Arc::new(Mutex::new(Vec::new()));
        let store = exports.clone();
        let endpoint = poem::endpoint::make(move |req: poem::Request| {
            let store = store.clone();
            async move {
                let path = req.uri().path().to_string();
                let headers = req.headers().clone();
                let body = req.into_body().into_bytes().await.unwrap_or_default();
                if path != "/v1/traces" {
                    return poem::Response::builder()
                        .status(poem::http::StatusCode::NOT_FOUND)
                        .finish();
                }
                let decoded = <ExportTraceServiceRequest as prost::Message>::decode(body.as_ref())
                    .expect("an OTLP protobuf export");
                store.lock().unwrap().push((headers, decoded));
                poem::Response::builder()
                    .content_type("application/x-protobuf")
                    .body(Vec::new())
            }
        });
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
        Collector {
            base: format!("http://127.0.0.1:{port}"),
            exports,
        }
    }

    fn spans(&self) -> Vec<Span> {
        self.exports
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, e)| e.resource_spans.iter())
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter().cloned())
            .collect()
    }

    /// Waits until the spans satisfy `done`.
    async fn wait(&self, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let start = std::time::Instant::now();
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                start.elapsed() < LIMIT,
                "spans received: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every text the exports hold outside span ids: names, attribute keys and values,
    /// resource attributes, event names and attributes.
    fn texts(&self) -> Vec<String> {
        fn value(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
            match v.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            }
        }
        let mut texts = Vec::new();
        for (_, export) in self.exports.lock().unwrap().iter() {
            for resource in &export.resource_spans {
                for kv in resource.resource.iter().flat_map(|r| &r.attributes) {
                    texts.push(format!("{}={}", kv.key, value(&kv.value)));
                }
                for span in resource.scope_spans.iter().flat_map(|s| &s.spans) {
                    texts.push(span.name.clone());
                    for kv in &span.attributes {
                        texts.push(format!("{}={}", kv.key, value(&kv.value)));
                    }
                    for event in &span.events {
                        texts.push(event.name.clone());
                        for kv in &event.attributes {
                            texts.push(format!("{}={}", kv.key, value(&kv.value)));
                        }
                    }
                }
            }
        }
        texts
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The span named `name` in trace `trace` that descends from `ancestor`.
fn descendant<'a>(
    spans: &'a [Span],
    trace: &[u8],
    ancestor: &Span,
    name: &str,
) -> Option<&'a Span> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace && s.name == name)
        .find(|s| {
            let mut parent = s.parent_span_id.clone();
            for _ in 0..16 {
                if parent == ancestor.span_id {
                    return true;
                }
                match spans.iter().find(|p| p.span_id == parent) {
                    Some(p) => parent = p.parent_span_id.clone(),
                    None => return false,
                }
            }
            false
        })
}

#[tokio::test]
async fn otlp_spans_form_the_request_tree_continue_the_callers_trace_and_carry_no_secret() {
    let _sso = shared_sso().await;
    let collector = Collector::start().await;
    let recorder = Recorder::start(&[]).await;
    let (binary, mut app) = start_binary_toml(
        &with_recorder("[roles]\nuserinfo = true", &recorder),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.base.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=test-123"),
            ("OTEL_SERVICE_NAME", "bff-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        |_| {},
    )
    .await;
    let trace_a = "4bf92f3577b34da6a3ce929d0e0e4736";
    let code = sign_in_with(
        &mut app,
        "alice",
        &[("traceparent", &format!("00-{trace_a}-00f067aa0ba902b7-01"))],
    )
    .await;
    let mut secrets = secrets_of(&app, &code);
    let trace_b = "0af7651916cd43dd8448eb211c80319c";
    let caller_span = "b7ad6b7169203331";
    let response = app
        .request(
            Method::GET,
            "/api/rec/items?filter=QUERYMARKER88",
            &[("traceparent", &format!("00-{trace_b}-{caller_span}-01"))],
        )
        .await;
    assert_eq!(response.status(), 200);
    secrets.push(("query string".into(), "QUERYMARKER88".into()));
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    let response = app.get("/api/rec/after-refresh").await;
    assert_eq!(response.status(), 200);
    secrets.extend(secrets_of(&app, &code));
    let csrf = app.csrf();
    let response = app
        .request(Method::POST, "/api/logout", &[("x-xsrf-token", &csrf)])
        .await;
    assert_eq!(response.status(), 200);

    let names = [
        "oidc.exchange",
        "oidc.userinfo",
        "oidc.refresh",
        "oidc.revoke",
        "oidc.jwks",
        "upstream",
    ];
    let spans = collector
        .wait(|spans| names.iter().all(|n| spans.iter().any(|s| s.name == *n)))
        .await;

    // The caller's trace is continued: the request span is the caller span's child, and the
    // upstream received a traceparent of the same trace naming one of our spans as parent.
    let trace_b_bytes = (0..16)
        .map(|i| u8::from_str_radix(&trace_b[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<_>>();
    let request = spans
        .iter()
        .find(|s| s.name == "request" && s.trace_id == trace_b_bytes)
        .expect("the relayed request's span in the caller's trace");
    assert_eq!(hex(&request.parent_span_id), caller_span);
    let relay = descendant(&spans, &trace_b_bytes, request, "relay").expect("relay span");
    descendant(&spans, &trace_b_bytes, relay, "upstream").expect("upstream span under relay");
    descendant(&spans, &trace_b_bytes, request, "session").expect("session span");
    let sent = recorder.requests()[0]
        .header("traceparent")
        .expect("traceparent sent upstream")
        .to_string();
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts[1], trace_b, "{sent}");
    assert_ne!(
        parts[2], caller_span,
        "a span of ours is the upstream's parent"
    );
    assert!(
        spans
            .iter()
            .any(|s| hex(&s.span_id) == parts[2] && s.trace_id == trace_b_bytes),
        "the upstream's parent span is exported"
    );

    // The sign-in's protocol steps sit under its request span, in the caller's trace A.
    let trace_a_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_a[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let callback = spans
        .iter()
        .find(|s| s.name == "request" && s.trace_id == trace_a_bytes)
        .expect("the callback's request span");
    descendant(&spans, &trace_a_bytes, callback, "oidc.exchange").expect("exchange under callback");
    descendant(&spans, &trace_a_bytes, callback, "oidc.userinfo").expect("userinfo under callback");
    // The refresh (a spawned task) stays in its request's tree.
    let refresh = spans.iter().find(|s| s.name == "oidc.refresh").unwrap();
    let refresh_request = spans
        .iter()
        .find(|s| s.name == "request" && s.trace_id == refresh.trace_id)
        .expect("the refresh's request span");
    assert!(descendant(&spans, &refresh.trace_id, refresh_request, "oidc.refresh").is_some());

    // The standard variables are honoured: headers and service name.
    let exports = collector.exports.lock().unwrap();
    assert!(exports
        .iter()
        .all(|(h, _)| h.get("x-collector-key").is_some_and(|v| v == "test-123")));
    drop(exports);
    let texts = collector.texts();
    assert!(
        texts.iter().any(|t| t == "service.name=bff-under-test"),
        "{texts:?}"
    );
    for (what, value) in &secrets {
        for text in &texts {
            assert!(
                !text.contains(value.as_str()),
                "{what} in span data: {text:.200}"
            );
        }
    }
    drop(binary);
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[tokio::test]
async fn metrics_count_requests_sso_calls_sessions_and_streams_after_a_scripted_scenario() {
    let _sso = exclusive_sso().await;
    let sso = sso();
    let mut app = spawn_app().await;
    app.login_as("bob").await;
    let csrf = app.csrf();
    for status in [200, 401, 403, 429] {
        let response = app.get(&format!("/api/chat/status/{status}")).await;
        assert_eq!(response.status(), status, "relayed as it came");
    }
    let response = app.get("/api/analytics/report").await;
    assert_eq!(response.status(), 403, "bob has no analyst role");
    let response = app
        .request(
            Method::POST,
            "/api/chat/stream",
            &[
                ("x-xsrf-token", &csrf),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("event: done"));
    // Eight concurrent requests with a due access token: one SSO call, seven waiters.
    app.rewrite_session(|s| s.access_expires_at = now() - 1);
    let cookie = app.jar.header();
    let calls = (0..8).map(|_| {
        app.http
            .get(format!("{}/api/chat/status/200", app.address))
            .header("cookie", cookie.clone())
            .send()
    });
    for response in futures_util::future::join_all(calls).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    // The SSO failing: an error, then a refused refresh token.
    sso.fault("token", Some("status500")).await;
    app.rewrite_session(|s| {
        s.access_expires_at = now() - 1;
        s.refresh_token = Some(CompactToken::new("refresh-token-for-the-error-case"));
    });
    assert_eq!(app.get("/api/chat/status/200").await.status(), 503);
    sso.fault("token", None).await;
    app.rewrite_session(|s| {
        s.access_expires_at = now() - 1;
        s.refresh_token = Some(CompactToken::new("a-refresh-token-the-sso-never-issued"));
    });
    assert_eq!(app.get("/api/chat/status/200").await.status(), 401);
    // A tampered cookie.
    app.jar.cookies.insert("__Host-bff".into(), "x".repeat(40));
    assert_eq!(app.get("/api/chat/status/200").await.status(), 401);

    let text = app.get("/metrics").await.text().await.unwrap();
    let chat = |method: &str, status: u16| {
        metric(
            &text,
            &format!(
                "bff_requests_total{{route=\"/api/chat\",method=\"{method}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(
        chat("read", 401),
        3.0,
        "relayed 401, refused refresh, tampered cookie"
    );
    assert_eq!(chat("read", 403), 1.0);
    assert_eq!(chat("read", 429), 1.0);
    assert_eq!(chat("read", 503), 1.0);
    assert_eq!(chat("read", 200), 9.0);
    assert_eq!(chat("write", 200), 1.0);
    assert_eq!(
        metric(
            &text,
            "bff_requests_total{route=\"/api/analytics\",method=\"read\",status=\"403\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "bff_requests_total{route=\"/api/callback\",method=\"read\",status=\"302\"}"
        ),
        1.0
    );
    let sso_calls = |kind: &str, outcome: &str| {
        metric(
            &text,
            &format!("bff_sso_calls_total{{kind=\"{kind}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(sso_calls("exchange", "ok"), 1.0);
    assert_eq!(
        sso_calls("refresh", "ok"),
        1.0,
        "one SSO call for eight requests"
    );
    assert_eq!(sso_calls("refresh", "error"), 1.0);
    assert_eq!(sso_calls("refresh", "invalid_grant"), 1.0);
    assert!(sso_calls("discovery", "ok") >= 1.0);
    assert!(sso_calls("jwks", "ok") >= 1.0);
    assert_eq!(metric(&text, "bff_refresh_waiters_total"), 7.0);
    assert_eq!(metric(&text, "bff_logins_total{result=\"ok\"}"), 1.0);
    assert!(metric(&text, "bff_sessions_opened_total{from=\"cookie\"}") >= 1.0);
    assert!(metric(&text, "bff_sessions_opened_total{from=\"cache\"}") >= 1.0);
    assert_eq!(
        metric(
            &text,
            "bff_session_cookies_refused_total{reason=\"malformed\"}"
        ),
        1.0
    );
    assert!(metric(&text, "bff_session_cookie_bytes_count") >= 2.0);
    assert_eq!(
        metric(
            &text,
            "bff_upstream_duration_seconds_count{route=\"/api/chat\"}"
        ),
        13.0,
        "every answer from the chat upstream"
    );
    assert_eq!(metric(&text, "bff_in_flight_requests"), 1.0, "this scrape");
    assert_eq!(metric(&text, "bff_open_streams"), 0.0);
    assert_eq!(
        metric(
            &text,
            &format!("bff_build{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"))
        ),
        1.0
    );
    // Bounded labels: no path below a route, no user.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("/status/") && !line.contains("bob"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn sigterm_drains_a_live_stream_refuses_new_connections_and_exits_zero() {
    let _sso = shared_sso().await;
    let (mut binary, mut app) = start_binary_with(
        "",
        &[
            ("BFF_SERVER__SHUTDOWN_DELAY", "700ms"),
            ("BFF_SERVER__SHUTDOWN_TIMEOUT", "20s"),
        ],
        |_| {},
    )
    .await;
    app.login_as("alice").await;
    let csrf = app.csrf();
    let mut stream = app
        .request(
            Method::POST,
            "/api/chat/stream",
            &[
                ("x-xsrf-token", &csrf),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().expect("the first event");
    let mut body = String::from_utf8_lossy(&first).into_owned();
    assert!(!body.contains("event: done"), "the stream is still going");

    binary.signal("TERM");
    // Ready no more, at once (the listener still accepts during the delay).
    let fresh = reqwest::Client::new();
    let readyz = format!("{}/readyz", app.address);
    let start = std::time::Instant::now();
    loop {
        let status = fresh.get(&readyz).send().await.unwrap().status();
        if status == 503 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "readyz stayed {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    binary
        .wait_for_line(|l| l.contains("listener closed"), LIMIT)
        .await;
    let address = app.address.trim_start_matches("http://").to_string();
    let refused = tokio::net::TcpStream::connect(&address).await;
    assert!(
        refused.is_err(),
        "a connection after the listener closed is refused"
    );

    // The stream that started before completes intact.
    while let Some(chunk) = stream.chunk().await.expect("the stream is not cut") {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(body.ends_with("event: done\ndata: {}\n\n"), "{body}");
    assert_eq!(body.matches("data: {\"index\":").count(), 6, "{body}");
    let status = binary.wait_exit(LIMIT).await;
    assert_eq!(status.code(), Some(0), "{}", binary.log());
    assert!(binary.log().contains("stopped"));
}

#[tokio::test]
async fn secret_files_are_reloaded_on_sighup_and_invalid_content_keeps_what_is_in_force() {
    let _sso = shared_sso().await;
    let second = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=";
    // The profile has inline `keys` and `client_secret`; the environment's `*_file` replaces
    // them (a higher layer wins).
    let (binary, mut app) = start_binary_with(
        "",
        &[
            ("BFF_SESSION__KEYS_FILE", "{dir}/keys"),
            ("BFF_OIDC__CLIENT_SECRET_FILE", "{dir}/secret"),
        ],
        |dir| {
            std::fs::write(dir.join("keys"), format!("{KEY}\n")).unwrap();
            std::fs::write(dir.join("secret"), "bff-basic-secret\n").unwrap();
        },
    )
    .await;
    app.login_as("alice").await;
    let old_cookie = app.jar.clone();
    assert_eq!(app.session().await["authenticated"], true);

    // Step 1 of a rotation: the new key last. Old cookies still open.
    std::fs::write(binary.path("keys"), format!("{KEY}\n{second}\n")).unwrap();
    binary.signal("HUP");
    binary
        .wait_for_line(
            |l| l.contains("session keys reloaded") && l.contains("keys=2"),
            LIMIT,
        )
        .await;
    assert_eq!(app.session().await["authenticated"], true);
    // Invalid content is refused, the keys in force stay.
    std::fs::write(binary.path("keys"), "not-a-key\n").unwrap();
    binary.signal("HUP");
    binary
        .wait_for_line(|l| l.contains("session keys file refused"), LIMIT)
        .await;
    assert_eq!(binary.log().matches("session keys reloaded").count(), 1);
    assert_eq!(app.session().await["authenticated"], true);
    // The new key first: a new sign-in is sealed with it; then the old key removed: the old
    // cookie stops opening, the new one still opens.
    std::fs::write(binary.path("keys"), format!("{second}\n{KEY}\n")).unwrap();
    binary.signal("HUP");
    binary
        .wait_for_count("session keys reloaded", 2, LIMIT)
        .await;
    let mut newer = app.another_browser();
    newer.login_as("bob").await;
    assert!(
        app.state
            .cookies
            .ring()
            .open("__Host-bff", &newer.jar.cookies["__Host-bff"])
            .is_err(),
        "sealed with the new key, which the test's own ring (the old key only) cannot open"
    );
    std::fs::write(binary.path("keys"), format!("{second}\n")).unwrap();
    binary.signal("HUP");
    binary
        .wait_for_count("session keys reloaded", 3, LIMIT)
        .await;
    app.jar = old_cookie;
    assert_eq!(
        app.session().await["authenticated"],
        false,
        "the removed key opens nothing"
    );
    assert_eq!(newer.session().await["authenticated"], true);

    // The client secret: a wrong one makes the next exchange fail, the right one heals it.
    std::fs::write(binary.path("secret"), "not-the-secret\n").unwrap();
    binary.signal("HUP");
    binary
        .wait_for_line(|l| l.contains("client secret reloaded"), LIMIT)
        .await;
    let mut third = app.another_browser();
    let authorize = third.start_login("/home").await;
    let callback = third.authorize_at_sso(&authorize, "carol").await;
    let response = third.callback(&callback).await;
    assert_ne!(
        location(&response),
        "/home",
        "the wrong secret fails the exchange"
    );
    std::fs::write(binary.path("secret"), "bff-basic-secret\n").unwrap();
    binary.signal("HUP");
    binary
        .wait_for_count("client secret reloaded", 2, LIMIT)
        .await;
    third.jar = Jar::default();
    third.login_as("carol").await;
    let log = binary.log();
    for secret in [KEY, second, "bff-basic-secret", "not-the-secret"] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}
