//! Canonicalising a relay path: linear, never a panic, and the canonical form is a fixed point
//! with nothing an upstream could resolve differently (no `;`, no empty or dot segments, no
//! encoded separators, no double encoding); a routed path's upstream URL stays under the
//! route's upstream path after a URL parser has normalised it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_bff::routes::path::CanonicalPath;
use oidc_bff::routes::{Dispatch, RouteTable};
use std::sync::OnceLock;

fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let routes: Vec<oidc_bff::routes::RawRoute> = serde_json::from_str(
            r#"[{"prefix": "/api/x", "upstream": "http://svc.internal/base"},
                {"prefix": "/api/x/admin", "upstream": "http://svc.internal/base/admin", "roles": ["admin"]}]"#,
        )
        .expect("routes");
        RouteTable::from_raw(routes).expect("valid routes")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(canonical) = CanonicalPath::parse(raw) {
        let text = canonical.as_str();
        assert_eq!(
            CanonicalPath::parse(text).as_ref().map(|c| c.as_str()),
            Ok(text)
        );
        assert!(!text.contains(';') && !text.contains('\\') && !text.contains("//"));
        for segment in text.split('/').skip(1) {
            let decoded = segment.to_ascii_lowercase();
            assert!(segment != "." && segment != "..");
            assert!(
                !decoded.contains("%2f") && !decoded.contains("%5c") && !decoded.contains("%2e")
            );
        }
    }
    if let Dispatch::Route(route, path) = table().dispatch(raw) {
        let url = route.upstream_url(&path, None);
        let parsed = url::Url::parse(&url).expect("the upstream URL parses");
        let base = route.upstream.path().trim_end_matches('/');
        assert!(parsed.path().starts_with(base), "{url} left {base}");
        assert_eq!(parsed.host_str(), Some("svc.internal"));
        if route.prefix == "/api/x" {
            let lower = parsed.path().to_ascii_lowercase();
            assert!(
                !lower.starts_with("/base/admin/") && lower != "/base/admin",
                "{raw} → {url}"
            );
        }
    }
});
