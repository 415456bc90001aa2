//! The cookie codec on the hot path: every relayed request reads the session cookie (a cold
//! open the first time a sealed value is seen, a cache hit after), and every sign-in, refresh
//! and idle slide seals a new one. Run: `cargo bench --bench seal`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use oidc_bff::cookies::RequestCookies;
use oidc_bff::seal::KeyRing;
use oidc_bff::session::cookie::{SessionCookies, SessionRead};
use oidc_bff::session::Session;

#[path = "../tests/fixtures/tokens.rs"]
mod tokens;

fn session_config(open_cache: usize) -> oidc_bff::config::SessionConfig {
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
        open_cache = {open_cache}
        "#
    );
    oidc_bff::Config::from_figment("bench".into(), figment::Figment::from(Toml::string(&toml)))
        .expect("bench configuration")
        .session
}

fn codec(c: &mut Criterion) {
    let binding = oidc_bff::seal::deployment_binding("https://sso.example.com/oidc/app", "app");
    let ring = KeyRing::new(&[[7u8; 32], [8u8; 32]], &binding);
    let session = tokens::session(tokens::realistic());
    let sealed = ring.seal("__Host-bff", &session.to_bytes()).unwrap();
    c.bench_function(
        "seal realistic session (serialize+compress+encrypt+base64)",
        |b| b.iter(|| ring.seal("__Host-bff", &black_box(&session).to_bytes())),
    );
    c.bench_function(
        "open realistic session, cold (base64+decrypt+decompress+deserialize)",
        |b| {
            b.iter(|| {
                let bytes = ring.open("__Host-bff", black_box(&sealed)).unwrap();
                Session::from_bytes(&bytes).unwrap()
            })
        },
    );
    // What a request pays once the value was seen: the cookie reassembled and looked up.
    let cookies = SessionCookies::new(&session_config(2048), &binding);
    let keyring_sealed = cookies
        .ring()
        .seal("__Host-bff", &session.to_bytes())
        .unwrap();
    let header = format!("__Host-bff={keyring_sealed}; XSRF-TOKEN=abc; pref=dark");
    let request = RequestCookies::parse([header.as_bytes()]);
    assert!(matches!(cookies.read(&request), SessionRead::Valid(_)));
    c.bench_function(
        "open realistic session, cached (lookup by the exact value)",
        |b| {
            b.iter(|| match cookies.read(black_box(&request)) {
                SessionRead::Valid(session) => session,
                _ => unreachable!("the session opens"),
            })
        },
    );
    c.bench_function("expose access token for the upstream", |b| {
        b.iter(|| black_box(&session).access_token.expose())
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
