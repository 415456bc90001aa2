//! `returnTo`: whatever is accepted is a local path that, resolved against the app's origin by
//! a URL parser as browsers do, stays on that origin and never lands in an API.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_bff::return_to::ReturnTo;
use oidc_bff::routes::RouteTable;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = ReturnTo::parse(text) else {
        return;
    };
    let path = parsed.as_str();
    assert!(path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'));
    let origin = url::Url::parse("https://app.example.com/").expect("origin");
    let resolved = origin.join(path).expect("a local path resolves");
    assert_eq!(
        resolved.origin(),
        origin.origin(),
        "{path:?} left the origin"
    );
    if let Ok(local) = parsed.outside_apis(&RouteTable::default()) {
        let lower = local.as_str().to_ascii_lowercase();
        assert!(!lower.starts_with("/api/") && lower != "/api");
    }
});
