//! The cookie codec on the hot path: every relayed request opens the session cookie, and every
//! refresh seals a new one. Run: `cargo bench --bench seal`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use oidc_bff::seal::KeyRing;
use oidc_bff::session::Session;

#[path = "../tests/fixtures/tokens.rs"]
mod tokens;

fn codec(c: &mut Criterion) {
    let ring = KeyRing::new(
        &[[7u8; 32], [8u8; 32]],
        &oidc_bff::seal::deployment_binding("https://sso.example.com/oidc/app", "app"),
    );
    let session = tokens::session(tokens::realistic());
    let sealed = ring.seal("__Host-bff", &session.to_bytes()).unwrap();
    c.bench_function(
        "seal realistic session (serialize+deflate+encrypt+base64)",
        |b| b.iter(|| ring.seal("__Host-bff", &black_box(&session).to_bytes())),
    );
    c.bench_function(
        "open realistic session (base64+decrypt+inflate+deserialize)",
        |b| {
            b.iter(|| {
                let bytes = ring.open("__Host-bff", black_box(&sealed)).unwrap();
                Session::from_bytes(&bytes).unwrap()
            })
        },
    );
    c.bench_function("expose access token for the upstream", |b| {
        b.iter(|| black_box(&session).access_token.expose())
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
