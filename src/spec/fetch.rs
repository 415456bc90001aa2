//! Reading an upstream's OpenAPI document, bounded in size and time whether it comes over HTTP
//! or from a file, and checking that it is OpenAPI 3.0 or 3.1 (JSON or YAML). The errors say
//! what went wrong without quoting the document: a broken upstream must not fill the BFF's
//! logs with its answer.

use crate::routes::SpecSource;
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The largest document read (announced or sent). Real specs are a few hundred KiB at most.
pub const MAX_SPEC_BYTES: usize = 2 * 1024 * 1024;
/// The longest a document may take to arrive (connection, answer and body), or to be read from
/// a file (a hung network mount must not hold the loader forever).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a document was left out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// Connection refused, DNS, TLS, ...: the HTTP client's reason, without the URL.
    #[error("cannot be fetched: {0}")]
    Unreachable(String),
    /// The upstream answered, but not 2xx.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// Over [`MAX_SPEC_BYTES`].
    #[error("is larger than {0} bytes")]
    TooLarge(usize),
    /// Over the time allowed.
    #[error("did not arrive within {0:?}")]
    Timeout(Duration),
    /// The file cannot be opened or read.
    #[error("cannot be read: {0}")]
    File(String),
    /// Neither JSON nor YAML (the parser's position, not the text).
    #[error("is neither JSON nor YAML: {0}")]
    Syntax(String),
    /// Parsed, but not an OpenAPI 3.0/3.1 document.
    #[error("is not an OpenAPI 3.0 or 3.1 document: {0}")]
    NotOpenApi(String),
}

/// Reads documents with one pooled HTTP client.
#[derive(Debug, Clone)]
pub struct SpecReader {
    client: reqwest::Client,
    max_bytes: usize,
    timeout: Duration,
}

impl SpecReader {
    /// A reader with the standard limits ([`MAX_SPEC_BYTES`], [`READ_TIMEOUT`]).
    pub fn new() -> Result<Self, ReadError> {
        Self::with_limits(MAX_SPEC_BYTES, READ_TIMEOUT)
    }

    /// A reader with other limits (tests use small ones).
    pub fn with_limits(max_bytes: usize, timeout: Duration) -> Result<Self, ReadError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("oidc-bff/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ReadError::Unreachable(reasons(&e.without_url())))?;
        Ok(SpecReader {
            client,
            max_bytes,
            timeout,
        })
    }

    /// The document at `source`, parsed and checked.
    pub async fn read(&self, source: &SpecSource) -> Result<Value, ReadError> {
        let bytes = match source {
            SpecSource::Url(url) => self.fetch(url.clone()).await?,
            SpecSource::File(path) => tokio::time::timeout(self.timeout, self.read_file(path))
                .await
                .map_err(|_| ReadError::Timeout(self.timeout))??,
        };
        parse(&bytes)
    }

    async fn fetch(&self, url: url::Url) -> Result<Vec<u8>, ReadError> {
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                ReadError::Timeout(self.timeout)
            } else {
                ReadError::Unreachable(reasons(&e.without_url()))
            }
        };
        let mut response = self
            .client
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/yaml;q=0.9, */*;q=0.1",
            )
            .send()
            .await
            .map_err(failed)?;
        if !response.status().is_success() {
            return Err(ReadError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes as u64)
        {
            return Err(ReadError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(ReadError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn read_file(&self, path: &std::path::Path) -> Result<Vec<u8>, ReadError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| ReadError::File(e.to_string()))?;
        let mut body = Vec::new();
        file.take(self.max_bytes as u64 + 1)
            .read_to_end(&mut body)
            .await
            .map_err(|e| ReadError::File(e.to_string()))?;
        if body.len() > self.max_bytes {
            return Err(ReadError::TooLarge(self.max_bytes));
        }
        Ok(body)
    }
}

/// An error and its causes (`error sending request: tcp connect error: Connection refused`):
/// reqwest's own message alone does not say what failed.
fn reasons(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// JSON when it looks like JSON (its errors are clearer), YAML otherwise; then the version.
fn parse(bytes: &[u8]) -> Result<Value, ReadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let looks_like_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    let doc: Value = if looks_like_json {
        serde_json::from_slice(bytes).map_err(|e| ReadError::Syntax(e.to_string()))?
    } else {
        serde_yaml::from_slice(bytes).map_err(|e| ReadError::Syntax(e.to_string()))?
    };
    check_version(&doc)?;
    Ok(doc)
}

/// An object with `openapi: 3.0.x` or `3.1.x` and, when present, an object of `paths`.
fn check_version(doc: &Value) -> Result<(), ReadError> {
    let not = |why: &str| Err(ReadError::NotOpenApi(why.into()));
    if !doc.is_object() {
        return not("not an object");
    }
    if doc.get("swagger").is_some() {
        return not("Swagger 2.0 (convert it to OpenAPI 3)");
    }
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") || v.starts_with("3.1.") => {}
        Some(v) if v.len() <= 16 && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
            return Err(ReadError::NotOpenApi(format!("version {v}")))
        }
        _ => return not("no `openapi` version"),
    }
    if doc.get("paths").is_some_and(|paths| !paths.is_object()) {
        return not("`paths` is not an object");
    }
    Ok(())
}

/// Whether a checked document is OpenAPI 3.1 (its schemas are JSON Schema 2020-12).
pub fn is_3_1(doc: &Value) -> bool {
    doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::AsyncWriteExt;

    const MINIMAL: &str =
        r#"{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}"#;

    /// A one-shot HTTP server on loopback answering every connection with `response`.
    async fn serve(response: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; 4096];
                    let _ = stream.read(&mut head).await;
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        format!("http://{address}/openapi.json")
    }

    fn http(status: &str, body: &[u8], length: bool) -> Vec<u8> {
        let mut response = format!("HTTP/1.1 {status}\r\nConnection: close\r\n").into_bytes();
        if length {
            response.extend(format!("Content-Length: {}\r\n", body.len()).bytes());
        }
        response.extend(b"\r\n");
        response.extend(body);
        response
    }

    fn url(text: &str) -> SpecSource {
        SpecSource::parse(text).unwrap()
    }

    #[tokio::test]
    async fn a_json_or_yaml_document_is_read_from_a_url_or_a_file() {
        let reader = SpecReader::new().unwrap();
        let served = serve(http("200 OK", MINIMAL.as_bytes(), true)).await;
        let doc = reader.read(&url(&served)).await.unwrap();
        assert_eq!(doc["openapi"], "3.0.3");

        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "openapi: 3.1.0\ninfo: {{title: t, version: '1'}}\npaths: {{}}"
        )
        .unwrap();
        let source = SpecSource::File(file.path().to_path_buf());
        let doc = reader.read(&source).await.unwrap();
        assert!(is_3_1(&doc));
    }

    #[tokio::test]
    async fn a_huge_document_is_refused_whether_announced_or_sent() {
        let reader = SpecReader::with_limits(1024, READ_TIMEOUT).unwrap();
        let huge = format!(
            "{{\"openapi\": \"3.0.3\", \"x\": \"{}\"}}",
            "a".repeat(4096)
        );
        for length in [true, false] {
            let served = serve(http("200 OK", huge.as_bytes(), length)).await;
            assert_eq!(
                reader.read(&url(&served)).await,
                Err(ReadError::TooLarge(1024)),
                "Content-Length sent: {length}"
            );
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(huge.as_bytes()).unwrap();
        let source = SpecSource::File(file.path().to_path_buf());
        assert_eq!(reader.read(&source).await, Err(ReadError::TooLarge(1024)));
    }

    #[tokio::test]
    async fn unreachable_failing_and_slow_upstreams_are_errors() {
        let reader = SpecReader::with_limits(MAX_SPEC_BYTES, Duration::from_millis(300)).unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let unreachable = reader
            .read(&url(&format!("http://127.0.0.1:{port}/openapi.json")))
            .await;
        match unreachable {
            Err(ReadError::Unreachable(why)) => assert!(why.contains("refused"), "{why}"),
            other => panic!("{other:?}"),
        }

        let failing = serve(http("503 Service Unavailable", b"down", true)).await;
        assert_eq!(
            reader.read(&url(&failing)).await,
            Err(ReadError::Status(503))
        );

        // Accepts, never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = silent.local_addr().unwrap();
        let started = std::time::Instant::now();
        let slow = reader
            .read(&url(&format!("http://{address}/openapi.json")))
            .await;
        assert_eq!(slow, Err(ReadError::Timeout(Duration::from_millis(300))));
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(silent);

        let missing = SpecSource::File("/nonexistent/oidc-bff/openapi.json".into());
        assert!(matches!(
            reader.read(&missing).await,
            Err(ReadError::File(_))
        ));
    }

    #[test]
    fn what_is_not_openapi_3_is_refused_without_quoting_it() {
        for (text, want) in [
            ("<html>secret-page</html>", "not an object"),
            ("openapi: [3.0\nsecret: x", "neither JSON nor YAML"),
            ("{\"openapi\": \"3.0.3\", ", "neither JSON nor YAML"),
            ("[1, 2]", "not an object"),
            ("{\"swagger\": \"2.0\"}", "Swagger 2.0"),
            ("{\"openapi\": \"2.5.0\"}", "version 2.5.0"),
            (
                "{\"openapi\": \"secret-token-value\"}",
                "no `openapi` version",
            ),
            (
                "{\"openapi\": \"3.0.3\", \"paths\": []}",
                "`paths` is not an object",
            ),
        ] {
            let error = parse(text.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(want), "{text}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[test]
    fn yaml_alias_bombs_are_refused() {
        let mut bomb = String::from("openapi: 3.0.3\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut previous = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
            let item = format!("*{previous}");
            bomb.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![item; 10].join(", ")
            ));
            previous = name;
        }
        let error = parse(bomb.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("repetition limit"), "{error}");
    }
}
