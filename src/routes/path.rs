//! The one spelling of a relayed path. The route table judges this spelling and the upstream
//! receives exactly this spelling, so no encoding of a path can be judged as one route and
//! resolved by the upstream as another (`/api/x/%61dmin`, `/api/x/admin;p=1`, `..;/`).
//!
//! Canonicalisation is one pass over the bytes, bounded by [`MAX_PATH_BYTES`]:
//! escapes of unreserved characters are decoded (`%61` → `a`), other escapes are kept with
//! upper-case hex, characters that must be escaped are escaped, and anything an upstream could
//! resolve differently from us is refused rather than repaired: `;` parameters (also `%3B`),
//! encoded or raw separators (`%2F`, `%5C`, `\`), dot-segments in any spelling, empty segments,
//! double encoding (`%252e`), control characters (`%00`–`%1F`, `%7F`), malformed escapes, and
//! escapes that do not decode to valid UTF-8 (overlong forms like `%C0%AE` included).

use std::fmt;

/// Longest path accepted for relaying; longer ones are refused before any other work.
pub const MAX_PATH_BYTES: usize = 8 * 1024;

/// A request path in its canonical spelling (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath(String);

/// Why a path has no canonical spelling. Each is a browser-side fault: 400 (414 for length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRejection {
    /// Does not start with `/`.
    NotAbsolute,
    /// Longer than [`MAX_PATH_BYTES`].
    TooLong,
    /// `//` inside the path: upstreams disagree on whether it collapses.
    EmptySegment,
    /// `.` or `..` in any spelling (`%2e`, `.%2E`, ...).
    DotSegment,
    /// A `;` path parameter (raw or `%3B`): servlet containers strip it, we would not.
    Parameter,
    /// A raw backslash, or an encoded `/` or `\`.
    Separator,
    /// `%25` followed by an escape: an upstream that decodes twice would see another path.
    DoubleEncoded,
    /// A control character, `%00` included.
    ControlCharacter,
    /// `%` not followed by two hex digits.
    MalformedEscape,
    /// Escapes that decode to invalid or overlong UTF-8.
    InvalidUtf8,
    /// Matches a more specific route's prefix only when letter case is ignored: an upstream
    /// with case-insensitive paths would resolve it to the route the table did not pick.
    CaseVariant,
}

impl PathRejection {
    /// The sentence a user (or the developer behind the SPA) reads in the 400 answer.
    pub fn reason(self) -> &'static str {
        match self {
            PathRejection::NotAbsolute => "the path must start with /",
            PathRejection::TooLong => "the path is too long",
            PathRejection::EmptySegment => "the path contains an empty segment (//)",
            PathRejection::DotSegment => {
                "the path contains a dot-segment (. or ..) in some spelling"
            }
            PathRejection::Parameter => "the path contains a ; parameter",
            PathRejection::Separator => "the path contains a backslash or an encoded separator",
            PathRejection::DoubleEncoded => "the path contains a double-encoded escape",
            PathRejection::ControlCharacter => "the path contains a control character",
            PathRejection::MalformedEscape => "the path contains a malformed percent-escape",
            PathRejection::InvalidUtf8 => "the path's escapes are not valid UTF-8",
            PathRejection::CaseVariant => "the path spells a route's prefix with other letter case",
        }
    }
}

impl fmt::Display for PathRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl CanonicalPath {
    /// Canonicalises `raw` (the path of a request target, without its query).
    pub fn parse(raw: &str) -> Result<CanonicalPath, PathRejection> {
        let bytes = raw.as_bytes();
        if bytes.len() > MAX_PATH_BYTES {
            return Err(PathRejection::TooLong);
        }
        if bytes.first() != Some(&b'/') {
            return Err(PathRejection::NotAbsolute);
        }
        let mut out = String::with_capacity(bytes.len());
        let mut segments = raw[1..].split('/').peekable();
        let mut decoded = Vec::new();
        while let Some(segment) = segments.next() {
            out.push('/');
            let is_last = segments.peek().is_none();
            if segment.is_empty() {
                if is_last {
                    break; // a trailing slash is kept as it is
                }
                return Err(PathRejection::EmptySegment);
            }
            decoded.clear();
            let start = out.len();
            canonical_segment(segment.as_bytes(), &mut out, &mut decoded)?;
            if is_double_encoded(&out.as_bytes()[start..]) {
                return Err(PathRejection::DoubleEncoded);
            }
            if decoded == b"." || decoded == b".." {
                return Err(PathRejection::DotSegment);
            }
            if std::str::from_utf8(&decoded).is_err() {
                return Err(PathRejection::InvalidUtf8);
            }
        }
        // Escaping may lengthen a path; the canonical form must parse as itself again.
        if out.len() > MAX_PATH_BYTES {
            return Err(PathRejection::TooLong);
        }
        Ok(CanonicalPath(out))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CanonicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters RFC 3986 calls unreserved: their escapes mean exactly the character.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Characters allowed as they are in a path segment besides unreserved ones (sub-delims, `:`,
/// `@`), `;` excepted: it is refused as a parameter separator.
fn is_plain_path_char(byte: u8) -> bool {
    matches!(
        byte,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@'
    )
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Whether a canonical segment holds `%25` followed by two hex digits: an upstream that
/// decodes twice would read an escape there (`%252e` → `%2e` → `.`). Checked on the canonical
/// text so that decoded unreserved escapes (`%25%32%65` → `%252e`) are caught too.
fn is_double_encoded(canonical: &[u8]) -> bool {
    canonical
        .windows(5)
        .any(|w| w[..3] == *b"%25" && hex_value(w[3]).is_some() && hex_value(w[4]).is_some())
}

fn push_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(byte >> 4)] as char);
    out.push(HEX[usize::from(byte & 0xF)] as char);
}

/// Writes the canonical form of one non-empty segment to `out` and its decoded bytes to
/// `decoded` (for the dot-segment and UTF-8 checks).
fn canonical_segment(
    segment: &[u8],
    out: &mut String,
    decoded: &mut Vec<u8>,
) -> Result<(), PathRejection> {
    let mut i = 0;
    while i < segment.len() {
        let byte = segment[i];
        match byte {
            b'%' => {
                let value = segment
                    .get(i + 1)
                    .and_then(|&h| hex_value(h))
                    .zip(segment.get(i + 2).and_then(|&l| hex_value(l)))
                    .map(|(h, l)| h << 4 | l)
                    .ok_or(PathRejection::MalformedEscape)?;
                i += 3;
                match value {
                    v if is_unreserved(v) => out.push(v as char),
                    b'/' | b'\\' => return Err(PathRejection::Separator),
                    b';' => return Err(PathRejection::Parameter),
                    0x00..=0x1F | 0x7F => return Err(PathRejection::ControlCharacter),
                    v => push_escape(out, v),
                }
                decoded.push(value);
            }
            b';' => return Err(PathRejection::Parameter),
            b'\\' => return Err(PathRejection::Separator),
            0x00..=0x1F | 0x7F => return Err(PathRejection::ControlCharacter),
            b if is_unreserved(b) || is_plain_path_char(b) => {
                out.push(b as char);
                decoded.push(b);
                i += 1;
            }
            b => {
                // Space, quotes, `<>{}|^` and raw non-ASCII bytes: escaped, never passed raw.
                push_escape(out, b);
                decoded.push(b);
                i += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(path: &str) -> Result<String, PathRejection> {
        CanonicalPath::parse(path).map(|p| p.0)
    }

    #[test]
    fn plain_paths_are_their_own_canonical_form() {
        for path in [
            "/",
            "/api/chat",
            "/api/chat/",
            "/a/b-c_d.e~f/g:h@i!$&'()*+,=",
        ] {
            assert_eq!(canon(path).unwrap(), path);
        }
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_normalised() {
        assert_eq!(canon("/api/x/%61dmin").unwrap(), "/api/x/admin");
        assert_eq!(canon("/api/x/%41%2d%7E").unwrap(), "/api/x/A-~");
        assert_eq!(canon("/a/%3f%23%20").unwrap(), "/a/%3F%23%20");
        assert_eq!(canon("/caf%c3%a9").unwrap(), "/caf%C3%A9");
        assert_eq!(canon("/a b\"<>").unwrap(), "/a%20b%22%3C%3E");
        assert_eq!(canon("/50%25off").unwrap(), "/50%25off");
        assert_eq!(canon("/..a/.b/c.").unwrap(), "/..a/.b/c.");
    }

    #[test]
    fn every_hostile_spelling_is_refused() {
        use PathRejection::*;
        let cases = [
            ("api", NotAbsolute),
            ("/api//admin", EmptySegment),
            ("//admin", EmptySegment),
            ("/api/./x", DotSegment),
            ("/api/../x", DotSegment),
            ("/api/%2e%2e/x", DotSegment),
            ("/api/%2E./x", DotSegment),
            ("/api/.%2e", DotSegment),
            ("/api/x/..", DotSegment),
            ("/api/x/admin;p=1/y", Parameter),
            ("/api/x/..;/admin", Parameter),
            ("/api/x/admin%3bp=1", Parameter),
            ("/api/x%2fadmin", Separator),
            ("/api/x%5Cadmin", Separator),
            ("/api/x\\admin", Separator),
            ("/api/%252e%252e/x", DoubleEncoded),
            ("/api/%25%32%65", DoubleEncoded),
            ("/api/x%00", ControlCharacter),
            ("/api/x%0a", ControlCharacter),
            ("/api/x%7f", ControlCharacter),
            ("/api/x\u{1}", ControlCharacter),
            ("/api/x%", MalformedEscape),
            ("/api/x%4", MalformedEscape),
            ("/api/x%zz", MalformedEscape),
            ("/api/%c0%ae%c0%ae/x", InvalidUtf8),
            ("/api/%ff", InvalidUtf8),
            ("/api/%c3", InvalidUtf8),
        ];
        for (path, rejection) in cases {
            assert_eq!(canon(path), Err(rejection), "{path}");
        }
        assert_eq!(
            canon(&format!("/{}", "a".repeat(MAX_PATH_BYTES))),
            Err(TooLong)
        );
    }

    #[test]
    fn deep_nesting_is_linear_and_refused() {
        // The input that overflowed the stack of the recursive decoder: ~17,000 nestings.
        let path = format!("/api/chat/%{}2e", "25".repeat(17_000));
        assert!(path.len() > MAX_PATH_BYTES);
        assert_eq!(canon(&path), Err(PathRejection::TooLong));
        let path = format!("/api/chat/%{}2e", "25".repeat(2_000));
        assert_eq!(canon(&path), Err(PathRejection::DoubleEncoded));
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        for path in ["/api/x/%61dmin", "/a/%3f%23%20", "/caf%c3%a9", "/a b"] {
            let once = canon(path).unwrap();
            assert_eq!(canon(&once).unwrap(), once, "{path}");
        }
    }
}
