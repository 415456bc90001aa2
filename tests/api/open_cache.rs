//! The cache of opened sessions: only the exact sealed value hits, and a hit is still judged
//! by every lifetime rule on every request.

use crate::helpers::*;
use oidc_bff::cookies::{RequestCookies, ResponseCookies};
use oidc_bff::session::cookie::SessionRead;
use oidc_bff::session::guard::{Need, SessionState};
use oidc_bff::session::now;

fn cookies(pairs: &[(&str, &str)]) -> RequestCookies {
    let header: String = pairs.iter().map(|(n, v)| format!("{n}={v}; ")).collect();
    RequestCookies::parse([header.as_bytes()])
}

#[tokio::test]
async fn only_the_exact_sealed_value_hits_the_cache() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let sealed = app.jar.cookies["__Host-bff"].clone();
    let codec = &app.state.cookies;
    // Written at sign-in, so opened from the cache from the first request on.
    assert!(matches!(
        codec.read(&cookies(&[("__Host-bff", &sealed)])),
        SessionRead::Valid(_)
    ));
    let shorter = &sealed[..sealed.len() - 1];
    let longer = format!("{sealed}A");
    let mut flipped = sealed.clone().into_bytes();
    let last = flipped.len() - 5;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for near in [shorter, longer.as_str(), flipped.as_str()] {
        assert!(
            matches!(
                codec.read(&cookies(&[("__Host-bff", near)])),
                SessionRead::Invalid(_)
            ),
            "a near value opened"
        );
    }
}

#[tokio::test]
async fn a_cached_session_still_ends_at_its_idle_and_absolute_deadlines() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let request = cookies(&[("__Host-bff", &app.jar.cookies["__Host-bff"])]);
    let guard = app.state.guard();
    let out = ResponseCookies::default();
    assert!(matches!(
        guard.run(&request, &out, now(), Need::Tokens).await,
        SessionState::Active(_)
    ));
    // The same cached value, an hour and a minute later (idle timeout: 1 h), is over and is
    // cleared; and it is gone from the cache: opening it again is a miss that opens afresh.
    let out = ResponseCookies::default();
    let later = now() + 3660;
    assert!(matches!(
        guard.run(&request, &out, later, Need::Tokens).await,
        SessionState::None
    ));
    assert!(out.pending().iter().any(|l| l.starts_with("__Host-bff=;")));
    // Nine hours later the absolute lifetime (8 h) ends it as well.
    let out = ResponseCookies::default();
    assert!(matches!(
        guard
            .run(&request, &out, now() + 9 * 3600, Need::Tokens)
            .await,
        SessionState::None
    ));
}

#[tokio::test]
async fn a_slid_session_is_described_anew() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    let request = cookies(&[("__Host-bff", &app.jar.cookies["__Host-bff"])]);
    let guard = app.state.guard();
    let out = ResponseCookies::default();
    let SessionState::Active(opened) = guard.run(&request, &out, now(), Need::Tokens).await else {
        panic!("signed in");
    };
    // /api/session described the opened session (its idle deadline included).
    opened
        .described
        .get_or_init(|| "described before the slide".into());
    // Two minutes later the same cookie slides: the new session must not carry that text.
    let out = ResponseCookies::default();
    let SessionState::Active(slid) = guard.run(&request, &out, now() + 120, Need::Tokens).await
    else {
        panic!("still signed in");
    };
    assert!(slid.last_seen > opened.last_seen);
    assert_eq!(
        slid.described.get_or_init(|| "described after".into()),
        "described after"
    );
    assert_eq!(
        opened.described.get_or_init(|| unreachable!()),
        "described before the slide"
    );
}
