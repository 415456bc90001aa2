//! Parsing `Cookie` headers pair by pair: never a panic, every pair kept is visible ASCII, and
//! the number of pairs is bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_bff::cookies::{RequestCookies, MAX_PAIRS};

fuzz_target!(|data: &[u8]| {
    let cookies = RequestCookies::parse(data.split(|&b| b == b'\n'));
    let mut count = 0;
    for (name, value) in cookies.iter() {
        count += 1;
        assert!(!name.is_empty());
        assert!(name
            .bytes()
            .chain(value.bytes())
            .all(|b| b.is_ascii_graphic()));
        assert!(!name.contains(';') && !value.contains(';'));
    }
    assert!(count <= MAX_PAIRS);
});
