//! Every combination of method × `Origin` × `Sec-Fetch-Site` × `X-XSRF-TOKEN` × session, for a
//! relayed route and for `POST /api/logout`, against an oracle written from the policy (see
//! `src/csrf.rs`), checking both the status and whether the upstream was reached.

use crate::helpers::*;
use crate::recorder::Recorder;
use reqwest::Method;

const ALLOWED: &str = "https://spa.partner.test";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Origin {
    Same,
    Allowed,
    Foreign,
    Null,
    Absent,
}

#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(clippy::enum_variant_names)] // the header's own values
enum Site {
    SameOrigin,
    SameSite,
    CrossSite,
    None,
    Absent,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Xsrf {
    Right,
    Wrong,
    OtherSessions,
    Absent,
}

const ORIGINS: [Origin; 5] = [
    Origin::Same,
    Origin::Allowed,
    Origin::Foreign,
    Origin::Null,
    Origin::Absent,
];
const SITES: [Site; 5] = [
    Site::SameOrigin,
    Site::SameSite,
    Site::CrossSite,
    Site::None,
    Site::Absent,
];
const XSRFS: [Xsrf; 4] = [Xsrf::Right, Xsrf::Wrong, Xsrf::OtherSessions, Xsrf::Absent];

/// Whether the request's provenance is acceptable: an `Origin`, when sent, is ours or the
/// allowed SPA's; a same-site or cross-site fetch is acceptable only from the allowed SPA.
fn provenance_ok(origin: Origin, site: Site) -> bool {
    let origin_ok = !matches!(origin, Origin::Foreign | Origin::Null);
    let site_ok = match site {
        Site::SameSite | Site::CrossSite => origin == Origin::Allowed,
        _ => true,
    };
    origin_ok && site_ok
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

struct Case {
    method: Method,
    origin: Origin,
    site: Site,
    xsrf: Xsrf,
    session: bool,
}

impl Case {
    fn headers(&self, cookie: &str, right: &str, others: &str) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            headers.insert(name, value.parse().unwrap());
        };
        match self.origin {
            Origin::Same => put("origin", PUBLIC_URL),
            Origin::Allowed => put("origin", ALLOWED),
            Origin::Foreign => put("origin", "https://evil.example"),
            Origin::Null => put("origin", "null"),
            Origin::Absent => {}
        }
        match self.site {
            Site::SameOrigin => put("sec-fetch-site", "same-origin"),
            Site::SameSite => put("sec-fetch-site", "same-site"),
            Site::CrossSite => put("sec-fetch-site", "cross-site"),
            Site::None => put("sec-fetch-site", "none"),
            Site::Absent => {}
        }
        match self.xsrf {
            Xsrf::Right => put("x-xsrf-token", right),
            Xsrf::Wrong => put("x-xsrf-token", "forged-token"),
            Xsrf::OtherSessions => put("x-xsrf-token", others),
            Xsrf::Absent => {}
        }
        if self.session {
            put("cookie", cookie);
        }
        headers
    }
}

fn all_cases(methods: &[Method]) -> Vec<Case> {
    let mut cases = Vec::new();
    for method in methods {
        for origin in ORIGINS {
            for site in SITES {
                for xsrf in XSRFS {
                    for session in [true, false] {
                        cases.push(Case {
                            method: method.clone(),
                            origin,
                            site,
                            xsrf,
                            session,
                        });
                    }
                }
            }
        }
    }
    cases
}

async fn two_sessions(app: &mut TestApp) -> (String, String, String) {
    app.login_as("alice").await;
    let (cookie, right) = (app.jar.header(), app.csrf());
    app.jar = Jar::default();
    app.login_as("bob").await;
    let others = app.csrf();
    assert_ne!(right, others);
    (cookie, right, others)
}

async fn app_with_recorder(recorder: &Recorder) -> TestApp {
    spawn_app_with(config_with(&format!(
        "[cors]\nallowed_origins = [\"{ALLOWED}\"]\n[[routes]]\nprefix = \"/api/rec\"\nupstream = \"{}/rec\"",
        recorder.base
    )))
    .await
}

#[tokio::test]
async fn relayed_routes_follow_the_csrf_policy_in_every_combination() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[]).await;
    let mut app = app_with_recorder(&recorder).await;
    let (cookie, right, others) = two_sessions(&mut app).await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let cases = all_cases(&methods);
    let mut failures = Vec::new();
    for case in &cases {
        let expected = if !provenance_ok(case.origin, case.site) {
            403
        } else if !case.session {
            401
        } else if is_unsafe(&case.method) && case.xsrf != Xsrf::Right {
            403
        } else {
            200
        };
        let before = recorder.requests().len();
        let response = app
            .http
            .request(case.method.clone(), format!("{}/api/rec/x", app.address))
            .headers(case.headers(&cookie, &right, &others))
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let relayed = recorder.requests().len() > before;
        if status != expected || relayed != (expected == 200) {
            failures.push(format!(
                "{} {:?} {:?} {:?} session={}: {status} (relayed {relayed}), expected {expected}",
                case.method, case.origin, case.site, case.xsrf, case.session
            ));
        }
    }
    assert_eq!(cases.len(), 1000);
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn logout_follows_the_csrf_policy_in_every_combination() {
    let _sso = shared_sso().await;
    let recorder = Recorder::start(&[]).await;
    let mut app = app_with_recorder(&recorder).await;
    let (cookie, right, others) = two_sessions(&mut app).await;
    let cases = all_cases(&[Method::POST]);
    let mut failures = Vec::new();
    for case in &cases {
        let provenance = provenance_ok(case.origin, case.site);
        let token_missing = case.session && case.xsrf != Xsrf::Right;
        let expected = if !provenance || token_missing {
            403
        } else {
            200
        };
        let response = app
            .http
            .post(format!("{}/api/logout", app.address))
            .headers(case.headers(&cookie, &right, &others))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let cleared = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("__Host-bff=;"));
        let signed_out = case.session && expected == 200;
        if status != expected || (case.session && cleared != signed_out) {
            failures.push(format!(
                "POST {:?} {:?} {:?} session={}: {status} (cleared {cleared}), expected {expected}",
                case.origin, case.site, case.xsrf, case.session
            ));
        }
    }
    assert_eq!(cases.len(), 200);
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
