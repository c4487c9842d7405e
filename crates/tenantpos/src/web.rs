//! The web pages of API.md §10 — `/app/` for a tenant's staff, `/console/` for the operator —
//! and their shared assets under `/common/`, built into the binary from `web/` at the repo root.
//!
//! Why these headers on every answer: the pages show data typed by other people (product names,
//! tenant names), so a strict Content-Security-Policy (nothing inline, nothing from another
//! origin) is the second wall behind `textContent`; `nosniff` keeps a file from being run as
//! another type than the one named. File names carry no hash, so every answer is revalidated
//! (`no-cache`) against its ETag, a hash of its content: a new binary never serves stale code.
//!
//! In debug builds rust-embed reads `web/` from disk at each request, so a page can be edited
//! and reloaded without rebuilding; release builds hold the files themselves.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;
use tenancy::{ApiError, ErrorCode};

#[derive(Embed)]
#[folder = "../../web/"]
struct Files;

/// The pages' Content-Security-Policy: their own origin only, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The folders of `web/` that are served, each under its own name.
const SERVED_FOLDERS: [&str; 3] = ["app", "console", "common"];

/// The routes of the pages and their assets (GET and HEAD).
pub fn router() -> Router {
    let mut router = Router::new();
    for folder in SERVED_FOLDERS {
        router = router.route(
            &format!("/{folder}/{{*path}}"),
            get(
                move |Path(path): Path<String>, headers: HeaderMap| async move {
                    file(&format!("{folder}/{path}"), &headers)
                },
            ),
        );
    }
    for page in ["app", "console"] {
        router = router
            .route(
                &format!("/{page}/"),
                get(move |headers: HeaderMap| async move {
                    file(&format!("{page}/index.html"), &headers)
                }),
            )
            .route(
                &format!("/{page}"),
                get(move || async move { redirect(&format!("/{page}/")) }),
            );
    }
    router
}

/// The content type of a file served here, by its extension; `None` for a type not served.
fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// Whether `path` is a plain relative path inside `web/`: no `..`, no `.`, no empty segment,
/// no backslash, no hidden file.
fn is_plain(path: &str) -> bool {
    !path.contains('\\')
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'))
}

fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn not_found() -> Response {
    with_page_headers(ApiError::new(ErrorCode::NotFound, "no such page").into_response())
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    with_page_headers(response)
}

/// Answers the file at `path` under `web/`, or 304 when the client holds this very version.
fn file(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(content_type) = content_type(path).filter(|_| is_plain(path)) else {
        return not_found();
    };
    let Some(file) = Files::get(path) else {
        return not_found();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let matches = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = file.data.into_owned().into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    with_page_headers(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_web_are_served() {
        assert!(is_plain("app/app.js"));
        assert!(is_plain("common/api.js"));
        for path in [
            "app/../Cargo.toml",
            "app/./x.js",
            "app//x.js",
            "app/.hidden.js",
            "app\\..\\x.js",
            "app/",
        ] {
            assert!(!is_plain(path), "{path}");
        }
    }

    #[test]
    fn unknown_extensions_are_not_served() {
        assert_eq!(
            content_type("app/app.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            content_type("app/index.html"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(content_type("app/secret.rs"), None);
        assert_eq!(content_type("app/no-extension"), None);
    }
}
