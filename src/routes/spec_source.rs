//! Where a route's upstream publishes its OpenAPI document (`openapi = "<url or file>"` in
//! `[[routes]]`), checked for its form at startup. Whether the document can be read and parsed
//! is only known when it is fetched (the `spec` module): a missing or broken document is a
//! warning then, never a failed start.

use serde::{Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;
use url::Url;

/// An upstream's OpenAPI document: an http(s) URL, or a file (relative to the working
/// directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecSource {
    /// Fetched over HTTP; no credentials in the URL, no fragment.
    Url(Url),
    /// Read from the local file system.
    File(PathBuf),
}

impl SpecSource {
    /// Reads the configured text: `http://` and `https://` URLs are fetched, `file:` URLs and
    /// anything that is not a URL (`openapi/chat.json`, `/etc/specs/chat.yaml`) name a file.
    /// Other schemes, URLs with a user or password (a secret that would end up in logs and in
    /// `oidc-bff check`) and fragments are refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must be an http(s) URL or a file path, not empty".into());
        }
        let url = match Url::parse(text) {
            // A one-letter scheme is a Windows drive (`C:\specs\chat.json`), not a URL.
            Ok(url) if url.scheme().len() > 1 => url,
            _ => return Ok(SpecSource::File(PathBuf::from(text))),
        };
        match url.scheme() {
            "http" | "https" => {}
            "file" => {
                return url
                    .to_file_path()
                    .map(SpecSource::File)
                    .map_err(|()| format!("`{text}` is not a local file URL"))
            }
            scheme => {
                return Err(format!(
                    "`{scheme}:` is not supported: use an http(s) URL or a file path"
                ))
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{text}` has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user or password (they would show in logs)".into());
        }
        if url.fragment().is_some() {
            return Err(format!("`{text}` must not have a fragment"));
        }
        Ok(SpecSource::Url(url))
    }
}

/// For logs and warnings: a URL without its query (which might hold a key), or the file path.
impl fmt::Display for SpecSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecSource::Url(url) => {
                let mut shown = url.clone();
                shown.set_query(None);
                write!(f, "{shown}")
            }
            SpecSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// As configured (`oidc-bff check` prints it).
impl Serialize for SpecSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SpecSource::Url(url) => serializer.serialize_str(url.as_str()),
            SpecSource::File(path) => serializer.serialize_str(&path.to_string_lossy()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_fetched_and_everything_else_that_is_no_url_is_a_file() {
        assert_eq!(
            SpecSource::parse("http://chat-api:8080/openapi.json"),
            Ok(SpecSource::Url(
                Url::parse("http://chat-api:8080/openapi.json").unwrap()
            ))
        );
        assert!(matches!(
            SpecSource::parse("https://x.example/v3/api-docs?group=chat"),
            Ok(SpecSource::Url(_))
        ));
        for file in [
            "examples/demo-upstream/openapi.json",
            "/etc/specs/chat.yaml",
            "./chat.yml",
        ] {
            assert_eq!(
                SpecSource::parse(file),
                Ok(SpecSource::File(PathBuf::from(file)))
            );
        }
        assert_eq!(
            SpecSource::parse("file:///etc/specs/chat.json"),
            Ok(SpecSource::File(PathBuf::from("/etc/specs/chat.json")))
        );
    }

    #[test]
    fn other_schemes_credentials_fragments_and_empty_text_are_refused() {
        for bad in [
            "",
            "  ",
            "ftp://x.example/openapi.json",
            "https://user:pass@x.example/openapi.json",
            "https://token@x.example/openapi.json",
            "https://x.example/openapi.json#paths",
            "javascript:alert(1)",
        ] {
            assert!(SpecSource::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn logs_show_no_query() {
        let source = SpecSource::parse("https://x.example/docs?key=secret").unwrap();
        assert_eq!(source.to_string(), "https://x.example/docs");
    }
}
