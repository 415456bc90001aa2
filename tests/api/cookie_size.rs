//! Cookie size with realistic enterprise token sets, chunking, leftover cleanup, ceiling.

use crate::helpers::*;
use oidc_bff::cookies::{RequestCookies, ResponseCookies};
use oidc_bff::session::cookie::{SessionCookies, SessionRead};

#[path = "../fixtures/tokens.rs"]
mod tokens;

use tokens::session as session_of;

fn cookies(max_chunks: usize) -> SessionCookies {
    let config = config_with(&format!(
        "[server]\nmax_head_bytes = 65536\n[session]\nmax_chunks = {max_chunks}"
    ));
    let binding = oidc_bff::seal::deployment_binding(&config.oidc.issuer, &config.oidc.client_id);
    SessionCookies::new(&config.session, &binding)
}

/// Parses the `Set-Cookie` lines of a response into the request the browser would send next.
fn next_request(
    out: &ResponseCookies,
    previous: &[(String, String)],
) -> (RequestCookies, Vec<(String, String)>) {
    let mut jar: Vec<(String, String)> = previous.to_vec();
    for line in out.pending() {
        let pair = line.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        jar.retain(|(n, _)| n != name);
        if !line.contains("Max-Age=0") {
            jar.push((name.to_string(), value.to_string()));
        }
    }
    let header = jar
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let request = poem::Request::builder().header("cookie", header).finish();
    (RequestCookies::from_request(&request), jar)
}

#[test]
fn realistic_token_set_fits_one_cookie_under_4096_bytes() {
    let tokens = tokens::realistic();
    let raw = tokens.0.len() + tokens.1.len() + tokens.2.len();
    let codec = cookies(4);
    let out = ResponseCookies::default();
    let (count, bytes) = codec
        .write(
            &RequestCookies::default(),
            &out,
            &session_of(tokens),
            1_790_000_000,
        )
        .unwrap();
    eprintln!(
        "realistic set: {raw} bytes of tokens -> {count} cookie(s), {bytes} bytes (name=value)"
    );
    assert_eq!(count, 1);
    assert!(bytes <= 4096, "{bytes}");
}

#[test]
fn entra_sized_set_is_chunked_reads_back_and_shrinks_without_leftovers() {
    let codec = cookies(4);
    let big = session_of(tokens::entra_with_groups());
    let out = ResponseCookies::default();
    let (count, bytes) = codec
        .write(&RequestCookies::default(), &out, &big, 1_790_000_000)
        .unwrap();
    eprintln!("entra set with 200 groups -> {count} cookies, {bytes} bytes");
    assert!(count >= 2, "{count}");
    let (request, jar) = next_request(&out, &[]);
    assert!(jar.iter().all(|(n, v)| n.len() + v.len() < 4096));
    match codec.read(&request) {
        SessionRead::Valid(session) => assert_eq!(session.sid, big.sid),
        other => panic!("chunked session did not read back: {other:?}"),
    }

    // The session shrinks to one cookie: every old chunk is expired in the same response.
    let small = session_of(tokens::realistic());
    let out = ResponseCookies::default();
    codec.write(&request, &out, &small, 1_790_000_000).unwrap();
    let (request, jar) = next_request(&out, &jar);
    let names: Vec<&str> = jar
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.starts_with("__Host-bff"))
        .collect();
    assert_eq!(names, ["__Host-bff"]);
    assert!(matches!(codec.read(&request), SessionRead::Valid(_)));
}

#[test]
fn a_missing_or_extra_chunk_means_no_session() {
    let codec = cookies(4);
    let out = ResponseCookies::default();
    codec
        .write(
            &RequestCookies::default(),
            &out,
            &session_of(tokens::entra_with_groups()),
            1_790_000_000,
        )
        .unwrap();
    let (_, jar) = next_request(&out, &[]);
    let chunk_count = jar
        .iter()
        .filter(|(n, _)| n.starts_with("__Host-bff."))
        .count();
    let header = |pairs: &[(String, String)]| {
        let text = pairs
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        RequestCookies::from_request(&poem::Request::builder().header("cookie", text).finish())
    };
    let missing_last: Vec<_> = jar
        .iter()
        .filter(|(n, _)| *n != format!("__Host-bff.{}", chunk_count - 1))
        .cloned()
        .collect();
    assert!(matches!(
        codec.read(&header(&missing_last)),
        SessionRead::Invalid(_)
    ));
    let mut extra = jar.clone();
    extra.push((format!("__Host-bff.{chunk_count}"), "AAAA".into()));
    assert!(matches!(
        codec.read(&header(&extra)),
        SessionRead::Invalid(_)
    ));
}

#[test]
fn beyond_the_ceiling_the_session_is_refused() {
    let codec = cookies(1);
    let error = codec
        .write(
            &RequestCookies::default(),
            &ResponseCookies::default(),
            &session_of(tokens::entra_with_groups()),
            1_790_000_000,
        )
        .unwrap_err();
    assert!(error.to_string().contains("max_chunks"), "{error}");
}

#[test]
fn a_dpop_key_still_fits_the_realistic_token_set_in_one_cookie() {
    use oidc_bff::config::DpopAlg;
    use oidc_bff::oidc::dpop::DpopKey;
    let codec = cookies(4);
    let size = |session: &oidc_bff::session::Session| {
        let out = ResponseCookies::default();
        codec
            .write(&RequestCookies::default(), &out, session, 1_790_000_000)
            .unwrap()
    };
    let plain = session_of(tokens::realistic());
    let (_, without) = size(&plain);
    for (alg, budget) in [(DpopAlg::ES256, 250), (DpopAlg::EdDSA, 120)] {
        let mut session = plain.clone();
        let mut key = DpopKey::generate(alg).unwrap();
        key.bound = true;
        session.dpop = Some(key);
        let (count, with) = size(&session);
        eprintln!(
            "realistic set with a {alg:?} DPoP key: {with} bytes ({} more)",
            with - without
        );
        assert_eq!(count, 1, "{alg:?}: one cookie");
        assert!(
            with - without <= budget,
            "{alg:?}: {} bytes added",
            with - without
        );
        // The key survives the round trip and signs.
        let back = oidc_bff::session::Session::from_bytes(&session.to_bytes()).unwrap();
        assert_eq!(
            back.dpop.unwrap().thumbprint().unwrap(),
            session.dpop.as_ref().unwrap().thumbprint().unwrap()
        );
    }
    // A session without DPoP seals exactly as before DPoP existed (no tail).
    let back = oidc_bff::session::Session::from_bytes(&plain.to_bytes()).unwrap();
    assert!(back.dpop.is_none());
}
