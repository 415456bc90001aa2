//! The cookie codec on the hot path: every relayed request opens the session cookie, and every
//! refresh seals a new one. Run: `cargo bench --bench seal`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use oidc_bff::seal::KeyRing;
use oidc_bff::session::{CompactToken, Session};

#[path = "../tests/fixtures/tokens.rs"]
mod tokens;

fn realistic_session() -> Session {
    let (access, id, refresh) = tokens::realistic();
    Session {
        sid: Session::new_sid(),
        login_at: 1_790_000_000,
        last_seen: 1_790_000_000,
        access_token: CompactToken::new(&access),
        access_expires_at: 1_790_003_600,
        refresh_token: Some(CompactToken::new(&refresh)),
        id_token: CompactToken::new(&id),
        roles: vec!["analyst".into()],
    }
}

fn codec(c: &mut Criterion) {
    let ring = KeyRing::new(&[[7u8; 32], [8u8; 32]]);
    let session = realistic_session();
    let sealed = ring.seal("__Host-bff", &session.to_bytes());
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
