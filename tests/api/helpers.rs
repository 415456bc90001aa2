//! Test harness: a real OpenID Provider (`oidc-provider` from npm, tests/sso) started once per
//! test binary on loopback, and a BFF per test on port 0, driven over real HTTP by a client that
//! keeps a cookie jar per site.

use oidc_bff::{App, Config};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use url::Url;

/// The public origin the BFF believes it has; the test client maps it to the real port.
pub const PUBLIC_URL: &str = "https://app.test";
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The test SSO: one oidc-provider process for the whole binary.
pub struct TestSso {
    pub issuer: String,
    pub base: String,
    /// The TLS listener that asks for client certificates (`sso_mtls()` only).
    pub tls_base: Option<String>,
    pub pkjwt_private_pem: String,
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

static SSO: OnceLock<TestSso> = OnceLock::new();
/// Tests that inject faults into the shared SSO take this exclusively; all others share it.
static FAULT_LOCK: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

pub async fn shared_sso() -> tokio::sync::RwLockReadGuard<'static, ()> {
    FAULT_LOCK.read().await
}

/// Exclusive use of the shared SSO for a test that injects faults. Dropping it (also when the
/// test panics) resets every fault, so one failure cannot cascade into unrelated tests.
pub struct ExclusiveSso(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'static, ()>);

impl Drop for ExclusiveSso {
    fn drop(&mut self) {
        let address = sso().base.trim_start_matches("http://").to_string();
        // Drop cannot await: a plain blocking request on a thread of its own.
        let _ = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(&address)?;
            write!(
                stream,
                "POST /__test/reset HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            stream.read_to_end(&mut Vec::new()).map(|_| ())
        })
        .join();
    }
}

pub async fn exclusive_sso() -> ExclusiveSso {
    ExclusiveSso(FAULT_LOCK.write().await)
}

fn client_list(pkjwt_public: &Value) -> Value {
    let redirect = format!("{PUBLIC_URL}/api/callback");
    let logout = format!("{PUBLIC_URL}/");
    let client = |id: &str, method: &str, alg: &str| {
        serde_json::json!({
            "client_id": id,
            "client_secret": format!("{id}-secret"),
            "redirect_uris": [redirect],
            "post_logout_redirect_uris": [logout],
            "token_endpoint_auth_method": method,
            "id_token_signed_response_alg": alg,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        })
    };
    let mut pkjwt = client("bff-pkjwt", "private_key_jwt", "PS256");
    pkjwt["jwks"] = serde_json::json!({ "keys": [pkjwt_public] });
    pkjwt.as_object_mut().unwrap().remove("client_secret");
    // Registered for back-channel logout at the public origin; the test SSO delivers to the
    // loopback BFF a test names (POST /__test/backchannel).
    let mut backchannel = client("bff-bcl", "client_secret_basic", "RS256");
    backchannel["backchannel_logout_uri"] = format!("{PUBLIC_URL}/api/backchannel-logout").into();
    backchannel["backchannel_logout_session_required"] = true.into();
    // DPoP-bound access tokens (issue 13), and the FAPI 2.0 client of `sso_fapi()`.
    let mut dpop = client("bff-dpop", "client_secret_basic", "RS256");
    dpop["dpop_bound_access_tokens"] = true.into();
    let mut fapi = client("bff-fapi", "private_key_jwt", "PS256");
    fapi["jwks"] = serde_json::json!({ "keys": [pkjwt_public] });
    fapi["dpop_bound_access_tokens"] = true.into();
    fapi["require_pushed_authorization_requests"] = true.into();
    fapi.as_object_mut().unwrap().remove("client_secret");
    let mut public = client("bff-public", "none", "RS256");
    public.as_object_mut().unwrap().remove("client_secret");
    serde_json::json!([
        client("bff-basic", "client_secret_basic", "RS256"),
        client("bff-post", "client_secret_post", "ES256"),
        pkjwt,
        public,
        backchannel,
        dpop,
        fapi,
    ])
}

pub fn sso() -> &'static TestSso {
    SSO.get_or_init(|| start_sso("/affwebservices/CASSO/oidc/app-test", &[], Vec::new()))
}

static SSO_JWT: OnceLock<TestSso> = OnceLock::new();

/// A second SSO whose access tokens are JWTs carrying the user's roles.
pub fn sso_jwt() -> &'static TestSso {
    SSO_JWT.get_or_init(|| {
        start_sso(
            "/oidc/jwt-tokens",
            &[("SSO_ACCESS_TOKEN_FORMAT", "jwt")],
            Vec::new(),
        )
    })
}

static SSO_FAPI: OnceLock<TestSso> = OnceLock::new();

/// A third SSO for issue 13: PAR required, DPoP with mandatory nonces, JWT access tokens
/// (carrying `cnf.jkt`), and the FAPI 2.0 profile for the client `bff-fapi`.
pub fn sso_fapi() -> &'static TestSso {
    SSO_FAPI.get_or_init(|| {
        start_sso(
            "/oidc/fapi",
            &[
                ("SSO_ACCESS_TOKEN_FORMAT", "jwt"),
                ("SSO_PAR", "required"),
                ("SSO_DPOP_NONCE", "1"),
                ("SSO_FAPI", "1"),
            ],
            Vec::new(),
        )
    })
}

/// Certificates for mutual TLS, made once per test binary (no key material in the
/// repository): a CA and the SSO's TLS certificate for 127.0.0.1 it issued, and the BFF's
/// self-signed client certificate registered at the SSO (plus an unregistered one).
pub struct MtlsFiles {
    pub dir: std::path::PathBuf,
    /// The client certificate's JWK with its `x5t#S256`, as registered.
    pub client_jwk: Value,
}

static MTLS: OnceLock<MtlsFiles> = OnceLock::new();

pub fn mtls_files() -> &'static MtlsFiles {
    MTLS.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap().keep();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.join("server-key.pem"), server_key.serialize_pem()).unwrap();
        let mut client_jwk = Value::Null;
        for name in ["client", "stranger"] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![format!("{name}.bff.test")])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
            if name == "client" {
                let pair = josekit::jws::ES256
                    .key_pair_from_pem(key.serialize_pem())
                    .unwrap();
                use josekit::jwk::KeyPair as _;
                client_jwk = serde_json::from_str(&pair.to_jwk_public_key().to_string()).unwrap();
                use base64::Engine;
                use sha2::Digest;
                client_jwk["x5t#S256"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(cert.der()))
                    .into();
            }
        }
        MtlsFiles { dir, client_jwk }
    })
}

static SSO_MTLS: OnceLock<TestSso> = OnceLock::new();

/// A fourth SSO with a TLS listener that asks for client certificates (RFC 8705), and the
/// client `bff-mtls` registered with `self_signed_tls_client_auth`.
pub fn sso_mtls() -> &'static TestSso {
    SSO_MTLS.get_or_init(|| {
        let files = mtls_files();
        let path = |name: &str| files.dir.join(name).to_str().unwrap().to_string();
        let mut client = serde_json::json!({
            "client_id": "bff-mtls",
            "redirect_uris": [format!("{PUBLIC_URL}/api/callback")],
            "post_logout_redirect_uris": [format!("{PUBLIC_URL}/")],
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        });
        client["jwks"] = serde_json::json!({ "keys": [files.client_jwk] });
        start_sso(
            "/oidc/mtls",
            &[
                ("SSO_TLS_CERT", &path("server.pem")),
                ("SSO_TLS_KEY", &path("server-key.pem")),
            ],
            vec![client],
        )
    })
}

fn start_sso(path: &str, extra_env: &[(&str, &str)], extra_clients: Vec<Value>) -> TestSso {
    let key_pair = josekit::jws::PS256
        .generate_key_pair(2048)
        .expect("generate RSA key");
    let mut public: Value =
        serde_json::from_str(&key_pair.to_jwk_public_key().to_string()).unwrap();
    public["kid"] = "bff-pkjwt-1".into();
    public["alg"] = "PS256".into();
    let pem = String::from_utf8(key_pair.to_pem_private_key()).unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sso");
    let clients = {
        let mut clients = client_list(&public);
        if let Some(list) = clients.as_array_mut() {
            list.extend(extra_clients);
        }
        clients.to_string()
    };
    let (child, stdin, ready) = start_ready("the test SSO", || {
        let mut command = Command::new("node");
        command
            .arg("server.mjs")
            .current_dir(dir)
            .env("SSO_MODE", "test")
            .env("SSO_HOST", "127.0.0.1")
            .env("SSO_PORT", "0")
            .env("SSO_PATH", path)
            .envs(extra_env.iter().copied())
            .env("SSO_CLIENTS", &clients)
            .env("SSO_ACCESS_TOKEN_TTL", "120")
            .env("SSO_EXIT_WITH_STDIN", "1")
            .stderr(if std::env::var_os("SSO_VERBOSE").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        command
    });
    let issuer = ready["issuer"].as_str().unwrap().to_string();
    let base = format!("http://127.0.0.1:{}", ready["port"]);
    let tls_base = ready["tlsPort"]
        .as_u64()
        .map(|port| format!("https://127.0.0.1:{port}"));
    TestSso {
        issuer,
        base,
        tls_base,
        pkjwt_private_pem: pem,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

impl TestSso {
    pub async fn stats(&self) -> Value {
        reqwest::get(format!("{}/__test/stats", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn control(&self, path: &str, body: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/__test/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "control {path}: {}",
            response.status()
        );
    }

    pub async fn fault(&self, target: &str, mode: Option<&str>) {
        self.control("fault", serde_json::json!({"target": target, "mode": mode}))
            .await;
    }
}

/// The demo upstream (examples/demo-upstream), one process for the whole binary.
pub struct TestUpstream {
    pub base: String,
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

static UPSTREAM: OnceLock<TestUpstream> = OnceLock::new();

pub fn upstream() -> &'static TestUpstream {
    UPSTREAM.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-upstream");
        let (child, stdin, ready) = start_ready("the demo upstream", || {
            let mut command = Command::new("node");
            command
                .arg("server.mjs")
                .current_dir(dir)
                .env("UPSTREAM_HOST", "127.0.0.1")
                .env("UPSTREAM_PORT", "0")
                .env("CHAT_EVENTS", "6")
                .env("CHAT_INTERVAL_MS", "300")
                .env("UPSTREAM_EXIT_WITH_STDIN", "1")
                .stderr(Stdio::null());
            command
        });
        TestUpstream {
            base: format!("http://127.0.0.1:{}", ready["port"]),
            _child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
        }
    })
}

/// Starts a helper process that prints one JSON ready line on stdout, and returns it with its
/// stdin (held open: the process exits when it closes) and that line. A start that prints
/// nothing within 30 s is killed and tried again, up to three times: a wedged start (seen once
/// as a Node process asleep before it listened) must fail a test run, never hang it.
fn start_ready(what: &str, command: impl Fn() -> Command) -> (Child, ChildStdin, Value) {
    for attempt in 1..=3 {
        let mut child = command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what} (node, after `npm ci`): {e}"));
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) => {
                let ready: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("{what} did not start: {line:?}"));
                return (child, stdin, ready);
            }
            Err(_) => {
                eprintln!(
                    "{what} printed no ready line within 30 s (attempt {attempt}); restarting it"
                );
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    panic!("{what} never started");
}

/// A loopback port with nothing listening.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Configuration for a BFF against the test SSO with client `bff-basic`, plus `extra` TOML.
pub fn config_toml(extra: &str) -> String {
    let sso = sso();
    format!(
        r#"
        [server]
        bind = "127.0.0.1:0"
        public_url = "{PUBLIC_URL}"
        [oidc]
        issuer = "{issuer}"
        client_id = "bff-basic"
        client_secret = "bff-basic-secret"
        http_timeout = "3s"
        [session]
        keys = ["{KEY}"]
        {extra}
        [[routes]]
        prefix = "/api/chat"
        upstream = "{up}/chat"
        timeout = "1s"
        [[routes]]
        prefix = "/api/analytics"
        upstream = "{up}/analytics"
        roles = ["analyst"]
        [[routes]]
        prefix = "/api/public"
        upstream = "{up}/chat"
        token = "none"
        [[routes]]
        prefix = "/api/down"
        upstream = "http://127.0.0.1:{closed}/x"
        "#,
        issuer = sso.issuer,
        up = upstream().base,
        closed = closed_port(),
    )
}

/// Merges `overrides` (a TOML document) over the base configuration.
pub fn config_with(overrides: &str) -> Config {
    use figment::providers::{Format, Toml};
    let figment =
        figment::Figment::from(Toml::string(&config_toml(""))).merge(Toml::string(overrides));
    Config::from_figment("test".into(), figment).expect("test configuration is valid")
}

/// A running BFF and a browser-like client for it.
pub struct TestApp {
    pub address: String,
    pub state: std::sync::Arc<oidc_bff::state::AppState>,
    pub http: reqwest::Client,
    pub jar: Jar,
    pub sso_jar: Jar,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(config_with("")).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()))
        .try_init();
    let app = App::build(config).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        state,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        jar: Jar::default(),
        sso_jar: Jar::default(),
    }
}

/// A cookie jar for one site: names to values, honouring removal by `Max-Age=0`. It also keeps
/// the raw `Set-Cookie` lines of the last response for attribute checks.
#[derive(Default, Clone, Debug)]
pub struct Jar {
    pub cookies: BTreeMap<String, String>,
    pub last_set_cookie: Vec<String>,
}

impl Jar {
    pub fn absorb(&mut self, response: &reqwest::Response) {
        self.last_set_cookie.clear();
        for value in response.headers().get_all("set-cookie") {
            let line = value.to_str().unwrap().to_string();
            let (pair, attributes) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let removed = attributes
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if removed {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
            self.last_set_cookie.push(line);
        }
    }

    pub fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn set_cookie_line(&self, name: &str) -> Option<&String> {
        self.last_set_cookie
            .iter()
            .find(|l| l.starts_with(&format!("{name}=")))
    }

    pub fn session_names(&self) -> Vec<&String> {
        self.cookies
            .keys()
            .filter(|n| *n == "__Host-bff" || n.starts_with("__Host-bff."))
            .collect()
    }
}

impl TestApp {
    /// Another browser on the same service: the same server and state, empty cookie jars.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            state: self.state.clone(),
            http: self.http.clone(),
            jar: Jar::default(),
            sso_jar: Jar::default(),
        }
    }

    /// GET a BFF path with the jar, absorbing cookies.
    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .header("cookie", self.jar.header())
            .send()
            .await
            .unwrap();
        self.jar.absorb(&response);
        response
    }

    pub async fn request(
        &mut self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .header("cookie", self.jar.header());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.jar.absorb(&response);
        response
    }

    pub async fn session(&mut self) -> Value {
        let response = self.get("/api/session").await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Starts a login; returns the SSO authorization URL.
    pub async fn start_login(&mut self, return_to: &str) -> String {
        let response = self
            .get(&format!("/api/login?returnTo={}", urlencode(return_to)))
            .await;
        assert_eq!(response.status(), 302, "login: {:?}", response.text().await);
        location(&response)
    }

    /// Signs in at the SSO as `user` via its scripted interaction; returns the callback URL
    /// the SSO sent the browser to (on the public origin).
    pub async fn authorize_at_sso(&mut self, authorize_url: &str, user: &str) -> Url {
        let mut url = Url::parse(authorize_url).unwrap();
        let mut auto_done = false;
        for _ in 0..10 {
            if url.as_str().starts_with(PUBLIC_URL) {
                return url;
            }
            let response = self
                .http
                .get(url.clone())
                .header("cookie", self.sso_jar.header())
                .send()
                .await
                .unwrap();
            self.sso_jar.absorb(&response);
            if !response.status().is_redirection() {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                let error = body.split("class=\"error\">").nth(1).unwrap_or(&body);
                panic!("SSO step {url} answered {status}: {error:.300}");
            }
            let next = url.join(&location(&response)).unwrap();
            url = if next.path().contains("/interaction/") && !auto_done {
                auto_done = true;
                let mut auto = next.clone();
                auto.set_path(&format!("{}/auto", next.path()));
                auto.set_query(Some(&format!("user={user}")));
                auto
            } else {
                next
            };
        }
        panic!("the SSO never redirected back to the app");
    }

    /// Calls the BFF's callback with the query the SSO produced.
    pub async fn callback(&mut self, callback: &Url) -> reqwest::Response {
        let path = format!("{}?{}", callback.path(), callback.query().unwrap_or(""));
        self.get(&path).await
    }

    /// The whole sign-in; asserts it lands on `return_to`.
    pub async fn login_as(&mut self, user: &str) {
        let authorize = self.start_login("/home").await;
        let callback = self.authorize_at_sso(&authorize, user).await;
        let response = self.callback(&callback).await;
        assert_eq!(response.status(), 302);
        assert_eq!(location(&response), "/home", "login failed");
    }

    /// Opens the session cookie with the app's key, changes it and seals it again: how a test
    /// reaches states it cannot wait for (an expired access token, an old login).
    pub fn rewrite_session(&mut self, change: impl FnOnce(&mut oidc_bff::session::Session)) {
        let ring = self.state.cookies.ring();
        let bytes = ring
            .open("__Host-bff", &self.jar.cookies["__Host-bff"])
            .unwrap();
        let mut session = oidc_bff::session::Session::from_bytes(&bytes).unwrap();
        change(&mut session);
        let sealed = ring.seal("__Host-bff", &session.to_bytes()).unwrap();
        self.jar.cookies.insert("__Host-bff".into(), sealed);
    }

    /// The session as sealed in the jar.
    pub fn sealed_session(&self) -> oidc_bff::session::Session {
        let bytes = self
            .state
            .cookies
            .ring()
            .open("__Host-bff", &self.jar.cookies["__Host-bff"])
            .unwrap();
        oidc_bff::session::Session::from_bytes(&bytes).unwrap()
    }

    /// Sends `GET path` over a raw connection, byte for byte: HTTP clients normalize `%2e%2e`
    /// away, which is exactly what an attacker would not do. Returns the status code.
    pub async fn raw_get(&self, path: &str) -> u16 {
        let text = self.raw_get_text(path).await;
        text.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Like [`TestApp::raw_get`], returning the whole response (head and body) as text.
    pub async fn raw_get_text(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            self.jar.header()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }

    pub fn csrf(&self) -> String {
        self.jar
            .cookies
            .get("XSRF-TOKEN")
            .cloned()
            .expect("XSRF-TOKEN cookie")
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
