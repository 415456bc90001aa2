//! Request and response cookies without a jar: the service parses the request's `Cookie`
//! headers once ([`attach`]) and appends whatever `Set-Cookie` lines the handler queued
//! ([`write_out`]), on success and on error responses alike (a 401 must still clear a bad
//! cookie).

use poem::http::{header, HeaderValue};
use poem::{Request, Response};
use std::sync::Mutex;

/// The cookies a request carried, in order: one buffer holding every kept name and value,
/// and their positions (one allocation per request, not two per cookie).
#[derive(Debug, Default, Clone)]
pub struct RequestCookies {
    text: String,
    /// `(name start, value start, value end)` in `text`; the name ends where the value starts.
    pairs: Vec<(u32, u32, u32)>,
}

/// Most cookie pairs read from one request; browsers keep far fewer per site, and the head
/// size limit bounds them anyway. Pairs beyond it are ignored.
pub const MAX_PAIRS: usize = 200;

impl RequestCookies {
    /// Parses every `Cookie` header, pair by pair: a pair that is malformed or holds bytes
    /// outside visible ASCII (another app's `pref=français`) is skipped, and the others still
    /// count. A header is never refused as a whole.
    pub fn from_request(req: &Request) -> Self {
        Self::parse(
            req.headers()
                .get_all(header::COOKIE)
                .iter()
                .map(|v| v.as_bytes()),
        )
    }

    /// Parses raw `Cookie` header values (see [`RequestCookies::from_request`]).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut cookies = RequestCookies::default();
        for value in values {
            cookies.text.reserve(value.len());
            // Each turn consumes a pair and its `;`, so the loop ends with the header.
            let mut rest = Some(value);
            while let Some(remaining) = rest {
                if cookies.pairs.len() == MAX_PAIRS {
                    return cookies;
                }
                let pair = match memchr::memchr(b';', remaining) {
                    Some(at) => {
                        rest = Some(&remaining[at + 1..]);
                        &remaining[..at]
                    }
                    None => {
                        rest = None;
                        remaining
                    }
                };
                if let Some((name, value)) = parse_pair(pair) {
                    cookies.push(name, value);
                }
            }
        }
        cookies
    }

    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(name);
        let middle = self.text.len() as u32;
        self.text.push_str(value);
        self.pairs.push((start, middle, self.text.len() as u32));
    }

    /// The first value of cookie `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every `(name, value)` pair.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|&(start, middle, end)| {
            let (start, middle, end) = (start as usize, middle as usize, end as usize);
            (&self.text[start..middle], &self.text[middle..end])
        })
    }
}

/// One `name=value` pair, trimmed, with an optional pair of quotes removed from the value;
/// `None` when it is malformed or holds anything but visible ASCII.
fn parse_pair(pair: &[u8]) -> Option<(&str, &str)> {
    let pair = pair.trim_ascii();
    let eq = memchr::memchr(b'=', pair)?;
    let name = pair[..eq].trim_ascii();
    let mut value = pair[eq + 1..].trim_ascii();
    if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
        value = &value[1..value.len() - 1];
    }
    if name.is_empty() || !visible_ascii(name) || !visible_ascii(value) {
        return None;
    }
    // Visible ASCII is valid UTF-8.
    Some((
        std::str::from_utf8(name).ok()?,
        std::str::from_utf8(value).ok()?,
    ))
}

/// Whether every byte is visible ASCII (`!` to `~`). Without an early exit the loop compiles to
/// vector instructions: a session cookie is a kilobyte or more, checked on every request.
fn visible_ascii(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |visible, &b| {
        visible & (b.wrapping_sub(b'!') <= b'~' - b'!')
    })
}

/// Attributes of a cookie we set. Every cookie is `Secure; Path=/` with no `Domain`, as the
/// `__Host-` prefix requires.
#[derive(Debug, Clone, Copy)]
pub struct CookieAttributes {
    /// Hidden from scripts.
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`.
    pub same_site: &'static str,
    /// Seconds to live; `None` for a browser-session cookie.
    pub max_age: Option<i64>,
}

/// `Set-Cookie` lines queued by a handler.
#[derive(Debug, Default)]
pub struct ResponseCookies {
    lines: Mutex<Vec<String>>,
}

impl ResponseCookies {
    /// Queues `name=value` with `attributes`.
    pub fn set(&self, name: &str, value: &str, attributes: CookieAttributes) {
        let mut line = format!("{name}={value}; Path=/; Secure");
        if attributes.http_only {
            line.push_str("; HttpOnly");
        }
        line.push_str("; SameSite=");
        line.push_str(attributes.same_site);
        if let Some(max_age) = attributes.max_age {
            line.push_str(&format!("; Max-Age={}", max_age.max(0)));
        }
        self.push(line);
    }

    /// Queues the expiry of cookie `name` (same attributes, so browsers accept the removal).
    pub fn expire(&self, name: &str, attributes: CookieAttributes) {
        self.set(
            name,
            "",
            CookieAttributes {
                max_age: Some(0),
                ..attributes
            },
        );
    }

    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(line);
    }

    /// The queued lines (for tests and diagnostics).
    pub fn pending(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .lines
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// The request's cookies and the response's cookie queue, as [`attach`] put them in the
/// request. Their absence is a wiring bug (an endpoint called outside `app::Service`), reported
/// as an internal error rather than read as "no cookies".
pub fn of_request(
    req: &Request,
) -> Result<(&RequestCookies, std::sync::Arc<ResponseCookies>), crate::error::Error> {
    let missing = || {
        crate::error::Error::new(
            crate::error::ErrorKind::Internal,
            "the request's cookies were not read",
        )
        .context("reading the cookie layer's extensions")
    };
    let cookies = req
        .extensions()
        .get::<RequestCookies>()
        .ok_or_else(missing)?;
    let out = req
        .extensions()
        .get::<std::sync::Arc<ResponseCookies>>()
        .cloned()
        .ok_or_else(missing)?;
    Ok((cookies, out))
}

/// Reads the request's cookies into its extensions, with an empty queue for the response's
/// cookies; [`write_out`] puts the queue on the answer.
pub fn attach(req: &mut Request) -> std::sync::Arc<ResponseCookies> {
    let cookies = RequestCookies::from_request(req);
    let out = std::sync::Arc::new(ResponseCookies::default());
    req.extensions_mut().insert(cookies);
    req.extensions_mut().insert(out.clone());
    out
}

/// Writes the queued cookies as `Set-Cookie` lines.
pub fn write_out(out: &ResponseCookies, response: &mut Response) {
    for line in out.take() {
        if let Ok(value) = HeaderValue::from_str(&line) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(headers: &[&[u8]]) -> Vec<(String, String)> {
        RequestCookies::parse(headers.iter().copied())
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_non_ascii_pair_is_skipped_and_the_others_count() {
        let header = "pref=fran\u{e7}ais; __Host-bff=abc; XSRF-TOKEN=xyz";
        let pairs = parse(&[header.as_bytes()]);
        assert_eq!(
            pairs,
            [
                ("__Host-bff".into(), "abc".into()),
                ("XSRF-TOKEN".into(), "xyz".into())
            ]
        );
        let latin1: &[u8] = b"a=1; pref=fran\xe7ais; b=2";
        assert_eq!(parse(&[latin1]).len(), 2);
    }

    #[test]
    fn malformed_pairs_are_skipped() {
        let pairs = parse(&[b"novalue; =x; a=\"q\"; b=sp ace; c=\x01; d=ok", b"e=2"]);
        assert_eq!(
            pairs,
            [
                ("a".into(), "q".into()),
                ("d".into(), "ok".into()),
                ("e".into(), "2".into())
            ]
        );
    }

    #[test]
    fn pairs_are_bounded() {
        let header: String = (0..1000).map(|i| format!("c{i}=v; ")).collect();
        assert_eq!(parse(&[header.as_bytes()]).len(), MAX_PAIRS);
    }

    #[test]
    fn the_visible_ascii_check_agrees_with_the_standard_one_for_every_byte_anywhere() {
        for byte in 0..=u8::MAX {
            assert_eq!(
                visible_ascii(&[byte]),
                byte.is_ascii_graphic(),
                "{byte:#04x}"
            );
            // In a long value (the vectorised loop), at the start, inside and at the end.
            for at in [0, 37, 1499] {
                let mut value = vec![b'A'; 1500];
                value[at] = byte;
                assert_eq!(
                    visible_ascii(&value),
                    byte.is_ascii_graphic(),
                    "{byte:#04x}@{at}"
                );
            }
        }
        assert!(visible_ascii(b""));
    }

    #[test]
    fn empty_pairs_and_a_trailing_separator_are_skipped() {
        assert_eq!(
            parse(&[b";;a=1;; b=2;", b";"]),
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }
}
