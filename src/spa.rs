//! Serving a built single-page app from `server.static_dir`, for deployments without nginx:
//! hashed assets cached for a year, `index.html` never cached and answered for client routes,
//! and no request can reach a file outside the folder.

use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::web::StaticFileRequest;
use poem::{Endpoint, FromRequest, IntoResponse, Request, Response};
use std::path::{Component, Path, PathBuf};

/// Cache policy for fingerprinted files (`main-3KZ2H7QX.js`): their name changes with content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else revalidates, so a deployment is picked up at once.
const NO_CACHE: &str = "no-cache";

/// The SPA endpoint.
#[derive(Clone)]
pub struct SpaEndpoint {
    root: PathBuf,
}

impl SpaEndpoint {
    /// Serves `dir`; fails when it is not a folder with an `index.html`.
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        let root = dir
            .canonicalize()
            .map_err(|e| anyhow::anyhow!("server.static_dir {}: {e}", dir.display()))?;
        if !root.join("index.html").is_file() {
            anyhow::bail!("server.static_dir {} has no index.html", root.display());
        }
        Ok(SpaEndpoint { root })
    }

    /// Whether `req` is for the SPA rather than the BFF (only reads, never under `/api/`).
    pub fn claims(req: &Request) -> bool {
        let path = req.uri().path();
        matches!(*req.method(), Method::GET | Method::HEAD)
            && path != "/api"
            && !path.starts_with("/api/")
            && !crate::routes::OWN_PATHS
                .iter()
                .any(|own| path == *own || path.starts_with(&format!("{own}/")))
    }

    /// The file for a request path: the file itself when it exists inside the root, else
    /// `index.html` for client routes, else `None`.
    fn resolve(&self, path: &str) -> Option<(PathBuf, bool)> {
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .ok()?;
        if decoded.contains(['\\', '\0']) {
            return None;
        }
        let relative = Path::new(decoded.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return None;
        }
        let candidate = self.root.join(relative);
        if let Ok(real) = candidate.canonicalize() {
            // A symlink pointing outside the folder is as good as absent.
            if real.starts_with(&self.root) && real.is_file() {
                let hashed = is_fingerprinted(&real);
                return Some((real, hashed));
            }
        }
        // Client routes (`/chat`, `/reports/3`) get the app; missing assets stay 404.
        let looks_like_asset = relative
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains('.'));
        (!looks_like_asset).then(|| (self.root.join("index.html"), false))
    }
}

/// `main-3KZ2H7QX.js`, `chunk-ABCDEFGH.js`, `styles.1a2b3c4d5e.css`: a stem ending in 8+
/// letters and digits (with at least one digit) after `-` or `.`.
fn is_fingerprinted(path: &Path) -> bool {
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    stem.rsplit(['-', '.']).next().is_some_and(|hash| {
        hash.len() >= 8
            && hash != stem
            && hash.chars().all(|c| c.is_ascii_alphanumeric())
            && hash.chars().any(|c| c.is_ascii_digit())
    })
}

impl Endpoint for SpaEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Some((file, hashed)) = self.resolve(req.uri().path()) else {
            return Ok(crate::error::Problem::from_status(StatusCode::NOT_FOUND).into_response());
        };
        let request = StaticFileRequest::from_request_without_body(&req).await?;
        let mut response = request.create_response(&file, true, false)?.into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed { IMMUTABLE } else { NO_CACHE }),
        );
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprinted_names_are_recognised() {
        for yes in [
            "main-3KZ2H7QX.js",
            "chunk-AB12CD34.js",
            "styles.1a2b3c4d5e.css",
            "polyfills-FFFF0000.js",
        ] {
            assert!(is_fingerprinted(Path::new(yes)), "{yes}");
        }
        for no in [
            "index.html",
            "favicon.ico",
            "main.js",
            "logo-company.svg",
            "abcdefgh.js",
        ] {
            assert!(!is_fingerprinted(Path::new(no)), "{no}");
        }
    }
}
