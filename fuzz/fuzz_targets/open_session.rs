//! Opening a sealed, possibly chunked, session: whatever arrives in the `Cookie` header, the
//! codec answers "a session" or "no session" and never panics, loops or allocates without
//! bound. The first byte picks what the rest is: a `Cookie` header (the attacker's view), an
//! opened plaintext (postcard decoding), a compressed block (the LZ4 decompressor), or a payload that
//! must survive a seal and an open unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_bff::cookies::RequestCookies;
use oidc_bff::seal::{self, KeyRing};
use oidc_bff::session::{LoginState, Session};
use std::sync::OnceLock;

const NAME: &str = "__Host-bff";

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let binding = seal::deployment_binding("https://sso.example.com/oidc/app", "app");
        KeyRing::new(&[[7u8; 32], [8u8; 32]], &binding)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let cookies = RequestCookies::parse(rest.split(|&b| b == b'\n'));
            if let Ok(sealed) = seal::reassemble(NAME, cookies.iter(), 10) {
                if let Ok(bytes) = ring().open(NAME, &sealed) {
                    let _ = Session::from_bytes(&bytes);
                }
            }
        }
        1 => {
            let _ = Session::from_bytes(rest);
            let _ = LoginState::from_bytes(rest);
        }
        2 => {
            if let Some(plain) = seal::decompress_for_fuzzing(rest) {
                assert!(plain.len() <= seal::MAX_PLAINTEXT);
            }
        }
        _ => {
            let sealed = ring()
                .seal(NAME, rest)
                .expect("fuzz inputs are far below the bound");
            let chunks = seal::chunk(NAME, &sealed, 10).expect("fits ten cookies");
            let pairs = chunks.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let whole = seal::reassemble(NAME, pairs, 10).expect("reassembles");
            assert_eq!(ring().open(NAME, &whole).expect("opens"), rest);
        }
    }
});
